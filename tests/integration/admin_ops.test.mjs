// The operator endpoints of the admin API (docs/reference.md, "Admin
// API"): providers' health from the router, the playground (a prompt
// through the full request path as the signed-in admin), MCP tool-call
// statistics and the admin views of every key's conversations; their
// shapes, filters and errors, with the admin credential and with a
// dashboard session cookie.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startGateway, request, queryDb, freePort, waitFor, errorOf } from './harness.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';

const ADMIN = 'sk-sb-admin-ops-0123456789abcdef0123456789abcdef01234567';
const admin = { authorization: `Bearer ${ADMIN}` };
const get = (gw, p, headers = admin) => request(`${gw.url}/admin/v1${p}`, { headers });
const post = (gw, p, body, headers = admin) => request(`${gw.url}/admin/v1${p}`, { headers, body });

describe('admin operator endpoints', () => {
  let gw;
  let emu;
  let keyA;
  let keyB;
  let cookie;
  let csrf;

  before(async () => {
    const dead = await freePort(); // nothing listens there: every attempt fails
    emu = await startOpenAIEmulator();
    gw = await startGateway({
      env: { SWITCHBOARD_ADMIN_KEY: ADMIN, UP: 'sk-up' },
      config: {
        providers: [
          { name: 'dead', kind: 'openai', base_url: `http://127.0.0.1:${dead}/v1`, api_key_env: 'UP', models: ['m1'] },
          { name: 'up', kind: 'openai', base_url: emu.url, api_key_env: 'UP', models: ['stall'] },
        ],
      },
    });
    let r = await post(gw, '/routes', { name: 'fast', targets: ['echo/echo-1'] });
    assert.equal(r.status, 200, r.text);
    r = await post(gw, '/routes', { name: 'broken', targets: ['dead/m1'], retries: 0 });
    assert.equal(r.status, 200, r.text);
    r = await post(gw, '/keys', { name: 'conv-a' });
    assert.equal(r.status, 201, r.text);
    keyA = r.json;
    r = await post(gw, '/keys', { name: 'conv-b' });
    assert.equal(r.status, 201, r.text);
    keyB = r.json;
    r = await request(`${gw.url}/ui/session`, { body: { credential: ADMIN } });
    assert.equal(r.status, 200, r.text);
    cookie = String(r.headers['set-cookie']).split(';')[0];
    csrf = r.json.csrf_token;
  });
  after(async () => {
    if (gw) await gw.stop();
    if (emu) await emu.close();
  });

  // ------------------------------------------------------------ health --

  test('providers carry the router\'s health: unknown, then up, then down while cooling', async () => {
    let r = await get(gw, '/providers');
    assert.equal(r.status, 200, r.text);
    const dead0 = r.json.data.find((p) => p.name === 'dead');
    assert.deepEqual(dead0.health, { source: 'routes', state: 'unknown', models: [] });
    // The built-in echo is listed apart: it is not in the table.
    assert.ok(Array.isArray(r.json.builtin));
    const echo0 = r.json.builtin.find((p) => p.name === 'echo');
    assert.equal(echo0.source, 'builtin');
    assert.equal(echo0.status.served, true);
    assert.ok(echo0.status.models.includes('echo-1'));
    assert.ok(!r.json.data.some((p) => p.name === 'echo'));

    const chat = (model, headers) => request(`${gw.url}/v1/chat/completions`,
      { headers, body: { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 } });
    r = await chat('fast', admin);
    assert.equal(r.status, 200, r.text);
    for (let i = 0; i < 3; i++) {
      r = await chat('broken', admin);
      assert.ok(r.status >= 500, r.text);
    }
    r = await get(gw, '/providers');
    const echo = r.json.builtin.find((p) => p.name === 'echo').health;
    assert.equal(echo.state, 'up');
    const e1 = echo.models.find((m) => m.model === 'echo-1');
    assert.equal(e1.state, 'up');
    assert.equal(typeof e1.ewma_ttfb_ms, 'number');
    assert.equal(e1.consecutive_failures, 0);
    assert.equal(e1.cooling_down, false);
    const dead = r.json.data.find((p) => p.name === 'dead').health;
    assert.equal(dead.state, 'down');
    assert.equal(dead.models.length, 1);
    const m1 = dead.models[0];
    assert.equal(m1.model, 'm1');
    assert.equal(m1.state, 'down');
    assert.equal(m1.ewma_ttfb_ms, null);
    assert.ok(m1.consecutive_failures >= 3);
    assert.equal(m1.cooling_down, true);
    assert.ok(m1.cooldown_remaining_ms > 0 && m1.cooldown_remaining_ms <= 30000);
    // One provider's entry has it too; never a credential.
    r = await get(gw, '/providers/dead');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.health.state, 'down');
    assert.ok(!r.text.includes('sk-up'));
  });

  // -------------------------------------------------------- playground --

  test('the playground answers through the full path, and the request is recorded', async () => {
    const r = await post(gw, '/playground', { model: 'fast', prompt: 'ping from the playground', max_tokens: 32 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'playground');
    assert.equal(r.json.model, 'fast');
    assert.match(r.json.text, /ping from the playground/);
    assert.equal(typeof r.json.latency_ms, 'number');
    assert.ok(r.json.latency_ms >= 0);
    const rid = r.headers['x-request-id'];
    await waitFor(async () => {
      const log = await get(gw, '/requests?limit=20');
      return log.json.data.some((x) => x.request_id === `${rid}.playground` && x.route === 'fast' && x.status === 200 && x.provider === 'echo');
    }, { what: 'the playground request in /admin/v1/requests', timeoutMs: 10000 });
  });

  test('the playground refuses bad input with 400s naming the field', async () => {
    const cases = [
      [{ prompt: 'x' }, 'model'],
      [{ model: '', prompt: 'x' }, 'model'],
      [{ model: 7, prompt: 'x' }, 'model'],
      [{ model: 'fa\u0001st', prompt: 'x' }, 'model'],
      [{ model: 'm'.repeat(257), prompt: 'x' }, 'model'],
      [{ model: 'fast' }, 'prompt'],
      [{ model: 'fast', prompt: '' }, 'prompt'],
      [{ model: 'fast', prompt: ['x'] }, 'prompt'],
      [{ model: 'fast', prompt: 'x'.repeat(32769) }, 'prompt'],
      [{ model: 'fast', prompt: 'x', max_tokens: 0 }, 'max_tokens'],
      [{ model: 'fast', prompt: 'x', max_tokens: 4097 }, 'max_tokens'],
      [{ model: 'fast', prompt: 'x', max_tokens: 1.5 }, 'max_tokens'],
      [{ model: 'fast', prompt: 'x', max_tokens: '8' }, 'max_tokens'],
      [{ model: 'fast', prompt: 'x', stream: true }, 'stream'],
    ];
    for (const [body, param] of cases) {
      const r = await post(gw, '/playground', body);
      assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${r.text}`);
      assert.equal(errorOf(r).param, param, r.text);
    }
    let r = await post(gw, '/playground', '[1]', { ...admin, 'content-type': 'application/json' });
    assert.equal(r.status, 400, r.text);
    r = await post(gw, '/playground', 'not json', { ...admin, 'content-type': 'application/json' });
    assert.equal(r.status, 400, r.text);
    // The largest prompt allowed goes through.
    r = await post(gw, '/playground', { model: 'fast', prompt: 'y'.repeat(32768), max_tokens: 4096 });
    assert.equal(r.status, 200, r.text);
  });

  test('a model the gateway does not serve, or an upstream that fails, is a 502 with the reason', async () => {
    let r = await post(gw, '/playground', { model: 'nope/none', prompt: 'hello' });
    assert.equal(r.status, 502, r.text);
    assert.equal(errorOf(r).code, 'playground_failed');
    assert.match(errorOf(r).message, /nope\/none/);
    assert.match(errorOf(r).message, /404/);
    r = await post(gw, '/playground', { model: 'broken', prompt: 'hello' });
    assert.equal(r.status, 502, r.text);
    assert.equal(errorOf(r).code, 'playground_failed');
  });

  test('a client that leaves cancels the playground\'s request upstream', async () => {
    // "stall" never answers: only the cancellation ends the sub-request
    // (else it would wait for limits.request_timeout_s).
    const t0 = Date.now();
    await assert.rejects(request(`${gw.url}/admin/v1/playground`, { headers: admin, body: { model: 'up/stall', prompt: 'leave' }, timeoutMs: 500 }), /timed out/);
    await waitFor(async () => {
      const log = await get(gw, '/requests?limit=50');
      return log.json.data.some((x) => x.model === 'up/stall' && /\.playground$/.test(x.request_id));
    }, { what: 'the cancelled sub-request recorded', timeoutMs: 10000 });
    assert.ok(Date.now() - t0 < 10000);
    assert.ok(emu.requestsTo('/v1/chat/completions').length >= 1);
  });

  test('the playground needs the credential, or a session with its CSRF token', async () => {
    let r = await post(gw, '/playground', { model: 'fast', prompt: 'x' }, {});
    assert.equal(r.status, 401, r.text);
    r = await post(gw, '/playground', { model: 'fast', prompt: 'x' }, { authorization: `Bearer ${keyA.secret}` });
    assert.equal(r.status, 403, r.text);
    r = await post(gw, '/playground', { model: 'fast', prompt: 'x' }, { cookie });
    assert.equal(r.status, 403, r.text);
    assert.equal(errorOf(r).code, 'csrf_token_invalid');
    r = await post(gw, '/playground', { model: 'fast', prompt: 'from the dashboard' }, { cookie, 'x-csrf-token': csrf });
    assert.equal(r.status, 200, r.text);
    assert.match(r.json.text, /from the dashboard/);
    r = await request(`${gw.url}/admin/v1/playground`, { method: 'GET', headers: admin });
    assert.equal(r.status, 405, r.text);
  });

  // --------------------------------------------------------- MCP stats --

  test('MCP stats group the calls by server and tool, with outcomes and percentiles', async () => {
    const now = Date.now();
    const rows = [];
    // fx/echo: durations 1..20, the 20th a tool error, one denied (0 ms).
    for (let i = 1; i <= 20; i++) rows.push(['fx', 'echo', i === 20 ? 'tool_error' : 'ok', i, now - 1000 * i]);
    rows.push(['fx', 'echo', 'denied', 0, now - 500]);
    rows.push(['mem', 'read_graph', 'timeout', 5000, now - 3000]);
    // Two days old: outside the default range.
    rows.push(['old', 'gone', 'ok', 7, now - 2 * 86400 * 1000]);
    const values = rows.map(([s, t, o, d, ts]) => `(${ts}, '${s}', '${t}', '${o}', ${d})`).join(',');
    await queryDb(gw.dbPath, `INSERT INTO mcp_calls (ts_ms, server, tool, outcome, duration_ms) VALUES ${values}`);

    let r = await get(gw, '/mcp/stats');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'list');
    assert.ok(r.json.until - r.json.since === 86400, r.text);
    assert.deepEqual(r.json.data.map((x) => `${x.server}/${x.tool}`), ['fx/echo', 'mem/read_graph']);
    const [echo, mem] = r.json.data;
    assert.equal(echo.calls, 21);
    assert.equal(echo.errors, 2);
    assert.deepEqual(echo.outcomes, { ok: 19, tool_error: 1, denied: 1 });
    // Nearest rank over the 20 calls that reached the server: 10th and 19th.
    assert.equal(echo.p50_ms, 10);
    assert.equal(echo.p95_ms, 19);
    assert.equal(echo.last_ts_ms, now - 500);
    assert.deepEqual(mem.outcomes, { timeout: 1 });
    assert.equal(mem.errors, 1);
    assert.equal(mem.p50_ms, 5000);
    assert.equal(mem.p95_ms, 5000);

    // A range: only the old call.
    const s = Math.floor((now - 3 * 86400 * 1000) / 1000);
    const u = Math.floor((now - 86400 * 1000) / 1000);
    r = await get(gw, `/mcp/stats?since=${s}&until=${u}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.data.map((x) => x.server), ['old']);
    assert.equal(r.json.data[0].p50_ms, 7);
    // Nothing in range: an empty list; only denied calls: no percentiles.
    await queryDb(gw.dbPath, `INSERT INTO mcp_calls (ts_ms, server, tool, outcome, duration_ms) VALUES (${now - 10 * 86400 * 1000}, 'z', 'deny', 'denied', 0)`);
    r = await get(gw, `/mcp/stats?since=${Math.floor((now - 11 * 86400 * 1000) / 1000)}&until=${Math.floor((now - 9 * 86400 * 1000) / 1000)}`);
    assert.equal(r.json.data.length, 1);
    assert.equal(r.json.data[0].p50_ms, null);
    assert.equal(r.json.data[0].p95_ms, null);
    r = await get(gw, '/mcp/stats?since=2001-01-01&until=2001-01-02');
    assert.deepEqual(r.json.data, []);
  });

  test('MCP stats refuse a bad range (400) and need the credential (401)', async () => {
    for (const q of ['since=yesterday', 'until=2020-13-01', 'since=2030-01-02&until=2030-01-01', 'since=2030-01-01&until=2030-01-01']) {
      const r = await get(gw, `/mcp/stats?${q}`);
      assert.equal(r.status, 400, `${q}: ${r.text}`);
    }
    let r = await get(gw, '/mcp/stats', {});
    assert.equal(r.status, 401, r.text);
    r = await get(gw, '/mcp/stats', { cookie });
    assert.equal(r.status, 200, r.text);
  });

  // ---------------------------------------------------- conversations --

  test('admin conversations: every key\'s, with key_id, a key filter by id or name, and paging', async () => {
    const made = [];
    for (const [k, n] of [[keyA, 3], [keyB, 2]]) {
      for (let i = 0; i < n; i++) {
        const r = await request(`${gw.url}/v1/conversations`, {
          headers: { authorization: `Bearer ${k.secret}` },
          body: { metadata: { n: String(i) }, items: [{ type: 'message', role: 'user', content: `hello ${k.name} ${i}` }] },
        });
        assert.equal(r.status, 200, r.text);
        made.push({ id: r.json.id, key: k.id });
      }
    }
    let r;
    await waitFor(async () => {
      r = await get(gw, '/conversations?limit=100');
      return r.status === 200 && made.every((m) => r.json.data.some((c) => c.id === m.id));
    }, { what: 'the conversations listed' });
    assert.equal(r.json.object, 'list');
    for (const m of made) {
      const c = r.json.data.find((x) => x.id === m.id);
      assert.equal(c.object, 'conversation');
      assert.equal(c.key_id, m.key);
      assert.equal(typeof c.created_at, 'number');
    }
    // By id and by name: only that key's.
    for (const k of [keyA.id, 'conv-a']) {
      r = await get(gw, `/conversations?key=${encodeURIComponent(k)}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.data.length, 3);
      assert.ok(r.json.data.every((c) => c.key_id === keyA.id));
    }
    r = await get(gw, '/conversations?key=nobody');
    assert.deepEqual(r.json.data, []);
    // Paging: two at a time, newest first, without repeats.
    const seen = [];
    let after = '';
    for (let i = 0; i < 10; i++) {
      r = await get(gw, `/conversations?limit=2${after ? `&after=${after}` : ''}`);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.json.data.length <= 2);
      seen.push(...r.json.data.map((c) => c.id));
      if (!r.json.has_more) break;
      after = r.json.last_id;
    }
    assert.equal(new Set(seen).size, seen.length);
    for (const m of made) assert.ok(seen.includes(m.id));
  });

  test('admin conversation and its items, as /v1 shows them', async () => {
    let r = await get(gw, `/conversations?key=conv-b&limit=1`);
    const id = r.json.data[0].id;
    r = await get(gw, `/conversations/${id}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.id, id);
    assert.equal(r.json.key_id, keyB.id);
    assert.deepEqual(Object.keys(r.json.metadata), ['n']);
    const v1 = await request(`${gw.url}/v1/conversations/${id}/items?order=asc`, { headers: { authorization: `Bearer ${keyB.secret}` } });
    r = await get(gw, `/conversations/${id}/items?order=asc`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, v1.json);
    assert.equal(r.json.data[0].type, 'message');
    assert.match(JSON.stringify(r.json.data[0].content), /hello conv-b/);
    // The dashboard's cookie reads them too.
    r = await get(gw, `/conversations/${id}/items`, { cookie });
    assert.equal(r.status, 200, r.text);
  });

  test('admin conversations: errors', async () => {
    let r = await get(gw, '/conversations/conv_nope');
    assert.equal(r.status, 404, r.text);
    r = await get(gw, '/conversations/conv_nope/items');
    assert.equal(r.status, 404, r.text);
    r = await get(gw, '/conversations/x/items/y');
    assert.equal(r.status, 404, r.text);
    r = await get(gw, '/conversations/x/other');
    assert.equal(r.status, 404, r.text);
    for (const q of ['limit=0', 'limit=101', 'limit=x', 'order=sideways']) {
      r = await get(gw, `/conversations?${q}`);
      assert.equal(r.status, 400, `${q}: ${r.text}`);
    }
    r = await get(gw, '/conversations?after=conv_nope');
    assert.equal(r.status, 400, r.text);
    r = await get(gw, '/conversations', {});
    assert.equal(r.status, 401, r.text);
    r = await get(gw, '/conversations', { authorization: `Bearer ${keyA.secret}` });
    assert.equal(r.status, 403, r.text);
    // Read-only: no writes here.
    r = await request(`${gw.url}/admin/v1/conversations`, { method: 'DELETE', headers: admin });
    assert.equal(r.status, 405, r.text);
    r = await post(gw, '/conversations', {});
    assert.equal(r.status, 405, r.text);
  });
});
