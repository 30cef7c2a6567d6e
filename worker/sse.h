/* SPDX-License-Identifier: MIT */
/* sse.h - incremental parser for text/event-stream bodies (upstream MCP answers).
 *
 * Follows the WHATWG "event stream interpretation": lines end in CRLF, LF or CR (a CRLF
 * split across two feeds is still one line end); a line starting with ':' is a comment;
 * "field: value" drops one leading space of the value; "data" lines are joined with
 * '\n'; a blank line dispatches the event when at least one data line was seen (so
 * "data:" alone dispatches an event with empty data); an event with no data line is
 * dropped; a leading UTF-8 BOM is skipped.  Unlike a browser, sse_finish() dispatches a
 * pending event whose stream ended without the final blank line.
 *
 * Memory: the parser holds at most max_event bytes of one pending event (line + data);
 * beyond that sse_feed() returns -1 and the stream must be abandoned.
 */
#ifndef MCPGW_SSE_H
#define MCPGW_SSE_H

#include <stddef.h>

/* Called once per dispatched event.  event is the "event" field or "message" when
 * absent; data is NUL-terminated (data_len excludes the NUL); id is the last "id"
 * field seen or "" .  The strings are valid only during the call.  Return 0 to go on,
 * non-zero to stop parsing (sse_feed then returns 1). */
typedef int (*sse_event_fn)(void *ctx, const char *event, const char *data,
                            size_t data_len, const char *id);

typedef struct sse_parser {
    sse_event_fn on_event;
    void *ctx;
    size_t max_event;
    /* private */
    char *line;   size_t line_len,  line_cap;
    char *data;   size_t data_len,  data_cap;
    char event[64];
    char id[256];
    int have_data;
    int last_was_cr;
    int bom_checked;
} sse_parser_t;

/* Prepare p; no allocation happens until input arrives. */
void sse_init(sse_parser_t *p, sse_event_fn on_event, void *ctx, size_t max_event);

/* Feed the next len bytes.  Returns 0, 1 when a callback asked to stop, or -1 when an
 * event exceeded max_event or memory ran out (the parser is then unusable until
 * sse_free/sse_init). */
int sse_feed(sse_parser_t *p, const char *buf, size_t len);

/* End of stream: dispatch a pending event that lacked its final blank line (and a
 * final unterminated line).  Returns like sse_feed. */
int sse_finish(sse_parser_t *p);

/* Release the parser's buffers.  Safe to call twice. */
void sse_free(sse_parser_t *p);

#endif
