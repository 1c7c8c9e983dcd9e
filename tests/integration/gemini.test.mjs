// The gemini provider kind through the real gateway, against the strict
// Gemini emulator (tests/emulators/gemini.mjs), asserting both what the
// client gets and what the upstream received (docs/providers/gemini.md;
// its column of the matrix is tests/matrix/kinds/gemini.mjs).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { startGateway, postChat, streamChat, request, errorOf } from './harness.mjs';
import { startGeminiEmulator, embeddingOf, FAULT_MODELS, SPECIAL_MODELS } from '../emulators/gemini.mjs';

const KEY = `AIza-${randomBytes(12).toString('hex')}`;
const EMBED = ['gemini-embedding-001', 'text-embedding-004'];
const MODELS = ['gemini-2.5-flash', 'gemini-3-pro-preview', 'ghost-model', ...EMBED, ...SPECIAL_MODELS, ...FAULT_MODELS];

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather', description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  },
};
const TIME = {
  type: 'function',
  function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { type: 'string' }, h24: { type: 'boolean' } } } },
};
const DECL_WEATHER = {
  name: 'get_weather', description: 'Weather in a city',
  parametersJsonSchema: WEATHER.function.parameters,
};
const DECL_TIME = { name: 'get_time', parametersJsonSchema: TIME.function.parameters };

function assertError(res, status, type, code) {
  assert.equal(res.status, status, `status (body: ${res.text.slice(0, 400)})`);
  const e = errorOf(res);
  assert.equal(e.type, type);
  assert.equal(e.code, code);
  return e;
}

const choice0 = (r) => r.json.choices[0];
const deltas = (s) => s.chunks.filter((c) => c.choices && c.choices.length).map((c) => c.choices[0]);

/** A stream that failed after it started: one error event last, no [DONE]. */
function assertFailedStream(s, code) {
  assert.equal(s.status, 200);
  assert.equal(s.done, false, 'no [DONE]');
  assert.equal(s.errors.length, 1, `one error event: ${JSON.stringify(s.errors)}`);
  assert.ok(s.lastEvent.json && s.lastEvent.json.error, 'error event is last');
  if (code) assert.equal(s.errors[0].code, code);
  return s.errors[0];
}

describe('gemini provider kind', () => {
  let emu;
  let gw;

  before(async () => {
    emu = await startGeminiEmulator({ apiKey: KEY });
    gw = await startGateway({
      config: {
        workers: 2,
        limits: { stream_idle_timeout_s: 1 },
        providers: [
          { name: 'gm', kind: 'gemini', base_url: emu.url, api_key_env: 'SB_TEST_GEMINI_KEY', models: MODELS },
          { name: 'gmbad', kind: 'gemini', base_url: emu.url, api_key_env: 'SB_TEST_GEMINI_BAD', models: ['gemini-2.5-flash', 'gemini-embedding-001'] },
          { name: 'gmpass', kind: 'gemini', base_url: emu.url, passthrough_auth: true, models: ['gemini-2.5-flash'] },
          { name: 'gmlist', kind: 'gemini', base_url: emu.url, api_key_env: 'SB_TEST_GEMINI_KEY' },
        ],
      },
      env: { SB_TEST_GEMINI_KEY: KEY, SB_TEST_GEMINI_BAD: 'AIza-wrong-key' },
    });
  });

  after(async () => {
    if (gw) await gw.stop();
    if (emu) await emu.close();
  });

  test('text: system hoisted, parameters translated, answer and usage mapped', async () => {
    const r = await postChat(gw.url, {
      model: 'gm/gemini-2.5-flash',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Hello Gemini' },
      ],
      temperature: 0.3, top_p: 0.9, max_tokens: 50, stop: ['zzz'], seed: 7,
      presence_penalty: 0.1, frequency_penalty: 0.2, user: 'u-1',
    });
    assert.equal(r.status, 200, r.text);
    assert.match(r.json.id, /^chatcmpl-/);
    assert.equal(r.json.object, 'chat.completion');
    assert.equal(r.json.model, 'gemini-2.5-flash');
    assert.deepEqual(r.json.choices, [{
      index: 0, logprobs: null, finish_reason: 'stop',
      message: { role: 'assistant', content: 'You said: Hello Gemini', refusal: null },
    }]);
    assert.deepEqual(r.json.usage, {
      prompt_tokens: 5, completion_tokens: 4, total_tokens: 9,
      prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 },
    });
    assert.equal(r.headers['x-switchboard-dropped-params'], 'user');
    const up = emu.lastRequest(':generateContent');
    assert.equal(up.method, 'POST');
    assert.equal(up.path, '/v1beta/models/gemini-2.5-flash:generateContent');
    assert.equal(up.query, '');
    assert.equal(up.headers['x-goog-api-key'], KEY);
    assert.equal(up.headers.authorization, undefined);
    assert.deepEqual(up.body, {
      contents: [{ role: 'user', parts: [{ text: 'Hello Gemini' }] }],
      systemInstruction: { parts: [{ text: 'You are terse.' }] },
      generationConfig: {
        temperature: 0.3, topP: 0.9, maxOutputTokens: 50, stopSequences: ['zzz'], seed: 7,
        presencePenalty: 0.1, frequencyPenalty: 0.2,
      },
    });
  });

  test('streamed text: chunks, finish, [DONE]; no usage unless asked', async () => {
    const s = await streamChat(gw.url, {
      model: 'gm/gemini-2.5-flash', stream: true,
      messages: [{ role: 'user', content: 'one two three four' }],
    });
    assert.equal(s.status, 200);
    assert.match(s.headers['content-type'], /^text\/event-stream/);
    assert.equal(s.doneLast, true);
    assert.equal(s.errors.length, 0);
    const d = deltas(s);
    assert.deepEqual(d[0].delta, { role: 'assistant', content: '' });
    assert.deepEqual(d.slice(1, -1).map((c) => c.delta.content), ['You said:', ' one two', ' three four']);
    assert.deepEqual(d[d.length - 1], { index: 0, delta: {}, logprobs: null, finish_reason: 'stop' });
    assert.ok(s.chunks.every((c) => c.usage === undefined), 'no usage field without include_usage');
    const up = emu.lastRequest('streamGenerateContent');
    assert.equal(up.path, '/v1beta/models/gemini-2.5-flash:streamGenerateContent');
    assert.equal(up.query, '?alt=sse');
    assert.deepEqual(up.body, { contents: [{ role: 'user', parts: [{ text: 'one two three four' }] }] });
  });

  test('usage in stream: include_usage gives the usage chunk from the last usageMetadata', async () => {
    const s = await streamChat(gw.url, {
      model: 'gm/gemini-2.5-flash', stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'count me' }],
    });
    assert.equal(s.doneLast, true);
    const last = s.chunks[s.chunks.length - 1];
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, {
      prompt_tokens: 2, completion_tokens: 4, total_tokens: 6,
      prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 },
    });
    assert.equal(s.contentText, 'You said: count me');
  });

  test('usage in stream: implicit caching (cachedContentTokenCount) becomes cached_tokens', async () => {
    const s = await streamChat(gw.url, {
      model: 'gm/implicit-cache', stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'one two three four five' }],
    });
    assert.equal(s.doneLast, true);
    const up = emu.stats.requests.at(-1);
    assert.equal(up.path, '/v1beta/models/implicit-cache:streamGenerateContent');
    const usage = s.chunks[s.chunks.length - 1].usage;
    assert.equal(usage.prompt_tokens, 5);
    assert.deepEqual(usage.prompt_tokens_details, { cached_tokens: 2 });
  });

  test('tool call: a named function gives one call with a generated id', async () => {
    const r = await postChat(gw.url, {
      model: 'gm/gemini-2.5-flash', tools: [WEATHER, TIME],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      messages: [{ role: 'user', content: 'Paris' }],
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(choice0(r), {
      index: 0, logprobs: null, finish_reason: 'tool_calls',
      message: {
        role: 'assistant', content: null, refusal: null,
        tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
      },
    });
    assert.deepEqual(emu.lastRequest().body, {
      contents: [{ role: 'user', parts: [{ text: 'Paris' }] }],
      tools: [{ functionDeclarations: [DECL_WEATHER, DECL_TIME] }],
      toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } },
    });
  });

  test('parallel tools: tool_choice required calls both functions', async () => {
    const r = await postChat(gw.url, {
      model: 'gm/gemini-2.5-flash', tools: [WEATHER, TIME], tool_choice: 'required',
      messages: [{ role: 'user', content: 'Oslo' }],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(choice0(r).finish_reason, 'tool_calls');
    assert.deepEqual(choice0(r).message.tool_calls, [
      { id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
      { id: 'call_1', type: 'function', function: { name: 'get_time', arguments: '{"tz":"Oslo","h24":true}' } },
    ]);
    assert.deepEqual(emu.lastRequest().body.toolConfig, { functionCallingConfig: { mode: 'ANY' } });
  });

  test('streamed tool call: one delta with id and name, one with the whole arguments', async () => {
    const s = await streamChat(gw.url, {
      model: 'gm/gemini-2.5-flash', stream: true, stream_options: { include_usage: true },
      tools: [WEATHER, TIME], messages: [{ role: 'user', content: 'Rome [tools]' }],
    });
    assert.equal(s.doneLast, true);
    const tc = deltas(s).filter((c) => c.delta.tool_calls).map((c) => c.delta.tool_calls[0]);
    assert.deepEqual(tc, [
      { index: 0, id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '' } },
      { index: 0, function: { arguments: '{"city":"Rome [tools]"}' } },
      { index: 1, id: 'call_1', type: 'function', function: { name: 'get_time', arguments: '' } },
      { index: 1, function: { arguments: '{"tz":"Rome [tools]","h24":true}' } },
    ]);
    const fin = deltas(s).filter((c) => c.finish_reason);
    assert.deepEqual(fin.map((c) => c.finish_reason), ['tool_calls']);
    assert.equal(s.chunks[s.chunks.length - 1].usage.prompt_tokens, 2 + 0);
    assert.equal(emu.lastRequest().body.toolConfig, undefined, 'no tool_choice: no toolConfig');
  });

  test('tool-result round trip (Gemini 3): signature kept in the id and sent back', async () => {
    const tools = [WEATHER];
    const first = await postChat(gw.url, {
      model: 'gm/gemini-3-pro-preview', tools, tool_choice: 'required',
      messages: [{ role: 'user', content: 'Lima' }],
    });
    assert.equal(first.status, 200, first.text);
    const call = choice0(first).message.tool_calls[0];
    const sig = emu.lastRequest() && [...emu.issuedSignatures].pop();
    assert.ok(sig && /[+/=]/.test(sig), 'the emulator issued a signature with +, / or =');
    assert.equal(call.extra_content.google.thought_signature, sig);
    const b64url = sig.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    assert.equal(call.id, `call_0__ts_${b64url}`);
    assert.match(call.id, /^[A-Za-z0-9_-]+$/);
    // The client sends back only the OpenAI fields (no extra_content).
    const second = await postChat(gw.url, {
      model: 'gm/gemini-3-pro-preview', tools,
      messages: [
        { role: 'user', content: 'Lima' },
        { role: 'assistant', content: null, tool_calls: [{ id: call.id, type: 'function', function: call.function }] },
        { role: 'tool', tool_call_id: call.id, content: '21C and sunny' },
      ],
    });
    assert.equal(second.status, 200, second.text);
    assert.equal(choice0(second).message.content, 'Tool results: get_weather={"content":"21C and sunny"}');
    assert.deepEqual(emu.lastRequest().body.contents, [
      { role: 'user', parts: [{ text: 'Lima' }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Lima' } }, thoughtSignature: sig }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { content: '21C and sunny' } } }] },
    ]);
    // Control: without the signature the (emulated) Gemini 3 refuses the turn.
    const bare = await postChat(gw.url, {
      model: 'gm/gemini-3-pro-preview', tools,
      messages: [
        { role: 'user', content: 'Lima' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_0', type: 'function', function: call.function }] },
        { role: 'tool', tool_call_id: 'call_0', content: '{"temp":21}' },
      ],
    });
    const e = assertError(bare, 400, 'invalid_request_error', 'invalid_argument');
    assert.match(e.message, /missing a thought_signature/);
  });

  test('streamed tool-result round trip (Gemini 3): the streamed id carries the signature', async () => {
    const tools = [WEATHER];
    const s = await streamChat(gw.url, {
      model: 'gm/gemini-3-pro-preview', stream: true, tools, tool_choice: 'required',
      messages: [{ role: 'user', content: 'Kyiv' }],
    });
    assert.equal(s.doneLast, true);
    const head = deltas(s).find((c) => c.delta.tool_calls && c.delta.tool_calls[0].id).delta.tool_calls[0];
    const args = deltas(s).filter((c) => c.delta.tool_calls && !c.delta.tool_calls[0].id).map((c) => c.delta.tool_calls[0].function.arguments).join('');
    assert.match(head.id, /^call_0__ts_/);
    const s2 = await streamChat(gw.url, {
      model: 'gm/gemini-3-pro-preview', stream: true, tools,
      messages: [
        { role: 'user', content: 'Kyiv' },
        { role: 'assistant', tool_calls: [{ id: head.id, type: 'function', function: { name: head.function.name, arguments: args } }] },
        { role: 'tool', tool_call_id: head.id, content: '{"temp":3}' },
        { role: 'user', content: 'and tomorrow?' },
      ],
    });
    assert.equal(s2.doneLast, true, s2.raw.slice(0, 400));
    assert.equal(s2.contentText, 'You said: and tomorrow?');
    const contents = emu.lastRequest().body.contents;
    assert.equal(contents.length, 3, 'tool result and user text merged into one user turn');
    assert.equal(contents[1].parts[0].thoughtSignature, [...emu.issuedSignatures].pop());
    assert.deepEqual(contents[2], {
      role: 'user',
      parts: [{ functionResponse: { name: 'get_weather', response: { temp: 3 } } }, { text: 'and tomorrow?' }],
    });
  });

  test('image input: data URL becomes inlineData; an https URL is a 400', async () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    const r = await postChat(gw.url, {
      model: 'gm/gemini-2.5-flash',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] }],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(choice0(r).message.content, 'You said: What is this?');
    assert.deepEqual(emu.lastRequest().body.contents, [
      { role: 'user', parts: [{ text: 'What is this?' }, { inlineData: { mimeType: 'image/png', data: png } }] },
    ]);
    const n = emu.requests.length;
    const bad = await postChat(gw.url, {
      model: 'gm/gemini-2.5-flash',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }],
    });
    const e = assertError(bad, 400, 'invalid_request_error', 'unsupported_value');
    assert.equal(e.param, 'messages[0].content[0].image_url.url');
    assert.equal(emu.requests.length, n, 'nothing sent upstream');
  });

  test('JSON schema output: responseMimeType + responseJsonSchema; json_object', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' }, temp: { type: 'number' } }, required: ['city'], additionalProperties: false };
    const r = await postChat(gw.url, {
      model: 'gm/gemini-2.5-flash',
      response_format: { type: 'json_schema', json_schema: { name: 'weather', strict: true, schema } },
      messages: [{ role: 'user', content: 'Paris' }],
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(choice0(r).message.content), { city: 'You said: Paris', temp: 1 });
    assert.deepEqual(emu.lastRequest().body.generationConfig, { responseMimeType: 'application/json', responseJsonSchema: schema });
    const j = await postChat(gw.url, {
      model: 'gm/gemini-2.5-flash', response_format: { type: 'json_object' },
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.deepEqual(JSON.parse(choice0(j).message.content), { answer: 'You said: hi' });
    assert.deepEqual(emu.lastRequest().body.generationConfig, { responseMimeType: 'application/json' });
  });

  test('reasoning: reasoning_effort sets thinkingBudget; thoughts come back as reasoning_content', async () => {
    const r = await postChat(gw.url, {
      model: 'gm/gemini-2.5-flash', reasoning_effort: 'medium',
      messages: [{ role: 'user', content: 'think' }],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(choice0(r).message.reasoning_content, 'Thinking about: think');
    assert.equal(choice0(r).message.content, 'You said: think');
    assert.equal(r.json.usage.completion_tokens_details.reasoning_tokens, 3);
    assert.equal(r.json.usage.completion_tokens, 3 + 3);
    assert.deepEqual(emu.lastRequest().body.generationConfig, { thinkingConfig: { thinkingBudget: 8192, includeThoughts: true } });
    const s = await streamChat(gw.url, {
      model: 'gm/gemini-2.5-flash', stream: true, reasoning_effort: 'low',
      messages: [{ role: 'user', content: 'think' }],
    });
    const rc = deltas(s).filter((c) => c.delta.reasoning_content).map((c) => c.delta.reasoning_content);
    assert.deepEqual(rc, ['Thinking about: think']);
    assert.equal(s.contentText, 'You said: think');
  });

  test('finish reason stop', async () => {
    const r = await postChat(gw.url, { model: 'gm/finish-other', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(choice0(r).finish_reason, 'stop');
  });

  test('finish reason length: MAX_TOKENS, stream and non-stream', async () => {
    const r = await postChat(gw.url, { model: 'gm/gemini-2.5-flash', max_completion_tokens: 2, messages: [{ role: 'user', content: 'a b c d' }] });
    assert.equal(choice0(r).finish_reason, 'length');
    assert.equal(choice0(r).message.content, 'You said:');
    assert.equal(emu.lastRequest().body.generationConfig.maxOutputTokens, 2);
    const s = await streamChat(gw.url, { model: 'gm/gemini-2.5-flash', stream: true, max_tokens: 3, messages: [{ role: 'user', content: 'a b c d' }] });
    assert.deepEqual(deltas(s).filter((c) => c.finish_reason).map((c) => c.finish_reason), ['length']);
    assert.equal(s.contentText, 'You said: a');
  });

  test('finish reason content_filter: SAFETY, RECITATION, blocked prompt', async () => {
    for (const model of ['finish-safety', 'finish-recitation', 'prompt-blocked']) {
      const r = await postChat(gw.url, { model: `gm/${model}`, messages: [{ role: 'user', content: 'x y' }] });
      assert.equal(r.status, 200, r.text);
      assert.equal(choice0(r).finish_reason, 'content_filter', model);
      const s = await streamChat(gw.url, { model: `gm/${model}`, stream: true, messages: [{ role: 'user', content: 'x y' }] });
      assert.equal(s.doneLast, true, model);
      assert.deepEqual(deltas(s).filter((c) => c.finish_reason).map((c) => c.finish_reason), ['content_filter'], model);
    }
  });

  test('finish reason tool_calls (STOP with functionCall parts)', async () => {
    const r = await postChat(gw.url, { model: 'gm/gemini-2.5-flash', tools: [TIME], messages: [{ role: 'user', content: '[tools]' }] });
    assert.equal(choice0(r).finish_reason, 'tool_calls');
  });

  test('n: candidateCount gives several choices; with stream it is a 400', async () => {
    const r = await postChat(gw.url, { model: 'gm/gemini-2.5-flash', n: 2, messages: [{ role: 'user', content: 'twice' }] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.choices.map((c) => [c.index, c.message.content]), [[0, 'You said: twice'], [1, 'You said: twice']]);
    assert.equal(emu.lastRequest().body.generationConfig.candidateCount, 2);
    const s = await postChat(gw.url, { model: 'gm/gemini-2.5-flash', n: 2, stream: true, messages: [{ role: 'user', content: 'x' }] });
    assert.equal(errorOf(s).param, 'n');
    assertError(s, 400, 'invalid_request_error', 'unsupported_parameter');
  });

  test('unsupported parameters are refused before anything is sent', async () => {
    const n = emu.requests.length;
    const cases = [
      [{ logprobs: true }, 'logprobs'],
      [{ logit_bias: { 1: 2 } }, 'logit_bias'],
      [{ tools: [WEATHER], parallel_tool_calls: false }, 'parallel_tool_calls'],
      [{ reasoning_effort: 'maximal' }, 'reasoning_effort'],
    ];
    for (const [extra, param] of cases) {
      const r = await postChat(gw.url, { model: 'gm/gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }], ...extra });
      assert.equal(r.status, 400, `${param}: ${r.text}`);
      assert.equal(errorOf(r).param, param);
      assert.match(errorOf(r).code, /^unsupported_(parameter|value)$/);
    }
    const bad = await postChat(gw.url, {
      model: 'gm/gemini-2.5-flash',
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{oops' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'r' },
      ],
    });
    assert.equal(errorOf(bad).param, 'messages[1].tool_calls[0].function.arguments');
    assertError(bad, 400, 'invalid_request_error', 'invalid_value');
    assert.equal(emu.requests.length, n);
  });

  test('error: Gemini bad key (400 API_KEY_INVALID) is a 502 upstream_auth_failed', async () => {
    const r = await postChat(gw.url, { model: 'gmbad/gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }] });
    const e = assertError(r, 502, 'upstream_error', 'upstream_auth_failed');
    assert.doesNotMatch(e.message, /AIza/);
    assert.equal(emu.lastRequest().headers['x-goog-api-key'], 'AIza-wrong-key');
    const f = await postChat(gw.url, { model: 'gm/fault-403', messages: [{ role: 'user', content: 'x' }] });
    assertError(f, 502, 'upstream_error', 'upstream_auth_failed');
    // With passthrough_auth the client's own key is at fault: 401.
    const p = await postChat(gw.url, { model: 'gmpass/gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }] }, { headers: { authorization: 'Bearer AIza-client-wrong' } });
    assertError(p, 401, 'invalid_request_error', 'invalid_api_key');
    const ok = await postChat(gw.url, { model: 'gmpass/gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }] }, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(emu.lastRequest().headers['x-goog-api-key'], KEY);
  });

  test('error: 400 INVALID_ARGUMENT keeps status and message', async () => {
    const r = await postChat(gw.url, { model: 'gm/fault-400', messages: [{ role: 'user', content: 'x' }] });
    const e = assertError(r, 400, 'invalid_request_error', 'invalid_argument');
    assert.match(e.message, /emulated upstream rejection/);
  });

  test('error: unknown upstream model is 404 model_not_found', async () => {
    const r = await postChat(gw.url, { model: 'gm/ghost-model', messages: [{ role: 'user', content: 'x' }] });
    assertError(r, 404, 'invalid_request_error', 'model_not_found');
  });

  test('error: 429 RESOURCE_EXHAUSTED with retry-after from RetryInfo', async () => {
    const r = await postChat(gw.url, { model: 'gm/fault-429', messages: [{ role: 'user', content: 'x' }] });
    assertError(r, 429, 'rate_limit_exceeded', 'rate_limit_exceeded');
    assert.equal(r.headers['retry-after'], '7');
  });

  test('error: 5xx classes (500 → 502, 503 → 503, 504 → 504)', async () => {
    assertError(await postChat(gw.url, { model: 'gm/fault-500', messages: [{ role: 'user', content: 'x' }] }), 502, 'upstream_error', 'upstream_error');
    assertError(await postChat(gw.url, { model: 'gm/fault-503', messages: [{ role: 'user', content: 'x' }] }), 503, 'upstream_error', 'upstream_unavailable');
    assertError(await postChat(gw.url, { model: 'gm/fault-504', messages: [{ role: 'user', content: 'x' }] }), 504, 'upstream_error', 'upstream_timeout');
    const s = await streamChat(gw.url, { model: 'gm/fault-503', stream: true, messages: [{ role: 'user', content: 'x' }] });
    assert.equal(s.status, 503, 'an error before the stream is a plain HTTP error');
  });

  test('error mid-stream: an error chunk, a malformed chunk, a reset, a stall', async () => {
    const e = await streamChat(gw.url, { model: 'gm/error-mid-stream', stream: true, messages: [{ role: 'user', content: 'a b c d e f' }] });
    assert.match(assertFailedStream(e, 'unavailable').message, /overloaded/);
    assert.ok(e.contentText.startsWith('You said:'));
    assertFailedStream(await streamChat(gw.url, { model: 'gm/malformed-chunk', stream: true, messages: [{ role: 'user', content: 'a b c' }] }), 'upstream_bad_response');
    assertFailedStream(await streamChat(gw.url, { model: 'gm/reset-mid-stream', stream: true, messages: [{ role: 'user', content: 'a b c d e f' }] }));
    assertFailedStream(await streamChat(gw.url, { model: 'gm/stall', stream: true, messages: [{ role: 'user', content: 'a b' }] }));
  });

  test('models: listed from GET /models, "models/x" served as x', async () => {
    const r = await request(`${gw.url}/v1/models`);
    assert.equal(r.status, 200);
    const ids = r.json.data.map((m) => m.id);
    assert.ok(ids.includes('gmlist/gemini-2.5-flash'), ids.join(','));
    assert.ok(ids.includes('gmlist/gemini-3-pro-preview'));
    const list = emu.requests.find((q) => q.path === '/v1beta/models');
    assert.equal(list.method, 'GET');
    assert.equal(list.query, '?pageSize=1000');
    assert.equal(list.headers['x-goog-api-key'], KEY);
    const c = await postChat(gw.url, { model: 'gmlist/gemini-2.5-flash', messages: [{ role: 'user', content: 'listed' }] });
    assert.equal(choice0(c).message.content, 'You said: listed');
  });

  // ---- embeddings (POST /v1/embeddings → batchEmbedContents) -------------

  const embed = (body, opts = {}) => request(`${gw.url}/v1/embeddings`, { method: 'POST', body, ...opts });
  const f32 = (xs) => Array.from(new Float32Array(xs));
  const fromBase64 = (b64) => {
    const buf = Buffer.from(b64, 'base64');
    return Array.from(new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length)));
  };

  test('embeddings: float vectors, one request per input, usage unknown', async () => {
    const r = await embed({ model: 'gm/gemini-embedding-001', input: 'hello world', user: 'u-9' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'list');
    assert.equal(r.json.model, 'gemini-embedding-001');
    assert.deepEqual(r.json.usage, { prompt_tokens: 0, total_tokens: 0 });
    assert.equal(r.json.data.length, 1);
    assert.deepEqual(Object.keys(r.json.data[0]).sort(), ['embedding', 'index', 'object']);
    assert.equal(r.json.data[0].object, 'embedding');
    assert.equal(r.json.data[0].index, 0);
    assert.equal(r.json.data[0].embedding.length, 3072);
    assert.deepEqual(r.json.data[0].embedding, embeddingOf('hello world', 3072));
    assert.equal(r.headers['x-switchboard-dropped-params'], 'user');
    const up = emu.lastRequest('Embed');
    assert.equal(up.method, 'POST');
    assert.equal(up.path, '/v1beta/models/gemini-embedding-001:batchEmbedContents');
    assert.equal(up.query, '');
    assert.equal(up.headers['x-goog-api-key'], KEY);
    assert.equal(up.headers.authorization, undefined);
    assert.deepEqual(up.body, {
      requests: [{ model: 'models/gemini-embedding-001', content: { parts: [{ text: 'hello world' }] } }],
    });
  });

  test('embeddings: base64 is encoded by the gateway (little-endian float32)', async () => {
    const r = await embed({ model: 'gm/text-embedding-004', input: ['alpha', 'beta'], encoding_format: 'base64' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.length, 2);
    for (const [i, text] of ['alpha', 'beta'].entries()) {
      const d = r.json.data[i];
      assert.equal(d.index, i);
      assert.equal(typeof d.embedding, 'string');
      assert.equal(Buffer.from(d.embedding, 'base64').length, 768 * 4);
      assert.deepEqual(fromBase64(d.embedding), f32(embeddingOf(text, 768)));
    }
    const up = emu.lastRequest('Embed');
    assert.equal(up.body.encoding_format, undefined);
    assert.deepEqual(up.body.requests.map((q) => q.content.parts[0].text), ['alpha', 'beta']);
    assert.equal(up.headers['x-switchboard-dropped-params'], undefined);
    assert.equal(r.headers['x-switchboard-dropped-params'], undefined);
  });

  test('embeddings: a batch keeps its order; 100 inputs pass, 101 are refused', async () => {
    const input = ['first one', 'second', 'third and last'];
    const r = await embed({ model: 'gm/text-embedding-004', input, encoding_format: 'float' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.data.map((d) => d.index), [0, 1, 2]);
    input.forEach((t, i) => assert.deepEqual(r.json.data[i].embedding, embeddingOf(t, 768)));
    assert.deepEqual(emu.lastRequest('Embed').body.requests, input.map((text) => ({
      model: 'models/text-embedding-004', content: { parts: [{ text }] },
    })));
    const many = Array.from({ length: 100 }, (_, i) => `t${i}`);
    const m = await embed({ model: 'gm/text-embedding-004', input: many, dimensions: 4 });
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.data.length, 100);
    assert.deepEqual(m.json.data[99].embedding, embeddingOf('t99', 4));
    const n = emu.requests.length;
    const over = await embed({ model: 'gm/text-embedding-004', input: [...many, 'x'] });
    const e = assertError(over, 400, 'invalid_request_error', 'unsupported_value');
    assert.equal(e.param, 'input');
    assert.equal(emu.requests.length, n, 'nothing sent upstream');
  });

  test('embeddings: dimensions → outputDimensionality; too many is Gemini\'s 400', async () => {
    const r = await embed({ model: 'gm/gemini-embedding-001', input: ['a', 'b'], dimensions: 256 });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.data.map((d) => d.embedding.length), [256, 256]);
    assert.deepEqual(r.json.data[1].embedding, embeddingOf('b', 256));
    assert.deepEqual(emu.lastRequest('Embed').body.requests.map((q) => q.outputDimensionality), [256, 256]);
    const b = await embed({ model: 'gm/gemini-embedding-001', input: 'a', dimensions: 256, encoding_format: 'base64' });
    assert.deepEqual(fromBase64(b.json.data[0].embedding), f32(embeddingOf('a', 256)));
    const big = await embed({ model: 'gm/text-embedding-004', input: 'a', dimensions: 1024 });
    const e = assertError(big, 400, 'invalid_request_error', 'invalid_argument');
    assert.match(e.message, /output_dimensionality must be in the range \[1, 768\]/);
  });

  test('embeddings: errors (token ids, chat model, bad key, 429, 5xx)', async () => {
    const n = emu.requests.length;
    for (const input of [[1, 2, 3], [[1, 2], [3]], ['a', [4, 5]]]) {
      const r = await embed({ model: 'gm/gemini-embedding-001', input });
      const e = assertError(r, 400, 'invalid_request_error', 'unsupported_value');
      assert.equal(e.param, 'input', JSON.stringify(input));
    }
    assert.equal(emu.requests.length, n, 'token ids are not sent upstream');
    // The gateway's own validation still comes first.
    const empty = await embed({ model: 'gm/gemini-embedding-001', input: [] });
    assert.equal(empty.status, 400);
    assert.equal(errorOf(empty).param, 'input');
    // A chat model has no embed methods: Gemini's 404.
    const chat = await embed({ model: 'gm/gemini-2.5-flash', input: 'x' });
    const e404 = assertError(chat, 404, 'invalid_request_error', 'model_not_found');
    assert.match(e404.message, /not supported for batchEmbedContents/);
    assert.equal(emu.lastRequest('Embed').path, '/v1beta/models/gemini-2.5-flash:batchEmbedContents');
    const bad = await embed({ model: 'gmbad/gemini-embedding-001', input: 'x' });
    const ea = assertError(bad, 502, 'upstream_error', 'upstream_auth_failed');
    assert.doesNotMatch(ea.message, /AIza/);
    const q = await embed({ model: 'gm/fault-429', input: 'x' });
    assertError(q, 429, 'rate_limit_exceeded', 'rate_limit_exceeded');
    assert.equal(q.headers['retry-after'], '7');
    assertError(await embed({ model: 'gm/fault-500', input: 'x' }), 502, 'upstream_error', 'upstream_error');
    assertError(await embed({ model: 'gm/fault-503', input: 'x' }), 503, 'upstream_error', 'upstream_unavailable');
    const f400 = await embed({ model: 'gm/fault-400', input: 'x' });
    assert.match(assertError(f400, 400, 'invalid_request_error', 'invalid_argument').message, /emulated upstream rejection/);
  });
});
