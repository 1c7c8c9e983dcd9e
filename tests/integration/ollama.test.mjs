// Ollama's native API (tests/emulators/ollama.mjs) behind the gateway:
// OpenAI Chat Completions in, POST /api/chat out (providers/ollama.h,
// docs/providers/ollama.md). Its column of the translation-fidelity
// matrix is tests/matrix/kinds/ollama.mjs.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import {
  startGateway, postChat, streamChat, request, errorOf, chatBody,
} from './harness.mjs';
import { startOllamaEmulator, MID_STREAM_ERROR, EMBED_TOO_LONG } from '../emulators/ollama.mjs';

const KEY = `ollama-key-${randomBytes(8).toString('hex')}`;
const MODELS = ['llama3.2', 'qwen3:8b', 'llava', 'ghost-model', 'fault-400', 'fault-401',
  'fault-429', 'fault-500', 'fault-503', 'stall', 'reset-mid-stream', 'error-mid-stream',
  'malformed-chunk', 'nomic-embed-text'];

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather', description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const TIME = {
  type: 'function',
  function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { type: 'string' }, h24: { type: 'boolean' } } } },
};
// A 1x1 PNG.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

function assertError(res, status, type, code, param) {
  assert.equal(res.status, status, `status (body: ${res.text.slice(0, 300)})`);
  assert.match(res.headers['content-type'] || '', /^application\/json/);
  const e = errorOf(res);
  assert.equal(e.type, type);
  assert.equal(e.code, code);
  if (param !== undefined) assert.equal(e.param, param);
  return e;
}

/** A stream that failed after it started: one error event last, no [DONE]. */
function assertFailedStream(r, code) {
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/event-stream/);
  assert.equal(r.timedOut, false, 'the stream ended');
  assert.equal(r.done, false, 'no data: [DONE]');
  assert.equal(r.errors.length, 1, `one error event: ${JSON.stringify(r.errors)}`);
  assert.ok(r.lastEvent.json && r.lastEvent.json.error, 'the error event is last');
  assert.equal(r.errors[0].type, 'upstream_error');
  if (code) assert.equal(r.errors[0].code, code);
  return r.errors[0];
}

const deltas = (r) => r.chunks.filter((c) => c.choices && c.choices.length).map((c) => c.choices[0]);

describe('ollama native upstream', () => {
  let emu;
  let authEmu;
  let gw;

  before(async () => {
    emu = await startOllamaEmulator();
    authEmu = await startOllamaEmulator({ apiKey: KEY, models: ['llama3.2'], toolCallIds: true });
    gw = await startGateway({
      config: {
        workers: 2,
        limits: { stream_idle_timeout_s: 1, connect_timeout_ms: 2000 },
        providers: [
          { name: 'ollama', kind: 'ollama', base_url: emu.url, models: MODELS },
          { name: 'keyed', kind: 'ollama', base_url: authEmu.url, api_key_env: 'SB_TEST_OLLAMA_KEY', models: ['llama3.2', 'fault-401'] },
          { name: 'auto', kind: 'ollama', base_url: emu.url },
          { name: 'levels', kind: 'ollama', base_url: emu.url, models: ['gpt-oss:20b'], options: { think_levels: true, keep_alive: '10m', num_ctx: 4096 } },
          { name: 'tiny', kind: 'ollama', base_url: emu.url, models: ['nomic-embed-text'], options: { num_ctx: 4, keep_alive: '1m' } },
        ],
      },
      env: { SB_TEST_OLLAMA_KEY: KEY, LOG_LEVEL: 'debug' },
    });
  });

  after(async () => {
    if (gw) await gw.kill();
    if (emu) await emu.close();
    if (authEmu) await authEmu.close();
  });

  test('text', async () => {
    const r = await postChat(gw.url, {
      model: 'ollama/llama3.2',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello ollama' },
      ],
      temperature: 0.2, top_p: 0.9, seed: 42, max_tokens: 50, stop: ['zzz'], top_k: 20,
    });
    assert.equal(r.status, 200, r.text);
    const j = r.json;
    assert.equal(j.object, 'chat.completion');
    assert.match(j.id, /^chatcmpl-/);
    assert.equal(j.model, 'llama3.2');
    assert.deepEqual(j.choices, [{
      index: 0,
      message: { role: 'assistant', content: 'You said: Hello ollama', refusal: null },
      logprobs: null, finish_reason: 'stop',
    }]);
    assert.deepEqual(j.usage, { prompt_tokens: 6, completion_tokens: 4, total_tokens: 10 });
    const up = emu.lastRequest();
    assert.equal(up.method, 'POST');
    assert.equal(up.headers['content-type'], 'application/json');
    assert.equal(up.headers.authorization, undefined, 'no auth without api_key_env');
    assert.deepEqual(up.body, {
      model: 'llama3.2',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello ollama' }],
      options: { temperature: 0.2, top_p: 0.9, seed: 42, top_k: 20, num_predict: 50, stop: ['zzz'] },
      stream: false,
    });
    assert.deepEqual(emu.stats.unknownFields, []);
    assert.deepEqual(emu.stats.unknownOptions, []);
  });

  test('streamed text', async () => {
    const r = await streamChat(gw.url, chatBody('ollama/llama3.2', 'stream this please', { stream: true }));
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/event-stream/);
    assert.equal(r.done, true);
    assert.equal(r.errors.length, 0);
    assert.equal(r.contentText, 'You said: stream this please');
    const d = deltas(r);
    assert.deepEqual(d[0].delta, { role: 'assistant', content: '' });
    assert.deepEqual(d.slice(1, -1).map((c) => c.delta.content), ['You', ' said:', ' stream', ' this', ' please']);
    assert.equal(d[d.length - 1].finish_reason, 'stop');
    assert.ok(r.chunks.every((c) => !('usage' in c)), 'no usage unless asked');
    const up = emu.lastRequest();
    assert.equal(up.body.stream, true, 'stream sent explicitly');
    assert.match(up.headers.accept, /application\/x-ndjson/);
    assert.equal(emu.lastStream().state, 'completed');
  });

  test('usage in stream', async () => {
    const r = await streamChat(gw.url, chatBody('ollama/llama3.2', 'count me', {
      stream: true, stream_options: { include_usage: true },
    }));
    assert.equal(r.done, true);
    const last = r.chunks[r.chunks.length - 1];
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
    assert.ok(r.chunks.slice(0, -1).every((c) => c.usage === null));
    assert.equal(emu.lastRequest().body.stream_options, undefined);
  });

  test('tool call', async () => {
    const r = await postChat(gw.url, {
      model: 'ollama/llama3.2',
      messages: [{ role: 'user', content: 'please call get_weather' }],
      tools: [WEATHER, TIME], tool_choice: 'auto',
    });
    assert.equal(r.status, 200, r.text);
    const c = r.json.choices[0];
    assert.equal(c.finish_reason, 'tool_calls');
    assert.deepEqual(c.message, {
      role: 'assistant', content: null, refusal: null,
      tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"please call get_weather"}' } }],
    });
    const up = emu.lastRequest().body;
    assert.deepEqual(up.tools, [
      { type: 'function', function: WEATHER.function },
      { type: 'function', function: TIME.function },
    ]);
    assert.equal(up.tool_choice, undefined);
  });

  test('streamed tool call', async () => {
    const r = await streamChat(gw.url, {
      model: 'ollama/llama3.2', stream: true,
      messages: [{ role: 'user', content: 'call get_weather now' }], tools: [WEATHER],
    });
    assert.equal(r.done, true, r.raw.slice(0, 500));
    const d = deltas(r);
    assert.deepEqual(d.map((c) => c.delta), [
      { role: 'assistant', content: '' },
      { tool_calls: [{ index: 0, id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"city":"call get_weather now"}' } }] },
      {},
    ]);
    assert.equal(d[d.length - 1].finish_reason, 'tool_calls');
  });

  test('parallel tools', async () => {
    const r = await streamChat(gw.url, {
      model: 'keyed/llama3.2', stream: true,
      messages: [{ role: 'user', content: 'call get_weather and get_time' }], tools: [WEATHER, TIME],
    });
    assert.equal(r.done, true, r.raw.slice(0, 500));
    const calls = {};
    for (const c of deltas(r)) {
      for (const tc of c.delta.tool_calls || []) {
        calls[tc.index] ??= { id: null, name: null, args: '' };
        if (tc.id) calls[tc.index].id = tc.id;
        if (tc.function.name) calls[tc.index].name = tc.function.name;
        calls[tc.index].args += tc.function.arguments;
      }
    }
    // The keyed emulator sends ids (newer Ollama): they are kept.
    assert.deepEqual(Object.values(calls).map((c) => [c.name, c.args]), [
      ['get_weather', '{"city":"call get_weather and get_time"}'],
      ['get_time', '{"tz":"call get_weather and get_time","h24":true}'],
    ]);
    assert.match(calls[0].id, /^call_\d{4}0emu$/);
    assert.match(calls[1].id, /^call_\d{4}1emu$/);
    assert.equal(deltas(r).at(-1).finish_reason, 'tool_calls');

    const n = await postChat(gw.url, {
      model: 'ollama/llama3.2',
      messages: [{ role: 'user', content: 'call get_weather and get_time' }], tools: [WEATHER, TIME],
    });
    assert.deepEqual(n.json.choices[0].message.tool_calls.map((t) => [t.id, t.function.name]),
      [['call_0', 'get_weather'], ['call_1', 'get_time']]);
  });

  test('tool-result round trip', async () => {
    const r = await postChat(gw.url, {
      model: 'ollama/llama3.2',
      messages: [
        { role: 'user', content: 'call get_weather and get_time' },
        {
          role: 'assistant', content: null, tool_calls: [
            { id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_1', type: 'function', function: { name: 'get_time', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_0', content: 'sunny' },
        { role: 'tool', tool_call_id: 'call_1', content: [{ type: 'text', text: 'noon' }] },
      ],
      tools: [WEATHER, TIME],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'Tool results: get_weather=sunny; get_time=noon');
    assert.equal(r.json.choices[0].finish_reason, 'stop');
    assert.deepEqual(emu.lastRequest().body.messages, [
      { role: 'user', content: 'call get_weather and get_time' },
      {
        role: 'assistant', content: '', tool_calls: [
          { id: 'call_0', function: { index: 0, name: 'get_weather', arguments: { city: 'Paris' } } },
          { id: 'call_1', function: { index: 1, name: 'get_time', arguments: {} } },
        ],
      },
      { role: 'tool', tool_name: 'get_weather', tool_call_id: 'call_0', content: 'sunny' },
      { role: 'tool', tool_name: 'get_time', tool_call_id: 'call_1', content: 'noon' },
    ]);

    const bad = await postChat(gw.url, {
      model: 'ollama/llama3.2',
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'get_weather', arguments: '{"city":' } }] },
        { role: 'tool', tool_call_id: 'c', content: 'r' },
      ],
    });
    assertError(bad, 400, 'invalid_request_error', 'invalid_value', 'messages[1].tool_calls[0].function.arguments');
  });

  test('tool_choice required/named', async () => {
    const before = emu.requestsTo().length;
    const r = await postChat(gw.url, {
      model: 'ollama/llama3.2', messages: [{ role: 'user', content: 'x' }], tools: [WEATHER], tool_choice: 'required',
    });
    assertError(r, 400, 'invalid_request_error', 'unsupported_value', 'tool_choice');
    const n = await postChat(gw.url, {
      model: 'ollama/llama3.2', messages: [{ role: 'user', content: 'x' }], tools: [WEATHER],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    const ne = assertError(n, 400, 'invalid_request_error', 'unsupported_value', 'tool_choice');
    // The text names the field too (an Anthropic Messages error has no param).
    assert.match(ne.message, /forcing tool calls \(tool_choice: only 'auto' and 'none'\)/);
    const p = await postChat(gw.url, {
      model: 'ollama/llama3.2', messages: [{ role: 'user', content: 'x' }], tools: [WEATHER], parallel_tool_calls: false,
    });
    assertError(p, 400, 'invalid_request_error', 'unsupported_value', 'parallel_tool_calls');
    const none = await postChat(gw.url, {
      model: 'ollama/llama3.2', messages: [{ role: 'user', content: 'call get_weather' }], tools: [WEATHER], tool_choice: 'none',
    });
    assert.equal(none.status, 200);
    assert.equal(none.json.choices[0].message.content, 'You said: call get_weather');
    assert.equal(emu.lastRequest().body.tools, undefined, 'none: tools omitted');
    assert.equal(emu.requestsTo().length, before + 1, 'refused requests never reach the upstream');
  });

  test('image input', async () => {
    const r = await postChat(gw.url, {
      model: 'ollama/llava',
      messages: [{
        role: 'user', content: [
          { type: 'text', text: 'What is in this image?' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
        ],
      }],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'You said: What is in this image?');
    assert.deepEqual(emu.lastRequest().body.messages, [{ role: 'user', content: 'What is in this image?', images: [PNG] }]);

    const remote = await postChat(gw.url, {
      model: 'ollama/llava',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }],
    });
    assertError(remote, 400, 'invalid_request_error', 'unsupported_value', 'messages[0].content[0].image_url.url');
  });

  test('JSON schema output', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' }, temp: { type: 'integer' } }, required: ['city', 'temp'] };
    const r = await postChat(gw.url, chatBody('ollama/llama3.2', 'Paris', {
      response_format: { type: 'json_schema', json_schema: { name: 'weather', strict: true, schema } },
    }));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.json.choices[0].message.content), { city: 'Paris', temp: 1 });
    assert.deepEqual(emu.lastRequest().body.format, schema);

    const o = await postChat(gw.url, chatBody('ollama/llama3.2', 'hi', { response_format: { type: 'json_object' } }));
    assert.equal(o.status, 200);
    assert.deepEqual(JSON.parse(o.json.choices[0].message.content), { answer: 'You said: hi' });
    assert.equal(emu.lastRequest().body.format, 'json');
  });

  test('reasoning', async () => {
    const r = await streamChat(gw.url, chatBody('ollama/qwen3:8b', 'why', { stream: true, reasoning_effort: 'high' }));
    assert.equal(r.done, true, r.raw.slice(0, 400));
    const d = deltas(r);
    assert.equal(d.filter((c) => c.delta.reasoning_content).map((c) => c.delta.reasoning_content).join(''), 'Thinking about: why');
    assert.equal(r.contentText, 'You said: why');
    assert.equal(emu.lastRequest().body.think, true);

    const n = await postChat(gw.url, chatBody('ollama/qwen3:8b', 'why', { reasoning_effort: 'low' }));
    assert.equal(n.json.choices[0].message.reasoning_content, 'Thinking about: why');
    assert.equal(n.json.choices[0].message.content, 'You said: why');

    const lv = await postChat(gw.url, chatBody('levels/gpt-oss:20b', 'why', { reasoning_effort: 'medium' }));
    assert.equal(lv.status, 200, lv.text);
    const up = emu.lastRequest().body;
    assert.equal(up.think, 'medium');
    assert.equal(up.keep_alive, '10m');
    assert.deepEqual(up.options, { num_ctx: 4096 });

    const notThinking = await postChat(gw.url, chatBody('ollama/llama3.2', 'why', { reasoning_effort: 'high' }));
    assertError(notThinking, 400, 'invalid_request_error', null);
    assert.equal(errorOf(notThinking).message, '"llama3.2" does not support thinking');
  });

  test('finish reason stop', async () => {
    const r = await postChat(gw.url, chatBody('ollama/llama3.2', 'one two three four', { stop: 'three' }));
    assert.equal(r.json.choices[0].finish_reason, 'stop');
    assert.equal(r.json.choices[0].message.content, 'You said: one two ');
    assert.deepEqual(emu.lastRequest().body.options, { stop: ['three'] });
  });

  test('finish reason length', async () => {
    const r = await postChat(gw.url, chatBody('ollama/llama3.2', 'one two three four', { max_completion_tokens: 3 }));
    assert.equal(r.json.choices[0].finish_reason, 'length');
    assert.equal(r.json.choices[0].message.content, 'You said: one');
    assert.deepEqual(emu.lastRequest().body.options, { num_predict: 3 });
    const s = await streamChat(gw.url, chatBody('ollama/llama3.2', 'one two three four', { stream: true, max_tokens: 2 }));
    assert.equal(s.contentText, 'You said:');
    assert.equal(deltas(s).at(-1).finish_reason, 'length');
  });

  test('finish reason tool_calls', async () => {
    const r = await postChat(gw.url, { model: 'ollama/llama3.2', messages: [{ role: 'user', content: 'get_time?' }], tools: [TIME] });
    assert.equal(r.json.choices[0].finish_reason, 'tool_calls');
  });


  test('dropped params', async () => {
    const r = await postChat(gw.url, chatBody('ollama/llama3.2', 'hi', {
      user: 'u-1', metadata: { a: 'b' }, store: false, service_tier: 'auto',
    }));
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-switchboard-dropped-params'], 'user,metadata,store,service_tier');
    const up = emu.lastRequest().body;
    for (const k of ['user', 'metadata', 'store', 'service_tier']) assert.equal(up[k], undefined);
    const p = await postChat(gw.url, chatBody('ollama/llama3.2', 'hi', { prediction: { type: 'content', content: 'x' } }));
    assertError(p, 400, 'invalid_request_error', 'unsupported_parameter', 'prediction');
    const n = await postChat(gw.url, chatBody('ollama/llama3.2', 'hi', { n: 2 }));
    assertError(n, 400, 'invalid_request_error', 'unsupported_parameter', 'n');
    const lp = await postChat(gw.url, chatBody('ollama/llama3.2', 'hi', { logprobs: true }));
    assertError(lp, 400, 'invalid_request_error', 'unsupported_parameter', 'logprobs');
  });

  test('auth header', async () => {
    const r = await postChat(gw.url, chatBody('keyed/llama3.2', 'secret'));
    assert.equal(r.status, 200, r.text);
    assert.equal(authEmu.lastRequest().headers.authorization, `Bearer ${KEY}`);
    const bad = await postChat(gw.url, chatBody('keyed/fault-401', 'x'));
    const e = assertError(bad, 502, 'upstream_error', 'upstream_auth_failed');
    assert.ok(!e.message.includes(KEY));
  });

  test('model list', async () => {
    const r = await request(`${gw.url}/v1/models`);
    assert.equal(r.status, 200);
    const ids = r.json.data.map((m) => m.id);
    for (const id of ['auto/llama3.2:latest', 'auto/llama3.2', 'auto/qwen3:8b']) assert.ok(ids.includes(id), `${id} in ${ids}`);
    assert.ok(emu.requestsTo('/api/tags').length >= 1);
    const c = await postChat(gw.url, chatBody('auto/llama3.2', 'listed'));
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.choices[0].message.content, 'You said: listed');
  });

  test('error 400', async () => {
    const r = await postChat(gw.url, chatBody('ollama/fault-400', 'x'));
    const e = assertError(r, 400, 'invalid_request_error', null);
    assert.equal(e.message, 'invalid input: emulated rejection');
  });

  test('error 404 model not found', async () => {
    const r = await postChat(gw.url, chatBody('ollama/ghost-model', 'x'));
    const e = assertError(r, 404, 'invalid_request_error', 'model_not_found');
    assert.equal(e.message, 'model "ghost-model" not found, try pulling it first');
  });

  test('error 429', async () => {
    const r = await postChat(gw.url, chatBody('ollama/fault-429', 'x'));
    assertError(r, 429, 'rate_limit_exceeded', 'rate_limit_exceeded');
    assert.equal(r.headers['retry-after'], '7');
  });

  test('error 500', async () => {
    const r = await postChat(gw.url, chatBody('ollama/fault-500', 'x'));
    const e = assertError(r, 502, 'upstream_error', 'upstream_error');
    assert.match(e.message, /llama runner process has terminated/);
  });

  test('error 503', async () => {
    const r = await postChat(gw.url, chatBody('ollama/fault-503', 'x', { stream: true }));
    assertError(r, 503, 'upstream_error', 'upstream_unavailable');
  });

  test('error 401 (gateway credential)', async () => {
    const r = await postChat(gw.url, chatBody('ollama/fault-401', 'x'));
    assertError(r, 502, 'upstream_error', 'upstream_auth_failed');
  });

  test('error mid-stream', async () => {
    const r = await streamChat(gw.url, chatBody('ollama/error-mid-stream', 'a b c d e', { stream: true }));
    const e = assertFailedStream(r, 'upstream_error');
    assert.equal(e.message, MID_STREAM_ERROR);
    assert.equal(r.contentText, 'You said: a');
  });

  test('reset mid-stream', async () => {
    const r = await streamChat(gw.url, chatBody('ollama/reset-mid-stream', 'a b c d e', { stream: true }));
    assertFailedStream(r, 'upstream_error');
    assert.equal(r.contentText, 'You said: a');
  });

  test('malformed line', async () => {
    const r = await streamChat(gw.url, chatBody('ollama/malformed-chunk', 'a b c d e', { stream: true }));
    assertFailedStream(r, 'upstream_bad_response');
  });

  test('stall', async () => {
    const r = await streamChat(gw.url, chatBody('ollama/stall', 'x', { stream: true }), { timeoutMs: 10000 });
    assertFailedStream(r, 'upstream_timeout');
  });

  // ---- embeddings: POST /v1/embeddings → POST /api/embed

  const embed = (body) => request(`${gw.url}/v1/embeddings`, { body });
  const embedUp = () => emu.lastRequest('/api/embed');
  const embedAnswer = () => emu.lastResponse('/api/embed').body;
  const norm = (v) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));

  test('embeddings: float', async () => {
    const r = await embed({ model: 'ollama/nomic-embed-text', input: 'The sky is blue', encoding_format: 'float' });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'], /^application\/json/);
    const up = embedUp();
    assert.equal(up.method, 'POST');
    assert.equal(up.headers['content-type'], 'application/json');
    assert.equal(up.headers.authorization, undefined);
    assert.deepEqual(up.body, { model: 'nomic-embed-text', input: 'The sky is blue', truncate: false });
    const ans = embedAnswer();
    assert.equal(ans.embeddings.length, 1);
    assert.equal(ans.embeddings[0].length, 768);
    assert.deepEqual(r.json, {
      object: 'list',
      data: [{ object: 'embedding', index: 0, embedding: ans.embeddings[0] }],
      model: 'nomic-embed-text',
      usage: { prompt_tokens: 4, total_tokens: 4 },
    });
    assert.equal(ans.prompt_eval_count, 4);
    assert.ok(Math.abs(norm(r.json.data[0].embedding) - 1) < 1e-5);
    assert.equal(r.headers['x-switchboard-dropped-params'], undefined);
    assert.deepEqual(emu.stats.unknownFields, []);
    assert.deepEqual(emu.stats.unknownOptions, []);
  });

  test('embeddings: base64 through the gateway', async () => {
    const r = await embed({ model: 'ollama/nomic-embed-text', input: 'The sky is blue', encoding_format: 'base64', dimensions: 8 });
    assert.equal(r.status, 200, r.text);
    // Ollama gets floats and dimensions; the gateway encodes.
    assert.deepEqual(embedUp().body, { model: 'nomic-embed-text', input: 'The sky is blue', dimensions: 8, truncate: false });
    const want = embedAnswer().embeddings[0];
    assert.equal(want.length, 8);
    const d = r.json.data[0];
    assert.equal(d.object, 'embedding');
    assert.equal(d.index, 0);
    assert.equal(typeof d.embedding, 'string');
    const raw = Buffer.from(d.embedding, 'base64');
    assert.equal(raw.length, 8 * 4);
    const got = Array.from({ length: 8 }, (_, i) => raw.readFloatLE(4 * i));
    assert.deepEqual(got, want.map(Math.fround));
    assert.ok(Math.abs(norm(got) - 1) < 1e-5, 'cut and re-normalised');
    assert.deepEqual(r.json.usage, { prompt_tokens: 4, total_tokens: 4 });
    // The same text without dimensions starts with other values (re-normalised).
    const full = await embed({ model: 'ollama/nomic-embed-text', input: 'The sky is blue' });
    assert.notEqual(full.json.data[0].embedding[0], want[0]);
  });

  test('embeddings: batch', async () => {
    const input = ['alpha beta', 'gamma', 'delta epsilon zeta'];
    const r = await embed({ model: 'ollama/llama3.2', input, user: 'u-7' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(embedUp().body, { model: 'llama3.2', input, truncate: false });
    assert.equal(r.headers['x-switchboard-dropped-params'], 'user');
    const ans = embedAnswer();
    assert.equal(r.json.object, 'list');
    assert.equal(r.json.model, 'llama3.2');
    assert.equal(r.json.data.length, 3);
    r.json.data.forEach((d, i) => {
      assert.deepEqual(d, { object: 'embedding', index: i, embedding: ans.embeddings[i] });
      assert.equal(d.embedding.length, 32);
    });
    assert.notDeepEqual(r.json.data[0].embedding, r.json.data[1].embedding);
    assert.deepEqual(r.json.usage, { prompt_tokens: 6, total_tokens: 6 });
    // One input as an array of one.
    const one = await embed({ model: 'ollama/llama3.2', input: ['gamma'] });
    assert.deepEqual(one.json.data[0].embedding, r.json.data[1].embedding);
  });

  test('embeddings: context length and truncate', async () => {
    // OpenAI refuses an over-long input, so the gateway sends truncate:false.
    const long = 'one two three four five six';
    const r = await embed({ model: 'tiny/nomic-embed-text', input: long });
    const e = assertError(r, 400, 'invalid_request_error', 'context_length_exceeded');
    assert.equal(e.message, EMBED_TOO_LONG);
    assert.deepEqual(embedUp().body, {
      model: 'nomic-embed-text', input: long, truncate: false, options: { num_ctx: 4 }, keep_alive: '1m',
    });
    // The vendor field truncate:true asks Ollama to cut it.
    const t = await embed({ model: 'tiny/nomic-embed-text', input: long, truncate: true, keep_alive: '30s' });
    assert.equal(t.status, 200, t.text);
    assert.deepEqual(embedUp().body, {
      model: 'nomic-embed-text', input: long, truncate: true, options: { num_ctx: 4 }, keep_alive: '30s',
    });
    assert.deepEqual(t.json.usage, { prompt_tokens: 4, total_tokens: 4 });
    assert.equal(t.headers['x-switchboard-dropped-params'], undefined);
  });

  test('embeddings: errors', async () => {
    const before = emu.requestsTo('/api/embed').length;
    for (const input of [[1, 2, 3], [[1, 2], [3]], ['text', [4, 5]]]) {
      const r = await embed({ model: 'ollama/nomic-embed-text', input });
      assertError(r, 400, 'invalid_request_error', 'unsupported_value', 'input');
    }
    const tt = await embed({ model: 'ollama/nomic-embed-text', input: 'x', truncate: 'yes' });
    assertError(tt, 400, 'invalid_request_error', 'invalid_type', 'truncate');
    assert.equal(emu.requestsTo('/api/embed').length, before, 'nothing reached the upstream');

    const nf = await embed({ model: 'ollama/ghost-model', input: 'x' });
    const e = assertError(nf, 404, 'invalid_request_error', 'model_not_found', 'model');
    assert.equal(e.message, 'model "ghost-model" not found, try pulling it first');
    const rl = await embed({ model: 'ollama/fault-429', input: 'x' });
    assertError(rl, 429, 'rate_limit_exceeded', 'rate_limit_exceeded');
    assert.equal(rl.headers['retry-after'], '7');
    const se = await embed({ model: 'ollama/fault-500', input: 'x' });
    assertError(se, 502, 'upstream_error', 'upstream_error');
    const bad = await embed({ model: 'ollama/malformed-chunk', input: 'x' });
    assertError(bad, 502, 'upstream_error', 'upstream_bad_response');
    const au = await embed({ model: 'keyed/fault-401', input: 'x' });
    const ae = assertError(au, 502, 'upstream_error', 'upstream_auth_failed');
    assert.ok(!ae.message.includes(KEY));
    assert.equal(authEmu.lastRequest('/api/embed').headers.authorization, `Bearer ${KEY}`);
    // An embedding-only model cannot chat (Ollama's 400, passed on).
    const ch = await postChat(gw.url, chatBody('ollama/nomic-embed-text', 'hi'));
    const ce = assertError(ch, 400, 'invalid_request_error', null);
    assert.equal(ce.message, '"nomic-embed-text" does not support chat');
  });
});
