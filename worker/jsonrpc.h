/* SPDX-License-Identifier: MIT */
/* jsonrpc.h - JSON-RPC 2.0 message parsing, classification and replies.
 *
 * Parsing is bounded before cJSON sees the text: the caller caps the body size and
 * jsonrpc_parse refuses nesting deeper than JSONRPC_DEPTH_MAX, so neither memory nor
 * the stack can be exhausted by a hostile body.
 */
#ifndef MCPGW_JSONRPC_H
#define MCPGW_JSONRPC_H

#include <stddef.h>
#include <cjson/cJSON.h>

#define JSONRPC_DEPTH_MAX 64

enum jsonrpc_code {
    JSONRPC_PARSE_ERROR      = -32700,
    JSONRPC_INVALID_REQUEST  = -32600,
    JSONRPC_METHOD_NOT_FOUND = -32601,
    JSONRPC_INVALID_PARAMS   = -32602,
    JSONRPC_INTERNAL_ERROR   = -32603,
    /* Server-defined range (-32000 .. -32099). */
    JSONRPC_UPSTREAM_ERROR   = -32010,  /* an upstream could not be reached or answered badly */
    JSONRPC_STORE_ERROR      = -32011,  /* the session store did not answer */
    JSONRPC_RESOURCE_NOT_FOUND = -32002, /* MCP: resources/read of an unknown URI */
};

enum jsonrpc_kind {
    JSONRPC_REQUEST,       /* method + id */
    JSONRPC_NOTIFICATION,  /* method, no id */
    JSONRPC_RESPONSE,      /* result or error + id */
    JSONRPC_INVALID,
};

/* Parse body[0..len) (need not be NUL-terminated).  Returns the tree (caller frees with
 * cJSON_Delete) or NULL with *code set to JSONRPC_PARSE_ERROR (malformed, or text that
 * jsonrpc_text_check refuses) or JSONRPC_INVALID_REQUEST (too deep) and err describing
 * where. */
cJSON *jsonrpc_parse(const char *body, size_t len, int *code, char *err, size_t errlen);

/* Deepest nesting of arrays/objects in text, or -1 when it exceeds max (scanning stops
 * there).  Strings are skipped correctly, escapes included. */
int jsonrpc_depth(const char *text, size_t len, int max);

/* 0 when text[0..len) is JSON text a peer may send and get back intact: UTF-8 only, no
 * raw control characters inside strings, no \u0000 escape (cJSON's C strings would end
 * there).  Otherwise -1 with err (NULL allowed) saying what and at which byte.  Does not
 * parse. */
int jsonrpc_text_check(const char *text, size_t len, char *err, size_t errlen);

/* Classify msg; for JSONRPC_INVALID, *why (if not NULL) says what is wrong. */
enum jsonrpc_kind jsonrpc_classify(const cJSON *msg, const char **why);

/* {"jsonrpc":"2.0","id":<copy of id or null>,"result":result}.  Takes ownership of
 * result (freed on failure).  Returns NULL only when out of memory. */
cJSON *jsonrpc_result(const cJSON *id, cJSON *result);

/* {"jsonrpc":"2.0","id":<copy of id or null>,"error":{"code","message"[,"data"]}}.
 * Takes ownership of data (may be NULL). */
cJSON *jsonrpc_error(const cJSON *id, int code, const char *message, cJSON *data);

/* Same as jsonrpc_error with a printf-style message. */
cJSON *jsonrpc_errorf(const cJSON *id, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* cJSON keeps numbers as doubles and prints integers past 15 digits in exponent form
 * (an id or argument 1234567890123456 would leave as 1.234567890123456e+15, which a
 * peer with integer types may refuse).  Turn every integral number of tree from 1e15
 * up to 1e21 into a raw item printed whole, so it leaves as an integer: exact up to
 * 2^53, the nearest double beyond (JSON promises no more).  Recursive; depth is bounded
 * by the parse. */
void jsonrpc_whole_numbers(cJSON *tree);

/* HTTP status that carries a JSON-RPC error sent outside a session exchange. */
int jsonrpc_http_status(int code);

#endif
