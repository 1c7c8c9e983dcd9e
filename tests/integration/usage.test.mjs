// Usage queries, daily roll-ups, CSV and the request log, through the
// admin API and the CLI, on a running gateway's database.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startGateway, runSwitchboard, request, postChat, waitFor, queryDb } from './harness.mjs';

const ADMIN = 'sk-sb-admin-usage-test-0123456789abcdef0123456789ab';
const bearer = (k) => ({ authorization: `Bearer ${k}` });
const chat = (model, text) => ({ model, messages: [{ role: 'user', content: text }] });

describe('usage and the request log', () => {
  let gw;
  let key;
  let keyId;
  before(async () => {
    gw = await startGateway({ env: { SWITCHBOARD_ADMIN_KEY: ADMIN } });
    await request(`${gw.url}/admin/v1/prices`, { headers: bearer(ADMIN), body: { model: 'echo/echo-1', input_per_mtok: 1e6, output_per_mtok: 2e6 } });
    const k = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(ADMIN), body: { name: 'reporting' } });
    key = k.json.secret;
    keyId = k.json.id;
    // 3 priced requests (2 + 2 words each: $6 each), 1 unpriced, 1 error.
    for (let i = 0; i < 3; i++) assert.equal((await postChat(gw.url, chat('echo/echo-1', 'two words'), { headers: bearer(key) })).status, 200);
    assert.equal((await postChat(gw.url, chat('echo/story-1', 'x'), { headers: bearer(key) })).status, 200);
    assert.equal((await postChat(gw.url, chat('nope/none', 'x'), { headers: bearer(key) })).status, 404);
    await waitFor(async () => (await queryDb(gw.dbPath, `SELECT count(*) AS n FROM requests WHERE key_id='${keyId}'`))[0].n === 5, { what: 'records' });
  });
  after(async () => { if (gw) await gw.stop(); });

  test('totals and a series per model, for one key', async () => {
    const r = await request(`${gw.url}/admin/v1/usage?key=reporting&group=model`, { headers: bearer(ADMIN) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.totals.requests, 5);
    assert.equal(r.json.totals.errors, 1);
    assert.equal(r.json.totals.cost_usd, 18);
    assert.equal(r.json.totals.unpriced_requests, 1);
    const echo = r.json.series.find((s) => s.model === 'echo/echo-1');
    assert.equal(echo.requests, 3);
    assert.equal(echo.prompt_tokens, 6);
    assert.equal(echo.cost_usd, 18);
  });

  test('daily roll-up and a day range', async () => {
    const today = new Date().toISOString().slice(0, 10);
    let r = await request(`${gw.url}/admin/v1/usage?key=${keyId}`, { headers: bearer(ADMIN) });
    assert.deepEqual(r.json.series.map((s) => s.day), [today]);
    r = await request(`${gw.url}/admin/v1/usage?key=${keyId}&until=2001-01-01`, { headers: bearer(ADMIN) });
    assert.equal(r.json.totals.requests, 0);
    r = await request(`${gw.url}/admin/v1/usage?since=yesterdayish`, { headers: bearer(ADMIN) });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'since');
  });

  test('whole days read the daily roll-ups, a time of day the records: the same figures', async () => {
    const midnight = Math.floor(Date.now() / 86400000) * 86400; // today 00:00Z, unix s
    const secondsIn = Math.floor(Date.now() / 1000) - midnight;
    // A since one second past midnight reads the records; only when no
    // record fell in that second do both ranges hold the same requests.
    if (secondsIn < 5) return;
    for (const group of ['model', 'key', 'provider', 'day']) {
      const days = await request(`${gw.url}/admin/v1/usage?group=${group}&since=${midnight}`, { headers: bearer(ADMIN) });
      const recs = await request(`${gw.url}/admin/v1/usage?group=${group}&since=${midnight + 1}`, { headers: bearer(ADMIN) });
      assert.equal(days.status, 200, days.text);
      assert.deepEqual(days.json, recs.json, `group ${group}`);
    }
    const [{ n }] = await queryDb(gw.dbPath, `SELECT total(requests) AS n FROM usage_daily WHERE key_id='${keyId}'`);
    assert.equal(n, 5, 'the roll-up table counts every record');
  });

  test('CSV export', async () => {
    const r = await request(`${gw.url}/admin/v1/usage.csv?key=reporting&group=model`, { headers: bearer(ADMIN) });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /text\/csv/);
    const lines = r.text.trim().split('\r\n');
    assert.equal(lines[0], 'model,requests,errors,prompt_tokens,completion_tokens,cached_tokens,reasoning_tokens,cost_usd,unpriced_requests');
    assert.ok(lines.some((l) => l.startsWith('echo/echo-1,3,0,6,6,0,0,18,0')), r.text);
  });

  test('the request log pages newest first', async () => {
    const p1 = await request(`${gw.url}/admin/v1/requests?key=reporting&limit=2`, { headers: bearer(ADMIN) });
    assert.equal(p1.status, 200);
    assert.equal(p1.json.data.length, 2);
    assert.equal(p1.json.has_more, true);
    assert.equal(p1.json.data[0].status, 404, 'newest first');
    const p2 = await request(`${gw.url}/admin/v1/requests?key=reporting&limit=10&before_id=${p1.json.next_before_id}`, { headers: bearer(ADMIN) });
    assert.equal(p2.json.data.length, 3);
    assert.equal(p2.json.has_more, false);
    const ids = [...p1.json.data, ...p2.json.data].map((d) => d.id);
    assert.equal(new Set(ids).size, 5);
    // Gateway keys cannot read it.
    assert.equal((await request(`${gw.url}/admin/v1/requests`, { headers: bearer(key) })).status, 403);
  });

  test('the CLI reads the same figures from the running gateway\'s database', async () => {
    const r = await runSwitchboard(['usage', '--key', 'reporting', '--by', 'model', '--format', 'json', '--db', gw.dbPath]);
    assert.equal(r.code, 0, r.stderr);
    const u = JSON.parse(r.stdout);
    assert.equal(u.totals.requests, 5);
    assert.equal(u.totals.cost_usd, 18);
    const t = await runSwitchboard(['usage', '--db', gw.dbPath]);
    assert.equal(t.code, 0);
    assert.match(t.stdout, /^day\s+REQUESTS/m);
  });

  test('a route set with the CLI serves at once on the running gateway', async () => {
    const r = await runSwitchboard(['routes', 'set', 'cli-route', '--targets', 'echo/echo-1', '--db', gw.dbPath]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(async () => (await postChat(gw.url, chat('cli-route', 'hi'), { headers: bearer(key) })).status === 200,
      { what: 'route seen', timeoutMs: 2000 });
    const l = await runSwitchboard(['routes', 'list', '--db', gw.dbPath]);
    assert.match(l.stdout, /^cli-route\t/m);
    const bad = await runSwitchboard(['routes', 'set', 'x', '--targets', 'nomodel', '--db', gw.dbPath]);
    assert.equal(bad.code, 2);
  });
});
