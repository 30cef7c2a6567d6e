/* SPDX-License-Identifier: MIT */
/* test_http.c - unit tests of the response struct the handlers fill. */

#include "http.h"

#include <criterion/criterion.h>

#include <string.h>

Test(response, headers_are_appended_as_lines)
{
    http_response_t resp;

    http_response_init(&resp);
    http_response_header(&resp, "Mcp-Session-Id", "abc");
    http_response_header(&resp, "Vary", "Origin");
    cr_expect_str_eq(resp.headers, "Mcp-Session-Id: abc\r\nVary: Origin\r\n");
    cr_expect_eq(resp.headers_overflow, 0);
    http_response_release(&resp);
}

Test(response, a_header_that_does_not_fit_marks_the_response_unusable)
{
    http_response_t resp;
    char big[HTTP_HEADERS_MAX];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    http_response_init(&resp);
    http_response_header(&resp, "X-First", "1");
    http_response_header(&resp, "X-Big", big);
    /* Nothing half-written, and the flag that makes the writer answer 500 is set. */
    cr_expect_str_eq(resp.headers, "X-First: 1\r\n");
    cr_expect_eq(resp.headers_overflow, 1);
    http_response_release(&resp);
}

Test(response, json_bodies_leave_as_valid_utf8)
{
    http_response_t resp;
    cJSON *m = cJSON_CreateObject();

    /* A message cut at a byte count halfway through "é", and a raw header byte. */
    cJSON_AddStringToObject(m, "message", "caf\xc3");
    cJSON_AddStringToObject(m, "origin", "http://\xff" "evil");
    http_response_init(&resp);
    http_response_json(&resp, 403, m);
    cr_expect_str_eq(resp.body, "{\"message\":\"caf\xef\xbf\xbd\",\"origin\":\"http://\xef\xbf\xbd" "evil\"}");
    cr_expect_eq(resp.body_len, strlen(resp.body));
    http_response_release(&resp);
    cJSON_Delete(m);
}
