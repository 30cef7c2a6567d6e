/* SPDX-License-Identifier: MIT */
/* rand.c - session and request ids from getrandom(2). */
#include "rand.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

int rand_hex(char *out, size_t nbytes)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char raw[64];
    size_t got = 0;

    if (nbytes > sizeof(raw)) {
        out[0] = '\0';
        return -1;
    }
    while (got < nbytes) {
        ssize_t n = getrandom(raw + got, nbytes - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            memset(out, 0, 2 * nbytes + 1);
            return -1;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = digits[raw[i] >> 4];
        out[2 * i + 1] = digits[raw[i] & 15];
    }
    out[2 * nbytes] = '\0';
    return 0;
}
