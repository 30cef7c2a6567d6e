/* SPDX-License-Identifier: MIT */
/* gateway.h - one worker's gateway state: configuration, store handle, upstream clients.
 *
 * Built by gateway_open() after the worker is forked (store handles and curl
 * connections must not cross fork) and kept for the worker's life, so upstream
 * connections are reused from one request to the next.
 */
#ifndef MCPGW_GATEWAY_H
#define MCPGW_GATEWAY_H

#include <stddef.h>

#include "config.h"
#include "http.h"
#include "store.h"
#include "upstream.h"

#define MCPGW_VERSION "0.1.0"

typedef struct gateway {
    const config_t *cfg;
    store_t *store;
    upstream_t *up[CONFIG_UPSTREAMS_MAX];
    size_t n_up;
    long next_id;                       /* last id sent upstream; starts at random */
    void *fed_cache[4];                 /* federation.c's per-kind catalogue copies */
    char fed_fp[16];                    /* federation.c: fingerprint of the upstreams */
    cJSON *ready_upstreams;             /* /ready's last upstream probe, reused until */
    long long ready_until_ms;           /* this (upstream_now_ms clock) */
    char draining_path[CONFIG_PATH_MAX + 16];
    int draining;                       /* the flag existed when this request came in */
    long long deadline_ms;              /* when the pool kills us over this request
                                         * (upstream_now_ms clock), 0: never */
} gateway_t;

/* Open the store and make one client per upstream.  Returns 0, or -1 with err; g must
 * be released with gateway_close either way.  cfg must outlive g. */
int gateway_open(gateway_t *g, const config_t *cfg, char *err, size_t errlen);

void gateway_close(gateway_t *g);

/* Serve one request: route it and fill resp (never fails; errors become responses). */
void gateway_handle(gateway_t *g, const http_request_t *req, http_response_t *resp);

#endif
