/* SPDX-License-Identifier: MIT */
/* upstream.h - one worker's HTTP client to one upstream MCP server (Streamable HTTP).
 *
 * Transport only: it POSTs one JSON-RPC message with the right headers and returns the
 * matching JSON-RPC response whether the upstream answered application/json or
 * text/event-stream.  Session logic (lazy initialize, re-initialize on 404) lives in
 * federation.c.  Each upstream_t keeps its libcurl easy handle between requests so the
 * worker reuses its connection to the upstream.
 */
#ifndef MCPGW_UPSTREAM_H
#define MCPGW_UPSTREAM_H

#include <stddef.h>
#include <cjson/cJSON.h>

#define UPSTREAM_NAME_MAX   32
#define UPSTREAM_BODY_MAX   (8 * 1024 * 1024)   /* hard cap on one upstream answer */

/* Static description of an upstream, parsed from the config file before fork. */
typedef struct upstream_conf {
    char name[UPSTREAM_NAME_MAX + 1];  /* [A-Za-z0-9_.-], no separator inside */
    char *url;                         /* http(s)://host[:port]/path, ${VAR}s expanded */
    char *url_shown;                   /* the URL as configured (${VAR}s not expanded),
                                          user info and query left out: what logs show */
    char **url_secrets;                /* NULL-terminated values the URL's ${VAR}s took,
                                          hidden from every error message (or NULL) */
    char **headers;                    /* NULL-terminated "Name: value" lines, values
                                          already expanded from the environment */
    long timeout_ms;                   /* whole exchange */
    long connect_timeout_ms;
} upstream_conf_t;

/* Bits of upstream_reply.list_changed: notifications seen while waiting for the answer. */
enum {
    UPSTREAM_TOOLS_CHANGED     = 1 << 0,
    UPSTREAM_PROMPTS_CHANGED   = 1 << 1,
    UPSTREAM_RESOURCES_CHANGED = 1 << 2,
};

typedef struct upstream_reply {
    long http_status;      /* 0 when no HTTP answer arrived */
    char *session_id;      /* Mcp-Session-Id response header or NULL (malloc'd) */
    cJSON *message;        /* JSON-RPC response whose id matches the request, or NULL
                              (for a notification, or when none arrived) */
    int list_changed;      /* UPSTREAM_*_CHANGED bits */
} upstream_reply_t;

typedef struct upstream upstream_t;

/* Make a client for conf (conf must outlive it).  Returns NULL with err filled. */
upstream_t *upstream_new(const upstream_conf_t *conf, char *err, size_t errlen);

/* Free the client and its curl handle.  upstream_free(NULL) is a no-op. */
void upstream_free(upstream_t *u);

const upstream_conf_t *upstream_conf(const upstream_t *u);

/* POST msg (a JSON-RPC request or notification) to the upstream.  session_id and
 * protocol_version (MCP-Protocol-Version) are sent when not NULL.  On return 0 the
 * reply is filled: the caller inspects http_status (200/202 fine; 404 with a session
 * means the upstream forgot it; other codes are errors) and frees it with
 * upstream_reply_free().  For a request, message is the response with the same id;
 * JSON-RPC errors come back as messages, not as -1.
 * Returns -1 with err filled ("connect: Couldn't connect to server", "timeout after
 * 5000 ms", "answer over 8388608 bytes", "no JSON-RPC response in the answer", ...)
 * when no usable HTTP exchange happened; the reply is then empty but must still be
 * freed. */
int upstream_post(upstream_t *u, const cJSON *msg, const char *session_id,
                  const char *protocol_version, upstream_reply_t *reply,
                  char *err, size_t errlen);

/* Cap every following upstream_post at deadline_ms (upstream_now_ms's clock): each
 * exchange gets the upstream's timeout or the time left, whichever is less, and one
 * asked for after the deadline fails at once with "no time left for this task".  0 lifts
 * the cap.  For work with a budget of its own, such as building the catalogue. */
void upstream_set_deadline(upstream_t *u, long long deadline_ms);

/* Monotonic milliseconds, the clock of upstream_set_deadline. */
long long upstream_now_ms(void);

/* Send DELETE with session_id (ending the upstream session); best effort, 0 or -1. */
int upstream_delete_session(upstream_t *u, const char *session_id,
                            const char *protocol_version, char *err, size_t errlen);

/* Try to open a TCP (and TLS) connection within timeout_ms, for /ready.  0 or -1. */
int upstream_probe(upstream_t *u, long timeout_ms, char *err, size_t errlen);

typedef struct upstream_probe {
    int ok;
    char err[256];      /* why not, when !ok */
} upstream_probe_t;

/* upstream_probe for n upstreams at once: it takes as long as the slowest one, at most
 * about timeout_ms, not the sum.  results[i] answers for ups[i]. */
void upstream_probe_all(upstream_t *const *ups, size_t n, long timeout_ms,
                        upstream_probe_t *results);

void upstream_reply_free(upstream_reply_t *r);

#endif
