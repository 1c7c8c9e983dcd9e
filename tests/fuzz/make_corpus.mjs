#!/usr/bin/env node
// make_corpus.mjs - writes the seed corpora of the fuzz harnesses
// (tests/fuzz/corpus/<name>/), small real-looking inputs in each
// harness's input format (see the comment at the top of fuzz_<name>.c).
// Run it again after changing a seed: node tests/fuzz/make_corpus.mjs
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), 'corpus');
const J = JSON.stringify;
const corpora = {};

function seed(name, file, ...parts) {
  (corpora[name] ??= []).push([file, Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))))]);
}

// Provider harness inputs: mode byte, chunking seed (2 bytes), bytes.
const MODE = { chat: 0, stream: 2, error: 5, embed: 6, models: 7 };
function prov(name, file, mode, body, seedv = 0x1234) {
  seed(name, file, [MODE[mode] ?? mode, seedv >> 8, seedv & 0xff], body);
}
const sse = (events) => events.map(([e, d]) => (e ? `event: ${e}\n` : '') + `data: ${typeof d === 'string' ? d : J(d)}\n\n`).join('');
const ndjson = (objs) => objs.map((o) => J(o) + '\n').join('');

// ---- AWS event-stream frames (CRC-32 as zlib) ----
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function frame(headers, payload) {
  const hs = [];
  for (const [k, v] of Object.entries(headers)) {
    const kb = Buffer.from(k), vb = Buffer.from(v);
    const h = Buffer.alloc(1 + kb.length + 1 + 2 + vb.length);
    h[0] = kb.length;
    kb.copy(h, 1);
    h[1 + kb.length] = 7;
    h.writeUInt16BE(vb.length, 2 + kb.length);
    vb.copy(h, 4 + kb.length);
    hs.push(h);
  }
  const hb = Buffer.concat(hs), pb = Buffer.from(payload);
  const total = 12 + hb.length + pb.length + 4;
  const m = Buffer.alloc(total);
  m.writeUInt32BE(total, 0);
  m.writeUInt32BE(hb.length, 4);
  m.writeUInt32BE(crc32(m.subarray(0, 8)), 8);
  hb.copy(m, 12);
  pb.copy(m, 12 + hb.length);
  m.writeUInt32BE(crc32(m.subarray(0, total - 4)), total - 4);
  return m;
}
const evFrame = (type, obj) => frame({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, J(obj));
const excFrame = (type, msg) => frame({ ':exception-type': type, ':content-type': 'application/json', ':message-type': 'exception' }, J({ message: msg }));
const errFrame = (code, msg) => frame({ ':error-code': code, ':error-message': msg, ':message-type': 'error' }, '');

// ---- requests ----
const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
const chatReqs = {
  simple: { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Hello' }] },
  full: {
    model: 'm', messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } }] },
      { role: 'assistant', content: null, reasoning_content: 'thinking', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
      { role: 'user', content: 'Thanks', name: 'bob' },
    ],
    tools, tool_choice: 'auto', parallel_tool_calls: true, temperature: 0.7, top_p: 0.9, max_completion_tokens: 256, stop: ['END'], seed: 7,
    stream: true, stream_options: { include_usage: true }, user: 'u1', reasoning_effort: 'low', n: 1, presence_penalty: 0.1, frequency_penalty: 0.2,
  },
  json_schema: { model: 'm', messages: [{ role: 'developer', content: 'JSON only' }, { role: 'user', content: 'Name a city' }], response_format: { type: 'json_schema', json_schema: { name: 'city', strict: true, schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'], additionalProperties: false } } } },
  tool_choice: { model: 'm', messages: [{ role: 'user', content: 'weather?' }], tools, tool_choice: { type: 'function', function: { name: 'get_weather' } }, logprobs: true, top_logprobs: 2, max_tokens: 10 },
  audio: { model: 'm', modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'wav' }, messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }, { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' } }] }], logit_bias: { 50256: -100 } },
};
for (const [k, v] of Object.entries(chatReqs)) seed('oai_chat', k, [0x7f], J(v));
seed('oai_chat', 'bad_type', [0x7f], J({ model: 'm', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' }));

const anth = {
  simple: { model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{ role: 'user', content: 'Hello, Claude' }] },
  full: {
    model: 'anthropic/claude', max_tokens: 512, system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'Look' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }, { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } }] },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm', signature: 'sig' }, { type: 'text', text: 'Checking' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: '21C' }], is_error: false }] },
    ],
    tools: [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }, { type: 'web_search_20250305', name: 'web_search' }],
    tool_choice: { type: 'auto', disable_parallel_tool_use: true }, temperature: 0.5, top_p: 0.9, top_k: 40, stop_sequences: ['END'], stream: true,
    thinking: { type: 'enabled', budget_tokens: 2048 }, metadata: { user_id: 'u1' }, service_tier: 'auto',
  },
  tool_any: { model: 'm', max_tokens: 16, messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'y' }, { role: 'user', content: 'z' }], tools: [{ name: 'f', input_schema: { type: 'object' } }], tool_choice: { type: 'tool', name: 'f' } },
};
for (const [k, v] of Object.entries(anth)) seed('anth_msgs', k, J(v));

const resp = {
  simple: { model: 'm', input: 'Tell me a joke' },
  items: {
    model: 'm', instructions: 'Be brief.', input: [
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Look' }, { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0KGgo=' }, { type: 'input_file', file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' }] },
      { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'thought' }], encrypted_content: 'xx' },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking' }] },
      { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { type: 'function_call_output', call_id: 'call_1', output: '21C' },
      { type: 'custom_tool_call', call_id: 'call_2', name: 'apply_patch', input: '*** Begin Patch' },
      { type: 'custom_tool_call_output', call_id: 'call_2', output: 'done' },
      { type: 'web_search_call', id: 'ws_1', status: 'completed' },
    ],
    tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: true }, { type: 'custom', name: 'apply_patch', description: 'patch' }, { type: 'web_search' }],
    tool_choice: 'auto', reasoning: { effort: 'low', summary: 'auto' }, max_output_tokens: 300, text: { format: { type: 'json_schema', name: 'x', schema: { type: 'object' } }, verbosity: 'low' },
    stream: true, store: true, metadata: { a: 'b' }, include: ['message.output_text.logprobs'], top_logprobs: 2, temperature: 1, user: 'u',
  },
};
for (const [k, v] of Object.entries(resp)) seed('oai_resp', k, J(v));
seed('oai_resp', 'history', J([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello', tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'f', arguments: '{}' } }] }]), [0],
  J({ model: 'm', previous_response_id: 'resp_1', input: [{ type: 'function_call_output', call_id: 'call_9', output: 'ok' }] }));

// trim: context (2 bytes), max output (2), history count, fixed cost, messages.
seed('trim', 'tools', [0, 60, 0, 8, 7, 4], J([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is the weather in Paris and Rome?' },
  { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }, { id: 'c2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }] },
  { role: 'tool', tool_call_id: 'c1', content: '21C' }, { role: 'tool', tool_call_id: 'c2', content: '25C' }, { role: 'assistant', content: 'Paris 21C, Rome 25C.' },
  { role: 'developer', content: 'Answer in French.' }, { role: 'user', content: [{ type: 'text', text: 'And this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }]));

seed('oai_embed', 'string', J({ model: 'm', input: 'hello' }));
seed('oai_embed', 'array', J({ model: 'm', input: ['a', 'b'], encoding_format: 'base64', dimensions: 8, user: 'u' }));
seed('oai_embed', 'tokens', J({ model: 'm', input: [[1, 2, 3], [4]] }));
seed('oai_embed', 'list', '!', J({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1, -0.25, 3] }], model: 'm', usage: { prompt_tokens: 2, total_tokens: 2 } }));

// ---- render: byte-coded canonical events (fuzz_render.c) ----
const ev = {
  start: (id = '', model = '') => [0, (model.length << 4) | id.length, ...Buffer.from(id), ...Buffer.from(model)],
  text: (t) => [1, t.length, ...Buffer.from(t)],
  reasoning: (t) => [2, t.length, ...Buffer.from(t)],
  toolStart: (i, id, name) => [(i << 5) | 3, (name.length << 4) | id.length, ...Buffer.from(id), ...Buffer.from(name)],
  toolArgs: (i, t) => [(i << 5) | 4, t.length, ...Buffer.from(t)],
  finish: (k) => [(k << 3) | 5],
  usage: (p, c) => [6, p >> 8, p & 255, c >> 8, c & 255],
  error: () => [7],
};
seed('render', 'text', ev.start('msg_1', 'm'), ev.text('Hello'), ev.text(', world'), ev.finish(0), ev.usage(10, 3));
seed('render', 'tools', ev.start(), ev.reasoning('think'), ev.text('x'), ev.toolStart(0, 'call_1', 'apply_patch'), ev.toolArgs(0, '{"input":"*** Be'), ev.toolStart(1, 'call_2', 'f'), ev.toolArgs(1, '{"a":1}'), ev.toolArgs(0, 'gin"}'), ev.finish(2), ev.usage(5, 9));
seed('render', 'error', ev.start(), ev.text('partial'), ev.error());
seed('render', 'completion', J({ id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi', reasoning_content: 'r', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'apply_patch', arguments: '{"input":"x"}' } }] }, finish_reason: 'tool_calls' }], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7, prompt_tokens_details: { cached_tokens: 1 }, completion_tokens_details: { reasoning_tokens: 2 } } }));

// ---- framers ----
const framer = (name, file, sel, seedv, body) => seed(name, file, [sel, seedv >> 8, seedv & 0xff], body);
framer('sse', 'basic', 5, 0x0101, 'event: message_start\ndata: {"a":1}\n\n: keep-alive\n\ndata: line1\ndata: line2\nid: 7\n\n');
framer('sse', 'crlf_bom', 4, 0x0202, '\ufeffevent:x\r\ndata:y\r\n\r\ndata\rretry: 10\r\rdata: [DONE]\r\n\r\n');
framer('sse', 'limit', 2, 0x0303, 'data: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n\n');
framer('ndjson', 'lines', 3, 0x0101, '{"a":1}\n\r\n{"b":2}\r\n\n{"c":3}');
framer('ndjson', 'limit', 1, 0x0202, '{"long":"0123456789"}\n{}\n');
const esFrames = Buffer.concat([evFrame('messageStart', { role: 'assistant' }), evFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hi' } }), excFrame('throttlingException', 'slow down'), errFrame('InternalFailure', 'boom')]);
seed('eventstream', 'frames', [6, 0x12, 0x34], esFrames);
seed('eventstream', 'fixcrc', [7, 0x00, 0x07], esFrames);
seed('eventstream', 'split', [6, 0xff, 0xff], evFrame('metadata', { usage: { inputTokens: 1, outputTokens: 2 } }).subarray(0, 40));

// ---- config ----
seed('config', 'full', J({
  listen: { host: '127.0.0.1', port: 8080 }, database: 'sb.db', workers: 2, log_level: 'info', cors: { origins: ['https://a.example'] },
  security: { allowed_hosts: ['localhost', '*.example'], credential_env: ['OPENAI_API_KEY', 'FUZZ_*', 'AWS_*'], allow_link_local_upstreams: false },
  limits: { max_body_bytes: 1048576, max_header_bytes: 8192, max_response_bytes: 16777216, idle_timeout_s: 60, request_timeout_s: 600, connect_timeout_ms: 5000, stream_idle_timeout_s: 60, shutdown_grace_s: 5, max_json_depth: 64 },
  providers: [
    { name: 'openai', kind: 'openai', base_url: 'https://api.openai.com/v1/', api_key_env: 'OPENAI_API_KEY', models: ['gpt-4o'], headers: { 'X-Org': '${FUZZ_SET}' }, forward_headers: ['X-Trace'], stream_usage: true },
    { name: 'claude', kind: 'anthropic', base_url: 'https://api.anthropic.com/v1', options: { anthropic_version: '2023-06-01', betas: ['a'], default_max_tokens: 4096 } },
    { name: 'local', kind: 'ollama', base_url: 'http://127.0.0.1:11434', passthrough_auth: true, options: { keep_alive: '5m', num_ctx: 4096 } },
    { name: 'aws', kind: 'bedrock', options: { region: 'eu-west-3' } },
  ],
  routes: { smart: { targets: ['openai/gpt-4o', 'echo/echo-1'] } },
}));
seed('config', 'minimal', J({ listen: { port: 9000 } }));
seed('config', 'bad', J({ providers: [{ name: 'x', kind: 'openai', api_key: 'sk-literal' }] }));
seed('config', 'huge_numbers', '{"workers":1e300,"limits":{"idle_timeout_s":-1e999}}');
seed('config', 'repeated', '{"security":{"allowed_hosts":["a"],"allowed_hosts":["b"],"credential_env":["X"],"credential_env":[]}}');
seed('config', 'expand', '$Bearer ${FUZZ_SET} and ${FUZZ_UNSET} ${');

// JSON-RPC: flags (bit 0 batches allowed, the rest the depth limit), body.
seed('jsonrpc', 'initialize', [0x40], J({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: { sampling: {} }, clientInfo: { name: 'c', version: '1' } } }));
seed('jsonrpc', 'notification', [0x40], J({ jsonrpc: '2.0', method: 'notifications/initialized' }));
seed('jsonrpc', 'call', [0x40], J({ jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'chat', arguments: { model: 'echo/echo-1' }, _meta: { progressToken: 7 } } }));
seed('jsonrpc', 'responses', [0x41], J([{ jsonrpc: '2.0', id: 3, result: { content: [] } }, { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'x' } }]));
seed('jsonrpc', 'batch_mixed', [0x41], J([{ jsonrpc: '2.0', id: 1, method: 'ping' }, 5, { jsonrpc: '1.0' }, { jsonrpc: '2.0', id: 1.5, method: 'x', params: [] }]));
seed('json', 'nested', [3], J({ a: [{ b: ['[', '{"'] }] }));
seed('json', 'escapes', [2], '{"a\\"[":"\\\\","b":[[1]]}');
seed('json', 'answer', [8], J({ id: 'c', choices: [{ message: { content: 'caf\u00e9 \ud83d\ude00' } }], usage: { prompt_tokens: 1e2, completion_tokens: 0.5 }, a: -0 }));

// ---- providers ----
const oaiCompletion = { id: 'chatcmpl-1', object: 'chat.completion', created: 1700000000, model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi', reasoning: 'r', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }, finish_reason: 'eos', logprobs: null }], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 }, x_groq: { usage: { prompt_tokens: 5 } } };
const oaiChunks = sse([
  [null, { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] }],
  [null, { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { reasoning_content: 'hmm' } }] }],
  [null, { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'Hello' } }] }],
  [null, { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a"' } }] } }] }],
  [null, { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: ':1}' } }] } }] }],
  [null, { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }],
  [null, { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7, prompt_tokens_details: { cached_tokens: 1 } } }],
  [null, '[DONE]'],
]);
const oaiError = J({ error: { message: 'Rate limit', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' } });
prov('openai', 'chat', 'chat', J(oaiCompletion));
prov('openai', 'stream', 'stream', oaiChunks);
prov('openai', 'error', 'error', oaiError, 0x01ad);
prov('openai', 'models', 'models', J({ object: 'list', data: [{ id: 'gpt-4o', object: 'model' }, { id: 'o3' }] }));
seed('openai', 'relay_body', [0xc1], J(oaiCompletion));
seed('openai', 'relay_body_plain', [0xc0], J({ id: 'chatcmpl-2', object: 'chat.completion', created: 1, model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 12, completion_tokens: 3.5, prompt_tokens_details: { cached_tokens: 2 }, completion_tokens_details: { reasoning_tokens: 1e1 } } }));
seed('openai', 'relay_stream', [0xe3, 0x12, 0x34], oaiChunks);
seed('openai', 'relay_stream_plain', [0xe0, 0x12, 0x34], sse([
  [null, { id: 'c2', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: 'caf\u00e9 \ud83d\ude00' } }], usage: null }],
  [null, { id: 'c2', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"a":"\\u0000"}' } }] }, finish_reason: 'tool_calls' }], usage: null }],
  [null, { id: 'c2', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, completion_tokens_details: { reasoning_tokens: 1 } } }],
  [null, '[DONE]'],
]));
seed('openai', 'relay_error', [0xe0, 0x00, 0x05], sse([[null, { error: { message: 'overloaded', type: 'server_error' } }]]));

const anthMsg = { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', content: [{ type: 'thinking', thinking: 'hmm', signature: 'sig' }, { type: 'text', text: 'Hi' }, { type: 'tool_use', id: 'toolu_1', name: 'f', input: { a: 1 } }], stop_reason: 'tool_use', stop_sequence: null, usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 2, cache_creation_input_tokens: 1 } };
prov('anthropic', 'chat', 'chat', J(anthMsg));
prov('anthropic', 'stream', 'stream', sse([
  ['message_start', { type: 'message_start', message: { ...anthMsg, content: [], stop_reason: null, usage: { input_tokens: 10, output_tokens: 1 } } }],
  ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } }],
  ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hmm' } }],
  ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig' } }],
  ['content_block_stop', { type: 'content_block_stop', index: 0 }],
  ['content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } }],
  ['ping', { type: 'ping' }],
  ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Hello' } }],
  ['content_block_stop', { type: 'content_block_stop', index: 1 }],
  ['content_block_start', { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} } }],
  ['content_block_delta', { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"a":' } }],
  ['content_block_delta', { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '1}' } }],
  ['content_block_stop', { type: 'content_block_stop', index: 2 }],
  ['message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 15 } }],
  ['message_stop', { type: 'message_stop' }],
]));
prov('anthropic', 'stream_error', 'stream', sse([['error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }]]));
prov('anthropic', 'error', 'error', J({ type: 'error', error: { type: 'rate_limit_error', message: 'slow' } }), 0x0103);
prov('anthropic', 'models', 'models', J({ data: [{ id: 'claude-sonnet-4-5', type: 'model' }], has_more: false, first_id: 'a', last_id: 'b' }));

const gemUsage = { promptTokenCount: 8, candidatesTokenCount: 4, totalTokenCount: 14, thoughtsTokenCount: 2, cachedContentTokenCount: 1 };
const gemAnswer = { candidates: [{ content: { role: 'model', parts: [{ text: 'think', thought: true, thoughtSignature: 'c2ln' }, { text: 'Hi' }, { functionCall: { name: 'f', args: { a: 1 } } }] }, finishReason: 'STOP', index: 0, safetyRatings: [] }], usageMetadata: gemUsage, modelVersion: 'gemini-2.5', responseId: 'r1' };
prov('gemini', 'chat', 'chat', J(gemAnswer));
prov('gemini', 'blocked', 'chat', J({ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 3 } }));
prov('gemini', 'stream', 'stream', [
  `data: ${J({ candidates: [{ content: { role: 'model', parts: [{ text: 'He' }] } }], usageMetadata: { promptTokenCount: 8 }, modelVersion: 'g', responseId: 'r1' })}\r\n\r\n`,
  `data: ${J({ candidates: [{ content: { role: 'model', parts: [{ text: 'llo' }, { functionCall: { name: 'f', args: {} } }] }, finishReason: 'MAX_TOKENS' }], usageMetadata: gemUsage })}\r\n\r\n`,
].join(''));
prov('gemini', 'error', 'error', J({ error: { code: 429, message: 'Resource exhausted', status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '7s' }] } }), 0x0080);
prov('gemini', 'embed', 'embed', J({ embeddings: [{ values: [0.1, 0.2] }, { values: [0.3, 0.4] }] }), 0x0001);
prov('gemini', 'models', 'models', J({ models: [{ name: 'models/gemini-2.5-flash', supportedGenerationMethods: ['generateContent'] }], nextPageToken: '' }));

const cohereUsage = { billed_units: { input_tokens: 5, output_tokens: 3 }, tokens: { input_tokens: 7, output_tokens: 3 }, cached_tokens: 1 };
prov('cohere', 'chat', 'chat', J({ id: 'c1', finish_reason: 'TOOL_CALL', message: { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm' }, { type: 'text', text: 'Hi' }], tool_plan: 'plan', tool_calls: [{ id: 'tc_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }, usage: cohereUsage }));
prov('cohere', 'stream', 'stream', sse([
  ['message-start', { id: 'c1', type: 'message-start', delta: { message: { role: 'assistant', content: [], tool_plan: '', tool_calls: [], citations: [] } } }],
  ['content-start', { type: 'content-start', index: 0, delta: { message: { content: { type: 'text', text: '' } } } }],
  ['content-delta', { type: 'content-delta', index: 0, delta: { message: { content: { text: 'Hello' } } } }],
  ['content-end', { type: 'content-end', index: 0 }],
  ['tool-plan-delta', { type: 'tool-plan-delta', delta: { message: { tool_plan: 'plan' } } }],
  ['tool-call-start', { type: 'tool-call-start', index: 0, delta: { message: { tool_calls: { id: 'tc_1', type: 'function', function: { name: 'f', arguments: '' } } } } }],
  ['tool-call-delta', { type: 'tool-call-delta', index: 0, delta: { message: { tool_calls: { function: { arguments: '{"a":1}' } } } } }],
  ['tool-call-end', { type: 'tool-call-end', index: 0 }],
  ['message-end', { type: 'message-end', delta: { finish_reason: 'TOOL_CALL', usage: cohereUsage } }],
  [null, '[DONE]'],
]));
prov('cohere', 'error', 'error', J({ id: 'e', message: 'too many tokens' }), 0x0064);
prov('cohere', 'embed', 'embed', J({ id: 'e1', embeddings: { float: [[0.1, 0.2], [0.3, 0.4]] }, texts: ['one', 'two'], meta: { billed_units: { input_tokens: 2 } } }), 0x0001);
prov('cohere', 'models', 'models', J({ models: [{ name: 'command-r', endpoints: ['chat'] }], next_page_token: null }));

prov('ollama', 'chat', 'chat', J({ model: 'llama3', created_at: '2025-01-01T00:00:00Z', message: { role: 'assistant', content: 'Hi', thinking: 'hmm', tool_calls: [{ function: { name: 'f', arguments: { a: 1 } } }] }, done: true, done_reason: 'stop', total_duration: 1, prompt_eval_count: 9, eval_count: 4 }));
prov('ollama', 'stream', 'stream', ndjson([
  { model: 'llama3', created_at: 't', message: { role: 'assistant', content: '', thinking: 'hm' }, done: false },
  { model: 'llama3', created_at: 't', message: { role: 'assistant', content: 'Hello' }, done: false },
  { model: 'llama3', created_at: 't', message: { role: 'assistant', content: '', tool_calls: [{ function: { name: 'f', arguments: { city: 'Paris' } } }] }, done: false },
  { model: 'llama3', created_at: 't', message: { role: 'assistant', content: '' }, done: true, done_reason: 'length', prompt_eval_count: 9, eval_count: 4 },
]));
prov('ollama', 'stream_error', 'stream', ndjson([{ model: 'llama3', message: { role: 'assistant', content: 'x' }, done: false }, { error: 'model crashed' }]));
prov('ollama', 'error', 'error', J({ error: 'model "x" not found, try pulling it first' }), 0x0068);
prov('ollama', 'embed', 'embed', J({ model: 'nomic', embeddings: [[0.1, 0.2], [0.3, 0.4]], prompt_eval_count: 4 }), 0x0001);
prov('ollama', 'models', 'models', J({ models: [{ name: 'llama3:latest', model: 'llama3:latest', size: 1 }] }));

const brUsage = { inputTokens: 10, outputTokens: 4, totalTokens: 14, cacheReadInputTokens: 2 };
prov('bedrock', 'chat', 'chat', J({ output: { message: { role: 'assistant', content: [{ reasoningContent: { reasoningText: { text: 'hmm', signature: 'sig' } } }, { text: 'Hi' }, { toolUse: { toolUseId: 'tooluse_1', name: 'f', input: { a: 1 } } }] } }, stopReason: 'tool_use', usage: brUsage, metrics: { latencyMs: 5 } }));
const brEvents = [
  ['messageStart', { role: 'assistant' }],
  ['contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { text: 'hmm' } } }],
  ['contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { signature: 'sig' } } }],
  ['contentBlockStop', { contentBlockIndex: 0 }],
  ['contentBlockDelta', { contentBlockIndex: 1, delta: { text: 'Hi' } }],
  ['contentBlockStop', { contentBlockIndex: 1 }],
  ['contentBlockStart', { contentBlockIndex: 2, start: { toolUse: { toolUseId: 'tooluse_1', name: 'f' } } }],
  ['contentBlockDelta', { contentBlockIndex: 2, delta: { toolUse: { input: '{"a":' } } }],
  ['contentBlockDelta', { contentBlockIndex: 2, delta: { toolUse: { input: '1}' } } }],
  ['contentBlockStop', { contentBlockIndex: 2 }],
  ['messageStop', { stopReason: 'tool_use' }],
  ['metadata', { usage: brUsage, metrics: { latencyMs: 5 } }],
];
prov('bedrock', 'stream', 'stream', Buffer.concat(brEvents.map(([t, o]) => evFrame(t, o))));
prov('bedrock', 'stream_exception', 'stream', Buffer.concat([evFrame('messageStart', { role: 'assistant' }), excFrame('throttlingException', 'Too many requests')]));
seed('bedrock', 'payloads', [0xc0, 0x12, 0x34], sse(brEvents));
seed('bedrock', 'payloads_exception', [0xc0, 0x00, 0x03], sse([['messageStart', { role: 'assistant' }], ['!modelStreamErrorException', { message: 'boom', originalStatusCode: 500 }]]));
prov('bedrock', 'error', 'error', J({ message: 'Too many requests, please wait before trying again.' }), 0x0081);
prov('bedrock', 'embed_titan', 'embed', J({ embedding: [0.1, 0.2, 0.3], inputTextTokenCount: 3 }), 0x0000);
prov('bedrock', 'embed_cohere', 'embed', J({ id: 'e', embeddings: [[0.1], [0.2]], texts: ['one', 'two'], response_type: 'embeddings_floats' }), 0x0001);

// Regression inputs: numbers no integer type holds, where counts and
// indexes are read (cast to int64_t/int before the fix, undefined).
prov('gemini', 'huge_numbers', 'chat', J({ candidates: [{ index: 1e300, content: { parts: [{ text: 'x' }] }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 9e18, toolUsePromptTokenCount: 9e18, candidatesTokenCount: 1e300 } }));
prov('cohere', 'huge_numbers', 'chat', J({ id: 'c', finish_reason: 'COMPLETE', message: { role: 'assistant', content: [{ type: 'text', text: 'x' }] }, usage: { tokens: { input_tokens: 1e300, output_tokens: -1e300 }, cached_tokens: 1e300 } }));
prov('ollama', 'huge_numbers', 'chat', J({ model: 'l', message: { role: 'assistant', content: 'x' }, done: true, prompt_eval_count: 1e300, eval_count: 1e300 }));
prov('openai', 'huge_numbers', 'chat', J({ choices: [{ message: { role: 'assistant', content: 'x' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1e300, completion_tokens: 1e300 } }));
prov('anthropic', 'huge_numbers', 'chat', J({ id: 'm', type: 'message', role: 'assistant', content: [{ type: 'text', text: 'x' }], stop_reason: 'end_turn', usage: { input_tokens: 1e300, output_tokens: 9e18, cache_read_input_tokens: 9e18 } }));
prov('bedrock', 'huge_numbers', 'chat', J({ output: { message: { role: 'assistant', content: [{ text: 'x' }] } }, stopReason: 'end_turn', usage: { inputTokens: 1e300, outputTokens: 1e300, totalTokens: 1 } }));
seed('render', 'completion_huge', J({ choices: [{ message: { role: 'assistant', content: 'x' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1e300, completion_tokens: -1e300, total_tokens: 1e300 } }));

// Histogram blobs: (bucket, count) varints as store/rollup.c writes them.
// answer: mode 0 and a log of event records (canon_ev_encode's lines), or
// mode 1 and a stored chat.completion.
seed('answer', 'log', [0], [
  { type: 'start', id: 'chatcmpl-1', model: 'm' }, { type: 'reasoning', text: 'think', signature: 'c2ln', format: 'anthropic-claude-v1' },
  { type: 'text', text: 'Hello "world"\n' }, { type: 'tool_start', id: 'call_1', name: 'f' }, { type: 'tool_args', text: '{"a":1}' },
  { type: 'finish', finish_reason: 'tool_calls' }, { type: 'usage', usage: { prompt_tokens: 3, completion_tokens: 4, cached_tokens: -1, reasoning_tokens: -1 } },
  { type: 'error', error: { status: 502, type: 'upstream_error', code: 'x', param: '', message: 'm', retry_after_s: 0, retry_after_ms: 0, final: 0 } },
].map((e) => J(e) + '\n').join(''));
seed('answer', 'completion', [1], J({
  id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hi', reasoning_content: 'hmm',
    reasoning_details: [{ type: 'reasoning.text', text: 'hmm', signature: 'c2ln', format: 'anthropic-claude-v1' }, { type: 'reasoning.encrypted', data: 'ZW5j', format: 'anthropic-claude-v1' }],
    tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'tool_calls' }],
  usage: { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11, prompt_tokens_details: { cached_tokens: 2 }, completion_tokens_details: { reasoning_tokens: 1 } },
}));
seed('hist', 'empty', '');
seed('hist', 'one', [5, 1]);
seed('hist', 'spread', [0, 3, 10, 200, 1, 21, 7, 40, 2, 81, 1]);
seed('hist', 'big_count', [30, 0xff, 0xff, 0xff, 0xff, 0x0f]);

rmSync(ROOT, { recursive: true, force: true });
let total = 0;
for (const [name, files] of Object.entries(corpora)) {
  mkdirSync(join(ROOT, name), { recursive: true });
  for (const [file, buf] of files) {
    writeFileSync(join(ROOT, name, file), buf);
    total += buf.length;
  }
}
console.log(`wrote ${Object.keys(corpora).length} corpora, ${total} bytes`);

// ---- dictionaries: the JSON keys and values each parser compares with
// (its C string literals), quoted, plus numbers at the edges of the
// integer types; libFuzzer splices them into inputs (-dict=).
const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DICT_SOURCES = {
  oai_chat: ['codec/oai_chat.c'], anth_msgs: ['codec/anth_msgs.c'], oai_resp: ['codec/oai_resp.c'], oai_embed: ['codec/oai_embed.c'], trim: ['codec/trim.c'],
  render: ['codec/oai_stream.c', 'codec/oai_resp.c', 'codec/anth_msgs.c'], config: ['config/config.c'],
  openai: ['providers/openai.c'], anthropic: ['providers/anthropic.c'], gemini: ['providers/gemini.c'], cohere: ['providers/cohere.c'],
  ollama: ['providers/ollama.c'], bedrock: ['providers/bedrock.c'], jsonrpc: ['mcp/jsonrpc.c'],
  answer: ['codec/canon_answer.c'],
};
const NUMBERS = ['0', '-1', '1e999', '-1e999', '1e300', '2147483648', '-2147483649', '9223372036854775808', '0.5', 'null', 'true', 'false', '[]', '{}', '""'];
const dictDir = join(dirname(fileURLToPath(import.meta.url)), 'dict');
rmSync(dictDir, { recursive: true, force: true });
mkdirSync(dictDir, { recursive: true });
for (const [name, files] of Object.entries(DICT_SOURCES)) {
  const words = new Set();
  for (const f of files)
    for (const m of readFileSync(join(SRC, f), 'utf8').matchAll(/"([A-Za-z_][A-Za-z0-9_.:\-]{1,40})"/g)) words.add(`"\\"${m[1]}\\""`);
  for (const n of NUMBERS) words.add(J(n));
  writeFileSync(join(dictDir, `${name}.dict`), [...words].sort().join('\n') + '\n');
}
