/* SPDX-License-Identifier: MIT */
/* jsonrpc.c - JSON-RPC 2.0 parsing with bounded depth, classification, reply builders. */
#include "jsonrpc.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errbuf.h"
#include "utf8.h"

/* One pass over text: the deepest nesting, stopping past max; and, when check_text is
 * set, what cJSON would take but a peer must not send or could not get back intact:
 * bytes that are not UTF-8, raw control characters inside strings (RFC 8259 section 7),
 * and the escape \u0000, at which cJSON's C strings would silently end.
 * 0 with *deepest; -1 too deep; -2 bad text, with *at and *why. */
static int jsonrpc_scan(const char *text, size_t len, int max, int check_text, int *deepest,
                        size_t *at, const char **why)
{
    const unsigned char *t = (const unsigned char *)text;
    int depth = 0, in_str = 0;

    *deepest = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = t[i];

        if (check_text && c >= 0x80) {
            size_t n = utf8_seq_len(t + i, len - i);

            if (n == 0) {
                *at = i;
                *why = "invalid UTF-8";
                return -2;
            }
            i += n - 1;
            continue;
        }
        if (in_str) {
            if (c == '\\') {
                if (check_text && i + 5 < len && memcmp(t + i + 1, "u0000", 5) == 0) {
                    *at = i;
                    *why = "\\u0000 in a string";
                    return -2;
                }
                i++;
            } else if (c == '"') {
                in_str = 0;
            } else if (check_text && c < 0x20) {
                *at = i;
                *why = "a control character inside a string (escape it)";
                return -2;
            }
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            depth++;
            if (depth > max)
                return -1;
            if (depth > *deepest)
                *deepest = depth;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 0;
}

int jsonrpc_depth(const char *text, size_t len, int max)
{
    int deepest;
    size_t at;
    const char *why;

    return jsonrpc_scan(text, len, max, 0, &deepest, &at, &why) == 0 ? deepest : -1;
}

int jsonrpc_text_check(const char *text, size_t len, char *err, size_t errlen)
{
    int deepest;
    size_t at = 0;
    const char *why = NULL;

    if (jsonrpc_scan(text, len, INT_MAX, 1, &deepest, &at, &why) == 0)
        return 0;
    errbuf_set(err, errlen, "%s at byte %zu", why, at);
    return -1;
}

cJSON *jsonrpc_parse(const char *body, size_t len, int *code, char *err, size_t errlen)
{
    const char *end = NULL;
    cJSON *doc;

    if (len == 0) {
        *code = JSONRPC_PARSE_ERROR;
        snprintf(err, errlen, "empty body: expected a JSON-RPC message");
        return NULL;
    }
    {
        int deepest;
        size_t at = 0;
        const char *why = NULL;

        switch (jsonrpc_scan(body, len, JSONRPC_DEPTH_MAX, 1, &deepest, &at, &why)) {
        case -1:
            *code = JSONRPC_INVALID_REQUEST;
            snprintf(err, errlen, "JSON nested deeper than %d levels", JSONRPC_DEPTH_MAX);
            return NULL;
        case -2:
            *code = JSONRPC_PARSE_ERROR;
            snprintf(err, errlen, "malformed JSON: %s at byte %zu", why, at);
            return NULL;
        default:
            break;
        }
    }
    doc = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (doc == NULL) {
        size_t at = end != NULL && end >= body ? (size_t)(end - body) : 0;

        *code = JSONRPC_PARSE_ERROR;
        snprintf(err, errlen, "malformed JSON at byte %zu", at);
        return NULL;
    }
    /* Trailing bytes other than white space are an error too. */
    while (end != NULL && (size_t)(end - body) < len &&
           (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
        end++;
    if (end != NULL && (size_t)(end - body) < len) {
        *code = JSONRPC_PARSE_ERROR;
        snprintf(err, errlen, "malformed JSON: trailing data at byte %zu", (size_t)(end - body));
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

enum jsonrpc_kind jsonrpc_classify(const cJSON *msg, const char **why)
{
    const cJSON *v, *id, *method;
    const char *dummy;

    if (why == NULL)
        why = &dummy;
    if (cJSON_IsArray(msg)) {
        *why = "JSON-RPC batches are not supported (removed in MCP 2025-06-18)";
        return JSONRPC_INVALID;
    }
    if (!cJSON_IsObject(msg)) {
        *why = "a JSON-RPC message must be an object";
        return JSONRPC_INVALID;
    }
    v = cJSON_GetObjectItemCaseSensitive(msg, "jsonrpc");
    if (!cJSON_IsString(v) || strcmp(v->valuestring, "2.0") != 0) {
        *why = "\"jsonrpc\" must be \"2.0\"";
        return JSONRPC_INVALID;
    }
    id = cJSON_GetObjectItemCaseSensitive(msg, "id");
    method = cJSON_GetObjectItemCaseSensitive(msg, "method");
    /* An error response whose request id could not be read carries id null. */
    if (cJSON_IsNull(id) && method == NULL && cJSON_HasObjectItem(msg, "error") &&
        !cJSON_HasObjectItem(msg, "result"))
        return JSONRPC_RESPONSE;
    if (id != NULL && !cJSON_IsString(id) && !cJSON_IsNumber(id)) {
        *why = "\"id\" must be a string or a number";
        return JSONRPC_INVALID;
    }
    /* A number id is echoed exactly only if it is an integer a double holds exactly;
     * anything else would come back altered (1e400, 2^63) and the client could not
     * match its answer. */
    if (cJSON_IsNumber(id) && (id->valuedouble != floor(id->valuedouble) ||
                               fabs(id->valuedouble) >= 9007199254740992.0)) {
        /* 2^53 itself is refused: 2^53 + 1 reads as the same double. */
        *why = "a number \"id\" must be an integer between -(2^53 - 1) and 2^53 - 1";
        return JSONRPC_INVALID;
    }
    if (method != NULL) {
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");

        if (!cJSON_IsString(method) || method->valuestring[0] == '\0') {
            *why = "\"method\" must be a non-empty string";
            return JSONRPC_INVALID;
        }
        if (params != NULL && !cJSON_IsObject(params)) {
            *why = "\"params\" must be an object";
            return JSONRPC_INVALID;
        }
        return id != NULL ? JSONRPC_REQUEST : JSONRPC_NOTIFICATION;
    }
    if (id != NULL && (cJSON_HasObjectItem(msg, "result") != cJSON_HasObjectItem(msg, "error")))
        return JSONRPC_RESPONSE;
    *why = "not a request, notification or response";
    return JSONRPC_INVALID;
}

static cJSON *jsonrpc_envelope(const cJSON *id)
{
    cJSON *m = cJSON_CreateObject();
    cJSON *idc;

    if (cJSON_IsNumber(id)) {
        /* cJSON prints large integers in exponent form; print them whole. */
        char num[32];

        snprintf(num, sizeof(num), "%.0f", id->valuedouble);
        idc = cJSON_CreateRaw(num);
    } else {
        idc = id != NULL ? cJSON_Duplicate(id, 1) : cJSON_CreateNull();
    }

    if (m == NULL || idc == NULL) {
        cJSON_Delete(m);
        cJSON_Delete(idc);
        return NULL;
    }
    cJSON_AddStringToObject(m, "jsonrpc", "2.0");
    cJSON_AddItemToObject(m, "id", idc);
    return m;
}

cJSON *jsonrpc_result(const cJSON *id, cJSON *result)
{
    cJSON *m = jsonrpc_envelope(id);

    if (m == NULL || result == NULL) {
        cJSON_Delete(m);
        cJSON_Delete(result);
        return NULL;
    }
    cJSON_AddItemToObject(m, "result", result);
    return m;
}

cJSON *jsonrpc_error(const cJSON *id, int code, const char *message, cJSON *data)
{
    cJSON *m = jsonrpc_envelope(id);
    cJSON *e = cJSON_CreateObject();

    if (m == NULL || e == NULL) {
        cJSON_Delete(m);
        cJSON_Delete(e);
        cJSON_Delete(data);
        return NULL;
    }
    cJSON_AddNumberToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    if (data != NULL)
        cJSON_AddItemToObject(e, "data", data);
    cJSON_AddItemToObject(m, "error", e);
    return m;
}

cJSON *jsonrpc_errorf(const cJSON *id, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return jsonrpc_error(id, code, msg, NULL);
}

void jsonrpc_whole_numbers(cJSON *tree)
{
    for (cJSON *it = tree; it != NULL; it = it->next) {
        if (cJSON_IsNumber(it)) {
            double v = it->valuedouble, a = fabs(v);
            char num[32], *copy;

            if (a < 1e15 || a >= 1e21 || v != floor(v))
                continue;
            snprintf(num, sizeof(num), "%.0f", v);
            copy = cJSON_malloc(strlen(num) + 1);
            if (copy == NULL)
                continue;
            memcpy(copy, num, strlen(num) + 1);
            it->type = cJSON_Raw;
            it->valuestring = copy;
        } else if (it->child != NULL) {
            jsonrpc_whole_numbers(it->child);
        }
    }
}

int jsonrpc_http_status(int code)
{
    switch (code) {
    case JSONRPC_PARSE_ERROR:
    case JSONRPC_INVALID_REQUEST:
        return 400;
    case JSONRPC_STORE_ERROR:
        return 503;
    case JSONRPC_INTERNAL_ERROR:
        return 500;
    default:
        return 200;
    }
}
