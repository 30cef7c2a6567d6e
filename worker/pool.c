/* SPDX-License-Identifier: MIT */
/* pool.c - prefork master: spawn, respawn with backoff, graceful stop. */
#include "pool.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define POOL_BACKOFF_MIN_MS   100
#define POOL_BACKOFF_MAX_MS   5000
#define POOL_QUICK_DEATH_MS   1000    /* a worker that dies sooner was not healthy */

struct pool_slot {
    pid_t pid;              /* 0: empty */
    long long started_ms;
    long long respawn_at;   /* when empty: earliest time to fork again */
    long backoff_ms;
};

struct pool {
    const pool_opts_t *opts;
    int listen_fd;
    pool_worker_fn fn;
    void *ctx;
    struct pool_slot *slots;
    int stopping;
    long long stop_deadline;
    sigset_t sigs;
};

static long long pool_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int pool_live(const struct pool *p)
{
    int n = 0;

    for (int i = 0; i < p->opts->workers; i++)
        n += p->slots[i].pid > 0;
    return n;
}

static int pool_spawn(struct pool *p, int i)
{
    pid_t pid = fork();

    if (pid < 0) {
        log_error("fork failed", LOG_S("error", strerror(errno)));
        p->slots[i].respawn_at = pool_now_ms() + POOL_BACKOFF_MAX_MS;
        return -1;
    }
    if (pid == 0) {
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        free(p->slots);
        _exit(p->fn(p->listen_fd, p->ctx));
    }
    p->slots[i].pid = pid;
    p->slots[i].started_ms = pool_now_ms();
    log_info("worker started", LOG_I("slot", i), LOG_I("worker_pid", pid));
    return 0;
}

/* Reap every exited worker; schedule respawns unless stopping. */
static void pool_reap(struct pool *p)
{
    for (;;) {
        int status, i;
        pid_t pid = waitpid(-1, &status, WNOHANG);

        if (pid <= 0)
            return;
        for (i = 0; i < p->opts->workers && p->slots[i].pid != pid; i++)
            ;
        if (i == p->opts->workers)
            continue;
        struct pool_slot *s = &p->slots[i];
        long long now = pool_now_ms(), lived = now - s->started_ms;

        s->pid = 0;
        if (p->stopping) {
            log_info("worker stopped", LOG_I("worker_pid", pid),
                     LOG_I("status", WIFEXITED(status) ? WEXITSTATUS(status) : -1));
            continue;
        }
        if (lived < POOL_QUICK_DEATH_MS) {
            s->backoff_ms = s->backoff_ms == 0 ? POOL_BACKOFF_MIN_MS : s->backoff_ms * 2;
            if (s->backoff_ms > POOL_BACKOFF_MAX_MS)
                s->backoff_ms = POOL_BACKOFF_MAX_MS;
        } else {
            s->backoff_ms = 0;
        }
        s->respawn_at = now + s->backoff_ms;
        if (WIFSIGNALED(status))
            log_warn("worker killed; respawning", LOG_I("worker_pid", pid),
                     LOG_I("signal", WTERMSIG(status)), LOG_I("backoff_ms", s->backoff_ms));
        else
            log_warn("worker exited; respawning", LOG_I("worker_pid", pid),
                     LOG_I("status", WEXITSTATUS(status)), LOG_I("backoff_ms", s->backoff_ms));
    }
}

static void pool_fill(struct pool *p)
{
    long long now = pool_now_ms();

    for (int i = 0; i < p->opts->workers; i++)
        if (p->slots[i].pid == 0 && p->slots[i].respawn_at <= now)
            pool_spawn(p, i);
}

static void pool_signal_all(struct pool *p, int sig)
{
    for (int i = 0; i < p->opts->workers; i++)
        if (p->slots[i].pid > 0)
            kill(p->slots[i].pid, sig);
}

static void pool_begin_stop(struct pool *p, int sig)
{
    if (p->stopping)
        return;
    p->stopping = 1;
    p->stop_deadline = pool_now_ms() + (long long)p->opts->stop_timeout * 1000;
    log_info("stopping gracefully", LOG_I("signal", sig), LOG_I("workers", pool_live(p)),
             LOG_I("timeout_s", p->opts->stop_timeout));
    pool_signal_all(p, SIGTERM);
}

/* How long the main loop may sleep: until the next respawn or the stop deadline. */
static long long pool_wait_ms(const struct pool *p)
{
    long long now = pool_now_ms(), wait = 1000;

    if (p->stopping)
        return p->stop_deadline > now ? (p->stop_deadline - now < wait ? p->stop_deadline - now
                                                                         : wait) : 0;
    for (int i = 0; i < p->opts->workers; i++) {
        if (p->slots[i].pid == 0) {
            long long d = p->slots[i].respawn_at - now;

            if (d < wait)
                wait = d < 0 ? 0 : d;
        }
    }
    return wait;
}

int pool_run(const pool_opts_t *opts, int listen_fd, pool_worker_fn fn, void *ctx)
{
    struct pool p = { .opts = opts, .listen_fd = listen_fd, .fn = fn, .ctx = ctx };
    int rc = 0;

    p.slots = calloc((size_t)opts->workers, sizeof(*p.slots));
    if (p.slots == NULL) {
        log_error("out of memory", LOG_I("workers", opts->workers));
        return 1;
    }
    sigemptyset(&p.sigs);
    sigaddset(&p.sigs, SIGCHLD);
    sigaddset(&p.sigs, SIGTERM);
    sigaddset(&p.sigs, SIGINT);
    sigaddset(&p.sigs, SIGQUIT);
    sigaddset(&p.sigs, SIGHUP);
    sigaddset(&p.sigs, SIGUSR1);
    sigaddset(&p.sigs, SIGUSR2);
    sigprocmask(SIG_BLOCK, &p.sigs, NULL);
    log_info("pool started", LOG_I("workers", opts->workers));

    for (;;) {
        siginfo_t si;
        long long ms;
        struct timespec ts;
        int sig;

        if (!p.stopping)
            pool_fill(&p);
        if (p.stopping && pool_live(&p) == 0)
            break;
        if (p.stopping && pool_now_ms() >= p.stop_deadline) {
            log_error("workers did not stop in time; killing them", LOG_I("workers",
                      pool_live(&p)));
            pool_signal_all(&p, SIGKILL);
            while (pool_live(&p) > 0) {
                int status;
                pid_t pid = waitpid(-1, &status, 0);

                if (pid < 0)
                    break;
                for (int i = 0; i < opts->workers; i++)
                    if (p.slots[i].pid == pid)
                        p.slots[i].pid = 0;
            }
            rc = 1;
            break;
        }
        ms = pool_wait_ms(&p);
        ts.tv_sec = ms / 1000;
        ts.tv_nsec = (ms % 1000) * 1000000;
        sig = sigtimedwait(&p.sigs, &si, &ts);
        if (sig < 0)
            continue;   /* timeout or EINTR: loop re-evaluates */
        switch (sig) {
        case SIGCHLD:
            pool_reap(&p);
            break;
        case SIGTERM:
        case SIGINT:
        case SIGQUIT:
            pool_begin_stop(&p, sig);
            break;
        default:
            log_info("signal ignored", LOG_I("signal", sig));
            break;
        }
    }
    free(p.slots);
    log_info("pool stopped", LOG_I("clean", rc == 0));
    return rc;
}
