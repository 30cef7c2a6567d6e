/* SPDX-License-Identifier: MIT */
/* pool.h - the prefork master: fork workers on a shared listening socket, respawn the
 * ones that die, stop them gracefully.
 *
 * The pool knows nothing of HTTP or MCP: each worker runs the function it is given.
 * Signals to the master: SIGTERM, SIGINT, SIGQUIT = graceful stop (workers finish the
 * request in hand, bounded by stop_timeout, then SIGKILL).
 */
#ifndef MCPGW_POOL_H
#define MCPGW_POOL_H

/* Runs in a freshly forked worker with default signal dispositions and an empty
 * signal mask; its return value is the worker's exit status. */
typedef int (*pool_worker_fn)(int listen_fd, void *ctx);

typedef struct pool_opts {
    int workers;        /* how many to keep running */
    int stop_timeout;   /* seconds a graceful stop may take before SIGKILL */
} pool_opts_t;

/* Fork opts->workers workers and supervise them until a stop signal.  Returns the
 * master's exit status: 0 when every worker stopped in time, 1 otherwise. */
int pool_run(const pool_opts_t *opts, int listen_fd, pool_worker_fn fn, void *ctx);

#endif
