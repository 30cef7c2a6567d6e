/* SPDX-License-Identifier: MIT */
/* fakechild.c - stand-in for the pool, lighttpd or any program the entrypoint runs.
 *
 * It appends one line per event to a log shared by every helper of a scenario:
 *   <epoch microseconds> <name> <event> [details]
 * written with O_APPEND and a single write(2), so lines from several processes never
 * mix.  Events: start (pid, ppid, pgid, open fds, argv), file (whether --report-file
 * exists), listening (logged just BEFORE listen(2), so nothing can connect earlier than
 * the line), accept, signal NAME [ignored], orphan, orphans-gone, exit CODE, die NAME.
 *
 * Options (all optional except --name and --log):
 *   --listen-unix PATH | --listen-tcp PORT (127.0.0.1)   listen there, accept and close
 *   --listen-delay MS          wait before listening
 *   --on SIG=ACTION            ACTION: log (the default for every signal), ignore,
 *                              exit:CODE[:DELAY_MS], default (die by the signal)
 *   --exit-after MS:CODE       exit by itself;  --die-after MS:SIG  kill itself
 *   --orphans N:MS             N grandchildren via double fork that outlive their parent,
 *                              each logs its new ppid, lives MS more and exits;
 *                              "orphans-gone" once all of them have exited
 *   --report-file PATH         log whether PATH exists at start and at every signal
 *   --report-env NAME          log NAME's value in the environment at start
 *   --fd3-write TEXT           write TEXT and a newline to fd 3 at start
 *   --free-port                print a free 127.0.0.1 TCP port on stdout and exit
 *   -- ARGS...                 arguments it was given by the entrypoint (logged)
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum action { ACT_LOG = 0, ACT_IGNORE, ACT_EXIT, ACT_DEFAULT };

struct on_signal {
    enum action act;
    int code;
    long delay_ms;
};

static const char *name = "fake";
static int log_fd = -1;
static struct on_signal on[NSIG];

static long long now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 1, 2)))
static void event(const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    int n;
    ssize_t w;

    n = snprintf(line, sizeof line, "%lld %s ", now_us(), name);
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    w = write(log_fd, line, (size_t)n);
    (void)w;
}

static void die(const char *what)
{
    fprintf(stderr, "fakechild %s: %s: %s\n", name, what, strerror(errno));
    exit(99);
}

static int sig_from_name(const char *s)
{
    int sig;

    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    for (sig = 1; sig < NSIG; sig++) {
        const char *abbrev = sigabbrev_np(sig);

        if (abbrev != NULL && strcmp(abbrev, s) == 0)
            return sig;
    }
    sig = atoi(s);
    return sig > 0 && sig < NSIG ? sig : -1;
}

static const char *sig_name(int sig)
{
    static char buf[32];
    const char *abbrev = sigabbrev_np(sig);

    snprintf(buf, sizeof buf, "SIG%s", abbrev != NULL ? abbrev : "?");
    return buf;
}

static void report_file(const char *path)
{
    struct stat st;

    if (path != NULL)
        event("file %s %s", path, stat(path, &st) == 0 ? "exists" : "missing");
}

/* "0,1,2" for the fds open now, the directory's own fd left out. */
static void list_fds(char *out, size_t cap)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int fds[256];
    int n = 0;
    int i, j;
    size_t len = 0;

    out[0] = '\0';
    if (d == NULL)
        return;
    for (e = readdir(d); e != NULL; e = readdir(d)) {
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && atoi(e->d_name) != dirfd(d) && n < 256)
            fds[n++] = atoi(e->d_name);
    }
    closedir(d);
    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            if (fds[j] < fds[i]) {
                int t = fds[i];

                fds[i] = fds[j];
                fds[j] = t;
            }
        }
    }
    for (i = 0; i < n && len + 12 < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%d", i ? "," : "", fds[i]);
}

static void make_orphans(int n, long live_ms, int *gone_fd)
{
    int p[2];
    int i;

    if (pipe(p) != 0)
        die("pipe");
    for (i = 0; i < n; i++) {
        pid_t mid = fork();

        if (mid < 0)
            die("fork");
        if (mid == 0) {
            pid_t me = getpid();
            pid_t g = fork();

            if (g == 0) {
                long long until = mono_ms() + 3000;

                close(p[0]);
                while (getppid() == me && mono_ms() < until)
                    usleep(1000);
                event("orphan pid=%d ppid=%d", (int)getpid(), (int)getppid());
                usleep((useconds_t)live_ms * 1000);
                _exit(0);
            }
            _exit(g < 0 ? 1 : 0);
        }
        while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    close(p[1]);
    *gone_fd = p[0];
}

static int listen_unix(const char *path)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0)
        die("socket");
    snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
    unlink(path);
    if (bind(fd, (struct sockaddr *)&un, sizeof un) != 0)
        die("bind");
    event("listening %s", path);
    if (listen(fd, 64) != 0)
        die("listen");
    return fd;
}

static int listen_tcp(int port, int *bound)
{
    struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    socklen_t len = sizeof in;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0)
        die("socket");
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&in, sizeof in) != 0)
        die("bind");
    getsockname(fd, (struct sockaddr *)&in, &len);
    *bound = ntohs(in.sin_port);
    if (port != 0)
        event("listening 127.0.0.1:%d", *bound);
    if (listen(fd, 64) != 0)
        die("listen");
    return fd;
}

static void parse_on(const char *spec)
{
    char sname[32];
    const char *eq = strchr(spec, '=');
    int sig;

    if (eq == NULL || (size_t)(eq - spec) >= sizeof sname) {
        fprintf(stderr, "fakechild: bad --on %s\n", spec);
        exit(98);
    }
    memcpy(sname, spec, (size_t)(eq - spec));
    sname[eq - spec] = '\0';
    sig = sig_from_name(sname);
    if (sig < 0) {
        fprintf(stderr, "fakechild: bad signal %s\n", sname);
        exit(98);
    }
    eq++;
    if (strcmp(eq, "log") == 0) {
        on[sig].act = ACT_LOG;
    } else if (strcmp(eq, "ignore") == 0) {
        on[sig].act = ACT_IGNORE;
    } else if (strcmp(eq, "default") == 0) {
        on[sig].act = ACT_DEFAULT;
    } else if (strncmp(eq, "exit:", 5) == 0) {
        char *end;

        on[sig].act = ACT_EXIT;
        on[sig].code = (int)strtol(eq + 5, &end, 10);
        on[sig].delay_ms = *end == ':' ? strtol(end + 1, NULL, 10) : 0;
    } else {
        fprintf(stderr, "fakechild: bad action %s\n", eq);
        exit(98);
    }
}

static void die_by(int sig)
{
    sigset_t s;

    event("die %s", sig_name(sig));
    signal(sig, SIG_DFL);
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    raise(sig);
    _exit(97);
}

int main(int argc, char **argv)
{
    const char *log_path = NULL, *unix_path = NULL, *report = NULL, *fd3_text = NULL;
    const char *report_env = NULL;
    int tcp_port = -1, orphans = 0, exit_code = 0, die_sig = 0;
    long listen_delay = 0, orphan_ms = 0;
    long long exit_at = -1, die_at = -1, listen_at;
    char fds[512], args[2048];
    size_t alen = 0;
    int listen_fd = -1, sig_fd, gone_fd = -1;
    sigset_t all;
    int i;

    list_fds(fds, sizeof fds);      /* first, before this program opens anything */
    args[0] = '\0';
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : "";

        if (strcmp(a, "--") == 0) {
            for (i++; i < argc && alen + strlen(argv[i]) + 2 < sizeof args; i++)
                alen += (size_t)snprintf(args + alen, sizeof args - alen, "%s%s",
                                         alen ? "|" : "", argv[i]);
            break;
        }
        if (strcmp(a, "--free-port") == 0) {
            int port;

            listen_tcp(0, &port);
            printf("%d\n", port);
            return 0;
        }
        i++;
        if (strcmp(a, "--name") == 0) {
            name = v;
        } else if (strcmp(a, "--log") == 0) {
            log_path = v;
        } else if (strcmp(a, "--listen-unix") == 0) {
            unix_path = v;
        } else if (strcmp(a, "--listen-tcp") == 0) {
            tcp_port = atoi(v);
        } else if (strcmp(a, "--listen-delay") == 0) {
            listen_delay = atol(v);
        } else if (strcmp(a, "--on") == 0) {
            parse_on(v);
        } else if (strcmp(a, "--exit-after") == 0) {
            exit_at = mono_ms() + atol(v);
            exit_code = strchr(v, ':') ? atoi(strchr(v, ':') + 1) : 0;
        } else if (strcmp(a, "--die-after") == 0) {
            die_at = mono_ms() + atol(v);
            die_sig = strchr(v, ':') ? sig_from_name(strchr(v, ':') + 1) : SIGKILL;
        } else if (strcmp(a, "--orphans") == 0) {
            orphans = atoi(v);
            orphan_ms = strchr(v, ':') ? atol(strchr(v, ':') + 1) : 100;
        } else if (strcmp(a, "--report-file") == 0) {
            report = v;
        } else if (strcmp(a, "--report-env") == 0) {
            report_env = v;
        } else if (strcmp(a, "--fd3-write") == 0) {
            fd3_text = v;
        } else {
            fprintf(stderr, "fakechild: unknown option %s\n", a);
            return 98;
        }
    }
    if (log_path == NULL) {
        fprintf(stderr, "fakechild: --log is required\n");
        return 98;
    }
    log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (log_fd < 0)
        die("open log");

    /* Every signal except the synchronous ones arrives through the signalfd. */
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGABRT);
    sigprocmask(SIG_SETMASK, &all, NULL);
    sig_fd = signalfd(-1, &all, SFD_CLOEXEC);
    if (sig_fd < 0)
        die("signalfd");

    event("start pid=%d ppid=%d pgid=%d fds=%s argv=%s", (int)getpid(), (int)getppid(),
          (int)getpgrp(), fds, args);
    report_file(report);
    if (report_env != NULL)
        event("env %s=%s", report_env, getenv(report_env) != NULL ? getenv(report_env) : "(unset)");
    if (fd3_text != NULL) {
        char line[512];
        int n = snprintf(line, sizeof line, "%s\n", fd3_text);

        if (write(3, line, (size_t)n) != n)
            event("fd3-write failed: %s", strerror(errno));
    }
    if (orphans > 0)
        make_orphans(orphans, orphan_ms, &gone_fd);
    listen_at = (unix_path != NULL || tcp_port >= 0) ? mono_ms() + listen_delay : -1;

    for (;;) {
        struct pollfd p[3];
        int np = 0, timeout = 1000;
        long long now = mono_ms();
        long long next = now + 1000;

        if (listen_at >= 0 && listen_at < next)
            next = listen_at;
        if (exit_at >= 0 && exit_at < next)
            next = exit_at;
        if (die_at >= 0 && die_at < next)
            next = die_at;
        timeout = next > now ? (int)(next - now) : 0;
        p[np++] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
        p[np++] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
        p[np++] = (struct pollfd){ .fd = gone_fd, .events = POLLIN };
        if (poll(p, (nfds_t)np, timeout) < 0 && errno != EINTR)
            die("poll");
        now = mono_ms();
        if (p[0].revents & POLLIN) {
            struct signalfd_siginfo si;

            if (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
                int sig = (int)si.ssi_signo;
                struct on_signal *o = &on[sig];

                if (sig == SIGCHLD) {
                    while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                    continue;
                }
                event("signal %s%s", sig_name(sig), o->act == ACT_IGNORE ? " ignored" : "");
                report_file(report);
                if (o->act == ACT_DEFAULT)
                    die_by(sig);
                if (o->act == ACT_EXIT && exit_at < 0) {
                    exit_at = now + o->delay_ms;
                    exit_code = o->code;
                }
            }
        }
        if (listen_fd >= 0 && (p[1].revents & POLLIN)) {
            int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

            if (c >= 0) {
                event("accept");
                close(c);
            }
        }
        if (gone_fd >= 0 && (p[2].revents & (POLLIN | POLLHUP))) {
            char b;

            if (read(gone_fd, &b, 1) <= 0) {
                event("orphans-gone");
                close(gone_fd);
                gone_fd = -1;
            }
        }
        if (listen_at >= 0 && now >= listen_at) {
            int bound;

            listen_fd = unix_path != NULL ? listen_unix(unix_path) : listen_tcp(tcp_port, &bound);
            listen_at = -1;
        }
        if (die_at >= 0 && now >= die_at)
            die_by(die_sig);
        if (exit_at >= 0 && now >= exit_at) {
            event("exit %d", exit_code);
            return exit_code;
        }
    }
}
