// The dashboard as the gateway serves it (docs/reference.md, "Dashboard"):
// the files of web/ at /ui/ with their security headers, nothing else
// reachable under /ui, and the sign-in sessions at /ui/session whose
// cookie the admin API accepts with a CSRF token. Over raw HTTP: every
// byte here is what a hostile page or client could send.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

import {
  startGateway, request, REPO_ROOT, queryDb, runSwitchboard, waitFor, sleep, errorOf,
} from './harness.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';

const ADMIN = 'sk-sb-admin-ui-0123456789abcdef0123456789abcdef01234567';
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
  + "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Send raw bytes; resolve with everything the gateway sent back. */
function raw(port, bytes, waitMs = 1500) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => { sock.destroy(); resolve(data); }, waitMs);
    sock.on('data', (d) => { data += d.toString('latin1'); });
    sock.on('end', () => { clearTimeout(timer); sock.destroy(); resolve(data); });
    sock.on('error', (e) => { clearTimeout(timer); if (data) resolve(data); else reject(e); });
    sock.write(bytes);
  });
}

function assertUiHeaders(res, what) {
  assert.equal(res.headers['content-security-policy'], CSP, what);
  assert.equal(res.headers['x-content-type-options'], 'nosniff', what);
  assert.equal(res.headers['referrer-policy'], 'no-referrer', what);
  assert.equal(res.headers['cache-control'], 'no-cache', what);
}

describe('ui: the embedded files', () => {
  let gw;
  before(async () => {
    gw = await startGateway({ env: { SWITCHBOARD_ADMIN_KEY: ADMIN } });
  });
  after(async () => { if (gw) await gw.stop(); });

  test('/ui redirects to /ui/, which is web/index.html', async () => {
    let r = await request(`${gw.url}/ui`);
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, '/ui/');
    assertUiHeaders(r, '/ui');
    r = await request(`${gw.url}/ui/`);
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/html/);
    assert.equal(r.text, readFileSync(path.join(REPO_ROOT, 'web', 'index.html'), 'utf8'));
    assertUiHeaders(r, '/ui/');
    r = await request(`${gw.url}/ui/index.html`);
    assert.equal(r.status, 200);
    assertUiHeaders(r, '/ui/index.html');
    r = await request(`${gw.url}/ui/`, { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
  });

  test('a file that is not in the bundle is 404, with the same headers', async () => {
    for (const p of ['/ui/nope.js', '/ui/index.html/', '/ui/sub/', '/ui/Index.html']) {
      const r = await request(`${gw.url}${p}`);
      assert.equal(r.status, 404, p);
      assertUiHeaders(r, p);
    }
  });

  test('no path leaves the bundle: dots, encodings, backslashes', async () => {
    const paths = [
      '/ui/../config.json', '/ui/..%2f..%2fetc%2fpasswd', '/ui/%2e%2e/%2e%2e/etc/passwd',
      '/ui/..\\..\\etc\\passwd', '/ui/./index.html/../../sb.db', '/ui/%00index.html',
      '/ui/....//....//etc/passwd', '/ui/sb.db',
    ];
    for (const p of paths) {
      const data = await raw(gw.port, `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      const status = Number((data.match(/^HTTP\/1\.1 (\d{3})/) || [])[1]);
      assert.ok(status === 404 || status === 400 || status === 403, `${p}: ${data.slice(0, 200)}`);
      assert.doesNotMatch(data, /root:|SQLite format/, p);
    }
  });

  test('only GET and HEAD on the files', async () => {
    const r = await request(`${gw.url}/ui/`, { method: 'DELETE' });
    assert.equal(r.status, 405);
  });
});

/** The cookie pair (name=value) of a Set-Cookie answer, and the whole header. */
function cookieOf(res) {
  const sc = res.headers['set-cookie'];
  assert.ok(Array.isArray(sc) && sc.length === 1, `one Set-Cookie: ${JSON.stringify(sc)}`);
  return { pair: sc[0].split(';')[0], header: sc[0] };
}

async function signIn(gw, credential, extra = {}) {
  return request(`${gw.url}/ui/session`, {
    body: { credential }, headers: { origin: gw.url, ...extra },
  });
}

describe('ui: sessions and the admin API with a cookie', () => {
  let gw;
  const admin = { authorization: `Bearer ${ADMIN}` };
  before(async () => {
    gw = await startGateway({ env: { SWITCHBOARD_ADMIN_KEY: ADMIN } });
  });
  after(async () => { if (gw) await gw.stop(); });

  test('sign-in: the name, a CSRF token and a strict HttpOnly cookie; only its hash is stored', async () => {
    const r = await signIn(gw, ADMIN);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.name, 'admin');
    assert.match(r.json.csrf_token, /^[0-9a-f]{64}$/);
    const { pair, header } = cookieOf(r);
    assert.match(header, /^sb_session=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=43200$/);
    assert.doesNotMatch(header, /Secure/, 'plain HTTP: no Secure');
    assertUiHeaders(r, 'POST /ui/session');
    const value = pair.split('=')[1];
    const rows = await queryDb(gw.dbPath, 'SELECT hex(id_hash) AS h, key_id, csrf_token, expires_at - created_at AS ttl FROM ui_sessions');
    const mine = rows.find((x) => x.h === crypto.createHash('sha256').update(value).digest('hex').toUpperCase());
    assert.ok(mine, 'stored by the SHA-256 of the cookie');
    assert.equal(mine.key_id, '');
    assert.equal(mine.csrf_token, r.json.csrf_token);
    assert.equal(mine.ttl, 43200);
    assert.ok(!rows.some((x) => x.h === value.toUpperCase()), 'never the cookie itself');

    const g = await request(`${gw.url}/ui/session`, { headers: { cookie: `theme=dark; ${pair}` } });
    assert.equal(g.status, 200);
    assert.deepEqual(g.json, { name: 'admin', csrf_token: r.json.csrf_token, read_only: false });
  });

  test('no cookie, a malformed one or an unknown one: 401', async () => {
    for (const cookie of [undefined, 'sb_session=', 'sb_session=zz', `sb_session=${'0'.repeat(64)}`,
      `sb_session=${'A'.repeat(64)}`, `xsb_session=${'0'.repeat(64)}`]) {
      const r = await request(`${gw.url}/ui/session`, { headers: cookie ? { cookie } : {} });
      assert.equal(r.status, 401, String(cookie));
      errorOf(r);
      const k = await request(`${gw.url}/admin/v1/keys`, { headers: cookie ? { cookie } : {} });
      assert.equal(k.status, 401, String(cookie));
    }
  });

  test('a wrong credential is 401, a gateway key 403, neither gets a cookie', async () => {
    let r = await signIn(gw, 'sk-sb-admin-wrong-0000000000000000000000000000000000000000');
    assert.equal(r.status, 401);
    assert.equal(errorOf(r).code, 'invalid_api_key');
    assert.equal(r.headers['set-cookie'], undefined);
    const k = await request(`${gw.url}/admin/v1/keys`, { headers: admin, body: { name: 'ui-gw-key' } });
    assert.equal(k.status, 201, k.text);
    r = await signIn(gw, k.json.secret);
    assert.equal(r.status, 403);
    errorOf(r);
    assert.equal(r.headers['set-cookie'], undefined);
    for (const body of [{}, { credential: 42 }, { credential: '' }, []]) {
      r = await request(`${gw.url}/ui/session`, { body, headers: { origin: gw.url } });
      assert.equal(r.status, 400, JSON.stringify(body));
    }
    // Counted: the failures are in the request metrics of /ui/session.
    const m = await request(`${gw.url}/metrics`);
    assert.match(m.text, /switchboard_requests_total\{endpoint="\/ui\/session",provider="",status="401"\} [1-9]/);
  });

  test('same origin only, JSON only', async () => {
    let r = await signIn(gw, ADMIN, { origin: 'http://evil.example' });
    assert.equal(r.status, 403);
    assert.equal(errorOf(r).code, 'origin_not_allowed');
    r = await request(`${gw.url}/ui/session`, {
      body: JSON.stringify({ credential: ADMIN }), headers: { 'content-type': 'text/plain' },
    });
    assert.equal(r.status, 415);
    const s = await signIn(gw, ADMIN);
    const { pair } = cookieOf(s);
    r = await request(`${gw.url}/ui/session`, { headers: { cookie: pair, origin: 'http://evil.example' } });
    assert.equal(r.status, 403);
    r = await request(`${gw.url}/admin/v1/keys`, { headers: { cookie: pair, origin: 'http://evil.example' } });
    assert.equal(r.status, 403);
    assert.equal(errorOf(r).code, 'origin_not_allowed');
  });

  test('the admin API takes the cookie; every write also needs the CSRF token', async () => {
    const s = await signIn(gw, ADMIN);
    const { pair } = cookieOf(s);
    const csrf = s.json.csrf_token;
    const hdr = { cookie: pair, origin: gw.url };
    let r = await request(`${gw.url}/admin/v1/keys`, { headers: hdr });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'list');
    r = await request(`${gw.url}/admin/v1/usage?group=key`, { headers: hdr });
    assert.equal(r.status, 200, r.text);

    for (const token of [undefined, '', 'x', '0'.repeat(64), csrf.toUpperCase(), `${csrf}0`]) {
      const h = token === undefined ? hdr : { ...hdr, 'x-csrf-token': token };
      r = await request(`${gw.url}/admin/v1/keys`, { headers: h, body: { name: 'ui-nope' } });
      assert.equal(r.status, 403, String(token));
      assert.equal(errorOf(r).code, 'csrf_token_invalid');
    }
    // Another session's token is not this one's.
    const other = await signIn(gw, ADMIN);
    r = await request(`${gw.url}/admin/v1/keys`, {
      headers: { ...hdr, 'x-csrf-token': other.json.csrf_token }, body: { name: 'ui-nope' },
    });
    assert.equal(r.status, 403);
    r = await request(`${gw.url}/admin/v1/keys/ui-nope`, { headers: admin });
    assert.equal(r.status, 404, 'nothing was created');

    r = await request(`${gw.url}/admin/v1/keys`, {
      headers: { ...hdr, 'x-csrf-token': csrf }, body: { name: 'ui-made' },
    });
    assert.equal(r.status, 201, r.text);
    assert.match(r.json.secret, /^sk-sb-/);
    const id = r.json.id;
    const models = await request(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${r.json.secret}` } });
    assert.equal(models.status, 200);

    r = await request(`${gw.url}/admin/v1/keys/${id}`, { method: 'DELETE', headers: hdr });
    assert.equal(r.status, 403, 'a DELETE is a write');
    r = await request(`${gw.url}/admin/v1/keys/${id}`, { method: 'DELETE', headers: { ...hdr, 'x-csrf-token': csrf } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'revoked');

    // The cookie is the admin API's only: not a key for /v1.
    r = await request(`${gw.url}/v1/models`, { headers: hdr });
    assert.equal(r.status, 401);
  });

  test('sign-out needs the token, deletes the session and clears the cookie', async () => {
    const s = await signIn(gw, ADMIN);
    const { pair } = cookieOf(s);
    const csrf = s.json.csrf_token;
    const hdr = { cookie: pair, origin: gw.url };
    let r = await request(`${gw.url}/ui/session`, { method: 'DELETE', headers: hdr });
    assert.equal(r.status, 403);
    r = await request(`${gw.url}/ui/session`, { method: 'DELETE', headers: { ...hdr, 'x-csrf-token': '0'.repeat(64) } });
    assert.equal(r.status, 403);
    assert.equal((await request(`${gw.url}/ui/session`, { headers: hdr })).status, 200, 'still signed in');

    r = await request(`${gw.url}/ui/session`, { method: 'DELETE', headers: { ...hdr, 'x-csrf-token': csrf } });
    assert.equal(r.status, 204);
    assert.match(cookieOf(r).header, /^sb_session=; HttpOnly; SameSite=Strict; Path=\/; Max-Age=0$/);
    r = await request(`${gw.url}/ui/session`, { headers: hdr });
    assert.equal(r.status, 401);
    r = await request(`${gw.url}/admin/v1/keys`, { headers: hdr });
    assert.equal(r.status, 401);
    r = await request(`${gw.url}/admin/v1/keys`, { headers: { ...hdr, 'x-csrf-token': csrf }, body: { name: 'ui-after' } });
    assert.equal(r.status, 401);
    const value = pair.split('=')[1];
    const h = crypto.createHash('sha256').update(value).digest('hex').toUpperCase();
    const rows = await queryDb(gw.dbPath, `SELECT 1 FROM ui_sessions WHERE hex(id_hash) = '${h}'`);
    assert.equal(rows.length, 0);
  });

  test('an admin key signs in under its name; revoking it ends its sessions', async () => {
    const c = await runSwitchboard(['admin-key', 'create', '--name', 'ops', '--db', gw.dbPath]);
    assert.equal(c.code, 0, c.stderr);
    const secret = c.stdout.trim();
    let s;
    await waitFor(async () => (s = await signIn(gw, secret)).status === 200, { what: 'the new admin key' });
    assert.equal(s.json.name, 'ops');
    const { pair } = cookieOf(s);
    assert.equal((await request(`${gw.url}/admin/v1/keys`, { headers: { cookie: pair } })).status, 200);
    const r = await request(`${gw.url}/admin/v1/keys/ops`, { method: 'DELETE', headers: admin });
    assert.equal(r.status, 200, r.text);
    await waitFor(async () => (await request(`${gw.url}/ui/session`, { headers: { cookie: pair } })).status === 401,
      { what: 'the session of a revoked key to end' });
    assert.equal((await request(`${gw.url}/admin/v1/keys`, { headers: { cookie: pair } })).status, 401);
  });
});

describe('ui: sessions expire (ui.session_ttl_s)', () => {
  let gw;
  before(async () => {
    // Expiry is kept in whole seconds: a session of 2 s lasts between 1
    // and 2 s, so its first use right after the sign-in is always within
    // it, even on a loaded sanitizer build (1 s could end at once).
    gw = await startGateway({ env: { SWITCHBOARD_ADMIN_KEY: ADMIN }, config: { ui: { session_ttl_s: 2 } } });
  });
  after(async () => { if (gw) await gw.stop(); });

  test('a session is refused once its time is up', async () => {
    const s = await signIn(gw, ADMIN);
    assert.equal(s.status, 200);
    const { pair, header } = cookieOf(s);
    assert.match(header, /Max-Age=2$/);
    assert.equal((await request(`${gw.url}/admin/v1/keys`, { headers: { cookie: pair } })).status, 200);
    await sleep(3100);
    assert.equal((await request(`${gw.url}/ui/session`, { headers: { cookie: pair } })).status, 401);
    assert.equal((await request(`${gw.url}/admin/v1/keys`, { headers: { cookie: pair } })).status, 401);
  });
});

describe('ui: a new SWITCHBOARD_ADMIN_KEY ends the old one\'s sessions', () => {
  test('sessions survive a restart with the same credential, not with another', async () => {
    let gw = await startGateway({ env: { SWITCHBOARD_ADMIN_KEY: ADMIN } });
    const { dir, dbPath } = gw;
    let pair;
    try {
      const s = await signIn(gw, ADMIN);
      assert.equal(s.status, 200);
      pair = cookieOf(s).pair;
      const rows = await queryDb(dbPath, 'SELECT admin_tag FROM ui_sessions');
      assert.match(rows[0].admin_tag, /^[0-9a-f]{32}$/);
      assert.ok(!ADMIN.includes(rows[0].admin_tag));
    } finally { await gw.stop(); }
    gw = await startGateway({ dir, dbPath, env: { SWITCHBOARD_ADMIN_KEY: ADMIN } });
    try {
      assert.equal((await request(`${gw.url}/ui/session`, { headers: { cookie: pair } })).status, 200);
    } finally { await gw.stop(); }
    gw = await startGateway({ dir, dbPath, env: { SWITCHBOARD_ADMIN_KEY: `${ADMIN}-rotated` } });
    try {
      assert.equal((await request(`${gw.url}/ui/session`, { headers: { cookie: pair } })).status, 401);
      assert.equal((await request(`${gw.url}/admin/v1/keys`, { headers: { cookie: pair } })).status, 401);
    } finally { await gw.stop(); }
  });
});

describe('ui: the session cookie goes nowhere else', () => {
  let gw;
  let up;
  const UPKEY = 'sk-upstream-ui-5ecret';
  before(async () => {
    up = await startOpenAIEmulator({ apiKey: UPKEY, quiet: true });
    gw = await startGateway({ env: { SWITCHBOARD_ADMIN_KEY: ADMIN, SWITCHBOARD_CRED_UP: UPKEY } });
  });
  after(async () => { if (gw) await gw.stop(); if (up) await up.close(); });

  test('not upstream, even when a provider forwards cookies', async () => {
    const admin = { authorization: `Bearer ${ADMIN}` };
    let r = await request(`${gw.url}/admin/v1/providers`, {
      headers: admin,
      body: { name: 'fwd', kind: 'openai', base_url: up.url, api_key_env: 'SWITCHBOARD_CRED_UP', models: ['gpt-4o'], forward_headers: ['cookie'] },
    });
    assert.equal(r.status, 201, r.text);
    const s = await signIn(gw, ADMIN);
    const { pair } = cookieOf(s);
    const body = { model: 'fwd/gpt-4o', messages: [{ role: 'user', content: 'hi' }] };
    r = await request(`${gw.url}/v1/chat/completions`, { headers: { ...admin, cookie: `tenant=acme; ${pair}` }, body });
    assert.equal(r.status, 200, r.text);
    assert.equal(up.lastRequest().headers.cookie, undefined);
  });
});
