/* SPDX-License-Identifier: MIT */
/* status.c - the /status route: access check, scoreboard figures, listen queue. */
#include "status.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "sockq.h"

#define STATUS_TEXT_MAX (256 * 1024)   /* plain-text answer, every worker listed */

static scoreboard_t *status_sb;
static int status_fd = -1;

void status_attach(scoreboard_t *sb, int listen_fd)
{
    status_detach();
    status_sb = sb;
    if (listen_fd >= 0)
        status_fd = fcntl(listen_fd, F_DUPFD_CLOEXEC, 0);
}

void status_detach(void)
{
    if (status_fd >= 0)
        close(status_fd);
    status_fd = -1;
    status_sb = NULL;
}

int status_allowed(const config_t *cfg, const char *remote_addr)
{
    if (cfg->status_allow_any)
        return 1;
    for (size_t i = 0; i < cfg->n_status_allow; i++)
        if (cidr_match(&cfg->status_allow[i], remote_addr))
            return 1;
    return 0;
}

/* One figure of the answer: JSON key and its plain-text label. */
struct status_figure {
    const char *key;
    const char *label;
    int is_text;            /* s holds the value; else n (and null when known is 0) */
    int known;
    long long n;
    const char *s;
};

#define STATUS_N(k, l, v)  { .key = (k), .label = (l), .known = 1, .n = (long long)(v) }
#define STATUS_S(k, l, v)  { .key = (k), .label = (l), .is_text = 1, .known = (v) != NULL, .s = (v) }

static void status_worker_json(cJSON *arr, const scoreboard_slot_t *s, unsigned i,
                               long long now)
{
    cJSON *w = cJSON_CreateObject();
    long long busy = atomic_load(&s->busy_since_ms);

    cJSON_AddNumberToObject(w, "slot", i);
    cJSON_AddNumberToObject(w, "pid", atomic_load(&s->pid));
    cJSON_AddStringToObject(w, "state", scoreboard_state_name(atomic_load(&s->state)));
    cJSON_AddNumberToObject(w, "generation", atomic_load(&s->generation));
    cJSON_AddNumberToObject(w, "requests", (double)atomic_load(&s->requests));
    cJSON_AddNumberToObject(w, "age_s", (double)(now - atomic_load(&s->started_ms)) / 1000);
    if (busy != 0)
        cJSON_AddNumberToObject(w, "request_ms", (double)(now - busy));
    else
        cJSON_AddNullToObject(w, "request_ms");
    cJSON_AddStringToObject(w, "request", s->request);
    cJSON_AddItemToArray(arr, w);
}

/* Append to a bounded text buffer; output past the cap is dropped. */
__attribute__((format(printf, 3, 4)))
static void status_printf(char *buf, size_t *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*o >= STATUS_TEXT_MAX - 1)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *o, STATUS_TEXT_MAX - *o, fmt, ap);
    va_end(ap);
    if (n > 0)
        *o += (size_t)n < STATUS_TEXT_MAX - *o ? (size_t)n : STATUS_TEXT_MAX - 1 - *o;
}

void status_render(const scoreboard_t *sb, int listen_fd, int text, int full,
                   http_response_t *resp)
{
    scoreboard_counts_t c;
    long long now = scoreboard_now_ms(), qlen = -1, qcap = -1, maxq;
    char qerr[160] = "";
    const char *swap_err = sb->last_swap_error[0] != '\0' ? sb->last_swap_error : NULL;

    scoreboard_count(sb, &c);
    if (listen_fd < 0)
        snprintf(qerr, sizeof(qerr), "no listening socket");
    else if (sockq_length(listen_fd, &qlen, &qcap, qerr, sizeof(qerr)) < 0)
        qlen = qcap = -1;
    maxq = atomic_load(&sb->max_listen_queue);
    if (qlen > maxq)
        maxq = qlen;    /* the master samples; this request may have seen more */

    const struct status_figure f[] = {
        STATUS_S("pool", "pool", "mcpgw"),
        STATUS_S("mode", "process manager", sb->mode),
        STATUS_N("start_time", "start time", sb->start_time),
        STATUS_N("start_since", "start since", (now - sb->start_ms) / 1000),
        STATUS_N("accepted", "accepted conn", atomic_load(&sb->accepted)),
        { .key = "listen_queue", .label = "listen queue", .known = qlen >= 0, .n = qlen },
        { .key = "max_listen_queue", .label = "max listen queue", .known = maxq >= 0,
          .n = maxq },
        { .key = "listen_queue_len", .label = "listen queue len", .known = qcap >= 0,
          .n = qcap },
        STATUS_S("listen_queue_error", "listen queue error", qlen < 0 ? qerr : NULL),
        STATUS_N("idle", "idle processes", c.idle),
        STATUS_N("active", "active processes", c.busy),
        STATUS_N("starting", "starting processes", c.starting),
        STATUS_N("stopping", "stopping processes", c.stopping),
        STATUS_N("total", "total processes", c.total),
        STATUS_N("max_active", "max active processes", atomic_load(&sb->max_active)),
        STATUS_N("max_children", "max children", sb->max_children),
        STATUS_N("max_children_reached", "max children reached",
                 atomic_load(&sb->max_children_reached)),
        STATUS_N("slow_requests", "slow requests", atomic_load(&sb->slow_requests)),
        STATUS_N("restarts", "restarts", atomic_load(&sb->restarts)),
        STATUS_N("crashes", "crashes", atomic_load(&sb->crashes)),
        STATUS_N("timeouts", "request timeouts", atomic_load(&sb->timeouts)),
        STATUS_N("retired", "retired (max requests)", atomic_load(&sb->retired)),
        STATUS_N("crash_burst", "crash burst", atomic_load(&sb->crash_burst)),
        STATUS_N("generation", "generation", atomic_load(&sb->generation)),
        STATUS_N("swaps", "hot swaps", atomic_load(&sb->swaps)),
        STATUS_N("swap_failures", "hot swap failures", atomic_load(&sb->swap_failures)),
        STATUS_S("last_swap_error", "last hot swap error", swap_err),
    };
    size_t nf = sizeof(f) / sizeof(f[0]);

    if (!text) {
        cJSON *body = cJSON_CreateObject();

        for (size_t i = 0; i < nf; i++) {
            if (!f[i].known)
                cJSON_AddNullToObject(body, f[i].key);
            else if (f[i].is_text)
                cJSON_AddStringToObject(body, f[i].key, f[i].s);
            else if (strcmp(f[i].key, "crash_burst") == 0)
                cJSON_AddBoolToObject(body, f[i].key, f[i].n != 0);
            else
                cJSON_AddNumberToObject(body, f[i].key, (double)f[i].n);
        }
        if (full) {
            cJSON *arr = cJSON_AddArrayToObject(body, "workers");

            for (unsigned i = 0; i < sb->n_slots; i++)
                if (atomic_load(&sb->slots[i].pid) != 0)
                    status_worker_json(arr, &sb->slots[i], i, now);
        }
        http_response_json(resp, 200, body);
        cJSON_Delete(body);
        return;
    }

    char *buf = malloc(STATUS_TEXT_MAX);
    size_t o = 0;

    if (buf == NULL) {
        http_response_text(resp, 500, "text/plain", "out of memory\n");
        return;
    }
    buf[0] = '\0';
    for (size_t i = 0; i < nf; i++) {
        if (!f[i].known)
            status_printf(buf, &o, "%-24s %s\n", f[i].label, f[i].is_text ? "-" : "n/a");
        else if (f[i].is_text)
            status_printf(buf, &o, "%-24s %s\n", f[i].label, f[i].s);
        else
            status_printf(buf, &o, "%-24s %lld\n", f[i].label, f[i].n);
    }
    for (unsigned i = 0; full && i < sb->n_slots; i++) {
        const scoreboard_slot_t *s = &sb->slots[i];
        long long busy = atomic_load(&s->busy_since_ms);
        char ms[24];

        if (atomic_load(&s->pid) == 0)
            continue;
        if (busy != 0)
            snprintf(ms, sizeof(ms), "%lld", now - busy);
        else
            snprintf(ms, sizeof(ms), "-");
        status_printf(buf, &o, "\n%-24s %u\n%-24s %d\n%-24s %s\n%-24s %u\n%-24s %llu\n"
                      "%-24s %lld\n%-24s %s\n%-24s %s\n",
                      "slot", i, "pid", atomic_load(&s->pid),
                      "state", scoreboard_state_name(atomic_load(&s->state)),
                      "generation", atomic_load(&s->generation),
                      "requests", atomic_load(&s->requests),
                      "age s", (now - atomic_load(&s->started_ms)) / 1000,
                      "request ms", ms, "request", s->request[0] != '\0' ? s->request : "-");
    }
    http_response_text(resp, 200, "text/plain", buf);
    free(buf);
}

/* Whether the query string holds the parameter name (alone or as name=value). */
static int status_query_has(const char *query, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = query; p != NULL && *p != '\0';) {
        size_t len = strcspn(p, "&");

        if (len >= n && strncmp(p, name, n) == 0 && (len == n || p[n] == '='))
            return 1;
        p += len;
        if (*p == '&')
            p++;
    }
    return 0;
}

void status_handle(const config_t *cfg, const http_request_t *req, http_response_t *resp)
{
    const char *q = req->query != NULL ? req->query : "";
    int text;

    if (!status_allowed(cfg, req->remote_addr)) {
        http_response_text(resp, 403, "application/json", "{\"error\":\"forbidden\"}");
        return;
    }
    if (status_sb == NULL) {
        http_response_text(resp, 503, "application/json",
                           "{\"error\":\"no scoreboard: not running under the pool\"}");
        return;
    }
    text = status_query_has(q, "text") ||
           (!status_query_has(q, "json") && req->accept != NULL &&
            strncasecmp(req->accept, "text/plain", 10) == 0);
    status_render(status_sb, status_fd, text, status_query_has(q, "full"), resp);
}
