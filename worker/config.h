/* SPDX-License-Identifier: MIT */
/* config.h - every setting of the pool and the gateway, read once before fork.
 *
 * Settings come from MCPGW_* environment variables; the list of upstream MCP servers
 * comes from a JSON file (MCPGW_UPSTREAMS).  Every bad value stops startup with a
 * message naming the variable (or the file and JSON path) and the value.
 * docs/CONFIG.md is the reference for users; keep the two in step.
 */
#ifndef MCPGW_CONFIG_H
#define MCPGW_CONFIG_H

#include <stddef.h>
#include "cidr.h"
#include "upstream.h"

#define CONFIG_PATH_MAX     512
#define CONFIG_SEP_MAX      8
#define CONFIG_ORIGINS_MAX  32
#define CONFIG_UPSTREAMS_MAX 64
#define CONFIG_STATUS_ALLOW_MAX 16

/* MCPGW_PM: how the pool sizes itself (docs/OPERATIONS.md, "Process manager"). */
enum config_pm {
    CONFIG_PM_STATIC,       /* always MCPGW_WORKERS workers */
    CONFIG_PM_DYNAMIC,      /* between the spare bounds, at most MCPGW_WORKERS */
    CONFIG_PM_ONDEMAND,     /* none until a connection waits, idle ones retire */
};

typedef struct config {
    /* process */
    char runtime_dir[CONFIG_PATH_MAX];   /* MCPGW_RUNTIME_DIR, default /run/mcpgw */
    char listen[CONFIG_PATH_MAX];        /* MCPGW_SOCKET: unix path or host:port */
    unsigned socket_mode;                /* MCPGW_SOCKET_MODE (octal), default 0660 */
    char status_listen[CONFIG_PATH_MAX]; /* MCPGW_STATUS_SOCKET: the status lane's socket,
                                            "" for none */
    int workers;                         /* MCPGW_WORKERS, default 4 */
    int stop_timeout;                    /* MCPGW_POOL_STOP_TIMEOUT seconds, default 20 */
    char log_level[8];                   /* MCPGW_LOG_LEVEL */

    /* process manager (workers above is the pool size, or the most children) */
    int pm;                              /* MCPGW_PM: enum config_pm, default static */
    char pm_name[16];                    /* "static", "dynamic" or "ondemand" */
    int pm_start;                        /* MCPGW_PM_START: dynamic's first workers */
    int pm_min_spare;                    /* MCPGW_PM_MIN_SPARE: dynamic, fewest idle */
    int pm_max_spare;                    /* MCPGW_PM_MAX_SPARE: dynamic, most idle */
    int pm_idle_timeout;                 /* MCPGW_PM_IDLE_TIMEOUT s: ondemand, idle life */
    long max_requests;                   /* MCPGW_MAX_REQUESTS per worker, 0 = no limit */
    int request_timeout;                 /* MCPGW_REQUEST_TIMEOUT s, 0 = off */
    long slow_ms;                        /* MCPGW_SLOW_MS: slow request threshold, 0 = off */
    int worker_start_timeout;            /* MCPGW_WORKER_START_TIMEOUT s to become ready */
    int status_allow_any;                /* MCPGW_STATUS_ALLOW=any */
    cidr_t status_allow[CONFIG_STATUS_ALLOW_MAX]; /* else these ranges (default loopback) */
    size_t n_status_allow;

    /* gateway */
    char bind[64];                       /* MCPGW_BIND: lighttpd's address, default 127.0.0.1 */
    char store_url[CONFIG_PATH_MAX];     /* MCPGW_STORE, default sqlite:<runtime_dir>/mcpgw.db */
    char upstreams_file[CONFIG_PATH_MAX];/* MCPGW_UPSTREAMS, or "MCPGW_UPSTREAMS_JSON" */
    int upstreams_inline;                /* 1: the upstreams came from MCPGW_UPSTREAMS_JSON */
    long session_ttl;                    /* MCPGW_SESSION_TTL seconds */
    long catalog_ttl;                    /* MCPGW_CATALOG_TTL seconds */
    long max_body;                       /* MCPGW_MAX_BODY bytes */
    int page_size;                       /* MCPGW_PAGE_SIZE items per list page to clients */
    long upstream_timeout_ms;            /* MCPGW_UPSTREAM_TIMEOUT_MS, per-upstream default */
    long upstream_connect_timeout_ms;    /* MCPGW_UPSTREAM_CONNECT_TIMEOUT_MS */
    char *origins[CONFIG_ORIGINS_MAX];   /* MCPGW_ALLOWED_ORIGINS, comma separated */
    size_t n_origins;
    int allow_loopback_origins;          /* bind is a loopback address */

    /* federation (from the upstreams file) */
    char separator[CONFIG_SEP_MAX];      /* "separator", default "__" */
    upstream_conf_t upstreams[CONFIG_UPSTREAMS_MAX];
    size_t n_upstreams;
} config_t;

/* Fill c from the environment and the upstreams file.  Returns 0, or -1 with err
 * naming the setting and the value; c must still be released with config_free. */
int config_load(config_t *c, char *err, size_t errlen);

/* Parse the upstreams document text (the file's content) into c (replacing any
 * upstreams already there).  `source` names the file in messages.  0 or -1 with err. */
int config_parse_upstreams(config_t *c, const char *text, const char *source,
                           char *err, size_t errlen);

/* Release what config_load allocated; safe on a zeroed or failed config. */
void config_free(config_t *c);

/* Whether name is a valid upstream name for separator sep: charset, length, and the
 * first occurrence of sep in "name<sep>" is the appended one (otherwise prefixed names
 * would be ambiguous). */
int config_upstream_name_ok(const char *name, const char *sep);

#endif
