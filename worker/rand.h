/* SPDX-License-Identifier: MIT */
/* rand.h - unpredictable identifiers from the kernel's CSPRNG. */
#ifndef MCPGW_RAND_H
#define MCPGW_RAND_H

#include <stddef.h>

/* Fill out with 2*nbytes lowercase hex digits from getrandom(2) plus a NUL (out must
 * hold 2*nbytes+1).  Returns 0, or -1 if the kernel refused (out is then zeroed). */
int rand_hex(char *out, size_t nbytes);

#endif
