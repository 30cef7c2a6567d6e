/* SPDX-License-Identifier: MIT */
/* listen.h - the pool's FastCGI listening socket, bound by the master before fork.
 *
 * We bind it ourselves rather than through FCGX_OpenSocket, which unlinks a unix path
 * unconditionally, sets no permissions and exits the process on failure.
 */
#ifndef MCPGW_LISTEN_H
#define MCPGW_LISTEN_H

#include <stddef.h>

#define LISTEN_BACKLOG 1024

/* Bind and listen on spec: a unix socket path (contains '/'), or host:port for TCP
 * ("127.0.0.1:9000", "[::1]:9000", "0.0.0.0:9000").  A unix path is given mode; a stale
 * socket file nobody listens on is replaced, but a live one is refused.  Returns the
 * fd, or -1 with err naming the spec (quoted: the caller puts the setting's name before
 * it) and the failing call. */
int listen_open(const char *spec, unsigned mode, char *err, size_t errlen);

/* Remove the socket file of a unix spec (no-op for TCP). */
void listen_cleanup(const char *spec);

#endif
