/* SPDX-License-Identifier: MIT */
/* upstream.c - libcurl client that POSTs JSON-RPC to one upstream MCP server. */
#include "upstream.h"
#include "errbuf.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "jsonrpc.h"
#include "log.h"
#include "sse.h"

/* Longest Mcp-Session-Id we accept from an upstream (the spec asks for visible ASCII,
 * typically a UUID or a JWT); anything longer is refused rather than stored. */
#define UPSTREAM_SESSION_ID_MAX 1024

/* Once the response we wait for has arrived on an event stream, keep reading this long
 * for the end of the stream.  Servers that close the stream right after the response
 * (the usual case) send the terminating chunk a moment later; reading it lets curl keep
 * the connection alive.  Servers that hold the stream open cost us only this delay and
 * the connection. */
#define UPSTREAM_SSE_GRACE_MS 25

/* DELETE of a session is best effort and must not hold a worker for long. */
#define UPSTREAM_DELETE_TIMEOUT_MS 2000L

struct upstream {
    const upstream_conf_t *conf;
    CURLM *multi;  /* owns the connection cache, so connections outlive each transfer */
    CURL *curl;    /* reused for every request; never in the multi between transfers */
    char errbuf[CURL_ERROR_SIZE];
    long long deadline_ms;  /* upstream_set_deadline, or 0 */
};

enum body_kind { BODY_NONE, BODY_JSON, BODY_SSE, BODY_OTHER };

/* State of one exchange, shared by the curl callbacks. */
typedef struct xfer {
    upstream_reply_t *reply;
    const cJSON *req_id;          /* NULL when no response is expected */
    enum body_kind kind;
    char content_type[64];        /* media type of the final answer, for messages */
    char *body;                   /* non-SSE body, capped at UPSTREAM_BODY_MAX */
    size_t body_len, body_cap;
    size_t received;              /* all body bytes seen, for the cap */
    sse_parser_t sse;
    int sse_active;
    int got_answer;               /* reply->message holds the matching response */
    cJSON *fallback;              /* error response without a usable id */
    int connected;                /* a connection was made or reused */
    int not_json;                 /* a whole body that did not parse */
    char bad_text[96];            /* why the first refused JSON text was refused, or "" */
    int over_cap;
    int sse_failed;
    int out_of_memory;
    int bad_session_id;
    long timeout_ms;              /* this exchange's limit: the upstream's, or less */
    long long deadline_ms;        /* when that limit is reached (up_now_ms clock) */
    cJSON *to_upstream;           /* our answers to requests the upstream sent us in its
                                     stream, not sent yet (array, or NULL) */
    const char *session_id, *protocol_version;   /* of the exchange, for those answers */
} xfer_t;

static long long up_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Header values we send must not be able to smuggle a second header line. */
static int up_header_safe(const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c < 0x20 && c != '\t') || c == 0x7F)
            return 0;
    }
    return 1;
}

static int up_has_http_scheme(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

upstream_t *upstream_new(const upstream_conf_t *conf, char *err, size_t errlen)
{
    upstream_t *u = NULL;

    if (conf == NULL || conf->url == NULL || !up_has_http_scheme(conf->url)) {
        errbuf_set(err, errlen, "url: not an http:// or https:// URL");
        goto fail;
    }
    if (!up_header_safe(conf->url)) {
        errbuf_set(err, errlen, "url: control character");
        goto fail;
    }
    for (size_t i = 0; conf->headers != NULL && conf->headers[i] != NULL; i++) {
        const char *h = conf->headers[i];
        const char *colon = strchr(h, ':');

        if (colon == NULL || colon == h || !up_header_safe(h)) {
            errbuf_set(err, errlen, "header %zu: not a \"Name: value\" line", i + 1);
            goto fail;
        }
    }
    u = calloc(1, sizeof(*u));
    if (u == NULL) {
        errbuf_set(err, errlen, "calloc: out of memory");
        goto fail;
    }
    u->conf = conf;
    u->curl = curl_easy_init();
    u->multi = curl_multi_init();
    if (u->curl == NULL || u->multi == NULL) {
        errbuf_set(err, errlen, "curl_easy_init: failed (curl_global_init not called?)");
        goto fail;
    }
    return u;
fail:
    upstream_free(u);
    return NULL;
}

void upstream_free(upstream_t *u)
{
    if (u == NULL)
        return;
    if (u->curl != NULL)
        curl_easy_cleanup(u->curl);
    if (u->multi != NULL)
        curl_multi_cleanup(u->multi);
    free(u);
}

const upstream_conf_t *upstream_conf(const upstream_t *u)
{
    return u->conf;
}

void upstream_reply_free(upstream_reply_t *r)
{
    if (r == NULL)
        return;
    free(r->session_id);
    cJSON_Delete(r->message);
    memset(r, 0, sizeof(*r));
}

/* ---- reading the answer ---- */

static int up_is_response(const cJSON *m)
{
    return cJSON_IsObject(m) && cJSON_GetObjectItemCaseSensitive(m, "method") == NULL &&
           (cJSON_GetObjectItemCaseSensitive(m, "result") != NULL ||
            cJSON_GetObjectItemCaseSensitive(m, "error") != NULL);
}

static void up_note_notification(xfer_t *x, const cJSON *m)
{
    static const struct { const char *method; int bit; } changed[] = {
        { .method = "notifications/tools/list_changed", .bit = UPSTREAM_TOOLS_CHANGED },
        { .method = "notifications/prompts/list_changed", .bit = UPSTREAM_PROMPTS_CHANGED },
        { .method = "notifications/resources/list_changed", .bit = UPSTREAM_RESOURCES_CHANGED },
    };
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(m, "method");

    if (!cJSON_IsString(method) || cJSON_GetObjectItemCaseSensitive(m, "id") != NULL)
        return;
    for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++)
        if (strcmp(method->valuestring, changed[i].method) == 0)
            x->reply->list_changed |= changed[i].bit;
}

static struct curl_slist *up_headers(const upstream_t *u, const char *session_id,
                                     const char *protocol_version, int post);

static size_t up_discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

/* A request the upstream sent inside its answer (MCP lets a server ask its client
 * something before it answers: ping, sampling, elicitation, roots).  The gateway
 * declares no client capabilities, so it answers ping and refuses the rest at once;
 * unanswered, the upstream would hold its answer until our time limit.  The answers
 * are queued here and sent by up_answer_upstream between reads. */
#define UP_TO_UPSTREAM_MAX 16

static void up_queue_answer(xfer_t *x, const cJSON *m)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(m, "method");
    cJSON *a;

    if (!cJSON_IsString(method) || (!cJSON_IsString(id) && !cJSON_IsNumber(id)))
        return;
    if (x->to_upstream == NULL)
        x->to_upstream = cJSON_CreateArray();
    if (x->to_upstream == NULL || cJSON_GetArraySize(x->to_upstream) >= UP_TO_UPSTREAM_MAX)
        return;
    a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "jsonrpc", "2.0");
    cJSON_AddItemToObject(a, "id", cJSON_Duplicate(id, 1));
    if (strcmp(method->valuestring, "ping") == 0) {
        cJSON_AddItemToObject(a, "result", cJSON_CreateObject());
    } else {
        cJSON *e = cJSON_AddObjectToObject(a, "error");
        char msg[200];

        snprintf(msg, sizeof(msg), "the mcpgw gateway does not support %.100s (it declares no "
                 "client capabilities)", method->valuestring);
        cJSON_AddNumberToObject(e, "code", -32601);
        cJSON_AddStringToObject(e, "message", msg);
    }
    cJSON_AddItemToArray(x->to_upstream, a);
}

/* Send the queued answers, each as a POST of its own on a connection of its own (the
 * kept one is busy with the stream they belong to).  Best effort: an upstream that
 * does not take them times out as it would have anyway. */
static void up_answer_upstream(upstream_t *u, xfer_t *x)
{
    cJSON *a;

    while (x->to_upstream != NULL && (a = cJSON_DetachItemFromArray(x->to_upstream, 0)) != NULL) {
        /* Within the exchange's own limit: an upstream that asks and asks but never takes
         * the answers must not hold the worker past it. */
        long long left = x->deadline_ms - up_now_ms();
        struct curl_slist *hdrs = left > 0 ? up_headers(u, x->session_id, x->protocol_version, 1)
                                           : NULL;
        char *json = hdrs != NULL ? cJSON_PrintUnformatted(a) : NULL;
        CURL *c = json != NULL ? curl_easy_init() : NULL;
        CURLcode rc = CURLE_OK;
        long status = 0;

#define UP_SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(c, opt, val); } while (0)
        if (c != NULL && hdrs != NULL && json != NULL) {
            UP_SET(CURLOPT_URL, u->conf->url);
            UP_SET(CURLOPT_PROTOCOLS_STR, "http,https");
            UP_SET(CURLOPT_NOSIGNAL, 1L);
            UP_SET(CURLOPT_HTTPHEADER, hdrs);
            UP_SET(CURLOPT_POSTFIELDS, json);
            UP_SET(CURLOPT_TIMEOUT_MS, left < UPSTREAM_DELETE_TIMEOUT_MS ? (long)left
                                                                         : UPSTREAM_DELETE_TIMEOUT_MS);
            UP_SET(CURLOPT_CONNECTTIMEOUT_MS, u->conf->connect_timeout_ms);
            UP_SET(CURLOPT_WRITEFUNCTION, up_discard);
            if (rc == CURLE_OK)
                rc = curl_easy_perform(c);
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
            if (rc != CURLE_OK || status >= 300)
                log_debug("upstream did not take our answer to its request",
                          LOG_S("upstream", u->conf->name), LOG_I("status", status));
        }
#undef UP_SET
        curl_easy_cleanup(c);
        curl_slist_free_all(hdrs);
        free(json);
        cJSON_Delete(a);
    }
}

/* Look at one message; keep it (detached from its parent, if any) when it answers our
 * request.  Returns 1 once the answer is held. */
static int up_consider(xfer_t *x, cJSON *parent, cJSON *m)
{
    const cJSON *id;

    if (!cJSON_IsObject(m))
        return 0;
    if (!up_is_response(m)) {
        if (cJSON_GetObjectItemCaseSensitive(m, "id") != NULL)
            up_queue_answer(x, m);
        else
            up_note_notification(x, m);
        return 0;
    }
    if (x->req_id == NULL || x->got_answer)
        return 0;
    id = cJSON_GetObjectItemCaseSensitive(m, "id");
    if (id != NULL && cJSON_Compare(id, x->req_id, 1)) {
        x->reply->message = parent != NULL ? cJSON_DetachItemViaPointer(parent, m) : m;
        x->got_answer = 1;
        return 1;
    }
    /* JSON-RPC answers id null when the request's id could not be read: that error is
     * still the answer to us, unless a matching response follows. */
    if ((id == NULL || cJSON_IsNull(id)) && x->fallback == NULL &&
        cJSON_GetObjectItemCaseSensitive(m, "error") != NULL)
        x->fallback = parent != NULL ? cJSON_DetachItemViaPointer(parent, m)
                                     : cJSON_Duplicate(m, 1);
    return 0;
}

/* Take a parsed message or batch; root is consumed. */
static void up_take(xfer_t *x, cJSON *root)
{
    if (cJSON_IsArray(root)) {
        cJSON *m = root->child;

        /* Old (2025-03-26) servers may answer with a batch. */
        while (m != NULL) {
            cJSON *next = m->next;

            up_consider(x, root, m);
            m = next;
        }
        cJSON_Delete(root);
        return;
    }
    if (!up_consider(x, NULL, root))
        cJSON_Delete(root);
}

static int up_on_event(void *ctx, const char *event, const char *data, size_t data_len,
                       const char *id)
{
    xfer_t *x = ctx;
    cJSON *root;

    (void)event;
    (void)id;
    /* Empty events prime resumption; non-JSON events are none of our business. */
    if (data_len == 0)
        return 0;
    if (jsonrpc_text_check(data, data_len, x->bad_text[0] == '\0' ? x->bad_text : NULL,
                           sizeof(x->bad_text)) < 0)
        return 0;
    root = cJSON_ParseWithLength(data, data_len);
    if (root == NULL)
        return 0;
    up_take(x, root);
    return x->got_answer;
}

static void up_set_content_type(xfer_t *x, const char *v, size_t n)
{
    size_t len = 0;

    while (len < n && v[len] != ';' && v[len] != ' ' && v[len] != '\t')
        len++;
    if (len >= sizeof(x->content_type))
        len = sizeof(x->content_type) - 1;
    memcpy(x->content_type, v, len);
    x->content_type[len] = '\0';
    if (strcasecmp(x->content_type, "application/json") == 0)
        x->kind = BODY_JSON;
    else if (strcasecmp(x->content_type, "text/event-stream") == 0)
        x->kind = BODY_SSE;
    else
        x->kind = BODY_OTHER;
}

static int up_set_session_id(xfer_t *x, const char *v, size_t n)
{
    char *s;

    if (n == 0 || n > UPSTREAM_SESSION_ID_MAX)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (v[i] < 0x21 || v[i] > 0x7E)
            return -1;
    s = malloc(n + 1);
    if (s == NULL)
        return -1;
    memcpy(s, v, n);
    s[n] = '\0';
    free(x->reply->session_id);
    x->reply->session_id = s;
    return 0;
}

/* Is the header line h (length n) "name: ..."?  Sets *v and *vn to the trimmed value. */
static int up_header_is(const char *h, size_t n, const char *name, const char **v, size_t *vn)
{
    size_t nl = strlen(name);
    size_t b, e;

    if (n <= nl || h[nl] != ':' || strncasecmp(h, name, nl) != 0)
        return 0;
    b = nl + 1;
    e = n;
    while (b < e && (h[b] == ' ' || h[b] == '\t'))
        b++;
    while (e > b && (h[e - 1] == ' ' || h[e - 1] == '\t' || h[e - 1] == '\r' || h[e - 1] == '\n'))
        e--;
    *v = h + b;
    *vn = e - b;
    return 1;
}

static size_t up_header_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    xfer_t *x = ud;
    size_t n = size * nitems;
    const char *v;
    size_t vn;

    if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        /* A new response (after a 1xx): forget the previous one's headers. */
        x->kind = BODY_NONE;
        x->content_type[0] = '\0';
        free(x->reply->session_id);
        x->reply->session_id = NULL;
    } else if (up_header_is(buf, n, "Content-Type", &v, &vn)) {
        up_set_content_type(x, v, vn);
    } else if (up_header_is(buf, n, "Mcp-Session-Id", &v, &vn)) {
        if (up_set_session_id(x, v, vn) != 0) {
            x->bad_session_id = 1;
            return 0;
        }
    }
    return n;
}

static size_t up_write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    xfer_t *x = ud;
    size_t n = size * nmemb;

    if (x->got_answer)
        return n;  /* draining the rest of the stream during the grace period */
    if (n > UPSTREAM_BODY_MAX - x->received) {
        x->over_cap = 1;
        return 0;
    }
    x->received += n;
    if (x->kind == BODY_SSE) {
        int rc;

        if (!x->sse_active) {
            sse_init(&x->sse, up_on_event, x, UPSTREAM_BODY_MAX);
            x->sse_active = 1;
        }
        rc = sse_feed(&x->sse, ptr, n);
        if (rc < 0) {
            x->sse_failed = 1;
            return 0;
        }
        return n;
    }
    if (x->body_len + n + 1 > x->body_cap) {
        size_t ncap = x->body_cap < 4096 ? 4096 : x->body_cap;
        char *nb;

        while (ncap < x->body_len + n + 1)
            ncap *= 2;
        if (ncap > UPSTREAM_BODY_MAX + 1)
            ncap = UPSTREAM_BODY_MAX + 1;
        nb = realloc(x->body, ncap);
        if (nb == NULL) {
            x->out_of_memory = 1;
            return 0;
        }
        x->body = nb;
        x->body_cap = ncap;
    }
    memcpy(x->body + x->body_len, ptr, n);
    x->body_len += n;
    return n;
}

/* ---- running a transfer ---- */

static int up_prereq_cb(void *ud, char *conn_primary_ip, char *conn_local_ip,
                        int conn_primary_port, int conn_local_port)
{
    xfer_t *x = ud;

    (void)conn_primary_ip;
    (void)conn_local_ip;
    (void)conn_primary_port;
    (void)conn_local_port;
    x->connected = 1;
    return CURL_PREREQFUNC_OK;
}

/* Replace in err every value a ${VAR} of the URL took with "***". */
static void up_redact(const upstream_conf_t *conf, char *err, size_t errlen)
{
    for (char **s = conf->url_secrets; err != NULL && s != NULL && *s != NULL; s++) {
        size_t sl = strlen(*s);
        char *from = err, *at;

        while (sl > 0 && (at = strstr(from, *s)) != NULL) {
            size_t pos = (size_t)(at - err), rest = strlen(at + sl);

            if (pos + 4 > errlen) {         /* no room for the mask: end the text here */
                *at = '\0';
                break;
            }
            if (pos + 3 + rest >= errlen)
                rest = errlen - pos - 4;    /* cut the tail to fit */
            memmove(at + 3, at + sl, rest);
            at[3 + rest] = '\0';
            memcpy(at, "***", 3);
            from = at + 3;                  /* a value holding "***" cannot loop */
        }
    }
}

static void up_curl_err(upstream_t *u, const xfer_t *x, CURLcode rc, char *err, size_t errlen)
{
    const char *what = "http";
    char detail[CURL_ERROR_SIZE + 4] = "";
    size_t el = strlen(u->errbuf);

    while (el > 0 && (u->errbuf[el - 1] == '\n' || u->errbuf[el - 1] == '\r'))
        u->errbuf[--el] = '\0';
    if (el > 0 && strcmp(u->errbuf, curl_easy_strerror(rc)) != 0)
        snprintf(detail, sizeof(detail), " (%s)", u->errbuf);
    /* curl's own message often ends in its strerror text already: say it once. */
    {
        const char *se = curl_easy_strerror(rc);
        size_t sl = strlen(se);

        if (el > sl && strcmp(u->errbuf + el - sl, se) == 0)
            detail[0] = '\0';
    }

    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        if (!x->connected)
            errbuf_set(err, errlen, "connect: timeout after %ld ms", u->conf->connect_timeout_ms);
        else
            errbuf_set(err, errlen, "timeout after %ld ms%s", x->timeout_ms,
                       x->timeout_ms < u->conf->timeout_ms ? " (the time left for this task)"
                                                           : "");
        return;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        what = "resolve";
        break;
    case CURLE_COULDNT_CONNECT:
        what = "connect";
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
        what = "tls";
        break;
    case CURLE_SEND_ERROR:
        what = "send";
        break;
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        what = "receive";
        break;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        what = "url";
        break;
    default:
        break;
    }
    if (detail[0] == '\0' && el > strlen(curl_easy_strerror(rc)))
        errbuf_set(err, errlen, "%s: %s", what, u->errbuf);
    else
        errbuf_set(err, errlen, "%s: %s%s", what, curl_easy_strerror(rc), detail);
}

/* Options common to every exchange on the kept handle.  curl_easy_reset keeps the
 * connection cache (it lives in u->multi) but drops every option, so all are set anew. */
static int up_setup(upstream_t *u, xfer_t *x, struct curl_slist *hdrs, long timeout_ms)
{
    CURL *c = u->curl;
    CURLcode rc = CURLE_OK;

    curl_easy_reset(c);
    u->errbuf[0] = '\0';
#define UP_SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(c, opt, val); } while (0)
    UP_SET(CURLOPT_ERRORBUFFER, u->errbuf);
    UP_SET(CURLOPT_URL, u->conf->url);
    UP_SET(CURLOPT_PROTOCOLS_STR, "http,https");
    UP_SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    UP_SET(CURLOPT_FOLLOWLOCATION, 0L);
    UP_SET(CURLOPT_NOSIGNAL, 1L);
    UP_SET(CURLOPT_TIMEOUT_MS, timeout_ms);
    UP_SET(CURLOPT_CONNECTTIMEOUT_MS, u->conf->connect_timeout_ms);
    UP_SET(CURLOPT_TCP_KEEPALIVE, 1L);
    UP_SET(CURLOPT_USERAGENT, "mcpgw");
    UP_SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)UPSTREAM_BODY_MAX);
    UP_SET(CURLOPT_HTTPHEADER, hdrs);
    UP_SET(CURLOPT_HEADERFUNCTION, up_header_cb);
    UP_SET(CURLOPT_HEADERDATA, x);
    UP_SET(CURLOPT_WRITEFUNCTION, up_write_cb);
    UP_SET(CURLOPT_WRITEDATA, x);
    UP_SET(CURLOPT_PREREQFUNCTION, up_prereq_cb);
    UP_SET(CURLOPT_PREREQDATA, x);
#undef UP_SET
    return rc == CURLE_OK ? 0 : -1;
}

/* Run the prepared transfer on the multi handle.  Unlike curl_easy_perform this lets us
 * stop waiting once the answer is in (an SSE stream may stay open) without giving up
 * the connection when the stream does end promptly. */
static CURLcode up_run(upstream_t *u, xfer_t *x, int *abandoned)
{
    CURLcode result = CURLE_OK;
    CURLMsg *msg;
    int running = 1, queued = 0, done = 0;
    long long grace_end = 0;

    *abandoned = 0;
    if (curl_multi_add_handle(u->multi, u->curl) != CURLM_OK)
        return CURLE_FAILED_INIT;
    for (;;) {
        long long now;
        int wait_ms = 1000;

        if (curl_multi_perform(u->multi, &running) != CURLM_OK) {
            result = CURLE_FAILED_INIT;
            done = 1;
            break;
        }
        up_answer_upstream(u, x);
        if (running == 0)
            break;
        if (x->got_answer) {
            now = up_now_ms();
            if (grace_end == 0)
                grace_end = now + UPSTREAM_SSE_GRACE_MS;
            if (now >= grace_end) {
                *abandoned = 1;
                break;
            }
            wait_ms = (int)(grace_end - now);
        }
        if (curl_multi_poll(u->multi, NULL, 0, wait_ms, NULL) != CURLM_OK) {
            result = CURLE_FAILED_INIT;
            done = 1;
            break;
        }
    }
    msg = curl_multi_info_read(u->multi, &queued);
    while (msg != NULL && !done) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == u->curl) {
            result = msg->data.result;
            done = 1;
        }
        msg = curl_multi_info_read(u->multi, &queued);
    }
    /* Removing an unfinished transfer closes its connection: nothing half-read stays. */
    curl_multi_remove_handle(u->multi, u->curl);
    return result;
}

/* Append s to *l; on failure the list is freed and *l set to NULL. */
static int up_slist_add(struct curl_slist **l, const char *s)
{
    struct curl_slist *t = curl_slist_append(*l, s);

    if (t == NULL) {
        curl_slist_free_all(*l);
        *l = NULL;
        return -1;
    }
    *l = t;
    return 0;
}

/* The request headers, or NULL when out of memory.  The caller frees the list. */
static struct curl_slist *up_headers(const upstream_t *u, const char *session_id,
                                     const char *protocol_version, int post)
{
    struct curl_slist *l = NULL;
    char line[UPSTREAM_SESSION_ID_MAX + 64];

    if (post && (up_slist_add(&l, "Content-Type: application/json") != 0 ||
                 up_slist_add(&l, "Accept: application/json, text/event-stream") != 0 ||
                 /* an empty Expect stops curl from waiting for "100 Continue" on large bodies */
                 up_slist_add(&l, "Expect:") != 0))
        return NULL;
    if (session_id != NULL) {
        snprintf(line, sizeof(line), "Mcp-Session-Id: %s", session_id);
        if (up_slist_add(&l, line) != 0)
            return NULL;
    }
    if (protocol_version != NULL) {
        snprintf(line, sizeof(line), "MCP-Protocol-Version: %s", protocol_version);
        if (up_slist_add(&l, line) != 0)
            return NULL;
    }
    for (size_t i = 0; u->conf->headers != NULL && u->conf->headers[i] != NULL; i++)
        if (up_slist_add(&l, u->conf->headers[i]) != 0)
            return NULL;
    return l;
}

static int up_check_args(const char *session_id, const char *protocol_version,
                         char *err, size_t errlen)
{
    if (session_id != NULL && (strlen(session_id) > UPSTREAM_SESSION_ID_MAX ||
                               !up_header_safe(session_id))) {
        errbuf_set(err, errlen, "session id: too long or control character");
        return -1;
    }
    if (protocol_version != NULL && (strlen(protocol_version) > 32 ||
                                     !up_header_safe(protocol_version))) {
        errbuf_set(err, errlen, "protocol version: too long or control character");
        return -1;
    }
    return 0;
}

static void up_xfer_free(xfer_t *x)
{
    cJSON_Delete(x->to_upstream);
    x->to_upstream = NULL;
    if (x->sse_active)
        sse_free(&x->sse);
    x->sse_active = 0;
    free(x->body);
    x->body = NULL;
    cJSON_Delete(x->fallback);
    x->fallback = NULL;
}

/* After the transfer: the answer to a request that came as a whole body. */
static void up_parse_body(xfer_t *x)
{
    cJSON *root;

    if (x->body_len == 0)
        return;
    x->body[x->body_len] = '\0';
    if (jsonrpc_text_check(x->body, x->body_len, x->bad_text, sizeof(x->bad_text)) < 0) {
        x->not_json = 1;
        return;
    }
    root = cJSON_ParseWithLength(x->body, x->body_len);
    if (root == NULL) {
        x->not_json = 1;
        return;
    }
    up_take(x, root);
}

int upstream_post(upstream_t *u, const cJSON *msg, const char *session_id,
                  const char *protocol_version, upstream_reply_t *reply,
                  char *err, size_t errlen)
{
    xfer_t x;
    struct curl_slist *hdrs = NULL;
    char *json = NULL;
    CURLcode rc;
    int abandoned = 0;
    long status = 0;
    int ok2xx;

    memset(&x, 0, sizeof(x));
    if (reply != NULL)
        memset(reply, 0, sizeof(*reply));
    if (u == NULL || msg == NULL || reply == NULL) {
        errbuf_set(err, errlen, "upstream_post: missing argument");
        return -1;
    }
    x.reply = reply;
    x.session_id = session_id;
    x.protocol_version = protocol_version;
    if (cJSON_GetObjectItemCaseSensitive(msg, "method") != NULL)
        x.req_id = cJSON_GetObjectItemCaseSensitive(msg, "id");
    if (up_check_args(session_id, protocol_version, err, errlen) != 0)
        goto fail;
    json = cJSON_PrintUnformatted(msg);
    hdrs = up_headers(u, session_id, protocol_version, 1);
    if (json == NULL || hdrs == NULL) {
        errbuf_set(err, errlen, "request: out of memory");
        goto fail;
    }
    x.timeout_ms = u->conf->timeout_ms;
    if (u->deadline_ms != 0) {
        long long left = u->deadline_ms - up_now_ms();

        if (left <= 0) {
            errbuf_set(err, errlen, "no time left for this task (not sent)");
            goto fail;
        }
        if (left < x.timeout_ms)
            x.timeout_ms = (long)left;
    }
    x.deadline_ms = up_now_ms() + x.timeout_ms;
    if (up_setup(u, &x, hdrs, x.timeout_ms) != 0 ||
        curl_easy_setopt(u->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json)) != CURLE_OK ||
        curl_easy_setopt(u->curl, CURLOPT_POSTFIELDS, json) != CURLE_OK) {
        errbuf_set(err, errlen, "curl_easy_setopt: %s", u->errbuf[0] ? u->errbuf : "failed");
        goto fail;
    }

    rc = up_run(u, &x, &abandoned);
    curl_easy_getinfo(u->curl, CURLINFO_RESPONSE_CODE, &status);
    if (x.over_cap || rc == CURLE_FILESIZE_EXCEEDED) {
        errbuf_set(err, errlen, "answer over %d bytes", UPSTREAM_BODY_MAX);
        goto fail;
    }
    if (x.bad_session_id) {
        errbuf_set(err, errlen, "Mcp-Session-Id: invalid or over %d bytes", UPSTREAM_SESSION_ID_MAX);
        goto fail;
    }
    if (x.sse_failed) {
        errbuf_set(err, errlen, "event stream: event over %d bytes or out of memory",
               UPSTREAM_BODY_MAX);
        goto fail;
    }
    if (x.out_of_memory) {
        errbuf_set(err, errlen, "receive: out of memory");
        goto fail;
    }
    /* With the answer in hand, whatever happened to the rest of the stream (we may have
     * abandoned it, or it broke during the grace period) does not matter. */
    if (rc != CURLE_OK && !x.got_answer) {
        up_curl_err(u, &x, rc, err, errlen);
        goto fail;
    }

    reply->http_status = status;
    ok2xx = status >= 200 && status < 300;
    if (x.kind == BODY_SSE && x.sse_active && !x.got_answer && sse_finish(&x.sse) < 0) {
        errbuf_set(err, errlen, "event stream: event over %d bytes or out of memory",
               UPSTREAM_BODY_MAX);
        goto fail;
    }
    if (x.kind != BODY_SSE && (x.kind != BODY_OTHER || !ok2xx))
        up_parse_body(&x);
    if (!x.got_answer && x.fallback != NULL) {
        reply->message = x.fallback;
        x.fallback = NULL;
        x.got_answer = 1;
    }
    if (ok2xx && x.req_id != NULL && !x.got_answer) {
        if (x.kind == BODY_OTHER)
            errbuf_set(err, errlen, "unexpected Content-Type %s (HTTP %ld)", x.content_type, status);
        else if (x.bad_text[0] != '\0')
            errbuf_set(err, errlen, "answer refused: %s (HTTP %ld)", x.bad_text, status);
        else if (x.not_json)
            errbuf_set(err, errlen, "answer is not JSON (HTTP %ld)", status);
        else
            errbuf_set(err, errlen, "no JSON-RPC response in the answer (HTTP %ld)", status);
        goto fail;
    }
    if (!ok2xx && reply->message != NULL &&
        cJSON_GetObjectItemCaseSensitive(reply->message, "error") == NULL) {
        /* Only a JSON-RPC error explains a failed status; anything else is noise. */
        cJSON_Delete(reply->message);
        reply->message = NULL;
    }
    if (x.req_id == NULL && reply->message != NULL) {
        cJSON_Delete(reply->message);
        reply->message = NULL;
    }
    up_xfer_free(&x);
    curl_slist_free_all(hdrs);
    free(json);
    return 0;
fail:
    up_redact(u->conf, err, errlen);
    up_xfer_free(&x);
    curl_slist_free_all(hdrs);
    free(json);
    upstream_reply_free(reply);
    return -1;
}

void upstream_set_deadline(upstream_t *u, long long deadline_ms)
{
    u->deadline_ms = deadline_ms;
}

long long upstream_now_ms(void)
{
    return up_now_ms();
}

int upstream_delete_session(upstream_t *u, const char *session_id,
                            const char *protocol_version, char *err, size_t errlen)
{
    upstream_reply_t reply;
    xfer_t x;
    struct curl_slist *hdrs = NULL;
    long timeout = UPSTREAM_DELETE_TIMEOUT_MS;
    long status = 0;
    int abandoned = 0;
    CURLcode rc;

    memset(&x, 0, sizeof(x));
    memset(&reply, 0, sizeof(reply));
    x.reply = &reply;
    if (u == NULL || session_id == NULL) {
        errbuf_set(err, errlen, "DELETE: no session id");
        goto fail;
    }
    if (up_check_args(session_id, protocol_version, err, errlen) != 0)
        goto fail;
    hdrs = up_headers(u, session_id, protocol_version, 0);
    if (hdrs == NULL) {
        errbuf_set(err, errlen, "DELETE: out of memory");
        goto fail;
    }
    if (u->conf->timeout_ms > 0 && u->conf->timeout_ms < timeout)
        timeout = u->conf->timeout_ms;
    if (up_setup(u, &x, hdrs, timeout) != 0 ||
        curl_easy_setopt(u->curl, CURLOPT_CUSTOMREQUEST, "DELETE") != CURLE_OK) {
        errbuf_set(err, errlen, "curl_easy_setopt: failed");
        goto fail;
    }
    rc = up_run(u, &x, &abandoned);
    if (x.over_cap || rc == CURLE_FILESIZE_EXCEEDED) {
        errbuf_set(err, errlen, "DELETE: answer over %d bytes", UPSTREAM_BODY_MAX);
        goto fail;
    }
    if (rc != CURLE_OK) {
        char why[256];

        up_curl_err(u, &x, rc, why, sizeof(why));
        errbuf_set(err, errlen, "DELETE: %s", why);
        goto fail;
    }
    curl_easy_getinfo(u->curl, CURLINFO_RESPONSE_CODE, &status);
    /* 404: the session is gone already; 405: the server does not let clients end it. */
    if (!(status >= 200 && status < 300) && status != 404 && status != 405) {
        errbuf_set(err, errlen, "DELETE: HTTP %ld", status);
        goto fail;
    }
    up_xfer_free(&x);
    upstream_reply_free(&reply);
    curl_slist_free_all(hdrs);
    return 0;
fail:
    up_redact(u->conf, err, errlen);
    up_xfer_free(&x);
    upstream_reply_free(&reply);
    curl_slist_free_all(hdrs);
    return -1;
}

/* The message for a probe that failed with rc and curl's error text ebuf. */
static void up_probe_err(CURLcode rc, char *ebuf, long timeout_ms, char *err, size_t errlen)
{
    size_t el = strlen(ebuf);

    while (el > 0 && (ebuf[el - 1] == '\n' || ebuf[el - 1] == '\r'))
        ebuf[--el] = '\0';
    if (rc == CURLE_OPERATION_TIMEDOUT)
        errbuf_set(err, errlen, "connect: timeout after %ld ms", timeout_ms);
    else if (el > 0)   /* curl's own message already ends in its strerror text */
        errbuf_set(err, errlen, "connect: %s", ebuf);
    else
        errbuf_set(err, errlen, "connect: %s", curl_easy_strerror(rc));
}

void upstream_probe_all(upstream_t *const *ups, size_t n, long timeout_ms,
                        upstream_probe_t *results)
{
    /* Handles of their own: the kept connections of ups must not be used or disturbed. */
    CURLM *m = curl_multi_init();
    CURL **h = calloc(n > 0 ? n : 1, sizeof(*h));
    char (*ebuf)[CURL_ERROR_SIZE] = calloc(n > 0 ? n : 1, sizeof(*ebuf));
    int running = 0, queued;
    CURLMsg *msg;

    for (size_t i = 0; i < n; i++) {
        results[i].ok = 0;
        errbuf_set(results[i].err, sizeof(results[i].err), "connect: out of memory");
    }
    if (m == NULL || h == NULL || ebuf == NULL)
        goto done;
    for (size_t i = 0; i < n; i++) {
        CURLcode rc = CURLE_OK;

        h[i] = curl_easy_init();
        if (h[i] == NULL)
            continue;
#define UP_SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(h[i], opt, val); } while (0)
        UP_SET(CURLOPT_ERRORBUFFER, ebuf[i]);
        UP_SET(CURLOPT_URL, ups[i]->conf->url);
        UP_SET(CURLOPT_PROTOCOLS_STR, "http,https");
        UP_SET(CURLOPT_NOSIGNAL, 1L);
        UP_SET(CURLOPT_CONNECT_ONLY, 1L);
        UP_SET(CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
        UP_SET(CURLOPT_TIMEOUT_MS, timeout_ms);
        UP_SET(CURLOPT_PRIVATE, (void *)&results[i]);
#undef UP_SET
        if (rc != CURLE_OK || curl_multi_add_handle(m, h[i]) != CURLM_OK) {
            up_probe_err(rc != CURLE_OK ? rc : CURLE_FAILED_INIT, ebuf[i], timeout_ms,
                         results[i].err, sizeof(results[i].err));
            curl_easy_cleanup(h[i]);
            h[i] = NULL;
        }
    }
    /* Every handle carries its own time limit, so this ends within timeout_ms or so. */
    do {
        if (curl_multi_perform(m, &running) != CURLM_OK ||
            (running > 0 && curl_multi_poll(m, NULL, 0, 100, NULL) != CURLM_OK))
            break;
    } while (running > 0);
    while ((msg = curl_multi_info_read(m, &queued)) != NULL) {
        upstream_probe_t *r = NULL;
        size_t i;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        i = (size_t)(r - results);
        if (r == NULL || i >= n)
            continue;
        r->ok = msg->data.result == CURLE_OK;
        if (r->ok) {
            r->err[0] = '\0';
        } else {
            up_probe_err(msg->data.result, ebuf[i], timeout_ms, r->err, sizeof(r->err));
            up_redact(ups[i]->conf, r->err, sizeof(r->err));
        }
    }
done:
    for (size_t i = 0; h != NULL && i < n; i++) {
        if (h[i] == NULL)
            continue;
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
    }
    curl_multi_cleanup(m);
    free(h);
    free(ebuf);
}

int upstream_probe(upstream_t *u, long timeout_ms, char *err, size_t errlen)
{
    upstream_probe_t r;

    upstream_probe_all(&u, 1, timeout_ms, &r);
    if (!r.ok)
        errbuf_set(err, errlen, "%s", r.err);
    return r.ok ? 0 : -1;
}
