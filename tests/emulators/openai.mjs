// A strict, deterministic emulator of the OpenAI Chat Completions API
// (the provider's public API reference), for Switchboard's tests.
//
// Library:  const emu = await startOpenAIEmulator({apiKey: 'sk-...'});
//           emu.url  -> 'http://127.0.0.1:PORT/v1'; emu.stats; await emu.close();
// CLI:      node tests/emulators/openai.mjs --port 8000 --api-key KEY
//                [--host H] [--accept-extra top_k,min_p] [--models a,b]
//                [--big-stream-bytes N]
//
// Answers:  a normal model replies "You said: <last user text>"; with tools
//           and tool_choice "required" (or a named function) it calls tools;
//           "reasoner" adds reasoning_content (DeepSeek, vLLM) first.
// Faults, chosen by model name (FAULT_MODELS): fault-400, fault-401,
//           fault-429, fault-500, fault-503, slow-stream, stall,
//           reset-mid-stream, error-mid-stream, big-stream, malformed-chunk,
//           sse-edge (a correct answer framed with SSE edge cases).
//
// No dependencies beyond node:*.

import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

export const DEFAULT_MODELS = ['gpt-4o-mini', 'gpt-4o', 'llama3', 'reasoner'];
export const FAULT_MODELS = [
  'fault-400', 'fault-401', 'fault-429', 'fault-500', 'fault-503',
  'slow-stream', 'stall', 'reset-mid-stream', 'error-mid-stream',
  'big-stream', 'malformed-chunk', 'sse-edge', 'content-filter',
];

/** slow-stream: one content chunk every SLOW_INTERVAL_MS, SLOW_CHUNKS of them. */
export const SLOW_CHUNKS = 30;
export const SLOW_INTERVAL_MS = 100;
/** Content chunks sent by reset-mid-stream / error-mid-stream before failing. */
export const MID_STREAM_CHUNKS = 3;

const MODEL_CREATED = 1700000000;

// Top-level request fields of POST /v1/chat/completions (§1.2) and their
// types. Anything else is "Unrecognized request argument supplied".
const PARAMS = {
  model: { type: 'string' },
  messages: { type: 'array' },
  stream: { type: 'boolean', nullable: true },
  stream_options: { type: 'object', nullable: true },
  max_completion_tokens: { type: 'integer', nullable: true, min: 1 },
  max_tokens: { type: 'integer', nullable: true, min: 1 },
  temperature: { type: 'number', nullable: true, min: 0, max: 2 },
  top_p: { type: 'number', nullable: true, min: 0, max: 1 },
  n: { type: 'integer', nullable: true, min: 1, max: 128 },
  stop: { type: ['string', 'array'], nullable: true },
  presence_penalty: { type: 'number', nullable: true, min: -2, max: 2 },
  frequency_penalty: { type: 'number', nullable: true, min: -2, max: 2 },
  logit_bias: { type: 'object', nullable: true },
  logprobs: { type: 'boolean', nullable: true },
  top_logprobs: { type: 'integer', nullable: true, min: 0, max: 20 },
  seed: { type: 'integer', nullable: true },
  user: { type: 'string' },
  safety_identifier: { type: 'string', nullable: true },
  prompt_cache_key: { type: 'string', nullable: true },
  metadata: { type: 'object', nullable: true },
  store: { type: 'boolean', nullable: true },
  reasoning_effort: {
    type: 'string', nullable: true,
    enum: ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'],
  },
  verbosity: { type: 'string', nullable: true, enum: ['low', 'medium', 'high'] },
  response_format: { type: 'object' },
  tools: { type: 'array' },
  tool_choice: { type: ['string', 'object'] },
  parallel_tool_calls: { type: 'boolean' },
  modalities: { type: 'array', nullable: true },
  audio: { type: 'object', nullable: true },
  prediction: { type: 'object', nullable: true },
  service_tier: {
    type: 'string', nullable: true,
    enum: ['auto', 'default', 'flex', 'scale', 'priority', 'fast'],
  },
  web_search_options: { type: 'object' },
  prompt_cache_retention: { type: 'string', nullable: true, enum: ['in_memory', '24h'] },
  prompt_cache_options: { type: 'object', nullable: true },
  functions: { type: 'array' },
  function_call: { type: ['string', 'object'] },
};

const ROLES = ['system', 'assistant', 'user', 'function', 'tool', 'developer'];
const PARTS_BY_ROLE = {
  system: ['text'],
  developer: ['text'],
  user: ['text', 'image_url', 'input_audio', 'file'],
  assistant: ['text', 'refusal'],
  tool: ['text'],
};

class ApiError extends Error {
  constructor(status, message, type, param = null, code = null, headers = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code;
    this.headers = headers;
  }
  body() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

const badRequest = (message, param = null, code = null) =>
  new ApiError(400, message, 'invalid_request_error', param, code);

/** Mask a key the way OpenAI does in its 401 message: sk-a**********wxyz. */
export function maskKey(key) {
  if (key.length <= 8) return '*'.repeat(key.length);
  return key.slice(0, 4) + '*'.repeat(key.length - 8) + key.slice(-4);
}

function jsonTypeName(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'decimal';
  return typeof v; // string, boolean, object
}

const ARTICLE = {
  string: 'a string', boolean: 'a boolean', object: 'an object', array: 'an array',
  integer: 'an integer', number: 'a decimal', decimal: 'a decimal', null: 'null',
};

function typeMatches(v, t) {
  switch (t) {
    case 'string': return typeof v === 'string';
    case 'boolean': return typeof v === 'boolean';
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'array': return Array.isArray(v);
    case 'object': return v !== null && typeof v === 'object' && !Array.isArray(v);
    default: return false;
  }
}

function checkType(v, spec, param) {
  if (v === null && spec.nullable) return;
  const types = Array.isArray(spec.type) ? spec.type : [spec.type];
  if (!types.some((t) => typeMatches(v, t))) {
    const want = types.map((t) => ARTICLE[t]).join(' or ');
    throw badRequest(
      `Invalid type for '${param}': expected ${want}, but got ${ARTICLE[jsonTypeName(v)]} instead.`,
      param, 'invalid_type');
  }
  if (typeof v === 'number') {
    const kind = Number.isInteger(v) && types.includes('integer') ? 'integer' : 'decimal';
    if (spec.min !== undefined && v < spec.min) {
      throw badRequest(
        `Invalid '${param}': ${kind} below minimum value. Expected a value >= ${spec.min}, but got ${v} instead.`,
        param, `${kind}_below_min_value`);
    }
    if (spec.max !== undefined && v > spec.max) {
      throw badRequest(
        `Invalid '${param}': ${kind} above maximum value. Expected a value <= ${spec.max}, but got ${v} instead.`,
        param, `${kind}_above_max_value`);
    }
  }
  if (spec.enum && typeof v === 'string' && !spec.enum.includes(v)) {
    throw badRequest(
      `Invalid value: '${v}'. Supported values are: ${spec.enum.map((e) => `'${e}'`).join(', ')}.`,
      param, 'invalid_value');
  }
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function validateContent(content, role, param) {
  if (typeof content === 'string') return;
  if (!Array.isArray(content)) {
    throw badRequest(
      `Invalid type for '${param}': expected one of a string or array of objects, but got ${ARTICLE[jsonTypeName(content)]} instead.`,
      param, 'invalid_type');
  }
  const allowed = PARTS_BY_ROLE[role] || ['text'];
  content.forEach((part, j) => {
    const p = `${param}[${j}]`;
    if (!isObject(part)) {
      throw badRequest(`Invalid type for '${p}': expected an object, but got ${ARTICLE[jsonTypeName(part)]} instead.`, p, 'invalid_type');
    }
    if (!allowed.includes(part.type)) {
      throw badRequest(
        `Invalid value: '${part.type}'. Supported values are: ${allowed.map((a) => `'${a}'`).join(', ')}.`,
        `${p}.type`, 'invalid_value');
    }
    if (part.type === 'text' && typeof part.text !== 'string') {
      throw badRequest(`Missing required parameter: '${p}.text'.`, `${p}.text`, 'missing_required_parameter');
    }
    if (part.type === 'image_url' && !(isObject(part.image_url) && typeof part.image_url.url === 'string')) {
      throw badRequest(`Missing required parameter: '${p}.image_url.url'.`, `${p}.image_url.url`, 'missing_required_parameter');
    }
  });
}

function validateMessages(messages) {
  if (messages.length === 0) {
    throw badRequest(
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      'messages', 'empty_array');
  }
  messages.forEach((m, i) => {
    const p = `messages[${i}]`;
    if (!isObject(m)) {
      throw badRequest(`Invalid type for '${p}': expected an object, but got ${ARTICLE[jsonTypeName(m)]} instead.`, p, 'invalid_type');
    }
    if (m.role === undefined) {
      throw badRequest(`Missing required parameter: '${p}.role'.`, `${p}.role`, 'missing_required_parameter');
    }
    if (!ROLES.includes(m.role)) {
      throw badRequest(
        `Invalid value: '${m.role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`,
        `${p}.role`, 'invalid_value');
    }
    const hasCalls = m.role === 'assistant' &&
      ((Array.isArray(m.tool_calls) && m.tool_calls.length > 0) || m.function_call !== undefined);
    if (m.content === undefined || (m.content === null && m.role !== 'function')) {
      if (!(m.role === 'assistant' && (hasCalls || m.content === null))) {
        throw badRequest(`Missing required parameter: '${p}.content'.`, `${p}.content`, 'missing_required_parameter');
      }
    } else if (m.content !== null) {
      validateContent(m.content, m.role, `${p}.content`);
    }
    if (m.role === 'tool' && typeof m.tool_call_id !== 'string') {
      throw badRequest(`Missing required parameter: '${p}.tool_call_id'.`, `${p}.tool_call_id`, 'missing_required_parameter');
    }
    if (m.role === 'assistant' && m.tool_calls !== undefined && m.tool_calls !== null) {
      if (!Array.isArray(m.tool_calls)) {
        throw badRequest(`Invalid type for '${p}.tool_calls': expected an array, but got ${ARTICLE[jsonTypeName(m.tool_calls)]} instead.`, `${p}.tool_calls`, 'invalid_type');
      }
      m.tool_calls.forEach((tc, k) => {
        const q = `${p}.tool_calls[${k}]`;
        if (!isObject(tc) || typeof tc.id !== 'string') {
          throw badRequest(`Missing required parameter: '${q}.id'.`, `${q}.id`, 'missing_required_parameter');
        }
        if (tc.type === 'function' && !(isObject(tc.function) && typeof tc.function.name === 'string' && typeof tc.function.arguments === 'string')) {
          throw badRequest(`Invalid value for '${q}.function': expected name and arguments strings.`, `${q}.function`, 'invalid_value');
        }
      });
    }
    if (m.name !== undefined && typeof m.name !== 'string') {
      throw badRequest(`Invalid type for '${p}.name': expected a string, but got ${ARTICLE[jsonTypeName(m.name)]} instead.`, `${p}.name`, 'invalid_type');
    }
  });
}

function validateTools(tools) {
  tools.forEach((t, i) => {
    const p = `tools[${i}]`;
    if (!isObject(t)) {
      throw badRequest(`Invalid type for '${p}': expected an object, but got ${ARTICLE[jsonTypeName(t)]} instead.`, p, 'invalid_type');
    }
    if (t.type === 'function') {
      if (!isObject(t.function)) {
        throw badRequest(`Missing required parameter: '${p}.function'.`, `${p}.function`, 'missing_required_parameter');
      }
      const name = t.function.name;
      if (typeof name !== 'string') {
        throw badRequest(`Missing required parameter: '${p}.function.name'.`, `${p}.function.name`, 'missing_required_parameter');
      }
      if (!/^[a-zA-Z0-9_-]{1,64}$/.test(name)) {
        throw badRequest(
          `Invalid '${p}.function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`,
          `${p}.function.name`, 'invalid_value');
      }
      if (t.function.parameters !== undefined && !isObject(t.function.parameters)) {
        throw badRequest(`Invalid type for '${p}.function.parameters': expected an object, but got ${ARTICLE[jsonTypeName(t.function.parameters)]} instead.`, `${p}.function.parameters`, 'invalid_type');
      }
    } else if (t.type === 'custom') {
      if (!isObject(t.custom) || typeof t.custom.name !== 'string') {
        throw badRequest(`Missing required parameter: '${p}.custom.name'.`, `${p}.custom.name`, 'missing_required_parameter');
      }
    } else {
      throw badRequest(`Invalid value: '${t.type}'. Supported values are: 'function' and 'custom'.`, `${p}.type`, 'invalid_value');
    }
  });
}

const toolName = (t) => (t.type === 'custom' ? t.custom.name : t.function.name);

function validateToolChoice(tc, tools) {
  if (typeof tc === 'string') {
    if (!['none', 'auto', 'required'].includes(tc)) {
      throw badRequest(`Invalid value: '${tc}'. Supported values are: 'none', 'auto', and 'required'.`, 'tool_choice', 'invalid_value');
    }
    if (tc !== 'none' && !tools) {
      throw badRequest("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", 'tool_choice', null);
    }
    return;
  }
  if (!tools) {
    throw badRequest("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", 'tool_choice', null);
  }
  const names = tools.map(toolName);
  if (tc.type === 'function') {
    const name = isObject(tc.function) ? tc.function.name : undefined;
    if (typeof name !== 'string') {
      throw badRequest("Missing required parameter: 'tool_choice.function.name'.", 'tool_choice.function.name', 'missing_required_parameter');
    }
    if (!names.includes(name)) {
      throw badRequest(`Invalid value for 'tool_choice': function '${name}' is not among 'tools'.`, 'tool_choice', 'invalid_value');
    }
  } else if (tc.type === 'custom') {
    if (!(isObject(tc.custom) && names.includes(tc.custom.name))) {
      throw badRequest("Invalid value for 'tool_choice': unknown custom tool.", 'tool_choice', 'invalid_value');
    }
  } else if (tc.type === 'allowed_tools') {
    const at = tc.allowed_tools;
    if (!(isObject(at) && ['auto', 'required'].includes(at.mode) && Array.isArray(at.tools))) {
      throw badRequest("Invalid value for 'tool_choice.allowed_tools'.", 'tool_choice.allowed_tools', 'invalid_value');
    }
  } else {
    throw badRequest(`Invalid value: '${tc.type}'. Supported values are: 'function', 'custom' and 'allowed_tools'.`, 'tool_choice.type', 'invalid_value');
  }
}

/**
 * Validate a chat completion request like api.openai.com does. Throws
 * ApiError (400) on the first problem.
 */
export function validateChatRequest(body, acceptExtra = []) {
  if (!isObject(body)) {
    throw badRequest(
      `Invalid type for request body: expected an object, but got ${ARTICLE[jsonTypeName(body)]} instead.`,
      null, 'invalid_type');
  }
  for (const key of Object.keys(body)) {
    if (!(key in PARAMS) && !acceptExtra.includes(key)) {
      throw badRequest(`Unrecognized request argument supplied: ${key}`, key, null);
    }
  }
  for (const req of ['model', 'messages']) {
    if (body[req] === undefined) {
      throw badRequest(`Missing required parameter: '${req}'.`, req, 'missing_required_parameter');
    }
  }
  for (const [key, spec] of Object.entries(PARAMS)) {
    if (body[key] !== undefined) checkType(body[key], spec, key);
  }
  validateMessages(body.messages);
  if (body.stream_options !== undefined && body.stream_options !== null) {
    if (body.stream !== true) {
      throw badRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options', 'invalid_value');
    }
    for (const [k, v] of Object.entries(body.stream_options)) {
      const p = `stream_options.${k}`;
      if (k === 'include_usage' || k === 'include_obfuscation') {
        if (typeof v !== 'boolean') {
          throw badRequest(`Invalid type for '${p}': expected a boolean, but got ${ARTICLE[jsonTypeName(v)]} instead.`, p, 'invalid_type');
        }
      } else if (!acceptExtra.includes(p)) {
        throw badRequest(`Unrecognized request argument supplied: ${p}`, p, null);
      }
    }
  }
  if (Array.isArray(body.stop)) {
    if (body.stop.length > 4) {
      throw badRequest("Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length " + body.stop.length + ' instead.', 'stop', 'array_above_max_length');
    }
    body.stop.forEach((s, i) => {
      if (typeof s !== 'string') {
        throw badRequest(`Invalid type for 'stop[${i}]': expected a string, but got ${ARTICLE[jsonTypeName(s)]} instead.`, `stop[${i}]`, 'invalid_type');
      }
    });
  }
  if (body.top_logprobs !== undefined && body.top_logprobs !== null && body.logprobs !== true) {
    throw badRequest("Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used.", 'top_logprobs', 'invalid_value');
  }
  if (body.tools !== undefined) validateTools(body.tools);
  if (body.tool_choice !== undefined) validateToolChoice(body.tool_choice, body.tools);
  if (body.response_format !== undefined) {
    const t = body.response_format.type;
    if (!['text', 'json_object', 'json_schema'].includes(t)) {
      throw badRequest(`Invalid value: '${t}'. Supported values are: 'text', 'json_object', and 'json_schema'.`, 'response_format.type', 'invalid_value');
    }
    if (t === 'json_schema' && !(isObject(body.response_format.json_schema) && typeof body.response_format.json_schema.name === 'string')) {
      throw badRequest("Missing required parameter: 'response_format.json_schema'.", 'response_format.json_schema', 'missing_required_parameter');
    }
  }
  if (body.metadata) {
    for (const [k, v] of Object.entries(body.metadata)) {
      if (typeof v !== 'string') {
        throw badRequest(`Invalid type for 'metadata.${k}': expected a string, but got ${ARTICLE[jsonTypeName(v)]} instead.`, `metadata.${k}`, 'invalid_type');
      }
    }
  }
}

// ----------------------------------------------------------------------------
// Deterministic answers

function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.filter((p) => p && p.type === 'text').map((p) => p.text).join(' ');
  }
  return '';
}

/** Text of the last user message (text parts joined with a space). */
export function lastUserText(messages) {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'user') return textOf(messages[i].content);
  }
  return '';
}

/** "Tokens" are whitespace-separated words. */
export function countWords(s) {
  return s.split(/\s+/).filter(Boolean).length;
}

/** Split text into stream fragments, one word each with its leading space. */
export function fragments(s) {
  return s.match(/\s*\S+|\s+$/g) || [];
}

function promptTokens(body) {
  let n = 0;
  for (const m of body.messages) {
    n += countWords(textOf(m.content)) + 1;
    if (Array.isArray(m.tool_calls)) {
      for (const tc of m.tool_calls) n += countWords(JSON.stringify(tc));
    }
  }
  if (body.tools) n += countWords(JSON.stringify(body.tools).replace(/[{}[\]",:]/g, ' '));
  return n;
}

/** A value that satisfies schema (the subset the tests use), strings
 * filled with text. */
function schemaExample(schema, text) {
  switch (schema.type) {
    case 'object': {
      const o = {};
      for (const [k, v] of Object.entries(schema.properties || {})) o[k] = schemaExample(v, text);
      return o;
    }
    case 'array': return [schemaExample(schema.items || {}, text)];
    case 'number': case 'integer': return 1;
    case 'boolean': return true;
    case 'null': return null;
    default: return Array.isArray(schema.enum) ? schema.enum[0] : text;
  }
}

function makeUsage(prompt, completion, cached = 0) {
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0, audio_tokens: 0,
      accepted_prediction_tokens: 0, rejected_prediction_tokens: 0,
    },
  };
}

function exampleValue(schema, text) {
  const t = schema && schema.type;
  if (schema && Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  switch (t) {
    case 'string': return text;
    case 'integer': case 'number': return 1;
    case 'boolean': return true;
    case 'array': return [];
    case 'object': return {};
    default: return null;
  }
}

/** Arguments JSON for a call to tool t: every declared property gets a value. */
function toolArguments(t, text) {
  if (t.type === 'custom') return text;
  const params = t.function.parameters;
  const out = {};
  if (params && isObject(params.properties)) {
    for (const [k, s] of Object.entries(params.properties)) out[k] = exampleValue(s, text);
  }
  return JSON.stringify(out);
}

/** Which tools the model calls (empty: answer with text). */
function chooseToolCalls(body) {
  const tools = body.tools;
  const tc = body.tool_choice;
  if (!tools || tools.length === 0 || tc === undefined || tc === 'none' || tc === 'auto') return [];
  if (tc === 'required') {
    const max = body.parallel_tool_calls === false ? 1 : 2;
    return tools.slice(0, max);
  }
  if (tc.type === 'function') return tools.filter((t) => t.type === 'function' && t.function.name === tc.function.name).slice(0, 1);
  if (tc.type === 'custom') return tools.filter((t) => t.type === 'custom' && t.custom.name === tc.custom.name).slice(0, 1);
  if (tc.type === 'allowed_tools' && tc.allowed_tools.mode === 'required') {
    const allowed = tc.allowed_tools.tools.map((x) => (x.function ? x.function.name : x.custom && x.custom.name));
    return tools.filter((t) => allowed.includes(toolName(t))).slice(0, 1);
  }
  return [];
}

function logprobsFor(frags) {
  return {
    content: frags.map((f) => ({ token: f, logprob: -0.01, bytes: [...Buffer.from(f)], top_logprobs: [] })),
    refusal: null,
  };
}

// ----------------------------------------------------------------------------
// The server

function hex(n) {
  return randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
}

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
 *        failFirst=0 (503 for the first N chat requests), delayMs=0,
 *        listFaultModels=true, acceptExtra=[], bigStreamBytes=4 MiB,
 *        bigChunkBytes=8192, quiet=true}
 * Returns {port, url, stats, close(), lastRequest(path), lastResponse(path),
 *          requestsTo(path)}.
 */
export async function startOpenAIEmulator(opts = {}) {
  const host = opts.host || '127.0.0.1';
  const apiKey = opts.apiKey || null;
  const normalModels = opts.models || DEFAULT_MODELS;
  const listFault = opts.listFaultModels !== false;
  const acceptExtra = opts.acceptExtra || [];
  const bigStreamBytes = opts.bigStreamBytes || 4 * 1024 * 1024;
  const bigChunkBytes = opts.bigChunkBytes || 8192;
  const maxRecordedEvents = 2000;
  const known = new Set([...normalModels, ...FAULT_MODELS]);
  let seq = 0;

  const stats = {
    requests: [],         // {method, path, headers, body (parsed JSON or null), rawBody, status}
    responses: [],        // non-stream JSON answers: {path, status, headers, body}
    streams: [],          // {model, state: open|completed|cut|reset|errored, chunks, bytes, events[]}
    streamsStarted: 0,
    streamsCompleted: 0,  // ended normally (with [DONE], or the error event for error-mid-stream)
    streamsCut: 0,        // the client went away before the end
    streamsReset: 0,      // reset-mid-stream destroyed the socket
    backpressureWaits: 0, // res.write() returned false and we waited for 'drain'
  };
  const cleanups = new Set();

  function baseHeaders(extra = {}) {
    return {
      'x-request-id': `req_${hex(32)}`,
      'openai-version': '2020-10-01',
      'openai-processing-ms': '7',
      'openai-organization': 'emulator-org',
      'x-ratelimit-limit-requests': '10000',
      'x-ratelimit-remaining-requests': '9999',
      'x-ratelimit-reset-requests': '6ms',
      ...extra,
    };
  }

  function sendJson(req, res, status, obj, extraHeaders = {}, record) {
    const text = JSON.stringify(obj);
    res.writeHead(status, baseHeaders({
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...extraHeaders,
    }));
    res.end(text);
    if (record) record.status = status;
    stats.responses.push({ path: req.url, status, headers: extraHeaders, body: obj });
  }

  function sendError(req, res, err, record) {
    sendJson(req, res, err.status, err.body(), err.headers, record);
  }

  function checkAuth(req) {
    if (!apiKey) return;
    if (opts.azure) {
      // Azure OpenAI: key in the api-key header, its own 401 body.
      if (req.headers['api-key'] !== apiKey) {
        const e = new ApiError(401, 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.', null, null, '401');
        throw e;
      }
      return;
    }
    const h = req.headers.authorization;
    if (!h) {
      throw new ApiError(401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
        'invalid_request_error', null, null);
    }
    const m = /^Bearer (.+)$/.exec(h);
    const got = m ? m[1] : h;
    if (got !== apiKey) {
      throw new ApiError(401,
        `Incorrect API key provided: ${maskKey(got)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        'invalid_request_error', null, 'invalid_api_key');
    }
  }

  const modelObject = (id) => ({ id, object: 'model', created: MODEL_CREATED, owned_by: 'emulator' });

  // A stream writer: SSE framing, backpressure, and client-gone detection.
  function openStream(res, model) {
    const st = { model, state: 'open', chunks: 0, bytes: 0, events: [] };
    stats.streams.push(st);
    stats.streamsStarted++;
    res.writeHead(200, baseHeaders({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    }));
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
      /** Write raw bytes; resolves when it is OK to write more. */
      async raw(text) {
        if (w.gone) return;
        st.bytes += Buffer.byteLength(text);
        const ok = res.write(text);
        if (!ok && !w.gone) {
          stats.backpressureWaits++;
          await new Promise((resolve) => {
            const done = () => {
              res.off('drain', done);
              res.off('close', done);
              resolve();
            };
            res.on('drain', done);
            res.on('close', done);
          });
        }
      },
      async data(payload) {
        const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
        st.chunks++;
        if (st.events.length < maxRecordedEvents) st.events.push(text);
        await w.raw(`data: ${text}\n\n`);
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
      /** Resolve when the client goes away. */
      closed() {
        return new Promise((resolve) => {
          if (res.destroyed || res.writableFinished) return resolve();
          res.once('close', resolve);
        });
      },
    };
    return w;
  }

  /** Builds the chunks of one streamed answer. */
  function chunker(body, id, created) {
    const includeUsage = !!(body.stream_options && body.stream_options.include_usage);
    return (choices, usage) => {
      const c = {
        id, object: 'chat.completion.chunk', created, model: body.model,
        system_fingerprint: 'fp_emulator', service_tier: 'default', choices,
      };
      if (includeUsage) c.usage = usage === undefined ? null : usage;
      return c;
    };
  }

  // OpenAI's automatic prompt caching: a prompt of 1024 tokens or more whose
  // messages were sent before is served from cache in 128-token steps.
  // Decided once per request (a request may compute its usage twice).
  const seenPrompts = new Set();
  const cachedOf = new WeakMap();
  function usageFor(body, completion) {
    const prompt = promptTokens(body);
    if (!cachedOf.has(body)) {
      const key = JSON.stringify(body.messages);
      cachedOf.set(body, prompt >= 1024 && seenPrompts.has(key) ? Math.floor(prompt / 128) * 128 : 0);
      seenPrompts.add(key);
    }
    return makeUsage(prompt, completion, cachedOf.get(body));
  }

  function planAnswer(body) {
    const n = body.n || 1;
    const calls = chooseToolCalls(body);
    const text = lastUserText(body.messages);
    if (calls.length > 0) {
      const toolCalls = calls.map((t, i) => ({
        id: `call_${String(seq).padStart(6, '0')}${i}${'x'.repeat(17)}`.slice(0, 29),
        type: t.type,
        ...(t.type === 'custom'
          ? { custom: { name: t.custom.name, input: toolArguments(t, text) } }
          : { function: { name: t.function.name, arguments: toolArguments(t, text) } }),
      }));
      const completion = toolCalls.reduce((a, tc) => a + countWords(tc.type === 'custom' ? tc.custom.input : tc.function.arguments) + 1, 0);
      return { n, toolCalls, finish: 'tool_calls', usage: usageFor(body, completion * n) };
    }
    // Structured output: an instance of the schema (as a model bound to it
    // answers), else the echo.
    const rf = body.response_format;
    let frags = rf && rf.type === 'json_schema'
      ? [JSON.stringify(schemaExample(rf.json_schema.schema || {}, text))]
      : rf && rf.type === 'json_object'
        ? [JSON.stringify({ answer: text })]
        : fragments(`You said: ${text}`);
    let finish = 'stop';
    const limit = body.max_completion_tokens ?? body.max_tokens;
    if (limit && frags.length > limit) {
      frags = frags.slice(0, limit);
      finish = 'length';
    }
    if (body.stop) {
      const stops = Array.isArray(body.stop) ? body.stop : [body.stop];
      const joined = frags.join('');
      let cut = -1;
      for (const s of stops) {
        const i = s ? joined.indexOf(s) : -1;
        if (i >= 0 && (cut < 0 || i < cut)) cut = i;
      }
      if (cut >= 0) {
        frags = fragments(joined.slice(0, cut));
        finish = 'stop';
      }
    }
    // The model "content-filter" is cut off by a content filter after its
    // first fragment, as OpenAI and Azure report it.
    if (body.model === 'content-filter') {
      frags = frags.slice(0, 1);
      finish = 'content_filter';
    }
    // The model "reasoner" thinks first, as DeepSeek's reasoner and vLLM's
    // reasoning parsers answer: reasoning_content beside content, counted
    // in completion_tokens_details.reasoning_tokens.
    if (body.model === 'reasoner') {
      const think = fragments(`Thinking about ${text}.`);
      const usage = usageFor(body, (frags.length + think.length) * n);
      usage.completion_tokens_details.reasoning_tokens = think.length * n;
      return { n, frags, content: frags.join(''), finish, usage, think, reasoning: think.join('') };
    }
    return { n, frags, content: frags.join(''), finish, usage: usageFor(body, frags.length * n) };
  }

  function completionBody(body, id, created, plan) {
    const choices = [];
    for (let i = 0; i < plan.n; i++) {
      const message = plan.toolCalls
        ? { role: 'assistant', content: null, tool_calls: plan.toolCalls, refusal: null, annotations: [] }
        : { role: 'assistant', content: plan.content, refusal: null, annotations: [],
          ...(plan.reasoning ? { reasoning_content: plan.reasoning } : {}) };
      choices.push({
        index: i, message,
        logprobs: body.logprobs && !plan.toolCalls ? logprobsFor(plan.frags) : null,
        finish_reason: plan.finish,
      });
    }
    return {
      id, object: 'chat.completion', created, model: body.model, choices,
      usage: plan.usage, service_tier: 'default', system_fingerprint: 'fp_emulator',
    };
  }

  /** Event payloads (objects) of a complete, normal streamed answer. */
  function streamEvents(body, id, created, plan) {
    const chunk = chunker(body, id, created);
    const includeUsage = !!(body.stream_options && body.stream_options.include_usage);
    const ev = [];
    const choice = (i, delta, extra = {}) => ({ index: i, delta, logprobs: null, finish_reason: null, ...extra });
    for (let i = 0; i < plan.n; i++) {
      ev.push(chunk([choice(i, plan.toolCalls
        ? { role: 'assistant', content: null, refusal: null }
        : { role: 'assistant', content: '', refusal: null })]));
    }
    if (plan.toolCalls) {
      // id/type/name first, then the arguments in three pieces, the calls'
      // pieces interleaved (index 0, 1, 0, 1, ...).
      for (let i = 0; i < plan.n; i++) {
        plan.toolCalls.forEach((tc, k) => {
          const fn = tc.type === 'custom'
            ? { custom: { name: tc.custom.name, input: '' } }
            : { function: { name: tc.function.name, arguments: '' } };
          ev.push(chunk([choice(i, { tool_calls: [{ index: k, id: tc.id, type: tc.type, ...fn }] })]));
        });
        const pieces = plan.toolCalls.map((tc) => {
          const a = tc.type === 'custom' ? tc.custom.input : tc.function.arguments;
          const third = Math.ceil(a.length / 3);
          return [a.slice(0, third), a.slice(third, 2 * third), a.slice(2 * third)].filter((x) => x.length);
        });
        const rounds = Math.max(...pieces.map((p) => p.length));
        for (let r = 0; r < rounds; r++) {
          plan.toolCalls.forEach((tc, k) => {
            if (r >= pieces[k].length) return;
            const part = tc.type === 'custom' ? { custom: { input: pieces[k][r] } } : { function: { arguments: pieces[k][r] } };
            ev.push(chunk([choice(i, { tool_calls: [{ index: k, ...part }] })]));
          });
        }
      }
    } else {
      for (const f of plan.think || []) {
        for (let i = 0; i < plan.n; i++) ev.push(chunk([choice(i, { reasoning_content: f })]));
      }
      for (const f of plan.frags) {
        for (let i = 0; i < plan.n; i++) {
          ev.push(chunk([choice(i, { content: f }, body.logprobs ? { logprobs: logprobsFor([f]) } : {})]));
        }
      }
    }
    for (let i = 0; i < plan.n; i++) ev.push(chunk([choice(i, {}, { finish_reason: plan.finish })]));
    if (includeUsage) ev.push(chunk([], plan.usage));
    return ev;
  }

  // POST /v1/embeddings: deterministic vectors, float
  // or base64 little-endian float32, with OpenAI's validation.
  function handleEmbeddings(req, res, body, record) {
    if (!isObject(body)) throw badRequest('We could not parse the JSON body of your request.', null, null);
    for (const k of Object.keys(body)) {
      if (!['model', 'input', 'encoding_format', 'dimensions', 'user'].includes(k)) {
        throw badRequest(`Unrecognized request argument supplied: ${k}`, k, null);
      }
    }
    if (typeof body.model !== 'string') throw badRequest("Missing required parameter: 'model'.", 'model', 'missing_required_parameter');
    if (body.input === undefined) throw badRequest("Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
    if (!known.has(body.model)) throw new ApiError(404, `The model '${body.model}' does not exist`, 'invalid_request_error', 'model', 'model_not_found');
    if (body.model === 'fault-429') throw new ApiError(429, 'Rate limit reached.', 'requests', null, 'rate_limit_exceeded', { 'retry-after': '7' });
    const fmt = body.encoding_format ?? 'float';
    if (fmt !== 'float' && fmt !== 'base64') throw badRequest(`'${fmt}' is not one of ['float', 'base64'] - 'encoding_format'`, 'encoding_format', null);
    const inputs = typeof body.input === 'string' ? [body.input]
      : (Array.isArray(body.input) && typeof body.input[0] === 'number') ? [body.input] : body.input;
    if (!Array.isArray(inputs) || inputs.length === 0 || inputs.some((x) => x === '' || (Array.isArray(x) && x.length === 0))) {
      throw badRequest("'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", 'input', null);
    }
    const dims = body.dimensions ?? 3;
    let tokens = 0;
    const data = inputs.map((x, index) => {
      const text = typeof x === 'string' ? x : JSON.stringify(x);
      tokens += text.split(/\s+/).filter(Boolean).length;
      const v = Array.from({ length: dims }, (_, i) => ((text.length + i) % 5) / 4 - 0.5);
      let embedding = v;
      if (fmt === 'base64') {
        const b = Buffer.alloc(4 * dims);
        v.forEach((f, i) => b.writeFloatLE(f, 4 * i));
        embedding = b.toString('base64');
      }
      return { object: 'embedding', index, embedding };
    });
    return sendJson(req, res, 200, { object: 'list', data, model: body.model, usage: { prompt_tokens: tokens, total_tokens: tokens } }, {}, record);
  }

  // For routing tests: opts.failFirst answers the first N chat requests
  // with 503 (an upstream that recovers); opts.delayMs holds every answer
  // back (a slow upstream).
  let failuresLeft = opts.failFirst || 0;

  async function handleChat(req, res, body, record) {
    validateChatRequest(body, acceptExtra);
    const model = body.model;
    if (!known.has(model)) {
      throw new ApiError(404, `The model \`${model}\` does not exist or you do not have access to it.`,
        'invalid_request_error', null, 'model_not_found');
    }
    if (opts.delayMs) await sleep(opts.delayMs);
    if (failuresLeft > 0) {
      failuresLeft--;
      throw new ApiError(503, 'The engine is currently overloaded, please try again later.', 'server_error', null, null);
    }
    seq++;
    const id = `chatcmpl-emu${String(seq).padStart(6, '0')}${hex(12)}`;
    const created = Math.floor(Date.now() / 1000);
    const stream = body.stream === true;

    switch (model) {
      case 'fault-400':
        throw badRequest("Invalid value for 'messages': emulated upstream rejection.", 'messages', 'invalid_value');
      case 'fault-401':
        throw new ApiError(401, 'Incorrect API key provided: sk-f********************ault. You can find your API key at https://platform.openai.com/account/api-keys.',
          'invalid_request_error', null, 'invalid_api_key');
      case 'fault-429':
        throw new ApiError(429, 'Rate limit reached for fault-429 in organization org-emulator on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 7s.',
          'requests', null, 'rate_limit_exceeded', { 'retry-after': '7', 'retry-after-ms': '7000' });
      case 'fault-500':
        throw new ApiError(500, 'The server had an error while processing your request. Sorry about that!', 'server_error', null, null);
      case 'fault-503':
        throw new ApiError(503, 'The engine is currently overloaded, please try again later.', 'server_error', null, null);
      default:
        break;
    }

    const plan = planAnswer(body);
    const chunk = chunker(body, id, created);
    const choice = (delta, finish = null) => [{ index: 0, delta, logprobs: null, finish_reason: finish }];
    const includeUsage = !!(body.stream_options && body.stream_options.include_usage);

    if (!stream) {
      if (model === 'stall') {
        // No headers at all until the client gives up.
        await new Promise((resolve) => {
          res.once('close', resolve);
          cleanups.add(resolve);
        });
        return;
      }
      if (model === 'slow-stream') await sleep(SLOW_CHUNKS * SLOW_INTERVAL_MS);
      if (model === 'reset-mid-stream') {
        const text = JSON.stringify(completionBody(body, id, created, plan));
        res.writeHead(200, baseHeaders({ 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }));
        res.write(text.slice(0, text.length >> 1), () => setTimeout(() => res.socket && res.socket.destroy(), 20));
        record.status = 200;
        stats.streamsReset++;
        return;
      }
      if (model === 'malformed-chunk' || model === 'error-mid-stream') {
        const text = `{"id":"${id}","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"You sa`;
        res.writeHead(200, baseHeaders({ 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }));
        res.end(text);
        record.status = 200;
        return;
      }
      if (model === 'big-stream') {
        const content = bigContent(bigStreamBytes);
        const big = completionBody(body, id, created, {
          ...plan, content, frags: [content], finish: 'stop',
          usage: usageFor(body, countWords(content)),
        });
        return sendJson(req, res, 200, big, {}, record);
      }
      return sendJson(req, res, 200, completionBody(body, id, created, plan), {}, record);
    }

    // Streaming.
    record.status = 200;
    const w = openStream(res, model);

    if (model === 'slow-stream') {
      await w.data(chunk(choice({ role: 'assistant', content: '', refusal: null })));
      for (let i = 0; i < SLOW_CHUNKS && !w.gone; i++) {
        await sleep(SLOW_INTERVAL_MS);
        await w.data(chunk(choice({ content: `${i ? ' ' : ''}s${i + 1}` })));
      }
      await w.data(chunk(choice({}, 'stop')));
      if (includeUsage) await w.data(chunk([], usageFor(body, SLOW_CHUNKS)));
      await w.data('[DONE]');
      return w.end();
    }
    if (model === 'stall') {
      await w.data(chunk(choice({ role: 'assistant', content: '', refusal: null })));
      await new Promise((resolve) => {
        w.closed().then(resolve);
        cleanups.add(resolve);
      });
      return;
    }
    if (model === 'big-stream') {
      await w.data(chunk(choice({ role: 'assistant', content: '', refusal: null })));
      let sent = 0;
      let words = 0;
      while (sent < bigStreamBytes && !w.gone) {
        const piece = bigContent(Math.min(bigChunkBytes, bigStreamBytes - sent), sent);
        sent += piece.length;
        words += countWords(piece);
        await w.data(chunk(choice({ content: piece })));
      }
      await w.data(chunk(choice({}, 'stop')));
      if (includeUsage) await w.data(chunk([], usageFor(body, words)));
      await w.data('[DONE]');
      return w.end();
    }

    const events = streamEvents(body, id, created, plan);

    if (model === 'reset-mid-stream' || model === 'error-mid-stream') {
      for (const e of events.slice(0, 1 + MID_STREAM_CHUNKS)) await w.data(e);
      if (model === 'reset-mid-stream') {
        await sleep(50);
        return w.reset();
      }
      await w.data({ error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null } });
      return w.end('errored');
    }
    if (model === 'malformed-chunk') {
      await w.data(events[0]);
      await w.data(events[1]);
      await w.data(`{"id":"${id}","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"oops"}`);
      for (const e of events.slice(2)) await w.data(e);
      await w.data('[DONE]');
      return w.end();
    }
    if (model === 'sse-edge') {
      // Same answer, framed with every SSE edge case of §0.1.
      const texts = events.map((e) => JSON.stringify(e));
      st_push(w, texts);
      await w.raw(': keep-alive comment\r\n\r\n');
      await w.raw(`data:${texts[0]}\r\n\r\n`); // no space after the colon, CRLF
      if (texts.length > 1) {
        // A multi-line data field (joined with \n), then an event split in two writes.
        const t = texts[1];
        const cut = t.indexOf(',') + 1;
        await w.raw(`id: 1\r\nretry: 1000\r\ndata: ${t.slice(0, cut)}\r\ndata: ${t.slice(cut)}\r\n\r\n`);
      }
      for (let i = 2; i < texts.length; i++) {
        const ev = `data: ${texts[i]}\n\n`;
        if (i === 2) {
          await w.raw(ev.slice(0, 10));
          await sleep(30);
          await w.raw(ev.slice(10));
        } else if (i === 3 && i + 1 < texts.length) {
          await w.raw(ev + `data: ${texts[i + 1]}\r\r`); // two events in one write, CR endings
          i++;
        } else {
          await w.raw(ev);
        }
      }
      await w.raw(': done soon\n\ndata: [DONE]\n\n');
      st_push(w, ['[DONE]']);
      return w.end();
    }

    for (const e of events) {
      await w.data(e);
      if (opts.chunkDelayMs) await sleep(opts.chunkDelayMs);
    }
    await w.data('[DONE]');
    return w.end();
  }

  function st_push(w, texts) {
    for (const t of texts) {
      w.st.chunks++;
      if (w.st.events.length < maxRecordedEvents) w.st.events.push(t);
    }
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://x');
    let path = url.pathname;
    const raw = await readBody(req);
    const record = {
      method: req.method, path, query: url.search, headers: { ...req.headers },
      rawBody: raw.toString('utf8'), body: null, status: null, time: Date.now(),
    };
    try { record.body = JSON.parse(record.rawBody); } catch { /* not JSON */ }
    stats.requests.push(record);
    try {
      if (opts.azure) {
        // Azure's two URL styles onto the OpenAI routes.
        const dep = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/.exec(path);
        if (dep) {
          if (!url.searchParams.get('api-version')) throw new ApiError(404, 'Resource not found', null, null, '404');
          // The deployment decides the model; the body's is ignored.
          if (record.body && typeof record.body === 'object') record.body.model = decodeURIComponent(dep[1]);
          path = `/v1/${dep[2]}`;
        } else if (path.startsWith('/openai/v1/')) {
          path = path.slice('/openai'.length);
        } else {
          throw new ApiError(404, 'Resource not found', null, null, '404');
        }
      }
      checkAuth(req);
      if (path === '/v1/models' || path === '/v1/models/') {
        if (req.method !== 'GET') throw new ApiError(405, `Invalid URL (${req.method} ${path})`, 'invalid_request_error');
        const ids = [...normalModels, ...(listFault ? FAULT_MODELS : [])];
        return sendJson(req, res, 200, { object: 'list', data: ids.map(modelObject) }, {}, record);
      }
      if (path.startsWith('/v1/models/')) {
        const id = decodeURIComponent(path.slice('/v1/models/'.length));
        if (req.method !== 'GET') throw new ApiError(405, `Invalid URL (${req.method} ${path})`, 'invalid_request_error');
        if (!known.has(id)) {
          throw new ApiError(404, `The model '${id}' does not exist`, 'invalid_request_error', 'model', 'model_not_found');
        }
        return sendJson(req, res, 200, modelObject(id), {}, record);
      }
      if (path === '/v1/embeddings') {
        if (req.method !== 'POST') throw new ApiError(405, `Invalid URL (${req.method} ${path})`, 'invalid_request_error');
        return handleEmbeddings(req, res, record.body, record);
      }
      if (path === '/v1/chat/completions') {
        if (req.method !== 'POST') throw new ApiError(405, `Invalid URL (${req.method} ${path})`, 'invalid_request_error');
        const ct = req.headers['content-type'] || '';
        if (!/^application\/json\s*(;|$)/i.test(ct)) {
          throw badRequest(
            `Invalid Content-Type header (${ct || 'none'}), expected application/json. (HINT: If you're using curl, you can pass -H 'Content-Type: application/json')`,
            null, null);
        }
        if (record.body === null && record.rawBody.trim() !== 'null') {
          throw badRequest(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
            null, null);
        }
        return await handleChat(req, res, record.body, record);
      }
      throw new ApiError(404, `Invalid URL (${req.method} ${path})`, 'invalid_request_error');
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (res.headersSent) return res.destroy();
      return sendError(req, res, err, record);
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!opts.quiet) console.error('emulator: internal error', err);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `emulator bug: ${err.message}`, type: 'server_error', param: null, code: null } }));
      } else {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 30000;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port || 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = server.address().port;

  const emu = {
    port,
    host,
    url: `http://${host}:${port}/v1`,
    stats,
    /** Requests received on a path (default: chat completions). */
    requestsTo(p = '/v1/chat/completions') {
      return stats.requests.filter((r) => r.path === p);
    },
    lastRequest(p = '/v1/chat/completions') {
      const r = emu.requestsTo(p);
      return r[r.length - 1];
    },
    lastResponse(p = '/v1/chat/completions') {
      const r = stats.responses.filter((x) => x.path === p);
      return r[r.length - 1];
    },
    lastStream() {
      return stats.streams[stats.streams.length - 1];
    },
    /** Close every kept-alive connection no request is on (what a real
     * upstream does after its keep-alive time-out). */
    closeIdle() {
      server.closeIdleConnections();
    },
    async close() {
      for (const c of cleanups) c();
      cleanups.clear();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return emu;
}

/** len bytes of ASCII words, deterministic by offset. */
function bigContent(len, offset = 0) {
  const pattern = 'lorem ipsum dolor sit amet consectetur adipiscing elit ';
  const start = offset % pattern.length;
  const reps = Math.ceil((len + start) / pattern.length) + 1;
  return pattern.repeat(reps).slice(start, start + len);
}

/** The exact content big-stream produces for a size (for assertions). */
export function bigStreamContent(bytes) {
  return bigContent(bytes, 0);
}

// ----------------------------------------------------------------------------
// CLI

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--port': out.port = Number(next()); break;
      case '--host': out.host = next(); break;
      case '--api-key': out.apiKey = next(); break;
      case '--accept-extra': out.acceptExtra = next().split(',').filter(Boolean); break;
      case '--models': out.models = next().split(',').filter(Boolean); break;
      case '--big-stream-bytes': out.bigStreamBytes = Number(next()); break;
      case '--help': case '-h':
        console.log('usage: node openai.mjs [--port P] [--host H] [--api-key KEY] [--accept-extra a,b] [--models a,b] [--big-stream-bytes N]');
        process.exit(0);
        break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`openai emulator: ${e.message}`);
    process.exit(2);
  }
  const emu = await startOpenAIEmulator({ port: 8000, ...args, quiet: false });
  console.log(`openai emulator listening on ${emu.url}`);
  const stop = async () => {
    await emu.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
