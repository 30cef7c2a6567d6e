/* SPDX-License-Identifier: MIT */
/* serve.c - the worker loop: accept, read, dispatch, write, log. */
#include "serve.h"

#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "gateway.h"
#include "http.h"
#include "log.h"
#include "status.h"

static volatile sig_atomic_t serve_stop;
static int serve_listen_fd = -1;

/* FCGX_Accept_r checks its own shutdown flag and then blocks in accept(): a signal
 * landing between the two would be lost.  Closing our copy of the listening socket
 * makes that accept() fail at once (EBADF) instead; other workers keep theirs. */
static void serve_on_stop(int sig)
{
    (void)sig;
    serve_stop = 1;
    if (serve_listen_fd >= 0) {
        close(serve_listen_fd);
        serve_listen_fd = -1;
    }
}

static double serve_ms_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void serve_one(gateway_t *g, FCGX_Request *fcgi)
{
    http_request_t req;
    http_response_t resp;
    struct timespec t0;
    char err[256];
    int status = 500, bad_request = 0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    http_response_init(&resp);
    err[0] = '\0';
    if (http_read_fcgi(&req, fcgi, (size_t)g->cfg->max_body, &status, err, sizeof(err)) < 0) {
        char body[400], esc[300];

        bad_request = 1;
        log_json_escape(esc, sizeof(esc), err);
        snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":%d,"
                 "\"message\":\"%s\"}}", -32600, esc);
        http_response_text(&resp, status, "application/json", body);
    } else {
        log_set_request_id(req.request_id);
        gateway_handle(g, &req, &resp);
    }
    http_response_header(&resp, "X-Request-Id", req.request_id);
    if (resp.headers_overflow) {
        log_error("response headers over the limit: answered 500 instead",
                  LOG_I("limit", HTTP_HEADERS_MAX), LOG_I("status", resp.status));
        resp.status = 500;
    }
    http_write_fcgi(&resp, fcgi);
    log_info("request", LOG_S("method", req.method), LOG_S("path", req.path),
             LOG_S("rpc", resp.log_method[0] != '\0' ? resp.log_method : NULL),
             LOG_S("upstream", resp.log_upstream[0] != '\0' ? resp.log_upstream : NULL),
             LOG_I("status", resp.status), LOG_D("duration_ms", serve_ms_since(&t0)),
             LOG_S("error", bad_request ? err : NULL));
    log_set_request_id(NULL);
    http_response_release(&resp);
    http_request_release(&req);
}

/* "METHOD /path" of the request just accepted, for the scoreboard (query left out: it
 * may carry things that do not belong on a status page). */
static void serve_mark_busy(const serve_opts_t *o, FCGX_Request *fcgi)
{
    const char *method = FCGX_GetParam("REQUEST_METHOD", fcgi->envp);
    const char *uri = FCGX_GetParam("REQUEST_URI", fcgi->envp);
    char path[SCOREBOARD_REQUEST_MAX];
    size_t n = uri != NULL ? strcspn(uri, "?") : 0;

    if (n >= sizeof(path))
        n = sizeof(path) - 1;
    if (n > 0)
        memcpy(path, uri, n);
    path[n] = '\0';
    scoreboard_request_begin(o->sb, o->slot, method, path);
}

/* Tell the master we are ready: one byte on the pipe, then close it. */
static void serve_report_ready(const serve_opts_t *o)
{
    if (o->sb != NULL && !o->lane)
        scoreboard_worker_ready(o->sb, o->slot);
    if (o->ready_fd >= 0) {
        ssize_t w;

        do
            w = write(o->ready_fd, "R", 1);
        while (w < 0 && errno == EINTR);
        close(o->ready_fd);
    }
}

int serve_worker(const serve_opts_t *o)
{
    const config_t *cfg = o->cfg;
    struct sigaction sa;
    FCGX_Request fcgi;
    gateway_t g;
    char err[512];
    long served = 0;

    serve_listen_fd = o->listen_fd;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = serve_on_stop;
    /* SA_RESTART: a stop (a hot swap, a scale-down) that lands while this worker reads a
     * request or writes an answer must not make that read() or write() fail with EINTR,
     * which libfcgi takes for a broken stream and the client gets a 400 or a cut answer.
     * A blocked accept() still ends: restarted on the descriptor the handler closed, it
     * fails with EBADF. */
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (gateway_open(&g, cfg, err, sizeof(err)) < 0) {
        log_error("worker cannot start", LOG_S("error", err));
        gateway_close(&g);
        return 1;
    }
    if (FCGX_Init() != 0 ||
        FCGX_InitRequest(&fcgi, o->listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        log_error("worker cannot start", LOG_S("error", "FCGX_Init failed"));
        gateway_close(&g);
        return 1;
    }
    status_attach(o->sb, o->pool_listen_fd >= 0 ? o->pool_listen_fd : o->listen_fd);
    serve_report_ready(o);
    while (!serve_stop) {
        struct timespec t0;
        long long ms;

        if (FCGX_Accept_r(&fcgi) < 0) {
            if (serve_stop)
                break;
            if (errno != EINTR)
                usleep(10000);   /* e.g. EMFILE: do not spin */
            continue;
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (o->sb != NULL && !o->lane)
            serve_mark_busy(o, &fcgi);
        serve_one(&g, &fcgi);
        /* Finish before retiring: it flushes and closes the connection, so lighttpd has
         * the whole answer before this process goes away. */
        FCGX_Finish_r(&fcgi);
        ms = (long long)serve_ms_since(&t0);
        if (cfg->slow_ms > 0 && ms >= cfg->slow_ms)
            log_warn("slow request", LOG_S("request", o->sb != NULL && !o->lane ?
                     o->sb->slots[o->slot].request : NULL), LOG_I("duration_ms", ms),
                     LOG_I("slow_ms", cfg->slow_ms));
        if (o->sb != NULL && !o->lane)
            scoreboard_request_end(o->sb, o->slot, ms, cfg->slow_ms);
        served++;
        if (!o->lane && cfg->max_requests > 0 && served >= cfg->max_requests) {
            log_debug("worker retiring", LOG_I("requests", served));
            break;
        }
    }
    if (o->sb != NULL && !o->lane)
        scoreboard_worker_leaving(o->sb, o->slot);
    status_detach();
    FCGX_Free(&fcgi, 1);
    gateway_close(&g);
    return 0;
}
