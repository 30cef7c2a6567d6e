// SPDX-License-Identifier: MIT
// client.mjs - HTTP side of the container test: wait for /health, and stop a container under load.
//
//   node client.mjs wait-health BASE_URL TIMEOUT_MS
//       Polls BASE_URL/health every 10 ms.  Prints {"first_200_ms": epoch ms of the first
//       200, "polls": n} and exits 0, or exits 1 after TIMEOUT_MS.
//
//   node client.mjs upstream HOST PORT [KEY.pem CERT.pem]
//       A minimal upstream MCP server (plain JSON answers, one tool "echo") on HOST:PORT
//       (0: a free port), over TLS when a key and certificate are given.  Prints
//       {"port": n} once listening, then serves until it is killed.
//
//   node client.mjs stop-under-load BASE_URL CONTAINER [WARMUP_MS]
//       Opens an MCP session, runs a bounded client load against BASE_URL for WARMUP_MS
//       (default 1500), then runs `podman stop -t 30 CONTAINER` (podman from PATH, with
//       the caller's CONTAINERS_* environment) while the load goes on, and ends the load
//       when podman stop returns.  Prints one JSON object with the counts below and exits
//       0; judging them is the caller's business.
//
// The load: MCP_LOOPS loops each POST a JSON-RPC ping (every 10th an initialize) to /mcp,
// one loop GETs /health every 50 ms.  Every request uses a connection of its own
// (Connection: close, no agent), so each outcome belongs to exactly one request:
//   ok          /mcp answered 2xx, or /health answered 200
//   health_503  /health answered 503: the drain signal to the load balancer (after stop)
//   not_accepted  the connection was never established, so not a byte of the request
//               was sent: connect() refused (ECONNREFUSED), or reset (ECONNRESET) while
//               the client was still connecting, which happens to a connection that
//               waited in the accept queue when lighttpd closed its listener.  Expected
//               once the listener is closed, so counted apart from failures (by code in
//               not_accepted_codes)
//   failed      anything else: a non-2xx /mcp answer, a /health answer other than 200/503,
//               a connection reset or closed after it was established and before the
//               whole answer arrived, a timeout (10 s), and any 503 or unaccepted
//               connection before the stop began.
// Each count is split into "before" (load before podman stop was run) and "during".
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';

const MCP_LOOPS = 6;
const HEALTH_EVERY_MS = 50;
const REQUEST_TIMEOUT_MS = 10000;
const PROTOCOL = '2025-06-18';

function request(base, method, path, headers, body) {
    return new Promise((resolve) => {
        const u = new URL(path, base);
        const t0 = Date.now();
        let settled = false;
        const done = (r) => {
            if (!settled) {
                settled = true;
                resolve({ ...r, ms: Date.now() - t0 });
            }
        };
        const req = http.request({
            host: u.hostname, port: u.port, path: u.pathname, method, agent: false,
            headers: { Connection: 'close', ...headers },
            timeout: REQUEST_TIMEOUT_MS,
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                if (!res.complete) return;
                done({ status: res.statusCode, headers: res.headers,
                       body: Buffer.concat(chunks).toString('utf8') });
            });
            res.on('error', (e) => done({ error: e.message, code: e.code || 'RESPONSE_ERROR' }));
            res.on('close', () => {
                if (!res.complete) done({ error: 'closed before the whole answer', code: 'INCOMPLETE' });
            });
        });
        req.on('timeout', () => { req.destroy(new Error('timeout')); });
        req.on('error', (e) => done({ error: e.message, code: e.code || 'ERROR', syscall: e.syscall }));
        if (body !== undefined) req.end(body); else req.end();
    });
}

// Headers of an MCP POST: a session's requests carry its id and the protocol version,
// an initialize carries neither.
function mcpHeaders(session) {
    const h = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
    if (session) {
        h['Mcp-Session-Id'] = session;
        h['MCP-Protocol-Version'] = PROTOCOL;
    }
    return h;
}

function initializeBody(id) {
    return JSON.stringify({
        jsonrpc: '2.0', id, method: 'initialize',
        params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'container-test', version: '1' } },
    });
}

async function waitHealth(base, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    let polls = 0;
    while (Date.now() < deadline) {
        polls++;
        const r = await request(base, 'GET', '/health', {});
        if (r.status === 200) {
            console.log(JSON.stringify({ first_200_ms: Date.now(), polls }));
            return 0;
        }
        await new Promise((res) => setTimeout(res, 10));
    }
    console.log(JSON.stringify({ error: `no 200 from /health within ${timeoutMs} ms`, polls }));
    return 1;
}

async function stopUnderLoad(base, container, warmupMs) {
    const init = await request(base, 'POST', '/mcp', mcpHeaders(null), initializeBody(0));
    const session = init.headers && init.headers['mcp-session-id'];
    if (init.status !== 200 || !session) {
        console.log(JSON.stringify({ error: 'initialize failed', status: init.status, detail: init.error || init.body }));
        return 1;
    }
    const zero = () => ({ ok: 0, health_503: 0, not_accepted: 0, failed: 0 });
    const notAcceptedCodes = {};
    const counts = { before: zero(), during: zero() };
    const failures = [];
    let phase = 'before';
    let stopping = false;
    let finished = false;
    let firstNotAcceptedMs = null;  // ms after the stop began
    let last2xxMs = null;
    let stopStart = 0;

    const fail = (what, r, path) => {
        counts[phase].failed++;
        if (failures.length < 20) {
            failures.push({ phase, path, what, status: r.status, code: r.code, error: r.error,
                            at_ms: stopStart ? Date.now() - stopStart : null });
        }
    };
    const classify = (path, r) => {
        if (r.error) {
            if (r.syscall === 'connect' && stopping) {
                counts[phase].not_accepted++;
                notAcceptedCodes[r.code] = (notAcceptedCodes[r.code] || 0) + 1;
                if (firstNotAcceptedMs === null) firstNotAcceptedMs = Date.now() - stopStart;
                return 'not accepted';
            }
            fail('no complete answer', r, path);
            return 'failed';
        }
        if (path === '/health') {
            if (r.status === 200) { counts[phase].ok++; return 'ok'; }
            if (r.status === 503 && stopping) { counts[phase].health_503++; return '503'; }
            fail('unexpected /health status', r, path);
            return 'failed';
        }
        if (r.status >= 200 && r.status < 300) {
            counts[phase].ok++;
            if (stopping) last2xxMs = Date.now() - stopStart;
            return 'ok';
        }
        fail('non-2xx /mcp answer', r, path);
        return 'failed';
    };

    const mcpLoop = async (n) => {
        let i = 0;
        while (!finished) {
            i++;
            const body = i % 10 === 0
                ? initializeBody(`${n}-${i}`)
                : JSON.stringify({ jsonrpc: '2.0', id: `${n}-${i}`, method: 'ping' });
            const r = await request(base, 'POST', '/mcp', mcpHeaders(i % 10 === 0 ? null : session), body);
            if (classify('/mcp', r) === 'not accepted') await new Promise((res) => setTimeout(res, 20));
        }
    };
    const healthLoop = async () => {
        while (!finished) {
            classify('/health', await request(base, 'GET', '/health', {}));
            await new Promise((res) => setTimeout(res, HEALTH_EVERY_MS));
        }
    };

    const loops = [healthLoop()];
    for (let n = 0; n < MCP_LOOPS; n++) loops.push(mcpLoop(n));
    await new Promise((res) => setTimeout(res, warmupMs));

    phase = 'during';
    stopping = true;
    stopStart = Date.now();
    const stop = await new Promise((resolve) => {
        const p = spawn('podman', ['stop', '-t', '30', container], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (d) => { err += d; });
        p.on('error', (e) => resolve({ rc: -1, stderr: e.message }));
        p.on('close', (rc) => resolve({ rc, stderr: err }));
    });
    const stopMs = Date.now() - stopStart;
    finished = true;
    await Promise.all(loops);

    console.log(JSON.stringify({
        stop_ms: stopMs, stop_rc: stop.rc,
        stop_stderr: stop.stderr.split('\n').filter((l) => l && !/systemd/.test(l)).join(' | '),
        before: counts.before, during: counts.during,
        not_accepted_codes: notAcceptedCodes,
        first_not_accepted_ms: firstNotAcceptedMs, last_2xx_ms: last2xxMs,
        failures,
    }));
    return 0;
}

// The upstream: just enough MCP for the gateway to open a session, list and call a tool.
function upstream(host, port, keyFile, certFile) {
    const answer = (res, status, obj, headers = {}) => {
        const body = obj === null ? '' : JSON.stringify(obj);
        res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
        res.end(body);
    };
    const handler = (req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            if (req.method !== 'POST') return answer(res, 405, null);
            let msg;
            try { msg = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { return answer(res, 400, null); }
            const reply = (result) => answer(res, 200, { jsonrpc: '2.0', id: msg.id, result });
            switch (msg.method) {
            case 'initialize':
                return answer(res, 200, { jsonrpc: '2.0', id: msg.id, result: {
                    protocolVersion: msg.params.protocolVersion, capabilities: { tools: {} },
                    serverInfo: { name: 'container-test-upstream', version: '1' } } },
                    { 'Mcp-Session-Id': 'container-test-session' });
            case 'tools/list':
                return reply({ tools: [{ name: 'echo', description: 'Return the text given',
                    inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] } }] });
            case 'tools/call':
                return reply({ content: [{ type: 'text', text: String(msg.params.arguments.text) }] });
            default:
                if (msg.id === undefined) return answer(res, 202, null);
                return answer(res, 200, { jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'Method not found' } });
            }
        });
    };
    const server = keyFile
        ? https.createServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, handler)
        : http.createServer(handler);
    server.listen(port, host, () => console.log(JSON.stringify({ port: server.address().port })));
    process.on('SIGTERM', () => process.exit(0));
    return new Promise(() => {});
}

const [mode, base, arg, extra, extra2] = process.argv.slice(2);
let rc = 2;
if (mode === 'wait-health' && base && arg) {
    rc = await waitHealth(base, Number(arg));
} else if (mode === 'upstream' && base && arg) {
    rc = await upstream(base, Number(arg), extra, extra2);
} else if (mode === 'stop-under-load' && base && arg) {
    rc = await stopUnderLoad(base, arg, Number(extra || 1500));
} else {
    console.error('usage: client.mjs wait-health BASE_URL TIMEOUT_MS | upstream HOST PORT [KEY CERT] |'
                  + ' stop-under-load BASE_URL CONTAINER [WARMUP_MS]');
}
process.exit(rc);
