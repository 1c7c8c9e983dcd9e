// An OpenAI-compatible upstream (tests/emulators/openai.mjs) behind the
// gateway: pass-through, credentials, headers, errors, streaming failures,
// timeouts, backpressure, shutdown and request records (docs/reference.md).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import {
  startGateway, freePort, postChat, streamChat, request, errorOf, queryDb,
  getMetrics, metricValue, waitFor, rssBytes, chatBody, sleep, within,
} from './harness.mjs';
import {
  startOpenAIEmulator, FAULT_MODELS, SLOW_CHUNKS, bigStreamContent,
} from '../emulators/openai.mjs';

const KEY = `sk-local-${randomBytes(12).toString('hex')}`;
const VKEY = `sk-vllm-${randomBytes(12).toString('hex')}`;
const LOCAL_MODELS = ['gpt-4o-mini', 'llama3', 'ghost-model', ...FAULT_MODELS];

const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'get_weather', description: 'Weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_time',
      parameters: { type: 'object', properties: { tz: { type: 'string' }, h24: { type: 'boolean' } } },
    },
  },
];

/** The emulator's events of its last stream, parsed, without [DONE]. */
function upstreamChunks(emu) {
  return emu.lastStream().events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
}

function assertError(res, status, type, code) {
  assert.equal(res.status, status, `status (body: ${res.text.slice(0, 300)})`);
  assert.match(res.headers['content-type'] || '', /^application\/json/);
  const e = errorOf(res);
  assert.equal(e.type, type);
  assert.equal(e.code, code);
  return e;
}

/** A stream that failed after it started: content, then one error event, no [DONE]. */
function assertFailedStream(r, { code } = {}) {
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/event-stream/);
  assert.equal(r.timedOut, false, 'the stream ended');
  assert.equal(r.done, false, 'no data: [DONE]');
  assert.equal(r.errors.length, 1, `exactly one error event: ${JSON.stringify(r.errors)}`);
  const last = r.lastEvent;
  assert.ok(last && last.json && last.json.error, 'the error event is the last event');
  const e = r.errors[0];
  assert.equal(e.type, 'upstream_error');
  assert.equal(typeof e.message, 'string');
  assert.ok('param' in e && 'code' in e, 'error has param and code');
  if (code) assert.equal(e.code, code);
  return e;
}

const hasContent = (ev) => !!(ev.json && ev.json.choices && ev.json.choices[0] &&
  ev.json.choices[0].delta && ev.json.choices[0].delta.content);

describe('openai upstream', () => {
  let emu;
  let vllm;
  let gw;
  let gwConfig;
  let gwEnv;
  const records = new Map(); // request id -> expected columns
  const expectRecord = (id, cols) => records.set(id, cols);

  before(async () => {
    emu = await startOpenAIEmulator({ apiKey: KEY });
    vllm = await startOpenAIEmulator({ apiKey: VKEY, acceptExtra: ['top_k'], models: ['llama3', 'qwen2'], listFaultModels: false });
    const deadPort = await freePort();
    gwConfig = {
      workers: 2,
      limits: { stream_idle_timeout_s: 1, connect_timeout_ms: 2000 },
      providers: [
        {
          name: 'local', kind: 'openai', base_url: emu.url, api_key_env: 'SB_TEST_LOCAL_KEY',
          models: LOCAL_MODELS, headers: { 'X-Extra': 'value' }, forward_headers: ['openai-organization'],
        },
        { name: 'pass', kind: 'openai', base_url: emu.url, passthrough_auth: true, models: ['gpt-4o-mini', 'fault-401'] },
        { name: 'vllm', kind: 'openai', base_url: vllm.url, api_key_env: 'SB_TEST_VLLM_KEY', models: ['llama3'] },
        { name: 'auto', kind: 'openai', base_url: vllm.url, api_key_env: 'SB_TEST_VLLM_KEY' },
        { name: 'dead', kind: 'openai', base_url: `http://127.0.0.1:${deadPort}/v1`, api_key_env: 'SB_TEST_LOCAL_KEY', models: ['gpt-4o-mini'] },
        { name: 'nousage', kind: 'openai', base_url: emu.url, api_key_env: 'SB_TEST_LOCAL_KEY', models: ['gpt-4o-mini'], stream_usage: false },
      ],
    };
    gwEnv = { SB_TEST_LOCAL_KEY: KEY, SB_TEST_VLLM_KEY: VKEY, LOG_LEVEL: 'debug' };
    gw = await startGateway({ config: gwConfig, env: gwEnv });
  });

  after(async () => {
    if (gw) await gw.kill();
    if (emu) await emu.close();
    if (vllm) await vllm.close();
  });

  test('non-stream: the upstream answer reaches the client unchanged', async () => {
    const body = {
      model: 'local/gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: [{ type: 'text', text: 'Hello upstream' }, { type: 'text', text: 'world' }] },
      ],
      temperature: 0.5, max_tokens: 50, user: 'u-1', seed: 7, stop: ['zzz'],
      response_format: { type: 'text' },
    };
    const r = await postChat(gw.url, body, { headers: { 'x-request-id': 'up-nonstream', authorization: 'Bearer client-key-1' } });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.equal(r.headers['x-switchboard-provider'], 'local');
    assert.equal(r.headers['x-switchboard-model'], 'gpt-4o-mini');
    assert.equal(r.headers['x-request-id'], 'up-nonstream');

    const up = emu.lastRequest();
    assert.equal(up.method, 'POST');
    assert.equal(up.path, '/v1/chat/completions');
    assert.deepEqual(up.body, { ...body, model: 'gpt-4o-mini' }, 'the upstream gets the request with only the model renamed');
    const upRes = emu.lastResponse();
    assert.equal(upRes.status, 200);
    assert.deepEqual(r.json, upRes.body, 'the client gets the upstream body');
    assert.equal(r.json.choices[0].message.content, 'You said: Hello upstream world');

    expectRecord('up-nonstream', {
      api: 'chat', model: 'local/gpt-4o-mini', provider: 'local', upstream_model: 'gpt-4o-mini',
      stream: 0, status: 200, error_type: null,
      prompt_tokens: upRes.body.usage.prompt_tokens, completion_tokens: upRes.body.usage.completion_tokens,
    });
  });

  test('stream without include_usage: no usage reaches the client, yet the gateway asked for it', async () => {
    const body = chatBody('local/llama3', 'stream me please', { stream: true });
    const r = await streamChat(gw.url, body, { headers: { 'x-request-id': 'up-stream' } });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/event-stream/);
    assert.ok(r.done && r.doneLast, 'ends with [DONE]');
    assert.equal(r.errors.length, 0);
    assert.equal(r.contentText, 'You said: stream me please');

    const up = emu.lastRequest();
    assert.equal(up.body.stream, true);
    assert.deepEqual(up.body.stream_options, { include_usage: true }, 'stream_usage asks the upstream for usage');
    assert.equal(up.body.model, 'llama3');

    for (const c of r.chunks) {
      assert.equal('usage' in c, false, 'no usage key on any chunk');
      assert.ok(c.choices.length > 0, 'no usage-only chunk');
    }
    const upChunks = upstreamChunks(emu);
    const usage = upChunks[upChunks.length - 1].usage;
    assert.ok(usage, 'the upstream sent usage');
    const expected = upChunks.filter((c) => c.choices.length > 0).map(({ usage: _u, ...rest }) => rest);
    assert.deepEqual(r.chunks, expected, 'the other chunks are passed through unchanged');

    expectRecord('up-stream', {
      api: 'chat', model: 'local/llama3', provider: 'local', upstream_model: 'llama3', stream: 1, status: 200,
      error_type: null, prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens,
    });
  });

  test('stream with include_usage: every chunk passes through unchanged', async () => {
    const body = chatBody('local/gpt-4o-mini', 'with usage please', { stream: true, stream_options: { include_usage: true } });
    const r = await streamChat(gw.url, body, { headers: { 'x-request-id': 'up-stream-usage' } });
    assert.equal(r.status, 200);
    assert.ok(r.done && r.doneLast);
    const up = upstreamChunks(emu);
    assert.deepEqual(r.chunks, up);
    const last = r.chunks[r.chunks.length - 1];
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.completion_tokens, 5, '"You said: with usage please"');
    for (const c of r.chunks.slice(0, -1)) assert.equal(c.usage, null);
    assert.deepEqual(emu.lastRequest().body.stream_options, { include_usage: true });
    expectRecord('up-stream-usage', { stream: 1, status: 200, prompt_tokens: last.usage.prompt_tokens, completion_tokens: 5 });
  });

  test('tool calls pass through, non-stream and stream', async () => {
    const body = { model: 'local/llama3', messages: [{ role: 'user', content: 'Paris' }], tools: TOOLS, tool_choice: 'required' };
    const r = await postChat(gw.url, body);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(emu.lastRequest().body, { ...body, model: 'llama3' });
    assert.deepEqual(r.json, emu.lastResponse().body);
    const msg = r.json.choices[0].message;
    assert.equal(msg.content, null);
    assert.equal(r.json.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(msg.tool_calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)]),
      [['get_weather', { city: 'Paris' }], ['get_time', { tz: 'Paris', h24: true }]]);

    const s = await streamChat(gw.url, { ...body, stream: true, stream_options: { include_usage: true } });
    assert.equal(s.status, 200);
    assert.ok(s.done && s.doneLast);
    assert.deepEqual(s.chunks, upstreamChunks(emu));
    const calls = [];
    for (const c of s.chunks) {
      for (const tc of (c.choices[0] && c.choices[0].delta.tool_calls) || []) {
        calls[tc.index] ??= { id: tc.id, name: tc.function.name, args: '' };
        calls[tc.index].args += tc.function.arguments || '';
      }
    }
    assert.deepEqual(calls.map((c) => [c.name, JSON.parse(c.args)]),
      [['get_weather', { city: 'Paris' }], ['get_time', { tz: 'Paris', h24: true }]]);

    // The tool result round trip keeps every field.
    const round = {
      model: 'local/llama3',
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: calls[0].id, type: 'function', function: { name: 'get_weather', arguments: calls[0].args } }] },
        { role: 'tool', tool_call_id: calls[0].id, content: '18C, clear' },
        { role: 'user', content: 'Thanks' },
      ],
      tools: TOOLS,
      parallel_tool_calls: false,
    };
    const rr = await postChat(gw.url, round);
    assert.equal(rr.status, 200, rr.text);
    assert.deepEqual(emu.lastRequest().body, { ...round, model: 'llama3' });
    assert.equal(rr.json.choices[0].message.content, 'You said: Thanks');
  });

  test('pass-through forwards the client\'s own bytes, with only the model replaced', async () => {
    const post = (text) => request(`${gw.url}/v1/chat/completions`, {
      headers: { 'content-type': 'application/json' }, body: text,
    });
    // Spacing, number spellings, key order and raw UTF-8 as the client wrote them.
    const head = '{ "messages" : [ {"role":"user","content":"caf\u00e9 \\"q\\" 汉"} ],\n  "temperature": 0.70, "max_tokens": 1e2, "model":';
    let r = await post(`${head} "local/gpt-4o-mini" , "seed": 7 }\n`);
    assert.equal(r.status, 200, r.text);
    assert.equal(emu.lastRequest().rawBody, `${head} "gpt-4o-mini" , "seed": 7 }`);

    // A stream the client did not ask usage of: the request for it is added.
    r = await streamChat(gw.url, '{"model":"local/gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"s"}]}');
    assert.equal(r.status, 200);
    assert.equal(emu.lastRequest().rawBody,
      '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"s"}],"stream_options":{"include_usage":true}}');

    // What the bytes cannot say as they are goes through the parsed body:
    // letters spelled as escapes, and another provider's reasoning state.
    r = await post('{"model":"local/gpt-4o-mini","messages":[{"role":"user","content":"\\u0041BC"}]}');
    assert.equal(r.status, 200, r.text);
    assert.equal(emu.lastRequest().rawBody, '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"ABC"}]}');
    r = await post(JSON.stringify({ model: 'local/gpt-4o-mini', messages: [
      { role: 'user', content: 'a' },
      { role: 'assistant', content: 'b', reasoning_details: [{ type: 'reasoning.encrypted', data: 'x' }] },
      { role: 'user', content: 'c' }] }));
    assert.equal(r.status, 200, r.text);
    assert.ok(!emu.lastRequest().rawBody.includes('reasoning_details'), 'provider state left out');
  });

  test('the upstream gets the gateway credential, not the client\'s', async () => {
    const r = await postChat(gw.url, chatBody('local/gpt-4o-mini', 'auth check'), {
      headers: { authorization: 'Bearer client-secret-xyz' },
    });
    assert.equal(r.status, 200, r.text);
    const up = emu.lastRequest();
    assert.equal(up.headers.authorization, `Bearer ${KEY}`);
    assert.ok(!JSON.stringify(up.headers).includes('client-secret-xyz'), 'the client key stays out');
    assert.ok(!gw.stderr().includes(KEY), 'the upstream key is not logged');
    assert.ok(!gw.stdout().includes(KEY), 'the upstream key is not printed');
  });

  test('passthrough_auth forwards the client\'s Authorization', async () => {
    const ok = await postChat(gw.url, chatBody('pass/gpt-4o-mini', 'my own key'), { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(emu.lastRequest().headers.authorization, `Bearer ${KEY}`);
    assert.equal(ok.json.choices[0].message.content, 'You said: my own key');

    // The client's wrong key: the upstream's 401 is the client's business.
    const bad = await postChat(gw.url, chatBody('pass/gpt-4o-mini', 'wrong key'), { headers: { authorization: 'Bearer sk-wrong-000000000000' } });
    assert.equal(emu.lastRequest().headers.authorization, 'Bearer sk-wrong-000000000000');
    const e = assertError(bad, 401, 'invalid_request_error', 'invalid_api_key');
    assert.ok(!e.message.includes('sk-wrong-000000000000'), 'the key is masked');

    const f = await postChat(gw.url, chatBody('pass/fault-401', 'x'), { headers: { authorization: `Bearer ${KEY}` } });
    assertError(f, 401, 'invalid_request_error', 'invalid_api_key');
  });

  test('an upstream 401 with the gateway\'s own credential is a 502 upstream_auth_failed', async () => {
    const r = await postChat(gw.url, chatBody('local/fault-401', 'x'), { headers: { 'x-request-id': 'up-401' } });
    assertError(r, 502, 'upstream_error', 'upstream_auth_failed');
    const s = await streamChat(gw.url, chatBody('local/fault-401', 'x', { stream: true }));
    assertError(s, 502, 'upstream_error', 'upstream_auth_failed');
    expectRecord('up-401', { status: 502, error_type: 'upstream_error', provider: 'local', upstream_model: 'fault-401' });
  });

  test('vendor fields are forwarded: accepted by vLLM, refused by a strict upstream', async () => {
    const ok = await postChat(gw.url, chatBody('vllm/llama3', 'sample', { top_k: 40 }));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(vllm.lastRequest().body.top_k, 40);
    assert.equal(vllm.lastRequest().headers.authorization, `Bearer ${VKEY}`);

    const bad = await postChat(gw.url, chatBody('local/llama3', 'sample', { top_k: 40 }), { headers: { 'x-request-id': 'up-topk' } });
    assert.equal(emu.lastRequest().body.top_k, 40, 'the field reached the upstream');
    const e = assertError(bad, 400, 'invalid_request_error', null);
    assert.equal(e.param, 'top_k');
    assert.equal(e.message, 'Unrecognized request argument supplied: top_k');
    expectRecord('up-topk', { status: 400, error_type: 'invalid_request_error', provider: 'local' });
  });

  test('headers: forward_headers copied, configured headers added, the rest kept out', async () => {
    const r = await postChat(gw.url, chatBody('local/gpt-4o-mini', 'headers'), {
      headers: {
        'OpenAI-Organization': 'org-client',
        'X-Secret-Thing': 'nope',
        Cookie: 'session=1',
        'OpenAI-Project': 'proj-client',
      },
    });
    assert.equal(r.status, 200, r.text);
    const h = emu.lastRequest().headers;
    assert.equal(h['openai-organization'], 'org-client');
    assert.equal(h['x-extra'], 'value');
    assert.equal(h['x-secret-thing'], undefined);
    assert.equal(h.cookie, undefined);
    assert.equal(h['openai-project'], undefined);
    assert.match(h['content-type'] || '', /^application\/json/);

    const v = await postChat(gw.url, chatBody('vllm/llama3', 'headers'), { headers: { 'OpenAI-Organization': 'org-client' } });
    assert.equal(v.status, 200);
    const vh = vllm.lastRequest().headers;
    assert.equal(vh['openai-organization'], undefined, 'not forwarded where not configured');
    assert.equal(vh['x-extra'], undefined, 'headers are per provider');
  });

  test('models: fetched from the upstream when not configured', async () => {
    const fetched = vllm.requestsTo('/v1/models');
    assert.ok(fetched.length >= 1, 'the gateway asked the upstream for its models');
    assert.equal(fetched[0].method, 'GET');
    assert.equal(fetched[0].headers.authorization, `Bearer ${VKEY}`);

    const r = await request(`${gw.url}/v1/models`);
    assert.equal(r.status, 200);
    const ids = r.json.data.map((m) => m.id).sort();
    const expected = [
      'echo/echo-1', 'echo/story-1', 'echo/embed-1',
      ...LOCAL_MODELS.map((m) => `local/${m}`),
      'pass/gpt-4o-mini', 'pass/fault-401', 'vllm/llama3', 'auto/llama3', 'auto/qwen2',
      'dead/gpt-4o-mini', 'nousage/gpt-4o-mini',
    ].sort();
    assert.deepEqual(ids, expected);

    const c = await postChat(gw.url, chatBody('auto/qwen2', 'fetched'));
    assert.equal(c.status, 200, c.text);
    assert.equal(vllm.lastRequest().body.model, 'qwen2');
    assert.equal(c.json.choices[0].message.content, 'You said: fetched');
  });

  test('upstream errors before the first byte', async () => {
    // 400: passed through with its param.
    const r400 = await postChat(gw.url, chatBody('local/fault-400', 'x'), { headers: { 'x-request-id': 'up-400' } });
    assertError(r400, 400, 'invalid_request_error', 'invalid_value');
    assert.deepEqual(r400.json, emu.lastResponse().body, 'the upstream error object unchanged');
    assert.equal(errorOf(r400).param, 'messages');
    expectRecord('up-400', { status: 400, error_type: 'invalid_request_error', provider: 'local', upstream_model: 'fault-400' });

    // 404 from the upstream for a model it does not know.
    const r404 = await postChat(gw.url, chatBody('local/ghost-model', 'x'));
    assertError(r404, 404, 'invalid_request_error', 'model_not_found');

    // 429: retry-after and retry-after-ms kept.
    const r429 = await postChat(gw.url, chatBody('local/fault-429', 'x'), { headers: { 'x-request-id': 'up-429' } });
    assertError(r429, 429, 'requests', 'rate_limit_exceeded');
    assert.equal(r429.headers['retry-after'], '7');
    assert.equal(r429.headers['retry-after-ms'], '7000');
    expectRecord('up-429', { status: 429, error_type: 'requests' });

    // 500 -> 502.
    const r500 = await postChat(gw.url, chatBody('local/fault-500', 'x'), { headers: { 'x-request-id': 'up-500' } });
    assertError(r500, 502, 'upstream_error', 'upstream_error');
    expectRecord('up-500', { status: 502, error_type: 'upstream_error', provider: 'local', upstream_model: 'fault-500' });

    // 503 -> 503.
    const r503 = await postChat(gw.url, chatBody('local/fault-503', 'x'));
    assertError(r503, 503, 'upstream_error', 'upstream_unavailable');

    // Connection refused -> 502.
    const dead = await postChat(gw.url, chatBody('dead/gpt-4o-mini', 'x'), { headers: { 'x-request-id': 'up-dead' } });
    assertError(dead, 502, 'upstream_error', 'upstream_connect_failed');
    expectRecord('up-dead', { status: 502, error_type: 'upstream_error', provider: 'dead' });
  });

  test('a 200 from the upstream whose body is not JSON is a 502', async () => {
    const junk = await postChat(gw.url, chatBody('local/malformed-chunk', 'x'));
    assertError(junk, 502, 'upstream_error', 'upstream_bad_response');
  });

  test('upstream errors on a stream request are plain HTTP errors', async () => {
    const s429 = await streamChat(gw.url, chatBody('local/fault-429', 'x', { stream: true }));
    assertError(s429, 429, 'requests', 'rate_limit_exceeded');
    assert.equal(s429.headers['retry-after'], '7');
    assert.equal(s429.headers['retry-after-ms'], '7000');
    const s400 = await streamChat(gw.url, chatBody('local/fault-400', 'x', { stream: true }));
    assertError(s400, 400, 'invalid_request_error', 'invalid_value');
    const s500 = await streamChat(gw.url, chatBody('local/fault-500', 'x', { stream: true }));
    assertError(s500, 502, 'upstream_error', 'upstream_error');
    const s503 = await streamChat(gw.url, chatBody('local/fault-503', 'x', { stream: true }));
    assertError(s503, 503, 'upstream_error', 'upstream_unavailable');
    const dead = await streamChat(gw.url, chatBody('dead/gpt-4o-mini', 'x', { stream: true }));
    assertError(dead, 502, 'upstream_error', 'upstream_connect_failed');
  });

  test('upstream error metrics are counted per provider', async () => {
    const m = await getMetrics(gw.url);
    assert.ok(metricValue(m, 'switchboard_upstream_errors_total', { provider: 'local' }) >= 1);
    assert.ok(metricValue(m, 'switchboard_upstream_errors_total', { provider: 'dead' }) >= 1);
  });

  test('a stalled upstream stream ends with an error event after stream_idle_timeout_s', async () => {
    const cutBefore = emu.stats.streamsCut;
    const r = await streamChat(gw.url, chatBody('local/stall', 'x', { stream: true }),
      { headers: { 'x-request-id': 'up-stall' }, timeoutMs: 20000 });
    const e = assertFailedStream(r, { code: 'upstream_timeout' });
    assert.ok(e);
    assert.equal(r.chunks[0].choices[0].delta.role, 'assistant', 'the chunk sent before the stall arrived');
    const first = r.events[0].t;
    const last = r.events[r.events.length - 1].t;
    assert.ok(last - first >= 800, `the error came after the idle time (${Math.round(last - first)} ms)`);
    assert.ok(last - first < 3000, `the error came soon after the 1 s idle time (${Math.round(last - first)} ms)`);
    await waitFor(() => emu.stats.streamsCut > cutBefore, { timeoutMs: 5000, what: 'the gateway to drop the upstream' });
    expectRecord('up-stall', { stream: 1, status: 200, error_type: 'upstream_error', provider: 'local' });
  });

  test('an upstream reset mid-stream gives an error event and no [DONE]', async () => {
    const r = await streamChat(gw.url, chatBody('local/reset-mid-stream', 'a b c d e', { stream: true }),
      { headers: { 'x-request-id': 'up-reset' } });
    assertFailedStream(r);
    assert.equal(r.contentText, 'You said: a', 'the chunks before the reset arrived');
    expectRecord('up-reset', { stream: 1, status: 200, error_type: 'upstream_error' });
  });

  test('an upstream error event mid-stream gives an error event and no [DONE]', async () => {
    const r = await streamChat(gw.url, chatBody('local/error-mid-stream', 'a b c d e', { stream: true }));
    assertFailedStream(r);
    assert.equal(r.contentText, 'You said: a');
  });

  test('a malformed upstream chunk ends the stream with an error event', async () => {
    const r = await streamChat(gw.url, chatBody('local/malformed-chunk', 'a b c d e', { stream: true }));
    assertFailedStream(r);
    assert.equal(r.contentText, 'You', 'what came before the bad chunk arrived');
  });

  test('SSE framing edge cases from the upstream are parsed correctly', async () => {
    const r = await streamChat(gw.url, chatBody('local/sse-edge', 'edge cases handled here', { stream: true, stream_options: { include_usage: true } }));
    assert.equal(r.status, 200);
    assert.equal(r.errors.length, 0, JSON.stringify(r.errors));
    assert.ok(r.done && r.doneLast);
    assert.equal(r.contentText, 'You said: edge cases handled here');
    assert.deepEqual(r.chunks, upstreamChunks(emu));
  });

  test('a slow upstream stream reaches the client incrementally', async () => {
    let stateAtFirst;
    const r = await streamChat(gw.url, chatBody('local/slow-stream', 'tick', { stream: true }), {
      headers: { 'x-request-id': 'up-slow' },
      onEvent(ev) {
        if (stateAtFirst === undefined && hasContent(ev)) stateAtFirst = emu.lastStream().state;
      },
    });
    assert.equal(r.status, 200);
    assert.ok(r.done && r.doneLast);
    const content = r.events.filter(hasContent);
    assert.equal(content.length, SLOW_CHUNKS, 'one client chunk per upstream chunk');
    assert.equal(stateAtFirst, 'open', 'the first chunk arrived while the upstream was still sending');
    const span = content[content.length - 1].t - content[0].t;
    assert.ok(span >= 1500, `first and last chunk ${Math.round(span)} ms apart`);
    let gaps = 0;
    for (let i = 1; i < content.length; i++) if (content[i].t - content[i - 1].t >= 40) gaps++;
    assert.ok(gaps >= SLOW_CHUNKS / 2, `chunks arrive one by one (${gaps} spaced gaps)`);
    expectRecord('up-slow', { stream: 1, status: 200, error_type: null, completion_tokens: SLOW_CHUNKS, slow: true });
  });

  test('a client leaving mid-stream cancels the upstream stream', async () => {
    const cutBefore = emu.stats.streamsCut;
    let n = 0;
    let leftAt = 0;
    const r = await streamChat(gw.url, chatBody('local/slow-stream', 'bye', { stream: true }), {
      onEvent(ev, ctl) {
        if (hasContent(ev) && ++n === 3) {
          leftAt = Date.now();
          ctl.destroy();
        }
      },
    });
    assert.ok(r.destroyedByClient);
    await waitFor(() => emu.stats.streamsCut > cutBefore, { timeoutMs: 2000, what: 'the upstream stream to be cut' });
    assert.ok(Date.now() - leftAt < 2000);
    assert.equal(emu.lastStream().state, 'cut');
    assert.ok(emu.lastStream().chunks < SLOW_CHUNKS, 'the upstream did not run to the end');
    await waitFor(async () => metricValue(await getMetrics(gw.url), 'switchboard_streams_in_flight') === 0,
      { timeoutMs: 3000, what: 'streams_in_flight back to 0' });
  });

  test('stream_usage false: the upstream is not asked for usage', async () => {
    const r = await streamChat(gw.url, chatBody('nousage/gpt-4o-mini', 'no usage', { stream: true }),
      { headers: { 'x-request-id': 'up-nousage' } });
    assert.equal(r.status, 200);
    assert.ok(r.done);
    const up = emu.lastRequest().body;
    assert.ok(!(up.stream_options && up.stream_options.include_usage), `upstream stream_options: ${JSON.stringify(up.stream_options)}`);
    for (const c of r.chunks) assert.equal('usage' in c, false);
    // No usage from the upstream: estimated, and marked as such.
    expectRecord('up-nousage', { stream: 1, status: 200, usage_estimated: 1 });

    const w = await streamChat(gw.url, chatBody('nousage/gpt-4o-mini', 'usage asked', { stream: true, stream_options: { include_usage: true } }));
    assert.deepEqual(emu.lastRequest().body.stream_options, { include_usage: true }, 'the client\'s own request is kept');
    assert.deepEqual(w.chunks, upstreamChunks(emu));
  });

  test('an upstream closing its idle kept-alive connections costs nothing: no spinning, the next request reconnects', async () => {
    const cpuTicks = () => {
      const f = readFileSync(`/proc/${gw.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return Number(f[11]) + Number(f[12]); // utime + stime
    };
    const ask = (i) => postChat(gw.url, chatBody('local/gpt-4o-mini', `idle ${i}`));
    for (const r of await Promise.all([0, 1, 2, 3].map(ask))) assert.equal(r.status, 200, r.text);
    emu.closeIdle();
    await sleep(100);
    const t0 = cpuTicks();
    await sleep(1000);
    const spent = cpuTicks() - t0;
    assert.ok(spent <= 20, `the gateway idles after the upstream closed (${spent} ticks of CPU in 1 s)`);
    for (const r of await Promise.all([4, 5, 6, 7].map(ask))) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.choices[0].message.role, 'assistant');
    }
  });

  test('request records in SQLite after stop', async () => {
    const r = await request(`${gw.url}/v1/models`, { headers: { 'x-request-id': 'up-models' } });
    assert.equal(r.status, 200);
    expectRecord('up-models', { api: 'models', status: 200 });

    await gw.stop();
    const rows = await queryDb(gw.dbPath, 'SELECT * FROM requests');
    assert.ok(!JSON.stringify(rows).includes(KEY), 'no key in the database');
    const byId = new Map(rows.map((x) => [x.request_id, x]));
    for (const [id, want] of records) {
      const row = byId.get(id);
      assert.ok(row, `a record for ${id}`);
      const { slow, ...cols } = want;
      for (const [k, v] of Object.entries(cols)) assert.equal(row[k], v, `${id}.${k}`);
      assert.ok(Number.isInteger(row.latency_ms) && row.latency_ms >= 0, `${id}.latency_ms`);
      if (row.status === 200) {
        assert.ok(Number.isInteger(row.ttfb_ms) && row.ttfb_ms >= 0, `${id}.ttfb_ms`);
        assert.ok(row.latency_ms >= row.ttfb_ms, `${id}: latency_ms >= ttfb_ms`);
      }
      if (slow) {
        assert.ok(row.latency_ms >= 2500, `${id}: latency covers the whole stream (${row.latency_ms})`);
        assert.ok(row.ttfb_ms <= row.latency_ms - 1500, `${id}: ttfb is the first byte (${row.ttfb_ms} of ${row.latency_ms})`);
      }
    }
  });

  test('records survive a restart', async () => {
    const [{ n }] = await queryDb(gw.dbPath, 'SELECT count(*) AS n FROM requests');
    assert.ok(n >= records.size);
    gw = await startGateway({ dir: gw.dir, dbPath: gw.dbPath, config: gwConfig, env: gwEnv });
    const r = await postChat(gw.url, chatBody('local/gpt-4o-mini', 'after restart'), { headers: { 'x-request-id': 'up-restart' } });
    assert.equal(r.status, 200, r.text);
    await gw.stop();
    const [{ n: n2 }] = await queryDb(gw.dbPath, 'SELECT count(*) AS n FROM requests');
    assert.equal(n2, n + 1);
    const old = await queryDb(gw.dbPath, "SELECT status FROM requests WHERE request_id = 'up-nonstream'");
    assert.deepEqual(old, [{ status: 200 }]);
  });
});

describe('backpressure', () => {
  const SIZE = 64 * 1024 * 1024;
  let emu;
  let gw;

  before(async () => {
    emu = await startOpenAIEmulator({ apiKey: KEY, bigStreamBytes: SIZE, bigChunkBytes: 8192 });
    gw = await startGateway({
      config: { providers: [{ name: 'big', kind: 'openai', base_url: emu.url, api_key_env: 'SB_TEST_BIG_KEY', models: ['big-stream', 'gpt-4o-mini'] }] },
      // Under AddressSanitizer freed memory sits in a quarantine, so RSS
      // would measure the allocator, not our buffering: this one gateway
      // runs without the quarantine (every other test keeps it).
      env: {
        SB_TEST_BIG_KEY: KEY,
        ...(process.env.ASAN_OPTIONS ? { ASAN_OPTIONS: `${process.env.ASAN_OPTIONS}:quarantine_size_mb=0` } : {}),
      },
    });
  });
  after(async () => {
    if (gw) await gw.kill();
    if (emu) await emu.close();
  });

  test('a slow reader slows the upstream down; the gateway does not buffer the stream', async (t) => {
    const warm = await streamChat(gw.url, chatBody('big/gpt-4o-mini', 'warm up', { stream: true }));
    assert.ok(warm.done);
    const rssBefore = rssBytes(gw.pid);
    let rssMax = rssBefore;
    const sampler = setInterval(() => {
      try { rssMax = Math.max(rssMax, rssBytes(gw.pid)); } catch { /* exited */ }
    }, 50);
    let snapshot;
    try {
      const r = await streamChat(gw.url, chatBody('big/big-stream', 'go', { stream: true }), {
        keepRaw: false,
        keepEvents: false,
        timeoutMs: 180000,
        onResponse(res) {
          res.pause();
          snapshot = (async () => {
            await sleep(3000);
            const st = emu.lastStream();
            const snap = { state: st.state, bytes: st.bytes, waits: emu.stats.backpressureWaits, rss: rssBytes(gw.pid) };
            res.resume();
            return snap;
          })();
        },
      });
      const snap = await snapshot;
      t.diagnostic(`while paused: upstream state ${snap.state}, sent ${(snap.bytes / 1048576).toFixed(1)} MiB, ` +
        `drain waits ${snap.waits}, gateway RSS +${((snap.rss - rssBefore) / 1048576).toFixed(1)} MiB`);
      assert.equal(snap.state, 'open', 'the upstream was still sending while the client paused');
      assert.ok(snap.bytes < SIZE * 0.75, `upstream sent ${snap.bytes} of ${SIZE} bytes while the client paused`);
      assert.ok(snap.waits > 0, 'the emulator had to wait for drain');
      const growth = snap.rss - rssBefore;
      assert.ok(growth < SIZE / 4, `gateway RSS grew ${(growth / 1048576).toFixed(1)} MiB while paused`);

      assert.equal(r.status, 200);
      assert.ok(r.done && r.doneLast, 'the stream finished after the client resumed');
      assert.equal(r.errors.length, 0);
      assert.equal(r.contentText.length, SIZE);
      assert.ok(r.contentText === bigStreamContent(SIZE), 'content intact');
      assert.equal(emu.lastStream().state, 'completed');
    } finally {
      clearInterval(sampler);
    }
    const peak = rssMax - rssBefore;
    t.diagnostic(`gateway RSS before ${(rssBefore / 1048576).toFixed(1)} MiB, peak growth ${(peak / 1048576).toFixed(1)} MiB`);
    assert.ok(peak < SIZE / 4, `gateway RSS peak growth ${(peak / 1048576).toFixed(1)} MiB for a ${SIZE / 1048576} MiB stream`);
    await gw.stop();
  });
});

describe('timeouts and limits', () => {
  let emu;
  let gw;

  before(async () => {
    emu = await startOpenAIEmulator({ apiKey: KEY }); // big-stream: 4 MiB
    gw = await startGateway({
      config: {
        limits: { request_timeout_s: 2, max_response_bytes: 1048576 },
        providers: [{ name: 't', kind: 'openai', base_url: emu.url, api_key_env: 'SB_TEST_T_KEY', models: ['stall', 'slow-stream', 'big-stream', 'gpt-4o-mini'] }],
      },
      env: { SB_TEST_T_KEY: KEY },
    });
  });
  after(async () => {
    if (gw) await gw.kill();
    if (emu) await emu.close();
  });

  test('a non-stream request past request_timeout_s answers 504 upstream_timeout', async () => {
    const t0 = Date.now();
    const r = await postChat(gw.url, chatBody('t/stall', 'x'), { timeoutMs: 20000 });
    assertError(r, 504, 'upstream_error', 'upstream_timeout');
    assert.ok(Date.now() - t0 >= 1500, 'not before the timeout');
  });

  test('a stream past request_timeout_s ends with an error event', async () => {
    const r = await streamChat(gw.url, chatBody('t/slow-stream', 'x', { stream: true }), { timeoutMs: 20000 });
    assertFailedStream(r, { code: 'upstream_timeout' });
    assert.ok(r.contentText.length > 0, 'some content came first');
  });

  test('a non-stream upstream body over max_response_bytes answers 502', async () => {
    const r = await postChat(gw.url, chatBody('t/big-stream', 'x'), { timeoutMs: 20000 });
    assert.equal(r.status, 502, r.text.slice(0, 300));
    // reference.md gives no code for this case; any string will do.
    const e = errorOf(r);
    assert.equal(e.type, 'upstream_error');
    assert.equal(typeof e.code, 'string');
  });

  test('max_response_bytes does not limit streams', async () => {
    const r = await streamChat(gw.url, chatBody('t/big-stream', 'x', { stream: true }), { timeoutMs: 20000, keepRaw: false, keepEvents: false });
    assert.equal(r.status, 200);
    assert.ok(r.done, 'the 4 MiB stream completed');
    assert.equal(r.contentText.length, 4 * 1024 * 1024);
    await gw.stop();
  });
});

describe('shutdown', () => {
  let emu;
  before(async () => {
    emu = await startOpenAIEmulator({ apiKey: KEY });
  });
  after(async () => {
    if (emu) await emu.close();
  });

  const config = (grace) => ({
    limits: { shutdown_grace_s: grace },
    providers: [{ name: 's', kind: 'openai', base_url: emu.url, api_key_env: 'SB_TEST_S_KEY', models: ['slow-stream', 'stall'] }],
  });

  test('SIGTERM lets an in-flight stream finish, refuses new connections, exits 0', async (t) => {
    const gw = await startGateway({ config: config(10), env: { SB_TEST_S_KEY: KEY } });
    t.after(() => gw.kill());
    let signalled = false;
    let streamEnded = false;
    let refused;
    const r = await streamChat(gw.url, chatBody('s/slow-stream', 'x', { stream: true }), {
      timeoutMs: 20000,
      onEvent(ev) {
        if (ev.data === '[DONE]') streamEnded = true;
        if (!signalled && hasContent(ev)) {
          signalled = true;
          gw.proc.kill('SIGTERM');
          // Once the gateway has acted on the signal a new connection is
          // refused, while the stream in flight (~3 s) goes on.
          let answered = 'nothing';
          refused = waitFor(() => request(`${gw.url}/healthz`, { timeoutMs: 2000 }).then(
            (res) => { answered = `answered ${res.status}`; return false; },
            () => (streamEnded ? 'refused only once the stream had ended' : 'refused')),
          { timeoutMs: 10000, what: 'new connections to be refused' }).catch(() => `still ${answered}`);
        }
      },
    });
    assert.ok(signalled);
    assert.equal(r.status, 200);
    assert.ok(r.done && r.doneLast, 'the in-flight stream completed');
    assert.equal(r.contentText.split(' ').length, SLOW_CHUNKS);
    assert.equal(await refused, 'refused', 'no new requests after SIGTERM');
    const exit = await within(gw.exited, 15000);
    assert.ok(exit, 'exited');
    assert.equal(exit.code, 0);
  });

  test('after shutdown_grace_s the rest is cancelled and the process exits 0', async (t) => {
    const gw = await startGateway({ config: config(1), env: { SB_TEST_S_KEY: KEY } });
    t.after(() => gw.kill());
    let signalledAt = 0;
    const r = await streamChat(gw.url, chatBody('s/stall', 'x', { stream: true }), {
      timeoutMs: 20000,
      onEvent() {
        if (!signalledAt) {
          signalledAt = Date.now();
          gw.proc.kill('SIGTERM');
        }
      },
    });
    assert.ok(signalledAt);
    assert.equal(r.done, false, 'no [DONE] for a cancelled stream');
    assert.equal(r.timedOut, false, 'the stream was ended by the gateway');
    const exit = await within(gw.exited, 15000);
    assert.ok(exit, 'exited within 15 s');
    assert.equal(exit.code, 0);
    assert.ok(Date.now() - signalledAt >= 800, 'not before the grace period');
  });
});
