/* SPDX-License-Identifier: MIT */
/* test_log.c - JSON escaping of log fields: always valid JSON and valid UTF-8. */
#include "log.h"

#include <criterion/criterion.h>
#include <string.h>

Test(escape, quotes_backslashes_and_controls)
{
    char out[64];

    log_json_escape(out, sizeof(out), "a\"b\\c\nd\te\x7f");
    cr_expect_str_eq(out, "a\\\"b\\\\c\\nd\\u0009e\\u007f");
}

Test(escape, multibyte_characters_are_never_cut)
{
    char out[8];   /* room for 7 bytes: "ab" + two 2-byte characters, not a third half */

    log_json_escape(out, sizeof(out), "ab\xc3\xa9\xc3\xa9\xc3\xa9");
    cr_expect_str_eq(out, "ab\xc3\xa9\xc3\xa9");
}

Test(escape, invalid_utf8_becomes_replacement_characters)
{
    char out[64];

    log_json_escape(out, sizeof(out), "x\xff\xc3(\xed\xa0\x80y");
    /* a stray byte, a truncated sequence, and an encoded surrogate */
    cr_expect_str_eq(out, "x\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffdy");
}

Test(escape, four_byte_characters_pass_through)
{
    char out[64];

    log_json_escape(out, sizeof(out), "\xf0\x9f\x98\x80!");
    cr_expect_str_eq(out, "\xf0\x9f\x98\x80!");
}
