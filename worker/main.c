/* SPDX-License-Identifier: MIT */
/* main.c - mcpgw-pool: the pool master, one of its workers, or a command to the master.
 *
 *   mcpgw-pool                  read the configuration, bind the socket, run the pool
 *   mcpgw-pool --check-config   validate the settings and the upstreams file, prepare the
 *                               store, exit 0 or 2
 *   mcpgw-pool --reload         hot swap: SIGHUP the pool named in
 *                               $MCPGW_RUNTIME_DIR/pool.pid and wait for the result
 *                               (exit 0 done, 1 failed or no answer, 2 no pool)
 *   mcpgw-pool --worker ...     a worker, started by the master (see pool.h)
 */
#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "config.h"
#include "listen.h"
#include "log.h"
#include "pool.h"
#include "scoreboard.h"
#include "serve.h"
#include "store.h"

#define MAIN_RELOAD_WAIT_S   120
#define MAIN_CONF_MAX        (1024 * 1024)   /* the upstreams file cap of config.c */

static config_t main_cfg;

static void main_runtime_file(char *out, size_t len, const char *runtime_dir, const char *name)
{
    snprintf(out, len, "%s/%s", runtime_dir, name);
}

/* The program the master execs for its workers: the path it was started as (so a
 * symlink switched by a deployment is followed on SIGHUP), made absolute; without a
 * '/' in argv[0] (started through PATH), the file the kernel ran. */
static int main_exe_path(const char *argv0, char *out, size_t len, char *err, size_t errlen)
{
    char cwd[PATH_MAX];
    ssize_t n;

    if (argv0 != NULL && strchr(argv0, '/') != NULL) {
        if (argv0[0] == '/') {
            if ((size_t)snprintf(out, len, "%s", argv0) < len)
                return 0;
        } else if (getcwd(cwd, sizeof(cwd)) != NULL &&
                   (size_t)snprintf(out, len, "%s/%s", cwd, argv0) < len) {
            return 0;
        }
        snprintf(err, errlen, "program path \"%.80s\": too long or no working directory",
                 argv0);
        return -1;
    }
    n = readlink("/proc/self/exe", out, len - 1);
    if (n < 0 || (size_t)n >= len - 1) {
        snprintf(err, errlen, "readlink /proc/self/exe failed");
        return -1;
    }
    out[n] = '\0';
    return 0;
}

/* pool_conf_check_fn: the upstreams file must load as config_load would load it. */
static int main_check_upstreams(const char *text, void *ctx, char *err, size_t errlen)
{
    const config_t *cfg = ctx;
    config_t *tmp = malloc(sizeof(*tmp));
    int rc;

    if (tmp == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(tmp, cfg, sizeof(*tmp));
    /* The copy owns nothing of cfg's: forget its upstreams and origins. */
    memset(tmp->upstreams, 0, sizeof(tmp->upstreams));
    tmp->n_upstreams = 0;
    tmp->n_origins = 0;
    rc = config_parse_upstreams(tmp, text, cfg->upstreams_file, err, errlen);
    config_free(tmp);
    free(tmp);
    return rc;
}

/* A request timeout at or under an upstream's own time limit kills workers that are only
 * waiting for a slow upstream: allowed (tests do it), but worth a warning. */
static void main_warn_timeouts(const config_t *cfg)
{
    long longest = 0;   /* each upstream's own limit (MCPGW_UPSTREAM_TIMEOUT_MS unless set) */

    for (size_t i = 0; i < cfg->n_upstreams; i++)
        if (cfg->upstreams[i].timeout_ms > longest)
            longest = cfg->upstreams[i].timeout_ms;
    if (cfg->request_timeout > 0 && (long)cfg->request_timeout * 1000 <= longest)
        log_warn("MCPGW_REQUEST_TIMEOUT is not longer than the longest upstream time limit: "
                 "workers waiting for a slow upstream will be killed",
                 LOG_I("request_timeout_s", cfg->request_timeout),
                 LOG_I("upstream_timeout_ms", longest));
}

static int main_reload(void)
{
    const char *dir = getenv("MCPGW_RUNTIME_DIR");
    char pid_file[CONFIG_PATH_MAX + 16], swap_file[CONFIG_PATH_MAX + 16], msg[512];
    int rc;

    if (dir == NULL || dir[0] == '\0')
        dir = "/run/mcpgw";
    main_runtime_file(pid_file, sizeof(pid_file), dir, "pool.pid");
    main_runtime_file(swap_file, sizeof(swap_file), dir, "pool.swap");
    rc = pool_reload(pid_file, swap_file, MAIN_RELOAD_WAIT_S, msg, sizeof(msg));
    fprintf(rc == 0 ? stdout : stderr, "mcpgw-pool --reload: %s\n", msg);
    return rc;
}

static int main_worker(int argc, char **argv)
{
    const char *file = getenv("MCPGW_UPSTREAMS");
    char err[1024], orig[CONFIG_PATH_MAX], proc_path[64];
    pool_worker_args_t a;
    scoreboard_t *sb = NULL;
    serve_opts_t o;
    int rc = 2;

    log_setup("worker", NULL);
    snprintf(orig, sizeof(orig), "%s", file != NULL ? file : "");
    if (pool_worker_args(argc, argv, &a, err, sizeof(err)) < 0) {
        log_error("worker cannot start", LOG_S("error", err));
        return 2;
    }
    prctl(PR_SET_NAME, a.lane ? "mcpgw-lane" : "mcpgw-worker");
    /* The master's checked copy of the upstreams file, not the file on disk (which may
     * have been edited since): it changes only with a hot swap. */
    if (a.conf_fd >= 0) {
        snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", a.conf_fd);
        setenv("MCPGW_UPSTREAMS", proc_path, 1);
    }
    if (config_load(&main_cfg, err, sizeof(err)) < 0) {
        log_error("worker cannot start", LOG_S("error", err), LOG_S("upstreams_file", orig));
        goto fail;
    }
    if (a.conf_fd >= 0)
        close(a.conf_fd);
    log_setup("worker", main_cfg.log_level);
    sb = scoreboard_attach(a.scoreboard_fd, err, sizeof(err));
    close(a.scoreboard_fd);
    if (sb == NULL || (!a.lane && a.slot >= sb->n_slots)) {
        log_error("worker cannot start", LOG_S("error", sb == NULL ? err : "slot out of range"));
        goto fail;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("worker cannot start", LOG_S("error", "curl_global_init failed"));
        goto fail;
    }
    o = (serve_opts_t){ .cfg = &main_cfg, .listen_fd = a.listen_fd, .sb = sb, .slot = a.slot,
                        .ready_fd = a.ready_fd, .lane = a.lane,
                        .pool_listen_fd = a.pool_listen_fd };
    rc = serve_worker(&o);
    curl_global_cleanup();
fail:
    scoreboard_detach(sb);
    config_free(&main_cfg);
    return rc;
}

int main(int argc, char **argv)
{
    char err[1024], exe[PATH_MAX], pid_file[CONFIG_PATH_MAX + 16],
         swap_file[CONFIG_PATH_MAX + 16];
    int fd, lane_fd = -1, rc, check_only = argc == 2 && strcmp(argv[1], "--check-config") == 0;
    pool_opts_t opts;

    if (argc > 1 && (strcmp(argv[1], POOL_WORKER_FLAG) == 0 ||
                     strcmp(argv[1], POOL_LANE_FLAG) == 0))
        return main_worker(argc, argv);
    if (argc == 2 && strcmp(argv[1], "--reload") == 0)
        return main_reload();
    if (argc > 1 && !check_only) {
        fprintf(stderr, "usage: %s [--check-config | --reload]\nSettings come from MCPGW_* "
                "environment variables: see docs/CONFIG.md\n", argv[0]);
        return 2;
    }
    log_setup("pool", NULL);
    if (config_load(&main_cfg, err, sizeof(err)) < 0) {
        log_error("configuration error", LOG_S("error", err));
        config_free(&main_cfg);
        return 2;
    }
    log_setup("pool", main_cfg.log_level);
    if (store_prepare(main_cfg.store_url, err, sizeof(err)) < 0) {
        log_error("store unavailable", LOG_S("error", err));
        config_free(&main_cfg);
        return 2;
    }
    main_warn_timeouts(&main_cfg);
    if (check_only) {
        log_info("configuration ok", LOG_I("upstreams", (long long)main_cfg.n_upstreams));
        config_free(&main_cfg);
        return 0;
    }
    if (main_exe_path(argv[0], exe, sizeof(exe), err, sizeof(err)) < 0) {
        log_error("cannot start", LOG_S("error", err));
        config_free(&main_cfg);
        return 1;
    }
    fd = listen_open(main_cfg.listen, main_cfg.socket_mode, err, sizeof(err));
    if (fd < 0) {
        log_error("cannot listen", LOG_S("setting", "MCPGW_SOCKET"), LOG_S("error", err));
        config_free(&main_cfg);
        return 2;
    }
    if (main_cfg.status_listen[0] != '\0') {
        lane_fd = listen_open(main_cfg.status_listen, main_cfg.socket_mode, err, sizeof(err));
        if (lane_fd < 0) {
            log_error("cannot listen", LOG_S("setting", "MCPGW_STATUS_SOCKET"),
                      LOG_S("error", err));
            close(fd);
            listen_cleanup(main_cfg.listen);
            config_free(&main_cfg);
            return 2;
        }
    }
    for (size_t i = 0; i < main_cfg.n_upstreams; i++)
        log_info("upstream", LOG_S("name", main_cfg.upstreams[i].name),
                 LOG_S("url", main_cfg.upstreams[i].url_shown));
    log_info("listening", LOG_S("socket", main_cfg.listen),
             LOG_S("status_socket", lane_fd >= 0 ? main_cfg.status_listen : NULL));
    main_runtime_file(pid_file, sizeof(pid_file), main_cfg.runtime_dir, "pool.pid");
    main_runtime_file(swap_file, sizeof(swap_file), main_cfg.runtime_dir, "pool.swap");
    opts = (pool_opts_t){
        .mode = main_cfg.pm == CONFIG_PM_DYNAMIC ? POOL_DYNAMIC
                : main_cfg.pm == CONFIG_PM_ONDEMAND ? POOL_ONDEMAND : POOL_STATIC,
        .mode_name = main_cfg.pm_name,
        .max_children = main_cfg.workers,
        .start = main_cfg.pm_start,
        .min_spare = main_cfg.pm_min_spare,
        .max_spare = main_cfg.pm_max_spare,
        .idle_timeout = main_cfg.pm_idle_timeout,
        .request_timeout = main_cfg.request_timeout,
        .start_timeout = main_cfg.worker_start_timeout,
        .stop_timeout = main_cfg.stop_timeout,
        .max_requests = main_cfg.max_requests,
        .exe = exe,
        /* Inline upstreams travel in the environment, which workers inherit unchanged. */
        .conf_path = main_cfg.upstreams_inline ? NULL : main_cfg.upstreams_file,
        .conf_max = MAIN_CONF_MAX,
        .conf_check = main_check_upstreams,
        .conf_ctx = &main_cfg,
        .lane_fd = lane_fd,
        .pid_file = pid_file,
        .swap_file = swap_file,
    };
    rc = pool_run(&opts, fd);
    close(fd);
    listen_cleanup(main_cfg.listen);
    if (lane_fd >= 0) {
        close(lane_fd);
        listen_cleanup(main_cfg.status_listen);
    }
    config_free(&main_cfg);
    return rc;
}
