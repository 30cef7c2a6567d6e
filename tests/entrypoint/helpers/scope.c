/* SPDX-License-Identifier: MIT */
/* scope.c - run one scenario with a time limit and kill everything it left behind.
 *
 *   scope SECONDS CMD ARGS...
 * Becomes a child subreaper, runs CMD, and waits at most SECONDS for it (then SIGKILL,
 * exit 124).  Afterwards every process still descending from the scope (orphans come to
 * it, being a subreaper) gets SIGKILL and is reaped, for at most 5 s; their number is
 * reported on stderr.  Exits with CMD's code, 128+N if signal N killed it.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 65536

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parent of pid; 0 when it is gone or a zombie (nothing left to kill, only to reap). */
static pid_t ppid_of(const char *pid)
{
    char path[300], buf[512];
    FILE *f;
    char *rp;
    char state = 'Z';
    int ppid = 0;

    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fgets(buf, sizeof buf, f) != NULL) {
        rp = strrchr(buf, ')');
        if (rp != NULL)
            sscanf(rp + 2, "%c %d", &state, &ppid);
    }
    fclose(f);
    return state == 'Z' ? 0 : ppid;
}

/* SIGKILL every descendant of this process; returns how many were found. */
static int kill_descendants(void)
{
    static pid_t pids[MAX_PROCS], ppids[MAX_PROCS];
    static char mark[MAX_PROCS];
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0, found = 0, changed = 1, i, j;

    if (d == NULL)
        return 0;
    for (e = readdir(d); e != NULL && n < MAX_PROCS; e = readdir(d)) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        pids[n] = atoi(e->d_name);
        ppids[n] = ppid_of(e->d_name);
        mark[n] = 0;
        n++;
    }
    closedir(d);
    while (changed) {
        changed = 0;
        for (i = 0; i < n; i++) {
            if (mark[i])
                continue;
            if (ppids[i] == getpid()) {
                mark[i] = 1;
                changed = 1;
                continue;
            }
            for (j = 0; j < n; j++) {
                if (mark[j] && pids[j] == ppids[i]) {
                    mark[i] = 1;
                    changed = 1;
                    break;
                }
            }
        }
    }
    for (i = 0; i < n; i++) {
        if (mark[i]) {
            kill(pids[i], SIGKILL);
            found++;
        }
    }
    return found;
}

int main(int argc, char **argv)
{
    long long deadline;
    int status = 0, rc = -1, leftovers = 0, found;
    sigset_t chld;
    pid_t cmd;

    if (argc < 3) {
        fprintf(stderr, "usage: scope SECONDS CMD ARGS...\n");
        return 98;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        perror("scope: prctl");
        return 98;
    }
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    deadline = mono_ms() + atol(argv[1]) * 1000;
    cmd = fork();
    if (cmd < 0) {
        perror("scope: fork");
        return 98;
    }
    if (cmd == 0) {
        sigprocmask(SIG_UNBLOCK, &chld, NULL);
        execvp(argv[2], argv + 2);
        perror("scope: exec");
        _exit(127);
    }
    while (rc < 0) {
        long long left = deadline - mono_ms();
        struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000 };
        pid_t p;

        if (left <= 0) {
            fprintf(stderr, "scope: timed out after %s s\n", argv[1]);
            kill(cmd, SIGKILL);
            waitpid(cmd, NULL, 0);
            rc = 124;
            break;
        }
        sigtimedwait(&chld, NULL, &ts);
        for (p = waitpid(-1, &status, WNOHANG); p > 0; p = waitpid(-1, &status, WNOHANG)) {
            if (p == cmd)
                rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
    }
    deadline = mono_ms() + 5000;
    for (;;) {
        found = kill_descendants();
        leftovers = found > leftovers ? found : leftovers;
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (found == 0 && waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
            break;
        if (mono_ms() > deadline) {
            fprintf(stderr, "scope: could not clean up within 5 s\n");
            break;
        }
        usleep(10000);
    }
    if (leftovers > 0)
        fprintf(stderr, "scope: killed %d leftover process%s\n", leftovers,
                leftovers == 1 ? "" : "es");
    return rc;
}
