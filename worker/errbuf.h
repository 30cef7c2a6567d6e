/* SPDX-License-Identifier: MIT */
/* errbuf.h - filling the caller-provided "what: why" error buffers of every module. */
#ifndef MCPGW_ERRBUF_H
#define MCPGW_ERRBUF_H

#include <stddef.h>

/* Format a message into err (errlen bytes, always NUL-terminated, truncated to fit).
 * err == NULL or errlen == 0 is allowed and writes nothing, so callers that do not
 * want the reason may pass NULL. */
void errbuf_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
