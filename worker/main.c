/* SPDX-License-Identifier: MIT */
/* main.c - mcpgw-pool: read the configuration, bind the FastCGI socket, run the pool. */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "listen.h"
#include "log.h"
#include "pool.h"
#include "serve.h"
#include "store.h"

static config_t main_cfg;

int main(int argc, char **argv)
{
    char err[1024];
    int fd, rc, check_only = argc > 1 && strcmp(argv[1], "--check-config") == 0;
    pool_opts_t opts;

    if (argc > 1 && !check_only) {
        fprintf(stderr, "usage: %s [--check-config]\nSettings come from MCPGW_* environment "
                "variables: see docs/CONFIG.md\n", argv[0]);
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
    if (check_only) {
        log_info("configuration ok", LOG_I("upstreams", (long long)main_cfg.n_upstreams));
        config_free(&main_cfg);
        return 0;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("cannot start", LOG_S("error", "curl_global_init failed"));
        config_free(&main_cfg);
        return 1;
    }
    fd = listen_open(main_cfg.listen, main_cfg.socket_mode, err, sizeof(err));
    if (fd < 0) {
        log_error("cannot listen", LOG_S("error", err));
        config_free(&main_cfg);
        return 2;
    }
    for (size_t i = 0; i < main_cfg.n_upstreams; i++)
        log_info("upstream", LOG_S("name", main_cfg.upstreams[i].name),
                 LOG_S("url", main_cfg.upstreams[i].url));
    log_info("listening", LOG_S("socket", main_cfg.listen));
    opts.workers = main_cfg.workers;
    opts.stop_timeout = main_cfg.stop_timeout;
    rc = pool_run(&opts, fd, serve_worker, &main_cfg);
    listen_cleanup(main_cfg.listen);
    curl_global_cleanup();
    config_free(&main_cfg);
    return rc;
}
