// The matrix's inbound clients (tests/matrix/inbound.mjs) against canned
// answers served on loopback: what each reads from a well-formed answer,
// and that each is strict, as the contract says: a stream cut before its
// terminator is a 'truncated' error, the API's own error event a stream
// error, an error body in the API's shape an ok:false Result, and a
// violation of the event order or shapes a thrown Error naming it.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { client } from '../matrix/inbound.mjs';

const chat = client('chat');
const responses = client('responses');
const messages = client('messages');

// ---------------------------------------------------------------------------
// Canned answers, chosen by the request's model.

function sse(events) {
  return events.map(([name, data]) => `${name ? `event: ${name}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`).join('');
}

const chunk = (delta, finish = null, extra = {}) => ({
  id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm',
  choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra,
});
const CHAT_USAGE = { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11, prompt_tokens_details: { cached_tokens: 4 }, completion_tokens_details: { reasoning_tokens: 1 } };
const CHAT_OK = [
  [null, chunk({ role: 'assistant', content: '' })],
  [null, chunk({ content: 'Hel' })],
  [null, chunk({ content: 'lo' })],
  [null, chunk({}, 'stop')],
  [null, { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: CHAT_USAGE }],
  [null, '[DONE]'],
];
const CHAT_TOOLS = [
  [null, chunk({ role: 'assistant', content: null })],
  [null, chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] })],
  [null, chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{"city":' } }] })],
  [null, chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":"Paris"}' } }] })],
  [null, chunk({ tool_calls: [{ index: 1, function: { arguments: '"Rome"}' } }] })],
  [null, chunk({}, 'tool_calls')],
  [null, '[DONE]'],
];

const rev = (type, fields) => [type, { type, ...fields }];
const RESP = { id: 'resp_1', object: 'response', status: 'in_progress', output: [] };
const MSG_ITEM = { type: 'message', id: 'msg_1', role: 'assistant', status: 'in_progress', content: [] };
const MSG_DONE = { ...MSG_ITEM, status: 'completed', content: [{ type: 'output_text', text: 'Hi!', annotations: [] }] };
const RESP_USAGE = { input_tokens: 7, input_tokens_details: { cached_tokens: 3 }, output_tokens: 2, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 9 };
function respEvents(list) {
  return list.map(([type, fields], i) => rev(type, { sequence_number: i, ...fields }));
}
const RESP_BODY = [
  ['response.created', { response: RESP }],
  ['response.in_progress', { response: RESP }],
  ['response.output_item.added', { output_index: 0, item: MSG_ITEM }],
  ['response.content_part.added', { item_id: 'msg_1', output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }],
  ['response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'Hi' }],
  ['response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: '!' }],
  ['response.output_text.done', { item_id: 'msg_1', output_index: 0, content_index: 0, text: 'Hi!' }],
  ['response.content_part.done', { item_id: 'msg_1', output_index: 0, content_index: 0, part: MSG_DONE.content[0] }],
  ['response.output_item.done', { output_index: 0, item: MSG_DONE }],
];
const RESP_COMPLETED = ['response.completed', { response: { ...RESP, status: 'completed', output: [MSG_DONE], usage: RESP_USAGE } }];

const MSG_START = rev('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1, cache_read_input_tokens: 5, cache_creation_input_tokens: 2 } } });
const MSG_BODY = [
  MSG_START,
  rev('ping', {}),
  rev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
  rev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'Hmm.' } }),
  rev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'sig_1' } }),
  rev('content_block_stop', { index: 0 }),
  rev('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }),
  rev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'Hello' } }),
  rev('content_block_stop', { index: 1 }),
  rev('content_block_start', { index: 2, content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} } }),
  rev('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: '' } }),
  rev('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: '{"city":"Paris"}' } }),
  rev('content_block_stop', { index: 2 }),
];
const MSG_END = [
  rev('message_delta', { delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 12 } }),
  rev('message_stop', {}),
];

const SSE = { 'content-type': 'text/event-stream' };
const JSONH = { 'content-type': 'application/json' };
const CANNED = {
  'chat-ok': { headers: SSE, body: sse(CHAT_OK) },
  'chat-tools': { headers: SSE, body: sse(CHAT_TOOLS) },
  'chat-no-done': { headers: SSE, body: sse(CHAT_OK.slice(0, -1)) },
  'chat-error-chunk': { headers: SSE, body: sse([...CHAT_OK.slice(0, 2), [null, { error: { message: 'Overloaded', type: 'server_error', code: null, param: null } }]]) },
  'chat-after-done': { headers: SSE, body: sse([...CHAT_OK, [null, chunk({ content: 'late' })]]) },
  'chat-bad-args': { headers: SSE, body: sse([CHAT_TOOLS[0], [null, chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":' } }] })], [null, chunk({}, 'tool_calls')], [null, '[DONE]']]) },
  'chat-429': { status: 429, headers: { ...JSONH, 'retry-after': '7' }, body: JSON.stringify({ error: { message: 'Slow down', type: 'requests', param: null, code: 'rate_limit_exceeded' } }) },
  'chat-500-text': { status: 500, headers: { 'content-type': 'text/plain' }, body: 'Internal Server Error' },
  'chat-doc': {
    headers: JSONH,
    body: JSON.stringify({
      id: 'chatcmpl-2', object: 'chat.completion', created: 1, model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi', reasoning_content: 'Think.', reasoning_details: [{ type: 'reasoning.text', text: 'Think.', signature: 'sig_9', format: 'anthropic-claude-v1' }] }, finish_reason: 'stop' }],
      usage: CHAT_USAGE,
    }),
  },

  'resp-ok': { headers: SSE, body: sse(respEvents([...RESP_BODY, RESP_COMPLETED])) },
  'resp-no-completed': { headers: SSE, body: sse(respEvents(RESP_BODY)) },
  'resp-error-event': { headers: SSE, body: sse(respEvents([...RESP_BODY.slice(0, 5), ['error', { code: 'server_error', message: 'The server had an error', param: null }]])) },
  'resp-failed': {
    headers: SSE,
    body: sse(respEvents([...RESP_BODY.slice(0, 5), ['response.failed', { response: { ...RESP, status: 'failed', output: [{ ...MSG_ITEM, status: 'incomplete' }], error: { code: 'server_error', message: 'Upstream broke' } } }]])),
  },
  'resp-seq-gap': { headers: SSE, body: sse(respEvents([...RESP_BODY, RESP_COMPLETED]).map(([n, d], i) => [n, { ...d, sequence_number: i < 4 ? i : i + 1 }])) },
  'resp-delta-unopened': { headers: SSE, body: sse(respEvents([RESP_BODY[0], RESP_BODY[1], RESP_BODY[4], RESP_COMPLETED])) },
  'resp-open-at-end': { headers: SSE, body: sse(respEvents([...RESP_BODY.slice(0, 7), RESP_COMPLETED])) },
  'resp-400': { status: 400, headers: JSONH, body: JSON.stringify({ error: { message: "Unsupported parameter: 'prompt'.", type: 'invalid_request_error', param: 'prompt', code: 'unsupported_parameter' } }) },

  'msgs-ok': { headers: SSE, body: sse([...MSG_BODY, ...MSG_END]) },
  'msgs-delta-first': { headers: SSE, body: sse([MSG_START, rev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hi' } }), rev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }), rev('content_block_stop', { index: 0 }), ...MSG_END]) },
  'msgs-wrong-delta': { headers: SSE, body: sse([MSG_START, rev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }), rev('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '{}' } }), rev('content_block_stop', { index: 0 }), ...MSG_END]) },
  'msgs-no-stop': { headers: SSE, body: sse([...MSG_BODY, MSG_END[0]]) },
  'msgs-error-event': { headers: SSE, body: sse([...MSG_BODY.slice(0, 4), ['error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }]]) },
  'msgs-404': { status: 404, headers: JSONH, body: JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'model: nope' }, request_id: 'req_1' }) },
  'msgs-openai-error': { status: 404, headers: JSONH, body: JSON.stringify({ error: { message: 'The model does not exist', type: 'invalid_request_error', param: 'model', code: 'model_not_found' } }) },
};

describe('matrix inbound clients (canned answers)', () => {
  let server;
  let url;
  const seen = []; // {path, headers, body} of every request

  before(async () => {
    server = http.createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (d) => { text += d; });
      req.on('end', () => {
        const body = text ? JSON.parse(text) : null;
        seen.push({ path: req.url, headers: req.headers, body });
        if (req.url === '/v1/models') {
          const anthropic = req.headers['anthropic-version'];
          const doc = anthropic
            ? { data: [{ type: 'model', id: 'a/1', display_name: 'a/1', created_at: '1970-01-01T00:00:00Z' }, { type: 'model', id: 'a/2', display_name: 'a/2', created_at: '1970-01-01T00:00:00Z' }], has_more: false, first_id: 'a/1', last_id: anthropic === 'bad-ids' ? 'a/1' : 'a/2' }
            : { object: 'list', data: [{ id: 'o/1', object: 'model', created: 0, owned_by: 'o' }] };
          res.writeHead(200, JSONH);
          res.end(JSON.stringify(doc));
          return;
        }
        const c = CANNED[body.model];
        if (!c) {
          res.writeHead(500, JSONH);
          res.end(JSON.stringify({ error: { message: `no canned answer for ${body.model}`, type: 'test' } }));
          return;
        }
        res.writeHead(c.status || 200, c.headers);
        res.end(c.body);
      });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => new Promise((r) => server.close(r)));

  const req = (model, fields = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], stream: true, ...fields });

  describe('chat', () => {
    test('a clean stream: text, finish, usage (prompt tokens include cached)', async () => {
      const r = await chat.send(url, req('chat-ok'));
      assert.equal(r.ok, true);
      assert.equal(r.text, 'Hello');
      assert.equal(r.finish, 'stop');
      assert.deepEqual(r.usage, { input: 9, output: 2, cached: 4, reasoning: 1 });
      assert.equal(r.events.length, 6);
      const sent = seen.at(-1);
      assert.equal(sent.path, '/v1/chat/completions');
      assert.deepEqual(sent.body.stream_options, { include_usage: true });
    });
    test('interleaved tool-call fragments are put together by index', async () => {
      const r = await chat.send(url, req('chat-tools'));
      assert.equal(r.ok, true);
      assert.equal(r.finish, 'tool_calls');
      assert.deepEqual(r.toolCalls, [{ id: 'call_a', name: 'get_weather', args: { city: 'Paris' } }, { id: 'call_b', name: 'get_time', args: { city: 'Rome' } }]);
      assert.deepEqual(r.assistantMessage.toolCalls, r.toolCalls);
    });
    test('no data: [DONE]: truncated, not a stream error', async () => {
      const r = await chat.send(url, req('chat-no-done'));
      assert.equal(r.ok, false);
      assert.equal(r.streamError, false);
      assert.equal(r.error.type, 'truncated');
      assert.match(r.error.message, /\[DONE\]/);
    });
    test('a data: {"error"} chunk: a stream error', async () => {
      const r = await chat.send(url, req('chat-error-chunk'));
      assert.equal(r.ok, false);
      assert.equal(r.streamError, true);
      assert.equal(r.error.type, 'server_error');
      assert.equal(r.error.message, 'Overloaded');
      assert.equal(r.text, 'Hel');
    });
    test('a chunk after [DONE] is a violation', async () => {
      await assert.rejects(chat.send(url, req('chat-after-done')), /after data: \[DONE\]/);
    });
    test('tool arguments that are not JSON are a violation', async () => {
      await assert.rejects(chat.send(url, req('chat-bad-args')), /not JSON/);
    });
    test('an HTTP error: the OpenAI error object and retry-after', async () => {
      const r = await chat.send(url, req('chat-429'));
      assert.equal(r.ok, false);
      assert.equal(r.status, 429);
      assert.deepEqual(r.error, { status: 429, type: 'requests', message: 'Slow down', code: 'rate_limit_exceeded', param: null, retryAfter: '7' });
    });
    test('an error body not in the OpenAI shape is a violation', async () => {
      await assert.rejects(chat.send(url, req('chat-500-text')), /not an OpenAI error object/);
    });
    test('a document: reasoning and its signature, sent back as reasoning_details', async () => {
      const r = await chat.send(url, req('chat-doc', { stream: false }));
      assert.equal(r.ok, true);
      assert.equal(r.reasoning, 'Think.');
      assert.equal(r.reasoningSignature, 'sig_9');
      await chat.send(url, { model: 'chat-doc', messages: [{ role: 'user', content: 'hi' }, r.assistantMessage, { role: 'user', content: 'more' }] });
      const back = seen.at(-1).body.messages[1];
      assert.equal(back.role, 'assistant');
      assert.equal(back.reasoning_details[0].signature, 'sig_9');
    });
  });

  describe('responses', () => {
    test('a clean stream: text, finish, usage; store:false sent', async () => {
      const r = await responses.send(url, req('resp-ok'));
      assert.equal(r.ok, true);
      assert.equal(r.text, 'Hi!');
      assert.equal(r.finish, 'stop');
      assert.deepEqual(r.usage, { input: 7, output: 2, cached: 3, reasoning: 0 });
      assert.equal(seen.at(-1).path, '/v1/responses');
      assert.equal(seen.at(-1).body.store, false);
    });
    test('no response.completed: truncated', async () => {
      const r = await responses.send(url, req('resp-no-completed'));
      assert.equal(r.ok, false);
      assert.equal(r.streamError, false);
      assert.equal(r.error.type, 'truncated');
      assert.match(r.error.message, /response\.completed/);
    });
    test('an error event: a stream error', async () => {
      const r = await responses.send(url, req('resp-error-event'));
      assert.equal(r.ok, false);
      assert.equal(r.streamError, true);
      assert.equal(r.error.code, 'server_error');
      assert.equal(r.error.message, 'The server had an error');
    });
    test('response.failed: a stream error with the response\'s error', async () => {
      const r = await responses.send(url, req('resp-failed'));
      assert.equal(r.ok, false);
      assert.equal(r.streamError, true);
      assert.equal(r.error.message, 'Upstream broke');
    });
    test('a sequence_number gap is a violation', async () => {
      await assert.rejects(responses.send(url, req('resp-seq-gap')), /sequence_number 5 after 3/);
    });
    test('a delta for an item never added is a violation', async () => {
      await assert.rejects(responses.send(url, req('resp-delta-unopened')), /not an open item/);
    });
    test('response.completed with an item still open is a violation', async () => {
      await assert.rejects(responses.send(url, req('resp-open-at-end')), /still open/);
    });
    test('an HTTP error: the OpenAI error object', async () => {
      const r = await responses.send(url, req('resp-400', { stream: false }));
      assert.equal(r.ok, false);
      assert.equal(r.status, 400);
      assert.equal(r.error.type, 'invalid_request_error');
      assert.equal(r.error.param, 'prompt');
    });
  });

  describe('messages', () => {
    test('a clean stream: thinking with its signature, text, a tool call, usage with cache reads and writes', async () => {
      const r = await messages.send(url, req('msgs-ok'));
      assert.equal(r.ok, true);
      assert.equal(r.text, 'Hello');
      assert.equal(r.reasoning, 'Hmm.');
      assert.equal(r.reasoningSignature, 'sig_1');
      assert.deepEqual(r.toolCalls, [{ id: 'toolu_1', name: 'get_weather', args: { city: 'Paris' } }]);
      assert.equal(r.finish, 'tool_calls');
      // input: uncached 10 + cache read 5 + cache write 2.
      assert.deepEqual(r.usage, { input: 17, output: 12, cached: 5, reasoning: 0 });
      const sent = seen.at(-1);
      assert.equal(sent.path, '/v1/messages');
      assert.equal(sent.headers['anthropic-version'], '2023-06-01');
      assert.equal(sent.body.max_tokens, 256);
    });
    test('the answer sent back: thinking block first with its signature, tool results in one user turn', async () => {
      const r = await messages.send(url, req('msgs-ok'));
      await messages.send(url, {
        model: 'msgs-ok',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }, r.assistantMessage, { role: 'tool', toolCallId: 'toolu_1', name: 'get_weather', content: '18C' }],
      });
      const [, asst, results] = seen.at(-1).body.messages;
      assert.deepEqual(asst.content.map((b) => b.type), ['thinking', 'text', 'tool_use']);
      assert.equal(asst.content[0].signature, 'sig_1');
      assert.deepEqual(results, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '18C' }] });
    });
    test('content_block_delta before content_block_start is a violation', async () => {
      await assert.rejects(messages.send(url, req('msgs-delta-first')), /content_block_delta for block 0 before its content_block_start/);
    });
    test('a delta of another kind than its block is a violation', async () => {
      await assert.rejects(messages.send(url, req('msgs-wrong-delta')), /input_json_delta in a text block/);
    });
    test('no message_stop: truncated', async () => {
      const r = await messages.send(url, req('msgs-no-stop'));
      assert.equal(r.ok, false);
      assert.equal(r.streamError, false);
      assert.equal(r.error.type, 'truncated');
      assert.match(r.error.message, /message_stop/);
    });
    test('event: error: a stream error in Anthropic\'s shape', async () => {
      const r = await messages.send(url, req('msgs-error-event'));
      assert.equal(r.ok, false);
      assert.equal(r.streamError, true);
      assert.equal(r.error.type, 'overloaded_error');
      assert.equal(r.reasoning, 'Hmm.');
    });
    test('an HTTP error: Anthropic\'s error shape', async () => {
      const r = await messages.send(url, req('msgs-404', { stream: false }));
      assert.equal(r.ok, false);
      assert.equal(r.status, 404);
      assert.equal(r.error.type, 'not_found_error');
      assert.equal(r.error.message, 'model: nope');
    });
    test('an OpenAI error body on /v1/messages is a violation', async () => {
      await assert.rejects(messages.send(url, req('msgs-openai-error', { stream: false })), /not an Anthropic error/);
    });
  });

  describe('models', () => {
    test('OpenAI\'s list for chat and responses; Anthropic\'s with anthropic-version for messages', async () => {
      assert.deepEqual(await chat.models(url).then((m) => m.ids), ['o/1']);
      assert.equal(seen.at(-1).headers['anthropic-version'], undefined);
      assert.deepEqual(await responses.models(url).then((m) => m.ids), ['o/1']);
      const m = await messages.models(url);
      assert.equal(m.status, 200);
      assert.deepEqual(m.ids, ['a/1', 'a/2']);
      assert.equal(seen.at(-1).headers['anthropic-version'], '2023-06-01');
    });
    test('last_id not naming the last model is a violation', async () => {
      await assert.rejects(messages.models(url, { headers: { 'anthropic-version': 'bad-ids' } }), /first_id\/last_id/);
    });
  });
});
