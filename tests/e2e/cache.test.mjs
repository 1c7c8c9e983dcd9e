// The response cache (docs/cache.md) through the official SDKs: repeated
// requests answered without the upstream, streams replayed, crossed
// stream and non-stream, identical requests in flight coalesced, scopes
// that never let an answer cross from one key to another, TTL, size
// eviction, Cache-Control, limits that still apply to hits, and the
// operator's view (records, /metrics, /admin/v1/cache, the CLI).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

import {
  startGateway, request, queryDb, waitFor, sleep, runSwitchboard, getMetrics, metricValue,
} from '../integration/harness.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';
import { startAnthropicEmulator } from '../emulators/anthropic.mjs';

const ADMIN = 'sk-sb-admin-cache-test-0123456789abcdef0123456789';
const UPKEY = 'sk-upstream-cache-test';
const ANTKEY = 'sk-ant-cache-test-0123';
const bearer = (k) => ({ authorization: `Bearer ${k}` });
let seq = 0;
/** A prompt no other test sends. */
const fresh = (what) => `${what} #${++seq} ${Date.now()}`;

async function admin(gw, path, opts = {}) {
  const r = await request(`${gw.url}/admin/v1/${path}`, { headers: bearer(ADMIN), ...opts });
  assert.ok(r.status >= 200 && r.status < 300, `${path}: ${r.status} ${r.text}`);
  return r.json;
}

async function createKey(gw, body) {
  const r = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(ADMIN), body });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

const chatCalls = (emu) => emu.stats.requests.filter((q) => q.path === '/v1/chat/completions').length;

async function recordOf(gw, rid) {
  const sql = `SELECT cache, cost_usd, saved_usd, prompt_tokens, completion_tokens, status, key_id, stream FROM requests WHERE request_id='${rid}'`;
  await waitFor(async () => (await queryDb(gw.dbPath, sql)).length === 1, { what: `record ${rid}`, timeoutMs: 10000 });
  return (await queryDb(gw.dbPath, sql))[0];
}

function sdk(gw, key, extra = {}) {
  return new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0, timeout: 30000, ...extra });
}

/** A streamed chat answer through the SDK: its text, usage and headers. */
async function streamText(client, body, opts) {
  const { data: stream, response } = await client.chat.completions
    .create({ ...body, stream: true, stream_options: { include_usage: true } }, opts).withResponse();
  let text = '';
  let usage = null;
  let finish = null;
  for await (const c of stream) {
    if (c.usage) usage = c.usage;
    for (const ch of c.choices) {
      if (ch.delta?.content) text += ch.delta.content;
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  return { text, usage, finish, cache: response.headers.get('x-switchboard-cache'), rid: response.headers.get('x-request-id') };
}

async function wholeText(client, body, opts) {
  const { data, response } = await client.chat.completions.create(body, opts).withResponse();
  return {
    text: data.choices[0].message.content, usage: data.usage, id: data.id, finish: data.choices[0].finish_reason,
    cache: response.headers.get('x-switchboard-cache'), rid: response.headers.get('x-request-id'),
  };
}

describe('response cache', () => {
  let emu;     // a fast upstream
  let slow;    // an upstream that takes 600 ms to answer
  let flaky;   // fails its first request with 503, then answers after 400 ms
  let ant;     // an Anthropic upstream
  let gw;
  let keyA;
  let keyB;
  let a;
  let b;

  before(async () => {
    emu = await startOpenAIEmulator({ apiKey: UPKEY, models: ['gpt-4o-mini', 'text-embedding-3-small'] });
    slow = await startOpenAIEmulator({ apiKey: UPKEY, delayMs: 600 });
    flaky = await startOpenAIEmulator({ apiKey: UPKEY, delayMs: 400, failFirst: 1 });
    ant = await startAnthropicEmulator({ apiKey: ANTKEY });
    gw = await startGateway({
      env: { SWITCHBOARD_ADMIN_KEY: ADMIN, UP_KEY: UPKEY, UP_ANT_KEY: ANTKEY },
      args: ['--workers', '2'],
      config: {
        cache: { enabled: true, sweep_ms: 100 },
        providers: [
          { name: 'oai', kind: 'openai', base_url: emu.url, api_key_env: 'UP_KEY', models: ['gpt-4o-mini', 'slow-stream', 'text-embedding-3-small'] },
          { name: 'slow', kind: 'openai', base_url: slow.url, api_key_env: 'UP_KEY', models: ['gpt-4o-mini'] },
          { name: 'flaky', kind: 'openai', base_url: flaky.url, api_key_env: 'UP_KEY', models: ['gpt-4o-mini'] },
          { name: 'ant', kind: 'anthropic', base_url: ant.url, api_key_env: 'UP_ANT_KEY', models: ['claude-sonnet-4-5'] },
        ],
      },
    });
    keyA = await createKey(gw, { name: 'cache-a' });
    keyB = await createKey(gw, { name: 'cache-b' });
    a = sdk(gw, keyA.secret);
    b = sdk(gw, keyB.secret);
  });

  after(async () => {
    try {
      if (gw) await gw.stop();
    } finally {
      if (gw) await gw.kill();
      for (const e of [emu, slow, flaky, ant]) if (e) await e.close();
    }
  });

  test('non-stream twice: one upstream call, the same answer, the hit recorded at no cost with what it saved', async () => {
    const body = { model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: fresh('twice') }] };
    const before = chatCalls(emu);
    const first = await wholeText(a, body);
    const second = await wholeText(a, body);
    assert.equal(first.cache, 'miss');
    assert.equal(second.cache, 'hit');
    assert.equal(chatCalls(emu) - before, 1, 'one upstream call');
    assert.equal(second.text, first.text);
    assert.deepEqual(second.usage, first.usage);
    const r1 = await recordOf(gw, first.rid);
    const r2 = await recordOf(gw, second.rid);
    assert.equal(r1.cache, 'miss');
    assert.ok(r1.cost_usd > 0, JSON.stringify(r1));
    assert.equal(r2.cache, 'hit');
    assert.equal(r2.cost_usd, 0);
    assert.ok(Math.abs(r2.saved_usd - r1.cost_usd) < 1e-12, `${r2.saved_usd} vs ${r1.cost_usd}`);
    assert.equal(r2.prompt_tokens, r1.prompt_tokens);
    assert.equal(r2.key_id, keyA.id);
  });

  test('stream twice: the hit is a stream with the same text, finish and usage', async () => {
    const body = { model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: fresh('stream twice') }] };
    const before = chatCalls(emu);
    const first = await streamText(a, body);
    const second = await streamText(a, body);
    assert.equal(first.cache, 'miss');
    assert.equal(second.cache, 'hit');
    assert.equal(chatCalls(emu) - before, 1);
    assert.ok(first.text.length > 0);
    assert.equal(second.text, first.text);
    assert.equal(second.finish, first.finish);
    assert.ok(second.usage && second.usage.completion_tokens > 0, 'usage block replayed');
    assert.deepEqual(second.usage, first.usage);
    assert.equal((await recordOf(gw, second.rid)).stream, 1);
  });

  test('crossed: a stream answers a later whole request, and a whole answer a later stream', async () => {
    const s = { model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: fresh('stream first') }] };
    const n = { model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: fresh('whole first') }] };
    const before = chatCalls(emu);
    const s1 = await streamText(a, s);
    const s2 = await wholeText(a, s);
    const n1 = await wholeText(a, n);
    const n2 = await streamText(a, n);
    assert.deepEqual([s1.cache, s2.cache, n1.cache, n2.cache], ['miss', 'hit', 'miss', 'hit']);
    assert.equal(chatCalls(emu) - before, 2);
    assert.equal(s2.text, s1.text);
    assert.equal(s2.finish, s1.finish);
    assert.equal(s2.usage.total_tokens, s1.usage.total_tokens);
    assert.equal(n2.text, n1.text);
    assert.equal(n2.usage.total_tokens, n1.usage.total_tokens);
  });

  test('tool calls survive the cache, streamed and whole', async () => {
    const body = {
      model: 'oai/gpt-4o-mini',
      messages: [{ role: 'user', content: fresh('weather in Paris') }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      tool_choice: 'required',
    };
    const { data: first } = await a.chat.completions.create(body).withResponse();
    const { data: second, response } = await a.chat.completions.create({ ...body }).withResponse();
    assert.equal(response.headers.get('x-switchboard-cache'), 'hit');
    assert.ok(first.choices[0].message.tool_calls.length > 0);
    assert.deepEqual(second.choices[0].message.tool_calls, first.choices[0].message.tool_calls);
    assert.equal(second.choices[0].finish_reason, 'tool_calls');
    const stream = await a.chat.completions.create({ ...body, stream: true });
    const args = {};
    for await (const c of stream) {
      for (const tc of c.choices[0]?.delta?.tool_calls || []) {
        args[tc.index] = (args[tc.index] || '') + (tc.function?.arguments || '');
      }
    }
    assert.deepEqual(Object.values(args), first.choices[0].message.tool_calls.map((t) => t.function.arguments));
  });

  test('another key misses: an answer never crosses from one key to another', async () => {
    const body = { model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: fresh('mine') }] };
    const before = chatCalls(emu);
    assert.equal((await wholeText(a, body)).cache, 'miss');
    assert.equal((await wholeText(b, body)).cache, 'miss');
    assert.equal((await wholeText(b, body)).cache, 'hit');
    assert.equal(chatCalls(emu) - before, 2);
  });

  test('the key ignores who asked and how it travels, not what was asked', async () => {
    const text = fresh('ignored fields');
    const before = chatCalls(emu);
    await wholeText(a, { model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: text }], user: 'u1' });
    const same = await wholeText(a, { messages: [{ content: text, role: 'user' }], user: 'u2', model: 'oai/gpt-4o-mini' });
    assert.equal(same.cache, 'hit', 'user and member order do not count');
    const other = await wholeText(a, { model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: text }], temperature: 0.5 });
    assert.equal(other.cache, 'miss', 'a sampling parameter counts');
    assert.equal(chatCalls(emu) - before, 2);
  });

  test('x-switchboard-cache-ttl: the entry expires; a bad value is a 400', async () => {
    const body = { model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: fresh('short-lived') }] };
    const ttl = { headers: { 'x-switchboard-cache-ttl': '1' } };
    assert.equal((await wholeText(a, body, ttl)).cache, 'miss');
    assert.equal((await wholeText(a, body)).cache, 'hit');
    await sleep(1300);
    assert.equal((await wholeText(a, body)).cache, 'miss', 'expired');
    const bad = await request(`${gw.url}/v1/chat/completions`, {
      headers: { ...bearer(keyA.secret), 'x-switchboard-cache-ttl': 'soon' }, body,
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, 'x-switchboard-cache-ttl');
  });

  test('Cache-Control: no-store neither reads nor writes; no-cache skips the lookup and still stores', async () => {
    const body = { model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: fresh('control') }] };
    const nostore = { headers: { 'cache-control': 'no-store' } };
    const nocache = { headers: { 'cache-control': 'max-age=0, No-Cache' } };
    const before = chatCalls(emu);
    assert.equal((await wholeText(a, body, nostore)).cache, 'bypass');
    assert.equal((await wholeText(a, body)).cache, 'miss', 'no-store stored nothing');
    const hit = await wholeText(a, body, nostore);
    assert.equal(hit.cache, 'bypass', 'no-store does not read either');
    const refreshed = await wholeText(a, body, nocache);
    assert.equal(refreshed.cache, 'miss');
    const after = await wholeText(a, body);
    assert.equal(after.cache, 'hit');
    assert.equal(after.id, refreshed.id, 'no-cache stored its fresh answer');
    assert.equal(chatCalls(emu) - before, 4);
    assert.equal((await recordOf(gw, hit.rid)).cache, 'bypass');
  });

  test('50 identical concurrent requests, half streamed: one upstream call, every client the full answer', async () => {
    const body = { model: 'slow/gpt-4o-mini', messages: [{ role: 'user', content: fresh('herd') }] };
    const before = chatCalls(slow);
    const runs = [];
    for (let i = 0; i < 50; i++) runs.push(i % 2 ? streamText(a, body) : wholeText(a, body));
    const got = await Promise.all(runs);
    assert.equal(chatCalls(slow) - before, 1, 'one upstream call for 50 requests');
    const counts = {};
    for (const g of got) counts[g.cache] = (counts[g.cache] || 0) + 1;
    assert.equal(counts.miss, 1, JSON.stringify(counts));
    assert.equal((counts.coalesced || 0) + (counts.hit || 0), 49, JSON.stringify(counts));
    assert.ok(counts.coalesced > 0, JSON.stringify(counts));
    const want = got.find((g) => g.cache === 'miss');
    for (const g of got) {
      assert.equal(g.text, want.text);
      assert.equal(g.finish, 'stop');
      assert.equal(g.usage.total_tokens, want.usage.total_tokens);
    }
    const co = got.find((g) => g.cache === 'coalesced');
    const rec = await recordOf(gw, co.rid);
    assert.equal(rec.cache, 'coalesced');
    assert.equal(rec.cost_usd, 0);
    assert.ok(rec.saved_usd > 0);
  });

  test('a streamed leader fans its chunks out to waiters as they arrive', async () => {
    const body = { model: 'oai/slow-stream', messages: [{ role: 'user', content: fresh('fan out') }] };
    const before = chatCalls(emu);
    const leader = streamText(a, body);
    await sleep(300);
    const t0 = Date.now();
    let firstChunkMs = null;
    const stream = await a.chat.completions.create({ ...body, stream: true });
    let text = '';
    for await (const c of stream) {
      if (firstChunkMs === null && c.choices[0]?.delta?.content) firstChunkMs = Date.now() - t0;
      text += c.choices[0]?.delta?.content || '';
    }
    const l = await leader;
    assert.equal(chatCalls(emu) - before, 1);
    assert.equal(text, l.text);
    // slow-stream takes 3 s: the waiter saw text long before the end.
    assert.ok(firstChunkMs < 1500, `first chunk after ${firstChunkMs} ms`);
  });

  test('a waiter that disconnects does not cancel the leader', async () => {
    const body = { model: 'oai/slow-stream', messages: [{ role: 'user', content: fresh('leaver') }] };
    const cutBefore = emu.stats.streamsCut;
    const leader = streamText(a, body);
    await sleep(300);
    const ac = new AbortController();
    const stream = await a.chat.completions.create({ ...body, stream: true }, { signal: ac.signal });
    let n = 0;
    try {
      for await (const c of stream) {
        if (c.choices[0]?.delta?.content && ++n === 2) ac.abort();
      }
    } catch { /* aborted */ }
    const l = await leader;
    assert.equal(l.finish, 'stop');
    assert.ok(l.text.split(' ').length > 10, l.text);
    assert.equal(emu.stats.streamsCut, cutBefore, 'the upstream stream ran to its end');
    assert.equal((await wholeText(a, body)).cache, 'hit', 'and was stored');
  });

  test('a leader that fails releases its waiters to try on their own', async () => {
    const body = { model: 'flaky/gpt-4o-mini', messages: [{ role: 'user', content: fresh('flaky') }] };
    const runs = [];
    runs.push(a.chat.completions.create(body).then((d) => ({ ok: d }), (e) => ({ err: e })));
    await sleep(100);
    for (let i = 0; i < 4; i++) runs.push(a.chat.completions.create(body).then((d) => ({ ok: d }), (e) => ({ err: e })));
    const got = await Promise.all(runs);
    // Whichever reached the flight first led it and got the upstream's
    // 503 (the first request, unless a slow machine let another pass it);
    // the four that waited on it then went on their own and succeeded.
    const errs = got.filter((g) => g.err);
    assert.equal(errs.length, 1, JSON.stringify(got.map((g) => (g.err ? g.err.status : 'ok'))));
    assert.ok(errs[0].err.status >= 500, String(errs[0].err.status));
    const oks = got.filter((g) => g.ok).map((g) => g.ok);
    assert.equal(oks.length, 4);
    assert.ok(oks.every((d) => d.choices[0].message.content === oks[0].choices[0].message.content));
    assert.equal(chatCalls(flaky), 5, 'the failed call, then each waiter on its own');
  });

  test('Messages through the Anthropic SDK, to an Anthropic upstream and to an OpenAI one', async () => {
    const client = new Anthropic({ baseURL: gw.url, apiKey: keyA.secret, maxRetries: 0 });
    for (const model of ['ant/claude-sonnet-4-5', 'oai/gpt-4o-mini']) {
      const body = { model, max_tokens: 64, messages: [{ role: 'user', content: fresh('messages') }] };
      const { data: m1, response: h1 } = await client.messages.create(body).withResponse();
      const { data: m2, response: h2 } = await client.messages.create(body).withResponse();
      assert.equal(h1.headers.get('x-switchboard-cache'), 'miss', model);
      assert.equal(h2.headers.get('x-switchboard-cache'), 'hit', model);
      assert.deepEqual(m2.content, m1.content);
      assert.equal(m2.stop_reason, m1.stop_reason);
      assert.equal(m2.usage.output_tokens, m1.usage.output_tokens);
      const events = [];
      const s = await client.messages.create({ ...body, stream: true });
      for await (const ev of s) events.push(ev);
      const text = events.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text).join('');
      assert.equal(text, m1.content.filter((c) => c.type === 'text').map((c) => c.text).join(''));
      assert.equal(events.at(-1).type, 'message_stop');
    }
    const antCalls = ant.stats.requests.filter((q) => q.path === '/v1/messages').length;
    assert.equal(antCalls, 1, 'the Anthropic upstream was asked once');
  });

  test('Responses: store false is cached; a stored response is not', async () => {
    const input = fresh('responses');
    const r1 = await a.responses.create({ model: 'oai/gpt-4o-mini', input, store: false }).withResponse();
    const r2 = await a.responses.create({ model: 'oai/gpt-4o-mini', input, store: false }).withResponse();
    assert.equal(r1.response.headers.get('x-switchboard-cache'), 'miss');
    assert.equal(r2.response.headers.get('x-switchboard-cache'), 'hit');
    assert.equal(r2.data.output_text, r1.data.output_text);
    assert.notEqual(r2.data.id, r1.data.id, 'each answer is its own response');
    const { data: stream, response } = await a.responses.create({ model: 'oai/gpt-4o-mini', input, store: false, stream: true }).withResponse();
    assert.equal(response.headers.get('x-switchboard-cache'), 'hit', 'a stream from the whole answer');
    let text = '';
    let last = null;
    for await (const ev of stream) {
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      last = ev;
    }
    assert.equal(text, r1.data.output_text);
    assert.equal(last.type, 'response.completed');
    assert.ok(last.response.usage.output_tokens > 0);
    const s1 = await a.responses.create({ model: 'oai/gpt-4o-mini', input }).withResponse();
    assert.equal(s1.response.headers.get('x-switchboard-cache'), 'bypass');
    const got = await a.responses.retrieve(s1.data.id);
    assert.equal(got.id, s1.data.id);
  });

  test('embeddings: the second call is a hit with the same vectors', async () => {
    const input = fresh('embed me');
    const before = emu.stats.requests.filter((q) => q.path === '/v1/embeddings').length;
    const e1 = await a.embeddings.create({ model: 'oai/text-embedding-3-small', input }).withResponse();
    const e2 = await a.embeddings.create({ model: 'oai/text-embedding-3-small', input }).withResponse();
    assert.equal(e1.response.headers.get('x-switchboard-cache'), 'miss');
    assert.equal(e2.response.headers.get('x-switchboard-cache'), 'hit');
    assert.deepEqual(e2.data.data[0].embedding, e1.data.data[0].embedding);
    assert.equal(emu.stats.requests.filter((q) => q.path === '/v1/embeddings').length - before, 1);
  });

  test('a hit still passes the key check and its rate limit', async () => {
    const k = await createKey(gw, { name: 'cache-rpm', rpm: 2 });
    const client = sdk(gw, k.secret);
    const body = { model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: fresh('limited') }] };
    assert.equal((await wholeText(client, body)).cache, 'miss');
    assert.equal((await wholeText(client, body)).cache, 'hit');
    await assert.rejects(client.chat.completions.create(body), (e) => e.status === 429);
    const r = await createKey(gw, { name: 'cache-revoked' });
    const rc = sdk(gw, r.secret);
    const body2 = { model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: fresh('revoked') }] };
    assert.equal((await wholeText(rc, body2)).cache, 'miss');
    await admin(gw, `keys/${r.id}`, { method: 'DELETE' });
    await assert.rejects(rc.chat.completions.create(body2), (e) => e.status === 401);
  });

  test('policies: a key can turn the cache off; a route can share its entries between keys', async () => {
    const off = await createKey(gw, { name: 'cache-off', cache: { enabled: false } });
    const oc = sdk(gw, off.secret);
    const body = { model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: fresh('off') }] };
    assert.equal((await wholeText(oc, body)).cache, 'bypass');
    assert.equal((await wholeText(oc, body)).cache, 'bypass');
    const bad = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(ADMIN), body: { name: 'cache-bad', cache: { scope: 'shared' } } });
    assert.equal(bad.status, 400, 'only a route may share');
    const got = await admin(gw, `keys/${off.id}`);
    assert.deepEqual(got.cache, { enabled: false });

    await admin(gw, 'routes', { body: { name: 'faq', targets: ['oai/gpt-4o-mini'], cache: { scope: 'shared', ttl_s: 600 } } });
    const r = await admin(gw, 'routes/faq');
    assert.deepEqual(r.cache, { ttl_s: 600, scope: 'shared' });
    const shared = { model: 'faq', messages: [{ role: 'user', content: fresh('shared') }] };
    assert.equal((await wholeText(a, shared)).cache, 'miss');
    assert.equal((await wholeText(b, shared)).cache, 'hit', 'the route shares');
    assert.equal((await wholeText(oc, shared)).cache, 'bypass', 'a key that turned it off stays off');
  });

  test('the operator sees it: /metrics, /admin/v1/cache, purge by key, the CLI', async () => {
    const m = await getMetrics(gw.url);
    assert.ok(metricValue(m, 'switchboard_cache_requests_total', { result: 'hit' }) > 0);
    assert.ok(metricValue(m, 'switchboard_cache_entries') > 0);
    assert.ok(metricValue(m, 'switchboard_cache_bytes') > 0);
    const ratio = metricValue(m, 'switchboard_cache_hit_ratio');
    assert.ok(ratio > 0 && ratio < 1, String(ratio));
    const st = await admin(gw, 'cache');
    assert.equal(st.object, 'gateway.cache');
    assert.ok(st.since_start.hits > 0 && st.since_start.entries > 0, JSON.stringify(st));
    await waitFor(async () => (await admin(gw, 'cache')).recorded.hits > 0, { what: 'recorded hits' });
    assert.ok((await admin(gw, 'cache')).recorded.saved_usd > 0);

    const body = { model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: fresh('purge me') }] };
    await wholeText(a, body);
    await wholeText(b, body);
    const p = await admin(gw, `cache?key=${keyA.id}`, { method: 'DELETE' });
    assert.ok(p.purged > 0);
    assert.equal((await wholeText(a, body)).cache, 'miss', "key A's entries went");
    assert.equal((await wholeText(b, body)).cache, 'hit', "key B's stayed");

    const viewer = await createKey(gw, { name: 'cache-viewer', role: 'viewer' });
    const denied = await request(`${gw.url}/admin/v1/cache`, { method: 'DELETE', headers: bearer(viewer.secret) });
    assert.equal(denied.status, 403);
    const anon = await request(`${gw.url}/admin/v1/cache`, {});
    assert.equal(anon.status, 401);

    const stats = await runSwitchboard(['cache', 'stats', '--json', '--db', gw.dbPath]);
    assert.equal(stats.code, 0, stats.stderr);
    const js = JSON.parse(stats.stdout);
    assert.ok(js.entries > 0 && js.hits_24h > 0, stats.stdout);
    const made = await runSwitchboard(['keys', 'create', '--name', 'cache-cli', '--cache', '{"ttl_s":30,"enabled":true}', '--db', gw.dbPath]);
    assert.equal(made.code, 0, made.stderr);
    const listed = JSON.parse((await runSwitchboard(['keys', 'list', '--json', '--db', gw.dbPath])).stdout);
    assert.deepEqual(listed.find((k) => k.name === 'cache-cli').cache, { enabled: true, ttl_s: 30 });
    const refused = await runSwitchboard(['keys', 'create', '--name', 'cache-cli2', '--cache', '{"scope":"shared"}', '--db', gw.dbPath]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /only a route may share/);
    const purge = await runSwitchboard(['cache', 'purge', '--db', gw.dbPath]);
    assert.equal(purge.code, 0, purge.stderr);
    assert.match(purge.stdout, /^purged \d+ entr/);
    // The running gateway reloads its index within cache.sweep_ms.
    await waitFor(async () => (await wholeText(b, body)).cache === 'miss', { what: 'the CLI purge reaching the gateway', timeoutMs: 5000 });
  });
});

describe('response cache: size, budget holds', () => {
  let emu;
  let gw;
  before(async () => {
    emu = await startOpenAIEmulator({ apiKey: UPKEY });
    gw = await startGateway({
      env: { SWITCHBOARD_ADMIN_KEY: ADMIN, UP_KEY: UPKEY },
      config: {
        cache: { enabled: true, sweep_ms: 100, max_bytes: 2048, hold_budget: false },
        providers: [{ name: 'oai', kind: 'openai', base_url: emu.url, api_key_env: 'UP_KEY', models: ['gpt-4o-mini'] }],
        routes: { pub: { targets: ['oai/gpt-4o-mini'], cache: { scope: 'shared' } } },
      },
    });
  });
  after(async () => {
    try {
      if (gw) await gw.stop();
    } finally {
      if (gw) await gw.kill();
      if (emu) await emu.close();
    }
  });

  test('entries past cache.max_bytes are evicted least recently used first', async () => {
    const k = await createKey(gw, { name: 'size' });
    const c = sdk(gw, k.secret);
    const bodies = [0, 1, 2, 3].map((i) => ({ model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: fresh(`size ${i}`) }] }));
    for (const body of bodies) assert.equal((await wholeText(c, body)).cache, 'miss');
    // The cache's writer thread evicts right after a put passes the
    // limit, not on the request's path: wait for it.
    let st = null;
    await waitFor(async () => {
      st = (await admin(gw, 'cache')).since_start;
      return st.bytes <= 2048;
    }, { what: 'eviction down to cache.max_bytes', timeoutMs: 5000 });
    assert.ok(st.evicted > 0, JSON.stringify(st));
    assert.ok(st.entries < 4, JSON.stringify(st));
    assert.equal((await wholeText(c, bodies[3])).cache, 'hit', 'the newest stays');
    assert.equal((await wholeText(c, bodies[0])).cache, 'miss', 'the oldest went');
  });

  test('with cache.hold_budget false a hit skips the budget hold, never the key check', async () => {
    const rich = await createKey(gw, { name: 'rich' });
    const poor = await createKey(gw, { name: 'poor', budget_usd: 0.0000001, budget_period: 'total' });
    const body = { model: 'pub', max_tokens: 1000, messages: [{ role: 'user', content: fresh('budget') }] };
    await assert.rejects(sdk(gw, poor.secret).chat.completions.create({ ...body, messages: [{ role: 'user', content: fresh('uncached') }] }),
      (e) => e.status === 429, 'a miss is held against the budget');
    assert.equal((await wholeText(sdk(gw, rich.secret), body)).cache, 'miss');
    const hit = await wholeText(sdk(gw, poor.secret), body);
    assert.equal(hit.cache, 'hit', 'the shared entry answers without a hold');
    await admin(gw, `keys/${poor.id}`, { method: 'DELETE' });
    await assert.rejects(sdk(gw, poor.secret).chat.completions.create(body), (e) => e.status === 401);
  });
});
