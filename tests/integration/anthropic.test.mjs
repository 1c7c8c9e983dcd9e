// An Anthropic Messages upstream (tests/emulators/anthropic.mjs) behind the
// gateway: OpenAI Chat Completions in, Anthropic out: what is particular
// to the provider, asserting both what the client gets and what the
// upstream received (its column of the matrix is tests/matrix/kinds).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import {
  startGateway, postChat, streamChat, errorOf, chatBody, request, waitFor,
} from './harness.mjs';
import { startAnthropicEmulator } from '../emulators/anthropic.mjs';

const KEY = `sk-ant-${randomBytes(12).toString('hex')}`;
const P = 'claude';
const MODEL = 'claude-sonnet-4-5';
const M = `${P}/${MODEL}`;
const CONFIG_MODELS = [
  MODEL, 'claude-ghost', 'refusal', 'cache-write',
  'fault-400', 'fault-401', 'fault-402', 'fault-403', 'fault-413', 'fault-429',
  'fault-500', 'fault-503', 'fault-529', 'error-mid-stream', 'reset-mid-stream',
  'malformed-chunk', 'stall',
];

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
    function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { type: 'string' } } } },
  },
];
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';


function assertError(res, status, type, code) {
  assert.equal(res.status, status, `status (body: ${res.text.slice(0, 300)})`);
  const e = errorOf(res);
  assert.equal(e.type, type, `type (body: ${res.text.slice(0, 300)})`);
  assert.equal(e.code, code, `code (body: ${res.text.slice(0, 300)})`);
  return e;
}

/** Tool calls of choice 0 reassembled from a stream's chunks. */
function streamedToolCalls(chunks) {
  const calls = [];
  for (const c of chunks) {
    const ch = c.choices && c.choices[0];
    for (const tc of (ch && ch.delta && ch.delta.tool_calls) || []) {
      if (!calls[tc.index]) calls[tc.index] = { id: tc.id, type: tc.type, function: { name: tc.function.name, arguments: '' } };
      if (tc.function && tc.function.arguments) calls[tc.index].function.arguments += tc.function.arguments;
    }
  }
  return calls;
}
const finishOf = (chunks) => chunks.map((c) => c.choices && c.choices[0] && c.choices[0].finish_reason).filter(Boolean);

describe('anthropic upstream', () => {
  let emu;
  let gw;

  before(async () => {
    emu = await startAnthropicEmulator({ apiKey: KEY });
    gw = await startGateway({
      config: {
        workers: 1,
        limits: { stream_idle_timeout_s: 2 },
        providers: [
          {
            name: P, kind: 'anthropic', base_url: emu.url, api_key_env: 'SB_TEST_ANTH_KEY',
            models: CONFIG_MODELS, options: { betas: ['beta-one', 'beta-two'] },
          },
          { name: 'auto', kind: 'anthropic', base_url: emu.url, api_key_env: 'SB_TEST_ANTH_KEY' },
        ],
      },
      env: { SB_TEST_ANTH_KEY: KEY },
    });
  });

  after(async () => {
    if (gw) await gw.kill();
    if (emu) await emu.close();
  });

  test('text: non-stream answer, system hoisting, headers and defaults', async () => {
    const r = await postChat(gw.url, {
      model: M,
      messages: [
        { role: 'system', content: 'Be terse.' },
        { role: 'developer', content: 'Answer in English.' },
        { role: 'user', content: 'Hello Claude' },
      ],
      user: 'user-7', temperature: 0.2, top_k: 3, metadata: { a: 'b' },
    });
    assert.equal(r.status, 200, r.text);
    const j = r.json;
    assert.equal(j.object, 'chat.completion');
    assert.match(j.id, /^chatcmpl-/);
    assert.equal(j.choices.length, 1);
    assert.deepEqual(j.choices[0].message, { role: 'assistant', content: 'You said: Hello Claude', refusal: null });
    assert.equal(j.choices[0].finish_reason, 'stop');
    assert.equal(j.usage.completion_tokens, 4);
    assert.equal(j.usage.total_tokens, j.usage.prompt_tokens + 4);
    assert.equal(r.headers['x-switchboard-dropped-params'], 'metadata');

    const up = emu.lastRequest();
    assert.equal(up.method, 'POST');
    assert.equal(up.headers['x-api-key'], KEY);
    assert.equal(up.headers['anthropic-version'], '2023-06-01');
    assert.equal(up.headers['anthropic-beta'], 'beta-one,beta-two');
    assert.equal(up.headers.authorization, undefined);
    assert.deepEqual(up.body, {
      model: MODEL, max_tokens: 4096,
      system: [{ type: 'text', text: 'Be terse.' }, { type: 'text', text: 'Answer in English.' }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello Claude' }] }],
      temperature: 0.2, top_k: 3, metadata: { user_id: 'user-7' },
    });
  });

  test('streamed text: role, content, finish, usage, [DONE]', async () => {
    const r = await streamChat(gw.url, chatBody(M, 'stream me please', { stream: true }));
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/event-stream/);
    assert.equal(r.errors.length, 0, JSON.stringify(r.errors));
    assert.equal(r.contentText, 'You said: stream me please');
    assert.equal(r.chunks[0].choices[0].delta.role, 'assistant');
    assert.deepEqual(finishOf(r.chunks), ['stop']);
    assert.ok(r.doneLast, 'ends with [DONE]');
    assert.ok(r.chunks.every((c) => !c.usage), 'no usage chunk unless asked');
    const up = emu.lastRequest();
    assert.equal(up.body.stream, true);
    assert.equal(up.body.stream_options, undefined);
    assert.equal(emu.lastStream().state, 'completed');
  });

  test('tool call: tool_choice required → tool_calls', async () => {
    const r = await postChat(gw.url, chatBody(M, 'Weather in Paris', {
      tools: TOOLS, tool_choice: { type: 'function', function: { name: 'get_weather' } },
    }));
    assert.equal(r.status, 200, r.text);
    const c = r.json.choices[0];
    assert.equal(c.finish_reason, 'tool_calls');
    assert.equal(c.message.content, null);
    assert.equal(c.message.tool_calls.length, 1);
    const tc = c.message.tool_calls[0];
    assert.match(tc.id, /^toolu_emu/);
    assert.equal(tc.type, 'function');
    assert.equal(tc.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(tc.function.arguments), { city: 'Weather in Paris' });
    const up = emu.lastRequest().body;
    assert.deepEqual(up.tool_choice, { type: 'tool', name: 'get_weather' });
    assert.deepEqual(up.tools, [
      { name: 'get_weather', description: 'Weather in a city', input_schema: TOOLS[0].function.parameters },
      { name: 'get_time', input_schema: TOOLS[1].function.parameters },
    ]);
  });

  test('streamed tool call: header then argument fragments', async () => {
    const r = await streamChat(gw.url, chatBody(M, 'call get_weather now', { stream: true, tools: TOOLS }));
    assert.equal(r.status, 200);
    assert.equal(r.errors.length, 0, JSON.stringify(r.errors));
    const calls = streamedToolCalls(r.chunks);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].function.name, 'get_weather');
    assert.match(calls[0].id, /^toolu_emu/);
    assert.deepEqual(JSON.parse(calls[0].function.arguments), { city: 'call get_weather now' });
    const argChunks = r.chunks.filter((c) => c.choices[0] && c.choices[0].delta.tool_calls && !c.choices[0].delta.tool_calls[0].id);
    assert.ok(argChunks.length >= 2, 'arguments arrive in fragments');
    assert.deepEqual(finishOf(r.chunks), ['tool_calls']);
    assert.ok(r.doneLast);
    assert.equal(emu.lastRequest().body.tool_choice, undefined);
  });

  test('tool-result round trip: tool messages merged into one user turn', async () => {
    const r = await postChat(gw.url, {
      model: M,
      tools: TOOLS,
      messages: [
        { role: 'user', content: 'Weather and time in Paris?' },
        {
          role: 'assistant', content: 'Let me check.', tool_calls: [
            { id: 'call_w', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_t', type: 'function', function: { name: 'get_time', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_w', content: '18C' },
        { role: 'tool', tool_call_id: 'call_t', content: [{ type: 'text', text: 'noon' }] },
      ],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'Tool results: 18C; noon');
    assert.equal(r.json.choices[0].finish_reason, 'stop');
    assert.deepEqual(emu.lastRequest().body.messages, [
      { role: 'user', content: [{ type: 'text', text: 'Weather and time in Paris?' }] },
      {
        role: 'assistant', content: [
          { type: 'text', text: 'Let me check.' },
          { type: 'tool_use', id: 'call_w', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'call_t', name: 'get_time', input: {} },
        ],
      },
      {
        role: 'user', content: [
          { type: 'tool_result', tool_use_id: 'call_w', content: '18C' },
          { type: 'tool_result', tool_use_id: 'call_t', content: [{ type: 'text', text: 'noon' }] },
        ],
      },
    ]);
    // Arguments that are not a JSON object cannot become Anthropic input.
    const bad = await postChat(gw.url, {
      model: M,
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_time', arguments: '{oops' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'r' },
      ],
    });
    const e = assertError(bad, 400, 'invalid_request_error', 'invalid_value');
    assert.equal(e.param, 'messages[1].tool_calls[0].function.arguments');
  });

  test('parallel tools, and parallel_tool_calls:false', async () => {
    const r = await postChat(gw.url, chatBody(M, 'both please', { tools: TOOLS, tool_choice: 'required' }));
    assert.equal(r.status, 200, r.text);
    const calls = r.json.choices[0].message.tool_calls;
    assert.deepEqual(calls.map((c) => c.function.name), ['get_weather', 'get_time']);
    assert.deepEqual(emu.lastRequest().body.tool_choice, { type: 'any' });

    const s = await streamChat(gw.url, chatBody(M, 'both please', { stream: true, tools: TOOLS, tool_choice: 'required' }));
    const sc = streamedToolCalls(s.chunks);
    assert.deepEqual(sc.map((c) => c.function.name), ['get_weather', 'get_time']);
    assert.deepEqual(JSON.parse(sc[1].function.arguments), { tz: 'both please' });

    const one = await postChat(gw.url, chatBody(M, 'one please', { tools: TOOLS, tool_choice: 'required', parallel_tool_calls: false }));
    assert.equal(one.json.choices[0].message.tool_calls.length, 1);
    assert.deepEqual(emu.lastRequest().body.tool_choice, { type: 'any', disable_parallel_tool_use: true });
  });

  test('image input: data URL → base64 source, https → url source', async () => {
    const r = await postChat(gw.url, {
      model: M,
      messages: [{
        role: 'user', content: [
          { type: 'text', text: 'What is in these?' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}`, detail: 'high' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
        ],
      }],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'You said: What is in these?');
    assert.deepEqual(emu.lastRequest().body.messages[0].content, [
      { type: 'text', text: 'What is in these?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
    const bad = await postChat(gw.url, {
      model: M,
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,Qk0=' } }] }],
    });
    const e = assertError(bad, 400, 'invalid_request_error', 'unsupported_value');
    assert.equal(e.param, 'messages[0].content[0]');
  });

  test('JSON schema output via output_config.format; json_object refused', async () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' }, n: { type: 'integer' } }, required: ['answer', 'n'] };
    const r = await postChat(gw.url, chatBody(M, 'give json', {
      response_format: { type: 'json_schema', json_schema: { name: 'out', strict: true, schema } },
    }));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.json.choices[0].message.content), { answer: 'give json', n: 1 });
    assert.deepEqual(emu.lastRequest().body.output_config, { format: { type: 'json_schema', schema } });
    const bad = await postChat(gw.url, chatBody(M, 'x', { response_format: { type: 'json_object' } }));
    const e = assertError(bad, 400, 'invalid_request_error', 'unsupported_value');
    assert.equal(e.param, 'response_format.type');
  });

  test('usage in stream: include_usage, cached tokens counted in prompt', async () => {
    const body = {
      model: M, stream: true, stream_options: { include_usage: true },
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'long cached preamble of six words', cache_control: { type: 'ephemeral' } }] },
        { role: 'user', content: 'count me' },
      ],
    };
    const r = await streamChat(gw.url, body);
    assert.equal(r.status, 200);
    const last = r.chunks[r.chunks.length - 1];
    assert.deepEqual(last.choices, []);
    const up = emu.lastRequest().body;
    assert.deepEqual(up.system, [{ type: 'text', text: 'long cached preamble of six words', cache_control: { type: 'ephemeral' } }]);
    // The emulator: 6 cached words; "count me" is 2 words + 1 per message.
    assert.equal(last.usage.prompt_tokens, 6 + 3);
    assert.equal(last.usage.prompt_tokens_details.cached_tokens, 6);
    assert.equal(last.usage.completion_tokens, 4);
    assert.equal(last.usage.total_tokens, 13);
    assert.ok(r.doneLast);

    // cache creation counts in the prompt but not as cached.
    const w = await postChat(gw.url, { ...body, model: `${P}/cache-write`, stream: false, stream_options: undefined });
    assert.equal(w.status, 200, w.text);
    assert.equal(w.json.usage.prompt_tokens, 9);
    assert.equal(w.json.usage.prompt_tokens_details.cached_tokens, 0);
  });

  test('finish reasons: stop, stop sequence, length, tool_calls, content_filter', async () => {
    const fin = async (body) => {
      const r = await postChat(gw.url, body);
      assert.equal(r.status, 200, r.text);
      return r.json.choices[0];
    };
    assert.equal((await fin(chatBody(M, 'plain'))).finish_reason, 'stop');
    const seq = await fin(chatBody(M, 'one two STOP three', { stop: 'STOP' }));
    assert.equal(seq.finish_reason, 'stop');
    assert.equal(seq.message.content, 'You said: one two ');
    assert.deepEqual(emu.lastRequest().body.stop_sequences, ['STOP']);
    const len = await fin(chatBody(M, 'a b c d e f', { max_completion_tokens: 3 }));
    assert.equal(len.finish_reason, 'length');
    assert.equal(len.message.content, 'You said: a');
    assert.equal(emu.lastRequest().body.max_tokens, 3);
    assert.equal((await fin(chatBody(M, 'x', { tools: TOOLS, tool_choice: 'required' }))).finish_reason, 'tool_calls');
    const refusal = await fin(chatBody(`${P}/refusal`, 'something bad'));
    assert.equal(refusal.finish_reason, 'content_filter');
    const s = await streamChat(gw.url, chatBody(M, 'a b c d e f', { stream: true, max_tokens: 4 }));
    assert.deepEqual(finishOf(s.chunks), ['length']);
  });

  test('reasoning: reasoning_effort → thinking; reasoning_content out', async () => {
    const r = await postChat(gw.url, chatBody(M, 'think hard', { reasoning_effort: 'low' }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.reasoning_content, 'Thinking about: think hard');
    assert.equal(r.json.choices[0].message.content, 'You said: think hard');
    // output_tokens_details.thinking_tokens → reasoning_tokens.
    assert.equal(r.json.usage.completion_tokens_details.reasoning_tokens, 4);
    const up = emu.lastRequest().body;
    assert.deepEqual(up.thinking, { type: 'enabled', budget_tokens: 1024 });
    assert.equal(up.max_tokens, 4096);

    const s = await streamChat(gw.url, chatBody(M, 'think more', { stream: true, reasoning_effort: 'high', max_tokens: 500, stream_options: { include_usage: true } }));
    assert.equal(s.status, 200);
    assert.equal(s.errors.length, 0, JSON.stringify(s.errors));
    const reasoning = s.chunks.map((c) => (c.choices[0] && c.choices[0].delta.reasoning_content) || '').join('');
    assert.equal(reasoning, 'Thinking about: think more');
    assert.equal(s.contentText, 'You said: think more');
    assert.equal(s.chunks.at(-1).usage.completion_tokens_details.reasoning_tokens, 4, 'from message_delta');
    const up2 = emu.lastRequest().body;
    assert.deepEqual(up2.thinking, { type: 'enabled', budget_tokens: 16384 });
    assert.equal(up2.max_tokens, 16884);
  });

  test('errors: each upstream error class', async () => {
    const call = (model) => postChat(gw.url, chatBody(`${P}/${model}`, 'x'));
    let e = assertError(await call('fault-400'), 400, 'invalid_request_error', null);
    assert.equal(e.message, 'messages.0.content: emulated upstream rejection');
    e = assertError(await call('fault-401'), 502, 'upstream_error', 'upstream_auth_failed');
    assert.ok(!e.message.includes(KEY));
    assertError(await call('fault-403'), 502, 'upstream_error', 'upstream_auth_failed');
    assertError(await call('fault-402'), 429, 'insufficient_quota', 'insufficient_quota');
    assertError(await call('claude-ghost'), 404, 'invalid_request_error', 'model_not_found');
    assertError(await call('fault-413'), 413, 'invalid_request_error', 'request_too_large');
    const rl = await call('fault-429');
    assertError(rl, 429, 'rate_limit_exceeded', 'rate_limit_exceeded');
    assert.equal(rl.headers['retry-after'], '7');
    assertError(await call('fault-500'), 502, 'upstream_error', 'upstream_error');
    assertError(await call('fault-503'), 503, 'upstream_error', 'upstream_unavailable');
    const ov = await call('fault-529');
    assertError(ov, 503, 'upstream_error', 'upstream_unavailable');
    assert.equal(ov.headers['retry-after'], '3');
    // Errors before the stream starts keep their status too.
    const s = await streamChat(gw.url, chatBody(`${P}/fault-529`, 'x', { stream: true }));
    assert.equal(s.status, 503);
  });

  test('mid-stream failures end with one error event and no [DONE]', async () => {
    const check = async (model, code) => {
      const r = await streamChat(gw.url, chatBody(`${P}/${model}`, 'one two three four', { stream: true }));
      assert.equal(r.status, 200);
      assert.equal(r.done, false, `${model}: no [DONE]`);
      assert.equal(r.errors.length, 1, `${model}: ${JSON.stringify(r.errors)}`);
      assert.equal(r.errors[0].type, 'upstream_error');
      assert.equal(r.errors[0].code, code, model);
      assert.ok(r.contentText.startsWith('You said:'), `${model}: content came first`);
    };
    await check('error-mid-stream', 'overloaded_error');
    await check('reset-mid-stream', 'upstream_error');
    await check('malformed-chunk', 'upstream_bad_response');
    const st = await streamChat(gw.url, chatBody(`${P}/stall`, 'x', { stream: true }), { timeoutMs: 15000 });
    assert.equal(st.errors.length, 1, JSON.stringify(st.errors));
    assert.equal(st.errors[0].code, 'upstream_timeout');
  });

  test('parameters Anthropic cannot honour are refused with 400', async () => {
    const cases = [
      [{ n: 2 }, 'n', 'unsupported_parameter'],
      [{ logprobs: true }, 'logprobs', 'unsupported_parameter'],
      [{ logit_bias: { 50256: -100 } }, 'logit_bias', 'unsupported_parameter'],
      [{ seed: 1 }, 'seed', 'unsupported_parameter'],
      [{ presence_penalty: 0.5 }, 'presence_penalty', 'unsupported_parameter'],
      [{ frequency_penalty: 0.5 }, 'frequency_penalty', 'unsupported_parameter'],
      [{ temperature: 1.5 }, 'temperature', 'unsupported_value'],
    ];
    const before = emu.requestsTo().length;
    for (const [extra, param, code] of cases) {
      const r = await postChat(gw.url, chatBody(M, 'x', extra));
      const e = assertError(r, 400, 'invalid_request_error', code);
      assert.equal(e.param, param);
    }
    assert.equal(emu.requestsTo().length, before, 'nothing reached the upstream');
  });

  test('model list: GET /v1/models with the provider headers at start', async () => {
    const req = await waitFor(() => emu.requestsTo('/v1/models')[0], { what: 'the model list request' });
    assert.equal(req.method, 'GET');
    assert.equal(req.headers['x-api-key'], KEY);
    assert.equal(req.headers['anthropic-version'], '2023-06-01');
    assert.equal(req.status, 200);
    const r = await postChat(gw.url, chatBody('auto/claude-haiku-4-5', 'listed'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'You said: listed');
    const nf = await postChat(gw.url, chatBody('auto/not-a-claude', 'x'));
    assert.equal(nf.status, 404, nf.text);
  });
});

// The emulator itself must be as strict as the real API, or the tests above
// prove nothing about what Anthropic would accept.
describe('anthropic emulator strictness', () => {
  let emu;
  const H = { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' };
  const send = (body, headers = H) => request(`${emu.url}/v1/messages`, { body, headers });
  const ok = { model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };
  const rejects = async (res, status, type, pattern) => {
    assert.equal(res.status, status, res.text);
    assert.equal(res.json.type, 'error');
    assert.equal(res.json.error.type, type);
    assert.match(res.json.error.message, pattern);
    assert.match(res.headers['request-id'], /^req_/);
  };

  before(async () => { emu = await startAnthropicEmulator({ apiKey: KEY }); });
  after(async () => { if (emu) await emu.close(); });

  test('headers: x-api-key and anthropic-version are required', async () => {
    assert.equal((await send(ok)).status, 200);
    await rejects(await send(ok, { 'anthropic-version': '2023-06-01' }), 401, 'authentication_error', /x-api-key header is required/);
    await rejects(await send(ok, { ...H, 'x-api-key': 'wrong' }), 401, 'authentication_error', /invalid x-api-key/);
    await rejects(await send(ok, { 'x-api-key': KEY }), 400, 'invalid_request_error', /anthropic-version/);
  });

  test('body: required fields, roles, empty text, extra fields, tool pairing', async () => {
    const { max_tokens: _m, ...noMax } = ok;
    await rejects(await send(noMax), 400, 'invalid_request_error', /^max_tokens: Field required$/);
    await rejects(await send({ ...ok, messages: [{ role: 'system', content: 'x' }] }), 400, 'invalid_request_error', /role: Input should be 'user' or 'assistant'/);
    await rejects(await send({ ...ok, messages: [{ role: 'user', content: [{ type: 'text', text: '' }] }] }), 400, 'invalid_request_error', /text content blocks must be non-empty/);
    await rejects(await send({ ...ok, messages: [{ role: 'user', content: '' }] }), 400, 'invalid_request_error', /non-empty content/);
    await rejects(await send({ ...ok, seed: 1 }), 400, 'invalid_request_error', /^seed: Extra inputs are not permitted$/);
    await rejects(await send({ ...ok, model: 'nope' }), 404, 'not_found_error', /^model: nope$/);
    const use = { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'f', input: {} }] };
    await rejects(await send({ ...ok, messages: [ok.messages[0], use, { role: 'user', content: 'no result' }] }), 400, 'invalid_request_error', /without `tool_result` blocks immediately after: toolu_1/);
    await rejects(await send({ ...ok, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_9', content: 'r' }] }] }), 400, 'invalid_request_error', /unexpected `tool_use_id`/);
    await rejects(await send({ ...ok, max_tokens: 1024, thinking: { type: 'enabled', budget_tokens: 1024 } }), 400, 'invalid_request_error', /max_tokens` must be greater/);
  });

  test('stream: the real event order', async () => {
    const r = await request(`${emu.url}/v1/messages`, { body: { ...ok, stream: true }, headers: H });
    const names = [...r.text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
    assert.deepEqual(names, [
      'message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_delta',
      'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop',
    ]);
  });
});
