// Routing policies: a route name as the model, ordered targets, strategies,
// fallback before the first byte, retries honouring retry-after, cool-down,
// and what the response and the record say about it.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startGateway, request, postChat, queryDb, waitFor, freePort } from './harness.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';

const KEY = 'sk-upstream-routing';
const ADMIN = 'sk-sb-admin-routing-0123456789abcdef0123456789abcdef';
const bearer = (k) => ({ authorization: `Bearer ${k}` });
const ask = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'route me' }], ...extra });

async function recordOf(gw, rid) {
  const sql = `SELECT provider, route, attempts, attempts_detail FROM requests WHERE request_id='${rid}'`;
  await waitFor(async () => (await queryDb(gw.dbPath, sql)).length === 1, { what: 'record' });
  return (await queryDb(gw.dbPath, sql))[0];
}

describe('routing policies', () => {
  let good;
  let slow;
  let flaky;
  let gw;
  let deadPort;
  before(async () => {
    good = await startOpenAIEmulator({ apiKey: KEY, quiet: true });
    slow = await startOpenAIEmulator({ apiKey: KEY, quiet: true, delayMs: 150 });
    flaky = await startOpenAIEmulator({ apiKey: KEY, quiet: true, failFirst: 2 });
    deadPort = await freePort(); // nothing listens there
    const prov = (name, url) => ({ name, kind: 'openai', base_url: url, api_key_env: 'UP', models: ['gpt-4o-mini', 'gpt-4o', 'fault-503', 'fault-429'] });
    gw = await startGateway({
      env: { UP: KEY, SWITCHBOARD_ADMIN_KEY: ADMIN },
      config: {
        providers: [prov('good', good.url), prov('slow', slow.url), prov('flaky', flaky.url),
          prov('dead', `http://127.0.0.1:${deadPort}/v1`)],
        routes: {
          smart: { strategy: 'fallback', targets: ['good/fault-503', 'dead/gpt-4o-mini', 'good/gpt-4o-mini'] },
          sticky: { strategy: 'fallback', retries: 3, targets: ['flaky/gpt-4o-mini', 'good/gpt-4o'] },
          fast: { strategy: 'least-latency', targets: ['slow/gpt-4o-mini', 'good/gpt-4o-mini'] },
          cheap: { strategy: 'lowest-cost', targets: ['good/gpt-4o', 'good/gpt-4o-mini'] },
          split: { strategy: 'weighted', targets: [{ provider: 'good', model: 'gpt-4o', weight: 3 }, { provider: 'good', model: 'gpt-4o-mini', weight: 1 }] },
          hopeless: { targets: ['good/fault-429', 'good/fault-503'] },
          impatient: { targets: [{ provider: 'slow', model: 'gpt-4o', timeout_ms: 60 }, 'good/gpt-4o'] },
          offline: { targets: ['dead/gpt-4o-mini', 'echo/echo-1'] },
        },
      },
    });
  });
  after(async () => {
    if (gw) await gw.stop();
    for (const e of [good, slow, flaky]) if (e) await e.close();
  });

  test('fallback: a 5xx and a refused connection before the first byte move on to the next target', async () => {
    const r = await postChat(gw.url, ask('smart'), { headers: bearer(ADMIN) });
    assert.equal(r.status, 200, r.text);
    assert.match(r.json.choices[0].message.content, /route me/);
    assert.equal(r.headers['x-switchboard-route'], 'smart');
    assert.equal(r.headers['x-switchboard-provider'], 'good');
    assert.equal(r.headers['x-switchboard-model'], 'gpt-4o-mini');
    assert.equal(r.headers['x-switchboard-attempts'], '3');
    const rec = await recordOf(gw, r.headers['x-request-id']);
    assert.equal(rec.route, 'smart');
    assert.equal(rec.attempts, 3);
    const detail = JSON.parse(rec.attempts_detail);
    assert.deepEqual(detail.map((a) => [a.provider, a.model, a.status]),
      [['good', 'fault-503', 503], ['dead', 'gpt-4o-mini', 502], ['good', 'gpt-4o-mini', 200]]);
  });

  test('a fall back to the built-in echo counts and logs its attempt too', async () => {
    const r = await postChat(gw.url, ask('offline'), { headers: bearer(ADMIN) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-switchboard-provider'], 'echo');
    assert.equal(r.headers['x-switchboard-attempts'], '2');
    const rec = await recordOf(gw, r.headers['x-request-id']);
    assert.equal(rec.attempts, 2);
    assert.deepEqual(JSON.parse(rec.attempts_detail).map((a) => [a.provider, a.status]), [['dead', 502], ['echo', 200]]);
  });

  test('fallback works for streams too, and for the Anthropic and Responses APIs', async () => {
    const s = await request(`${gw.url}/v1/chat/completions`, { headers: bearer(ADMIN), body: ask('smart', { stream: true }) });
    assert.equal(s.status, 200);
    assert.match(s.text, /"content":" me"/);
    assert.match(s.text, /data: \[DONE\]/);
    const m = await request(`${gw.url}/v1/messages`, {
      headers: { 'x-api-key': ADMIN },
      body: { model: 'smart', max_tokens: 50, messages: [{ role: 'user', content: 'route me' }] },
    });
    assert.equal(m.status, 200, m.text);
    assert.match(m.json.content[0].text, /route me/);
    const resp = await request(`${gw.url}/v1/responses`, { headers: bearer(ADMIN), body: { model: 'smart', input: 'route me', store: false } });
    assert.equal(resp.status, 200, resp.text);
    assert.equal(resp.headers['x-switchboard-model'], 'gpt-4o-mini');
  });

  test('retries: a target that recovers is tried again after a back-off', async () => {
    const t0 = Date.now();
    const r = await postChat(gw.url, ask('sticky'), { headers: bearer(ADMIN) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-switchboard-provider'], 'flaky', 'the same target, third try');
    assert.equal(r.headers['x-switchboard-attempts'], '3');
    assert.ok(Date.now() - t0 >= 100 + 200, 'backed off between tries');
  });

  test('per-target time-out: a slow target fails over within its own limit', async () => {
    const t0 = Date.now();
    const r = await postChat(gw.url, ask('impatient'), { headers: bearer(ADMIN) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-switchboard-provider'], 'good');
    assert.ok(Date.now() - t0 < 1000);
    const rec = await recordOf(gw, r.headers['x-request-id']);
    assert.deepEqual(JSON.parse(rec.attempts_detail).map((a) => a.status), [504, 200]);
  });

  test('every target failing: the last error, in the client\'s format', async () => {
    const r = await postChat(gw.url, ask('hopeless'), { headers: bearer(ADMIN) });
    assert.equal(r.status, 503);
    assert.equal(r.headers['x-switchboard-attempts'], '2');
    const m = await request(`${gw.url}/v1/messages`, {
      headers: { 'x-api-key': ADMIN }, body: { model: 'hopeless', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] },
    });
    assert.equal(m.status, 503);
    assert.equal(m.json.type, 'error');
  });

  test('cool-down: a target that keeps failing is tried last for a while', async () => {
    // good/fault-503 failed in the tests above; three failures cool it.
    for (let i = 0; i < 3; i++) await postChat(gw.url, ask('smart'), { headers: bearer(ADMIN) });
    const r = await postChat(gw.url, ask('smart'), { headers: bearer(ADMIN) });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-switchboard-attempts'], '1', 'both cooled targets skipped');
  });

  test('least-latency: after measuring, the faster target serves first', async () => {
    for (let i = 0; i < 3; i++) await postChat(gw.url, ask('fast'), { headers: bearer(ADMIN) });
    const picks = [];
    for (let i = 0; i < 5; i++) picks.push((await postChat(gw.url, ask('fast'), { headers: bearer(ADMIN) })).headers['x-switchboard-provider']);
    assert.deepEqual(picks, Array(5).fill('good'));
  });

  test('lowest-cost: the cheaper target by the price table serves first', async () => {
    const r = await postChat(gw.url, ask('cheap'), { headers: bearer(ADMIN) });
    assert.equal(r.headers['x-switchboard-model'], 'gpt-4o-mini');
  });

  test('weighted: picks follow the weights', async () => {
    let big = 0;
    for (let i = 0; i < 60; i++) {
      const r = await postChat(gw.url, ask('split'), { headers: bearer(ADMIN) });
      if (r.headers['x-switchboard-model'] === 'gpt-4o') big++;
    }
    assert.ok(big > 30 && big < 58, `gpt-4o served ${big} of 60 (weight 3:1)`);
  });

  test('/v1/models lists routes as models', async () => {
    const r = await request(`${gw.url}/v1/models`, { headers: bearer(ADMIN) });
    const ids = r.json.data.map((m) => m.id);
    assert.ok(ids.includes('smart') && ids.includes('good/gpt-4o-mini'), ids.join(' '));
    assert.equal(r.json.data.find((m) => m.id === 'smart').owned_by, 'switchboard');
  });

  test('routes through the admin API: created, used at once, deleted', async () => {
    let r = await request(`${gw.url}/admin/v1/routes`, { headers: bearer(ADMIN), body: { name: 'fresh', targets: ['good/gpt-4o'] } });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.data.some((x) => x.name === 'fresh'));
    r = await postChat(gw.url, ask('fresh'), { headers: bearer(ADMIN) });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-switchboard-model'], 'gpt-4o');
    r = await request(`${gw.url}/admin/v1/routes`, { headers: bearer(ADMIN), body: { name: 'bad', strategy: 'random', targets: ['good/gpt-4o'] } });
    assert.equal(r.status, 400);
    r = await request(`${gw.url}/admin/v1/routes/fresh`, { method: 'DELETE', headers: bearer(ADMIN) });
    assert.equal(r.status, 200);
    r = await postChat(gw.url, ask('fresh'), { headers: bearer(ADMIN) });
    assert.equal(r.status, 404);
  });
});
