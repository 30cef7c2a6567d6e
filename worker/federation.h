/* SPDX-License-Identifier: MIT */
/* federation.h - the merged catalogue of every upstream and routing of calls to them.
 *
 * Tools and prompts of upstream U appear to clients as "U<sep>name" (sep is "__" by
 * default).  Resources and resource templates keep their URIs (a client may understand
 * them); the catalogue records which upstream listed each, and resources/read goes to
 * the upstream that listed the URI, else to the one whose template's fixed beginning
 * matches most of it.  Upstream names may not contain the separator, so the first occurrence of
 * the separator in a client-visible name always marks where the upstream name ends and
 * no two upstreams can produce the same name.  The merged catalogue is kept in the
 * store (every worker shares it) for MCPGW_CATALOG_TTL seconds and dropped early when
 * an upstream announces notifications/<kind>/list_changed.
 *
 * Upstream sessions are opened lazily, one per gateway session and upstream, and
 * their ids kept in the store; an upstream that forgets its session (HTTP 404) is
 * initialised again once and the request retried.
 *
 * `gsid` below is the gateway session's handle (the SHA-256 of its id, see mcp.c),
 * never the id itself.
 */
#ifndef MCPGW_FEDERATION_H
#define MCPGW_FEDERATION_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "gateway.h"

#define FED_NAME_MAX 64   /* longest client-visible tool or prompt name */

enum fed_kind { FED_TOOLS, FED_PROMPTS, FED_RESOURCES, FED_TEMPLATES, FED_KIND_COUNT };

/* Write "upstream<sep>name" into out.  Returns 0, or -1 when the result would exceed
 * FED_NAME_MAX or name holds characters outside A-Z a-z 0-9 _ - . */
int fed_name_join(char *out, size_t outlen, const char *upstream, const char *sep,
                  const char *name);

/* Find the upstream owning a client-visible name.  Returns the upstream's index in
 * cfg->upstreams and sets *rest to the upstream's own name for it, or -1. */
int fed_name_split(const config_t *cfg, const char *full, const char **rest);

/* Answer a tools/list or prompts/list request (params may be NULL) for gateway session
 * gsid.  Returns a complete JSON-RPC response carrying id (caller frees). */
cJSON *fed_list(gateway_t *g, const char *gsid, enum fed_kind kind, const cJSON *id,
                const cJSON *params);

/* Answer tools/call or prompts/get by forwarding to the owning upstream.  *upstream is
 * set to the upstream's name (for logs) or NULL.  Returns a JSON-RPC response. */
cJSON *fed_call(gateway_t *g, const char *gsid, enum fed_kind kind, const cJSON *id,
                const cJSON *params, const char **upstream);

/* Answer resources/read by forwarding to the upstream that owns params.uri (see above):
 * -32602 without a uri, -32002 when no upstream owns it.  *upstream as for fed_call. */
cJSON *fed_read(gateway_t *g, const char *gsid, const cJSON *id, const cJSON *params,
                const char **upstream);

/* Free this worker's rendered copies of the catalogues (gateway_close calls it). */
void fed_cache_free(gateway_t *g);

/* End every upstream session opened for gsid (best effort) and forget them. */
void fed_end_session(gateway_t *g, const char *gsid);

/* Probe every upstream's TCP reachability; returns an object {"name":"reachable"|
 * "unreachable: why"} (caller frees). */
cJSON *fed_probe(gateway_t *g, long timeout_ms);

#endif
