// An AWS Bedrock Converse upstream (tests/emulators/bedrock.mjs, which
// verifies SigV4 for real) behind the gateway: OpenAI Chat Completions in,
// Converse / ConverseStream (binary event-stream) out: what is particular
// to the provider, asserting both what the client gets and what the
// upstream received (its column of the matrix is tests/matrix/kinds).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';

import {
  startGateway, postChat, streamChat, errorOf, chatBody, request,
} from './harness.mjs';
import { startBedrockEmulator, decodeFrames, embedVector } from '../emulators/bedrock.mjs';

const AK = `AKIA${randomBytes(8).toString('hex').toUpperCase()}`;
const SK = randomBytes(20).toString('base64');
const ST = `IQoJb3JpZ2luX2Vj${randomBytes(16).toString('base64')}`;
const REGION = 'us-west-2';
const P = 'br';
const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
const M = `${P}/${MODEL}`;
const ENC_PATH = '/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse';
const CONFIG_MODELS = [
  MODEL, 'amazon.nova-pro-v1:0', 'guardrail', 'content-filtered', 'context-window', 'cache-read',
  'split-frames', 'fault-400', 'fault-401', 'fault-403', 'fault-404', 'fault-408', 'fault-424',
  'fault-429', 'fault-500', 'fault-503', 'error-mid-stream', 'reset-mid-stream', 'malformed-chunk',
  'stall', 'not-a-model', 'amazon.titan-embed-text-v2:0', 'amazon.titan-embed-text-v1',
  'cohere.embed-english-v3', 'amazon.titan-embed-text-v2:0:fault-400', 'amazon.titan-embed-text-v2:0:fault-429',
  'amazon.titan-embed-text-v2:0:fault-500', 'cohere.embed-english-v3:fault-503', 'cohere.embed-english-v3:malformed-chunk',
];
const TITAN = 'amazon.titan-embed-text-v2:0';
const COHERE = 'cohere.embed-english-v3';

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
const SPECS = [
  { toolSpec: { name: 'get_weather', description: 'Weather in a city', inputSchema: { json: TOOLS[0].function.parameters } } },
  { toolSpec: { name: 'get_time', inputSchema: { json: TOOLS[1].function.parameters } } },
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

describe('bedrock upstream', () => {
  let emu;
  let gw;

  before(async () => {
    emu = await startBedrockEmulator({
      accessKey: AK, secretKey: SK, sessionToken: ST, region: REGION,
      models: [MODEL, 'amazon.nova-pro-v1:0'],
    });
    const options = {
      region: REGION, access_key_env: 'SB_TEST_AWS_AK', secret_key_env: 'SB_TEST_AWS_SK',
      session_token_env: 'SB_TEST_AWS_ST',
    };
    gw = await startGateway({
      config: {
        workers: 1,
        limits: { stream_idle_timeout_s: 2 },
        providers: [
          { name: P, kind: 'bedrock', base_url: emu.url, models: CONFIG_MODELS, options },
          // Same endpoint, wrong secret: the emulator's signature check fails.
          {
            name: 'badsig', kind: 'bedrock', base_url: emu.url, models: [MODEL, TITAN],
            options: { ...options, secret_key_env: 'SB_TEST_AWS_SK_WRONG' },
          },
        ],
      },
      env: {
        SB_TEST_AWS_AK: AK, SB_TEST_AWS_SK: SK, SB_TEST_AWS_ST: ST,
        SB_TEST_AWS_SK_WRONG: `${SK}x`,
      },
    });
  });

  after(async () => {
    if (gw) await gw.kill();
    if (emu) await emu.close();
  });

  test('text: non-stream answer, system hoisting, SigV4 headers, encoded model id', async () => {
    const r = await postChat(gw.url, {
      model: M,
      messages: [
        { role: 'system', content: 'Be terse.' },
        { role: 'developer', content: 'Answer in English.' },
        { role: 'user', content: 'Hello Bedrock' },
      ],
      user: 'user-7', temperature: 0.2, top_p: 0.5, top_k: 3, max_tokens: 50,
    });
    assert.equal(r.status, 200, r.text);
    const j = r.json;
    assert.equal(j.object, 'chat.completion');
    assert.match(j.id, /^chatcmpl-/);
    assert.equal(j.choices.length, 1);
    assert.deepEqual(j.choices[0].message, { role: 'assistant', content: 'You said: Hello Bedrock', refusal: null });
    assert.equal(j.choices[0].finish_reason, 'stop');
    // The emulator: a token is a word (7 system/user words in, 4 out).
    assert.deepEqual(j.usage, {
      prompt_tokens: 7, completion_tokens: 4, total_tokens: 11, prompt_tokens_details: { cached_tokens: 0 },
    });
    assert.equal(r.headers['x-switchboard-dropped-params'], 'user');

    const up = emu.lastRequest();
    assert.equal(up.method, 'POST');
    assert.equal(up.rawPath, ENC_PATH);
    assert.equal(up.modelId, MODEL);
    assert.equal(up.status, 200, 'the emulator accepted the signature');
    assert.match(up.headers.authorization, new RegExp(`^AWS4-HMAC-SHA256 Credential=${AK}/\\d{8}/${REGION}/bedrock/aws4_request, SignedHeaders=accept;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$`));
    assert.match(up.headers['x-amz-date'], /^\d{8}T\d{6}Z$/);
    assert.equal(up.headers['x-amz-security-token'], ST);
    assert.equal(up.headers['x-amz-content-sha256'], createHash('sha256').update(up.rawBody).digest('hex'));
    assert.equal(up.headers['content-type'], 'application/json');
    assert.ok(!JSON.stringify(up.headers).includes(SK), 'the secret never travels');
    assert.deepEqual(up.body, {
      messages: [{ role: 'user', content: [{ text: 'Hello Bedrock' }] }],
      system: [{ text: 'Be terse.' }, { text: 'Answer in English.' }],
      inferenceConfig: { maxTokens: 50, temperature: 0.2, topP: 0.5 },
      additionalModelRequestFields: { top_k: 3 },
    });
  });

  test('streamed text: event-stream frames → role, content, finish, [DONE]', async () => {
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
    assert.equal(up.rawPath, ENC_PATH.replace(/converse$/, 'converse-stream'));
    assert.equal(up.headers.accept, 'application/vnd.amazon.eventstream');
    assert.equal(up.body.stream, undefined, 'stream is in the path, not the body');
    assert.equal(emu.lastStream().state, 'completed');
    assert.deepEqual(emu.lastStream().events.map((e) => e.event), [
      'messageStart', 'contentBlockDelta', 'contentBlockDelta', 'contentBlockDelta', 'contentBlockDelta',
      'contentBlockDelta', 'contentBlockStop', 'messageStop', 'metadata',
    ]);
    // Frames split 5 bytes per write reassemble the same.
    const s = await streamChat(gw.url, chatBody(`${P}/split-frames`, 'tiny writes', { stream: true }));
    assert.equal(s.errors.length, 0, JSON.stringify(s.errors));
    assert.equal(s.contentText, 'You said: tiny writes');
    assert.ok(s.doneLast);
  });

  test('tool call: named tool_choice → toolChoice.tool; tool_calls out', async () => {
    const r = await postChat(gw.url, chatBody(M, 'Weather in Paris', {
      tools: TOOLS, tool_choice: { type: 'function', function: { name: 'get_weather' } },
    }));
    assert.equal(r.status, 200, r.text);
    const c = r.json.choices[0];
    assert.equal(c.finish_reason, 'tool_calls');
    assert.equal(c.message.content, null);
    assert.equal(c.message.tool_calls.length, 1);
    const tc = c.message.tool_calls[0];
    assert.match(tc.id, /^tooluse_/);
    assert.equal(tc.type, 'function');
    assert.equal(tc.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(tc.function.arguments), { city: 'Weather in Paris' });
    assert.deepEqual(emu.lastRequest().body.toolConfig, { tools: SPECS, toolChoice: { tool: { name: 'get_weather' } } });
  });

  test('streamed tool call: contentBlockStart then input fragments', async () => {
    const r = await streamChat(gw.url, chatBody(M, 'call get_weather now', { stream: true, tools: TOOLS, tool_choice: 'auto' }));
    assert.equal(r.status, 200);
    assert.equal(r.errors.length, 0, JSON.stringify(r.errors));
    const calls = streamedToolCalls(r.chunks);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].function.name, 'get_weather');
    assert.match(calls[0].id, /^tooluse_/);
    assert.deepEqual(JSON.parse(calls[0].function.arguments), { city: 'call get_weather now' });
    const argChunks = r.chunks.filter((c) => c.choices[0] && c.choices[0].delta.tool_calls && !c.choices[0].delta.tool_calls[0].id);
    assert.ok(argChunks.length >= 2, 'arguments arrive in fragments');
    assert.deepEqual(finishOf(r.chunks), ['tool_calls']);
    assert.ok(r.doneLast);
    assert.deepEqual(emu.lastRequest().body.toolConfig, { tools: SPECS, toolChoice: { auto: {} } });
  });

  test('tool-result round trip: toolUse in, tool results merged into one user turn', async () => {
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
      { role: 'user', content: [{ text: 'Weather and time in Paris?' }] },
      {
        role: 'assistant', content: [
          { text: 'Let me check.' },
          { toolUse: { toolUseId: 'call_w', name: 'get_weather', input: { city: 'Paris' } } },
          { toolUse: { toolUseId: 'call_t', name: 'get_time', input: {} } },
        ],
      },
      {
        role: 'user', content: [
          { toolResult: { toolUseId: 'call_w', content: [{ text: '18C' }] } },
          { toolResult: { toolUseId: 'call_t', content: [{ text: 'noon' }] } },
        ],
      },
    ]);
    // Arguments that are not a JSON object cannot become Converse input.
    const bad = await postChat(gw.url, {
      model: M,
      tools: TOOLS,
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_time', arguments: '{oops' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'r' },
      ],
    });
    const e = assertError(bad, 400, 'invalid_request_error', 'invalid_value');
    assert.equal(e.param, 'messages[1].tool_calls[0].function.arguments');
  });

  test('parallel tools: toolChoice any gives two calls; parallel_tool_calls:false refused', async () => {
    const r = await postChat(gw.url, chatBody(M, 'both please', { tools: TOOLS, tool_choice: 'required' }));
    assert.equal(r.status, 200, r.text);
    const calls = r.json.choices[0].message.tool_calls;
    assert.deepEqual(calls.map((c) => c.function.name), ['get_weather', 'get_time']);
    assert.notEqual(calls[0].id, calls[1].id);
    assert.deepEqual(emu.lastRequest().body.toolConfig.toolChoice, { any: {} });

    const s = await streamChat(gw.url, chatBody(M, 'both please', { stream: true, tools: TOOLS, tool_choice: 'required' }));
    assert.equal(s.errors.length, 0, JSON.stringify(s.errors));
    const sc = streamedToolCalls(s.chunks);
    assert.deepEqual(sc.map((c) => c.function.name), ['get_weather', 'get_time']);
    assert.deepEqual(JSON.parse(sc[0].function.arguments), { city: 'both please' });
    assert.deepEqual(JSON.parse(sc[1].function.arguments), { tz: 'both please' });

    const before = emu.converseRequests().length;
    const one = await postChat(gw.url, chatBody(M, 'one please', { tools: TOOLS, tool_choice: 'required', parallel_tool_calls: false }));
    const e = assertError(one, 400, 'invalid_request_error', 'unsupported_parameter');
    assert.equal(e.param, 'parallel_tool_calls');
    assert.equal(emu.converseRequests().length, before, 'nothing reached the upstream');
  });

  test('image input: data URL → image bytes; http URLs refused', async () => {
    const r = await postChat(gw.url, {
      model: M,
      messages: [{
        role: 'user', content: [
          { type: 'text', text: 'What is in this?' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}`, detail: 'high' } },
        ],
      }],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'You said: What is in this?');
    assert.deepEqual(emu.lastRequest().body.messages[0].content, [
      { text: 'What is in this?' },
      { image: { format: 'png', source: { bytes: PNG } } },
    ]);
    const url = await postChat(gw.url, {
      model: M,
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } }] }],
    });
    let e = assertError(url, 400, 'invalid_request_error', 'unsupported_value');
    assert.equal(e.param, 'messages[0].content[0]');
    const bmp = await postChat(gw.url, {
      model: M,
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,Qk0=' } }] }],
    });
    e = assertError(bmp, 400, 'invalid_request_error', 'unsupported_value');
    assert.equal(e.param, 'messages[0].content[0]');
  });

  test('JSON schema output via outputConfig.textFormat; json_object refused', async () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' }, n: { type: 'integer' } }, required: ['answer', 'n'] };
    const r = await postChat(gw.url, chatBody(M, 'give json', {
      response_format: { type: 'json_schema', json_schema: { name: 'out', strict: true, schema } },
    }));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.json.choices[0].message.content), { answer: 'give json', n: 1 });
    const oc = emu.lastRequest().body.outputConfig;
    assert.deepEqual(oc, {
      textFormat: { type: 'json_schema', structure: { jsonSchema: { schema: JSON.stringify(schema), name: 'out' } } },
    });
    const bad = await postChat(gw.url, chatBody(M, 'x', { response_format: { type: 'json_object' } }));
    const e = assertError(bad, 400, 'invalid_request_error', 'unsupported_value');
    assert.equal(e.param, 'response_format.type');
  });

  test('usage in stream: include_usage after metadata; cache reads counted', async () => {
    const r = await streamChat(gw.url, chatBody(`${P}/cache-read`, 'count me', { stream: true, stream_options: { include_usage: true } }));
    assert.equal(r.status, 200);
    assert.equal(r.errors.length, 0, JSON.stringify(r.errors));
    const last = r.chunks[r.chunks.length - 1];
    assert.deepEqual(last.choices, []);
    // 2 input words + 5 cache-read tokens; "You said: count me" is 4 words.
    assert.equal(last.usage.prompt_tokens, 7);
    assert.equal(last.usage.prompt_tokens_details.cached_tokens, 5);
    assert.equal(last.usage.completion_tokens, 4);
    assert.equal(last.usage.total_tokens, 11);
    assert.ok(r.doneLast);
    assert.equal(emu.lastRequest().body.stream_options, undefined);
  });

  const fin = async (body) => {
    const r = await postChat(gw.url, body);
    assert.equal(r.status, 200, r.text);
    return r.json.choices[0];
  };

  test('finish stop: end_turn and stop_sequence', async () => {
    assert.equal((await fin(chatBody(M, 'plain'))).finish_reason, 'stop');
    const seq = await fin(chatBody(M, 'one two STOP three', { stop: 'STOP' }));
    assert.equal(seq.finish_reason, 'stop');
    assert.equal(seq.message.content, 'You said: one two ');
    assert.deepEqual(emu.lastRequest().body.inferenceConfig, { stopSequences: ['STOP'] });
  });

  test('finish length: max_tokens and context window', async () => {
    const len = await fin(chatBody(M, 'a b c d e f', { max_completion_tokens: 3 }));
    assert.equal(len.finish_reason, 'length');
    assert.equal(len.message.content, 'You said: a');
    assert.deepEqual(emu.lastRequest().body.inferenceConfig, { maxTokens: 3 });
    assert.equal((await fin(chatBody(`${P}/context-window`, 'x'))).finish_reason, 'length');
    const s = await streamChat(gw.url, chatBody(M, 'a b c d e f', { stream: true, max_tokens: 4 }));
    assert.deepEqual(finishOf(s.chunks), ['length']);
  });

  test('finish tool_calls', async () => {
    assert.equal((await fin(chatBody(M, 'x', { tools: TOOLS, tool_choice: 'required' }))).finish_reason, 'tool_calls');
  });

  test('finish content_filter: guardrail_intervened, content_filtered', async () => {
    const g = await fin(chatBody(`${P}/guardrail`, 'something bad'));
    assert.equal(g.finish_reason, 'content_filter');
    assert.equal(g.message.content, 'Sorry, the model cannot answer this question.');
    assert.equal((await fin(chatBody(`${P}/content-filtered`, 'x'))).finish_reason, 'content_filter');
    const s = await streamChat(gw.url, chatBody(`${P}/guardrail`, 'x', { stream: true }));
    assert.deepEqual(finishOf(s.chunks), ['content_filter']);
  });

  const call = (model) => postChat(gw.url, chatBody(`${P}/${model}`, 'x'));

  test('error 400: ValidationException keeps its status and message', async () => {
    let e = assertError(await call('fault-400'), 400, 'invalid_request_error', null);
    assert.match(e.message, /emulated upstream rejection/);
    // The emulator's own validation: an unknown model id.
    e = assertError(await call('not-a-model'), 400, 'invalid_request_error', null);
    assert.equal(e.message, 'The provided model identifier is invalid.');
    assertError(await call('fault-404'), 404, 'invalid_request_error', 'model_not_found');
    assertError(await call('fault-403'), 403, 'invalid_request_error', 'permission_denied');
    // reasoning_effort is refused for non-Anthropic models.
    e = assertError(await postChat(gw.url, chatBody(`${P}/amazon.nova-pro-v1:0`, 'x', { reasoning_effort: 'low' })),
      400, 'invalid_request_error', 'unsupported_parameter');
    assert.equal(e.param, 'reasoning_effort');
  });

  test('error 401: bad credentials → 502 upstream_auth_failed, text not echoed', async () => {
    let e = assertError(await call('fault-401'), 502, 'upstream_error', 'upstream_auth_failed');
    assert.ok(!e.message.includes('security token'));
    // A real signature mismatch (wrong secret) is caught by the emulator.
    const r = await postChat(gw.url, chatBody(`badsig/${MODEL}`, 'x'));
    e = assertError(r, 502, 'upstream_error', 'upstream_auth_failed');
    assert.ok(!e.message.includes(SK));
    const up = emu.lastRequest();
    assert.equal(up.status, 403);
    assert.equal(up.errorType, 'InvalidSignatureException');
  });

  test('error 429: ThrottlingException with retry-after', async () => {
    const rl = await call('fault-429');
    const e = assertError(rl, 429, 'rate_limit_exceeded', 'rate_limit_exceeded');
    assert.equal(e.message, 'Too many requests, please wait before trying again.');
    assert.equal(rl.headers['retry-after'], '7');
  });

  test('error 5xx: 500 → 502, 503 → 503, 408 → 504, 424 → 502', async () => {
    assertError(await call('fault-500'), 502, 'upstream_error', 'upstream_error');
    assertError(await call('fault-503'), 503, 'upstream_error', 'upstream_unavailable');
    assertError(await call('fault-408'), 504, 'upstream_error', 'upstream_timeout');
    assertError(await call('fault-424'), 502, 'upstream_error', 'upstream_error');
    const s = await streamChat(gw.url, chatBody(`${P}/fault-503`, 'x', { stream: true }));
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
    await check('error-mid-stream', 'throttlingException');
    await check('malformed-chunk', 'upstream_bad_response');
    const reset = await streamChat(gw.url, chatBody(`${P}/reset-mid-stream`, 'one two three four', { stream: true }));
    assert.equal(reset.done, false);
    assert.equal(reset.errors.length, 1, JSON.stringify(reset.errors));
    const st = await streamChat(gw.url, chatBody(`${P}/stall`, 'x', { stream: true }), { timeoutMs: 15000 });
    assert.equal(st.errors.length, 1, JSON.stringify(st.errors));
  });

  test('parameters Bedrock cannot honour are refused with 400', async () => {
    const cases = [
      [{ n: 2 }, 'n', 'unsupported_parameter'],
      [{ logprobs: true }, 'logprobs', 'unsupported_parameter'],
      [{ logit_bias: { 50256: -100 } }, 'logit_bias', 'unsupported_parameter'],
      [{ seed: 1 }, 'seed', 'unsupported_parameter'],
      [{ presence_penalty: 0.5 }, 'presence_penalty', 'unsupported_parameter'],
      [{ frequency_penalty: 0.5 }, 'frequency_penalty', 'unsupported_parameter'],
      [{ temperature: 1.5 }, 'temperature', 'unsupported_value'],
    ];
    const before = emu.converseRequests().length;
    for (const [extra, param, code] of cases) {
      const r = await postChat(gw.url, chatBody(M, 'x', extra));
      const e = assertError(r, 400, 'invalid_request_error', code);
      assert.equal(e.param, param);
    }
    assert.equal(emu.converseRequests().length, before, 'nothing reached the upstream');
  });

  // ---- embeddings (POST /v1/embeddings → InvokeModel) --------------------

  const embed = (body, opts = {}) => request(`${gw.url}/v1/embeddings`, { method: 'POST', body, ...opts });
  const f32 = (xs) => Array.from(new Float32Array(xs));
  const fromBase64 = (b64) => {
    const buf = Buffer.from(b64, 'base64');
    return Array.from(new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length)));
  };
  test('embeddings: titan float vector through signed InvokeModel, token usage, dropped user', async () => {
    const r = await embed({ model: `${P}/${TITAN}`, input: 'hello embedded world', dimensions: 512, user: 'u-1' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'list');
    assert.equal(r.json.model, TITAN);
    assert.deepEqual(r.json.usage, { prompt_tokens: 3, total_tokens: 3 });
    assert.equal(r.json.data.length, 1);
    assert.deepEqual(Object.keys(r.json.data[0]).sort(), ['embedding', 'index', 'object']);
    assert.equal(r.json.data[0].object, 'embedding');
    assert.equal(r.json.data[0].index, 0);
    // Bedrock's vectors are float32: the gateway keeps them to that precision.
    assert.equal(r.json.data[0].embedding.length, 512);
    assert.deepEqual(f32(r.json.data[0].embedding), embedVector('hello embedded world', 512, true, TITAN));
    assert.equal(r.headers['x-switchboard-dropped-params'], 'user');
    const up = emu.lastInvoke();
    assert.equal(up.status, 200);
    assert.equal(up.rawPath, '/model/amazon.titan-embed-text-v2%3A0/invoke');
    assert.equal(up.family, 'titan-v2');
    assert.deepEqual(up.body, { inputText: 'hello embedded world', dimensions: 512, normalize: true });
    assert.match(up.headers.authorization, new RegExp(`^AWS4-HMAC-SHA256 Credential=${AK}/\\d{8}/${REGION}/bedrock/aws4_request, SignedHeaders=accept;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$`));
    assert.equal(up.headers['x-amz-security-token'], ST);
    assert.equal(up.headers['x-amz-content-sha256'], createHash('sha256').update(up.rawBody).digest('hex'));
    // Titan v1 takes inputText only; its vectors are 1536 long and not normalized.
    const v1 = await embed({ model: `${P}/amazon.titan-embed-text-v1`, input: ['one input'] });
    assert.equal(v1.status, 200, v1.text);
    assert.deepEqual(f32(v1.json.data[0].embedding), embedVector('one input', 1536, false, 'amazon.titan-embed-text-v1'));
    assert.deepEqual(emu.lastInvoke().body, { inputText: 'one input' });
  });

  test('embeddings: titan base64 is encoded by the gateway; cohere batch keeps its order', async () => {
    const r = await embed({ model: `${P}/${TITAN}`, input: 'base64 please', encoding_format: 'base64' });
    assert.equal(r.status, 200, r.text);
    const d = r.json.data[0];
    assert.equal(typeof d.embedding, 'string');
    assert.equal(Buffer.from(d.embedding, 'base64').length, 1024 * 4);
    assert.deepEqual(fromBase64(d.embedding), f32(embedVector('base64 please', 1024, true, TITAN)));
    assert.deepEqual(emu.lastInvoke().body, { inputText: 'base64 please', normalize: true });
    const input = ['first text', 'second', 'the third and last'];
    const c = await embed({ model: `${P}/${COHERE}`, input });
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.model, COHERE);
    // Cohere's body has no counts: Bedrock's x-amzn-bedrock-input-token-count
    // header has them (7 words here), and the gateway reads it.
    assert.deepEqual(c.json.usage, { prompt_tokens: 7, total_tokens: 7 });
    assert.deepEqual(c.json.data.map((x) => x.index), [0, 1, 2]);
    input.forEach((t, i) => assert.deepEqual(f32(c.json.data[i].embedding), embedVector(t, 1024, true, COHERE)));
    const up = emu.lastInvoke();
    assert.equal(up.rawPath, '/model/cohere.embed-english-v3/invoke');
    assert.deepEqual(up.body, { texts: input, input_type: 'search_document', truncate: 'NONE' });
    const b = await embed({ model: `${P}/${COHERE}`, input: ['x y', 'z'], encoding_format: 'base64' });
    assert.equal(b.status, 200, b.text);
    assert.deepEqual(fromBase64(b.json.data[1].embedding), f32(embedVector('z', 1024, true, COHERE)));
    // 96 texts pass, 97 are refused before the upstream.
    const many = Array.from({ length: 96 }, (_, i) => `t${i}`);
    const m = await embed({ model: `${P}/${COHERE}`, input: many });
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.data.length, 96);
    const n = emu.requests.length;
    const over = await embed({ model: `${P}/${COHERE}`, input: [...many, 'x'] });
    assert.equal(assertError(over, 400, 'invalid_request_error', 'unsupported_value').param, 'input');
    assert.equal(emu.requests.length, n, 'nothing sent upstream');
  });

  test('embeddings: refusals (several titan inputs, token ids, other models, dimensions)', async () => {
    const n = emu.requests.length;
    const refuse = async (body, code, param, pattern) => {
      const e = assertError(await embed(body), 400, 'invalid_request_error', code);
      assert.equal(e.param, param, JSON.stringify(body));
      if (pattern) assert.match(e.message, pattern);
    };
    await refuse({ model: `${P}/${TITAN}`, input: ['a', 'b'] }, 'unsupported_value', 'input', /one input per request/);
    for (const input of [[1, 2, 3], [[1, 2], [3]], ['a', [4, 5]]]) {
      await refuse({ model: `${P}/${COHERE}`, input }, 'unsupported_value', 'input', /text only/);
    }
    await refuse({ model: `${P}/${TITAN}`, input: [7, 8] }, 'unsupported_value', 'input', /text only/);
    await refuse({ model: M, input: 'x' }, 'unsupported_value', 'model', /amazon\.titan-embed-text/);
    await refuse({ model: `${P}/${COHERE}`, input: 'x', dimensions: 256 }, 'unsupported_parameter', 'dimensions');
    await refuse({ model: `${P}/amazon.titan-embed-text-v1`, input: 'x', dimensions: 256 }, 'unsupported_parameter', 'dimensions');
    await refuse({ model: `${P}/${TITAN}`, input: 'x', dimensions: 300 }, 'unsupported_value', 'dimensions', /256, 512 or 1024/);
    // The gateway's own validation still comes first.
    await refuse({ model: `${P}/${TITAN}`, input: [] }, 'invalid_value', 'input');
    assert.equal(emu.requests.length, n, 'nothing reached the upstream');
  });

  test('embeddings: upstream errors (400, bad credentials, 429, 5xx, malformed answer)', async () => {
    const f400 = await embed({ model: `${P}/${TITAN}:fault-400`, input: 'x' });
    assert.match(assertError(f400, 400, 'invalid_request_error', null).message, /emulated upstream rejection/);
    const q = await embed({ model: `${P}/${TITAN}:fault-429`, input: 'x' });
    assertError(q, 429, 'rate_limit_exceeded', 'rate_limit_exceeded');
    assert.equal(q.headers['retry-after'], '7');
    assertError(await embed({ model: `${P}/${TITAN}:fault-500`, input: 'x' }), 502, 'upstream_error', 'upstream_error');
    assertError(await embed({ model: `${P}/${COHERE}:fault-503`, input: ['x'] }), 503, 'upstream_error', 'upstream_unavailable');
    assertError(await embed({ model: `${P}/${COHERE}:malformed-chunk`, input: ['x'] }), 502, 'upstream_error', 'upstream_bad_response');
    const bad = await embed({ model: `badsig/${TITAN}`, input: 'x' });
    const ea = assertError(bad, 502, 'upstream_error', 'upstream_auth_failed');
    assert.doesNotMatch(ea.message, new RegExp(`${AK}|signature`, 'i'));
    assert.equal(emu.lastInvoke().errorType, 'InvalidSignatureException');
  });

  test('reasoning_effort → thinking; reasoning_content out', async () => {
    const r = await postChat(gw.url, chatBody(M, 'think hard', { reasoning_effort: 'low', max_tokens: 2000 }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.reasoning_content, 'Thinking about: think hard');
    assert.equal(r.json.choices[0].message.content, 'You said: think hard');
    const up = emu.lastRequest().body;
    assert.deepEqual(up.additionalModelRequestFields, { thinking: { type: 'enabled', budget_tokens: 1024 } });
    assert.deepEqual(up.inferenceConfig, { maxTokens: 2000 });
    const s = await streamChat(gw.url, chatBody(M, 'think more', { stream: true, reasoning_effort: 'low', max_tokens: 100 }));
    assert.equal(s.errors.length, 0, JSON.stringify(s.errors));
    const reasoning = s.chunks.map((c) => (c.choices[0] && c.choices[0].delta.reasoning_content) || '').join('');
    assert.equal(reasoning, 'Thinking about: think more');
    assert.equal(s.contentText, 'You said: think more');
    assert.deepEqual(emu.lastRequest().body.inferenceConfig, { maxTokens: 1124 });
  });
});

// The emulator itself must be as strict as the real API, or the tests above
// prove nothing about what Bedrock would accept.
describe('bedrock emulator strictness', () => {
  let emu;
  const ok = { messages: [{ role: 'user', content: [{ text: 'hi' }] }] };

  /** A SigV4-signed request straight to the emulator. */
  function signed(body, { model = MODEL, op = 'converse', secret = SK, sign = true, date = new Date() } = {}) {
    const raw = Buffer.from(JSON.stringify(body));
    const amz = date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const day = amz.slice(0, 8);
    const path = `/model/${encodeURIComponent(model)}/${op}`;
    const u = new URL(emu.url);
    const headers = { 'content-type': 'application/json', 'x-amz-date': amz, 'x-amz-security-token': ST };
    if (sign) {
      const canonPath = path.replace(/%/g, '%25');
      const hash = createHash('sha256').update(raw).digest('hex');
      const canon = `POST\n${canonPath}\n\ncontent-type:application/json\nhost:${u.host}\nx-amz-date:${amz}\nx-amz-security-token:${ST}\n\ncontent-type;host;x-amz-date;x-amz-security-token\n${hash}`;
      const scope = `${day}/${REGION}/bedrock/aws4_request`;
      const sts = `AWS4-HMAC-SHA256\n${amz}\n${scope}\n${createHash('sha256').update(canon).digest('hex')}`;
      let k = createHmac('sha256', `AWS4${secret}`).update(day).digest();
      for (const part of [REGION, 'bedrock', 'aws4_request']) k = createHmac('sha256', k).update(part).digest();
      const sig = createHmac('sha256', k).update(sts).digest('hex');
      headers.authorization = `AWS4-HMAC-SHA256 Credential=${AK}/${scope}, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=${sig}`;
    }
    return request(`${emu.url}${path}`, { body: raw, headers });
  }
  const rejects = (res, status, type, pattern) => {
    assert.equal(res.status, status, res.text);
    assert.match(res.headers['x-amzn-errortype'], new RegExp(`^${type}:`));
    assert.match(res.json.message, pattern);
  };

  before(async () => { emu = await startBedrockEmulator({ accessKey: AK, secretKey: SK, sessionToken: ST, region: REGION }); });
  after(async () => { if (emu) await emu.close(); });

  test('auth: SigV4 verified for real', async () => {
    assert.equal((await signed(ok)).status, 200);
    rejects(await signed(ok, { sign: false }), 403, 'MissingAuthenticationTokenException', /Missing Authentication Token/);
    rejects(await signed(ok, { secret: 'wrong' }), 403, 'InvalidSignatureException', /signature we calculated does not match/);
    rejects(await signed(ok, { date: new Date(Date.now() - 3600e3) }), 403, 'InvalidSignatureException', /Signature expired/);
  });

  test('body: roles, alternation, blank text, extra fields, tool pairing, unknown model', async () => {
    rejects(await signed({ ...ok, seed: 1 }), 400, 'ValidationException', /extraneous key \[seed\]/);
    rejects(await signed({ messages: [{ role: 'assistant', content: [{ text: 'x' }] }] }), 400, 'ValidationException', /must start with a user message/);
    rejects(await signed({ messages: [ok.messages[0], ok.messages[0]] }), 400, 'ValidationException', /alternate/);
    rejects(await signed({ messages: [{ role: 'user', content: [{ text: ' ' }] }] }), 400, 'ValidationException', /is blank/);
    rejects(await signed({ messages: [{ role: 'user', content: [{ text: 'a', image: {} }] }] }), 400, 'ValidationException', /exactly one member/);
    const use = { role: 'assistant', content: [{ toolUse: { toolUseId: 't1', name: 'f', input: {} } }] };
    const tc = { tools: [{ toolSpec: { name: 'f', inputSchema: { json: { type: 'object' } } } }] };
    rejects(await signed({ messages: [ok.messages[0], use, ok.messages[0]], toolConfig: tc }), 400, 'ValidationException', /Expected toolResult blocks .* t1/);
    const res = { role: 'user', content: [{ toolResult: { toolUseId: 't1', content: [{ text: 'r' }] } }] };
    assert.equal((await signed({ messages: [ok.messages[0], use, res], toolConfig: tc })).status, 200);
    rejects(await signed({ messages: [ok.messages[0], use, res] }), 400, 'ValidationException', /toolConfig field must be defined/);
    rejects(await signed({ ...ok, inferenceConfig: { temperature: 1.5 } }), 400, 'ValidationException', /temperature/);
    rejects(await signed(ok, { model: 'nope' }), 400, 'ValidationException', /^The provided model identifier is invalid\.$/);
  });

  test('invoke: embedding bodies validated per family, answers in their shapes', async () => {
    const titan = { inputText: 'hi there' };
    const t = await signed(titan, { model: 'amazon.titan-embed-text-v2:0', op: 'invoke' });
    assert.equal(t.status, 200, t.text);
    assert.deepEqual(Object.keys(t.json).sort(), ['embedding', 'inputTextTokenCount']);
    assert.equal(t.json.embedding.length, 1024);
    assert.equal(t.json.inputTextTokenCount, 2);
    assert.equal(t.headers['x-amzn-bedrock-input-token-count'], '2');
    const inv = (body, model = 'amazon.titan-embed-text-v2:0') => signed(body, { model, op: 'invoke' });
    rejects(await inv({ ...titan, dimensions: 300 }), 400, 'ValidationException', /#\/dimensions: 300 is not a valid enum value/);
    rejects(await inv({ ...titan, texts: ['x'] }), 400, 'ValidationException', /extraneous key \[texts\]/);
    rejects(await inv({}), 400, 'ValidationException', /required key \[inputText\]/);
    rejects(await inv({ ...titan, normalize: true }, 'amazon.titan-embed-text-v1'), 400, 'ValidationException', /extraneous key \[normalize\]/);
    const co = { texts: ['a', 'b'], input_type: 'search_document', truncate: 'NONE' };
    const c = await inv(co, 'cohere.embed-english-v3');
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.response_type, 'embeddings_floats');
    assert.deepEqual(c.json.texts, ['a', 'b']);
    assert.equal(c.json.embeddings.length, 2);
    assert.equal(typeof c.json.id, 'string');
    // Cohere's body has no counts: the real service sends them as a header.
    assert.equal(c.headers['x-amzn-bedrock-input-token-count'], '2');
    rejects(await inv({ texts: ['a'] }, 'cohere.embed-english-v3'), 400, 'ValidationException', /required key \[input_type\]/);
    rejects(await inv({ ...co, texts: Array(97).fill('a') }, 'cohere.embed-english-v3'), 400, 'ValidationException', /maximum item count: 96, found: 97/);
    rejects(await inv({ ...co, truncate: 'MIDDLE' }, 'cohere.embed-english-v3'), 400, 'ValidationException', /truncate/);
    rejects(await inv(ok, MODEL), 400, 'ValidationException', /Malformed input request/);
    rejects(await signed(ok, { model: 'amazon.titan-embed-text-v2:0' }), 400, 'ValidationException', /doesn't support the model/);
    rejects(await inv(titan, 'amazon.titan-embed-text-v2:0:fault-429'), 429, 'ThrottlingException', /Too many requests/);
    rejects(await signed(titan, { model: 'amazon.titan-embed-text-v2:0', op: 'invoke', secret: 'wrong' }), 403, 'InvalidSignatureException', /signature/);
  });

  test('stream: binary frames with valid CRCs in the real order', async () => {
    const r = await signed(ok, { op: 'converse-stream' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/vnd.amazon.eventstream');
    const frames = decodeFrames(r.body);
    assert.deepEqual(frames.map((f) => f.headers[':event-type']), [
      'messageStart', 'contentBlockDelta', 'contentBlockDelta', 'contentBlockDelta', 'contentBlockStop', 'messageStop', 'metadata',
    ]);
    assert.ok(frames.every((f) => f.headers[':message-type'] === 'event' && f.headers[':content-type'] === 'application/json'));
  });
});
