/* SPDX-License-Identifier: MIT */
/* digest.c - SHA-256 through OpenSSL's EVP one-shot interface. */
#include "digest.h"

#include <openssl/evp.h>

int digest_sha256_hex(char *out, const void *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (EVP_Digest(in, len, md, &n, EVP_sha256(), NULL) != 1 || n != DIGEST_HEX_LEN / 2) {
        out[0] = '\0';
        return -1;
    }
    for (unsigned int i = 0; i < n; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[2 * n] = '\0';
    return 0;
}
