/* SPDX-License-Identifier: MIT */
/* test_status.c - unit tests of /status (access, formats, figures) and of the listen
 * queue figures for TCP and unix sockets. */

#include "status.h"
#include "sockq.h"

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static scoreboard_t *sb;
static int sb_fd = -1;
static config_t *cfg;
static http_response_t resp;
static char err[256];

static void setup(void)
{
    char e[160];

    sb = scoreboard_create(8, 4, "static", &sb_fd, err, sizeof(err));
    cr_assert_not_null(sb, "create: %s", err);
    cfg = calloc(1, sizeof(*cfg));
    cr_assert_not_null(cfg);
    cr_assert_eq(cidr_parse("127.0.0.0/8", &cfg->status_allow[0], e, sizeof(e)), 0);
    cr_assert_eq(cidr_parse("::1", &cfg->status_allow[1], e, sizeof(e)), 0);
    cfg->n_status_allow = 2;
    http_response_init(&resp);
}

static void teardown(void)
{
    status_detach();
    http_response_release(&resp);
    free(cfg);
    scoreboard_detach(sb);
    close(sb_fd);
}

static void worker(unsigned i, int pid, int busy)
{
    atomic_store(&sb->slots[i].pid, pid);
    atomic_store(&sb->slots[i].state, SB_STARTING);
    scoreboard_worker_ready(sb, i);
    if (busy)
        scoreboard_request_begin(sb, i, "POST", "/mcp");
}

static cJSON *render_json(int listen_fd, int full)
{
    cJSON *doc;

    http_response_release(&resp);
    http_response_init(&resp);
    status_render(sb, listen_fd, 0, full, &resp);
    cr_assert_eq(resp.status, 200);
    cr_assert_str_eq(resp.content_type, "application/json");
    doc = cJSON_Parse(resp.body);
    cr_assert_not_null(doc, "not JSON: %s", resp.body);
    return doc;
}

static double num(const cJSON *doc, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);

    cr_assert(cJSON_IsNumber(v), "%s is not a number", key);
    return v->valuedouble;
}

/* A listening TCP socket on loopback with `pending` connections nobody accepted. */
static int tcp_listener(int backlog, int pending, int *clients)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof(sa);
    int l = socket(AF_INET, SOCK_STREAM, 0);

    cr_assert_geq(l, 0);
    cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(l, backlog), 0);
    cr_assert_eq(getsockname(l, (struct sockaddr *)&sa, &sl), 0);
    for (int i = 0; i < pending; i++) {
        clients[i] = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert_eq(connect(clients[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
    }
    return l;
}

Test(status, json_has_every_figure, .init = setup, .fini = teardown)
{
    static const char *const keys[] = {
        "pool", "mode", "start_time", "start_since", "accepted", "listen_queue",
        "max_listen_queue", "listen_queue_len", "idle", "active", "starting", "stopping",
        "total", "max_active", "max_children", "max_children_reached", "slow_requests",
        "restarts", "crashes", "timeouts", "retired", "crash_burst", "generation", "swaps",
        "swap_failures", "last_swap_error",
    };
    cJSON *doc;

    worker(0, 100, 1);
    worker(1, 101, 0);
    worker(2, 102, 1);
    atomic_store(&sb->slots[3].pid, 103);
    atomic_store(&sb->slots[3].state, SB_STARTING);
    atomic_store(&sb->restarts, 7);
    atomic_store(&sb->swap_failures, 2);
    scoreboard_set_text(sb->last_swap_error, sizeof(sb->last_swap_error), "new worker broke");
    doc = render_json(-1, 0);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        cr_expect_not_null(cJSON_GetObjectItemCaseSensitive(doc, keys[i]), "%s missing", keys[i]);
    cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(doc, "mode")->valuestring, "static");
    cr_expect_eq(num(doc, "total"), 4);
    cr_expect_eq(num(doc, "active"), 2);
    cr_expect_eq(num(doc, "idle"), 1);
    cr_expect_eq(num(doc, "starting"), 1);
    cr_expect_eq(num(doc, "accepted"), 2);
    cr_expect_eq(num(doc, "max_active"), 2);
    cr_expect_eq(num(doc, "max_children"), 4);
    cr_expect_eq(num(doc, "restarts"), 7);
    cr_expect_eq(num(doc, "swap_failures"), 2);
    cr_expect_eq(num(doc, "generation"), 1);
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(doc, "crash_burst")));
    cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(doc, "last_swap_error")->valuestring,
                     "new worker broke");
    cr_expect(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(doc, "listen_queue")));
    cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(doc, "listen_queue_error")->valuestring,
                     "no listening socket");
    cr_expect_null(cJSON_GetObjectItemCaseSensitive(doc, "workers"), "workers only with full");
    cJSON_Delete(doc);
}

Test(status, full_lists_each_worker, .init = setup, .fini = teardown)
{
    cJSON *doc, *w, *first;

    worker(0, 100, 1);
    worker(5, 105, 0);
    doc = render_json(-1, 1);
    w = cJSON_GetObjectItemCaseSensitive(doc, "workers");
    cr_assert(cJSON_IsArray(w));
    cr_assert_eq(cJSON_GetArraySize(w), 2);
    first = cJSON_GetArrayItem(w, 0);
    cr_expect_eq(num(first, "slot"), 0);
    cr_expect_eq(num(first, "pid"), 100);
    cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(first, "state")->valuestring, "busy");
    cr_expect_str_eq(cJSON_GetObjectItemCaseSensitive(first, "request")->valuestring,
                     "POST /mcp");
    cr_expect_geq(num(first, "request_ms"), 0);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(w, 1),
                                                             "request_ms")));
    cJSON_Delete(doc);
}

Test(status, text_has_one_figure_per_line, .init = setup, .fini = teardown)
{
    worker(0, 100, 1);
    status_render(sb, -1, 1, 1, &resp);
    cr_assert_eq(resp.status, 200);
    cr_expect_str_eq(resp.content_type, "text/plain");
    cr_expect(strstr(resp.body, "\nprocess manager          static\n") != NULL, "%s", resp.body);
    cr_expect(strstr(resp.body, "\nactive processes         1\n") != NULL, "%s", resp.body);
    cr_expect(strstr(resp.body, "\nlisten queue             n/a\n") != NULL, "%s", resp.body);
    cr_expect(strstr(resp.body, "\npid                      100\n") != NULL, "%s", resp.body);
    cr_expect(strstr(resp.body, "\nrequest                  POST /mcp\n") != NULL, "%s",
              resp.body);
}

Test(status, listen_queue_of_a_tcp_socket, .init = setup, .fini = teardown)
{
    int c[3], l = tcp_listener(16, 3, c);
    long long len = -1, cap = -1;
    cJSON *doc;

    cr_assert_eq(sockq_length(l, &len, &cap, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(len, 3);
    cr_expect_eq(cap, 16);
    doc = render_json(l, 0);
    cr_expect_eq(num(doc, "listen_queue"), 3);
    cr_expect_eq(num(doc, "listen_queue_len"), 16);
    cr_expect_eq(num(doc, "max_listen_queue"), 3, "at least what this request saw");
    cr_expect(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(doc, "listen_queue_error")));
    cJSON_Delete(doc);
    for (int i = 0; i < 3; i++)
        close(c[i]);
    close(l);
}

Test(status, listen_queue_of_a_unix_socket)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char dir[] = "/tmp/test_status.XXXXXX";
    long long len = -1, cap = -1;
    int l, c[2];

    cr_assert_not_null(mkdtemp(dir));
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s", dir);
    l = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(l, 7), 0);
    for (int i = 0; i < 2; i++) {
        c[i] = socket(AF_UNIX, SOCK_STREAM, 0);
        cr_assert_eq(connect(c[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
    }
    if (sockq_length(l, &len, &cap, err, sizeof(err)) < 0 && strstr(err, "sock_diag") != NULL)
        cr_skip_test("this kernel offers no unix sock_diag: %s", err);
    cr_expect_eq(len, 2, "err: %s", err);
    cr_expect_eq(cap, 7);
    for (int i = 0; i < 2; i++)
        close(c[i]);
    close(l);
    unlink(sa.sun_path);
    rmdir(dir);
}

Test(status, listen_queue_needs_a_listening_socket)
{
    long long len = 5, cap = 5;
    int s = socket(AF_INET, SOCK_STREAM, 0);

    cr_expect_eq(sockq_length(s, &len, &cap, err, sizeof(err)), -1);
    cr_expect_eq(len, 5, "untouched on failure");
    cr_expect_eq(sockq_length(-1, &len, &cap, err, sizeof(err)), -1);
    close(s);
}

/* ---- the route ----------------------------------------------------------------- */

static void handle(const char *remote, const char *query, const char *accept)
{
    http_request_t req;

    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.path = "/status";
    req.remote_addr = remote;
    req.query = query;
    req.accept = accept;
    http_response_release(&resp);
    http_response_init(&resp);
    status_handle(cfg, &req, &resp);
}

Test(route, only_allowed_peers_get_it, .init = setup, .fini = teardown)
{
    status_attach(sb, -1);
    handle("10.0.0.7", NULL, NULL);
    cr_expect_eq(resp.status, 403);
    handle(NULL, NULL, NULL);
    cr_expect_eq(resp.status, 403);
    handle("127.0.0.1", NULL, NULL);
    cr_expect_eq(resp.status, 200);
    handle("::1", NULL, NULL);
    cr_expect_eq(resp.status, 200);
    cfg->status_allow_any = 1;
    handle("203.0.113.5", NULL, NULL);
    cr_expect_eq(resp.status, 200);
}

Test(route, without_a_scoreboard_it_is_503, .init = setup, .fini = teardown)
{
    handle("127.0.0.1", "", NULL);
    cr_expect_eq(resp.status, 503);
}

Test(route, format_follows_query_then_accept, .init = setup, .fini = teardown)
{
    status_attach(sb, -1);
    handle("127.0.0.1", "", NULL);
    cr_expect_str_eq(resp.content_type, "application/json");
    handle("127.0.0.1", "text", NULL);
    cr_expect_str_eq(resp.content_type, "text/plain");
    handle("127.0.0.1", "full&text=1", NULL);
    cr_expect_str_eq(resp.content_type, "text/plain");
    handle("127.0.0.1", "", "text/plain, */*");
    cr_expect_str_eq(resp.content_type, "text/plain");
    handle("127.0.0.1", "json", "text/plain");
    cr_expect_str_eq(resp.content_type, "application/json");
    handle("127.0.0.1", "texts&fulltext", NULL);
    cr_expect_str_eq(resp.content_type, "application/json", "only whole names count");
    cr_expect(strstr(resp.body, "\"workers\"") == NULL);
    handle("127.0.0.1", "full", NULL);
    cr_expect(strstr(resp.body, "\"workers\"") != NULL);
}

Test(route, attach_keeps_its_own_copy_of_the_socket, .init = setup, .fini = teardown)
{
    int c[1], l = tcp_listener(4, 1, c);

    status_attach(sb, l);
    close(l);                       /* what a stopping worker does with its copy */
    handle("127.0.0.1", "", NULL);
    cr_assert_eq(resp.status, 200);
    cr_expect(strstr(resp.body, "\"listen_queue\":1") != NULL, "%s", resp.body);
    close(c[0]);
}
