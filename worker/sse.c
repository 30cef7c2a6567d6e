/* SPDX-License-Identifier: MIT */
/* sse.c - incremental text/event-stream parser: bytes in, dispatched events out. */
#include "sse.h"

#include <stdlib.h>
#include <string.h>

static const unsigned char sse_bom[3] = { 0xEF, 0xBB, 0xBF };

void sse_init(sse_parser_t *p, sse_event_fn on_event, void *ctx, size_t max_event)
{
    memset(p, 0, sizeof(*p));
    p->on_event = on_event;
    p->ctx = ctx;
    p->max_event = max_event;
}

void sse_free(sse_parser_t *p)
{
    free(p->line);
    free(p->data);
    p->line = NULL;
    p->data = NULL;
    p->line_len = p->line_cap = 0;
    p->data_len = p->data_cap = 0;
}

/* Make *buf hold at least need bytes.  Each buffer is also capped at max_event + 1 (the
 * +1 for the NUL) so that a hostile stream cannot make us allocate beyond the bound even
 * through the doubling. */
static int sse_reserve(sse_parser_t *p, char **buf, size_t *cap, size_t need)
{
    size_t limit = p->max_event + 1;
    size_t ncap;
    char *nb;

    if (need <= *cap)
        return 0;
    if (need > limit)
        return -1;
    ncap = *cap < 128 ? 128 : *cap;
    while (ncap < need)
        ncap = ncap > limit / 2 ? limit : ncap * 2;
    if (ncap > limit)
        ncap = limit;
    nb = realloc(*buf, ncap);
    if (nb == NULL)
        return -1;
    *buf = nb;
    *cap = ncap;
    return 0;
}

/* Append n bytes of the current (unterminated) line, keeping line + data within max_event. */
static int sse_line_append(sse_parser_t *p, const char *s, size_t n)
{
    if (n > p->max_event || p->line_len + p->data_len > p->max_event - n)
        return -1;
    if (sse_reserve(p, &p->line, &p->line_cap, p->line_len + n) != 0)
        return -1;
    memcpy(p->line + p->line_len, s, n);
    p->line_len += n;
    return 0;
}

static int sse_dispatch(sse_parser_t *p)
{
    int rc = 0;

    if (p->have_data) {
        const char *data = p->data != NULL ? p->data : "";

        if (p->data != NULL)
            p->data[p->data_len] = '\0';
        rc = p->on_event(p->ctx, p->event[0] != '\0' ? p->event : "message", data,
                         p->data_len, p->id);
    }
    /* The event type and data buffers are per event; the last event id persists. */
    p->data_len = 0;
    p->have_data = 0;
    p->event[0] = '\0';
    return rc != 0 ? 1 : 0;
}

static void sse_copy_field(char *dst, size_t dstsize, const char *v, size_t n)
{
    /* Names and ids longer than our fixed buffers are truncated; MCP uses neither for
     * anything but logging and resumption hints. */
    if (n >= dstsize)
        n = dstsize - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

/* Interpret the complete line held in p->line (without its line end). */
static int sse_process_line(sse_parser_t *p)
{
    const char *line = p->line;
    size_t len = p->line_len;
    const char *colon, *value;
    size_t name_len, value_len;

    p->line_len = 0;
    if (len == 0)
        return sse_dispatch(p);
    if (line[0] == ':')
        return 0;
    colon = memchr(line, ':', len);
    if (colon != NULL) {
        name_len = (size_t)(colon - line);
        value = colon + 1;
        value_len = len - name_len - 1;
        if (value_len > 0 && value[0] == ' ') {
            value++;
            value_len--;
        }
    } else {
        name_len = len;
        value = line + len;
        value_len = 0;
    }

    if (name_len == 4 && memcmp(line, "data", 4) == 0) {
        size_t sep = p->have_data ? 1 : 0;
        size_t need = p->data_len + sep + value_len;

        if (need > p->max_event || sse_reserve(p, &p->data, &p->data_cap, need + 1) != 0)
            return -1;
        if (sep)
            p->data[p->data_len] = '\n';
        memcpy(p->data + p->data_len + sep, value, value_len);
        p->data_len = need;
        p->have_data = 1;
    } else if (name_len == 5 && memcmp(line, "event", 5) == 0) {
        sse_copy_field(p->event, sizeof(p->event), value, value_len);
    } else if (name_len == 2 && memcmp(line, "id", 2) == 0) {
        /* The standard ignores an id containing NUL. */
        if (memchr(value, '\0', value_len) == NULL)
            sse_copy_field(p->id, sizeof(p->id), value, value_len);
    }
    /* "retry" and unknown fields are ignored. */
    return 0;
}

/* While the start of the stream may still be a BOM, take bytes one by one: a BOM split
 * across feeds must still be recognised.  Returns the number of bytes consumed, or
 * (size_t)-1 on error. */
static size_t sse_check_bom(sse_parser_t *p, const char *buf, size_t len)
{
    size_t i = 0;

    while (i < len && !p->bom_checked) {
        unsigned char c = (unsigned char)buf[i];

        if (c != sse_bom[p->line_len]) {
            /* Not a BOM: what was held so far is ordinary line content. */
            p->bom_checked = 1;
            break;
        }
        if (sse_line_append(p, &buf[i], 1) != 0)
            return (size_t)-1;
        i++;
        if (p->line_len == sizeof(sse_bom)) {
            p->line_len = 0;
            p->bom_checked = 1;
        }
    }
    return i;
}

int sse_feed(sse_parser_t *p, const char *buf, size_t len)
{
    size_t i = 0;

    if (!p->bom_checked) {
        i = sse_check_bom(p, buf, len);
        if (i == (size_t)-1)
            return -1;
    }
    while (i < len) {
        size_t start = i;
        int rc;

        if (p->last_was_cr) {
            p->last_was_cr = 0;
            if (buf[i] == '\n') {
                /* Second half of a CRLF whose CR ended the previous line. */
                i++;
                continue;
            }
        }
        while (i < len && buf[i] != '\r' && buf[i] != '\n')
            i++;
        if (i > start && sse_line_append(p, buf + start, i - start) != 0)
            return -1;
        if (i == len)
            break;
        if (buf[i] == '\r')
            p->last_was_cr = 1;
        i++;
        rc = sse_process_line(p);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int sse_finish(sse_parser_t *p)
{
    int rc;

    /* A partial BOM at the very end is just line content. */
    p->bom_checked = 1;
    p->last_was_cr = 0;
    if (p->line_len > 0) {
        rc = sse_process_line(p);
        if (rc != 0)
            return rc;
    }
    return sse_dispatch(p);
}
