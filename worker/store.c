/* SPDX-License-Identifier: MIT */
/* store.c - the public store API: url scheme dispatch, argument checks, the expiry clock. */

#include "store.h"
#include "errbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* A handle belongs to the process that opened it.  SQLite (and any backend holding
 * sockets or file locks) breaks in subtle ways when a connection is used on both sides
 * of fork(): POSIX locks are not inherited, so the child would write without holding
 * the locks the library believes it holds.  Every call therefore checks that it runs
 * in the owning process and refuses otherwise; the pool master only ever calls
 * store_prepare (which opens and closes) and each worker opens its own handle after it
 * is forked. */
struct store {
    const struct store_ops *ops;
    void *h;         /* backend handle, owned */
    pid_t owner;     /* getpid() at store_open */
};

static const struct store_ops *const store_backends[] = {
    &store_sqlite_ops,
    &store_dynamodb_ops,
};

static int64_t store_clock_offset;

void store_clock_offset_for_tests(int64_t seconds)
{
    store_clock_offset = seconds;
}

int64_t store_now(void)
{
    return (int64_t)time(NULL) + store_clock_offset;
}

/* "sqlite, dynamodb": the schemes of store_backends, for messages. */
static const char *store_schemes(void)
{
    static char list[64];
    size_t i, at = 0;

    if (list[0] != '\0')
        return list;
    for (i = 0; i < sizeof store_backends / sizeof store_backends[0] && at < sizeof list; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i > 0 ? ", " : "",
                               store_backends[i]->scheme);
    return list;
}

/* Split "scheme:rest" and find the backend.  On failure err names the url and why. */
static const struct store_ops *store_resolve(const char *url, const char **rest,
                                             char *err, size_t errlen)
{
    const char *colon;
    size_t n;
    size_t i;

    if (url == NULL || url[0] == '\0') {
        errbuf_set(err, errlen, "store \"\": empty url (expected sqlite:/path/to/file.db)");
        return NULL;
    }
    colon = strchr(url, ':');
    if (colon == NULL || colon == url) {
        errbuf_set(err, errlen, "store \"%s\": no scheme (expected sqlite:/path/to/file.db)",
                  url);
        return NULL;
    }
    n = (size_t)(colon - url);
    for (i = 0; i < sizeof store_backends / sizeof store_backends[0]; i++) {
        const struct store_ops *ops = store_backends[i];

        if (strlen(ops->scheme) == n && memcmp(ops->scheme, url, n) == 0) {
            if (colon[1] == '\0') {
                errbuf_set(err, errlen, "store \"%s\": empty path after \"%s:\"", url,
                          ops->scheme);
                return NULL;
            }
            *rest = colon + 1;
            return ops;
        }
    }
    errbuf_set(err, errlen, "store \"%s\": unknown scheme \"%.*s\" (supported: %s)", url,
              (int)n, url, store_schemes());
    return NULL;
}

static int store_check_handle(const store_t *s, char *err, size_t errlen)
{
    pid_t me;

    if (s == NULL) {
        errbuf_set(err, errlen, "store: no handle");
        return -1;
    }
    me = getpid();
    if (me != s->owner) {
        errbuf_set(err, errlen,
                  "store: handle opened by pid %ld used in pid %ld (handles must not cross fork())",
                  (long)s->owner, (long)me);
        return -1;
    }
    return 0;
}

/* what is "key" or "prefix": the message then says which argument was wrong. */
static int store_check_key(const char *key, const char *what, char *err, size_t errlen)
{
    size_t n;

    if (key == NULL) {
        errbuf_set(err, errlen, "store: %s is NULL", what);
        return -1;
    }
    n = strnlen(key, STORE_KEY_MAX + 1);
    if (n == 0) {
        errbuf_set(err, errlen, "store: empty %s", what);
        return -1;
    }
    if (n > STORE_KEY_MAX) {
        errbuf_set(err, errlen, "store: %s longer than %d bytes", what, STORE_KEY_MAX);
        return -1;
    }
    return 0;
}

static int store_check_value(const void *value, size_t len, long ttl, int64_t now,
                             char *err, size_t errlen)
{
    if (value == NULL && len > 0) {
        errbuf_set(err, errlen, "store: value is NULL but len is %zu", len);
        return -1;
    }
    if (len > STORE_VALUE_MAX) {
        errbuf_set(err, errlen, "store: value of %zu bytes exceeds the %d-byte limit", len,
                  STORE_VALUE_MAX);
        return -1;
    }
    if (ttl <= 0) {
        errbuf_set(err, errlen, "store: ttl must be positive (got %ld)", ttl);
        return -1;
    }
    if ((int64_t)ttl > INT64_MAX - now) {
        errbuf_set(err, errlen, "store: ttl %ld is too large", ttl);
        return -1;
    }
    return 0;
}

int store_prepare(const char *url, char *err, size_t errlen)
{
    const struct store_ops *ops;
    const char *rest = NULL;
    char why[512];

    ops = store_resolve(url, &rest, err, errlen);
    if (ops == NULL)
        return -1;
    why[0] = '\0';
    if (ops->prepare(rest, why, sizeof why) != 0) {
        errbuf_set(err, errlen, "store \"%s\": %s", url, why);
        return -1;
    }
    return 0;
}

store_t *store_open(const char *url, char *err, size_t errlen)
{
    const struct store_ops *ops;
    const char *rest = NULL;
    store_t *s = NULL;
    char why[512];

    ops = store_resolve(url, &rest, err, errlen);
    if (ops == NULL)
        goto fail;
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        errbuf_set(err, errlen, "store \"%s\": out of memory", url);
        goto fail;
    }
    why[0] = '\0';
    s->h = ops->open(rest, why, sizeof why);
    if (s->h == NULL) {
        errbuf_set(err, errlen, "store \"%s\": %s", url, why);
        goto fail;
    }
    s->ops = ops;
    s->owner = getpid();
    return s;

fail:
    free(s);
    return NULL;
}

void store_close(store_t *s)
{
    if (s == NULL)
        return;
    /* In a process that merely inherited the handle, closing the backend could disturb
     * the owner's files (SQLite checkpoints and unlinks the WAL on last close), so only
     * the wrapper is freed there and the backend's memory is left to the process exit. */
    if (s->owner == getpid())
        s->ops->close(s->h);
    free(s);
}

int store_put(store_t *s, const char *key, const void *value, size_t len,
              long ttl_seconds, char *err, size_t errlen)
{
    int64_t now = store_now();

    if (store_check_handle(s, err, errlen) != 0 ||
        store_check_key(key, "key", err, errlen) != 0 ||
        store_check_value(value, len, ttl_seconds, now, err, errlen) != 0)
        return -1;
    if (s->ops->put(s->h, key, value, len, now + ttl_seconds, 0, now, err, errlen) < 0)
        return -1;
    return 0;
}

int store_add(store_t *s, const char *key, const void *value, size_t len,
              long ttl_seconds, char *err, size_t errlen)
{
    int64_t now = store_now();
    int r;

    if (store_check_handle(s, err, errlen) != 0 ||
        store_check_key(key, "key", err, errlen) != 0 ||
        store_check_value(value, len, ttl_seconds, now, err, errlen) != 0)
        return -1;
    r = s->ops->put(s->h, key, value, len, now + ttl_seconds, 1, now, err, errlen);
    if (r < 0)
        return -1;
    return r > 0 ? 1 : 0;
}

int store_get(store_t *s, const char *key, char **value, size_t *len,
              int64_t *expires_at, char *err, size_t errlen)
{
    size_t n = 0;
    int64_t exp = 0;
    int r;

    if (value != NULL)
        *value = NULL;
    if (len != NULL)
        *len = 0;
    if (value == NULL || len == NULL) {
        errbuf_set(err, errlen, "store: value and len must not be NULL");
        return -1;
    }
    if (store_check_handle(s, err, errlen) != 0 ||
        store_check_key(key, "key", err, errlen) != 0)
        return -1;
    r = s->ops->get(s->h, key, value, &n, &exp, store_now(), err, errlen);
    if (r <= 0) {
        *value = NULL;
        return r < 0 ? -1 : 0;
    }
    *len = n;
    if (expires_at != NULL)
        *expires_at = exp;
    return 1;
}

int store_del(store_t *s, const char *key, char *err, size_t errlen)
{
    if (store_check_handle(s, err, errlen) != 0 ||
        store_check_key(key, "key", err, errlen) != 0)
        return -1;
    return s->ops->del(s->h, key, err, errlen) < 0 ? -1 : 0;
}

/* An empty prefix would wipe the whole store; no caller means that, so it is refused. */
int store_del_prefix(store_t *s, const char *prefix, char *err, size_t errlen)
{
    if (store_check_handle(s, err, errlen) != 0 ||
        store_check_key(prefix, "prefix", err, errlen) != 0)
        return -1;
    return s->ops->del_prefix(s->h, prefix, err, errlen) < 0 ? -1 : 0;
}

int store_ping(store_t *s, char *err, size_t errlen)
{
    if (store_check_handle(s, err, errlen) != 0)
        return -1;
    return s->ops->ping(s->h, err, errlen) < 0 ? -1 : 0;
}
