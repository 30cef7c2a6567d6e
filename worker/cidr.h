/* SPDX-License-Identifier: MIT */
/* cidr.h - IPv4/IPv6 address ranges ("10.0.0.0/8", "::1") and membership tests.
 *
 * Used for MCPGW_STATUS_ALLOW.  Pure functions on caller-owned values; no allocation.
 */
#ifndef MCPGW_CIDR_H
#define MCPGW_CIDR_H

#include <stddef.h>

#define CIDR_TEXT_MAX 64   /* longest range text accepted, NUL included */

typedef struct cidr {
    int family;                 /* 4 or 6 */
    unsigned char addr[16];     /* network address, host bits cleared; 4 bytes used for v4 */
    int prefix;                 /* 0-32 or 0-128 */
} cidr_t;

/* Parse "addr" or "addr/prefix" (numeric IPv4 or IPv6, no brackets, no names) into *out.
 * Host bits below the prefix are cleared ("10.1.2.3/8" is 10.0.0.0/8).  Returns 0, or -1
 * with err saying what is wrong (err does not repeat the text). */
int cidr_parse(const char *text, cidr_t *out, char *err, size_t errlen);

/* 1 when addr (numeric, as in REMOTE_ADDR; "[::1]" brackets and an IPv6 zone are
 * accepted) lies inside c, else 0 (also for text that is not an address).  An IPv4-mapped
 * IPv6 address (::ffff:a.b.c.d) is matched as the IPv4 address a.b.c.d. */
int cidr_match(const cidr_t *c, const char *addr);

/* 1 when addr is a loopback address (127.0.0.0/8, ::1 or ::ffff:127.x.x.x), else 0. */
int cidr_is_loopback(const char *addr);

#endif
