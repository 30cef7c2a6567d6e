/* SPDX-License-Identifier: MIT */
/* listen.c - bind the FastCGI socket (unix or TCP) with the permissions asked for. */
#include "listen.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int listen_is_unix(const char *spec)
{
    return strchr(spec, '/') != NULL;
}

static int listen_unix(const char *path, unsigned mode, char *err, size_t errlen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    int fd = -1;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "\"%s\": path longer than %zu bytes", path,
                 sizeof(sa.sun_path) - 1);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (lstat(path, &st) == 0) {
        int probe;

        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "\"%s\": exists and is not a socket", path);
            return -1;
        }
        probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            close(probe);
            snprintf(err, errlen, "\"%s\": another process is listening there",
                     path);
            return -1;
        }
        if (probe >= 0)
            close(probe);
        unlink(path);   /* stale socket of a process that is gone */
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket(AF_UNIX): %s", strerror(errno));
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(err, errlen, "\"%s\": bind: %s", path, strerror(errno));
        goto fail;
    }
    if (chmod(path, mode) < 0) {
        snprintf(err, errlen, "\"%s\": chmod %04o: %s", path, mode,
                 strerror(errno));
        goto fail;
    }
    if (listen(fd, LISTEN_BACKLOG) < 0) {
        snprintf(err, errlen, "\"%s\": listen: %s", path, strerror(errno));
        goto fail;
    }
    return fd;
fail:
    close(fd);
    unlink(path);
    return -1;
}

static int listen_tcp(const char *spec, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    const char *h = spec;
    size_t hl;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    int fd = -1, one = 1, rc;

    if (colon == NULL || colon[1] == '\0') {
        snprintf(err, errlen, "\"%s\": expected a unix socket path or host:port",
                 spec);
        return -1;
    }
    hl = (size_t)(colon - spec);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof(host)) {
        snprintf(err, errlen, "\"%s\": missing or overlong host", spec);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "\"%s\": %s", spec, gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto fail;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
        snprintf(err, errlen, "\"%s\": bind: %s", spec, strerror(errno));
        goto fail;
    }
    if (listen(fd, LISTEN_BACKLOG) < 0) {
        snprintf(err, errlen, "\"%s\": listen: %s", spec, strerror(errno));
        goto fail;
    }
    freeaddrinfo(res);
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return -1;
}

int listen_open(const char *spec, unsigned mode, char *err, size_t errlen)
{
    return listen_is_unix(spec) ? listen_unix(spec, mode, err, errlen)
                                : listen_tcp(spec, err, errlen);
}

void listen_cleanup(const char *spec)
{
    if (listen_is_unix(spec))
        unlink(spec);
}
