// pool.test.mjs - the process manager end to end on loopback: the real entrypoint, lighttpd
// and pool, with the pool binary copied to a temp dir so that a test can replace it.
// Load comes from wrk (short, bounded runs on 127.0.0.1); every run counts non-2xx answers
// and socket errors, which must be zero where the pool promises no failed request.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startStack, waitFor, childrenOf, workersOf, commOf, freePort, ROOT, BUILD } from './stack.mjs';

const run = promisify(execFile);
const BUILT_POOL = path.join(BUILD, 'mcpgw-pool');
const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/* A copy of the pool binary in a directory of its own, replaceable by rename like a deploy. */
function poolCopy() {
  const dir = mkdtempSync(path.join(tmpdir(), 'mcpgw-bin-'));
  const bin = path.join(dir, 'mcpgw-pool');
  copyFileSync(BUILT_POOL, bin);
  chmodSync(bin, 0o755);
  return { dir, bin };
}

function replaceFile(dst, { from, text }) {
  const tmp = `${dst}.new`;
  if (from) copyFileSync(from, tmp); else writeFileSync(tmp, text);
  chmodSync(tmp, 0o755);
  renameSync(tmp, dst);
}

const masterPid = (S) => Number(readFileSync(path.join(S.dir, 'pool.pid'), 'utf8'));
const workerPids = (S) => workersOf(masterPid(S)).sort((a, b) => a - b);

async function status(S, query = '') {
  const r = await fetch(`${S.base}/status${query}`);
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return JSON.parse(text);
}

/* `mcpgw-pool --reload` for stack S (always the built binary: the copy may be broken). */
async function reload(S) {
  try {
    const { stdout, stderr } = await run(BUILT_POOL, ['--reload'],
      { env: { ...process.env, MCPGW_RUNTIME_DIR: S.dir }, timeout: 30000 });
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    return { code: e.code, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/* wrk against url for `seconds`; returns totals. A Lua script may set the request. */
function wrk(url, { seconds = 3, connections = 16, lua } = {}) {
  const args = ['-t2', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s'];
  let dir;
  if (lua) {
    dir = mkdtempSync(path.join(tmpdir(), 'mcpgw-wrk-'));
    writeFileSync(path.join(dir, 'req.lua'), lua);
    args.push('-s', path.join(dir, 'req.lua'));
  }
  args.push(url);
  return new Promise((resolve, reject) => {
    const p = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const kill = setTimeout(() => p.kill('SIGKILL'), (seconds + 15) * 1000);
    p.on('error', reject);
    p.on('exit', (code) => {
      clearTimeout(kill);
      if (dir) rmSync(dir, { recursive: true, force: true });
      const requests = Number((out.match(/(\d+) requests in/) || [])[1]);
      const non2xx = Number((out.match(/Non-2xx or 3xx responses: (\d+)/) || [0, 0])[1]);
      const se = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
      const socketErrors = se ? se.slice(1).reduce((a, n) => a + Number(n), 0) : 0;
      if (code !== 0 || Number.isNaN(requests)) reject(new Error(`wrk failed (${code}):\n${out}`));
      else resolve({ requests, non2xx, socketErrors, out });
    });
  });
}

function assertNoFailures(w, what) {
  assert.equal(w.non2xx, 0, `${what}: non-2xx answers\n${w.out}`);
  assert.equal(w.socketErrors, 0, `${what}: socket errors\n${w.out}`);
}

async function post(S, body, headers = {}) {
  const r = await fetch(`${S.base}/mcp`, { method: 'POST', headers: { ...JSON_HEADERS, ...headers },
    body: JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text };
}

async function openSession(S) {
  const r = await post(S, { jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'pool-it', version: '1' } } });
  assert.equal(r.status, 200, r.text);
  const sid = r.headers.get('mcp-session-id');
  await post(S, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': sid });
  return sid;
}

let nextId = 10;
function sleepCall(S, sid, ms) {
  return post(S, { jsonrpc: '2.0', id: nextId++, method: 'tools/call',
    params: { name: 'toolbox__sleep', arguments: { ms } } },
  { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
}

/* Log lines of the gateway's stderr from offset on, parsed (non-JSON lines dropped). */
function logLines(S, from = 0) {
  return S.gw.err.slice(from).split('\n').filter((l) => l.startsWith('{')).map((l) => {
    try { return JSON.parse(l); } catch { return null; }
  }).filter(Boolean);
}

async function stopClean(S, bin) {
  if (!S) return;
  const { code, signal } = await S.stop();
  if (bin) rmSync(bin.dir, { recursive: true, force: true });
  assert.equal(signal, null, 'entrypoint was killed');
  assert.equal(code, 0, `entrypoint exit code after SIGTERM\n${S.gw.err.slice(-3000)}`);
}

describe('process manager: static pool', () => {
  let S, bin;
  before(async () => {
    bin = poolCopy();
    S = await startStack({ env: {
      MCPGW_POOL_BIN: bin.bin, MCPGW_WORKERS: '4', MCPGW_REQUEST_TIMEOUT: '2',
      MCPGW_SLOW_MS: '300', MCPGW_WORKER_START_TIMEOUT: '3',
    } });
  });
  after(async () => stopClean(S, bin));

  it('/status answers JSON with the documented figures, and plain text on request', async () => {
    const s = await status(S);
    assert.equal(s.mode, 'static');
    assert.equal(s.total, 4);
    assert.equal(s.max_children, 4);
    assert.equal(s.generation, 1);
    for (const k of ['start_time', 'start_since', 'accepted', 'active', 'idle', 'max_active',
      'max_children_reached', 'slow_requests', 'restarts', 'swaps', 'swap_failures']) {
      assert.equal(typeof s[k], 'number', `${k}: ${s[k]}`);
    }
    if (s.listen_queue === null) {
      assert.match(s.listen_queue_error, /sock_diag/, 'a unix socket queue is unknown only without sock_diag');
    } else {
      assert.equal(s.listen_queue_len, 1024);
    }
    const t = await fetch(`${S.base}/status?text`);
    assert.match(t.headers.get('content-type'), /^text\/plain/);
    assert.match(await t.text(), /^process manager +static$/m);
    const full = await status(S, '?full');
    assert.deepEqual(full.workers.map((w) => w.pid).sort((a, b) => a - b), workerPids(S));
  });

  it('/status figures follow the load, and /health and /status answer with every worker busy', async () => {
    const s0 = await status(S);
    // One session per call, so each sleeper has an upstream session of its own.
    const sids = await Promise.all([1, 2, 3, 4].map(() => openSession(S)));
    const calls = sids.map((sid) => sleepCall(S, sid, 1500));
    // All four workers sleep upstream: the status lane still answers.
    await waitFor('four busy workers', async () => (await status(S)).active === 4, 5000, 50);
    const t0 = Date.now();
    const h = await fetch(`${S.base}/health`);
    assert.equal(h.status, 200);
    const { stdout } = await run(path.join(BUILD, 'mcpgw-entrypoint'), ['--health'],
      { env: { ...process.env, MCPGW_PORT: String(S.ports.gw) }, timeout: 5000 });
    assert.equal(stdout, '');
    assert.ok(Date.now() - t0 < 1000, `/health and --health took ${Date.now() - t0} ms with every worker busy`);
    const results = await Promise.all(calls);
    for (const r of results) assert.equal(r.status, 200, r.text);
    const s1 = await status(S);
    assert.ok(s1.accepted >= s0.accepted + 8, `accepted ${s0.accepted} -> ${s1.accepted}`);
    assert.equal(s1.max_active, 4);
    assert.ok(s1.max_children_reached > s0.max_children_reached, 'max children reached not counted');
    assert.ok(s1.slow_requests >= s0.slow_requests + 4, `slow ${s0.slow_requests} -> ${s1.slow_requests}`);
    // A worker marks itself idle just after its answer left: poll for the settled state.
    await waitFor('all idle', async () => {
      const s = await status(S);
      return s.active === 0 && s.idle === 4;
    }, 2000, 20);
    assert.ok(logLines(S).some((l) => l.msg === 'slow request' && l.level === 'warn'), 'no slow request log line');
  });

  it('a worker killed with SIGKILL is respawned and counted', async () => {
    const s0 = await status(S);
    const before = workerPids(S);
    process.kill(before[0], 'SIGKILL');
    await waitFor('respawn', () => {
      const now = workerPids(S);
      return now.length === 4 && !now.includes(before[0]);
    }, 5000);
    const s1 = await status(S);
    assert.equal(s1.crashes, s0.crashes + 1);
    assert.equal(s1.restarts, s0.restarts + 1);
    assert.equal(s1.total, 4);
  });

  it('a request past MCPGW_REQUEST_TIMEOUT gets a 5xx, its worker is replaced, the pool stays at strength', async () => {
    const s0 = await status(S);
    const before = workerPids(S);
    const sid = await openSession(S);
    const t0 = Date.now();
    const r = await sleepCall(S, sid, 15000);
    const took = Date.now() - t0;
    // lighttpd 1.4.69 answers a backend that closes without a response with 500, here
    // with the JSON-RPC error the entrypoint wrote for it.
    assert.equal(r.status, 500, r.text);
    assert.match(JSON.parse(r.text).error.message, /ended without answering/);
    assert.ok(took >= 1900 && took < 6000, `answered after ${took} ms`);
    await waitFor('pool back at strength', () => workerPids(S).length === 4, 5000);
    const s1 = await status(S);
    assert.equal(s1.timeouts, s0.timeouts + 1);
    assert.equal(s1.restarts, s0.restarts + 1);
    assert.equal(s1.total, 4);
    assert.equal(workerPids(S).filter((p) => !before.includes(p)).length, 1, 'exactly one worker replaced');
    const line = logLines(S).find((l) => l.msg === 'request timeout: worker killed');
    assert.ok(line, 'no request timeout log line');
    assert.equal(line.request, 'POST /mcp');
  });

  it('hot swap under load replaces every worker with no failed request', async () => {
    const s0 = await status(S);
    const before = workerPids(S);
    const load = wrk(`${S.base}/health`, { seconds: 4 });
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 3; i++) {
      const r = await reload(S);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, new RegExp(`generation ${s0.generation + i + 1}`));
    }
    const w = await load;
    assertNoFailures(w, 'hot swap');
    assert.ok(w.requests > 500, `only ${w.requests} requests`);
    const s1 = await status(S);
    assert.equal(s1.generation, s0.generation + 3);
    assert.equal(s1.swaps, s0.swaps + 3);
    assert.equal(s1.total, 4);
    const after = workerPids(S);
    assert.equal(after.length, 4);
    assert.deepEqual(after.filter((p) => before.includes(p)), [], 'some workers were not replaced');
  });

  it('hot swap under load with 300 KB requests and answers fails none of them', async () => {
    // Big bodies keep a worker inside read() and write() on its FastCGI connection, where
    // the stop signal of a swap lands: that must not cut a request short.
    const sid = await openSession(S);
    const big = 'x'.repeat(300000);
    const load = wrk(`${S.base}/mcp`, { seconds: 4, connections: 8, lua: `
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":"${big}","method":"ping"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Mcp-Session-Id"] = "${sid}"
` });
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 5; i++) {
      const r = await reload(S);
      assert.equal(r.code, 0, r.out);
      await new Promise((res) => setTimeout(res, 200));
    }
    const w = await load;
    assertNoFailures(w, 'hot swap with big bodies');
    assert.ok(w.requests > 100, `only ${w.requests} requests`);
  });

  it('a broken new binary is refused on SIGHUP while the old workers keep serving', async () => {
    const s0 = await status(S);
    const before = workerPids(S);
    const from = S.gw.err.length;
    replaceFile(bin.bin, { text: '#!/bin/sh\necho "broken build" >&2\nexit 1\n' });
    const load = wrk(`${S.base}/health`, { seconds: 2 });
    await new Promise((r) => setTimeout(r, 300));
    process.kill(masterPid(S), 'SIGHUP');
    await waitFor('swap failure on /status', async () => (await status(S)).swap_failures === s0.swap_failures + 1, 5000);
    const w = await load;
    assertNoFailures(w, 'refused swap');
    const s1 = await status(S);
    assert.equal(s1.generation, s0.generation);
    assert.match(s1.last_swap_error, /exited with status 1 before it was ready/);
    assert.deepEqual(workerPids(S), before, 'the old workers were touched');
    const err = logLines(S, from).find((l) => l.msg.startsWith('hot swap failed'));
    assert.ok(err, 'no hot swap failure in the log');
    assert.equal(err.level, 'error');
    // --reload reports the failure too, then a good binary is accepted again.
    const r = await reload(S);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /hot swap failed/);
    replaceFile(bin.bin, { from: BUILT_POOL });
    const ok = await reload(S);
    assert.equal(ok.code, 0, ok.out);
    assert.equal((await status(S)).generation, s0.generation + 1);
  });

  it('a new program that dies soon after it is ready is refused too, and never loops', async () => {
    for (const [what, text, re] of [
      ['exits 0 right after ready', '#!/bin/bash\nprintf R >&"$5"\nexit 0\n', /exited with status 0 after it was ready/],
      ['crashes half a second after ready', `#!/bin/sh\n( sleep 0.5; kill -SEGV $$ ) &\nexec ${BUILT_POOL} "$@"\n`,
        /killed by signal 11 after it was ready/],
      ['serves as a worker but not as the status lane', `#!/bin/sh\n[ "$1" = --lane ] && exit 3\nexec ${BUILT_POOL} "$@"\n`,
        /new status lane exited with status 3/],
    ]) {
      const s0 = await status(S);
      const before = workerPids(S);
      const from = S.gw.err.length;
      replaceFile(bin.bin, { text });
      const r = await reload(S);
      assert.equal(r.code, 1, `${what}: ${r.out}`);
      assert.match(r.out, re, what);
      const s1 = await status(S);
      assert.equal(s1.generation, s0.generation, what);
      assert.equal(s1.swap_failures, s0.swap_failures + 1, what);
      assert.deepEqual(workerPids(S), before, `${what}: the old workers were touched`);
      const started = logLines(S, from).filter((l) => l.msg === 'worker started').length;
      assert.ok(started <= 2, `${what}: ${started} workers started`);
      assert.equal((await fetch(`${S.base}/health`)).status, 200, `${what}: the lane in service was touched`);
    }
    replaceFile(bin.bin, { from: BUILT_POOL });
  });

  it('a swap to another upstreams file serves the new catalogue at once, not the cached one', async () => {
    const sid = await openSession(S);
    const list = async () => JSON.parse((await post(S, { jsonrpc: '2.0', id: nextId++, method: 'tools/list', params: {} },
      { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' })).text).result.tools.map((t) => t.name);
    assert.ok((await list()).some((n) => n.startsWith('toolbox__')));
    const file = path.join(S.dir, 'upstreams.json');
    const before = readFileSync(file, 'utf8');
    const doc = JSON.parse(before);
    doc.upstreams = doc.upstreams.map((u) => (u.name === 'toolbox' ? { ...u, name: 'tb' } : u));
    writeFileSync(file, JSON.stringify(doc));
    try {
      const r = await reload(S);
      assert.equal(r.code, 0, r.out);
      const after = await list();       // MCPGW_CATALOG_TTL is 60 s: a cached copy would still say toolbox
      assert.ok(after.some((n) => n.startsWith('tb__')), after.join(' '));
      assert.ok(!after.some((n) => n.startsWith('toolbox__')), 'the old catalogue was served');
    } finally {
      writeFileSync(file, before);
      assert.equal((await reload(S)).code, 0);
    }
  });

  it('concurrent --reload calls each get the answer of a swap that served them', async () => {
    const s0 = await status(S);
    // SIGHUPs that arrive together coalesce (their tokens with them): no caller may wait
    // for an answer that never comes.
    const rs = await Promise.all([1, 2, 3, 4].map(() => reload(S)));
    for (const r of rs) {
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /hot swap complete/);
    }
    assert.ok((await status(S)).generation > s0.generation);
  });

  it('a worker stopped by a swap still gets killed at MCPGW_REQUEST_TIMEOUT', async () => {
    const s0 = await status(S);
    const sid = await openSession(S);
    const t0 = Date.now();
    const call = sleepCall(S, sid, 15000);
    await waitFor('a busy worker', async () => (await status(S)).active >= 1, 3000, 20);
    const r = await reload(S);                  // asks the busy worker to stop
    assert.equal(r.code, 0, r.out);
    const res = await call;
    const took = Date.now() - t0;
    assert.equal(res.status, 500, res.text);
    assert.ok(took < 6000, `answered after ${took} ms: the 2 s limit did not apply`);
    assert.equal((await status(S)).timeouts, s0.timeouts + 1);
  });

  it('a crash burst is logged once and respawns are held, not looped', async () => {
    const master = masterPid(S);
    const from = S.gw.err.length;
    let killed = 0;
    const end = Date.now() + 2500;
    while (Date.now() < end) {
      for (const p of workersOf(master)) {
        try { process.kill(p, 'SIGKILL'); killed++; } catch { /* already gone */ }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const lines = logLines(S, from);
    const started = lines.filter((l) => l.msg === 'worker started').length;
    const bursts = lines.filter((l) => l.msg.startsWith('crash burst:'));
    assert.equal(bursts.length, 1, `crash burst logged ${bursts.length} times`);
    assert.equal(bursts[0].level, 'error');
    assert.ok(killed >= 5, `only ${killed} kills`);
    // Unbounded, 4 slots respawning every 20 ms would start ~500 workers in 2.5 s.
    assert.ok(started <= 14, `${started} workers started during the burst`);
    // /ready needs a pool worker (/health and /status are the status lane's).
    await waitFor('a worker back after the hold', async () => (await fetch(`${S.base}/ready`)).status === 200, 10000, 100);
    const s = await status(S);
    assert.equal(s.crash_burst, true);
    assert.ok(s.crashes >= 5);
  });
});

describe('process manager: MCPGW_MAX_REQUESTS=1', () => {
  let S, bin;
  before(async () => {
    bin = poolCopy();
    S = await startStack({ env: {
      MCPGW_POOL_BIN: bin.bin, MCPGW_WORKERS: '4', MCPGW_MAX_REQUESTS: '1',
      MCPGW_STATUS_ALLOW: '10.0.0.0/8',
    } });
  });
  after(async () => stopClean(S, bin));

  it('every worker retires after one request and no request fails under load', async () => {
    const from = S.gw.err.length;
    const w = await wrk(`${S.base}/mcp`, { seconds: 3, lua: `
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"wrk","version":"1"}}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
` });
    assertNoFailures(w, 'max_requests=1');
    assert.ok(w.requests >= 100, `only ${w.requests} requests`);
    await waitFor('retirement log lines', () =>
      logLines(S, from).filter((l) => l.msg === 'worker retired').length >= w.requests, 5000);
    const lines = logLines(S, from);
    assert.ok(lines.every((l) => l.msg !== 'worker retired' || l.requests === 1), 'a worker served more than one');
    assert.equal(lines.filter((l) => l.msg.startsWith('worker crashed') || l.msg === 'worker failed to start').length, 0);
    await waitFor('four workers', () => workerPids(S).length === 4, 3000, 20);
  });

  it('/status is refused to peers outside MCPGW_STATUS_ALLOW, and /ready tells them only its verdict', async () => {
    const r = await fetch(`${S.base}/status`);
    assert.equal(r.status, 403);
    assert.deepEqual(await r.json(), { error: 'forbidden' });
    const ready = await fetch(`${S.base}/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready' }, 'upstream names and errors are not for everyone');
  });
});

describe('process manager: dynamic pool', () => {
  let S, bin;
  before(async () => {
    bin = poolCopy();
    S = await startStack({ env: {
      MCPGW_POOL_BIN: bin.bin, MCPGW_PM: 'dynamic', MCPGW_WORKERS: '6',
      MCPGW_PM_START: '1', MCPGW_PM_MIN_SPARE: '1', MCPGW_PM_MAX_SPARE: '2',
    } });
  });
  after(async () => stopClean(S, bin));

  it('grows with busy workers up to the load and shrinks back to the spare bound', async () => {
    assert.ok(workerPids(S).length <= 2, `started with ${workerPids(S).length}`);
    const sids = await Promise.all([1, 2, 3, 4, 5].map(() => openSession(S)));
    const calls = sids.map((sid) => sleepCall(S, sid, 1500));
    // Five sleepers: five busy workers where one was started (/status is the lane's).
    let seen;
    await waitFor('five busy workers', async () => {
      seen = await status(S);
      return seen.active >= 5;
    }, 5000, 50).catch((e) => { throw new Error(`${e.message}; last /status: ${JSON.stringify(seen)}`); });
    assert.equal(seen.mode, 'dynamic');
    assert.ok(seen.total >= 5 && seen.total <= 6, `total ${seen.total}`);
    for (const r of await Promise.all(calls)) assert.equal(r.status, 200, r.text);
    // Surplus idle workers go one per second until at most MCPGW_PM_MAX_SPARE are idle.
    await waitFor('shrink', () => workerPids(S).length <= 2, 8000, 100);
    const s2 = await status(S);
    assert.ok(s2.idle <= 2 && s2.idle >= 1, `idle ${s2.idle}`);
    assert.ok(s2.max_active >= 5, `max_active ${s2.max_active}`);
  });
});

describe('process manager: ondemand pool on TCP behind lighttpd', () => {
  let S, bin;
  before(async () => {
    bin = poolCopy();
    const port = await freePort();
    S = await startStack({ env: {
      MCPGW_POOL_BIN: bin.bin, MCPGW_PM: 'ondemand', MCPGW_WORKERS: '3', MCPGW_PM_IDLE_TIMEOUT: '1',
      MCPGW_SOCKET: `127.0.0.1:${port}`,
      MCPGW_LIGHTTPD_CONF: path.join(ROOT, 'tests/fixtures/lighttpd-tcp.conf'),
      MCPGW_LIGHTTPD_BASE: path.join(ROOT, 'lighttpd.conf'),
      MCPGW_POOL_HOST: '127.0.0.1', MCPGW_POOL_PORT: String(port),
    } });
  });
  after(async () => stopClean(S, bin));

  it('idles down to no worker, starts one per waiting connection, reports the TCP listen queue', async () => {
    await waitFor('no worker at rest', () => workerPids(S).length === 0, 5000, 100);
    const s = await status(S);
    assert.equal(s.mode, 'ondemand');
    assert.equal(s.total, 1);
    assert.equal(s.listen_queue, 0);
    assert.equal(s.listen_queue_len, 1024);
    const w = await wrk(`${S.base}/health`, { seconds: 1, connections: 8 });
    assertNoFailures(w, 'ondemand');
    assert.ok(workerPids(S).length >= 1 && workerPids(S).length <= 3);
    await waitFor('idle workers retire', () => workerPids(S).length === 0, 5000, 100);
  });
});
