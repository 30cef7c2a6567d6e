/* SPDX-License-Identifier: MIT */
/* store_dynamodb.c - the networked store backend: one DynamoDB table shared by every container, over the JSON API signed by libcurl's SigV4. */

#include "store.h"
#include "errbuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "aws.h"

/* Table layout (fixed by terraform/modules/data):
 *   pk          S  partition key: the store key
 *   v           B  the value (base64 in the JSON API)
 *   expires_at  N  Unix seconds; also the table's TTL attribute
 * DynamoDB removes expired items lazily (up to days later), so every read compares
 * expires_at with the caller's clock and a conditional write treats an expired item as
 * absent.  Only item actions are used: the task role may do nothing else. */

#define DDB_TARGET        "X-Amz-Target: DynamoDB_20120810."
#define DDB_CONTENT_TYPE  "Content-Type: application/x-amz-json-1.0"

#define DDB_CONNECT_TIMEOUT_MS 2000L
#define DDB_TIMEOUT_MS         5000L   /* whole request, unless MCPGW_DYNAMODB_TIMEOUT_MS */
#define DDB_TIMEOUT_MIN_MS     100L
#define DDB_TIMEOUT_MAX_MS     60000L

/* DynamoDB's item limit counts attribute names and values: "pk" + key, "v" + value,
 * "expires_at" + a number.  The overhead below covers the names and the number. */
#define DDB_ITEM_MAX      (400 * 1024)
#define DDB_ITEM_OVERHEAD 64

/* Caps on what we send and accept: a full item in base64 plus JSON fits in either. */
#define DDB_REQUEST_MAX   (1024 * 1024)
#define DDB_RESPONSE_MAX  (1024 * 1024)
/* Buffers that grew past this for a large item are released after the call. */
#define DDB_KEEP_BUF      (64 * 1024)

#define DDB_ENDPOINT_MAX  512
#define DDB_TABLE_MIN     3
#define DDB_TABLE_MAX     255

/* The key store_ping reads; it need not exist. */
#define DDB_PING_KEY "mcpgw:ping"

/* One retry after throttling or a 5xx, after this long plus up to as much again. */
#define DDB_BACKOFF_MS 50

struct ddb_buf {
    char *p;
    size_t len, cap, max;
    int over;            /* an append would have passed max */
    int oom;             /* an append found no memory */
};

struct ddb {
    char table[DDB_TABLE_MAX + 1];
    char region[AWS_REGION_MAX + 1];
    char url[DDB_ENDPOINT_MAX + 2];          /* endpoint with a trailing '/' */
    char sigv4[32 + AWS_REGION_MAX];         /* "aws:amz:<region>:dynamodb" */
    int custom_endpoint;                     /* MCPGW_DYNAMODB_ENDPOINT was set */
    long timeout_ms;
    CURL *curl;                              /* kept for connection reuse */
    aws_cred_provider_t *creds;
    struct ddb_buf req, resp;
    char errbuf[CURL_ERROR_SIZE];
};

/* Outcome of one call beyond 0 / -1. */
struct ddb_res {
    char type[96];       /* DynamoDB's error type without its namespace, or "" */
    char why[400];       /* "<Op>: why" */
    int attempts;        /* requests sent */
};

/* ---- bounded buffers ---- */

static int buf_reserve(struct ddb_buf *b, size_t extra)
{
    size_t ncap;
    char *np;

    if (extra > b->max - b->len) {
        b->over = 1;
        return -1;
    }
    if (b->len + extra + 1 <= b->cap)
        return 0;
    ncap = b->cap < 1024 ? 1024 : b->cap;
    while (ncap < b->len + extra + 1)
        ncap *= 2;
    if (ncap > b->max + 1)
        ncap = b->max + 1;
    np = realloc(b->p, ncap);
    if (np == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = np;
    b->cap = ncap;
    return 0;
}

static int buf_add(struct ddb_buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static int buf_str(struct ddb_buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

/* s as a JSON string, quotes included.  Bytes >= 0x80 pass as they are: DynamoDB wants
 * UTF-8 and refuses anything else with a ValidationException. */
static int buf_json_string(struct ddb_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    char esc[6];

    if (buf_add(b, "\"", 1) != 0)
        return -1;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            if (buf_add(b, esc, 2) != 0)
                return -1;
        } else if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            if (buf_add(b, esc, 6) != 0)
                return -1;
        } else if (buf_add(b, (const char *)&c, 1) != 0) {
            return -1;
        }
    }
    return buf_add(b, "\"", 1);
}

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* v[0..len) in standard base64 with padding, quoted. */
static int buf_base64(struct ddb_buf *b, const unsigned char *v, size_t len)
{
    size_t out = (len + 2) / 3 * 4;
    char *o;
    size_t i;

    if (buf_reserve(b, out + 2) != 0)
        return -1;
    o = b->p + b->len;
    *o++ = '"';
    for (i = 0; i + 2 < len; i += 3) {
        uint32_t w = (uint32_t)v[i] << 16 | (uint32_t)v[i + 1] << 8 | v[i + 2];

        *o++ = b64_chars[w >> 18];
        *o++ = b64_chars[(w >> 12) & 63];
        *o++ = b64_chars[(w >> 6) & 63];
        *o++ = b64_chars[w & 63];
    }
    if (i < len) {
        uint32_t w = (uint32_t)v[i] << 16 | (i + 1 < len ? (uint32_t)v[i + 1] << 8 : 0);

        *o++ = b64_chars[w >> 18];
        *o++ = b64_chars[(w >> 12) & 63];
        *o++ = i + 1 < len ? b64_chars[(w >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o++ = '"';
    *o = '\0';
    b->len = (size_t)(o - b->p);
    return 0;
}

static int b64_value(char c)
{
    const char *p = c != '\0' ? strchr(b64_chars, c) : NULL;

    return p != NULL ? (int)(p - b64_chars) : -1;
}

/* Decode padded base64 into a malloc'd, NUL-terminated buffer.  -1 when malformed. */
static int b64_decode(const char *s, char **out, size_t *outlen)
{
    size_t n = strlen(s), pad = 0, o = 0;
    unsigned char *p;

    if (n % 4 != 0)
        return -1;
    if (n > 0 && s[n - 1] == '=')
        pad = n > 1 && s[n - 2] == '=' ? 2 : 1;
    p = malloc(n / 4 * 3 + 1);
    if (p == NULL)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int q[4];
        int last = i + 4 == n;

        for (int k = 0; k < 4; k++) {
            q[k] = b64_value(s[i + (size_t)k]);
            if (q[k] < 0 && !(last && s[i + (size_t)k] == '=' && k >= 4 - (int)pad)) {
                free(p);
                return -1;
            }
        }
        p[o++] = (unsigned char)(q[0] << 2 | q[1] >> 4);
        if (!(last && pad == 2))
            p[o++] = (unsigned char)((q[1] & 15) << 4 | q[2] >> 2);
        if (!(last && pad >= 1))
            p[o++] = (unsigned char)((q[2] & 3) << 6 | q[3]);
    }
    p[o] = '\0';
    *out = (char *)p;
    *outlen = o;
    return 0;
}

/* ---- configuration ---- */

static int ddb_check_table(const char *t, char *err, size_t errlen)
{
    size_t n = strlen(t);

    if (n < DDB_TABLE_MIN || n > DDB_TABLE_MAX ||
        strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != n) {
        errbuf_set(err, errlen, "table name must be %d to %d characters of A-Z a-z 0-9 _ . -",
                DDB_TABLE_MIN, DDB_TABLE_MAX);
        return -1;
    }
    return 0;
}

static int ddb_load_endpoint(struct ddb *d, char *err, size_t errlen)
{
    const char *e = getenv("MCPGW_DYNAMODB_ENDPOINT");
    size_t n;

    if (e == NULL || e[0] == '\0') {
        /* China regions live under their own top-level domain. */
        snprintf(d->url, sizeof d->url, "https://dynamodb.%s.amazonaws.com%s/", d->region,
                 strncmp(d->region, "cn-", 3) == 0 ? ".cn" : "");
        return 0;
    }
    n = strlen(e);
    while (n > 0 && e[n - 1] == '/')
        n--;
    if ((strncasecmp(e, "http://", 7) != 0 && strncasecmp(e, "https://", 8) != 0) ||
        n > DDB_ENDPOINT_MAX) {
        errbuf_set(err, errlen, "MCPGW_DYNAMODB_ENDPOINT: not an http:// or https:// URL of at "
                "most %d characters", DDB_ENDPOINT_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)e[i] <= 0x20 || (unsigned char)e[i] >= 0x7f) {
            errbuf_set(err, errlen, "MCPGW_DYNAMODB_ENDPOINT: space or control character");
            return -1;
        }
    }
    snprintf(d->url, sizeof d->url, "%.*s/", (int)n, e);
    d->custom_endpoint = 1;
    return 0;
}

static int ddb_load_timeout(struct ddb *d, char *err, size_t errlen)
{
    const char *t = getenv("MCPGW_DYNAMODB_TIMEOUT_MS");
    char *end = NULL;
    long v;

    d->timeout_ms = DDB_TIMEOUT_MS;
    if (t == NULL || t[0] == '\0')
        return 0;
    v = strtol(t, &end, 10);
    if (end == t || *end != '\0' || v < DDB_TIMEOUT_MIN_MS || v > DDB_TIMEOUT_MAX_MS) {
        errbuf_set(err, errlen, "MCPGW_DYNAMODB_TIMEOUT_MS: expected milliseconds from %ld to %ld",
                DDB_TIMEOUT_MIN_MS, DDB_TIMEOUT_MAX_MS);
        return -1;
    }
    d->timeout_ms = v;
    return 0;
}

/* ---- one request ---- */

static size_t ddb_write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct ddb_buf *b = ud;
    size_t n = size * nmemb;

    return buf_add(b, ptr, n) == 0 ? n : 0;
}

static void ddb_endpoint_name(const struct ddb *d, char *out, size_t outlen)
{
    snprintf(out, outlen, "%.*s", (int)strlen(d->url) - 1, d->url);
}

/* Send d->req as op with cr; *status gets the HTTP status.  The answer is in d->resp.
 * Returns -1 with res->why filled when no HTTP answer arrived. */
static int ddb_send(struct ddb *d, const char *op, const aws_creds_t *cr, long *status,
                    struct ddb_res *res)
{
    static const char tok_name[] = "x-amz-security-token: ";
    char target[64];
    char tok[sizeof tok_name + AWS_TOKEN_MAX];
    char userpwd[AWS_KEY_ID_MAX + AWS_SECRET_MAX + 2];
    char where[DDB_ENDPOINT_MAX + 2];
    struct curl_slist *hdrs = NULL, *h;
    CURLcode rc;
    int ret = -1;

    snprintf(target, sizeof target, "%s%s", DDB_TARGET, op);
    h = curl_slist_append(NULL, DDB_CONTENT_TYPE);
    if (h != NULL) {
        hdrs = h;
        h = curl_slist_append(hdrs, target);
    }
    if (h != NULL && cr->token[0] != '\0') {
        snprintf(tok, sizeof tok, "%s%s", tok_name, cr->token);
        h = curl_slist_append(hdrs, tok);
        explicit_bzero(tok, sizeof tok);
    }
    if (h == NULL) {
        errbuf_set(res->why, sizeof res->why, "%s: out of memory", op);
        goto done;
    }
    snprintf(userpwd, sizeof userpwd, "%s:%s", cr->key_id, cr->secret);
    curl_easy_setopt(d->curl, CURLOPT_USERPWD, userpwd);
    explicit_bzero(userpwd, sizeof userpwd);
    curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(d->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)d->req.len);
    curl_easy_setopt(d->curl, CURLOPT_POSTFIELDS, d->req.p);
    d->resp.len = 0;
    d->resp.over = 0;
    d->resp.oom = 0;
    d->errbuf[0] = '\0';
    rc = curl_easy_perform(d->curl);
    curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, NULL);
    if (rc != CURLE_OK) {
        ddb_endpoint_name(d, where, sizeof where);
        errbuf_set(res->why, sizeof res->why, "%s: %s (%s)", op,
                d->resp.over ? "answer too large" : d->resp.oom ? "out of memory"
                : d->errbuf[0] != '\0' ? d->errbuf : curl_easy_strerror(rc), where);
        goto done;
    }
    curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, status);
    ret = 0;
done:
    for (h = hdrs; h != NULL; h = h->next)
        explicit_bzero(h->data, strlen(h->data));
    curl_slist_free_all(hdrs);
    return ret;
}

/* Copy s into out, replacing control characters, for a message. */
static void ddb_copy_text(char *out, size_t outlen, const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0' && i + 1 < outlen; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    out[i] = '\0';
}

/* DynamoDB's error answer: {"__type":"com.amazonaws...#Name","message":"..."}. */
static void ddb_parse_error(const struct ddb_buf *b, char *type, size_t typelen, char *msg,
                            size_t msglen)
{
    cJSON *root = b->len > 0 ? cJSON_ParseWithLength(b->p, b->len) : NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "__type");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "message");
    const char *hash;

    type[0] = '\0';
    msg[0] = '\0';
    if (!cJSON_IsString(m))
        m = cJSON_GetObjectItemCaseSensitive(root, "Message");
    if (cJSON_IsString(t)) {
        hash = strrchr(t->valuestring, '#');
        ddb_copy_text(type, typelen, hash != NULL ? hash + 1 : t->valuestring);
    }
    if (cJSON_IsString(m))
        ddb_copy_text(msg, msglen, m->valuestring);
    cJSON_Delete(root);
}

static int ddb_retryable(long status, const char *type)
{
    static const char *const throttled[] = {
        "ProvisionedThroughputExceededException", "ThrottlingException",
        "RequestLimitExceeded", "LimitExceededException",
    };

    if (status >= 500 || status == 429)
        return 1;
    for (size_t i = 0; i < sizeof throttled / sizeof throttled[0]; i++)
        if (strcmp(type, throttled[i]) == 0)
            return 1;
    return 0;
}

static void ddb_backoff(void)
{
    struct timespec ts;
    long ms;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ms = DDB_BACKOFF_MS + (long)(ts.tv_nsec % DDB_BACKOFF_MS);
    ts.tv_sec = 0;
    ts.tv_nsec = ms * 1000000L;
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Send the request in d->req as op.  On 200 *out is the parsed answer (the caller
 * deletes it).  Throttling and 5xx are retried once after a short pause; credentials
 * refused as expired are fetched again and the request retried once.  On failure
 * res->type holds DynamoDB's error type (or "") and res->why "<op>: why". */
static int ddb_call(struct ddb *d, const char *op, cJSON **out, struct ddb_res *res)
{
    const aws_creds_t *cr;
    char cwhy[256], msg[200];
    long status = 0;
    int ret = -1;

    *out = NULL;
    res->type[0] = '\0';
    res->why[0] = '\0';
    res->attempts = 0;
    if (d->req.over || d->req.oom) {
        errbuf_set(res->why, sizeof res->why, "%s: %s", op,
                d->req.oom ? "out of memory" : "request too large");
        goto done;
    }
    for (;;) {
        cr = aws_creds_get(d->creds, cwhy, sizeof cwhy);
        if (cr == NULL) {
            errbuf_set(res->why, sizeof res->why, "%s: %s", op, cwhy);
            goto done;
        }
        res->attempts++;
        if (ddb_send(d, op, cr, &status, res) != 0)
            goto done;
        if (status == 200) {
            *out = cJSON_ParseWithLength(d->resp.p != NULL ? d->resp.p : "", d->resp.len);
            if (*out == NULL) {
                errbuf_set(res->why, sizeof res->why, "%s: answer is not JSON", op);
                goto done;
            }
            ret = 0;
            goto done;
        }
        ddb_parse_error(&d->resp, res->type, sizeof res->type, msg, sizeof msg);
        if (res->attempts > 1)
            break;
        if (ddb_retryable(status, res->type)) {
            ddb_backoff();
            continue;
        }
        if ((strcmp(res->type, "ExpiredTokenException") == 0 ||
             strcmp(res->type, "UnrecognizedClientException") == 0) &&
            aws_creds_invalidate(d->creds))
            continue;
        break;
    }
    if (res->type[0] != '\0' && msg[0] != '\0')
        errbuf_set(res->why, sizeof res->why, "%s: %s: %s", op, res->type, msg);
    else if (res->type[0] != '\0')
        errbuf_set(res->why, sizeof res->why, "%s: %s", op, res->type);
    else
        errbuf_set(res->why, sizeof res->why, "%s: HTTP %ld", op, status);
done:
    /* A large item's buffers are not kept for the worker's whole life. */
    if (d->req.cap > DDB_KEEP_BUF) {
        free(d->req.p);
        d->req = (struct ddb_buf){ .max = DDB_REQUEST_MAX };
    }
    if (d->resp.cap > DDB_KEEP_BUF) {
        free(d->resp.p);
        d->resp = (struct ddb_buf){ .max = DDB_RESPONSE_MAX };
    }
    return ret;
}

/* Start d->req as {"TableName":"<t>","<keyfield>":{"pk":{"S":"<key>"} and leave the
 * inner object open for more attributes. */
static void ddb_req_begin(struct ddb *d, const char *keyfield, const char *key)
{
    d->req.len = 0;
    d->req.over = 0;
    d->req.oom = 0;
    buf_str(&d->req, "{\"TableName\":\"");
    buf_str(&d->req, d->table);
    buf_str(&d->req, "\",\"");
    buf_str(&d->req, keyfield);
    buf_str(&d->req, "\":{\"pk\":{\"S\":");
    buf_json_string(&d->req, key);
    buf_str(&d->req, "}");
}

/* Read an item.  Returns 1 with *v (malloc'd, NUL-terminated), *len and *exp set, 0
 * when there is no item, -1 with res filled. */
static int ddb_get_item(struct ddb *d, const char *key, int consistent, char **v, size_t *len,
                        int64_t *exp, struct ddb_res *res)
{
    const cJSON *item, *vb, *en;
    cJSON *out = NULL;
    char *end = NULL;
    long long e;
    int ret = -1;

    *v = NULL;
    *len = 0;
    ddb_req_begin(d, "Key", key);
    buf_str(&d->req, consistent ? "},\"ConsistentRead\":true}" : "}}");
    if (ddb_call(d, "GetItem", &out, res) != 0)
        return -1;
    item = cJSON_GetObjectItemCaseSensitive(out, "Item");
    if (item == NULL) {
        ret = 0;
        goto done;
    }
    vb = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(item, "v"), "B");
    en = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(item, "expires_at"),
                                          "N");
    if (!cJSON_IsString(en) || en->valuestring[0] == '\0') {
        errbuf_set(res->why, sizeof res->why, "GetItem: item has no numeric expires_at");
        goto done;
    }
    e = strtoll(en->valuestring, &end, 10);
    if (*end != '\0') {
        errbuf_set(res->why, sizeof res->why, "GetItem: item's expires_at is not an integer");
        goto done;
    }
    if (!cJSON_IsString(vb) || b64_decode(vb->valuestring, v, len) != 0) {
        errbuf_set(res->why, sizeof res->why, "GetItem: item has no binary attribute v");
        goto done;
    }
    *exp = (int64_t)e;
    ret = 1;
done:
    cJSON_Delete(out);
    return ret;
}

/* ---- the backend ---- */

static void ddb_close(void *h)
{
    struct ddb *d = h;

    if (d == NULL)
        return;
    if (d->curl != NULL)
        curl_easy_cleanup(d->curl);
    aws_creds_close(d->creds);
    free(d->req.p);
    free(d->resp.p);
    free(d);
}

/* Reads the settings and makes the curl handle; sends nothing. */
static void *ddb_open(const char *table, char *err, size_t errlen)
{
    struct ddb *d = calloc(1, sizeof *d);

    if (d == NULL) {
        errbuf_set(err, errlen, "out of memory");
        return NULL;
    }
    d->req.max = DDB_REQUEST_MAX;
    d->resp.max = DDB_RESPONSE_MAX;
    if (ddb_check_table(table, err, errlen) != 0 ||
        aws_region(d->region, sizeof d->region, err, errlen) != 0 ||
        ddb_load_endpoint(d, err, errlen) != 0 ||
        ddb_load_timeout(d, err, errlen) != 0)
        goto fail;
    snprintf(d->table, sizeof d->table, "%s", table);
    snprintf(d->sigv4, sizeof d->sigv4, "aws:amz:%s:dynamodb", d->region);
    d->creds = aws_creds_open(err, errlen);
    if (d->creds == NULL)
        goto fail;
    d->curl = curl_easy_init();
    if (d->curl == NULL) {
        errbuf_set(err, errlen, "curl_easy_init failed");
        goto fail;
    }
    curl_easy_setopt(d->curl, CURLOPT_URL, d->url);
    curl_easy_setopt(d->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(d->curl, CURLOPT_AWS_SIGV4, d->sigv4);
    curl_easy_setopt(d->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(d->curl, CURLOPT_CONNECTTIMEOUT_MS,
                     d->timeout_ms < DDB_CONNECT_TIMEOUT_MS ? d->timeout_ms
                                                            : DDB_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(d->curl, CURLOPT_TIMEOUT_MS, d->timeout_ms);
    curl_easy_setopt(d->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(d->curl, CURLOPT_USERAGENT, "mcpgw");
    curl_easy_setopt(d->curl, CURLOPT_ERRORBUFFER, d->errbuf);
    curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, ddb_write_cb);
    curl_easy_setopt(d->curl, CURLOPT_WRITEDATA, &d->resp);
    return d;

fail:
    ddb_close(d);
    return NULL;
}

/* Errors of the item operations name the store, as /ready and -32011 show them. */
static int ddb_fail(const struct ddb *d, const struct ddb_res *res, char *err, size_t errlen)
{
    errbuf_set(err, errlen, "dynamodb:%s: %s", d->table, res->why);
    return -1;
}

static int ddb_put(void *h, const char *key, const void *v, size_t len, int64_t expires_at,
                   int only_if_absent, int64_t now, char *err, size_t errlen)
{
    struct ddb *d = h;
    struct ddb_res res;
    cJSON *out = NULL;
    char num[32], *cur = NULL;
    size_t curlen = 0;
    int64_t curexp = 0;
    int r;

    if (len > DDB_ITEM_MAX || strlen(key) + len + DDB_ITEM_OVERHEAD > DDB_ITEM_MAX) {
        errbuf_set(err, errlen, "dynamodb:%s: PutItem: value of %zu bytes does not fit "
                "DynamoDB's 400 KB item limit", d->table, len);
        return -1;
    }
    ddb_req_begin(d, "Item", key);
    buf_str(&d->req, ",\"v\":{\"B\":");
    buf_base64(&d->req, v, len);
    snprintf(num, sizeof num, "%" PRId64, expires_at);
    buf_str(&d->req, "},\"expires_at\":{\"N\":\"");
    buf_str(&d->req, num);
    buf_str(&d->req, "\"}}");
    if (only_if_absent) {
        snprintf(num, sizeof num, "%" PRId64, now);
        buf_str(&d->req, ",\"ConditionExpression\":"
                "\"attribute_not_exists(pk) OR expires_at <= :now\","
                "\"ExpressionAttributeValues\":{\":now\":{\"N\":\"");
        buf_str(&d->req, num);
        buf_str(&d->req, "\"}}");
    }
    buf_str(&d->req, "}");
    if (ddb_call(d, "PutItem", &out, &res) == 0) {
        cJSON_Delete(out);
        return 1;
    }
    if (!only_if_absent || strcmp(res.type, "ConditionalCheckFailedException") != 0)
        return ddb_fail(d, &res, err, errlen);
    if (res.attempts == 1)
        return 0;
    /* The first attempt failed with a 5xx, which DynamoDB may have applied anyway: then
     * the live record that made the retry fail is our own.  Compare to find out. */
    r = ddb_get_item(d, key, 1, &cur, &curlen, &curexp, &res);
    if (r < 0)
        return ddb_fail(d, &res, err, errlen);
    r = r == 1 && curlen == len && curexp == expires_at && (len == 0 || memcmp(cur, v, len) == 0);
    free(cur);
    return r;
}

static int ddb_get(void *h, const char *key, char **v, size_t *len, int64_t *expires_at,
                   int64_t now, char *err, size_t errlen)
{
    struct ddb *d = h;
    struct ddb_res res;
    int64_t exp = 0;
    int r;

    r = ddb_get_item(d, key, 1, v, len, &exp, &res);
    if (r < 0)
        return ddb_fail(d, &res, err, errlen);
    if (r == 0 || exp <= now) {
        /* DynamoDB deletes expired items lazily: until then they read as missing. */
        free(*v);
        *v = NULL;
        *len = 0;
        return 0;
    }
    *expires_at = exp;
    return 1;
}

static int ddb_del(void *h, const char *key, char *err, size_t errlen)
{
    struct ddb *d = h;
    struct ddb_res res;
    cJSON *out = NULL;

    ddb_req_begin(d, "Key", key);
    buf_str(&d->req, "}}");
    if (ddb_call(d, "DeleteItem", &out, &res) != 0)
        return ddb_fail(d, &res, err, errlen);
    cJSON_Delete(out);
    return 0;
}

/* A prefix delete would need Scan, which reads the whole table and which the task role
 * is not granted; nothing in the gateway needs it any more. */
static int ddb_del_prefix(void *h, const char *prefix, char *err, size_t errlen)
{
    struct ddb *d = h;

    (void)prefix;
    errbuf_set(err, errlen, "dynamodb:%s: del_prefix: not supported by the dynamodb store",
            d->table);
    return -1;
}

/* An eventually consistent read of a fixed key that need not exist: half the cost of a
 * consistent one, and it needs only dynamodb:GetItem (no DescribeTable). */
static int ddb_ping_item(struct ddb *d, struct ddb_res *res)
{
    cJSON *out = NULL;

    ddb_req_begin(d, "Key", DDB_PING_KEY);
    buf_str(&d->req, "}}");
    if (ddb_call(d, "GetItem", &out, res) != 0)
        return -1;
    cJSON_Delete(out);
    return 0;
}

static int ddb_ping(void *h, char *err, size_t errlen)
{
    struct ddb *d = h;
    struct ddb_res res;

    if (ddb_ping_item(d, &res) != 0)
        return ddb_fail(d, &res, err, errlen);
    return 0;
}

static int ddb_prepare(const char *table, char *err, size_t errlen)
{
    struct ddb *d;
    struct ddb_res res;
    char where[DDB_ENDPOINT_MAX + 2];
    const char *colon;
    int rc = 0;

    d = ddb_open(table, err, errlen);
    if (d == NULL)
        return -1;
    if (ddb_ping_item(d, &res) == 0)
        goto done;
    rc = -1;
    ddb_endpoint_name(d, where, sizeof where);
    colon = strstr(res.why, ": ");
    colon = colon != NULL ? colon + 2 : res.why;
    if (strcmp(res.type, "ResourceNotFoundException") == 0)
        errbuf_set(err, errlen, "table %s not found in %s%s%s", d->table, d->region,
                d->custom_endpoint ? " at " : "", d->custom_endpoint ? where : "");
    else if (strcmp(res.type, "AccessDeniedException") == 0)
        errbuf_set(err, errlen, "access denied to table %s in %s (the role needs "
                "dynamodb:GetItem, PutItem and DeleteItem on it): %s", d->table, d->region,
                colon);
    else if (strcmp(res.type, "UnrecognizedClientException") == 0 ||
             strcmp(res.type, "InvalidSignatureException") == 0 ||
             strcmp(res.type, "ExpiredTokenException") == 0 ||
             strcmp(res.type, "MissingAuthenticationTokenException") == 0)
        errbuf_set(err, errlen, "credentials from the %s refused by %s: %s",
                aws_creds_source(d->creds), where, colon);
    else
        errbuf_set(err, errlen, "%s", res.why);
done:
    ddb_close(d);
    return rc;
}

const struct store_ops store_dynamodb_ops = {
    .scheme = "dynamodb",
    .prepare = ddb_prepare,
    .open = ddb_open,
    .close = ddb_close,
    .put = ddb_put,
    .get = ddb_get,
    .del = ddb_del,
    .del_prefix = ddb_del_prefix,
    .ping = ddb_ping,
};
