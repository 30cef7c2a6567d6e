/* SPDX-License-Identifier: MIT */
/* test_upstream.c - upstream.c over real libcurl against a scripted loopback HTTP/1.1 server. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "upstream.h"

/* ---- a tiny HTTP/1.1 server on 127.0.0.1:ephemeral, in a thread of the test ---- */

#define SRV_CONNS    8
#define SRV_REQS     16
#define SRV_CONN_BUF (4u << 20)   /* room for a request body over curl's Expect threshold */

typedef struct srv_req {
    char method[16];
    char head[8192];     /* request line and headers, NUL-terminated */
    char body[4096];     /* first bytes of the body, NUL-terminated */
    size_t body_len;     /* full body length */
} srv_req_t;

typedef struct srv srv_t;

/* Answer request number idx (0-based, over the server's life) on fd.  Return 1 to close
 * the connection afterwards, 0 to keep it. */
typedef int (*srv_handler_fn)(srv_t *s, int fd, int idx);

struct srv {
    int lfd;
    int port;
    int wake[2];
    pthread_t thread;
    srv_handler_fn handler;
    pthread_mutex_t mu;
    int accepted;
    int nreq;
    srv_req_t reqs[SRV_REQS];
};

typedef struct srv_conn {
    int fd;
    char *buf;
    size_t len;
} srv_conn_t;

static int send_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_str(int fd, const char *s)
{
    return send_all(fd, s, strlen(s));
}

/* Space out pieces of an answer so that they leave as separate segments. */
static void pause_ms(int ms)
{
    struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000L };

    nanosleep(&ts, NULL);
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A complete request at the start of c->buf?  Record it, answer it, consume it.
 * Returns 1 if the connection must be closed. */
static int srv_try_request(srv_t *s, srv_conn_t *c, int *consumed_any)
{
    char *end, *cl;
    size_t head_len, body_len = 0, total;
    int idx, rc;

    *consumed_any = 0;
    c->buf[c->len] = '\0';
    end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    head_len = (size_t)(end - c->buf) + 4;
    end[2] = '\0';   /* temporarily end the headers for the search */
    cl = strcasestr(c->buf, "\r\nContent-Length:");
    if (cl != NULL)
        body_len = strtoul(cl + 17, NULL, 10);
    end[2] = '\r';
    total = head_len + body_len;
    if (c->len < total)
        return 0;

    pthread_mutex_lock(&s->mu);
    idx = s->nreq++;
    if (idx < SRV_REQS) {
        srv_req_t *r = &s->reqs[idx];
        size_t hl = head_len < sizeof(r->head) - 1 ? head_len : sizeof(r->head) - 1;
        size_t bl = body_len < sizeof(r->body) - 1 ? body_len : sizeof(r->body) - 1;

        memcpy(r->head, c->buf, hl);
        r->head[hl] = '\0';
        sscanf(r->head, "%15s", r->method);
        memcpy(r->body, c->buf + head_len, bl);
        r->body[bl] = '\0';
        r->body_len = body_len;
    }
    pthread_mutex_unlock(&s->mu);

    rc = s->handler(s, c->fd, idx);
    memmove(c->buf, c->buf + total, c->len - total);
    c->len -= total;
    *consumed_any = 1;
    return rc;
}

static void srv_close(srv_conn_t *c)
{
    close(c->fd);
    free(c->buf);
    c->fd = -1;
    c->buf = NULL;
    c->len = 0;
}

static void *srv_main(void *arg)
{
    srv_t *s = arg;
    srv_conn_t conns[SRV_CONNS];

    for (int i = 0; i < SRV_CONNS; i++)
        conns[i].fd = -1;
    for (;;) {
        struct pollfd pfd[SRV_CONNS + 2];
        int map[SRV_CONNS + 2];
        int n = 0;

        pfd[n].fd = s->wake[0];
        pfd[n++].events = POLLIN;
        pfd[n].fd = s->lfd;
        pfd[n++].events = POLLIN;
        for (int i = 0; i < SRV_CONNS; i++) {
            if (conns[i].fd >= 0) {
                map[n] = i;
                pfd[n].fd = conns[i].fd;
                pfd[n++].events = POLLIN;
            }
        }
        if (poll(pfd, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[0].revents != 0)
            break;
        if (pfd[1].revents & POLLIN) {
            int fd = accept(s->lfd, NULL, NULL);
            int one = 1;
            int slot = -1;

            if (fd >= 0) {
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                pthread_mutex_lock(&s->mu);
                s->accepted++;
                pthread_mutex_unlock(&s->mu);
                for (int i = 0; i < SRV_CONNS && slot < 0; i++)
                    if (conns[i].fd < 0)
                        slot = i;
                if (slot < 0) {
                    close(fd);
                } else {
                    conns[slot].fd = fd;
                    conns[slot].buf = malloc(SRV_CONN_BUF + 1);
                    conns[slot].len = 0;
                    if (conns[slot].buf == NULL)
                        srv_close(&conns[slot]);
                }
            }
        }
        for (int k = 2; k < n; k++) {
            srv_conn_t *c = &conns[map[k]];
            ssize_t r;
            int close_it = 0, more = 1;

            if (pfd[k].revents == 0)
                continue;
            if (c->len >= SRV_CONN_BUF) {
                srv_close(c);
                continue;
            }
            r = recv(c->fd, c->buf + c->len, SRV_CONN_BUF - c->len, 0);
            if (r <= 0) {
                srv_close(c);
                continue;
            }
            c->len += (size_t)r;
            while (more && !close_it)
                close_it = srv_try_request(s, c, &more);
            if (close_it)
                srv_close(c);
        }
    }
    for (int i = 0; i < SRV_CONNS; i++)
        if (conns[i].fd >= 0)
            srv_close(&conns[i]);
    return NULL;
}

static srv_t *srv_start(srv_handler_fn handler)
{
    srv_t *s = calloc(1, sizeof(*s));
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);

    cr_assert_not_null(s);
    s->handler = handler;
    pthread_mutex_init(&s->mu, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(s->lfd, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    cr_assert_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0, "bind: %s", strerror(errno));
    cr_assert_eq(listen(s->lfd, 16), 0);
    cr_assert_eq(getsockname(s->lfd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
    cr_assert_eq(pipe(s->wake), 0);
    cr_assert_eq(pthread_create(&s->thread, NULL, srv_main, s), 0);
    return s;
}

static void srv_stop(srv_t *s)
{
    if (s == NULL)
        return;
    cr_expect_eq(write(s->wake[1], "x", 1), 1);
    pthread_join(s->thread, NULL);
    close(s->wake[0]);
    close(s->wake[1]);
    close(s->lfd);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static int srv_accepted(srv_t *s)
{
    int n;

    pthread_mutex_lock(&s->mu);
    n = s->accepted;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static int srv_requests(srv_t *s)
{
    int n;

    pthread_mutex_lock(&s->mu);
    n = s->nreq;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Wait (polling, up to 2 s) until the server has accepted n connections; returns the count. */
static int srv_wait_accepted(srv_t *s, int n)
{
    long long deadline = now_ms() + 2000;
    int got = srv_accepted(s);

    while (got < n && now_ms() < deadline) {
        pause_ms(1);
        got = srv_accepted(s);
    }
    return got;
}

/* Copy of recorded request idx (the server thread may still be running). */
static srv_req_t srv_request(srv_t *s, int idx)
{
    srv_req_t r;

    cr_assert_lt(idx, SRV_REQS);
    pthread_mutex_lock(&s->mu);
    cr_assert_lt(idx, s->nreq, "request %d was never received", idx);
    r = s->reqs[idx];
    pthread_mutex_unlock(&s->mu);
    return r;
}

/* ---- canned answers ---- */

static void answer_json(int fd, int status, const char *extra, const char *body)
{
    char head[512];

    snprintf(head, sizeof(head),
             "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
             status, strlen(body), extra);
    send_str(fd, head);
    send_str(fd, body);
}

static void sse_head(int fd)
{
    send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                 "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n");
}

static void sse_chunk(int fd, const char *data)
{
    char head[32];

    snprintf(head, sizeof(head), "%zx\r\n", strlen(data));
    send_str(fd, head);
    send_str(fd, data);
    send_str(fd, "\r\n");
}

static void sse_end(int fd)
{
    send_str(fd, "0\r\n\r\n");
}

/* ---- fixture ---- */

static srv_t *S;
static upstream_t *U;
static upstream_conf_t C;
static char URL[64];
static char ERR[256];

static void suite_init(void)
{
    /* libcurl honours proxy variables; loopback tests must not go through a proxy. */
    static const char *proxy_vars[] = { "http_proxy", "HTTP_PROXY", "https_proxy",
                                        "HTTPS_PROXY", "all_proxy", "ALL_PROXY" };

    for (size_t i = 0; i < sizeof(proxy_vars) / sizeof(proxy_vars[0]); i++)
        unsetenv(proxy_vars[i]);
    cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    S = NULL;
    U = NULL;
    memset(&C, 0, sizeof(C));
    snprintf(C.name, sizeof(C.name), "test");
    C.url = URL;
    C.timeout_ms = 3000;
    C.connect_timeout_ms = 1000;
    ERR[0] = '\0';
}

static void suite_fini(void)
{
    upstream_free(U);
    srv_stop(S);
    curl_global_cleanup();
}

TestSuite(upstream, .init = suite_init, .fini = suite_fini, .timeout = 20);

/* Start the server with handler and a client pointed at it. */
static void start(srv_handler_fn handler)
{
    S = srv_start(handler);
    snprintf(URL, sizeof(URL), "http://127.0.0.1:%d/mcp", S->port);
    U = upstream_new(&C, ERR, sizeof(ERR));
    cr_assert_not_null(U, "upstream_new: %s", ERR);
}

static cJSON *request(int id)
{
    cJSON *m = cJSON_CreateObject();

    cJSON_AddStringToObject(m, "jsonrpc", "2.0");
    cJSON_AddNumberToObject(m, "id", id);
    cJSON_AddStringToObject(m, "method", "tools/list");
    return m;
}

static int post(cJSON *msg, const char *sid, const char *pv, upstream_reply_t *r)
{
    int rc;

    ERR[0] = '\0';
    rc = upstream_post(U, msg, sid, pv, r, ERR, sizeof(ERR));
    cJSON_Delete(msg);
    return rc;
}

static int result_int(const upstream_reply_t *r, const char *field)
{
    const cJSON *res, *v;

    cr_assert_not_null(r->message, "no message");
    res = cJSON_GetObjectItemCaseSensitive(r->message, "result");
    cr_assert(cJSON_IsObject(res), "no result object");
    v = cJSON_GetObjectItemCaseSensitive(res, field);
    cr_assert(cJSON_IsNumber(v), "result.%s missing", field);
    return v->valueint;
}

#define ASSERT_ERR_HAS(s) cr_assert(strstr(ERR, s) != NULL, "error \"%s\" lacks \"%s\"", ERR, s)

/* ---- JSON answers ---- */

static int h_json(srv_t *s, int fd, int idx)
{
    char body[128];

    (void)s;
    snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":{\"n\":%d}}",
             idx + 1, 100 + idx);
    answer_json(fd, 200, "", body);
    return 0;
}

Test(upstream, json_answer)
{
    upstream_reply_t r;

    start(h_json);
    cr_assert_eq(post(request(1), NULL, NULL, &r), 0, "%s", ERR);
    cr_assert_eq(r.http_status, 200);
    cr_assert_eq(result_int(&r, "n"), 100);
    cr_assert_null(r.session_id);
    cr_assert_eq(r.list_changed, 0);
    upstream_reply_free(&r);
    upstream_reply_free(&r);  /* second free is harmless */
}

Test(upstream, connection_is_reused)
{
    upstream_reply_t r;

    start(h_json);
    cr_assert_eq(post(request(1), NULL, NULL, &r), 0, "%s", ERR);
    cr_assert_eq(result_int(&r, "n"), 100);
    upstream_reply_free(&r);
    cr_assert_eq(post(request(2), NULL, NULL, &r), 0, "%s", ERR);
    cr_assert_eq(result_int(&r, "n"), 101);
    upstream_reply_free(&r);
    cr_assert_eq(srv_requests(S), 2);
    cr_assert_eq(srv_accepted(S), 1, "two requests should share one TCP connection");
}

static int h_batch(srv_t *s, int fd, int idx)
{
    (void)s;
    (void)idx;
    /* Old servers may answer with a batch; ids must match by type as well as value. */
    answer_json(fd, 200, "",
                "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/prompts/list_changed\"},"
                "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"which\":0}},"
                "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"which\":1}},"
                "{\"jsonrpc\":\"2.0\",\"id\":\"5\",\"result\":{\"which\":2}},"
                "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":{\"which\":3}}]");
    return 0;
}

Test(upstream, json_batch_picks_matching_id)
{
    upstream_reply_t r;
    cJSON *m = request(0);

    start(h_batch);
    cJSON_ReplaceItemInObject(m, "id", cJSON_CreateString("5"));
    cr_assert_eq(post(m, NULL, NULL, &r), 0, "%s", ERR);
    cr_assert_eq(result_int(&r, "which"), 2);
    cr_assert_eq(r.list_changed, UPSTREAM_PROMPTS_CHANGED);
    upstream_reply_free(&r);
    cr_assert_eq(post(request(5), NULL, NULL, &r), 0, "%s", ERR);
    cr_assert_eq(result_int(&r, "which"), 1);
    upstream_reply_free(&r);
    m = request(0);
    cJSON_ReplaceItemInObject(m, "id", cJSON_CreateString("x"));
    cr_assert_eq(post(m, NULL, NULL, &r), 0, "%s", ERR);
    cr_assert_eq(result_int(&r, "which"), 3, "a string id must not match a number");
    upstream_reply_free(&r);
}

static int h_wrong_id(srv_t *s, int fd, int idx)
{
    (void)s;
    if (idx == 0)
        answer_json(fd, 200, "", "{\"jsonrpc\":\"2.0\",\"id\":99,\"result\":{}}");
    else if (idx == 1)
        answer_json(fd, 200, "", "{\"jsonrpc\":\"2.0\",");
    else if (idx == 3)
        answer_json(fd, 200, "", "{\"jsonrpc\":\"2.0\",\"id\":null,"
                                 "\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}");
    else
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 4\r\n\r\n<p/>");
    return 0;
}

Test(upstream, json_without_matching_response_fails)
{
    upstream_reply_t r;

    start(h_wrong_id);
    cr_assert_eq(post(request(1), NULL, NULL, &r), -1);
    ASSERT_ERR_HAS("no JSON-RPC response");
    cr_assert_null(r.message);
    cr_assert_eq(r.http_status, 0, "a failed call leaves the reply empty");
    upstream_reply_free(&r);
    cr_assert_eq(post(request(1), NULL, NULL, &r), -1);
    ASSERT_ERR_HAS("not JSON");
    upstream_reply_free(&r);
    cr_assert_eq(post(request(1), NULL, NULL, &r), -1);
    ASSERT_ERR_HAS("Content-Type text/html");
    upstream_reply_free(&r);
    /* An error with id null is the answer to a request whose id the server could not read. */
    cr_assert_eq(post(request(1), NULL, NULL, &r), 0, "%s", ERR);
    cr_assert_not_null(r.message);
    cr_assert_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r.message,
                 "error"), "code")->valueint, -32700);
    upstream_reply_free(&r);
}

static int h_bad_text(srv_t *s, int fd, int idx)
{
    (void)s;
    if (idx == 0) {
        answer_json(fd, 200, "", "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"t\":\"\xff\"}}");
    } else if (idx == 1) {
        answer_json(fd, 200, "", "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"t\":\"a\\u0000b\"}}");
    } else {
        /* In a stream: the bad event is skipped and named if no answer follows. */
        sse_head(fd);
        sse_chunk(fd, "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"t\":\"\xc3\x28\"}}\n\n");
        sse_end(fd);
    }
    return 0;
}

Test(upstream, answers_that_are_not_valid_json_text_are_refused_by_name)
{
    upstream_reply_t r;

    start(h_bad_text);
    cr_assert_eq(post(request(1), NULL, NULL, &r), -1);
    ASSERT_ERR_HAS("answer refused: invalid UTF-8 at byte 39");
    upstream_reply_free(&r);
    cr_assert_eq(post(request(1), NULL, NULL, &r), -1);
    ASSERT_ERR_HAS("answer refused: \\u0000 in a string");
    upstream_reply_free(&r);
    cr_assert_eq(post(request(1), NULL, NULL, &r), -1);
    ASSERT_ERR_HAS("answer refused: invalid UTF-8");
    upstream_reply_free(&r);
}

static int h_server_asks(srv_t *s, int fd, int idx)
{
    (void)s;
    if (idx > 0) {          /* our answers to its requests */
        send_str(fd, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
        return 0;
    }
    sse_head(fd);
    sse_chunk(fd, "data: {\"jsonrpc\":\"2.0\",\"id\":\"srv-1\",\"method\":\"ping\"}\n\n"
                  "data: {\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"sampling/createMessage\","
                  "\"params\":{}}\n\n");
    pause_ms(50);
    sse_chunk(fd, "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"v\":1}}\n\n");
    sse_end(fd);
    return 0;
}

Test(upstream, requests_inside_an_answer_are_answered_at_once)
{
    upstream_reply_t r;
    srv_req_t a, b;

    start(h_server_asks);
    cr_assert_eq(post(request(1), "sess-1", "2025-11-25", &r), 0, "%s", ERR);
    cr_assert_eq(result_int(&r, "v"), 1);
    upstream_reply_free(&r);
    cr_assert_eq(srv_requests(S), 3, "the two requests were not answered");
    pthread_mutex_lock(&S->mu);
    a = S->reqs[1];
    b = S->reqs[2];
    pthread_mutex_unlock(&S->mu);
    /* ping gets an empty result; what a gateway without client capabilities cannot do is
     * refused, both in the upstream's session. */
    cr_expect(strstr(a.body, "\"id\":\"srv-1\"") != NULL && strstr(a.body, "\"result\":{}") != NULL,
              "%s", a.body);
    cr_expect(strstr(b.body, "\"id\":7") != NULL && strstr(b.body, "-32601") != NULL &&
              strstr(b.body, "sampling/createMessage") != NULL, "%s", b.body);
    cr_expect(strstr(a.head, "Mcp-Session-Id: sess-1") != NULL, "%s", a.head);
    cr_expect(strstr(b.head, "MCP-Protocol-Version: 2025-11-25") != NULL, "%s", b.head);
}

static int h_asks_and_never_listens(srv_t *s, int fd, int idx)
{
    (void)s;
    (void)fd;
    if (idx > 0)
        return 0;       /* takes our answers' connections and never replies */
    sse_head(fd);
    for (int i = 0; i < 5; i++) {
        char ev[96];

        snprintf(ev, sizeof(ev), "data: {\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"ping\"}\n\n",
                 100 + i);
        sse_chunk(fd, ev);
    }
    return 0;           /* and never answers the request itself */
}

Test(upstream, answering_an_upstream_s_requests_stays_within_the_exchange_limit)
{
    upstream_reply_t r;
    long long t0;

    C.timeout_ms = 800;
    start(h_asks_and_never_listens);
    t0 = now_ms();
    cr_assert_eq(post(request(1), "s", "2025-11-25", &r), -1);
    /* Five answers of up to 2 s each would take 10 s. */
    cr_expect_lt(now_ms() - t0, 2500, "took %lld ms", now_ms() - t0);
    ASSERT_ERR_HAS("timeout");
    upstream_reply_free(&r);
}

/* ---- SSE answers ---- */

static int h_sse(srv_t *s, int fd, int idx)
{
    (void)s;
    (void)idx;
    sse_head(fd);
    sse_chunk(fd, ": keep-alive comment\n\n");
    pause_ms(2);
    sse_chunk(fd, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":"
                  "\"notifications/tools/list_changed\"}\n\n");
    /* Events to ignore: a server request, progress, a response to someone else. */
    sse_chunk(fd, "data: {\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"ping\"}\n\n"
                  "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
                  "\"params\":{\"progress\":1}}\n\n"
                  "data: {\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{\"v\":0}}\n\n"
                  "data: not json at all\n\n");
    pause_ms(2);
    sse_chunk(fd, "id: e1\ndata: {\"jsonrpc\":\"2.0\",\"i");
    pause_ms(2);
    sse_chunk(fd, "d\":7,\"result\":{\"v\":42}}\r");
    pause_ms(2);
    sse_chunk(fd, "\n\r\n");
    sse_end(fd);
    return 0;
}

Test(upstream, sse_answer)
{
    upstream_reply_t r;

    start(h_sse);
    cr_assert_eq(post(request(7), NULL, NULL, &r), 0, "%s", ERR);
    cr_assert_eq(r.http_status, 200);
    cr_assert_eq(result_int(&r, "v"), 42);
    cr_assert_eq(r.list_changed, UPSTREAM_TOOLS_CHANGED);
    upstream_reply_free(&r);
}

static int h_sse_then_end(srv_t *s, int fd, int idx)
{
    char ev[128];

    (void)s;
    snprintf(ev, sizeof(ev), "data: {\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":{\"v\":%d}}\n\n",
             idx + 1, idx);
    sse_head(fd);
    sse_chunk(fd, ev);
    /* The end of the stream follows as a separate segment, like res.write + res.end. */
    pause_ms(1);
    sse_end(fd);
    return 0;
}

Test(upstream, sse_answer_keeps_connection)
{
    upstream_reply_t r;

    start(h_sse_then_end);
    cr_assert_eq(post(request(1), NULL, NULL, &r), 0, "%s", ERR);
    cr_assert_eq(result_int(&r, "v"), 0);
    upstream_reply_free(&r);
    cr_assert_eq(post(request(2), NULL, NULL, &r), 0, "%s", ERR);
    cr_assert_eq(result_int(&r, "v"), 1);
    upstream_reply_free(&r);
    cr_assert_eq(srv_accepted(S), 1, "an SSE answer that ends must not cost the connection");
}

static int h_sse_held_open(srv_t *s, int fd, int idx)
{
    char ev[128];

    (void)s;
    snprintf(ev, sizeof(ev), "data: {\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":{\"v\":%d}}\n\n",
             idx + 1, idx);
    sse_head(fd);
    sse_chunk(fd, ev);
    sse_chunk(fd, ": the stream stays open\n\n");
    return 0;   /* never sends the final chunk */
}

Test(upstream, sse_stream_left_open_returns_promptly)
{
    upstream_reply_t r;
    long long t0;

    C.timeout_ms = 4000;
    start(h_sse_held_open);
    t0 = now_ms();
    cr_assert_eq(post(request(1), NULL, NULL, &r), 0, "%s", ERR);
    cr_assert_lt(now_ms() - t0, 1000, "waited for the stream to end");
    cr_assert_eq(result_int(&r, "v"), 0);
    upstream_reply_free(&r);
    /* The abandoned connection must not be reused half-read. */
    cr_assert_eq(post(request(2), NULL, NULL, &r), 0, "%s", ERR);
    cr_assert_eq(result_int(&r, "v"), 1);
    upstream_reply_free(&r);
    cr_assert_eq(srv_accepted(S), 2);
}

static int h_sse_no_answer(srv_t *s, int fd, int idx)
{
    (void)s;
    (void)idx;
    sse_head(fd);
    sse_chunk(fd, "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/resources/list_changed\"}\n\n");
    sse_end(fd);
    return 0;
}

Test(upstream, sse_stream_without_response_fails)
{
    upstream_reply_t r;

    start(h_sse_no_answer);
    cr_assert_eq(post(request(1), NULL, NULL, &r), -1);
    ASSERT_ERR_HAS("no JSON-RPC response");
    cr_assert_eq(r.list_changed, 0);
    upstream_reply_free(&r);
}

static int h_sse_unterminated(srv_t *s, int fd, int idx)
{
    (void)s;
    (void)idx;
    sse_head(fd);
    sse_chunk(fd, "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"v\":3}}");
    sse_end(fd);
    return 0;
}

Test(upstream, sse_last_event_without_blank_line)
{
    upstream_reply_t r;

    start(h_sse_unterminated);
    cr_assert_eq(post(request(1), NULL, NULL, &r), 0, "%s", ERR);
    cr_assert_eq(result_int(&r, "v"), 3);
    upstream_reply_free(&r);
}

/* ---- headers both ways ---- */

static int h_session(srv_t *s, int fd, int idx)
{
    (void)s;
    if (idx == 0)
        answer_json(fd, 200, "mcp-session-id:  abc-123 \r\n",
                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
    else
        answer_json(fd, 200, "Mcp-Session-Id: bad id\r\n",
                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
    return 0;
}

Test(upstream, session_id_header_captured)
{
    upstream_reply_t r;

    start(h_session);
    cr_assert_eq(post(request(1), NULL, NULL, &r), 0, "%s", ERR);
    cr_assert_not_null(r.session_id);
    cr_assert_str_eq(r.session_id, "abc-123");
    upstream_reply_free(&r);
    cr_assert_null(r.session_id);
    cr_assert_eq(post(request(1), NULL, NULL, &r), -1, "a session id with a space is refused");
    ASSERT_ERR_HAS("Mcp-Session-Id");
    cr_assert_null(r.session_id);
    upstream_reply_free(&r);
}

static int has_header(const char *head, const char *line)
{
    char pat[512];

    snprintf(pat, sizeof(pat), "\r\n%s\r\n", line);
    return strcasestr(head, pat) != NULL;
}

Test(upstream, request_headers_and_body_sent)
{
    static char *hdrs[] = { "Authorization: Bearer t0k", "X-Extra: yes", NULL };
    upstream_reply_t r;
    srv_req_t q;
    cJSON *m = request(1);
    char *want = cJSON_PrintUnformatted(m);

    C.headers = hdrs;
    start(h_json);
    cr_assert_eq(post(m, "s-1", "2025-06-18", &r), 0, "%s", ERR);
    upstream_reply_free(&r);
    q = srv_request(S, 0);
    cr_assert_str_eq(q.method, "POST");
    cr_assert(strncmp(q.head, "POST /mcp HTTP/1.1\r\n", 20) == 0, "%s", q.head);
    cr_assert(has_header(q.head, "Content-Type: application/json"), "%s", q.head);
    cr_assert(has_header(q.head, "Accept: application/json, text/event-stream"), "%s", q.head);
    cr_assert(has_header(q.head, "Mcp-Session-Id: s-1"), "%s", q.head);
    cr_assert(has_header(q.head, "MCP-Protocol-Version: 2025-06-18"), "%s", q.head);
    cr_assert(has_header(q.head, "Authorization: Bearer t0k"), "%s", q.head);
    cr_assert(has_header(q.head, "X-Extra: yes"), "%s", q.head);
    cr_assert_str_eq(q.body, want);
    cr_assert_eq(q.body_len, strlen(want));
    free(want);

    /* Without session and version those headers are absent. */
    cr_assert_eq(post(request(2), NULL, NULL, &r), 0, "%s", ERR);
    upstream_reply_free(&r);
    q = srv_request(S, 1);
    cr_assert_null(strcasestr(q.head, "Mcp-Session-Id"), "%s", q.head);
    cr_assert_null(strcasestr(q.head, "MCP-Protocol-Version"), "%s", q.head);
}

Test(upstream, no_expect_continue_for_large_bodies)
{
    /* curl adds "Expect: 100-continue" to POSTs over 1 MB unless told not to; the server
     * here never sends 100, so each large request would also wait a second. */
    upstream_reply_t r;
    cJSON *m = request(1);
    size_t big = 1500000;
    char *pad = malloc(big + 1);
    srv_req_t q;

    cr_assert_not_null(pad);
    memset(pad, 'a', big);
    pad[big] = '\0';
    cJSON_AddItemToObject(m, "params", cJSON_CreateObject());
    cJSON_AddStringToObject(cJSON_GetObjectItem(m, "params"), "pad", pad);
    free(pad);
    start(h_json);
    cr_assert_eq(post(m, NULL, NULL, &r), 0, "%s", ERR);
    upstream_reply_free(&r);
    q = srv_request(S, 0);
    cr_assert_null(strcasestr(q.head, "\r\nExpect:"), "%s", q.head);
    cr_assert_gt(q.body_len, big);
}

Test(upstream, bad_arguments_refused)
{
    upstream_reply_t r;

    start(h_json);
    cr_assert_eq(post(request(1), "evil\r\nX-Injected: 1", NULL, &r), -1);
    ASSERT_ERR_HAS("session id");
    upstream_reply_free(&r);
    cr_assert_eq(srv_requests(S), 0);
}

/* ---- status codes ---- */

static int h_404(srv_t *s, int fd, int idx)
{
    (void)s;
    if (idx == 0)
        answer_json(fd, 404, "",
                    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32001,"
                    "\"message\":\"Session not found\"}}");
    else
        send_str(fd, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                     "Content-Length: 9\r\n\r\nNot Found");
    return 0;
}

Test(upstream, http_404_is_reported_not_failed)
{
    upstream_reply_t r;
    const cJSON *e;

    start(h_404);
    cr_assert_eq(post(request(1), "gone", NULL, &r), 0, "%s", ERR);
    cr_assert_eq(r.http_status, 404);
    cr_assert_not_null(r.message, "the JSON-RPC error should be kept");
    e = cJSON_GetObjectItemCaseSensitive(r.message, "error");
    cr_assert_eq(cJSON_GetObjectItemCaseSensitive(e, "code")->valueint, -32001);
    upstream_reply_free(&r);
    cr_assert_eq(post(request(1), "gone", NULL, &r), 0, "%s", ERR);
    cr_assert_eq(r.http_status, 404);
    cr_assert_null(r.message);
    upstream_reply_free(&r);
}

static int h_redirect(srv_t *s, int fd, int idx)
{
    (void)s;
    (void)idx;
    send_str(fd, "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n");
    return 0;
}

Test(upstream, redirects_not_followed)
{
    upstream_reply_t r;

    start(h_redirect);
    cr_assert_eq(post(request(1), NULL, NULL, &r), 0, "%s", ERR);
    cr_assert_eq(r.http_status, 302);
    cr_assert_null(r.message);
    upstream_reply_free(&r);
    cr_assert_eq(srv_requests(S), 1);
}

static int h_202(srv_t *s, int fd, int idx)
{
    (void)s;
    (void)idx;
    send_str(fd, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
    return 0;
}

Test(upstream, notification_gets_202_and_no_message)
{
    upstream_reply_t r;
    cJSON *m = cJSON_CreateObject();

    cJSON_AddStringToObject(m, "jsonrpc", "2.0");
    cJSON_AddStringToObject(m, "method", "notifications/initialized");
    start(h_202);
    cr_assert_eq(post(m, "sid", "2025-06-18", &r), 0, "%s", ERR);
    cr_assert_eq(r.http_status, 202);
    cr_assert_null(r.message);
    upstream_reply_free(&r);
    /* A request answered 202 got no answer at all. */
    cr_assert_eq(post(request(3), NULL, NULL, &r), -1);
    ASSERT_ERR_HAS("no JSON-RPC response");
    upstream_reply_free(&r);
}

/* ---- failures ---- */

Test(upstream, connection_refused)
{
    /* A bound socket that does not listen: connecting to it is refused, and nobody else
     * can take the port meanwhile. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    upstream_reply_t r;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    snprintf(URL, sizeof(URL), "http://127.0.0.1:%d/mcp", ntohs(a.sin_port));
    U = upstream_new(&C, ERR, sizeof(ERR));
    cr_assert_not_null(U, "%s", ERR);
    cr_assert_eq(post(request(1), NULL, NULL, &r), -1);
    ASSERT_ERR_HAS("connect: Failed to connect to 127.0.0.1 port");
    ASSERT_ERR_HAS("Couldn't connect to server");
    cr_expect_null(strstr(strstr(ERR, "Couldn't connect") + 1, "Couldn't connect"), "said twice: %s", ERR);
    cr_assert_eq(r.http_status, 0);
    upstream_reply_free(&r);
    cr_assert_eq(upstream_probe(U, 500, ERR, sizeof(ERR)), -1);
    ASSERT_ERR_HAS("connect: ");
    ASSERT_ERR_HAS("Couldn't connect to server");
    /* curl's message already carries its strerror text: said once, not twice. */
    cr_expect_null(strstr(strstr(ERR, "Couldn't connect") + 1, "Couldn't connect"), "%s", ERR);
    close(fd);
}

static int h_silent(srv_t *s, int fd, int idx)
{
    (void)s;
    (void)fd;
    (void)idx;
    return 0;
}

Test(upstream, timeout_when_server_never_answers)
{
    upstream_reply_t r;
    long long t0, dt;

    C.timeout_ms = 300;
    start(h_silent);
    t0 = now_ms();
    cr_assert_eq(post(request(1), NULL, NULL, &r), -1);
    dt = now_ms() - t0;
    ASSERT_ERR_HAS("timeout after 300 ms");
    cr_assert_geq(dt, 250);
    cr_assert_lt(dt, 1500);
    upstream_reply_free(&r);
}

static int h_huge_length(srv_t *s, int fd, int idx)
{
    (void)s;
    (void)idx;
    send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 "Content-Length: 9000000\r\n\r\n[");
    return 1;
}

static int h_huge_chunked(srv_t *s, int fd, int idx)
{
    static char block[65536];
    char head[32];

    (void)s;
    memset(block, ' ', sizeof(block));
    send_str(fd, idx == 0 ? "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n"
                          : "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n");
    if (idx != 0)
        sse_chunk(fd, "data: ");
    snprintf(head, sizeof(head), "%zx\r\n", sizeof(block));
    /* 9 MB in 64 KB chunks, until the client hangs up. */
    for (int i = 0; i < 144; i++) {
        if (send_str(fd, head) != 0 || send_all(fd, block, sizeof(block)) != 0 ||
            send_str(fd, "\r\n") != 0)
            break;
    }
    return 1;
}

Test(upstream, oversized_answer_fails_naming_the_cap)
{
    upstream_reply_t r;
    char want[64];

    snprintf(want, sizeof(want), "over %d bytes", UPSTREAM_BODY_MAX);
    start(h_huge_length);
    cr_assert_eq(post(request(1), NULL, NULL, &r), -1);
    ASSERT_ERR_HAS(want);
    upstream_reply_free(&r);
    srv_stop(S);
    upstream_free(U);
    U = NULL;

    start(h_huge_chunked);
    cr_assert_eq(post(request(1), NULL, NULL, &r), -1, "JSON body");
    ASSERT_ERR_HAS(want);
    upstream_reply_free(&r);
    cr_assert_eq(post(request(1), NULL, NULL, &r), -1, "event stream");
    ASSERT_ERR_HAS(want);
    upstream_reply_free(&r);
}

/* ---- DELETE and probe ---- */

static int h_delete(srv_t *s, int fd, int idx)
{
    (void)s;
    if (idx == 0)
        h_json(s, fd, idx);
    else if (idx == 1)
        send_str(fd, "HTTP/1.1 204 No Content\r\n\r\n");
    else
        send_str(fd, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n");
    return 0;
}

Test(upstream, delete_session)
{
    upstream_reply_t r;
    srv_req_t q;

    start(h_delete);
    cr_assert_eq(post(request(1), NULL, NULL, &r), 0, "%s", ERR);
    upstream_reply_free(&r);
    cr_assert_eq(upstream_delete_session(U, "sess-9", "2025-06-18", ERR, sizeof(ERR)), 0,
                 "%s", ERR);
    q = srv_request(S, 1);
    cr_assert_str_eq(q.method, "DELETE");
    cr_assert(has_header(q.head, "Mcp-Session-Id: sess-9"), "%s", q.head);
    cr_assert(has_header(q.head, "MCP-Protocol-Version: 2025-06-18"), "%s", q.head);
    cr_assert_eq(q.body_len, 0);
    cr_assert_eq(srv_accepted(S), 1, "DELETE should use the kept connection");
    cr_assert_eq(upstream_delete_session(U, "sess-9", NULL, ERR, sizeof(ERR)), -1);
    ASSERT_ERR_HAS("HTTP 500");
}

Test(upstream, probe_uses_its_own_connection)
{
    upstream_reply_t r;

    start(h_json);
    cr_assert_eq(post(request(1), NULL, NULL, &r), 0, "%s", ERR);
    upstream_reply_free(&r);
    cr_assert_eq(upstream_probe(U, 1000, ERR, sizeof(ERR)), 0, "%s", ERR);
    /* The probe's connect completes in the kernel before the server thread accepts. */
    cr_assert_eq(srv_wait_accepted(S, 2), 2, "the probe opens a connection of its own");
    cr_assert_eq(post(request(2), NULL, NULL, &r), 0, "%s", ERR);
    cr_assert_eq(result_int(&r, "n"), 101);
    upstream_reply_free(&r);
    cr_assert_eq(srv_accepted(S), 2, "the kept connection survives the probe");
    cr_assert_eq(srv_requests(S), 2, "the probe sends no request");
}

/* A loopback port whose accept queue is full, so that a connect to it hangs until its
 * time limit (the SYN is dropped): what an upstream behind a black hole looks like.
 * Returns the listening fd; the filler connections are left open until exit. */
static int blackhole(int *port)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(fd, 0), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    for (int i = 0; i < 4; i++) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

        (void)connect(c, (struct sockaddr *)&a, sizeof(a));
    }
    usleep(50 * 1000);
    *port = ntohs(a.sin_port);
    return fd;
}

Test(upstream, probes_of_several_upstreams_run_at_once)
{
    upstream_conf_t conf[3];
    upstream_t *ups[3];
    upstream_probe_t r[3];
    char url[3][64];
    struct timespec t0, t1;
    long ms;
    int port, hole = blackhole(&port);

    start(h_json);
    /* Two behind the black hole, one answering. */
    for (int i = 0; i < 3; i++) {
        if (i == 1)
            snprintf(url[i], sizeof(url[i]), "%s", URL);
        else
            snprintf(url[i], sizeof(url[i]), "http://127.0.0.1:%d/mcp", port);
        conf[i] = C;
        conf[i].url = url[i];
        ups[i] = upstream_new(&conf[i], ERR, sizeof(ERR));
        cr_assert_not_null(ups[i], "%s", ERR);
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    upstream_probe_all(ups, 3, 400, r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    cr_expect(!r[0].ok && strstr(r[0].err, "connect: timeout after 400 ms") != NULL, "%s",
              r[0].err);
    cr_expect(r[1].ok, "%s", r[1].err);
    cr_expect(!r[2].ok && strstr(r[2].err, "timeout") != NULL, "%s", r[2].err);
    /* One after the other, the two black holes alone would take 800 ms. */
    cr_expect_lt(ms, 780, "probes took %ld ms: not run at once", ms);
    for (int i = 0; i < 3; i++)
        upstream_free(ups[i]);
    close(hole);
}

Test(upstream, values_of_the_url_s_variables_never_reach_an_error_message)
{
    static char *secrets[] = { "tok-9f8e7d", NULL };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    upstream_reply_t r;
    upstream_probe_t pr;

    /* A name under localhost resolves to loopback (curl does it itself), on a port that
     * is bound but does not listen. */
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    snprintf(URL, sizeof(URL), "http://tok-9f8e7d.localhost:%d/mcp", ntohs(a.sin_port));
    C.url_secrets = secrets;
    U = upstream_new(&C, ERR, sizeof(ERR));
    cr_assert_not_null(U, "%s", ERR);
    cr_assert_eq(post(request(1), NULL, NULL, &r), -1);
    cr_expect_null(strstr(ERR, "tok-9f8e7d"), "the secret reached: %s", ERR);
    cr_expect_not_null(strstr(ERR, "***.localhost"), "%s", ERR);
    upstream_reply_free(&r);
    upstream_probe_all(&U, 1, 500, &pr);
    cr_expect(!pr.ok && strstr(pr.err, "tok-9f8e7d") == NULL, "%s", pr.err);
    C.url_secrets = NULL;
    close(fd);
}

Test(upstream, new_rejects_bad_conf)
{
    static char *bad_hdrs[] = { "X-A: 1\r\nX-B: 2", NULL };

    C.url = "ftp://127.0.0.1/x";
    cr_assert_null(upstream_new(&C, ERR, sizeof(ERR)));
    ASSERT_ERR_HAS("url");
    C.url = "http://127.0.0.1/x";
    C.headers = bad_hdrs;
    cr_assert_null(upstream_new(&C, ERR, sizeof(ERR)));
    ASSERT_ERR_HAS("header 1");
    C.headers = NULL;
    U = upstream_new(&C, ERR, sizeof(ERR));
    cr_assert_not_null(U, "%s", ERR);
    cr_assert_eq(upstream_conf(U), &C);
}
