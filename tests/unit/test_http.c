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
