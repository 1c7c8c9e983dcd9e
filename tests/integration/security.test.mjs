// The gateway attacked as an outsider would: a hostile web page (cross-site
// admin writes, DNS rebinding), a hostile client (header injection, request
// smuggling, its gateway key sent on to an upstream) and a careless operator
// (a second gateway on the same port, credentials from any variable, a
// provider pointed at the cloud metadata address). Each attack is replayed
// over real HTTP, byte for byte where framing matters.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import {
  startGateway, request, postChat, runSwitchboard, waitFor,
} from './harness.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';

const ADMIN = 'sk-sb-admin-security-0123456789abcdef0123456789abcdef';
const UPKEY = 'sk-upstream-security-5ecret';
const admin = { authorization: `Bearer ${ADMIN}` };

/** Send raw bytes; resolve with everything the gateway sent back and
 * whether it closed the connection within waitMs. */
function raw(port, bytes, waitMs = 1500) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => { sock.destroy(); resolve({ data, closed: false }); }, waitMs);
    sock.on('data', (d) => { data += d.toString('latin1'); });
    sock.on('end', () => { clearTimeout(timer); sock.destroy(); resolve({ data, closed: true }); });
    sock.on('error', (e) => { clearTimeout(timer); if (data) resolve({ data, closed: true }); else reject(e); });
    sock.write(bytes);
  });
}

/** The status lines of every response in a raw exchange. */
const statuses = (data) => [...data.matchAll(/^HTTP\/1\.[01] (\d{3})/gm)].map((m) => Number(m[1]));

describe('security: the admin API in open mode', () => {
  let gw;
  let up;
  before(async () => {
    up = await startOpenAIEmulator({ apiKey: UPKEY, quiet: true });
    // Open mode (no key, no admin credential): /v1 answers anyone on
    // loopback, /admin answers no one.
    gw = await startGateway({ env: { SECRET_OF_THE_HOST: 'do-not-leak' } });
  });
  after(async () => { if (gw) await gw.stop(); if (up) await up.close(); });

  test('a web page cannot create a provider: no credential, no JSON, foreign Origin', async () => {
    const evil = { name: 'evil', kind: 'openai', base_url: up.url, api_key_env: 'SECRET_OF_THE_HOST' };
    // The page's "simple" cross-site request: text/plain, any Origin.
    let r = await request(`${gw.url}/admin/v1/providers`, {
      headers: { 'content-type': 'text/plain', origin: 'http://evil.example' }, body: JSON.stringify(evil),
    });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error.code, 'origin_not_allowed');
    // Without an Origin the admin credential is still missing.
    r = await request(`${gw.url}/admin/v1/providers`, { body: evil });
    assert.equal(r.status, 401, r.text);
    assert.match(r.json.error.message, /admin-key create/);
    r = await request(`${gw.url}/admin/v1/keys`, { method: 'GET' });
    assert.equal(r.status, 401);
    // Nothing reached the upstream, nothing was stored.
    assert.equal(up.stats.requests.length, 0);
    // /v1 itself stays open on loopback for a first try.
    r = await postChat(gw.url, { model: 'echo/echo-1', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(r.status, 200, r.text);
  });

  test('DNS rebinding: a Host that is not the gateway\'s is refused', async () => {
    const r = await raw(gw.port, 'GET /v1/models HTTP/1.1\r\nHost: attacker.example:' + gw.port + '\r\n\r\n');
    assert.deepEqual(statuses(r.data), [403]);
    assert.match(r.data, /host_not_allowed/);
    const ok = await raw(gw.port, `GET /v1/models HTTP/1.1\r\nHost: localhost:${gw.port}\r\nConnection: close\r\n\r\n`);
    assert.deepEqual(statuses(ok.data), [200]);
  });
});

describe('security: admin API with the admin credential', () => {
  let gw;
  let up;
  before(async () => {
    up = await startOpenAIEmulator({ apiKey: UPKEY, quiet: true });
    gw = await startGateway({
      env: { SWITCHBOARD_ADMIN_KEY: ADMIN, SECRET_OF_THE_HOST: 'do-not-leak', SWITCHBOARD_CRED_UP: UPKEY },
    });
  });
  after(async () => { if (gw) await gw.stop(); if (up) await up.close(); });

  test('writes must be JSON and same-origin, even with the credential', async () => {
    const def = { name: 'p1', kind: 'openai', base_url: up.url, api_key_env: 'SWITCHBOARD_CRED_UP', models: ['gpt-4o'] };
    let r = await request(`${gw.url}/admin/v1/providers`, { headers: { ...admin, 'content-type': 'text/plain' }, body: JSON.stringify(def) });
    assert.equal(r.status, 415, r.text);
    r = await request(`${gw.url}/admin/v1/providers`, { headers: { ...admin, origin: 'http://evil.example' }, body: def });
    assert.equal(r.status, 403, r.text);
    r = await request(`${gw.url}/admin/v1/providers`, { headers: admin, body: def });
    assert.equal(r.status, 201, r.text);
    r = await postChat(gw.url, { model: 'p1/gpt-4o', messages: [{ role: 'user', content: 'hi' }] }, { headers: admin });
    assert.equal(r.status, 200, r.text);
    assert.equal(up.lastRequest().headers.authorization, `Bearer ${UPKEY}`);
  });

  test('only allow-listed variables can be named as credentials, in api_key_env or a header', async () => {
    const before = up.stats.requests.length;
    let r = await request(`${gw.url}/admin/v1/providers`, {
      headers: admin, body: { name: 'leak1', kind: 'openai', base_url: up.url, api_key_env: 'SECRET_OF_THE_HOST' },
    });
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error.message, /SECRET_OF_THE_HOST.*allow-list/);
    r = await request(`${gw.url}/admin/v1/providers`, {
      headers: admin, body: { name: 'leak2', kind: 'openai', base_url: up.url, headers: { Authorization: 'Bearer ${SECRET_OF_THE_HOST}' } },
    });
    assert.equal(r.status, 400, r.text);
    r = await request(`${gw.url}/admin/v1/providers`, {
      headers: admin, body: { name: 'leak3', kind: 'openai', base_url: up.url, headers: { 'X-Anything': '${SWITCHBOARD_ADMIN_KEY}' } },
    });
    assert.equal(r.status, 400, r.text);
    // No model list was fetched with any of them.
    assert.equal(up.stats.requests.length, before);
  });

  test('a provider cannot point at link-local or metadata addresses', async () => {
    for (const base of ['http://169.254.169.254/v1', 'http://[fe80::1]:80/v1', 'http://metadata.google.internal/v1']) {
      const r = await request(`${gw.url}/admin/v1/providers`, {
        headers: admin, body: { name: 'meta', kind: 'openai', base_url: base, models: ['m'] },
      });
      assert.equal(r.status, 400, `${base}: ${r.text}`);
      assert.match(r.json.error.message, /link-local or cloud metadata/);
    }
    // A name that only resolves there (here the decimal form of
    // 169.254.169.254) is refused when the connection is made.
    let r = await request(`${gw.url}/admin/v1/providers`, {
      headers: admin, body: { name: 'meta2', kind: 'openai', base_url: 'http://2852039166:9/v1', models: ['m'] },
    });
    assert.equal(r.status, 201, r.text);
    r = await postChat(gw.url, { model: 'meta2/m', messages: [{ role: 'user', content: 'hi' }] }, { headers: admin });
    assert.equal(r.status, 502, r.text);
    await waitFor(() => /link-local or metadata/.test(gw.stderr()), { what: 'the refusal in the log' });
  });

  test('the gateway key is never forwarded, whichever header carried it', async () => {
    let r = await request(`${gw.url}/admin/v1/providers`, {
      headers: admin,
      body: { name: 'fwd', kind: 'openai', base_url: up.url, api_key_env: 'SWITCHBOARD_CRED_UP', models: ['gpt-4o'], forward_headers: ['x-api-key', 'x-tenant'] },
    });
    assert.equal(r.status, 201, r.text);
    const k = await request(`${gw.url}/admin/v1/keys`, { headers: admin, body: { name: 'client' } });
    assert.equal(k.status, 201, k.text);
    const secret = k.json.secret;
    const body = { model: 'fwd/gpt-4o', messages: [{ role: 'user', content: 'hi' }] };
    r = await postChat(gw.url, body, { headers: { 'x-api-key': secret, 'x-tenant': 'acme' } });
    assert.equal(r.status, 200, r.text);
    let h = up.lastRequest().headers;
    assert.equal(h['x-api-key'], undefined);
    assert.equal(h.authorization, `Bearer ${UPKEY}`);
    assert.equal(h['x-tenant'], 'acme');
    // Sent twice: authenticated by Authorization, and again as x-api-key.
    r = await postChat(gw.url, body, { headers: { authorization: `Bearer ${secret}`, 'x-api-key': secret } });
    assert.equal(r.status, 200, r.text);
    h = up.lastRequest().headers;
    assert.ok(!JSON.stringify(h).includes(secret), 'the gateway key reached the upstream');
  });
});

describe('security: response headers', () => {
  let gw;
  before(async () => { gw = await startGateway({}); });
  after(async () => { if (gw) await gw.stop(); });

  test('CR and LF in a client\'s strings never start a header or a body', async () => {
    const body = JSON.stringify({
      model: 'echo/echo-1', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }],
      'evil\r\nSet-Cookie: a=b': 1,
      'x\r\nContent-Length: 5\r\n\r\nPWNED': 2,
      metadata: { user_id: 'u', 'k\r\nX-Evil: 1': 'v' },
    });
    const r = await raw(gw.port, `POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    const head = r.data.slice(0, r.data.indexOf('\r\n\r\n'));
    assert.doesNotMatch(head, /^set-cookie/im);
    assert.doesNotMatch(head, /^x-evil/im);
    assert.match(head, /x-switchboard-dropped-params: .*evil%0D%0ASet-Cookie/);
    assert.equal(statuses(r.data).length, 1);
    assert.ok(!r.data.includes('\r\n\r\nPWNED'), 'a second body was injected');
    const msg = JSON.parse(r.data.slice(r.data.indexOf('\r\n\r\n') + 4));
    assert.equal(msg.type, 'message');
  });
});

describe('security: request framing', () => {
  let gw;
  before(async () => { gw = await startGateway({}); });
  after(async () => { if (gw) await gw.stop(); });

  const hidden = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
  const chunked = `0\r\n\r\n${hidden}`;
  const json = '{"model":"echo/echo-1","messages":[{"role":"user","content":"hi"}]}';
  const cases = {
    'Content-Length with Transfer-Encoding (hidden request in the body)':
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${chunked.length}\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`,
    'Content-Length shorter than the chunked body':
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`,
    'two different Content-Length headers':
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${json.length}\r\nContent-Length: 5\r\n\r\n${json}`,
    'Content-Length: +N':
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: +${json.length}\r\n\r\n${json}`,
    'two Host headers': 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n',
    'no Host on HTTP/1.1': 'GET /healthz HTTP/1.1\r\n\r\n',
    'an HTTP version we do not speak': 'GET /healthz HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n',
  };
  for (const [name, bytes] of Object.entries(cases)) {
    test(`${name}: refused and the connection closed`, async () => {
      const r = await raw(gw.port, bytes);
      const s = statuses(r.data);
      assert.equal(s.length, 1, `one answer only, got ${s} in ${r.data}`);
      assert.ok(s[0] >= 400 && s[0] < 600, r.data);
      assert.ok(r.closed, 'the connection stays open');
      assert.ok(!r.data.includes('"status":"ok"'), 'the hidden request was served');
    });
  }

  test('a field given twice is refused: the gateway and an upstream could read different ones', async () => {
    const cases = [
      ['/v1/chat/completions', '{"model":"echo/echo-1","model":"local/gpt-4o","messages":[{"role":"user","content":"hi"}]}', 'model'],
      ['/v1/chat/completions', '{"model":"echo/echo-1","max_tokens":1,"messages":[{"role":"user","content":"hi"}],"max_tokens":100000}', 'max_tokens'],
      ['/v1/messages', '{"model":"echo/echo-1","max_tokens":5,"stream":false,"messages":[{"role":"user","content":"hi"}],"stream":true}', 'stream'],
    ];
    for (const [path, body, field] of cases) {
      const r = await raw(gw.port, `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      assert.deepEqual(statuses(r.data), [400], r.data);
      // In the caller's own error shape: Anthropic's has no code.
      assert.match(r.data, path === '/v1/messages' ? /"type":"error".*"invalid_request_error"/ : /"code":"duplicate_key"/);
      assert.ok(r.data.includes(`'${field}'`), r.data);
    }
    // Many distinct keys are fine, and cheap to check.
    const many = Object.fromEntries(Array.from({ length: 50000 }, (_, i) => [`k${i}`, i]));
    const body = JSON.stringify({ model: 'echo/echo-1', messages: [{ role: 'user', content: 'hi' }], metadata: {}, ...many });
    const t0 = Date.now();
    const r = await raw(gw.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    assert.deepEqual(statuses(r.data), [200], r.data.slice(0, 300));
    assert.ok(Date.now() - t0 < 5000, `answered in ${Date.now() - t0} ms`);
  });

  test('bytes after the JSON body are refused, not ignored', async () => {
    const body = `${json}xxxxx`;
    const r = await raw(gw.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    assert.deepEqual(statuses(r.data), [400]);
    assert.match(r.data, /invalid_json/);
  });
});

describe('security: one gateway per port', () => {
  test('a second gateway on a served port fails at start, saying why', async () => {
    const gw = await startGateway({});
    try {
      const r = await runSwitchboard(['serve', '--port', String(gw.port), '--db', `${gw.dir}/other.db`], { timeoutMs: 10000 });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /already in use/);
      // The first one still serves every request.
      for (let i = 0; i < 10; i++) {
        const h = await request(`${gw.url}/healthz`);
        assert.equal(h.status, 200);
      }
    } finally {
      await gw.stop();
    }
  });
});
