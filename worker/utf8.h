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

/* Copy in[0..len) into out, each byte that does not start a well-formed sequence
 * replaced by repl (repl_len bytes).  With partial set, a sequence cut short by the end
 * of in (more bytes could complete it) is left out for the caller's next buffer rather
 * than replaced.  out needs room for len * max(repl_len, 1) bytes.  Returns the bytes
 * written; *used is how many of in were consumed. */
size_t utf8_repair_into(char *out, const unsigned char *in, size_t len, const char *repl,
                        size_t repl_len, int partial, size_t *used);

/* s[0..len) with every byte that does not start a well-formed sequence replaced by
 * U+FFFD, as a malloc'd NUL-terminated copy (*outlen its length), or NULL when s is
 * well-formed already (nothing to do) or memory is short.  For text made here from
 * pieces (a message cut at a byte count, a header echoed back) that must go out as
 * valid UTF-8. */
char *utf8_repair(const char *s, size_t len, size_t *outlen);

#endif
