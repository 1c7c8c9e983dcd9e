// Read-only operators and the sign-in lock-out (docs/reference.md,
// "Authentication" and "Dashboard"): a viewer key reads the admin API and
// signs in to the dashboard, every write and every /v1 call is 403
// read_only; failed sign-ins from one address lock it out for a while.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import {
  startGateway, request, runSwitchboard, waitFor, sleep, errorOf,
} from './harness.mjs';

const ADMIN = 'sk-sb-admin-ua-0123456789abcdef0123456789abcdef01234567';
const admin = { authorization: `Bearer ${ADMIN}` };

function cookieOf(res) {
  const sc = res.headers['set-cookie'];
  assert.ok(Array.isArray(sc) && sc.length === 1, `one Set-Cookie: ${JSON.stringify(sc)}`);
  return sc[0].split(';')[0];
}

async function signIn(gw, credential) {
  return request(`${gw.url}/ui/session`, { body: { credential }, headers: { origin: gw.url } });
}

function assertReadOnly(r, what) {
  assert.equal(r.status, 403, `${what}: ${r.text}`);
  const e = errorOf(r);
  assert.equal(e.type, 'permission_error', what);
  assert.equal(e.code, 'read_only', what);
}

/** The admin API's writes, each of which a viewer must be refused. */
const WRITES = [
  ['POST', '/admin/v1/keys', { name: 'v-made' }],
  ['POST', '/admin/v1/keys/target', { rpm: 5 }],
  ['DELETE', '/admin/v1/keys/target'],
  ['POST', '/admin/v1/prices', { model: 'echo/x', input_per_mtok: 1, output_per_mtok: 1 }],
  ['DELETE', '/admin/v1/prices/echo%2Fx'],
  ['POST', '/admin/v1/routes', { name: 'r1', targets: ['echo/echo'] }],
  ['DELETE', '/admin/v1/routes/r1'],
  ['POST', '/admin/v1/providers/p1', { kind: 'openai', base_url: 'http://127.0.0.1:9/v1' }],
  ['DELETE', '/admin/v1/providers/p1'],
  ['POST', '/admin/v1/models', { model: 'echo/x', context_tokens: 1000 }],
  ['DELETE', '/admin/v1/models/echo/x'],
  ['POST', '/admin/v1/mcp/servers/m1', { transport: 'http', url: 'http://127.0.0.1:9/mcp' }],
  ['DELETE', '/admin/v1/mcp/servers/m1'],
  ['PUT', '/admin/v1/keys/target'],
  ['PATCH', '/admin/v1/keys/target'],
];

describe('ui-access: a viewer key reads, never writes', () => {
  let gw, viewer, target;
  before(async () => {
    gw = await startGateway({ env: { SWITCHBOARD_ADMIN_KEY: ADMIN } });
    let r = await request(`${gw.url}/admin/v1/keys`, { headers: admin, body: { name: 'target', rpm: 7 } });
    assert.equal(r.status, 201, r.text);
    target = r.json;
    r = await request(`${gw.url}/admin/v1/keys`, { headers: admin, body: { name: 'watcher', role: 'viewer' } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.role, 'viewer');
    assert.match(r.json.secret, /^sk-sb-viewer-[0-9a-f]{64}$/);
    assert.match(r.json.prefix, /^sk-sb-viewer-[0-9a-f]{6}$/);
    viewer = r.json.secret;
  });
  after(async () => { if (gw) await gw.stop(); });

  test('the role is checked on create and cannot change', async () => {
    let r = await request(`${gw.url}/admin/v1/keys`, { headers: admin, body: { name: 'x', role: 'root' } });
    assert.equal(r.status, 400);
    assert.equal(errorOf(r).param, 'role');
    r = await request(`${gw.url}/admin/v1/keys/target`, { headers: admin, body: { role: 'admin' } });
    assert.equal(r.status, 400);
    assert.equal(errorOf(r).param, 'role');
    r = await request(`${gw.url}/admin/v1/keys`, { headers: admin, body: { name: 'ops2', role: 'admin' } });
    assert.equal(r.status, 201, r.text);
    assert.match(r.json.secret, /^sk-sb-admin-[0-9a-f]{64}$/);
    r = await request(`${gw.url}/admin/v1/keys/watcher`, { headers: admin });
    assert.equal(r.json.role, 'viewer');
  });

  test('every GET of the admin API is allowed', async () => {
    const h = { authorization: `Bearer ${viewer}` };
    for (const p of ['/admin/v1/keys', `/admin/v1/keys/${target.id}`, '/admin/v1/prices', '/admin/v1/models',
      '/admin/v1/usage?group=key', '/admin/v1/usage.csv', '/admin/v1/requests', '/admin/v1/routes',
      '/admin/v1/providers', '/admin/v1/mcp/servers', '/admin/v1/mcp/calls']) {
      const r = await request(`${gw.url}${p}`, { headers: h });
      assert.equal(r.status, 200, `${p}: ${r.text}`);
    }
    const r = await request(`${gw.url}/admin/v1/keys`, { method: 'HEAD', headers: h });
    assert.equal(r.status, 200);
  });

  test('every write is 403 read_only, and changes nothing', async () => {
    const h = { authorization: `Bearer ${viewer}` };
    for (const [method, p, body] of WRITES) {
      const r = await request(`${gw.url}${p}`, { method, headers: h, body });
      assertReadOnly(r, `${method} ${p}`);
    }
    const r = await request(`${gw.url}/admin/v1/keys/target`, { headers: admin });
    assert.equal(r.json.status, 'active');
    assert.equal(r.json.rpm, 7);
    assert.equal((await request(`${gw.url}/admin/v1/keys/v-made`, { headers: admin })).status, 404);
  });

  test('a viewer key is not an API key: /v1 and /mcp are 403 read_only', async () => {
    const h = { authorization: `Bearer ${viewer}` };
    let r = await request(`${gw.url}/v1/models`, { headers: h });
    assertReadOnly(r, 'GET /v1/models');
    r = await request(`${gw.url}/v1/chat/completions`, {
      headers: h, body: { model: 'echo/echo', messages: [{ role: 'user', content: 'hi' }] },
    });
    assertReadOnly(r, 'POST /v1/chat/completions');
    r = await request(`${gw.url}/v1/models`, { headers: { 'x-api-key': viewer } });
    assertReadOnly(r, 'x-api-key');
    r = await request(`${gw.url}/mcp`, {
      headers: { ...h, accept: 'application/json, text/event-stream' },
      body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } },
    });
    assert.equal(r.status, 403, r.text);
  });

  test('a viewer signs in to the dashboard read-only; its session writes are 403 read_only', async () => {
    const s = await signIn(gw, viewer);
    assert.equal(s.status, 200, s.text);
    assert.equal(s.json.name, 'watcher');
    assert.equal(s.json.read_only, true);
    const cookie = cookieOf(s);
    const hdr = { cookie, origin: gw.url };
    let r = await request(`${gw.url}/ui/session`, { headers: hdr });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { name: 'watcher', csrf_token: s.json.csrf_token, read_only: true });
    r = await request(`${gw.url}/admin/v1/keys`, { headers: hdr });
    assert.equal(r.status, 200);
    for (const [method, p, body] of WRITES) {
      r = await request(`${gw.url}${p}`, { method, headers: { ...hdr, 'x-csrf-token': s.json.csrf_token }, body });
      if (method === 'PUT' || method === 'PATCH') assert.equal(r.status, 403, `${method} ${p}`);
      else assertReadOnly(r, `session ${method} ${p}`);
    }
    // An admin's session says so too.
    const a = await signIn(gw, ADMIN);
    assert.equal(a.json.read_only, false);
    // Signing out is not a write of the admin API: a viewer may.
    r = await request(`${gw.url}/ui/session`, { method: 'DELETE', headers: { ...hdr, 'x-csrf-token': s.json.csrf_token } });
    assert.equal(r.status, 204);
  });

  test('revoking a viewer key ends its dashboard session', async () => {
    const c = await runSwitchboard(['admin-key', 'create', '--viewer', '--name', 'auditor', '--db', gw.dbPath]);
    assert.equal(c.code, 0, c.stderr);
    const secret = c.stdout.trim();
    assert.match(secret, /^sk-sb-viewer-[0-9a-f]{64}$/);
    let s;
    await waitFor(async () => (s = await signIn(gw, secret)).status === 200, { what: 'the new viewer key' });
    assert.equal(s.json.read_only, true);
    const cookie = cookieOf(s);
    assert.equal((await request(`${gw.url}/admin/v1/keys`, { headers: { cookie } })).status, 200);
    const r = await request(`${gw.url}/admin/v1/keys/auditor`, { method: 'DELETE', headers: admin });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.role, 'viewer');
    await waitFor(async () => (await request(`${gw.url}/ui/session`, { headers: { cookie } })).status === 401,
      { what: 'the session of a revoked viewer key to end' });
    assert.equal((await request(`${gw.url}/admin/v1/keys`, { headers: { cookie } })).status, 401);
  });
});

/** POST /ui/session from a chosen local address (127.0.0.0/8 is all
 * loopback on Linux), so two clients can be told apart. */
function signInFrom(gw, localAddress, credential, extra = {}) {
  const u = new URL(gw.url);
  const payload = Buffer.from(JSON.stringify({ credential }));
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname, port: u.port, path: '/ui/session', method: 'POST', localAddress, agent: false,
      headers: { 'content-type': 'application/json', 'content-length': payload.length, origin: gw.url, ...extra },
    }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

describe('ui-access: sign-in lock-out (ui.signin_max_failures, ui.signin_window_s)', () => {
  let gw;
  before(async () => {
    gw = await startGateway({
      env: { SWITCHBOARD_ADMIN_KEY: ADMIN },
      config: { ui: { signin_max_failures: 5, signin_window_s: 3 } },
    });
  });
  after(async () => { if (gw) await gw.stop(); });

  test('five failures lock the address out, even for the right credential, until the window passes', async () => {
    const wrong = 'sk-sb-admin-wrong-0000000000000000000000000000000000000000';
    const gwKey = await request(`${gw.url}/admin/v1/keys`, { headers: admin, body: { name: 'plain' } });
    assert.equal(gwKey.status, 201);
    for (let i = 0; i < 5; i++) {
      // A gateway key is a failure like a wrong one.
      const r = await signInFrom(gw, '127.0.0.1', i === 2 ? gwKey.json.secret : wrong);
      assert.equal(r.status, i === 2 ? 403 : 401, `attempt ${i + 1}: ${r.text}`);
    }
    let r = await signInFrom(gw, '127.0.0.1', ADMIN);
    assert.equal(r.status, 429, r.text);
    assert.equal(errorOf(r).code, 'signin_locked');
    assert.equal(r.headers['set-cookie'], undefined);
    const wait = Number(r.headers['retry-after']);
    assert.ok(wait >= 1 && wait <= 3, `retry-after ${r.headers['retry-after']}`);

    // Another address is not locked out.
    r = await signInFrom(gw, '127.0.0.2', ADMIN);
    assert.equal(r.status, 200, r.text);

    await sleep(wait * 1000 + 100);
    r = await signInFrom(gw, '127.0.0.1', ADMIN);
    assert.equal(r.status, 200, r.text);
  });

  test('a successful sign-in clears the failures; a forwarded-for header changes nothing', async () => {
    const wrong = 'sk-sb-admin-wrong-1111111111111111111111111111111111111111';
    for (let i = 0; i < 4; i++)
      assert.equal((await signInFrom(gw, '127.0.0.3', wrong)).status, 401);
    assert.equal((await signInFrom(gw, '127.0.0.3', ADMIN)).status, 200);
    for (let i = 0; i < 4; i++)
      assert.equal((await signInFrom(gw, '127.0.0.3', wrong)).status, 401, 'counted afresh');
    // X-Forwarded-For is not trusted: the lock-out follows the socket.
    let r = await signInFrom(gw, '127.0.0.3', wrong, { 'x-forwarded-for': '10.0.0.1' });
    assert.equal(r.status, 401, 'the fifth failure');
    r = await signInFrom(gw, '127.0.0.3', ADMIN, { 'x-forwarded-for': '10.0.0.2' });
    assert.equal(r.status, 429, r.text);
  });
});
