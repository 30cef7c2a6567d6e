/* SPDX-License-Identifier: MIT */
/* httpstub.c - the smallest HTTP server the --health probe can talk to.
 *
 *   httpstub PORTFILE LOG MODE
 * listens on 127.0.0.1 (a free port, written to PORTFILE once it listens), logs each
 * request's first line and Host header to LOG, and answers by MODE:
 *   a number   "HTTP/1.0 <number> X" with an empty body, then closes
 *   hang       reads the request and never answers (the connection stays open)
 *   garbage    answers a line that is not HTTP
 * It runs until it is killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "httpstub: %s: %s\n", what, strerror(errno));
    exit(99);
}

/* Read the request head (up to a blank line, 4 KB, or 2 s). */
static size_t read_head(int c, char *buf, size_t cap)
{
    size_t len = 0;

    while (len + 1 < cap) {
        struct pollfd p = { .fd = c, .events = POLLIN };
        ssize_t n;

        if (poll(&p, 1, 2000) <= 0)
            break;
        n = read(c, buf + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL)
            break;
    }
    buf[len] = '\0';
    return len;
}

int main(int argc, char **argv)
{
    struct sockaddr_in in = { .sin_family = AF_INET };
    socklen_t len = sizeof in;
    char tmp[4096];
    int fd, log_fd;
    FILE *f;

    if (argc != 4) {
        fprintf(stderr, "usage: httpstub PORTFILE LOG STATUS|hang|garbage\n");
        return 98;
    }
    log_fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (log_fd < 0)
        die("open log");
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&in, sizeof in) != 0 || listen(fd, 16) != 0)
        die("bind/listen");
    getsockname(fd, (struct sockaddr *)&in, &len);
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    f = fopen(tmp, "w");
    if (f == NULL)
        die("open portfile");
    fprintf(f, "%d\n", ntohs(in.sin_port));
    fclose(f);
    if (rename(tmp, argv[1]) != 0)
        die("rename portfile");
    for (;;) {
        char head[4096], line[4200];
        char *eol, *host;
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        int n;

        if (c < 0) {
            if (errno == EINTR)
                continue;
            die("accept");
        }
        read_head(c, head, sizeof head);
        eol = strstr(head, "\r\n");
        host = strstr(head, "\r\nHost: ");
        if (host != NULL) {
            char *hend = strstr(host + 2, "\r\n");

            host += 8;
            if (hend != NULL)
                *hend = '\0';
        }
        if (eol != NULL)
            *eol = '\0';
        n = snprintf(line, sizeof line, "request %s|host %s\n", head, host ? host : "-");
        if (write(log_fd, line, (size_t)n) < 0)
            die("write log");
        if (strcmp(argv[3], "hang") == 0)
            continue;       /* c stays open, unanswered */
        if (strcmp(argv[3], "garbage") == 0)
            n = snprintf(line, sizeof line, "SSH-2.0-nope\r\n");
        else
            n = snprintf(line, sizeof line,
                         "HTTP/1.0 %s X\r\nContent-Length: 0\r\n\r\n", argv[3]);
        if (write(c, line, (size_t)n) < 0)
            perror("httpstub: write");
        close(c);
    }
}
