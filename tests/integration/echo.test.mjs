// The built-in echo provider: exact answers, usage, streaming shapes,
// max_tokens, and the request records it leaves (docs/reference.md).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startGateway, postChat, streamChat, request, queryDb, sqlString, chatBody } from './harness.mjs';

const words = (s) => s.split(/\s+/).filter(Boolean).length;

/** Checks every chunk of an OpenAI stream and returns its pieces. */
function assertStreamShape(r, { usage = false } = {}) {
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/event-stream/);
  assert.equal(r.timedOut, false, 'stream finished');
  assert.equal(r.aborted, false, 'stream ended cleanly');
  assert.ok(r.done, 'saw data: [DONE]');
  assert.ok(r.doneLast, '[DONE] is the last event');
  assert.equal(r.errors.length, 0, `no error events: ${JSON.stringify(r.errors)}`);
  assert.doesNotMatch(r.raw, /^event:/m, 'chat completions streams carry no event: lines');
  for (const ev of r.events) {
    assert.ok(ev.data === '[DONE]' || ev.json !== undefined, `event is JSON: ${ev.data.slice(0, 100)}`);
  }
  const chunks = r.chunks;
  assert.ok(chunks.length >= 3, 'role, content and finish chunks');
  const { id, created, model } = chunks[0];
  assert.equal(typeof id, 'string');
  assert.ok(id.length > 0);
  assert.equal(typeof created, 'number');
  for (const c of chunks) {
    assert.equal(c.object, 'chat.completion.chunk');
    assert.equal(c.id, id, 'same id on every chunk');
    assert.equal(c.created, created, 'same created on every chunk');
    assert.equal(c.model, model, 'same model on every chunk');
  }
  const first = chunks[0].choices[0];
  assert.equal(first.index, 0);
  assert.equal(first.delta.role, 'assistant');
  let body = chunks;
  let usageChunk = null;
  if (usage) {
    usageChunk = chunks[chunks.length - 1];
    assert.deepEqual(usageChunk.choices, [], 'the usage chunk has no choices');
    assert.ok(usageChunk.usage && typeof usageChunk.usage === 'object', 'usage chunk carries usage');
    body = chunks.slice(0, -1);
    for (const c of body) assert.equal(c.usage, null, 'usage: null on every other chunk');
  } else {
    for (const c of chunks) assert.equal('usage' in c, false, 'no usage key without include_usage');
  }
  const finish = body[body.length - 1];
  assert.equal(finish.choices.length, 1);
  assert.ok(finish.choices[0].finish_reason, 'the last choice chunk has a finish_reason');
  for (const c of body.slice(0, -1)) {
    assert.equal(c.choices.length, 1);
    assert.equal(c.choices[0].finish_reason, null, 'finish_reason null before the end');
  }
  const content = body.slice(0, -1).map((c) => c.choices[0].delta.content || '');
  return { chunks: body, content, text: content.join(''), finish: finish.choices[0].finish_reason, usage: usageChunk && usageChunk.usage };
}

describe('echo provider', () => {
  let gw;
  const rid = (name) => `echo-test-${name}`;

  before(async () => {
    gw = await startGateway({ config: { workers: 2 } });
  });
  after(async () => {
    if (gw) await gw.kill();
  });

  test('echo/echo-1 answers the last user message with usage', async () => {
    const body = {
      model: 'echo/echo-1',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello there, gateway!' },
      ],
    };
    const r = await postChat(gw.url, body, { headers: { 'x-request-id': rid('nonstream') } });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.equal(r.headers['x-switchboard-provider'], 'echo');
    assert.equal(r.headers['x-switchboard-model'], 'echo-1');
    assert.equal(r.headers['x-request-id'], rid('nonstream'));
    const j = r.json;
    assert.equal(j.object, 'chat.completion');
    assert.equal(typeof j.id, 'string');
    assert.ok(j.id.length > 0);
    assert.ok(Number.isInteger(j.created));
    assert.ok(Math.abs(j.created - Date.now() / 1000) < 3600, 'created is a unix time in seconds');
    assert.equal(typeof j.model, 'string');
    assert.equal(j.choices.length, 1);
    assert.equal(j.choices[0].index, 0);
    assert.equal(j.choices[0].message.role, 'assistant');
    assert.equal(j.choices[0].message.content, 'Hello there, gateway!');
    assert.equal(j.choices[0].finish_reason, 'stop');
    assert.equal(j.usage.prompt_tokens, 5, 'words of all messages: 2 + 3');
    assert.equal(j.usage.completion_tokens, 3);
    assert.equal(j.usage.total_tokens, 8);
  });

  test('echo-1 answers the LAST user message of a conversation', async () => {
    const r = await postChat(gw.url, {
      model: 'echo/echo-1',
      messages: [
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'first answer' },
        { role: 'user', content: 'second question here' },
      ],
    });
    assert.equal(r.status, 200);
    assert.equal(r.json.choices[0].message.content, 'second question here');
    assert.equal(r.json.usage.completion_tokens, 3);
    assert.equal(r.json.usage.prompt_tokens, 7);
  });

  test('echo-1 streams the same text, OpenAI chunk by chunk', async () => {
    const text = 'Streaming is fun to test';
    const r = await streamChat(gw.url, chatBody('echo/echo-1', text, { stream: true }),
      { headers: { 'x-request-id': rid('stream') } });
    const s = assertStreamShape(r);
    assert.equal(r.headers['x-switchboard-provider'], 'echo');
    assert.equal(r.headers['x-request-id'], rid('stream'));
    assert.equal(s.text, text);
    assert.equal(s.finish, 'stop');
    assert.deepEqual(s.chunks[s.chunks.length - 1].choices[0].delta, {}, 'the finish chunk has an empty delta');
  });

  test('echo/story-1 streams many one-word chunks, then [DONE]', async () => {
    const r = await streamChat(gw.url, chatBody('echo/story-1', 'tell me a story', { stream: true }));
    const s = assertStreamShape(r);
    const contentChunks = s.content.filter((c) => c.length > 0);
    assert.ok(contentChunks.length >= 10, `many chunks (${contentChunks.length})`);
    for (const c of contentChunks) assert.match(c, /^\s?\S+\s?$/, `one word per chunk: ${JSON.stringify(c)}`);
    assert.equal(s.finish, 'stop');

    // The same story without streaming.
    const n = await postChat(gw.url, chatBody('echo/story-1', 'tell me a story'));
    assert.equal(n.status, 200);
    assert.equal(n.json.choices[0].message.content, s.text);
    assert.equal(n.json.usage.completion_tokens, words(s.text));
    assert.equal(n.json.usage.completion_tokens, contentChunks.length);
  });

  test('include_usage adds the usage chunk (choices: []) before [DONE]', async () => {
    const text = 'count these four words';
    const r = await streamChat(gw.url, chatBody('echo/echo-1', text, { stream: true, stream_options: { include_usage: true } }),
      { headers: { 'x-request-id': rid('usage') } });
    const s = assertStreamShape(r, { usage: true });
    assert.equal(s.text, text);
    assert.equal(s.usage.prompt_tokens, 4);
    assert.equal(s.usage.completion_tokens, 4);
    assert.equal(s.usage.total_tokens, 8);

    const off = await streamChat(gw.url, chatBody('echo/echo-1', text, { stream: true, stream_options: { include_usage: false } }));
    assertStreamShape(off);
  });

  test('max_tokens and max_completion_tokens cut the answer with finish_reason length', async () => {
    const text = 'one two three four five';
    const r1 = await postChat(gw.url, chatBody('echo/echo-1', text, { max_tokens: 2 }), { headers: { 'x-request-id': rid('length') } });
    assert.equal(r1.status, 200);
    assert.equal(r1.json.choices[0].message.content, 'one two');
    assert.equal(r1.json.choices[0].finish_reason, 'length');
    assert.equal(r1.json.usage.completion_tokens, 2);

    const r2 = await postChat(gw.url, chatBody('echo/echo-1', text, { max_completion_tokens: 3 }));
    assert.equal(r2.json.choices[0].message.content, 'one two three');
    assert.equal(r2.json.choices[0].finish_reason, 'length');
    assert.equal(r2.json.usage.completion_tokens, 3);

    const r3 = await postChat(gw.url, chatBody('echo/echo-1', text, { max_tokens: 5 }));
    assert.equal(r3.json.choices[0].message.content, text);
    assert.equal(r3.json.choices[0].finish_reason, 'stop', 'exactly enough tokens is a normal stop');

    const s = await streamChat(gw.url, chatBody('echo/story-1', 'story', { stream: true, max_tokens: 5, stream_options: { include_usage: true } }));
    const st = assertStreamShape(s, { usage: true });
    assert.equal(st.content.filter((c) => c.length > 0).length, 5);
    assert.equal(words(st.text), 5);
    assert.equal(st.finish, 'length');
    assert.equal(st.usage.completion_tokens, 5);

    const e = await streamChat(gw.url, chatBody('echo/echo-1', text, { stream: true, max_completion_tokens: 1 }));
    const et = assertStreamShape(e);
    assert.equal(et.text, 'one');
    assert.equal(et.finish, 'length');
  });

  test('request records are written for /v1/* requests', async () => {
    // Some more records of other kinds.
    const miss = await postChat(gw.url, chatBody('echo/nothing', 'x'), { headers: { 'x-request-id': rid('missing') } });
    assert.equal(miss.status, 404);
    const models = await request(`${gw.url}/v1/models`, { headers: { 'x-request-id': rid('models') } });
    assert.equal(models.status, 200);
    const health = await request(`${gw.url}/healthz`, { headers: { 'x-request-id': rid('health') } });
    assert.equal(health.status, 200);

    await gw.stop();
    const rows = await queryDb(gw.dbPath, `SELECT * FROM requests WHERE request_id LIKE 'echo-test-%'`);
    const byId = Object.fromEntries(rows.map((r) => [r.request_id, r]));
    assert.equal(rows.length, Object.keys(byId).length, 'one row per request');

    const now = Date.now();
    for (const r of rows) {
      assert.ok(Math.abs(now - r.ts_ms) < 10 * 60 * 1000, `ts_ms is unix ms (${r.ts_ms})`);
      assert.ok(Number.isInteger(r.latency_ms) && r.latency_ms >= 0, 'latency_ms');
    }

    const ok = byId[rid('nonstream')];
    assert.ok(ok, 'non-stream record');
    assert.equal(ok.api, 'chat');
    assert.equal(ok.model, 'echo/echo-1');
    assert.equal(ok.provider, 'echo');
    assert.equal(ok.upstream_model, 'echo-1');
    assert.equal(ok.stream, 0);
    assert.equal(ok.status, 200);
    assert.equal(ok.error_type, null);
    assert.equal(ok.prompt_tokens, 5);
    assert.equal(ok.completion_tokens, 3);
    assert.ok(ok.ttfb_ms !== null && ok.ttfb_ms >= 0, 'ttfb_ms');
    assert.ok(ok.latency_ms >= ok.ttfb_ms, 'latency_ms >= ttfb_ms');

    const st = byId[rid('stream')];
    assert.ok(st, 'stream record');
    assert.equal(st.stream, 1);
    assert.equal(st.status, 200);
    assert.equal(st.provider, 'echo');
    assert.equal(st.prompt_tokens, 5);
    assert.equal(st.completion_tokens, 5, 'usage recorded even though the client did not ask for it');

    const us = byId[rid('usage')];
    assert.equal(us.completion_tokens, 4);

    const len = byId[rid('length')];
    assert.equal(len.completion_tokens, 2);

    const m = byId[rid('missing')];
    assert.ok(m, 'a record for the 404');
    assert.equal(m.api, 'chat');
    assert.equal(m.status, 404);
    assert.equal(m.error_type, 'invalid_request_error');
    assert.equal(m.model, 'echo/nothing');
    assert.equal(m.prompt_tokens, null);
    assert.equal(m.completion_tokens, null);

    const md = byId[rid('models')];
    assert.ok(md, 'a record for GET /v1/models');
    assert.equal(md.api, 'models');
    assert.equal(md.status, 200);

    assert.equal(byId[rid('health')], undefined, '/healthz leaves no record');
    const healthRows = await queryDb(gw.dbPath, `SELECT count(*) AS n FROM requests WHERE request_id = ${sqlString(rid('health'))}`);
    assert.equal(healthRows[0].n, 0);
  });
});
