/* SPDX-License-Identifier: MIT */
/* mcp.h - the MCP Streamable HTTP endpoint: sessions, protocol versions, JSON-RPC
 * dispatch of the methods the gateway answers itself or federates.
 *
 * Transport rules (MCP 2025-11-25, also 2025-06-18 and 2025-03-26):
 *   POST   one JSON-RPC message; requests get an application/json answer, notifications
 *          and responses 202 with no body;
 *   DELETE ends the session named by Mcp-Session-Id;
 *   GET    405 (the gateway offers no server-initiated stream).
 * initialize opens a session whose random id is recorded in the store; every other
 * message needs that id (missing: 400, unknown or expired: 404).  A browser Origin
 * outside the allow-list gets 403; an unsupported MCP-Protocol-Version gets 400.
 */
#ifndef MCPGW_MCP_H
#define MCPGW_MCP_H

#include "config.h"
#include "gateway.h"
#include "http.h"

#define MCP_PROTOCOL_LATEST "2025-11-25"

/* Serve one request to the MCP endpoint. */
void mcp_handle(gateway_t *g, const http_request_t *req, http_response_t *resp);

/* Whether version is one the gateway speaks. */
int mcp_protocol_supported(const char *version);

/* The version to answer an initialize that asked for `requested` (may be NULL). */
const char *mcp_protocol_negotiate(const char *requested);

/* Whether a request carrying Origin `origin` may proceed (NULL origin: yes). */
int mcp_origin_allowed(const config_t *cfg, const char *origin);

#endif
