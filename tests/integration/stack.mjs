// stack.mjs - start and stop the real mcpgw stack on loopback for integration tests:
// two upstream MCP servers (server-everything and the toolbox fixture), then
// mcpgw-entrypoint, which starts the pool and lighttpd.  Every process gets its own
// process group so that stop() can end it and everything it spawned.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TESTS = path.join(ROOT, 'tests');
// The build folder under test: make passes its own (build, or build-<sanitizers>).
export const BUILD = path.resolve(ROOT, process.env.MCPGW_BUILD || 'build');

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

export async function waitFor(what, fn, timeoutMs = 15000, everyMs = 50) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try { if (await fn()) return; } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

export async function portOpen(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.on('connect', () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
  });
}

/* A child process in its own group whose output is collected in memory. */
class Proc {
  constructor(name, cmd, args, opts) {
    this.name = name;
    this.out = '';
    this.err = '';
    this.child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (d) => { this.out += d; });
    this.child.stderr.on('data', (d) => { this.err += d; });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }
  get pid() { return this.child.pid; }
  signal(sig) { try { process.kill(this.pid, sig); } catch { /* gone */ } }
  async stop(sig = 'SIGTERM', graceMs = 8000) {
    this.signal(sig);
    const t = setTimeout(() => { try { process.kill(-this.pid, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
    const r = await this.exited;
    clearTimeout(t);
    try { process.kill(-this.pid, 'SIGKILL'); } catch { /* group already empty */ }
    return r;
  }
}

export const TOOLBOX_TOKEN = 'tok-SECRET-never-logged-5f1c';

export async function startUpstream(kind, port, env = {}) {
  const args = kind === 'everything'
    ? ['node_modules/@modelcontextprotocol/server-everything/dist/index.js', 'streamableHttp']
    : ['fixtures/upstream-toolbox.mjs'];
  const p = new Proc(kind, process.execPath, args, { cwd: TESTS, env: { ...process.env, PORT: String(port), ...env } });
  await waitFor(`${kind} upstream on port ${port}`, () => portOpen(port));
  return p;
}

/* Start the whole stack.  Returns an object with URLs, processes and stop().
 * upstreamsFrom: another stack whose upstream servers this one uses too (it neither
 * starts nor stops them), so that two gateways can share upstream sessions.
 * inlineUpstreams: pass the upstreams document in MCPGW_UPSTREAMS_JSON instead of a file,
 * as the Terraform service module does on Fargate. */
export async function startStack({ env = {}, toolboxTimeoutMs, toolboxEnv = {}, upstreamsFrom, inlineUpstreams,
  extraUpstreams = [] } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'mcpgw-it-'));
  const shared = upstreamsFrom?.ports;
  const ports = { gw: await freePort(), everything: shared?.everything ?? await freePort(),
    toolbox: shared?.toolbox ?? await freePort() };
  const everything = shared ? null : await startUpstream('everything', ports.everything);
  const toolbox = shared ? null : await startUpstream('toolbox', ports.toolbox, { TOOLBOX_JSON: '1', TOOLBOX_TOKEN, ...toolboxEnv });
  const toolboxEntry = { name: 'toolbox', url: `http://127.0.0.1:${ports.toolbox}/mcp`,
    headers: { Authorization: 'Bearer ${TOOLBOX_TOKEN}', 'X-Client': 'mcpgw-tests' } };
  if (toolboxTimeoutMs) toolboxEntry.timeout_ms = toolboxTimeoutMs;
  const upstreamsDoc = JSON.stringify({
    separator: '__',
    upstreams: [{ name: 'everything', url: `http://127.0.0.1:${ports.everything}/mcp` }, toolboxEntry, ...extraUpstreams],
  });
  if (!inlineUpstreams) writeFileSync(path.join(dir, 'upstreams.json'), upstreamsDoc);
  const gwEnv = {
    ...process.env,
    MCPGW_RUNTIME_DIR: dir,
    ...(inlineUpstreams ? { MCPGW_UPSTREAMS: '', MCPGW_UPSTREAMS_JSON: upstreamsDoc }
      : { MCPGW_UPSTREAMS: path.join(dir, 'upstreams.json'), MCPGW_UPSTREAMS_JSON: '' }),
    MCPGW_BIND: '127.0.0.1',
    MCPGW_PORT: String(ports.gw),
    MCPGW_SOCKET: path.join(dir, 'fcgi.sock'),
    MCPGW_LIGHTTPD_CONF: path.join(ROOT, 'lighttpd.conf'),
    MCPGW_POOL_BIN: path.join(BUILD, 'mcpgw-pool'),
    MCPGW_WORKERS: '2',
    MCPGW_DRAIN_DELAY: '0',
    TOOLBOX_TOKEN,
    TZ: 'JST-9',   // a zone nine hours from UTC: every log line must still be in UTC
    ...env,
  };
  const gw = new Proc('mcpgw', path.join(BUILD, 'mcpgw-entrypoint'), [], { cwd: dir, env: gwEnv });
  const base = `http://127.0.0.1:${ports.gw}`;
  try {
    await waitFor('gateway /health', async () => (await fetch(`${base}/health`)).status === 200);
  } catch (e) {
    await gw.stop('SIGKILL', 100);
    await everything?.stop();
    await toolbox?.stop();
    throw new Error(`${e.message}\n--- gateway stderr ---\n${gw.err}\n--- stdout ---\n${gw.out}`);
  }
  return {
    dir, ports, base, mcp: `${base}/mcp`, gw, everything, toolbox, env: gwEnv,
    async restartToolbox() {
      this.toolbox = await startUpstream('toolbox', ports.toolbox, { TOOLBOX_JSON: '1', TOOLBOX_TOKEN });
    },
    /* A new server-everything process on the same port: it knows none of the old sessions. */
    async restartEverything() {
      await this.everything?.stop();
      this.everything = await startUpstream('everything', ports.everything);
    },
    async stop() {
      const r = await gw.stop('SIGTERM');
      await this.everything?.stop();
      await this.toolbox?.stop();
      if (!process.env.KEEP_TMP) rmSync(dir, { recursive: true, force: true });
      return r;
    },
  };
}

/* A hand-made upstream on a free loopback port: answers initialize itself and every other
 * request with answer(message): the text of a JSON-RPC "result", or { error: text } for
 * an "error" member.  For upstreams no SDK would be.  Returns { url, close() }. */
export async function rawUpstream(answer) {
  const http = await import('node:http');
  const server = http.createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    const m = body ? JSON.parse(body) : {};
    if (m.id === undefined) { res.writeHead(202).end(); return; }
    const result = m.method === 'initialize'
      ? '{"protocolVersion":"2025-11-25","capabilities":{"tools":{},"resources":{}},"serverInfo":{"name":"raw","version":"1"}}'
      : answer(m);
    const member = typeof result === 'string' ? `"result":${result}` : `"error":${result.error}`;
    res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'raw-1' })
      .end(`{"jsonrpc":"2.0","id":${JSON.stringify(m.id)},${member}}`);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/mcp`, close: () => new Promise((r) => server.close(r)) };
}

/* Children of pid according to /proc (Linux). */
export function childrenOf(pid) {
  const f = `/proc/${pid}/task/${pid}/children`;
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

/* The pool master's workers (not its status lane, "mcpgw-lane"). */
export function workersOf(master) {
  return childrenOf(master).filter((p) => commOf(p) === 'mcpgw-worker');
}

export function commOf(pid) {
  try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return ''; }
}
