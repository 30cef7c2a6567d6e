/* SPDX-License-Identifier: MIT */
/* test_store_dynamodb.c - the DynamoDB store backend against dynalite on loopback, and against a scripted fake for retries, signing and credentials. */

#include "store.h"

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#define TTL 60
#define REGION "eu-west-1"
#define KEY_ID "AKIDTESTENV"
#define SECRET "env-secret-never-printed"
#define TABLE "mcpgw-test"

static char err[1024];
static char tmpdir[256];
static char url[300];
static store_t *st;

/* ---- small helpers ---- */

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(long ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;

    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0, "bind: %s", strerror(errno));
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int port_open(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int ok;

    if (fd < 0)
        return 0;
    ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* SIGTERM, then SIGKILL if it lingers; always reaped. */
static void stop_child(pid_t *pid)
{
    long long end;
    int status;

    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    end = now_ms() + 3000;
    while (waitpid(*pid, &status, WNOHANG) == 0) {
        if (now_ms() > end) {
            kill(*pid, SIGKILL);
            waitpid(*pid, &status, 0);
            break;
        }
        pause_ms(10);
    }
    *pid = 0;
}

/* The environment every test starts from: static keys, a region, no container creds. */
static void base_env(void)
{
    static const char *const unset[] = {
        "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "MCPGW_DYNAMODB_ENDPOINT",
        "MCPGW_DYNAMODB_TIMEOUT_MS", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
        "ALL_PROXY", "all_proxy",
    };
    const char *base = getenv("TMPDIR");

    for (size_t i = 0; i < sizeof unset / sizeof unset[0]; i++)
        unsetenv(unset[i]);
    setenv("AWS_REGION", REGION, 1);
    setenv("AWS_ACCESS_KEY_ID", KEY_ID, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    snprintf(url, sizeof url, "dynamodb:%s", TABLE);
    store_clock_offset_for_tests(0);
    err[0] = '\0';
    snprintf(tmpdir, sizeof tmpdir, "%s/test_store_ddb.XXXXXX",
             base != NULL && base[0] != '\0' ? base : "/tmp");
    cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

static void set_endpoint(int port)
{
    char ep[64];

    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", port);
    setenv("MCPGW_DYNAMODB_ENDPOINT", ep, 1);
}

static void rm_tmpdir(void)
{
    char path[512];

    if (tmpdir[0] == '\0')
        return;
    snprintf(path, sizeof path, "%s/requests.log", tmpdir);
    unlink(path);
    snprintf(path, sizeof path, "%s/token", tmpdir);
    unlink(path);
    snprintf(path, sizeof path, "%s/dynalite.log", tmpdir);
    unlink(path);
    if (rmdir(tmpdir) != 0)
        cr_log_warn("cannot remove %s: %s", tmpdir, strerror(errno));
    tmpdir[0] = '\0';
}

/* ---- dynalite ---- */

static pid_t dyn_pid;
static int dyn_port;

static void dyn_start(int port)
{
    const char *node = getenv("MCPGW_TEST_NODE");
    const char *cli = getenv("MCPGW_TEST_DYNALITE");
    char portstr[16], logpath[512];
    long long end;
    int status;

    if (node == NULL || node[0] == '\0')
        node = "node";
    if (cli == NULL || cli[0] == '\0')
        cli = "tests/node_modules/dynalite/cli.js";
    cr_assert_eq(access(cli, R_OK), 0,
                 "dynalite not found at %s (run the tests from the repository root after "
                 "`npm ci` in tests/, or set MCPGW_TEST_DYNALITE)", cli);
    snprintf(portstr, sizeof portstr, "%d", port);
    snprintf(logpath, sizeof logpath, "%s/dynalite.log", tmpdir);
    dyn_pid = fork();
    cr_assert_geq(dyn_pid, 0, "fork: %s", strerror(errno));
    if (dyn_pid == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execlp(node, node, cli, "--host", "127.0.0.1", "--port", portstr, "--createTableMs", "0",
               (char *)NULL);
        _exit(127);
    }
    end = now_ms() + 15000;
    while (!port_open(port)) {
        if (waitpid(dyn_pid, &status, WNOHANG) == dyn_pid) {
            dyn_pid = 0;
            cr_assert_fail("dynalite exited before listening (%s %d): is `%s` on PATH and "
                           "tests/node_modules installed? See %s",
                           WIFEXITED(status) ? "exit" : "signal",
                           WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), node,
                           logpath);
        }
        cr_assert_lt(now_ms(), end, "dynalite did not listen on port %d within 15 s", port);
        pause_ms(20);
    }
}

/* A signed request straight to the server, bypassing the backend. */
static long raw_request(int port, const char *op, const char *body, char *out, size_t outlen)
{
    struct curl_slist *h = NULL;
    char target[96], endpoint[64];
    FILE *mem;
    CURL *c = curl_easy_init();
    long status = 0;
    CURLcode rc;

    cr_assert_not_null(c);
    mem = fmemopen(out, outlen, "w");
    cr_assert_not_null(mem);
    snprintf(target, sizeof target, "X-Amz-Target: DynamoDB_20120810.%s", op);
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d/", port);
    h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.0");
    h = curl_slist_append(h, target);
    curl_easy_setopt(c, CURLOPT_URL, endpoint);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:" REGION ":dynamodb");
    curl_easy_setopt(c, CURLOPT_USERPWD, KEY_ID ":" SECRET);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    rc = curl_easy_perform(c);
    fclose(mem);
    out[outlen - 1] = '\0';
    cr_assert_eq(rc, CURLE_OK, "%s: %s", op, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static void create_table(int port, const char *name)
{
    char body[512], out[4096];
    long status;

    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\",\"BillingMode\":\"PAY_PER_REQUEST\","
             "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"}],"
             "\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}]}", name);
    status = raw_request(port, "CreateTable", body, out, sizeof out);
    cr_assert_eq(status, 200, "CreateTable %s: %ld %s", name, status, out);
}

static void dyn_setup(void)
{
    base_env();
    dyn_port = free_port();
    dyn_start(dyn_port);
    set_endpoint(dyn_port);
    create_table(dyn_port, TABLE);
    cr_assert_eq(store_prepare(url, err, sizeof err), 0, "prepare: %s", err);
    st = store_open(url, err, sizeof err);
    cr_assert_not_null(st, "open: %s", err);
}

static void dyn_teardown(void)
{
    store_close(st);
    st = NULL;
    stop_child(&dyn_pid);
    store_clock_offset_for_tests(0);
    rm_tmpdir();
}

static void expect_value(const char *key, const void *want, size_t wantlen)
{
    char *v = NULL;
    size_t n = 0;

    cr_assert_eq(store_get(st, key, &v, &n, NULL, err, sizeof err), 1, "get %s: %s", key, err);
    cr_assert_eq(n, wantlen, "%s: length %zu, want %zu", key, n, wantlen);
    cr_assert_eq(memcmp(v, want, n), 0, "%s: different bytes", key);
    cr_assert_eq(v[n], '\0', "no terminating NUL");
    free(v);
}

static void expect_missing(const char *key)
{
    char *v = (char *)"sentinel";
    size_t n = 7;

    cr_assert_eq(store_get(st, key, &v, &n, NULL, err, sizeof err), 0, "get %s: %s", key, err);
    cr_assert_null(v);
    cr_assert_eq(n, 0);
}

TestSuite(dynalite, .init = dyn_setup, .fini = dyn_teardown, .timeout = 60);

Test(dynalite, put_get_del_round_trip)
{
    int64_t exp = 0, before = store_now();
    char *v = NULL;
    size_t n = 0;

    cr_assert_eq(store_put(st, "s:1", "{\"a\":1}", 7, TTL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(store_get(st, "s:1", &v, &n, &exp, err, sizeof err), 1, "%s", err);
    cr_assert_eq(n, 7);
    cr_assert_str_eq(v, "{\"a\":1}");
    cr_assert(exp >= before + TTL && exp <= store_now() + TTL, "expires_at %lld", (long long)exp);
    free(v);

    cr_assert_eq(store_put(st, "s:1", "xy", 2, 2 * TTL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(store_get(st, "s:1", &v, &n, &exp, err, sizeof err), 1, "%s", err);
    cr_assert_str_eq(v, "xy");
    cr_assert_geq(exp, before + 2 * TTL);
    free(v);

    cr_assert_eq(store_del(st, "s:1", err, sizeof err), 0, "%s", err);
    expect_missing("s:1");
    cr_assert_eq(store_del(st, "s:1", err, sizeof err), 0, "deleting a missing key: %s", err);
    expect_missing("never-written");
    cr_assert_eq(store_ping(st, err, sizeof err), 0, "ping: %s", err);
}

Test(dynalite, values_are_binary_safe)
{
    unsigned char all[256 * 3 + 1];
    size_t i;

    for (i = 0; i < sizeof all; i++)
        all[i] = (unsigned char)(i * 7 + 3);
    all[10] = 0;
    /* every length modulo 3, so each base64 padding case is crossed */
    for (size_t len = 0; len <= 5; len++) {
        char key[16];

        snprintf(key, sizeof key, "bin:%zu", len);
        cr_assert_eq(store_put(st, key, all, len, TTL, err, sizeof err), 0, "%zu: %s", len, err);
        expect_value(key, all, len);
    }
    cr_assert_eq(store_put(st, "bin:all", all, sizeof all, TTL, err, sizeof err), 0, "%s", err);
    expect_value("bin:all", all, sizeof all);
}

Test(dynalite, keys_with_json_special_characters_round_trip)
{
    static const char *const keys[] = {
        "u:\"quoted\":x", "back\\slash", "line\nbreak\ttab", "caf\xc3\xa9 \xe2\x9c\x93",
        "mcpgw:ping-not-really",
    };

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        cr_assert_eq(store_put(st, keys[i], keys[i], strlen(keys[i]), TTL, err, sizeof err), 0,
                     "put %zu: %s", i, err);
    }
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        expect_value(keys[i], keys[i], strlen(keys[i]));
}

/* DynamoDB's TTL sweep is lazy, so the item is still there: the backend must hide it. */
Test(dynalite, expired_items_read_as_missing_though_still_stored)
{
    char out[4096];

    cr_assert_eq(store_put(st, "s:old", "v", 1, TTL, err, sizeof err), 0, "%s", err);
    store_clock_offset_for_tests(TTL - 1);
    expect_value("s:old", "v", 1);
    store_clock_offset_for_tests(TTL);
    expect_missing("s:old");
    cr_assert_eq(raw_request(dyn_port, "GetItem",
                             "{\"TableName\":\"" TABLE "\",\"Key\":{\"pk\":{\"S\":\"s:old\"}}}",
                             out, sizeof out), 200);
    cr_assert_not_null(strstr(out, "\"Item\""), "dynalite lost the item: %s", out);
}

Test(dynalite, add_stores_only_when_absent_or_expired)
{
    cr_assert_eq(store_add(st, "lock", "first", 5, TTL, err, sizeof err), 1, "%s", err);
    cr_assert_eq(store_add(st, "lock", "second", 6, TTL, err, sizeof err), 0, "%s", err);
    expect_value("lock", "first", 5);

    /* expires_at == now is expired already, as in the SQLite backend */
    store_clock_offset_for_tests(TTL);
    cr_assert_eq(store_add(st, "lock", "third", 5, TTL, err, sizeof err), 1,
                 "an expired record must not block add: %s", err);
    expect_value("lock", "third", 5);
    cr_assert_eq(store_add(st, "lock", "fourth", 6, TTL, err, sizeof err), 0, "%s", err);
    expect_value("lock", "third", 5);
}

/* Two processes, two handles, one table: what one writes the other reads.  The child
 * reports through a pipe, not its exit status, which valgrind may override. */
Test(dynalite, handles_in_two_processes_share_the_table)
{
    char got[600] = "";
    int fds[2], status;
    ssize_t n;
    pid_t pid;

    cr_assert_eq(store_put(st, "from-parent", "p", 1, TTL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(pipe(fds), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char e[512] = "", *v = NULL, msg[600];
        size_t vn = 0;
        store_t *mine = store_open(url, e, sizeof e);
        int ok = mine != NULL &&
                 store_get(mine, "from-parent", &v, &vn, NULL, e, sizeof e) == 1 &&
                 vn == 1 && v[0] == 'p' &&
                 store_put(mine, "from-child", "c", 1, TTL, e, sizeof e) == 0 &&
                 store_add(mine, "from-parent", "x", 1, TTL, e, sizeof e) == 0;
        int len = snprintf(msg, sizeof msg, "%s%s", ok ? "ok" : "failed: ", ok ? "" : e);

        free(v);
        store_close(mine);
        if (write(fds[1], msg, (size_t)len) < 0)
            _exit(2);
        _exit(0);
    }
    close(fds[1]);
    n = read(fds[0], got, sizeof got - 1);
    close(fds[0]);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    got[n > 0 ? n : 0] = '\0';
    cr_assert_str_eq(got, "ok", "child: %s", got);
    expect_value("from-child", "c", 1);
}

Test(dynalite, missing_table_is_named_with_the_region)
{
    char want[256];
    store_t *h;

    snprintf(want, sizeof want,
             "store \"dynamodb:no-such-table\": table no-such-table not found in " REGION
             " at http://127.0.0.1:%d", dyn_port);
    cr_assert_eq(store_prepare("dynamodb:no-such-table", err, sizeof err), -1);
    cr_assert_str_eq(err, want);

    h = store_open("dynamodb:no-such-table", err, sizeof err);
    cr_assert_not_null(h, "open sends nothing and succeeds: %s", err);
    cr_assert_eq(store_put(h, "k", "v", 1, TTL, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "dynamodb:no-such-table: PutItem: ResourceNotFoundException"),
                       "%s", err);
    store_close(h);
}

Test(dynalite, stopped_and_restarted_server)
{
    long long t0;

    cr_assert_eq(store_ping(st, err, sizeof err), 0, "%s", err);
    stop_child(&dyn_pid);
    t0 = now_ms();
    cr_assert_eq(store_ping(st, err, sizeof err), -1);
    cr_assert_lt(now_ms() - t0, 1500, "a refused connection must fail fast, not retry");
    cr_assert_not_null(strstr(err, "dynamodb:" TABLE ": GetItem: "), "%s", err);
    cr_assert_not_null(strstr(err, "onnect"), "%s", err);
    cr_assert_eq(store_get(st, "k", &(char *){ NULL }, &(size_t){ 0 }, NULL, err, sizeof err), -1);

    dyn_start(dyn_port);
    create_table(dyn_port, TABLE);
    cr_assert_eq(store_ping(st, err, sizeof err), 0, "the same handle recovers: %s", err);
    cr_assert_eq(store_put(st, "k", "v", 1, TTL, err, sizeof err), 0, "%s", err);
    expect_value("k", "v", 1);
}

Test(dynalite, del_prefix_is_not_supported)
{
    cr_assert_eq(store_del_prefix(st, "u:", err, sizeof err), -1);
    cr_assert_str_eq(err, "dynamodb:" TABLE ": del_prefix: not supported by the dynamodb store");
}

Test(dynalite, items_beyond_400_kb_are_refused_before_sending)
{
    size_t big = 300 * 1024;
    char *v = malloc(400 * 1024);

    cr_assert_not_null(v);
    memset(v, 'x', 400 * 1024);
    cr_assert_eq(store_put(st, "big", v, big, TTL, err, sizeof err), 0, "300 KB: %s", err);
    expect_value("big", v, big);
    cr_assert_eq(store_put(st, "big", v, 400 * 1024, TTL, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "400 KB item limit"), "%s", err);
    expect_value("big", v, big);
    free(v);
}

/* ---- settings, no server needed ---- */

static void env_only(void)
{
    base_env();
}

TestSuite(settings, .init = env_only, .fini = rm_tmpdir);

static void expect_prepare_error(const char *u, const char *want)
{
    char e2[1024];

    err[0] = '\0';
    cr_assert_eq(store_prepare(u, err, sizeof err), -1, "prepare %s succeeded", u);
    cr_assert_not_null(strstr(err, want), "prepare %s: \"%s\" lacks \"%s\"", u, err, want);
    e2[0] = '\0';
    cr_assert_null(store_open(u, e2, sizeof e2), "open %s succeeded", u);
    cr_assert_not_null(strstr(e2, want), "open %s: \"%s\" lacks \"%s\"", u, e2, want);
}

Test(settings, table_names_are_checked)
{
    expect_prepare_error("dynamodb:ab", "table name must be 3 to 255 characters");
    expect_prepare_error("dynamodb:has space", "table name must be");
    expect_prepare_error("dynamodb:a/b/c", "table name must be");
    expect_prepare_error("dynamodb:", "empty path after \"dynamodb:\"");
}

Test(settings, region_is_required_and_named)
{
    unsetenv("AWS_REGION");
    expect_prepare_error(url, "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION)");
    setenv("AWS_REGION", "EU west", 1);
    expect_prepare_error(url, "AWS_REGION: not a region name");
    unsetenv("AWS_REGION");
    setenv("AWS_DEFAULT_REGION", "eu:west", 1);
    expect_prepare_error(url, "AWS_DEFAULT_REGION: not a region name");
}

Test(settings, credentials_are_required)
{
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    expect_prepare_error(url, "no AWS credentials: set AWS_ACCESS_KEY_ID and "
                              "AWS_SECRET_ACCESS_KEY, or run with an ECS task role");
    setenv("AWS_ACCESS_KEY_ID", KEY_ID, 1);
    expect_prepare_error(url, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    setenv("AWS_SECRET_ACCESS_KEY", "with space", 1);
    expect_prepare_error(url, "AWS_SECRET_ACCESS_KEY: empty, longer than");
    cr_assert_null(strstr(err, "with space"), "the secret was echoed: %s", err);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    setenv("AWS_SESSION_TOKEN", "line\nbreak", 1);
    expect_prepare_error(url, "AWS_SESSION_TOKEN: empty, longer than");
}

Test(settings, endpoint_and_timeout_are_checked)
{
    setenv("MCPGW_DYNAMODB_ENDPOINT", "ftp://127.0.0.1:1", 1);
    expect_prepare_error(url, "MCPGW_DYNAMODB_ENDPOINT: not an http:// or https:// URL");
    setenv("MCPGW_DYNAMODB_ENDPOINT", "http://a b", 1);
    expect_prepare_error(url, "MCPGW_DYNAMODB_ENDPOINT: space or control character");
    setenv("MCPGW_DYNAMODB_ENDPOINT", "http://127.0.0.1:1", 1);
    setenv("MCPGW_DYNAMODB_TIMEOUT_MS", "5s", 1);
    expect_prepare_error(url, "MCPGW_DYNAMODB_TIMEOUT_MS: expected milliseconds from 100 to 60000");
    setenv("MCPGW_DYNAMODB_TIMEOUT_MS", "99", 1);
    expect_prepare_error(url, "MCPGW_DYNAMODB_TIMEOUT_MS");
}

Test(settings, wrong_endpoint_fails_fast_and_names_it)
{
    int port = free_port();   /* nothing listens there */
    char want[64];
    long long t0 = now_ms();

    set_endpoint(port);
    snprintf(want, sizeof want, "(http://127.0.0.1:%d)", port);
    cr_assert_eq(store_prepare(url, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "store \"dynamodb:" TABLE "\": GetItem: "), "%s", err);
    cr_assert_not_null(strstr(err, want), "%s", err);
    cr_assert_not_null(strstr(err, "onnect"), "%s", err);
    cr_assert_lt(now_ms() - t0, 2000);
}

Test(settings, full_uri_over_plain_http_must_stay_local)
{
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://credentials.example.com/creds", 1);
    expect_prepare_error(url, "plain http is allowed only to a loopback address or the ECS/EKS agent");
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "not a url", 1);
    expect_prepare_error(url, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/creds", 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "bad\r\nX-Injected: 1", 1);
    expect_prepare_error(url, "AWS_CONTAINER_AUTHORIZATION_TOKEN: control character");
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "no-slash", 1);
    expect_prepare_error(url, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: must be a path");
}

/* ---- a scripted fake: DynamoDB answers in order, plus a credentials endpoint ---- */

enum fake_kind { FAKE_FIXED, FAKE_ECHO_PUT, FAKE_HANG };

struct fake_resp {
    enum fake_kind kind;
    int status;
    const char *body;
};

static struct {
    pid_t pid;
    int port;
    int listen_fd;
    const struct fake_resp *ddb;   /* in order; the last one repeats */
    size_t n_ddb;
    const char *creds_auth;        /* the Authorization the credentials path demands */
    int creds_status;              /* answer this instead of credentials when not 0 */
    const char *creds_body;        /* with creds_status */
    long creds_life;               /* seconds until Expiration */
    char log[512];
} fake;

static void fake_reply(int c, int status, const char *body)
{
    char head[256];
    size_t bl = strlen(body);
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d X\r\nContent-Type: application/x-amz-json-1.0\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, bl);

    if (write(c, head, (size_t)hl) < 0 || write(c, body, bl) < 0)
        return;
}

/* Value of header name in the request head, or "". */
static void header_of(const char *req, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    const char *p = strstr(req, "\r\n");
    const char *end = strstr(req, "\r\n\r\n");

    out[0] = '\0';
    while (p != NULL && end != NULL && p < end) {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            const char *e = strstr(v, "\r\n");

            while (*v == ' ')
                v++;
            snprintf(out, outlen, "%.*s", (int)(e - v), v);
            return;
        }
        p = strstr(p, "\r\n");
    }
}

static void fake_serve(void)
{
    static char req[1 << 20];
    static char last_put[1 << 20];
    size_t n_ddb = 0;
    int n_creds = 0;

    for (;;) {
        int c = accept(fake.listen_fd, NULL, NULL);
        size_t len = 0, clen = 0;
        char *hend = NULL, auth[256], target[128], cl[32];
        int logfd;

        if (c < 0)
            continue;
        while (len < sizeof req - 1) {
            ssize_t r = read(c, req + len, sizeof req - 1 - len);

            if (r <= 0)
                break;
            len += (size_t)r;
            req[len] = '\0';
            hend = strstr(req, "\r\n\r\n");
            if (hend != NULL) {
                header_of(req, "Content-Length", cl, sizeof cl);
                clen = (size_t)atol(cl);
                if (len >= (size_t)(hend + 4 - req) + clen)
                    break;
            }
        }
        if (hend == NULL) {
            close(c);
            continue;
        }
        logfd = open(fake.log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (logfd >= 0) {
            if (write(logfd, "\n====\n", 6) < 0 || write(logfd, req, len) < 0)
                _exit(3);
            close(logfd);
        }
        header_of(req, "Authorization", auth, sizeof auth);
        header_of(req, "X-Amz-Target", target, sizeof target);
        if (strncmp(req, "GET /creds", 10) == 0) {
            char body[512], exp[32];
            time_t t = time(NULL) + fake.creds_life;
            struct tm tm;

            if (fake.creds_auth != NULL && strcmp(auth, fake.creds_auth) != 0) {
                fake_reply(c, 401, "{\"message\":\"wrong token\"}");
            } else if (fake.creds_status != 0) {
                fake_reply(c, fake.creds_status, fake.creds_body);
            } else {
                n_creds++;
                gmtime_r(&t, &tm);
                strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%SZ", &tm);
                snprintf(body, sizeof body,
                         "{\"AccessKeyId\":\"AKIDCTR%d\",\"SecretAccessKey\":\"ctr-secret-%d\","
                         "\"Token\":\"ctr-token-%d\",\"Expiration\":\"%s\"}",
                         n_creds, n_creds, n_creds, exp);
                fake_reply(c, 200, body);
            }
        } else {
            const struct fake_resp *r = &fake.ddb[n_ddb < fake.n_ddb ? n_ddb : fake.n_ddb - 1];

            n_ddb++;
            if (strstr(target, ".PutItem") != NULL)
                snprintf(last_put, sizeof last_put, "%s", hend + 4);
            if (r->kind == FAKE_HANG) {
                pause_ms(3000);
                fake_reply(c, 200, "{}");
            } else if (r->kind == FAKE_ECHO_PUT) {
                cJSON *put = cJSON_Parse(last_put);
                cJSON *ans = cJSON_CreateObject();
                char *text;

                cJSON_AddItemToObject(ans, "Item",
                                      cJSON_DetachItemFromObject(put, "Item"));
                text = cJSON_PrintUnformatted(ans);
                fake_reply(c, 200, text);
                free(text);
                cJSON_Delete(ans);
                cJSON_Delete(put);
            } else {
                fake_reply(c, r->status, r->body);
            }
        }
        close(c);
    }
}

static void fake_start(const struct fake_resp *ddb, size_t n)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;

    fake.ddb = ddb;
    fake.n_ddb = n;
    snprintf(fake.log, sizeof fake.log, "%s/requests.log", tmpdir);
    fake.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fake.listen_fd, 0);
    cr_assert_eq(bind(fake.listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fake.listen_fd, 16), 0);
    cr_assert_eq(getsockname(fake.listen_fd, (struct sockaddr *)&a, &al), 0);
    fake.port = ntohs(a.sin_port);
    fake.pid = fork();
    cr_assert_geq(fake.pid, 0);
    if (fake.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        fake_serve();
        _exit(0);
    }
    close(fake.listen_fd);
    set_endpoint(fake.port);
}

#define FAKE_START(...)                                                   \
    do {                                                                  \
        static const struct fake_resp script_[] = { __VA_ARGS__ };       \
        fake_start(script_, sizeof script_ / sizeof script_[0]);          \
    } while (0)

#define OK_EMPTY { FAKE_FIXED, 200, "{}" }

static void fake_setup(void)
{
    base_env();
    memset(&fake, 0, sizeof fake);
    fake.creds_life = 3600;
}

static void fake_teardown(void)
{
    store_close(st);
    st = NULL;
    stop_child(&fake.pid);
    rm_tmpdir();
}

/* Everything the fake received, as one string (the caller frees it). */
static char *fake_requests(void)
{
    FILE *f = fopen(fake.log, "r");
    char *s;
    long n;

    if (f == NULL)
        return strdup("");
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    s = calloc(1, (size_t)n + 1);
    cr_assert_not_null(s);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return s;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The i-th (0-based) request the fake logged, copied into out. */
static void nth_request(const char *all, int i, char *out, size_t outlen)
{
    const char *p = all, *e;

    for (int k = 0; k <= i; k++) {
        p = strstr(p, "\n====\n");
        cr_assert_not_null(p, "fewer than %d requests", i + 1);
        p += 6;
    }
    e = strstr(p, "\n====\n");
    snprintf(out, outlen, "%.*s", e != NULL ? (int)(e - p) : (int)strlen(p), p);
}

static void open_store(void)
{
    st = store_open(url, err, sizeof err);
    cr_assert_not_null(st, "open: %s", err);
}

TestSuite(fake, .init = fake_setup, .fini = fake_teardown, .timeout = 60);

static void hex_of(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void hmac(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
    unsigned int ol = 32;

    cr_assert_not_null(HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
                            strlen(msg), out, &ol));
}

/* Recompute the SigV4 signature of a logged request from its own headers and the
 * secret, independently of curl, and compare. */
static void check_signature(const char *req, const char *secret, const char *region)
{
    char auth[1024], signed_hdrs[256], date8[16], amzdate[32], sig[80], val[9000];
    char canon[20000], sts[512], hexd[65], want[65];
    unsigned char h[32], k[32], k2[32];
    const char *body = strstr(req, "\r\n\r\n") + 4;
    const char *cred, *sh, *sg;
    char kdate[300];
    size_t at;

    header_of(req, "Authorization", auth, sizeof auth);
    cr_assert_eq(strncmp(auth, "AWS4-HMAC-SHA256 Credential=", 28), 0, "auth: %s", auth);
    cred = strchr(auth, '/');
    sh = strstr(auth, "SignedHeaders=");
    sg = strstr(auth, "Signature=");
    cr_assert(cred != NULL && sh != NULL && sg != NULL, "auth: %s", auth);
    snprintf(date8, sizeof date8, "%.8s", cred + 1);
    sh += 14;
    snprintf(signed_hdrs, sizeof signed_hdrs, "%.*s", (int)(strchr(sh, ',') - sh), sh);
    snprintf(sig, sizeof sig, "%s", sg + 10);
    header_of(req, "X-Amz-Date", amzdate, sizeof amzdate);

    at = (size_t)snprintf(canon, sizeof canon, "POST\n/\n\n");
    for (const char *p = signed_hdrs; *p != '\0';) {
        const char *semi = strchr(p, ';');
        size_t n = semi != NULL ? (size_t)(semi - p) : strlen(p);
        char name[64];

        snprintf(name, sizeof name, "%.*s", (int)n, p);
        header_of(req, name, val, sizeof val);
        at += (size_t)snprintf(canon + at, sizeof canon - at, "%s:%s\n", name, val);
        p += n;
        if (*p == ';')
            p++;
    }
    SHA256((const unsigned char *)body, strlen(body), h);
    hex_of(h, 32, hexd);
    snprintf(canon + at, sizeof canon - at, "\n%s\n%s", signed_hdrs, hexd);
    SHA256((const unsigned char *)canon, strlen(canon), h);
    hex_of(h, 32, hexd);
    snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/dynamodb/aws4_request\n%s", amzdate,
             date8, region, hexd);
    snprintf(kdate, sizeof kdate, "AWS4%s", secret);
    hmac(kdate, strlen(kdate), date8, k);
    hmac(k, 32, region, k2);
    hmac(k2, 32, "dynamodb", k);
    hmac(k, 32, "aws4_request", k2);
    hmac(k2, 32, sts, k);
    hex_of(k, 32, want);
    cr_assert_str_eq(sig, want, "signature does not verify\n%s", canon);
}

Test(fake, requests_carry_target_type_and_a_verifiable_signature)
{
    char *all, req[4096], h[256];

    setenv("AWS_SESSION_TOKEN", "session-token-xyz", 1);
    FAKE_START(OK_EMPTY);
    open_store();
    cr_assert_eq(store_get(st, "s:abc", &(char *){ NULL }, &(size_t){ 0 }, NULL, err,
                           sizeof err), 0, "%s", err);
    all = fake_requests();
    nth_request(all, 0, req, sizeof req);
    header_of(req, "X-Amz-Target", h, sizeof h);
    cr_assert_str_eq(h, "DynamoDB_20120810.GetItem");
    header_of(req, "Content-Type", h, sizeof h);
    cr_assert_str_eq(h, "application/x-amz-json-1.0");
    header_of(req, "x-amz-security-token", h, sizeof h);
    cr_assert_str_eq(h, "session-token-xyz");
    header_of(req, "Authorization", h, sizeof h);
    cr_assert_not_null(strstr(h, "Credential=" KEY_ID "/"), "%s", h);
    cr_assert_not_null(strstr(h, "/" REGION "/dynamodb/aws4_request"), "%s", h);
    cr_assert_not_null(strstr(h, "x-amz-security-token"), "token not signed: %s", h);
    cr_assert_not_null(strstr(h, "x-amz-target"), "target not signed: %s", h);
    cr_assert_not_null(strstr(req, "\"ConsistentRead\":true"), "%s", req);
    cr_assert_not_null(strstr(req, "{\"TableName\":\"" TABLE "\",\"Key\":{\"pk\":{\"S\":\"s:abc\"}}"),
                       "%s", req);
    check_signature(req, SECRET, REGION);
    free(all);
}

Test(fake, no_token_header_without_a_session_token_and_default_region_fallback)
{
    char *all, req[4096], h[256];

    unsetenv("AWS_REGION");
    setenv("AWS_DEFAULT_REGION", "ap-south-2", 1);
    FAKE_START(OK_EMPTY);
    open_store();
    cr_assert_eq(store_ping(st, err, sizeof err), 0, "%s", err);
    all = fake_requests();
    nth_request(all, 0, req, sizeof req);
    header_of(req, "x-amz-security-token", h, sizeof h);
    cr_assert_str_eq(h, "");
    header_of(req, "Authorization", h, sizeof h);
    cr_assert_not_null(strstr(h, "/ap-south-2/dynamodb/aws4_request"), "%s", h);
    check_signature(req, SECRET, "ap-south-2");
    cr_assert_null(strstr(req, "ConsistentRead"), "ping need not be consistent: %s", req);
    cr_assert_not_null(strstr(req, "\"S\":\"mcpgw:ping\""), "%s", req);
    free(all);
}

Test(fake, conditional_put_sends_the_expiry_condition)
{
    char *all;
    int64_t t0, t1;

    FAKE_START(OK_EMPTY, { FAKE_FIXED, 400,
        "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\","
        "\"message\":\"The conditional request failed\"}" });
    open_store();
    store_clock_offset_for_tests(1000);
    t0 = store_now();
    cr_assert_eq(store_add(st, "k", "v", 1, TTL, err, sizeof err), 1, "%s", err);
    cr_assert_eq(store_add(st, "k", "v", 1, TTL, err, sizeof err), 0, "%s", err);
    t1 = store_now();
    all = fake_requests();
    cr_assert_eq(count_of(all, "\n====\n"), 2, "a failed condition is not retried");
    cr_assert_not_null(strstr(all, "\"ConditionExpression\":\"attribute_not_exists(pk) OR "
                                   "expires_at <= :now\""), "%s", all);
    /* the clock passed in is the store's (shifted) one */
    {
        static const char now_at[] = "\":now\":{\"N\":\"";
        static const char exp_at[] = "\"expires_at\":{\"N\":\"";
        const char *a = strstr(all, now_at);
        const char *b = strstr(all, exp_at);
        long long now_sent, exp_sent;

        cr_assert(a != NULL && b != NULL, "%s", all);
        now_sent = strtoll(a + sizeof now_at - 1, NULL, 10);
        exp_sent = strtoll(b + sizeof exp_at - 1, NULL, 10);
        cr_assert(now_sent >= t0 && now_sent <= t1, ":now %lld not in [%lld, %lld]", now_sent,
                  (long long)t0, (long long)t1);
        cr_assert(exp_sent >= t0 + TTL && exp_sent <= t1 + TTL, "expires_at %lld", exp_sent);
    }
    free(all);
}

Test(fake, throttling_and_5xx_are_retried_once)
{
    char *all;
    long long t0;

    FAKE_START({ FAKE_FIXED, 500, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#InternalServerError\",\"message\":\"boom\"}" },
               { FAKE_FIXED, 400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException\",\"message\":\"slow down\"}" },
               OK_EMPTY,
               { FAKE_FIXED, 503, "<html>Service Unavailable</html>" },
               { FAKE_FIXED, 503, "<html>Service Unavailable</html>" },
               { FAKE_FIXED, 400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ThrottlingException\",\"message\":\"rate\"}" },
               { FAKE_FIXED, 500, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#InternalServerError\",\"message\":\"still boom\"}" },
               OK_EMPTY);
    open_store();
    t0 = now_ms();
    /* 500 then throttled: the retry is also refused, and that error is reported */
    cr_assert_eq(store_del(st, "k", err, sizeof err), -1);
    cr_assert_str_eq(err, "dynamodb:" TABLE ": DeleteItem: ProvisionedThroughputExceededException: slow down");
    cr_assert_geq(now_ms() - t0, 50, "no backoff before the retry");
    /* then 200 */
    cr_assert_eq(store_del(st, "k", err, sizeof err), 0, "%s", err);
    /* a 503 without JSON, twice */
    cr_assert_eq(store_ping(st, err, sizeof err), -1);
    cr_assert_str_eq(err, "dynamodb:" TABLE ": GetItem: HTTP 503");
    /* throttled, then a 500 */
    cr_assert_eq(store_put(st, "k", "v", 1, TTL, err, sizeof err), -1);
    cr_assert_str_eq(err, "dynamodb:" TABLE ": PutItem: InternalServerError: still boom");
    cr_assert_eq(store_put(st, "k", "v", 1, TTL, err, sizeof err), 0, "%s", err);
    all = fake_requests();
    cr_assert_eq(count_of(all, "\n====\n"), 8);
    free(all);
}

Test(fake, client_errors_are_not_retried_and_name_type_and_message)
{
    char *all;

    FAKE_START({ FAKE_FIXED, 400, "{\"__type\":\"com.amazon.coral.validate#ValidationException\",\"message\":\"One or more parameter values were invalid\"}" },
               OK_EMPTY);
    open_store();
    cr_assert_eq(store_put(st, "k", "v", 1, TTL, err, sizeof err), -1);
    cr_assert_str_eq(err, "dynamodb:" TABLE ": PutItem: ValidationException: One or more parameter values were invalid");
    all = fake_requests();
    cr_assert_eq(count_of(all, "\n====\n"), 1);
    free(all);
}

/* A 5xx may have been applied: a conditional retry that then fails must look whether
 * the record that blocked it is its own. */
Test(fake, add_retried_after_5xx_recognises_its_own_write)
{
    FAKE_START({ FAKE_FIXED, 500, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#InternalServerError\",\"message\":\"lost answer\"}" },
               { FAKE_FIXED, 400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\",\"message\":\"The conditional request failed\"}" },
               { FAKE_ECHO_PUT, 200, NULL },
               { FAKE_FIXED, 500, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#InternalServerError\",\"message\":\"lost answer\"}" },
               { FAKE_FIXED, 400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\",\"message\":\"The conditional request failed\"}" },
               { FAKE_FIXED, 200, "{\"Item\":{\"pk\":{\"S\":\"k\"},\"v\":{\"B\":\"b3RoZXI=\"},\"expires_at\":{\"N\":\"99999999999\"}}}" });
    open_store();
    cr_assert_eq(store_add(st, "k", "mine", 4, TTL, err, sizeof err), 1, "%s", err);
    cr_assert_eq(store_add(st, "k", "mine", 4, TTL, err, sizeof err), 0,
                 "someone else's record: %s", err);
}

Test(fake, timeout_is_applied)
{
    long long t0;

    setenv("MCPGW_DYNAMODB_TIMEOUT_MS", "300", 1);
    FAKE_START({ FAKE_HANG, 0, NULL });
    open_store();
    t0 = now_ms();
    cr_assert_eq(store_ping(st, err, sizeof err), -1);
    cr_assert_lt(now_ms() - t0, 1500, "took %lld ms", now_ms() - t0);
    cr_assert_not_null(strstr(err, "timed out"), "%s", err);
}

Test(fake, prepare_explains_access_denied_and_refused_keys)
{
    FAKE_START({ FAKE_FIXED, 400, "{\"__type\":\"com.amazon.coral.service#AccessDeniedException\",\"Message\":\"User: arn:aws:sts::1:assumed-role/r is not authorized to perform: dynamodb:GetItem\"}" },
               { FAKE_FIXED, 400, "{\"__type\":\"com.amazon.coral.service#UnrecognizedClientException\",\"message\":\"The security token included in the request is invalid.\"}" });
    cr_assert_eq(store_prepare(url, err, sizeof err), -1);
    cr_assert_str_eq(err, "store \"dynamodb:" TABLE "\": access denied to table " TABLE " in "
                     REGION " (the role needs dynamodb:GetItem, PutItem and DeleteItem on it): "
                     "AccessDeniedException: User: arn:aws:sts::1:assumed-role/r is not "
                     "authorized to perform: dynamodb:GetItem");
    cr_assert_eq(store_prepare(url, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "credentials from the environment refused by http://127.0.0.1:"),
                       "%s", err);
    cr_assert_not_null(strstr(err, "UnrecognizedClientException"), "%s", err);
}

/* ---- container credentials ---- */

static void use_container_creds(const char *auth_token)
{
    char full[128];

    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    snprintf(full, sizeof full, "http://127.0.0.1:%d/creds", fake.port);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", full, 1);
    if (auth_token != NULL)
        setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", auth_token, 1);
}

Test(fake, container_credentials_are_fetched_with_the_token_and_used)
{
    char *all, req[12000], h[256];

    fake.creds_auth = "Basic ctr-auth-token";
    FAKE_START(OK_EMPTY);
    use_container_creds("Basic ctr-auth-token");
    cr_assert_eq(store_prepare(url, err, sizeof err), 0, "%s", err);
    open_store();
    cr_assert_eq(store_put(st, "k", "v", 1, TTL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(store_del(st, "k", err, sizeof err), 0, "%s", err);
    all = fake_requests();
    /* prepare: creds + GetItem; the handle: creds once, then two calls */
    cr_assert_eq(count_of(all, "GET /creds"), 2, "%s", all);
    cr_assert_eq(count_of(all, "\n====\n"), 5);
    nth_request(all, 3, req, sizeof req);
    header_of(req, "X-Amz-Target", h, sizeof h);
    cr_assert_str_eq(h, "DynamoDB_20120810.PutItem");
    header_of(req, "x-amz-security-token", h, sizeof h);
    cr_assert_str_eq(h, "ctr-token-2");
    header_of(req, "Authorization", h, sizeof h);
    cr_assert_not_null(strstr(h, "Credential=AKIDCTR2/"), "%s", h);
    check_signature(req, "ctr-secret-2", REGION);
    free(all);
}

Test(fake, container_token_file_wins_and_is_reread)
{
    char path[512];
    FILE *f;

    fake.creds_auth = "from-file";
    FAKE_START(OK_EMPTY);
    use_container_creds("from-env");
    snprintf(path, sizeof path, "%s/token", tmpdir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("from-file\n", f);
    fclose(f);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path, 1);
    cr_assert_eq(store_prepare(url, err, sizeof err), 0, "%s", err);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("rotated", f);
    fclose(f);
    cr_assert_eq(store_prepare(url, err, sizeof err), -1);
    cr_assert_str_eq(err, "store \"dynamodb:" TABLE "\": GetItem: credentials from "
                     "AWS_CONTAINER_CREDENTIALS_FULL_URI: HTTP 401");
}

Test(fake, container_credentials_are_refreshed_before_they_expire)
{
    long long end;
    char *all = NULL;
    time_t t0 = time(NULL);

    /* Expiration is at least t0 + 4 s; with that short a life the refresh comes halfway */
    fake.creds_life = 4;
    FAKE_START(OK_EMPTY);
    use_container_creds(NULL);
    open_store();
    cr_assert_eq(store_ping(st, err, sizeof err), 0, "%s", err);
    all = fake_requests();
    cr_assert_not_null(strstr(all, "Credential=AKIDCTR1/"));
    cr_assert_eq(count_of(all, "GET /creds"), 1, "cached, not fetched per request");
    end = now_ms() + 10000;
    while (strstr(all, "Credential=AKIDCTR2/") == NULL) {
        cr_assert_lt(now_ms(), end, "no refresh within 10 s");
        free(all);
        pause_ms(50);
        cr_assert_eq(store_ping(st, err, sizeof err), 0, "%s", err);
        all = fake_requests();
    }
    cr_assert_lt(time(NULL), t0 + 4, "refreshed only when the old credentials had expired");
    free(all);
}

Test(fake, expired_token_refetches_credentials_and_retries)
{
    char *all, req[12000], h[256];

    FAKE_START({ FAKE_FIXED, 400, "{\"__type\":\"com.amazon.coral.service#ExpiredTokenException\",\"message\":\"The security token included in the request is expired\"}" },
               OK_EMPTY);
    use_container_creds(NULL);
    open_store();
    cr_assert_eq(store_ping(st, err, sizeof err), 0, "%s", err);
    all = fake_requests();
    cr_assert_eq(count_of(all, "GET /creds"), 2, "%s", all);
    nth_request(all, 3, req, sizeof req);
    header_of(req, "Authorization", h, sizeof h);
    cr_assert_not_null(strstr(h, "Credential=AKIDCTR2/"), "%s", h);
    free(all);
}

Test(fake, expired_static_keys_are_reported_not_retried)
{
    char *all;

    FAKE_START({ FAKE_FIXED, 400, "{\"__type\":\"com.amazon.coral.service#ExpiredTokenException\",\"message\":\"expired\"}" },
               OK_EMPTY);
    open_store();
    cr_assert_eq(store_ping(st, err, sizeof err), -1);
    cr_assert_str_eq(err, "dynamodb:" TABLE ": GetItem: ExpiredTokenException: expired");
    all = fake_requests();
    cr_assert_eq(count_of(all, "\n====\n"), 1);
    free(all);
}

Test(fake, credential_failures_are_clear_and_leak_no_secret)
{
    fake.creds_status = 200;
    fake.creds_body = "{\"AccessKeyId\":\"AKIDLEAK\",\"SecretAccessKey\":\"SECRET-LEAK\","
                      "\"Token\":\"TOKEN-LEAK\"}";
    FAKE_START(OK_EMPTY);
    use_container_creds("AUTH-LEAK");
    cr_assert_eq(store_prepare(url, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "AccessKeyId, SecretAccessKey or Expiration missing"), "%s", err);
    cr_assert_null(strstr(err, "LEAK"), "%s", err);

    fake.creds_status = 500;
    fake.creds_body = "{\"message\":\"SECRET-LEAK\"}";
    stop_child(&fake.pid);
    FAKE_START(OK_EMPTY);
    use_container_creds("AUTH-LEAK");
    cr_assert_eq(store_prepare(url, err, sizeof err), -1);
    cr_assert_str_eq(err, "store \"dynamodb:" TABLE "\": GetItem: credentials from "
                     "AWS_CONTAINER_CREDENTIALS_FULL_URI: HTTP 500");
}

Test(fake, credentials_endpoint_down_is_named)
{
    char full[128];

    FAKE_START(OK_EMPTY);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    snprintf(full, sizeof full, "http://127.0.0.1:%d/creds", free_port());
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", full, 1);
    open_store();
    cr_assert_eq(store_ping(st, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "dynamodb:" TABLE ": GetItem: credentials from "
                                   "AWS_CONTAINER_CREDENTIALS_FULL_URI: "), "%s", err);
    cr_assert_not_null(strstr(err, "onnect"), "%s", err);
}

/* Without valid credentials every request fails; they must not each ask the endpoint. */
Test(fake, a_failing_credentials_endpoint_is_not_hammered)
{
    char *all;

    fake.creds_status = 500;
    fake.creds_body = "{}";
    FAKE_START(OK_EMPTY);
    use_container_creds(NULL);
    open_store();
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(store_ping(st, err, sizeof err), -1);
        cr_assert_str_eq(err, "dynamodb:" TABLE ": GetItem: credentials from "
                         "AWS_CONTAINER_CREDENTIALS_FULL_URI: HTTP 500");
    }
    all = fake_requests();
    cr_assert_eq(count_of(all, "GET /creds"), 1, "asked again within 1 s");
    cr_assert_eq(count_of(all, "\n====\n"), 1, "DynamoDB called without credentials");
    free(all);
}
