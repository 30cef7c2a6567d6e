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

int serve_worker(int listen_fd, void *ctx)
{
    const config_t *cfg = ctx;
    struct sigaction sa;
    FCGX_Request fcgi;
    gateway_t g;
    char err[512];
    int rc = 0;

    log_setup("worker", NULL);
    serve_listen_fd = listen_fd;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = serve_on_stop;
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
        FCGX_InitRequest(&fcgi, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        log_error("worker cannot start", LOG_S("error", "FCGX_Init failed"));
        gateway_close(&g);
        return 1;
    }
    while (!serve_stop) {
        if (FCGX_Accept_r(&fcgi) < 0) {
            if (serve_stop)
                break;
            if (errno != EINTR)
                usleep(10000);   /* e.g. EMFILE: do not spin */
            continue;
        }
        serve_one(&g, &fcgi);
        FCGX_Finish_r(&fcgi);
    }
    FCGX_Free(&fcgi, 1);
    gateway_close(&g);
    return rc;
}
