/* SPDX-License-Identifier: MIT */
/* http.c - FastCGI params and bodies in, status, headers and bodies out. */
#include "http.h"

#include <errno.h>
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rand.h"
#include "utf8.h"

static const char *http_param(struct FCGX_Request *fcgi, const char *name)
{
    const char *v = FCGX_GetParam(name, fcgi->envp);

    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Request ids may come from the load balancer; keep only a safe charset so they can go
 * into logs and headers as they are. */
static void http_request_id(http_request_t *req, struct FCGX_Request *fcgi)
{
    const char *v = http_param(fcgi, "HTTP_X_REQUEST_ID");
    size_t o = 0;

    if (v == NULL)
        v = http_param(fcgi, "HTTP_X_AMZN_TRACE_ID");
    if (v != NULL) {
        for (; *v != '\0' && o < sizeof(req->request_id) - 1; v++) {
            char c = *v;

            if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                c == '-' || c == '_' || c == '.' || c == '=' || c == ';' || c == ':')
                req->request_id[o++] = c;
        }
    }
    req->request_id[o] = '\0';
    if (o == 0)
        rand_hex(req->request_id, 16);
}

int http_read_fcgi(http_request_t *req, struct FCGX_Request *fcgi, size_t max_body,
                   int *status, char *err, size_t errlen)
{
    const char *uri, *cl;
    size_t n = 0;
    char *end;
    unsigned long long want = 0;

    memset(req, 0, sizeof(*req));
    req->method = http_param(fcgi, "REQUEST_METHOD");
    if (req->method == NULL)
        req->method = "GET";
    uri = http_param(fcgi, "REQUEST_URI");
    if (uri == NULL)
        uri = "/";
    n = strcspn(uri, "?");
    if (n >= sizeof(req->path_buf))
        n = sizeof(req->path_buf) - 1;
    memcpy(req->path_buf, uri, n);
    req->path_buf[n] = '\0';
    req->path = req->path_buf;
    req->query = http_param(fcgi, "QUERY_STRING");
    if (req->query == NULL)
        req->query = "";
    req->origin = http_param(fcgi, "HTTP_ORIGIN");
    req->session_id = http_param(fcgi, "HTTP_MCP_SESSION_ID");
    req->protocol_version = http_param(fcgi, "HTTP_MCP_PROTOCOL_VERSION");
    req->accept = http_param(fcgi, "HTTP_ACCEPT");
    req->content_type = http_param(fcgi, "CONTENT_TYPE");
    req->remote_addr = http_param(fcgi, "REMOTE_ADDR");
    http_request_id(req, fcgi);

    cl = http_param(fcgi, "CONTENT_LENGTH");
    if (cl != NULL) {
        errno = 0;
        want = strtoull(cl, &end, 10);
        if (errno != 0 || *end != '\0') {
            *status = 400;
            snprintf(err, errlen, "invalid Content-Length");
            return -1;
        }
    }
    if (want > max_body) {
        *status = 413;
        snprintf(err, errlen, "request body of %llu bytes exceeds the limit of %zu bytes",
                 want, max_body);
        return -1;
    }
    req->body = malloc((size_t)want + 1);
    if (req->body == NULL) {
        *status = 500;
        snprintf(err, errlen, "out of memory for a %llu-byte body", want);
        return -1;
    }
    n = 0;
    while (n < want) {
        int got = FCGX_GetStr(req->body + n, (int)(want - n), fcgi->in);

        if (got <= 0)
            break;
        n += (size_t)got;
    }
    if (n != want) {
        *status = 400;
        snprintf(err, errlen, "request body ended after %zu of %llu bytes", n, want);
        return -1;
    }
    req->body[n] = '\0';
    req->body_len = n;
    return 0;
}

void http_request_release(http_request_t *req)
{
    free(req->body);
    req->body = NULL;
}

void http_response_init(http_response_t *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->status = 500;
}

void http_response_release(http_response_t *resp)
{
    free(resp->body);
    resp->body = NULL;
}

void http_response_header(http_response_t *resp, const char *name, const char *value)
{
    int n = snprintf(resp->headers + resp->headers_len,
                     sizeof(resp->headers) - resp->headers_len, "%s: %s\r\n", name, value);

    if (n > 0 && resp->headers_len + (size_t)n < sizeof(resp->headers)) {
        resp->headers_len += (size_t)n;
    } else {
        resp->headers[resp->headers_len] = '\0';
        resp->headers_overflow = 1;
    }
}

void http_response_json(http_response_t *resp, int status, const cJSON *json)
{
    free(resp->body);
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = cJSON_PrintUnformatted(json);
    resp->body_len = resp->body != NULL ? strlen(resp->body) : 0;
    if (resp->body == NULL) {
        resp->status = 500;
        return;
    }
    /* What comes from outside was checked on the way in, but messages made here may
     * quote a header or be cut at a byte count in the middle of a character: the body
     * leaves as valid UTF-8 whatever went into it. */
    {
        size_t n;
        char *fixed = utf8_repair(resp->body, resp->body_len, &n);

        if (fixed != NULL) {
            free(resp->body);
            resp->body = fixed;
            resp->body_len = n;
        }
    }
}

void http_response_text(http_response_t *resp, int status, const char *content_type,
                        const char *text)
{
    free(resp->body);
    resp->status = status;
    resp->content_type = content_type;
    resp->body = strdup(text);
    resp->body_len = resp->body != NULL ? strlen(text) : 0;
}

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:  return "Unknown";
    }
}

void http_write_fcgi(const http_response_t *resp, struct FCGX_Request *fcgi)
{
    if (resp->headers_overflow) {
        static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,"
                                   "\"message\":\"response headers over "
                                   HTTP_HEADERS_MAX_TEXT " bytes\"}}";

        FCGX_FPrintF(fcgi->out, "Status: 500 %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %lu\r\nCache-Control: no-store\r\n\r\n",
                     http_reason(500), (unsigned long)(sizeof(body) - 1));
        FCGX_PutStr(body, (int)sizeof(body) - 1, fcgi->out);
        return;
    }
    FCGX_FPrintF(fcgi->out, "Status: %d %s\r\n", resp->status, http_reason(resp->status));
    if (resp->content_type != NULL && resp->body_len > 0)
        FCGX_FPrintF(fcgi->out, "Content-Type: %s\r\n", resp->content_type);
    FCGX_FPrintF(fcgi->out, "Content-Length: %lu\r\n", (unsigned long)resp->body_len);
    FCGX_FPrintF(fcgi->out, "Cache-Control: no-store\r\n");
    if (resp->headers_len > 0)
        FCGX_PutStr(resp->headers, (int)resp->headers_len, fcgi->out);
    FCGX_PutStr("\r\n", 2, fcgi->out);
    if (resp->body_len > 0)
        FCGX_PutStr(resp->body, (int)resp->body_len, fcgi->out);
}
