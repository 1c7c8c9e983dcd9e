// The cohere kind (providers/cohere.c) through the real binary against the
// strict Cohere v2 emulator (tests/emulators/cohere.mjs): each test asserts
// what the client got and what the emulator received, for the kind's
// translation and its own behaviours (its column of the matrix is
// tests/matrix/kinds/cohere.mjs).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { startGateway, postChat, streamChat, request, chatBody, errorOf } from './harness.mjs';
import { startCohereEmulator, FAULT_MODELS, DEFAULT_MODELS, EMBED_MODELS, embedVector } from '../emulators/cohere.mjs';

const KEY = `co-${randomBytes(12).toString('hex')}`;
const M = 'co/command-a-03-2025';
const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const TOOLS = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
  { type: 'function', function: { name: 'get_time', description: 'Time in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
];
const CO_TOOLS = TOOLS; // Cohere takes OpenAI's tool shape unchanged.

/** The chat.completion the client gets, without the gateway's id and clock. */
function stable(json) {
  assert.match(json.id, /^chatcmpl-/);
  assert.equal(typeof json.created, 'number');
  const { id, created, ...rest } = json;
  return rest;
}

/** The deltas of choice 0, and the finish reason, of a streamed answer. */
function deltas(r) {
  return r.chunks.filter((c) => c.choices.length).map((c) => c.choices[0].delta);
}
function finishOf(r) {
  return r.chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean);
}
/** Tool-call deltas merged per index: [{id, name, arguments}]. */
function streamedCalls(r) {
  const out = [];
  for (const d of deltas(r)) {
    for (const tc of d.tool_calls || []) {
      if (tc.id) out[tc.index] = { id: tc.id, name: tc.function.name, arguments: tc.function.arguments };
      else out[tc.index].arguments += tc.function.arguments;
    }
  }
  return out;
}

function assertError(res, status, type, code) {
  assert.equal(res.status, status, `status (body: ${res.text.slice(0, 300)})`);
  const e = errorOf(res);
  assert.equal(e.type, type);
  assert.equal(e.code, code);
  return e;
}

function postEmbed(base, body, opts = {}) {
  return request(`${base}/v1/embeddings`, { ...opts, method: 'POST', body });
}

/** A base64 embedding (little-endian float32) as numbers. */
function decodeFloats(b64) {
  const buf = Buffer.from(b64, 'base64');
  assert.equal(buf.length % 4, 0);
  return Array.from({ length: buf.length / 4 }, (_, i) => buf.readFloatLE(i * 4));
}

function assertFailedStream(r, code) {
  assert.equal(r.status, 200);
  assert.equal(r.done, false, 'no data: [DONE]');
  assert.equal(r.errors.length, 1, `one error event: ${JSON.stringify(r.errors)}`);
  assert.ok(r.lastEvent.json.error, 'the error event is the last one');
  assert.equal(r.errors[0].type, 'upstream_error');
  assert.equal(r.errors[0].code, code);
  return r.errors[0];
}

describe('cohere upstream', () => {
  let emu;
  let gw;
  const last = () => emu.lastRequest();

  before(async () => {
    emu = await startCohereEmulator({ apiKey: KEY });
    gw = await startGateway({
      config: {
        limits: { stream_idle_timeout_s: 1 },
        providers: [
          // No "models": the list is fetched from GET /v1/models?endpoint=chat.
          { name: 'co', kind: 'cohere', base_url: emu.url, api_key_env: 'SB_CO_KEY' },
          { name: 'cop', kind: 'cohere', base_url: emu.url, passthrough_auth: true,
            models: ['command-a-03-2025'] },
          // Embeddings for queries, cut rather than refused when too long.
          { name: 'coq', kind: 'cohere', base_url: emu.url, api_key_env: 'SB_CO_KEY',
            models: ['embed-english-v3.0'],
            options: { embed_input_type: 'search_query', embed_truncate: 'END' } },
        ],
      },
      env: { SB_CO_KEY: KEY },
    });
  });
  after(async () => {
    if (gw) await gw.stop();
    if (emu) await emu.close();
  });

  test('text', async () => {
    const r = await postChat(gw.url, {
      model: M,
      messages: [{ role: 'developer', content: 'be brief' }, { role: 'user', content: 'hi there' }],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-switchboard-provider'], 'co');
    assert.deepEqual(stable(r.json), {
      object: 'chat.completion',
      model: 'command-a-03-2025',
      choices: [{ index: 0, message: { role: 'assistant', content: 'You said: hi there', refusal: null },
        logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: 70, completion_tokens: 4, total_tokens: 74, prompt_tokens_details: { cached_tokens: 0 } },
    });
    const up = last();
    assert.equal(up.method, 'POST');
    assert.equal(up.path, '/v2/chat');
    assert.equal(up.headers.authorization, `Bearer ${KEY}`);
    assert.equal(up.headers.accept, 'application/json');
    assert.deepEqual(up.body, {
      model: 'command-a-03-2025',
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi there' }],
      stream: false,
    });
  });

  test('stream-text', async () => {
    const r = await streamChat(gw.url, chatBody(M, 'hi there', { stream: true }));
    assert.equal(r.status, 200);
    assert.ok(r.doneLast, 'ends with [DONE]');
    assert.deepEqual(deltas(r), [
      { role: 'assistant', content: '' },
      { content: 'You' }, { content: ' said:' }, { content: ' hi' }, { content: ' there' },
      {},
    ]);
    assert.deepEqual(finishOf(r), ['stop']);
    assert.ok(r.chunks.every((c) => !('usage' in c)), 'no usage unless asked');
    assert.equal(last().body.stream, true);
    assert.equal(last().headers.accept, 'text/event-stream');
  });

  test('tool-call', async () => {
    const r = await postChat(gw.url, chatBody(M, 'Paris', {
      tools: TOOLS, tool_choice: { type: 'function', function: { name: 'get_weather' } },
    }));
    assert.equal(r.status, 200, r.text);
    // A named function is sent as that tool alone + REQUIRED.
    assert.deepEqual(last().body.tools, [CO_TOOLS[0]]);
    assert.equal(last().body.tool_choice, 'REQUIRED');
    const msg = r.json.choices[0].message;
    assert.equal(r.json.choices[0].finish_reason, 'tool_calls');
    assert.equal(msg.content, null);
    assert.equal(msg.reasoning_content, 'I will call get_weather.');
    assert.equal(msg.tool_calls.length, 1);
    assert.match(msg.tool_calls[0].id, /^get_weather_emu/);
    assert.deepEqual(msg.tool_calls[0].function, { name: 'get_weather', arguments: '{"city":"Paris"}' });
    assert.equal(msg.tool_calls[0].type, 'function');
  });

  test('stream-tool-call', async () => {
    const r = await streamChat(gw.url, chatBody(M, 'Paris', {
      stream: true, tools: TOOLS, tool_choice: { type: 'function', function: { name: 'get_time' } },
    }));
    assert.ok(r.doneLast);
    assert.deepEqual(last().body.tools, [CO_TOOLS[1]]);
    const calls = streamedCalls(r);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].name, 'get_time');
    assert.deepEqual(JSON.parse(calls[0].arguments), { city: 'Paris' });
    const argFrags = deltas(r).flatMap((d) => d.tool_calls || []).filter((t) => !t.id);
    assert.equal(argFrags.length, 3, 'the argument fragments pass one by one');
    assert.equal(deltas(r).map((d) => d.reasoning_content || '').join(''), 'I will call get_time.');
    assert.deepEqual(finishOf(r), ['tool_calls']);
  });

  test('tool-result-round-trip', async () => {
    const first = await postChat(gw.url, chatBody(M, 'Paris', { tools: TOOLS, tool_choice: 'required' }));
    const calls = first.json.choices[0].message.tool_calls;
    const messages = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Paris' },
      { role: 'assistant', content: null, tool_calls: calls },
      { role: 'tool', tool_call_id: calls[0].id, content: '18C' },
      { role: 'tool', tool_call_id: calls[1].id, content: [{ type: 'text', text: '12:00' }] },
    ];
    const r = await postChat(gw.url, { model: M, messages, tools: TOOLS });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'Tool results: 18C; 12:00');
    assert.deepEqual(last().body.messages, [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Paris' },
      { role: 'assistant', tool_calls: calls },
      { role: 'tool', tool_call_id: calls[0].id, content: '18C' },
      { role: 'tool', tool_call_id: calls[1].id, content: [{ type: 'text', text: '12:00' }] },
    ]);
    assert.equal(last().body.tool_choice, undefined, 'auto is the default');
  });

  test('parallel-tools', async () => {
    const r = await postChat(gw.url, chatBody(M, 'Paris', { tools: TOOLS, tool_choice: 'required' }));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.choices[0].message.tool_calls.map((t) => t.function.name), ['get_weather', 'get_time']);
    assert.deepEqual(last().body.tools, CO_TOOLS);
    const s = await streamChat(gw.url, chatBody(M, 'Paris', { stream: true, tools: TOOLS, tool_choice: 'required' }));
    const calls = streamedCalls(s);
    assert.deepEqual(calls.map((c) => c.name), ['get_weather', 'get_time']);
    calls.forEach((c) => assert.deepEqual(JSON.parse(c.arguments), { city: 'Paris' }));
  });

  test('image-input', async () => {
    const content = [
      { type: 'text', text: 'what is this' },
      { type: 'image_url', image_url: { url: PNG } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'low' } },
    ];
    const r = await postChat(gw.url, { model: M, messages: [{ role: 'user', content }] });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'You said: what is this');
    assert.deepEqual(last().body.messages, [{ role: 'user', content }]);
  });

  test('json-schema', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' }, temp: { type: 'number' } }, required: ['city'] };
    const r = await postChat(gw.url, chatBody(M, 'Oslo', {
      response_format: { type: 'json_schema', json_schema: { name: 'w', strict: true, schema } },
    }));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(last().body.response_format, { type: 'json_object', json_schema: schema });
    assert.deepEqual(JSON.parse(r.json.choices[0].message.content), { city: 'Oslo', temp: 1 });
    const o = await postChat(gw.url, chatBody(M, 'Oslo', { response_format: { type: 'json_object' } }));
    assert.deepEqual(last().body.response_format, { type: 'json_object' });
    assert.deepEqual(JSON.parse(o.json.choices[0].message.content), { answer: 'You said: Oslo' });
  });

  test('stream-usage', async () => {
    const r = await streamChat(gw.url, chatBody(M, 'count me', { stream: true, stream_options: { include_usage: true } }));
    assert.ok(r.doneLast);
    const end = JSON.parse(emu.lastStream().events.at(-1).data);
    assert.equal(end.type, 'message-end');
    const u = end.delta.usage.tokens;
    const lastChunk = r.chunks.at(-1);
    assert.deepEqual(lastChunk.choices, []);
    assert.deepEqual(lastChunk.usage, {
      prompt_tokens: u.input_tokens, completion_tokens: u.output_tokens,
      total_tokens: u.input_tokens + u.output_tokens, prompt_tokens_details: { cached_tokens: 0 },
    });
    assert.equal(last().body.stream_options, undefined, 'stream_options is not sent to Cohere');
  });

  test('finish-stop', async () => {
    const r = await postChat(gw.url, chatBody(M, 'a b'));
    assert.equal(r.json.choices[0].finish_reason, 'stop');
  });

  test('finish-stop-sequence', async () => {
    const r = await postChat(gw.url, chatBody(M, 'one two END three', { stop: 'END' }));
    assert.equal(last().body.stop_sequences.length, 1);
    assert.equal(r.json.choices[0].finish_reason, 'stop');
    assert.equal(r.json.choices[0].message.content, 'You said: one two ');
  });

  test('finish-length', async () => {
    const r = await postChat(gw.url, chatBody(M, 'a b c d e f', { max_completion_tokens: 2 }));
    assert.equal(last().body.max_tokens, 2);
    assert.equal(r.json.choices[0].finish_reason, 'length');
    assert.equal(r.json.choices[0].message.content, 'You said:');
    const s = await streamChat(gw.url, chatBody(M, 'a b c d e f', { stream: true, max_tokens: 3 }));
    assert.deepEqual(finishOf(s), ['length']);
    assert.equal(s.contentText, 'You said: a');
  });

  test('finish-tool_calls', async () => {
    const r = await postChat(gw.url, chatBody(M, 'please use a tool', { tools: TOOLS }));
    assert.equal(r.json.choices[0].finish_reason, 'tool_calls');
    assert.equal(r.json.choices[0].message.tool_calls.length, 1);
  });

  test('finish-error', async () => {
    const r = await postChat(gw.url, chatBody('co/error-mid-stream', 'x'));
    assertError(r, 502, 'upstream_error', 'upstream_error');
    const s = await streamChat(gw.url, chatBody('co/error-mid-stream', 'x', { stream: true }));
    const e = assertFailedStream(s, 'upstream_error');
    assert.equal(e.message, 'internal server error');
    assert.equal(s.contentText, 'You said: x');
  });

  test('error-400', async () => {
    const r = await postChat(gw.url, chatBody('co/fault-400', 'x'));
    const e = assertError(r, 400, 'invalid_request_error', null);
    assert.equal(e.message, 'invalid request: emulated upstream rejection');
    const c = await postChat(gw.url, chatBody('co/fault-422', 'x'));
    assertError(c, 400, 'invalid_request_error', 'context_length_exceeded');
  });

  test('error-401', async () => {
    for (const m of ['co/fault-401', 'co/fault-498']) {
      const r = await postChat(gw.url, chatBody(m, 'x'));
      const e = assertError(r, 502, 'upstream_error', 'upstream_auth_failed');
      assert.ok(!e.message.includes(KEY));
    }
    // With the client's own credential (passthrough_auth) the client is told.
    const p = await postChat(gw.url, chatBody('cop/command-a-03-2025', 'x'), {
      headers: { authorization: 'Bearer not-the-key' },
    });
    assertError(p, 401, 'invalid_request_error', 'invalid_api_key');
    const ok = await postChat(gw.url, chatBody('cop/command-a-03-2025', 'x'), {
      headers: { authorization: `Bearer ${KEY}` },
    });
    assert.equal(ok.status, 200, ok.text);
  });

  test('error-429', async () => {
    const r = await postChat(gw.url, chatBody('co/fault-429', 'x'));
    const e = assertError(r, 429, 'rate_limit_exceeded', 'rate_limit_exceeded');
    assert.equal(r.headers['retry-after'], '7');
    assert.match(e.message, /Trial key/);
  });

  test('error-5xx', async () => {
    const r = await postChat(gw.url, chatBody('co/fault-500', 'x'));
    assertError(r, 502, 'upstream_error', 'upstream_error');
    const u = await postChat(gw.url, chatBody('co/fault-503', 'x'));
    assertError(u, 503, 'upstream_error', 'upstream_unavailable');
    assert.equal(u.headers['retry-after'], '2');
  });

  describe('embeddings', () => {
    const E = 'co/embed-v4.0';
    const embedCalls = () => emu.requestsTo('/v2/embed').length;

    test('float', async () => {
      const r = await postEmbed(gw.url, { model: E, input: 'hello embedding world' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['x-switchboard-provider'], 'co');
      assert.equal(r.headers['x-switchboard-dropped-params'], undefined);
      assert.deepEqual(r.json, {
        object: 'list',
        data: [{ object: 'embedding', index: 0, embedding: embedVector('hello embedding world', 1536) }],
        model: 'embed-v4.0',
        usage: { prompt_tokens: 3, total_tokens: 3 },
      });
      const up = emu.lastRequest('/v2/embed');
      assert.equal(up.method, 'POST');
      assert.equal(up.headers.authorization, `Bearer ${KEY}`);
      assert.equal(up.headers.accept, 'application/json');
      assert.deepEqual(up.body, {
        model: 'embed-v4.0', texts: ['hello embedding world'], input_type: 'search_document',
        embedding_types: ['float'], truncate: 'NONE',
      });
      assert.equal(up.status, 200);
    });

    test('base64 through the gateway', async () => {
      const input = ['one two', 'three'];
      const r = await postEmbed(gw.url, { model: E, input, encoding_format: 'base64' });
      assert.equal(r.status, 200, r.text);
      // Cohere is asked for floats; the gateway encodes them.
      const up = emu.lastRequest('/v2/embed');
      assert.deepEqual(up.body.embedding_types, ['float']);
      assert.equal(up.body.encoding_format, undefined);
      assert.equal(r.json.data.length, 2);
      r.json.data.forEach((d, i) => {
        assert.equal(d.index, i);
        assert.equal(typeof d.embedding, 'string');
        assert.deepEqual(decodeFloats(d.embedding), embedVector(input[i], 1536));
      });
      // The same bytes as the float answer, encoded.
      const f = await postEmbed(gw.url, { model: E, input, encoding_format: 'float' });
      const bytes = Buffer.alloc(1536 * 4);
      f.json.data[1].embedding.forEach((x, k) => bytes.writeFloatLE(x, k * 4));
      assert.equal(r.json.data[1].embedding, bytes.toString('base64'));
      assert.deepEqual(r.json.usage, { prompt_tokens: 3, total_tokens: 3 });
    });

    test('batch', async () => {
      const input = Array.from({ length: 96 }, (_, i) => `text number ${i}`);
      const r = await postEmbed(gw.url, { model: E, input, user: 'u-7' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['x-switchboard-dropped-params'], 'user');
      assert.deepEqual(emu.lastRequest('/v2/embed').body.texts, input);
      assert.equal(emu.lastRequest('/v2/embed').body.user, undefined);
      assert.deepEqual(r.json.data.map((d) => d.index), input.map((_, i) => i));
      r.json.data.forEach((d, i) => assert.deepEqual(d.embedding, embedVector(input[i], 1536)));
      assert.deepEqual(r.json.usage, { prompt_tokens: 96 * 3, total_tokens: 96 * 3 });
      // Cohere's own limit is 96 texts: its 400 is passed on.
      const over = await postEmbed(gw.url, { model: E, input: [...input, 'one more'] });
      const e = assertError(over, 400, 'invalid_request_error', null);
      assert.match(e.message, /at most 96 texts/);
      assert.equal(emu.lastRequest('/v2/embed').status, 400);
    });

    test('dimensions', async () => {
      const r = await postEmbed(gw.url, { model: E, input: ['a', 'b'], dimensions: 256 });
      assert.equal(r.status, 200, r.text);
      assert.equal(emu.lastRequest('/v2/embed').body.output_dimension, 256);
      r.json.data.forEach((d, i) => assert.deepEqual(d.embedding, embedVector(['a', 'b'][i], 256)));
      // Refused by the gateway, naming the field: nothing goes upstream.
      const before = embedCalls();
      const v3 = await postEmbed(gw.url, { model: 'co/embed-english-v3.0', input: 'a', dimensions: 1024 });
      assert.equal(assertError(v3, 400, 'invalid_request_error', 'unsupported_parameter').param, 'dimensions');
      const odd = await postEmbed(gw.url, { model: E, input: 'a', dimensions: 100 });
      assert.equal(assertError(odd, 400, 'invalid_request_error', 'unsupported_value').param, 'dimensions');
      assert.equal(embedCalls(), before);
      // Without dimensions, a v3 model answers in its own size.
      const plain = await postEmbed(gw.url, { model: 'co/embed-english-light-v3.0', input: 'a' });
      assert.equal(plain.status, 200, plain.text);
      assert.equal(plain.json.data[0].embedding.length, EMBED_MODELS['embed-english-light-v3.0'].dims);
    });

    test('error', async () => {
      const before = embedCalls();
      for (const input of [[1, 2, 3], [[1, 2], [3]], ['a', [4]]]) {
        const r = await postEmbed(gw.url, { model: E, input });
        const e = assertError(r, 400, 'invalid_request_error', 'unsupported_value');
        assert.equal(e.param, 'input');
      }
      assert.equal(embedCalls(), before, 'token ids never reach Cohere');
      const rl = await postEmbed(gw.url, { model: 'co/fault-429', input: 'x' });
      assertError(rl, 429, 'rate_limit_exceeded', 'rate_limit_exceeded');
      assert.equal(rl.headers['retry-after'], '7');
      assert.equal(emu.lastRequest('/v2/embed').body.model, 'fault-429');
      const auth = await postEmbed(gw.url, { model: 'co/fault-401', input: 'x' });
      assert.ok(!assertError(auth, 502, 'upstream_error', 'upstream_auth_failed').message.includes(KEY));
      assertError(await postEmbed(gw.url, { model: 'co/fault-500', input: 'x' }), 502, 'upstream_error', 'upstream_error');
      assertError(await postEmbed(gw.url, { model: 'co/fault-503', input: 'x' }), 503, 'upstream_error', 'upstream_unavailable');
      assertError(await postEmbed(gw.url, { model: 'co/malformed-chunk', input: 'x' }), 502, 'upstream_error', 'upstream_bad_response');
      // Too long for a v3 model: truncate NONE makes Cohere refuse it.
      const long = Array.from({ length: 600 }, (_, i) => `w${i}`).join(' ');
      const tl = await postEmbed(gw.url, { model: 'co/embed-english-v3.0', input: long });
      assertError(tl, 400, 'invalid_request_error', 'context_length_exceeded');
      // A chat model: Cohere's 400.
      const chat = await postEmbed(gw.url, { model: M, input: 'x' });
      assert.match(assertError(chat, 400, 'invalid_request_error', null).message, /does not support the embed endpoint/);
    });

    test('options embed_input_type and embed_truncate', async () => {
      const long = Array.from({ length: 600 }, (_, i) => `w${i}`).join(' ');
      const r = await postEmbed(gw.url, { model: 'coq/embed-english-v3.0', input: ['what is up', long] });
      assert.equal(r.status, 200, r.text);
      const up = emu.lastRequest('/v2/embed');
      assert.equal(up.body.input_type, 'search_query');
      assert.equal(up.body.truncate, 'END');
      assert.equal(r.json.data[0].embedding.length, 1024);
      assert.deepEqual(r.json.usage, { prompt_tokens: 3 + 512, total_tokens: 3 + 512 });
    });
  });

  // ---- beyond the matrix's rows ----------------------------------------

  test('the model list (chat and embed models) comes from GET /v1/models', async () => {
    const req = emu.requestsTo('/v1/models')[0];
    assert.ok(req, 'the gateway asked for the list at start');
    assert.equal(req.query, '?page_size=1000');
    assert.equal(req.headers.authorization, `Bearer ${KEY}`);
    const r = await request(`${gw.url}/v1/models`);
    const ids = r.json.data.map((m) => m.id);
    for (const m of [...DEFAULT_MODELS, ...FAULT_MODELS, ...Object.keys(EMBED_MODELS)]) assert.ok(ids.includes(`co/${m}`), m);
    assert.ok(!ids.includes('co/rerank-v3.5'), 'models that neither chat nor embed are not listed');
    const unknown = await postChat(gw.url, chatBody('co/command-nope', 'x'));
    assert.equal(unknown.status, 404);
  });

  test('sampling parameters and reasoning_effort are translated', async () => {
    const r = await postChat(gw.url, chatBody(M, 'think', {
      temperature: 0.4, top_p: 1, top_k: 40, seed: 11, stop: ['ZZ', 'YY'], max_tokens: 50,
      frequency_penalty: 0.1, presence_penalty: 0.2, reasoning_effort: 'low',
    }));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(last().body, {
      model: 'command-a-03-2025', messages: [{ role: 'user', content: 'think' }],
      temperature: 0.4, p: 0.99, k: 40, seed: 11, stop_sequences: ['ZZ', 'YY'], max_tokens: 50,
      frequency_penalty: 0.1, presence_penalty: 0.2, thinking: { type: 'enabled', token_budget: 2048 },
      stream: false,
    });
    assert.equal(r.json.choices[0].message.reasoning_content, 'Thinking about: think');
    assert.equal(r.json.choices[0].message.content, 'You said: think');
    const s = await streamChat(gw.url, chatBody(M, 'think', { stream: true, reasoning_effort: 'high' }));
    assert.equal(deltas(s).map((d) => d.reasoning_content || '').join(''), 'Thinking about: think');
    assert.equal(s.contentText, 'You said: think');
  });

  test('advisory fields are dropped and reported; unsupported ones refused', async () => {
    const r = await postChat(gw.url, chatBody(M, 'x', { user: 'u-1', metadata: { a: 'b' }, store: false, n: 1 }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-switchboard-dropped-params'], 'user,metadata,store');
    assert.deepEqual(Object.keys(last().body).sort(), ['messages', 'model', 'stream']);
    const refused = [
      [{ n: 2 }, 'n'],
      [{ logprobs: true }, 'logprobs'],
      [{ tools: TOOLS, parallel_tool_calls: false }, 'parallel_tool_calls'],
      [{ functions: [{ name: 'f' }] }, 'functions'],
    ];
    for (const [extra, param] of refused) {
      const e = assertError(await postChat(gw.url, chatBody(M, 'x', extra)), 400, 'invalid_request_error', 'unsupported_parameter');
      assert.equal(e.param, param);
    }
    const file = { model: M, messages: [{ role: 'user', content: [{ type: 'file', file: { file_data: 'data:application/pdf;base64,AA==', filename: 'a.pdf' } }] }] };
    const e = assertError(await postChat(gw.url, file), 400, 'invalid_request_error', 'unsupported_parameter');
    assert.equal(e.param, 'messages[0].content[0]');
  });

  test('mid-stream failures end with one error event', async () => {
    const reset = await streamChat(gw.url, chatBody('co/reset-mid-stream', 'x y', { stream: true }));
    assertFailedStream(reset, 'upstream_error');
    const bad = await streamChat(gw.url, chatBody('co/malformed-chunk', 'x y', { stream: true }));
    assertFailedStream(bad, 'upstream_bad_response');
    const stall = await streamChat(gw.url, chatBody('co/stall', 'x', { stream: true }));
    assertFailedStream(stall, 'upstream_timeout');
    const nb = await postChat(gw.url, chatBody('co/malformed-chunk', 'x'));
    assertError(nb, 502, 'upstream_error', 'upstream_bad_response');
  });

  test('SSE edge cases and a trailing data: [DONE] are read', async () => {
    const r = await streamChat(gw.url, chatBody('co/sse-edge', 'edge case here', { stream: true }));
    assert.ok(r.doneLast);
    assert.equal(r.errors.length, 0);
    assert.equal(r.contentText, 'You said: edge case here');
  });
});

describe('cohere config', () => {
  test('a bad option is refused at start-up, naming it', async () => {
    const co = (options) => ({ providers: [{ name: 'co', kind: 'cohere', base_url: 'http://127.0.0.1:9', models: ['m'], options }] });
    await assert.rejects(
      startGateway({ config: co({ embed_input_typ: 'search_query' }) }),
      (err) => /providers\[0\]\.options\.embed_input_typ: unknown option/.test(String(err.message || err)),
    );
    await assert.rejects(
      startGateway({ config: co({ embed_input_type: 'image' }) }),
      (err) => /providers\[0\]\.options\.embed_input_type: expected one of/.test(String(err.message || err)),
    );
  });
});
