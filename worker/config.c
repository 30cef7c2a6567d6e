/* SPDX-License-Identifier: MIT */
/* config.c - read and validate MCPGW_* settings and the upstreams file. */
#include "config.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_HEADERS_MAX 32
#define CONFIG_HEADER_MAX 8192
#define CONFIG_URL_SECRETS_MAX 8   /* ${VAR}s in one URL whose values are hidden */

static int config_env_long(const char *name, long def, long min, long max, long *out,
                           char *err, size_t errlen)
{
    const char *v = getenv(name);
    char *end;
    long n;

    if (v == NULL || v[0] == '\0') {
        *out = def;
        return 0;
    }
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || end == v || n < min || n > max) {
        snprintf(err, errlen, "%s=\"%s\": expected a whole number from %ld to %ld",
                 name, v, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

static int config_env_str(const char *name, const char *def, char *out, size_t outlen,
                          char *err, size_t errlen)
{
    const char *v = getenv(name);

    if (v == NULL || v[0] == '\0')
        v = def;
    if (strlen(v) >= outlen) {
        snprintf(err, errlen, "%s=\"%.60s%s\": value longer than %zu bytes", name, v,
                 strlen(v) > 60 ? "..." : "", outlen - 1);
        return -1;
    }
    snprintf(out, outlen, "%s", v);
    return 0;
}

static int config_name_char(int c)
{
    return isalnum(c) || c == '_' || c == '-' || c == '.';
}

int config_upstream_name_ok(const char *name, const char *sep)
{
    char joined[UPSTREAM_NAME_MAX + CONFIG_SEP_MAX + 1];
    size_t n = strlen(name);

    if (n == 0 || n > UPSTREAM_NAME_MAX || strlen(sep) >= CONFIG_SEP_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!config_name_char((unsigned char)name[i]))
            return 0;
    /* The first occurrence of the separator in "name<sep>" must be the one we appended:
     * not inside the name, and not straddling its end ("a_" + "__" reads as "a" + "___"). */
    snprintf(joined, sizeof(joined), "%s%s", name, sep);
    return strstr(joined, sep) == joined + n;
}

static int config_loopback(const char *addr)
{
    return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
           strcmp(addr, "[::1]") == 0 || strcmp(addr, "localhost") == 0;
}

static int config_origins(config_t *c, char *err, size_t errlen)
{
    const char *v = getenv("MCPGW_ALLOWED_ORIGINS");
    const char *p;

    if (v == NULL)
        return 0;
    p = v;
    while (*p != '\0') {
        const char *e = strchr(p, ',');
        size_t n = e != NULL ? (size_t)(e - p) : strlen(p);

        while (n > 0 && isspace((unsigned char)*p)) {
            p++;
            n--;
        }
        while (n > 0 && isspace((unsigned char)p[n - 1]))
            n--;
        if (n > 0) {
            if (c->n_origins == CONFIG_ORIGINS_MAX) {
                snprintf(err, errlen, "MCPGW_ALLOWED_ORIGINS: more than %d origins",
                         CONFIG_ORIGINS_MAX);
                return -1;
            }
            if (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0) {
                snprintf(err, errlen, "MCPGW_ALLOWED_ORIGINS: \"%.*s\" is not an origin "
                         "(expected http://host[:port] or https://host[:port])", (int)n, p);
                return -1;
            }
            c->origins[c->n_origins] = strndup(p, n);
            if (c->origins[c->n_origins] == NULL) {
                snprintf(err, errlen, "MCPGW_ALLOWED_ORIGINS: out of memory");
                return -1;
            }
            c->n_origins++;
        }
        if (e == NULL)
            break;
        p = e + 1;
    }
    return 0;
}

static int config_env_set(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0';
}

/* A setting that only one MCPGW_PM mode reads may not be set for another: a value that
 * silently does nothing is a typo waiting to bite. */
static int config_pm_only(const config_t *c, const char *name, int mode, const char *mode_name,
                          char *err, size_t errlen)
{
    if (c->pm == mode || !config_env_set(name))
        return 0;
    snprintf(err, errlen, "%s=\"%s\": only used when MCPGW_PM=%s (MCPGW_PM is %s)", name,
             getenv(name), mode_name, c->pm_name);
    return -1;
}

/* "MCPGW_PM_MAX_SPARE=3" or "MCPGW_PM_MAX_SPARE=3 (default)" for cross-field messages. */
static const char *config_named(char *buf, size_t len, const char *name, long value)
{
    snprintf(buf, len, "%s=%ld%s", name, value, config_env_set(name) ? "" : " (default)");
    return buf;
}

/* MCPGW_PM and the settings of each mode, checked against each other and MCPGW_WORKERS. */
static int config_pm(config_t *c, char *err, size_t errlen)
{
    static const char *const modes[] = {
        [CONFIG_PM_STATIC] = "static", [CONFIG_PM_DYNAMIC] = "dynamic",
        [CONFIG_PM_ONDEMAND] = "ondemand",
    };
    char a[96], b[96], w[96];
    long n, lo, hi, def;
    size_t i;

    if (config_env_str("MCPGW_PM", "static", c->pm_name, sizeof(c->pm_name), err, errlen) < 0)
        return -1;
    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        if (strcmp(c->pm_name, modes[i]) == 0)
            break;
    if (i == sizeof(modes) / sizeof(modes[0])) {
        snprintf(err, errlen, "MCPGW_PM=\"%s\": expected static, dynamic or ondemand",
                 c->pm_name);
        return -1;
    }
    c->pm = (int)i;
    if (config_pm_only(c, "MCPGW_PM_START", CONFIG_PM_DYNAMIC, "dynamic", err, errlen) < 0 ||
        config_pm_only(c, "MCPGW_PM_MIN_SPARE", CONFIG_PM_DYNAMIC, "dynamic", err,
                       errlen) < 0 ||
        config_pm_only(c, "MCPGW_PM_MAX_SPARE", CONFIG_PM_DYNAMIC, "dynamic", err,
                       errlen) < 0 ||
        config_pm_only(c, "MCPGW_PM_IDLE_TIMEOUT", CONFIG_PM_ONDEMAND, "ondemand", err,
                       errlen) < 0)
        return -1;
    /* Defaults in the spirit of php-fpm's: one spare at least, three at most (never more
     * than the pool may hold), and half way between to start. */
    if (config_env_long("MCPGW_PM_MIN_SPARE", 1, 1, 512, &lo, err, errlen) < 0)
        return -1;
    def = c->workers < 3 ? c->workers : 3;
    if (def < lo)
        def = lo;
    if (config_env_long("MCPGW_PM_MAX_SPARE", def, 1, 512, &hi, err, errlen) < 0 ||
        config_env_long("MCPGW_PM_START", lo + (hi - lo) / 2, 1, 512, &n, err, errlen) < 0)
        return -1;
    c->pm_min_spare = (int)lo;
    c->pm_max_spare = (int)hi;
    c->pm_start = (int)n;
    if (c->pm == CONFIG_PM_DYNAMIC) {
        config_named(a, sizeof(a), "MCPGW_PM_MIN_SPARE", lo);
        config_named(b, sizeof(b), "MCPGW_PM_MAX_SPARE", hi);
        config_named(w, sizeof(w), "MCPGW_WORKERS", c->workers);
        /* Checked first: the default maximum follows the minimum, so a minimum above
         * MCPGW_WORKERS would otherwise be blamed on a maximum nobody set. */
        if (lo > c->workers) {
            snprintf(err, errlen, "%s: more than %s, the most workers MCPGW_PM=dynamic runs",
                     a, w);
            return -1;
        }
        if (lo > hi) {
            snprintf(err, errlen, "%s: more than %s", a, b);
            return -1;
        }
        if (hi > c->workers) {
            snprintf(err, errlen, "%s: more than %s, the most workers MCPGW_PM=dynamic runs",
                     b, w);
            return -1;
        }
        if (n < lo || n > hi) {
            snprintf(err, errlen, "MCPGW_PM_START=%ld%s: must lie between %s and %s", n,
                     config_env_set("MCPGW_PM_START") ? "" : " (default)", a, b);
            return -1;
        }
    }
    if (config_env_long("MCPGW_PM_IDLE_TIMEOUT", 10, 1, 86400, &n, err, errlen) < 0)
        return -1;
    c->pm_idle_timeout = (int)n;
    if (config_env_long("MCPGW_MAX_REQUESTS", 0, 0, 1000000000L, &c->max_requests,
                        err, errlen) < 0 ||
        config_env_long("MCPGW_SLOW_MS", 5000, 0, 3600000L, &c->slow_ms, err, errlen) < 0)
        return -1;
    if (config_env_long("MCPGW_REQUEST_TIMEOUT", 60, 0, 86400, &n, err, errlen) < 0)
        return -1;
    c->request_timeout = (int)n;
    if (config_env_long("MCPGW_WORKER_START_TIMEOUT", 10, 1, 600, &n, err, errlen) < 0)
        return -1;
    c->worker_start_timeout = (int)n;
    return 0;
}

/* MCPGW_STATUS_ALLOW: "any", or a comma-separated list of CIDR ranges and the word
 * "loopback"; unset means loopback only. */
static int config_status_allow(config_t *c, char *err, size_t errlen)
{
    const char *v = getenv("MCPGW_STATUS_ALLOW");
    const char *p;

    c->status_allow_any = 0;
    c->n_status_allow = 0;
    if (v == NULL || v[0] == '\0')
        v = "loopback";
    if (strcmp(v, "any") == 0) {
        c->status_allow_any = 1;
        return 0;
    }
    p = v;
    while (*p != '\0') {
        const char *e = strchr(p, ',');
        size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
        char item[CIDR_TEXT_MAX], why[160];

        while (n > 0 && isspace((unsigned char)*p)) {
            p++;
            n--;
        }
        while (n > 0 && isspace((unsigned char)p[n - 1]))
            n--;
        if (n >= sizeof(item)) {
            snprintf(err, errlen, "MCPGW_STATUS_ALLOW: \"%.*s...\" is too long", 40, p);
            return -1;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        if (n > 0) {
            const char *const ranges[2] = { "127.0.0.0/8", "::1/128" };
            int loop = strcmp(item, "loopback") == 0;

            for (int k = 0; k < (loop ? 2 : 1); k++) {
                if (c->n_status_allow == CONFIG_STATUS_ALLOW_MAX) {
                    snprintf(err, errlen, "MCPGW_STATUS_ALLOW: more than %d ranges",
                             CONFIG_STATUS_ALLOW_MAX);
                    return -1;
                }
                if (cidr_parse(loop ? ranges[k] : item, &c->status_allow[c->n_status_allow],
                               why, sizeof(why)) < 0) {
                    snprintf(err, errlen, "MCPGW_STATUS_ALLOW: \"%s\": %s (expected any, "
                             "loopback or ranges such as 10.0.0.0/8, fd00::/8)", item, why);
                    return -1;
                }
                c->n_status_allow++;
            }
        }
        if (e == NULL)
            break;
        p = e + 1;
    }
    if (c->n_status_allow == 0) {
        snprintf(err, errlen, "MCPGW_STATUS_ALLOW=\"%s\": no address range (expected any, "
                 "loopback or ranges such as 10.0.0.0/8)", v);
        return -1;
    }
    return 0;
}

/* Expand ${VAR} references in a header value from the environment. */
static char *config_expand(const char *in, const char *where, char *err, size_t errlen)
{
    char out[CONFIG_HEADER_MAX];
    size_t o = 0;

    for (const char *p = in; *p != '\0';) {
        const char *val;
        size_t vl;

        if (p[0] == '$' && p[1] == '{') {
            const char *close = strchr(p + 2, '}');
            char var[128];
            size_t n;

            if (close == NULL || close == p + 2 || (size_t)(close - p - 2) >= sizeof(var)) {
                snprintf(err, errlen, "%s: malformed ${...} reference", where);
                return NULL;
            }
            n = (size_t)(close - p - 2);
            memcpy(var, p + 2, n);
            var[n] = '\0';
            val = getenv(var);
            if (val == NULL) {
                snprintf(err, errlen, "%s: environment variable %s is not set", where, var);
                return NULL;
            }
            vl = strlen(val);
            p = close + 1;
        } else {
            val = p;
            vl = 1;
            p++;
        }
        if (o + vl >= sizeof(out)) {
            snprintf(err, errlen, "%s: value longer than %zu bytes", where, sizeof(out) - 1);
            return NULL;
        }
        memcpy(out + o, val, vl);
        o += vl;
    }
    out[o] = '\0';
    for (size_t i = 0; i < o; i++) {
        if (out[i] == '\r' || out[i] == '\n') {
            snprintf(err, errlen, "%s: value contains a line break", where);
            return NULL;
        }
    }
    return strdup(out);
}

static void config_free_upstreams(config_t *c)
{
    for (size_t i = 0; i < c->n_upstreams; i++) {
        upstream_conf_t *u = &c->upstreams[i];

        free(u->url);
        free(u->url_shown);
        for (char **p = u->url_secrets; p != NULL && *p != NULL; p++)
            free(*p);
        free(u->url_secrets);
        if (u->headers != NULL) {
            for (char **h = u->headers; *h != NULL; h++)
                free(*h);
            free(u->headers);
        }
        memset(u, 0, sizeof(*u));
    }
    c->n_upstreams = 0;
}

/* The configured URL (before ${VAR} expansion) as logs may show it: user info and the
 * query may carry credentials, so "https://u:p@h/x?key=v" is shown as "https://h/x?...". */
static char *config_url_shown(const char *url)
{
    const char *auth = strstr(url, "://");
    const char *host, *at, *path, *query;
    size_t authlen, pathlen, len;
    char *out;

    if (auth == NULL)
        return strdup("(not a URL)");
    auth += 3;
    authlen = strcspn(auth, "/?#");
    host = auth;
    at = memrchr(auth, '@', authlen);
    if (at != NULL)
        host = at + 1;
    path = auth + authlen;
    pathlen = strcspn(path, "?#");
    query = path[pathlen] == '?' ? "?..." : "";
    len = (size_t)(auth - url) + (size_t)(auth + authlen - host) + pathlen + strlen(query) + 1;
    out = malloc(len);
    if (out == NULL)
        return NULL;
    snprintf(out, len, "%.*s%.*s%.*s%s", (int)(auth - url), url, (int)(auth + authlen - host),
             host, (int)pathlen, path, query);
    return out;
}

static int config_header_name_ok(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
            return 0;
    return 1;
}

/* Every member of obj is one of known (NULL-terminated, at most 8 names), and none
 * appears twice: JSON allows duplicate keys and cJSON would quietly read the first, so
 * a second "url" would be a setting that silently does nothing.  where names obj. */
static int config_known_keys(const cJSON *obj, const char *const known[], const char *where,
                             char *err, size_t errlen)
{
    unsigned seen[8] = { 0 };
    const cJSON *f;
    char list[128];
    size_t o = 0;

    list[0] = '\0';
    for (size_t k = 0; known[k] != NULL && k < 8; k++)
        o += (size_t)snprintf(list + o, o < sizeof(list) ? sizeof(list) - o : 0, "%s%s",
                              k > 0 ? ", " : "", known[k]);
    cJSON_ArrayForEach(f, obj) {
        size_t k;

        for (k = 0; known[k] != NULL && k < 8; k++)
            if (strcmp(f->string, known[k]) == 0)
                break;
        if (known[k] == NULL || k == 8) {
            snprintf(err, errlen, "%s: unknown key \"%s\" (known: %s)", where, f->string, list);
            return -1;
        }
        if (seen[k]++ > 0) {
            snprintf(err, errlen, "%s: key \"%s\" given twice", where, f->string);
            return -1;
        }
    }
    return 0;
}

static int config_parse_one(config_t *c, const cJSON *item, size_t idx, const char *source,
                            char *err, size_t errlen)
{
    static const char *const known[] = { "name", "url", "headers", "timeout_ms", NULL };
    upstream_conf_t *u = &c->upstreams[idx];
    const cJSON *name, *url, *headers, *timeout, *f;
    char where[256];

    if (!cJSON_IsObject(item)) {
        snprintf(err, errlen, "%s: upstreams[%zu] is not an object", source, idx);
        return -1;
    }
    snprintf(where, sizeof(where), "%s: upstreams[%zu]", source, idx);
    if (config_known_keys(item, known, where, err, errlen) < 0)
        return -1;
    name = cJSON_GetObjectItemCaseSensitive(item, "name");
    if (!cJSON_IsString(name) || !config_upstream_name_ok(name->valuestring, c->separator)) {
        snprintf(err, errlen, "%s: upstreams[%zu].name %s%s%s: expected 1-%d characters of "
                 "A-Z a-z 0-9 _ - . not containing the separator \"%s\"", source, idx,
                 cJSON_IsString(name) ? "\"" : "", cJSON_IsString(name) ? name->valuestring
                 : "(missing)", cJSON_IsString(name) ? "\"" : "", UPSTREAM_NAME_MAX,
                 c->separator);
        return -1;
    }
    for (size_t j = 0; j < idx; j++) {
        if (strcmp(c->upstreams[j].name, name->valuestring) == 0) {
            snprintf(err, errlen, "%s: upstreams[%zu].name \"%s\" is used twice: prefixed "
                     "tool names would collide", source, idx, name->valuestring);
            return -1;
        }
    }
    snprintf(u->name, sizeof(u->name), "%s", name->valuestring);
    url = cJSON_GetObjectItemCaseSensitive(item, "url");
    snprintf(where, sizeof(where), "%s: upstreams[%zu] (\"%s\").url", source, idx, u->name);
    if (!cJSON_IsString(url)) {
        snprintf(err, errlen, "%s: expected an http:// or https:// URL", where);
        return -1;
    }
    /* ${VAR} works in URLs as in headers, for servers that take a key in the URL. */
    u->url = config_expand(url->valuestring, where, err, errlen);
    if (u->url == NULL)
        return -1;
    if (strncmp(u->url, "http://", 7) != 0 && strncmp(u->url, "https://", 8) != 0) {
        snprintf(err, errlen, "%s: expected an http:// or https:// URL", where);
        return -1;
    }
    u->url_shown = config_url_shown(url->valuestring);
    /* The values its ${VAR}s took: curl's messages may quote the host or path, and they
     * reach logs and clients, so the upstream client hides these in every message. */
    {
        size_t n = 0;

        u->url_secrets = calloc(CONFIG_URL_SECRETS_MAX + 1, sizeof(char *));
        for (const char *p = strstr(url->valuestring, "${"); u->url_secrets != NULL &&
             p != NULL && n < CONFIG_URL_SECRETS_MAX; p = strstr(p + 2, "${")) {
            const char *close = strchr(p + 2, '}');
            char var[128];
            const char *val;

            if (close == NULL || (size_t)(close - p - 2) >= sizeof(var))
                break;
            memcpy(var, p + 2, (size_t)(close - p - 2));
            var[close - p - 2] = '\0';
            val = getenv(var);
            if (val != NULL && val[0] != '\0')
                u->url_secrets[n++] = strdup(val);
        }
    }
    u->timeout_ms = c->upstream_timeout_ms;
    u->connect_timeout_ms = c->upstream_connect_timeout_ms;
    timeout = cJSON_GetObjectItemCaseSensitive(item, "timeout_ms");
    if (timeout != NULL) {
        if (!cJSON_IsNumber(timeout) || timeout->valuedouble < 100 ||
            timeout->valuedouble > 600000) {
            snprintf(err, errlen, "%s: upstreams[%zu] (\"%s\").timeout_ms: expected a number "
                     "from 100 to 600000", source, idx, u->name);
            return -1;
        }
        u->timeout_ms = (long)timeout->valuedouble;
    }
    if (u->connect_timeout_ms > u->timeout_ms)
        u->connect_timeout_ms = u->timeout_ms;
    u->headers = calloc(CONFIG_HEADERS_MAX + 1, sizeof(char *));
    if (u->url_shown == NULL || u->headers == NULL) {
        snprintf(err, errlen, "%s: out of memory", source);
        return -1;
    }
    headers = cJSON_GetObjectItemCaseSensitive(item, "headers");
    if (headers != NULL && !cJSON_IsObject(headers)) {
        snprintf(err, errlen, "%s: upstreams[%zu] (\"%s\").headers: expected an object of "
                 "\"Name\": \"value\"", source, idx, u->name);
        return -1;
    }
    size_t nh = 0;
    cJSON_ArrayForEach(f, headers) {
        char *val, *line;
        size_t len;

        snprintf(where, sizeof(where), "%s: upstreams[%zu] (\"%s\").headers.%s", source, idx,
                 u->name, f->string);
        if (!config_header_name_ok(f->string) || !cJSON_IsString(f)) {
            snprintf(err, errlen, "%s: expected a header name and a string value", where);
            return -1;
        }
        if (nh == CONFIG_HEADERS_MAX) {
            snprintf(err, errlen, "%s: more than %d headers", where, CONFIG_HEADERS_MAX);
            return -1;
        }
        for (size_t j = 0; j < nh; j++) {
            size_t n = strlen(f->string);

            /* Header names are case-insensitive: "authorization" repeats "Authorization". */
            if (strncasecmp(u->headers[j], f->string, n) == 0 && u->headers[j][n] == ':') {
                snprintf(err, errlen, "%s: header given twice", where);
                return -1;
            }
        }
        val = config_expand(f->valuestring, where, err, errlen);
        if (val == NULL)
            return -1;
        len = strlen(f->string) + strlen(val) + 3;
        line = malloc(len);
        if (line == NULL) {
            free(val);
            snprintf(err, errlen, "%s: out of memory", where);
            return -1;
        }
        snprintf(line, len, "%s: %s", f->string, val);
        free(val);
        u->headers[nh++] = line;
    }
    return 0;
}

int config_parse_upstreams(config_t *c, const char *text, const char *source,
                           char *err, size_t errlen)
{
    static const char *const top_keys[] = { "separator", "upstreams", NULL };
    cJSON *doc = NULL, *list, *sep, *f;
    int rc = -1;

    config_free_upstreams(c);
    snprintf(c->separator, sizeof(c->separator), "__");
    doc = cJSON_ParseWithOpts(text, NULL, 1);   /* refuse trailing data */
    if (doc == NULL || !cJSON_IsObject(doc)) {
        const char *at = cJSON_GetErrorPtr();

        snprintf(err, errlen, "%s: not a JSON object%s%.20s%s", source,
                 doc == NULL && at != NULL ? " (error near \"" : "",
                 doc == NULL && at != NULL ? at : "", doc == NULL && at != NULL ? "\")" : "");
        goto fail;
    }
    if (config_known_keys(doc, top_keys, source, err, errlen) < 0)
        goto fail;
    sep = cJSON_GetObjectItemCaseSensitive(doc, "separator");
    if (sep != NULL) {
        size_t n = cJSON_IsString(sep) ? strlen(sep->valuestring) : 0;
        int ok = n > 0 && n < sizeof(c->separator);

        for (size_t i = 0; ok && i < n; i++)
            ok = config_name_char((unsigned char)sep->valuestring[i]);
        if (!ok) {
            snprintf(err, errlen, "%s: separator: expected 1-%zu characters of A-Z a-z 0-9 _ - .",
                     source, sizeof(c->separator) - 1);
            goto fail;
        }
        snprintf(c->separator, sizeof(c->separator), "%s", sep->valuestring);
    }
    list = cJSON_GetObjectItemCaseSensitive(doc, "upstreams");
    if (!cJSON_IsArray(list)) {
        snprintf(err, errlen, "%s: \"upstreams\" must be an array", source);
        goto fail;
    }
    if (cJSON_GetArraySize(list) > CONFIG_UPSTREAMS_MAX) {
        snprintf(err, errlen, "%s: more than %d upstreams", source, CONFIG_UPSTREAMS_MAX);
        goto fail;
    }
    size_t i = 0;
    cJSON_ArrayForEach(f, list) {
        c->n_upstreams = i + 1;
        if (config_parse_one(c, f, i, source, err, errlen) < 0)
            goto fail;
        i++;
    }
    rc = 0;
fail:
    cJSON_Delete(doc);
    return rc;
}

static int config_read_upstreams(config_t *c, char *err, size_t errlen)
{
    FILE *fp = fopen(c->upstreams_file, "r");
    char *text = NULL;
    size_t n;
    int rc = -1;

    if (fp == NULL) {
        snprintf(err, errlen, "MCPGW_UPSTREAMS=\"%s\": %s", c->upstreams_file, strerror(errno));
        return -1;
    }
    text = malloc(CONFIG_FILE_MAX + 1);
    if (text == NULL) {
        snprintf(err, errlen, "MCPGW_UPSTREAMS: out of memory");
        goto fail;
    }
    n = fread(text, 1, CONFIG_FILE_MAX + 1, fp);
    if (ferror(fp) || n > CONFIG_FILE_MAX) {
        snprintf(err, errlen, "MCPGW_UPSTREAMS=\"%s\": %s", c->upstreams_file,
                 ferror(fp) ? "read error" : "file larger than 1 MiB");
        goto fail;
    }
    text[n] = '\0';
    rc = config_parse_upstreams(c, text, c->upstreams_file, err, errlen);
fail:
    free(text);
    fclose(fp);
    return rc;
}

/* The upstreams come from the file MCPGW_UPSTREAMS names or, where no file can be
 * shipped (a Fargate task with a read-only image), from the text of MCPGW_UPSTREAMS_JSON.
 * Both set is refused: one of them would be silently ignored. */
static int config_upstreams(config_t *c, char *err, size_t errlen)
{
    const char *text = getenv("MCPGW_UPSTREAMS_JSON");

    if (text == NULL || text[0] == '\0')
        return config_read_upstreams(c, err, errlen);
    if (config_env_set("MCPGW_UPSTREAMS")) {
        snprintf(err, errlen, "MCPGW_UPSTREAMS_JSON and MCPGW_UPSTREAMS are both set: "
                 "set one of them");
        return -1;
    }
    if (strlen(text) > CONFIG_FILE_MAX) {
        snprintf(err, errlen, "MCPGW_UPSTREAMS_JSON: larger than 1 MiB");
        return -1;
    }
    snprintf(c->upstreams_file, sizeof(c->upstreams_file), "MCPGW_UPSTREAMS_JSON");
    c->upstreams_inline = 1;
    return config_parse_upstreams(c, text, "MCPGW_UPSTREAMS_JSON", err, errlen);
}

int config_load(config_t *c, char *err, size_t errlen)
{
    char def[CONFIG_PATH_MAX + 16];
    long n;

    memset(c, 0, sizeof(*c));
    snprintf(c->separator, sizeof(c->separator), "__");
    if (config_env_str("MCPGW_RUNTIME_DIR", "/run/mcpgw", c->runtime_dir,
                       sizeof(c->runtime_dir), err, errlen) < 0)
        return -1;
    snprintf(def, sizeof(def), "%s/fcgi.sock", c->runtime_dir);
    if (config_env_str("MCPGW_SOCKET", def, c->listen, sizeof(c->listen), err, errlen) < 0)
        return -1;
    {
        const char *m = getenv("MCPGW_SOCKET_MODE");
        char *end;
        unsigned long mode = 0660;

        if (m != NULL && m[0] != '\0') {
            errno = 0;
            mode = strtoul(m, &end, 8);
            if (errno != 0 || *end != '\0' || mode > 0777) {
                snprintf(err, errlen, "MCPGW_SOCKET_MODE=\"%s\": expected an octal mode such "
                         "as 0660", m);
                return -1;
            }
        }
        c->socket_mode = (unsigned)mode;
    }
    /* The status lane, php-fpm's pm.status_listen: one worker of its own on a second
     * socket answers /health and /status, so they answer while every pool worker is busy
     * with a slow upstream.  Beside a unix MCPGW_SOCKET by default; none for a TCP one
     * (give it a host:port when the pool runs in a container of its own), or "off". */
    if (strchr(c->listen, '/') != NULL)
        snprintf(def, sizeof(def), "%s/status.sock", c->runtime_dir);
    else
        snprintf(def, sizeof(def), "off");
    if (config_env_str("MCPGW_STATUS_SOCKET", def, c->status_listen, sizeof(c->status_listen),
                       err, errlen) < 0)
        return -1;
    if (strcmp(c->status_listen, "off") == 0)
        c->status_listen[0] = '\0';
    if (strcmp(c->status_listen, c->listen) == 0) {
        snprintf(err, errlen, "MCPGW_STATUS_SOCKET=\"%s\": the same as MCPGW_SOCKET (use "
                 "another socket, or off)", c->status_listen);
        return -1;
    }
    if (config_env_long("MCPGW_WORKERS", 4, 1, 512, &n, err, errlen) < 0)
        return -1;
    c->workers = (int)n;
    if (config_env_long("MCPGW_POOL_STOP_TIMEOUT", 20, 1, 600, &n, err, errlen) < 0)
        return -1;
    c->stop_timeout = (int)n;
    if (config_env_str("MCPGW_LOG_LEVEL", "info", c->log_level, sizeof(c->log_level),
                       err, errlen) < 0)
        return -1;
    if (strcmp(c->log_level, "debug") != 0 && strcmp(c->log_level, "info") != 0 &&
        strcmp(c->log_level, "warn") != 0 && strcmp(c->log_level, "error") != 0) {
        snprintf(err, errlen, "MCPGW_LOG_LEVEL=\"%s\": expected debug, info, warn or error",
                 c->log_level);
        return -1;
    }
    if (config_env_str("MCPGW_BIND", "127.0.0.1", c->bind, sizeof(c->bind), err, errlen) < 0)
        return -1;
    c->allow_loopback_origins = config_loopback(c->bind);
    snprintf(def, sizeof(def), "sqlite:%s/mcpgw.db", c->runtime_dir);
    if (config_env_str("MCPGW_STORE", def, c->store_url, sizeof(c->store_url), err, errlen) < 0)
        return -1;
    if (config_env_str("MCPGW_UPSTREAMS", "/etc/mcpgw/upstreams.json", c->upstreams_file,
                       sizeof(c->upstreams_file), err, errlen) < 0)
        return -1;
    if (config_env_long("MCPGW_SESSION_TTL", 3600, 60, 30L * 86400, &c->session_ttl,
                        err, errlen) < 0 ||
        config_env_long("MCPGW_CATALOG_TTL", 60, 1, 86400, &c->catalog_ttl, err, errlen) < 0 ||
        config_env_long("MCPGW_MAX_BODY", 1048576, 1024, 64L * 1048576, &c->max_body,
                        err, errlen) < 0 ||
        config_env_long("MCPGW_UPSTREAM_TIMEOUT_MS", 30000, 100, 600000,
                        &c->upstream_timeout_ms, err, errlen) < 0 ||
        config_env_long("MCPGW_UPSTREAM_CONNECT_TIMEOUT_MS", 3000, 100, 60000,
                        &c->upstream_connect_timeout_ms, err, errlen) < 0)
        return -1;
    if (config_env_long("MCPGW_PAGE_SIZE", 100, 1, 10000, &n, err, errlen) < 0)
        return -1;
    c->page_size = (int)n;
    if (config_pm(c, err, errlen) < 0 || config_status_allow(c, err, errlen) < 0)
        return -1;
    if (config_origins(c, err, errlen) < 0)
        return -1;
    return config_upstreams(c, err, errlen);
}

void config_free(config_t *c)
{
    config_free_upstreams(c);
    for (size_t i = 0; i < c->n_origins; i++)
        free(c->origins[i]);
    c->n_origins = 0;
}
