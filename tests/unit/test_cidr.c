/* SPDX-License-Identifier: MIT */
/* test_cidr.c - unit tests of address ranges: parsing, membership, loopback. */

#include "cidr.h"

#include <criterion/criterion.h>

#include <string.h>

static cidr_t parse_ok(const char *text)
{
    cidr_t c;
    char err[160] = "";

    cr_assert_eq(cidr_parse(text, &c, err, sizeof(err)), 0, "%s refused: %s", text, err);
    return c;
}

Test(cidr, ipv4_ranges_match_inside_only)
{
    cidr_t c = parse_ok("10.1.0.0/16");

    cr_expect_eq(c.family, 4);
    cr_expect_eq(c.prefix, 16);
    cr_expect(cidr_match(&c, "10.1.0.0"));
    cr_expect(cidr_match(&c, "10.1.255.255"));
    cr_expect(!cidr_match(&c, "10.2.0.0"));
    cr_expect(!cidr_match(&c, "10.0.255.255"));
    cr_expect(!cidr_match(&c, "::1"));
}

Test(cidr, odd_prefixes_and_host_bits)
{
    cidr_t c = parse_ok("192.168.1.77/26");   /* host bits are cleared: .64/26 */

    cr_expect_eq(c.addr[3], 64);
    cr_expect(cidr_match(&c, "192.168.1.64"));
    cr_expect(cidr_match(&c, "192.168.1.127"));
    cr_expect(!cidr_match(&c, "192.168.1.128"));
    cr_expect(!cidr_match(&c, "192.168.1.63"));
    c = parse_ok("0.0.0.0/0");
    cr_expect(cidr_match(&c, "203.0.113.9"));
    cr_expect(!cidr_match(&c, "2001:db8::1"));
    c = parse_ok("203.0.113.9");
    cr_expect_eq(c.prefix, 32);
    cr_expect(cidr_match(&c, "203.0.113.9"));
    cr_expect(!cidr_match(&c, "203.0.113.8"));
}

Test(cidr, ipv6_ranges)
{
    cidr_t c = parse_ok("2001:db8::/33");

    cr_expect_eq(c.family, 6);
    cr_expect(cidr_match(&c, "2001:db8::1"));
    cr_expect(cidr_match(&c, "2001:db8:7fff::1"));
    cr_expect(!cidr_match(&c, "2001:db8:8000::1"));
    cr_expect(cidr_match(&c, "[2001:db8::5]"));
    cr_expect(cidr_match(&c, "2001:db8::5%eth0"));
    c = parse_ok("::/0");
    cr_expect(cidr_match(&c, "fe80::1"));
    c = parse_ok("::1");
    cr_expect_eq(c.prefix, 128);
    cr_expect(cidr_match(&c, "::1"));
    cr_expect(!cidr_match(&c, "::2"));
}

Test(cidr, ipv4_mapped_addresses_match_ipv4_ranges)
{
    cidr_t c = parse_ok("127.0.0.0/8");

    cr_expect(cidr_match(&c, "::ffff:127.0.0.1"));
    cr_expect(!cidr_match(&c, "::ffff:10.0.0.1"));
}

Test(cidr, bad_ranges_are_refused_with_a_reason)
{
    static const char *const bad[] = {
        "", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8x", "::/129",
        "10.0.0", "localhost", "[::1]", "fe80::1%eth0", "10.0.0.0/ 8", "1.2.3.4/+8",
        "a-very-long-text-that-is-not-an-address-at-all-and-goes-on-and-on-and-on",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cidr_t c;
        char err[160] = "";

        cr_expect_eq(cidr_parse(bad[i], &c, err, sizeof(err)), -1, "\"%s\" accepted", bad[i]);
        cr_expect_neq(err[0], '\0', "\"%s\": no reason given", bad[i]);
    }
}

Test(cidr, garbage_addresses_never_match)
{
    cidr_t c = parse_ok("0.0.0.0/0");

    cr_expect(!cidr_match(&c, NULL));
    cr_expect(!cidr_match(&c, ""));
    cr_expect(!cidr_match(&c, "not-an-address"));
    cr_expect(!cidr_match(&c, "[]"));
    cr_expect(!cidr_match(&c, "1.2.3.4.5"));
}

Test(cidr, loopback)
{
    cr_expect(cidr_is_loopback("127.0.0.1"));
    cr_expect(cidr_is_loopback("127.255.0.9"));
    cr_expect(cidr_is_loopback("::1"));
    cr_expect(cidr_is_loopback("::ffff:127.0.0.1"));
    cr_expect(!cidr_is_loopback("128.0.0.1"));
    cr_expect(!cidr_is_loopback("::2"));
    cr_expect(!cidr_is_loopback("10.0.0.1"));
    cr_expect(!cidr_is_loopback(NULL));
}
