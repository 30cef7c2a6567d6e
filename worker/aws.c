/* SPDX-License-Identifier: MIT */
/* aws.c - AWS region and credentials from the environment or the ECS container credentials endpoint. */
#include "aws.h"
#include "errbuf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

/* The endpoint is local to the task (or the host): it answers in milliseconds or not at
 * all, and a store request waits for it. */
#define AWS_FETCH_CONNECT_MS 1000L
#define AWS_FETCH_TIMEOUT_MS 2000L

/* Cap on the endpoint's answer: a few hundred bytes in practice. */
#define AWS_FETCH_BODY_MAX (64 * 1024)

#define AWS_URL_MAX 2048

/* After a failed fetch: how long until the next attempt, with and without credentials
 * that are still valid. */
#define AWS_RETRY_STALE_MS 10000
#define AWS_RETRY_NONE_MS  1000

enum aws_source { AWS_SRC_ENV, AWS_SRC_CONTAINER };

struct aws_cred_provider {
    enum aws_source src;
    const char *url_var;                  /* the variable the endpoint came from */
    char url[AWS_URL_MAX + 1];
    char auth[AWS_TOKEN_MAX + 1];         /* AWS_CONTAINER_AUTHORIZATION_TOKEN, or "" */
    char auth_file[AWS_URL_MAX + 1];      /* AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, or "" */
    aws_creds_t creds;
    aws_creds_t next;                     /* scratch for a fetch in progress */
    int have;                             /* creds holds fetched (or static) credentials */
    int64_t refresh_at;                   /* fetch again from then on */
    int64_t retry_at_ms;                  /* monotonic: no new attempt before then */
    char last_err[256];
};

/* Growable body with a hard cap. */
struct aws_body {
    char *p;
    size_t len, cap;
    int over;
};

static const char *aws_env(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Visible ASCII only: what keys and tokens are made of, and safe in a header line. */
static int aws_visible(const char *s, size_t max)
{
    size_t n = 0;

    for (; *s != '\0'; s++, n++) {
        if (n >= max || (unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return 0;
    }
    return n > 0;
}

int aws_region(char *out, size_t outlen, char *err, size_t errlen)
{
    const char *name = "AWS_REGION";
    const char *v = aws_env(name);
    size_t n;

    if (v == NULL) {
        name = "AWS_DEFAULT_REGION";
        v = aws_env(name);
    }
    if (v == NULL) {
        errbuf_set(err, errlen, "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION)");
        return -1;
    }
    n = strlen(v);
    if (n > AWS_REGION_MAX || n >= outlen || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != n) {
        errbuf_set(err, errlen, "%s: not a region name (lowercase letters, digits and hyphens, "
                "for example eu-west-1)", name);
        return -1;
    }
    memcpy(out, v, n + 1);
    return 0;
}

/* Copy one credential field after checking it; err names the field, not its value. */
static int aws_take(char *dst, size_t dstlen, const char *v, const char *what, int keyid,
                    char *err, size_t errlen)
{
    if (!aws_visible(v, dstlen - 1) || (keyid && strchr(v, ':') != NULL)) {
        errbuf_set(err, errlen, "%s: empty, longer than %zu characters or not visible ASCII%s",
                what, dstlen - 1, keyid ? " (or contains ':')" : "");
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

/* FULL_URI may point anywhere, so, as the AWS SDKs do, plain http is allowed only to
 * this host or to the ECS and EKS agents' link-local addresses: the authorization token
 * and the credentials must not cross a network in clear. */
static int aws_full_uri_allowed(const char *url, char *err, size_t errlen)
{
    static const char *const agents[] = { "169.254.170.2", "169.254.170.23", "fd00:ec2::23",
                                          "::1", "localhost" };
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    struct in_addr a4;
    const char *h;
    size_t hl;
    int ok = 0;

    if (u == NULL) {
        errbuf_set(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI: out of memory");
        return -1;
    }
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        errbuf_set(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI: not a URL");
        goto done;
    }
    if (strcasecmp(scheme, "https") == 0) {
        ok = 1;
        goto done;
    }
    if (strcasecmp(scheme, "http") != 0) {
        errbuf_set(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI: scheme must be http or https");
        goto done;
    }
    h = host;
    hl = strlen(host);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    for (size_t i = 0; i < sizeof agents / sizeof agents[0] && !ok; i++)
        ok = strlen(agents[i]) == hl && strncasecmp(agents[i], h, hl) == 0;
    if (!ok && inet_pton(AF_INET, host, &a4) == 1)
        ok = (ntohl(a4.s_addr) >> 24) == 127;
    if (!ok)
        errbuf_set(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is allowed only "
                "to a loopback address or the ECS/EKS agent (169.254.170.2, 169.254.170.23); "
                "use https");
done:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok ? 0 : -1;
}

static int aws_open_container(aws_cred_provider_t *p, char *err, size_t errlen)
{
    const char *rel = aws_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = aws_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    const char *tok = aws_env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    const char *file = aws_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");

    p->src = AWS_SRC_CONTAINER;
    if (rel != NULL) {
        p->url_var = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
        if (rel[0] != '/' || !aws_visible(rel, AWS_URL_MAX - sizeof AWS_CONTAINER_HOST)) {
            errbuf_set(err, errlen, "%s: must be a path starting with '/'", p->url_var);
            return -1;
        }
        snprintf(p->url, sizeof p->url, "%s%s", AWS_CONTAINER_HOST, rel);
    } else {
        p->url_var = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
        if (!aws_visible(full, AWS_URL_MAX)) {
            errbuf_set(err, errlen, "%s: longer than %d characters or not visible ASCII",
                    p->url_var, AWS_URL_MAX);
            return -1;
        }
        if (aws_full_uri_allowed(full, err, errlen) != 0)
            return -1;
        snprintf(p->url, sizeof p->url, "%s", full);
    }
    if (file != NULL) {
        if (strlen(file) > AWS_URL_MAX) {
            errbuf_set(err, errlen, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: path too long");
            return -1;
        }
        snprintf(p->auth_file, sizeof p->auth_file, "%s", file);
    } else if (tok != NULL) {
        /* Spaces are fine inside a header value ("Basic xyz"); line breaks are not. */
        for (const char *c = tok; *c != '\0'; c++) {
            if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f) {
                errbuf_set(err, errlen, "AWS_CONTAINER_AUTHORIZATION_TOKEN: control character");
                return -1;
            }
        }
        if (strlen(tok) > AWS_TOKEN_MAX) {
            errbuf_set(err, errlen, "AWS_CONTAINER_AUTHORIZATION_TOKEN: longer than %d characters",
                    AWS_TOKEN_MAX);
            return -1;
        }
        snprintf(p->auth, sizeof p->auth, "%s", tok);
    }
    return 0;
}

aws_cred_provider_t *aws_creds_open(char *err, size_t errlen)
{
    const char *key = aws_env("AWS_ACCESS_KEY_ID");
    const char *secret = aws_env("AWS_SECRET_ACCESS_KEY");
    const char *token = aws_env("AWS_SESSION_TOKEN");
    aws_cred_provider_t *p = calloc(1, sizeof *p);

    if (p == NULL) {
        errbuf_set(err, errlen, "credentials: out of memory");
        return NULL;
    }
    if (key != NULL || secret != NULL) {
        if (key == NULL || secret == NULL) {
            errbuf_set(err, errlen, "%s is set but %s is not", key != NULL ? "AWS_ACCESS_KEY_ID"
                    : "AWS_SECRET_ACCESS_KEY", key != NULL ? "AWS_SECRET_ACCESS_KEY"
                    : "AWS_ACCESS_KEY_ID");
            goto fail;
        }
        p->src = AWS_SRC_ENV;
        if (aws_take(p->creds.key_id, sizeof p->creds.key_id, key, "AWS_ACCESS_KEY_ID", 1,
                     err, errlen) != 0 ||
            aws_take(p->creds.secret, sizeof p->creds.secret, secret, "AWS_SECRET_ACCESS_KEY",
                     0, err, errlen) != 0 ||
            (token != NULL && aws_take(p->creds.token, sizeof p->creds.token, token,
                                       "AWS_SESSION_TOKEN", 0, err, errlen) != 0))
            goto fail;
        p->have = 1;
        return p;
    }
    if (aws_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") == NULL &&
        aws_env("AWS_CONTAINER_CREDENTIALS_FULL_URI") == NULL) {
        errbuf_set(err, errlen, "no AWS credentials: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or run with an ECS task role "
                "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or AWS_CONTAINER_CREDENTIALS_FULL_URI)");
        goto fail;
    }
    if (aws_open_container(p, err, errlen) != 0)
        goto fail;
    return p;

fail:
    aws_creds_close(p);
    return NULL;
}

void aws_creds_close(aws_cred_provider_t *p)
{
    if (p == NULL)
        return;
    explicit_bzero(p, sizeof *p);
    free(p);
}

const char *aws_creds_source(const aws_cred_provider_t *p)
{
    return p->src == AWS_SRC_ENV ? "environment" : "container";
}

int aws_creds_invalidate(aws_cred_provider_t *p)
{
    if (p->src == AWS_SRC_ENV)
        return 0;
    p->refresh_at = 0;
    p->retry_at_ms = 0;
    return 1;
}

/* ---- fetching from the container endpoint ---- */

static size_t aws_body_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct aws_body *b = ud;
    size_t n = size * nmemb;

    if (n > AWS_FETCH_BODY_MAX - b->len) {
        b->over = 1;
        return 0;
    }
    /* Small and short-lived: take the whole cap at once, so that no copy of the
     * credentials is left behind in a freed smaller block. */
    if (b->p == NULL) {
        b->p = malloc(AWS_FETCH_BODY_MAX + 1);
        if (b->p == NULL)
            return 0;
        b->cap = AWS_FETCH_BODY_MAX + 1;
    }
    memcpy(b->p + b->len, ptr, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

/* "2024-05-01T12:34:56Z", with optional fraction and a Z or +hh:mm / -hh:mm offset. */
static int aws_parse_time(const char *s, int64_t *out)
{
    struct tm tm;
    int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0, sign = 1;
    time_t t;

    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n == 0)
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 ||
        h < 0 || mi < 0 || sec < 0)
        return -1;
    s += n;
    if (*s == '.') {
        s++;
        while (isdigit((unsigned char)*s))
            s++;
    }
    if (*s == '+' || *s == '-') {
        sign = *s == '-' ? -1 : 1;
        if (!(isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2])))
            return -1;
        oh = (s[1] - '0') * 10 + (s[2] - '0');
        s += 3;
        if (*s == ':')
            s++;
        if (!(isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1])))
            return -1;
        om = (s[0] - '0') * 10 + (s[1] - '0');
        s += 2;
    } else if (*s == 'Z') {
        s++;
    }
    if (*s != '\0')
        return -1;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = (int64_t)t - sign * (int64_t)(oh * 3600 + om * 60);
    return 0;
}

/* The token for the Authorization header: the file wins (EKS rotates it), re-read each
 * time; trailing whitespace is dropped.  tok holds AWS_TOKEN_MAX + 1 bytes. */
static int aws_auth_token(const aws_cred_provider_t *p, char *tok, char *err, size_t errlen)
{
    ssize_t n = 0;
    size_t len = 0;
    int fd;

    tok[0] = '\0';
    if (p->auth_file[0] == '\0') {
        memcpy(tok, p->auth, strlen(p->auth) + 1);
        return 0;
    }
    fd = open(p->auth_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        errbuf_set(err, errlen, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: open: %s", strerror(errno));
        return -1;
    }
    for (;;) {
        n = read(fd, tok + len, AWS_TOKEN_MAX + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len > AWS_TOKEN_MAX)
            break;
    }
    close(fd);
    if (n < 0 || len > AWS_TOKEN_MAX) {
        errbuf_set(err, errlen, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %s",
                n < 0 ? strerror(errno) : "longer than the token limit");
        explicit_bzero(tok, AWS_TOKEN_MAX + 1);
        return -1;
    }
    while (len > 0 && isspace((unsigned char)tok[len - 1]))
        len--;
    tok[len] = '\0';
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)tok[i] < 0x20 || (unsigned char)tok[i] == 0x7f) {
            errbuf_set(err, errlen, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: control character in the token");
            explicit_bzero(tok, AWS_TOKEN_MAX + 1);
            return -1;
        }
    }
    return 0;
}

/* Wipe a string member of a parsed answer before the tree is freed. */
static void aws_wipe_item(cJSON *obj, const char *name)
{
    cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (cJSON_IsString(it))
        explicit_bzero(it->valuestring, strlen(it->valuestring));
}

/* Turn the endpoint's JSON answer into out. */
static int aws_parse_creds(const aws_cred_provider_t *p, const char *body, size_t len,
                           aws_creds_t *out, char *err, size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(root, "AccessKeyId");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "SecretAccessKey");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "Token");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "Expiration");
    int rc = -1;

    if (!cJSON_IsObject(root)) {
        errbuf_set(err, errlen, "credentials from %s: not JSON", p->url_var);
        goto done;
    }
    if (!cJSON_IsString(k) || !cJSON_IsString(s) || !cJSON_IsString(e)) {
        errbuf_set(err, errlen, "credentials from %s: AccessKeyId, SecretAccessKey or "
                "Expiration missing", p->url_var);
        goto done;
    }
    if (aws_take(out->key_id, sizeof out->key_id, k->valuestring, "AccessKeyId", 1, err,
                 errlen) != 0 ||
        aws_take(out->secret, sizeof out->secret, s->valuestring, "SecretAccessKey", 0, err,
                 errlen) != 0)
        goto done;
    out->token[0] = '\0';
    if (cJSON_IsString(t) && t->valuestring[0] != '\0' &&
        aws_take(out->token, sizeof out->token, t->valuestring, "Token", 0, err, errlen) != 0)
        goto done;
    if (aws_parse_time(e->valuestring, &out->expires_at) != 0) {
        errbuf_set(err, errlen, "credentials from %s: Expiration is not an ISO 8601 time",
                p->url_var);
        goto done;
    }
    rc = 0;
done:
    if (root != NULL) {
        aws_wipe_item(root, "SecretAccessKey");
        aws_wipe_item(root, "Token");
    }
    cJSON_Delete(root);
    return rc;
}

/* One GET to the container endpoint; fills out or err. */
static int aws_fetch(const aws_cred_provider_t *p, aws_creds_t *out, char *err, size_t errlen)
{
    static const char hname[] = "Authorization: ";
    char tok[AWS_TOKEN_MAX + 1];
    char line[sizeof hname + AWS_TOKEN_MAX];
    char ebuf[CURL_ERROR_SIZE];
    struct aws_body body = { 0 };
    struct curl_slist *hdrs = NULL;
    CURL *c = NULL;
    CURLcode rc;
    long status = 0;
    int ret = -1;

    if (aws_auth_token(p, tok, err, errlen) != 0)
        return -1;
    if (tok[0] != '\0') {
        snprintf(line, sizeof line, "%s%s", hname, tok);
        hdrs = curl_slist_append(NULL, line);
        explicit_bzero(line, sizeof line);
        if (hdrs == NULL) {
            errbuf_set(err, errlen, "credentials: out of memory");
            goto done;
        }
    }
    c = curl_easy_init();
    if (c == NULL) {
        errbuf_set(err, errlen, "credentials: curl_easy_init failed");
        goto done;
    }
    ebuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, p->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");      /* never hand credentials to a proxy */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, AWS_FETCH_CONNECT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, AWS_FETCH_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, aws_body_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        errbuf_set(err, errlen, "credentials from %s: %s", p->url_var,
                body.over ? "answer too large" : ebuf[0] != '\0' ? ebuf : curl_easy_strerror(rc));
        goto done;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        /* The body is not quoted: it is not ours to put in a log. */
        errbuf_set(err, errlen, "credentials from %s: HTTP %ld", p->url_var, status);
        goto done;
    }
    ret = aws_parse_creds(p, body.p != NULL ? body.p : "", body.len, out, err, errlen);
done:
    for (struct curl_slist *h = hdrs; h != NULL; h = h->next)
        explicit_bzero(h->data, strlen(h->data));
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    explicit_bzero(tok, sizeof tok);
    if (body.p != NULL)
        explicit_bzero(body.p, body.cap);
    free(body.p);
    return ret;
}

static int64_t aws_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const aws_creds_t *aws_creds_get(aws_cred_provider_t *p, char *err, size_t errlen)
{
    int64_t now = (int64_t)time(NULL);
    int64_t mono = aws_mono_ms();
    int64_t life, ahead;
    int valid, rc;

    if (p->src == AWS_SRC_ENV)
        return &p->creds;
    valid = p->have && now < p->creds.expires_at;
    if (valid && now < p->refresh_at)
        return &p->creds;
    if (mono < p->retry_at_ms) {
        if (valid)
            return &p->creds;
        errbuf_set(err, errlen, "%s", p->last_err);
        return NULL;
    }
    p->last_err[0] = '\0';
    rc = aws_fetch(p, &p->next, p->last_err, sizeof p->last_err);
    if (rc == 0 && p->next.expires_at <= now) {
        snprintf(p->last_err, sizeof p->last_err, "credentials from %s: already expired",
                 p->url_var);
        rc = -1;
    }
    if (rc == 0) {
        p->creds = p->next;
        explicit_bzero(&p->next, sizeof p->next);
        p->have = 1;
        p->retry_at_ms = 0;
        life = p->creds.expires_at - now;
        ahead = life / 2 < AWS_REFRESH_AHEAD_S ? life / 2 : AWS_REFRESH_AHEAD_S;
        p->refresh_at = p->creds.expires_at - ahead;
        return &p->creds;
    }
    explicit_bzero(&p->next, sizeof p->next);
    p->retry_at_ms = mono + (valid ? AWS_RETRY_STALE_MS : AWS_RETRY_NONE_MS);
    if (valid)
        return &p->creds;
    errbuf_set(err, errlen, "%s", p->last_err);
    return NULL;
}
