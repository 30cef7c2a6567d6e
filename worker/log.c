/* SPDX-License-Identifier: MIT */
/* log.c - JSON-lines logger shared by the pool master and its workers. */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "utf8.h"

#define LOG_LINE_MAX 4096

static const char *log_component = "mcpgw";
static enum log_level log_min = LOG_INFO;
static char log_rid[65];

static const char *const log_level_names[] = {
    [LOG_DEBUG] = "debug", [LOG_INFO] = "info", [LOG_WARN] = "warn", [LOG_ERROR] = "error",
};

int log_setup(const char *component, const char *level)
{
    if (component != NULL)
        log_component = component;
    if (level == NULL || level[0] == '\0')
        return 0;
    for (size_t i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++) {
        if (strcmp(level, log_level_names[i]) == 0) {
            log_min = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_set_request_id(const char *rid)
{
    if (rid == NULL) {
        log_rid[0] = '\0';
        return;
    }
    snprintf(log_rid, sizeof(log_rid), "%s", rid);
}

size_t log_json_escape(char *out, size_t outlen, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;

    if (outlen == 0)
        return 0;
    while (*p != '\0') {
        unsigned char c = *p;
        char tmp[8];
        size_t tl, adv = 1;

        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            tl = 2;
        } else if (c == '\n') {
            memcpy(tmp, "\\n", 2);
            tl = 2;
        } else if (c < 0x20 || c == 0x7f) {
            tl = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", c);
        } else if (c < 0x80) {
            tmp[0] = (char)c;
            tl = 1;
        } else {
            /* Copy whole UTF-8 sequences only; an invalid byte becomes U+FFFD, so a
             * line is always valid UTF-8, even when cut. */
            adv = utf8_seq_len(p, strnlen((const char *)p, 4));
            if (adv == 0) {
                memcpy(tmp, "\\ufffd", 6);
                tl = 6;
                adv = 1;
            } else {
                memcpy(tmp, p, adv);
                tl = adv;
            }
        }
        if (o + tl >= outlen)
            break;
        memcpy(out + o, tmp, tl);
        o += tl;
        p += adv;
    }
    out[o] = '\0';
    return o;
}

/* Append formatted text; keeps *o within cap (the line is cut, never overrun). */
static void log_append(char *buf, size_t cap, size_t *o, const char *s, size_t n)
{
    if (*o + n > cap)
        n = cap - *o;
    memcpy(buf + *o, s, n);
    *o += n;
}

static void log_append_str(char *buf, size_t cap, size_t *o, const char *s)
{
    char esc[1024];
    size_t n = log_json_escape(esc, sizeof(esc), s);

    log_append(buf, cap, o, "\"", 1);
    log_append(buf, cap, o, esc, n);
    log_append(buf, cap, o, "\"", 1);
}

void log_write(enum log_level level, const char *msg, const log_field_t *fields, size_t n)
{
    char buf[LOG_LINE_MAX];
    char tmp[64];
    size_t o = 0, cap = sizeof(buf) - 2;
    struct timespec ts;
    struct tm tm;
    int tl;

    if (level < log_min)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    tl = snprintf(tmp, sizeof(tmp), "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                  tm.tm_sec, ts.tv_nsec / 1000000);
    log_append(buf, cap, &o, tmp, (size_t)tl);
    log_append(buf, cap, &o, ",\"level\":", 9);
    log_append_str(buf, cap, &o, log_level_names[level]);
    log_append(buf, cap, &o, ",\"component\":", 13);
    log_append_str(buf, cap, &o, log_component);
    tl = snprintf(tmp, sizeof(tmp), ",\"pid\":%d", (int)getpid());
    log_append(buf, cap, &o, tmp, (size_t)tl);
    if (log_rid[0] != '\0') {
        log_append(buf, cap, &o, ",\"rid\":", 7);
        log_append_str(buf, cap, &o, log_rid);
    }
    log_append(buf, cap, &o, ",\"msg\":", 7);
    log_append_str(buf, cap, &o, msg);
    for (size_t i = 0; i < n; i++) {
        const log_field_t *f = &fields[i];

        if (f->type == LOG_F_STR && f->v.s == NULL)
            continue;
        log_append(buf, cap, &o, ",", 1);
        log_append_str(buf, cap, &o, f->key);
        log_append(buf, cap, &o, ":", 1);
        if (f->type == LOG_F_STR) {
            log_append_str(buf, cap, &o, f->v.s);
        } else if (f->type == LOG_F_INT) {
            tl = snprintf(tmp, sizeof(tmp), "%lld", f->v.i);
            log_append(buf, cap, &o, tmp, (size_t)tl);
        } else {
            tl = snprintf(tmp, sizeof(tmp), "%.3f", f->v.d);
            log_append(buf, cap, &o, tmp, (size_t)tl);
        }
    }
    buf[o++] = '}';
    buf[o++] = '\n';
    /* One write per line: lines from concurrent workers do not interleave. */
    if (write(STDERR_FILENO, buf, o) < 0)
        return;
}
