/* SPDX-License-Identifier: MIT */
/* federation.c - merged catalogue, name prefixing, upstream sessions and call routing. */
#include "federation.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "digest.h"
#include "jsonrpc.h"
#include "log.h"

#define FED_PAGES_MAX      100     /* pages read from one upstream per listing */
#define FED_ITEMS_MAX      10000   /* items in one merged catalogue */
#define FED_PARTIAL_TTL    5       /* seconds a catalogue missing an upstream is kept */
#define FED_BUILD_LOCK_TTL 60      /* seconds one worker may hold the rebuild lock */
#define FED_SID_MAX        1025    /* upstream.c accepts session ids up to 1024 bytes */

/* What differs between the kinds of things the gateway federates. */
struct fed_kind_desc {
    const char *list_method;   /* request listing them */
    const char *array_key;     /* result member holding the array */
    const char *call_method;   /* request using one of them by name (NULL: none) */
    const char *cache_key;     /* store key of the merged catalogue */
    const char *capability;    /* upstream capability that announces them */
    const char *noun;          /* for messages */
    const char *key;           /* member naming an item */
    int prefixed;              /* key gets the upstream's prefix (names); URIs stay as they
                                * are, and reads are routed by the catalogue's owners */
    int changed_bit;           /* UPSTREAM_*_CHANGED that drops this catalogue */
};

static const struct fed_kind_desc fed_kinds[FED_KIND_COUNT] = {
    [FED_TOOLS] = {
        .list_method = "tools/list", .array_key = "tools", .call_method = "tools/call",
        .cache_key = "c:tools", .capability = "tools", .noun = "tool", .key = "name",
        .prefixed = 1, .changed_bit = UPSTREAM_TOOLS_CHANGED,
    },
    [FED_PROMPTS] = {
        .list_method = "prompts/list", .array_key = "prompts", .call_method = "prompts/get",
        .cache_key = "c:prompts", .capability = "prompts", .noun = "prompt", .key = "name",
        .prefixed = 1, .changed_bit = UPSTREAM_PROMPTS_CHANGED,
    },
    [FED_RESOURCES] = {
        .list_method = "resources/list", .array_key = "resources",
        .cache_key = "c:resources", .capability = "resources", .noun = "resource",
        .key = "uri", .changed_bit = UPSTREAM_RESOURCES_CHANGED,
    },
    [FED_TEMPLATES] = {
        .list_method = "resources/templates/list", .array_key = "resourceTemplates",
        .cache_key = "c:resource_templates", .capability = "resources",
        .noun = "resource template", .key = "uriTemplate",
        .changed_bit = UPSTREAM_RESOURCES_CHANGED,
    },
};

#define FED_URI_MAX 2048   /* longest resource URI or URI template federated */

/* The store key of kind's merged catalogue: its cache_key and a fingerprint of the
 * upstreams it is built from (separator, names, URLs as logs show them), so that a hot
 * swap to another upstreams file, or a rolling deploy where tasks still run the old one,
 * never serves or overwrites a catalogue of other upstreams. */
static const char *fed_cache_key(gateway_t *g, enum fed_kind kind, char *out, size_t outlen)
{
    if (g->fed_fp[0] == '\0') {
        char hex[DIGEST_HEX_LEN + 1], *text;
        size_t len = strlen(g->cfg->separator) + 2, o = 0;

        for (size_t i = 0; i < g->cfg->n_upstreams; i++)
            len += strlen(g->cfg->upstreams[i].name) + strlen(g->cfg->upstreams[i].url_shown) + 2;
        text = malloc(len);
        if (text != NULL) {
            o += (size_t)snprintf(text + o, len - o, "%s\n", g->cfg->separator);
            for (size_t i = 0; i < g->cfg->n_upstreams; i++)
                o += (size_t)snprintf(text + o, len - o, "%s %s\n", g->cfg->upstreams[i].name,
                                      g->cfg->upstreams[i].url_shown);
        }
        if (text != NULL && digest_sha256_hex(hex, text, o) == 0)
            snprintf(g->fed_fp, sizeof(g->fed_fp), "%.12s", hex);
        else
            snprintf(g->fed_fp, sizeof(g->fed_fp), "any");
        free(text);
    }
    snprintf(out, outlen, "%s:%s", fed_kinds[kind].cache_key, g->fed_fp);
    return out;
}

/* One upstream session as recorded in the store. */
struct fed_usession {
    char sid[FED_SID_MAX];     /* "" when the upstream is stateless */
    char proto[32];            /* protocol version negotiated with that upstream */
    unsigned caps;             /* 1 << fed_kind for each capability it announced */
};

static int fed_name_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}

int fed_name_join(char *out, size_t outlen, const char *upstream, const char *sep,
                  const char *name)
{
    int n;

    if (name[0] == '\0')
        return -1;
    for (const char *p = name; *p != '\0'; p++)
        if (!fed_name_char((unsigned char)*p))
            return -1;
    n = snprintf(out, outlen, "%s%s%s", upstream, sep, name);
    if (n < 0 || (size_t)n >= outlen || n > FED_NAME_MAX)
        return -1;
    return 0;
}

int fed_name_split(const config_t *cfg, const char *full, const char **rest)
{
    const char *at = strstr(full, cfg->separator);
    size_t n;

    if (at == NULL || at == full)
        return -1;
    n = (size_t)(at - full);
    for (size_t i = 0; i < cfg->n_upstreams; i++) {
        if (strlen(cfg->upstreams[i].name) == n && memcmp(cfg->upstreams[i].name, full, n) == 0) {
            *rest = at + strlen(cfg->separator);
            return (*rest)[0] != '\0' ? (int)i : -1;
        }
    }
    return -1;
}

static void fed_usession_key(char *out, size_t outlen, const char *gsid, const char *name)
{
    snprintf(out, outlen, "u:%s:%s", gsid, name);
}

static int fed_usession_load(gateway_t *g, const char *key, struct fed_usession *us,
                             char *err, size_t errlen)
{
    char *v = NULL;
    size_t len;
    cJSON *doc;
    const cJSON *sid, *proto, *caps;
    int rc = store_get(g->store, key, &v, &len, NULL, err, errlen);

    if (rc <= 0)
        return rc;
    doc = cJSON_ParseWithLength(v, len);
    free(v);
    sid = cJSON_GetObjectItemCaseSensitive(doc, "sid");
    proto = cJSON_GetObjectItemCaseSensitive(doc, "v");
    caps = cJSON_GetObjectItemCaseSensitive(doc, "caps");
    if (!cJSON_IsString(sid) || !cJSON_IsString(proto) || !cJSON_IsNumber(caps)) {
        cJSON_Delete(doc);
        return 0;  /* unreadable record: treat as absent, it will be replaced */
    }
    snprintf(us->sid, sizeof(us->sid), "%s", sid->valuestring);
    snprintf(us->proto, sizeof(us->proto), "%s", proto->valuestring);
    us->caps = (unsigned)caps->valuedouble;
    cJSON_Delete(doc);
    return 1;
}

static cJSON *fed_request(gateway_t *g, const char *method, cJSON *params)
{
    cJSON *m = cJSON_CreateObject();

    cJSON_AddStringToObject(m, "jsonrpc", "2.0");
    cJSON_AddNumberToObject(m, "id", (double)++g->next_id);
    cJSON_AddStringToObject(m, "method", method);
    if (params != NULL)
        cJSON_AddItemToObject(m, "params", params);
    return m;
}

/* Run the initialize handshake with upstream i and fill us.  0 or -1 with err. */
static int fed_usession_open(gateway_t *g, size_t i, struct fed_usession *us,
                             char *err, size_t errlen)
{
    upstream_t *u = g->up[i];
    upstream_reply_t reply = { 0 };
    cJSON *params = cJSON_CreateObject(), *msg, *info, *note;
    const cJSON *result, *proto, *caps;
    int rc = -1;

    cJSON_AddStringToObject(params, "protocolVersion", "2025-11-25");
    cJSON_AddItemToObject(params, "capabilities", cJSON_CreateObject());
    info = cJSON_AddObjectToObject(params, "clientInfo");
    cJSON_AddStringToObject(info, "name", "mcpgw");
    cJSON_AddStringToObject(info, "version", MCPGW_VERSION);
    msg = fed_request(g, "initialize", params);
    if (upstream_post(u, msg, NULL, NULL, &reply, err, errlen) < 0)
        goto fail;
    result = cJSON_GetObjectItemCaseSensitive(reply.message, "result");
    proto = cJSON_GetObjectItemCaseSensitive(result, "protocolVersion");
    if (reply.http_status != 200 || !cJSON_IsString(proto)) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(reply.message, "error");
        const cJSON *em = cJSON_GetObjectItemCaseSensitive(e, "message");

        snprintf(err, errlen, "initialize failed: HTTP %ld%s%s", reply.http_status,
                 cJSON_IsString(em) ? ": " : "", cJSON_IsString(em) ? em->valuestring : "");
        goto fail;
    }
    memset(us, 0, sizeof(*us));
    snprintf(us->proto, sizeof(us->proto), "%s", proto->valuestring);
    if (reply.session_id != NULL) {
        if (strlen(reply.session_id) >= sizeof(us->sid)) {
            snprintf(err, errlen, "initialize: session id longer than %zu bytes",
                     sizeof(us->sid) - 1);
            goto fail;
        }
        snprintf(us->sid, sizeof(us->sid), "%s", reply.session_id);
    }
    caps = cJSON_GetObjectItemCaseSensitive(result, "capabilities");
    for (size_t k = 0; k < FED_KIND_COUNT; k++)
        if (cJSON_HasObjectItem(caps, fed_kinds[k].capability))
            us->caps |= 1u << k;
    upstream_reply_free(&reply);

    note = cJSON_CreateObject();
    cJSON_AddStringToObject(note, "jsonrpc", "2.0");
    cJSON_AddStringToObject(note, "method", "notifications/initialized");
    if (upstream_post(u, note, us->sid[0] != '\0' ? us->sid : NULL, us->proto, &reply,
                      err, errlen) < 0 || reply.http_status >= 300) {
        /* The session exists upstream; a lost notification is worth a warning only. */
        log_warn("upstream did not accept notifications/initialized",
                 LOG_S("upstream", upstream_conf(u)->name), LOG_I("status", reply.http_status));
    }
    cJSON_Delete(note);
    rc = 0;
fail:
    cJSON_Delete(msg);
    upstream_reply_free(&reply);
    return rc;
}

static int fed_usession_save(gateway_t *g, const char *key, const struct fed_usession *us,
                             int replace, char *err, size_t errlen)
{
    char buf[FED_SID_MAX + 128];
    cJSON *doc = cJSON_CreateObject();
    int rc;

    cJSON_AddStringToObject(doc, "sid", us->sid);
    cJSON_AddStringToObject(doc, "v", us->proto);
    cJSON_AddNumberToObject(doc, "caps", us->caps);
    if (!cJSON_PrintPreallocated(doc, buf, (int)sizeof(buf), 0)) {
        cJSON_Delete(doc);
        snprintf(err, errlen, "upstream session record too large");
        return -1;
    }
    cJSON_Delete(doc);
    if (replace)
        return store_put(g->store, key, buf, strlen(buf), g->cfg->session_ttl, err, errlen);
    rc = store_add(g->store, key, buf, strlen(buf), g->cfg->session_ttl, err, errlen);
    return rc < 0 ? -1 : rc == 1 ? 0 : 1;
}

/* Whether gateway session gsid still exists (a store error counts as yes). */
static int fed_session_live(gateway_t *g, const char *gsid)
{
    char key[STORE_KEY_MAX], *v = NULL, err[128];
    size_t len;
    int rc;

    snprintf(key, sizeof(key), "s:%s", gsid);
    rc = store_get(g->store, key, &v, &len, NULL, err, sizeof(err));
    free(v);
    return rc != 0;
}

/* Get (or open) the session of gateway session gsid with upstream i.  With fresh set,
 * always open a new one and replace the record.  0 or -1 with err. */
static int fed_usession_get(gateway_t *g, const char *gsid, size_t i, int fresh,
                            struct fed_usession *us, char *err, size_t errlen)
{
    char key[STORE_KEY_MAX];
    int rc;

    fed_usession_key(key, sizeof(key), gsid, upstream_conf(g->up[i])->name);
    if (!fresh) {
        rc = fed_usession_load(g, key, us, err, errlen);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
    }
    if (fed_usession_open(g, i, us, err, errlen) < 0)
        return -1;
    rc = fed_usession_save(g, key, us, fresh, err, errlen);
    if (rc == 1) {
        /* Another worker opened one first for this gateway session: use theirs and
         * end ours, so one gateway session maps to one upstream session. */
        char ignore[128];

        if (us->sid[0] != '\0')
            upstream_delete_session(g->up[i], us->sid, us->proto, ignore, sizeof(ignore));
        rc = fed_usession_load(g, key, us, err, errlen);
        if (rc == 1)
            return 0;
        if (rc == 0)
            snprintf(err, errlen, "upstream session record vanished");
        return -1;
    }
    if (rc == 0 && !fed_session_live(g, gsid)) {
        /* The gateway session was ended (DELETE) while this upstream session was being
         * opened: end it too, or nothing ever would. */
        char ignore[128];

        store_del(g->store, key, ignore, sizeof(ignore));
        if (us->sid[0] != '\0')
            upstream_delete_session(g->up[i], us->sid, us->proto, ignore, sizeof(ignore));
        snprintf(err, errlen, "the session ended meanwhile");
        return -1;
    }
    return rc;
}

static void fed_catalogue_drop(gateway_t *g, int changed_bits)
{
    char ignore[128];

    char key[64];

    for (size_t k = 0; k < FED_KIND_COUNT; k++)
        if (changed_bits & fed_kinds[k].changed_bit)
            store_del(g->store, fed_cache_key(g, (enum fed_kind)k, key, sizeof(key)), ignore,
                      sizeof(ignore));
}

/* Did the upstream refuse the session we sent?  The spec says 404; the official
 * TypeScript SDK answers an id it does not know (after a restart, say) with 400 and
 * "Bad Request: No valid session ID provided".  A 400 counts only when its error
 * speaks of the session, so that a 400 for anything else does not open a new upstream
 * session on every call. */
static int fed_session_refused(const upstream_reply_t *r)
{
    const cJSON *e, *m;

    if (r->http_status == 404)
        return 1;
    if (r->http_status != 400)
        return 0;
    e = r->message != NULL ? cJSON_GetObjectItemCaseSensitive(r->message, "error") : NULL;
    m = e != NULL ? cJSON_GetObjectItemCaseSensitive(e, "message") : NULL;
    return cJSON_IsString(m) && strcasestr(m->valuestring, "session") != NULL;
}

/* Send request msg (its id is replaced) to upstream i inside gateway session gsid and
 * return the upstream's JSON-RPC response in *answer (caller frees).  *us_out, when
 * not NULL, receives the upstream session used.  0, or -1 with err. */
static int fed_exchange(gateway_t *g, const char *gsid, size_t i, cJSON *msg, cJSON **answer,
                        struct fed_usession *us_out, char *err, size_t errlen)
{
    struct fed_usession us;
    upstream_reply_t reply = { 0 };
    int fresh = 0;

    *answer = NULL;
    if (fed_usession_get(g, gsid, i, 0, &us, err, errlen) < 0)
        return -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        cJSON_ReplaceItemInObjectCaseSensitive(msg, "id", cJSON_CreateNumber((double)++g->next_id));
        upstream_reply_free(&reply);
        if (upstream_post(g->up[i], msg, us.sid[0] != '\0' ? us.sid : NULL, us.proto, &reply,
                          err, errlen) < 0)
            goto fail;
        fed_catalogue_drop(g, reply.list_changed);
        if (fed_session_refused(&reply) && us.sid[0] != '\0' && !fresh) {
            log_info("upstream forgot its session; initializing again",
                     LOG_S("upstream", upstream_conf(g->up[i])->name),
                     LOG_I("status", reply.http_status));
            if (fed_usession_get(g, gsid, i, 1, &us, err, errlen) < 0)
                goto fail;
            fresh = 1;
            continue;
        }
        break;
    }
    if (reply.message == NULL) {
        snprintf(err, errlen, "HTTP %ld without a JSON-RPC response", reply.http_status);
        goto fail;
    }
    if (reply.http_status >= 300 && !cJSON_HasObjectItem(reply.message, "error")) {
        snprintf(err, errlen, "HTTP %ld", reply.http_status);
        goto fail;
    }
    *answer = reply.message;
    reply.message = NULL;
    if (us_out != NULL)
        *us_out = us;
    upstream_reply_free(&reply);
    return 0;
fail:
    upstream_reply_free(&reply);
    return -1;
}

/* A set of the names one upstream listed, to refuse duplicates in O(1).  Open
 * addressing over FNV-1a hashes; the names are owned by the items. */
#define FED_SET_SLOTS 32768   /* a power of two above twice FED_ITEMS_MAX */

static uint64_t fed_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Add name unless present: 1 added, 0 already there. */
static int fed_set_add(const char **slots, const char *name)
{
    size_t at = (size_t)fed_hash(name) & (FED_SET_SLOTS - 1);

    while (slots[at] != NULL) {
        if (strcmp(slots[at], name) == 0)
            return 0;
        at = (at + 1) & (FED_SET_SLOTS - 1);
    }
    slots[at] = name;
    return 1;
}

#define FED_ITEM_MEMBERS_MAX 64   /* members of one catalogue item (tools have ~6) */

/* Drop every member of item that repeats an earlier one's name, so that what clients
 * read is what the gateway read: JSON allows duplicate names, cJSON keeps the first and
 * most clients the last, and a second "name" would let an upstream publish a tool
 * under another upstream's prefix.  -1 (item unusable) past FED_ITEM_MEMBERS_MAX. */
static int fed_item_dedupe(cJSON *item)
{
    cJSON *m = item->child;
    int n = 0;

    while (m != NULL) {
        cJSON *next = m->next;
        const cJSON *p;

        if (++n > FED_ITEM_MEMBERS_MAX)
            return -1;
        for (p = item->child; p != m; p = p->next)
            if (strcmp(p->string, m->string) == 0)
                break;
        if (p != m) {
            cJSON_DetachItemViaPointer(item, m);
            cJSON_Delete(m);
            n--;
        }
        m = next;
    }
    return 0;
}

/* Append upstream i's items of one kind to items (and its name to owners, one per
 * item), names prefixed.  Nothing is appended unless the whole listing succeeds, and one
 * upstream may fill at most its share of the catalogue, so a failing or oversized
 * upstream cannot crowd out the others.  taken holds the keys of every upstream listed
 * so far: a URI another upstream listed first is left out (prefixed names cannot
 * collide).  Items left out are counted and logged once per listing.  0, or -1 with err. */
static int fed_collect(gateway_t *g, const char *gsid, size_t i, enum fed_kind kind,
                       cJSON *items, cJSON *owners, const char **taken, char *err,
                       size_t errlen)
{
    const struct fed_kind_desc *d = &fed_kinds[kind];
    const char *uname = upstream_conf(g->up[i])->name;
    size_t share = FED_ITEMS_MAX / (g->n_up > 0 ? g->n_up : 1), kept = 0;
    long invalid = 0, dups = 0, over = 0;
    struct fed_usession us;
    const char **seen = NULL;
    cJSON *mine = NULL, *it;
    char *cursor = NULL;
    int rc = -1;

    if (fed_usession_get(g, gsid, i, 0, &us, err, errlen) < 0)
        return -1;
    if (!(us.caps & (1u << kind)))
        return 0;   /* this upstream offers none of this kind */
    seen = calloc(FED_SET_SLOTS, sizeof(*seen));
    mine = cJSON_CreateArray();
    if (seen == NULL || mine == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (int page = 0; page < FED_PAGES_MAX; page++) {
        cJSON *params = cJSON_CreateObject(), *msg, *answer = NULL, *arr;
        const cJSON *result, *next, *e;

        if (cursor != NULL)
            cJSON_AddStringToObject(params, "cursor", cursor);
        msg = fed_request(g, d->list_method, params);
        if (fed_exchange(g, gsid, i, msg, &answer, NULL, err, errlen) < 0) {
            cJSON_Delete(msg);
            goto done;
        }
        cJSON_Delete(msg);
        e = cJSON_GetObjectItemCaseSensitive(answer, "error");
        result = cJSON_GetObjectItemCaseSensitive(answer, "result");
        arr = cJSON_GetObjectItemCaseSensitive(result, d->array_key);
        if (page == 0 && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e, "code")) &&
            cJSON_GetObjectItemCaseSensitive(e, "code")->valueint == JSONRPC_METHOD_NOT_FOUND) {
            /* Announcing resources but not templates (or the like) is common: an upstream
             * without the method has none of them, it is not failing. */
            cJSON_Delete(answer);
            rc = 0;
            break;
        }
        if (e != NULL || !cJSON_IsArray(arr)) {
            const cJSON *em = cJSON_GetObjectItemCaseSensitive(e, "message");

            snprintf(err, errlen, "%s answered %.200s", d->list_method,
                     cJSON_IsString(em) ? em->valuestring : "without a list");
            cJSON_Delete(answer);
            goto done;
        }
        while ((it = cJSON_DetachItemFromArray(arr, 0)) != NULL) {
            const cJSON *name = cJSON_IsObject(it) && fed_item_dedupe(it) == 0
                                ? cJSON_GetObjectItemCaseSensitive(it, d->key) : NULL;
            char full[FED_NAME_MAX + 1];
            const char *key;

            if (!cJSON_IsString(name) || (d->prefixed
                    ? fed_name_join(full, sizeof(full), uname, g->cfg->separator,
                                    name->valuestring) < 0
                    : name->valuestring[0] == '\0' ||
                      strlen(name->valuestring) > FED_URI_MAX)) {
                invalid++;
                cJSON_Delete(it);
                continue;
            }
            if (kept >= share) {
                over++;
                cJSON_Delete(it);
                continue;
            }
            if (d->prefixed) {
                cJSON *named = cJSON_CreateString(full);

                cJSON_ReplaceItemInObjectCaseSensitive(it, d->key, named);
                key = named->valuestring;
            } else {
                key = name->valuestring;
            }
            if (!fed_set_add(seen, key)) {
                dups++;
                cJSON_Delete(it);
                continue;
            }
            cJSON_AddItemToArray(mine, it);
            kept++;
        }
        next = cJSON_GetObjectItemCaseSensitive(result, "nextCursor");
        free(cursor);
        cursor = cJSON_IsString(next) && next->valuestring[0] != '\0' ? strdup(next->valuestring)
                                                                        : NULL;
        cJSON_Delete(answer);
        if (cursor == NULL) {
            rc = 0;
            break;
        }
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s: more than %d pages", d->list_method, FED_PAGES_MAX);
        goto done;
    }
    while ((it = cJSON_DetachItemFromArray(mine, 0)) != NULL) {
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(it, d->key);

        /* The item moves into items, which outlives the build: taken may point into it. */
        if (!d->prefixed && !fed_set_add(taken, key->valuestring)) {
            dups++;
            cJSON_Delete(it);
            continue;
        }
        cJSON_AddItemToArray(items, it);
        cJSON_AddItemToArray(owners, cJSON_CreateString(uname));
    }
    if (invalid + dups + over > 0)
        log_warn("upstream items left out of the catalogue", LOG_S("upstream", uname),
                 LOG_S("kind", d->noun), LOG_I("invalid_or_too_long_name", invalid),
                 LOG_I("duplicate_name", dups), LOG_I("over_share", over),
                 LOG_I("share", (long long)share));
done:
    free(seen);
    cJSON_Delete(mine);
    free(cursor);
    return rc;
}

/* How long building one catalogue may take: half the request timeout, so the request
 * that builds it is answered (with what could be listed) before the pool kills its
 * worker; a minute when requests have no time limit. */
static long fed_build_budget_ms(const config_t *cfg)
{
    long ms = cfg->request_timeout > 0 ? (long)cfg->request_timeout * 500 : 60000;

    return ms > 1000 ? ms : 1000;
}

/* Build the merged catalogue of kind from every upstream, cache it in the store, and
 * return its text (caller frees; NULL when out of memory).  *ttl_out is how long it is
 * good for; *stored whether the store took it (it may be too large for one record). */
static char *fed_catalogue_build(gateway_t *g, const char *gsid, enum fed_kind kind,
                                 long *ttl_out, int *stored)
{
    const struct fed_kind_desc *d = &fed_kinds[kind];
    cJSON *cat = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(cat, "items");
    cJSON *owners = cJSON_AddArrayToObject(cat, "owners");   /* upstream of items[i] */
    cJSON *errors = cJSON_AddObjectToObject(cat, "errors");
    const char **taken = calloc(FED_SET_SLOTS, sizeof(*taken));
    char err[512], key[64], *text;
    long ttl = g->cfg->catalog_ttl;
    long long end = upstream_now_ms() + fed_build_budget_ms(g->cfg);

    /* One request may build two catalogues (resources/read: resources, then templates):
     * together they must leave it a second before the pool's limit. */
    if (g->deadline_ms != 0 && end > g->deadline_ms - 1000)
        end = g->deadline_ms - 1000;

    for (size_t i = 0; i < g->n_up; i++) {
        const char *uname = upstream_conf(g->up[i])->name;
        long long now = upstream_now_ms();
        int rc;

        /* An equal share of the time left for each upstream still to list: one that is
         * slow (or pages forever) is left out of this build, not the others with it. */
        upstream_set_deadline(g->up[i], now + (end - now) / (long long)(g->n_up - i));
        rc = taken == NULL ? (snprintf(err, sizeof(err), "out of memory"), -1)
             : fed_collect(g, gsid, i, kind, items, owners, taken, err, sizeof(err));
        upstream_set_deadline(g->up[i], 0);
        if (rc < 0) {
            log_warn("upstream left out of the catalogue", LOG_S("upstream", uname),
                     LOG_S("kind", d->noun), LOG_S("error", err));
            cJSON_AddStringToObject(errors, uname, err);
        }
    }
    if (cJSON_GetArraySize(errors) > 0 && ttl > FED_PARTIAL_TTL)
        ttl = FED_PARTIAL_TTL;
    text = cJSON_PrintUnformatted(cat);
    *ttl_out = ttl;
    *stored = text != NULL && store_put(g->store, fed_cache_key(g, kind, key, sizeof(key)),
                                        text, strlen(text), ttl,
                                        err, sizeof(err)) == 0;
    if (text != NULL && !*stored)
        log_warn("catalogue kept in this worker only: the store did not take it",
                 LOG_S("kind", d->noun), LOG_S("error", err));
    cJSON_Delete(cat);
    free(taken);
    return text;
}

_Static_assert(sizeof(((gateway_t *)0)->fed_cache) / sizeof(void *) == FED_KIND_COUNT,
               "gateway_t.fed_cache needs one slot per fed_kind");

/* This worker's copy of one kind's catalogue, parsed, with its pages already rendered.
 * It is valid while the store holds exactly the same text: the store stays the one
 * source of truth (TTL, list_changed drops), and a hit costs a read and a memcmp
 * instead of parsing and printing the catalogue for every tools/list. */
#define FED_PAGES_CACHED 8

struct fed_cache {
    char *text;                         /* the store record it was built from */
    size_t len;
    cJSON *items;                       /* parsed "items" of text (owned via doc) */
    cJSON *doc;
    long offsets[FED_PAGES_CACHED];     /* which pages are rendered */
    char *pages[FED_PAGES_CACHED];      /* rendered "result" objects */
    unsigned next_slot;
    time_t local_until;                 /* built here but not stored: good until then */
};

static void fed_cache_clear(struct fed_cache *c)
{
    free(c->text);
    cJSON_Delete(c->doc);
    for (size_t i = 0; i < FED_PAGES_CACHED; i++)
        free(c->pages[i]);
    memset(c, 0, sizeof(*c));
}

void fed_cache_free(gateway_t *g)
{
    for (size_t k = 0; k < FED_KIND_COUNT; k++) {
        if (g->fed_cache[k] != NULL)
            fed_cache_clear(g->fed_cache[k]);
        free(g->fed_cache[k]);
        g->fed_cache[k] = NULL;
    }
}

/* Make c hold the current catalogue of kind (from the store, or built).  0 or -1. */
static int fed_cache_refresh(gateway_t *g, const char *gsid, enum fed_kind kind,
                             struct fed_cache *c)
{
    char *v = NULL, err[256], key[64], lock[80];
    size_t len = 0;
    cJSON *doc, *items;
    time_t now = time(NULL);
    int rc;

    rc = store_get(g->store, fed_cache_key(g, kind, key, sizeof(key)), &v, &len, NULL, err,
                   sizeof(err));
    if (rc == 1 && c->text != NULL && len == c->len && memcmp(v, c->text, len) == 0) {
        free(v);
        return 0;
    }
    if (rc != 1 && c->text != NULL && c->local_until > now)
        return 0;   /* too large for the store: this worker's own copy is still fresh */
    if (v == NULL) {
        long ttl = 0;
        int stored = 0, locked;

        /* One worker rebuilds at a time; the others keep serving their stale copy
         * meanwhile instead of all asking every upstream at once. */
        snprintf(lock, sizeof(lock), "%s:building", key);
        locked = store_add(g->store, lock, "1", 1, FED_BUILD_LOCK_TTL, err, sizeof(err));
        if (locked == 0 && c->text != NULL)
            return 0;
        v = fed_catalogue_build(g, gsid, kind, &ttl, &stored);
        if (locked == 1)
            store_del(g->store, lock, err, sizeof(err));
        if (v == NULL)
            return -1;
        len = strlen(v);
        c->local_until = 0;
        if (!stored)
            c->local_until = now + ttl;
    }
    doc = cJSON_ParseWithLength(v, len);
    items = cJSON_GetObjectItemCaseSensitive(doc, "items");
    if (!cJSON_IsArray(items)) {
        cJSON_Delete(doc);
        free(v);
        return -1;
    }
    {
        time_t keep = c->local_until;

        fed_cache_clear(c);
        c->local_until = keep;
    }
    c->text = v;
    c->len = len;
    c->doc = doc;
    c->items = items;
    return 0;
}

/* This worker's current catalogue of kind, or NULL (see fed_cache_refresh). */
static struct fed_cache *fed_catalogue(gateway_t *g, const char *gsid, enum fed_kind kind)
{
    struct fed_cache *c = g->fed_cache[kind];

    if (c == NULL) {
        c = calloc(1, sizeof(*c));
        if (c == NULL)
            return NULL;
        g->fed_cache[kind] = c;
    }
    return fed_cache_refresh(g, gsid, kind, c) < 0 ? NULL : c;
}

/* The rendered result of the page starting at offset (owned by the cache). */
static const char *fed_cache_page(const gateway_t *g, enum fed_kind kind, struct fed_cache *c,
                                  long offset)
{
    cJSON *result, *page, *it;
    long n = 0, k = 0;
    unsigned slot;

    for (size_t i = 0; i < FED_PAGES_CACHED; i++)
        if (c->pages[i] != NULL && c->offsets[i] == offset)
            return c->pages[i];
    result = cJSON_CreateObject();
    page = cJSON_AddArrayToObject(result, fed_kinds[kind].array_key);
    cJSON_ArrayForEach(it, c->items) {
        if (k++ < offset)
            continue;
        if (n == g->cfg->page_size)
            break;
        cJSON_AddItemToArray(page, cJSON_Duplicate(it, 1));
        n++;
    }
    if (it != NULL) {
        char next[32];

        snprintf(next, sizeof(next), "o%ld", offset + n);
        cJSON_AddStringToObject(result, "nextCursor", next);
    }
    slot = c->next_slot++ % FED_PAGES_CACHED;
    free(c->pages[slot]);
    jsonrpc_whole_numbers(result);
    c->pages[slot] = cJSON_PrintUnformatted(result);
    c->offsets[slot] = offset;
    cJSON_Delete(result);
    return c->pages[slot];
}

/* Cursors given to clients: "o" followed by the offset of the next page. */
static int fed_cursor_decode(const cJSON *params, long *offset)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(params, "cursor");
    char *end;

    *offset = 0;
    if (c == NULL || cJSON_IsNull(c))
        return 0;
    if (!cJSON_IsString(c) || c->valuestring[0] != 'o' || c->valuestring[1] == '\0' ||
        strspn(c->valuestring + 1, "0123456789") != strlen(c->valuestring + 1))
        return -1;
    *offset = strtol(c->valuestring + 1, &end, 10);
    return *end == '\0' && *offset > 0 && *offset <= FED_ITEMS_MAX ? 0 : -1;
}

cJSON *fed_list(gateway_t *g, const char *gsid, enum fed_kind kind, const cJSON *id,
                const cJSON *params)
{
    struct fed_cache *c;
    const char *page;
    long offset;

    if (fed_cursor_decode(params, &offset) < 0)
        return jsonrpc_error(id, JSONRPC_INVALID_PARAMS, "invalid cursor", NULL);
    c = fed_catalogue(g, gsid, kind);
    if (c == NULL)
        return jsonrpc_errorf(id, JSONRPC_INTERNAL_ERROR, "%s: catalogue unavailable",
                              fed_kinds[kind].list_method);
    page = fed_cache_page(g, kind, c, offset);
    if (page == NULL)
        return jsonrpc_error(id, JSONRPC_INTERNAL_ERROR, "out of memory", NULL);
    /* A raw item is printed verbatim: the page is copied, not re-rendered. */
    return jsonrpc_result(id, cJSON_CreateRaw(page));
}

/* A JSON-RPC response passed on to a client must be one: a result that is an object
 * (every MCP result is), or an error object with an integer code and a string message.
 * 0, or -1 with err. */
static int fed_answer_check(const cJSON *answer, char *err, size_t errlen)
{
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(answer, "result");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(answer, "error");
    const cJSON *code, *msg;

    if (result != NULL) {
        if (!cJSON_IsObject(result)) {
            snprintf(err, errlen, "\"result\" is not an object");
            return -1;
        }
        return 0;
    }
    if (e == NULL)
        return 0;   /* neither: answered below with -32603 */
    code = cJSON_GetObjectItemCaseSensitive(e, "code");
    msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    if (!cJSON_IsObject(e) || !cJSON_IsNumber(code) ||
        code->valuedouble != floor(code->valuedouble) || fabs(code->valuedouble) > 2147483647.0 ||
        !cJSON_IsString(msg)) {
        snprintf(err, errlen, "\"error\" is not an object with an integer code and a "
                 "string message");
        return -1;
    }
    return 0;
}

/* A JSON-RPC error -32010 naming upstream `name`: "<what>: why", with data. */
static cJSON *fed_upstream_error(const cJSON *id, const char *name, const char *what,
                                 const char *why)
{
    cJSON *data = cJSON_CreateObject();
    char text[700];

    cJSON_AddStringToObject(data, "upstream", name);
    cJSON_AddStringToObject(data, "reason", why);
    snprintf(text, sizeof(text), "upstream \"%s\" %s: %s", name, what, why);
    return jsonrpc_error(id, JSONRPC_UPSTREAM_ERROR, text, data);
}

/* Send method with params fwd (consumed) to upstream i and hand its result or error back
 * to the client under id. */
static cJSON *fed_forward(gateway_t *g, const char *gsid, size_t i, const char *method,
                          cJSON *fwd, const cJSON *id)
{
    const char *name = g->cfg->upstreams[i].name;
    cJSON *msg = fed_request(g, method, fwd), *answer = NULL, *out, *part;
    char err[512];

    jsonrpc_whole_numbers(fwd);     /* the client's arguments leave as it wrote them */
    if (fed_exchange(g, gsid, i, msg, &answer, NULL, err, sizeof(err)) < 0) {
        cJSON_Delete(msg);
        log_warn("upstream call failed", LOG_S("upstream", name), LOG_S("error", err));
        return fed_upstream_error(id, name, "unavailable", err);
    }
    cJSON_Delete(msg);
    if (fed_answer_check(answer, err, sizeof(err)) < 0) {
        cJSON_Delete(answer);
        log_warn("upstream answer refused", LOG_S("upstream", name), LOG_S("error", err));
        return fed_upstream_error(id, name, "answered badly", err);
    }
    /* Hand the upstream's result or error back under the client's id. */
    part = cJSON_DetachItemFromObjectCaseSensitive(answer, "result");
    if (part != NULL) {
        out = jsonrpc_result(id, part);
    } else {
        out = jsonrpc_result(id, cJSON_CreateObject());
        part = cJSON_DetachItemFromObjectCaseSensitive(answer, "error");
        cJSON_DeleteItemFromObjectCaseSensitive(out, "result");
        if (part == NULL)
            part = cJSON_Parse("{\"code\":-32603,\"message\":\"upstream answer had neither "
                               "result nor error\"}");
        /* Say which upstream answered, unless it gave data of its own. */
        if (!cJSON_HasObjectItem(part, "data")) {
            cJSON *data = cJSON_AddObjectToObject(part, "data");

            cJSON_AddStringToObject(data, "upstream", name);
        }
        cJSON_AddItemToObject(out, "error", part);
    }
    cJSON_Delete(answer);
    return out;
}

cJSON *fed_call(gateway_t *g, const char *gsid, enum fed_kind kind, const cJSON *id,
                const cJSON *params, const char **upstream)
{
    const struct fed_kind_desc *d = &fed_kinds[kind];
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
    const char *rest;
    const cJSON *f;
    cJSON *fwd;
    int i, args_seen = 0;

    *upstream = NULL;
    if (!cJSON_IsString(name))
        return jsonrpc_errorf(id, JSONRPC_INVALID_PARAMS, "%s: params.name must be a string",
                              d->call_method);
    /* tools/call and prompts/get both take their arguments as an object (the spec's
     * schema); anything else is the client's mistake, not the upstream's. */
    if (args != NULL && !cJSON_IsObject(args))
        return jsonrpc_errorf(id, JSONRPC_INVALID_PARAMS, "%s: params.arguments must be "
                              "an object", d->call_method);
    i = fed_name_split(g->cfg, name->valuestring, &rest);
    if (i < 0)
        return jsonrpc_errorf(id, JSONRPC_INVALID_PARAMS, "unknown %s \"%.100s\": no upstream "
                              "is named by its prefix", d->noun, name->valuestring);
    *upstream = g->cfg->upstreams[i].name;
    /* Rebuild the params rather than copy them: a second "name" or "arguments" key
     * (JSON allows duplicates, and the upstream's parser may keep the last) must not
     * reach the upstream and run another tool, or with other arguments, than the ones
     * routed, checked and logged here (cJSON reads the first). */
    fwd = cJSON_CreateObject();
    cJSON_AddStringToObject(fwd, "name", rest);
    cJSON_ArrayForEach(f, params) {
        if (f->string == NULL || strcmp(f->string, "name") == 0)
            continue;
        if (strcmp(f->string, "arguments") == 0 && args_seen++ > 0)
            continue;
        cJSON_AddItemToObject(fwd, f->string, cJSON_Duplicate(f, 1));
    }
    return fed_forward(g, gsid, (size_t)i, d->call_method, fwd, id);
}

/* Index in cfg->upstreams of the upstream named by owners[at], or -1. */
static int fed_owner(const gateway_t *g, const struct fed_cache *c, int at)
{
    const cJSON *o = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c->doc, "owners"), at);

    for (size_t i = 0; cJSON_IsString(o) && i < g->cfg->n_upstreams; i++)
        if (strcmp(g->cfg->upstreams[i].name, o->valuestring) == 0)
            return (int)i;
    return -1;
}

/* Names (and the first reason) of the upstreams missing from catalogue c, appended to
 * out ("a, b: why"). */
static void fed_missing(const struct fed_cache *c, char *out, size_t outlen)
{
    const cJSON *e, *errors = c != NULL ? cJSON_GetObjectItemCaseSensitive(c->doc, "errors")
                                        : NULL;

    cJSON_ArrayForEach(e, errors) {
        size_t o = strlen(out);

        if (e->string != NULL && strstr(out, e->string) == NULL && o + 1 < outlen)
            snprintf(out + o, outlen - o, "%s%s", o > 0 ? ", " : "", e->string);
    }
}

/* The upstream that owns uri: the one that listed it, else the one with the template
 * whose fixed beginning (the text before its first '{') is the longest start of uri.
 * When none does, missing names the upstreams that could not be listed (it may be
 * theirs), or is left empty. */
static int fed_resource_owner(gateway_t *g, const char *gsid, const char *uri,
                              char *missing, size_t missinglen)
{
    struct fed_cache *c = fed_catalogue(g, gsid, FED_RESOURCES);
    const cJSON *it, *items = c != NULL ? c->items : NULL;
    size_t best = 0;
    int at = 0, owner = -1;

    missing[0] = '\0';
    cJSON_ArrayForEach(it, items) {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(it, "uri");

        if (cJSON_IsString(u) && strcmp(u->valuestring, uri) == 0)
            return fed_owner(g, c, at);
        at++;
    }
    fed_missing(c, missing, missinglen);
    c = fed_catalogue(g, gsid, FED_TEMPLATES);
    items = c != NULL ? c->items : NULL;
    at = 0;
    cJSON_ArrayForEach(it, items) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "uriTemplate");
        size_t fixed = cJSON_IsString(t) ? strcspn(t->valuestring, "{") : 0;

        /* A template with nothing fixed before its first expression would claim every
         * URI: it needs at least a scheme. */
        if (fixed > best && memchr(t->valuestring, ':', fixed) != NULL &&
            strncmp(uri, t->valuestring, fixed) == 0) {
            best = fixed;
            owner = fed_owner(g, c, at);
        }
        at++;
    }
    if (owner < 0)
        fed_missing(c, missing, missinglen);
    return owner;
}

cJSON *fed_read(gateway_t *g, const char *gsid, const cJSON *id, const cJSON *params,
                const char **upstream)
{
    const cJSON *uri = cJSON_GetObjectItemCaseSensitive(params, "uri");
    const cJSON *f;
    cJSON *fwd;
    char missing[300];
    int i, uri_seen = 0;

    *upstream = NULL;
    if (!cJSON_IsString(uri) || uri->valuestring[0] == '\0')
        return jsonrpc_error(id, JSONRPC_INVALID_PARAMS,
                             "resources/read: params.uri must be a non-empty string", NULL);
    i = fed_resource_owner(g, gsid, uri->valuestring, missing, sizeof(missing));
    if (i < 0 && missing[0] != '\0') {
        /* Not found, but some upstream could not be listed: it may be its, and "not
         * found" would make a client forget the resource for good. */
        cJSON *data = cJSON_CreateObject();
        char text[700];

        cJSON_AddStringToObject(data, "uri", uri->valuestring);
        cJSON_AddStringToObject(data, "unavailable", missing);
        snprintf(text, sizeof(text), "resource \"%.150s\" is not listed by any upstream that "
                 "answered; unavailable now: %s", uri->valuestring, missing);
        return jsonrpc_error(id, JSONRPC_UPSTREAM_ERROR, text, data);
    }
    if (i < 0) {
        cJSON *data = cJSON_CreateObject();
        char text[300];

        cJSON_AddStringToObject(data, "uri", uri->valuestring);
        snprintf(text, sizeof(text), "resource not found: no upstream lists \"%.150s\" or a "
                 "template it matches", uri->valuestring);
        return jsonrpc_error(id, JSONRPC_RESOURCE_NOT_FOUND, text, data);
    }
    *upstream = g->cfg->upstreams[i].name;
    /* As in fed_call: only the uri that was routed reaches the upstream. */
    fwd = cJSON_CreateObject();
    cJSON_ArrayForEach(f, params) {
        if (f->string == NULL || (strcmp(f->string, "uri") == 0 && uri_seen++ > 0))
            continue;
        cJSON_AddItemToObject(fwd, f->string, cJSON_Duplicate(f, 1));
    }
    return fed_forward(g, gsid, (size_t)i, "resources/read", fwd, id);
}

void fed_end_session(gateway_t *g, const char *gsid)
{
    char key[STORE_KEY_MAX], err[256];

    /* One key per configured upstream: deleting them one by one needs no prefix scan,
     * which a partition-keyed store such as DynamoDB cannot do cheaply. */
    for (size_t i = 0; i < g->n_up; i++) {
        struct fed_usession us;

        fed_usession_key(key, sizeof(key), gsid, upstream_conf(g->up[i])->name);
        if (fed_usession_load(g, key, &us, err, sizeof(err)) != 1)
            continue;
        if (us.sid[0] != '\0' &&
            upstream_delete_session(g->up[i], us.sid, us.proto, err, sizeof(err)) < 0)
            log_info("upstream session not ended", LOG_S("upstream",
                     upstream_conf(g->up[i])->name), LOG_S("error", err));
        if (store_del(g->store, key, err, sizeof(err)) < 0)
            log_warn("upstream session record not deleted", LOG_S("error", err));
    }
}

cJSON *fed_probe(gateway_t *g, long timeout_ms)
{
    upstream_probe_t r[CONFIG_UPSTREAMS_MAX];
    cJSON *out = cJSON_CreateObject();

    upstream_probe_all(g->up, g->n_up, timeout_ms, r);
    for (size_t i = 0; i < g->n_up; i++) {
        char text[300];

        if (r[i].ok)
            snprintf(text, sizeof(text), "reachable");
        else
            snprintf(text, sizeof(text), "unreachable: %s", r[i].err);
        cJSON_AddStringToObject(out, upstream_conf(g->up[i])->name, text);
    }
    return out;
}
