/* SPDX-License-Identifier: MIT */
/* sockq.c - accept queue length and backlog of a listening socket (TCP or unix). */
#include "sockq.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define SOCKQ_NL_TIMEOUT_MS 200   /* sock_diag answers at once; never hang on it */

/* Unix sockets: ask sock_diag for the socket with our inode; for a listening socket
 * UNIX_DIAG_RQLEN carries the accept queue length and the backlog. */
static int sockq_unix(int fd, long long *len, long long *cap, char *err, size_t errlen)
{
    struct {
        struct nlmsghdr nlh;
        struct unix_diag_req req;
    } msg;
    union {
        struct nlmsghdr nlh;
        char buf[8192];
    } reply;
    struct timeval tv = { .tv_sec = 0, .tv_usec = SOCKQ_NL_TIMEOUT_MS * 1000 };
    struct stat st;
    ssize_t got;
    int nl = -1, rc = -1, attr_len;
    struct unix_diag_msg *udm;
    struct rtattr *rta;

    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "fstat: %s", strerror(errno));
        return -1;
    }
    nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0) {
        snprintf(err, errlen, "sock_diag socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    memset(&msg, 0, sizeof(msg));
    msg.nlh.nlmsg_len = sizeof(msg);
    msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST;
    msg.req.sdiag_family = AF_UNIX;
    msg.req.udiag_states = 1u << 10;            /* TCP_LISTEN, as the kernel reuses it */
    msg.req.udiag_ino = (unsigned)st.st_ino;
    msg.req.udiag_show = UDIAG_SHOW_RQLEN;
    msg.req.udiag_cookie[0] = msg.req.udiag_cookie[1] = ~0u;   /* no cookie check */
    if (send(nl, &msg, sizeof(msg), 0) < 0) {
        snprintf(err, errlen, "sock_diag send: %s", strerror(errno));
        goto out;
    }
    got = recv(nl, &reply, sizeof(reply), 0);
    if (got < (ssize_t)sizeof(struct nlmsghdr) || !NLMSG_OK(&reply.nlh, (unsigned)got)) {
        snprintf(err, errlen, "sock_diag recv: %s", got < 0 ? strerror(errno) : "short answer");
        goto out;
    }
    if (reply.nlh.nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(&reply.nlh);

        snprintf(err, errlen, "sock_diag: %s", strerror(-e->error));
        goto out;
    }
    if (reply.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
        reply.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(*udm))) {
        snprintf(err, errlen, "sock_diag: unexpected answer type %u", reply.nlh.nlmsg_type);
        goto out;
    }
    udm = NLMSG_DATA(&reply.nlh);
    rta = (struct rtattr *)(udm + 1);
    attr_len = (int)(reply.nlh.nlmsg_len - NLMSG_LENGTH(sizeof(*udm)));
    for (; RTA_OK(rta, attr_len); rta = RTA_NEXT(rta, attr_len)) {
        if (rta->rta_type == UNIX_DIAG_RQLEN &&
            RTA_PAYLOAD(rta) >= sizeof(struct unix_diag_rqlen)) {
            const struct unix_diag_rqlen *q = RTA_DATA(rta);

            *len = q->udiag_rqueue;
            *cap = q->udiag_wqueue;
            rc = 0;
            goto out;
        }
    }
    snprintf(err, errlen, "sock_diag: no queue length in the answer");
out:
    close(nl);
    return rc;
}

int sockq_length(int fd, long long *len, long long *cap, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    struct tcp_info ti;
    socklen_t tl = sizeof(ti);
    int listening = 0;
    socklen_t ll = sizeof(listening);

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        snprintf(err, errlen, "getsockname: %s", strerror(errno));
        return -1;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) < 0 || !listening) {
        snprintf(err, errlen, "not a listening socket");
        return -1;
    }
    if (ss.ss_family == AF_UNIX)
        return sockq_unix(fd, len, cap, err, errlen);
    if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) {
        snprintf(err, errlen, "address family %d has no queue figures", ss.ss_family);
        return -1;
    }
    /* On a listening TCP socket Linux reports the accept queue in tcpi_unacked and the
     * backlog in tcpi_sacked. */
    memset(&ti, 0, sizeof(ti));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0) {
        snprintf(err, errlen, "TCP_INFO: %s", strerror(errno));
        return -1;
    }
    *len = ti.tcpi_unacked;
    *cap = ti.tcpi_sacked;
    return 0;
}
