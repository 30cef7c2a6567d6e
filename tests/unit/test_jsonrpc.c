/* SPDX-License-Identifier: MIT */
/* test_jsonrpc.c - unit tests of JSON-RPC parsing, the depth cap, classification, replies. */

#include "jsonrpc.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char err[512];
static int code;

/* Parse a NUL-terminated literal; the length excludes the NUL. */
static cJSON *parse_str(const char *text)
{
    err[0] = '\0';
    code = 0;
    return jsonrpc_parse(text, strlen(text), &code, err, sizeof(err));
}

/* Parse text copied into a heap buffer of exactly its length (no NUL after it), so
 * that valgrind or ASan catch any read past the end. */
static cJSON *parse_exact(const char *text, size_t len)
{
    char *copy = malloc(len > 0 ? len : 1);
    cJSON *doc;

    cr_assert_not_null(copy);
    memcpy(copy, text, len);
    err[0] = '\0';
    code = 0;
    doc = jsonrpc_parse(copy, len, &code, err, sizeof(err));
    free(copy);
    return doc;
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* n opening brackets, then n closing ones: valid JSON nested exactly n deep. */
static char *nested(size_t n, char open, char close)
{
    char *s = malloc(2 * n + 1);

    cr_assert_not_null(s);
    memset(s, open, n);
    memset(s + n, close, n);
    s[2 * n] = '\0';
    return s;
}

/* Print msg unformatted and compare with want; frees msg. */
static void assert_json(cJSON *msg, const char *want)
{
    char *got;

    cr_assert_not_null(msg, "builder returned NULL");
    got = cJSON_PrintUnformatted(msg);
    cr_assert_not_null(got);
    cr_expect_str_eq(got, want);
    free(got);
    cJSON_Delete(msg);
}

/* ---- parse errors ------------------------------------------------------------- */

Test(parse, accepts_a_plain_request)
{
    cJSON *doc = parse_str("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");

    cr_assert_not_null(doc, "%s", err);
    cr_expect_str_eq(cJSON_GetObjectItem(doc, "method")->valuestring, "ping");
    cJSON_Delete(doc);
}

Test(parse, accepts_surrounding_white_space)
{
    cJSON *doc = parse_str(" \r\n\t{\"a\":1} \r\n\t");

    cr_assert_not_null(doc, "%s", err);
    cJSON_Delete(doc);
}

Test(parse, empty_body_is_a_parse_error)
{
    cr_assert_null(parse_exact("", 0));
    cr_expect_eq(code, JSONRPC_PARSE_ERROR);
    cr_expect(strstr(err, "empty body") != NULL, "err: %s", err);
}

Test(parse, white_space_only_is_a_parse_error)
{
    cr_assert_null(parse_str("  \n "));
    cr_expect_eq(code, JSONRPC_PARSE_ERROR);
    cr_expect(strstr(err, "malformed JSON") != NULL, "err: %s", err);
}

/* The offset in the message, or -1 when the message has another form. */
static long err_offset(const char *prefix)
{
    size_t n = strlen(prefix);
    char *end;
    long at;

    if (strncmp(err, prefix, n) != 0)
        return -1;
    at = strtol(err + n, &end, 10);
    return end != err + n && *end == '\0' ? at : -1;
}

Test(parse, malformed_json_names_the_byte_offset)
{
    cr_assert_null(parse_str("{\"a\":1,}"));
    cr_expect_eq(code, JSONRPC_PARSE_ERROR);
    cr_expect_str_eq(err, "malformed JSON at byte 7");
    cr_assert_null(parse_str("[1,,2]"));
    cr_expect_str_eq(err, "malformed JSON at byte 3");
}

Test(parse, malformed_json_offset_is_next_to_the_bad_byte)
{
    /* The 'x' at offset 17 is where the text stops being JSON; cJSON reports the
     * offset of a bad member name one byte late, so allow 17 or 18. */
    long at;

    cr_assert_null(parse_str("{\"jsonrpc\":\"2.0\",x}"));
    cr_expect_eq(code, JSONRPC_PARSE_ERROR);
    at = err_offset("malformed JSON at byte ");
    cr_expect(at == 17 || at == 18, "err: %s", err);
}

Test(parse, truncated_json_is_a_parse_error)
{
    cr_assert_null(parse_exact("{\"jsonrpc\":\"2.0\",\"id\":", 22));
    cr_expect_eq(code, JSONRPC_PARSE_ERROR);
    cr_expect(strstr(err, "malformed JSON at byte ") != NULL, "err: %s", err);
}

Test(parse, trailing_garbage_names_its_offset)
{
    cr_assert_null(parse_str("{\"a\":1}  x"));
    cr_expect_eq(code, JSONRPC_PARSE_ERROR);
    cr_expect_str_eq(err, "malformed JSON: trailing data at byte 9");
}

Test(parse, a_second_message_is_trailing_data)
{
    cr_assert_null(parse_str("{\"a\":1}{\"b\":2}"));
    cr_expect_eq(code, JSONRPC_PARSE_ERROR);
    cr_expect_str_eq(err, "malformed JSON: trailing data at byte 7");
}

Test(parse, nul_byte_after_the_message_is_trailing_data)
{
    cr_assert_null(parse_exact("{}\0{}", 5));
    cr_expect_eq(code, JSONRPC_PARSE_ERROR);
    cr_expect_str_eq(err, "malformed JSON: trailing data at byte 2");
}

Test(parse, body_need_not_be_nul_terminated)
{
    static const char text[] = "{\"jsonrpc\":\"2.0\",\"method\":\"x\"}";
    cJSON *doc = parse_exact(text, sizeof(text) - 1);

    cr_assert_not_null(doc, "%s", err);
    cJSON_Delete(doc);
}

Test(parse, only_the_given_length_is_read)
{
    /* The closing brace lies beyond len: the message is incomplete. */
    cr_assert_null(parse_exact("{\"a\":1}", 6));
    cr_expect_eq(code, JSONRPC_PARSE_ERROR);
}

/* ---- depth cap ---------------------------------------------------------------- */

/* ---- JSON text a peer may not send ------------------------------------------- */

Test(text, invalid_utf8_is_a_parse_error_naming_the_byte)
{
    static const char bad[][64] = {
        "{\"jsonrpc\":\"2.0\",\"id\":\"\xff\xfe\",\"method\":\"ping\"}",   /* not UTF-8 */
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xc3\x28\"}",            /* bad 2nd byte */
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xed\xa0\x80\"}",       /* surrogate */
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xc0\xaf\"}",            /* overlong */
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_null(parse_str(bad[i]), "case %zu accepted", i);
        cr_expect_eq(code, JSONRPC_PARSE_ERROR, "case %zu", i);
        cr_expect(strstr(err, "invalid UTF-8 at byte") != NULL, "case %zu: %s", i, err);
    }
    /* A sequence cut by the end of the body is caught without reading past it. */
    cr_expect_null(parse_exact("{\"a\":\"\xe2\x82", 8));
    cr_expect(strstr(err, "invalid UTF-8 at byte 6") != NULL, "%s", err);
}

Test(text, well_formed_utf8_is_accepted)
{
    cJSON *doc = parse_str("{\"a\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}");

    cr_assert_not_null(doc, "%s", err);
    cJSON_Delete(doc);
}

Test(text, raw_control_characters_in_strings_are_refused)
{
    cr_expect_null(parse_str("{\"method\":\"pi\nng\"}"));
    cr_expect_eq(code, JSONRPC_PARSE_ERROR);
    cr_expect(strstr(err, "control character") != NULL, "%s", err);
    cr_expect_null(parse_exact("{\"method\":\"pi\0ng\"}", 16), "a raw NUL was accepted");
    cr_expect(strstr(err, "(escape it) at byte 13") != NULL, "%s", err);
}

Test(text, escaped_nul_is_refused_but_an_escaped_backslash_before_u0000_is_not)
{
    cJSON *doc;

    /* cJSON would end the C string at the NUL: "ping\u0000evil" would run ping. */
    cr_expect_null(parse_str("{\"method\":\"ping\\u0000evil\"}"));
    cr_expect_eq(code, JSONRPC_PARSE_ERROR);
    cr_expect(strstr(err, "\\u0000 in a string at byte 15") != NULL, "%s", err);
    doc = parse_str("{\"a\":\"\\\\u0000\"}");   /* the text \\u0000: a backslash, then u0000 */
    cr_assert_not_null(doc, "%s", err);
    cr_expect_str_eq(cJSON_GetObjectItem(doc, "a")->valuestring, "\\u0000");
    cJSON_Delete(doc);
}

Test(text, text_check_works_alone_and_accepts_a_null_err)
{
    char e[64];

    cr_expect_eq(jsonrpc_text_check("{\"a\":1}", 7, e, sizeof(e)), 0);
    cr_expect_eq(jsonrpc_text_check("\"\xff\"", 3, e, sizeof(e)), -1);
    cr_expect_str_eq(e, "invalid UTF-8 at byte 1");
    cr_expect_eq(jsonrpc_text_check("\"\xff\"", 3, NULL, 0), -1);
}

Test(depth, nesting_at_the_limit_is_accepted)
{
    char *s = nested(JSONRPC_DEPTH_MAX, '[', ']');
    cJSON *doc = parse_str(s);

    cr_expect_not_null(doc, "depth %d refused: %s", JSONRPC_DEPTH_MAX, err);
    cJSON_Delete(doc);
    free(s);
}

Test(depth, one_level_deeper_is_an_invalid_request)
{
    char *s = nested(JSONRPC_DEPTH_MAX + 1, '[', ']');

    cr_expect_null(parse_str(s));
    cr_expect_eq(code, JSONRPC_INVALID_REQUEST);
    cr_expect(strstr(err, "deeper than 64") != NULL, "err: %s", err);
    free(s);
}

Test(depth, objects_count_like_arrays)
{
    /* {"a":{"a":...}} nested JSONRPC_DEPTH_MAX + 1 deep. */
    size_t n = JSONRPC_DEPTH_MAX + 1, o = 0;
    char *s = malloc(n * 5 + n + 8);

    cr_assert_not_null(s);
    for (size_t i = 0; i < n; i++) {
        memcpy(s + o, i + 1 < n ? "{\"a\":" : "{", i + 1 < n ? 5 : 1);
        o += i + 1 < n ? 5 : 1;
    }
    memset(s + o, '}', n);
    s[o + n] = '\0';
    cr_expect_null(parse_str(s));
    cr_expect_eq(code, JSONRPC_INVALID_REQUEST);
    free(s);
}

Test(depth, a_megabyte_of_open_brackets_is_refused_quickly)
{
    size_t len = 1024 * 1024;
    char *s = malloc(len);
    double t0, ms;
    cJSON *doc;

    cr_assert_not_null(s);
    memset(s, '[', len);
    t0 = now_ms();
    err[0] = '\0';
    doc = jsonrpc_parse(s, len, &code, err, sizeof(err));
    ms = now_ms() - t0;
    cr_expect_null(doc);
    cr_expect_eq(code, JSONRPC_INVALID_REQUEST);
    /* The scan stops at the 65th bracket; even under valgrind this is far below. */
    cr_expect_lt(ms, 200.0, "took %.1f ms", ms);
    cJSON_Delete(doc);
    free(s);
}

Test(depth, brackets_inside_strings_do_not_count)
{
    size_t n = 1000;
    char *s = malloc(n + 32);
    cJSON *doc;

    cr_assert_not_null(s);
    memcpy(s, "{\"a\":\"", 6);
    memset(s + 6, '[', n);
    memcpy(s + 6 + n, "\"}", 3);
    doc = parse_str(s);
    cr_expect_not_null(doc, "%s", err);
    cJSON_Delete(doc);
    free(s);
}

Test(depth, escaped_quotes_do_not_end_a_string)
{
    /* "\"[[[...\"": if \" ended the string, the brackets would count. */
    size_t n = 200, o = 0;
    char *s = malloc(n + 32);
    cJSON *doc;

    cr_assert_not_null(s);
    memcpy(s + o, "[\"\\\"", 4);
    o += 4;
    memset(s + o, '[', n);
    o += n;
    memcpy(s + o, "\\\"\"]", 5);
    doc = parse_str(s);
    cr_expect_not_null(doc, "%s", err);
    cJSON_Delete(doc);
    free(s);
}

Test(depth, escaped_backslash_before_a_quote_ends_the_string)
{
    /* ["\\", [[[ ... ]]] ]: the string is one backslash; the brackets after it are real
     * and must be counted, or the cap could be bypassed. */
    char *inner = nested(JSONRPC_DEPTH_MAX, '[', ']');
    size_t len = strlen(inner) + 16;
    char *s = malloc(len);

    cr_assert_not_null(s);
    snprintf(s, len, "[\"\\\\\",%s]", inner);
    cr_expect_null(parse_str(s), "depth %d accepted", JSONRPC_DEPTH_MAX + 1);
    cr_expect_eq(code, JSONRPC_INVALID_REQUEST);
    free(inner);
    free(s);
}

Test(depth, depth_function_reports_the_deepest_level)
{
    static const char t[] = "{\"a\":[1,{\"b\":[]}],\"c\":\"[[[[\"}";

    cr_expect_eq(jsonrpc_depth(t, sizeof(t) - 1, 64), 4);
    cr_expect_eq(jsonrpc_depth(t, sizeof(t) - 1, 3), -1);
    cr_expect_eq(jsonrpc_depth("1", 1, 64), 0);
    cr_expect_eq(jsonrpc_depth("", 0, 64), 0);
}

Test(depth, trailing_backslash_does_not_read_past_the_end)
{
    static const char t[] = "[\"\\";

    /* Exact-length heap copy: a read past len shows under valgrind/ASan. */
    char *s = malloc(sizeof(t) - 1);

    cr_assert_not_null(s);
    memcpy(s, t, sizeof(t) - 1);
    cr_expect_eq(jsonrpc_depth(s, sizeof(t) - 1, 64), 1);
    free(s);
}

/* ---- classification ----------------------------------------------------------- */

static enum jsonrpc_kind classify(const char *text, const char **why)
{
    cJSON *doc = parse_str(text);
    enum jsonrpc_kind k;

    cr_assert_not_null(doc, "fixture does not parse: %s: %s", text, err);
    *why = NULL;
    k = jsonrpc_classify(doc, why);
    cJSON_Delete(doc);
    return k;
}

Test(classify, request_with_number_or_string_id)
{
    const char *why;

    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &why),
                 JSONRPC_REQUEST);
    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"ping\","
                          "\"params\":{}}", &why), JSONRPC_REQUEST);
}

Test(classify, notification_has_no_id)
{
    const char *why;

    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
                          &why), JSONRPC_NOTIFICATION);
}

Test(classify, response_with_result_or_error)
{
    const char *why;

    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}", &why),
                 JSONRPC_RESPONSE);
    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-1,"
                          "\"message\":\"x\"}}", &why), JSONRPC_RESPONSE);
}

Test(classify, response_with_both_result_and_error_is_invalid)
{
    const char *why;

    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{},\"error\":{}}", &why),
                 JSONRPC_INVALID);
    cr_expect_not_null(why);
}

Test(classify, response_without_id_is_invalid)
{
    const char *why;

    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"result\":{}}", &why), JSONRPC_INVALID);
    cr_expect_not_null(why);
}

Test(classify, id_null_is_invalid)
{
    const char *why;

    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", &why),
                 JSONRPC_INVALID);
    cr_assert_not_null(why);
    cr_expect(strstr(why, "\"id\"") != NULL, "why: %s", why);
}

Test(classify, error_response_with_id_null_is_a_response)
{
    const char *why = NULL;

    /* JSON-RPC 2.0: id null when the request's id could not be read. */
    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":1,"
                          "\"message\":\"x\"}}", &why), JSONRPC_RESPONSE);
    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}", &why),
                 JSONRPC_INVALID);
}

Test(classify, number_ids_beyond_2_pow_53_are_invalid)
{
    const char *why;

    /* 2^53 + 1 reads as the double 2^53: echoing it would change it. */
    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"id\":9007199254740993,\"method\":\"ping\"}",
                          &why), JSONRPC_INVALID);
    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"id\":-9007199254740992,\"method\":\"ping\"}",
                          &why), JSONRPC_INVALID);
    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"id\":9007199254740991,\"method\":\"ping\"}",
                          &why), JSONRPC_REQUEST);
}

Test(classify, id_object_or_array_or_bool_is_invalid)
{
    const char *why;

    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", &why),
                 JSONRPC_INVALID);
    cr_expect(why != NULL && strstr(why, "\"id\"") != NULL);
    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}", &why),
                 JSONRPC_INVALID);
    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", &why),
                 JSONRPC_INVALID);
}

Test(classify, jsonrpc_version_must_be_2_0)
{
    const char *why;

    cr_expect_eq(classify("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", &why),
                 JSONRPC_INVALID);
    cr_expect(why != NULL && strstr(why, "\"2.0\"") != NULL, "why: %s", why);
    cr_expect_eq(classify("{\"id\":1,\"method\":\"ping\"}", &why), JSONRPC_INVALID);
    cr_expect_eq(classify("{\"jsonrpc\":2.0,\"id\":1,\"method\":\"ping\"}", &why),
                 JSONRPC_INVALID);
}

Test(classify, params_array_is_invalid)
{
    const char *why;

    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":[1]}",
                          &why), JSONRPC_INVALID);
    cr_expect(why != NULL && strstr(why, "\"params\"") != NULL, "why: %s", why);
}

Test(classify, batch_array_says_batches_are_not_supported)
{
    const char *why;

    cr_expect_eq(classify("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", &why),
                 JSONRPC_INVALID);
    cr_assert_not_null(why);
    cr_expect(strstr(why, "batches are not supported") != NULL, "why: %s", why);
}

Test(classify, method_empty_or_not_a_string_is_invalid)
{
    const char *why;

    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}", &why),
                 JSONRPC_INVALID);
    cr_expect(why != NULL && strstr(why, "\"method\"") != NULL, "why: %s", why);
    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":3}", &why),
                 JSONRPC_INVALID);
    cr_expect_eq(classify("{\"jsonrpc\":\"2.0\",\"method\":null}", &why), JSONRPC_INVALID);
}

Test(classify, non_object_is_invalid)
{
    const char *why;

    cr_expect_eq(classify("\"ping\"", &why), JSONRPC_INVALID);
    cr_expect_not_null(why);
    cr_expect_eq(classify("42", &why), JSONRPC_INVALID);
    cr_expect_eq(classify("null", &why), JSONRPC_INVALID);
}

Test(classify, why_may_be_null)
{
    cJSON *doc = parse_str("[]");

    cr_assert_not_null(doc);
    cr_expect_eq(jsonrpc_classify(doc, NULL), JSONRPC_INVALID);
    cJSON_Delete(doc);
}

/* ---- reply builders ----------------------------------------------------------- */

Test(builders, result_copies_a_number_id)
{
    cJSON *id = cJSON_CreateNumber(42);

    assert_json(jsonrpc_result(id, cJSON_CreateObject()),
                "{\"jsonrpc\":\"2.0\",\"id\":42,\"result\":{}}");
    /* The id was copied, not taken: it is still ours to free. */
    cr_expect_eq(id->valuedouble, 42);
    cJSON_Delete(id);
}

Test(builders, result_copies_a_string_id)
{
    cJSON *id = cJSON_CreateString("req-\"1\"");
    cJSON *r = cJSON_CreateObject();

    cJSON_AddStringToObject(r, "k", "v");
    assert_json(jsonrpc_result(id, r),
                "{\"jsonrpc\":\"2.0\",\"id\":\"req-\\\"1\\\"\",\"result\":{\"k\":\"v\"}}");
    cJSON_Delete(id);
}

Test(builders, result_without_id_has_id_null)
{
    assert_json(jsonrpc_result(NULL, cJSON_CreateArray()),
                "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":[]}");
}

Test(builders, result_is_independent_of_the_original_id)
{
    cJSON *id = cJSON_CreateString("abc");
    cJSON *m = jsonrpc_result(id, cJSON_CreateObject());

    cr_assert_not_null(m);
    cJSON_Delete(id);   /* the reply must not point into the freed id */
    assert_json(m, "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"result\":{}}");
}

Test(builders, result_of_null_is_null)
{
    cr_expect_null(jsonrpc_result(NULL, NULL));
}

Test(builders, error_exact_json)
{
    cJSON *id = cJSON_CreateNumber(3);

    assert_json(jsonrpc_error(id, JSONRPC_METHOD_NOT_FOUND, "no such method", NULL),
                "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32601,"
                "\"message\":\"no such method\"}}");
    cJSON_Delete(id);
}

Test(builders, error_without_id_has_id_null)
{
    assert_json(jsonrpc_error(NULL, JSONRPC_PARSE_ERROR, "bad", NULL),
                "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
                "\"message\":\"bad\"}}");
}

Test(builders, error_with_data)
{
    cJSON *data = cJSON_CreateObject();

    cJSON_AddStringToObject(data, "upstream", "u1");
    assert_json(jsonrpc_error(NULL, JSONRPC_UPSTREAM_ERROR, "down", data),
                "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32010,"
                "\"message\":\"down\",\"data\":{\"upstream\":\"u1\"}}}");
}

Test(builders, errorf_formats_and_escapes)
{
    cJSON *id = cJSON_CreateString("x");

    assert_json(jsonrpc_errorf(id, JSONRPC_INVALID_PARAMS, "tool \"%s\" #%d", "a\nb", 2),
                "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"error\":{\"code\":-32602,"
                "\"message\":\"tool \\\"a\\nb\\\" #2\"}}");
    cJSON_Delete(id);
}

Test(builders, errorf_truncates_long_messages)
{
    char big[4000];
    cJSON *m;
    const cJSON *msg;

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    m = jsonrpc_errorf(NULL, JSONRPC_INTERNAL_ERROR, "%s", big);
    cr_assert_not_null(m);
    msg = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "error"), "message");
    cr_assert(cJSON_IsString(msg));
    cr_expect_lt(strlen(msg->valuestring), sizeof(big) - 1);
    cr_expect_gt(strlen(msg->valuestring), 0);
    cJSON_Delete(m);
}

/* ---- HTTP status of errors sent outside a session exchange -------------------- */

Test(http_status, mapping)
{
    cr_expect_eq(jsonrpc_http_status(JSONRPC_PARSE_ERROR), 400);
    cr_expect_eq(jsonrpc_http_status(JSONRPC_INVALID_REQUEST), 400);
    cr_expect_eq(jsonrpc_http_status(JSONRPC_METHOD_NOT_FOUND), 200);
    cr_expect_eq(jsonrpc_http_status(JSONRPC_INVALID_PARAMS), 200);
    cr_expect_eq(jsonrpc_http_status(JSONRPC_INTERNAL_ERROR), 500);
    cr_expect_eq(jsonrpc_http_status(JSONRPC_STORE_ERROR), 503);
    cr_expect_eq(jsonrpc_http_status(JSONRPC_UPSTREAM_ERROR), 200);
    cr_expect_eq(jsonrpc_http_status(0), 200);
}

Test(numbers, integers_past_15_digits_leave_whole)
{
    cJSON *doc = parse_str("{\"a\":1234567890123456,\"b\":[9007199254740991,1.5,-1e16],"
                           "\"c\":{\"d\":12,\"e\":1e300}}");
    char *out;

    cr_assert_not_null(doc, "%s", err);
    jsonrpc_whole_numbers(doc);
    out = cJSON_PrintUnformatted(doc);
    cr_expect_str_eq(out, "{\"a\":1234567890123456,\"b\":[9007199254740991,1.5,"
                          "-10000000000000000],\"c\":{\"d\":12,\"e\":1e+300}}");
    free(out);
    cJSON_Delete(doc);
}
