/* SPDX-License-Identifier: MIT */
/* http.h - one HTTP request and its response, as the gateway's handlers see them.
 *
 * The handlers (router.c, mcp.c) work on these plain structs and never touch FastCGI;
 * http_read_fcgi() and http_write_fcgi() are the only bridge, so the MCP logic can be
 * driven from unit tests without a web server.
 */
#ifndef MCPGW_HTTP_H
#define MCPGW_HTTP_H

#include <stddef.h>
#include <cjson/cJSON.h>

struct FCGX_Request;

#define HTTP_HEADERS_MAX 2048   /* bytes of extra response headers */
#define HTTP_HEADERS_MAX_TEXT "2048"

typedef struct http_request {
    const char *method;            /* "GET", "POST", ... never NULL */
    const char *path;              /* URL path without the query, never NULL */
    const char *query;             /* query string without '?', "" when none (NULL in
                                    * requests built by hand: treat as "") */
    const char *origin;            /* Origin header or NULL */
    const char *session_id;        /* Mcp-Session-Id or NULL */
    const char *protocol_version;  /* MCP-Protocol-Version or NULL */
    const char *accept;            /* Accept or NULL */
    const char *content_type;      /* Content-Type or NULL */
    const char *remote_addr;       /* peer address as lighttpd saw it */
    char request_id[65];           /* X-Request-Id / X-Amzn-Trace-Id or generated */
    char *body;                    /* NUL-terminated, owned by the request */
    size_t body_len;
    char path_buf[1024];
} http_request_t;

typedef struct http_response {
    int status;
    char headers[HTTP_HEADERS_MAX];  /* "Name: value\r\n" lines */
    size_t headers_len;
    int headers_overflow;            /* a header did not fit: the response is unusable */
    char *body;                      /* owned (malloc'd) */
    size_t body_len;
    const char *content_type;        /* static string */
    /* For the access log line: what the request did. */
    char log_method[64];
    char log_upstream[40];
} http_response_t;

/* Read the request from FastCGI params and stdin.  Bodies are capped at max_body: a
 * larger Content-Length gets *status 413 and the body is not read.  Returns 0, or -1
 * with *status (400/413/500) and err set; the request must still be released. */
int http_read_fcgi(http_request_t *req, struct FCGX_Request *fcgi, size_t max_body,
                   int *status, char *err, size_t errlen);

/* Write the response to FastCGI (status line, headers, body); a 500 with a JSON-RPC error
 * when headers_overflow is set. */
void http_write_fcgi(const http_response_t *resp, struct FCGX_Request *fcgi);

void http_request_release(http_request_t *req);

/* Initialise resp as an empty 500 (handlers always overwrite it). */
void http_response_init(http_response_t *resp);
void http_response_release(http_response_t *resp);

/* Append a header line.  One that would pass HTTP_HEADERS_MAX is not added and sets
 * headers_overflow: http_write_fcgi then sends a 500 instead, since a response missing
 * a header (Mcp-Session-Id, say) would mislead the client. */
void http_response_header(http_response_t *resp, const char *name, const char *value);

/* Set status and a JSON body printed from json (json is not freed). */
void http_response_json(http_response_t *resp, int status, const cJSON *json);

/* Set status and a body copied from text with the given content type. */
void http_response_text(http_response_t *resp, int status, const char *content_type,
                        const char *text);

/* Reason phrase for status. */
const char *http_reason(int status);

#endif
