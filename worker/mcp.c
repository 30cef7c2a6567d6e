/* SPDX-License-Identifier: MIT */
/* mcp.c - MCP Streamable HTTP: session lifecycle and JSON-RPC method dispatch. */
#include "mcp.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "digest.h"
#include "federation.h"
#include "jsonrpc.h"
#include "log.h"
#include "rand.h"

#define MCP_SID_BYTES 16   /* 128 bits of randomness per session id */

static const char *const mcp_versions[] = { "2025-11-25", "2025-06-18", "2025-03-26", NULL };

/* Everything a method handler needs about the exchange in progress. */
struct mcp_call {
    gateway_t *g;
    const char *sid;          /* the session's handle (SHA-256 of its id) */
    const cJSON *id;
    const cJSON *params;      /* may be NULL */
    http_response_t *resp;
};

typedef cJSON *(*mcp_method_fn)(struct mcp_call *c);

int mcp_protocol_supported(const char *version)
{
    for (size_t i = 0; mcp_versions[i] != NULL; i++)
        if (strcmp(version, mcp_versions[i]) == 0)
            return 1;
    return 0;
}

const char *mcp_protocol_negotiate(const char *requested)
{
    for (size_t i = 0; requested != NULL && mcp_versions[i] != NULL; i++)
        if (strcmp(requested, mcp_versions[i]) == 0)
            return mcp_versions[i];
    return MCP_PROTOCOL_LATEST;
}

/* "http://localhost:6274" -> host "localhost"; handles [::1]. */
static int mcp_origin_host(const char *origin, char *host, size_t hostlen)
{
    const char *p = strstr(origin, "://");
    size_t n;

    if (p == NULL)
        return -1;
    p += 3;
    if (*p == '[') {
        const char *e = strchr(p, ']');

        if (e == NULL)
            return -1;
        n = (size_t)(e - p + 1);
    } else {
        n = strcspn(p, ":/");
    }
    /* An origin is scheme://host[:port] and nothing else: a port is 1-5 digits and
     * ends the text ("localhost:80@evil.com", "localhost:", two merged Origin headers
     * "http://localhost:1, http://evil.com" are not origins). */
    if (n == 0 || n >= hostlen || (p[n] != '\0' && p[n] != ':'))
        return -1;
    if (p[n] == ':') {
        size_t digits = strspn(p + n + 1, "0123456789");

        if (digits == 0 || digits > 5 || p[n + 1 + digits] != '\0' ||
            atol(p + n + 1) > 65535)
            return -1;
    }
    memcpy(host, p, n);
    host[n] = '\0';
    return 0;
}

/* 127.0.0.0/8 written as a dotted quad (not a DNS name such as 127.0.0.1.evil.com). */
static int mcp_ipv4_loopback(const char *host)
{
    struct in_addr a;

    return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

int mcp_origin_allowed(const config_t *cfg, const char *origin)
{
    char host[256];

    if (origin == NULL)
        return 1;   /* not a browser: nothing to protect against DNS rebinding */
    for (size_t i = 0; i < cfg->n_origins; i++)
        if (strcasecmp(origin, cfg->origins[i]) == 0)
            return 1;
    if (cfg->allow_loopback_origins && mcp_origin_host(origin, host, sizeof(host)) == 0 &&
        (strncasecmp(origin, "http://", 7) == 0 || strncasecmp(origin, "https://", 8) == 0))
        return strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
               mcp_ipv4_loopback(host);
    return 0;
}

static void mcp_reply(http_response_t *resp, int status, cJSON *msg)
{
    jsonrpc_whole_numbers(msg);
    http_response_json(resp, status, msg);
    cJSON_Delete(msg);
}

static void mcp_fail(http_response_t *resp, const cJSON *id, int status, int code,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A JSON-RPC error with an HTTP status: id is the request's when it is known, else NULL
 * (the message could not be read, or the transport refused it first). */
static void mcp_fail(http_response_t *resp, const cJSON *id, int status, int code,
                     const char *fmt, ...)
{
    char msg[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mcp_reply(resp, status, jsonrpc_error(id, code, msg, NULL));
}

/* The store never holds a session id, only its SHA-256 (the session's "handle"): a copy
 * of the store does not let anyone take over sessions.  Logs show the handle's first 12
 * digits.  Returns -1 for an id that cannot be one of ours (32 lowercase hex digits). */
static int mcp_session_handle(char handle[DIGEST_HEX_LEN + 1], const char *sid)
{
    if (strlen(sid) != 2 * MCP_SID_BYTES || strspn(sid, "0123456789abcdef") != 2 * MCP_SID_BYTES)
        return -1;
    return digest_sha256_hex(handle, sid, strlen(sid));
}

/* 1 live, 0 unknown/ended/expired, -1 store error (err filled).  Slides the expiry
 * forward when less than half of the TTL is left. */
static int mcp_session_check(gateway_t *g, const char *handle, char *err, size_t errlen)
{
    char key[DIGEST_HEX_LEN + 8], *v = NULL;
    size_t len;
    int64_t exp;
    int rc;

    snprintf(key, sizeof(key), "s:%s", handle);
    rc = store_get(g->store, key, &v, &len, &exp, err, errlen);
    if (rc == 1 && exp - store_now() < g->cfg->session_ttl / 2) {
        char ignore[128];

        if (store_put(g->store, key, v, len, g->cfg->session_ttl, ignore, sizeof(ignore)) < 0)
            log_warn("session expiry not extended", LOG_S("error", ignore));
    }
    free(v);
    return rc;
}

static cJSON *mcp_initialize(gateway_t *g, const cJSON *id, const cJSON *params,
                             http_response_t *resp)
{
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(params, "protocolVersion");
    const cJSON *ci = cJSON_GetObjectItemCaseSensitive(params, "clientInfo");
    const cJSON *cn = cJSON_GetObjectItemCaseSensitive(ci, "name");
    const char *version;
    char sid[2 * MCP_SID_BYTES + 1], handle[DIGEST_HEX_LEN + 1], key[DIGEST_HEX_LEN + 8];
    char err[256], rec[128], shortid[13];
    cJSON *result, *caps, *info;
    int rc;

    if (!cJSON_IsString(pv))
        return jsonrpc_error(id, JSONRPC_INVALID_PARAMS,
                             "initialize: params.protocolVersion must be a string", NULL);
    version = mcp_protocol_negotiate(pv->valuestring);
    if (rand_hex(sid, MCP_SID_BYTES) < 0)
        return jsonrpc_error(id, JSONRPC_INTERNAL_ERROR, "no randomness for a session id", NULL);
    if (mcp_session_handle(handle, sid) < 0)
        return jsonrpc_error(id, JSONRPC_INTERNAL_ERROR, "SHA-256 unavailable", NULL);
    snprintf(key, sizeof(key), "s:%s", handle);
    memcpy(shortid, handle, sizeof(shortid) - 1);
    shortid[sizeof(shortid) - 1] = '\0';
    snprintf(rec, sizeof(rec), "{\"v\":\"%s\",\"t\":%lld}", version, (long long)time(NULL));
    rc = store_add(g->store, key, rec, strlen(rec), g->cfg->session_ttl, err, sizeof(err));
    if (rc != 1) {
        resp->status = 503;
        return jsonrpc_errorf(id, JSONRPC_STORE_ERROR, "session store unavailable: %s",
                              rc < 0 ? err : "session id collision");
    }
    http_response_header(resp, "Mcp-Session-Id", sid);
    log_info("session opened", LOG_S("session", shortid), LOG_S("protocol", version),
             LOG_S("client", cJSON_IsString(cn) ? cn->valuestring : NULL));

    result = cJSON_CreateObject();
    cJSON_AddStringToObject(result, "protocolVersion", version);
    caps = cJSON_AddObjectToObject(result, "capabilities");
    cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "tools"), "listChanged", 0);
    cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "prompts"), "listChanged", 0);
    cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "resources"), "listChanged", 0);
    info = cJSON_AddObjectToObject(result, "serverInfo");
    cJSON_AddStringToObject(info, "name", "mcpgw");
    cJSON_AddStringToObject(info, "version", MCPGW_VERSION);
    cJSON_AddStringToObject(result, "instructions", "mcpgw federates several MCP servers: each "
                            "tool and prompt name starts with the name of the server it comes "
                            "from; resources keep their URIs.");
    return jsonrpc_result(id, result);
}

static cJSON *mcp_ping(struct mcp_call *c)
{
    return jsonrpc_result(c->id, cJSON_CreateObject());
}

static cJSON *mcp_tools_list(struct mcp_call *c)
{
    return fed_list(c->g, c->sid, FED_TOOLS, c->id, c->params);
}

static cJSON *mcp_prompts_list(struct mcp_call *c)
{
    return fed_list(c->g, c->sid, FED_PROMPTS, c->id, c->params);
}

/* Name the upstream a request went to in its access log line; r passes through. */
static cJSON *mcp_routed(struct mcp_call *c, const char *up, cJSON *r)
{
    if (up != NULL)
        snprintf(c->resp->log_upstream, sizeof(c->resp->log_upstream), "%s", up);
    return r;
}

static cJSON *mcp_tools_call(struct mcp_call *c)
{
    const char *up = NULL;
    cJSON *r = fed_call(c->g, c->sid, FED_TOOLS, c->id, c->params, &up);

    return mcp_routed(c, up, r);
}

static cJSON *mcp_resources_list(struct mcp_call *c)
{
    return fed_list(c->g, c->sid, FED_RESOURCES, c->id, c->params);
}

static cJSON *mcp_templates_list(struct mcp_call *c)
{
    return fed_list(c->g, c->sid, FED_TEMPLATES, c->id, c->params);
}

static cJSON *mcp_resources_read(struct mcp_call *c)
{
    const char *up = NULL;
    cJSON *r = fed_read(c->g, c->sid, c->id, c->params, &up);

    return mcp_routed(c, up, r);
}

static cJSON *mcp_prompts_get(struct mcp_call *c)
{
    const char *up = NULL;
    cJSON *r = fed_call(c->g, c->sid, FED_PROMPTS, c->id, c->params, &up);

    return mcp_routed(c, up, r);
}

static const struct mcp_method {
    const char *name;
    mcp_method_fn fn;
} mcp_methods[] = {
    { .name = "ping",         .fn = mcp_ping },
    { .name = "tools/list",   .fn = mcp_tools_list },
    { .name = "tools/call",   .fn = mcp_tools_call },
    { .name = "prompts/list", .fn = mcp_prompts_list },
    { .name = "prompts/get",  .fn = mcp_prompts_get },
    { .name = "resources/list", .fn = mcp_resources_list },
    { .name = "resources/templates/list", .fn = mcp_templates_list },
    { .name = "resources/read", .fn = mcp_resources_read },
};

static void mcp_post(gateway_t *g, const http_request_t *req, http_response_t *resp)
{
    char err[256], handle[DIGEST_HEX_LEN + 1];
    int code = 0, rc;
    const char *why = NULL;
    cJSON *msg, *answer = NULL;
    const cJSON *method, *id, *params;
    enum jsonrpc_kind kind;

    if (req->content_type == NULL || strncasecmp(req->content_type, "application/json", 16) != 0 ||
        (req->content_type[16] != '\0' && req->content_type[16] != ';' &&
         req->content_type[16] != ' ')) {
        mcp_fail(resp, NULL, 415, JSONRPC_INVALID_REQUEST,
                 "Content-Type must be application/json, not \"%.60s\"",
                 req->content_type != NULL ? req->content_type : "(none)");
        return;
    }
    if (req->accept != NULL && strstr(req->accept, "application/json") == NULL &&
        strstr(req->accept, "*/*") == NULL && strstr(req->accept, "application/*") == NULL) {
        mcp_fail(resp, NULL, 406, JSONRPC_INVALID_REQUEST,
                 "Accept must allow application/json (the gateway answers in JSON)");
        return;
    }
    msg = jsonrpc_parse(req->body, req->body_len, &code, err, sizeof(err));
    if (msg == NULL) {
        mcp_fail(resp, NULL, 400, code, "%s", err);
        return;
    }
    kind = jsonrpc_classify(msg, &why);
    if (kind == JSONRPC_INVALID) {
        mcp_fail(resp, NULL, 400, JSONRPC_INVALID_REQUEST, "invalid JSON-RPC message: %s", why);
        goto done;
    }
    method = cJSON_GetObjectItemCaseSensitive(msg, "method");
    /* A response carries the id of our request, not one to answer to. */
    id = kind == JSONRPC_REQUEST ? cJSON_GetObjectItemCaseSensitive(msg, "id") : NULL;
    params = cJSON_GetObjectItemCaseSensitive(msg, "params");
    if (method != NULL)
        snprintf(resp->log_method, sizeof(resp->log_method), "%s", method->valuestring);

    if (kind == JSONRPC_REQUEST && strcmp(method->valuestring, "initialize") == 0) {
        resp->status = 200;
        answer = mcp_initialize(g, id, params, resp);
        mcp_reply(resp, resp->status, answer);
        goto done;
    }
    if (req->session_id == NULL) {
        mcp_fail(resp, id, 400, JSONRPC_INVALID_REQUEST,
                 "Mcp-Session-Id header required: send initialize first");
        goto done;
    }
    rc = mcp_session_handle(handle, req->session_id) < 0 ? 0
         : mcp_session_check(g, handle, err, sizeof(err));
    if (rc < 0) {
        mcp_fail(resp, id, 503, JSONRPC_STORE_ERROR, "session store unavailable: %s", err);
        goto done;
    }
    if (rc == 0) {
        mcp_fail(resp, id, 404, JSONRPC_INVALID_REQUEST,
                 "unknown or expired session: send initialize to start a new one");
        goto done;
    }
    if (kind != JSONRPC_REQUEST) {
        /* Notifications (initialized, cancelled, ...) and responses need no answer. */
        resp->status = 202;
        goto done;
    }
    for (size_t i = 0; i < sizeof(mcp_methods) / sizeof(mcp_methods[0]); i++) {
        if (strcmp(method->valuestring, mcp_methods[i].name) == 0) {
            struct mcp_call c = {
                .g = g, .sid = handle, .id = id, .params = params, .resp = resp,
            };

            answer = mcp_methods[i].fn(&c);
            break;
        }
    }
    if (answer == NULL)
        answer = jsonrpc_errorf(id, JSONRPC_METHOD_NOT_FOUND, "method \"%.100s\" not found",
                                method->valuestring);
    mcp_reply(resp, 200, answer);
done:
    cJSON_Delete(msg);
}

static void mcp_delete(gateway_t *g, const http_request_t *req, http_response_t *resp)
{
    char key[DIGEST_HEX_LEN + 8], err[256], handle[DIGEST_HEX_LEN + 1], shortid[13];
    int rc;

    snprintf(resp->log_method, sizeof(resp->log_method), "DELETE");
    if (req->session_id == NULL) {
        mcp_fail(resp, NULL, 400, JSONRPC_INVALID_REQUEST, "Mcp-Session-Id header required");
        return;
    }
    rc = mcp_session_handle(handle, req->session_id) < 0 ? 0
         : mcp_session_check(g, handle, err, sizeof(err));
    if (rc < 0) {
        mcp_fail(resp, NULL, 503, JSONRPC_STORE_ERROR, "session store unavailable: %s", err);
        return;
    }
    if (rc == 0) {
        mcp_fail(resp, NULL, 404, JSONRPC_INVALID_REQUEST, "unknown or expired session");
        return;
    }
    snprintf(key, sizeof(key), "s:%s", handle);
    if (store_del(g->store, key, err, sizeof(err)) < 0) {
        mcp_fail(resp, NULL, 503, JSONRPC_STORE_ERROR, "session store unavailable: %s", err);
        return;
    }
    fed_end_session(g, handle);
    memcpy(shortid, handle, sizeof(shortid) - 1);
    shortid[sizeof(shortid) - 1] = '\0';
    log_info("session ended", LOG_S("session", shortid));
    resp->status = 204;
}

void mcp_handle(gateway_t *g, const http_request_t *req, http_response_t *resp)
{
    if (!mcp_origin_allowed(g->cfg, req->origin)) {
        mcp_fail(resp, NULL, 403, JSONRPC_INVALID_REQUEST, "origin \"%.100s\" is not allowed "
                 "(see MCPGW_ALLOWED_ORIGINS)", req->origin);
        return;
    }
    if (req->origin != NULL) {
        /* An allowed browser origin: let the page read our answers and the session id. */
        http_response_header(resp, "Access-Control-Allow-Origin", req->origin);
        http_response_header(resp, "Access-Control-Expose-Headers", "Mcp-Session-Id");
        http_response_header(resp, "Vary", "Origin");
        if (strcmp(req->method, "OPTIONS") == 0) {
            /* CORS preflight. */
            http_response_header(resp, "Access-Control-Allow-Methods", "POST, DELETE");
            http_response_header(resp, "Access-Control-Allow-Headers",
                                 "Content-Type, Accept, Authorization, Mcp-Session-Id, "
                                 "MCP-Protocol-Version, Last-Event-ID");
            http_response_header(resp, "Access-Control-Max-Age", "600");
            resp->status = 204;
            return;
        }
    }
    if (req->protocol_version != NULL && !mcp_protocol_supported(req->protocol_version)) {
        mcp_fail(resp, NULL, 400, JSONRPC_INVALID_REQUEST, "unsupported MCP-Protocol-Version \"%.40s\" "
                 "(supported: 2025-11-25, 2025-06-18, 2025-03-26)", req->protocol_version);
        return;
    }
    if (strcmp(req->method, "POST") == 0) {
        mcp_post(g, req, resp);
    } else if (strcmp(req->method, "DELETE") == 0) {
        mcp_delete(g, req, resp);
    } else {
        http_response_header(resp, "Allow", "POST, DELETE");
        mcp_fail(resp, NULL, 405, JSONRPC_INVALID_REQUEST, "method %.10s not allowed on the MCP "
                 "endpoint (this gateway offers no server-initiated stream)", req->method);
    }
}
