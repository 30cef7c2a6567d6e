/* SPDX-License-Identifier: MIT */
/* test_sse.c - unit tests of the text/event-stream parser (worker/sse.c). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

#define REC_MAX 2100

/* Everything the parser dispatched, in order. */
typedef struct rec {
    int n;
    char *event[REC_MAX];
    char *data[REC_MAX];
    size_t data_len[REC_MAX];
    char *id[REC_MAX];
    int stop_at;  /* return non-zero from the callback for event number stop_at (1-based) */
} rec_t;

static char *dup_mem(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    cr_assert_not_null(d);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static int rec_cb(void *ctx, const char *event, const char *data, size_t data_len,
                  const char *id)
{
    rec_t *r = ctx;

    cr_assert_lt(r->n, REC_MAX);
    cr_assert_eq(data[data_len], '\0', "data must be NUL-terminated");
    r->event[r->n] = dup_mem(event, strlen(event));
    r->data[r->n] = dup_mem(data, data_len);
    r->data_len[r->n] = data_len;
    r->id[r->n] = dup_mem(id, strlen(id));
    r->n++;
    return r->stop_at != 0 && r->n == r->stop_at;
}

static void rec_free(rec_t *r)
{
    for (int i = 0; i < r->n; i++) {
        free(r->event[i]);
        free(r->data[i]);
        free(r->id[i]);
    }
    r->n = 0;
}

/* Feed s in pieces of chunk bytes (0 = all at once), then finish.  Returns the first
 * non-zero result or the result of sse_finish. */
static int parse(rec_t *r, const char *s, size_t len, size_t chunk, size_t max_event)
{
    sse_parser_t p;
    int rc = 0;
    size_t off = 0;

    sse_init(&p, rec_cb, r, max_event);
    if (chunk == 0)
        chunk = len;
    while (off < len && rc == 0) {
        size_t n = len - off < chunk ? len - off : chunk;

        rc = sse_feed(&p, s + off, n);
        off += n;
    }
    if (rc == 0)
        rc = sse_finish(&p);
    sse_free(&p);
    sse_free(&p);  /* documented as safe */
    return rc;
}

static int parse_str(rec_t *r, const char *s)
{
    return parse(r, s, strlen(s), 0, 4096);
}

static void expect_event(const rec_t *r, int i, const char *event, const char *data,
                         const char *id)
{
    cr_assert_lt(i, r->n, "event %d missing (only %d)", i, r->n);
    cr_expect_str_eq(r->event[i], event, "event %d type", i);
    cr_expect_str_eq(r->data[i], data, "event %d data", i);
    cr_expect_eq(r->data_len[i], strlen(data), "event %d data length", i);
    cr_expect_str_eq(r->id[i], id, "event %d id", i);
}

static rec_t R;

static void rec_reset(void)
{
    memset(&R, 0, sizeof(R));
}

static void rec_teardown(void)
{
    rec_free(&R);
}

TestSuite(sse, .init = rec_reset, .fini = rec_teardown);

Test(sse, simple_event_defaults_to_message)
{
    cr_assert_eq(parse_str(&R, "data: hello\n\n"), 0);
    cr_assert_eq(R.n, 1);
    expect_event(&R, 0, "message", "hello", "");
}

Test(sse, comments_are_ignored)
{
    cr_assert_eq(parse_str(&R, ": hi\n:\ndata: a\n: between\ndata: b\n\n: tail\n\n"), 0);
    cr_assert_eq(R.n, 1);
    expect_event(&R, 0, "message", "a\nb", "");
}

Test(sse, multi_line_data_joined_with_newline)
{
    cr_assert_eq(parse_str(&R, "data: one\ndata: two\ndata:three\n\ndata: x\n\n"), 0);
    cr_assert_eq(R.n, 2);
    expect_event(&R, 0, "message", "one\ntwo\nthree", "");
    expect_event(&R, 1, "message", "x", "");
}

Test(sse, empty_data_value_dispatches_empty_event)
{
    cr_assert_eq(parse_str(&R, "data:\n\ndata: \n\n"), 0);
    cr_assert_eq(R.n, 2);
    expect_event(&R, 0, "message", "", "");
    expect_event(&R, 1, "message", "", "");
}

Test(sse, event_only_block_is_dropped_and_type_reset)
{
    cr_assert_eq(parse_str(&R, "event: lonely\n\nid: 3\nevent: x\n\ndata: y\n\n"), 0);
    cr_assert_eq(R.n, 1);
    /* The dropped blocks' types must not leak into the next event; the id persists. */
    expect_event(&R, 0, "message", "y", "3");
}

Test(sse, field_without_colon)
{
    cr_assert_eq(parse_str(&R, "data\n\ndata\ndata\n\ndata: a\ndata\n\n"), 0);
    cr_assert_eq(R.n, 3);
    expect_event(&R, 0, "message", "", "");
    expect_event(&R, 1, "message", "\n", "");
    expect_event(&R, 2, "message", "a\n", "");
}

Test(sse, only_one_leading_space_removed)
{
    cr_assert_eq(parse_str(&R, "data:  two\n\ndata:none\n\ndata:\tTab \n\n"), 0);
    cr_assert_eq(R.n, 3);
    expect_event(&R, 0, "message", " two", "");
    expect_event(&R, 1, "message", "none", "");
    expect_event(&R, 2, "message", "\tTab ", "");
}

Test(sse, event_name_and_id)
{
    cr_assert_eq(parse_str(&R, "event: ping\nid: 42\ndata: p\n\ndata: q\n\nid\ndata: r\n\n"), 0);
    cr_assert_eq(R.n, 3);
    expect_event(&R, 0, "ping", "p", "42");
    expect_event(&R, 1, "message", "q", "42");
    expect_event(&R, 2, "message", "r", "");
}

Test(sse, unknown_fields_and_retry_ignored)
{
    cr_assert_eq(parse_str(&R, "retry: 100\nfoo: bar\nDATA: no\ndata: yes\n\n"), 0);
    cr_assert_eq(R.n, 1);
    expect_event(&R, 0, "message", "yes", "");
}

Test(sse, cr_lf_and_crlf_line_ends)
{
    cr_assert_eq(parse_str(&R, "data: lf\n\ndata: cr\r\rdata: crlf\r\n\r\ndata: mix\r\ndata: ed\r\n"),
                 0);
    cr_assert_eq(R.n, 4);
    expect_event(&R, 0, "message", "lf", "");
    expect_event(&R, 1, "message", "cr", "");
    expect_event(&R, 2, "message", "crlf", "");
    expect_event(&R, 3, "message", "mix\ned", "");
}

Test(sse, crlf_split_across_feeds_is_one_line_end)
{
    sse_parser_t p;

    sse_init(&p, rec_cb, &R, 4096);
    cr_assert_eq(sse_feed(&p, "data: a\r", 8), 0);
    /* If the LF were taken as a second (blank) line end, "a" would be dispatched alone. */
    cr_assert_eq(sse_feed(&p, "\ndata: b\r", 9), 0);
    cr_assert_eq(sse_feed(&p, "\n\r", 2), 0);
    cr_assert_eq(R.n, 1);
    cr_assert_eq(sse_feed(&p, "\n", 1), 0);
    cr_assert_eq(R.n, 1, "an LF after the blank line's CR is not another line");
    cr_assert_eq(sse_finish(&p), 0);
    sse_free(&p);
    cr_assert_eq(R.n, 1);
    expect_event(&R, 0, "message", "a\nb", "");
}

Test(sse, field_split_across_feeds)
{
    sse_parser_t p;

    sse_init(&p, rec_cb, &R, 4096);
    cr_assert_eq(sse_feed(&p, "ev", 2), 0);
    cr_assert_eq(sse_feed(&p, "ent: na", 7), 0);
    cr_assert_eq(sse_feed(&p, "me\nda", 5), 0);
    cr_assert_eq(sse_feed(&p, "ta", 2), 0);
    cr_assert_eq(sse_feed(&p, ":", 1), 0);
    cr_assert_eq(sse_feed(&p, " va", 3), 0);
    cr_assert_eq(sse_feed(&p, "lue\n", 4), 0);
    cr_assert_eq(R.n, 0);
    cr_assert_eq(sse_feed(&p, "\n", 1), 0);
    cr_assert_eq(R.n, 1);
    sse_free(&p);
    expect_event(&R, 0, "name", "value", "");
}

Test(sse, bom_is_skipped_even_when_split)
{
    static const char s[] = "\xEF\xBB\xBF" "data: b\n\n";

    cr_assert_eq(parse(&R, s, strlen(s), 1, 4096), 0);
    cr_assert_eq(R.n, 1);
    expect_event(&R, 0, "message", "b", "");
}

Test(sse, bom_only_at_start)
{
    /* A second BOM is part of the field name, which then is not "data". */
    static const char s[] = "\xEF\xBB\xBF\xEF\xBB\xBF" "data: b\n\ndata: c\n\n";

    cr_assert_eq(parse(&R, s, strlen(s), 2, 4096), 0);
    cr_assert_eq(R.n, 1);
    expect_event(&R, 0, "message", "c", "");
}

Test(sse, partial_bom_is_content)
{
    /* EF BB then 'x': not a BOM, so the field name is "\xEF\xBB" "xdata" and ignored;
     * the next block still parses. */
    static const char s[] = "\xEF\xBB" "xdata: no\n\ndata: yes\n\n";

    cr_assert_eq(parse(&R, s, strlen(s), 1, 4096), 0);
    cr_assert_eq(R.n, 1);
    expect_event(&R, 0, "message", "yes", "");
}

Test(sse, finish_dispatches_event_without_final_blank_line)
{
    cr_assert_eq(parse_str(&R, "data: a\n\ndata: tail"), 0);
    cr_assert_eq(R.n, 2);
    expect_event(&R, 1, "message", "tail", "");
    rec_free(&R);
    cr_assert_eq(parse_str(&R, "data: one\ndata: two\n"), 0);
    cr_assert_eq(R.n, 1);
    expect_event(&R, 0, "message", "one\ntwo", "");
    rec_free(&R);
    cr_assert_eq(parse_str(&R, "data: cr\r"), 0);
    cr_assert_eq(R.n, 1);
    expect_event(&R, 0, "message", "cr", "");
    rec_free(&R);
    cr_assert_eq(parse_str(&R, "event: x\n"), 0);
    cr_assert_eq(R.n, 0, "no data line, nothing to dispatch");
}

Test(sse, nul_inside_data_is_kept)
{
    static const char s[] = "data: a\0b\n\n";

    cr_assert_eq(parse(&R, s, sizeof(s) - 1, 0, 4096), 0);
    cr_assert_eq(R.n, 1);
    cr_assert_eq(R.data_len[0], 3);
    cr_assert_eq(memcmp(R.data[0], "a\0b", 3), 0);
}

Test(sse, over_cap_line_fails)
{
    char s[200];

    memset(s, 'x', sizeof(s));
    memcpy(s, "data: ", 6);
    cr_assert_eq(parse(&R, s, sizeof(s), 7, 100), -1);
    cr_assert_eq(R.n, 0);
}

Test(sse, over_cap_across_data_lines_fails)
{
    /* Each line fits, but the pending event (data so far + the current line) does not. */
    const char *line = "data: 0123456789012345678901234567890123456789\n"; /* 47 bytes */
    char s[47 * 3 + 2];

    snprintf(s, sizeof(s), "%s%s%s\n", line, line, line);
    cr_assert_eq(parse(&R, s, strlen(s), 0, 100), -1);
    cr_assert_eq(R.n, 0);
    /* The same stream with room enough succeeds. */
    cr_assert_eq(parse(&R, s, strlen(s), 0, 200), 0);
    cr_assert_eq(R.n, 1);
}

Test(sse, over_cap_pending_data_plus_long_comment_fails)
{
    /* The bound is on data held plus the line being read, whatever that line is. */
    char s[160];
    size_t n = 0;

    memcpy(s + n, "data: ", 6);
    n += 6;
    memset(s + n, 'd', 60);
    n += 60;
    s[n++] = '\n';
    s[n++] = ':';
    memset(s + n, 'c', 50);
    n += 50;
    s[n++] = '\n';
    s[n++] = '\n';
    cr_assert_eq(parse(&R, s, n, 0, 100), -1);
    cr_assert_eq(R.n, 0);
    cr_assert_eq(parse(&R, s, n, 0, 120), 0);
    cr_assert_eq(R.n, 1);
    cr_assert_eq(R.data_len[0], 60);
}

Test(sse, exactly_at_cap_is_fine)
{
    /* "data:" + 95 bytes = a 100-byte line: within max_event 100. */
    char s[103];

    memset(s, 'y', sizeof(s));
    memcpy(s, "data:", 5);
    s[100] = '\n';
    s[101] = '\n';
    cr_assert_eq(parse(&R, s, 102, 3, 100), 0);
    cr_assert_eq(R.n, 1);
    cr_assert_eq(R.data_len[0], 95);
}

Test(sse, callback_stop_returns_one)
{
    sse_parser_t p;
    const char *s = "data: 1\n\ndata: 2\n\ndata: 3\n\n";

    R.stop_at = 2;
    sse_init(&p, rec_cb, &R, 4096);
    cr_assert_eq(sse_feed(&p, s, strlen(s)), 1);
    sse_free(&p);
    cr_assert_eq(R.n, 2, "no event after the one that asked to stop");
    expect_event(&R, 1, "message", "2", "");
}

Test(sse, callback_stop_from_finish)
{
    R.stop_at = 1;
    cr_assert_eq(parse_str(&R, "data: last"), 1);
    cr_assert_eq(R.n, 1);
}

Test(sse, free_without_input_and_twice)
{
    sse_parser_t p;

    sse_init(&p, rec_cb, &R, 16);
    sse_free(&p);
    sse_free(&p);
    cr_assert_null(p.line);
    cr_assert_null(p.data);
}

/* Serialise what was recorded, to compare two runs. */
static char *rec_dump(const rec_t *r, size_t *outlen)
{
    size_t cap = 1 << 20, len = 0;
    char *out = malloc(cap);

    cr_assert_not_null(out);
    for (int i = 0; i < r->n; i++) {
        int n = snprintf(out + len, cap - len, "%s|%s|%zu|", r->event[i], r->id[i],
                         r->data_len[i]);

        cr_assert(n > 0 && (size_t)n < cap - len);
        len += (size_t)n;
        cr_assert_lt(len + r->data_len[i] + 1, cap);
        memcpy(out + len, r->data[i], r->data_len[i]);
        len += r->data_len[i];
        out[len++] = '\n';
    }
    *outlen = len;
    return out;
}

Test(sse, thousand_events_random_chunks_equal_whole)
{
    static const char *ends[] = { "\n", "\r", "\r\n" };
    size_t cap = 1 << 20, len = 0;
    char *s = malloc(cap);
    rec_t *whole = calloc(1, sizeof(*whole));
    rec_t *bytes = calloc(1, sizeof(*bytes));
    char *d1, *d2, *d3;
    size_t l1, l2, l3;

    cr_assert(s != NULL && whole != NULL && bytes != NULL);
    srand(12345);
    for (int i = 0; i < 1000; i++) {
        const char *e = ends[rand() % 3];
        int lines = 1 + rand() % 3;

        if (i % 7 == 0)
            len += (size_t)snprintf(s + len, cap - len, ": comment %d%s", i, e);
        if (i % 5 == 0)
            len += (size_t)snprintf(s + len, cap - len, "event: e%d%s", i % 3, e);
        if (i % 11 == 0)
            len += (size_t)snprintf(s + len, cap - len, "id: %d%s", i, e);
        for (int l = 0; l < lines; l++)
            len += (size_t)snprintf(s + len, cap - len, "data:%s{\"n\":%d,\"l\":%d}%s",
                                    rand() % 2 ? " " : "", i, l, e);
        len += (size_t)snprintf(s + len, cap - len, "%s", e);
        cr_assert_lt(len, cap - 256);
    }

    cr_assert_eq(parse(whole, s, len, 0, 4096), 0);
    cr_assert_eq(whole->n, 1000);
    cr_assert_str_eq(whole->event[5], "e2");
    cr_assert_str_eq(whole->event[6], "message");
    cr_assert_str_eq(whole->id[12], "11");
    cr_assert_eq(strncmp(whole->data[999], "{\"n\":999,\"l\":0}", 15), 0);
    d1 = rec_dump(whole, &l1);

    /* Random chunk sizes from 1 to 64 bytes. */
    {
        sse_parser_t p;
        size_t off = 0;

        sse_init(&p, rec_cb, &R, 4096);
        while (off < len) {
            size_t n = 1 + (size_t)(rand() % 64);

            if (n > len - off)
                n = len - off;
            cr_assert_eq(sse_feed(&p, s + off, n), 0);
            off += n;
        }
        cr_assert_eq(sse_finish(&p), 0);
        sse_free(&p);
    }
    d2 = rec_dump(&R, &l2);

    cr_assert_eq(parse(bytes, s, len, 1, 4096), 0);
    d3 = rec_dump(bytes, &l3);

    cr_assert_eq(l1, l2);
    cr_assert_eq(memcmp(d1, d2, l1), 0, "random chunks differ from the whole feed");
    cr_assert_eq(l1, l3);
    cr_assert_eq(memcmp(d1, d3, l1), 0, "byte-at-a-time differs from the whole feed");

    free(d1);
    free(d2);
    free(d3);
    rec_free(whole);
    rec_free(bytes);
    free(whole);
    free(bytes);
    free(s);
}
