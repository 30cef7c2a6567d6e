/* SPDX-License-Identifier: MIT */
/* log.h - one JSON object per line on stderr, written with a single write(2).
 *
 * Every line carries ts, level, component and, while a request is being served, its
 * request id.  Callers add typed fields; strings are JSON-escaped here.  Never pass a
 * token, secret or header value that could hold one.
 */
#ifndef MCPGW_LOG_H
#define MCPGW_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

typedef struct log_field {
    const char *key;
    enum { LOG_F_STR, LOG_F_INT, LOG_F_DBL } type;
    union { const char *s; long long i; double d; } v;
} log_field_t;

#define LOG_S(k, val) ((log_field_t){ .key = (k), .type = LOG_F_STR, .v.s = (val) })
#define LOG_I(k, val) ((log_field_t){ .key = (k), .type = LOG_F_INT, .v.i = (val) })
#define LOG_D(k, val) ((log_field_t){ .key = (k), .type = LOG_F_DBL, .v.d = (val) })

/* Name the process ("pool", "worker") and the lowest level written ("debug", "info",
 * "warn", "error"; NULL keeps info).  Returns -1 for an unknown level name. */
int log_setup(const char *component, const char *level);

/* Current request id, copied (truncated to 64 bytes); NULL or "" clears it. */
void log_set_request_id(const char *rid);

/* Write one line.  Fields with a NULL string value are left out. */
void log_write(enum log_level level, const char *msg, const log_field_t *fields, size_t n);

#define LOG_FIELDS(...) ((const log_field_t[]){ __VA_ARGS__ }), \
    (sizeof((const log_field_t[]){ __VA_ARGS__ }) / sizeof(log_field_t))

#define log_info(msg, ...)  log_write(LOG_INFO, (msg), LOG_FIELDS(__VA_ARGS__))
#define log_warn(msg, ...)  log_write(LOG_WARN, (msg), LOG_FIELDS(__VA_ARGS__))
#define log_error(msg, ...) log_write(LOG_ERROR, (msg), LOG_FIELDS(__VA_ARGS__))
#define log_debug(msg, ...) log_write(LOG_DEBUG, (msg), LOG_FIELDS(__VA_ARGS__))

/* Escape s as the inside of a JSON string into out (always NUL-terminated, truncated
 * to fit).  Returns the length written. */
size_t log_json_escape(char *out, size_t outlen, const char *s);

#endif
