/* SPDX-License-Identifier: MIT */
/* pool.h - the process manager: keeps worker processes on a shared listening socket,
 * sized by a php-fpm-like mode, and replaces them when they crash, retire, hang or when
 * a hot swap is asked for.
 *
 * The pool knows nothing of HTTP or MCP.  Each worker is a fresh exec of a program
 * (normally this same binary) started as
 *     <exe> --worker SLOT LISTEN_FD SCOREBOARD_FD READY_FD CONF_FD
 * with those descriptors inherited (CONF_FD is -1 without a configuration snapshot).
 * The worker writes one byte on READY_FD once it can serve; until then it is not
 * counted as capacity.
 *
 * Signals to the master:
 *   SIGTERM, SIGINT, SIGQUIT   graceful stop: workers finish the request in hand,
 *                              bounded by stop_timeout, then SIGKILL
 *   SIGHUP                     hot swap: reopen the program and the configuration file
 *                              now on disk and replace every worker, a group at a time,
 *                              starting the new ones before stopping the old ones; a
 *                              new program that does not become ready is refused and
 *                              the old workers keep serving.  A value sent with
 *                              sigqueue(3) is echoed in the result file (pool_reload).
 * docs/OPERATIONS.md ("Process manager") is the user-facing description.
 */
#ifndef MCPGW_POOL_H
#define MCPGW_POOL_H

#include <stddef.h>

#define POOL_WORKER_FLAG "--worker"
#define POOL_LANE_FLAG   "--lane"

enum pool_mode { POOL_STATIC, POOL_DYNAMIC, POOL_ONDEMAND };

/* Checks a configuration snapshot before workers get it; 0, or -1 with err. */
typedef int (*pool_conf_check_fn)(const char *text, void *ctx, char *err, size_t errlen);

typedef struct pool_opts {
    int mode;                   /* enum pool_mode */
    const char *mode_name;      /* shown on /status */
    int max_children;           /* static: the pool size; else the most workers */
    int start;                  /* dynamic: workers started at once */
    int min_spare, max_spare;   /* dynamic: bounds on idle workers */
    int idle_timeout;           /* ondemand: seconds an idle worker lives */
    int request_timeout;        /* seconds one request may run before its worker is
                                 * killed; 0 = never */
    int start_timeout;          /* seconds a new worker has to report ready */
    int stop_timeout;           /* seconds a graceful stop may take before SIGKILL */
    long max_requests;          /* a worker exiting 0 after this many requests retired;
                                 * any other exit nobody asked for is a crash (0: none) */
    const char *exe;            /* the worker program: opened at start (respawns use that
                                 * file even if the path changes), reopened on SIGHUP */
    const char *conf_path;      /* file copied at start and on SIGHUP; workers read the
                                 * copy (NULL: none) */
    size_t conf_max;            /* largest accepted conf_path file */
    pool_conf_check_fn conf_check;  /* validates each copy (NULL: none) */
    void *conf_ctx;
    int lane_fd;                /* the status lane's listening socket; -1 or 0 (left
                                 * unset; fd 0 is never a socket of ours) for none:
                                 * one more process from exe, outside the slots, kept
                                 * running and replaced by each hot swap */
    const char *pid_file;       /* our pid, written at start, removed at exit (NULL: none) */
    const char *swap_file;      /* one JSON line per finished hot swap (NULL: none) */
} pool_opts_t;

/* Run the pool until a stop signal.  listen_fd stays owned by the caller.  Returns the
 * master's exit status: 0 when every worker stopped in time, 1 otherwise or when the
 * pool could not start (logged). */
int pool_run(const pool_opts_t *opts, int listen_fd);

/* What a worker was given on its command line: argv[1] is POOL_WORKER_FLAG, or
 * POOL_LANE_FLAG for the status lane, started as
 *     <exe> --lane LANE_FD POOL_LISTEN_FD SCOREBOARD_FD CONF_FD
 * (it accepts on LANE_FD, has no slot and no ready pipe, and reports POOL_LISTEN_FD's
 * queue on /status). */
typedef struct pool_worker_args {
    int lane;
    unsigned slot;                                      /* workers only */
    int listen_fd, scoreboard_fd, ready_fd, conf_fd;    /* ready_fd, conf_fd -1: none */
    int pool_listen_fd;                                 /* the lane only, else -1 */
} pool_worker_args_t;

/* Parse a worker's or the lane's argv.  0, or -1 with err. */
int pool_worker_args(int argc, char **argv, pool_worker_args_t *out, char *err, size_t errlen);

/* The `--reload` command: send SIGHUP (with a token, by sigqueue) to the pid in pid_file
 * and, when wait_s > 0, wait for swap_file to report the swap that served it.  Returns
 * 0 when the swap succeeded (or was only requested, wait_s 0), 1 when it failed or did
 * not finish in time, 2 when there is no pool to signal; msg says what happened. */
int pool_reload(const char *pid_file, const char *swap_file, int wait_s, char *msg,
                size_t msglen);

/* How many workers one hot-swap group replaces out of n: ceil(n / 4), at least 1. */
int pool_swap_group(int n);

#endif
