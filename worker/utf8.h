/* SPDX-License-Identifier: MIT */
/* utf8.h - UTF-8 sequence checking shared by the log writer and the JSON text checks. */
#ifndef MCPGW_UTF8_H
#define MCPGW_UTF8_H

#include <stddef.h>

/* Length (1-4) of the well-formed UTF-8 sequence at s, reading at most avail bytes, or 0
 * when the bytes there are not one: a stray continuation byte, an overlong form, a
 * surrogate (U+D800-U+DFFF), a code point above U+10FFFF, or a sequence cut short by
 * avail.  avail == 0 gives 0. */
size_t utf8_seq_len(const unsigned char *s, size_t avail);

/* s[0..len) with every byte that does not start a well-formed sequence replaced by
 * U+FFFD, as a malloc'd NUL-terminated copy (*outlen its length), or NULL when s is
 * well-formed already (nothing to do) or memory is short.  For text made here from
 * pieces (a message cut at a byte count, a header echoed back) that must go out as
 * valid UTF-8. */
char *utf8_repair(const char *s, size_t len, size_t *outlen);

#endif
