/* SPDX-License-Identifier: MIT */
/* utf8.c - UTF-8 sequence checking (RFC 3629). */
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
    size_t n;
    unsigned cp;

    if (avail == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

/* Would more bytes complete the sequence p[0..n) begins? */
static int utf8_cut_short(const unsigned char *p, size_t n)
{
    size_t want = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3
                  : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;

    if (want == 0 || n >= want)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return 1;
}

size_t utf8_repair_into(char *out, const unsigned char *in, size_t len, const char *repl,
                        size_t repl_len, int partial, size_t *used)
{
    size_t i = 0, o = 0;

    while (i < len) {
        size_t n = in[i] < 0x80 ? 1 : utf8_seq_len(in + i, len - i);

        if (n == 0 && partial && utf8_cut_short(in + i, len - i))
            break;
        if (n == 0) {
            memcpy(out + o, repl, repl_len);
            o += repl_len;
            i++;
        } else {
            memcpy(out + o, in + i, n);
            o += n;
            i += n;
        }
    }
    *used = i;
    return o;
}

char *utf8_repair(const char *s, size_t len, size_t *outlen)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n, used;
    char *out;

    while (i < len && (n = utf8_seq_len(p + i, len - i)) != 0)
        i += n;
    if (i == len)
        return NULL;
    out = malloc(len * 3 + 1);      /* at worst every byte becomes three */
    if (out == NULL)
        return NULL;
    *outlen = utf8_repair_into(out, p, len, "\xef\xbf\xbd", 3, 0, &used);
    out[*outlen] = '\0';
    return out;
}
