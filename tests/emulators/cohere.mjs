// A strict, deterministic emulator of Cohere's v2 Chat and Embed APIs
// (the provider's public API reference), for Switchboard's tests.
//
// Library:  const emu = await startCohereEmulator({apiKey: 'co-...'});
//           emu.url  -> 'http://127.0.0.1:PORT' (the base: POST /v2/chat,
//           POST /v2/embed, GET /v1/models); emu.stats; await emu.close();
// CLI:      node tests/emulators/cohere.mjs --port 8001 --api-key KEY
//                [--host H] [--models a,b]
//
// Answers:  "You said: <last user text>", one word per content-delta.
//           After tool results (the last message is role "tool"):
//           "Tool results: <contents joined with '; '>".
//           Tool calls: with tools and tool_choice "REQUIRED", the model
//           calls the first two tools (one when only one is sent); with
//           tools, no tool_choice and a last user text containing the word
//           "tool", it calls the first tool. tool_choice "NONE" never calls.
//           Arguments give every declared property a value (strings get
//           the user text). A tool_plan ("I will call <names>.") comes first.
//           response_format json_object: the answer is JSON (an example of
//           json_schema when given, else {"answer": "<text>"}).
//           thinking enabled: a thinking content block comes first.
//           max_tokens cuts the answer (MAX_TOKENS); a stop sequence found
//           in it cuts it there (STOP_SEQUENCE). A token is a word.
// Strict:   Bearer auth; model and messages required; unknown top-level
//           fields, wrong types, out-of-range values, invalid roles,
//           content part types a role does not take, tool messages whose
//           tool_call_id no earlier assistant tool call carries, and
//           tool_choice without tools are all 400 {"id","message"};
//           unknown models 404.
// Embed:    POST /v2/embed (§5.6) with the real validation: model,
//           input_type (search_document|search_query|classification|
//           clustering|image) and exactly one of texts (1..96 strings) /
//           images / inputs; embedding_types (float|int8|uint8|binary|
//           ubinary|base64, default float), output_dimension (256|512|
//           1024|1536, embed-v4 models only), truncate (NONE|START|END),
//           max_tokens; chat models refused. Vectors are deterministic
//           (embedVector(text, dims), values k/256 in [-1, 1], exact in
//           float32), one token per word; with truncate NONE a text longer
//           than the model's context (512 tokens for v3 models) is a 400.
//           Answer: {id, response_type:"embeddings_by_type", embeddings:
//           {<type>:[[...]]}, texts, meta:{api_version, billed_units:
//           {input_tokens}}}. Faults as for chat (stall hangs,
//           malformed-chunk sends half a body).
// Faults, chosen by model name (FAULT_MODELS): fault-400, fault-401,
//           fault-422, fault-429 (retry-after), fault-498, fault-500,
//           fault-503, slow-stream, stall, reset-mid-stream,
//           error-mid-stream (message-end with finish_reason ERROR),
//           malformed-chunk, sse-edge (a correct answer framed with SSE
//           edge cases and a trailing data: [DONE]).
//
// No dependencies beyond node:*.

import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

export const DEFAULT_MODELS = ['command-a-03-2025', 'command-r7b-12-2024', 'command-a-vision-07-2025'];
/** Embed models and their native sizes and contexts (tokens). */
export const EMBED_MODELS = {
  'embed-v4.0': { dims: 1536, context: 128000, outputDimension: true },
  'embed-english-v3.0': { dims: 1024, context: 512 },
  'embed-multilingual-v3.0': { dims: 1024, context: 512 },
  'embed-english-light-v3.0': { dims: 384, context: 512 },
  'embed-multilingual-light-v3.0': { dims: 384, context: 512 },
};
export const EMBED_MAX_TEXTS = 96;
export const FAULT_MODELS = [
  'fault-400', 'fault-401', 'fault-422', 'fault-429', 'fault-498', 'fault-500', 'fault-503',
  'slow-stream', 'stall', 'reset-mid-stream', 'error-mid-stream', 'malformed-chunk', 'sse-edge',
];

export const SLOW_CHUNKS = 30;
export const SLOW_INTERVAL_MS = 100;
/** content-delta events sent by reset-mid-stream / error-mid-stream before failing. */
export const MID_STREAM_CHUNKS = 3;

// Top-level fields of POST /v2/chat (§5.2) and their types.
const PARAMS = {
  model: { type: 'string' },
  messages: { type: 'array' },
  stream: { type: 'boolean' },
  tools: { type: 'array' },
  strict_tools: { type: 'boolean' },
  documents: { type: 'array' },
  citation_options: { type: 'object' },
  response_format: { type: 'object' },
  safety_mode: { type: 'string', enum: ['CONTEXTUAL', 'STRICT', 'OFF'] },
  max_tokens: { type: 'integer', min: 1 },
  stop_sequences: { type: 'array' },
  temperature: { type: 'number', min: 0 },
  seed: { type: 'integer' },
  frequency_penalty: { type: 'number', min: 0, max: 1 },
  presence_penalty: { type: 'number', min: 0, max: 1 },
  k: { type: 'integer', min: 0, max: 500 },
  p: { type: 'number', min: 0.01, max: 0.99 },
  logprobs: { type: 'boolean' },
  tool_choice: { type: 'string', enum: ['REQUIRED', 'NONE'] },
  thinking: { type: 'object' },
  priority: { type: 'integer', min: 0 },
};

const PARTS_BY_ROLE = {
  system: ['text'],
  user: ['text', 'image_url'],
  assistant: ['text', 'thinking'],
  tool: ['text', 'document'],
};

class ApiError extends Error {
  constructor(status, message, headers = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
  body() {
    return { id: randomUUID(), message: this.message };
  }
}

const invalid = (msg) => new ApiError(400, `invalid request: ${msg}`);
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function typeName(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(v, t) {
  switch (t) {
    case 'string': return typeof v === 'string';
    case 'boolean': return typeof v === 'boolean';
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'array': return Array.isArray(v);
    case 'object': return isObject(v);
    default: return false;
  }
}

function checkParam(key, v, spec) {
  if (!typeMatches(v, spec.type)) {
    throw invalid(`${key} must be of type ${spec.type}, got ${typeName(v)}`);
  }
  if (spec.min !== undefined && v < spec.min) throw invalid(`${key} must be at least ${spec.min}, got ${v}`);
  if (spec.max !== undefined && v > spec.max) throw invalid(`${key} must be at most ${spec.max}, got ${v}`);
  if (spec.enum && !spec.enum.includes(v)) {
    throw invalid(`${key} must be one of ${spec.enum.join(', ')}, got '${v}'`);
  }
}

function checkContent(content, role, p) {
  if (typeof content === 'string') return;
  if (!Array.isArray(content)) throw invalid(`${p} must be a string or an array of content items`);
  content.forEach((part, j) => {
    const q = `${p}[${j}]`;
    if (!isObject(part)) throw invalid(`${q} must be an object`);
    if (!PARTS_BY_ROLE[role].includes(part.type)) {
      throw invalid(`${q}.type '${part.type}' is not valid for role '${role}'; expected one of ${PARTS_BY_ROLE[role].join(', ')}`);
    }
    if (part.type === 'text' && typeof part.text !== 'string') throw invalid(`${q}.text is required`);
    if (part.type === 'thinking' && typeof part.thinking !== 'string') throw invalid(`${q}.thinking is required`);
    if (part.type === 'document' && !isObject(part.document)) throw invalid(`${q}.document is required`);
    if (part.type === 'image_url') {
      const url = isObject(part.image_url) ? part.image_url.url : undefined;
      if (typeof url !== 'string') throw invalid(`${q}.image_url.url is required`);
      if (!/^data:image\/(png|jpeg|jpg|gif|webp);base64,/.test(url) && !/^https?:\/\//.test(url)) {
        throw invalid(`${q}.image_url.url must be a base64 data URL or an http(s) URL`);
      }
      const d = part.image_url.detail;
      if (d !== undefined && !['auto', 'low', 'high'].includes(d)) throw invalid(`${q}.image_url.detail must be one of auto, low, high`);
    }
  });
}

function validateMessages(messages) {
  if (messages.length === 0) throw invalid('messages must contain at least one message');
  const callIds = new Set();
  messages.forEach((m, i) => {
    const p = `messages[${i}]`;
    if (!isObject(m)) throw invalid(`${p} must be an object`);
    if (!['system', 'user', 'assistant', 'tool'].includes(m.role)) {
      throw invalid(`${p}.role '${m.role}' is not a valid role; expected one of system, user, assistant, tool`);
    }
    for (const k of Object.keys(m)) {
      const allowed = {
        system: ['role', 'content'],
        user: ['role', 'content'],
        assistant: ['role', 'content', 'tool_plan', 'tool_calls', 'citations'],
        tool: ['role', 'tool_call_id', 'content'],
      }[m.role];
      if (!allowed.includes(k)) throw invalid(`unknown field ${p}.${k}`);
    }
    if (m.role === 'assistant') {
      if (m.content === undefined && m.tool_calls === undefined) {
        throw invalid(`${p} must have content or tool_calls`);
      }
      if (m.content !== undefined) checkContent(m.content, 'assistant', `${p}.content`);
      if (m.tool_plan !== undefined && typeof m.tool_plan !== 'string') throw invalid(`${p}.tool_plan must be a string`);
      if (m.tool_calls !== undefined) {
        if (!Array.isArray(m.tool_calls)) throw invalid(`${p}.tool_calls must be an array`);
        m.tool_calls.forEach((tc, k) => {
          const q = `${p}.tool_calls[${k}]`;
          if (!isObject(tc) || typeof tc.id !== 'string' || tc.type !== 'function' || !isObject(tc.function) ||
              typeof tc.function.name !== 'string' || typeof tc.function.arguments !== 'string') {
            throw invalid(`${q} must be {"id","type":"function","function":{"name","arguments":string}}`);
          }
          callIds.add(tc.id);
        });
      }
      return;
    }
    if (m.content === undefined) throw invalid(`${p}.content is required`);
    checkContent(m.content, m.role, `${p}.content`);
    if (m.role === 'tool') {
      if (typeof m.tool_call_id !== 'string') throw invalid(`${p}.tool_call_id is required`);
      if (!callIds.has(m.tool_call_id)) {
        throw invalid(`${p}.tool_call_id '${m.tool_call_id}' does not match any tool call of an earlier assistant message`);
      }
    }
  });
}

function validateTools(tools) {
  tools.forEach((t, i) => {
    const p = `tools[${i}]`;
    if (!isObject(t) || t.type !== 'function') throw invalid(`${p}.type must be 'function'`);
    if (!isObject(t.function) || typeof t.function.name !== 'string') throw invalid(`${p}.function.name is required`);
    for (const k of Object.keys(t.function)) {
      if (!['name', 'description', 'parameters'].includes(k)) throw invalid(`unknown field ${p}.function.${k}`);
    }
    if (t.function.parameters !== undefined && !isObject(t.function.parameters)) {
      throw invalid(`${p}.function.parameters must be an object`);
    }
  });
}

/** Validate a v2 chat request the way api.cohere.com does. Throws ApiError. */
export function validateChatRequest(body) {
  if (!isObject(body)) throw invalid('body must be a JSON object');
  for (const key of Object.keys(body)) {
    if (!(key in PARAMS)) throw invalid(`unknown field: parameter ${key} is not a valid field`);
  }
  if (body.model === undefined) throw invalid('model is required');
  if (body.messages === undefined) throw invalid('messages is required');
  for (const [key, spec] of Object.entries(PARAMS)) {
    if (body[key] !== undefined) checkParam(key, body[key], spec);
  }
  validateMessages(body.messages);
  if (body.tools !== undefined) validateTools(body.tools);
  if (body.tool_choice !== undefined && !(body.tools && body.tools.length)) {
    throw invalid('tool_choice requires tools to be specified');
  }
  if (body.stop_sequences !== undefined) {
    if (body.stop_sequences.length > 5 || body.stop_sequences.some((s) => typeof s !== 'string')) {
      throw invalid('stop_sequences must be an array of at most 5 strings');
    }
  }
  if (body.response_format !== undefined) {
    const rf = body.response_format;
    if (!['text', 'json_object'].includes(rf.type)) throw invalid(`response_format.type must be one of text, json_object, got '${rf.type}'`);
    if (rf.json_schema !== undefined && !isObject(rf.json_schema)) throw invalid('response_format.json_schema must be an object');
  }
  if (body.thinking !== undefined) {
    const t = body.thinking;
    if (!['enabled', 'disabled'].includes(t.type)) throw invalid(`thinking.type must be one of enabled, disabled`);
    if (t.token_budget !== undefined && !(Number.isInteger(t.token_budget) && t.token_budget > 0)) {
      throw invalid('thinking.token_budget must be a positive integer');
    }
  }
}

// Top-level fields of POST /v2/embed (§5.6) and their types.
const EMBED_PARAMS = {
  model: { type: 'string' },
  input_type: { type: 'string', enum: ['search_document', 'search_query', 'classification', 'clustering', 'image'] },
  texts: { type: 'array' },
  images: { type: 'array' },
  inputs: { type: 'array' },
  embedding_types: { type: 'array' },
  output_dimension: { type: 'integer', enum: [256, 512, 1024, 1536] },
  truncate: { type: 'string', enum: ['NONE', 'START', 'END'] },
  max_tokens: { type: 'integer', min: 1 },
  priority: { type: 'integer', min: 0 },
};
const EMBEDDING_TYPES = ['float', 'int8', 'uint8', 'binary', 'ubinary', 'base64'];

/** Validate a v2 embed request the way api.cohere.com does. Throws ApiError. */
export function validateEmbedRequest(body) {
  if (!isObject(body)) throw invalid('body must be a JSON object');
  for (const key of Object.keys(body)) {
    if (!(key in EMBED_PARAMS)) throw invalid(`unknown field: parameter ${key} is not a valid field`);
  }
  if (body.model === undefined) throw invalid('model is required');
  for (const [key, spec] of Object.entries(EMBED_PARAMS)) {
    if (body[key] !== undefined) checkParam(key, body[key], spec);
  }
  if (body.input_type === undefined) throw invalid('input_type is required for embed models v3 and higher');
  const given = ['texts', 'images', 'inputs'].filter((k) => body[k] !== undefined);
  if (given.length !== 1) throw invalid('exactly one of texts, images or inputs must be provided');
  if (body.texts !== undefined) {
    if (body.texts.length === 0) throw invalid('texts must contain at least one text');
    if (body.texts.length > EMBED_MAX_TEXTS) {
      throw invalid(`texts must contain at most ${EMBED_MAX_TEXTS} texts, got ${body.texts.length}`);
    }
    body.texts.forEach((t, i) => {
      if (typeof t !== 'string') throw invalid(`texts[${i}] must be of type string, got ${typeName(t)}`);
    });
    if (body.input_type === 'image') throw invalid("input_type 'image' requires images");
  }
  if (body.embedding_types !== undefined) {
    if (body.embedding_types.length === 0) throw invalid('embedding_types must contain at least one type');
    body.embedding_types.forEach((t, i) => {
      if (!EMBEDDING_TYPES.includes(t)) {
        throw invalid(`embedding_types[${i}] must be one of ${EMBEDDING_TYPES.join(', ')}, got '${t}'`);
      }
    });
    if (new Set(body.embedding_types).size !== body.embedding_types.length) throw invalid('embedding_types must not repeat a type');
  }
}

/** The emulator's vector for a text: dims values k/256 in [-1, 1]. */
export function embedVector(text, dims) {
  const v = new Array(dims);
  let h = 2166136261;
  for (const ch of Buffer.from(text, 'utf8')) h = Math.imul(h ^ ch, 16777619) >>> 0;
  for (let j = 0; j < dims; j++) {
    h = Math.imul(h ^ (j + 1), 16777619) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    v[j] = ((h % 513) - 256) / 256;
  }
  return v;
}

function embeddingOf(type, v) {
  const bits = (unsigned) => {
    const out = [];
    for (let i = 0; i < v.length; i += 8) {
      let b = 0;
      for (let k = 0; k < 8; k++) b = (b << 1) | (v[i + k] > 0 ? 1 : 0);
      out.push(unsigned ? b : b - 128);
    }
    return out;
  };
  switch (type) {
    case 'float': return v;
    case 'int8': return v.map((x) => Math.max(-128, Math.min(127, Math.round(x * 127))));
    case 'uint8': return v.map((x) => Math.round((x + 1) * 127.5));
    case 'binary': return bits(false);
    case 'ubinary': return bits(true);
    case 'base64': {
      const buf = Buffer.alloc(v.length * 4);
      v.forEach((x, i) => buf.writeFloatLE(x, i * 4));
      return buf.toString('base64');
    }
    default: return null;
  }
}

// ----------------------------------------------------------------------------
// Deterministic answers

function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.filter((p) => p.type === 'text').map((p) => p.text).join(' ');
  return '';
}

export function lastUserText(messages) {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'user') return textOf(messages[i].content);
  }
  return '';
}

export const countWords = (s) => s.split(/\s+/).filter(Boolean).length;
/** One word per fragment, with its leading space. */
export const fragments = (s) => s.match(/\s*\S+|\s+$/g) || [];

function exampleValue(schema, text) {
  if (schema && Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  switch (schema && schema.type) {
    case 'string': return text;
    case 'integer': case 'number': return 1;
    case 'boolean': return true;
    case 'array': return [];
    case 'object': {
      const out = {};
      for (const [k, s] of Object.entries(schema.properties || {})) out[k] = exampleValue(s, text);
      return out;
    }
    default: return null;
  }
}

function promptTokens(body) {
  let n = 0;
  for (const m of body.messages) {
    n += countWords(textOf(m.content)) + 1;
    if (Array.isArray(m.tool_calls)) for (const tc of m.tool_calls) n += countWords(JSON.stringify(tc));
  }
  if (body.tools) n += countWords(JSON.stringify(body.tools).replace(/[{}[\]",:]/g, ' '));
  return n;
}

function chooseTools(body) {
  const tools = body.tools || [];
  if (!tools.length || body.tool_choice === 'NONE') return [];
  const last = body.messages[body.messages.length - 1];
  if (body.tool_choice === 'REQUIRED') return tools.slice(0, 2);
  if (last.role === 'user' && /\btools?\b/i.test(textOf(last.content))) return tools.slice(0, 1);
  return [];
}

/** What the model says: {thinking, text, toolPlan, toolCalls, finish, usage}. */
function planAnswer(body, seq) {
  const user = lastUserText(body.messages);
  const last = body.messages[body.messages.length - 1];
  const calls = chooseTools(body);
  const plan = { thinking: '', text: '', toolPlan: '', toolCalls: [], finish: 'COMPLETE' };
  if (body.thinking && body.thinking.type === 'enabled') plan.thinking = `Thinking about: ${user}`;
  if (calls.length) {
    plan.toolPlan = `I will call ${calls.map((t) => t.function.name).join(' and ')}.`;
    plan.toolCalls = calls.map((t, k) => ({
      id: `${t.function.name}_emu${String(seq).padStart(4, '0')}${k}`,
      type: 'function',
      function: {
        name: t.function.name,
        arguments: JSON.stringify(exampleValue({ type: 'object', ...(t.function.parameters || {}) }, user)),
      },
    }));
    plan.finish = 'TOOL_CALL';
  } else {
    let text;
    if (last.role === 'tool') {
      const results = [];
      for (let i = body.messages.length - 1; i >= 0 && body.messages[i].role === 'tool'; i--) {
        results.unshift(textOf(body.messages[i].content));
      }
      text = `Tool results: ${results.join('; ')}`;
    } else {
      text = `You said: ${user}`;
    }
    const rf = body.response_format;
    if (rf && rf.type === 'json_object') {
      text = JSON.stringify(rf.json_schema ? exampleValue(rf.json_schema, user) : { answer: text });
    }
    for (const s of body.stop_sequences || []) {
      const at = text.indexOf(s);
      if (s && at >= 0) {
        text = text.slice(0, at);
        plan.finish = 'STOP_SEQUENCE';
      }
    }
    const frags = fragments(text);
    if (body.max_tokens !== undefined && frags.length > body.max_tokens) {
      text = frags.slice(0, body.max_tokens).join('');
      plan.finish = 'MAX_TOKENS';
    }
    plan.text = text;
  }
  const out = countWords(plan.thinking) + countWords(plan.text) + countWords(plan.toolPlan) +
    plan.toolCalls.reduce((n, tc) => n + countWords(tc.function.arguments.replace(/[{}",:]/g, ' ')), 0);
  const input = promptTokens(body);
  plan.usage = {
    billed_units: { input_tokens: input, output_tokens: out },
    tokens: { input_tokens: input + 64, output_tokens: out },
    cached_tokens: 0,
  };
  return plan;
}

function responseBody(id, plan) {
  const message = { role: 'assistant' };
  const content = [];
  if (plan.thinking) content.push({ type: 'thinking', thinking: plan.thinking });
  if (plan.text || !plan.toolCalls.length) content.push({ type: 'text', text: plan.text });
  if (content.length) message.content = content;
  if (plan.toolPlan) message.tool_plan = plan.toolPlan;
  if (plan.toolCalls.length) message.tool_calls = plan.toolCalls;
  return { id, message, finish_reason: plan.finish, usage: plan.usage };
}

/** The events of one streamed answer, as [type, payload] pairs. */
function streamEvents(id, plan) {
  const ev = [];
  const push = (p) => ev.push([p.type, p]);
  push({ id, type: 'message-start', delta: { message: { role: 'assistant', content: [], tool_plan: '', tool_calls: [], citations: [] } } });
  let index = 0;
  if (plan.thinking) {
    push({ type: 'content-start', index, delta: { message: { content: { type: 'thinking', thinking: '' } } } });
    for (const f of fragments(plan.thinking)) push({ type: 'content-delta', index, delta: { message: { content: { thinking: f } } } });
    push({ type: 'content-end', index });
    index++;
  }
  if (plan.toolCalls.length) {
    for (const f of fragments(plan.toolPlan)) push({ type: 'tool-plan-delta', delta: { message: { tool_plan: f } } });
    plan.toolCalls.forEach((tc, k) => {
      push({ type: 'tool-call-start', index: k, delta: { message: { tool_calls: { id: tc.id, type: 'function', function: { name: tc.function.name, arguments: '' } } } } });
      // Split the arguments in three, mid-token.
      const a = tc.function.arguments;
      const third = Math.ceil(a.length / 3);
      for (const piece of [a.slice(0, third), a.slice(third, 2 * third), a.slice(2 * third)]) {
        if (piece) push({ type: 'tool-call-delta', index: k, delta: { message: { tool_calls: { function: { arguments: piece } } } } });
      }
      push({ type: 'tool-call-end', index: k });
    });
  } else {
    push({ type: 'content-start', index, delta: { message: { content: { type: 'text', text: '' } } } });
    for (const f of fragments(plan.text)) push({ type: 'content-delta', index, delta: { message: { content: { text: f } } } });
    push({ type: 'content-end', index });
  }
  push({ type: 'message-end', delta: { finish_reason: plan.finish, usage: plan.usage } });
  return ev;
}

// ----------------------------------------------------------------------------
// The server

function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Start the emulator.
 * opts: {port=0, host='127.0.0.1', apiKey, models=DEFAULT_MODELS,
 *        embedModels=Object.keys(EMBED_MODELS), listFaultModels=true,
 *        chunkDelayMs=0, quiet=true}
 * Returns {port, url, stats, requests, close(), lastRequest(path),
 *          requestsTo(path), lastStream()}.
 */
export async function startCohereEmulator(opts = {}) {
  const host = opts.host || '127.0.0.1';
  const apiKey = opts.apiKey || null;
  const normalModels = opts.models || DEFAULT_MODELS;
  const listFault = opts.listFaultModels !== false;
  const known = new Set([...normalModels, ...FAULT_MODELS]);
  const embedModels = opts.embedModels || Object.keys(EMBED_MODELS);
  const maxRecordedEvents = 2000;
  let seq = 0;

  const stats = {
    requests: [], // {method, path, query, headers, body, rawBody, status}
    streams: [], // {model, state: open|completed|cut|reset|errored, events: [{event, data}]}
    streamsStarted: 0,
    streamsCompleted: 0,
    streamsCut: 0,
    streamsReset: 0,
  };
  const cleanups = new Set();

  function sendJson(res, status, obj, headers = {}, record) {
    const text = JSON.stringify(obj);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
    if (record) record.status = status;
  }

  function checkAuth(req) {
    if (!apiKey) return;
    const h = req.headers.authorization;
    if (!h) throw new ApiError(401, 'no api key supplied');
    const m = /^Bearer (.+)$/.exec(h);
    if (!m || m[1] !== apiKey) throw new ApiError(401, 'invalid api token');
  }

  function openStream(res, model) {
    const st = { model, state: 'open', events: [] };
    stats.streams.push(st);
    stats.streamsStarted++;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.flushHeaders();
    res.on('close', () => {
      if (st.state === 'open') {
        st.state = 'cut';
        stats.streamsCut++;
      }
    });
    const w = {
      st,
      get gone() { return st.state !== 'open' || res.destroyed; },
      async raw(text) {
        if (w.gone) return;
        if (!res.write(text) && !w.gone) {
          await new Promise((resolve) => {
            const done = () => { res.off('drain', done); res.off('close', done); resolve(); };
            res.on('drain', done);
            res.on('close', done);
          });
        }
      },
      /** One SSE event: event: <type> and data: <json>. */
      async event(type, payload) {
        const data = typeof payload === 'string' ? payload : JSON.stringify(payload);
        if (st.events.length < maxRecordedEvents) st.events.push({ event: type, data });
        await w.raw(`event: ${type}\ndata: ${data}\n\n`);
      },
      end(state = 'completed') {
        if (w.gone) return;
        st.state = state;
        if (state === 'completed') stats.streamsCompleted++;
        res.end();
      },
      reset() {
        if (w.gone) return;
        st.state = 'reset';
        stats.streamsReset++;
        res.socket.destroy();
      },
      closed() {
        return new Promise((resolve) => {
          if (res.destroyed || res.writableFinished) return resolve();
          res.once('close', resolve);
        });
      },
    };
    return w;
  }

  function throwFault(model) {
    switch (model) {
      case 'fault-400': throw invalid('emulated upstream rejection');
      case 'fault-401': throw new ApiError(401, 'invalid api token');
      case 'fault-422': throw new ApiError(422, 'too many tokens: total number of tokens in the prompt cannot exceed 128000');
      case 'fault-429':
        throw new ApiError(429, 'You are using a Trial key, which is limited to 10 API calls / minute. You can continue to use the Trial key for free or upgrade to a Production key with higher rate limits.',
          { 'retry-after': '7' });
      case 'fault-498': throw new ApiError(498, 'invalid api token');
      case 'fault-500': throw new ApiError(500, 'internal server error, this has been reported to our developers');
      case 'fault-503': throw new ApiError(503, 'service unavailable, please try again later', { 'retry-after': '2' });
      default: break;
    }
  }

  async function handleEmbed(req, res, body, record) {
    validateEmbedRequest(body);
    const model = body.model;
    if (known.has(model) && !FAULT_MODELS.includes(model)) {
      throw invalid(`model '${model}' does not support the embed endpoint`);
    }
    if (!embedModels.includes(model) && !FAULT_MODELS.includes(model)) {
      throw new ApiError(404, `model '${model}' not found, make sure the correct model ID was used and that you have access to the model.`);
    }
    throwFault(model);
    const spec = EMBED_MODELS[model] || EMBED_MODELS['embed-v4.0'];
    if (body.output_dimension !== undefined && !spec.outputDimension) {
      throw invalid(`output_dimension is not supported for model '${model}'; it is available for embed-v4.0 and newer`);
    }
    if (body.texts === undefined) throw invalid('this emulator embeds texts only');
    const truncate = body.truncate || 'END';
    const limit = Math.min(spec.context, body.max_tokens || Infinity);
    let tokens = 0;
    body.texts.forEach((t, i) => {
      const n = countWords(t) || 1;
      if (n > limit && truncate === 'NONE') {
        throw invalid(`texts[${i}] is too long: ${n} tokens exceed the limit of ${limit} for model '${model}'; set truncate to START or END to truncate it`);
      }
      tokens += Math.min(n, limit);
    });
    const dims = body.output_dimension || spec.dims;
    const types = body.embedding_types || ['float'];
    const vectors = body.texts.map((t) => embedVector(t, dims));
    const embeddings = {};
    for (const type of types) embeddings[type] = vectors.map((v) => embeddingOf(type, v));
    const answer = {
      id: randomUUID(),
      response_type: 'embeddings_by_type',
      embeddings,
      texts: body.texts,
      meta: { api_version: { version: '2' }, billed_units: { input_tokens: tokens } },
    };
    if (model === 'stall') {
      await new Promise((resolve) => { res.once('close', resolve); cleanups.add(resolve); });
      return;
    }
    if (model === 'malformed-chunk') {
      const text = JSON.stringify(answer);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      record.status = 200;
      return res.end(text.slice(0, text.length >> 1).padEnd(text.length, ' '));
    }
    return sendJson(res, 200, answer, {}, record);
  }

  async function handleChat(req, res, body, record) {
    validateChatRequest(body);
    const model = body.model;
    if (embedModels.includes(model)) {
      throw invalid(`model '${model}' does not support the chat endpoint`);
    }
    if (!known.has(model)) {
      throw new ApiError(404, `model '${model}' not found, make sure the correct model ID was used and that you have access to the model.`);
    }
    seq++;
    const id = randomUUID();
    const stream = body.stream === true;
    throwFault(model);
    const plan = planAnswer(body, seq);

    if (!stream) {
      if (model === 'stall') {
        await new Promise((resolve) => { res.once('close', resolve); cleanups.add(resolve); });
        return;
      }
      if (model === 'slow-stream') await sleep(SLOW_CHUNKS * SLOW_INTERVAL_MS);
      if (model === 'reset-mid-stream' || model === 'malformed-chunk') {
        const text = JSON.stringify(responseBody(id, plan));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        record.status = 200;
        if (model === 'malformed-chunk') return res.end(text.slice(0, text.length >> 1).padEnd(text.length, ' '));
        res.write(text.slice(0, text.length >> 1), () => setTimeout(() => res.socket && res.socket.destroy(), 20));
        stats.streamsReset++;
        return;
      }
      if (model === 'error-mid-stream') {
        return sendJson(res, 200, { id, message: { role: 'assistant', content: [] }, finish_reason: 'ERROR', usage: plan.usage }, {}, record);
      }
      return sendJson(res, 200, responseBody(id, plan), {}, record);
    }

    record.status = 200;
    const w = openStream(res, model);
    const events = streamEvents(id, plan);
    if (model === 'slow-stream') {
      await w.event(...events[0]);
      await w.event('content-start', { type: 'content-start', index: 0, delta: { message: { content: { type: 'text', text: '' } } } });
      for (let i = 0; i < SLOW_CHUNKS && !w.gone; i++) {
        await sleep(SLOW_INTERVAL_MS);
        await w.event('content-delta', { type: 'content-delta', index: 0, delta: { message: { content: { text: `${i ? ' ' : ''}s${i + 1}` } } } });
      }
      await w.event('content-end', { type: 'content-end', index: 0 });
      await w.event('message-end', { type: 'message-end', delta: { finish_reason: 'COMPLETE', usage: plan.usage } });
      return w.end();
    }
    if (model === 'stall') {
      await w.event(...events[0]);
      await new Promise((resolve) => { w.closed().then(resolve); cleanups.add(resolve); });
      return;
    }
    if (model === 'reset-mid-stream' || model === 'error-mid-stream') {
      for (const e of events.slice(0, 2 + MID_STREAM_CHUNKS)) await w.event(...e);
      if (model === 'reset-mid-stream') {
        await sleep(50);
        return w.reset();
      }
      await w.event('message-end', { type: 'message-end', delta: { finish_reason: 'ERROR', error: 'internal server error' } });
      return w.end('errored');
    }
    if (model === 'malformed-chunk') {
      await w.event(...events[0]);
      await w.event(...events[1]);
      await w.event('content-delta', '{"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"oops"}');
      for (const e of events.slice(2)) await w.event(...e);
      return w.end();
    }
    if (model === 'sse-edge') {
      // Same answer, framed with the SSE edge cases of §0.1.
      const text = events.map(([t, p]) => [t, JSON.stringify(p)]);
      for (const [t, d] of text) if (w.st.events.length < maxRecordedEvents) w.st.events.push({ event: t, data: d });
      await w.raw(': keep-alive\r\n\r\n');
      await w.raw(`event:${text[0][0]}\r\ndata:${text[0][1]}\r\n\r\n`);
      const [t1, d1] = text[1];
      const cut = d1.indexOf(',') + 1;
      await w.raw(`event: ${t1}\nid: 1\ndata: ${d1.slice(0, cut)}\ndata: ${d1.slice(cut)}\n\n`);
      for (let i = 2; i < text.length; i++) {
        const ev = `event: ${text[i][0]}\ndata: ${text[i][1]}\n\n`;
        if (i === 2) {
          await w.raw(ev.slice(0, 9));
          await sleep(30);
          await w.raw(ev.slice(9));
        } else {
          await w.raw(ev);
        }
      }
      await w.raw('data: [DONE]\n\n');
      return w.end();
    }
    for (const e of events) {
      await w.event(...e);
      if (opts.chunkDelayMs) await sleep(opts.chunkDelayMs);
    }
    return w.end();
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname;
    const raw = await readBody(req);
    const record = {
      method: req.method, path, query: url.search, headers: { ...req.headers },
      rawBody: raw.toString('utf8'), body: null, status: null, time: Date.now(),
    };
    try { record.body = JSON.parse(record.rawBody); } catch { /* not JSON */ }
    stats.requests.push(record);
    try {
      checkAuth(req);
      if (path === '/v1/models') {
        if (req.method !== 'GET') throw new ApiError(405, 'method not allowed');
        const endpoint = url.searchParams.get('endpoint');
        const names = [...normalModels, ...(listFault ? FAULT_MODELS : [])];
        const models = names.map((name) => ({
          name, endpoints: ['chat'], finetuned: false, context_length: 128000,
          tokenizer_url: null, default_endpoints: [], features: ['tools', 'json_mode'],
        }));
        for (const name of embedModels) {
          const spec = EMBED_MODELS[name] || EMBED_MODELS['embed-v4.0'];
          models.push({ name, endpoints: ['embed', 'classify'], finetuned: false, context_length: spec.context,
            tokenizer_url: null, default_endpoints: ['embed'] });
        }
        models.push({ name: 'rerank-v3.5', endpoints: ['rerank'], finetuned: false, context_length: 4096 });
        const list = endpoint ? models.filter((m) => m.endpoints.includes(endpoint)) : models;
        return sendJson(res, 200, { models: list, next_page_token: null }, {}, record);
      }
      if (path === '/v2/chat') {
        if (req.method !== 'POST') throw new ApiError(405, 'method not allowed');
        if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] || '')) {
          throw invalid('content-type must be application/json');
        }
        if (record.body === null) throw invalid('could not parse the request body as JSON');
        return await handleChat(req, res, record.body, record);
      }
      if (path === '/v2/embed') {
        if (req.method !== 'POST') throw new ApiError(405, 'method not allowed');
        if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] || '')) {
          throw invalid('content-type must be application/json');
        }
        if (record.body === null) throw invalid('could not parse the request body as JSON');
        return await handleEmbed(req, res, record.body, record);
      }
      throw new ApiError(404, `no route for ${req.method} ${path}`);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (res.headersSent) return res.destroy();
      return sendJson(res, err.status, err.body(), err.headers, record);
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!opts.quiet) console.error('cohere emulator: internal error', err);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: randomUUID(), message: `emulator bug: ${err.message}` }));
      } else {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 30000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port || 0, host, () => { server.off('error', reject); resolve(); });
  });
  const port = server.address().port;

  const emu = {
    port,
    host,
    url: `http://${host}:${port}`,
    stats,
    get requests() { return stats.requests; },
    requestsTo(p = '/v2/chat') { return stats.requests.filter((r) => r.path === p); },
    lastRequest(p = '/v2/chat') {
      const r = emu.requestsTo(p);
      return r[r.length - 1];
    },
    lastStream() { return stats.streams[stats.streams.length - 1]; },
    async close() {
      for (const c of cleanups) c();
      cleanups.clear();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return emu;
}

// ----------------------------------------------------------------------------
// CLI

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = { port: 8001 };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const next = () => argv[++i];
    switch (argv[i]) {
      case '--port': args.port = Number(next()); break;
      case '--host': args.host = next(); break;
      case '--api-key': args.apiKey = next(); break;
      case '--models': args.models = next().split(',').filter(Boolean); break;
      default:
        console.error(`cohere emulator: unknown argument ${argv[i]}`);
        console.error('usage: node cohere.mjs [--port P] [--host H] [--api-key KEY] [--models a,b]');
        process.exit(2);
    }
  }
  const emu = await startCohereEmulator({ ...args, quiet: false });
  console.log(`cohere emulator listening on ${emu.url}`);
  const stop = async () => { await emu.close(); process.exit(0); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
