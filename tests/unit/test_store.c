/* SPDX-License-Identifier: MIT */
/* test_store.c - unit tests of the store API over the SQLite backend, including many writer processes. */

#include "store.h"

#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define TTL 60

static char tmpdir[256];
static char dbpath[512];
static char url[600];
static store_t *st;
static char err[512];

static void make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/test_store.XXXXXX", base);
    cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp failed");
    snprintf(dbpath, sizeof dbpath, "%s/s.db", tmpdir);
    snprintf(url, sizeof url, "sqlite:%s", dbpath);
    store_clock_offset_for_tests(0);
}

/* Prepared and opened: the common case. */
static void setup_open(void)
{
    make_tmpdir();
    err[0] = '\0';
    cr_assert_eq(store_prepare(url, err, sizeof err), 0, "prepare: %s", err);
    st = store_open(url, err, sizeof err);
    cr_assert_not_null(st, "open: %s", err);
}

/* Prepared only: for tests that fork before any handle exists. */
static void setup_prepared(void)
{
    make_tmpdir();
    err[0] = '\0';
    cr_assert_eq(store_prepare(url, err, sizeof err), 0, "prepare: %s", err);
    st = NULL;
}

static void teardown(void)
{
    DIR *d;
    struct dirent *e;

    store_close(st);
    st = NULL;
    store_clock_offset_for_tests(0);
    d = opendir(tmpdir);
    if (d != NULL) {
        for (e = readdir(d); e != NULL; e = readdir(d)) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlinkat(dirfd(d), e->d_name, 0);
        }
        closedir(d);
    }
    rmdir(tmpdir);
}

/* Count rows matching a WHERE clause with a separate, raw connection. */
static int raw_count(const char *where)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    char sql[256];
    int n = -1;

    snprintf(sql, sizeof sql, "SELECT count(*) FROM kv WHERE %s", where);
    cr_assert_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    if (sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

/* Expect key to hold exactly the string want. */
static void expect_value(store_t *s, const char *key, const char *want)
{
    char *v = NULL;
    size_t n = 0;

    cr_assert_eq(store_get(s, key, &v, &n, NULL, err, sizeof err), 1, "get %s: %s", key, err);
    cr_assert_eq(n, strlen(want), "%s: length %zu", key, n);
    cr_assert_str_eq(v, want);
    free(v);
}

static void expect_missing(store_t *s, const char *key)
{
    char *v = (char *)"sentinel";
    size_t n = 7;

    cr_assert_eq(store_get(s, key, &v, &n, NULL, err, sizeof err), 0, "get %s: %s", key, err);
    cr_assert_null(v);
    cr_assert_eq(n, 0);
}

TestSuite(store, .init = setup_open, .fini = teardown);

Test(store, put_get_del_round_trip)
{
    int64_t exp = 0;
    int64_t before = (int64_t)time(NULL);
    char *v = NULL;
    size_t n = 0;

    cr_assert_eq(store_put(st, "sess:1", "{\"a\":1}", 7, TTL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(store_get(st, "sess:1", &v, &n, &exp, err, sizeof err), 1, "%s", err);
    cr_assert_eq(n, 7);
    cr_assert_str_eq(v, "{\"a\":1}");
    cr_assert(exp >= before + TTL && exp <= (int64_t)time(NULL) + TTL, "expires_at %lld",
              (long long)exp);
    free(v);

    /* put replaces the value and the expiry */
    cr_assert_eq(store_put(st, "sess:1", "xy", 2, 2 * TTL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(store_get(st, "sess:1", &v, &n, &exp, err, sizeof err), 1, "%s", err);
    cr_assert_str_eq(v, "xy");
    cr_assert(exp >= before + 2 * TTL);
    free(v);

    cr_assert_eq(store_del(st, "sess:1", err, sizeof err), 0, "%s", err);
    expect_missing(st, "sess:1");
    /* deleting a missing key is not an error */
    cr_assert_eq(store_del(st, "sess:1", err, sizeof err), 0, "%s", err);
}

Test(store, values_are_binary_safe)
{
    unsigned char bin[256];
    char *v = NULL;
    size_t n = 0;
    int i;

    for (i = 0; i < 256; i++)
        bin[i] = (unsigned char)(255 - i);   /* includes NUL bytes in the middle */
    cr_assert_eq(store_put(st, "bin", bin, sizeof bin, TTL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(store_get(st, "bin", &v, &n, NULL, err, sizeof err), 1, "%s", err);
    cr_assert_eq(n, sizeof bin);
    cr_assert_eq(memcmp(v, bin, sizeof bin), 0);
    cr_assert_eq(v[n], '\0', "terminating NUL");
    free(v);

    /* an empty value is a value, not a missing record */
    cr_assert_eq(store_put(st, "empty", NULL, 0, TTL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(store_get(st, "empty", &v, &n, NULL, err, sizeof err), 1, "%s", err);
    cr_assert_eq(n, 0);
    cr_assert_not_null(v);
    cr_assert_eq(v[0], '\0');
    free(v);
    cr_assert_eq(store_add(st, "empty", "x", 1, TTL, err, sizeof err), 0, "%s", err);
}

Test(store, get_missing)
{
    expect_missing(st, "nope");
}

Test(store, expiry_via_clock)
{
    int64_t exp = 0;
    char *v = NULL;
    size_t n = 0;

    cr_assert_eq(store_put(st, "k", "old", 3, 10, err, sizeof err), 0, "%s", err);
    store_clock_offset_for_tests(9);
    expect_value(st, "k", "old");
    cr_assert_eq(store_add(st, "k", "new", 3, 10, err, sizeof err), 0, "live: %s", err);

    store_clock_offset_for_tests(10);   /* expires_at == now: expired */
    expect_missing(st, "k");
    cr_assert_eq(store_add(st, "k", "new", 3, 10, err, sizeof err), 1, "expired: %s", err);
    cr_assert_eq(store_get(st, "k", &v, &n, &exp, err, sizeof err), 1, "%s", err);
    cr_assert_str_eq(v, "new");
    cr_assert(exp >= (int64_t)time(NULL) + 20, "new expiry %lld", (long long)exp);
    free(v);
    /* the replaced record is live again, so a second add loses */
    cr_assert_eq(store_add(st, "k", "newer", 5, 10, err, sizeof err), 0, "%s", err);
    expect_value(st, "k", "new");
}

Test(store, add_only_if_absent)
{
    cr_assert_eq(store_add(st, "a", "first", 5, TTL, err, sizeof err), 1, "%s", err);
    cr_assert_eq(store_add(st, "a", "second", 6, TTL, err, sizeof err), 0, "%s", err);
    expect_value(st, "a", "first");
    cr_assert_eq(store_del(st, "a", err, sizeof err), 0, "%s", err);
    cr_assert_eq(store_add(st, "a", "third", 5, TTL, err, sizeof err), 1, "%s", err);
    expect_value(st, "a", "third");
}

Test(store, del_prefix_is_literal)
{
    static const char *const keys[] = {
        "a%b:1", "a%b:2", "a%bc", "aXb:1", "a_b:1", "a%", "a", "b", "A%b:1",
        "z\xff" "1", "z\xff\xff", "{", "z",
    };
    size_t i;

    for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert_eq(store_put(st, keys[i], "v", 1, TTL, err, sizeof err), 0, "%s", err);

    cr_assert_eq(store_del_prefix(st, "a%b:", err, sizeof err), 0, "%s", err);
    expect_missing(st, "a%b:1");
    expect_missing(st, "a%b:2");
    expect_value(st, "a%bc", "v");
    expect_value(st, "aXb:1", "v");   /* LIKE 'a%b:%' would have taken these */
    expect_value(st, "a_b:1", "v");
    expect_value(st, "A%b:1", "v");

    cr_assert_eq(store_del_prefix(st, "a_", err, sizeof err), 0, "%s", err);
    expect_missing(st, "a_b:1");
    expect_value(st, "aXb:1", "v");   /* '_' is not a wildcard */
    expect_value(st, "a%bc", "v");
    expect_value(st, "a%", "v");

    /* a trailing 0xff byte: the upper bound must carry into the previous byte */
    cr_assert_eq(store_del_prefix(st, "z\xff", err, sizeof err), 0, "%s", err);
    expect_missing(st, "z\xff" "1");
    expect_missing(st, "z\xff\xff");
    expect_value(st, "{", "v");
    expect_value(st, "z", "v");
    expect_value(st, "a", "v");
    expect_value(st, "b", "v");
    cr_assert_eq(raw_count("1"), 8);

    cr_assert_eq(store_del_prefix(st, "", err, sizeof err), -1);
    cr_assert_str_eq(err, "store: empty prefix");
    cr_assert_eq(raw_count("1"), 8);
}

Test(store, caps_are_enforced)
{
    char key[STORE_KEY_MAX + 2];
    char *big;

    memset(key, 'k', sizeof key);
    key[STORE_KEY_MAX] = '\0';
    cr_assert_eq(store_put(st, key, "v", 1, TTL, err, sizeof err), 0, "%s", err);
    expect_value(st, key, "v");
    key[STORE_KEY_MAX] = 'k';
    key[STORE_KEY_MAX + 1] = '\0';
    cr_assert_eq(store_put(st, key, "v", 1, TTL, err, sizeof err), -1);
    cr_assert_str_eq(err, "store: key longer than 512 bytes");
    cr_assert_eq(store_add(st, key, "v", 1, TTL, err, sizeof err), -1);
    cr_assert_eq(store_del_prefix(st, key, err, sizeof err), -1);
    cr_assert_str_eq(err, "store: prefix longer than 512 bytes");

    big = calloc(1, STORE_VALUE_MAX + 1);
    cr_assert_not_null(big);
    cr_assert_eq(store_put(st, "big", big, STORE_VALUE_MAX, TTL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(store_put(st, "big2", big, STORE_VALUE_MAX + 1, TTL, err, sizeof err), -1);
    cr_assert_str_eq(err, "store: value of 1048577 bytes exceeds the 1048576-byte limit");
    free(big);
    expect_missing(st, "big2");
    cr_assert_eq(raw_count("k = 'big' AND length(v) = 1048576"), 1);

    cr_assert_eq(store_put(st, "", "v", 1, TTL, err, sizeof err), -1);
    cr_assert_str_eq(err, "store: empty key");
    cr_assert_eq(store_put(st, "t", "v", 1, 0, err, sizeof err), -1);
    cr_assert_str_eq(err, "store: ttl must be positive (got 0)");
    cr_assert_eq(store_put(st, "t", NULL, 1, TTL, err, sizeof err), -1);
    cr_assert_str_eq(err, "store: value is NULL but len is 1");
    expect_missing(st, "t");
}

/* URL problems, through both entry points. */
static void expect_url_error(const char *bad, const char *want)
{
    char e2[512];

    err[0] = '\0';
    cr_assert_eq(store_prepare(bad, err, sizeof err), -1, "prepare %s succeeded", bad);
    cr_assert_str_eq(err, want);
    e2[0] = '\0';
    cr_assert_null(store_open(bad, e2, sizeof e2), "open %s succeeded", bad);
    cr_assert_str_eq(e2, want);
}

/* A store that cannot be opened now: prepare fails naming it; a worker's handle opens
 * anyway (detached) and every call fails with the reason, so /ready can say it. */
static void expect_unusable(const char *bad, const char *want)
{
    store_t *h;
    char e2[512];

    err[0] = '\0';
    cr_assert_eq(store_prepare(bad, err, sizeof err), -1, "prepare %s succeeded", bad);
    cr_assert(strstr(err, want) != NULL, "prepare: %s", err);
    h = store_open(bad, e2, sizeof e2);
    cr_assert_not_null(h, "open %s: %s", bad, e2);
    cr_assert_eq(store_ping(h, e2, sizeof e2), -1);
    cr_assert(strstr(e2, want) != NULL, "ping: %s", e2);
    cr_assert_eq(store_put(h, "k", "v", 1, TTL, e2, sizeof e2), -1);
    cr_assert(strstr(e2, want) != NULL, "put: %s", e2);
    store_close(h);
}

Test(store, bad_urls_are_named)
{
    char bad[700];
    char want[900];
    struct stat sb;
    int fd;

    expect_url_error("redis://h:6379", "store \"redis://h:6379\": unknown scheme \"redis\" "
                                       "(supported: sqlite, dynamodb)");
    expect_url_error("sqlite:", "store \"sqlite:\": empty path after \"sqlite:\"");
    expect_url_error("/var/lib/x.db", "store \"/var/lib/x.db\": no scheme "
                                      "(expected sqlite:/path/to/file.db)");
    expect_url_error("", "store \"\": empty url (expected sqlite:/path/to/file.db)");

    /* the directory must exist: nothing creates it */
    snprintf(bad, sizeof bad, "sqlite:%s/missing/x.db", tmpdir);
    expect_unusable(bad, "unable to open database file (No such file or directory)");
    expect_unusable(bad, "missing/x.db");
    snprintf(bad, sizeof bad, "%s/missing", tmpdir);
    cr_assert_neq(stat(bad, &sb), 0, "prepare or open created the directory");

    if (stat("/nope", &sb) != 0)
        expect_unusable("sqlite:/nope/x.db", "unable to open database file");

    /* a file that is not a database */
    snprintf(bad, sizeof bad, "%s/junk.db", tmpdir);
    fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "this is not a database, not at all; just text\n", 46), 46);
    close(fd);
    snprintf(want, sizeof want, "sqlite:%s", bad);
    cr_assert_eq(store_prepare(want, err, sizeof err), -1);
    cr_assert(strstr(err, "file is not a database") != NULL, "%s", err);
    cr_assert(strncmp(err, "store \"sqlite:", 14) == 0, "%s", err);

}

Test(store, a_handle_heals_when_its_file_appears_or_is_replaced)
{
    char dir[600], sub[700], e2[512];
    store_t *h;

    /* Opened before its folder exists: detached, and attached within a second of the
     * folder's creation (a worker started while the volume was not there yet). */
    snprintf(dir, sizeof dir, "%s/later", tmpdir);
    snprintf(sub, sizeof sub, "sqlite:%s/x.db", dir);
    h = store_open(sub, e2, sizeof e2);
    cr_assert_not_null(h, "%s", e2);
    cr_assert_eq(store_ping(h, e2, sizeof e2), -1);
    cr_assert_eq(mkdir(dir, 0700), 0);
    usleep(1100 * 1000);
    cr_assert_eq(store_ping(h, e2, sizeof e2), 0, "still detached: %s", e2);
    cr_assert_eq(store_put(h, "k", "v", 1, TTL, e2, sizeof e2), 0, "%s", e2);
    store_close(h);
    snprintf(sub, sizeof sub, "%s/x.db", dir);
    unlink(sub);
    snprintf(sub, sizeof sub, "%s/x.db-wal", dir);
    unlink(sub);
    snprintf(sub, sizeof sub, "%s/x.db-shm", dir);
    unlink(sub);
    rmdir(dir);

    /* The shared file deleted under a live handle: within a second the handle writes to
     * the new file that everyone else uses, not to the deleted one it still held. */
    cr_assert_eq(store_put(st, "before", "1", 1, TTL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(unlink(dbpath), 0);
    usleep(1100 * 1000);
    cr_assert_eq(store_put(st, "after", "2", 1, TTL, err, sizeof err), 0, "%s", err);
    cr_expect_eq(raw_count("k = 'after'"), 1, "the write went to the deleted file");
    cr_expect_eq(raw_count("k = 'before'"), 0);
    expect_missing(st, "before");
}

Test(store, prepare_is_idempotent_and_checks_version)
{
    sqlite3 *db = NULL;

    cr_assert_eq(store_put(st, "keep", "v", 1, TTL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(store_prepare(url, err, sizeof err), 0, "%s", err);
    expect_value(st, "keep", "v");
    cr_assert_eq(raw_count("1"), 1);

    cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    cr_assert_eq(store_prepare(url, err, sizeof err), -1);
    cr_assert(strstr(err, "schema version 99 is newer") != NULL, "%s", err);
}

Test(store, wal_mode_on_disk)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;

    cr_assert_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_close(db);
}

Test(store, ping)
{
    cr_assert_eq(store_ping(st, err, sizeof err), 0, "%s", err);
    cr_assert_eq(store_ping(NULL, err, sizeof err), -1);
    cr_assert_str_eq(err, "store: no handle");
}

Test(store, expired_rows_are_swept)
{
    char key[32];
    int i;

    for (i = 0; i < 50; i++) {
        snprintf(key, sizeof key, "old-%d", i);
        cr_assert_eq(store_put(st, key, "v", 1, 10, err, sizeof err), 0, "%s", err);
    }
    cr_assert_eq(raw_count("k LIKE 'old-%'"), 50);
    store_clock_offset_for_tests(100);
    /* 250 writes on the handle in total: at least one sweep */
    for (i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "new-%d", i);
        cr_assert_eq(store_put(st, key, "v", 1, 1000, err, sizeof err), 0, "%s", err);
    }
    cr_assert_eq(raw_count("k LIKE 'old-%'"), 0, "expired rows still on disk");
    cr_assert_eq(raw_count("k LIKE 'new-%'"), 200);
}

Test(store, handle_refused_after_fork)
{
    pid_t pid;
    int status = 0;

    cr_assert_eq(store_put(st, "k", "v", 1, TTL, err, sizeof err), 0, "%s", err);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char *v = NULL;
        size_t n = 0;
        char e[256] = "";
        int ok = store_get(st, "k", &v, &n, NULL, e, sizeof e) == -1 &&
                 strstr(e, "must not cross fork()") != NULL &&
                 store_put(st, "k", "child", 5, TTL, e, sizeof e) == -1;

        _exit(ok ? 0 : 1);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    expect_value(st, "k", "v");
}

/* Many writer processes on one file. */
#define NCHILD 8
#define NOPS 500
#define NRACE 100

struct child_report {
    int child;
    int wins;
};

static int child_fail(int c, const char *what, const char *e)
{
    fprintf(stderr, "child %d: %s: %s\n", c, what, e);
    return 1;
}

/* One writer: unique adds, shared puts/gets, and adds racing the others on NRACE keys. */
static int child_run(int c, int go_fd, int report_fd)
{
    struct child_report rep = {c, 0};
    store_t *s;
    char key[64];
    char val[64];
    char e[512] = "";
    char *v = NULL;
    size_t n = 0;
    char b;
    int i;
    int r;

    /* released all at once when the parent closes the write end */
    if (read(go_fd, &b, 1) != 0)
        return child_fail(c, "start", "unexpected byte");
    s = store_open(url, e, sizeof e);
    if (s == NULL)
        return child_fail(c, "open", e);
    for (i = 0; i < NOPS; i++) {
        snprintf(key, sizeof key, "k-%d-%d", c, i);
        snprintf(val, sizeof val, "%d:%d", c, i);
        if (store_add(s, key, val, strlen(val), TTL, e, sizeof e) != 1)
            return child_fail(c, "add unique", e);
        if (i % 5 == 0) {
            snprintf(key, sizeof key, "race-%d", i / 5);
            snprintf(val, sizeof val, "%d", c);
            r = store_add(s, key, val, strlen(val), TTL, e, sizeof e);
            if (r < 0)
                return child_fail(c, "add race", e);
            rep.wins += r;
            snprintf(key, sizeof key, "shared-%d", i % 7);
            if (store_put(s, key, val, strlen(val), TTL, e, sizeof e) != 0)
                return child_fail(c, "put shared", e);
            if (store_get(s, key, &v, &n, NULL, e, sizeof e) != 1)
                return child_fail(c, "get shared", e);
            free(v);
        }
        if (i % 50 == 0) {
            snprintf(key, sizeof key, "k-%d-%d", c, i);
            snprintf(val, sizeof val, "%d:%d", c, i);
            if (store_get(s, key, &v, &n, NULL, e, sizeof e) != 1 || strcmp(v, val) != 0)
                return child_fail(c, "get own", e);
            free(v);
        }
    }
    store_close(s);
    if (write(report_fd, &rep, sizeof rep) != (ssize_t)sizeof rep)
        return child_fail(c, "report", "short write");
    return 0;
}

TestSuite(store_procs, .init = setup_prepared, .fini = teardown, .timeout = 60);

Test(store_procs, concurrent_writers)
{
    pid_t parent = getpid();
    pid_t pids[NCHILD];
    int go[2];
    int rep[2];
    int wins[NCHILD] = {0};
    int reported[NCHILD] = {0};
    struct child_report r;
    char key[64];
    char val[64];
    char *v = NULL;
    size_t n = 0;
    int total = 0;
    int status;
    int c;
    int i;

    cr_assert_eq(pipe(go), 0);
    cr_assert_eq(pipe(rep), 0);
    for (c = 0; c < NCHILD; c++) {
        pids[c] = fork();
        cr_assert_geq(pids[c], 0);
        if (pids[c] == 0) {
            /* if the test process is killed (timeout), do not outlive it */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(2);
            close(go[1]);
            close(rep[0]);
            _exit(child_run(c, go[0], rep[1]));
        }
    }
    close(go[0]);
    close(rep[1]);
    close(go[1]);   /* go */

    for (c = 0; c < NCHILD; c++) {
        cr_assert_eq(waitpid(pids[c], &status, 0), pids[c]);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child %d status %d (see its stderr)", c, status);
    }
    while (read(rep[0], &r, sizeof r) == (ssize_t)sizeof r) {
        cr_assert(r.child >= 0 && r.child < NCHILD);
        reported[r.child]++;
        wins[r.child] = r.wins;
        total += r.wins;
    }
    close(rep[0]);
    for (c = 0; c < NCHILD; c++)
        cr_assert_eq(reported[c], 1, "child %d did not report", c);
    cr_assert_eq(total, NRACE, "%d race wins for %d keys", total, NRACE);

    st = store_open(url, err, sizeof err);
    cr_assert_not_null(st, "%s", err);
    for (c = 0; c < NCHILD; c++) {
        for (i = 0; i < NOPS; i++) {
            snprintf(key, sizeof key, "k-%d-%d", c, i);
            snprintf(val, sizeof val, "%d:%d", c, i);
            expect_value(st, key, val);
        }
    }
    /* every race key is held by one child, and the holders match what each reported */
    for (i = 0; i < NRACE; i++) {
        snprintf(key, sizeof key, "race-%d", i);
        cr_assert_eq(store_get(st, key, &v, &n, NULL, err, sizeof err), 1, "%s", key);
        c = atoi(v);
        cr_assert(c >= 0 && c < NCHILD, "%s = %s", key, v);
        wins[c]--;
        free(v);
    }
    for (c = 0; c < NCHILD; c++)
        cr_assert_eq(wins[c], 0, "child %d reported wins that the store does not show", c);
    cr_assert_eq(raw_count("1"), NCHILD * NOPS + NRACE + 7);
}
