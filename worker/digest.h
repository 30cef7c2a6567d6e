/* SPDX-License-Identifier: MIT */
/* digest.h - SHA-256 of secrets such as session ids, so the store never holds them raw. */
#ifndef MCPGW_DIGEST_H
#define MCPGW_DIGEST_H

#include <stddef.h>

#define DIGEST_HEX_LEN 64

/* Write the SHA-256 of in[0..len) as 64 lowercase hex digits plus a NUL into out (at
 * least DIGEST_HEX_LEN + 1 bytes).  Returns 0, or -1 if OpenSSL failed (out is then ""). */
int digest_sha256_hex(char *out, const void *in, size_t len);

#endif
