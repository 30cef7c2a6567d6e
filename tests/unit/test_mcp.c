/* SPDX-License-Identifier: MIT */
/* test_mcp.c - unit tests of the MCP endpoint: versions, origins, mcp_handle over SQLite. */

#include "mcp.h"

#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "digest.h"
#include "jsonrpc.h"
#include "log.h"
#include "store.h"

#define TTL 3600
#define SID_LEN 32

static char tmpdir[256];
static config_t *cfg;
static gateway_t gw;
static int gw_open;
static http_response_t resp;
static cJSON *reply;          /* resp.body parsed, or NULL */

/* ---- fixture ------------------------------------------------------------------ */

static void make_config(void)
{
    cfg = calloc(1, sizeof(*cfg));
    cr_assert_not_null(cfg);
    snprintf(cfg->separator, sizeof(cfg->separator), "__");
    snprintf(cfg->bind, sizeof(cfg->bind), "127.0.0.1");
    cfg->allow_loopback_origins = 1;
    cfg->session_ttl = TTL;
    cfg->catalog_ttl = 60;
    cfg->max_body = 1048576;
    cfg->page_size = 100;
    cfg->upstream_timeout_ms = 1000;
    cfg->upstream_connect_timeout_ms = 500;
}

/* A gateway over a fresh SQLite file, zero upstreams. */
static void setup(void)
{
    const char *base = getenv("TMPDIR");
    char err[512] = "";

    /* tmpfs when there is one: each test creates a SQLite file, and fsync on a disk
     * would make this file slow without testing anything more. */
    if (base == NULL || base[0] == '\0')
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_mcp.XXXXXX", base);
    cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
    store_clock_offset_for_tests(0);
    log_setup("test_mcp", "error");   /* keep session open/close lines out of the output */
    make_config();
    snprintf(cfg->runtime_dir, sizeof(cfg->runtime_dir), "%s", tmpdir);
    snprintf(cfg->store_url, sizeof(cfg->store_url), "sqlite:%s/s.db", tmpdir);
    cr_assert_eq(store_prepare(cfg->store_url, err, sizeof(err)), 0, "store_prepare: %s", err);
    cr_assert_eq(gateway_open(&gw, cfg, err, sizeof(err)), 0, "gateway_open: %s", err);
    gw_open = 1;
    http_response_init(&resp);
    reply = NULL;
}

static void teardown(void)
{
    DIR *d;
    struct dirent *e;

    cJSON_Delete(reply);
    reply = NULL;
    http_response_release(&resp);
    if (gw_open)
        gateway_close(&gw);
    gw_open = 0;
    store_clock_offset_for_tests(0);
    if (cfg != NULL)
        config_free(cfg);
    free(cfg);
    cfg = NULL;
    d = opendir(tmpdir);
    if (d != NULL) {
        for (e = readdir(d); e != NULL; e = readdir(d))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    rmdir(tmpdir);
}

/* Config-only fixture for the origin tests. */
static void setup_cfg(void)
{
    make_config();
}

static void teardown_cfg(void)
{
    config_free(cfg);
    free(cfg);
    cfg = NULL;
}

/* ---- driving mcp_handle ------------------------------------------------------- */

struct call {
    const char *method;          /* HTTP method, default POST */
    const char *body;            /* default none */
    const char *session;
    const char *origin;
    const char *protocol;
    const char *content_type;    /* default application/json */
    const char *accept;          /* default the MCP client's */
};

/* Run one request through mcp_handle; the response lands in resp (and reply). */
static void run(struct call c)
{
    http_request_t req;

    memset(&req, 0, sizeof(req));
    req.method = c.method != NULL ? c.method : "POST";
    req.path = "/mcp";
    req.origin = c.origin;
    req.session_id = c.session;
    req.protocol_version = c.protocol;
    req.content_type = c.content_type != NULL ? c.content_type : "application/json";
    req.accept = c.accept != NULL ? c.accept : "application/json, text/event-stream";
    req.remote_addr = "127.0.0.1";
    snprintf(req.request_id, sizeof(req.request_id), "test");
    req.body = strdup(c.body != NULL ? c.body : "");
    cr_assert_not_null(req.body);
    req.body_len = strlen(req.body);

    cJSON_Delete(reply);
    reply = NULL;
    http_response_release(&resp);
    http_response_init(&resp);
    mcp_handle(&gw, &req, &resp);
    http_request_release(&req);
    if (resp.body != NULL && resp.body_len > 0) {
        reply = cJSON_ParseWithLength(resp.body, resp.body_len);
        cr_assert_not_null(reply, "response body is not JSON: %.*s", (int)resp.body_len,
                           resp.body);
    }
}

#define RUN(...) run((struct call){ __VA_ARGS__ })

/* Value of response header name (copied into out), or NULL. */
static const char *header(const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    const char *p = resp.headers;

    while (p != NULL && *p != '\0') {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);

        if (len > n + 1 && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            size_t vl;

            while (*v == ' ')
                v++;
            vl = len - (size_t)(v - p);
            if (vl >= outlen)
                vl = outlen - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return out;
        }
        p = eol != NULL ? eol + 2 : NULL;
    }
    return NULL;
}

static int error_code(void)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(reply, "error");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");

    cr_assert(cJSON_IsNumber(c), "no error code in %.*s", (int)resp.body_len,
              resp.body != NULL ? resp.body : "");
    return c->valueint;
}

static const char *error_message(void)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(reply, "error");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");

    cr_assert(cJSON_IsString(m), "no error message");
    return m->valuestring;
}

static const cJSON *result(void)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(reply, "result");

    cr_assert_not_null(r, "no result in %.*s", (int)resp.body_len,
                       resp.body != NULL ? resp.body : "");
    return r;
}

static void expect_error(int status, int code)
{
    cr_expect_eq(resp.status, status, "HTTP %d, want %d: %.*s", resp.status, status,
                 (int)resp.body_len, resp.body != NULL ? resp.body : "");
    cr_expect_eq(error_code(), code);
    cr_expect_str_eq(resp.content_type, "application/json");
}

static const char init_body[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
    "\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
    "\"clientInfo\":{\"name\":\"test\",\"version\":\"1\"}}}";

/* initialize and return the new session id (static storage). */
static const char *open_session(void)
{
    static char sid[128];

    RUN(.body = init_body);
    cr_assert_eq(resp.status, 200, "initialize: HTTP %d %.*s", resp.status,
                 (int)resp.body_len, resp.body != NULL ? resp.body : "");
    cr_assert_not_null(header("Mcp-Session-Id", sid, sizeof(sid)), "no Mcp-Session-Id");
    return sid;
}

static const char ping_body[] = "{\"jsonrpc\":\"2.0\",\"id\":\"p1\",\"method\":\"ping\"}";

/* ---- protocol versions -------------------------------------------------------- */

Test(protocol, supported_versions)
{
    cr_expect(mcp_protocol_supported("2025-11-25"));
    cr_expect(mcp_protocol_supported("2025-06-18"));
    cr_expect(mcp_protocol_supported("2025-03-26"));
    cr_expect_not(mcp_protocol_supported("2024-11-05"));
    cr_expect_not(mcp_protocol_supported("2025-11-25 "));
    cr_expect_not(mcp_protocol_supported(""));
    cr_expect_not(mcp_protocol_supported("latest"));
}

Test(protocol, negotiation)
{
    cr_expect_str_eq(mcp_protocol_negotiate("2025-06-18"), "2025-06-18");
    cr_expect_str_eq(mcp_protocol_negotiate("2025-03-26"), "2025-03-26");
    cr_expect_str_eq(mcp_protocol_negotiate("2025-11-25"), "2025-11-25");
    cr_expect_str_eq(mcp_protocol_negotiate("1999-01-01"), MCP_PROTOCOL_LATEST);
    cr_expect_str_eq(mcp_protocol_negotiate(""), MCP_PROTOCOL_LATEST);
    cr_expect_str_eq(mcp_protocol_negotiate(NULL), MCP_PROTOCOL_LATEST);
    cr_expect_str_eq(MCP_PROTOCOL_LATEST, "2025-11-25");
}

/* ---- origins ------------------------------------------------------------------ */

Test(origin, no_origin_is_allowed, .init = setup_cfg, .fini = teardown_cfg)
{
    cfg->allow_loopback_origins = 0;
    cr_expect(mcp_origin_allowed(cfg, NULL));
}

Test(origin, loopback_origins_when_bound_to_loopback, .init = setup_cfg, .fini = teardown_cfg)
{
    static const char *const ok[] = {
        "http://localhost", "http://localhost:6274", "https://localhost:8443",
        "http://LOCALHOST:1", "http://127.0.0.1", "http://127.0.0.1:6274",
        "http://127.1.2.3:80", "http://[::1]", "http://[::1]:3000",
    };

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        cr_expect(mcp_origin_allowed(cfg, ok[i]), "%s refused", ok[i]);
}

Test(origin, loopback_origins_refused_when_not_bound_to_loopback,
     .init = setup_cfg, .fini = teardown_cfg)
{
    cfg->allow_loopback_origins = 0;
    cr_expect_not(mcp_origin_allowed(cfg, "http://localhost:6274"));
    cr_expect_not(mcp_origin_allowed(cfg, "http://127.0.0.1:6274"));
    cr_expect_not(mcp_origin_allowed(cfg, "http://[::1]:6274"));
}

Test(origin, look_alike_hosts_are_refused, .init = setup_cfg, .fini = teardown_cfg)
{
    static const char *const bad[] = {
        "http://localhost.evil.com", "http://localhost.evil.com:6274", "http://evil.com",
        "http://evil-localhost", "null", "file://", "http://",
        "ftp://localhost", "localhost", "http://[::1", "http://[::2]:80",
        /* Junk after the host: userinfo-like text, an empty or overlong port, a path,
         * and two Origin headers that lighttpd merged into one. */
        "http://localhost:80@evil.com", "http://localhost:", "http://localhost:123456",
        "http://localhost:80/path", "http://localhost:1, http://evil.com",
        "http://127.0.0.1:8x", "http://localhost:65536",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_not(mcp_origin_allowed(cfg, bad[i]), "%s allowed", bad[i]);
}

/* A DNS name such as 127.0.0.1.evil.com (which an attacker registers and serves a page
 * from) is not loopback: only an IPv4 address in 127.0.0.0/8 is, and "[::1]" only when
 * the origin ends or a port follows it. */
Test(origin, dns_names_starting_with_127_are_refused,
     .init = setup_cfg, .fini = teardown_cfg)
{
    static const char *const bad[] = {
        "http://127.0.0.1.evil.com", "http://127.0.0.1.nip.io:6274", "http://127.evil.com",
        /* Not a host a browser would send, but the same lax parsing lets it through. */
        "http://[::1].evil.com",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_not(mcp_origin_allowed(cfg, bad[i]), "%s allowed", bad[i]);
}

Test(origin, explicit_allow_list, .init = setup_cfg, .fini = teardown_cfg)
{
    cfg->allow_loopback_origins = 0;
    cfg->origins[0] = strdup("https://app.example.com");
    cfg->origins[1] = strdup("http://10.0.0.5:8080");
    cr_assert(cfg->origins[0] != NULL && cfg->origins[1] != NULL);
    cfg->n_origins = 2;
    cr_expect(mcp_origin_allowed(cfg, "https://app.example.com"));
    cr_expect(mcp_origin_allowed(cfg, "HTTPS://APP.EXAMPLE.COM"));
    cr_expect(mcp_origin_allowed(cfg, "http://10.0.0.5:8080"));
    cr_expect_not(mcp_origin_allowed(cfg, "http://app.example.com"));
    cr_expect_not(mcp_origin_allowed(cfg, "https://app.example.com.evil.com"));
    cr_expect_not(mcp_origin_allowed(cfg, "https://app.example.com:444"));
    cr_expect_not(mcp_origin_allowed(cfg, "http://10.0.0.5"));
    cr_expect_not(mcp_origin_allowed(cfg, "http://localhost"));
}

/* ---- mcp_handle: initialize --------------------------------------------------- */

Test(session, initialize_opens_a_session, .init = setup, .fini = teardown)
{
    char sid[128];
    const cJSON *r, *id;

    RUN(.body = init_body);
    cr_assert_eq(resp.status, 200);
    cr_expect_str_eq(resp.content_type, "application/json");
    cr_assert_not_null(header("Mcp-Session-Id", sid, sizeof(sid)));
    cr_expect_eq(strlen(sid), SID_LEN, "session id \"%s\"", sid);
    cr_expect_eq(strspn(sid, "0123456789abcdef"), SID_LEN, "session id \"%s\"", sid);
    id = cJSON_GetObjectItemCaseSensitive(reply, "id");
    cr_expect(cJSON_IsNumber(id) && id->valueint == 1);
    r = result();
    cr_expect_str_eq(cJSON_GetObjectItem(r, "protocolVersion")->valuestring, "2025-06-18");
    cr_expect(cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "capabilities"),
                                                 "tools")));
    cr_expect_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "serverInfo"),
                                         "name")->valuestring, "mcpgw");
}

Test(session, the_store_holds_only_a_hash_of_the_session_id, .init = setup, .fini = teardown)
{
    const char *sid = open_session();
    char key[128], hash[DIGEST_HEX_LEN + 1], err[256], *v = NULL;
    size_t len;

    snprintf(key, sizeof(key), "s:%s", sid);
    cr_expect_eq(store_get(gw.store, key, &v, &len, NULL, err, sizeof(err)), 0,
                 "the raw session id is a store key");
    free(v);
    v = NULL;
    cr_assert_eq(digest_sha256_hex(hash, sid, strlen(sid)), 0);
    snprintf(key, sizeof(key), "s:%s", hash);
    cr_expect_eq(store_get(gw.store, key, &v, &len, NULL, err, sizeof(err)), 1,
                 "no record under the SHA-256 of the session id");
    cr_expect_null(v != NULL ? strstr(v, sid) : NULL, "the record contains the raw id");
    free(v);
}

Test(session, initialize_with_an_unknown_version_gets_the_latest,
     .init = setup, .fini = teardown)
{
    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                "\"protocolVersion\":\"2030-01-01\",\"capabilities\":{}}}");
    cr_assert_eq(resp.status, 200);
    cr_expect_str_eq(cJSON_GetObjectItem(result(), "protocolVersion")->valuestring,
                     MCP_PROTOCOL_LATEST);
}

Test(session, every_initialize_gets_a_new_session_id, .init = setup, .fini = teardown)
{
    char first[128];

    snprintf(first, sizeof(first), "%s", open_session());
    cr_expect_str_neq(open_session(), first);
}

Test(session, initialize_without_protocol_version_is_invalid_params,
     .init = setup, .fini = teardown)
{
    char sid[128];

    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"initialize\",\"params\":{}}");
    expect_error(200, JSONRPC_INVALID_PARAMS);
    cr_expect_null(header("Mcp-Session-Id", sid, sizeof(sid)), "a session was opened");
}

/* ---- mcp_handle: session checks ----------------------------------------------- */

Test(session, request_without_session_is_400, .init = setup, .fini = teardown)
{
    RUN(.body = ping_body);
    expect_error(400, JSONRPC_INVALID_REQUEST);
    cr_expect(strstr(error_message(), "Mcp-Session-Id") != NULL, "%s", error_message());
    cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reply, "id")), "p1");
}

Test(session, unknown_session_is_404, .init = setup, .fini = teardown)
{
    open_session();
    RUN(.body = ping_body, .session = "0123456789abcdef0123456789abcdef");
    expect_error(404, JSONRPC_INVALID_REQUEST);
    RUN(.body = ping_body, .session = "not-a-session-id");
    expect_error(404, JSONRPC_INVALID_REQUEST);
    /* The request could be read, so its error answers its id. */
    cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(reply, "id")), "p1");
}

Test(session, session_ids_are_case_sensitive, .init = setup, .fini = teardown)
{
    char upper[128];
    const char *sid = open_session();
    size_t i;

    for (i = 0; sid[i] != '\0' && i < sizeof(upper) - 1; i++)
        upper[i] = (char)(sid[i] >= 'a' && sid[i] <= 'f' ? sid[i] - 'a' + 'A' : sid[i]);
    upper[i] = '\0';
    if (strcmp(upper, sid) == 0)
        return;   /* all digits (1 in 2^32 or so): nothing to compare */
    RUN(.body = ping_body, .session = upper);
    cr_expect_eq(resp.status, 404);
}

Test(session, ping_in_session_returns_an_empty_result, .init = setup, .fini = teardown)
{
    const char *sid = open_session();
    const cJSON *id;

    RUN(.body = ping_body, .session = sid, .protocol = "2025-06-18");
    cr_assert_eq(resp.status, 200, "%.*s", (int)resp.body_len, resp.body);
    id = cJSON_GetObjectItemCaseSensitive(reply, "id");
    cr_expect(cJSON_IsString(id) && strcmp(id->valuestring, "p1") == 0);
    cr_expect(cJSON_IsObject(result()));
    cr_expect_eq(cJSON_GetArraySize(result()), 0);
    cr_expect_null(cJSON_GetObjectItemCaseSensitive(reply, "error"));
}

Test(session, notification_is_202_without_body, .init = setup, .fini = teardown)
{
    const char *sid = open_session();

    RUN(.body = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
        .session = sid);
    cr_expect_eq(resp.status, 202);
    cr_expect_eq(resp.body_len, 0);
    cr_expect_null(reply);
}

Test(session, response_message_is_202_without_body, .init = setup, .fini = teardown)
{
    const char *sid = open_session();

    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}", .session = sid);
    cr_expect_eq(resp.status, 202);
    cr_expect_eq(resp.body_len, 0);
    /* An error answering a request whose id the client could not read. */
    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
                "\"message\":\"Parse error\"}}", .session = sid);
    cr_expect_eq(resp.status, 202);
    cr_expect_eq(resp.body_len, 0);
}

Test(session, notification_without_session_is_400, .init = setup, .fini = teardown)
{
    RUN(.body = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    expect_error(400, JSONRPC_INVALID_REQUEST);
}

Test(session, unknown_method_is_32601_with_http_200, .init = setup, .fini = teardown)
{
    const char *sid = open_session();
    const cJSON *id;

    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"resources/subscribe\"}", .session = sid);
    expect_error(200, JSONRPC_METHOD_NOT_FOUND);
    id = cJSON_GetObjectItemCaseSensitive(reply, "id");
    cr_expect(cJSON_IsNumber(id) && id->valueint == 42, "the error must carry the request id");
    cr_expect(strstr(error_message(), "resources/subscribe") != NULL, "%s", error_message());
}

/* ---- mcp_handle: transport errors --------------------------------------------- */

Test(transport, malformed_json_is_400_parse_error, .init = setup, .fini = teardown)
{
    RUN(.body = "{\"jsonrpc\":\"2.0\",");
    expect_error(400, JSONRPC_PARSE_ERROR);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(reply, "id")));
    cr_expect(strstr(error_message(), "byte") != NULL, "%s", error_message());
}

Test(transport, empty_body_is_400_parse_error, .init = setup, .fini = teardown)
{
    RUN(.body = "");
    expect_error(400, JSONRPC_PARSE_ERROR);
}

Test(transport, too_deep_is_400_invalid_request, .init = setup, .fini = teardown)
{
    char body[400];

    memset(body, '[', 200);
    memset(body + 200, ']', 199);
    body[399] = '\0';
    RUN(.body = body);
    expect_error(400, JSONRPC_INVALID_REQUEST);
}

Test(transport, batch_is_400_invalid_request, .init = setup, .fini = teardown)
{
    const char *sid = open_session();

    RUN(.body = "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", .session = sid);
    expect_error(400, JSONRPC_INVALID_REQUEST);
    cr_expect(strstr(error_message(), "batches") != NULL, "%s", error_message());
}

Test(transport, invalid_message_is_400_invalid_request, .init = setup, .fini = teardown)
{
    const char *sid = open_session();

    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", .session = sid);
    expect_error(400, JSONRPC_INVALID_REQUEST);
}

Test(transport, wrong_content_type_is_415, .init = setup, .fini = teardown)
{
    const char *sid = open_session();

    RUN(.body = ping_body, .session = sid, .content_type = "text/plain");
    expect_error(415, JSONRPC_INVALID_REQUEST);
    RUN(.body = ping_body, .session = sid, .content_type = "application/x-www-form-urlencoded");
    expect_error(415, JSONRPC_INVALID_REQUEST);
}

Test(transport, content_type_parameters_are_accepted, .init = setup, .fini = teardown)
{
    const char *sid = open_session();

    RUN(.body = ping_body, .session = sid, .content_type = "application/json; charset=utf-8");
    cr_expect_eq(resp.status, 200);
    RUN(.body = ping_body, .session = sid, .content_type = "Application/JSON");
    cr_expect_eq(resp.status, 200);
}

Test(transport, accept_without_json_is_406, .init = setup, .fini = teardown)
{
    const char *sid = open_session();

    RUN(.body = ping_body, .session = sid, .accept = "text/event-stream");
    expect_error(406, JSONRPC_INVALID_REQUEST);
    RUN(.body = ping_body, .session = sid, .accept = "*/*");
    cr_expect_eq(resp.status, 200);
}

Test(transport, get_is_405_with_allow, .init = setup, .fini = teardown)
{
    char allow[64];
    const char *sid = open_session();

    RUN(.method = "GET", .session = sid, .accept = "text/event-stream");
    expect_error(405, JSONRPC_INVALID_REQUEST);
    cr_assert_not_null(header("Allow", allow, sizeof(allow)), "no Allow header");
    cr_expect(strstr(allow, "POST") != NULL && strstr(allow, "DELETE") != NULL, "Allow: %s",
              allow);
    RUN(.method = "PUT", .body = ping_body, .session = sid);
    cr_expect_eq(resp.status, 405);
}

Test(transport, bad_protocol_version_header_is_400, .init = setup, .fini = teardown)
{
    const char *sid = open_session();

    RUN(.body = ping_body, .session = sid, .protocol = "2024-01-01");
    expect_error(400, JSONRPC_INVALID_REQUEST);
    cr_expect(strstr(error_message(), "2024-01-01") != NULL, "%s", error_message());
}

Test(transport, disallowed_origin_is_403, .init = setup, .fini = teardown)
{
    const char *sid = open_session();

    RUN(.body = ping_body, .session = sid, .origin = "http://evil.example");
    expect_error(403, JSONRPC_INVALID_REQUEST);
    RUN(.body = init_body, .origin = "http://localhost.evil.com");
    expect_error(403, JSONRPC_INVALID_REQUEST);
    RUN(.body = ping_body, .session = sid, .origin = "http://localhost:6274");
    cr_expect_eq(resp.status, 200);
}

Test(transport, cors_preflight_and_headers_for_allowed_origins, .init = setup, .fini = teardown)
{
    const char *sid = open_session();
    char v[256];

    RUN(.method = "OPTIONS", .origin = "http://localhost:6274");
    cr_expect_eq(resp.status, 204);
    cr_expect_str_eq(header("Access-Control-Allow-Origin", v, sizeof(v)), "http://localhost:6274");
    cr_expect_not_null(strstr(header("Access-Control-Allow-Headers", v, sizeof(v)),
                              "Mcp-Session-Id"));
    RUN(.body = ping_body, .session = sid, .origin = "http://localhost:6274");
    cr_expect_eq(resp.status, 200);
    cr_expect_str_eq(header("Access-Control-Expose-Headers", v, sizeof(v)), "Mcp-Session-Id");
    RUN(.method = "OPTIONS", .origin = "http://evil.example");
    cr_expect_eq(resp.status, 403);
    cr_expect_null(header("Access-Control-Allow-Origin", v, sizeof(v)));
}

Test(transport, big_integer_ids_come_back_exactly_and_fractions_are_refused,
     .init = setup, .fini = teardown)
{
    const char *sid = open_session();

    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":9007199254740991,\"method\":\"ping\"}",
        .session = sid);
    cr_expect_eq(resp.status, 200);
    cr_expect_not_null(strstr(resp.body, "\"id\":9007199254740991,"), "%s", resp.body);
    /* 2^53 + 1 would come back as 2^53. */
    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":9007199254740993,\"method\":\"ping\"}",
        .session = sid);
    expect_error(400, JSONRPC_INVALID_REQUEST);
    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", .session = sid);
    expect_error(400, JSONRPC_INVALID_REQUEST);
    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":1e400,\"method\":\"ping\"}", .session = sid);
    expect_error(400, JSONRPC_INVALID_REQUEST);
}

/* ---- mcp_handle: DELETE ------------------------------------------------------- */

Test(delete, ends_the_session, .init = setup, .fini = teardown)
{
    char sid[128];

    snprintf(sid, sizeof(sid), "%s", open_session());
    RUN(.method = "DELETE", .session = sid);
    cr_expect_eq(resp.status, 204);
    cr_expect_eq(resp.body_len, 0);
    RUN(.body = ping_body, .session = sid);
    expect_error(404, JSONRPC_INVALID_REQUEST);
    RUN(.method = "DELETE", .session = sid);
    cr_expect_eq(resp.status, 404);
}

Test(delete, only_the_named_session_ends, .init = setup, .fini = teardown)
{
    char a[128], b[128];

    snprintf(a, sizeof(a), "%s", open_session());
    snprintf(b, sizeof(b), "%s", open_session());
    RUN(.method = "DELETE", .session = a);
    cr_expect_eq(resp.status, 204);
    RUN(.body = ping_body, .session = b);
    cr_expect_eq(resp.status, 200);
}

Test(delete, without_session_is_400, .init = setup, .fini = teardown)
{
    RUN(.method = "DELETE");
    expect_error(400, JSONRPC_INVALID_REQUEST);
}

/* ---- mcp_handle: federation with zero upstreams ------------------------------- */

Test(federation, tools_list_with_zero_upstreams_is_empty, .init = setup, .fini = teardown)
{
    const char *sid = open_session();
    const cJSON *tools;

    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}", .session = sid);
    cr_assert_eq(resp.status, 200, "%.*s", (int)resp.body_len, resp.body);
    tools = cJSON_GetObjectItemCaseSensitive(result(), "tools");
    cr_assert(cJSON_IsArray(tools));
    cr_expect_eq(cJSON_GetArraySize(tools), 0);
    cr_expect_null(cJSON_GetObjectItemCaseSensitive(result(), "nextCursor"));
    /* A second listing (served from the cached catalogue) is the same. */
    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\",\"params\":{}}",
        .session = sid);
    cr_assert_eq(resp.status, 200);
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(result(), "tools")), 0);
}

Test(federation, prompts_list_with_zero_upstreams_is_empty, .init = setup, .fini = teardown)
{
    const char *sid = open_session();
    const cJSON *prompts;

    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"prompts/list\"}", .session = sid);
    cr_assert_eq(resp.status, 200);
    prompts = cJSON_GetObjectItemCaseSensitive(result(), "prompts");
    cr_assert(cJSON_IsArray(prompts));
    cr_expect_eq(cJSON_GetArraySize(prompts), 0);
}

Test(federation, resources_with_zero_upstreams_are_empty_and_reads_find_nothing,
     .init = setup, .fini = teardown)
{
    const char *sid = open_session();

    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/list\"}", .session = sid);
    cr_assert_eq(resp.status, 200);
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(result(), "resources")), 0);
    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/templates/list\"}",
        .session = sid);
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(result(),
                                                                     "resourceTemplates")), 0);
    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/read\","
                "\"params\":{\"uri\":\"file:///etc/passwd\"}}", .session = sid);
    expect_error(200, JSONRPC_RESOURCE_NOT_FOUND);
    cr_expect(strstr(error_message(), "file:///etc/passwd") != NULL, "%s", error_message());
    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"resources/read\",\"params\":{}}",
        .session = sid);
    expect_error(200, JSONRPC_INVALID_PARAMS);
}

Test(federation, invalid_cursor_is_32602, .init = setup, .fini = teardown)
{
    const char *sid = open_session();

    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\","
                "\"params\":{\"cursor\":\"garbage\"}}", .session = sid);
    expect_error(200, JSONRPC_INVALID_PARAMS);
}

Test(federation, tools_call_of_an_unknown_prefix_is_32602, .init = setup, .fini = teardown)
{
    const char *sid = open_session();
    const cJSON *id;

    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
                "\"params\":{\"name\":\"nowhere__echo\",\"arguments\":{}}}", .session = sid);
    expect_error(200, JSONRPC_INVALID_PARAMS);
    id = cJSON_GetObjectItemCaseSensitive(reply, "id");
    cr_expect(cJSON_IsNumber(id) && id->valueint == 7);
    cr_expect(strstr(error_message(), "nowhere__echo") != NULL, "%s", error_message());
}

Test(federation, tools_call_without_a_name_is_32602, .init = setup, .fini = teardown)
{
    const char *sid = open_session();

    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{}}",
        .session = sid);
    expect_error(200, JSONRPC_INVALID_PARAMS);
    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\"}", .session = sid);
    expect_error(200, JSONRPC_INVALID_PARAMS);
}

Test(federation, prompts_get_of_an_unknown_prefix_is_32602, .init = setup, .fini = teardown)
{
    const char *sid = open_session();

    RUN(.body = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"prompts/get\","
                "\"params\":{\"name\":\"nowhere__p\"}}", .session = sid);
    expect_error(200, JSONRPC_INVALID_PARAMS);
}

/* ---- mcp_handle: expiry ------------------------------------------------------- */

Test(expiry, session_expires_after_the_ttl, .init = setup, .fini = teardown)
{
    char sid[128];

    snprintf(sid, sizeof(sid), "%s", open_session());
    store_clock_offset_for_tests(TTL - 10);
    RUN(.body = ping_body, .session = sid);
    cr_expect_eq(resp.status, 200, "session gone before its TTL");
    store_clock_offset_for_tests(2 * TTL + 10);
    RUN(.body = ping_body, .session = sid);
    expect_error(404, JSONRPC_INVALID_REQUEST);
    RUN(.method = "DELETE", .session = sid);
    cr_expect_eq(resp.status, 404);
}

Test(expiry, unused_session_expires, .init = setup, .fini = teardown)
{
    char sid[128];

    snprintf(sid, sizeof(sid), "%s", open_session());
    store_clock_offset_for_tests(TTL + 1);
    RUN(.body = ping_body, .session = sid);
    expect_error(404, JSONRPC_INVALID_REQUEST);
}

/* BUG (worker/mcp.c, mcp_session_check): the sliding expiry compares the record's
 * expiry (store clock) with time(NULL) instead of the store's clock, so with
 * store_clock_offset_for_tests the "less than half the TTL left" test never fires and
 * sliding expiry cannot be tested.  A session used at 3/4 of its TTL must live on for
 * another TTL from then. */
Test(expiry, a_session_used_late_in_its_life_is_extended, .init = setup, .fini = teardown)
{
    char sid[128];

    snprintf(sid, sizeof(sid), "%s", open_session());
    store_clock_offset_for_tests(TTL * 3 / 4);
    RUN(.body = ping_body, .session = sid);
    cr_assert_eq(resp.status, 200);
    store_clock_offset_for_tests(TTL + TTL / 2);
    RUN(.body = ping_body, .session = sid);
    cr_expect_eq(resp.status, 200, "session not extended: HTTP %d", resp.status);
}
