/* SPDX-License-Identifier: MIT */
/* store_sqlite.c - the embedded store backend: one SQLite file in WAL mode shared by every worker. */

#include "store.h"
#include "errbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

/* Schema version kept in PRAGMA user_version; store_prepare creates or upgrades to it. */
#define SQ_SCHEMA_VERSION 1

/* Concurrent writers wait this long for the write lock before giving up with
 * "database is locked". */
#define SQ_BUSY_TIMEOUT_MS 5000

/* Every SQ_SWEEP_EVERY writes on a handle, delete up to SQ_SWEEP_BATCH expired rows.
 * The batch is larger than the interval, so a handle removes expired rows faster than
 * it can create them and the file reaches a steady size; the bound keeps one request
 * from paying for a long backlog. */
#define SQ_SWEEP_EVERY 200
#define SQ_SWEEP_BATCH 256

/* Keep the WAL file from staying large after a burst of big values. */
#define SQ_JOURNAL_SIZE_LIMIT (64 * 1024 * 1024)

enum sq_stmt {
    SQ_PUT,
    SQ_ADD,
    SQ_GET,
    SQ_DEL,
    SQ_DEL_RANGE,
    SQ_DEL_FROM,
    SQ_SWEEP,
    SQ_PING,
    SQ_NSTMT
};

/* Prepared once per handle and reused; every use ends with sqlite3_reset. */
static const struct {
    const char *name;
    const char *sql;
} sq_sql[SQ_NSTMT] = {
    [SQ_PUT] = {"put",
                "INSERT INTO kv(k, v, expires_at) VALUES (?1, ?2, ?3) "
                "ON CONFLICT(k) DO UPDATE SET v = excluded.v, expires_at = excluded.expires_at"},
    /* One statement, so "absent or expired" and the write are atomic; changes() tells
     * whether a row was written. */
    [SQ_ADD] = {"add",
                "INSERT INTO kv(k, v, expires_at) VALUES (?1, ?2, ?3) "
                "ON CONFLICT(k) DO UPDATE SET v = excluded.v, expires_at = excluded.expires_at "
                "WHERE kv.expires_at <= ?4"},
    [SQ_GET] = {"get", "SELECT v, expires_at FROM kv WHERE k = ?1 AND expires_at > ?2"},
    [SQ_DEL] = {"del", "DELETE FROM kv WHERE k = ?1"},
    /* Prefixes are matched as a byte range (BINARY collation is memcmp), never with
     * LIKE/GLOB, so '%', '_' and '*' in keys are ordinary bytes. */
    [SQ_DEL_RANGE] = {"del_prefix", "DELETE FROM kv WHERE k >= ?1 AND k < ?2"},
    [SQ_DEL_FROM] = {"del_prefix", "DELETE FROM kv WHERE k >= ?1"},
    [SQ_SWEEP] = {"sweep",
                  "DELETE FROM kv WHERE rowid IN "
                  "(SELECT rowid FROM kv WHERE expires_at <= ?1 LIMIT ?2)"},
    [SQ_PING] = {"ping", "SELECT 1 FROM kv LIMIT 1"},
};

static const char sq_schema[] =
    "CREATE TABLE IF NOT EXISTS kv ("
    " k TEXT PRIMARY KEY,"
    " v BLOB NOT NULL,"
    " expires_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS kv_expires_at ON kv(expires_at);";

/* How often a handle looks at its file again (stat), and how often a detached handle
 * tries to open it again. */
#define SQ_RECHECK_MS 1000

/* One connection, used by one thread of the process that opened it.
 *
 * The connection is a cache of "the file at path": a worker lives for hours, and meanwhile
 * the file may be deleted or replaced (every other worker would then write elsewhere) or
 * may not be writable when the worker starts (SQLite then opens it read-only without a
 * word, and every write fails until the process ends).  So a handle is "detached"
 * (db == NULL) whenever it cannot hold the file read-write, every call on it fails with
 * the reason, and it tries again at most once per SQ_RECHECK_MS; an attached handle
 * checks at the same pace that path still names the file it has open.  A worker whose
 * store is broken thus keeps answering /health, /ready says why, and all of it heals
 * without a restart once the file is back. */
struct sq {
    char *path;
    sqlite3 *db;                /* NULL while detached */
    sqlite3_stmt *st[SQ_NSTMT];
    unsigned writes;            /* put/add calls since the last sweep */
    dev_t dev;                  /* the file db has open */
    ino_t ino;
    int64_t next_check_ms;      /* monotonic: next look at the file, or next attach try */
    char why[400];              /* why detached */
};

/* Run a statement that returns at most one text row (a PRAGMA) and copy that text. */
static int sq_query_text(sqlite3 *db, const char *sql, char *out, size_t outlen,
                         char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *txt;
    int rc;

    out[0] = '\0';
    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        txt = sqlite3_column_text(st, 0);
        snprintf(out, outlen, "%s", txt != NULL ? (const char *)txt : "");
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    return 0;

fail:
    errbuf_set(err, errlen, "%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return -1;
}

static int sq_exec(sqlite3 *db, const char *sql, const char *what, char *err, size_t errlen)
{
    char *msg = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        errbuf_set(err, errlen, "%s: %s", what, msg != NULL ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Open the file and apply the per-connection settings.  Returns NULL with err filled. */
static sqlite3 *sq_connect(const char *path, int flags, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    char mode[32];
    char sql[64];
    int rc;
    int sys;

    /* NOMUTEX: a handle is never shared between threads, so skip SQLite's locking. */
    rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        sys = db != NULL ? sqlite3_system_errno(db) : 0;
        if (sys != 0)
            errbuf_set(err, errlen, "%s (%s)",
                   db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc), strerror(sys));
        else
            errbuf_set(err, errlen, "%s", db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto fail;
    }
    /* Before anything that takes a lock, so every later step waits instead of failing. */
    sqlite3_busy_timeout(db, SQ_BUSY_TIMEOUT_MS);
    if (sq_query_text(db, "PRAGMA journal_mode=WAL", mode, sizeof mode, err, errlen) != 0)
        goto fail;
    if (strcmp(mode, "wal") != 0) {
        errbuf_set(err, errlen, "PRAGMA journal_mode=WAL: not available (journal mode is %s)",
               mode);
        goto fail;
    }
    /* In WAL mode NORMAL loses at most the last commits on power loss, never integrity;
     * sessions can be re-established, so that trade buys much cheaper commits. */
    if (sq_exec(db, "PRAGMA synchronous=NORMAL", "PRAGMA synchronous=NORMAL", err, errlen) != 0)
        goto fail;
    snprintf(sql, sizeof sql, "PRAGMA journal_size_limit=%d", SQ_JOURNAL_SIZE_LIMIT);
    if (sq_query_text(db, sql, mode, sizeof mode, err, errlen) != 0)
        goto fail;
    return db;

fail:
    sqlite3_close(db);
    return NULL;
}

static int sq_user_version(sqlite3 *db, int *version, char *err, size_t errlen)
{
    char txt[32];

    if (sq_query_text(db, "PRAGMA user_version", txt, sizeof txt, err, errlen) != 0)
        return -1;
    *version = atoi(txt);
    return 0;
}

static int sq_prepare(const char *path, char *err, size_t errlen)
{
    sqlite3 *db;
    int version = 0;
    int in_tx = 0;
    char sql[64];

    db = sq_connect(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, errlen);
    if (db == NULL)
        return -1;
    /* IMMEDIATE takes the write lock first, so two preparing processes serialise. */
    if (sq_exec(db, "BEGIN IMMEDIATE", "BEGIN IMMEDIATE", err, errlen) != 0)
        goto fail;
    in_tx = 1;
    if (sq_user_version(db, &version, err, errlen) != 0)
        goto fail;
    if (version > SQ_SCHEMA_VERSION) {
        errbuf_set(err, errlen, "schema version %d is newer than this build's %d", version,
               SQ_SCHEMA_VERSION);
        goto fail;
    }
    if (version < SQ_SCHEMA_VERSION) {
        if (sq_exec(db, sq_schema, "create schema", err, errlen) != 0)
            goto fail;
        snprintf(sql, sizeof sql, "PRAGMA user_version=%d", SQ_SCHEMA_VERSION);
        if (sq_exec(db, sql, "PRAGMA user_version", err, errlen) != 0)
            goto fail;
    }
    if (sq_exec(db, "COMMIT", "COMMIT", err, errlen) != 0)
        goto fail;
    sqlite3_close(db);
    return 0;

fail:
    if (in_tx)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    return -1;
}

static int64_t sq_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Drop the connection (statements first); the handle is detached afterwards. */
static void sq_detach(struct sq *q)
{
    for (int i = 0; i < SQ_NSTMT; i++) {
        sqlite3_finalize(q->st[i]);
        q->st[i] = NULL;
    }
    sqlite3_close(q->db);
    q->db = NULL;
}

/* Open q->path read-write, creating the file and its schema when missing (as
 * store_prepare does), and prepare every statement.  0, or -1 detached with err naming
 * the store. */
static int sq_attach(struct sq *q, char *err, size_t errlen)
{
    struct stat sb;
    int version = 0;
    char why[300];

    if (sq_prepare(q->path, why, sizeof why) != 0)
        goto fail;
    q->db = sq_connect(q->path, SQLITE_OPEN_READWRITE, why, sizeof why);
    if (q->db == NULL)
        goto fail;
    if (sqlite3_db_readonly(q->db, "main") == 1) {
        errbuf_set(why, sizeof why, "read-only for this process (check the permissions of "
                   "the file and of its folder)");
        goto fail;
    }
    if (sq_user_version(q->db, &version, why, sizeof why) != 0)
        goto fail;
    if (version != SQ_SCHEMA_VERSION) {
        errbuf_set(why, sizeof why, "schema version %d, expected %d", version,
                   SQ_SCHEMA_VERSION);
        goto fail;
    }
    for (int i = 0; i < SQ_NSTMT; i++) {
        if (sqlite3_prepare_v3(q->db, sq_sql[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
                               &q->st[i], NULL) != SQLITE_OK) {
            errbuf_set(why, sizeof why, "sqlite3_prepare(%s): %s", sq_sql[i].name,
                       sqlite3_errmsg(q->db));
            goto fail;
        }
    }
    if (stat(q->path, &sb) != 0) {
        errbuf_set(why, sizeof why, "stat: %s", strerror(errno));
        goto fail;
    }
    q->dev = sb.st_dev;
    q->ino = sb.st_ino;
    return 0;

fail:
    sq_detach(q);
    errbuf_set(err, errlen, "sqlite:%s: %s", q->path, why);
    return -1;
}

/* Before every call: 0 when q->db may be used, else -1 with err (see struct sq). */
static int sq_usable(struct sq *q, char *err, size_t errlen)
{
    int64_t now = sq_mono_ms();
    struct stat sb;

    if (q->db != NULL) {
        if (now < q->next_check_ms)
            return 0;
        q->next_check_ms = now + SQ_RECHECK_MS;
        if (stat(q->path, &sb) == 0 && sb.st_dev == q->dev && sb.st_ino == q->ino)
            return 0;
        /* Removed or replaced: this connection holds a file no other worker sees. */
        sq_detach(q);
    } else if (now < q->next_check_ms) {
        errbuf_set(err, errlen, "%s", q->why);
        return -1;
    }
    q->next_check_ms = now + SQ_RECHECK_MS;
    if (sq_attach(q, q->why, sizeof q->why) == 0)
        return 0;
    errbuf_set(err, errlen, "%s", q->why);
    return -1;
}

static void sq_close(void *h)
{
    struct sq *q = h;

    if (q == NULL)
        return;
    sq_detach(q);
    free(q->path);
    free(q);
}

/* Never fails for want of the file: a handle that cannot attach now starts detached
 * and keeps trying (struct sq).  NULL only when out of memory. */
static void *sq_open(const char *path, char *err, size_t errlen)
{
    struct sq *q = calloc(1, sizeof *q);

    if (q == NULL || (q->path = strdup(path)) == NULL) {
        free(q);
        errbuf_set(err, errlen, "out of memory");
        return NULL;
    }
    q->next_check_ms = sq_mono_ms() + SQ_RECHECK_MS;
    (void)sq_attach(q, q->why, sizeof q->why);
    return q;
}

/* Step a statement whose parameters are bound and that returns no row; always resets. */
static int sq_run(struct sq *q, enum sq_stmt id, char *err, size_t errlen)
{
    sqlite3_stmt *st = q->st[id];
    int rc;

    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        errbuf_set(err, errlen, "sqlite3_step(%s): %s", sq_sql[id].name, sqlite3_errmsg(q->db));
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

static int sq_bind_failed(struct sq *q, enum sq_stmt id, char *err, size_t errlen)
{
    errbuf_set(err, errlen, "sqlite3_bind(%s): %s", sq_sql[id].name, sqlite3_errmsg(q->db));
    sqlite3_reset(q->st[id]);
    return -1;
}

/* Best effort: a failure here (say, a busy timeout) leaves the rows for the next sweep
 * and must not fail the write that triggered it. */
static void sq_sweep(struct sq *q, int64_t now)
{
    sqlite3_stmt *st = q->st[SQ_SWEEP];

    if (sqlite3_bind_int64(st, 1, now) != SQLITE_OK ||
        sqlite3_bind_int(st, 2, SQ_SWEEP_BATCH) != SQLITE_OK) {
        sqlite3_reset(st);
        return;
    }
    (void)sq_run(q, SQ_SWEEP, NULL, 0);
}

static int sq_put(void *h, const char *key, const void *v, size_t len, int64_t expires_at,
                  int only_if_absent, int64_t now, char *err, size_t errlen)
{
    struct sq *q = h;
    enum sq_stmt id = only_if_absent ? SQ_ADD : SQ_PUT;
    sqlite3_stmt *st;
    int changed;
    int rc;

    if (sq_usable(q, err, errlen) != 0)
        return -1;
    st = q->st[id];
    if (len > STORE_VALUE_MAX) {
        errbuf_set(err, errlen, "value of %zu bytes exceeds the %d-byte limit", len,
               STORE_VALUE_MAX);
        return -1;
    }
    /* Parameters are bound SQLITE_STATIC: the caller's buffers outlive the step, and
     * every use rebinds all of them before stepping. */
    rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        /* A NULL pointer would bind SQL NULL, which v NOT NULL refuses: an empty value
         * is a zero-length blob. */
        if (len == 0)
            rc = sqlite3_bind_zeroblob(st, 2, 0);
        else
            rc = sqlite3_bind_blob(st, 2, v, (int)len, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 3, expires_at);
    if (rc == SQLITE_OK && only_if_absent)
        rc = sqlite3_bind_int64(st, 4, now);
    if (rc != SQLITE_OK)
        return sq_bind_failed(q, id, err, errlen);
    if (sq_run(q, id, err, errlen) != 0)
        return -1;
    changed = sqlite3_changes(q->db) > 0;

    q->writes++;
    if (q->writes >= SQ_SWEEP_EVERY) {
        q->writes = 0;
        sq_sweep(q, now);
    }
    return only_if_absent ? changed : 1;
}

static int sq_get(void *h, const char *key, char **v, size_t *len, int64_t *expires_at,
                  int64_t now, char *err, size_t errlen)
{
    struct sq *q = h;
    sqlite3_stmt *st;
    const void *blob;
    char *copy = NULL;
    int n;
    int rc;

    *v = NULL;
    *len = 0;
    if (sq_usable(q, err, errlen) != 0)
        return -1;
    st = q->st[SQ_GET];
    rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, now);
    if (rc != SQLITE_OK)
        return sq_bind_failed(q, SQ_GET, err, errlen);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        errbuf_set(err, errlen, "sqlite3_step(get): %s", sqlite3_errmsg(q->db));
        goto fail;
    }
    blob = sqlite3_column_blob(st, 0);
    n = sqlite3_column_bytes(st, 0);
    copy = malloc((size_t)n + 1);
    if (copy == NULL) {
        errbuf_set(err, errlen, "get: out of memory for a %d-byte value", n);
        goto fail;
    }
    if (n > 0)
        memcpy(copy, blob, (size_t)n);
    copy[n] = '\0';
    if (expires_at != NULL)
        *expires_at = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    *v = copy;
    *len = (size_t)n;
    return 1;

fail:
    sqlite3_reset(st);
    free(copy);
    return -1;
}

static int sq_del(void *h, const char *key, char *err, size_t errlen)
{
    struct sq *q = h;

    if (sq_usable(q, err, errlen) != 0)
        return -1;
    if (sqlite3_bind_text(q->st[SQ_DEL], 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
        return sq_bind_failed(q, SQ_DEL, err, errlen);
    return sq_run(q, SQ_DEL, err, errlen);
}

static int sq_del_prefix(void *h, const char *prefix, char *err, size_t errlen)
{
    struct sq *q = h;
    char upper[STORE_KEY_MAX + 1];
    size_t n = strlen(prefix);
    enum sq_stmt id;
    int rc;

    if (n > STORE_KEY_MAX) {
        errbuf_set(err, errlen, "del_prefix: prefix longer than %d bytes", STORE_KEY_MAX);
        return -1;
    }
    if (sq_usable(q, err, errlen) != 0)
        return -1;
    /* Smallest string greater than every string starting with prefix: drop trailing
     * 0xff bytes and increment the last remaining one.  None left means no upper bound. */
    memcpy(upper, prefix, n);
    while (n > 0 && (unsigned char)upper[n - 1] == 0xff)
        n--;
    if (n > 0) {
        upper[n - 1] = (char)((unsigned char)upper[n - 1] + 1);
        id = SQ_DEL_RANGE;
    } else {
        id = SQ_DEL_FROM;
    }
    rc = sqlite3_bind_text(q->st[id], 1, prefix, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && id == SQ_DEL_RANGE)
        rc = sqlite3_bind_text(q->st[id], 2, upper, (int)n, SQLITE_TRANSIENT);
    if (rc != SQLITE_OK)
        return sq_bind_failed(q, id, err, errlen);
    return sq_run(q, id, err, errlen);
}

static int sq_ping(void *h, char *err, size_t errlen)
{
    struct sq *q = h;

    if (sq_usable(q, err, errlen) != 0)
        return -1;
    return sq_run(q, SQ_PING, err, errlen);
}

const struct store_ops store_sqlite_ops = {
    .scheme = "sqlite",
    .prepare = sq_prepare,
    .open = sq_open,
    .close = sq_close,
    .put = sq_put,
    .get = sq_get,
    .del = sq_del,
    .del_prefix = sq_del_prefix,
    .ping = sq_ping,
};
