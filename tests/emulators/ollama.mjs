// A strict, deterministic emulator of Ollama's native API
// (the provider's public API reference), for Switchboard's tests.
//
// Library:  const emu = await startOllamaEmulator({apiKey: 'optional'});
//           emu.url -> 'http://127.0.0.1:PORT' (no /v1: the native API
//           lives at /api/...); emu.stats; emu.lastRequest(); await emu.close();
// CLI:      node tests/emulators/ollama.mjs --port 11434 [--api-key KEY]
//                [--host H] [--models a,b] [--tool-call-ids]
//
// Endpoints: POST /api/chat (NDJSON stream by default, a single JSON object
//           with "stream": false), POST /api/embed, GET /api/tags,
//           GET /api/version, GET /.
//
// Answers:  the model replies "You said: <last user text>", one word per
//           stream line. Tool calls: when tools are given and the last
//           message is a user message whose text names one or more of the
//           tools (e.g. "call get_weather"), the model calls every named
//           tool, in tools order, all in ONE stream line (as Ollama does);
//           arguments are objects with a value for every declared property.
//           Tool calls carry no "id" unless opts.toolCallIds (older Ollama
//           omits them). After tool results (last message role "tool") the
//           model replies "Tool results: <tool_name>=<content>; ...".
//           "think" on a thinking model (name starts with qwen3, deepseek-r1
//           or gpt-oss) first streams message.thinking "Thinking about:
//           <text>"; on other models it is a 400 as in Ollama.
//           format "json" → content {"answer":"You said: ..."}; a schema →
//           an object with a value for every property.
//           options.num_predict cuts the answer (done_reason "length");
//           options.stop cuts at the first stop string.
// Embeddings: POST /api/embed validates like Ollama's EmbedHandler (input a
//           string or an array of strings, else 400 "invalid input type";
//           "" or null: no input, answer {"model","embeddings":[]}) and
//           answers {model, embeddings, total_duration, load_duration,
//           prompt_eval_count}. Vectors are deterministic per text
//           (embedText), unit length, float32 values printed as Go prints
//           them; EMBEDDING_MODELS gives their length (others:
//           EMBED_DEFAULT.dims). One token per word; an input longer than
//           min(options.num_ctx or DEFAULT_NUM_CTX, the model's context) is
//           cut to it, or with "truncate": false refused with 400
//           EMBED_TOO_LONG. "dimensions" below the length keeps the first
//           components and re-normalises. Embedding-only models answer 400
//           "<model>" does not support chat at /api/chat.
// Faults, chosen by model name (FAULT_MODELS): fault-400, fault-401,
//           fault-429 (retry-after: 7), fault-500, fault-503, slow-stream,
//           stall, reset-mid-stream, error-mid-stream, malformed-chunk.
//
// Like Ollama, unknown top-level fields are ignored, but the emulator
// records them in stats.unknownFields (and unknown option names in
// stats.unknownOptions) so that tests can assert the gateway sent none.
//
// No dependencies beyond node:*.

import http from 'node:http';
import { pathToFileURL } from 'node:url';

export const DEFAULT_MODELS = ['llama3.2:latest', 'qwen3:8b', 'llava:latest', 'gpt-oss:20b', 'nomic-embed-text:latest'];
export const FAULT_MODELS = [
  'fault-400', 'fault-401', 'fault-429', 'fault-500', 'fault-503',
  'slow-stream', 'stall', 'reset-mid-stream', 'error-mid-stream', 'malformed-chunk',
];

/** slow-stream: one content line every SLOW_INTERVAL_MS, SLOW_CHUNKS of them. */
export const SLOW_CHUNKS = 30;
export const SLOW_INTERVAL_MS = 100;
/** Content lines sent by reset-mid-stream / error-mid-stream / malformed-chunk before failing. */
export const MID_STREAM_CHUNKS = 3;
export const MID_STREAM_ERROR = 'an error was encountered while running the model: unexpected EOF';

const THINKING_PREFIXES = ['qwen3', 'deepseek-r1', 'gpt-oss'];

/** Embedding-only models (no chat), by base name: vector length, context length. */
export const EMBEDDING_MODELS = { 'nomic-embed-text': { dims: 768, ctx: 2048 }, 'all-minilm': { dims: 384, ctx: 512 } };
/** What /api/embed gives for any other model (a chat model embeds too). */
export const EMBED_DEFAULT = { dims: 32, ctx: 131072 };
/** Ollama's default options.num_ctx. */
export const DEFAULT_NUM_CTX = 4096;
/** The runner's 400 for an input over the context with truncate:false. */
export const EMBED_TOO_LONG = 'the input length exceeds the context length';
const ROLES = ['system', 'user', 'assistant', 'tool'];

// Top-level fields of POST /api/chat and their Go types.
const FIELDS = {
  model: 'string',
  messages: 'array',
  stream: 'bool',
  format: 'raw',
  tools: 'array',
  think: 'think',
  options: 'object',
  keep_alive: 'duration',
  truncate: 'bool',
  shift: 'bool',
  logprobs: 'bool',
  top_logprobs: 'int',
};

// Option names Ollama knows (api.Options / api.Runner), with their kinds.
const OPTIONS = {
  num_keep: 'int', seed: 'int', num_predict: 'int', top_k: 'int', top_p: 'float',
  min_p: 'float', typical_p: 'float', repeat_last_n: 'int', temperature: 'float',
  repeat_penalty: 'float', presence_penalty: 'float', frequency_penalty: 'float',
  stop: 'strings', num_ctx: 'int', num_batch: 'int', num_gpu: 'int', main_gpu: 'int',
  use_mmap: 'bool', num_thread: 'int', tfs_z: 'float', mirostat: 'int',
  mirostat_tau: 'float', mirostat_eta: 'float', penalize_newline: 'bool',
};

class OllamaError extends Error {
  constructor(status, message, headers = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

const bad = (message) => new OllamaError(400, message);
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function goType(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  return typeof v; // string, number, object
}

/** Go's json error for a value of the wrong type. */
function unmarshalError(v, field, goWant) {
  return bad(`json: cannot unmarshal ${goType(v)} into Go struct field ${field} of type ${goWant}`);
}

function checkMessages(messages) {
  messages.forEach((m, i) => {
    const f = (k) => `ChatRequest.messages.${k}`;
    if (!isObject(m)) throw unmarshalError(m, 'ChatRequest.messages', 'api.Message');
    if (typeof m.role !== 'string') throw unmarshalError(m.role, f('role'), 'string');
    if (!ROLES.includes(m.role)) throw bad(`invalid role "${m.role}" in messages[${i}]`);
    if (m.content !== undefined && typeof m.content !== 'string') throw unmarshalError(m.content, f('content'), 'string');
    if (m.thinking !== undefined && typeof m.thinking !== 'string') throw unmarshalError(m.thinking, f('thinking'), 'string');
    if (m.tool_name !== undefined && typeof m.tool_name !== 'string') throw unmarshalError(m.tool_name, f('tool_name'), 'string');
    if (m.tool_call_id !== undefined && typeof m.tool_call_id !== 'string') throw unmarshalError(m.tool_call_id, f('tool_call_id'), 'string');
    if (m.images !== undefined && m.images !== null) {
      if (!Array.isArray(m.images)) throw unmarshalError(m.images, f('images'), '[]api.ImageData');
      m.images.forEach((img, j) => {
        if (typeof img !== 'string') throw unmarshalError(img, f('images'), 'api.ImageData');
        if (img.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(img)) {
          const at = [...img].findIndex((c) => !/[A-Za-z0-9+/=]/.test(c));
          throw bad(`illegal base64 data at input byte ${at >= 0 ? at : img.length - (img.length % 4)}`);
        }
        if (!img.length) throw bad(`messages[${i}].images[${j}]: empty image`);
      });
    }
    if (m.tool_calls !== undefined && m.tool_calls !== null) {
      if (!Array.isArray(m.tool_calls)) throw unmarshalError(m.tool_calls, f('tool_calls'), '[]api.ToolCall');
      for (const tc of m.tool_calls) {
        if (!isObject(tc)) throw unmarshalError(tc, f('tool_calls'), 'api.ToolCall');
        if (tc.id !== undefined && typeof tc.id !== 'string') throw unmarshalError(tc.id, f('tool_calls.id'), 'string');
        if (!isObject(tc.function)) throw unmarshalError(tc.function, f('tool_calls.function'), 'api.ToolCallFunction');
        if (typeof tc.function.name !== 'string') throw unmarshalError(tc.function.name, f('tool_calls.function.name'), 'string');
        if (tc.function.index !== undefined && !Number.isInteger(tc.function.index)) throw unmarshalError(tc.function.index, f('tool_calls.function.index'), 'int');
        if (!isObject(tc.function.arguments)) {
          throw unmarshalError(tc.function.arguments, f('tool_calls.function.arguments'), 'api.ToolCallFunctionArguments');
        }
      }
    }
  });
}

function checkTools(tools) {
  for (const t of tools) {
    if (!isObject(t)) throw unmarshalError(t, 'ChatRequest.tools', 'api.Tool');
    if (t.type !== 'function') throw bad(`invalid tool type "${t.type}"`);
    if (!isObject(t.function) || typeof t.function.name !== 'string') {
      throw unmarshalError(t.function, 'ChatRequest.tools.function', 'api.ToolFunction');
    }
    if (t.function.parameters !== undefined && !isObject(t.function.parameters)) {
      throw unmarshalError(t.function.parameters, 'ChatRequest.tools.function.parameters', 'api.ToolFunctionParameters');
    }
  }
}

/** Validate like Ollama's handler; returns the unknown top-level and option names. */
export function validateChatRequest(body) {
  if (!isObject(body)) throw unmarshalError(body, 'ChatRequest', 'api.ChatRequest');
  const unknown = [];
  for (const [k, v] of Object.entries(body)) {
    const t = FIELDS[k];
    if (!t) { unknown.push(k); continue; }
    if (v === null) continue;
    switch (t) {
      case 'string': if (typeof v !== 'string') throw unmarshalError(v, `ChatRequest.${k}`, 'string'); break;
      case 'array': if (!Array.isArray(v)) throw unmarshalError(v, `ChatRequest.${k}`, k === 'messages' ? '[]api.Message' : 'api.Tools'); break;
      case 'bool': if (typeof v !== 'boolean') throw unmarshalError(v, `ChatRequest.${k}`, 'bool'); break;
      case 'int': if (!Number.isInteger(v)) throw unmarshalError(v, `ChatRequest.${k}`, 'int'); break;
      case 'object': if (!isObject(v)) throw unmarshalError(v, `ChatRequest.${k}`, 'map[string]interface {}'); break;
      case 'think':
        if (typeof v !== 'boolean' && typeof v !== 'string') throw bad(`think must be a boolean or string, got ${goType(v)}`);
        if (typeof v === 'string' && !['high', 'medium', 'low'].includes(v)) {
          throw bad(`invalid think value: "${v}" (must be "high", "medium", "low", true, or false)`);
        }
        break;
      case 'duration':
        if (typeof v !== 'string' && typeof v !== 'number') throw bad(`unsupported type: '${goType(v)}'`);
        if (typeof v === 'string' && !/^-?\d+(\.\d+)?(ns|us|µs|ms|s|m|h)?$/.test(v)) throw bad(`time: invalid duration "${v}"`);
        break;
      case 'raw':
        if (!(v === 'json' || v === '' || isObject(v))) {
          throw bad('invalid format: expected "json" or a valid JSON schema');
        }
        break;
      default: break;
    }
  }
  if (body.model === undefined || body.model === '') throw bad('model is required');
  if (body.messages !== undefined && body.messages !== null) checkMessages(body.messages);
  if (body.tools) checkTools(body.tools);
  return { unknown, unknownOptions: checkOptions(body.options) };
}

/** Check options like api.Options.FromMap; returns the unknown names. */
function checkOptions(options) {
  const unknownOptions = [];
  if (!isObject(options)) return unknownOptions;
  for (const [k, v] of Object.entries(options)) {
    const t = OPTIONS[k];
    if (!t) { unknownOptions.push(k); continue; }
    const ok = t === 'int' ? Number.isInteger(v)
      : t === 'float' ? typeof v === 'number'
        : t === 'bool' ? typeof v === 'boolean'
          : Array.isArray(v) && v.every((s) => typeof s === 'string');
    if (!ok) {
      const want = { int: 'int', float: 'float32', bool: 'bool', strings: '[]string' }[t];
      throw bad(`option "${k}" must be of type ${want}`);
    }
  }
  return unknownOptions;
}

// Top-level fields of POST /api/embed (api.EmbedRequest) and their Go types.
const EMBED_FIELDS = {
  model: 'string', input: 'any', keep_alive: 'duration', truncate: 'bool',
  dimensions: 'int', options: 'object',
};

/**
 * Validate like Ollama's EmbedHandler (JSON binding, then the input
 * switch); returns {inputs, unknown, unknownOptions}. An empty string or a
 * null input means no input (the model is only loaded).
 */
export function validateEmbedRequest(body) {
  if (!isObject(body)) throw unmarshalError(body, 'EmbedRequest', 'api.EmbedRequest');
  const unknown = [];
  for (const [k, v] of Object.entries(body)) {
    const t = EMBED_FIELDS[k];
    if (!t) { unknown.push(k); continue; }
    if (v === null) continue;
    switch (t) {
      case 'string': if (typeof v !== 'string') throw unmarshalError(v, `EmbedRequest.${k}`, 'string'); break;
      case 'bool': if (typeof v !== 'boolean') throw unmarshalError(v, `EmbedRequest.${k}`, 'bool'); break;
      case 'int':
        if (typeof v !== 'number') throw unmarshalError(v, `EmbedRequest.${k}`, 'int');
        if (!Number.isInteger(v)) throw bad(`json: cannot unmarshal number ${v} into Go struct field EmbedRequest.${k} of type int`);
        break;
      case 'object': if (!isObject(v)) throw unmarshalError(v, `EmbedRequest.${k}`, 'map[string]interface {}'); break;
      case 'duration':
        if (typeof v !== 'string' && typeof v !== 'number') throw bad(`unsupported type: '${goType(v)}'`);
        if (typeof v === 'string' && !/^-?\d+(\.\d+)?(ns|us|µs|ms|s|m|h)?$/.test(v)) throw bad(`time: invalid duration "${v}"`);
        break;
      default: break;
    }
  }
  if (body.model === undefined || body.model === null || body.model === '') throw bad('model is required');
  const input = body.input;
  let inputs;
  if (typeof input === 'string') inputs = input.length ? [input] : [];
  else if (Array.isArray(input)) {
    if (!input.every((v) => typeof v === 'string')) throw bad('invalid input type');
    inputs = input;
  } else if (input === undefined || input === null) inputs = [];
  else throw bad('invalid input type');
  return { inputs, unknown, unknownOptions: checkOptions(body.options) };
}

/** Go's strconv.FormatFloat(v, 'g', -1, 32): the shortest text of a float32. */
export function float32Json(x) {
  const f = Math.fround(x);
  for (let p = 1; p < 10; p++) {
    const n = Number(f.toPrecision(p));
    if (Math.fround(n) === f) return n;
  }
  return f;
}

/** Scale v to unit length (Ollama's normalize, in float32). */
function normalize(v) {
  let sum = 0;
  for (const x of v) sum = Math.fround(sum + Math.fround(x * x));
  const norm = Math.fround(1 / Math.max(Math.sqrt(sum), 1e-12));
  return v.map((x) => Math.fround(x * norm));
}

/** The deterministic, unit-length vector of one text (FNV-1a per component). */
export function embedText(text, dims) {
  const bytes = Buffer.from(text, 'utf8');
  const v = [];
  for (let i = 0; i < dims; i++) {
    let h = (0x811c9dc5 ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    v.push(Math.fround((h / 0xffffffff) * 2 - 1));
  }
  return normalize(v);
}

/** Text of the last user message. */
export function lastUserText(messages) {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'user') return messages[i].content || '';
  }
  return '';
}

export function countWords(s) {
  return s.split(/\s+/).filter(Boolean).length;
}

/** One word per fragment, with its leading space. */
export function fragments(s) {
  return s.match(/\s*\S+|\s+$/g) || [];
}

function exampleValue(schema, text) {
  if (schema && Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  switch (schema && schema.type) {
    case 'string': return text;
    case 'integer': case 'number': return 1;
    case 'boolean': return true;
    case 'array': return [];
    case 'object': return exampleObject(schema, text);
    default: return null;
  }
}

function exampleObject(schema, text) {
  const out = {};
  if (schema && isObject(schema.properties)) {
    for (const [k, s] of Object.entries(schema.properties)) out[k] = exampleValue(s, text);
  }
  return out;
}

/** Which tools the model calls: every tool the last user message names. */
function chooseToolCalls(body) {
  const msgs = body.messages || [];
  const last = msgs[msgs.length - 1];
  if (!body.tools || !body.tools.length || !last || last.role !== 'user') return [];
  const text = last.content || '';
  return body.tools.filter((t) => text.includes(t.function.name));
}

function promptTokens(body) {
  let n = 0;
  for (const m of body.messages || []) {
    n += countWords(m.content || '') + 1 + (m.images ? m.images.length * 10 : 0);
    if (m.tool_calls) n += countWords(JSON.stringify(m.tool_calls).replace(/[{}[\]",:]/g, ' '));
  }
  if (body.tools) n += countWords(JSON.stringify(body.tools).replace(/[{}[\]",:]/g, ' '));
  return n;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/** Go's encoding/json error for text that is not JSON (close enough). */
function jsonSyntaxError(text) {
  const t = text.trimStart();
  if (!t.length) return 'missing request body';
  try {
    JSON.parse(text);
    return null;
  } catch {
    const c = t[0];
    if (!'{["-0123456789tfn'.includes(c)) return `invalid character '${c}' looking for beginning of value`;
    return 'unexpected EOF';
  }
}

/**
 * Start the emulator.
 * opts: {port=0, host='127.0.0.1', apiKey (require Authorization: Bearer),
 *        models=DEFAULT_MODELS, listFaultModels=true, toolCallIds=false,
 *        chunkDelayMs=0, quiet=true}
 */
export async function startOllamaEmulator(opts = {}) {
  const host = opts.host || '127.0.0.1';
  const apiKey = opts.apiKey || null;
  const normalModels = (opts.models || DEFAULT_MODELS).map((m) => (m.includes(':') ? m : `${m}:latest`));
  const listFault = opts.listFaultModels !== false;
  const faultTagged = FAULT_MODELS.map((m) => `${m}:latest`);
  const known = new Set([...normalModels, ...faultTagged]);
  const maxRecorded = 2000;
  let seq = 0;

  const stats = {
    requests: [],       // {method, path, query, headers, rawBody, body, status}
    responses: [],      // non-stream JSON answers: {path, status, body}
    streams: [],        // {model, state: open|completed|cut|reset|errored, lines[]}
    unknownFields: [],  // top-level request fields Ollama would ignore
    unknownOptions: [], // option names Ollama would ignore
    streamsStarted: 0,
    streamsCompleted: 0,
    streamsCut: 0,
    streamsReset: 0,
  };
  const cleanups = new Set();

  const resolveModel = (name) => (name.includes(':') ? name : `${name}:latest`);
  const baseName = (name) => resolveModel(name).split(':')[0];
  const isFault = (name) => FAULT_MODELS.includes(baseName(name)) && resolveModel(name).endsWith(':latest');
  const thinks = (name) => THINKING_PREFIXES.some((p) => baseName(name).startsWith(p));

  function sendJson(req, res, status, obj, headers = {}, record) {
    const text = JSON.stringify(obj);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
    if (record) record.status = status;
    stats.responses.push({ path: req.url, status, body: obj });
  }

  function checkAuth(req) {
    if (!apiKey) return;
    const h = req.headers.authorization || '';
    if (h !== `Bearer ${apiKey}`) throw new OllamaError(401, 'unauthorized');
  }

  function openStream(res, model) {
    const st = { model, state: 'open', lines: [] };
    stats.streams.push(st);
    stats.streamsStarted++;
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
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
      async line(obj) {
        const text = typeof obj === 'string' ? obj : JSON.stringify(obj);
        if (st.lines.length < maxRecorded) st.lines.push(text);
        await w.raw(`${text}\n`);
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

  /** What the model answers: thinking, content fragments, tool calls, done_reason. */
  function plan(body) {
    const msgs = body.messages || [];
    const last = msgs[msgs.length - 1];
    const text = lastUserText(msgs);
    const think = body.think === true || typeof body.think === 'string';
    const thinking = think ? fragments(`Thinking about: ${text}`) : [];
    const calls = chooseToolCalls(body);
    const opt = isObject(body.options) ? body.options : {};
    if (calls.length) {
      seq++;
      const toolCalls = calls.map((t, i) => ({
        ...(opts.toolCallIds ? { id: `call_${String(seq).padStart(4, '0')}${i}emu` } : {}),
        function: { index: i, name: t.function.name, arguments: exampleObject(t.function.parameters, text) },
      }));
      const evalCount = thinking.length + toolCalls.reduce((a, c) => a + countWords(JSON.stringify(c.function.arguments)) + 1, 0);
      return { thinking, frags: [], toolCalls, reason: 'stop', prompt: promptTokens(body), evalCount };
    }
    let answer;
    if (last && last.role === 'tool') {
      const results = [];
      for (let i = msgs.length - 1; i >= 0 && msgs[i].role === 'tool'; i--) {
        results.unshift(`${msgs[i].tool_name || '?'}=${msgs[i].content || ''}`);
      }
      answer = `Tool results: ${results.join('; ')}`;
    } else {
      answer = `You said: ${text}`;
    }
    if (body.format === 'json') answer = JSON.stringify({ answer });
    else if (isObject(body.format)) answer = JSON.stringify(exampleObject(body.format, text));
    let frags = fragments(answer);
    let reason = 'stop';
    if (Array.isArray(opt.stop) && opt.stop.length) {
      const joined = frags.join('');
      let cut = -1;
      for (const s of opt.stop) {
        const i = s ? joined.indexOf(s) : -1;
        if (i >= 0 && (cut < 0 || i < cut)) cut = i;
      }
      if (cut >= 0) frags = fragments(joined.slice(0, cut));
    }
    if (Number.isInteger(opt.num_predict) && opt.num_predict > 0) {
      const budget = opt.num_predict - thinking.length;
      if (budget < frags.length) {
        frags = frags.slice(0, Math.max(0, budget));
        reason = 'length';
      }
    }
    return { thinking, frags, toolCalls: null, reason, prompt: promptTokens(body), evalCount: thinking.length + frags.length };
  }

  const now = () => new Date().toISOString();

  function finalFields(p) {
    return {
      done: true, done_reason: p.reason,
      total_duration: 4883583458, load_duration: 1334875,
      prompt_eval_count: p.prompt, prompt_eval_duration: 342546000,
      eval_count: p.evalCount, eval_duration: 4535599000,
    };
  }

  async function handleChat(req, res, body, record) {
    const { unknown, unknownOptions } = validateChatRequest(body);
    stats.unknownFields.push(...unknown);
    stats.unknownOptions.push(...unknownOptions);
    const model = body.model;
    if (!known.has(resolveModel(model))) {
      throw new OllamaError(404, `model "${model}" not found, try pulling it first`);
    }
    if (EMBEDDING_MODELS[baseName(model)]) throw bad(`${JSON.stringify(model)} does not support chat`);
    if (body.think !== undefined && body.think !== null && body.think !== false && !thinks(model) && !isFault(model)) {
      throw bad(`"${model}" does not support thinking`);
    }
    const stream = body.stream !== false; // Ollama streams unless told not to
    if (isFault(model)) {
      switch (baseName(model)) {
        case 'fault-400': throw bad('invalid input: emulated rejection');
        case 'fault-401': throw new OllamaError(401, 'unauthorized');
        case 'fault-429': throw new OllamaError(429, 'too many requests, please try again later', { 'retry-after': '7' });
        case 'fault-500': throw new OllamaError(500, 'llama runner process has terminated: exit status 2');
        case 'fault-503': throw new OllamaError(503, 'server busy, please try again.  maximum pending requests exceeded');
        default: break;
      }
    }
    const p = plan(body);
    const fault = isFault(model) ? baseName(model) : null;
    const msg = (extra) => ({ model, created_at: now(), message: { role: 'assistant', content: '', ...extra }, done: false });

    if (!stream) {
      if (fault === 'stall') {
        await new Promise((resolve) => { res.once('close', resolve); cleanups.add(resolve); });
        return;
      }
      if (fault === 'slow-stream') await sleep(SLOW_CHUNKS * SLOW_INTERVAL_MS);
      if (fault === 'reset-mid-stream' || fault === 'malformed-chunk' || fault === 'error-mid-stream') {
        const text = `{"model":"${model}","created_at":"${now()}","message":{"role":"assistant","content":"You sa`;
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) + 40 });
        record.status = 200;
        res.write(text, () => setTimeout(() => res.socket && res.socket.destroy(), 20));
        if (fault === 'reset-mid-stream') stats.streamsReset++;
        return;
      }
      const message = { role: 'assistant', content: p.frags.join('') };
      if (p.thinking.length) message.thinking = p.thinking.join('');
      if (p.toolCalls) message.tool_calls = p.toolCalls;
      return sendJson(req, res, 200, { model, created_at: now(), message, ...finalFields(p) }, {}, record);
    }

    record.status = 200;
    const w = openStream(res, model);
    if (fault === 'stall') {
      await w.line(msg({ content: 'You' }));
      await new Promise((resolve) => { w.closed().then(resolve); cleanups.add(resolve); });
      return;
    }
    if (fault === 'slow-stream') {
      for (let i = 0; i < SLOW_CHUNKS && !w.gone; i++) {
        await sleep(SLOW_INTERVAL_MS);
        await w.line(msg({ content: `${i ? ' ' : ''}s${i + 1}` }));
      }
      await w.line({ model, created_at: now(), message: { role: 'assistant', content: '' }, ...finalFields({ ...p, reason: 'stop', evalCount: SLOW_CHUNKS }) });
      return w.end();
    }
    const lines = [];
    for (const t of p.thinking) lines.push(msg({ thinking: t }));
    for (const f of p.frags) lines.push(msg({ content: f }));
    if (p.toolCalls) lines.push(msg({ tool_calls: p.toolCalls }));
    const final = { model, created_at: now(), message: { role: 'assistant', content: '' }, ...finalFields(p) };

    if (fault === 'reset-mid-stream' || fault === 'error-mid-stream' || fault === 'malformed-chunk') {
      for (const l of lines.slice(0, MID_STREAM_CHUNKS)) await w.line(l);
      if (fault === 'reset-mid-stream') {
        await sleep(50);
        return w.reset();
      }
      if (fault === 'error-mid-stream') {
        await w.line({ error: MID_STREAM_ERROR });
        return w.end('errored');
      }
      await w.line(`{"model":"${model}","created_at":"${now()}","message":{"role":"assistant","content":" oops"`);
      for (const l of lines.slice(MID_STREAM_CHUNKS)) await w.line(l);
      await w.line(final);
      return w.end();
    }
    for (const l of lines) {
      await w.line(l);
      if (opts.chunkDelayMs) await sleep(opts.chunkDelayMs);
    }
    await w.line(final);
    return w.end();
  }

  async function handleEmbed(req, res, body, record) {
    const { inputs, unknown, unknownOptions } = validateEmbedRequest(body);
    stats.unknownFields.push(...unknown);
    stats.unknownOptions.push(...unknownOptions);
    const model = body.model;
    if (!known.has(resolveModel(model))) {
      throw new OllamaError(404, `model "${model}" not found, try pulling it first`);
    }
    const fault = isFault(model) ? baseName(model) : null;
    switch (fault) {
      case 'fault-400': throw bad('invalid input: emulated rejection');
      case 'fault-401': throw new OllamaError(401, 'unauthorized');
      case 'fault-429': throw new OllamaError(429, 'too many requests, please try again later', { 'retry-after': '7' });
      case 'fault-500': throw new OllamaError(500, 'llama runner process has terminated: exit status 2');
      case 'fault-503': throw new OllamaError(503, 'server busy, please try again.  maximum pending requests exceeded');
      case 'stall':
        await new Promise((resolve) => { res.once('close', resolve); cleanups.add(resolve); });
        return;
      case 'slow-stream': await sleep(SLOW_CHUNKS * SLOW_INTERVAL_MS); break;
      default: break;
    }
    if (!inputs.length) return sendJson(req, res, 200, { model, embeddings: [] }, {}, record);
    if (fault === 'reset-mid-stream' || fault === 'error-mid-stream' || fault === 'malformed-chunk') {
      const text = `{"model":"${model}","embeddings":[[0.125,-0.5`;
      record.status = 200;
      if (fault === 'malformed-chunk') {
        // A whole body that is not JSON.
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
        return res.end(text);
      }
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) + 40 });
      res.write(text, () => setTimeout(() => res.socket && res.socket.destroy(), 20));
      if (fault === 'reset-mid-stream') stats.streamsReset++;
      return;
    }
    const spec = EMBEDDING_MODELS[baseName(model)] || EMBED_DEFAULT;
    const opt = isObject(body.options) ? body.options : {};
    const numCtx = Number.isInteger(opt.num_ctx) && opt.num_ctx > 0 ? opt.num_ctx : DEFAULT_NUM_CTX;
    const ctxLen = Math.min(numCtx, spec.ctx);
    const truncate = body.truncate !== false; // Ollama truncates unless told not to
    let tokens = 0;
    const embeddings = inputs.map((text) => {
      let words = text.split(/\s+/).filter(Boolean);
      if (!words.length) words = [text]; // whitespace alone is still one token
      if (words.length > ctxLen) {
        if (!truncate) throw bad(EMBED_TOO_LONG);
        words = words.slice(0, ctxLen);
      }
      tokens += words.length;
      let v = embedText(words.join(' '), spec.dims);
      if (Number.isInteger(body.dimensions) && body.dimensions > 0 && body.dimensions < v.length) {
        v = normalize(v.slice(0, body.dimensions));
      }
      return v.map(float32Json);
    });
    return sendJson(req, res, 200, {
      model, embeddings, total_duration: 14143917, load_duration: 1019500, prompt_eval_count: tokens,
    }, {}, record);
  }

  function tagObject(name) {
    const base = name.split(':')[0];
    return {
      name, model: name, modified_at: '2025-01-01T00:00:00.000000000Z', size: 2019393189,
      digest: 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72',
      details: {
        parent_model: '', format: 'gguf', family: base.replace(/[0-9.:-].*$/, '') || base,
        families: [base], parameter_size: '3.2B', quantization_level: 'Q4_K_M',
      },
    };
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
      if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        record.status = 200;
        return res.end('Ollama is running');
      }
      checkAuth(req);
      if (path === '/api/tags' && req.method === 'GET') {
        const names = [...normalModels, ...(listFault ? faultTagged : [])];
        return sendJson(req, res, 200, { models: names.map(tagObject) }, {}, record);
      }
      if (path === '/api/version' && req.method === 'GET') {
        return sendJson(req, res, 200, { version: '0.12.6' }, {}, record);
      }
      if (path === '/api/chat' && req.method === 'POST') {
        const syntax = jsonSyntaxError(record.rawBody);
        if (syntax) throw bad(syntax);
        return await handleChat(req, res, record.body, record);
      }
      if (path === '/api/embed' && req.method === 'POST') {
        const syntax = jsonSyntaxError(record.rawBody);
        if (syntax) throw bad(syntax);
        return await handleEmbed(req, res, record.body, record);
      }
      // gin: unknown route or wrong method.
      res.writeHead(404, { 'content-type': 'text/plain' });
      record.status = 404;
      return res.end('404 page not found');
    } catch (err) {
      if (!(err instanceof OllamaError)) throw err;
      if (res.headersSent) return res.destroy();
      return sendJson(req, res, err.status, { error: err.message }, err.headers, record);
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!opts.quiet) console.error('ollama emulator: internal error', err);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify({ error: `emulator bug: ${err.message}` }));
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
    url: `http://${host}:${port}`,
    stats,
    get requests() { return stats.requests; },
    requestsTo(p = '/api/chat') {
      return stats.requests.filter((r) => r.path === p);
    },
    lastRequest(p = '/api/chat') {
      const r = emu.requestsTo(p);
      return r[r.length - 1];
    },
    lastResponse(p = '/api/chat') {
      const r = stats.responses.filter((x) => x.path === p);
      return r[r.length - 1];
    },
    lastStream() {
      return stats.streams[stats.streams.length - 1];
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
      case '--models': out.models = next().split(',').filter(Boolean); break;
      case '--tool-call-ids': out.toolCallIds = true; break;
      case '--help': case '-h':
        console.log('usage: node ollama.mjs [--port P] [--host H] [--api-key KEY] [--models a,b] [--tool-call-ids]');
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
    console.error(`ollama emulator: ${e.message}`);
    process.exit(2);
  }
  const emu = await startOllamaEmulator({ port: 11434, ...args, quiet: false });
  console.log(`ollama emulator listening on ${emu.url}`);
  const stop = async () => {
    await emu.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
