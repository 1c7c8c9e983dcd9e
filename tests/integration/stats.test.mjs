// The dashboard's data API on a running gateway: /admin/v1/stats (series,
// groups, top lists, latency and the gateway's own time from the hourly
// roll-ups), the request log's filters and live-tail paging, a record's
// detail with its route attempts, and body logging (off by default,
// capped, credentials redacted).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startGateway, request, postChat, streamChat, waitFor, queryDb } from './harness.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';

const ADMIN = 'sk-sb-admin-stats-test-0123456789abcdef0123456789ab';
const UPKEY = 'sk-upstream-stats-0123456789';
const bearer = (k) => ({ authorization: `Bearer ${k}` });
const chat = (model, text) => ({ model, messages: [{ role: 'user', content: text }] });

async function records(gw, n) {
  await waitFor(async () => (await queryDb(gw.dbPath, 'SELECT count(*) AS n FROM requests'))[0].n >= n,
    { what: `${n} records` });
}

describe('dashboard data API', () => {
  let up;
  let gw;
  let key;
  let keyId;
  before(async () => {
    up = await startOpenAIEmulator({ apiKey: UPKEY, quiet: true, delayMs: 40 });
    gw = await startGateway({
      env: { SWITCHBOARD_ADMIN_KEY: ADMIN, UP: UPKEY },
      config: {
        providers: [{ name: 'up', kind: 'openai', base_url: up.url, api_key_env: 'UP', models: ['gpt-4o-mini', 'fault-503'] }],
        routes: { main: { strategy: 'fallback', targets: ['up/fault-503', 'up/gpt-4o-mini'] } },
        logging: { bodies: true, body_max_bytes: 400 },
      },
    });
    await request(`${gw.url}/admin/v1/prices`, { headers: bearer(ADMIN), body: { model: 'echo/echo-1', input_per_mtok: 1e6, output_per_mtok: 1e6 } });
    const k = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(ADMIN), body: { name: 'dash' } });
    key = k.json.secret;
    keyId = k.json.id;
    // 3 echo (priced), 2 upstream (one through the route, after a 503),
    // 1 streamed upstream, 1 unknown model (404).
    for (let i = 0; i < 3; i++) assert.equal((await postChat(gw.url, chat('echo/echo-1', 'two words'), { headers: bearer(key) })).status, 200);
    assert.equal((await postChat(gw.url, chat('up/gpt-4o-mini', 'hello'), { headers: bearer(key) })).status, 200);
    const routed = await postChat(gw.url, chat('main', 'hello'), { headers: { ...bearer(key), 'x-api-key': 'not-a-real-one' } });
    assert.equal(routed.status, 200, routed.text);
    const s = await streamChat(gw.url, { ...chat('up/gpt-4o-mini', 'stream please'), stream: true }, { headers: bearer(key) });
    assert.equal(s.status, 200);
    assert.equal((await postChat(gw.url, chat('nope/none', 'x'), { headers: bearer(key) })).status, 404);
    await records(gw, 7);
  });
  after(async () => {
    if (gw) await gw.stop();
    if (up) await up.close();
  });

  test('stats: totals, one bucket of data, latency percentiles and the gateway\'s own time', async () => {
    const r = await request(`${gw.url}/admin/v1/stats?key=dash`, { headers: bearer(ADMIN) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'stats');
    assert.equal(r.json.bucket, 'hour'); // the default 24 h range
    assert.equal(r.json.bucket_s, 3600);
    const t = r.json.totals;
    assert.equal(t.requests, 7);
    assert.equal(t.errors, 1);
    // 3 x (2 + 2 tokens at $1 each), and gpt-4o-mini's few millionths
    assert.ok(Math.abs(t.cost_usd - 12) < 0.001, String(t.cost_usd));
    // the upstream answers after 40 ms: the slowest requests took that
    assert.ok(t.latency_p95_ms >= 40, JSON.stringify(t));
    assert.ok(t.latency_p50_ms > 0 && t.latency_p50_ms <= t.latency_p95_ms);
    // the gateway's own time is measured on upstream requests only, and
    // is far below the upstream's 40 ms
    assert.ok(t.overhead_p50_ms !== null && t.overhead_p50_ms < 40, JSON.stringify(t));
    // every record is in one hour or two: buckets with data only
    assert.ok(r.json.series.length >= 1 && r.json.series.length <= 2);
    assert.equal(r.json.series.reduce((n, b) => n + b.requests, 0), 7);
    for (const b of r.json.series) assert.equal(b.t % 3600, 0);
  });

  test('stats per model, and the top lists name models, keys and providers', async () => {
    const r = await request(`${gw.url}/admin/v1/stats?group=model&top=2`, { headers: bearer(ADMIN) });
    assert.equal(r.status, 200, r.text);
    const byModel = {};
    for (const b of r.json.series) byModel[b.group] = (byModel[b.group] || 0) + b.requests;
    assert.equal(byModel['echo/echo-1'], 3);
    assert.equal(byModel['up/gpt-4o-mini'], 3);
    assert.equal(r.json.top.models.length, 2);
    assert.equal(r.json.top.models[0].model, 'echo/echo-1'); // the costliest first
    assert.equal(r.json.top.keys[0].key_id, keyId);
    assert.equal(r.json.top.keys[0].key_name, 'dash');
    const prov = r.json.top.providers.find((p) => p.provider === 'up');
    assert.equal(prov.requests, 3);
    // a request with no upstream shows no percentile for a provider's own time
    const echo = r.json.series.find((b) => b.group === 'echo/echo-1');
    assert.equal(echo.overhead_p50_ms, null);
  });

  test('stats per route and key, by minute, and a filter that matches nothing', async () => {
    let r = await request(`${gw.url}/admin/v1/stats?group=route&route=main`, { headers: bearer(ADMIN) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.totals.requests, 1);
    assert.deepEqual([...new Set(r.json.series.map((b) => b.group))], ['main']);
    r = await request(`${gw.url}/admin/v1/stats?group=key&bucket=minute&since=${Math.floor(Date.now() / 1000) - 600}`, { headers: bearer(ADMIN) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.bucket, 'minute');
    assert.ok(r.json.series.every((b) => b.t % 60 === 0 && b.group === keyId && b.key_name === 'dash'));
    assert.equal(r.json.series.reduce((n, b) => n + b.requests, 0), 7);
    // nothing matches: no buckets at all (no data), totals of zero, no percentiles
    r = await request(`${gw.url}/admin/v1/stats?model=never/seen`, { headers: bearer(ADMIN) });
    assert.deepEqual(r.json.series, []);
    assert.equal(r.json.totals.requests, 0);
    assert.equal(r.json.totals.latency_p50_ms, null);
  });

  test('stats: bad arguments are 400s that name the argument', async () => {
    for (const [q, param] of [['bucket=week', 'bucket'], ['group=colour', 'group'], ['top=0', 'top'],
      ['bucket=minute&since=2020-01-01', 'bucket'], ['since=2030-01-01&until=2029-01-01', 'since'], ['since=soon', 'since']]) {
      const r = await request(`${gw.url}/admin/v1/stats?${q}`, { headers: bearer(ADMIN) });
      assert.equal(r.status, 400, `${q}: ${r.text}`);
      assert.equal(r.json.error.param, param, q);
    }
    const r = await request(`${gw.url}/admin/v1/stats`, { headers: bearer(key) });
    assert.equal(r.status, 403);
  });

  test('the hourly roll-ups agree with the records they sum', async () => {
    const hour = Math.floor(Date.now() / 3600000) * 3600;
    for (const group of ['model', 'key', 'provider', 'route']) {
      // whole hours read usage_hourly; a range off the hour reads the records
      const a = await request(`${gw.url}/admin/v1/usage?group=${group}&since=${hour - 3600}`, { headers: bearer(ADMIN) });
      const b = await request(`${gw.url}/admin/v1/usage?group=${group}&since=${hour - 3599}`, { headers: bearer(ADMIN) });
      assert.equal(a.status, 200, a.text);
      assert.deepEqual(a.json.series, b.json.series, group);
    }
    const rows = await queryDb(gw.dbPath, 'SELECT sum(requests) AS n, sum(cost_usd) AS c FROM usage_hourly');
    assert.equal(rows[0].n, 7);
    assert.ok(Math.abs(rows[0].c - 12) < 0.001);
    const days = await queryDb(gw.dbPath, 'SELECT sum(requests) AS n FROM usage_daily');
    assert.equal(days[0].n, 7);
  });

  test('the request log filters by status, API, route and provider, and pages forward for a live tail', async () => {
    let r = await request(`${gw.url}/admin/v1/requests?status=error`, { headers: bearer(ADMIN) });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.data.map((x) => x.status), [404]);
    r = await request(`${gw.url}/admin/v1/requests?status=200&provider=up`, { headers: bearer(ADMIN) });
    assert.equal(r.json.data.length, 3);
    for (const x of r.json.data) {
      assert.ok(x.upstream_ms >= 40, JSON.stringify(x));
      assert.ok(x.overhead_ms >= 0 && x.overhead_ms < x.latency_ms + 1);
    }
    r = await request(`${gw.url}/admin/v1/requests?route=main`, { headers: bearer(ADMIN) });
    assert.equal(r.json.data.length, 1);
    r = await request(`${gw.url}/admin/v1/requests?api=embeddings`, { headers: bearer(ADMIN) });
    assert.deepEqual(r.json.data, []);
    r = await request(`${gw.url}/admin/v1/requests?status=teapot`, { headers: bearer(ADMIN) });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'status');
    // live tail: after the newest id, nothing; a new request appears, oldest first
    const all = await request(`${gw.url}/admin/v1/requests?limit=1`, { headers: bearer(ADMIN) });
    const newest = all.json.data[0].id;
    r = await request(`${gw.url}/admin/v1/requests?after_id=${newest}`, { headers: bearer(ADMIN) });
    assert.deepEqual(r.json.data, []);
    await postChat(gw.url, chat('echo/echo-1', 'tail one'), { headers: bearer(key) });
    await postChat(gw.url, chat('echo/echo-1', 'tail two'), { headers: bearer(key) });
    await records(gw, 9);
    r = await request(`${gw.url}/admin/v1/requests?after_id=${newest}`, { headers: bearer(ADMIN) });
    assert.deepEqual(r.json.data.map((x) => x.id), [newest + 1, newest + 2]);
  });

  test('a record\'s detail: its route attempts and its logged bodies, with credentials redacted and the cap kept', async () => {
    const log = await request(`${gw.url}/admin/v1/requests?route=main`, { headers: bearer(ADMIN) });
    const id = log.json.data[0].id;
    const r = await request(`${gw.url}/admin/v1/requests/${id}`, { headers: bearer(ADMIN) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.id, id);
    assert.equal(r.json.route, 'main');
    assert.equal(r.json.attempts.length, 2);
    assert.equal(r.json.attempts[0].status, 503);
    const b = r.json.body;
    assert.equal(b.request_headers.authorization, '[redacted]');
    assert.equal(b.request_headers['x-api-key'], '[redacted]');
    assert.equal(b.request_headers['content-type'], 'application/json');
    assert.ok(!r.text.includes(key), 'the key never shows');
    assert.equal(JSON.parse(b.request).model, 'main');
    assert.equal(b.request_truncated, false);
    assert.match(b.response, /"chat.completion"/);
    // a stream's events are kept as sent, up to body_max_bytes (400)
    const s = await request(`${gw.url}/admin/v1/requests?provider=up&limit=10`, { headers: bearer(ADMIN) });
    const sid = s.json.data.find((x) => x.stream === 1).id;
    const sd = await request(`${gw.url}/admin/v1/requests/${sid}`, { headers: bearer(ADMIN) });
    assert.match(sd.json.body.response, /^data: /);
    assert.equal(Buffer.byteLength(sd.json.body.response), 400);
    assert.equal(sd.json.body.response_truncated, true);
    // unknown and malformed ids
    assert.equal((await request(`${gw.url}/admin/v1/requests/999999`, { headers: bearer(ADMIN) })).status, 404);
    assert.equal((await request(`${gw.url}/admin/v1/requests/1abc`, { headers: bearer(ADMIN) })).status, 404);
  });
});

describe('body logging is off by default', () => {
  let gw;
  before(async () => { gw = await startGateway({ env: { SWITCHBOARD_ADMIN_KEY: ADMIN } }); });
  after(async () => { if (gw) await gw.stop(); });

  test('a record has no body, and nothing is kept', async () => {
    assert.equal((await postChat(gw.url, chat('echo/echo-1', 'secret prompt'), { headers: bearer(ADMIN) })).status, 200);
    await records(gw, 1);
    const r = await request(`${gw.url}/admin/v1/requests/1`, { headers: bearer(ADMIN) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.body, null);
    assert.equal((await queryDb(gw.dbPath, 'SELECT count(*) AS n FROM request_bodies'))[0].n, 0);
  });
});
