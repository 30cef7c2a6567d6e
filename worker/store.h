/* SPDX-License-Identifier: MIT */
/* store.h - the shared key/value store with per-record expiry that every worker sees.
 *
 * Sessions, upstream session ids and the federated catalogue live here so that any
 * worker (and, with a networked backend, any container) can serve any request.
 * Values are opaque bytes (in practice small JSON documents).  A record whose expiry
 * has passed behaves exactly like a missing one.
 *
 * Backends: "sqlite:/path/to/file.db" (embedded default, WAL, shared by every worker
 * process on the host) and "dynamodb:<table>" (one DynamoDB table shared by every
 * container; see store_dynamodb.c and docs/CONFIG.md).  Others plug in through struct
 * store_ops.
 *
 * The dynamodb backend differs in three ways: an item holds at most 400 KB (larger
 * values are refused with -1, below STORE_VALUE_MAX); store_del_prefix is not supported
 * (-1, it would need a Scan of the whole table); and its errors start with
 * "dynamodb:<table>: <Operation>: " so that they name the store wherever they surface.
 *
 * Errors: functions that can fail take a caller-owned buffer `err` of `errlen` bytes
 * and fill it with "what: why" (for example "sqlite3_step(put): database is locked").
 */
#ifndef MCPGW_STORE_H
#define MCPGW_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct store store_t;

/* Largest key and value a backend must accept (dynamodb: see above); larger ones are
 * refused with -1. */
#define STORE_KEY_MAX   512
#define STORE_VALUE_MAX (1024 * 1024)

/* Create or upgrade the schema named by url (idempotent).  The pool master calls this
 * once before forking so that a bad store setting stops startup with a clear error.
 * Returns 0, or -1 with err filled. */
int store_prepare(const char *url, char *err, size_t errlen);

/* Open a handle on the store named by url.  A handle must not cross fork(): each worker
 * opens its own after it is forked.  Returns NULL with err filled when the url is bad
 * or memory is short.  A store that does not answer now is not a failure here: neither
 * backend needs it at open (the sqlite handle starts detached and keeps trying, see
 * store_sqlite.c), calls fail with the reason until it answers, and store_ping says so. */
store_t *store_open(const char *url, char *err, size_t errlen);

/* Close the handle and free it.  store_close(NULL) is a no-op. */
void store_close(store_t *s);

/* Insert or replace key with value[0..len), expiring ttl_seconds from now (ttl > 0).
 * Returns 0, or -1 with err filled (nothing is changed then). */
int store_put(store_t *s, const char *key, const void *value, size_t len,
              long ttl_seconds, char *err, size_t errlen);

/* Insert key only if it is absent or expired.  Returns 1 when stored, 0 when a live
 * record already exists (it is left untouched), -1 with err filled on failure. */
int store_add(store_t *s, const char *key, const void *value, size_t len,
              long ttl_seconds, char *err, size_t errlen);

/* Look key up.  Returns 1 when a live record exists: *value is set to a malloc'd copy
 * with a terminating NUL (not counted in *len; the caller frees it), and *expires_at,
 * if not NULL, to its expiry in Unix seconds.  Returns 0 when the key is missing or
 * expired (*value is set to NULL), -1 with err filled on failure. */
int store_get(store_t *s, const char *key, char **value, size_t *len,
              int64_t *expires_at, char *err, size_t errlen);

/* Delete key (missing is not an error).  Returns 0, or -1 with err filled. */
int store_del(store_t *s, const char *key, char *err, size_t errlen);

/* Delete every record whose key starts with prefix.  Returns 0, or -1 with err filled. */
int store_del_prefix(store_t *s, const char *prefix, char *err, size_t errlen);

/* Cheap round trip proving the store answers (used by /ready).  0 or -1. */
int store_ping(store_t *s, char *err, size_t errlen);

/* Backend interface: one instance per backend, chosen by the url scheme. */
struct store_ops {
    const char *scheme;                                   /* "sqlite" */
    int (*prepare)(const char *rest, char *err, size_t errlen);
    void *(*open)(const char *rest, char *err, size_t errlen);
    void (*close)(void *h);
    /* only_if_absent: store only when key is missing or its expires_at <= now; returns
     * 1 stored, 0 left a live record alone, -1 error.  now also drives the sweep. */
    int (*put)(void *h, const char *key, const void *v, size_t len, int64_t expires_at,
               int only_if_absent, int64_t now, char *err, size_t errlen);
    int (*get)(void *h, const char *key, char **v, size_t *len, int64_t *expires_at,
               int64_t now, char *err, size_t errlen);
    int (*del)(void *h, const char *key, char *err, size_t errlen);
    int (*del_prefix)(void *h, const char *prefix, char *err, size_t errlen);
    int (*ping)(void *h, char *err, size_t errlen);
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_dynamodb_ops;

/* The store's clock in Unix seconds: time(NULL), plus the testing offset below.
 * Compare expiries returned by store_get with this, not with time(NULL). */
int64_t store_now(void);

/* Testing only: shift the store's clock (time(NULL)) by seconds for this process, so
 * that tests can make records expire without waiting.  0 restores the real clock. */
void store_clock_offset_for_tests(int64_t seconds);

#endif
