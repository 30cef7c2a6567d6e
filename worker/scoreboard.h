/* SPDX-License-Identifier: MIT */
/* scoreboard.h - the pool's shared memory: one slot per worker process and the pool's
 * counters, read by /status in any worker.
 *
 * The master creates it in a memfd (scoreboard_create) and passes the fd to every worker
 * it execs; a worker maps it with scoreboard_attach.  Because workers may run a newer
 * binary than the master (hot swap), the header carries a magic number, a layout version
 * and the struct sizes, and attach refuses a board it does not understand.
 *
 * Who writes what:
 *   master   the header, every slot's pid/generation/started_ms, state STARTING,
 *            STOPPING and EMPTY, and the counters restarts, crashes, timeouts, retired,
 *            swaps, swap_failures, generation, crash_burst, max_listen_queue,
 *            last_swap_error;
 *   worker   its own slot's state IDLE/BUSY (compare-and-swap, so a STOPPING mark by the
 *            master is never overwritten), requests, busy_since_ms, idle_since_ms,
 *            request; and the counters accepted, max_active, max_children_reached,
 *            slow_requests.
 * Counters are C11 atomics (lock-free on every target we build for, checked at compile
 * time).  The `request` and `last_swap_error` texts are informational: a reader racing a
 * writer may see a mix of the old and new text, always NUL-terminated.
 */
#ifndef MCPGW_SCOREBOARD_H
#define MCPGW_SCOREBOARD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SCOREBOARD_MAGIC      0x4d435342u   /* "MCSB" */
#define SCOREBOARD_VERSION    1u
#define SCOREBOARD_SLOTS_MAX  2048u
#define SCOREBOARD_REQUEST_MAX 96           /* "METHOD /path" of the request in hand */
#define SCOREBOARD_ERROR_MAX  256

enum scoreboard_state {
    SB_EMPTY = 0,       /* no process */
    SB_STARTING,        /* forked, not ready yet */
    SB_IDLE,            /* waiting in accept() */
    SB_BUSY,            /* serving a request */
    SB_STOPPING,        /* asked to stop: finishes the request in hand, then exits */
};

typedef struct scoreboard_slot {
    atomic_int pid;
    atomic_int state;                   /* enum scoreboard_state */
    atomic_uint generation;             /* which hot swap started this worker */
    atomic_ullong requests;             /* requests this worker finished */
    atomic_llong started_ms;            /* monotonic ms when forked */
    atomic_llong busy_since_ms;         /* monotonic ms the request in hand began; 0 idle */
    atomic_llong idle_since_ms;         /* monotonic ms the worker last became idle */
    char request[SCOREBOARD_REQUEST_MAX];
} scoreboard_slot_t;

typedef struct scoreboard {
    uint32_t magic, version, header_size, slot_size;
    uint32_t n_slots;                   /* length of slots[] */
    uint32_t max_children;              /* all of them busy = "max children reached" */
    char mode[16];                      /* "static", "dynamic", "ondemand" */
    int64_t start_time;                 /* Unix seconds the master started */
    int64_t start_ms;                   /* monotonic ms the master started */
    atomic_ullong accepted;             /* requests accepted by any worker */
    atomic_ullong max_active;           /* most workers busy at once */
    atomic_ullong max_children_reached; /* episodes with max_children workers busy */
    atomic_int reached;                 /* 1 during such an episode */
    atomic_ullong slow_requests;        /* requests that took MCPGW_SLOW_MS or longer */
    atomic_ullong restarts;             /* workers replaced after crash, retirement, timeout */
    atomic_ullong crashes;              /* unexpected deaths, failed starts included */
    atomic_ullong timeouts;             /* workers killed for MCPGW_REQUEST_TIMEOUT */
    atomic_ullong retired;              /* workers that exited after MCPGW_MAX_REQUESTS */
    atomic_ullong swaps;                /* completed hot swaps */
    atomic_ullong swap_failures;        /* hot swaps refused or stopped */
    atomic_uint generation;             /* current generation (1 at start, +1 per swap) */
    atomic_int crash_burst;             /* 1 while respawns are held after a crash burst */
    atomic_llong max_listen_queue;      /* longest listen queue the master has seen; -1 n/a */
    char last_swap_error[SCOREBOARD_ERROR_MAX];
    scoreboard_slot_t slots[];
} scoreboard_t;

/* What the slots hold right now (a snapshot; workers change state while it is taken). */
typedef struct scoreboard_counts {
    int total, starting, idle, busy, stopping;
} scoreboard_counts_t;

/* Monotonic clock in milliseconds (CLOCK_MONOTONIC is shared by every process). */
long long scoreboard_now_ms(void);

/* Master: create a board of n_slots slots in a memfd.  On success *fd is the memfd
 * (O_CLOEXEC; the caller clears it for the children that must inherit it and closes it
 * at the end) and the mapping is returned; release with scoreboard_detach.  NULL with
 * err on failure (nothing left open). */
scoreboard_t *scoreboard_create(unsigned n_slots, unsigned max_children, const char *mode,
                                int *fd, char *err, size_t errlen);

/* Worker: map the board behind fd (the fd is not closed and may be closed after).
 * Refuses a board with another magic, version or struct sizes.  NULL with err. */
scoreboard_t *scoreboard_attach(int fd, char *err, size_t errlen);

/* Unmap; NULL is a no-op. */
void scoreboard_detach(scoreboard_t *sb);

/* Count the slots by state. */
void scoreboard_count(const scoreboard_t *sb, scoreboard_counts_t *out);

/* Name of a state ("idle", ...); "?" for an unknown value. */
const char *scoreboard_state_name(int state);

/* Copy text into a fixed slot field, truncating and NUL-terminating. */
void scoreboard_set_text(char *field, size_t cap, const char *text);

/* Worker side ------------------------------------------------------------------ */

/* The worker in `slot` is ready: STARTING -> IDLE. */
void scoreboard_worker_ready(scoreboard_t *sb, unsigned slot);

/* A request was accepted: IDLE -> BUSY, busy_since, accepted++, max_active and the
 * max-children-reached episode.  method/path may be NULL. */
void scoreboard_request_begin(scoreboard_t *sb, unsigned slot, const char *method,
                              const char *path);

/* The request is finished after duration_ms: requests++, BUSY -> IDLE, and
 * slow_requests++ when slow_ms > 0 and duration_ms >= slow_ms.  Returns 1 when the
 * request counted as slow. */
int scoreboard_request_end(scoreboard_t *sb, unsigned slot, long long duration_ms,
                           long slow_ms);

/* The worker leaves on its own (max requests, stop signal): state STOPPING. */
void scoreboard_worker_leaving(scoreboard_t *sb, unsigned slot);

#endif
