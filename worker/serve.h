/* SPDX-License-Identifier: MIT */
/* serve.h - one worker's life: accept FastCGI requests on the shared socket and hand
 * each to the gateway until told to stop or retired. */
#ifndef MCPGW_SERVE_H
#define MCPGW_SERVE_H

#include "config.h"
#include "scoreboard.h"

typedef struct serve_opts {
    const config_t *cfg;        /* loaded by this process; outlives the call */
    int listen_fd;              /* the socket to accept on (inherited) */
    scoreboard_t *sb;           /* the pool's scoreboard, or NULL outside a pool */
    unsigned slot;              /* this worker's slot in sb */
    int ready_fd;               /* pipe to the master: one byte once ready, then closed
                                 * (by this call); -1 for none */
    int lane;                   /* the status lane: no slot of sb is ours (it only reads
                                 * sb for /status), and it never retires */
    int pool_listen_fd;         /* the pool's socket, whose queue /status reports; -1:
                                 * listen_fd is the pool's */
} serve_opts_t;

/* Open the gateway, report ready, then serve one request at a time.  Returns the exit
 * status: 0 after a stop signal (SIGTERM/SIGINT/SIGQUIT: the request in hand is
 * finished first) or after cfg->max_requests requests, 1 when the worker cannot start
 * (it then never reports ready). */
int serve_worker(const serve_opts_t *o);

#endif
