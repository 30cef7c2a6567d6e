/* SPDX-License-Identifier: MIT */
/* entrypoint.c - PID 1 of the mcpgw container: starts, supervises and stops the pool and lighttpd.
 *
 * Usage
 *   mcpgw-entrypoint                supervise the gateway: the pool, then lighttpd
 *   mcpgw-entrypoint -- PROG ARGS   tini mode: run one program, forward signals, reap
 *   mcpgw-entrypoint --health       probe http://$MCPGW_BIND:$MCPGW_PORT/health (127.0.0.1
 *                                   when MCPGW_BIND is a wildcard) for HEALTHCHECK
 *
 * Works as PID 1 and, when it is not PID 1, makes itself a child subreaper so that orphans
 * of its children are re-parented to it and reaped here (tini's "subreaper" mode).  Every
 * signal except the synchronous ones is blocked and taken with sigtimedwait() in one loop;
 * there are no asynchronous handlers.  Logs are one JSON object per line on stderr, each
 * written with a single write(2) of at most 2 KB so that lines never interleave with the
 * children's, which share the same stderr.  Only libc is used (and
 * worker/utf8.c, to keep log lines valid UTF-8).
 *
 * Exit codes: 2 for bad usage and, except with --health, for a bad MCPGW_* setting
 *   (nothing was started then).
 *   tini mode: the child's exit code, 128+N when signal N killed it, 127 when PROG is not
 *     found, 126 when it cannot be executed (the message names PROG and strerror).
 *   supervised: 0 after an ordered stop in which both children stopped cleanly, 1 when
 *     startup failed or the stop budget ran out, the code of a child that exited on its own
 *     (128+N if signal N killed it, 1 if it exited with 0).
 *   --health: 0 when the answer's status is 200, else 1 with one line on stderr naming why.
 *
 * Supervised mode, in order:
 *   1. validate every MCPGW_* setting below (exit 2 naming the variable and its value);
 *   2. create $MCPGW_RUNTIME_DIR if missing (one level, mode 0755) and remove a stale
 *      draining flag left there by an earlier run;
 *   3. start the pool ($MCPGW_POOL_BIN, no arguments) and connect to its FastCGI socket
 *      every 50 ms (connect, then close at once) until it accepts, for at most
 *      MCPGW_START_TIMEOUT seconds; the pool exiting first or the timeout is a startup
 *      failure: the pool is stopped and the exit code is the pool's own when it exited
 *      with one (2 for a bad setting), else 1;
 *   4. start lighttpd ($MCPGW_LIGHTTPD -D -f $MCPGW_LIGHTTPD_CONF) with a copy of our stdout
 *      as its fd 3: lighttpd 1.4.69 points its stdout at /dev/null before its modules open
 *      their logs, so lighttpd.conf writes the access log to /proc/self/fd/3;
 *   5. loop: forward signals, reap, and watch both children.
 *   Ordered stop on SIGTERM or SIGINT: create $MCPGW_RUNTIME_DIR/draining (workers answer
 *   /health with 503 while it exists), wait MCPGW_DRAIN_DELAY seconds, SIGINT lighttpd (its
 *   graceful stop) and wait for it, then SIGTERM the pool (its graceful stop) and wait.  All
 *   of it within MCPGW_STOP_BUDGET seconds from the first signal: when the budget runs out
 *   the process group of every child still alive gets SIGKILL (so a pool master's workers
 *   go too), that is logged, and the exit code is 1.
 *   Signal routing (the table signal_routes below): SIGHUP and SIGUSR2 to the pool only
 *   (dropped while it is still starting), SIGUSR1 to lighttpd only, SIGQUIT = immediate
 *   stop (SIGTERM to both at once, no drain delay, same budget), SIGCHLD reaps, and every
 *   other signal is logged and dropped: neither child uses one, and passing on one whose
 *   default action ends a process would stop the gateway.  (Tini mode forwards all.)
 *
 * Decisions where the design was silent
 *   - Process groups: every child starts in a process group of its own.  In supervised
 *     mode this keeps a terminal's ^C away from the children, so only the entrypoint sees
 *     it and the stop stays ordered; it also lets the budget's SIGKILL take a child's whole
 *     group.  In tini mode the child's group also becomes the terminal's foreground group
 *     when ours was (so an interactive shell works); signals are forwarded to the child's
 *     pid only, as tini does without -g.
 *   - Children start from a clean slate: all signal dispositions default, nothing blocked,
 *     whatever our own parent had set (a shell starts background jobs with SIGINT and
 *     SIGQUIT ignored).  The entrypoint resets its own inherited dispositions too: POSIX
 *     leaves it open whether a blocked signal that is ignored stays pending for
 *     sigtimedwait (Linux keeps it, others may drop it).
 *   - SIGPIPE is ignored by the entrypoint and not forwarded: otherwise a closed log pipe
 *     would make our own write(2) raise a SIGPIPE that we would pass on to the children.
 *     The other synchronous signals (SEGV, BUS, FPE, ILL, ABRT, TRAP, SYS) and TTIN/TTOU
 *     are not blocked either, as in tini.
 *   - File descriptors: in supervised mode the children get fds 0, 1, 2 (and lighttpd 3)
 *     only: everything else is marked close-on-exec in the child before exec, including
 *     fds the entrypoint itself inherited.  Tini mode passes inherited fds through like
 *     tini does (socket activation); the entrypoint's own fds are always O_CLOEXEC.
 *   - What counts as a clean stop: a child that exited with 0, or that was killed by a
 *     signal we sent it to stop it (SIGINT or SIGTERM), except the budget's SIGKILL.  A
 *     child that exits during the stop in any other way makes the exit code 1.
 *   - A second SIGTERM/SIGINT during the drain delay ends the delay at once (lighttpd gets
 *     its SIGINT now); later ones are logged and ignored, the budget bounds the stop.
 *     SIGQUIT at any point of a stop switches to the immediate stop: SIGTERM to every child
 *     still running (lighttpd then stops at once).
 *   - Every stop creates the draining flag first, also SIGQUIT and failure stops (the
 *     workers still alive should fail their health checks).  It is removed at exit, once
 *     both children are gone; a start also removes one left by a run that was killed.
 *   - During a stop, routed signals (HUP, USR1, USR2, WINCH, ...) are no longer forwarded:
 *     the stop sequence owns the children.  Before lighttpd runs, a signal meant for it
 *     is dropped.
 *   - A child that exits on its own stops the other one with no drain delay; the exit code
 *     stays the dead child's even if the stop of the other then runs out of budget.
 *   - A TERM/INT/QUIT before the pool is ready stops the pool (no drain: nobody serves yet)
 *     and exits 0 if it stopped cleanly.
 *   - A startup failure exits 1 (the timeout passes, lighttpd cannot be executed), or with
 *     the pool's own code when it exited non-zero before it was ready: its 2 says "bad
 *     setting" as ours does.  The log has the detail.
 *   - Our death, even by SIGKILL, stops the children: each gets a parent-death signal
 *     (the pool SIGTERM, lighttpd SIGINT: their graceful stops), so nothing is left
 *     serving on the port without a supervisor.
 *   - Settings: an empty variable means unset (the default applies).  Seconds are plain
 *     decimal integers: MCPGW_START_TIMEOUT 1..3600 (10), MCPGW_DRAIN_DELAY 0..3600 (5),
 *     MCPGW_STOP_BUDGET 1..3600 (25), and the drain delay must be less than the budget.
 *     MCPGW_RUNTIME_DIR must be absolute.  MCPGW_SOCKET is a unix socket when it starts
 *     with '/', otherwise host:port, where host is an IPv4 literal, a [bracketed] IPv6
 *     literal or "localhost" (0.0.0.0, [::], "*" and "" mean this machine and are probed
 *     on loopback): no name service, so no probe can hang in a DNS lookup.  Paths are
 *     capped at 511 bytes, like the pool's.  MCPGW_POOL_BIN is run as a path (no PATH
 *     search); MCPGW_LIGHTTPD is searched in PATH when it has no '/'.
 *     MCPGW_LOG_LEVEL (debug, info, warn, error; default info) filters our log lines.
 *     Supervised mode also validates MCPGW_PORT and MCPGW_HEALTH_URL, which only --health
 *     uses, so that a typo stops the container at once instead of failing every health
 *     check, and MCPGW_BIND and MCPGW_KEEPALIVE_IDLE (1..32767), which only lighttpd.conf
 *     reads.  lighttpd runs with TZ=UTC0, so its access log is in UTC like our lines.
 *   - --health: MCPGW_HEALTH_URL is [http://]host:port[/path] (path default /health), host
 *     as for MCPGW_SOCKET; it overrides MCPGW_PORT.  The 2 s bound covers connect, send and
 *     the status line.  Every failure, a bad setting included, exits 1 (Docker reserves 2
 *     for health commands) with one plain-text line "health: ..." on stderr: it is read in
 *     the container's health record, not in the log stream.
 *   - Orphans are reaped at all times; only their count shows, at debug level.
 *
 * Tests: tests/entrypoint/run.sh build/mcpgw-entrypoint (scenarios in the spirit of tini's,
 * run without being PID 1 thanks to the subreaper).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "utf8.h"

#define EP_PATH_MAX        512      /* every path setting, same cap as the pool's */
#define EP_ERR_MAX         640      /* "what: why" messages */
#define EP_POOL_STOP_RESERVE_S 3    /* of the stop budget, kept for the pool's stop */
#define EP_LOG_MAX         2048     /* one log line; below PIPE_BUF, so one atomic write */
#define EP_SECONDS_MAX     3600
#define EP_PROBE_MS        50       /* readiness probe period */
#define EP_PROBE_WAIT_MS   200      /* longest wait for one TCP connect of the probe */
#define EP_TICK_MS         1000     /* longest sleep of a main loop */
#define EP_KILL_GRACE_MS   1000     /* wait for SIGKILLed children to be reaped */
#define EXIT_USAGE         2
#define SIGNAME_MAX        24       /* "SIGRTMIN+N" and "SIGN" made up on the spot */
#define HEALTH_TIMEOUT_MS  2000
#define HEALTH_REPLY_MAX   512      /* bytes read looking for the status line */

/* ------------------------------------------------------------------ time */

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timespec ms_to_timespec(long long ms)
{
    struct timespec ts;

    if (ms < 0)
        ms = 0;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    return ts;
}

/* --------------------------------------------------------------- logging */

enum level { LV_DEBUG, LV_INFO, LV_WARN, LV_ERROR };

static const char *const level_names[] = {
    [LV_DEBUG] = "debug",
    [LV_INFO]  = "info",
    [LV_WARN]  = "warn",
    [LV_ERROR] = "error",
};

static enum level log_threshold = LV_INFO;
static const char *log_component = "entrypoint";   /* "lighttpd" in the errorlog relay */

/* One log line under construction.  A field that does not fit is left out whole, so the
 * line is always valid JSON; the closing "}\n" always has room. */
struct logline {
    char buf[EP_LOG_MAX];
    size_t len;
    int off;        /* below the threshold: nothing is written */
};

/* Escape s as the inside of a JSON string into out (NUL-terminated).  When out is too
 * small the text is cut before an escape sequence or a UTF-8 sequence that would not
 * fit whole, so that the result is never a broken escape or a split character. */
static size_t json_escape(char *out, size_t outlen, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if (outlen == 0)
        return 0;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        size_t n = 0;

        if (c == '"' || c == '\\') {
            esc[n++] = '\\';
            esc[n++] = (char)c;
        } else if (c == '\n') {
            esc[n++] = '\\';
            esc[n++] = 'n';
        } else if (c == '\t') {
            esc[n++] = '\\';
            esc[n++] = 't';
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(esc, "\\u00", 4);
            n = 4;
            esc[n++] = hex[c >> 4];
            esc[n++] = hex[c & 0xf];
        } else if (c >= 0x80) {
            /* Whole UTF-8 sequences only: a line stays valid JSON text whatever bytes
             * a child wrote (lighttpd quotes request lines in its messages). */
            size_t k = utf8_seq_len((const unsigned char *)s, strnlen(s, 4));

            if (k == 0) {
                memcpy(esc, "\\ufffd", 6);
                n = 6;
            } else {
                memcpy(esc, s, k);
                n = k;
                s += k - 1;
            }
        } else {
            esc[n++] = (char)c;
        }
        if (o + n >= outlen)
            break;      /* whole escapes and sequences only: a cut never splits one */
        memcpy(out + o, esc, n);
        o += n;
    }
    out[o] = '\0';
    return o;
}

/* Append n bytes if they fit with room left for the closing "}\n". */
static void ll_append(struct logline *l, const char *s, size_t n)
{
    if (l->len + n + 2 >= sizeof l->buf)
        return;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void ll_str(struct logline *l, const char *key, const char *val)
{
    char esc[EP_LOG_MAX / 2];
    char piece[EP_LOG_MAX];
    int n;

    if (l->off || val == NULL)
        return;
    json_escape(esc, sizeof esc, val);
    n = snprintf(piece, sizeof piece, ",\"%s\":\"%s\"", key, esc);
    if (n > 0 && (size_t)n < sizeof piece)
        ll_append(l, piece, (size_t)n);
}

static void ll_int(struct logline *l, const char *key, long long val)
{
    char piece[128];
    int n;

    if (l->off)
        return;
    n = snprintf(piece, sizeof piece, ",\"%s\":%lld", key, val);
    if (n > 0 && (size_t)n < sizeof piece)
        ll_append(l, piece, (size_t)n);
}

__attribute__((format(printf, 3, 0)))
static void ll_vbegin(struct logline *l, enum level lv, const char *fmt, va_list ap)
{
    char msg[EP_LOG_MAX / 2];
    char ts[40];
    struct timespec now;
    struct tm tm;
    size_t n;

    l->len = 0;
    l->off = lv < log_threshold;
    if (l->off)
        return;
    vsnprintf(msg, sizeof msg, fmt, ap);
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03ldZ", now.tv_nsec / 1000000L);
    l->len = (size_t)snprintf(l->buf, sizeof l->buf,
                              "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"%s\"",
                              ts, level_names[lv], log_component);
    ll_str(l, "msg", msg);
}

__attribute__((format(printf, 3, 4)))
static void ll_begin(struct logline *l, enum level lv, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ll_vbegin(l, lv, fmt, ap);
    va_end(ap);
}

static void ll_end(struct logline *l)
{
    const char *p = l->buf;
    size_t left;

    if (l->off)
        return;
    l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
    left = l->len;
    while (left > 0) {
        ssize_t w = write(STDERR_FILENO, p, left);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;     /* nowhere to report a broken stderr */
        p += w;
        left -= (size_t)w;
    }
}

/* A line with no fields beyond the message. */
__attribute__((format(printf, 2, 3)))
static void log_msg(enum level lv, const char *fmt, ...)
{
    struct logline l;
    va_list ap;

    va_start(ap, fmt);
    ll_vbegin(&l, lv, fmt, ap);
    va_end(ap);
    ll_end(&l);
}

/* -------------------------------------------------------------- signals */

static const char *const signal_names[] = {
    [SIGHUP] = "SIGHUP",   [SIGINT] = "SIGINT",       [SIGQUIT] = "SIGQUIT",
    [SIGILL] = "SIGILL",   [SIGTRAP] = "SIGTRAP",     [SIGABRT] = "SIGABRT",
    [SIGBUS] = "SIGBUS",   [SIGFPE] = "SIGFPE",       [SIGKILL] = "SIGKILL",
    [SIGUSR1] = "SIGUSR1", [SIGSEGV] = "SIGSEGV",     [SIGUSR2] = "SIGUSR2",
    [SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM",     [SIGTERM] = "SIGTERM",
    [SIGCHLD] = "SIGCHLD", [SIGCONT] = "SIGCONT",     [SIGSTOP] = "SIGSTOP",
    [SIGTSTP] = "SIGTSTP", [SIGTTIN] = "SIGTTIN",     [SIGTTOU] = "SIGTTOU",
    [SIGURG] = "SIGURG",   [SIGXCPU] = "SIGXCPU",     [SIGXFSZ] = "SIGXFSZ",
    [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF", [SIGWINCH] = "SIGWINCH",
    [SIGIO] = "SIGIO",     [SIGPWR] = "SIGPWR",       [SIGSYS] = "SIGSYS",
};

/* Name of sig; buf (SIGNAME_MAX bytes) holds names made up on the spot. */
static const char *signal_name(int sig, char *buf, size_t len)
{
    if (sig > 0 && (size_t)sig < sizeof signal_names / sizeof signal_names[0] &&
        signal_names[sig] != NULL)
        return signal_names[sig];
    if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        snprintf(buf, len, "SIGRTMIN+%d", sig - SIGRTMIN);
    else
        snprintf(buf, len, "SIG%d", sig);
    return buf;
}

/* The signals the main loops take with sigtimedwait(): all but the synchronous ones. */
static sigset_t wait_set;

/* Reset every inherited disposition, ignore SIGPIPE, block everything we wait for. */
static int signals_take_over(char *err, size_t errlen)
{
    static const int unblocked[] = {
        SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS, SIGTTIN, SIGTTOU, SIGPIPE,
    };
    size_t i;
    int sig;

    for (sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)signal(sig, SIG_DFL);     /* glibc's own RT signals refuse: harmless */
    }
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        snprintf(err, errlen, "signal(SIGPIPE): %s", strerror(errno));
        return -1;
    }
    sigfillset(&wait_set);
    for (i = 0; i < sizeof unblocked / sizeof unblocked[0]; i++)
        sigdelset(&wait_set, unblocked[i]);
    if (sigprocmask(SIG_SETMASK, &wait_set, NULL) != 0) {
        snprintf(err, errlen, "sigprocmask: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Wait up to ms for a signal of wait_set; 0 when none came. */
static int signal_wait(long long ms, siginfo_t *info)
{
    struct timespec ts = ms_to_timespec(ms);
    int sig = sigtimedwait(&wait_set, info, &ts);

    if (sig > 0)
        return sig;
    if (errno != EAGAIN && errno != EINTR)
        log_msg(LV_ERROR, "sigtimedwait: %s", strerror(errno));
    return 0;
}

/* Not PID 1: orphans of our children must come to us, not to the machine's init. */
static void subreaper_become(void)
{
    if (getpid() == 1)
        return;
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
        log_msg(LV_WARN, "prctl(PR_SET_CHILD_SUBREAPER): %s; orphans will not be reaped here",
                strerror(errno));
}

/* fds 0..2 closed at start would be taken by our own sockets and pipes. */
static void std_fds_ensure(void)
{
    int fd;

    for (fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
            int null_fd = open("/dev/null", O_RDWR);

            if (null_fd >= 0 && null_fd != fd)
                close(null_fd);     /* lowest free fd is fd itself; anything else is odd */
        }
    }
}

/* ------------------------------------------------------------- settings */

/* A socket address to connect to, with its text for messages. */
struct endpoint {
    struct sockaddr_storage addr;
    socklen_t len;
    char text[EP_PATH_MAX + 16];
};

struct settings {
    char pool_bin[EP_PATH_MAX];         /* MCPGW_POOL_BIN */
    char lighttpd[EP_PATH_MAX];         /* MCPGW_LIGHTTPD */
    char lighttpd_conf[EP_PATH_MAX];    /* MCPGW_LIGHTTPD_CONF */
    char runtime_dir[EP_PATH_MAX];      /* MCPGW_RUNTIME_DIR */
    char draining[EP_PATH_MAX];         /* $MCPGW_RUNTIME_DIR/draining */
    struct endpoint fcgi;               /* MCPGW_SOCKET */
    int start_timeout;                  /* MCPGW_START_TIMEOUT, seconds */
    int drain_delay;                    /* MCPGW_DRAIN_DELAY, seconds */
    int stop_budget;                    /* MCPGW_STOP_BUDGET, seconds */
    struct endpoint health;             /* MCPGW_PORT or MCPGW_HEALTH_URL */
    char health_host[300];              /* Host header: host:port as configured */
    char health_path[EP_PATH_MAX];
};

/* An MCPGW_* variable; NULL when unset or empty (both mean: use the default). */
static const char *env_get(const char *name)
{
    const char *v = getenv(name);

    return (v != NULL && v[0] != '\0') ? v : NULL;
}

/* Plain decimal digits within [min, max]. */
static int parse_uint(const char *s, size_t n, long min, long max, long *out)
{
    long v = 0;
    size_t i;

    if (n == 0 || n > 9)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int env_int(const char *name, long def, long min, long max, int *out,
                   char *err, size_t errlen)
{
    const char *v = env_get(name);
    long val = def;

    if (v != NULL && parse_uint(v, strlen(v), min, max, &val) != 0) {
        snprintf(err, errlen, "%s=%.64s: want a whole number from %ld to %ld", name, v, min, max);
        return -1;
    }
    *out = (int)val;
    return 0;
}

static int env_path(const char *name, const char *def, int absolute, char *out, size_t cap,
                    char *err, size_t errlen)
{
    const char *v = env_get(name);

    if (v == NULL)
        v = def;
    if (v == NULL) {
        snprintf(err, errlen, "%s: not set", name);
        return -1;
    }
    if (strlen(v) >= cap) {
        snprintf(err, errlen, "%s=%.64s...: longer than %zu bytes", name, v, cap - 1);
        return -1;
    }
    if (absolute && v[0] != '/') {
        snprintf(err, errlen, "%s=%.64s: want an absolute path", name, v);
        return -1;
    }
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

/* "host:port" (host: IPv4 literal, [IPv6] literal, localhost; "", "*", 0.0.0.0 and [::]
 * mean this machine) into ep, without any name service.  s need not be NUL-terminated. */
static int parse_host_port(const char *s, size_t n, struct endpoint *ep)
{
    char host[64];
    const char *colon;
    size_t hlen;
    long port;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ep->addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ep->addr;

    colon = memrchr(s, ':', n);
    if (colon == NULL)
        return -1;
    hlen = (size_t)(colon - s);
    if (parse_uint(colon + 1, n - hlen - 1, 1, 65535, &port) != 0)
        return -1;
    if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
        s++;
        hlen -= 2;
        if (hlen >= sizeof host)
            return -1;
        memcpy(host, s, hlen);
        host[hlen] = '\0';
        memset(&ep->addr, 0, sizeof ep->addr);
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
            return -1;
        if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
            in6->sin6_addr = in6addr_loopback;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((unsigned short)port);
        ep->len = sizeof *in6;
        return 0;
    }
    if (hlen >= sizeof host)
        return -1;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (hlen == 0 || strcmp(host, "*") == 0 || strcmp(host, "localhost") == 0)
        memcpy(host, "127.0.0.1", sizeof "127.0.0.1");
    memset(&ep->addr, 0, sizeof ep->addr);
    if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
        return -1;
    if (in4->sin_addr.s_addr == htonl(INADDR_ANY))
        in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    in4->sin_family = AF_INET;
    in4->sin_port = htons((unsigned short)port);
    ep->len = sizeof *in4;
    return 0;
}

static int parse_unix_path(const char *path, struct endpoint *ep)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&ep->addr;
    size_t n = strlen(path);

    if (n >= sizeof un->sun_path)
        return -1;
    memset(&ep->addr, 0, sizeof ep->addr);
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, n + 1);
    ep->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

/* MCPGW_SOCKET: a unix path, or host:port; default $MCPGW_RUNTIME_DIR/fcgi.sock. */
static int settings_socket(struct settings *c, char *err, size_t errlen)
{
    const char *v = env_get("MCPGW_SOCKET");
    char def[EP_PATH_MAX + 16];

    if (v == NULL) {
        snprintf(def, sizeof def, "%s/fcgi.sock", c->runtime_dir);
        if (parse_unix_path(def, &c->fcgi) != 0) {
            snprintf(err, errlen, "MCPGW_RUNTIME_DIR=%.64s: too long for the default socket "
                     "path %.64s (a unix socket path has at most 107 bytes)", c->runtime_dir, def);
            return -1;
        }
        snprintf(c->fcgi.text, sizeof c->fcgi.text, "%s", def);
        return 0;
    }
    if (strlen(v) >= EP_PATH_MAX ||
        (v[0] == '/' ? parse_unix_path(v, &c->fcgi)
                     : parse_host_port(v, strlen(v), &c->fcgi)) != 0) {
        snprintf(err, errlen, "MCPGW_SOCKET=%.64s: want an absolute unix socket path of at most "
                 "107 bytes, or host:port with an IP address or localhost", v);
        return -1;
    }
    snprintf(c->fcgi.text, sizeof c->fcgi.text, "%s", v);
    return 0;
}

/* MCPGW_HEALTH_URL ([http://]host:port[/path]) or 127.0.0.1:$MCPGW_PORT/health. */
static int settings_health(struct settings *c, char *err, size_t errlen)
{
    const char *url = env_get("MCPGW_HEALTH_URL");
    const char *hp, *slash, *path, *p;
    int port;
    size_t hplen;

    if (env_int("MCPGW_PORT", 8080, 1, 65535, &port, err, errlen) != 0)
        return -1;
    if (url == NULL) {
        /* lighttpd listens on MCPGW_BIND: a specific address is where to ask, a wildcard
         * (0.0.0.0, [::]) includes loopback. */
        const char *bind = env_get("MCPGW_BIND");

        if (bind == NULL || strcmp(bind, "0.0.0.0") == 0 || strcmp(bind, "[::]") == 0 ||
            strlen(bind) >= sizeof c->health_host - 8)
            bind = "127.0.0.1";
        snprintf(c->health_host, sizeof c->health_host, "%s:%d", bind, port);
        snprintf(c->health_path, sizeof c->health_path, "/health");
        snprintf(c->health.text, sizeof c->health.text, "%s", c->health_host);
        if (parse_host_port(c->health_host, strlen(c->health_host), &c->health) != 0) {
            snprintf(err, errlen, "MCPGW_BIND=%.64s: want an IPv4 address, an IPv6 address in "
                     "brackets ([::]) or localhost", bind);
            return -1;
        }
        return 0;
    }
    hp = strncmp(url, "http://", 7) == 0 ? url + 7 : url;
    slash = strchr(hp, '/');
    hplen = slash != NULL ? (size_t)(slash - hp) : strlen(hp);
    path = slash != NULL ? slash : "/health";
    for (p = path; *p != '\0'; p++) {
        if (*p <= ' ' || *p == 0x7f)
            break;
    }
    if (hplen >= sizeof c->health_host || strlen(path) >= sizeof c->health_path ||
        *p != '\0' || parse_host_port(hp, hplen, &c->health) != 0) {
        snprintf(err, errlen, "MCPGW_HEALTH_URL=%.64s: want [http://]host:port[/path] with an IP "
                 "address or localhost and a path without spaces", url);
        return -1;
    }
    memcpy(c->health_host, hp, hplen);
    c->health_host[hplen] = '\0';
    memcpy(c->health_path, path, strlen(path) + 1);
    snprintf(c->health.text, sizeof c->health.text, "%s", c->health_host);
    return 0;
}

/* Default pool binary: mcpgw-pool beside our own executable. */
static int default_pool_bin(char *out, size_t cap, char *err, size_t errlen)
{
    char self[EP_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash;

    if (n < 0) {
        snprintf(err, errlen, "readlink /proc/self/exe: %s (set MCPGW_POOL_BIN)", strerror(errno));
        return -1;
    }
    self[n] = '\0';
    slash = strrchr(self, '/');
    if (slash == NULL || (size_t)(slash - self) + sizeof "/mcpgw-pool" > cap) {
        snprintf(err, errlen, "no directory in /proc/self/exe (set MCPGW_POOL_BIN)");
        return -1;
    }
    memcpy(out, self, (size_t)(slash - self) + 1);
    memcpy(out + (slash - self) + 1, "mcpgw-pool", sizeof "mcpgw-pool");
    return 0;
}

static int settings_log_level(char *err, size_t errlen)
{
    const char *v = env_get("MCPGW_LOG_LEVEL");
    size_t i;

    if (v == NULL)
        return 0;
    for (i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcmp(v, level_names[i]) == 0) {
            log_threshold = (enum level)i;
            return 0;
        }
    }
    snprintf(err, errlen, "MCPGW_LOG_LEVEL=%.64s: want debug, info, warn or error", v);
    return -1;
}

/* MCPGW_BIND and MCPGW_KEEPALIVE_IDLE are read only by lighttpd.conf.  lighttpd would
 * report a bad value in plain text, after the pool has started, and exit 255: check them
 * here, so they fail like every other setting.  MCPGW_BIND: an IPv4 literal, an IPv6
 * literal in brackets (lighttpd's form), or localhost. */
static int settings_lighttpd(char *err, size_t errlen)
{
    const char *bind = env_get("MCPGW_BIND");
    int idle;

    if (bind != NULL && strcmp(bind, "localhost") != 0) {
        struct in_addr a4;
        struct in6_addr a6;
        char v6[INET6_ADDRSTRLEN + 1];
        size_t n = strlen(bind);
        int ok = inet_pton(AF_INET, bind, &a4) == 1;

        if (!ok && n >= 3 && n - 2 < sizeof v6 && bind[0] == '[' && bind[n - 1] == ']') {
            memcpy(v6, bind + 1, n - 2);
            v6[n - 2] = '\0';
            ok = inet_pton(AF_INET6, v6, &a6) == 1;
        }
        if (!ok) {
            snprintf(err, errlen, "MCPGW_BIND=%.64s: want an IPv4 address, an IPv6 address in "
                     "brackets ([::]) or localhost", bind);
            return -1;
        }
    }
    if (env_int("MCPGW_KEEPALIVE_IDLE", 75, 1, 32767, &idle, err, errlen) != 0)
        return -1;
    /* lighttpd.conf reaches the status lane by "socket", a unix path: a host:port lane
     * needs a lighttpd configuration of its own (docs/OPERATIONS.md, the pool on TCP). */
    {
        const char *lane = env_get("MCPGW_STATUS_SOCKET");
        const char *sock = env_get("MCPGW_SOCKET");

        if (lane != NULL && strcmp(lane, "off") != 0 && lane[0] != '/' &&
            (sock == NULL || sock[0] == '/')) {
            snprintf(err, errlen, "MCPGW_STATUS_SOCKET=%.64s: want a unix socket path like "
                     "MCPGW_SOCKET's, or off (a host:port lane goes with a pool on TCP and "
                     "a lighttpd configuration of its own)", lane);
            return -1;
        }
    }
    return 0;
}

/* Every setting of supervised mode; -1 with err naming the variable and its value. */
static int settings_load(struct settings *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (env_int("MCPGW_START_TIMEOUT", 10, 1, EP_SECONDS_MAX, &c->start_timeout,
                err, errlen) != 0 ||
        env_int("MCPGW_DRAIN_DELAY", 5, 0, EP_SECONDS_MAX, &c->drain_delay, err, errlen) != 0 ||
        env_int("MCPGW_STOP_BUDGET", 25, 1, EP_SECONDS_MAX, &c->stop_budget, err, errlen) != 0)
        return -1;
    if (c->drain_delay >= c->stop_budget) {
        snprintf(err, errlen, "MCPGW_DRAIN_DELAY=%d: must be less than MCPGW_STOP_BUDGET=%d",
                 c->drain_delay, c->stop_budget);
        return -1;
    }
    if (env_path("MCPGW_RUNTIME_DIR", "/run/mcpgw", 1, c->runtime_dir, sizeof c->runtime_dir,
                 err, errlen) != 0)
        return -1;
    if ((size_t)snprintf(c->draining, sizeof c->draining, "%s/draining", c->runtime_dir) >=
        sizeof c->draining) {
        snprintf(err, errlen, "MCPGW_RUNTIME_DIR=%.64s: too long", c->runtime_dir);
        return -1;
    }
    if (settings_socket(c, err, errlen) != 0 || settings_lighttpd(err, errlen) != 0 ||
        settings_health(c, err, errlen) != 0)
        return -1;
    if (env_get("MCPGW_POOL_BIN") == NULL) {
        if (default_pool_bin(c->pool_bin, sizeof c->pool_bin, err, errlen) != 0)
            return -1;
    } else if (env_path("MCPGW_POOL_BIN", NULL, 0, c->pool_bin, sizeof c->pool_bin,
                        err, errlen) != 0) {
        return -1;
    }
    if (env_path("MCPGW_LIGHTTPD", "lighttpd", 0, c->lighttpd, sizeof c->lighttpd,
                 err, errlen) != 0 ||
        env_path("MCPGW_LIGHTTPD_CONF", "/etc/mcpgw/lighttpd.conf", 0, c->lighttpd_conf,
                 sizeof c->lighttpd_conf, err, errlen) != 0)
        return -1;
    return 0;
}

/* --------------------------------------------------------------- sockets */

/* Wait until fd is ready for events or deadline (monotonic ms) passes: 1, 0 on timeout,
 * -1 with errno. */
static int fd_wait(int fd, short events, long long deadline)
{
    for (;;) {
        struct pollfd p = { .fd = fd, .events = events };
        long long left = deadline - mono_ms();
        int r;

        if (left <= 0)
            return 0;
        r = poll(&p, 1, (int)left);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

/* Non-blocking connect to ep that completes before deadline.  Returns the connected fd,
 * or -1 with err "connect ADDR: why". */
static int endpoint_connect(const struct endpoint *ep, long long deadline, char *err, size_t errlen)
{
    int fd = socket(ep->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int soerr = 0;
    socklen_t slen = sizeof soerr;
    int r;

    if (fd < 0) {
        snprintf(err, errlen, "socket for %s: %s", ep->text, strerror(errno));
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)&ep->addr, ep->len) == 0)
        return fd;
    if (errno != EINPROGRESS) {
        snprintf(err, errlen, "connect %s: %s", ep->text, strerror(errno));
        goto fail;
    }
    r = fd_wait(fd, POLLOUT, deadline);
    if (r <= 0) {
        snprintf(err, errlen, "connect %s: %s", ep->text,
                 r == 0 ? "timed out" : strerror(errno));
        goto fail;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) != 0)
        soerr = errno;
    if (soerr != 0) {
        snprintf(err, errlen, "connect %s: %s", ep->text, strerror(soerr));
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

/* Does the pool accept connections?  Connect and close at once (libfcgi would drop an
 * idle connection after about 2 s anyway). */
static int probe_ready(const struct endpoint *ep, char *err, size_t errlen)
{
    int fd = endpoint_connect(ep, mono_ms() + EP_PROBE_WAIT_MS, err, errlen);

    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* ---------------------------------------------------------------- health */

/* Send all of buf before deadline. */
static int send_all(int fd, const char *buf, size_t len, long long deadline)
{
    while (len > 0) {
        ssize_t n;
        int r = fd_wait(fd, POLLOUT, deadline);

        if (r <= 0) {
            if (r == 0)
                errno = ETIMEDOUT;
            return -1;
        }
        n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read until the first line ends; returns its status code, or -1 with err. */
static int read_status(int fd, const struct endpoint *ep, long long deadline,
                       char *err, size_t errlen)
{
    char buf[HEALTH_REPLY_MAX + 1];
    size_t len = 0;
    long status;
    size_t i;

    while (len < HEALTH_REPLY_MAX && memchr(buf, '\n', len) == NULL) {
        ssize_t n;
        int r = fd_wait(fd, POLLIN, deadline);

        if (r == 0) {
            snprintf(err, errlen, "no answer from %s within %d s", ep->text,
                     HEALTH_TIMEOUT_MS / 1000);
            return -1;
        }
        if (r < 0) {
            snprintf(err, errlen, "poll %s: %s", ep->text, strerror(errno));
            return -1;
        }
        n = recv(fd, buf + len, HEALTH_REPLY_MAX - len, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0) {
            snprintf(err, errlen, "read %s: %s", ep->text, strerror(errno));
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    if (len >= 12 && strncmp(buf, "HTTP/1.", 7) == 0 && buf[8] == ' ' &&
        parse_uint(buf + 9, 3, 100, 999, &status) == 0 && (buf[12] == ' ' || buf[12] == '\r' ||
                                                           buf[12] == '\n'))
        return (int)status;
    if (len == 0) {
        snprintf(err, errlen, "%s closed the connection without an answer", ep->text);
        return -1;
    }
    for (i = 0; i < len && i < 40; i++) {
        if (buf[i] < ' ' || buf[i] > '~')
            buf[i] = '?';
    }
    buf[i] = '\0';
    snprintf(err, errlen, "bad status line from %s: %.40s", ep->text, buf);
    return -1;
}

/* GET the health URL with HTTP/1.0; 0 when the status is 200, else -1 with err. */
static int health_check(const struct settings *c, char *err, size_t errlen)
{
    long long deadline = mono_ms() + HEALTH_TIMEOUT_MS;
    char req[EP_PATH_MAX + 512];
    int fd;
    int status;
    int n;

    n = snprintf(req, sizeof req,
                 "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: mcpgw-entrypoint\r\n"
                 "Connection: close\r\n\r\n", c->health_path, c->health_host);
    fd = endpoint_connect(&c->health, deadline, err, errlen);
    if (fd < 0)
        return -1;
    if (send_all(fd, req, (size_t)n, deadline) != 0) {
        snprintf(err, errlen, "send %s: %s", c->health.text, strerror(errno));
        goto fail;
    }
    status = read_status(fd, &c->health, deadline, err, errlen);
    if (status < 0)
        goto fail;
    if (status != 200) {
        snprintf(err, errlen, "status %d", status);
        goto fail;
    }
    close(fd);
    return 0;
fail:
    close(fd);
    return -1;
}

static int health_run(void)
{
    static struct settings c;
    char err[EP_ERR_MAX];

    if (settings_health(&c, err, sizeof err) != 0) {
        fprintf(stderr, "health: %s\n", err);
        return 1;
    }
    if (health_check(&c, err, sizeof err) != 0) {
        fprintf(stderr, "health: %s\n", err);
        return 1;
    }
    return 0;
}

/* -------------------------------------------------------------- children */

struct child {
    const char *name;       /* "pool", "lighttpd", or the program in tini mode */
    pid_t pid;              /* > 0 once started */
    int running;            /* started and not yet reaped */
    int status;             /* wait status, once reaped */
    int reported;           /* its end has been logged */
    unsigned stop_sigs;     /* bit per signal we sent it to make it stop */
    int killed;             /* SIGKILLed when the stop budget ran out */
};

struct spawn_opts {
    int search_path;        /* execvp: PATH lookup when argv[0] has no '/' */
    int take_terminal;      /* become the terminal's foreground process group */
    int only_std_fds;       /* every fd above 2 close-on-exec */
    int stdout_as_fd3;      /* a copy of stdout as fd 3 (lighttpd's access log) */
    int fd3_source;         /* with stdout_as_fd3: this fd instead of stdout, if > 0 */
    int fd2_source;         /* if > 0: this fd becomes the child's stderr */
    int parent_death_sig;   /* sent to the child if we die first (even by SIGKILL), or 0 */
};

static pid_t ep_self;       /* our pid, for children to tell whether we died meanwhile */

/* What the child reports through the close-on-exec pipe when it cannot exec. */
struct exec_failure {
    int fd3;                /* the dup of stdout to fd 3 failed, not exec */
    int err;
};

/* Every fd above 2 close-on-exec.  close_range needs Linux 5.11; else walk /proc. */
static void fds_mark_cloexec(void)
{
    DIR *d;
    struct dirent *e;

#ifdef CLOSE_RANGE_CLOEXEC
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
        return;
#endif
    d = opendir("/proc/self/fd");
    if (d == NULL)
        return;
    for (e = readdir(d); e != NULL; e = readdir(d)) {
        int fd = atoi(e->d_name);

        if (fd > 2 && fd != dirfd(d))
            (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    closedir(d);
}

/* In the forked child: prepare, exec, or report why not through report_fd. */
static _Noreturn void child_exec(char *const argv[], const struct spawn_opts *o, int report_fd)
{
    struct exec_failure f = { 0, 0 };
    sigset_t none;
    ssize_t w;
    int sig;

    (void)setpgid(0, 0);
    if (o->parent_death_sig != 0) {
        /* Without it, an entrypoint killed by SIGKILL (OOM killer, kill -9) would leave
         * lighttpd and the pool serving, orphaned, on the port.  Set after fork: we may
         * already be gone, then the signal would never come. */
        (void)prctl(PR_SET_PDEATHSIG, o->parent_death_sig);
        if (getppid() != ep_self)
            _exit(1);
    }
    if (o->take_terminal) {
        (void)signal(SIGTTOU, SIG_IGN);     /* tcsetpgrp from a background group */
        (void)tcsetpgrp(STDIN_FILENO, getpid());
    }
    for (sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)signal(sig, SIG_DFL);
    }
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    if (o->only_std_fds)
        fds_mark_cloexec();
    if (o->fd2_source > 0 && dup2(o->fd2_source, STDERR_FILENO) < 0) {
        f.err = errno;
        goto fail;
    }
    if (o->stdout_as_fd3) {
        if (report_fd == 3)
            report_fd = fcntl(3, F_DUPFD_CLOEXEC, 4);
        if (report_fd < 0 ||
            dup2(o->fd3_source > 0 ? o->fd3_source : STDOUT_FILENO, 3) < 0) {
            f.fd3 = 1;
            f.err = errno;
            goto fail;
        }
    }
    if (o->search_path)
        execvp(argv[0], argv);
    else
        execv(argv[0], argv);
    f.err = errno;
fail:
    w = write(report_fd, &f, sizeof f);
    (void)w;
    _exit(f.err == ENOENT || f.err == ENOTDIR ? 127 : 126);
}

/* Fork and exec argv as c.  Returns 0 once exec succeeded; -1 with err when it did not,
 * in which case a child that was forked has already been reaped into c->status. */
static int child_spawn(struct child *c, char *const argv[], const struct spawn_opts *o,
                       char *err, size_t errlen)
{
    struct exec_failure f;
    int fds[2];
    ssize_t n;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe2: %s", strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork for %s: %s", argv[0], strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        child_exec(argv, o, fds[1]);
    }
    close(fds[1]);
    do {
        n = read(fds[0], &f, sizeof f);
    } while (n < 0 && errno == EINTR);
    close(fds[0]);
    c->pid = pid;
    c->running = 1;
    if (n != (ssize_t)sizeof f)
        return 0;   /* EOF: the exec closed the pipe */
    while (waitpid(pid, &c->status, 0) < 0 && errno == EINTR)
        ;
    c->running = 0;
    c->reported = 1;
    if (f.fd3)
        snprintf(err, errlen, "dup2 stdout to fd 3 for %s: %s", argv[0], strerror(f.err));
    else
        snprintf(err, errlen, "exec %s: %s", argv[0], strerror(f.err));
    return -1;
}

/* Send sig to c if it still runs; stopping records it as a signal meant to stop it. */
static void child_signal(struct child *c, int sig, int stopping)
{
    char nb[SIGNAME_MAX];

    if (!c->running)
        return;
    if (stopping && sig < 32)
        c->stop_sigs |= 1u << sig;
    if (kill(c->pid, sig) != 0 && errno != ESRCH)
        log_msg(LV_ERROR, "kill %s (pid %d) with %s: %s", c->name, (int)c->pid,
                signal_name(sig, nb, sizeof nb), strerror(errno));
}

/* Exit code the shell would give for a wait status. */
static int status_exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

/* Did c end the way a stop expects: exit 0, or the stop signal we sent it? */
static int child_stopped_cleanly(const struct child *c)
{
    if (c->pid == 0)
        return 1;           /* never started */
    if (c->running || c->killed)
        return 0;
    if (WIFEXITED(c->status))
        return WEXITSTATUS(c->status) == 0;
    if (WIFSIGNALED(c->status))
        return WTERMSIG(c->status) < 32 && (c->stop_sigs & (1u << WTERMSIG(c->status))) != 0;
    return 0;
}

static void ll_child(struct logline *l, const struct child *c)
{
    char nb[SIGNAME_MAX];

    ll_str(l, "child", c->name);
    ll_int(l, "pid", c->pid);
    if (c->running)
        return;
    if (WIFEXITED(c->status))
        ll_int(l, "status", WEXITSTATUS(c->status));
    else if (WIFSIGNALED(c->status))
        ll_str(l, "signal", signal_name(WTERMSIG(c->status), nb, sizeof nb));
}

/* Reap every exited child without blocking; ours are recorded in kids[], the others
 * are orphans re-parented to us. */
static void reap(struct child *const kids[], size_t nkids)
{
    int orphans = 0;

    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        size_t i;

        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0 && errno != ECHILD)
            log_msg(LV_ERROR, "waitpid: %s", strerror(errno));
        if (pid <= 0)
            break;
        for (i = 0; i < nkids; i++) {
            if (kids[i]->running && kids[i]->pid == pid) {
                kids[i]->running = 0;
                kids[i]->status = status;
                break;
            }
        }
        if (i == nkids)
            orphans++;
    }
    if (orphans > 0)
        log_msg(LV_DEBUG, "reaped %d orphan%s", orphans, orphans == 1 ? "" : "s");
}

/* -------------------------------------------------------------- tini mode */

/* Is our process group the terminal's foreground group (so the child may take it)? */
static int terminal_is_ours(void)
{
    return isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
}

/* Run prog until it ends; forward every signal to it, reap everything. */
static int tini_run(char **prog)
{
    struct child c = { .name = prog[0] };
    struct child *kids[] = { &c };
    struct spawn_opts o = { .search_path = 1, .take_terminal = terminal_is_ours() };
    char err[EP_ERR_MAX];

    if (child_spawn(&c, prog, &o, err, sizeof err) != 0) {
        log_msg(LV_ERROR, "%s", err);
        return c.pid > 0 ? status_exit_code(c.status) : 1;
    }
    for (;;) {
        siginfo_t info;
        int sig = signal_wait(EP_TICK_MS, &info);

        if (sig > 0 && sig != SIGCHLD) {
            char nb[SIGNAME_MAX];

            log_msg(LV_DEBUG, "forwarding %s to %s", signal_name(sig, nb, sizeof nb), c.name);
            child_signal(&c, sig, 0);
        }
        reap(kids, 1);
        if (!c.running)
            break;
    }
    if (log_threshold <= LV_DEBUG) {
        struct logline l;

        ll_begin(&l, LV_DEBUG, "%s ended", c.name);
        ll_child(&l, &c);
        ll_end(&l);
    }
    return status_exit_code(c.status);
}

/* ------------------------------------------------------- supervised mode */

enum phase {
    PH_STARTING,        /* pool started, waiting for its socket */
    PH_RUNNING,         /* both up */
    PH_DRAINING,        /* flag created, waiting the drain delay */
    PH_STOP_LIGHTTPD,   /* lighttpd has SIGINT, waiting for it */
    PH_STOP_POOL,       /* pool has SIGTERM, waiting for it */
    PH_STOP_BOTH,       /* SIGQUIT: both have SIGTERM */
    PH_DONE,
};

enum stop_kind { STOP_GRACEFUL, STOP_IMMEDIATE, STOP_FAILURE };

/* Where a signal received in supervised mode goes; the zero value is "both children". */
enum route { ROUTE_DROP = 0, ROUTE_POOL, ROUTE_LIGHTTPD, ROUTE_STOP, ROUTE_QUIT, ROUTE_REAP };

static const unsigned char signal_routes[NSIG] = {
    [SIGTERM] = ROUTE_STOP,
    [SIGINT]  = ROUTE_STOP,
    [SIGQUIT] = ROUTE_QUIT,
    [SIGCHLD] = ROUTE_REAP,
    [SIGHUP]  = ROUTE_POOL,         /* hot swap of the workers */
    [SIGUSR2] = ROUTE_POOL,         /* reserved for the pool */
    [SIGUSR1] = ROUTE_LIGHTTPD,     /* lighttpd's graceful restart */
};

struct supervisor {
    const struct settings *cfg;
    struct child pool;
    struct child httpd;
    char *pool_argv[2];
    char *httpd_argv[5];
    enum phase phase;
    int stopping;
    long long started_at;       /* pool spawn time */
    long long next_probe;       /* PH_STARTING */
    long long drain_end;        /* PH_DRAINING */
    long long budget_end;       /* once stopping */
    int exit_code;              /* -1 until a failure decides it */
    char probe_err[EP_ERR_MAX]; /* why the last readiness probe failed */
};

static void sup_init(struct supervisor *s, const struct settings *cfg)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->pool.name = "pool";
    s->httpd.name = "lighttpd";
    s->pool_argv[0] = (char *)cfg->pool_bin;
    s->httpd_argv[0] = (char *)cfg->lighttpd;
    s->httpd_argv[1] = "-D";
    s->httpd_argv[2] = "-f";
    s->httpd_argv[3] = (char *)cfg->lighttpd_conf;
    s->exit_code = -1;
    snprintf(s->probe_err, sizeof s->probe_err, "no probe yet");
}

/* mkdir $MCPGW_RUNTIME_DIR if missing; remove a draining flag left by an earlier run. */
static int runtime_dir_prepare(const struct settings *cfg, char *err, size_t errlen)
{
    if (mkdir(cfg->runtime_dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "mkdir %s: %s", cfg->runtime_dir, strerror(errno));
        return -1;
    }
    if (unlink(cfg->draining) == 0) {
        log_msg(LV_INFO, "removed a stale draining flag %s", cfg->draining);
        return 0;
    }
    if (errno != ENOENT) {
        snprintf(err, errlen, "unlink %s: %s", cfg->draining, strerror(errno));
        return -1;
    }
    return 0;
}

/* The answers lighttpd makes itself (a body over the cap, a path it does not forward, a
 * worker that died mid-request) carry an HTML page by default; MCP clients expect
 * JSON-RPC.  lighttpd.conf points server.errorfile-prefix at these files, written
 * here at every start: one JSON-RPC error per status, naming what went wrong. */
static int error_pages_write(const struct settings *cfg, char *err, size_t errlen)
{
    static const struct {
        int status;
        const char *msg;
    } pages[] = {
        { 400, "bad HTTP request" },
        { 403, "forbidden: only /mcp, /health, /ready, /status and /.well-known/ are served" },
        { 404, "not found" },
        { 408, "the request did not arrive in time" },
        { 411, "Content-Length required" },
        { 413, NULL },  /* with the cap, below */
        { 414, "request URI too long" },
        { 417, "Expect is not supported" },
        { 431, "request headers too large" },
        { 500, "the worker serving this request ended without answering (it crashed or ran "
               "past MCPGW_REQUEST_TIMEOUT)" },
        { 501, "not implemented" },
        { 502, "the worker's answer could not be read" },
        { 503, "no worker is taking requests now; try again shortly" },
        { 504, "the worker did not answer in time" },
    };
    const char *kb = getenv("MCPGW_MAX_BODY_KB");

    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        char path[EP_PATH_MAX + 64], msg[256], body[512];
        int fd, n;
        ssize_t w;

        snprintf(path, sizeof path, "%s/lighttpd-error-%d.html", cfg->runtime_dir,
                 pages[i].status);
        if (pages[i].status == 413)
            snprintf(msg, sizeof msg, "request body over %s KiB (MCPGW_MAX_BODY)",
                     kb != NULL ? kb : "?");
        else
            snprintf(msg, sizeof msg, "%s", pages[i].msg);
        n = snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":%d,"
                     "\"message\":\"HTTP %d: %s\"}}\n", pages[i].status < 500 ? -32600 : -32603,
                     pages[i].status, msg);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            snprintf(err, errlen, "open %s: %s", path, strerror(errno));
            return -1;
        }
        w = write(fd, body, (size_t)n);
        close(fd);
        if (w != n) {
            snprintf(err, errlen, "write %s: %s", path, w < 0 ? strerror(errno) : "short");
            return -1;
        }
    }
    return 0;
}

static void draining_flag_create(const struct settings *cfg)
{
    int fd = open(cfg->draining, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0) {
        log_msg(LV_ERROR, "create draining flag %s: %s", cfg->draining, strerror(errno));
        return;
    }
    close(fd);
    log_msg(LV_INFO, "draining flag %s created", cfg->draining);
}

/* A line about child c, with its name, pid and (once it ended) how it ended. */
__attribute__((format(printf, 3, 4)))
static void sup_log_child(enum level lv, const struct child *c, const char *fmt, ...)
{
    struct logline l;
    va_list ap;

    va_start(ap, fmt);
    ll_vbegin(&l, lv, fmt, ap);
    va_end(ap);
    ll_child(&l, c);
    ll_end(&l);
}

static int pool_start(struct supervisor *s, char *err, size_t errlen)
{
    struct spawn_opts o = { .only_std_fds = 1, .parent_death_sig = SIGTERM };

    if (child_spawn(&s->pool, s->pool_argv, &o, err, errlen) != 0)
        return -1;
    s->started_at = mono_ms();
    s->next_probe = s->started_at;
    s->phase = PH_STARTING;
    sup_log_child(LV_INFO, &s->pool, "pool started");
    return 0;
}

/* Signals that would end a relay before its writer: a terminal's ^C reaches our whole
 * process group, and a relay that died first would cost lighttpd's last lines. */
static void relay_ignore_stop_signals(void)
{
    static const int sigs[] = { SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2 };
    sigset_t none;

    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        (void)signal(sigs[i], SIG_IGN);
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* A relay: a child of ours that reads what lighttpd writes into a pipe and passes it on
 * with copy(read_end), which returns at end of file (lighttpd, the only writer, is gone).
 * It is an ordinary child, which the reaper collects.  Returns the pipe's write end for
 * lighttpd, or -1 with err naming what (for messages). */
static int relay_start(const char *what, void (*copy)(int fd), char *err, size_t errlen)
{
    int fds[2];
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe2 for %s: %s", what, strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork for the relay of %s: %s", what, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        relay_ignore_stop_signals();
        close(fds[1]);
        copy(fds[0]);
        _exit(0);
    }
    close(fds[0]);
    return fds[1];
}

static void write_all_or_exit(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(1);
        p += w;
        n -= (size_t)w;
    }
}

/* The access log relay's copy.  lighttpd escapes quotes and control characters in its
 * JSON lines but passes bytes above 0x7f through as they came in the request line, so a
 * client could put invalid UTF-8 on our stdout: such a byte becomes the escape \ufffd
 * (it can only stand inside a string).  A sequence cut by a read waits for the next. */
static void access_log_copy(int fd)
{
    unsigned char in[16384];
    char out[sizeof in * 6];
    size_t have = 0;

    for (;;) {
        ssize_t n = read(fd, in + have, sizeof in - have);
        size_t i, o;

        if (n < 0 && errno == EINTR)
            continue;
        have += n > 0 ? (size_t)n : 0;
        o = utf8_repair_into(out, in, have, "\\ufffd", 6, n > 0, &i);
        write_all_or_exit(STDOUT_FILENO, out, o);
        memmove(in, in + i, have - i);
        have -= i;
        if (n <= 0)
            return;
    }
}

/* lighttpd opens its access log as /proc/self/fd/3.  It always gets a pipe there, and a
 * relay copies what comes through to our stdout (access_log_copy): opening our stdout
 * itself would fail when it is a socket (ENXIO, under some supervisors and test
 * harnesses) or belongs to another user than lighttpd runs as (EACCES, under sudo -u or
 * setpriv), and lighttpd lets invalid UTF-8 from request lines through.  Returns the
 * pipe's write end, or -1 with err. */
static int access_log_relay(char *err, size_t errlen)
{
    struct stat st;

    if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
        /* lighttpd's open of /proc/self/fd/3 makes a new O_APPEND file description at
         * the end of the file; everyone else writes through ours at its own offset and
         * would overwrite lighttpd's lines (`entrypoint > log`).  Appending on ours too
         * keeps every line. */
        for (int fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++) {
            int fl = fcntl(fd, F_GETFL);

            if (fl >= 0 && !(fl & O_APPEND))
                (void)fcntl(fd, F_SETFL, fl | O_APPEND);
        }
    }
    return relay_start("the access log", access_log_copy, err, errlen);
}

/* One line lighttpd wrote to stderr, as one of our JSON lines.  lighttpd's own form is
 * "YYYY-MM-DD HH:MM:SS: (file.c.NNN) text" in local time: the stamp goes (ours is UTC),
 * the rest is the message.  lighttpd has no levels; its startup, shutdown and "[note]"
 * lines are info, everything else (a backend that died, a refused request) warn. */
static void errorlog_line(char *line, size_t n)
{
    static const char *const info[] = { "[note]", "server started", "server stopped",
                                         "graceful shutdown" };
    enum level lv = LV_WARN;
    struct logline l;
    char *text = line;

    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
        n--;
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\0')
            line[i] = '?';      /* a C string would end there and lose the rest */
    line[n] = '\0';
    if (n == 0)
        return;
    if (n > 21 && line[4] == '-' && line[10] == ' ' && line[19] == ':' && line[20] == ' ')
        text = line + 21;
    for (size_t i = 0; i < sizeof info / sizeof info[0]; i++)
        if (strstr(text, info[i]) != NULL)
            lv = LV_INFO;
    ll_begin(&l, lv, "%s", text);
    ll_end(&l);
}

/* lighttpd's own messages are plain text on its stderr; every other line of ours is JSON.
 * A relay reads lighttpd's stderr and writes each line as JSON with
 * "component":"lighttpd" (errorlog_line) to our stderr.  Returns the pipe's write end,
 * or -1 with err. */
static void errorlog_copy(int fd)
{
    char buf[EP_LOG_MAX / 2];
    size_t have = 0;

    log_component = "lighttpd";
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        size_t start = 0;
        char *nl;

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            errorlog_line(buf, have);
            return;
        }
        have += (size_t)n;
        while ((nl = memchr(buf + start, '\n', have - start)) != NULL) {
            errorlog_line(buf + start, (size_t)(nl - (buf + start)));
            start = (size_t)(nl - buf) + 1;
        }
        memmove(buf, buf + start, have - start);
        have -= start;
        if (have == sizeof buf - 1) {      /* a line longer than ours: cut it */
            errorlog_line(buf, have);
            have = 0;
        }
    }
}

static int errorlog_relay(char *err, size_t errlen)
{
    return relay_start("lighttpd's stderr", errorlog_copy, err, errlen);
}

static int lighttpd_start(struct supervisor *s, char *err, size_t errlen)
{
    struct spawn_opts o = { .search_path = 1, .only_std_fds = 1, .stdout_as_fd3 = 1,
                            .parent_death_sig = SIGINT };   /* its graceful stop */
    int relay = access_log_relay(err, errlen), errlog, rc;

    if (relay < 0)
        return -1;
    errlog = errorlog_relay(err, errlen);
    if (errlog < 0) {
        close(relay);
        return -1;
    }
    o.fd3_source = relay;
    o.fd2_source = errlog;
    rc = child_spawn(&s->httpd, s->httpd_argv, &o, err, errlen);
    close(relay);
    close(errlog);
    if (rc != 0)
        return -1;
    sup_log_child(LV_INFO, &s->httpd, "lighttpd started");
    return 0;
}

/* lighttpd.conf reads its settings from the environment and refuses to start when one
 * is unset, so give each the documented default (children inherit our environment).
 * MCPGW_MAX_BODY_KB is derived from MCPGW_MAX_BODY so that lighttpd and the workers
 * enforce the same cap; the pool validates MCPGW_MAX_BODY itself. */
/* Give name its default when it is unset or empty: we read an empty variable as unset,
 * so lighttpd (which would take "" as a value: MCPGW_BIND= would listen on every
 * address) must see the same default. */
static void env_default(const char *name, const char *value)
{
    if (env_get(name) == NULL)
        (void)setenv(name, value, 1);
}

static void lighttpd_env_defaults(const struct settings *cfg)
{
    const char *body = env_get("MCPGW_MAX_BODY"), *lane;
    long bytes = 1048576;
    char kb[32], lane_def[EP_PATH_MAX + 16];
    int grace;

    env_default("MCPGW_BIND", "127.0.0.1");
    env_default("MCPGW_PORT", "8080");
    env_default("MCPGW_RUNTIME_DIR", cfg->runtime_dir);
    env_default("MCPGW_SOCKET", cfg->fcgi.text);
    /* The pool's status lane: the pool takes the same default when this is unset (beside
     * a unix socket; none for TCP), and lighttpd sends /health and /status there. */
    lane = env_get("MCPGW_STATUS_SOCKET");
    if (lane == NULL) {
        if (cfg->fcgi.text[0] == '/')
            snprintf(lane_def, sizeof lane_def, "%s/status.sock", cfg->runtime_dir);
        else
            snprintf(lane_def, sizeof lane_def, "off");
        (void)setenv("MCPGW_STATUS_SOCKET", lane_def, 1);
        lane = lane_def;
    }
    (void)setenv("MCPGW_STATUS_BACKEND", strcmp(lane, "off") == 0 ? cfg->fcgi.text : lane, 1);
    env_default("MCPGW_KEEPALIVE_IDLE", "75");
    /* lighttpd writes local time into its access log; every other line is UTC.  A POSIX
     * TZ string needs no zoneinfo files (the image has none).  The pool logs in UTC
     * whatever TZ says, so setting it for both children changes nothing else. */
    (void)setenv("TZ", "UTC0", 1);
    if (body != NULL)
        (void)parse_uint(body, strlen(body), 1, 1L << 30, &bytes);
    snprintf(kb, sizeof kb, "%ld", (bytes + 1023) / 1024);
    (void)setenv("MCPGW_MAX_BODY_KB", kb, 1);
    /* lighttpd's graceful stop waits for requests in flight at most this long, leaving
     * the pool EP_POOL_STOP_RESERVE_S of the budget for its own stop. */
    grace = cfg->stop_budget - cfg->drain_delay - EP_POOL_STOP_RESERVE_S;
    snprintf(kb, sizeof kb, "%d", grace > 1 ? grace : 1);
    (void)setenv("MCPGW_LIGHTTPD_GRACE", kb, 1);
}

/* Entering a phase performs its action once. */
static void sup_enter(struct supervisor *s, enum phase ph)
{
    s->phase = ph;
    switch (ph) {
    case PH_DRAINING:
        s->drain_end = mono_ms() + (long long)s->cfg->drain_delay * 1000;
        log_msg(LV_INFO, "draining for %d s before stopping lighttpd", s->cfg->drain_delay);
        break;
    case PH_STOP_LIGHTTPD:
        if (s->httpd.running) {
            sup_log_child(LV_INFO, &s->httpd, "stopping lighttpd gracefully (SIGINT)");
            child_signal(&s->httpd, SIGINT, 1);
        }
        break;
    case PH_STOP_POOL:
        if (s->pool.running) {
            sup_log_child(LV_INFO, &s->pool, "stopping the pool gracefully (SIGTERM)");
            child_signal(&s->pool, SIGTERM, 1);
        }
        break;
    case PH_STOP_BOTH:
        log_msg(LV_INFO, "stopping both children now (SIGTERM)");
        if ((s->httpd.stop_sigs & (1u << SIGTERM)) == 0)
            child_signal(&s->httpd, SIGTERM, 1);
        if ((s->pool.stop_sigs & (1u << SIGTERM)) == 0)
            child_signal(&s->pool, SIGTERM, 1);
        break;
    case PH_STARTING:
    case PH_RUNNING:
    case PH_DONE:
        break;
    }
}

static void sup_begin_stop(struct supervisor *s, enum stop_kind kind, const char *why)
{
    enum phase from = s->phase;

    s->stopping = 1;
    s->budget_end = mono_ms() + (long long)s->cfg->stop_budget * 1000;
    log_msg(kind == STOP_FAILURE ? LV_ERROR : LV_INFO, "stopping: %s (budget %d s)", why,
            s->cfg->stop_budget);
    draining_flag_create(s->cfg);
    if (kind == STOP_IMMEDIATE)
        sup_enter(s, PH_STOP_BOTH);
    else if (kind == STOP_GRACEFUL && from == PH_RUNNING && s->cfg->drain_delay > 0)
        sup_enter(s, PH_DRAINING);
    else
        sup_enter(s, PH_STOP_LIGHTTPD);
}

static void sup_forward(struct child *c, int sig, const char *name, enum level lv)
{
    if (!c->running) {
        log_msg(LV_INFO, "%s not forwarded: %s is not running", name, c->name);
        return;
    }
    log_msg(lv, "forwarding %s to %s", name, c->name);
    child_signal(c, sig, 0);
}

static void sup_on_signal(struct supervisor *s, int sig, const siginfo_t *info)
{
    char nb[SIGNAME_MAX];
    char why[64];
    const char *name = signal_name(sig, nb, sizeof nb);
    enum route r = sig > 0 && sig < NSIG ? (enum route)signal_routes[sig] : ROUTE_DROP;

    if (r == ROUTE_REAP)
        return;
    if (r == ROUTE_STOP || r == ROUTE_QUIT) {
        struct logline l;

        ll_begin(&l, LV_INFO, "received %s", name);
        ll_int(&l, "from_pid", info->si_pid);
        ll_end(&l);
    }
    snprintf(why, sizeof why, "received %s", name);
    if (r == ROUTE_STOP && !s->stopping) {
        sup_begin_stop(s, STOP_GRACEFUL, why);
    } else if (r == ROUTE_STOP && s->phase == PH_DRAINING) {
        log_msg(LV_INFO, "second %s: ending the drain delay now", name);
        s->drain_end = mono_ms();
    } else if (r == ROUTE_QUIT && !s->stopping) {
        sup_begin_stop(s, STOP_IMMEDIATE, why);
    } else if (r == ROUTE_QUIT && s->phase != PH_STOP_BOTH) {
        sup_enter(s, PH_STOP_BOTH);
    } else if (s->stopping) {
        log_msg(LV_INFO, "%s ignored: already stopping", name);
    } else if (r == ROUTE_DROP) {
        /* tini passes every signal on, because its child is the application.  Ours are
         * two known programs, and a signal neither uses (ALRM, PWR, XCPU, ...) would
         * only end one of them by its default action, taking the gateway down. */
        log_msg(LV_INFO, "%s ignored: neither lighttpd nor the pool uses it", name);
    } else if (r == ROUTE_POOL && s->phase == PH_STARTING) {
        /* Until it is ready the pool may not handle signals yet (a SIGHUP would end it),
         * and it is starting from the program on disk anyway. */
        log_msg(LV_INFO, "%s not forwarded: the pool is still starting", name);
    } else {
        /* HUP, USR1, USR2 ask one child for something (reload, restart): worth a line */
        sup_forward(r == ROUTE_POOL ? &s->pool : &s->httpd, sig, name, LV_INFO);
    }
}

/* Log every child end once, with the level its context deserves. */
static void sup_report_exits(struct supervisor *s)
{
    struct child *kids[] = { &s->pool, &s->httpd };
    size_t i;

    for (i = 0; i < 2; i++) {
        struct child *c = kids[i];

        if (c->pid == 0 || c->running || c->reported)
            continue;
        c->reported = 1;
        if (s->stopping && child_stopped_cleanly(c))
            sup_log_child(LV_INFO, c, "%s stopped", c->name);
        else if (s->stopping)
            sup_log_child(LV_WARN, c, "%s ended badly during the stop", c->name);
        else
            sup_log_child(LV_ERROR, c, "%s ended on its own", c->name);
    }
}

static void sup_check_start(struct supervisor *s)
{
    char err[EP_ERR_MAX];
    char why[EP_ERR_MAX + 64];
    long long now = mono_ms();

    if (!s->pool.running) {
        int code = status_exit_code(s->pool.status);

        /* The pool's own code says why (2: a bad setting); a clean exit here is still
         * a failure. */
        s->exit_code = code != 0 ? code : 1;
        sup_begin_stop(s, STOP_FAILURE, "the pool exited before its socket accepted a connection");
        return;
    }
    if (now >= s->next_probe) {
        s->next_probe = now + EP_PROBE_MS;
        if (probe_ready(&s->cfg->fcgi, s->probe_err, sizeof s->probe_err) == 0) {
            struct logline l;

            ll_begin(&l, LV_INFO, "pool ready");
            ll_str(&l, "socket", s->cfg->fcgi.text);
            ll_int(&l, "after_ms", mono_ms() - s->started_at);
            ll_end(&l);
            if (lighttpd_start(s, err, sizeof err) != 0) {
                snprintf(why, sizeof why, "lighttpd did not start: %s", err);
                s->exit_code = 1;
                sup_begin_stop(s, STOP_FAILURE, why);
                return;
            }
            s->phase = PH_RUNNING;
            return;
        }
    }
    if (mono_ms() >= s->started_at + (long long)s->cfg->start_timeout * 1000) {
        snprintf(why, sizeof why, "the pool was not ready after %d s (%s)",
                 s->cfg->start_timeout, s->probe_err);
        s->exit_code = 1;
        sup_begin_stop(s, STOP_FAILURE, why);
    }
}

static void sup_check_running(struct supervisor *s)
{
    struct child *dead = !s->pool.running ? &s->pool : !s->httpd.running ? &s->httpd : NULL;
    char why[96];
    int code;

    if (dead == NULL)
        return;
    code = status_exit_code(dead->status);
    s->exit_code = code != 0 ? code : 1;
    snprintf(why, sizeof why, "%s ended on its own", dead->name);
    sup_begin_stop(s, STOP_FAILURE, why);
}

/* The budget ran out: SIGKILL every child's process group, reap what we can, done. */
static void sup_budget_spent(struct supervisor *s)
{
    struct child *kids[] = { &s->pool, &s->httpd };
    long long until = mono_ms() + EP_KILL_GRACE_MS;
    size_t i;

    log_msg(LV_ERROR, "stop budget of %d s spent", s->cfg->stop_budget);
    for (i = 0; i < 2; i++) {
        if (!kids[i]->running)
            continue;
        sup_log_child(LV_ERROR, kids[i], "killing %s (SIGKILL to its process group)",
                      kids[i]->name);
        kids[i]->killed = 1;
        (void)kill(-kids[i]->pid, SIGKILL);
        (void)kill(kids[i]->pid, SIGKILL);
    }
    while ((s->pool.running || s->httpd.running) && mono_ms() < until) {
        siginfo_t info;
        sigset_t chld;
        struct timespec ts = ms_to_timespec(until - mono_ms());

        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        (void)sigtimedwait(&chld, &info, &ts);
        reap(kids, 2);
    }
    for (i = 0; i < 2; i++) {
        if (kids[i]->pid != 0 && !kids[i]->running && !kids[i]->reported) {
            kids[i]->reported = 1;
            sup_log_child(LV_ERROR, kids[i], "%s killed", kids[i]->name);
        }
    }
    if (s->exit_code < 0)
        s->exit_code = 1;
    s->phase = PH_DONE;
}

/* Advance the state machine as far as the current facts allow. */
static void sup_step(struct supervisor *s)
{
    enum phase before;

    do {
        before = s->phase;
        sup_report_exits(s);
        switch (s->phase) {
        case PH_STARTING:
            sup_check_start(s);
            break;
        case PH_RUNNING:
            sup_check_running(s);
            break;
        case PH_DRAINING:
            if (mono_ms() >= s->drain_end || !s->pool.running || !s->httpd.running)
                sup_enter(s, PH_STOP_LIGHTTPD);
            break;
        case PH_STOP_LIGHTTPD:
            if (!s->httpd.running)
                sup_enter(s, PH_STOP_POOL);
            break;
        case PH_STOP_POOL:
            if (!s->pool.running)
                sup_enter(s, PH_DONE);
            break;
        case PH_STOP_BOTH:
            if (!s->pool.running && !s->httpd.running)
                sup_enter(s, PH_DONE);
            break;
        case PH_DONE:
            break;
        }
        if (s->stopping && s->phase != PH_DONE && mono_ms() >= s->budget_end)
            sup_budget_spent(s);
    } while (s->phase != before);
}

/* How long the loop may sleep before the next deadline. */
static long long sup_wait_ms(const struct supervisor *s)
{
    long long now = mono_ms();
    long long until = now + EP_TICK_MS;

    if (s->phase == PH_STARTING && s->next_probe < until)
        until = s->next_probe;
    if (s->phase == PH_DRAINING && s->drain_end < until)
        until = s->drain_end;
    if (s->stopping && s->budget_end < until)
        until = s->budget_end;
    return until > now ? until - now : 0;
}

static int sup_exit_code(const struct supervisor *s)
{
    int code = s->exit_code;

    if (code < 0)
        code = child_stopped_cleanly(&s->pool) && child_stopped_cleanly(&s->httpd) ? 0 : 1;
    log_msg(code == 0 ? LV_INFO : LV_ERROR, "exiting with status %d", code);
    return code;
}

static int supervise_loop(struct supervisor *s)
{
    struct child *kids[] = { &s->pool, &s->httpd };

    sup_step(s);
    while (s->phase != PH_DONE) {
        siginfo_t info;
        int sig = signal_wait(sup_wait_ms(s), &info);

        if (sig > 0)
            sup_on_signal(s, sig, &info);
        reap(kids, 2);
        sup_step(s);
    }
    /* Both children are gone: the flag has done its work, and leaving it would only
     * make the next start in this folder report a stale one. */
    if (unlink(s->cfg->draining) != 0 && errno != ENOENT)
        log_msg(LV_WARN, "unlink %s: %s", s->cfg->draining, strerror(errno));
    return sup_exit_code(s);
}

static int supervise_run(const struct settings *cfg)
{
    static struct supervisor s;
    char err[EP_ERR_MAX];
    struct logline l;

    sup_init(&s, cfg);
    lighttpd_env_defaults(cfg);
    ll_begin(&l, LV_INFO, "starting the gateway");
    ll_int(&l, "pid", getpid());
    ll_str(&l, "pool", cfg->pool_bin);
    ll_str(&l, "lighttpd", cfg->lighttpd);
    ll_str(&l, "lighttpd_conf", cfg->lighttpd_conf);
    ll_str(&l, "socket", cfg->fcgi.text);
    ll_end(&l);
    if (runtime_dir_prepare(cfg, err, sizeof err) != 0 ||
        error_pages_write(cfg, err, sizeof err) != 0 ||
        pool_start(&s, err, sizeof err) != 0) {
        log_msg(LV_ERROR, "%s", err);
        log_msg(LV_ERROR, "exiting with status 1");
        return 1;
    }
    return supervise_loop(&s);
}

/* ------------------------------------------------------------------ main */

enum mode { MODE_SUPERVISE, MODE_TINI, MODE_HEALTH, MODE_HELP };

static void usage(FILE *to)
{
    fprintf(to,
            "usage: mcpgw-entrypoint               supervise the pool and lighttpd\n"
            "       mcpgw-entrypoint -- PROG ARGS  run one program as a tini-like init\n"
            "       mcpgw-entrypoint --health      exit 0 when GET /health answers 200\n");
}

static int args_parse(int argc, char **argv, enum mode *mode, char ***prog)
{
    if (argc <= 1) {
        *mode = MODE_SUPERVISE;
        return 0;
    }
    if (strcmp(argv[1], "--health") == 0 && argc == 2) {
        *mode = MODE_HEALTH;
        return 0;
    }
    if (strcmp(argv[1], "--") == 0 && argc >= 3) {
        *mode = MODE_TINI;
        *prog = argv + 2;
        return 0;
    }
    if ((strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) && argc == 2) {
        *mode = MODE_HELP;
        return 0;
    }
    usage(stderr);
    return -1;
}

int main(int argc, char **argv)
{
    static struct settings cfg;
    enum mode mode = MODE_SUPERVISE;
    char **prog = NULL;
    char err[EP_ERR_MAX];

    if (args_parse(argc, argv, &mode, &prog) != 0)
        return EXIT_USAGE;
    if (mode == MODE_HELP) {
        usage(stdout);
        return 0;
    }
    std_fds_ensure();
    ep_self = getpid();
    if (mode == MODE_HEALTH)
        return health_run();
    if (settings_log_level(err, sizeof err) != 0 ||
        (mode == MODE_SUPERVISE && settings_load(&cfg, err, sizeof err) != 0)) {
        log_msg(LV_ERROR, "%s", err);
        return EXIT_USAGE;
    }
    if (signals_take_over(err, sizeof err) != 0) {
        log_msg(LV_ERROR, "%s", err);
        return 1;
    }
    subreaper_become();
    if (mode == MODE_TINI)
        return tini_run(prog);
    return supervise_run(&cfg);
}
