// The three inbound clients of the translation matrix (docs/matrix.md):
// OpenAI Chat Completions, OpenAI Responses and Anthropic Messages, each
// encoding the canonical request (rows.mjs) in its own API's JSON and
// reading the answer back STRICTLY into one normalized Result.
//
// Strict means: what a real client of that API relies on is checked, and
// a violation (an event out of order, a delta for a block never opened,
// tool arguments that are not JSON, an error body not in the API's shape)
// is thrown as an Error naming it: that is a translation bug the matrix
// must show. Failures the API itself describes are not thrown: an HTTP
// error is a Result with ok:false and `error`; a stream ended by the
// API's own error event is ok:false, streamError:true; a stream that just
// stops without its terminator is ok:false, error.type 'truncated'.
//
// Usage, normalized the same way in every section: `input` is the whole
// prompt, cached tokens included (OpenAI's prompt_tokens / input_tokens
// already count them; Anthropic's input_tokens does not, so its
// cache_read_input_tokens and cache_creation_input_tokens are added),
// `cached` the cache reads, `output` the completion tokens (reasoning
// included, as every API counts them), `reasoning` the reasoning tokens.
//
// No dependencies beyond node built-ins (fetch) and the harness's SSE parser.
import { SSEParser } from '../integration/harness.mjs';

const ANTHROPIC_VERSION = '2023-06-01';
const DEFAULT_TIMEOUT_MS = 60000;

/** The client of one inbound API: section 'chat', 'responses' or 'messages'. */
export function client(section) {
  const api = APIS[section];
  if (!api) throw new Error(`unknown section '${section}' (chat, responses, messages)`);
  return {
    section,
    send: (baseUrl, req, opts = {}) => send(api, baseUrl, req, opts),
    models: (baseUrl, opts = {}) => models(api, baseUrl, opts),
  };
}

// ---------------------------------------------------------------------------
// Transport

async function send(api, baseUrl, req, opts) {
  const body = { ...api.encode(req), ...(req.extra || {}) };
  const headers = {
    'content-type': 'application/json',
    ...(req.stream ? { accept: 'text/event-stream' } : {}),
    ...api.headers,
    ...(opts.headers || {}),
    ...(req.headers || {}),
  };
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error('client timeout')), opts.timeoutMs || DEFAULT_TIMEOUT_MS);
  try {
    const res = await fetch(`${baseUrl}${api.path}`, {
      method: 'POST', headers, body: JSON.stringify(body), signal: ac.signal,
    });
    const r = blankResult(res);
    const isSSE = /^text\/event-stream/i.test(r.headers['content-type'] || '');
    if (res.status < 200 || res.status > 299) {
      r.raw = await res.text();
      r.error = api.httpError(r.status, r.raw, r.headers);
      return r;
    }
    if (req.stream) {
      if (!isSSE) throw new Error(`a stream was asked for; the ${res.status} answer is '${r.headers['content-type']}': ${(await res.text()).slice(0, 200)}`);
      await readStream(api, res, r);
    } else {
      if (isSSE) throw new Error('no stream was asked for; the answer is an event stream');
      r.raw = await res.text();
      let doc;
      try { doc = JSON.parse(r.raw); } catch { throw new Error(`the ${res.status} body is not JSON: ${r.raw.slice(0, 200)}`); }
      api.parseDoc(doc, r);
    }
    r.assistantMessage = assistantMessage(r);
    return r;
  } finally {
    clearTimeout(timer);
  }
}

function blankResult(res) {
  const headers = {};
  for (const [k, v] of res.headers) headers[k.toLowerCase()] = v;
  return {
    status: res.status, headers, ok: false, text: '', reasoning: '', reasoningSignature: null,
    toolCalls: [], finish: null, usage: null, error: null, streamError: false, events: [],
    raw: '', assistantMessage: null,
    // The section's opaque round-trip state (reasoning items or blocks as
    // the API gave them), carried into assistantMessage.reasoning.
    reasoningRaw: null,
  };
}

/*
 * Read an event stream incrementally, handing every event to the
 * section's stream checker. A body that breaks (connection reset, client
 * timeout) is the same as one that ends: the checker's end() tells a
 * terminated stream from a cut one.
 */
async function readStream(api, res, r) {
  const parser = new SSEParser();
  const st = api.stream(r);
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let cut = null;
  const feed = (text, final) => {
    r.raw += text;
    for (const ev of parser.push(text, final)) {
      r.events.push(ev);
      st.event(ev, r.events.length - 1);
    }
  };
  try {
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (e) {
        cut = e;
        break;
      }
      if (chunk.done) break;
      feed(dec.decode(chunk.value, { stream: true }), false);
    }
    feed(dec.decode(), true);
  } catch (e) {
    reader.cancel().catch(() => {});
    throw e;
  }
  st.end(cut);
}

function truncated(r, what, cut) {
  r.ok = false;
  r.streamError = false;
  r.error = {
    status: r.status, type: 'truncated', code: null, param: null, retryAfter: null,
    message: `the stream ended without ${what}${cut ? ` (${cut.cause?.message || cut.message})` : ''}`,
  };
}

async function models(api, baseUrl, opts) {
  const res = await fetch(`${baseUrl}/v1/models`, { headers: { ...api.headers, ...(opts.headers || {}) } });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, ids: [], raw: text };
  let doc;
  try { doc = JSON.parse(text); } catch { throw new Error(`/v1/models: not JSON: ${text.slice(0, 200)}`); }
  return { status: res.status, ids: api.modelIds(doc), raw: text };
}

function openaiModelIds(doc) {
  if (doc?.object !== 'list' || !Array.isArray(doc.data)) throw new Error(`/v1/models: not an OpenAI list: ${JSON.stringify(doc).slice(0, 200)}`);
  return doc.data.map((m, i) => {
    if (typeof m?.id !== 'string' || m.object !== 'model') throw new Error(`/v1/models: data[${i}] is not an OpenAI model object: ${JSON.stringify(m)}`);
    return m.id;
  });
}

function anthropicModelIds(doc) {
  if (!Array.isArray(doc?.data) || typeof doc.has_more !== 'boolean') {
    throw new Error(`/v1/models: not Anthropic's list shape (data, has_more, first_id, last_id): ${JSON.stringify(doc).slice(0, 200)}`);
  }
  const ids = doc.data.map((m, i) => {
    if (m?.type !== 'model' || typeof m.id !== 'string') throw new Error(`/v1/models: data[${i}] is not an Anthropic model object: ${JSON.stringify(m)}`);
    return m.id;
  });
  // first_id/last_id are what the SDK pages with: they must name the ends.
  if ((doc.first_id ?? null) !== (ids[0] ?? null) || (doc.last_id ?? null) !== (ids.at(-1) ?? null)) {
    throw new Error(`/v1/models: first_id/last_id (${doc.first_id}, ${doc.last_id}) do not name the first and last model (${ids[0]}, ${ids.at(-1)})`);
  }
  return ids;
}

// ---------------------------------------------------------------------------
// Shared pieces

/** Parse tool-call arguments; invalid JSON is a translation bug. */
function parseArgs(s, where) {
  if (s === '' || s === undefined) return {};
  let v;
  try { v = JSON.parse(s); } catch { throw new Error(`${where}: tool arguments are not JSON: ${String(s).slice(0, 200)}`); }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: tool arguments are not a JSON object: ${s}`);
  return v;
}

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function parseJSON(ev, i) {
  try {
    return JSON.parse(ev.data);
  } catch {
    throw new Error(`event ${i}: data is not JSON: ${ev.data.slice(0, 200)}`);
  }
}

function retryAfter(headers) {
  return headers['retry-after'] ?? null;
}

function openaiHttpError(status, raw, headers) {
  let doc;
  try { doc = JSON.parse(raw); } catch { /* below */ }
  const e = doc?.error;
  if (!e || typeof e !== 'object' || typeof e.message !== 'string' || typeof e.type !== 'string') {
    throw new Error(`the ${status} body is not an OpenAI error object {error:{message,type,param,code}}: ${raw.slice(0, 200)}`);
  }
  return { status, type: e.type, message: e.message, code: e.code ?? null, param: e.param ?? null, retryAfter: retryAfter(headers) };
}

function anthropicHttpError(status, raw, headers) {
  let doc;
  try { doc = JSON.parse(raw); } catch { /* below */ }
  const e = doc?.error;
  if (doc?.type !== 'error' || !e || typeof e.type !== 'string' || typeof e.message !== 'string') {
    throw new Error(`the ${status} body is not an Anthropic error {type:'error',error:{type,message}}: ${raw.slice(0, 200)}`);
  }
  return { status, type: e.type, message: e.message, code: null, param: null, retryAfter: retryAfter(headers) };
}

/** The canonical assistant message of an answer, to send back in a later turn. */
function assistantMessage(r) {
  const m = { role: 'assistant', content: r.text, toolCalls: r.toolCalls.map((c) => ({ ...c })) };
  if (r.reasoning || r.reasoningSignature || r.reasoningRaw) {
    m.reasoning = { text: r.reasoning, signature: r.reasoningSignature, raw: r.reasoningRaw };
  }
  return m;
}

function dataUrl(part) {
  return `data:${part.mediaType};base64,${part.data}`;
}

function parts(content) {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}

// ---------------------------------------------------------------------------
// OpenAI Chat Completions

const CHAT_FINISH = new Set(['stop', 'length', 'tool_calls', 'content_filter']);

function chatEncode(req) {
  const b = { model: req.model, messages: [] };
  if (req.system) b.messages.push({ role: 'system', content: req.system });
  for (const m of req.messages) b.messages.push(chatMessage(m));
  if (req.stream) {
    b.stream = true;
    // The usage chunk, as clients that count tokens ask for it.
    b.stream_options = { include_usage: true };
  }
  if (req.tools) b.tools = req.tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } }));
  if (req.toolChoice !== undefined) {
    b.tool_choice = typeof req.toolChoice === 'string' ? req.toolChoice : { type: 'function', function: { name: req.toolChoice.name } };
  }
  if (req.maxTokens !== undefined) b.max_tokens = req.maxTokens;
  if (req.jsonSchema) {
    b.response_format = { type: 'json_schema', json_schema: { name: req.jsonSchema.name, schema: req.jsonSchema.schema, ...(req.jsonSchema.strict !== undefined ? { strict: req.jsonSchema.strict } : {}) } };
  }
  if (req.reasoning?.effort) b.reasoning_effort = req.reasoning.effort;
  if (req.stop) b.stop = req.stop;
  return b;
}

function chatMessage(m) {
  if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
  if (m.role === 'assistant') {
    const calls = m.toolCalls || [];
    const out = { role: 'assistant', content: m.content || (calls.length ? null : '') };
    if (calls.length) {
      out.tool_calls = calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.args ?? {}) } }));
    }
    // OpenAI clients do not send reasoning_content back; what carries a
    // round trip is the gateway's reasoning_details (OpenRouter's
    // convention, docs/conversations.md), sent back as it came.
    const details = chatReasoningDetails(m.reasoning);
    if (details) out.reasoning_details = details;
    return out;
  }
  if (typeof m.content === 'string') return { role: m.role, content: m.content };
  return {
    role: m.role,
    content: m.content.map((p) => (p.type === 'image' ? { type: 'image_url', image_url: { url: dataUrl(p) } } : { type: 'text', text: p.text })),
  };
}

function chatReasoningDetails(rs) {
  if (!rs) return null;
  if (Array.isArray(rs.raw?.chat)) return rs.raw.chat;
  if (!rs.signature) return null;
  return [{ type: 'reasoning.text', text: rs.text || '', signature: rs.signature, format: rs.format || 'anthropic-claude-v1' }];
}

function chatUsage(u) {
  if (!u) return null;
  if (typeof u.prompt_tokens !== 'number' || typeof u.completion_tokens !== 'number') {
    throw new Error(`usage without prompt_tokens/completion_tokens: ${JSON.stringify(u)}`);
  }
  return {
    input: u.prompt_tokens,
    output: u.completion_tokens,
    cached: num(u.prompt_tokens_details?.cached_tokens),
    reasoning: num(u.completion_tokens_details?.reasoning_tokens),
  };
}

function chatFinish(f, where) {
  if (!CHAT_FINISH.has(f)) throw new Error(`${where}: finish_reason '${f}' is not one of ${[...CHAT_FINISH].join(', ')}`);
  return f;
}

function chatParseDoc(doc, r) {
  if (doc?.object !== 'chat.completion') throw new Error(`object is '${doc?.object}', not 'chat.completion'`);
  if (!Array.isArray(doc.choices) || doc.choices.length < 1) throw new Error('no choices');
  const c = doc.choices.find((x) => x.index === 0);
  if (!c || typeof c.message !== 'object') throw new Error('no choice 0 with a message');
  const m = c.message;
  if (m.role !== 'assistant') throw new Error(`message.role is '${m.role}'`);
  if (m.content !== null && m.content !== undefined && typeof m.content !== 'string') throw new Error(`message.content is ${typeof m.content}`);
  r.text = m.content || '';
  r.reasoning = m.reasoning_content || (typeof m.reasoning === 'string' ? m.reasoning : '') || '';
  if (Array.isArray(m.reasoning_details)) {
    const signed = m.reasoning_details.find((d) => d && typeof d.signature === 'string' && d.signature);
    r.reasoningSignature = signed ? signed.signature : null;
    r.reasoningRaw = { chat: m.reasoning_details };
  }
  r.toolCalls = (m.tool_calls || []).map((tc, i) => {
    if (tc.type !== 'function' || typeof tc.id !== 'string' || !tc.id || typeof tc.function?.name !== 'string' || typeof tc.function.arguments !== 'string') {
      throw new Error(`message.tool_calls[${i}] is not {id, type:'function', function:{name, arguments:string}}: ${JSON.stringify(tc)}`);
    }
    return { id: tc.id, name: tc.function.name, args: parseArgs(tc.function.arguments, `tool_calls[${i}]`) };
  });
  r.finish = chatFinish(c.finish_reason, 'choices[0]');
  r.usage = chatUsage(doc.usage);
  r.ok = true;
}

/*
 * Chat stream: chunks (`chat.completion.chunk`, one id), then `data:
 * [DONE]` last. A `data: {"error":…}` chunk ends a failed stream (no
 * [DONE] after it).
 */
function chatStream(r) {
  let id = null;
  let done = false;
  let failed = false;
  let finished = false;
  const calls = []; // by tool_calls[].index
  return {
    event(ev, i) {
      if (done) throw new Error(`event ${i} after data: [DONE]: ${ev.data.slice(0, 200)}`);
      if (failed) throw new Error(`event ${i} after the error chunk: ${ev.data.slice(0, 200)}`);
      if (ev.data === '[DONE]') {
        done = true;
        return;
      }
      const j = parseJSON(ev, i);
      ev.json = j;
      if (j.error !== undefined) {
        const e = j.error;
        if (!e || typeof e.message !== 'string') throw new Error(`event ${i}: error chunk without error.message: ${ev.data}`);
        failed = true;
        r.streamError = true;
        r.error = { status: r.status, type: e.type ?? null, message: e.message, code: e.code ?? null, param: e.param ?? null, retryAfter: null };
        return;
      }
      if (j.object !== 'chat.completion.chunk') throw new Error(`event ${i}: object is '${j.object}', not 'chat.completion.chunk'`);
      if (id === null) id = j.id;
      else if (j.id !== id) throw new Error(`event ${i}: chunk id '${j.id}' differs from the first chunk's '${id}'`);
      if (!Array.isArray(j.choices)) throw new Error(`event ${i}: choices is not an array`);
      if (j.usage) r.usage = chatUsage(j.usage);
      for (const c of j.choices) {
        if (c.index !== 0) continue;
        chatDelta(c, i);
      }
    },
    end(cut) {
      if (failed) {
        r.ok = false;
      } else if (!done) {
        truncated(r, 'data: [DONE]', cut);
      } else {
        if (!finished) throw new Error('the stream reached [DONE] without a finish_reason');
        r.toolCalls = calls.filter(Boolean).map((c) => ({ id: c.id, name: c.name, args: parseArgs(c.args, `tool call '${c.name}'`) }));
        r.ok = true;
      }
    },
  };

  function chatDelta(c, i) {
    const d = c.delta;
    if (!d || typeof d !== 'object') throw new Error(`event ${i}: choice 0 without a delta`);
    const hasContent = (typeof d.content === 'string' && d.content !== '') || d.tool_calls?.length || d.reasoning_content;
    if (finished && hasContent) throw new Error(`event ${i}: content after the finish_reason chunk`);
    if (d.role !== undefined && d.role !== 'assistant') throw new Error(`event ${i}: delta.role '${d.role}'`);
    if (typeof d.content === 'string') r.text += d.content;
    if (typeof d.reasoning_content === 'string') r.reasoning += d.reasoning_content;
    for (const tc of d.tool_calls || []) {
      if (!Number.isInteger(tc.index)) throw new Error(`event ${i}: tool call fragment without an index`);
      const prev = calls[tc.index];
      if (!prev) {
        if (typeof tc.id !== 'string' || !tc.id || typeof tc.function?.name !== 'string' || !tc.function.name) {
          throw new Error(`event ${i}: the first fragment of tool call ${tc.index} lacks its id or name: ${JSON.stringify(tc)}`);
        }
        calls[tc.index] = { id: tc.id, name: tc.function.name, args: tc.function.arguments || '' };
      } else {
        if (tc.id !== undefined && tc.id !== prev.id) throw new Error(`event ${i}: tool call ${tc.index} changes its id from '${prev.id}' to '${tc.id}'`);
        prev.args += tc.function?.arguments || '';
      }
    }
    if (c.finish_reason !== null && c.finish_reason !== undefined) {
      if (finished) throw new Error(`event ${i}: a second finish_reason`);
      r.finish = chatFinish(c.finish_reason, `event ${i}`);
      finished = true;
    }
  }
}

// ---------------------------------------------------------------------------
// OpenAI Responses

function respEncode(req) {
  // store:false: the matrix checks translation, not the response store.
  const b = { model: req.model, input: [], store: false };
  if (req.system) b.instructions = req.system;
  for (const m of req.messages) b.input.push(...respItems(m));
  if (req.stream) b.stream = true;
  if (req.tools) b.tools = req.tools.map((t) => ({ type: 'function', name: t.name, description: t.description, parameters: t.parameters }));
  if (req.toolChoice !== undefined) {
    b.tool_choice = typeof req.toolChoice === 'string' ? req.toolChoice : { type: 'function', name: req.toolChoice.name };
  }
  if (req.maxTokens !== undefined) b.max_output_tokens = req.maxTokens;
  if (req.jsonSchema) {
    b.text = { format: { type: 'json_schema', name: req.jsonSchema.name, schema: req.jsonSchema.schema, ...(req.jsonSchema.strict !== undefined ? { strict: req.jsonSchema.strict } : {}) } };
  }
  if (req.reasoning?.effort) b.reasoning = { effort: req.reasoning.effort };
  // The Responses API has no stop sequences: req.stop is not sent (a row
  // that needs it on this section passes it through req.extra).
  return b;
}

function respItems(m) {
  if (m.role === 'tool') return [{ type: 'function_call_output', call_id: m.toolCallId, output: m.content }];
  if (m.role === 'assistant') {
    const items = [];
    // Reasoning goes back first, as the output gave it: the items
    // unchanged (with encrypted_content and the gateway's `format`), as
    // OpenAI's SDKs send output items back.
    if (Array.isArray(m.reasoning?.raw?.responses)) items.push(...m.reasoning.raw.responses);
    else if (m.reasoning && (m.reasoning.text || m.reasoning.signature)) {
      const it = { type: 'reasoning', summary: m.reasoning.text ? [{ type: 'summary_text', text: m.reasoning.text }] : [] };
      if (m.reasoning.signature) {
        it.encrypted_content = m.reasoning.signature;
        it.format = m.reasoning.format || 'anthropic-claude-v1';
      }
      items.push(it);
    }
    if (m.content) items.push({ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: m.content, annotations: [] }] });
    for (const c of m.toolCalls || []) items.push({ type: 'function_call', call_id: c.id, name: c.name, arguments: JSON.stringify(c.args ?? {}) });
    return items;
  }
  if (typeof m.content === 'string') return [{ role: m.role, content: m.content }];
  return [{
    type: 'message',
    role: m.role,
    content: m.content.map((p) => (p.type === 'image' ? { type: 'input_image', image_url: dataUrl(p), detail: 'auto' } : { type: 'input_text', text: p.text })),
  }];
}

function respUsage(u) {
  if (!u) return null;
  if (typeof u.input_tokens !== 'number' || typeof u.output_tokens !== 'number') {
    throw new Error(`usage without input_tokens/output_tokens: ${JSON.stringify(u)}`);
  }
  return {
    input: u.input_tokens,
    output: u.output_tokens,
    cached: num(u.input_tokens_details?.cached_tokens),
    reasoning: num(u.output_tokens_details?.reasoning_tokens),
  };
}

/** Text, reasoning and tool calls of a response's output items. */
function respOutput(output, r, where) {
  if (!Array.isArray(output)) throw new Error(`${where}: output is not an array`);
  r.text = '';
  r.reasoning = '';
  r.toolCalls = [];
  const reasoningItems = [];
  output.forEach((it, i) => {
    const w = `${where}.output[${i}]`;
    if (it.type === 'message') {
      if (it.role !== 'assistant' || !Array.isArray(it.content)) throw new Error(`${w}: not an assistant message with content parts`);
      for (const p of it.content) {
        if (p.type === 'output_text') {
          if (typeof p.text !== 'string') throw new Error(`${w}: output_text without text`);
          r.text += p.text;
        } else if (p.type !== 'refusal') throw new Error(`${w}: content part type '${p.type}'`);
      }
    } else if (it.type === 'function_call') {
      if (typeof it.call_id !== 'string' || !it.call_id || typeof it.name !== 'string' || typeof it.arguments !== 'string') {
        throw new Error(`${w}: function_call without call_id, name or arguments: ${JSON.stringify(it)}`);
      }
      r.toolCalls.push({ id: it.call_id, name: it.name, args: parseArgs(it.arguments, w) });
    } else if (it.type === 'reasoning') {
      if (!Array.isArray(it.summary)) throw new Error(`${w}: reasoning item without a summary array`);
      const text = [...it.summary, ...(it.content || [])].map((s) => s.text || '').join('');
      r.reasoning += text;
      if (typeof it.encrypted_content === 'string' && it.encrypted_content && !r.reasoningSignature) r.reasoningSignature = it.encrypted_content;
      reasoningItems.push(it);
    }
  });
  if (reasoningItems.length) r.reasoningRaw = { responses: reasoningItems };
}

/** Normalized finish of a final response object; failed is an error. */
function respFinish(resp, r, where) {
  const hasCalls = r.toolCalls.length > 0;
  if (resp.status === 'completed') return hasCalls ? 'tool_calls' : 'stop';
  if (resp.status === 'incomplete') {
    const why = resp.incomplete_details?.reason;
    if (why === 'max_output_tokens') return 'length';
    if (why === 'content_filter') return 'content_filter';
    throw new Error(`${where}: incomplete with reason '${why}'`);
  }
  throw new Error(`${where}: status '${resp.status}'`);
}

function respFailed(resp, r) {
  const e = resp.error;
  if (!e || typeof e.message !== 'string') throw new Error(`response.status 'failed' without error.message: ${JSON.stringify(resp).slice(0, 200)}`);
  r.ok = false;
  r.error = { status: r.status, type: e.code || 'failed', code: e.code ?? null, message: e.message, param: null, retryAfter: null };
}

function respParseDoc(doc, r) {
  if (doc?.object !== 'response') throw new Error(`object is '${doc?.object}', not 'response'`);
  respOutput(doc.output, r, 'response');
  r.usage = respUsage(doc.usage);
  if (doc.status === 'failed') {
    respFailed(doc, r);
    return;
  }
  r.finish = respFinish(doc, r, 'response');
  r.ok = true;
}

const RESP_TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed', 'error']);

/*
 * Responses stream: response.created first, sequence_number counting up
 * from 0, every output item opened by output_item.added (at the next
 * output_index) and closed by output_item.done, the events inside an
 * item only while it is open and naming it, and the stream over after
 * response.completed / .incomplete / .failed or a top-level `error`.
 */
function respStream(r) {
  let seq = -1;
  let terminal = null;
  const items = []; // by output_index: {item, open, text, args}
  return {
    event(ev, i) {
      if (terminal) throw new Error(`event ${i} (${ev.event}) after ${terminal}`);
      const j = parseJSON(ev, i);
      ev.json = j;
      if (typeof j.type !== 'string') throw new Error(`event ${i}: no type`);
      if (ev.event !== 'message' && ev.event !== j.type) throw new Error(`event ${i}: SSE event '${ev.event}' but type '${j.type}'`);
      if (!Number.isInteger(j.sequence_number)) throw new Error(`event ${i} (${j.type}): no sequence_number`);
      // From 0, one by one: what OpenAI streams show and the gateway
      // documents (docs/inbound.md); a gap means a lost or reordered event.
      if (j.sequence_number !== seq + 1) throw new Error(`event ${i} (${j.type}): sequence_number ${j.sequence_number} after ${seq}`);
      seq = j.sequence_number;
      if (i === 0 && j.type !== 'response.created') throw new Error(`the first event is ${j.type}, not response.created`);
      respEvent(j, i);
    },
    end(cut) {
      if (!terminal) truncated(r, 'response.completed (or .incomplete/.failed)', cut);
    },
  };

  function open(j, i) {
    const s = items[j.output_index];
    if (!s || !s.open) throw new Error(`event ${i} (${j.type}): output_index ${j.output_index} is not an open item`);
    if (j.item_id !== undefined && j.item_id !== s.item.id) throw new Error(`event ${i} (${j.type}): item_id '${j.item_id}' but item ${j.output_index} is '${s.item.id}'`);
    return s;
  }

  function respEvent(j, i) {
    switch (j.type) {
      case 'response.created':
      case 'response.in_progress':
        if (j.response?.object !== 'response') throw new Error(`event ${i} (${j.type}): no response object`);
        if (j.type === 'response.created' && i !== 0) throw new Error(`event ${i}: a second response.created`);
        return;
      case 'response.output_item.added': {
        if (j.output_index !== items.length) throw new Error(`event ${i}: output_item.added at output_index ${j.output_index}, expected ${items.length}`);
        if (!j.item || typeof j.item.type !== 'string') throw new Error(`event ${i}: output_item.added without an item`);
        items.push({ item: j.item, open: true, text: '', args: '' });
        return;
      }
      case 'response.content_part.added':
      case 'response.content_part.done':
      case 'response.reasoning_summary_part.added':
      case 'response.reasoning_summary_part.done':
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_summary_text.done':
      case 'response.reasoning_text.delta':
      case 'response.reasoning_text.done':
      case 'response.refusal.delta':
      case 'response.refusal.done':
      case 'response.output_text.annotation.added':
        open(j, i);
        return;
      case 'response.output_text.delta': {
        const s = open(j, i);
        if (s.item.type !== 'message') throw new Error(`event ${i}: output_text.delta for a ${s.item.type} item`);
        if (typeof j.delta !== 'string') throw new Error(`event ${i}: output_text.delta without a delta`);
        s.text += j.delta;
        return;
      }
      case 'response.output_text.done': {
        const s = open(j, i);
        if (j.text !== s.text) throw new Error(`event ${i}: output_text.done text ${JSON.stringify(j.text)} is not the deltas' ${JSON.stringify(s.text)}`);
        return;
      }
      case 'response.function_call_arguments.delta': {
        const s = open(j, i);
        if (s.item.type !== 'function_call') throw new Error(`event ${i}: function_call_arguments.delta for a ${s.item.type} item`);
        s.args += j.delta;
        return;
      }
      case 'response.function_call_arguments.done': {
        const s = open(j, i);
        if (j.arguments !== s.args) throw new Error(`event ${i}: function_call_arguments.done ${JSON.stringify(j.arguments)} is not the deltas' ${JSON.stringify(s.args)}`);
        return;
      }
      case 'response.output_item.done': {
        const s = open(j, i);
        if (j.item?.id !== s.item.id || j.item.type !== s.item.type) throw new Error(`event ${i}: output_item.done item differs from the one added (${s.item.type} ${s.item.id})`);
        if (s.item.type === 'function_call' && j.item.arguments !== s.args) throw new Error(`event ${i}: the done function_call's arguments are not the deltas'`);
        s.open = false;
        s.item = j.item;
        return;
      }
      case 'response.completed':
      case 'response.incomplete':
      case 'response.failed':
        terminal = j.type;
        respFinal(j, i);
        return;
      case 'error':
        terminal = 'error';
        if (typeof j.message !== 'string') throw new Error(`event ${i}: error event without a message`);
        r.streamError = true;
        r.error = { status: r.status, type: j.code || 'error', code: j.code ?? null, message: j.message, param: j.param ?? null, retryAfter: null };
        return;
      default:
        // Other event types (hosted-tool progress…) are informational.
        if (!j.type.startsWith('response.')) throw new Error(`event ${i}: unknown event type '${j.type}'`);
    }
  }

  function respFinal(j, i) {
    const resp = j.response;
    if (resp?.object !== 'response') throw new Error(`event ${i} (${j.type}): no response object`);
    const want = { 'response.completed': 'completed', 'response.incomplete': 'incomplete', 'response.failed': 'failed' }[j.type];
    if (resp.status !== want) throw new Error(`event ${i} (${j.type}): response.status '${resp.status}'`);
    if (j.type !== 'response.failed') {
      const still = items.findIndex((s) => s.open);
      if (still >= 0) throw new Error(`event ${i}: ${j.type} while output item ${still} is still open`);
    }
    // The final output must be the items streamed, in order.
    const streamed = items.map((s) => s.item.id).join(',');
    const final = (resp.output || []).map((it) => it.id).join(',');
    if (streamed !== final) throw new Error(`event ${i} (${j.type}): output ids [${final}] are not the streamed items [${streamed}]`);
    respOutput(resp.output, r, j.type);
    r.usage = respUsage(resp.usage);
    if (j.type === 'response.failed') {
      respFailed(resp, r);
      r.streamError = true;
      return;
    }
    r.finish = respFinish(resp, r, j.type);
    r.ok = true;
  }
}

// ---------------------------------------------------------------------------
// Anthropic Messages

const ANTH_STOP = { end_turn: 'stop', max_tokens: 'length', tool_use: 'tool_calls', refusal: 'content_filter', stop_sequence: 'stop_sequence' };

function msgsEncode(req) {
  // max_tokens is required by the API: 256 unless the row says.
  const b = { model: req.model, max_tokens: req.maxTokens ?? 256, messages: msgsMessages(req.messages) };
  if (req.system) b.system = req.system;
  if (req.stream) b.stream = true;
  if (req.tools) b.tools = req.tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.parameters }));
  if (req.toolChoice !== undefined) {
    const tc = req.toolChoice;
    b.tool_choice = tc === 'auto' ? { type: 'auto' } : tc === 'required' ? { type: 'any' } : tc === 'none' ? { type: 'none' } : { type: 'tool', name: tc.name };
  }
  // Structured output: the gateway documents output_config.format (the
  // API's native field) and the older output_format (docs/inbound.md).
  if (req.jsonSchema) b.output_config = { format: { type: 'json_schema', schema: req.jsonSchema.schema } };
  if (req.reasoning) b.thinking = { type: 'enabled', budget_tokens: req.reasoning.budgetTokens ?? 1024 };
  if (req.stop) b.stop_sequences = req.stop;
  return b;
}

/*
 * Canonical messages as Anthropic turns: tool results become tool_result
 * blocks of one user turn (with any user text that follows them), since
 * Anthropic has no tool role and wants the results first in that turn.
 */
function msgsMessages(messages) {
  const out = [];
  for (const m of messages) {
    const last = out.at(-1);
    if (m.role === 'tool') {
      const block = { type: 'tool_result', tool_use_id: m.toolCallId, content: m.content };
      if (last?.role === 'user' && last.toolTurn) last.content.push(block);
      else out.push({ role: 'user', content: [block], toolTurn: true });
    } else if (m.role === 'assistant') {
      out.push({ role: 'assistant', content: msgsAssistant(m) });
    } else {
      const blocks = parts(m.content).map((p) => (p.type === 'image'
        ? { type: 'image', source: { type: 'base64', media_type: p.mediaType, data: p.data } }
        : { type: 'text', text: p.text }));
      if (last?.role === 'user' && last.toolTurn) last.content.push(...blocks);
      else out.push({ role: 'user', content: typeof m.content === 'string' ? m.content : blocks });
    }
  }
  return out.map(({ role, content }) => ({ role, content }));
}

function msgsAssistant(m) {
  const blocks = [];
  // Thinking first, as the answer gave it (signature and all).
  if (Array.isArray(m.reasoning?.raw?.messages)) blocks.push(...m.reasoning.raw.messages);
  else if (m.reasoning?.signature) blocks.push({ type: 'thinking', thinking: m.reasoning.text || '', signature: m.reasoning.signature });
  if (m.content) blocks.push({ type: 'text', text: m.content });
  for (const c of m.toolCalls || []) blocks.push({ type: 'tool_use', id: c.id, name: c.name, input: c.args ?? {} });
  return blocks;
}

function msgsUsage(u) {
  if (!u) return null;
  if (typeof u.input_tokens !== 'number' || typeof u.output_tokens !== 'number') {
    throw new Error(`usage without input_tokens/output_tokens: ${JSON.stringify(u)}`);
  }
  return {
    input: u.input_tokens + num(u.cache_read_input_tokens) + num(u.cache_creation_input_tokens),
    output: u.output_tokens,
    cached: num(u.cache_read_input_tokens),
    reasoning: num(u.output_tokens_details?.thinking_tokens),
  };
}

function msgsStop(reason, where) {
  const f = ANTH_STOP[reason];
  if (!f) throw new Error(`${where}: stop_reason '${reason}' is not one of ${Object.keys(ANTH_STOP).join(', ')}`);
  return f;
}

/** Text, reasoning and tool calls of complete content blocks. */
function msgsBlocks(content, r, where) {
  if (!Array.isArray(content)) throw new Error(`${where}: content is not an array`);
  const thinking = [];
  content.forEach((b, i) => {
    const w = `${where}.content[${i}]`;
    if (b.type === 'text') {
      if (typeof b.text !== 'string') throw new Error(`${w}: text block without text`);
      r.text += b.text;
    } else if (b.type === 'thinking') {
      if (typeof b.thinking !== 'string') throw new Error(`${w}: thinking block without thinking`);
      r.reasoning += b.thinking;
      if (b.signature && !r.reasoningSignature) r.reasoningSignature = b.signature;
      thinking.push(b);
    } else if (b.type === 'redacted_thinking') {
      thinking.push(b);
    } else if (b.type === 'tool_use') {
      if (typeof b.id !== 'string' || !b.id || typeof b.name !== 'string' || !b.input || typeof b.input !== 'object' || Array.isArray(b.input)) {
        throw new Error(`${w}: tool_use without id, name or an object input: ${JSON.stringify(b)}`);
      }
      r.toolCalls.push({ id: b.id, name: b.name, args: b.input });
    } else throw new Error(`${w}: block type '${b.type}'`);
  });
  if (thinking.length) r.reasoningRaw = { messages: thinking };
}

function msgsParseDoc(doc, r) {
  if (doc?.type !== 'message' || doc.role !== 'assistant') throw new Error(`not an assistant message: type '${doc?.type}', role '${doc?.role}'`);
  msgsBlocks(doc.content, r, 'message');
  r.finish = msgsStop(doc.stop_reason, 'message');
  r.usage = msgsUsage(doc.usage);
  r.ok = true;
}

/*
 * Messages stream: message_start first; blocks one at a time, each
 * content_block_start (at the next index), deltas of its own kind,
 * content_block_stop; then message_delta (stop reason, cumulative usage)
 * and message_stop last. `ping` anywhere; unknown event types ignored, as
 * the API reserves the right to add them. `event: error` ends a failed
 * stream.
 */
function msgsStream(r) {
  let started = false;
  let delta = null; // the message_delta seen
  let terminal = null;
  let usage = null;
  const blocks = []; // complete blocks, as a non-stream answer has them
  let cur = null; // the open block: {index, block, json}
  return {
    event(ev, i) {
      if (terminal) throw new Error(`event ${i} (${ev.event}) after ${terminal}`);
      const j = parseJSON(ev, i);
      ev.json = j;
      if (typeof j.type !== 'string') throw new Error(`event ${i}: no type`);
      if (ev.event !== j.type) throw new Error(`event ${i}: SSE event '${ev.event}' but type '${j.type}'`);
      if (j.type === 'ping') return;
      if (j.type === 'error') {
        terminal = 'error';
        if (typeof j.error?.type !== 'string' || typeof j.error.message !== 'string') throw new Error(`event ${i}: error event not {type:'error', error:{type,message}}: ${ev.data}`);
        r.streamError = true;
        r.error = { status: r.status, type: j.error.type, message: j.error.message, code: null, param: null, retryAfter: null };
        return;
      }
      if (!started && j.type !== 'message_start') throw new Error(`event ${i}: ${j.type} before message_start`);
      msgsEvent(j, i);
    },
    end(cut) {
      if (terminal !== 'message_stop') {
        // What arrived before the error or the cut, to say where it broke.
        for (const b of [...blocks, ...(cur ? [cur.block] : [])]) {
          if (b.type === 'text') r.text += b.text || '';
          if (b.type === 'thinking') r.reasoning += b.thinking || '';
        }
        if (terminal === 'error') r.ok = false;
        else truncated(r, 'message_stop', cut);
      } else {
        msgsBlocks(blocks, r, 'stream');
        r.usage = msgsUsage(usage);
        r.ok = true;
      }
    },
  };

  function msgsEvent(j, i) {
    switch (j.type) {
      case 'message_start':
        if (started) throw new Error(`event ${i}: a second message_start`);
        started = true;
        if (j.message?.type !== 'message' || j.message.role !== 'assistant') throw new Error(`event ${i}: message_start without an assistant message`);
        usage = { ...(j.message.usage || {}) };
        return;
      case 'content_block_start':
        if (delta) throw new Error(`event ${i}: content_block_start after message_delta`);
        if (cur) throw new Error(`event ${i}: content_block_start ${j.index} while block ${cur.index} is open`);
        if (j.index !== blocks.length) throw new Error(`event ${i}: content_block_start at index ${j.index}, expected ${blocks.length}`);
        if (!j.content_block || typeof j.content_block.type !== 'string') throw new Error(`event ${i}: content_block_start without a content_block`);
        cur = { index: j.index, block: { ...j.content_block }, json: '' };
        return;
      case 'content_block_delta':
        blockDelta(j, i);
        return;
      case 'content_block_stop': {
        if (!cur || cur.index !== j.index) throw new Error(`event ${i}: content_block_stop ${j.index} but the open block is ${cur ? cur.index : 'none'}`);
        const b = cur.block;
        if (b.type === 'tool_use') b.input = cur.json === '' ? (b.input || {}) : parseArgs(cur.json, `block ${cur.index}`);
        blocks.push(b);
        cur = null;
        return;
      }
      case 'message_delta':
        if (cur) throw new Error(`event ${i}: message_delta while block ${cur.index} is open`);
        if (delta) throw new Error(`event ${i}: a second message_delta`);
        delta = j;
        r.finish = msgsStop(j.delta?.stop_reason, `event ${i}`);
        // Cumulative: every non-null value replaces the message_start one.
        for (const [k, v] of Object.entries(j.usage || {})) if (v !== null && v !== undefined) usage[k] = v;
        return;
      case 'message_stop':
        if (!delta) throw new Error(`event ${i}: message_stop without a message_delta before it`);
        terminal = 'message_stop';
        return;
      default:
        // Unknown event types are ignored, as Anthropic's SDKs do.
    }
  }

  function blockDelta(j, i) {
    if (!cur) throw new Error(`event ${i}: content_block_delta for block ${j.index} before its content_block_start`);
    if (cur.index !== j.index) throw new Error(`event ${i}: content_block_delta for block ${j.index} but the open block is ${cur.index}`);
    const d = j.delta || {};
    const b = cur.block;
    const fits = { text_delta: 'text', input_json_delta: 'tool_use', thinking_delta: 'thinking', signature_delta: 'thinking', citations_delta: 'text' }[d.type];
    if (fits !== b.type) throw new Error(`event ${i}: ${d.type} in a ${b.type} block`);
    if (d.type === 'text_delta') b.text = (b.text || '') + d.text;
    else if (d.type === 'input_json_delta') cur.json += d.partial_json;
    else if (d.type === 'thinking_delta') b.thinking = (b.thinking || '') + d.thinking;
    else if (d.type === 'signature_delta') b.signature = (b.signature || '') + d.signature;
  }
}

// ---------------------------------------------------------------------------

const APIS = {
  chat: {
    path: '/v1/chat/completions', headers: {},
    encode: chatEncode, parseDoc: chatParseDoc, stream: chatStream,
    httpError: openaiHttpError, modelIds: openaiModelIds,
  },
  responses: {
    path: '/v1/responses', headers: {},
    encode: respEncode, parseDoc: respParseDoc, stream: respStream,
    httpError: openaiHttpError, modelIds: openaiModelIds,
  },
  messages: {
    path: '/v1/messages', headers: { 'anthropic-version': ANTHROPIC_VERSION },
    encode: msgsEncode, parseDoc: msgsParseDoc, stream: msgsStream,
    httpError: anthropicHttpError, modelIds: anthropicModelIds,
  },
};
