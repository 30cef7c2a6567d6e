/* SPDX-License-Identifier: MIT */
/* test_federation.c - unit tests of tool-name prefixing and the collision-refusal guarantee. */

#include "config.h"
#include "federation.h"

#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static config_t *cfg;
static char err[1024];

static void setup(void)
{
    /* config_t is large (64 upstreams); keep it off the stack. */
    cfg = calloc(1, sizeof(*cfg));
    cr_assert_not_null(cfg);
    snprintf(cfg->separator, sizeof(cfg->separator), "__");
    err[0] = '\0';
}

static void teardown(void)
{
    config_free(cfg);
    free(cfg);
    cfg = NULL;
}

/* Name the upstreams of cfg by hand (split only looks at names and the separator). */
static void set_upstreams(const char *sep, const char *const *names, size_t n)
{
    cr_assert_leq(n, (size_t)CONFIG_UPSTREAMS_MAX);
    snprintf(cfg->separator, sizeof(cfg->separator), "%s", sep);
    for (size_t i = 0; i < n; i++)
        snprintf(cfg->upstreams[i].name, sizeof(cfg->upstreams[i].name), "%s", names[i]);
    cfg->n_upstreams = n;
}

/* An upstreams document naming the given upstreams (separator omitted when NULL). */
static int parse_names(const char *sep, const char *const *names, size_t n)
{
    char doc[8192];
    size_t o = 0;

    if (sep != NULL)
        o += (size_t)snprintf(doc + o, sizeof(doc) - o, "{\"separator\":\"%s\",", sep);
    else
        o += (size_t)snprintf(doc + o, sizeof(doc) - o, "{");
    o += (size_t)snprintf(doc + o, sizeof(doc) - o, "\"upstreams\":[");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(doc + o, sizeof(doc) - o,
                              "%s{\"name\":\"%s\",\"url\":\"http://127.0.0.1:9/mcp\"}",
                              i > 0 ? "," : "", names[i]);
    snprintf(doc + o, sizeof(doc) - o, "]}");
    cr_assert_lt(o + 2, sizeof(doc));
    err[0] = '\0';
    return config_parse_upstreams(cfg, doc, "upstreams.json", err, sizeof(err));
}

/* ---- fed_name_join ------------------------------------------------------------ */

Test(join, prefixes_with_the_separator, .init = setup, .fini = teardown)
{
    char out[FED_NAME_MAX + 1];

    cr_assert_eq(fed_name_join(out, sizeof(out), "weather", "__", "get_forecast"), 0);
    cr_expect_str_eq(out, "weather__get_forecast");
    cr_assert_eq(fed_name_join(out, sizeof(out), "w", ".", "a-b.c_d"), 0);
    cr_expect_str_eq(out, "w.a-b.c_d");
}

Test(join, refuses_slash_space_and_other_characters, .init = setup, .fini = teardown)
{
    static const char *const bad[] = {
        "a/b", "a b", "a:b", "a\tb", "naïve", "a\"b", "a\\b", "a,b", "a@b", "",
    };
    char out[FED_NAME_MAX + 1];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(fed_name_join(out, sizeof(out), "u", "__", bad[i]), -1,
                     "tool name \"%s\" accepted", bad[i]);
}

Test(join, exactly_64_characters_is_accepted, .init = setup, .fini = teardown)
{
    char out[FED_NAME_MAX + 1], name[128];

    /* "u" + "__" + 61 characters = 64. */
    memset(name, 't', 61);
    name[61] = '\0';
    cr_assert_eq(fed_name_join(out, sizeof(out), "u", "__", name), 0);
    cr_expect_eq(strlen(out), 64);
}

Test(join, 65_characters_is_refused_even_with_a_large_buffer, .init = setup, .fini = teardown)
{
    char out[256], name[128];

    memset(name, 't', 62);
    name[62] = '\0';
    cr_expect_eq(fed_name_join(out, sizeof(out), "u", "__", name), -1);
    cr_expect_eq(fed_name_join(out, FED_NAME_MAX + 1, "u", "__", name), -1);
}

Test(join, refuses_a_result_that_does_not_fit_the_buffer, .init = setup, .fini = teardown)
{
    char out[8];

    cr_expect_eq(fed_name_join(out, sizeof(out), "upstream", "__", "tool"), -1);
}

/* ---- fed_name_split ----------------------------------------------------------- */

Test(split, picks_the_right_upstream, .init = setup, .fini = teardown)
{
    static const char *const names[] = { "alpha", "alphabet", "beta", "b" };
    const char *rest = NULL;

    set_upstreams("__", names, 4);
    cr_expect_eq(fed_name_split(cfg, "alpha__run", &rest), 0);
    cr_expect_str_eq(rest, "run");
    cr_expect_eq(fed_name_split(cfg, "alphabet__run", &rest), 1);
    cr_expect_str_eq(rest, "run");
    cr_expect_eq(fed_name_split(cfg, "beta__x", &rest), 2);
    cr_expect_str_eq(rest, "x");
    cr_expect_eq(fed_name_split(cfg, "b__x__y", &rest), 3);
    cr_expect_str_eq(rest, "x__y");
}

Test(split, unknown_prefix_is_refused, .init = setup, .fini = teardown)
{
    static const char *const names[] = { "alpha" };
    const char *rest;

    set_upstreams("__", names, 1);
    cr_expect_eq(fed_name_split(cfg, "gamma__run", &rest), -1);
    cr_expect_eq(fed_name_split(cfg, "alph__run", &rest), -1);
    cr_expect_eq(fed_name_split(cfg, "Alpha__run", &rest), -1);
}

Test(split, missing_separator_is_refused, .init = setup, .fini = teardown)
{
    static const char *const names[] = { "alpha" };
    const char *rest;

    set_upstreams("__", names, 1);
    cr_expect_eq(fed_name_split(cfg, "alpharun", &rest), -1);
    cr_expect_eq(fed_name_split(cfg, "alpha_run", &rest), -1);
    cr_expect_eq(fed_name_split(cfg, "alpha", &rest), -1);
    cr_expect_eq(fed_name_split(cfg, "", &rest), -1);
}

Test(split, empty_rest_or_empty_prefix_is_refused, .init = setup, .fini = teardown)
{
    static const char *const names[] = { "alpha" };
    const char *rest;

    set_upstreams("__", names, 1);
    cr_expect_eq(fed_name_split(cfg, "alpha__", &rest), -1);
    cr_expect_eq(fed_name_split(cfg, "__run", &rest), -1);
    cr_expect_eq(fed_name_split(cfg, "__", &rest), -1);
}

Test(split, custom_single_character_separator, .init = setup, .fini = teardown)
{
    static const char *const names[] = { "fs", "git_hub" };
    const char *rest;

    set_upstreams(".", names, 2);
    cr_expect_eq(fed_name_split(cfg, "fs.read", &rest), 0);
    cr_expect_str_eq(rest, "read");
    cr_expect_eq(fed_name_split(cfg, "git_hub.a.b", &rest), 1);
    cr_expect_str_eq(rest, "a.b");
    cr_expect_eq(fed_name_split(cfg, "fs__read", &rest), -1);
}

Test(split, custom_multi_character_separator, .init = setup, .fini = teardown)
{
    static const char *const names[] = { "fs", "web" };
    const char *rest;

    set_upstreams("-x-", names, 2);
    cr_expect_eq(fed_name_split(cfg, "web-x-fetch", &rest), 1);
    cr_expect_str_eq(rest, "fetch");
    cr_expect_eq(fed_name_split(cfg, "fs-x-a-x-b", &rest), 0);
    cr_expect_str_eq(rest, "a-x-b");
    cr_expect_eq(fed_name_split(cfg, "fs-y-read", &rest), -1);
    cr_expect_eq(fed_name_split(cfg, "fs-x-", &rest), -1);
}

Test(split, join_then_split_with_a_custom_separator, .init = setup, .fini = teardown)
{
    static const char *const names[] = { "one", "two" };
    char full[FED_NAME_MAX + 1];
    const char *rest;

    set_upstreams("-x-", names, 2);
    cr_assert_eq(fed_name_join(full, sizeof(full), "two", cfg->separator, "x-y-x-z"), 0);
    cr_expect_eq(fed_name_split(cfg, full, &rest), 1);
    cr_expect_str_eq(rest, "x-y-x-z");
}

/* ---- collision refusal at parse time ------------------------------------------ */

Test(collisions, upstream_name_holding_the_default_separator_is_refused,
     .init = setup, .fini = teardown)
{
    static const char *const names[] = { "good", "bad__name" };

    cr_expect_eq(parse_names(NULL, names, 2), -1);
    cr_expect(strstr(err, "\"bad__name\"") != NULL, "err: %s", err);
    cr_expect(strstr(err, "separator \"__\"") != NULL, "err: %s", err);
    cr_expect(strstr(err, "upstreams.json") != NULL, "err: %s", err);
}

Test(collisions, upstream_name_holding_a_custom_separator_is_refused,
     .init = setup, .fini = teardown)
{
    static const char *const dot[] = { "a.b" };
    static const char *const dash[] = { "web-x-tools" };

    cr_expect_eq(parse_names(".", dot, 1), -1);
    cr_expect(strstr(err, "\"a.b\"") != NULL, "err: %s", err);
    cr_expect(strstr(err, "separator \".\"") != NULL, "err: %s", err);
    cr_expect_eq(parse_names("-x-", dash, 1), -1);
    cr_expect(strstr(err, "\"web-x-tools\"") != NULL, "err: %s", err);
    cr_expect(strstr(err, "separator \"-x-\"") != NULL, "err: %s", err);
}

Test(collisions, name_valid_under_another_separator_is_accepted,
     .init = setup, .fini = teardown)
{
    static const char *const names[] = { "a__b", "c" };

    cr_expect_eq(parse_names(".", names, 2), 0, "err: %s", err);
    cr_expect_eq(cfg->n_upstreams, 2);
    cr_expect_str_eq(cfg->separator, ".");
}

Test(collisions, duplicate_names_are_refused, .init = setup, .fini = teardown)
{
    static const char *const names[] = { "one", "two", "one" };

    cr_expect_eq(parse_names(NULL, names, 3), -1);
    cr_expect(strstr(err, "upstreams[2]") != NULL, "err: %s", err);
    cr_expect(strstr(err, "\"one\"") != NULL, "err: %s", err);
    cr_expect(strstr(err, "twice") != NULL, "err: %s", err);
}

/* BUG (worker/config.c, config_upstream_name_ok): an upstream name that ends in a
 * proper prefix of the separator ("a_" with "__") passes the "does not contain the
 * separator" check, but "a_" + "__" + "b" = "a___b" holds the separator first at
 * offset 1, so fed_name_split attributes it to an upstream named "a".  With both
 * "a" and "a_" configured, "a___b" is the name of two different tools (a's "_b" and
 * a_'s "b"); with "a_" alone, none of its tools can be called.  Such names must be
 * refused at parse time. */
Test(collisions, name_ending_in_a_separator_prefix_is_refused,
     .init = setup, .fini = teardown)
{
    static const char *const dflt[] = { "a", "a_" };
    static const char *const dash[] = { "a", "a-x" };

    cr_expect_eq(parse_names(NULL, dflt, 2), -1,
                 "\"a\" and \"a_\" accepted with separator \"__\": a___b is ambiguous");
    cr_expect_eq(parse_names("-x-", dash, 2), -1,
                 "\"a\" and \"a-x\" accepted with separator \"-x-\": a-x-x-b is ambiguous");
}

Test(collisions, every_tool_of_an_accepted_upstream_is_reachable,
     .init = setup, .fini = teardown)
{
    static const char *const names[] = { "search_" };
    char full[FED_NAME_MAX + 1];
    const char *rest = NULL;
    int i;

    if (parse_names(NULL, names, 1) < 0)
        return;   /* refused at parse time: the guarantee holds */
    cr_assert_eq(fed_name_join(full, sizeof(full), "search_", cfg->separator, "query"), 0);
    i = fed_name_split(cfg, full, &rest);
    cr_expect_eq(i, 0, "\"%s\" does not route back to upstream \"search_\"", full);
}

/* ---- property: join then split is the identity -------------------------------- */

/* xorshift64*: deterministic, so a failure names a reproducible case. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static unsigned rng(unsigned n)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (unsigned)((rng_state * 0x2545f4914f6cdd1dull) >> 33) % n;
}

/* A random string over alphabet of length 1..maxlen. */
static void rand_name(char *out, const char *alphabet, size_t maxlen)
{
    size_t n = 1 + rng((unsigned)maxlen), k = strlen(alphabet);

    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[rng((unsigned)k)];
    out[n] = '\0';
}

/* The alphabets lean on the separators' characters so that near-collisions (names
 * that start or end like the separator, or hold part of it) are frequent. */
static void roundtrip_property(const char *sep, const char *alphabet, int rounds)
{
    static const char full_alphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.";
    int failures = 0;

    snprintf(cfg->separator, sizeof(cfg->separator), "%s", sep);
    for (int r = 0; r < rounds && failures < 5; r++) {
        size_t n = 1 + rng(4);
        char tool[FED_NAME_MAX + 1], full[FED_NAME_MAX + 1];
        const char *rest = NULL;
        size_t pick;
        int got;

        /* n distinct upstream names the configuration validator accepts. */
        cfg->n_upstreams = 0;
        while (cfg->n_upstreams < n) {
            char name[UPSTREAM_NAME_MAX + 1];
            int dup = 0;

            rand_name(name, rng(4) == 0 ? full_alphabet : alphabet,
                      rng(3) == 0 ? UPSTREAM_NAME_MAX : 4);
            if (!config_upstream_name_ok(name, sep))
                continue;
            for (size_t j = 0; j < cfg->n_upstreams; j++)
                dup |= strcmp(cfg->upstreams[j].name, name) == 0;
            if (dup)
                continue;
            snprintf(cfg->upstreams[cfg->n_upstreams].name, sizeof(cfg->upstreams[0].name),
                     "%s", name);
            cfg->n_upstreams++;
        }
        pick = rng((unsigned)n);
        rand_name(tool, rng(4) == 0 ? full_alphabet : alphabet, rng(3) == 0 ? 40 : 5);
        if (fed_name_join(full, sizeof(full), cfg->upstreams[pick].name, sep, tool) < 0)
            continue;   /* too long: the catalogue leaves such tools out */
        got = fed_name_split(cfg, full, &rest);
        if (got != (int)pick || rest == NULL || strcmp(rest, tool) != 0) {
            failures++;
            cr_expect_fail("separator \"%s\": upstream \"%s\" + tool \"%s\" = \"%s\" split "
                           "as upstream %d (\"%s\") + \"%s\"", sep, cfg->upstreams[pick].name,
                           tool, full, got, got >= 0 ? cfg->upstreams[got].name : "-",
                           got >= 0 && rest != NULL ? rest : "-");
        }
    }
    cfg->n_upstreams = 0;   /* names only; nothing for config_free to release */
}

Test(property, join_split_roundtrip_default_separator, .init = setup, .fini = teardown)
{
    roundtrip_property("__", "ab_", 20000);
}

Test(property, join_split_roundtrip_dot_separator, .init = setup, .fini = teardown)
{
    roundtrip_property(".", "ab._-", 20000);
}

Test(property, join_split_roundtrip_multi_character_separator,
     .init = setup, .fini = teardown)
{
    roundtrip_property("-x-", "ax-", 20000);
}

Test(property, join_split_roundtrip_repetitive_separator, .init = setup, .fini = teardown)
{
    roundtrip_property("aba", "ab", 20000);
}
