/* SPDX-License-Identifier: MIT */
/* cidr.c - parse address ranges and test whether an address lies inside one. */
#include "cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse a numeric address into family (4/6) and 16 bytes; IPv4-mapped IPv6 becomes 4. */
static int cidr_addr(const char *text, int unmap, int *family, unsigned char out[16])
{
    char buf[CIDR_TEXT_MAX];
    size_t n = strlen(text);
    const char *s = text;
    char *pct;

    if (n >= 2 && text[0] == '[' && text[n - 1] == ']') {
        s = text + 1;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    pct = strchr(buf, '%');     /* fe80::1%eth0: the zone does not matter here */
    if (pct != NULL)
        *pct = '\0';
    memset(out, 0, 16);
    if (inet_pton(AF_INET, buf, out) == 1) {
        *family = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, out) != 1)
        return -1;
    *family = 6;
    if (unmap) {
        static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

        if (memcmp(out, mapped, sizeof(mapped)) == 0) {
            memmove(out, out + 12, 4);
            memset(out + 4, 0, 12);
            *family = 4;
        }
    }
    return 0;
}

int cidr_parse(const char *text, cidr_t *out, char *err, size_t errlen)
{
    char buf[CIDR_TEXT_MAX];
    const char *slash = strchr(text, '/');
    size_t n = slash != NULL ? (size_t)(slash - text) : strlen(text);
    int max;

    memset(out, 0, sizeof(*out));
    if (n == 0 || n >= sizeof(buf)) {
        snprintf(err, errlen, "expected an IPv4 or IPv6 address, optionally /prefix");
        return -1;
    }
    memcpy(buf, text, n);
    buf[n] = '\0';
    if (strchr(buf, '[') != NULL || strchr(buf, '%') != NULL ||
        cidr_addr(buf, 0, &out->family, out->addr) < 0) {
        snprintf(err, errlen, "\"%s\" is not a numeric IPv4 or IPv6 address", buf);
        return -1;
    }
    max = out->family == 4 ? 32 : 128;
    out->prefix = max;
    if (slash != NULL) {
        char *end;
        long p;

        errno = 0;
        p = strtol(slash + 1, &end, 10);
        if (slash[1] < '0' || slash[1] > '9' || errno != 0 || *end != '\0' || p < 0 ||
            p > max) {
            snprintf(err, errlen, "prefix \"/%s\" is not a whole number from 0 to %d",
                     slash + 1, max);
            return -1;
        }
        out->prefix = (int)p;
    }
    for (int bit = out->prefix; bit < max; bit++)
        out->addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
    return 0;
}

int cidr_match(const cidr_t *c, const char *addr)
{
    unsigned char a[16];
    int family, full, rest;

    if (addr == NULL || cidr_addr(addr, 1, &family, a) < 0 || family != c->family)
        return 0;
    full = c->prefix / 8;
    rest = c->prefix % 8;
    if (memcmp(a, c->addr, (size_t)full) != 0)
        return 0;
    if (rest != 0) {
        unsigned char mask = (unsigned char)(0xffu << (8 - rest));

        if ((a[full] & mask) != c->addr[full])
            return 0;
    }
    return 1;
}

int cidr_is_loopback(const char *addr)
{
    static const cidr_t v4 = { .family = 4, .addr = { 127 }, .prefix = 8 };
    static const cidr_t v6 = { .family = 6, .addr = { [15] = 1 }, .prefix = 128 };

    return cidr_match(&v4, addr) || cidr_match(&v6, addr);
}
