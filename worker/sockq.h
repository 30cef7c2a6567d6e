/* SPDX-License-Identifier: MIT */
/* sockq.h - how many connections wait in a listening socket's accept queue.
 *
 * TCP: getsockopt(TCP_INFO), where Linux reports a listener's queue in tcpi_unacked and
 * its backlog in tcpi_sacked.  Unix: the kernel's sock_diag netlink interface
 * (UNIX_DIAG_RQLEN), which a restricted kernel or sandbox may lack; the caller then
 * reports the figure as unknown.
 */
#ifndef MCPGW_SOCKQ_H
#define MCPGW_SOCKQ_H

#include <stddef.h>

/* Accept queue length (*len) and capacity (*cap, the backlog) of the listening socket
 * fd.  Returns 0, or -1 with err ("what: why"); *len and *cap are untouched then. */
int sockq_length(int fd, long long *len, long long *cap, char *err, size_t errlen);

#endif
