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

import { startGateway, request, REPO_ROOT } from './harness.mjs';

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
