-- SPDX-License-Identifier: MIT
-- bench.lua - wrk script for tests/bench/run.sh: MCP POSTs (optional) and a parseable summary.
--
-- Environment (read by every wrk thread):
--   BENCH_RPC      unset or empty: plain GET of the URL, no per-request Lua (full speed).
--                  Otherwise the JSON-RPC method to POST: initialize, tools/list, tools/call.
--   BENCH_PARAMS   JSON text of "params" (default {}); initialize builds its own.
--   BENCH_SESSION  Mcp-Session-Id to send (not sent for initialize).
--   BENCH_PROTO    MCP-Protocol-Version to send with a session (default 2025-11-25).
-- Each POST carries a JSON-RPC id unique across threads: an SDK server maps request ids
-- to response streams, so many requests in flight with one id would be unfair to it.
-- In POST mode every response is checked: HTTP 2xx and a body containing "result"
-- (a JSON-RPC error travels with HTTP 200, so the status alone says too little).
-- done() prints one line starting with "BENCH " of key=value pairs for run.sh.

local rpc = os.getenv("BENCH_RPC") or ""
local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

if rpc ~= "" then
   local params = os.getenv("BENCH_PARAMS") or "{}"
   local session = os.getenv("BENCH_SESSION") or ""
   local proto = os.getenv("BENCH_PROTO") or "2025-11-25"
   local headers = {
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/json, text/event-stream",
   }
   if rpc == "initialize" then
      params = '{"protocolVersion":"2025-11-25","capabilities":{},' ..
               '"clientInfo":{"name":"mcpgw-bench","version":"1"}}'
   else
      headers["Mcp-Session-Id"] = session
      headers["MCP-Protocol-Version"] = proto
   end
   local fmt = '{"jsonrpc":"2.0","id":%d,"method":"' .. rpc .. '","params":' .. params .. '}'
   local seq = 0

   function init(args)
      seen = 0
      bad = 0
      first_bad = ""
   end

   function request()
      seq = seq + 1
      return wrk.format("POST", nil, headers, string.format(fmt, tid * 100000000 + seq))
   end

   function response(status, hdrs, body)
      seen = seen + 1
      if status < 200 or status > 299 or not string.find(body, '"result"', 1, true) then
         bad = bad + 1
         if first_bad == "" then
            first_bad = string.format("HTTP %d %s", status, string.sub(body, 1, 200))
         end
      end
   end
end

function done(summary, latency, requests)
   local seen, bad, sample = 0, 0, ""
   for _, t in ipairs(threads) do
      seen = seen + (t:get("seen") or 0)
      bad = bad + (t:get("bad") or 0)
      local fb = t:get("first_bad")
      if sample == "" and fb ~= nil and fb ~= "" then sample = fb end
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d " ..
      "checked=%d bad=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.status, e.connect, e.read, e.write, e.timeout, seen, bad))
   if sample ~= "" then
      io.write("BENCH_FIRST_BAD " .. string.gsub(sample, "[\r\n]", " ") .. "\n")
   end
end
