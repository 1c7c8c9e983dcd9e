// The Anthropic Messages and OpenAI Responses inbound APIs at the byte
// level (docs/inbound.md): base-URL probes, Anthropic's error shape and
// headers, big agent requests, the raw relay to an Anthropic upstream,
// the exact stream event sequences, the WebSocket refusal, the model list
// in Anthropic's shape, and unknown stored responses.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';

import { startGateway, request, parseSSE, queryDb, sqlString, waitFor } from './harness.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';
import { startAnthropicEmulator } from '../emulators/anthropic.mjs';

const KEY = 'inbound-provider-key-0123456789';
const AV = { 'anthropic-version': '2023-06-01' };

/** POST to the gateway; an event-stream answer is parsed into events. */
async function post(base, path, body, headers = {}) {
  const r = await request(`${base}${path}`, { body, headers });
  if (/^text\/event-stream/.test(r.headers['content-type'] || '')) {
    r.events = parseSSE(r.text).map((e) => ({ ...e, json: JSON.parse(e.data) }));
  }
  return r;
}

/**
 * POST a streamed request and keep whatever arrives, also when the
 * gateway ends a failed stream by closing the connection.
 */
function postStream(base, path, body, headers = {}) {
  const u = new URL(`${base}${path}`);
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    let text = '';
    let done = false;
    const finish = (res, aborted) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ status: res.statusCode, headers: res.headers, text, aborted, events: parseSSE(text).map((e) => ({ ...e, json: JSON.parse(e.data) })) });
    };
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: false,
      headers: { 'content-type': 'application/json', 'content-length': String(payload.length), ...headers },
    }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => finish(res, false));
      res.on('error', () => finish(res, true));
      res.on('close', () => finish(res, !res.complete));
    });
    const timer = setTimeout(() => req.destroy(new Error('stream timed out')), 10000);
    req.on('error', (e) => { if (!done) { clearTimeout(timer); reject(e); } });
    req.end(payload);
  });
}

/** Asserts Anthropic's error envelope and returns the inner error. */
function anthropicError(r, status, type) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers['content-type'] || '', /^application\/json/);
  assert.ok(r.json, `JSON body: ${r.text}`);
  assert.equal(r.json.type, 'error', r.text);
  assert.equal(typeof r.json.error, 'object');
  assert.equal(r.json.error.type, type, r.text);
  assert.equal(typeof r.json.error.message, 'string');
  assert.ok(r.json.error.message.length > 0);
  assert.equal(r.json.choices, undefined);
  return r.json.error;
}

describe('inbound APIs', () => {
  let oai;
  let anth;
  let gw;

  before(async () => {
    oai = await startOpenAIEmulator({ apiKey: KEY, quiet: true });
    anth = await startAnthropicEmulator({ apiKey: KEY, quiet: true });
    gw = await startGateway({
      config: {
        providers: [
          { name: 'oai', kind: 'openai', base_url: oai.url, api_key_env: 'SB_IN_KEY', models: ['gpt-4o-mini', 'error-mid-stream', 'fault-429'] },
          { name: 'anth', kind: 'anthropic', base_url: anth.url, api_key_env: 'SB_IN_KEY', models: ['claude-sonnet-4-5', 'malformed-chunk', 'reset-mid-stream'] },
          // The client's own key goes upstream.
          { name: 'anthpt', kind: 'anthropic', base_url: anth.url, passthrough_auth: true, models: ['claude-haiku-4-5'] },
        ],
      },
      env: { SB_IN_KEY: KEY },
    });
  });
  after(async () => {
    if (gw) await gw.stop();
    if (oai) await oai.close();
    if (anth) await anth.close();
  });

  test('HEAD / and GET / answer 200', async () => {
    const head = await request(`${gw.url}/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0, 'HEAD has no body');
    const get = await request(`${gw.url}/`);
    assert.equal(get.status, 200);
  });

  test('?beta=true is accepted on /v1/messages and count_tokens', async () => {
    const r = await post(gw.url, '/v1/messages?beta=true',
      { model: 'echo/echo-1', max_tokens: 32, messages: [{ role: 'user', content: 'beta path works' }] },
      { ...AV, 'anthropic-beta': 'some-beta-2025-01-01' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.type, 'message');
    assert.equal(r.json.content.length, 1);
    assert.equal(r.json.content[0].type, 'text');
    assert.equal(r.json.content[0].text, 'beta path works');
    const c = await post(gw.url, '/v1/messages/count_tokens?beta=true',
      { model: 'echo/echo-1', messages: [{ role: 'user', content: 'count me' }] }, AV);
    assert.equal(c.status, 200, c.text);
    assert.ok(c.json.input_tokens > 0);
  });

  test('echo answer in Anthropic\'s message shape, usage recorded', async () => {
    const r = await post(gw.url, '/v1/messages',
      { model: 'echo/echo-1', max_tokens: 32, system: 'Be brief.', messages: [{ role: 'user', content: 'Hello there, gateway!' }] },
      { ...AV, 'x-request-id': 'inbound-echo-msg' });
    assert.equal(r.status, 200, r.text);
    const m = r.json;
    assert.equal(m.type, 'message');
    assert.equal(m.role, 'assistant');
    assert.match(m.id, /^msg_/);
    assert.equal(m.model, 'echo/echo-1');
    assert.equal(m.content.length, 1);
    assert.equal(m.content[0].type, 'text');
    assert.equal(m.content[0].text, 'Hello there, gateway!');
    assert.equal(m.stop_reason, 'end_turn');
    assert.equal(m.stop_sequence, null);
    assert.equal(m.usage.output_tokens, 3);
    assert.ok(m.usage.input_tokens > 0);
    const row = await waitFor(async () => (await queryDb(gw.dbPath,
      `SELECT * FROM requests WHERE request_id = ${sqlString('inbound-echo-msg')}`))[0], { what: 'requests row' });
    assert.equal(row.api, 'messages');
    assert.equal(row.status, 200);
    assert.equal(row.completion_tokens, 3);
    assert.equal(row.prompt_tokens, m.usage.input_tokens);
  });

  test('Anthropic error shape: bad JSON, missing max_tokens, unknown model', async () => {
    const bad = await request(`${gw.url}/v1/messages`, { body: '{"model": "echo/echo-1", "max_tokens": ', headers: { 'content-type': 'application/json', ...AV } });
    anthropicError(bad, 400, 'invalid_request_error');

    const noMax = await post(gw.url, '/v1/messages', { model: 'echo/echo-1', messages: [{ role: 'user', content: 'hi' }] }, AV);
    const e = anthropicError(noMax, 400, 'invalid_request_error');
    assert.match(e.message, /max_tokens/);

    const unknown = await post(gw.url, '/v1/messages', { model: 'nosuch/model', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }, AV);
    anthropicError(unknown, 404, 'not_found_error');
    const unknownEcho = await post(gw.url, '/v1/messages', { model: 'echo/no-such-model', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }, AV);
    anthropicError(unknownEcho, 404, 'not_found_error');

    // A streamed request fails the same way, before any event.
    const s = await post(gw.url, '/v1/messages', { model: 'nosuch/model', max_tokens: 8, stream: true, messages: [{ role: 'user', content: 'hi' }] }, AV);
    anthropicError(s, 404, 'not_found_error');

    const badRole = await post(gw.url, '/v1/messages', { model: 'echo/echo-1', max_tokens: 8, messages: [{ role: 'robot', content: 'hi' }] }, AV);
    anthropicError(badRole, 400, 'invalid_request_error');

    // /v1/chat/completions keeps OpenAI's shape.
    const chat = await post(gw.url, '/v1/chat/completions', { model: 'nosuch/model', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(chat.status, 404);
    assert.equal(typeof chat.json.error, 'object');
    assert.equal(chat.json.type, undefined);
  });

  test('upstream errors in Anthropic\'s shape: a 429 with retry-after, an error mid-stream', async () => {
    const limited = await post(gw.url, '/v1/messages', { model: 'oai/fault-429', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }, AV);
    anthropicError(limited, 429, 'rate_limit_error');
    assert.equal(limited.headers['retry-after'], '7');

    const r = await postStream(gw.url, '/v1/messages',
      { model: 'oai/error-mid-stream', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'a b c d e f' }] }, AV);
    assert.equal(r.status, 200);
    const types = r.events.map((e) => e.event);
    assert.equal(types[0], 'message_start');
    assert.ok(types.includes('content_block_delta'), 'the text so far arrived');
    assert.equal(types[types.length - 1], 'error', `the stream ends with an error event: ${types}`);
    assert.equal(types.filter((t) => t === 'error').length, 1);
    assert.ok(!types.includes('message_stop'), 'a failed stream does not claim to be complete');
    const err = r.events[r.events.length - 1].json;
    assert.equal(err.type, 'error');
    assert.equal(typeof err.error.type, 'string');
    assert.equal(typeof err.error.message, 'string');
  });

  test('Responses stream failing upstream ends with response.failed', async () => {
    const r = await postStream(gw.url, '/v1/responses', { model: 'oai/error-mid-stream', stream: true, input: 'a b c d e f' });
    assert.equal(r.status, 200);
    const last = r.events[r.events.length - 1].json;
    assert.equal(last.type, 'response.failed', r.events.map((e) => e.event).join(','));
    assert.equal(last.response.status, 'failed');
    assert.equal(typeof last.response.error.code, 'string');
    assert.equal(typeof last.response.error.message, 'string');
    assert.equal(last.response.output[0].status, 'incomplete', 'the open message is marked incomplete');
    assert.equal(r.events.filter((e) => e.event === 'response.completed').length, 0);
    for (const [i, e] of r.events.entries()) assert.equal(e.json.sequence_number, i);
  });

  test('Anthropic-defined tools are dropped for other providers and listed', async () => {
    const r = await post(gw.url, '/v1/messages', {
      model: 'oai/gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: 'search something' }],
      tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 3 }, { name: 'lookup', input_schema: { type: 'object' } }],
    }, AV);
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['x-switchboard-dropped-params'] || '', /web_search_20250305/);
    assert.deepEqual(oai.lastRequest().body.tools.map((t) => t.function.name), ['lookup']);
  });

  test('x-api-key and Authorization: Bearer both reach an Anthropic upstream with passthrough_auth', async () => {
    const body = { model: 'anthpt/claude-haiku-4-5', max_tokens: 32, messages: [{ role: 'user', content: 'my own key' }] };
    const a = await post(gw.url, '/v1/messages', body, { ...AV, 'x-api-key': KEY });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.content[0].text, 'You said: my own key');
    assert.equal(anth.lastRequest().headers['x-api-key'], KEY);
    const b = await post(gw.url, '/v1/messages', body, { ...AV, authorization: `Bearer ${KEY}` });
    assert.equal(b.status, 200, b.text);
    assert.equal(anth.lastRequest().headers['x-api-key'], KEY);
    // A wrong key is the upstream's 401, in Anthropic's shape.
    const c = await post(gw.url, '/v1/messages', body, { ...AV, 'x-api-key': 'wrong-key' });
    assert.ok(c.status === 401 || c.status === 502, `${c.status} ${c.text}`);
    assert.equal(c.json.type, 'error');
  });

  test('x-api-key is accepted by a gateway that does not need it (echo)', async () => {
    const r = await post(gw.url, '/v1/messages',
      { model: 'echo/echo-1', max_tokens: 8, messages: [{ role: 'user', content: 'key ok' }] },
      { ...AV, 'x-api-key': 'sk-ant-whatever' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.content[0].text, 'key ok');
  });

  test('a ~400 KB agent request: 24 tools, long system prompt, a role:system message', async () => {
    const filler = (n, seed) => Array.from({ length: n }, (_, i) => `${seed}${i}`).join(' ');
    const tools = Array.from({ length: 24 }, (_, i) => ({
      name: `tool_${i}`,
      description: `Tool number ${i}. ${filler(1200, 'd')}`,
      input_schema: {
        type: 'object',
        properties: { path: { type: 'string', description: 'A path' }, count: { type: 'integer' } },
        required: ['path'],
      },
    }));
    const body = {
      model: 'oai/gpt-4o-mini',
      max_tokens: 64,
      system: [
        { type: 'text', text: 'You are an agent.' },
        { type: 'text', text: filler(40000, 's'), cache_control: { type: 'ephemeral' } },
      ],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Start the task' }] },
        { role: 'assistant', content: 'Starting.' },
        { role: 'system', content: 'Reminder: stay on task.' },
        { role: 'user', content: 'Finish the task' },
      ],
      tools,
      tool_choice: { type: 'auto' },
      metadata: { user_id: 'user-123' },
    };
    const raw = JSON.stringify(body);
    assert.ok(raw.length > 350 * 1024 && raw.length < 600 * 1024, `body is ${raw.length} bytes`);
    const r = await post(gw.url, '/v1/messages', body, AV);
    assert.equal(r.status, 200, r.text.slice(0, 2000));
    assert.equal(r.json.type, 'message');
    assert.match(r.json.content[0].text, /Finish the task/);
    const up = oai.lastRequest().body;
    assert.equal(up.tools.length, 24, 'every tool went upstream');
    assert.equal(up.tools[23].function.name, 'tool_23');
    assert.deepEqual(up.tools[0].function.parameters, tools[0].input_schema);
    const roles = up.messages.map((m) => m.role);
    assert.equal(roles[0], 'system', 'the system prompt is the first message');
    assert.deepEqual(roles.slice(1), ['user', 'assistant', 'system', 'user'], 'the role:system message keeps its place');
    const sys = up.messages[0].content;
    const sysText = typeof sys === 'string' ? sys : sys.map((p) => p.text).join('');
    assert.ok(sysText.length > 100000, 'the long system prompt arrived whole');
    assert.equal(up.max_completion_tokens ?? up.max_tokens, 64);
  });

  test('raw relay: anthropic-beta, cache_control and unknown fields reach the Anthropic upstream unchanged', async () => {
    const body = {
      model: 'anth/claude-sonnet-4-5',
      max_tokens: 64,
      system: [{ type: 'text', text: 'Long cached system prompt here', cache_control: { type: 'ephemeral', ttl: '1h' } }],
      messages: [{
        role: 'user',
        content: [
          { type: 'text', text: 'cached document text', cache_control: { type: 'ephemeral' } },
          { type: 'text', text: 'What now?' },
        ],
      }],
      service_tier: 'auto',
      context_management: { edits: [] },
    };
    const beta = 'prompt-caching-2024-07-31,context-management-2025-06-27';
    const r = await post(gw.url, '/v1/messages', body, { ...AV, 'anthropic-beta': beta, 'x-request-id': 'inbound-relay' });
    assert.equal(r.status, 200, r.text);
    const up = anth.lastRequest();
    assert.equal(up.headers['anthropic-beta'], beta);
    assert.equal(up.headers['anthropic-version'], '2023-06-01');
    assert.equal(up.headers['x-api-key'], KEY, 'the configured key, not the client\'s');
    assert.deepEqual(up.body, { ...body, model: 'claude-sonnet-4-5' }, 'only the model is rewritten');
    // The upstream's answer comes back as it is: its id, its cache usage.
    assert.match(r.json.id, /^msg_emu/);
    assert.equal(r.json.model, 'claude-sonnet-4-5');
    assert.equal(r.json.content[0].text, 'You said: cached document text What now?');
    assert.ok(r.json.usage.cache_read_input_tokens >= 8, JSON.stringify(r.json.usage));
    const row = await waitFor(async () => (await queryDb(gw.dbPath,
      `SELECT * FROM requests WHERE request_id = 'inbound-relay'`))[0], { what: 'requests row' });
    assert.equal(row.api, 'messages');
    assert.equal(row.provider, 'anth');
    assert.equal(row.completion_tokens, r.json.usage.output_tokens);
    assert.ok(row.prompt_tokens >= r.json.usage.input_tokens + r.json.usage.cache_read_input_tokens,
      `recorded prompt ${row.prompt_tokens} counts cached input too`);
  });

  test('raw relay stream: the upstream\'s events reach the client unchanged', async () => {
    const body = { model: 'anth/claude-sonnet-4-5', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'relay this stream' }] };
    const r = await post(gw.url, '/v1/messages', body, { ...AV, 'anthropic-beta': 'fine-grained-tool-streaming-2025-05-14' });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'], /^text\/event-stream/);
    const upEvents = anth.lastStream().events;
    assert.deepEqual(r.events.map((e) => [e.event, e.data]), upEvents.map((e) => [e.event, e.data]));
    assert.equal(anth.lastRequest().headers['anthropic-beta'], 'fine-grained-tool-streaming-2025-05-14');
  });

  test('raw relay stream: a malformed event or a cut inside an event never reaches the client; one error event ends it', async () => {
    for (const [model, pattern] of [['malformed-chunk', /malformed stream/], ['reset-mid-stream', /broke off/]]) {
      const body = { model: `anth/${model}`, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'one two three four' }] };
      // Every event the client gets parses (postStream throws otherwise).
      const r = await postStream(gw.url, '/v1/messages', body, AV);
      assert.equal(r.status, 200, r.text);
      const types = r.events.map((e) => e.event);
      assert.deepEqual(types.slice(0, 3), ['message_start', 'content_block_start', 'ping'], model);
      assert.equal(types.at(-1), 'error', `${model}: ${types.join(',')}`);
      assert.equal(types.filter((t) => t === 'error').length, 1, model);
      assert.ok(!types.includes('message_stop'), `${model}: the stream does not end as a success`);
      assert.equal(r.events.at(-1).json.error.type, 'api_error');
      assert.match(r.events.at(-1).json.error.message, pattern);
      // The upstream's events before the bad one reach the client as they were.
      const up = anth.lastStream().events.filter((e) => e.data !== 'malformed');
      const got = r.events.slice(0, -1).map((e) => [e.event, e.data]);
      assert.deepEqual(got, up.slice(0, got.length).map((e) => [e.event, e.data]));
      assert.ok(got.some(([ev]) => ev === 'content_block_delta'), `${model}: the deltas before the fault were relayed`);
    }
  });

  test('raw relay: an upstream answer that is not JSON is a 502 in Anthropic\'s shape, not relayed', async () => {
    const r = await post(gw.url, '/v1/messages',
      { model: 'anth/malformed-chunk', max_tokens: 64, messages: [{ role: 'user', content: 'one two' }] }, AV);
    const e = anthropicError(r, 502, 'api_error');
    assert.match(e.message, /not JSON/);
  });

  test('Anthropic stream against echo/story-1: the full event order', async () => {
    const r = await post(gw.url, '/v1/messages',
      { model: 'echo/story-1', max_tokens: 4096, stream: true, messages: [{ role: 'user', content: 'Tell me a story' }] },
      { ...AV, 'x-request-id': 'inbound-story' });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'], /^text\/event-stream/);
    const ev = r.events;
    for (const e of ev) assert.equal(e.event, e.json.type, 'the event: line names the data type');
    const types = ev.map((e) => e.event);
    assert.equal(types.filter((t) => t === 'ping').length, 1, 'one ping');
    assert.doesNotMatch(r.text, /\[DONE\]/, 'no OpenAI sentinel');
    assert.doesNotMatch(r.text, /"choices"/);

    const body = types.filter((t) => t !== 'ping');
    const deltas = body.filter((t) => t === 'content_block_delta').length;
    assert.ok(deltas > 20, `the story streams in many deltas (${deltas})`);
    assert.deepEqual(body, [
      'message_start', 'content_block_start',
      ...Array(deltas).fill('content_block_delta'),
      'content_block_stop', 'message_delta', 'message_stop',
    ]);
    assert.ok(types.indexOf('ping') < types.indexOf('content_block_delta'), 'ping comes before the first delta');

    const start = ev[0].json.message;
    assert.equal(start.type, 'message');
    assert.equal(start.role, 'assistant');
    assert.match(start.id, /^msg_/);
    assert.deepEqual(start.content, []);
    assert.equal(start.stop_reason, null);
    assert.equal(typeof start.usage.input_tokens, 'number');
    const blockStart = ev.find((e) => e.event === 'content_block_start').json;
    assert.equal(blockStart.index, 0);
    assert.deepEqual(blockStart.content_block, { type: 'text', text: '' });
    let text = '';
    for (const e of ev.filter((x) => x.event === 'content_block_delta')) {
      assert.equal(e.json.index, 0);
      assert.equal(e.json.delta.type, 'text_delta');
      text += e.json.delta.text;
    }
    assert.ok(text.split(/\s+/).filter(Boolean).length === deltas, 'one word a delta');
    assert.deepEqual(ev.find((e) => e.event === 'content_block_stop').json, { type: 'content_block_stop', index: 0 });
    const md = ev.find((e) => e.event === 'message_delta').json;
    assert.equal(md.delta.stop_reason, 'end_turn');
    assert.equal(md.delta.stop_sequence, null);
    assert.equal(md.usage.output_tokens, deltas, 'output_tokens counts the words');
    // A translated stream learns the prompt size at the end: message_delta
    // carries it (the SDK takes any non-null value from there).
    assert.ok(Math.max(start.usage.input_tokens, md.usage.input_tokens ?? 0) > 0, 'input_tokens reported');
    assert.deepEqual(ev[ev.length - 1].json, { type: 'message_stop' });

    const row = await waitFor(async () => (await queryDb(gw.dbPath,
      `SELECT * FROM requests WHERE request_id = 'inbound-story'`))[0], { what: 'requests row' });
    assert.equal(row.api, 'messages');
    assert.equal(row.stream, 1);
    assert.equal(row.completion_tokens, deltas);
  });

  test('Anthropic stream cut by max_tokens ends with stop_reason max_tokens', async () => {
    const r = await post(gw.url, '/v1/messages',
      { model: 'echo/story-1', max_tokens: 3, stream: true, messages: [{ role: 'user', content: 'Tell me a story' }] }, AV);
    assert.equal(r.status, 200, r.text);
    const md = r.events.find((e) => e.event === 'message_delta').json;
    assert.equal(md.delta.stop_reason, 'max_tokens');
    assert.equal(md.usage.output_tokens, 3);
    assert.equal(r.events[r.events.length - 1].event, 'message_stop');
  });

  test('Responses stream against echo: the full event sequence', async () => {
    const r = await post(gw.url, '/v1/responses', { model: 'echo/echo-1', input: 'one two three four', stream: true },
      { 'x-request-id': 'inbound-resp-stream' });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'], /^text\/event-stream/);
    assert.doesNotMatch(r.text, /\[DONE\]/, 'no sentinel');
    const ev = r.events;
    for (const [i, e] of ev.entries()) {
      assert.equal(e.event, e.json.type, 'the event: line names the data type');
      assert.equal(e.json.sequence_number, i, 'sequence_number counts from 0 in steps of 1');
    }
    const types = ev.map((e) => e.event);
    const nd = types.filter((t) => t === 'response.output_text.delta').length;
    assert.ok(nd >= 2);
    assert.deepEqual(types, [
      'response.created', 'response.in_progress',
      'response.output_item.added', 'response.content_part.added',
      ...Array(nd).fill('response.output_text.delta'),
      'response.output_text.done', 'response.content_part.done', 'response.output_item.done',
      'response.completed',
    ]);
    const created = ev[0].json.response;
    assert.equal(created.status, 'in_progress');
    assert.deepEqual(created.output, []);
    const added = ev[2].json;
    assert.equal(added.output_index, 0);
    assert.equal(added.item.type, 'message');
    assert.equal(added.item.status, 'in_progress');
    const itemId = added.item.id;
    assert.match(itemId, /^msg_/);
    const text = ev.filter((e) => e.event === 'response.output_text.delta').map((e) => {
      assert.equal(e.json.item_id, itemId);
      assert.equal(e.json.output_index, 0);
      assert.equal(e.json.content_index, 0);
      return e.json.delta;
    }).join('');
    assert.equal(text, 'one two three four');
    assert.equal(ev.find((e) => e.event === 'response.output_text.done').json.text, text);
    const partDone = ev.find((e) => e.event === 'response.content_part.done').json.part;
    assert.equal(partDone.type, 'output_text');
    assert.equal(partDone.text, text);
    const itemDone = ev.find((e) => e.event === 'response.output_item.done').json.item;
    assert.equal(itemDone.status, 'completed');
    assert.equal(itemDone.id, itemId);
    const done = ev[ev.length - 1].json.response;
    assert.equal(done.status, 'completed');
    assert.equal(done.id, created.id);
    assert.equal(done.output.length, 1);
    assert.equal(done.output[0].content[0].text, text);
    assert.equal(done.usage.output_tokens, 4);
    assert.equal(done.usage.total_tokens, done.usage.input_tokens + 4);

    // The streamed response was stored, and reads back as it completed.
    const got = await request(`${gw.url}/v1/responses/${done.id}`);
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.json.output, done.output);
    const row = await waitFor(async () => (await queryDb(gw.dbPath,
      `SELECT * FROM requests WHERE request_id = 'inbound-resp-stream'`))[0], { what: 'requests row' });
    assert.equal(row.api, 'responses');
    assert.equal(row.completion_tokens, 4);
  });

  test('Responses stream cut by max_output_tokens ends with response.incomplete', async () => {
    const r = await post(gw.url, '/v1/responses', { model: 'echo/story-1', input: 'story', max_output_tokens: 16, stream: true });
    assert.equal(r.status, 200, r.text);
    const last = r.events[r.events.length - 1].json;
    assert.equal(last.type, 'response.incomplete');
    assert.equal(last.response.status, 'incomplete');
    assert.deepEqual(last.response.incomplete_details, { reason: 'max_output_tokens' });
    assert.equal(r.events.filter((e) => e.event === 'response.completed').length, 0);
  });

  test('WebSocket upgrade on /v1/responses → 426, and the gateway carries on', async () => {
    const answer = await new Promise((resolve, reject) => {
      const sock = net.connect(gw.port, '127.0.0.1');
      let data = '';
      const timer = setTimeout(() => { sock.destroy(); resolve({ data, timedOut: true }); }, 5000);
      sock.setEncoding('utf8');
      sock.on('connect', () => {
        sock.write([
          'GET /v1/responses HTTP/1.1',
          `Host: 127.0.0.1:${gw.port}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
          'Sec-WebSocket-Version: 13',
          'Authorization: Bearer client-key',
          '', '',
        ].join('\r\n'));
      });
      sock.on('data', (d) => { data += d; });
      sock.on('end', () => { clearTimeout(timer); resolve({ data, timedOut: false }); });
      sock.on('close', () => { clearTimeout(timer); resolve({ data, timedOut: false }); });
      sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
    const statusLine = answer.data.split('\r\n')[0];
    assert.match(statusLine, /^HTTP\/1\.1 426 /, `status line: ${JSON.stringify(statusLine)}`);
    assert.doesNotMatch(answer.data, /^HTTP\/1\.1 101/m, 'not switched');
    assert.doesNotMatch(answer.data, /sec-websocket-accept/i);
    const body = answer.data.slice(answer.data.indexOf('\r\n\r\n') + 4);
    const j = JSON.parse(body);
    assert.equal(j.error.code, 'websocket_not_supported');
    assert.equal(answer.timedOut, false, 'the connection is closed');
    const ok = await post(gw.url, '/v1/responses', { model: 'echo/echo-1', input: 'still here' });
    assert.equal(ok.status, 200);
  });

  test('GET /v1/models with anthropic-version: Anthropic\'s list shape', async () => {
    const r = await request(`${gw.url}/v1/models`, { headers: AV });
    assert.equal(r.status, 200, r.text);
    const j = r.json;
    assert.equal(j.object, undefined);
    assert.equal(j.has_more, false);
    assert.ok(Array.isArray(j.data) && j.data.length >= 3);
    const ids = j.data.map((m) => m.id);
    for (const id of ['oai/gpt-4o-mini', 'anth/claude-sonnet-4-5', 'echo/echo-1']) assert.ok(ids.includes(id), `${id} in ${ids}`);
    assert.equal(j.first_id, ids[0]);
    assert.equal(j.last_id, ids[ids.length - 1]);
    for (const m of j.data) {
      assert.deepEqual(Object.keys(m).sort(), ['created_at', 'display_name', 'id', 'type']);
      assert.equal(m.type, 'model');
      assert.match(m.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    }
    const one = await request(`${gw.url}/v1/models/anth/claude-sonnet-4-5`, { headers: AV });
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json.type, 'model');
    assert.equal(one.json.id, 'anth/claude-sonnet-4-5');
    const missing = await request(`${gw.url}/v1/models/nosuch/model`, { headers: AV });
    anthropicError(missing, 404, 'not_found_error');

    // Without the header: OpenAI's.
    const o = await request(`${gw.url}/v1/models`);
    assert.equal(o.json.object, 'list');
    assert.equal(o.json.data[0].object, 'model');
    assert.equal(o.json.has_more, undefined);
  });

  test('GET and DELETE of an unknown stored response → 404 (OpenAI error)', async () => {
    for (const method of ['GET', 'DELETE']) {
      const r = await request(`${gw.url}/v1/responses/resp_unknown123`, { method });
      assert.equal(r.status, 404, `${method}: ${r.text}`);
      assert.equal(typeof r.json.error, 'object');
      assert.equal(typeof r.json.error.message, 'string');
      assert.match(r.json.error.message, /resp_unknown123/);
    }
    const items = await request(`${gw.url}/v1/responses/resp_unknown123/input_items`);
    assert.equal(items.status, 404);
    const prev = await post(gw.url, '/v1/responses', { model: 'echo/echo-1', input: 'hi', previous_response_id: 'resp_unknown123' });
    assert.equal(prev.status, 404, prev.text);
    assert.equal(prev.json.error.param, 'previous_response_id');
  });

  test('DELETE removes a stored response; store:false is never stored', async () => {
    const created = await post(gw.url, '/v1/responses', { model: 'echo/echo-1', input: 'keep me' });
    assert.equal(created.status, 200);
    assert.equal(created.json.store, true);
    const id = created.json.id;
    const del = await request(`${gw.url}/v1/responses/${id}`, { method: 'DELETE' });
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(del.json, { id, object: 'response.deleted', deleted: true });
    assert.equal((await request(`${gw.url}/v1/responses/${id}`)).status, 404);
    assert.equal((await request(`${gw.url}/v1/responses/${id}`, { method: 'DELETE' })).status, 404);

    const eph = await post(gw.url, '/v1/responses', { model: 'echo/echo-1', input: 'forget me', store: false });
    assert.equal(eph.status, 200);
    assert.equal(eph.json.store, false);
    assert.equal((await request(`${gw.url}/v1/responses/${eph.json.id}`)).status, 404);
    const rows = await queryDb(gw.dbPath, `SELECT count(*) AS n FROM responses WHERE id = ${sqlString(eph.json.id)}`);
    assert.equal(rows[0].n, 0);
  });
});
