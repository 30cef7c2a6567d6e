/* SPDX-License-Identifier: MIT */
/* serve.h - one worker's life: accept FastCGI requests on the shared socket and hand
 * each to the gateway until told to stop. */
#ifndef MCPGW_SERVE_H
#define MCPGW_SERVE_H

/* The pool_worker_fn of the gateway; ctx is the const config_t * loaded before fork.
 * SIGTERM/SIGINT/SIGQUIT stop it after the request in hand.  Returns the exit status. */
int serve_worker(int listen_fd, void *ctx);

#endif
