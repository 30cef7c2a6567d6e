/* SPDX-License-Identifier: MIT */
/* test_pool.c - unit tests of the process manager with stand-in workers (shell scripts):
 * the worker command line, swap groups, start, respawn, hot swap accepted and refused,
 * the --reload command, graceful stop. */

#include "pool.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 3

static char dir[256], exe[320], conf[320], pid_file[320], swap_file[320], msg[512];
static pid_t master = -1;
static int listen_fd = -1;

/* A stand-in worker: records its configuration copy, reports ready, waits. */
static const char good_worker[] =
    "#!/bin/sh\n"
    "[ \"$1\" = --worker ] || exit 3\n"
    "cat /proc/self/fd/$6 > \"$TEST_POOL_DIR/conf.seen.$$\"\n"
    "printf R > /proc/$$/fd/$5\n"
    "exec sleep 60\n";
static const char broken_worker[] = "#!/bin/sh\nexit 1\n";
static const char silent_worker[] = "#!/bin/sh\nexec sleep 60\n";

static void write_file(const char *path, const char *text, mode_t mode)
{
    char tmp[400];
    FILE *fp;

    snprintf(tmp, sizeof(tmp), "%s.new", path);
    fp = fopen(tmp, "w");
    cr_assert_not_null(fp, "%s: %s", tmp, strerror(errno));
    fputs(text, fp);
    cr_assert_eq(fclose(fp), 0);
    cr_assert_eq(chmod(tmp, mode), 0);
    cr_assert_eq(rename(tmp, path), 0, "rename: %s", strerror(errno));  /* as deployments do */
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The master's children, from /proc; returns how many (up to cap). */
static int children(pid_t *out, int cap)
{
    char path[64], buf[1024];
    FILE *fp;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)master, (int)master);
    fp = fopen(path, "r");
    if (fp == NULL)
        return 0;
    if (fgets(buf, sizeof(buf), fp) != NULL)
        for (char *t = strtok(buf, " \n"); t != NULL && n < cap; t = strtok(NULL, " \n"))
            out[n++] = (pid_t)atoi(t);
    fclose(fp);
    return n;
}

static int wait_children(int want, int ms)
{
    pid_t k[64];
    long long end = now_ms() + ms;

    while (now_ms() < end) {
        if (children(k, 64) == want)
            return 1;
        usleep(20000);
    }
    return 0;
}

/* The configuration check given to the pool: a file saying "reject" is refused. */
static int check_conf(const char *text, void *ctx, char *err, size_t errlen)
{
    (void)ctx;
    if (strstr(text, "reject") != NULL) {
        snprintf(err, errlen, "the file says reject");
        return -1;
    }
    return 0;
}

static void start_pool(int start_timeout)
{
    const char *base = getenv("TMPDIR");
    pool_opts_t o;

    snprintf(dir, sizeof(dir), "%s/test_pool.XXXXXX", base != NULL && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(exe, sizeof(exe), "%s/worker", dir);
    snprintf(conf, sizeof(conf), "%s/upstreams.json", dir);
    snprintf(pid_file, sizeof(pid_file), "%s/pool.pid", dir);
    snprintf(swap_file, sizeof(swap_file), "%s/pool.swap", dir);
    write_file(exe, good_worker, 0755);
    write_file(conf, "first", 0644);
    setenv("TEST_POOL_DIR", dir, 1);    /* $0 of a script run from a descriptor is /dev/fd/N */
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(listen_fd, 0);
    cr_assert_eq(listen(listen_fd, 8), 0);     /* an ephemeral port on any address */
    o = (pool_opts_t){
        .mode = POOL_STATIC, .mode_name = "static", .max_children = WORKERS,
        .request_timeout = 0, .start_timeout = start_timeout, .stop_timeout = 5,
        .exe = exe, .conf_path = conf, .conf_max = 4096, .conf_check = check_conf,
        .pid_file = pid_file, .swap_file = swap_file,
    };
    master = fork();
    cr_assert_geq(master, 0);
    if (master == 0) {
        char log[320];
        int fd;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        snprintf(log, sizeof(log), "%s/pool.log", dir);   /* the pool's and workers' logs */
        fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0)
            dup2(fd, STDERR_FILENO);
        _exit(pool_run(&o, listen_fd));
    }
    cr_assert(wait_children(WORKERS, 5000), "the pool did not start %d workers", WORKERS);
    for (long long end = now_ms() + 2000; access(pid_file, F_OK) != 0 && now_ms() < end;)
        usleep(10000);
}

static int stop_pool(void)
{
    int status = -1;

    if (master > 0) {
        kill(master, SIGTERM);
        waitpid(master, &status, 0);
        master = -1;
    }
    return status;
}

static void teardown(void)
{
    char cmd[400];

    stop_pool();
    if (listen_fd >= 0)
        close(listen_fd);
    listen_fd = -1;
    if (dir[0] != '\0' && getenv("KEEP_TMP") == NULL) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            cr_log_warn("could not remove %s", dir);
    }
    dir[0] = '\0';
}

static int same_pids(const pid_t *a, int na, const pid_t *b, int nb)
{
    if (na != nb)
        return 0;
    for (int i = 0; i < na; i++) {
        int found = 0;

        for (int j = 0; j < nb; j++)
            found |= a[i] == b[j];
        if (!found)
            return 0;
    }
    return 1;
}

/* How many workers recorded `text` as their configuration. */
static int conf_seen(const char *text)
{
    char cmd[512], out[32] = "";
    FILE *fp;

    snprintf(cmd, sizeof(cmd), "grep -lx '%s' '%s'/conf.seen.* 2>/dev/null | wc -l", text, dir);
    fp = popen(cmd, "r");
    cr_assert_not_null(fp);
    if (fgets(out, sizeof(out), fp) == NULL)
        out[0] = '\0';
    pclose(fp);
    return atoi(out);
}

/* ---- pure helpers ------------------------------------------------------------- */

Test(pool, swap_groups_are_a_quarter_rounded_up)
{
    cr_expect_eq(pool_swap_group(0), 1);
    cr_expect_eq(pool_swap_group(1), 1);
    cr_expect_eq(pool_swap_group(4), 1);
    cr_expect_eq(pool_swap_group(5), 2);
    cr_expect_eq(pool_swap_group(8), 2);
    cr_expect_eq(pool_swap_group(9), 3);
    cr_expect_eq(pool_swap_group(512), 128);
}

Test(pool, worker_arguments)
{
    char err[128];
    pool_worker_args_t a;
    char *good[] = { "x", "--worker", "3", "0", "4", "9", "-1", NULL };
    char *bad_fd[] = { "x", "--worker", "3", "0", "4", "nine", "7", NULL };
    char *neg[] = { "x", "--worker", "3", "-1", "4", "9", "7", NULL };
    char *slot[] = { "x", "--worker", "99999", "0", "4", "9", "7", NULL };
    char *few[] = { "x", "--worker", "3", "0", NULL };

    cr_assert_eq(pool_worker_args(7, good, &a, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(a.slot, 3);
    cr_expect_eq(a.listen_fd, 0);
    cr_expect_eq(a.scoreboard_fd, 4);
    cr_expect_eq(a.ready_fd, 9);
    cr_expect_eq(a.conf_fd, -1);
    cr_expect_eq(pool_worker_args(7, bad_fd, &a, err, sizeof(err)), -1);
    cr_expect(strstr(err, "nine") != NULL, "%s", err);
    cr_expect_eq(pool_worker_args(7, neg, &a, err, sizeof(err)), -1);
    cr_expect_eq(pool_worker_args(7, slot, &a, err, sizeof(err)), -1);
    cr_expect_eq(pool_worker_args(4, few, &a, err, sizeof(err)), -1);
}

Test(pool, reload_without_a_pool)
{
    char path[] = "/tmp/test_pool_nopid.XXXXXX";
    int fd = mkstemp(path);

    cr_assert_geq(fd, 0);
    cr_expect_eq(pool_reload("/nonexistent/pool.pid", NULL, 1, msg, sizeof(msg)), 2);
    cr_expect(strstr(msg, "/nonexistent/pool.pid") != NULL, "%s", msg);
    cr_assert_eq(write(fd, "junk\n", 5), 5);
    cr_expect_eq(pool_reload(path, NULL, 1, msg, sizeof(msg)), 2);
    cr_expect(strstr(msg, "no process id") != NULL, "%s", msg);
    cr_assert_eq(ftruncate(fd, 0), 0);
    cr_assert_eq(pwrite(fd, "999999999\n", 10, 0), 10);    /* beyond pid_max: no such process */
    cr_expect_eq(pool_reload(path, NULL, 1, msg, sizeof(msg)), 2);
    close(fd);
    unlink(path);
}

/* ---- a running pool ------------------------------------------------------------- */

Test(pool, starts_workers_with_the_checked_configuration, .fini = teardown, .timeout = 30)
{
    int status;

    start_pool(5);
    for (long long end = now_ms() + 3000; conf_seen("first") < WORKERS && now_ms() < end;)
        usleep(20000);
    cr_expect_eq(conf_seen("first"), WORKERS);
    status = stop_pool();
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "pool status %d", status);
    cr_expect_eq(access(pid_file, F_OK), -1, "the pid file is removed at exit");
}

Test(pool, a_killed_worker_is_replaced, .fini = teardown, .timeout = 30)
{
    pid_t before[8], after[8];
    int n;

    start_pool(5);
    n = children(before, 8);
    cr_assert_eq(n, WORKERS);
    kill(before[0], SIGKILL);
    for (long long end = now_ms() + 10000; now_ms() < end; usleep(20000)) {
        n = children(after, 8);
        if (n == WORKERS && !same_pids(before, WORKERS, after, n))
            break;
    }
    cr_expect_eq(n, WORKERS);
    for (int i = 0; i < n; i++)
        cr_expect_neq(after[i], before[0], "the killed worker is still listed");
}

Test(pool, hot_swap_replaces_every_worker_and_passes_the_new_configuration,
     .fini = teardown, .timeout = 30)
{
    pid_t before[8], after[8];
    int nb, na;

    start_pool(5);
    nb = children(before, 8);
    write_file(conf, "second", 0644);
    cr_expect_eq(pool_reload(pid_file, swap_file, 10, msg, sizeof(msg)), 0, "%s", msg);
    cr_expect(strstr(msg, "generation 2") != NULL, "%s", msg);
    cr_assert(wait_children(WORKERS, 10000));
    na = children(after, 8);
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            cr_expect_neq(after[i], before[j], "worker %d survived the swap", before[j]);
    cr_expect_eq(conf_seen("second"), WORKERS);
}

Test(pool, a_new_program_that_fails_is_refused_and_the_old_workers_stay,
     .fini = teardown, .timeout = 30)
{
    pid_t before[8], after[8];
    int nb, na;

    start_pool(3);
    nb = children(before, 8);
    write_file(exe, broken_worker, 0755);
    cr_expect_eq(pool_reload(pid_file, swap_file, 10, msg, sizeof(msg)), 1);
    cr_expect(strstr(msg, "exited with status 1") != NULL, "%s", msg);
    write_file(exe, silent_worker, 0755);
    cr_expect_eq(pool_reload(pid_file, swap_file, 10, msg, sizeof(msg)), 1);
    cr_expect(strstr(msg, "not ready within 3 s") != NULL, "%s", msg);
    write_file(conf, "reject", 0644);
    write_file(exe, good_worker, 0755);
    cr_expect_eq(pool_reload(pid_file, swap_file, 10, msg, sizeof(msg)), 1);
    cr_expect(strstr(msg, "the file says reject") != NULL, "%s", msg);
    cr_assert(wait_children(WORKERS, 10000));
    na = children(after, 8);
    cr_expect(same_pids(before, nb, after, na), "the old workers were replaced");
    /* A respawn uses the accepted program, not the file now on disk. */
    write_file(exe, broken_worker, 0755);
    kill(before[0], SIGKILL);
    for (long long end = now_ms() + 10000; now_ms() < end; usleep(20000)) {
        na = children(after, 8);
        if (na == WORKERS && !same_pids(before, nb, after, na))
            break;
    }
    cr_expect_eq(na, WORKERS, "the respawn ran the broken file on disk");
    /* And a good program is accepted again after the failures. */
    write_file(conf, "third", 0644);
    write_file(exe, good_worker, 0755);
    cr_expect_eq(pool_reload(pid_file, swap_file, 10, msg, sizeof(msg)), 0, "%s", msg);
}
