// Usage and cost: every request's record carries its cost from the price
// table (cached tokens at their own price), unpriced models are flagged
// rather than priced at zero, and budgets hold under concurrency.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import http from 'node:http';

import { startGateway, request, postChat, queryDb, waitFor, sleep, streamChat } from './harness.mjs';
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
      config: { providers: [{ name: 'oai', kind: 'openai', base_url: emu.url, api_key_env: 'UP_KEY', models: ['gpt-4o-mini', 'slow-stream'] }] },
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

  test('a stream the client leaves is billed for its prompt and what it was sent', async () => {
    for (const model of ['echo/story-1', 'oai/slow-stream']) {
      await admin(gw, 'prices', { model, input_per_mtok: 1000, output_per_mtok: 1000 });
    }
    const long = Array.from({ length: 300 }, (_, i) => `w${i}`).join(' ');
    // echo counts the whole story (112 words) at its start; the OpenAI
    // relay has no usage until the end of its 30 chunks.
    for (const model of ['echo/story-1', 'oai/slow-stream']) {
      let n = 0;
      const r = await streamChat(gw.url, chat(model, long, { stream: true }), {
        headers: bearer(ADMIN), onEvent: (ev, ctl) => { if (++n === 4) ctl.destroy(); },
      });
      assert.ok(r.destroyedByClient);
      const sql = `SELECT error_type, prompt_tokens, completion_tokens, cost_usd, usage_estimated FROM requests WHERE request_id='${r.headers['x-request-id']}'`;
      await waitFor(async () => (await queryDb(gw.dbPath, sql)).length === 1, { what: 'record' });
      const [rec] = await queryDb(gw.dbPath, sql);
      assert.equal(rec.error_type, 'client_closed');
      assert.equal(rec.usage_estimated, 1, model);
      // Three or four words reached the client: a few tokens, not the
      // answer's 100 and more.
      assert.ok(rec.completion_tokens >= 1 && rec.completion_tokens <= 10, `${model}: ${JSON.stringify(rec)}`);
      assert.ok(rec.prompt_tokens > 0 && rec.cost_usd > 0, JSON.stringify(rec));
    }
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
    // Each request holds (body bytes + 40) tokens ≈ $0.14 while it
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
    const rids = rs.map((r) => r.headers['x-request-id']);
    let last;
    for (let i = 0; i < 40; i++) {
      last = await request(`${gw.url}/v1/chat/completions`, { headers: bearer(key), body });
      rids.push(last.headers['x-request-id']);
      if (last.status !== 200) break;
    }
    assert.equal(last.status, 429);
    assert.equal(last.json.error.code, 'insufficient_quota');
    assert.equal(last.headers['x-should-retry'], 'false', 'SDKs must not retry an empty budget');
    // Every request's record (and cost) is in the database.
    await waitFor(async () => (await queryDb(gw.dbPath,
      `SELECT count(*) AS n FROM requests WHERE request_id IN ('${rids.join("','")}')`))[0].n === rids.length,
    { what: `the records of all ${rids.length} requests` });
    const [{ spent }] = await queryDb(gw.dbPath, `SELECT total(cost_usd) AS spent FROM requests r JOIN api_keys k ON k.id = r.key_id WHERE k.name = 'capped'`);
    const oneHold = (Buffer.byteLength(JSON.stringify(body)) + 1 + 40) / 1000;
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

// An OpenAI-compatible upstream that bills like a real one at its worst,
// not like the word-counting emulator: a prompt token per byte of text (a
// tokeniser denser than the old bytes / 3 estimate), IMAGE_TOKENS per
// image whatever its URL's length, tool schemas plus a tool system
// prompt, and an answer that uses its whole limit (UNLIMITED_OUTPUT
// tokens when the request sets none).
const IMAGE_TOKENS = 2500;
const UNLIMITED_OUTPUT = 8000;
async function startDenseUpstream({ delayMs = 300 } = {}) {
  const server = http.createServer(async (req, res) => {
    let raw = '';
    for await (const c of req) raw += c;
    const body = JSON.parse(raw);
    let prompt = 0;
    for (const m of body.messages) {
      const parts = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content || [];
      for (const p of parts) prompt += p.type === 'image_url' ? IMAGE_TOKENS : Buffer.byteLength(p.text || '');
    }
    if (body.tools) prompt += Buffer.byteLength(JSON.stringify(body.tools)) + 350;
    const completion = body.max_completion_tokens ?? body.max_tokens ?? UNLIMITED_OUTPUT;
    const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
    const base = { id: 'chatcmpl-dense', created: Math.floor(Date.now() / 1000), model: body.model };
    await sleep(delayMs); // every request of the race is in flight at once
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        ...base, object: 'chat.completion', usage,
        choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'length' }],
      }));
      return;
    }
    const chunk = (choices, extra = {}) => `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, ...extra })}\n\n`;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk([{ index: 0, delta: { role: 'assistant', content: 'ok' }, finish_reason: null }]));
    res.write(chunk([{ index: 0, delta: {}, finish_reason: 'length' }]));
    if (body.stream_options && body.stream_options.include_usage) res.write(chunk([], { usage }));
    res.end('data: [DONE]\n\n');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/v1`, close: () => new Promise((r) => server.close(r)) };
}

describe('budgets: the hold is an upper bound of the cost', () => {
  let gw;
  let up;
  before(async () => {
    up = await startDenseUpstream();
    gw = await startGateway({
      env: { SWITCHBOARD_ADMIN_KEY: ADMIN, UP_KEY: UPKEY },
      config: { providers: [{ name: 'dense', kind: 'openai', base_url: up.url, api_key_env: 'UP_KEY', models: ['gpt-4o', 'house-llm'] }] },
    });
    for (const model of ['dense/gpt-4o', 'dense/house-llm']) {
      await admin(gw, 'prices', { model, input_per_mtok: 2.5, output_per_mtok: 10 });
    }
  });
  after(async () => {
    if (gw) await gw.stop();
    if (up) await up.close();
  });

  test('50 concurrent requests never spend more than the budget', async (t) => {
    const BUDGET = 1;
    const key = (await admin(gw, 'keys', { name: 'raced', budget_usd: BUDGET, budget_period: 'total' })).secret;
    // Dense text (three bytes a character) and short image URLs: a body
    // of ~900 bytes that costs ~5,900 prompt tokens.
    const text = '汉字'.repeat(120);
    const images = (i) => ({
      model: 'dense/gpt-4o', max_tokens: 200, stream: i % 2 === 0,
      messages: [{ role: 'user', content: [{ type: 'text', text }, ...[1, 2].map((n) => ({ type: 'image_url', image_url: { url: `https://img.example/${i}-${n}.png` } }))] }],
    });
    // Long tool schemas and no limit: the model writes past the old
    // 4,096-token guess (gpt-4o may write 16,384).
    const tools = (i) => ({
      model: 'dense/gpt-4o', stream: i % 2 === 0,
      messages: [{ role: 'user', content: 'use a tool' }],
      tools: Array.from({ length: 6 }, (_, n) => ({ type: 'function', function: { name: `tool_${n}`, description: 'd'.repeat(150), parameters: { type: 'object', properties: { arg: { type: 'string', description: 'a'.repeat(60) } } } } })),
    });
    // A model the gateway knows nothing of and no limit either.
    const house = (i) => ({ model: 'dense/house-llm', stream: i % 2 === 0, messages: [{ role: 'user', content: text }] });
    const bodies = Array.from({ length: 50 }, (_, i) => [images, tools, house][i % 3](i));
    const rs = await Promise.all(bodies.map((body) => request(`${gw.url}/v1/chat/completions`, { headers: bearer(key), body })));
    const served = rs.filter((r) => r.status === 200).length;
    for (const r of rs) assert.ok(r.status === 200 || (r.status === 429 && r.json.error.code === 'insufficient_quota'), `${r.status} ${r.text}`);
    assert.ok(served >= 3, `${served} requests served`);
    assert.ok(served < 50, 'the budget refused some');
    const sql = `SELECT count(*) AS n, total(cost_usd) AS spent FROM requests r JOIN api_keys k ON k.id = r.key_id WHERE k.name = 'raced'`;
    await waitFor(async () => (await queryDb(gw.dbPath, sql))[0].n === 50, { what: 'the 50 records' });
    const [{ spent }] = await queryDb(gw.dbPath, sql);
    t.diagnostic(`${served} of 50 served, $${spent.toFixed(4)} spent of a $${BUDGET} budget`);
    assert.ok(spent <= BUDGET, `spent $${spent} of a $${BUDGET} budget (${served} of 50 served)`);
    assert.ok(spent >= BUDGET / 4, `spent $${spent}: the budget was used`);
    // The unknown model got the fallback limit (docs/reference.md).
    const [{ out }] = await queryDb(gw.dbPath, `SELECT max(completion_tokens) AS out FROM requests WHERE model = 'dense/house-llm' AND status = 200`);
    assert.equal(out, 4096);
  });
});
