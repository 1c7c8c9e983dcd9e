// Usage and cost: every request's record carries its cost from the price
// table (cached tokens at their own price), unpriced models are flagged
// rather than priced at zero, and budgets hold under concurrency.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startGateway, request, postChat, queryDb, waitFor, sleep } from './harness.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';

const ADMIN = 'sk-sb-admin-budget-test-0123456789abcdef0123456789';
const UPKEY = 'sk-upstream-budget-test';
const bearer = (k) => ({ authorization: `Bearer ${k}` });
const chat = (model, text, extra = {}) => ({ model, messages: [{ role: 'user', content: text }], ...extra });

async function admin(gw, path, body) {
  const r = await request(`${gw.url}/admin/v1/${path}`, { headers: bearer(ADMIN), body });
  assert.ok(r.status === 200 || r.status === 201, `${path}: ${r.status} ${r.text}`);
  return r.json;
}

async function recordOf(gw, rid) {
  const sql = `SELECT prompt_tokens, completion_tokens, cached_tokens, cost_usd, unpriced, key_id FROM requests WHERE request_id='${rid}'`;
  await waitFor(async () => (await queryDb(gw.dbPath, sql)).length === 1, { what: `record ${rid}` });
  return (await queryDb(gw.dbPath, sql))[0];
}

describe('usage and cost', () => {
  let gw;
  let emu;
  before(async () => {
    emu = await startOpenAIEmulator({ apiKey: UPKEY, quiet: true });
    gw = await startGateway({
      env: { SWITCHBOARD_ADMIN_KEY: ADMIN, UP_KEY: UPKEY },
      config: { providers: [{ name: 'oai', kind: 'openai', base_url: emu.url, api_key_env: 'UP_KEY', models: ['gpt-4o-mini'] }] },
    });
  });
  after(async () => {
    if (gw) await gw.stop();
    if (emu) await emu.close();
  });

  test('the seeded price table prices a request; cached prompt tokens at the cached price', async () => {
    // gpt-4o-mini: $0.15 in, $0.60 out, $0.075 cached per million tokens (migration 0005).
    const long = Array.from({ length: 1300 }, (_, i) => `word${i}`).join(' ');
    const body = chat('oai/gpt-4o-mini', long, { max_tokens: 5 });
    const first = await postChat(gw.url, body, { headers: bearer(ADMIN) });
    assert.equal(first.status, 200, first.text);
    const second = await postChat(gw.url, body, { headers: bearer(ADMIN) });
    assert.equal(second.json.usage.prompt_tokens_details.cached_tokens > 0, true, 'the emulator cached the repeat');
    const a = await recordOf(gw, first.headers['x-request-id']);
    const b = await recordOf(gw, second.headers['x-request-id']);
    assert.equal(a.cached_tokens, 0);
    const want = (p, c, o) => ((p - c) * 0.15 + c * 0.075 + o * 0.6) / 1e6;
    assert.ok(Math.abs(a.cost_usd - want(a.prompt_tokens, 0, a.completion_tokens)) < 1e-12, JSON.stringify(a));
    assert.ok(b.cached_tokens > 0);
    assert.ok(Math.abs(b.cost_usd - want(b.prompt_tokens, b.cached_tokens, b.completion_tokens)) < 1e-12, JSON.stringify(b));
    assert.ok(b.cost_usd < a.cost_usd, 'cached tokens are cheaper');
  });

  test('a stream is priced from the usage the gateway asked the upstream for', async () => {
    const r = await request(`${gw.url}/v1/chat/completions`, {
      headers: bearer(ADMIN), body: chat('oai/gpt-4o-mini', 'stream me a few words', { stream: true }),
    });
    assert.equal(r.status, 200);
    assert.ok(!r.text.includes('"usage":{'), 'the client did not ask for the usage chunk');
    const rec = await recordOf(gw, r.headers['x-request-id']);
    assert.ok(rec.prompt_tokens > 0 && rec.completion_tokens > 0);
    assert.ok(rec.cost_usd > 0);
  });

  test('a model without a price is recorded with a NULL cost and flagged', async () => {
    const r = await postChat(gw.url, chat('echo/echo-1', 'no price here'), { headers: bearer(ADMIN) });
    assert.equal(r.status, 200);
    const rec = await recordOf(gw, r.headers['x-request-id']);
    assert.equal(rec.cost_usd, null);
    assert.equal(rec.unpriced, 1);
  });

  test('prices are editable through the admin API and apply at once', async () => {
    const t = await admin(gw, 'prices', { model: 'echo/echo-1', input_per_mtok: 1000, output_per_mtok: 2000 });
    assert.ok(t.data.some((p) => p.model === 'echo/echo-1' && p.output_per_mtok === 2000));
    const r = await postChat(gw.url, chat('echo/echo-1', 'one two three'), { headers: bearer(ADMIN) });
    const rec = await recordOf(gw, r.headers['x-request-id']);
    assert.equal(rec.unpriced, 0);
    assert.ok(Math.abs(rec.cost_usd - (3 * 1000 + 3 * 2000) / 1e6) < 1e-12, JSON.stringify(rec));
  });
});

describe('budgets', () => {
  let gw;
  before(async () => {
    gw = await startGateway({ env: { SWITCHBOARD_ADMIN_KEY: ADMIN } });
    // $1,000 per million tokens: a token costs a tenth of a cent.
    await admin(gw, 'prices', { model: 'echo/story-1', input_per_mtok: 1000, output_per_mtok: 1000 });
    await admin(gw, 'prices', { model: 'echo/echo-1', input_per_mtok: 1000, output_per_mtok: 1000 });
  });
  after(async () => { if (gw) await gw.stop(); });

  test('parallel requests cannot overspend a budget by more than one reservation', async () => {
    const BUDGET = 0.5;
    const key = (await admin(gw, 'keys', { name: 'capped', budget_usd: BUDGET, budget_period: 'monthly' })).secret;
    const body = chat('echo/story-1', 'go', { max_tokens: 40, stream: true });
    // Each request holds (body bytes / 3 + 40) tokens ≈ $0.07 while it
    // streams for ~0.4 s, and spends ~$0.04.
    const rs = await Promise.all(Array.from({ length: 40 }, () =>
      request(`${gw.url}/v1/chat/completions`, { headers: bearer(key), body })));
    const ok = rs.filter((r) => r.status === 200).length;
    const refused = rs.filter((r) => r.status === 429);
    assert.ok(ok >= 1, 'some requests were served');
    assert.ok(refused.length >= 1, 'some were refused');
    for (const r of refused) {
      assert.equal(r.json.error.code, 'insufficient_quota');
      assert.match(r.json.error.message, /monthly budget of \$0\.50/);
    }
    // Then one at a time until the budget refuses.
    let last;
    for (let i = 0; i < 40; i++) {
      last = await request(`${gw.url}/v1/chat/completions`, { headers: bearer(key), body });
      if (last.status !== 200) break;
    }
    assert.equal(last.status, 429);
    assert.equal(last.json.error.code, 'insufficient_quota');
    assert.equal(last.headers['x-should-retry'], 'false', 'SDKs must not retry an empty budget');
    await sleep(300);
    const [{ spent }] = await queryDb(gw.dbPath, `SELECT total(cost_usd) AS spent FROM requests r JOIN api_keys k ON k.id = r.key_id WHERE k.name = 'capped'`);
    const oneHold = (Buffer.byteLength(JSON.stringify(body)) / 3 + 1 + 40) / 1000;
    assert.ok(spent <= BUDGET + oneHold, `spent ${spent} over ${BUDGET} + ${oneHold}`);
    assert.ok(spent >= BUDGET - oneHold, `spent ${spent}: the budget was used up to one hold`);
  });

  test('a key with a budget cannot use a model without a price', async () => {
    const key = (await admin(gw, 'keys', { name: 'capped2', budget_usd: 10 })).secret;
    const r = await postChat(gw.url, chat('echo/echo-1', 'fine'), { headers: bearer(key) });
    assert.equal(r.status, 200);
    const emb = await request(`${gw.url}/v1/embeddings`, { headers: bearer(key), body: { model: 'echo/embed-1', input: 'x' } });
    assert.equal(emb.status, 403);
    assert.equal(emb.json.error.code, 'model_not_priced');
  });

  test('a routed request is held at its dearest target; every target needs a price', async () => {
    // echo-1 is priced at $1,000 per million tokens; story-1 ten times that.
    await admin(gw, 'prices', { model: 'echo/story-1', input_per_mtok: 10000, output_per_mtok: 10000 });
    await admin(gw, 'routes', { name: 'cheap-first', targets: ['echo/echo-1', 'echo/story-1'] });
    await admin(gw, 'routes', { name: 'unpriced-tail', targets: ['echo/echo-1', 'echo/embed-1'] });
    const key = (await admin(gw, 'keys', { name: 'router', budget_usd: 0.5 })).secret;
    const body = (model) => chat(model, 'go', { max_tokens: 40 });
    // ~60 tokens: $0.06 at echo-1's price fits, $0.6 at story-1's does not.
    let r = await postChat(gw.url, body('echo/echo-1'), { headers: bearer(key) });
    assert.equal(r.status, 200, r.text);
    r = await postChat(gw.url, body('cheap-first'), { headers: bearer(key) });
    assert.equal(r.status, 429, 'the fallback could land on the dear target');
    assert.equal(r.json.error.code, 'insufficient_quota');
    r = await postChat(gw.url, body('unpriced-tail'), { headers: bearer(key) });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error.code, 'model_not_priced');
    assert.match(r.json.error.message, /echo\/embed-1/);
    await admin(gw, 'prices', { model: 'echo/story-1', input_per_mtok: 1000, output_per_mtok: 1000 });
  });

  test('a continued conversation is held at its whole size, not its body\'s', async () => {
    // Made with the admin credential (no budget, visible to every key).
    const long = Array.from({ length: 1000 }, (_, i) => `w${i}`).join(' ');
    const first = await request(`${gw.url}/v1/responses`, {
      headers: bearer(ADMIN), body: { model: 'echo/echo-1', input: long, max_output_tokens: 5 },
    });
    assert.equal(first.status, 200, first.text);
    const key = (await admin(gw, 'keys', { name: 'continuer', budget_usd: 0.5 })).secret;
    const next = (extra) => request(`${gw.url}/v1/responses`, {
      headers: bearer(key), body: { model: 'echo/echo-1', input: 'and?', max_output_tokens: 5, ...extra },
    });
    // Alone, this body holds about $0.03; the stored conversation (~6 KB)
    // makes it about $2.
    assert.equal((await next({})).status, 200);
    const cont = await next({ previous_response_id: first.json.id });
    assert.equal(cont.status, 429, cont.text);
    assert.equal(cont.json.error.code, 'insufficient_quota');
  });

  test('the spend survives a restart: a budget spent before is still spent', async () => {
    const key = (await admin(gw, 'keys', { name: 'persist', budget_usd: 0.1, budget_period: 'total' })).secret;
    let r;
    for (let i = 0; i < 20; i++) {
      r = await postChat(gw.url, chat('echo/echo-1', 'spend some of it', { max_tokens: 10 }), { headers: bearer(key) });
      if (r.status !== 200) break;
    }
    assert.equal(r.status, 429);
    await gw.stop();
    gw = await startGateway({ dir: gw.dir, env: { SWITCHBOARD_ADMIN_KEY: ADMIN } });
    r = await postChat(gw.url, chat('echo/echo-1', 'spend some of it', { max_tokens: 10 }), { headers: bearer(key) });
    assert.equal(r.status, 429, 'still over budget after the restart');
  });
});
