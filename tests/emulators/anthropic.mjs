// A strict, deterministic emulator of the Anthropic Messages API
// (the provider's public API reference), for Switchboard's tests.
//
// Library:  const emu = await startAnthropicEmulator({apiKey: 'sk-ant-...'});
//           emu.url  -> 'http://127.0.0.1:PORT' (the API base, without /v1);
//           emu.stats; emu.lastRequest(); await emu.close();
// CLI:      node tests/emulators/anthropic.mjs --port 8001 --api-key KEY
//                [--host H] [--models a,b]
//
// Strictness (as the real API): x-api-key and anthropic-version are
// required (401 authentication_error / 400 invalid_request_error);
// model, max_tokens and messages are required; unknown top-level fields
// are "Extra inputs are not permitted"; roles are only user and
// assistant (no system role inside messages); empty text blocks and empty
// user content are rejected; every tool_use must be answered by a
// tool_result in the next message and every tool_result must answer a
// tool_use of the previous message; thinking needs budget_tokens >= 1024
// and < max_tokens, temperature 1 (or unset) and no forced tool use;
// a thinking block must carry a signature this emulator issued, for that
// very text ("messages.N.content.M: Invalid `signature` in `thinking`
// block"); with thinking on, the assistant message whose tool_use blocks
// the last user message's tool_result blocks answer must start with a
// thinking or redacted_thinking block (Anthropic's 400 "Expected
// `thinking` or `redacted_thinking`, but found `tool_use`…");
// unknown models are 404 not_found_error. Error bodies are
// {"type":"error","error":{"type","message"},"request_id"} with a
// request-id header.
//
// count_tokens: POST /v1/messages/count_tokens validates the prompt fields
//           as above (max_tokens, stream etc. are extra inputs) and answers
//           {"input_tokens": N}, N counted as for usage (cached included).
// Answers:  "You said: <text of the last user message>"; when the last user
//           turn carries tool_result blocks: "Tool results: <r1>; <r2>".
//           Tool calls when tools are given and tool_choice is {type:any}
//           (the first two tools, one with disable_parallel_tool_use) or
//           {type:tool,name}, or, with auto/no choice, for every tool whose
//           name appears in the last user text. Tool input gives every
//           declared property a value (strings: the user text).
//           thinking enabled: a thinking block "Thinking about: <text>"
//           with a signature first. output_config.format json_schema: the
//           text is a JSON object following the schema.
//           Stop reasons: end_turn; stop_sequence when the answer contains
//           one of stop_sequences (cut before it); max_tokens when the
//           answer has more words than max_tokens (cut); tool_use; models
//           refusal, pause-turn, context-window give those stop reasons.
//           Usage: a token is a word; blocks with cache_control count as
//           cache_read_input_tokens, the model cache-write reports them as
//           cache_creation_input_tokens instead. With thinking, the
//           thinking's words are in output_tokens and, as the 2026 API
//           reports them, in output_tokens_details.thinking_tokens (on the
//           message, and on message_delta's cumulative usage).
// Faults, chosen by model name (FAULT_MODELS): fault-400, fault-401,
//           fault-402, fault-403, fault-413, fault-429 (retry-after 7),
//           fault-500, fault-503, fault-529 (overloaded_error), slow-stream,
//           stall, reset-mid-stream, error-mid-stream (event: error
//           overloaded_error after MID_STREAM_DELTAS deltas),
//           malformed-chunk.
//
// No dependencies beyond node:*.

import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

export const DEFAULT_MODELS = ['claude-sonnet-4-5', 'claude-haiku-4-5', 'claude-opus-4-1'];
export const BEHAVIOUR_MODELS = ['refusal', 'pause-turn', 'context-window', 'cache-write'];
export const FAULT_MODELS = [
  'fault-400', 'fault-401', 'fault-402', 'fault-403', 'fault-413', 'fault-429',
  'fault-500', 'fault-503', 'fault-529', 'slow-stream', 'stall',
  'reset-mid-stream', 'error-mid-stream', 'malformed-chunk',
];
export const SLOW_CHUNKS = 20;
export const SLOW_INTERVAL_MS = 100;
export const MID_STREAM_DELTAS = 2;
// 2026-10-21: the version @anthropic-ai/sdk 1.12 sends on every request.
export const API_VERSIONS = ['2023-06-01', '2023-01-01', '2026-10-21'];

const TOP_LEVEL = new Set([
  'model', 'max_tokens', 'messages', 'system', 'stop_sequences', 'stream',
  'temperature', 'top_p', 'top_k', 'metadata', 'tools', 'tool_choice',
  'thinking', 'output_config', 'service_tier', 'cache_control', 'container',
  'inference_geo', 'mcp_servers', 'context_management',
]);
// POST /v1/messages/count_tokens takes the prompt half of a Messages body
// only: no max_tokens, stream, sampling or stop fields.
const COUNT_TOP_LEVEL = new Set([
  'model', 'messages', 'system', 'tools', 'tool_choice', 'thinking',
  'output_config', 'cache_control', 'mcp_servers', 'context_management',
]);
const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];

class ApiError extends Error {
  constructor(status, type, message, headers = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.headers = headers;
  }
}
const invalid = (message) => new ApiError(400, 'invalid_request_error', message);

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isInt = (v) => typeof v === 'number' && Number.isInteger(v);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hex = (n) => randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);

export function countWords(s) {
  return String(s).split(/\s+/).filter(Boolean).length;
}
export function fragments(s) {
  return s.match(/\s*\S+|\s+$/g) || [];
}

// ----------------------------------------------------------------------------
// Validation

function checkBlock(b, where, role, prevToolUses) {
  if (!isObject(b)) throw invalid(`${where}: Input should be a valid dictionary or object to extract fields from`);
  switch (b.type) {
    case 'text':
      if (typeof b.text !== 'string') throw invalid(`${where}.text: Field required`);
      if (b.text.length === 0) throw invalid('messages: text content blocks must be non-empty');
      break;
    case 'image': {
      const s = b.source;
      if (!isObject(s)) throw invalid(`${where}.source: Field required`);
      if (s.type === 'base64') {
        if (!IMAGE_TYPES.includes(s.media_type)) {
          throw invalid(`${where}.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'`);
        }
        if (typeof s.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s.data)) {
          throw invalid(`${where}.source.base64.data: The image data is not valid base64`);
        }
      } else if (s.type === 'url') {
        if (typeof s.url !== 'string' || !/^https?:\/\//.test(s.url)) throw invalid(`${where}.source.url.url: Input should be a valid URL`);
      } else {
        throw invalid(`${where}.source: Input tag '${s.type}' found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'`);
      }
      if (role !== 'user') throw invalid(`${where}: image blocks are only allowed in user messages`);
      break;
    }
    case 'document':
      if (!isObject(b.source)) throw invalid(`${where}.source: Field required`);
      break;
    case 'tool_use':
      if (role !== 'assistant') throw invalid(`${where}: tool_use blocks are only allowed in assistant messages`);
      if (typeof b.id !== 'string' || !/^[a-zA-Z0-9_-]+$/.test(b.id)) throw invalid(`${where}.id: String should match pattern '^[a-zA-Z0-9_-]+$'`);
      if (typeof b.name !== 'string') throw invalid(`${where}.name: Field required`);
      if (!isObject(b.input)) throw invalid(`${where}.input: Input should be a valid dictionary`);
      break;
    case 'tool_result':
      if (role !== 'user') throw invalid(`${where}: tool_result blocks are only allowed in user messages`);
      if (typeof b.tool_use_id !== 'string') throw invalid(`${where}.tool_use_id: Field required`);
      if (b.content !== undefined) {
        if (Array.isArray(b.content)) {
          b.content.forEach((c, k) => checkBlock(c, `${where}.content.${k}`, 'user', null));
        } else if (typeof b.content !== 'string') {
          throw invalid(`${where}.content: Input should be a valid string or list`);
        }
      }
      break;
    case 'thinking':
      if (typeof b.thinking !== 'string' || typeof b.signature !== 'string') throw invalid(`${where}.signature: Field required`);
      break;
    case 'redacted_thinking':
      break;
    default:
      throw invalid(`${where}: Input tag '${b.type}' found using 'type' does not match any of the expected tags: 'text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking'`);
  }
  void prevToolUses;
}

function blocksOf(m) {
  return typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
}

function validateMessages(messages) {
  if (!Array.isArray(messages)) throw invalid('messages: Input should be a valid list');
  if (messages.length === 0) throw invalid('messages: at least one message is required');
  let prevUses = [];
  messages.forEach((m, i) => {
    const p = `messages.${i}`;
    if (!isObject(m)) throw invalid(`${p}: Input should be a valid dictionary`);
    if (m.role !== 'user' && m.role !== 'assistant') {
      throw invalid(`${p}.role: Input should be 'user' or 'assistant'`);
    }
    if (typeof m.content === 'string') {
      if (m.content.length === 0 && !(m.role === 'assistant' && i === messages.length - 1)) {
        throw invalid(`${p}: all messages must have non-empty content except for the optional final assistant message`);
      }
    } else if (Array.isArray(m.content)) {
      if (m.content.length === 0 && !(m.role === 'assistant' && i === messages.length - 1)) {
        throw invalid(`${p}: all messages must have non-empty content except for the optional final assistant message`);
      }
      m.content.forEach((b, k) => checkBlock(b, `${p}.content.${k}`, m.role, prevUses));
    } else {
      throw invalid(`${p}.content: Input should be a valid string or list`);
    }
    const blocks = blocksOf(m);
    const results = blocks.filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id);
    if (prevUses.length) {
      const missing = prevUses.filter((id) => !results.includes(id));
      if (missing.length) {
        throw invalid(`${p}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`);
      }
    }
    results.forEach((id, k) => {
      if (!prevUses.includes(id)) {
        throw invalid(`${p}.content.${k}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`);
      }
    });
    prevUses = m.role === 'assistant' ? blocks.filter((b) => b.type === 'tool_use').map((b) => b.id) : [];
  });
  if (prevUses.length && messages.length) {
    // A trailing assistant tool_use is a prefill that cannot continue.
    throw invalid(`messages.${messages.length - 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${prevUses.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`);
  }
}

/**
 * Thinking blocks as the real API checks them: every signature must be
 * one the API issued for that text (issued: signature -> thinking text),
 * and with thinking on a tool loop's assistant turn must start with its
 * thinking. Throws the real 400s.
 */
function checkThinking(body, issued) {
  const msgs = body.messages;
  msgs.forEach((m, i) => {
    if (m.role !== 'assistant' || !Array.isArray(m.content)) return;
    m.content.forEach((b, k) => {
      if (b.type === 'thinking' && issued.get(b.signature) !== b.thinking) {
        throw invalid(`messages.${i}.content.${k}: Invalid \`signature\` in \`thinking\` block`);
      }
    });
  });
  const on = body.thinking && (body.thinking.type === 'enabled' || body.thinking.type === 'adaptive');
  const n = msgs.length;
  if (!on || n < 2) return;
  const last = msgs[n - 1];
  const prev = msgs[n - 2];
  if (last.role !== 'user' || !blocksOf(last).some((b) => b.type === 'tool_result') || prev.role !== 'assistant') return;
  const first = blocksOf(prev)[0];
  const type = first ? first.type : 'nothing';
  if (type !== 'thinking' && type !== 'redacted_thinking') {
    throw invalid(`messages.${n - 2}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${type}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable \`thinking\`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking`);
  }
}

/** count: validate a count_tokens body (COUNT_TOP_LEVEL, no max_tokens). */
function validateRequest(body, { count = false } = {}) {
  if (!isObject(body)) throw invalid('Input should be a valid dictionary');
  for (const k of Object.keys(body)) {
    if (!(count ? COUNT_TOP_LEVEL : TOP_LEVEL).has(k)) throw invalid(`${k}: Extra inputs are not permitted`);
  }
  for (const k of count ? ['model', 'messages'] : ['model', 'max_tokens', 'messages']) {
    if (body[k] === undefined) throw invalid(`${k}: Field required`);
  }
  if (typeof body.model !== 'string') throw invalid('model: Input should be a valid string');
  if (!count) {
    if (!isInt(body.max_tokens)) throw invalid('max_tokens: Input should be a valid integer');
    if (body.max_tokens < 1) throw invalid('max_tokens: Input should be greater than or equal to 1');
  }
  validateMessages(body.messages);
  if (body.system !== undefined) {
    if (Array.isArray(body.system)) {
      body.system.forEach((b, k) => {
        if (!isObject(b) || b.type !== 'text') throw invalid(`system.${k}.type: Input should be 'text'`);
        if (typeof b.text !== 'string' || b.text.length === 0) throw invalid('system: text content blocks must be non-empty');
      });
    } else if (typeof body.system !== 'string') {
      throw invalid('system: Input should be a valid string or list');
    }
  }
  if (body.stream !== undefined && typeof body.stream !== 'boolean') throw invalid('stream: Input should be a valid boolean');
  for (const k of ['temperature', 'top_p']) {
    if (body[k] === undefined) continue;
    if (typeof body[k] !== 'number') throw invalid(`${k}: Input should be a valid number`);
    if (body[k] < 0) throw invalid(`${k}: Input should be greater than or equal to 0`);
    if (body[k] > 1) throw invalid(`${k}: Input should be less than or equal to 1`);
  }
  if (body.top_k !== undefined && (!isInt(body.top_k) || body.top_k < 0)) throw invalid('top_k: Input should be a valid integer');
  if (body.stop_sequences !== undefined) {
    if (!Array.isArray(body.stop_sequences) || body.stop_sequences.some((s) => typeof s !== 'string')) {
      throw invalid('stop_sequences: Input should be a valid list of strings');
    }
  }
  if (body.metadata !== undefined) {
    if (!isObject(body.metadata)) throw invalid('metadata: Input should be a valid dictionary');
    for (const k of Object.keys(body.metadata)) {
      if (k !== 'user_id') throw invalid(`metadata.${k}: Extra inputs are not permitted`);
    }
    if (body.metadata.user_id !== undefined && body.metadata.user_id !== null && typeof body.metadata.user_id !== 'string') {
      throw invalid('metadata.user_id: Input should be a valid string');
    }
  }
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) throw invalid('tools: Input should be a valid list');
    body.tools.forEach((t, i) => {
      if (!isObject(t)) throw invalid(`tools.${i}: Input should be a valid dictionary`);
      if (typeof t.name !== 'string' || !/^[a-zA-Z0-9_-]{1,128}$/.test(t.name)) {
        throw invalid(`tools.${i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`);
      }
      if (!isObject(t.input_schema)) throw invalid(`tools.${i}.custom.input_schema: Field required`);
      if (t.input_schema.type !== 'object') throw invalid(`tools.${i}.custom.input_schema.type: Input should be 'object'`);
      for (const k of Object.keys(t)) {
        if (!['name', 'description', 'input_schema', 'cache_control', 'type', 'strict'].includes(k)) {
          throw invalid(`tools.${i}.custom.${k}: Extra inputs are not permitted`);
        }
      }
    });
  }
  if (body.tool_choice !== undefined) {
    const tc = body.tool_choice;
    if (!isObject(tc) || !['auto', 'any', 'tool', 'none'].includes(tc.type)) {
      throw invalid(`tool_choice: Input tag '${tc && tc.type}' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'`);
    }
    if (!body.tools || body.tools.length === 0) throw invalid('tool_choice: tool_choice may only be specified while providing tools.');
    if (tc.type === 'tool') {
      if (typeof tc.name !== 'string') throw invalid('tool_choice.tool.name: Field required');
      if (!body.tools.some((t) => t.name === tc.name)) throw invalid(`tool_choice.tool.name: Tool '${tc.name}' not found in provided tools`);
    }
    if (tc.disable_parallel_tool_use !== undefined && typeof tc.disable_parallel_tool_use !== 'boolean') {
      throw invalid(`tool_choice.${tc.type}.disable_parallel_tool_use: Input should be a valid boolean`);
    }
    if (tc.type === 'none' && tc.disable_parallel_tool_use !== undefined) {
      throw invalid('tool_choice.none.disable_parallel_tool_use: Extra inputs are not permitted');
    }
  }
  if (body.thinking !== undefined) {
    const t = body.thinking;
    if (!isObject(t) || !['enabled', 'disabled', 'adaptive'].includes(t.type)) {
      throw invalid("thinking: Input tag found using 'type' does not match any of the expected tags: 'enabled', 'disabled', 'adaptive'");
    }
    if (t.type === 'enabled') {
      if (!isInt(t.budget_tokens)) throw invalid('thinking.enabled.budget_tokens: Field required');
      if (t.budget_tokens < 1024) throw invalid('thinking.enabled.budget_tokens: Input should be greater than or equal to 1024');
      if (!count && body.max_tokens <= t.budget_tokens) throw invalid('`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size');
      if (body.temperature !== undefined && body.temperature !== 1) throw invalid('`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility');
      if (body.top_k !== undefined) throw invalid('`top_k` must be unset when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility');
      if (body.tool_choice && ['any', 'tool'].includes(body.tool_choice.type)) throw invalid('Thinking may not be enabled when tool_choice forces tool use.');
    }
  }
  if (body.output_config !== undefined) {
    const oc = body.output_config;
    if (!isObject(oc)) throw invalid('output_config: Input should be a valid dictionary');
    if (oc.format !== undefined) {
      if (!isObject(oc.format) || oc.format.type !== 'json_schema') throw invalid("output_config.format.type: Input should be 'json_schema'");
      if (!isObject(oc.format.schema)) throw invalid('output_config.format.schema: Field required');
    }
  }
}

// ----------------------------------------------------------------------------
// Answers

function textOfBlocks(blocks) {
  return blocks.filter((b) => b.type === 'text').map((b) => b.text).join(' ');
}

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
  let total = 0;
  let cached = 0;
  const count = (b) => {
    let n = 0;
    if (b.type === 'text') n = countWords(b.text);
    else if (b.type === 'tool_result') n = countWords(typeof b.content === 'string' ? b.content : JSON.stringify(b.content || ''));
    else if (b.type === 'tool_use') n = countWords(JSON.stringify(b.input));
    else n = 10;
    if (b.cache_control) cached += n;
    total += n;
  };
  if (typeof body.system === 'string') total += countWords(body.system);
  else if (Array.isArray(body.system)) body.system.forEach(count);
  for (const m of body.messages) {
    blocksOf(m).forEach(count);
    total += 1;
  }
  if (body.tools) total += countWords(JSON.stringify(body.tools).replace(/[{}[\]",:]/g, ' '));
  return { uncached: total - cached, cached };
}

/** What the model answers: {thinking, content: [blocks], stop_reason, stop_sequence}. */
function planAnswer(body) {
  const last = body.messages[body.messages.length - 1];
  const lastUser = [...body.messages].reverse().find((m) => m.role === 'user');
  const blocks = lastUser ? blocksOf(lastUser) : [];
  const userText = textOfBlocks(blocks);
  const results = blocks.filter((b) => b.type === 'tool_result');
  let text;
  if (results.length) {
    text = `Tool results: ${results.map((r) => (typeof r.content === 'string' ? r.content : textOfBlocks(r.content || []))).join('; ')}`;
  } else {
    text = `You said: ${userText}`;
  }
  void last;
  const plan = { thinking: null, content: [], stop_reason: 'end_turn', stop_sequence: null };
  if (body.thinking && body.thinking.type === 'enabled') plan.thinking = `Thinking about: ${userText}`;

  const tools = body.tools || [];
  const tc = body.tool_choice || { type: 'auto' };
  let calls = [];
  if (tools.length && tc.type === 'any') calls = tools.slice(0, tc.disable_parallel_tool_use ? 1 : 2);
  else if (tools.length && tc.type === 'tool') calls = tools.filter((t) => t.name === tc.name);
  else if (tools.length && tc.type === 'auto' && !results.length) {
    calls = tools.filter((t) => userText.includes(t.name));
    if (tc.disable_parallel_tool_use) calls = calls.slice(0, 1);
  }
  if (calls.length) {
    plan.content = calls.map((t) => ({
      type: 'tool_use', id: `toolu_emu${hex(18)}`, name: t.name, input: exampleValue({ type: 'object', properties: t.input_schema.properties || {} }, userText),
    }));
    plan.stop_reason = 'tool_use';
    return plan;
  }
  const fmt = body.output_config && body.output_config.format;
  if (fmt) text = JSON.stringify(exampleValue(fmt.schema, userText));
  switch (body.model) {
    case 'refusal':
      plan.content = [{ type: 'text', text: "I can't help with that." }];
      plan.stop_reason = 'refusal';
      return plan;
    case 'pause-turn': plan.stop_reason = 'pause_turn'; break;
    case 'context-window': plan.stop_reason = 'model_context_window_exceeded'; break;
    default: break;
  }
  for (const s of body.stop_sequences || []) {
    const at = s ? text.indexOf(s) : -1;
    if (at >= 0) {
      text = text.slice(0, at);
      plan.stop_reason = 'stop_sequence';
      plan.stop_sequence = s;
      break;
    }
  }
  const words = fragments(text);
  const budget = body.max_tokens - (plan.thinking ? countWords(plan.thinking) : 0);
  if (words.length > budget) {
    text = words.slice(0, Math.max(budget, 0)).join('');
    plan.stop_reason = 'max_tokens';
    plan.stop_sequence = null;
  }
  if (text.length) plan.content = [{ type: 'text', text }];
  return plan;
}

function outputTokens(plan) {
  let n = plan.thinking ? countWords(plan.thinking) : 0;
  for (const b of plan.content) n += b.type === 'text' ? countWords(b.text) : countWords(JSON.stringify(b.input));
  return n;
}

function usageOf(body, plan) {
  const p = promptTokens(body);
  const write = body.model === 'cache-write';
  const u = {
    input_tokens: p.uncached,
    cache_creation_input_tokens: write ? p.cached : 0,
    cache_read_input_tokens: write ? 0 : p.cached,
    output_tokens: outputTokens(plan),
  };
  if (plan.thinking) u.output_tokens_details = { thinking_tokens: countWords(plan.thinking) };
  u.service_tier = 'standard';
  return u;
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

/**
 * Start the emulator.
 * opts: {port=0, host='127.0.0.1', apiKey (required x-api-key value; null:
 *        any non-empty key), models=DEFAULT_MODELS, listFaultModels=true,
 *        chunkDelayMs=0, quiet=true}
 */
export async function startAnthropicEmulator(opts = {}) {
  const host = opts.host || '127.0.0.1';
  const apiKey = opts.apiKey || null;
  const normalModels = opts.models || DEFAULT_MODELS;
  const listed = [...normalModels, ...(opts.listFaultModels === false ? [] : [...BEHAVIOUR_MODELS, ...FAULT_MODELS])];
  const known = new Set([...normalModels, ...BEHAVIOUR_MODELS, ...FAULT_MODELS]);
  const stats = {
    requests: [], // {method, path, query, headers, rawBody, body, status}
    streams: [], // {model, state, events: [{event, data}]}
    streamsStarted: 0,
    streamsCompleted: 0,
    streamsCut: 0,
  };
  const cleanups = new Set();
  const issued = new Map(); // thinking signature -> its text
  let seq = 0;

  function sendError(res, err, record) {
    const rid = `req_emu${hex(20)}`;
    record.status = err.status;
    const body = JSON.stringify({ type: 'error', error: { type: err.type, message: err.message }, request_id: rid });
    res.writeHead(err.status, {
      'content-type': 'application/json', 'request-id': rid, 'x-should-retry': err.status >= 500 || err.status === 429 ? 'true' : 'false', ...err.headers,
    });
    res.end(body);
  }

  function sendJson(res, status, obj, record) {
    record.status = status;
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_emu${hex(20)}` });
    res.end(JSON.stringify(obj));
  }

  function checkHeaders(req) {
    const key = req.headers['x-api-key'];
    if (!key) {
      if (req.headers.authorization) throw new ApiError(401, 'authentication_error', 'invalid x-api-key');
      throw new ApiError(401, 'authentication_error', 'x-api-key header is required');
    }
    if (apiKey && key !== apiKey) throw new ApiError(401, 'authentication_error', 'invalid x-api-key');
    const v = req.headers['anthropic-version'];
    if (!v) throw invalid('anthropic-version: header is required');
    if (!API_VERSIONS.includes(v)) throw invalid(`anthropic-version: invalid version '${v}'`);
  }

  function openStream(res, model) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache',
      'request-id': `req_emu${hex(20)}`,
    });
    stats.streamsStarted++;
    const st = { model, state: 'open', events: [] };
    stats.streams.push(st);
    let gone = false;
    res.on('close', () => {
      if (st.state === 'open') {
        st.state = 'cut';
        stats.streamsCut++;
      }
      gone = true;
    });
    const w = {
      st,
      get gone() { return gone; },
      async event(obj) {
        return w.raw(`event: ${obj.type}\ndata: ${JSON.stringify(obj)}\n\n`, obj.type, JSON.stringify(obj));
      },
      async raw(text, ev = null, data = null) {
        if (gone) return;
        if (ev) st.events.push({ event: ev, data });
        if (!res.write(text)) await new Promise((r) => res.once('drain', r));
        if (opts.chunkDelayMs) await sleep(opts.chunkDelayMs);
      },
      end(state = 'completed') {
        if (st.state === 'open') {
          st.state = state;
          if (state === 'completed') stats.streamsCompleted++;
        }
        res.end();
      },
    };
    return w;
  }

  function streamEvents(body, id, plan) {
    const usage = usageOf(body, plan);
    const ev = [{
      type: 'message_start',
      message: {
        id, type: 'message', role: 'assistant', model: body.model, content: [], stop_reason: null, stop_sequence: null,
        usage: { ...usage, output_tokens: 1, output_tokens_details: undefined },
      },
    }];
    let index = 0;
    const blocks = [];
    if (plan.thinking) blocks.push({ type: 'thinking', thinking: plan.thinking, signature: plan.signature });
    blocks.push(...plan.content);
    for (const b of blocks) {
      const i = index++;
      if (b.type === 'text') {
        ev.push({ type: 'content_block_start', index: i, content_block: { type: 'text', text: '' } });
        if (i === 0) ev.push({ type: 'ping' });
        for (const f of fragments(b.text)) ev.push({ type: 'content_block_delta', index: i, delta: { type: 'text_delta', text: f } });
      } else if (b.type === 'thinking') {
        ev.push({ type: 'content_block_start', index: i, content_block: { type: 'thinking', thinking: '', signature: '' } });
        if (i === 0) ev.push({ type: 'ping' });
        for (const f of fragments(b.thinking)) ev.push({ type: 'content_block_delta', index: i, delta: { type: 'thinking_delta', thinking: f } });
        ev.push({ type: 'content_block_delta', index: i, delta: { type: 'signature_delta', signature: b.signature } });
      } else {
        ev.push({ type: 'content_block_start', index: i, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } });
        if (i === 0) ev.push({ type: 'ping' });
        const a = JSON.stringify(b.input);
        const third = Math.ceil(a.length / 3);
        const parts = ['', a.slice(0, third), a.slice(third, 2 * third), a.slice(2 * third)].filter((x, k) => k === 0 || x.length);
        for (const p of parts) ev.push({ type: 'content_block_delta', index: i, delta: { type: 'input_json_delta', partial_json: p } });
      }
      ev.push({ type: 'content_block_stop', index: i });
    }
    ev.push({
      type: 'message_delta', delta: { stop_reason: plan.stop_reason, stop_sequence: plan.stop_sequence },
      usage: { output_tokens: usage.output_tokens, ...(usage.output_tokens_details ? { output_tokens_details: usage.output_tokens_details } : {}) },
    });
    ev.push({ type: 'message_stop' });
    return ev;
  }

  function messageBody(body, id, plan) {
    const content = [];
    if (plan.thinking) content.push({ type: 'thinking', thinking: plan.thinking, signature: plan.signature });
    content.push(...plan.content.map((b) => (b.type === 'text' ? { ...b, citations: null } : b)));
    return {
      id, type: 'message', role: 'assistant', model: body.model, content,
      stop_reason: plan.stop_reason, stop_sequence: plan.stop_sequence, usage: usageOf(body, plan),
    };
  }

  async function handleMessages(req, res, body, record) {
    validateRequest(body);
    checkThinking(body, issued);
    const model = body.model;
    if (!known.has(model)) throw new ApiError(404, 'not_found_error', `model: ${model}`);
    switch (model) {
      case 'fault-400': throw invalid('messages.0.content: emulated upstream rejection');
      case 'fault-401': throw new ApiError(401, 'authentication_error', 'invalid x-api-key');
      case 'fault-402': throw new ApiError(402, 'billing_error', 'Your credit balance is too low to access the Anthropic API.');
      case 'fault-403': throw new ApiError(403, 'permission_error', 'Your API key does not have permission to use the specified resource.');
      case 'fault-413': throw new ApiError(413, 'request_too_large', 'Request exceeds the maximum allowed number of bytes.');
      case 'fault-429': throw new ApiError(429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit.', { 'retry-after': '7' });
      case 'fault-500': throw new ApiError(500, 'api_error', 'Internal server error');
      case 'fault-503': throw new ApiError(503, 'api_error', 'Service unavailable');
      case 'fault-529': throw new ApiError(529, 'overloaded_error', 'Overloaded', { 'retry-after': '3' });
      default: break;
    }
    seq++;
    const id = `msg_emu${String(seq).padStart(6, '0')}${hex(12)}`;
    const plan = planAnswer(body);
    if (plan.thinking) {
      plan.signature = `sig_${hex(24)}`;
      issued.set(plan.signature, plan.thinking);
    }

    if (body.stream !== true) {
      if (model === 'stall') {
        await new Promise((resolve) => { res.once('close', resolve); cleanups.add(resolve); });
        return;
      }
      if (model === 'malformed-chunk' || model === 'error-mid-stream' || model === 'reset-mid-stream') {
        record.status = 200;
        const text = JSON.stringify(messageBody(body, id, plan)).slice(0, 40);
        res.writeHead(200, { 'content-type': 'application/json' });
        if (model === 'reset-mid-stream') {
          res.write(text, () => setTimeout(() => res.socket && res.socket.destroy(), 20));
          return;
        }
        res.end(text);
        return;
      }
      return sendJson(res, 200, messageBody(body, id, plan), record);
    }

    record.status = 200;
    const w = openStream(res, model);
    const events = streamEvents(body, id, plan);
    if (model === 'stall') {
      await w.event(events[0]);
      await new Promise((resolve) => { res.once('close', resolve); cleanups.add(resolve); });
      return;
    }
    if (model === 'slow-stream') {
      await w.event(events[0]);
      await w.event({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
      for (let i = 0; i < SLOW_CHUNKS && !w.gone; i++) {
        await sleep(SLOW_INTERVAL_MS);
        await w.event({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: `${i ? ' ' : ''}s${i + 1}` } });
      }
      await w.event({ type: 'content_block_stop', index: 0 });
      await w.event({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: SLOW_CHUNKS } });
      await w.event({ type: 'message_stop' });
      return w.end();
    }
    if (model === 'reset-mid-stream' || model === 'error-mid-stream' || model === 'malformed-chunk') {
      // message_start, block start, ping, then MID_STREAM_DELTAS deltas.
      const head = [];
      let deltas = 0;
      for (const e of events) {
        if (e.type === 'content_block_delta' && deltas++ >= MID_STREAM_DELTAS) break;
        head.push(e);
      }
      for (const e of head) await w.event(e);
      if (model === 'reset-mid-stream') {
        await sleep(50);
        w.st.state = 'reset';
        res.socket.destroy();
        return;
      }
      if (model === 'error-mid-stream') {
        await w.event({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
        return w.end('errored');
      }
      await w.raw('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_d\n\n', 'content_block_delta', 'malformed');
      for (const e of events.slice(head.length)) await w.event(e);
      return w.end();
    }
    for (const e of events) await w.event(e);
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
      if (path === '/v1/models' && req.method === 'GET') {
        checkHeaders(req);
        const limit = Math.min(Number(url.searchParams.get('limit') || 20), 1000);
        const ids = listed.slice(0, limit);
        return sendJson(res, 200, {
          data: ids.map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-02-19T00:00:00Z' })),
          has_more: listed.length > limit, first_id: ids[0] || null, last_id: ids[ids.length - 1] || null,
        }, record);
      }
      if (path === '/v1/messages/count_tokens' && req.method === 'POST') {
        checkHeaders(req);
        if (!/^application\/json/i.test(req.headers['content-type'] || '')) throw invalid('Invalid request: content-type must be application/json');
        if (record.body === null) throw invalid('There was an issue with your request body: the request body is not valid JSON');
        validateRequest(record.body, { count: true });
        if (!known.has(record.body.model)) throw new ApiError(404, 'not_found_error', `model: ${record.body.model}`);
        const p = promptTokens(record.body);
        return sendJson(res, 200, { input_tokens: p.uncached + p.cached }, record);
      }
      if (path === '/v1/messages' && req.method === 'POST') {
        checkHeaders(req);
        if (!/^application\/json/i.test(req.headers['content-type'] || '')) throw invalid('Invalid request: content-type must be application/json');
        if (record.body === null) throw invalid('There was an issue with your request body: the request body is not valid JSON');
        return await handleMessages(req, res, record.body, record);
      }
      throw new ApiError(404, 'not_found_error', 'Not Found');
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (res.headersSent) return res.destroy();
      return sendError(res, err, record);
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!opts.quiet) console.error('anthropic emulator: internal error', err);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: `emulator bug: ${err.message}` } }));
      } else {
        res.destroy();
      }
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port || 0, host, () => { server.off('error', reject); resolve(); });
  });
  const port = server.address().port;
  const emu = {
    port, host, url: `http://${host}:${port}`, stats,
    get requests() { return stats.requests; },
    requestsTo(p = '/v1/messages') { return stats.requests.filter((r) => r.path === p); },
    lastRequest(p = '/v1/messages') { const r = emu.requestsTo(p); return r[r.length - 1]; },
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
    const a = argv[i];
    if (a === '--port') args.port = Number(argv[++i]);
    else if (a === '--host') args.host = argv[++i];
    else if (a === '--api-key') args.apiKey = argv[++i];
    else if (a === '--models') args.models = argv[++i].split(',').filter(Boolean);
    else {
      console.error(`anthropic emulator: unknown argument ${a}\nusage: node anthropic.mjs [--port P] [--host H] [--api-key KEY] [--models a,b]`);
      process.exit(2);
    }
  }
  const emu = await startAnthropicEmulator({ ...args, quiet: false });
  console.log(`anthropic emulator listening on ${emu.url}`);
  const stop = async () => { await emu.close(); process.exit(0); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
