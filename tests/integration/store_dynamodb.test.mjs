// store_dynamodb.test.mjs - two complete gateway stacks sharing one DynamoDB table
// (dynalite on loopback, fake keys): a session opened on one is served by the other, and
// a store outage shows on /ready and as -32011 until the store is back.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startStack, freePort, portOpen, waitFor, TESTS } from './stack.mjs';

const TABLE = 'mcpgw-it-sessions';
const REGION = 'eu-west-1';
const DYNALITE = path.join(TESTS, 'node_modules/dynalite/cli.js');
const FAKE_SECRET = 'fake-secret-it-never-logged';

/* dynalite in its own process group, in memory: a restart starts empty. */
class Dynalite {
  constructor(port) { this.port = port; this.err = ''; }
  async start() {
    assert.ok(existsSync(DYNALITE), `dynalite not installed at ${DYNALITE}: run npm ci in tests/`);
    this.child = spawn(process.execPath, [DYNALITE, '--host', '127.0.0.1', '--port', String(this.port),
      '--createTableMs', '0'], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr.on('data', (d) => { this.err += d; });
    this.exited = new Promise((resolve) => this.child.on('exit', resolve));
    await waitFor(`dynalite on port ${this.port}`, () => portOpen(this.port));
    await this.createTable();
  }
  async stop() {
    if (!this.child) return;
    try { process.kill(-this.child.pid, 'SIGKILL'); } catch { /* gone */ }
    await this.exited;
    this.child = null;
    await waitFor('dynalite port closed', async () => !(await portOpen(this.port)));
  }
  // dynalite wants an AWS4 Authorization header but never checks the signature.
  async call(op, body) {
    const r = await fetch(`http://127.0.0.1:${this.port}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDB_20120810.${op}`,
        'x-amz-date': '20250101T000000Z',
        authorization: `AWS4-HMAC-SHA256 Credential=AKIDTEST/20250101/${REGION}/dynamodb/aws4_request, ` +
          'SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00',
      },
      body: JSON.stringify(body),
    });
    const json = await r.json();
    assert.equal(r.status, 200, `${op}: ${JSON.stringify(json)}`);
    return json;
  }
  createTable() {
    return this.call('CreateTable', {
      TableName: TABLE, BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    });
  }
  async item(pk) {
    const { Item } = await this.call('GetItem', { TableName: TABLE, Key: { pk: { S: pk } }, ConsistentRead: true });
    if (!Item) return null;
    return { value: Buffer.from(Item.v.B, 'base64').toString(), expiresAt: Number(Item.expires_at.N) };
  }
  async keys() {
    const { Items } = await this.call('Scan', { TableName: TABLE });
    return Items.map((i) => i.pk.S);
  }
}

const handleOf = (sid) => createHash('sha256').update(sid).digest('hex');

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
let nextId = 1;

async function post(stack, body, headers = {}) {
  const res = await fetch(stack.mcp, { method: 'POST', headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text ? JSON.parse(text) : null };
}

async function openSession(stack) {
  const r = await post(stack, { jsonrpc: '2.0', id: nextId++, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'it-ddb', version: '1' } } });
  assert.equal(r.status, 200, r.text);
  const sid = r.headers.get('mcp-session-id');
  assert.match(sid, /^[0-9a-f]{32}$/);
  const n = await post(stack, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': sid });
  assert.equal(n.status, 202, n.text);
  return sid;
}

function rpc(stack, sid, method, params) {
  return post(stack, { jsonrpc: '2.0', id: nextId++, method, params },
    { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
}

async function echo(stack, sid, text) {
  const r = await rpc(stack, sid, 'tools/call', { name: 'toolbox__echo', arguments: { text } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.result?.content?.[0]?.text, text, r.text);
}

describe('two gateways sharing one DynamoDB table', () => {
  let A, B, D;

  before(async () => {
    D = new Dynalite(await freePort());
    await D.start();
    const env = {
      MCPGW_STORE: `dynamodb:${TABLE}`,
      MCPGW_DYNAMODB_ENDPOINT: `http://127.0.0.1:${D.port}`,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: 'AKIDFAKEIT',
      AWS_SECRET_ACCESS_KEY: FAKE_SECRET,
      AWS_SESSION_TOKEN: 'fake-session-token-it',
    };
    // To run against a pool built elsewhere (make BUILD=...), point at it.
    if (process.env.MCPGW_TEST_POOL_BIN) env.MCPGW_POOL_BIN = process.env.MCPGW_TEST_POOL_BIN;
    A = await startStack({ env });
    // B is configured as the Terraform service module configures a Fargate task: the
    // upstreams document in MCPGW_UPSTREAMS_JSON, no file.
    B = await startStack({ env, upstreamsFrom: A, inlineUpstreams: true });
  });

  after(async () => {
    const results = [];
    for (const s of [B, A]) if (s) results.push([s, await s.stop()]);
    if (D) await D.stop();
    for (const [s, { code, signal }] of results) {
      assert.equal(signal, null, 'entrypoint was killed');
      assert.equal(code, 0, `entrypoint exit code after SIGTERM\n${s.gw.err.slice(-3000)}`);
      assert.ok(!s.gw.err.includes(FAKE_SECRET) && !s.gw.out.includes(FAKE_SECRET), 'secret key in the logs');
    }
  });

  it('B reads its upstreams from MCPGW_UPSTREAMS_JSON and serves both, secrets expanded', async () => {
    assert.ok(!existsSync(path.join(B.dir, 'upstreams.json')));
    const sid = await openSession(B);
    await echo(B, sid, 'inline');   // toolbox answers 401 unless ${TOOLBOX_TOKEN} was expanded
    const l = await rpc(B, sid, 'tools/list', {});
    const names = l.json.result.tools.map((t) => t.name);
    assert.ok(names.includes('everything__get-sum') && names.includes('toolbox__echo'), names.join(' '));
  });

  it('both are ready on the shared store', async () => {
    for (const s of [A, B]) {
      const r = await fetch(`${s.base}/ready`);
      const body = await r.json();
      assert.equal(r.status, 200, JSON.stringify(body));
      assert.equal(body.store, 'ok');
    }
  });

  it('a session opened on A is served by B, with the same upstream session', async () => {
    const sid = await openSession(A);
    await echo(A, sid, 'on A');
    const key = `u:${handleOf(sid)}:toolbox`;
    const before = await D.item(key);
    assert.ok(before, `no upstream session record ${key} in the table`);
    const upstreamSid = JSON.parse(before.value).sid;
    assert.ok(upstreamSid);

    await echo(B, sid, 'on B');
    const sum = await rpc(B, sid, 'tools/call', { name: 'everything__get-sum', arguments: { a: 40, b: 2 } });
    assert.match(sum.json.result?.content?.[0]?.text ?? '', /42/, sum.text);
    const after = await D.item(key);
    assert.equal(JSON.parse(after.value).sid, upstreamSid, 'B opened its own upstream session instead of using A\'s');
    assert.ok(!B.gw.err.includes('upstream forgot its session'), 'B\'s upstream session was not the shared one');
  });

  it('the table holds session handles, never session ids, each with an expiry', async () => {
    const sid = await openSession(B);
    const keys = await D.keys();
    assert.ok(keys.includes(`s:${handleOf(sid)}`), keys.join(' '));
    assert.ok(!keys.some((k) => k.includes(sid)), 'a raw session id is stored');
    const rec = await D.item(`s:${handleOf(sid)}`);
    const now = Date.now() / 1000;
    assert.ok(rec.expiresAt > now && rec.expiresAt <= now + 3600 + 5, `expires_at ${rec.expiresAt}`);
    assert.equal(JSON.parse(rec.value).v, '2025-11-25');
  });

  it('DELETE on B ends the session on A too', async () => {
    const sid = await openSession(A);
    await echo(A, sid, 'before delete');
    const d = await fetch(B.mcp, { method: 'DELETE', headers: { 'mcp-session-id': sid } });
    assert.equal(d.status, 204);
    const r = await rpc(A, sid, 'ping');
    assert.equal(r.status, 404, r.text);
    assert.equal(await D.item(`s:${handleOf(sid)}`), null);
    assert.equal(await D.item(`u:${handleOf(sid)}:toolbox`), null, 'upstream session record left behind');
  });

  it('a store outage makes /ready 503 naming the store and POSTs -32011; /health stays 200; it recovers', async () => {
    const sid = await openSession(A);
    await D.stop();

    for (const s of [A, B]) {
      const r = await fetch(`${s.base}/ready`);
      const body = await r.json();
      assert.equal(r.status, 503, JSON.stringify(body));
      assert.equal(body.status, 'unavailable');
      assert.match(body.store, new RegExp(`^dynamodb:${TABLE}: GetItem: .*127\\.0\\.0\\.1`), body.store);
      assert.equal((await fetch(`${s.base}/health`)).status, 200);
    }
    const init = await post(A, { jsonrpc: '2.0', id: nextId++, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'it-ddb', version: '1' } } });
    assert.equal(init.status, 503, init.text);
    assert.equal(init.json.error.code, -32011);
    assert.match(init.json.error.message, new RegExp(`session store unavailable: dynamodb:${TABLE}: PutItem: `));
    const call = await rpc(B, sid, 'tools/list', {});
    assert.equal(call.status, 503, call.text);
    assert.equal(call.json.error.code, -32011);
    assert.match(call.json.error.message, new RegExp(`dynamodb:${TABLE}: GetItem: `));

    // dynalite keeps nothing across a restart: old sessions are gone, new ones work.
    await D.start();
    for (const s of [A, B])
      await waitFor(`${s.base}/ready back to 200`, async () => (await fetch(`${s.base}/ready`)).status === 200, 10000, 100);
    assert.equal((await rpc(A, sid, 'ping')).status, 404);
    const fresh = await openSession(A);
    await echo(B, fresh, 'after recovery');
  });
});
