/* SPDX-License-Identifier: MIT */
/* status.h - GET /status: the pool's scoreboard as JSON (default) or plain text.
 *
 * Answered by whichever worker accepts the request, from the shared scoreboard.  Only
 * peers allowed by MCPGW_STATUS_ALLOW (default: loopback) get it; others get 403.
 *   ?text or "Accept: text/plain"   plain text, one "name: value" per line
 *   ?json                           JSON even when Accept prefers text
 *   ?full                           also one entry per worker process
 * docs/OPERATIONS.md ("Process manager") describes every field.
 */
#ifndef MCPGW_STATUS_H
#define MCPGW_STATUS_H

#include <stddef.h>

#include "config.h"
#include "http.h"
#include "scoreboard.h"

/* Worker: where /status reads from for the rest of the process's life.  sb stays owned
 * by the caller; listen_fd is duplicated (close-on-exec), because the worker closes its
 * own copy when told to stop.  Either may be NULL / -1. */
void status_attach(scoreboard_t *sb, int listen_fd);

/* Forget what status_attach set and close the duplicate. */
void status_detach(void);

/* Whether a peer at remote_addr may read /status under cfg's MCPGW_STATUS_ALLOW. */
int status_allowed(const config_t *cfg, const char *remote_addr);

/* Fill resp (200) with sb's figures; listen_fd -1 leaves the queue unknown. */
void status_render(const scoreboard_t *sb, int listen_fd, int text, int full,
                   http_response_t *resp);

/* The route: access check, format choice from the query and Accept, render.  503 when
 * no scoreboard is attached (a worker run outside the pool). */
void status_handle(const config_t *cfg, const http_request_t *req, http_response_t *resp);

#endif
