/* SPDX-License-Identifier: MIT */
/* floor.c - benchmark floor: the least work a prefork libfcgi responder can do per request.
 *
 * usage: floor SOCKET_PATH WORKERS
 *
 * Binds a unix socket, forks WORKERS processes that all block in accept() on it (as
 * mcpgw-pool's workers do), and answers every request with mcpgw's /health body.  No
 * routing, no parsing, no logging: what lighttpd + libfcgi cost on their own.  SIGTERM or
 * SIGINT to the master stops the workers, removes the socket and exits 0.  Only for
 * tests/bench/run.sh; not part of the gateway.
 */
#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define FLOOR_WORKERS_MAX 256
#define FLOOR_BACKLOG     1024   /* same as mcpgw's LISTEN_BACKLOG */

static const char floor_reply[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 15\r\n"
    "\r\n"
    "{\"status\":\"ok\"}";

static volatile sig_atomic_t floor_stop;

static void floor_on_stop(int sig)
{
    (void)sig;
    floor_stop = 1;
}

/* Bind and listen on a fresh unix socket at path.  Returns the fd, or -1 with err. */
static int floor_listen(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    int fd = -1;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "socket path %s: longer than %zu bytes", path,
                 sizeof(sa.sun_path) - 1);
        goto fail;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto fail;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
        goto fail;
    }
    if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(err, errlen, "bind %s: %s", path, strerror(errno));
        goto fail;
    }
    if (listen(fd, FLOOR_BACKLOG) < 0) {
        snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
        goto fail;
    }
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

/* One worker: accept and answer until killed.  Never returns on success. */
static int floor_worker(int listen_fd)
{
    FCGX_Request req;

    /* The master's handler must not survive the fork: SIGTERM ends a worker at once. */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    if (FCGX_Init() != 0 || FCGX_InitRequest(&req, listen_fd, 0) != 0) {
        fprintf(stderr, "floor: FCGX_Init failed\n");
        return 1;
    }
    /* FCGX_Init installed a SIGTERM handler that only sets a flag: undo it. */
    signal(SIGTERM, SIG_DFL);
    while (FCGX_Accept_r(&req) >= 0) {
        FCGX_PutStr(floor_reply, (int)sizeof(floor_reply) - 1, req.out);
        FCGX_Finish_r(&req);
    }
    return 1;
}

int main(int argc, char **argv)
{
    char err[256];
    pid_t pids[FLOOR_WORKERS_MAX];
    struct sigaction sa;
    sigset_t block, old;
    long n = 0;
    int fd, started = 0, rc = 1;
    char *end = NULL;

    if (argc == 3)
        n = strtol(argv[2], &end, 10);
    if (argc != 3 || end == NULL || *end != '\0' || n < 1 || n > FLOOR_WORKERS_MAX) {
        fprintf(stderr, "usage: %s SOCKET_PATH WORKERS (1..%d)\n", argv[0], FLOOR_WORKERS_MAX);
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = floor_on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    fd = floor_listen(argv[1], err, sizeof(err));
    if (fd < 0) {
        fprintf(stderr, "floor: %s\n", err);
        return 1;
    }
    for (started = 0; started < (int)n; started++) {
        pid_t pid = fork();

        if (pid < 0) {
            fprintf(stderr, "floor: fork: %s\n", strerror(errno));
            goto fail;
        }
        if (pid == 0)
            _exit(floor_worker(fd));
        pids[started] = pid;
    }
    /* Block the stop signals so that one arriving between the test and the wait is
     * not lost: sigsuspend unblocks them atomically. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &old);
    while (!floor_stop)
        sigsuspend(&old);
    rc = 0;
fail:
    for (int i = 0; i < started; i++)
        kill(pids[i], SIGTERM);
    for (int i = 0; i < started; i++)
        waitpid(pids[i], NULL, 0);
    close(fd);
    unlink(argv[1]);
    return rc;
}
