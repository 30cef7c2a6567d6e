/* SPDX-License-Identifier: MIT */
/* pool.c - the process manager: spawn by exec, size by mode, respawn with backoff,
 * request timeouts, hot swap, graceful stop. */
#include "pool.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "scoreboard.h"
#include "sockq.h"

extern char **environ;

#define POOL_BACKOFF_MIN_MS     100     /* first delay after a worker died young */
#define POOL_BACKOFF_MAX_MS     5000
#define POOL_QUICK_DEATH_MS     1000    /* a worker that dies sooner was not healthy */
#define POOL_BURST_CRASHES      5       /* this many crashes ... */
#define POOL_BURST_WINDOW_MS    10000   /* ... within this long are a crash burst */
#define POOL_BURST_HOLD_MIN_MS  1000    /* during a burst: one respawn per hold, */
#define POOL_BURST_HOLD_MAX_MS  30000   /* the hold doubling with each crash up to this */
#define POOL_TICK_MS            1000    /* longest sleep of the main loop */
#define POOL_REDUCE_EVERY_MS    1000    /* dynamic: at most one surplus idle worker stopped */
#define POOL_SAMPLE_EVERY_MS    200     /* listen queue sampling for max_listen_queue */
#define POOL_LISTEN_QUIET_MS    10      /* after a wake-up by a waiting connection */
#define POOL_TOKENS_MAX         8       /* --reload tokens remembered per swap */
#define POOL_SWAP_PROBATION_MS  1000    /* a swap's first new workers must live this long
                                         * after ready before the program is accepted */

enum pool_end {
    END_NONE,       /* running; its death would be unexpected (or a retirement) */
    END_STOP,       /* SIGTERM from us: surplus, replaced by a swap, pool stopping */
    END_TIMEOUT,    /* SIGKILL from us: a request ran past request_timeout */
    END_NOSTART,    /* SIGKILL from us: not ready within start_timeout */
    END_ABORT,      /* SIGKILL from us: member of a swap step that failed */
};

struct pool_slot {              /* the master's own view of a scoreboard slot */
    pid_t pid;                  /* 0: empty */
    int ready_fd;               /* read end of the ready pipe while starting, else -1 */
    int ready;
    int swap_step;              /* started by the swap step in flight */
    unsigned gen;
    enum pool_end end;
    long long spawned_ms, ready_deadline;
};

struct pool_swap {
    int active;
    unsigned gen;
    int exe_fd, conf_fd;        /* the candidate until adopted, then -1 */
    int adopted;                /* its first step was ready: it is the pool's program */
    int group;                  /* workers replaced per step */
    int step_started;           /* workers started by the step in flight; 0: none */
    int step_waiting;           /* of those, not ready yet */
    long long probation_end;    /* first step ready: accepted if still alive by then */
    int replaced;
    long long started_ms;
    long long started_unix_us;  /* wall clock, for --reload callers whose token was lost */
    unsigned tokens[POOL_TOKENS_MAX];
    int n_tokens;
};

struct pool {
    const pool_opts_t *o;
    pid_t self;
    int listen_fd, sb_fd, sig_fd;
    int exe_fd, conf_fd;        /* the accepted program and configuration copy */
    scoreboard_t *sb;
    struct pool_slot *slots;
    unsigned n_slots;
    struct pollfd *pfd;
    int *pfd_slot;
    unsigned gen;               /* generation of the accepted program */
    int stopping;
    long long stop_deadline;
    /* crashes */
    long long crash_ring[POOL_BURST_CRASHES];
    int crash_next, quick_streak, burst;
    long long last_crash_ms, hold_until, hold_ms, burst_since;
    unsigned long long burst_crashes;
    /* timers */
    long long next_reduce, next_sample, listen_quiet_until;
    int ondemand_wanted;
    /* the status lane */
    pid_t lane_pid, lane_old;   /* the lane; one a swap replaced that is still ending */
    pid_t lane_new;             /* a swap's candidate lane, on probation with its workers */
    unsigned lane_gen;
    long long lane_started_ms, lane_next_start;
    /* hot swap */
    struct pool_swap swap;
    int swap_pending;
    unsigned pending_tokens[POOL_TOKENS_MAX];
    int n_pending_tokens;
};

struct pool_census {
    int live;       /* running and not asked to end */
    int starting;   /* of those, not ready yet */
    int idle;       /* of those, ready and idle */
};

static long long pool_now_ms(void)
{
    return scoreboard_now_ms();
}

static long long pool_unix_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void pool_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

int pool_swap_group(int n)
{
    return n <= 0 ? 1 : (n + 3) / 4;
}

/* ------------------------------------------------------------ worker command line */

static int pool_parse_fd(const char *s, int min, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > INT_MAX)
        return -1;
    *out = v;
    return 0;
}

int pool_worker_args(int argc, char **argv, pool_worker_args_t *out, char *err, size_t errlen)
{
    long v[5];

    if (argc == 6 && strcmp(argv[1], POOL_LANE_FLAG) == 0) {
        for (int i = 0; i < 4; i++) {
            if (pool_parse_fd(argv[2 + i], i == 3 ? -1 : 0, &v[i]) < 0) {
                snprintf(err, errlen, "%s: argument %d \"%s\" is not a valid number",
                         POOL_LANE_FLAG, i + 1, argv[2 + i]);
                return -1;
            }
        }
        *out = (pool_worker_args_t){
            .lane = 1, .listen_fd = (int)v[0], .pool_listen_fd = (int)v[1],
            .scoreboard_fd = (int)v[2], .ready_fd = -1, .conf_fd = (int)v[3],
        };
        return 0;
    }
    if (argc != 7 || strcmp(argv[1], POOL_WORKER_FLAG) != 0) {
        snprintf(err, errlen, "usage: %s SLOT LISTEN_FD SCOREBOARD_FD READY_FD CONF_FD",
                 POOL_WORKER_FLAG);
        return -1;
    }
    for (int i = 0; i < 5; i++) {
        if (pool_parse_fd(argv[2 + i], i == 4 ? -1 : 0, &v[i]) < 0) {
            snprintf(err, errlen, "%s: argument %d \"%s\" is not a valid number",
                     POOL_WORKER_FLAG, i + 1, argv[2 + i]);
            return -1;
        }
    }
    if (v[0] >= (long)SCOREBOARD_SLOTS_MAX) {
        snprintf(err, errlen, "%s: slot %ld out of range", POOL_WORKER_FLAG, v[0]);
        return -1;
    }
    out->lane = 0;
    out->slot = (unsigned)v[0];
    out->listen_fd = (int)v[1];
    out->scoreboard_fd = (int)v[2];
    out->ready_fd = (int)v[3];
    out->conf_fd = (int)v[4];
    out->pool_listen_fd = -1;
    return 0;
}

/* ------------------------------------------------------------ files */

/* Copy the configuration file into a sealed memfd after checking it: workers read the
 * copy, so a file edited on disk reaches them only through a hot swap. */
static int pool_snapshot(const pool_opts_t *o, int *fd_out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t n = 0;
    int fd = -1, mfd = -1, rc = -1;

    *fd_out = -1;
    if (o->conf_path == NULL)
        return 0;
    text = malloc(o->conf_max + 1);
    if (text == NULL) {
        snprintf(err, errlen, "%s: out of memory", o->conf_path);
        goto fail;
    }
    fd = open(o->conf_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", o->conf_path, strerror(errno));
        goto fail;
    }
    for (;;) {
        ssize_t r = read(fd, text + n, o->conf_max + 1 - n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: read: %s", o->conf_path, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > o->conf_max) {
            snprintf(err, errlen, "%s: larger than %zu bytes", o->conf_path, o->conf_max);
            goto fail;
        }
    }
    text[n] = '\0';
    if (o->conf_check != NULL && o->conf_check(text, o->conf_ctx, err, errlen) < 0)
        goto fail;
    mfd = memfd_create("mcpgw-conf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mfd < 0) {
        snprintf(err, errlen, "memfd_create: %s", strerror(errno));
        goto fail;
    }
    for (size_t w = 0; w < n;) {
        ssize_t r = write(mfd, text + w, n - w);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, errlen, "write configuration copy: %s", strerror(errno));
            goto fail;
        }
        w += (size_t)r;
    }
    if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
        snprintf(err, errlen, "seal configuration copy: %s", strerror(errno));
        goto fail;
    }
    *fd_out = mfd;
    mfd = -1;
    rc = 0;
fail:
    pool_close(&mfd);
    pool_close(&fd);
    free(text);
    return rc;
}

/* Write path atomically (temporary file + rename). */
static void pool_write_file(const char *path, const char *text)
{
    char tmp[PATH_MAX];
    int fd;
    size_t n = strlen(text);

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        return;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, n) != (ssize_t)n || close(fd) < 0 || rename(tmp, path) < 0) {
        log_error("cannot write file", LOG_S("path", path), LOG_S("error", strerror(errno)));
        if (fd >= 0)
            unlink(tmp);
    }
}

static void pool_write_pid(const struct pool *p)
{
    char buf[32];

    if (p->o->pid_file == NULL)
        return;
    snprintf(buf, sizeof(buf), "%d\n", (int)p->self);
    pool_write_file(p->o->pid_file, buf);
}

/* Remove the pid file only while it still names us (a second pool may own it now). */
static void pool_remove_pid(const struct pool *p)
{
    char buf[32];
    int fd;
    ssize_t n;

    if (p->o->pid_file == NULL)
        return;
    fd = open(p->o->pid_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n > 0) {
        buf[n] = '\0';
        if (atoi(buf) == (int)p->self)
            unlink(p->o->pid_file);
    }
}

static void pool_write_swap_result(const struct pool *p, int ok, const char *error)
{
    cJSON *doc, *tokens;
    char *text;

    if (p->o->swap_file == NULL)
        return;
    doc = cJSON_CreateObject();
    cJSON_AddBoolToObject(doc, "ok", ok);
    cJSON_AddNumberToObject(doc, "generation", p->swap.gen);
    cJSON_AddNumberToObject(doc, "pool_generation", p->gen);
    cJSON_AddNumberToObject(doc, "replaced", p->swap.replaced);
    cJSON_AddNumberToObject(doc, "duration_ms", (double)(pool_now_ms() - p->swap.started_ms));
    cJSON_AddNumberToObject(doc, "started_unix_us", (double)p->swap.started_unix_us);
    if (error != NULL)
        cJSON_AddStringToObject(doc, "error", error);
    else
        cJSON_AddNullToObject(doc, "error");
    tokens = cJSON_AddArrayToObject(doc, "tokens");
    for (int i = 0; i < p->swap.n_tokens; i++)
        cJSON_AddItemToArray(tokens, cJSON_CreateNumber(p->swap.tokens[i]));
    text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (text != NULL) {
        size_t n = strlen(text);
        char *line = malloc(n + 2);

        if (line != NULL) {
            memcpy(line, text, n);
            memcpy(line + n, "\n", 2);
            pool_write_file(p->o->swap_file, line);
            free(line);
        }
        free(text);
    }
}

/* ------------------------------------------------------------ spawning */

static void pool_inherit(int fd)
{
    int flags = fcntl(fd, F_GETFD);

    if (flags >= 0)
        fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
}

/* In the child between fork and exec: keep fds[0..n) (the others stay close-on-exec)
 * and run argv from exe_fd. */
__attribute__((noreturn))
static void pool_exec_child(const struct pool *p, int exe_fd, char *const argv[],
                            const int *fds, size_t n)
{
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* A worker outliving its master would keep serving with nobody to supervise it. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != p->self)
        _exit(1);
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            pool_inherit(fds[i]);
    /* The program descriptor stays open across exec: a #! script is run by its
     * interpreter through /dev/fd/N, which a close-on-exec descriptor no longer names by
     * then (so do tools that re-exec, such as valgrind).  The worker merely inherits a
     * reference to its own program. */
    pool_inherit(exe_fd);
    fexecve(exe_fd, argv, environ);
    log_error("worker exec failed", LOG_S("exe", p->o->exe), LOG_S("error", strerror(errno)));
    _exit(127);
}

/* A worker's command line (pool.h). */
__attribute__((noreturn))
static void pool_child(const struct pool *p, unsigned slot, int exe_fd, int conf_fd,
                       int ready_w)
{
    char a[5][16];
    char *argv[] = { (char *)p->o->exe, POOL_WORKER_FLAG, a[0], a[1], a[2], a[3], a[4], NULL };
    const int fds[] = { p->listen_fd, p->sb_fd, ready_w, conf_fd };

    snprintf(a[0], sizeof(a[0]), "%u", slot);
    snprintf(a[1], sizeof(a[1]), "%d", p->listen_fd);
    snprintf(a[2], sizeof(a[2]), "%d", p->sb_fd);
    snprintf(a[3], sizeof(a[3]), "%d", ready_w);
    snprintf(a[4], sizeof(a[4]), "%d", conf_fd);
    pool_exec_child(p, exe_fd, argv, fds, sizeof(fds) / sizeof(fds[0]));
}

/* ------------------------------------------------------------ the status lane */

static void pool_swap_fail(struct pool *p, const char *why);

/* One process outside the slots on a socket of its own (opts.lane_fd), for /health and
 * /status: php-fpm's pm.status_listen.  It runs the accepted program, restarts when it
 * ends (a second apart at most once it dies young), and is replaced after each swap. */
/* Fork a lane running exe_fd with configuration conf_fd.  Its pid, or 0 (logged). */
static pid_t pool_lane_spawn(struct pool *p, int exe_fd, int conf_fd, unsigned gen)
{
    char a[4][16];
    char *argv[] = { (char *)p->o->exe, POOL_LANE_FLAG, a[0], a[1], a[2], a[3], NULL };
    const int fds[] = { p->o->lane_fd, p->listen_fd, p->sb_fd, conf_fd };
    pid_t pid;

    snprintf(a[0], sizeof(a[0]), "%d", p->o->lane_fd);
    snprintf(a[1], sizeof(a[1]), "%d", p->listen_fd);
    snprintf(a[2], sizeof(a[2]), "%d", p->sb_fd);
    snprintf(a[3], sizeof(a[3]), "%d", conf_fd);
    pid = fork();
    if (pid < 0) {
        log_error("fork failed", LOG_S("error", strerror(errno)));
        return 0;
    }
    if (pid == 0)
        pool_exec_child(p, exe_fd, argv, fds, sizeof(fds) / sizeof(fds[0]));
    log_info("status lane started", LOG_I("worker_pid", pid), LOG_I("generation", gen));
    return pid;
}

static void pool_lane_start(struct pool *p, long long now)
{
    if (p->o->lane_fd <= 0 || p->lane_pid != 0 || p->stopping || now < p->lane_next_start)
        return;
    p->lane_pid = pool_lane_spawn(p, p->exe_fd, p->conf_fd, p->gen);
    if (p->lane_pid == 0) {
        p->lane_next_start = now + POOL_QUICK_DEATH_MS;
        return;
    }
    p->lane_gen = p->gen;
    p->lane_started_ms = now;
}

/* After a swap: the lane gets the new program too.  The old one finishes what it has;
 * connections arriving meanwhile wait in the socket's queue for the new one. */
static void pool_lane_replace(struct pool *p)
{
    if (p->lane_pid == 0 || p->lane_gen == p->gen)
        return;
    kill(p->lane_pid, SIGTERM);
    p->lane_old = p->lane_pid;
    p->lane_pid = 0;
    p->lane_next_start = 0;
}

/* 1 when pid was the lane (or an old one): handled. */
static int pool_lane_reaped(struct pool *p, pid_t pid, int status, long long now)
{
    char how[64];

    if (pid == 0 || (pid != p->lane_pid && pid != p->lane_old && pid != p->lane_new))
        return 0;
    if (WIFSIGNALED(status))
        snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(status));
    else
        snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
    if (pid == p->lane_new) {
        char why[SCOREBOARD_ERROR_MAX];

        p->lane_new = 0;
        if (p->swap.active && !p->swap.adopted && !p->stopping) {
            snprintf(why, sizeof(why), "new status lane %s during the swap's probation", how);
            pool_swap_fail(p, why);
        }
        return 1;
    }
    if (pid == p->lane_old) {
        p->lane_old = 0;
        log_info("status lane replaced", LOG_I("worker_pid", pid), LOG_S("how", how));
        return 1;
    }
    p->lane_pid = 0;
    if (p->stopping) {
        log_info("status lane stopped", LOG_I("worker_pid", pid), LOG_S("how", how));
    } else {
        log_warn("status lane ended; restarting it", LOG_I("worker_pid", pid),
                 LOG_S("how", how), LOG_I("lived_ms", now - p->lane_started_ms));
        if (now - p->lane_started_ms < POOL_QUICK_DEATH_MS)
            p->lane_next_start = now + POOL_QUICK_DEATH_MS;
    }
    return 1;
}

/* Start one worker from exe_fd with configuration conf_fd.  Returns the slot, or -1
 * (no free slot, or pipe/fork failed: logged). */
static int pool_spawn(struct pool *p, int exe_fd, int conf_fd, unsigned gen, int swap_step)
{
    long long now = pool_now_ms();
    unsigned i;
    int rp[2];
    pid_t pid;

    for (i = 0; i < p->n_slots && p->slots[i].pid != 0; i++)
        ;
    if (i == p->n_slots)
        return -1;
    if (pipe2(rp, O_CLOEXEC) < 0) {
        log_error("pipe failed", LOG_S("error", strerror(errno)));
        return -1;
    }
    scoreboard_slot_t *ss = &p->sb->slots[i];

    atomic_store(&ss->requests, 0);
    atomic_store(&ss->busy_since_ms, 0);
    atomic_store(&ss->idle_since_ms, 0);
    atomic_store(&ss->started_ms, now);
    atomic_store(&ss->generation, gen);
    atomic_store(&ss->state, SB_STARTING);
    ss->request[0] = '\0';
    pid = fork();
    if (pid < 0) {
        log_error("fork failed", LOG_S("error", strerror(errno)));
        atomic_store(&ss->state, SB_EMPTY);
        close(rp[0]);
        close(rp[1]);
        return -1;
    }
    if (pid == 0) {
        close(rp[0]);
        pool_child(p, i, exe_fd, conf_fd, rp[1]);
    }
    close(rp[1]);
    atomic_store(&ss->pid, pid);
    p->slots[i] = (struct pool_slot){
        .pid = pid, .ready_fd = rp[0], .gen = gen, .swap_step = swap_step, .end = END_NONE,
        .spawned_ms = now, .ready_deadline = now + (long long)p->o->start_timeout * 1000,
    };
    log_info("worker started", LOG_I("slot", i), LOG_I("worker_pid", pid),
             LOG_I("generation", gen));
    return (int)i;
}

/* Respawns and growth, subject to the crash backoff.  During a crash burst only one
 * worker starts per hold period. */
static int pool_spawn_gated(struct pool *p, long long now)
{
    if (now < p->hold_until)
        return -1;
    if (pool_spawn(p, p->exe_fd, p->conf_fd, p->gen, 0) < 0) {
        p->hold_until = now + POOL_BACKOFF_MIN_MS;
        return -1;
    }
    if (p->burst)
        p->hold_until = now + p->hold_ms;
    return 0;
}

static void pool_census(const struct pool *p, struct pool_census *c)
{
    memset(c, 0, sizeof(*c));
    for (unsigned i = 0; i < p->n_slots; i++) {
        const struct pool_slot *s = &p->slots[i];

        if (s->pid == 0 || s->end != END_NONE)
            continue;
        c->live++;
        if (!s->ready)
            c->starting++;
        else if (atomic_load(&p->sb->slots[i].state) == SB_IDLE)
            c->idle++;
    }
}

/* Ask a worker to finish the request in hand and exit. */
static void pool_stop_worker(struct pool *p, unsigned i, const char *why)
{
    struct pool_slot *s = &p->slots[i];

    kill(s->pid, SIGTERM);
    s->end = END_STOP;
    atomic_store(&p->sb->slots[i].state, SB_STOPPING);
    log_info("stopping worker", LOG_I("slot", i), LOG_I("worker_pid", s->pid),
             LOG_S("reason", why));
}

static void pool_kill_worker(struct pool *p, unsigned i, enum pool_end end)
{
    kill(p->slots[i].pid, SIGKILL);
    p->slots[i].end = end;
    atomic_store(&p->sb->slots[i].state, SB_STOPPING);
}

/* ------------------------------------------------------------ crashes */

/* A worker died unexpectedly after `lived` ms: back off, and detect a crash burst.  In
 * a burst the hold doubles only when a worker started during the burst dies too, so one
 * event that takes every worker down at once does not push the hold to its cap. */
static void pool_crashed(struct pool *p, long long now, long long lived)
{
    long long backoff = 0;
    int in_window;

    atomic_fetch_add(&p->sb->crashes, 1);
    p->crash_ring[p->crash_next] = now;
    p->crash_next = (p->crash_next + 1) % POOL_BURST_CRASHES;
    /* The ring holds the last POOL_BURST_CRASHES crashes: a burst when the oldest of them
     * is recent (a zero entry is a crash that never happened). */
    in_window = p->crash_ring[p->crash_next] != 0 &&
                now - p->crash_ring[p->crash_next] < POOL_BURST_WINDOW_MS;
    if (lived < POOL_QUICK_DEATH_MS) {
        p->quick_streak++;
        backoff = POOL_BACKOFF_MIN_MS;
        for (int k = 1; k < p->quick_streak && backoff < POOL_BACKOFF_MAX_MS; k++)
            backoff *= 2;
        if (backoff > POOL_BACKOFF_MAX_MS)
            backoff = POOL_BACKOFF_MAX_MS;
    } else {
        p->quick_streak = 0;
    }
    if (in_window) {
        if (!p->burst) {
            p->burst = 1;
            p->burst_crashes = 0;
            p->burst_since = now;
            p->hold_ms = POOL_BURST_HOLD_MIN_MS;
            atomic_store(&p->sb->crash_burst, 1);
            log_error("crash burst: workers keep crashing; holding respawns",
                      LOG_I("crashes", POOL_BURST_CRASHES),
                      LOG_I("within_s", POOL_BURST_WINDOW_MS / 1000),
                      LOG_I("hold_ms", p->hold_ms),
                      LOG_I("hold_max_ms", POOL_BURST_HOLD_MAX_MS));
        } else if (now - lived > p->burst_since && p->hold_ms < POOL_BURST_HOLD_MAX_MS) {
            p->hold_ms *= 2;
            if (p->hold_ms > POOL_BURST_HOLD_MAX_MS)
                p->hold_ms = POOL_BURST_HOLD_MAX_MS;
        }
        if (backoff < p->hold_ms)
            backoff = p->hold_ms;
    }
    if (p->burst)
        p->burst_crashes++;
    p->last_crash_ms = now;
    if (p->hold_until < now + backoff)
        p->hold_until = now + backoff;
}

static void pool_burst_check(struct pool *p, long long now)
{
    if (!p->burst || now - p->last_crash_ms < POOL_BURST_WINDOW_MS)
        return;
    log_warn("crash burst over: respawning normally again",
             LOG_I("crashes", (long long)p->burst_crashes),
             LOG_I("quiet_s", POOL_BURST_WINDOW_MS / 1000));
    p->burst = 0;
    p->hold_ms = 0;
    p->hold_until = 0;
    atomic_store(&p->sb->crash_burst, 0);
}

/* ------------------------------------------------------------ hot swap */

static void pool_swap_tokens_take(struct pool *p)
{
    memcpy(p->swap.tokens, p->pending_tokens, sizeof(p->swap.tokens));
    p->swap.n_tokens = p->n_pending_tokens;
    p->n_pending_tokens = 0;
}

static void pool_swap_end_fds(struct pool *p)
{
    pool_close(&p->swap.exe_fd);
    pool_close(&p->swap.conf_fd);
}

/* The swap cannot go on: drop what its step started and report. */
static void pool_swap_fail(struct pool *p, const char *why)
{
    int kept = 0, old = 0;

    for (unsigned i = 0; i < p->n_slots; i++) {
        struct pool_slot *s = &p->slots[i];

        if (s->pid == 0 || !s->swap_step)
            continue;
        s->swap_step = 0;
        if (s->end != END_NONE)
            continue;
        if (!s->ready)
            pool_kill_worker(p, i, END_ABORT);
        else if (!p->swap.adopted)
            pool_stop_worker(p, i, "hot swap failed");
    }
    for (unsigned i = 0; i < p->n_slots; i++) {
        if (p->slots[i].pid == 0 || p->slots[i].end != END_NONE)
            continue;
        if (p->slots[i].gen >= p->swap.gen)
            kept++;
        else
            old++;
    }
    if (p->lane_new != 0)
        kill(p->lane_new, SIGKILL);     /* reaped later, as a candidate nobody waits for */
    atomic_fetch_add(&p->sb->swap_failures, 1);
    scoreboard_set_text(p->sb->last_swap_error, sizeof(p->sb->last_swap_error), why);
    if (!p->swap.adopted)
        log_error("hot swap failed; the old workers keep serving", LOG_S("error", why),
                  LOG_I("generation", p->swap.gen), LOG_S("exe", p->o->exe));
    else
        log_error("hot swap stopped part way", LOG_S("error", why),
                  LOG_I("generation", p->swap.gen), LOG_I("new_workers", kept),
                  LOG_I("old_workers", old));
    pool_write_swap_result(p, 0, why);
    pool_swap_end_fds(p);
    p->swap.active = 0;
}

static void pool_swap_begin(struct pool *p)
{
    char err[SCOREBOARD_ERROR_MAX - 64], why[SCOREBOARD_ERROR_MAX];
    struct pool_census c;

    p->swap_pending = 0;
    memset(&p->swap, 0, sizeof(p->swap));
    p->swap.exe_fd = p->swap.conf_fd = -1;
    p->swap.active = 1;
    /* A refused swap leaves no worker of its generation behind, so the next one may
     * reuse the number: generations count accepted swaps. */
    p->swap.gen = p->gen + 1;
    p->swap.started_ms = pool_now_ms();
    p->swap.started_unix_us = pool_unix_us();
    pool_swap_tokens_take(p);
    pool_census(p, &c);
    p->swap.group = pool_swap_group(c.live);
    log_info("hot swap started", LOG_I("generation", p->swap.gen), LOG_I("workers", c.live),
             LOG_I("group", p->swap.group), LOG_S("exe", p->o->exe));
    p->swap.exe_fd = open(p->o->exe, O_PATH | O_CLOEXEC);
    if (p->swap.exe_fd < 0) {
        snprintf(why, sizeof(why), "open %s: %s", p->o->exe, strerror(errno));
        pool_swap_fail(p, why);
        return;
    }
    if (pool_snapshot(p->o, &p->swap.conf_fd, err, sizeof(err)) < 0) {
        snprintf(why, sizeof(why), "configuration: %s", err);
        pool_swap_fail(p, why);
    }
}

/* The first step's workers are ready: their program and configuration become the
 * pool's, for respawns too. */
static void pool_swap_adopt(struct pool *p)
{
    pool_close(&p->exe_fd);
    pool_close(&p->conf_fd);
    p->exe_fd = p->swap.exe_fd;
    p->conf_fd = p->swap.conf_fd;
    p->swap.exe_fd = p->swap.conf_fd = -1;
    p->swap.adopted = 1;
    p->gen = p->swap.gen;
    atomic_store(&p->sb->generation, p->gen);
    if (p->lane_new != 0) {
        /* The candidate lane lived through the probation: it is the lane now. */
        if (p->lane_pid != 0)
            kill(p->lane_pid, SIGTERM);
        p->lane_old = p->lane_pid;
        p->lane_pid = p->lane_new;
        p->lane_new = 0;
        p->lane_gen = p->gen;
        p->lane_started_ms = pool_now_ms();
    }
    log_info("hot swap: new workers ready; replacing the old ones",
             LOG_I("generation", p->gen));
    /* Crashes of the old program say nothing of the new one: respawns from now on are
     * not held (a fixed build swapped in during a crash burst brings the pool back at
     * once). */
    if (p->burst)
        log_warn("crash burst over: a new program was swapped in",
                 LOG_I("crashes", (long long)p->burst_crashes));
    memset(p->crash_ring, 0, sizeof(p->crash_ring));
    p->quick_streak = 0;
    p->burst = 0;
    p->hold_ms = 0;
    p->hold_until = 0;
    atomic_store(&p->sb->crash_burst, 0);
}

/* Stop up to n workers of older generations: starting ones first (they serve nobody
 * yet), then idle ones, then busy ones (they finish their request). */
static int pool_swap_retire_old(struct pool *p, int n)
{
    static const int order[] = { SB_STARTING, SB_IDLE, -1 };
    int stopped = 0;

    for (size_t pass = 0; pass < sizeof(order) / sizeof(order[0]) && stopped < n; pass++) {
        for (unsigned i = 0; i < p->n_slots && stopped < n; i++) {
            struct pool_slot *s = &p->slots[i];
            int st = atomic_load(&p->sb->slots[i].state);

            if (s->pid == 0 || s->end != END_NONE || s->gen >= p->swap.gen)
                continue;
            if (order[pass] == SB_STARTING ? s->ready
                : order[pass] == SB_IDLE ? (!s->ready || st != SB_IDLE) : 0)
                continue;
            pool_stop_worker(p, i, "replaced by hot swap");
            stopped++;
        }
    }
    return stopped;
}

static void pool_swap_step(struct pool *p)
{
    int old = 0, free_slots = 0, k;

    if (!p->swap.active)
        return;
    if (p->swap.step_started > 0) {
        if (p->swap.step_waiting > 0)
            return;
        if (!p->swap.adopted) {
            /* Ready is not enough: a program that exits or crashes just after would
             * otherwise replace every worker and leave no way back.  The first new
             * workers (which take requests meanwhile) must still be alive a moment
             * later; pool_reaped fails the swap if one dies first. */
            long long now = pool_now_ms();

            if (p->swap.probation_end == 0) {
                p->swap.probation_end = now + POOL_SWAP_PROBATION_MS;
                /* The status lane runs the program too: a candidate lane shares the
                 * probation, or a program whose lane cannot start would be accepted
                 * and /health would go unanswered. */
                if (p->o->lane_fd > 0)
                    p->lane_new = pool_lane_spawn(p, p->swap.exe_fd, p->swap.conf_fd,
                                                  p->swap.gen);
            }
            if (now < p->swap.probation_end)
                return;
            pool_swap_adopt(p);
        }
        p->swap.replaced += pool_swap_retire_old(p, p->swap.step_started);
        for (unsigned i = 0; i < p->n_slots; i++)
            p->slots[i].swap_step = 0;
        p->swap.step_started = 0;
    }
    for (unsigned i = 0; i < p->n_slots; i++) {
        const struct pool_slot *s = &p->slots[i];

        free_slots += s->pid == 0;
        old += s->pid != 0 && s->end == END_NONE && s->gen < p->swap.gen;
    }
    if (old == 0 && p->swap.adopted) {
        atomic_fetch_add(&p->sb->swaps, 1);
        log_info("hot swap complete", LOG_I("generation", p->gen),
                 LOG_I("replaced", p->swap.replaced),
                 LOG_I("duration_ms", pool_now_ms() - p->swap.started_ms));
        pool_write_swap_result(p, 1, NULL);
        pool_swap_end_fds(p);
        p->swap.active = 0;
        pool_lane_replace(p);
        return;
    }
    /* The first step also runs with no worker to replace (ondemand at rest): the new
     * program must prove it starts before it is accepted. */
    k = old < p->swap.group ? old : p->swap.group;
    if (k == 0)
        k = 1;
    if (k > free_slots)
        k = free_slots;     /* old workers still finishing hold slots: start fewer */
    for (int j = 0; j < k; j++) {
        int fd_exe = p->swap.adopted ? p->exe_fd : p->swap.exe_fd;
        int fd_conf = p->swap.adopted ? p->conf_fd : p->swap.conf_fd;

        if (pool_spawn(p, fd_exe, fd_conf, p->swap.gen, 1) < 0)
            break;
        p->swap.step_started++;
        p->swap.step_waiting++;
    }
}

/* ------------------------------------------------------------ sizing */

static void pool_maintain(struct pool *p, long long now)
{
    const pool_opts_t *o = p->o;
    struct pool_census c;

    pool_census(p, &c);
    switch (o->mode) {
    case POOL_STATIC:
        while (c.live < o->max_children && pool_spawn_gated(p, now) == 0)
            c.live++;
        break;
    case POOL_DYNAMIC:
        if (c.idle + c.starting < o->min_spare && c.live < o->max_children) {
            int want = o->min_spare - c.idle - c.starting;

            if (want > o->max_children - c.live)
                want = o->max_children - c.live;
            while (want-- > 0 && pool_spawn_gated(p, now) == 0)
                ;
        } else if (c.idle > o->max_spare && !p->swap.active && now >= p->next_reduce) {
            long long oldest = LLONG_MAX;
            int pick = -1;

            for (unsigned i = 0; i < p->n_slots; i++) {
                long long since = atomic_load(&p->sb->slots[i].idle_since_ms);

                if (p->slots[i].pid != 0 && p->slots[i].end == END_NONE && p->slots[i].ready &&
                    atomic_load(&p->sb->slots[i].state) == SB_IDLE && since < oldest) {
                    oldest = since;
                    pick = (int)i;
                }
            }
            if (pick >= 0)
                pool_stop_worker(p, (unsigned)pick, "more idle workers than MCPGW_PM_MAX_SPARE");
            p->next_reduce = now + POOL_REDUCE_EVERY_MS;
        }
        break;
    case POOL_ONDEMAND:
        if (p->ondemand_wanted && c.idle == 0 && c.starting == 0 && c.live < o->max_children)
            pool_spawn_gated(p, now);
        if (p->swap.active)
            break;
        for (unsigned i = 0; i < p->n_slots; i++) {
            const struct pool_slot *s = &p->slots[i];

            if (s->pid != 0 && s->end == END_NONE && s->ready &&
                atomic_load(&p->sb->slots[i].state) == SB_IDLE &&
                now - atomic_load(&p->sb->slots[i].idle_since_ms) >=
                    (long long)o->idle_timeout * 1000)
                pool_stop_worker(p, i, "idle longer than MCPGW_PM_IDLE_TIMEOUT");
        }
        break;
    default:
        break;
    }
    p->ondemand_wanted = 0;
}

/* Workers that did not report ready in time, and requests that ran too long. */
static void pool_check_deadlines(struct pool *p, long long now)
{
    long long limit = (long long)p->o->request_timeout * 1000;

    for (unsigned i = 0; i < p->n_slots; i++) {
        struct pool_slot *s = &p->slots[i];
        long long busy;

        /* A worker asked to stop (by a swap, a scale-down) finishes its request in
         * hand, within the same limit as any other. */
        if (s->pid == 0 || (s->end != END_NONE && s->end != END_STOP))
            continue;
        if (!s->ready) {
            if (s->end == END_NONE && now >= s->ready_deadline) {
                log_error("worker not ready in time; killing it", LOG_I("slot", i),
                          LOG_I("worker_pid", s->pid),
                          LOG_I("start_timeout_s", p->o->start_timeout));
                pool_kill_worker(p, i, END_NOSTART);
            }
            continue;
        }
        busy = atomic_load(&p->sb->slots[i].busy_since_ms);
        if (limit > 0 && busy != 0 && now - busy > limit) {
            char request[SCOREBOARD_REQUEST_MAX];

            scoreboard_set_text(request, sizeof(request), p->sb->slots[i].request);
            pool_kill_worker(p, i, END_TIMEOUT);
            atomic_fetch_add(&p->sb->timeouts, 1);
            log_warn("request timeout: worker killed", LOG_I("slot", i),
                     LOG_I("worker_pid", s->pid), LOG_S("request", request),
                     LOG_I("busy_ms", now - busy),
                     LOG_I("request_timeout_s", p->o->request_timeout));
        }
    }
}

/* ------------------------------------------------------------ reaping */

static void pool_describe_exit(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

static void pool_reaped(struct pool *p, unsigned i, int status, long long now)
{
    struct pool_slot *s = &p->slots[i];
    scoreboard_slot_t *ss = &p->sb->slots[i];
    long long lived = now - s->spawned_ms;
    char how[64], why[SCOREBOARD_ERROR_MAX];
    pid_t pid = s->pid;

    pool_describe_exit(status, how, sizeof(how));
    /* A worker that became ready and exited at once (its only request served) may be
     * reaped before its ready byte was read: read it now, the writer is gone. */
    if (s->ready_fd >= 0 && !s->ready && s->end == END_NONE) {
        char b;

        if (read(s->ready_fd, &b, 1) == 1) {
            s->ready = 1;
            if (s->swap_step && p->swap.step_waiting > 0)
                p->swap.step_waiting--;
        }
    }
    if (atomic_load(&ss->busy_since_ms) != 0)
        atomic_store(&p->sb->reached, 0);
    atomic_store(&ss->pid, 0);
    atomic_store(&ss->busy_since_ms, 0);
    atomic_store(&ss->state, SB_EMPTY);
    if (p->stopping) {
        log_info("worker stopped", LOG_I("worker_pid", pid), LOG_S("how", how));
    } else if (s->swap_step && p->swap.active && !p->swap.adopted &&
               (!s->ready || s->end == END_NONE)) {
        if (s->end == END_NOSTART)
            snprintf(why, sizeof(why), "new worker not ready within %d s",
                     p->o->start_timeout);
        else if (!s->ready)
            snprintf(why, sizeof(why), "new worker %s before it was ready", how);
        else
            snprintf(why, sizeof(why), "new worker %s after it was ready, %lld ms after "
                     "its start (a swap waits %d ms before it accepts a program)", how,
                     lived, POOL_SWAP_PROBATION_MS);
        pool_close(&s->ready_fd);
        memset(s, 0, sizeof(*s));
        s->ready_fd = -1;
        if (p->swap.step_waiting > 0)
            p->swap.step_waiting--;
        pool_swap_fail(p, why);
        return;
    } else {
        switch (s->end) {
        case END_STOP:
        case END_ABORT:
            log_info("worker stopped", LOG_I("slot", i), LOG_I("worker_pid", pid),
                     LOG_S("how", how));
            break;
        case END_TIMEOUT:
            atomic_fetch_add(&p->sb->restarts, 1);
            break;
        case END_NOSTART:
            atomic_fetch_add(&p->sb->restarts, 1);
            pool_crashed(p, now, 0);
            break;
        case END_NONE:
        default:
            atomic_fetch_add(&p->sb->restarts, 1);
            if (!s->ready) {
                log_error("worker failed to start", LOG_I("slot", i), LOG_I("worker_pid", pid),
                          LOG_S("how", how));
                pool_crashed(p, now, 0);
            } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
                       p->o->max_requests > 0 &&
                       (long long)atomic_load(&ss->requests) >= p->o->max_requests) {
                atomic_fetch_add(&p->sb->retired, 1);
                log_info("worker retired", LOG_I("slot", i), LOG_I("worker_pid", pid),
                         LOG_I("requests", (long long)atomic_load(&ss->requests)));
            } else {
                /* Exit 0 before MCPGW_MAX_REQUESTS (or without one) is not a retirement:
                 * nobody asked it to go.  Counted as a crash, so a program that exits at
                 * once cannot respawn in a loop. */
                log_warn("worker crashed; respawning", LOG_I("slot", i),
                         LOG_I("worker_pid", pid), LOG_S("how", how),
                         LOG_I("lived_ms", lived));
                pool_crashed(p, now, lived);
            }
            break;
        }
    }
    if (s->swap_step && !s->ready && p->swap.step_waiting > 0)
        p->swap.step_waiting--;
    pool_close(&s->ready_fd);
    memset(s, 0, sizeof(*s));
    s->ready_fd = -1;
}

static void pool_reap(struct pool *p)
{
    for (;;) {
        int status;
        unsigned i;
        pid_t pid = waitpid(-1, &status, WNOHANG);

        if (pid <= 0)
            return;
        if (pool_lane_reaped(p, pid, status, pool_now_ms()))
            continue;
        for (i = 0; i < p->n_slots && p->slots[i].pid != pid; i++)
            ;
        if (i < p->n_slots)
            pool_reaped(p, i, status, pool_now_ms());
    }
}

/* One byte on a worker's ready pipe: it serves from now on.  End of file: it died
 * first (the reap that follows says how). */
static void pool_ready_event(struct pool *p, unsigned i)
{
    struct pool_slot *s = &p->slots[i];
    char b;
    ssize_t n = read(s->ready_fd, &b, 1);

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    pool_close(&s->ready_fd);
    if (n != 1 || s->end != END_NONE)
        return;
    s->ready = 1;
    log_debug("worker ready", LOG_I("slot", i), LOG_I("worker_pid", s->pid),
              LOG_I("start_ms", pool_now_ms() - s->spawned_ms));
    if (s->swap_step && p->swap.step_waiting > 0)
        p->swap.step_waiting--;
}

/* ------------------------------------------------------------ signals and stop */

static void pool_signal_all(struct pool *p, int sig)
{
    for (unsigned i = 0; i < p->n_slots; i++)
        if (p->slots[i].pid > 0)
            kill(p->slots[i].pid, sig);
    if (p->lane_pid > 0)
        kill(p->lane_pid, sig);
    if (p->lane_old > 0)
        kill(p->lane_old, sig);
    if (p->lane_new > 0)
        kill(p->lane_new, sig);
}

static int pool_live_pids(const struct pool *p)
{
    int n = (p->lane_pid > 0) + (p->lane_old > 0) + (p->lane_new > 0);

    for (unsigned i = 0; i < p->n_slots; i++)
        n += p->slots[i].pid > 0;
    return n;
}

static void pool_begin_stop(struct pool *p, int sig)
{
    if (p->stopping)
        return;
    p->stopping = 1;
    p->stop_deadline = pool_now_ms() + (long long)p->o->stop_timeout * 1000;
    if (p->swap.active) {
        pool_write_swap_result(p, 0, "the pool is stopping");
        pool_swap_end_fds(p);
        p->swap.active = 0;
    }
    log_info("stopping gracefully", LOG_I("signal", sig), LOG_I("workers", pool_live_pids(p)),
             LOG_I("timeout_s", p->o->stop_timeout));
    for (unsigned i = 0; i < p->n_slots; i++)
        if (p->slots[i].pid > 0)
            atomic_store(&p->sb->slots[i].state, SB_STOPPING);
    pool_signal_all(p, SIGTERM);
}

static void pool_hup(struct pool *p, const struct signalfd_siginfo *si)
{
    if (si->ssi_code == SI_QUEUE && si->ssi_int > 0 &&
        p->n_pending_tokens < POOL_TOKENS_MAX)
        p->pending_tokens[p->n_pending_tokens++] = (unsigned)si->ssi_int;
    if (p->stopping) {
        log_warn("SIGHUP ignored: the pool is stopping", LOG_I("signal", SIGHUP));
        return;
    }
    if (p->swap.active)
        log_info("SIGHUP during a hot swap: another one follows it",
                 LOG_I("generation", p->swap.gen));
    p->swap_pending = 1;
}

static void pool_signals(struct pool *p)
{
    struct signalfd_siginfo si;

    while (read(p->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            pool_reap(p);
            break;
        case SIGTERM:
        case SIGINT:
        case SIGQUIT:
            pool_begin_stop(p, (int)si.ssi_signo);
            break;
        case SIGHUP:
            pool_hup(p, &si);
            break;
        default:
            log_info("signal ignored", LOG_I("signal", si.ssi_signo));
            break;
        }
    }
}

/* ------------------------------------------------------------ main loop */

static void pool_sample_queue(struct pool *p, long long now)
{
    long long len, cap;
    char err[128];

    if (now < p->next_sample)
        return;
    p->next_sample = now + POOL_SAMPLE_EVERY_MS;
    if (sockq_length(p->listen_fd, &len, &cap, err, sizeof(err)) == 0 &&
        len > atomic_load(&p->sb->max_listen_queue))
        atomic_store(&p->sb->max_listen_queue, len);
}

/* How long poll may sleep: until the next deadline, at most POOL_TICK_MS. */
static int pool_wait_ms(const struct pool *p, long long now)
{
    long long wait = POOL_TICK_MS, limit = (long long)p->o->request_timeout * 1000;

#define POOL_UNTIL(t) do { if ((t) - now < wait) wait = (t) - now; } while (0)
    if (p->stopping) {
        POOL_UNTIL(p->stop_deadline);
    } else {
        if (p->hold_until > now)
            POOL_UNTIL(p->hold_until);
        if (p->swap_pending && !p->swap.active)
            wait = 0;
        if (p->swap.active && p->swap.probation_end > now)
            POOL_UNTIL(p->swap.probation_end);
        if (p->o->lane_fd > 0 && p->lane_pid == 0)
            POOL_UNTIL(p->lane_next_start);
        for (unsigned i = 0; i < p->n_slots; i++) {
            const struct pool_slot *s = &p->slots[i];
            long long busy;

            if (s->pid == 0 || (s->end != END_NONE && s->end != END_STOP))
                continue;
            if (!s->ready) {
                if (s->end == END_NONE)
                    POOL_UNTIL(s->ready_deadline);
                continue;
            }
            busy = atomic_load(&p->sb->slots[i].busy_since_ms);
            if (limit > 0 && busy != 0)
                POOL_UNTIL(busy + limit + 1);
        }
        if (p->o->mode != POOL_STATIC && p->listen_quiet_until > now)
            POOL_UNTIL(p->listen_quiet_until);
    }
#undef POOL_UNTIL
    return wait < 0 ? 0 : (int)wait;
}

/* Poll the signalfd, the ready pipes and (ondemand, when another worker may start) the
 * listening socket. */
static void pool_poll(struct pool *p, long long now)
{
    struct pool_census c;
    nfds_t n = 0;
    int rc, listen_at = -1;

    p->pfd[n] = (struct pollfd){ .fd = p->sig_fd, .events = POLLIN };
    p->pfd_slot[n++] = -1;
    pool_census(p, &c);
    /* A worker taking a request does not wake the master.  A waiting connection does:
     * ondemand starts a worker for it, dynamic tops up its spares at once instead of at
     * the next tick.  Not needed when no worker may start anyway. */
    if (!p->stopping && p->o->mode != POOL_STATIC && c.starting == 0 &&
        c.live < p->o->max_children && now >= p->listen_quiet_until && now >= p->hold_until) {
        listen_at = (int)n;
        p->pfd[n] = (struct pollfd){ .fd = p->listen_fd, .events = POLLIN };
        p->pfd_slot[n++] = -1;
    }
    for (unsigned i = 0; i < p->n_slots; i++) {
        if (p->slots[i].pid != 0 && p->slots[i].ready_fd >= 0) {
            p->pfd[n] = (struct pollfd){ .fd = p->slots[i].ready_fd, .events = POLLIN };
            p->pfd_slot[n++] = (int)i;
        }
    }
    rc = poll(p->pfd, n, pool_wait_ms(p, now));
    if (rc <= 0)
        return;
    for (nfds_t k = 1; k < n; k++) {
        if (p->pfd[k].revents == 0)
            continue;
        if ((int)k == listen_at) {
            p->ondemand_wanted = 1;
            /* A connection stays queued until a worker takes it: do not spin on it. */
            p->listen_quiet_until = pool_now_ms() + POOL_LISTEN_QUIET_MS;
        } else if (p->pfd_slot[k] >= 0 && p->slots[p->pfd_slot[k]].ready_fd == p->pfd[k].fd) {
            pool_ready_event(p, (unsigned)p->pfd_slot[k]);
        }
    }
    if (p->pfd[0].revents != 0)
        pool_signals(p);
}

static int pool_setup(struct pool *p, const pool_opts_t *o, int listen_fd)
{
    char err[512];
    unsigned n = (unsigned)o->max_children * 2;
    sigset_t sigs;

    if (n > SCOREBOARD_SLOTS_MAX)
        n = SCOREBOARD_SLOTS_MAX;
    p->o = o;
    p->self = getpid();
    p->listen_fd = listen_fd;
    p->sb_fd = p->sig_fd = p->exe_fd = p->conf_fd = -1;
    p->swap.exe_fd = p->swap.conf_fd = -1;
    p->gen = 1;
    p->n_slots = n;
    p->slots = calloc(n, sizeof(*p->slots));
    p->pfd = calloc(n + 2, sizeof(*p->pfd));
    p->pfd_slot = calloc(n + 2, sizeof(*p->pfd_slot));
    if (p->slots == NULL || p->pfd == NULL || p->pfd_slot == NULL) {
        log_error("cannot start the pool", LOG_S("error", "out of memory"));
        return -1;
    }
    for (unsigned i = 0; i < n; i++)
        p->slots[i].ready_fd = -1;
    p->sb = scoreboard_create(n, (unsigned)o->max_children, o->mode_name, &p->sb_fd, err,
                              sizeof(err));
    if (p->sb == NULL) {
        log_error("cannot start the pool", LOG_S("error", err));
        return -1;
    }
    p->exe_fd = open(o->exe, O_PATH | O_CLOEXEC);
    if (p->exe_fd < 0) {
        log_error("cannot open the worker program", LOG_S("exe", o->exe),
                  LOG_S("error", strerror(errno)));
        return -1;
    }
    if (pool_snapshot(o, &p->conf_fd, err, sizeof(err)) < 0) {
        log_error("cannot start the pool", LOG_S("error", err));
        return -1;
    }
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGCHLD);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGQUIT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGUSR2);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    p->sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    if (p->sig_fd < 0) {
        log_error("cannot start the pool", LOG_S("error", strerror(errno)));
        return -1;
    }
    pool_write_pid(p);
    if (o->swap_file != NULL)
        unlink(o->swap_file);
    return 0;
}

static void pool_teardown(struct pool *p)
{
    for (unsigned i = 0; p->slots != NULL && i < p->n_slots; i++)
        pool_close(&p->slots[i].ready_fd);
    pool_swap_end_fds(p);
    pool_close(&p->exe_fd);
    pool_close(&p->conf_fd);
    pool_close(&p->sig_fd);
    pool_close(&p->sb_fd);
    scoreboard_detach(p->sb);
    if (p->self != 0)
        pool_remove_pid(p);
    free(p->slots);
    free(p->pfd);
    free(p->pfd_slot);
}

int pool_run(const pool_opts_t *o, int listen_fd)
{
    struct pool p;
    int rc = 0, initial;

    memset(&p, 0, sizeof(p));
    if (pool_setup(&p, o, listen_fd) < 0) {
        pool_teardown(&p);
        return 1;
    }
    log_info("pool started", LOG_S("mode", o->mode_name), LOG_I("max_children", o->max_children),
             LOG_S("exe", o->exe));
    initial = o->mode == POOL_STATIC ? o->max_children : o->mode == POOL_DYNAMIC ? o->start : 0;
    for (int i = 0; i < initial; i++)
        pool_spawn(&p, p.exe_fd, p.conf_fd, p.gen, 0);

    for (;;) {
        long long now;

        /* SIGCHLD (through the signalfd) is the usual news of a death; reaping on every
         * turn as well costs one waitpid and keeps the pool right where that news is
         * late or lost (under valgrind, say). */
        pool_reap(&p);
        now = pool_now_ms();
        if (!p.stopping) {
            pool_check_deadlines(&p, now);
            pool_burst_check(&p, now);
            if (p.swap_pending && !p.swap.active)
                pool_swap_begin(&p);
            pool_swap_step(&p);
            pool_maintain(&p, now);
            pool_lane_start(&p, now);
            pool_sample_queue(&p, now);
        } else if (pool_live_pids(&p) == 0) {
            break;
        } else if (now >= p.stop_deadline) {
            log_error("workers did not stop in time; killing them",
                      LOG_I("workers", pool_live_pids(&p)));
            pool_signal_all(&p, SIGKILL);
            while (pool_live_pids(&p) > 0) {
                int status;
                pid_t pid = waitpid(-1, &status, 0);

                if (pid < 0)
                    break;
                for (unsigned i = 0; i < p.n_slots; i++)
                    if (p.slots[i].pid == pid)
                        p.slots[i].pid = 0;
                if (p.lane_pid == pid)
                    p.lane_pid = 0;
                if (p.lane_old == pid)
                    p.lane_old = 0;
                if (p.lane_new == pid)
                    p.lane_new = 0;
            }
            rc = 1;
            break;
        }
        pool_poll(&p, now);
    }
    log_info("pool stopped", LOG_I("clean", rc == 0));
    pool_teardown(&p);
    return rc;
}

/* ------------------------------------------------------------ --reload */

static int pool_read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* 1 ok, 0 failed, -1 not (yet) the answer to the SIGHUP carrying token, sent at
 * sent_unix_us.  Its answer is the result that lists the token, or else the first swap
 * that started after it was sent: SIGHUPs coalesce (a second one pending is lost with
 * its value), but a swap that began after ours was sent read the disk as we left it. */
static int pool_swap_answer(const char *swap_file, unsigned token, long long sent_unix_us,
                            char *msg, size_t msglen)
{
    char buf[4096];
    cJSON *doc, *tokens, *t, *ok, *error, *gen, *started;
    int rc = -1, mine = 0;

    if (pool_read_small(swap_file, buf, sizeof(buf)) < 0)
        return -1;
    doc = cJSON_Parse(buf);
    tokens = cJSON_GetObjectItemCaseSensitive(doc, "tokens");
    started = cJSON_GetObjectItemCaseSensitive(doc, "started_unix_us");
    cJSON_ArrayForEach(t, tokens)
        mine |= cJSON_IsNumber(t) && (unsigned)t->valuedouble == token;
    mine |= cJSON_IsNumber(started) && started->valuedouble > (double)sent_unix_us;
    if (mine) {
        ok = cJSON_GetObjectItemCaseSensitive(doc, "ok");
        error = cJSON_GetObjectItemCaseSensitive(doc, "error");
        gen = cJSON_GetObjectItemCaseSensitive(doc, "pool_generation");
        rc = cJSON_IsTrue(ok);
        if (rc)
            snprintf(msg, msglen, "hot swap complete: workers now run generation %d",
                     cJSON_IsNumber(gen) ? gen->valueint : 0);
        else
            snprintf(msg, msglen, "hot swap failed: %s",
                     cJSON_IsString(error) ? error->valuestring : "unknown error");
    }
    cJSON_Delete(doc);
    return rc;
}

int pool_reload(const char *pid_file, const char *swap_file, int wait_s, char *msg,
                size_t msglen)
{
    char buf[32];
    char *end;
    long pid;
    unsigned token;
    union sigval v;
    long long deadline, sent_unix_us;
    struct timespec ts;

    if (pool_read_small(pid_file, buf, sizeof(buf)) < 0) {
        snprintf(msg, msglen, "%s: %s (is the pool running?)", pid_file, strerror(errno));
        return 2;
    }
    errno = 0;
    pid = strtol(buf, &end, 10);
    if (errno != 0 || end == buf || (*end != '\n' && *end != '\0') || pid <= 1 ||
        pid > INT_MAX) {
        snprintf(msg, msglen, "%s: no process id in it", pid_file);
        return 2;
    }
    if (kill((pid_t)pid, 0) < 0) {
        snprintf(msg, msglen, "pool %ld (from %s): %s", pid, pid_file, strerror(errno));
        return 2;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    token = ((unsigned)getpid() * 2654435761u ^ (unsigned)ts.tv_nsec) & 0x7fffffffu;
    if (token == 0)
        token = 1;
    v.sival_int = (int)token;
    sent_unix_us = pool_unix_us();
    if (sigqueue((pid_t)pid, SIGHUP, v) < 0) {
        snprintf(msg, msglen, "SIGHUP to pool %ld: %s", pid, strerror(errno));
        return 2;
    }
    if (wait_s <= 0) {
        snprintf(msg, msglen, "SIGHUP sent to pool %ld", pid);
        return 0;
    }
    deadline = pool_now_ms() + (long long)wait_s * 1000;
    while (pool_now_ms() < deadline) {
        int r = swap_file != NULL ? pool_swap_answer(swap_file, token, sent_unix_us, msg,
                                                     msglen) : -1;

        if (r >= 0)
            return r ? 0 : 1;
        if (kill((pid_t)pid, 0) < 0) {
            snprintf(msg, msglen, "pool %ld exited during the hot swap", pid);
            return 1;
        }
        usleep(100 * 1000);
    }
    snprintf(msg, msglen, "no hot swap result from pool %ld after %d s (see its log)", pid,
             wait_s);
    return 1;
}
