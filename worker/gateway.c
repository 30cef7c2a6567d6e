/* SPDX-License-Identifier: MIT */
/* gateway.c - one worker's gateway: its state and the route table. */
#include "gateway.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "federation.h"
#include "jsonrpc.h"
#include "mcp.h"
#include "status.h"

#define GATEWAY_PROBE_MS 500
#define GATEWAY_PROBE_REUSE_MS 1000

typedef void (*gateway_route_fn)(gateway_t *g, const http_request_t *req,
                                 http_response_t *resp);

static void gateway_route(gateway_t *g, const http_request_t *req, http_response_t *resp);

int gateway_open(gateway_t *g, const config_t *cfg, char *err, size_t errlen)
{
    memset(g, 0, sizeof(*g));
    g->cfg = cfg;
    snprintf(g->draining_path, sizeof(g->draining_path), "%s/draining", cfg->runtime_dir);
    /* Upstream sessions are shared by every worker (and every container): requests
     * sent concurrently on one of them must not reuse an id, or the upstream may route
     * an answer to the wrong request.  Each worker counts up from a random point below
     * 2^52, so ids stay exact in JSON and two workers' ranges practically never meet. */
    uint64_t r = 0;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        snprintf(err, errlen, "getrandom: %s", strerror(errno));
        return -1;
    }
    g->next_id = (long)(r & ((UINT64_C(1) << 52) - 1));
    g->store = store_open(cfg->store_url, err, errlen);
    if (g->store == NULL)
        return -1;
    for (size_t i = 0; i < cfg->n_upstreams; i++) {
        g->up[i] = upstream_new(&cfg->upstreams[i], err, errlen);
        if (g->up[i] == NULL)
            return -1;
        g->n_up = i + 1;
    }
    return 0;
}

void gateway_close(gateway_t *g)
{
    fed_cache_free(g);
    cJSON_Delete(g->ready_upstreams);
    g->ready_upstreams = NULL;
    for (size_t i = 0; i < g->n_up; i++)
        upstream_free(g->up[i]);
    g->n_up = 0;
    store_close(g->store);
    g->store = NULL;
}

/* Liveness: touches neither the store nor the upstreams.  503 while the entrypoint
 * drains the container, so load balancers stop sending work before lighttpd stops. */
static void gateway_health(gateway_t *g, const http_request_t *req, http_response_t *resp)
{
    (void)req;
    if (g->draining)
        http_response_text(resp, 503, "application/json", "{\"status\":\"draining\"}");
    else
        http_response_text(resp, 200, "application/json", "{\"status\":\"ok\"}");
}

/* A browser page from a foreign origin (DNS rebinding: a name of the attacker's that
 * resolves to 127.0.0.1) must not read what /ready and /status tell loopback peers:
 * answered 403 as on /mcp.  Returns 1 when it answered. */
static int gateway_foreign_origin(const gateway_t *g, const http_request_t *req,
                                  http_response_t *resp)
{
    if (mcp_origin_allowed(g->cfg, req->origin))
        return 0;
    http_response_text(resp, 403, "application/json", "{\"error\":\"origin not allowed\"}");
    return 1;
}

/* Readiness: 200 when the store answers; the body also says which upstreams are
 * reachable (an unreachable upstream does not make the gateway unready). */
static void gateway_ready(gateway_t *g, const http_request_t *req, http_response_t *resp)
{
    char err[256];
    cJSON *body = cJSON_CreateObject();
    int ok = store_ping(g->store, err, sizeof(err)) == 0;
    int draining = g->draining;

    if (gateway_foreign_origin(g, req, resp))
        return;
    /* A container that is stopping is not ready for new work either, whatever its store. */
    cJSON_AddStringToObject(body, "status", draining ? "draining" : ok ? "ready" : "unavailable");
    /* The details (store errors, upstream names and why they cannot be reached, which
     * may name internal addresses) are for the peers /status is for; anyone else
     * learns only the verdict. */
    if (!status_allowed(g->cfg, req->remote_addr)) {
        http_response_json(resp, ok && !draining ? 200 : 503, body);
        cJSON_Delete(body);
        return;
    }
    cJSON_AddStringToObject(body, "store", ok ? "ok" : err);
    /* Probing every upstream for each call would let a loop of them keep workers busy
     * and fill upstreams with connections.  One probe a second per worker is plenty. */
    if (g->ready_upstreams == NULL || upstream_now_ms() >= g->ready_until_ms) {
        cJSON_Delete(g->ready_upstreams);
        g->ready_upstreams = fed_probe(g, GATEWAY_PROBE_MS);
        g->ready_until_ms = upstream_now_ms() + GATEWAY_PROBE_REUSE_MS;
    }
    cJSON_AddItemToObject(body, "upstreams", cJSON_Duplicate(g->ready_upstreams, 1));
    http_response_json(resp, ok && !draining ? 200 : 503, body);
    cJSON_Delete(body);
}

/* The pool's scoreboard (status.c), for loopback or MCPGW_STATUS_ALLOW peers only. */
static void gateway_status(gateway_t *g, const http_request_t *req, http_response_t *resp)
{
    if (gateway_foreign_origin(g, req, resp))
        return;
    status_handle(g->cfg, req, resp);
}

static void gateway_not_found(gateway_t *g, const http_request_t *req, http_response_t *resp)
{
    (void)g;
    (void)req;
    http_response_text(resp, 404, "application/json", "{\"error\":\"not found\"}");
}

static const struct gateway_route {
    const char *path;
    const char *method;          /* NULL: the handler checks methods itself */
    gateway_route_fn fn;
} gateway_routes[] = {
    { .path = "/mcp",    .method = NULL,  .fn = mcp_handle },
    { .path = "/health", .method = "GET", .fn = gateway_health },
    { .path = "/ready",  .method = "GET", .fn = gateway_ready },
    { .path = "/status", .method = "GET", .fn = gateway_status },
};

void gateway_handle(gateway_t *g, const http_request_t *req, http_response_t *resp)
{
    /* Once a stop has begun, every answer tells the client (an ALB, a keep-alive
     * client) to close its connection: connections are then given up between requests
     * during the drain delay, rather than found closed by lighttpd's stop while a
     * request is on its way. */
    g->draining = access(g->draining_path, F_OK) == 0;
    g->deadline_ms = g->cfg->request_timeout > 0
                     ? upstream_now_ms() + (long long)g->cfg->request_timeout * 1000 : 0;
    if (g->draining)
        http_response_header(resp, "Connection", "close");
    gateway_route(g, req, resp);
}

static void gateway_route(gateway_t *g, const http_request_t *req, http_response_t *resp)
{
    for (size_t i = 0; i < sizeof(gateway_routes) / sizeof(gateway_routes[0]); i++) {
        const struct gateway_route *r = &gateway_routes[i];

        if (strcmp(req->path, r->path) != 0)
            continue;
        if (r->method != NULL && strcmp(req->method, r->method) != 0 &&
            !(strcmp(r->method, "GET") == 0 && strcmp(req->method, "HEAD") == 0)) {
            http_response_header(resp, "Allow", r->method);
            http_response_text(resp, 405, "application/json",
                               "{\"error\":\"method not allowed\"}");
            return;
        }
        r->fn(g, req, resp);
        return;
    }
    gateway_not_found(g, req, resp);
}
