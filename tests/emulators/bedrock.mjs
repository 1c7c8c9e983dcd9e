// A strict, deterministic emulator of AWS Bedrock Runtime Converse,
// ConverseStream and InvokeModel for embedding models
// (the provider's public API reference), for Switchboard's tests.
//
// Library:  const emu = await startBedrockEmulator({accessKey, secretKey});
//           emu.url  -> 'http://127.0.0.1:PORT' (the endpoint base);
//           emu.stats; emu.requests; emu.lastRequest() (Converse);
//           emu.lastInvoke() (InvokeModel); await emu.close();
// CLI:      node tests/emulators/bedrock.mjs --port 8005 --access-key AK
//                --secret-key SK [--region us-east-1] [--session-token T]
//                [--host H] [--models a,b]
//
// Auth: SigV4 is verified for real: the canonical request is rebuilt from
//           what arrived (the path URI-encoded a second time, the headers
//           named in SignedHeaders, sha256 of the body) and the signature
//           recomputed with node:crypto from the configured secret. No
//           Authorization → 403 MissingAuthenticationTokenException; an
//           unknown access key or a wrong/missing session token → 403
//           UnrecognizedClientException; a wrong signature, a credential
//           scoped to another region or service, host/x-amz-date not
//           signed, an x-amz-content-sha256 that does not match the body,
//           or a clock more than 5 minutes off → 403
//           InvalidSignatureException. Also accepted: Authorization:
//           Bearer <bearerKey> (Bedrock API keys) when bearerKey is set.
// Strictness (as the real API): POST /model/{modelId}/converse and
//           /converse-stream only; the model id percent-encoded in the path;
//           unknown model → 400 ValidationException "The provided model
//           identifier is invalid."; unknown top-level fields, roles other
//           than user/assistant, a conversation not starting with user or
//           not alternating, content blocks with other than exactly one
//           member, blank text, bad image formats or base64, toolResult
//           outside user turns or not answering the previous turn's
//           toolUse ids (and unanswered toolUse), tool blocks without
//           toolConfig, tool names/ids off pattern, temperature/topP
//           outside 0-1, maxTokens < 1, toolChoice naming an unknown tool,
//           outputConfig schemas that are not JSON strings, and thinking
//           budgets < 1024 or >= maxTokens are 400 ValidationException.
//           Error responses: {"message": "..."} with x-amzn-ErrorType
//           "<Name>:http://internal.amazon.com/coral/com.amazon.bedrock/"
//           and x-amzn-RequestId.
// Answers:  "You said: <text of the last user turn>"; when the last user
//           turn carries toolResult blocks: "Tool results: <r1>; <r2>".
//           Tool calls when tools are given and toolChoice is {any:{}} (the
//           first two tools: parallel calls) or {tool:{name}}, or, with
//           auto/no choice, for every tool whose name appears in the last
//           user text. Tool input gives every declared property a value
//           (strings: the user text). additionalModelRequestFields.thinking
//           enabled: a reasoningContent block "Thinking about: <text>"
//           with a signature first. outputConfig.textFormat json_schema:
//           the text is a JSON object following the schema.
//           Stop reasons: end_turn; stop_sequence (answer cut before a
//           stopSequences entry); max_tokens (more words than maxTokens;
//           cut); tool_use; models guardrail → guardrail_intervened,
//           content-filtered → content_filtered, context-window →
//           model_context_window_exceeded.
//           Usage: a token is a word; inputTokens counts the words of the
//           request's text; cache-read model reports 5 cacheReadInputTokens.
// Streams:  application/vnd.amazon.eventstream frames with correct CRCs:
//           messageStart, per block (contentBlockStart only for toolUse;
//           text blocks open with their first delta) contentBlockDelta+,
//           contentBlockStop, then messageStop, then metadata last. Tool
//           input is streamed as string fragments split mid-token. Payloads
//           carry a "p" padding field like the real service. Model
//           split-frames writes the bytes 5 at a time.
// Embeddings: POST /model/{modelId}/invoke, SigV4-verified as above, for
//           EMBED_MODELS (other models on /invoke → 400 ValidationException;
//           embedding models on /converse → 400 "This action doesn't support
//           the model that you provided."). Titan text embeddings (v1:
//           {inputText} only; v2: inputText, dimensions 256|512|1024,
//           normalize, embeddingTypes float|binary) answer {embedding,
//           inputTextTokenCount} (+ embeddingsByType when asked); Cohere
//           ({texts} ≤ 96 of ≤ 2048 characters, input_type required and
//           one of search_document|search_query|classification|clustering,
//           truncate NONE|START|END, embedding_types float only) answers
//           {embeddings:[[...]], id, response_type:"embeddings_floats",
//           texts}; both with the headers x-amzn-bedrock-input-token-count
//           (words of the input(s)) and x-amzn-bedrock-invocation-latency,
//           as the real InvokeModel. Extraneous keys, wrong types, a missing required key,
//           bad enum values, Titan inputs over TITAN_MAX_TOKENS words and
//           Cohere texts over COHERE_MAX_TOKENS words with truncate NONE →
//           400 ValidationException "Malformed input request: #/...".
//           Vectors: embedVector(text, dims): deterministic, float32-exact,
//           unit length when normalized (Titan v1 1536, v2 1024 or
//           dimensions, Cohere 1024, *light* 384). Faults: a known model id
//           with an EMBED_FAULTS suffix, e.g.
//           amazon.titan-embed-text-v2:0:fault-429 (validated first, then
//           the fault-NNN error as below; stall; reset-mid-stream and
//           malformed-chunk cut the JSON answer).
// Faults, chosen by model name (FAULT_MODELS): fault-400, fault-401 (403
//           UnrecognizedClientException: Bedrock's bad-credential answer),
//           fault-403 (AccessDeniedException), fault-404
//           (ResourceNotFoundException), fault-408 (ModelTimeoutException),
//           fault-424 (ModelErrorException), fault-429 (ThrottlingException,
//           retry-after 7), fault-500 (InternalServerException), fault-503
//           (ServiceUnavailableException), slow-stream, stall,
//           reset-mid-stream, error-mid-stream (a throttlingException
//           exception frame after MID_STREAM_DELTAS deltas),
//           malformed-chunk (a frame with a bad message CRC).
//
// No dependencies beyond node:*.

import http from 'node:http';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

export const DEFAULT_MODELS = [
  'anthropic.claude-3-haiku-20240307-v1:0',
  'us.anthropic.claude-sonnet-4-20250514-v1:0',
  'amazon.nova-pro-v1:0',
];
// Embedding models served by InvokeModel (POST /model/{modelId}/invoke).
export const EMBED_MODELS = [
  'amazon.titan-embed-text-v2:0', 'amazon.titan-embed-text-v1', 'cohere.embed-english-v3',
  'cohere.embed-multilingual-v3',
];
// Faults of embedding models, chosen by a suffix of a known embedding
// model id: 'amazon.titan-embed-text-v2:0:fault-500', 'cohere.embed-english-v3:stall'.
export const EMBED_FAULTS = [
  'fault-400', 'fault-401', 'fault-403', 'fault-404', 'fault-408', 'fault-424', 'fault-429',
  'fault-500', 'fault-503', 'stall', 'reset-mid-stream', 'malformed-chunk',
];
export const TITAN_MAX_CHARS = 50000;
export const TITAN_MAX_TOKENS = 8192;
export const COHERE_MAX_TEXTS = 96;
export const COHERE_MAX_CHARS = 2048;
export const COHERE_MAX_TOKENS = 512;
export const BEHAVIOUR_MODELS = ['guardrail', 'content-filtered', 'context-window', 'cache-read', 'split-frames'];
export const FAULT_MODELS = [
  'fault-400', 'fault-401', 'fault-403', 'fault-404', 'fault-408', 'fault-424', 'fault-429',
  'fault-500', 'fault-503', 'slow-stream', 'stall', 'reset-mid-stream', 'error-mid-stream',
  'malformed-chunk',
];
export const SLOW_CHUNKS = 20;
export const SLOW_INTERVAL_MS = 100;
export const MID_STREAM_DELTAS = 2;
export const CLOCK_SKEW_MS = 5 * 60 * 1000;

const TOP_LEVEL = new Set([
  'messages', 'system', 'inferenceConfig', 'toolConfig', 'guardrailConfig',
  'additionalModelRequestFields', 'promptVariables', 'additionalModelResponseFieldPaths',
  'requestMetadata', 'performanceConfig', 'outputConfig', 'serviceTier',
]);
const BLOCK_KEYS = new Set([
  'text', 'image', 'document', 'video', 'audio', 'toolUse', 'toolResult', 'guardContent',
  'cachePoint', 'reasoningContent', 'citationsContent', 'searchResult',
]);
const IMAGE_FORMATS = ['png', 'jpeg', 'gif', 'webp'];
const SIG_MISMATCH = 'The request signature we calculated does not match the signature you provided. '
  + 'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

class ApiError extends Error {
  constructor(status, type, message, headers = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.headers = headers;
  }
}
const invalid = (message) => new ApiError(400, 'ValidationException', message);
const denied = (type, message) => new ApiError(403, type, message);

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isInt = (v) => typeof v === 'number' && Number.isInteger(v);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hex = (n) => randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const hmac = (k, s) => createHmac('sha256', k).update(s).digest();

export function countWords(s) {
  return String(s).split(/\s+/).filter(Boolean).length;
}
export function fragments(s) {
  return s.match(/\s*\S+|\s+$/g) || [];
}

// ----------------------------------------------------------------------------
// AWS event-stream encoding

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
export function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One event-stream message with string headers. */
export function encodeFrame(headers, payload) {
  const hs = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name);
    const v = Buffer.from(value);
    const h = Buffer.alloc(1 + n.length + 3 + v.length);
    h[0] = n.length;
    n.copy(h, 1);
    h[1 + n.length] = 7;
    h.writeUInt16BE(v.length, 2 + n.length);
    v.copy(h, 4 + n.length);
    hs.push(h);
  }
  const hb = Buffer.concat(hs);
  const pb = Buffer.from(payload);
  const total = 16 + hb.length + pb.length;
  const out = Buffer.alloc(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(hb.length, 4);
  out.writeUInt32BE(crc32(out.subarray(0, 8)), 8);
  hb.copy(out, 12);
  pb.copy(out, 12 + hb.length);
  out.writeUInt32BE(crc32(out.subarray(0, total - 4)), total - 4);
  return out;
}
export const eventFrame = (type, obj) => encodeFrame(
  { ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, JSON.stringify(obj));
export const exceptionFrame = (type, obj) => encodeFrame(
  { ':exception-type': type, ':content-type': 'application/json', ':message-type': 'exception' }, JSON.stringify(obj));

/** Decode concatenated frames (tests): [{headers, payload}]. Checks CRCs. */
export function decodeFrames(buf) {
  const out = [];
  let off = 0;
  while (off + 12 <= buf.length) {
    const total = buf.readUInt32BE(off);
    const hlen = buf.readUInt32BE(off + 4);
    if (crc32(buf.subarray(off, off + 8)) !== buf.readUInt32BE(off + 8)) throw new Error('prelude CRC');
    const f = buf.subarray(off, off + total);
    if (crc32(f.subarray(0, total - 4)) !== f.readUInt32BE(total - 4)) throw new Error('message CRC');
    const headers = {};
    let p = 12;
    while (p < 12 + hlen) {
      const nl = f[p];
      const name = f.subarray(p + 1, p + 1 + nl).toString();
      const vl = f.readUInt16BE(p + 2 + nl);
      headers[name] = f.subarray(p + 4 + nl, p + 4 + nl + vl).toString();
      p += 4 + nl + vl;
    }
    out.push({ headers, payload: f.subarray(12 + hlen, total - 4).toString() });
    off += total;
  }
  return out;
}

// ----------------------------------------------------------------------------
// SigV4 verification

function uriEncode(s, keepSlash) {
  let out = '';
  for (const b of Buffer.from(s, 'latin1')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function canonicalQuery(search) {
  if (!search || search === '?') return '';
  return search.slice(1).split('&').filter(Boolean).map((kv) => {
    const i = kv.indexOf('=');
    const k = i < 0 ? kv : kv.slice(0, i);
    const v = i < 0 ? '' : kv.slice(i + 1);
    const dec = (x) => Buffer.from(decodeURIComponent(x), 'utf8').toString('latin1');
    return `${uriEncode(dec(k))}=${uriEncode(dec(v))}`;
  }).sort().join('&');
}

/**
 * Verify req's SigV4 Authorization. Throws ApiError(403, ...) when wrong.
 * rawPath: the path as received (still percent-encoded once).
 */
export function verifySigV4(req, rawPath, search, rawBody, cfg) {
  const auth = req.headers.authorization;
  if (!auth) throw denied('MissingAuthenticationTokenException', 'Missing Authentication Token');
  if (cfg.bearerKey && /^Bearer /.test(auth)) {
    if (auth.slice(7) !== cfg.bearerKey) throw denied('UnrecognizedClientException', 'Invalid API Key format: Must start with pre-defined prefix');
    return;
  }
  const m = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) {
    throw new ApiError(403, 'IncompleteSignatureException',
      `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization=${auth.split(' ')[0]}`);
  }
  const [, akid, date, region, service, signedList, signature] = m;
  if (akid !== cfg.accessKey) throw denied('UnrecognizedClientException', 'The security token included in the request is invalid.');
  if (cfg.sessionToken && req.headers['x-amz-security-token'] !== cfg.sessionToken) {
    throw denied('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
  if (service !== 'bedrock') throw denied('InvalidSignatureException', `Credential should be scoped to correct service: 'bedrock'. `);
  if (region !== cfg.region) throw denied('InvalidSignatureException', `Credential should be scoped to a valid region. `);
  const signed = signedList.split(';');
  for (const need of ['host', 'x-amz-date']) {
    if (!signed.includes(need)) throw denied('InvalidSignatureException', `'${need}' must be a 'SignedHeader' in the AWS Authorization.`);
  }
  if (req.headers['x-amz-security-token'] && !signed.includes('x-amz-security-token')) {
    throw denied('InvalidSignatureException', "'x-amz-security-token' must be a 'SignedHeader' in the AWS Authorization.");
  }
  const amzDate = req.headers['x-amz-date'] || '';
  const dm = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!dm || amzDate.slice(0, 8) !== date) throw denied('InvalidSignatureException', SIG_MISMATCH);
  const t = Date.UTC(+dm[1], +dm[2] - 1, +dm[3], +dm[4], +dm[5], +dm[6]);
  if (Math.abs(t - Date.now()) > CLOCK_SKEW_MS) {
    throw denied('InvalidSignatureException', `Signature expired: ${amzDate} is now earlier or later than the allowed window.`);
  }
  const bodyHash = sha256(rawBody);
  const claimed = req.headers['x-amz-content-sha256'];
  if (claimed !== undefined && claimed !== bodyHash) {
    throw new ApiError(400, 'ValidationException', 'The provided \'x-amz-content-sha256\' header does not match what was computed.');
  }
  const norm = (v) => (Array.isArray(v) ? v.join(',') : String(v)).trim().replace(/ +/g, ' ');
  const canonHeaders = [...signed].sort().map((h) => {
    const v = req.headers[h];
    if (v === undefined) throw denied('InvalidSignatureException', SIG_MISMATCH);
    return `${h}:${norm(v)}\n`;
  }).join('');
  const canonical = [
    req.method, uriEncode(rawPath, true), canonicalQuery(search), canonHeaders, signed.sort().join(';'), bodyHash,
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const sts = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256(canonical)}`;
  let k = hmac(`AWS4${cfg.secretKey}`, date);
  k = hmac(k, region);
  k = hmac(k, service);
  k = hmac(k, 'aws4_request');
  const want = createHmac('sha256', k).update(sts).digest('hex');
  if (want !== signature) throw denied('InvalidSignatureException', SIG_MISMATCH);
}

// ----------------------------------------------------------------------------
// Validation

function oneKey(b, where) {
  if (!isObject(b)) throw invalid(`${where}: expected a ContentBlock object`);
  const keys = Object.keys(b);
  if (keys.length !== 1 || !BLOCK_KEYS.has(keys[0])) {
    throw invalid(`The ContentBlock at ${where} must contain exactly one member of: ${[...BLOCK_KEYS].join(', ')}.`);
  }
  return keys[0];
}

function checkText(s, where) {
  if (typeof s !== 'string') throw invalid(`${where}.text: expected a string`);
  if (!s.trim()) throw invalid(`The text field in the ContentBlock object at ${where} is blank. Add text to the text field, and try again.`);
}

function checkImage(img, where) {
  if (!isObject(img) || !IMAGE_FORMATS.includes(img.format)) {
    throw invalid(`${where}.image.format: Member must satisfy enum value set: [gif, jpeg, png, webp]`);
  }
  const src = img.source;
  if (!isObject(src) || typeof src.bytes !== 'string') throw invalid(`${where}.image.source: expected {bytes} or {s3Location}`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(src.bytes) || src.bytes.length % 4) throw invalid(`${where}.image.source.bytes: Invalid base64 encoding`);
}

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const TOOL_ID = /^[a-zA-Z0-9_.:-]{1,64}$/;

export function validateRequest(body, model) {
  if (!isObject(body)) throw invalid('Malformed input request: expected a JSON object');
  for (const k of Object.keys(body)) {
    if (!TOP_LEVEL.has(k)) throw invalid(`Malformed input request: extraneous key [${k}] is not permitted, please reformat your input and try again.`);
  }
  const msgs = body.messages;
  if (!Array.isArray(msgs) || msgs.length === 0) throw invalid('A conversation must start with a user message. Try again with a conversation that starts with a user message.');
  let toolBlocks = false;
  let prevUses = [];
  msgs.forEach((m, i) => {
    const where = `messages.${i}`;
    if (!isObject(m)) throw invalid(`${where}: expected a Message object`);
    for (const k of Object.keys(m)) if (k !== 'role' && k !== 'content') throw invalid(`${where}: extraneous key [${k}]`);
    if (m.role !== 'user' && m.role !== 'assistant') throw invalid(`${where}.role: Member must satisfy enum value set: [user, assistant]`);
    if (i === 0 && m.role !== 'user') throw invalid('A conversation must start with a user message. Try again with a conversation that starts with a user message.');
    if (i > 0 && msgs[i - 1].role === m.role) throw invalid('A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.');
    if (!Array.isArray(m.content) || m.content.length === 0) throw invalid(`The content field in the Message object at ${where} is empty. Add a ContentBlock object to the content field and try again.`);
    const uses = [];
    const results = [];
    m.content.forEach((b, j) => {
      const bw = `${where}.content.${j}`;
      const key = oneKey(b, bw);
      switch (key) {
        case 'text': checkText(b.text, bw); break;
        case 'image': checkImage(b.image, bw); break;
        case 'document': {
          const d = b.document;
          if (!isObject(d) || typeof d.name !== 'string' || !/^[A-Za-z0-9()[\]-]+( [A-Za-z0-9()[\]-]+)*$/.test(d.name)) throw invalid(`${bw}.document.name: invalid document name`);
          if (!isObject(d.source)) throw invalid(`${bw}.document.source: required`);
          break;
        }
        case 'toolUse': {
          const u = b.toolUse;
          if (m.role !== 'assistant') throw invalid(`${bw}: toolUse blocks are only allowed in assistant messages`);
          if (!isObject(u) || !TOOL_ID.test(u.toolUseId || '')) throw invalid(`${bw}.toolUse.toolUseId: Member must satisfy regular expression pattern: [a-zA-Z0-9_.:-]+`);
          if (!TOOL_NAME.test(u.name || '')) throw invalid(`${bw}.toolUse.name: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+`);
          if (!isObject(u.input)) throw invalid(`${bw}.toolUse.input: expected a JSON object`);
          uses.push(u.toolUseId);
          toolBlocks = true;
          break;
        }
        case 'toolResult': {
          const r = b.toolResult;
          if (m.role !== 'user') throw invalid(`${bw}: toolResult blocks are only allowed in user messages`);
          if (!isObject(r) || !TOOL_ID.test(r.toolUseId || '')) throw invalid(`${bw}.toolResult.toolUseId: Member must satisfy regular expression pattern: [a-zA-Z0-9_.:-]+`);
          if (!Array.isArray(r.content)) throw invalid(`${bw}.toolResult.content: required`);
          r.content.forEach((c, k) => {
            const key2 = oneKey(c, `${bw}.toolResult.content.${k}`);
            if (key2 === 'text') checkText(c.text, `${bw}.toolResult.content.${k}`);
            else if (key2 !== 'json' && key2 !== 'image' && key2 !== 'document') throw invalid(`${bw}.toolResult.content.${k}: unsupported member ${key2}`);
          });
          if (r.status !== undefined && r.status !== 'success' && r.status !== 'error') throw invalid(`${bw}.toolResult.status: Member must satisfy enum value set: [success, error]`);
          results.push(r.toolUseId);
          toolBlocks = true;
          break;
        }
        case 'reasoningContent': case 'cachePoint': case 'guardContent': break;
        default: throw invalid(`${bw}: ${key} blocks are not supported by this model`);
      }
    });
    if (m.role === 'user') {
      for (const id of results) {
        if (!prevUses.includes(id)) throw invalid(`${where}.content: toolResult ${id} does not match any toolUse in the previous assistant message.`);
      }
      const missing = prevUses.filter((id) => !results.includes(id));
      if (missing.length) throw invalid(`Expected toolResult blocks at ${where}.content for the following Ids: ${missing.join(', ')}`);
    }
    prevUses = m.role === 'assistant' ? uses : [];
  });
  if (prevUses.length && msgs[msgs.length - 1].role === 'assistant') {
    // A trailing assistant turn with toolUse is a prefill the model cannot continue.
    throw invalid('The final assistant message cannot contain toolUse blocks.');
  }
  if (body.system !== undefined) {
    if (!Array.isArray(body.system)) throw invalid('system: expected a list of SystemContentBlock');
    body.system.forEach((s, i) => {
      const key = isObject(s) ? Object.keys(s) : [];
      if (key.length !== 1 || !['text', 'guardContent', 'cachePoint'].includes(key[0])) throw invalid(`system.${i}: must contain exactly one of text, guardContent, cachePoint`);
      if (key[0] === 'text') checkText(s.text, `system.${i}`);
    });
  }
  const inf = body.inferenceConfig;
  if (inf !== undefined) {
    if (!isObject(inf)) throw invalid('inferenceConfig: expected an object');
    for (const k of Object.keys(inf)) if (!['maxTokens', 'temperature', 'topP', 'stopSequences'].includes(k)) throw invalid(`inferenceConfig: extraneous key [${k}]`);
    if (inf.maxTokens !== undefined && (!isInt(inf.maxTokens) || inf.maxTokens < 1)) throw invalid('inferenceConfig.maxTokens: Member must have value greater than or equal to 1');
    if (inf.temperature !== undefined && (typeof inf.temperature !== 'number' || inf.temperature < 0 || inf.temperature > 1)) throw invalid('inferenceConfig.temperature: Member must have value less than or equal to 1');
    if (inf.topP !== undefined && (typeof inf.topP !== 'number' || inf.topP < 0 || inf.topP > 1)) throw invalid('inferenceConfig.topP: Member must have value less than or equal to 1');
    if (inf.stopSequences !== undefined && (!Array.isArray(inf.stopSequences) || inf.stopSequences.some((s) => typeof s !== 'string' || !s.length) || inf.stopSequences.length > 2500)) {
      throw invalid('inferenceConfig.stopSequences: expected a list of non-empty strings');
    }
  }
  const tc = body.toolConfig;
  if (tc !== undefined) {
    if (!isObject(tc) || !Array.isArray(tc.tools) || tc.tools.length === 0) throw invalid('toolConfig.tools: Member must have length greater than or equal to 1');
    const names = [];
    tc.tools.forEach((t, i) => {
      const s = isObject(t) && t.toolSpec;
      if (!isObject(s) || Object.keys(t).length !== 1) throw invalid(`toolConfig.tools.${i}: must contain exactly one of toolSpec, cachePoint, systemTool`);
      if (!TOOL_NAME.test(s.name || '')) throw invalid(`toolConfig.tools.${i}.toolSpec.name: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+`);
      if (s.description !== undefined && (typeof s.description !== 'string' || !s.description.length)) throw invalid(`toolConfig.tools.${i}.toolSpec.description: Member must have length greater than or equal to 1`);
      if (!isObject(s.inputSchema) || !isObject(s.inputSchema.json)) throw invalid(`toolConfig.tools.${i}.toolSpec.inputSchema: must contain json`);
      if (names.includes(s.name)) throw invalid(`toolConfig.tools: tool names must be unique (${s.name})`);
      names.push(s.name);
    });
    if (tc.toolChoice !== undefined) {
      const c = tc.toolChoice;
      const keys = isObject(c) ? Object.keys(c) : [];
      if (keys.length !== 1 || !['auto', 'any', 'tool'].includes(keys[0])) throw invalid('toolConfig.toolChoice: must contain exactly one of auto, any, tool');
      if (keys[0] === 'tool' && !names.includes(c.tool && c.tool.name)) throw invalid(`toolConfig.toolChoice.tool.name: ${c.tool && c.tool.name} is not a defined tool`);
    }
    for (const k of Object.keys(tc)) if (k !== 'tools' && k !== 'toolChoice') throw invalid(`toolConfig: extraneous key [${k}]`);
  } else if (toolBlocks) {
    throw invalid('The toolConfig field must be defined when using toolUse and toolResult content blocks.');
  }
  const oc = body.outputConfig;
  if (oc !== undefined) {
    const tf = isObject(oc) && oc.textFormat;
    const js = isObject(tf) && isObject(tf.structure) && tf.structure.jsonSchema;
    if (!isObject(tf) || tf.type !== 'json_schema' || !isObject(js) || typeof js.schema !== 'string') {
      throw invalid('outputConfig.textFormat: expected {type: json_schema, structure: {jsonSchema: {schema: <string>}}}');
    }
    let parsed;
    try { parsed = JSON.parse(js.schema); } catch { parsed = undefined; }
    if (!isObject(parsed)) throw invalid('outputConfig.textFormat.structure.jsonSchema.schema: The provided JSON schema is not valid JSON.');
  }
  const extra = body.additionalModelRequestFields;
  if (extra !== undefined) {
    if (!isObject(extra)) throw invalid('additionalModelRequestFields: expected a JSON object');
    if (extra.top_k !== undefined && (!isInt(extra.top_k) || extra.top_k < 0)) throw invalid('Malformed input request: #/top_k: expected type: Integer');
    if (extra.thinking !== undefined) {
      if (!model.includes('anthropic.')) throw invalid('Malformed input request: extraneous key [thinking] is not permitted, please reformat your input and try again.');
      const th = extra.thinking;
      if (!isObject(th) || th.type !== 'enabled' || !isInt(th.budget_tokens)) throw invalid('Malformed input request: #/thinking: expected {type: enabled, budget_tokens}');
      if (th.budget_tokens < 1024) throw invalid('thinking.budget_tokens: Input should be greater than or equal to 1024');
      const max = inf && inf.maxTokens;
      if (max !== undefined && th.budget_tokens >= max) throw invalid('`max_tokens` must be greater than `thinking.budget_tokens`.');
      // As Claude: a tool loop's assistant turn must start with its
      // reasoning when thinking is on.
      const msgs = body.messages;
      const last = msgs[msgs.length - 1];
      const prev = msgs[msgs.length - 2];
      if (last && last.role === 'user' && prev && prev.role === 'assistant'
          && last.content.some((b) => b.toolResult) && !(prev.content[0] && prev.content[0].reasoningContent)) {
        throw invalid(`messages.${msgs.length - 2}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`tool_use\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable \`thinking\`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking`);
      }
    }
  }
  // Reasoning sent back must be what this model signed.
  body.messages.forEach((m, i) => (m.content || []).forEach((b, j) => {
    const rt = b.reasoningContent && b.reasoningContent.reasoningText;
    if (rt && (typeof rt.signature !== 'string' || !ISSUED_SIGNATURES.has(rt.signature))) {
      throw invalid(`messages.${i}.content.${j}: Invalid \`signature\` in \`thinking\` block`);
    }
  }));
}

/** Every reasoning signature this emulator gave out (any instance). */
const ISSUED_SIGNATURES = new Set();

// ----------------------------------------------------------------------------
// Answers

function textOf(blocks) {
  return blocks.filter((b) => typeof b.text === 'string').map((b) => b.text).join(' ');
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

export function planAnswer(body, model) {
  const lastUser = [...body.messages].reverse().find((m) => m.role === 'user');
  const blocks = lastUser ? lastUser.content : [];
  const userText = textOf(blocks);
  const results = blocks.filter((b) => b.toolResult).map((b) => b.toolResult);
  let text = results.length
    ? `Tool results: ${results.map((r) => textOf(r.content)).join('; ')}`
    : `You said: ${userText}`;
  const plan = { reasoning: null, content: [], stopReason: 'end_turn' };
  const extra = body.additionalModelRequestFields || {};
  if (extra.thinking) {
    plan.reasoning = { text: `Thinking about: ${userText}`, signature: `sig_${hex(24)}` };
    ISSUED_SIGNATURES.add(plan.reasoning.signature);
  }

  const tools = ((body.toolConfig && body.toolConfig.tools) || []).map((t) => t.toolSpec);
  const choice = (body.toolConfig && body.toolConfig.toolChoice) || { auto: {} };
  let calls = [];
  if (choice.any) calls = tools.slice(0, 2);
  else if (choice.tool) calls = tools.filter((t) => t.name === choice.tool.name);
  else if (!results.length) calls = tools.filter((t) => userText.includes(t.name));
  if (calls.length) {
    plan.content = calls.map((t) => ({
      toolUse: {
        toolUseId: `tooluse_${hex(22)}`, name: t.name,
        input: exampleValue({ type: 'object', properties: t.inputSchema.json.properties || {} }, userText),
      },
    }));
    plan.stopReason = 'tool_use';
    return plan;
  }
  const tf = body.outputConfig && body.outputConfig.textFormat;
  if (tf) text = JSON.stringify(exampleValue(JSON.parse(tf.structure.jsonSchema.schema), userText));
  switch (model) {
    case 'guardrail':
      plan.content = [{ text: 'Sorry, the model cannot answer this question.' }];
      plan.stopReason = 'guardrail_intervened';
      return plan;
    case 'content-filtered': plan.stopReason = 'content_filtered'; break;
    case 'context-window': plan.stopReason = 'model_context_window_exceeded'; break;
    default: break;
  }
  const inf = body.inferenceConfig || {};
  for (const s of inf.stopSequences || []) {
    const at = text.indexOf(s);
    if (at >= 0) {
      text = text.slice(0, at);
      plan.stopReason = 'stop_sequence';
      break;
    }
  }
  const words = fragments(text);
  if (inf.maxTokens !== undefined) {
    const budget = inf.maxTokens - (plan.reasoning ? countWords(plan.reasoning.text) : 0);
    if (words.length > budget) {
      text = words.slice(0, Math.max(budget, 0)).join('');
      plan.stopReason = 'max_tokens';
    }
  }
  if (text.length) plan.content = [{ text }];
  return plan;
}

function usageOf(body, plan, model) {
  let input = 0;
  for (const s of body.system || []) if (s.text) input += countWords(s.text);
  for (const m of body.messages) {
    for (const b of m.content) {
      if (b.text) input += countWords(b.text);
      else if (b.toolUse) input += countWords(JSON.stringify(b.toolUse.input));
      else if (b.toolResult) input += countWords(textOf(b.toolResult.content));
      else input += 10;
    }
  }
  let output = plan.reasoning ? countWords(plan.reasoning.text) : 0;
  for (const b of plan.content) output += b.text !== undefined ? countWords(b.text) : countWords(JSON.stringify(b.toolUse.input));
  const cacheRead = model === 'cache-read' ? 5 : 0;
  return {
    inputTokens: input, outputTokens: output, totalTokens: input + output + cacheRead,
    cacheReadInputTokens: cacheRead, cacheWriteInputTokens: 0,
  };
}

function converseBody(body, plan, model) {
  const content = [];
  if (plan.reasoning) content.push({ reasoningContent: { reasoningText: plan.reasoning } });
  content.push(...plan.content);
  return {
    output: { message: { role: 'assistant', content } },
    stopReason: plan.stopReason,
    usage: usageOf(body, plan, model),
    metrics: { latencyMs: 42 },
  };
}

/** The ConverseStream events of a plan: [[eventType, payload], ...]. */
function streamEvents(body, plan, model) {
  const ev = [['messageStart', { role: 'assistant' }]];
  const blocks = [];
  if (plan.reasoning) blocks.push({ reasoning: plan.reasoning });
  blocks.push(...plan.content);
  blocks.forEach((b, i) => {
    if (b.reasoning) {
      for (const f of fragments(b.reasoning.text)) ev.push(['contentBlockDelta', { contentBlockIndex: i, delta: { reasoningContent: { text: f } } }]);
      ev.push(['contentBlockDelta', { contentBlockIndex: i, delta: { reasoningContent: { signature: b.reasoning.signature } } }]);
    } else if (b.text !== undefined) {
      for (const f of fragments(b.text)) ev.push(['contentBlockDelta', { contentBlockIndex: i, delta: { text: f } }]);
    } else {
      ev.push(['contentBlockStart', { contentBlockIndex: i, start: { toolUse: { toolUseId: b.toolUse.toolUseId, name: b.toolUse.name } } }]);
      const a = JSON.stringify(b.toolUse.input);
      const third = Math.ceil(a.length / 3);
      for (const p of [a.slice(0, third), a.slice(third, 2 * third), a.slice(2 * third)].filter((x) => x.length)) {
        ev.push(['contentBlockDelta', { contentBlockIndex: i, delta: { toolUse: { input: p } } }]);
      }
    }
    ev.push(['contentBlockStop', { contentBlockIndex: i }]);
  });
  ev.push(['messageStop', { stopReason: plan.stopReason }]);
  ev.push(['metadata', { usage: usageOf(body, plan, model), metrics: { latencyMs: 42 } }]);
  // Padding like the real service (ignored by readers).
  return ev.map(([t, p], k) => [t, k % 2 ? { ...p, p: 'abcdefghijklmnopqrstuvwxyzABCDEF'.slice(0, 4 + (k % 20)) } : p]);
}

// ----------------------------------------------------------------------------
// InvokeModel for embedding models (Titan text embeddings, Cohere Embed)

/** The family of an embedding model id (a fault suffix ":fault-500" etc. is ignored), or null. */
export function embedFamily(modelId) {
  const base = embedBase(modelId);
  if (/^amazon\.titan-embed-text-v1(:\d+)?$/.test(base)) return 'titan-v1';
  if (/^amazon\.titan-embed-text-v2(:\d+)?$/.test(base)) return 'titan-v2';
  if (/^cohere\.embed-/.test(base)) return 'cohere';
  return null;
}
/** The model id without an EMBED_FAULTS suffix. */
function embedBase(modelId) {
  const i = modelId.lastIndexOf(':');
  return i >= 0 && EMBED_FAULTS.includes(modelId.slice(i + 1)) ? modelId.slice(0, i) : modelId;
}
/** The EMBED_FAULTS entry an embedding model id asks for, or null. */
function embedFault(modelId) {
  const i = modelId.lastIndexOf(':');
  const f = i >= 0 ? modelId.slice(i + 1) : '';
  return EMBED_FAULTS.includes(f) ? f : null;
}
const malformed = (detail) => invalid(`Malformed input request: ${detail}, please reformat your input and try again.`);
const typeName = (v) => (Array.isArray(v) ? 'JSONArray' : v === null ? 'Null' : isObject(v) ? 'JSONObject'
  : typeof v === 'string' ? 'String' : typeof v === 'boolean' ? 'Boolean' : typeof v === 'number' ? 'Number' : typeof v);

function validateTitan(body, fam) {
  if (!isObject(body)) throw malformed('#: expected type: JSONObject');
  const allowed = fam === 'titan-v1' ? ['inputText'] : ['inputText', 'dimensions', 'normalize', 'embeddingTypes'];
  for (const k of Object.keys(body)) if (!allowed.includes(k)) throw malformed(`extraneous key [${k}] is not permitted`);
  if (body.inputText === undefined) throw malformed('#: required key [inputText] not found');
  if (typeof body.inputText !== 'string') throw malformed(`#/inputText: expected type: String, found: ${typeName(body.inputText)}`);
  if (!body.inputText.length) throw malformed('#/inputText: expected minLength: 1, actual: 0');
  if (body.inputText.length > TITAN_MAX_CHARS) throw malformed(`#/inputText: expected maxLength: ${TITAN_MAX_CHARS}, actual: ${body.inputText.length}`);
  if (body.dimensions !== undefined && ![256, 512, 1024].includes(body.dimensions)) throw malformed(`#/dimensions: ${JSON.stringify(body.dimensions)} is not a valid enum value`);
  if (body.normalize !== undefined && typeof body.normalize !== 'boolean') throw malformed(`#/normalize: expected type: Boolean, found: ${typeName(body.normalize)}`);
  if (body.embeddingTypes !== undefined) {
    if (!Array.isArray(body.embeddingTypes) || !body.embeddingTypes.length) throw malformed('#/embeddingTypes: expected minimum item count: 1');
    for (const t of body.embeddingTypes) if (t !== 'float' && t !== 'binary') throw malformed(`#/embeddingTypes: ${JSON.stringify(t)} is not a valid enum value`);
  }
  const tokens = countWords(body.inputText);
  if (tokens > TITAN_MAX_TOKENS) throw invalid(`400 Bad Request: Too many input tokens. Max input tokens: ${TITAN_MAX_TOKENS}, request input token count: ${tokens} `);
}

function validateCohere(body) {
  if (!isObject(body)) throw malformed('#: expected type: JSONObject');
  for (const k of Object.keys(body)) {
    if (!['texts', 'images', 'input_type', 'truncate', 'embedding_types'].includes(k)) throw malformed(`extraneous key [${k}] is not permitted`);
  }
  if (body.images !== undefined) throw malformed('#/images: the emulator embeds texts only');
  if (body.texts === undefined) throw malformed('#: required key [texts] not found');
  if (!Array.isArray(body.texts)) throw malformed(`#/texts: expected type: JSONArray, found: ${typeName(body.texts)}`);
  if (body.texts.length > COHERE_MAX_TEXTS) throw malformed(`#/texts: expected maximum item count: ${COHERE_MAX_TEXTS}, found: ${body.texts.length}`);
  body.texts.forEach((t, i) => {
    if (typeof t !== 'string') throw malformed(`#/texts/${i}: expected type: String, found: ${typeName(t)}`);
    if (t.length > COHERE_MAX_CHARS) throw malformed(`#/texts/${i}: expected maxLength: ${COHERE_MAX_CHARS}, actual: ${t.length}`);
  });
  if (body.input_type === undefined) throw malformed('#: required key [input_type] not found');
  if (!['search_document', 'search_query', 'classification', 'clustering'].includes(body.input_type)) {
    throw malformed(`#/input_type: ${JSON.stringify(body.input_type)} is not a valid enum value`);
  }
  if (body.truncate !== undefined && !['NONE', 'START', 'END'].includes(body.truncate)) {
    throw malformed(`#/truncate: ${JSON.stringify(body.truncate)} is not a valid enum value`);
  }
  if (body.embedding_types !== undefined) {
    if (!Array.isArray(body.embedding_types)) throw malformed('#/embedding_types: expected type: JSONArray');
    for (const t of body.embedding_types) if (t !== 'float') throw malformed(`#/embedding_types: the emulator serves float embeddings only, not ${JSON.stringify(t)}`);
  }
  if (body.truncate === 'NONE' || body.truncate === undefined) {
    body.texts.forEach((t, i) => {
      if (countWords(t) > COHERE_MAX_TOKENS) throw invalid(`Input is too long: texts[${i}] has ${countWords(t)} tokens, more than ${COHERE_MAX_TOKENS}, and truncate is NONE.`);
    });
  }
}

/**
 * The deterministic embedding of text: dims float32-exact values from
 * sha256(model, text), scaled to unit length when normalize is set.
 */
export function embedVector(text, dims, normalize = true, model = '') {
  const v = [];
  let block = Buffer.alloc(0);
  for (let i = 0, k = 0; i < dims; i++, k += 2) {
    if (k + 2 > block.length) {
      block = createHash('sha256').update(`${model}\0${text}\0${i}`).digest();
      k = 0;
    }
    v.push(block.readUInt16BE(k) / 32768 - 1);
  }
  const norm = normalize ? Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1 : 1;
  return v.map((x) => Math.fround(x / norm));
}

function embedAnswer(body, fam, model) {
  if (fam === 'cohere') {
    const dims = /light/.test(model) ? 384 : 1024;
    return {
      embeddings: body.texts.map((t) => embedVector(t, dims, true, model)),
      id: randomUUIDish(),
      response_type: 'embeddings_floats',
      texts: body.texts,
    };
  }
  const dims = fam === 'titan-v1' ? 1536 : body.dimensions || 1024;
  const embedding = embedVector(body.inputText, dims, fam === 'titan-v1' ? false : body.normalize !== false, model);
  const out = { embedding, inputTextTokenCount: countWords(body.inputText) };
  if (body.embeddingTypes) {
    out.embeddingsByType = {};
    if (body.embeddingTypes.includes('float')) out.embeddingsByType.float = embedding;
    if (body.embeddingTypes.includes('binary')) out.embeddingsByType.binary = embedding.map((x) => (x > 0 ? 1 : 0));
  }
  return out;
}

/** The error a fault model answers with, or null. */
function faultError(name) {
  switch (name) {
    case 'fault-400': return invalid('Malformed input request: emulated upstream rejection, please reformat your input and try again.');
    case 'fault-401': return denied('UnrecognizedClientException', 'The security token included in the request is invalid.');
    case 'fault-403': return denied('AccessDeniedException', "You don't have access to the model with the specified model ID.");
    case 'fault-404': return new ApiError(404, 'ResourceNotFoundException', 'Could not resolve the foundation model from the provided model identifier.');
    case 'fault-408': return new ApiError(408, 'ModelTimeoutException', 'Model has timed out in processing the request. Try your request again.');
    case 'fault-424': return new ApiError(424, 'ModelErrorException', 'The model returned an error: emulated.');
    case 'fault-429': return new ApiError(429, 'ThrottlingException', 'Too many requests, please wait before trying again.', { 'retry-after': '7' });
    case 'fault-500': return new ApiError(500, 'InternalServerException', 'The server encountered an internal error while processing the request.');
    case 'fault-503': return new ApiError(503, 'ServiceUnavailableException', 'The service is temporarily unable to handle the request.');
  }
  return null;
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
 * opts: {port=0, host='127.0.0.1', region='us-east-1', accessKey, secretKey
 *        (both required), sessionToken (required x-amz-security-token when
 *        set), bearerKey (also accept Authorization: Bearer), models=
 *        DEFAULT_MODELS, chunkDelayMs=0, quiet=true}
 */
export async function startBedrockEmulator(opts = {}) {
  const host = opts.host || '127.0.0.1';
  const auth = {
    region: opts.region || 'us-east-1', accessKey: opts.accessKey, secretKey: opts.secretKey,
    sessionToken: opts.sessionToken || null, bearerKey: opts.bearerKey || null,
  };
  if (!auth.accessKey || !auth.secretKey) throw new Error('bedrock emulator: accessKey and secretKey are required');
  const known = new Set([...(opts.models || DEFAULT_MODELS), ...EMBED_MODELS, ...BEHAVIOUR_MODELS, ...FAULT_MODELS]);
  const stats = {
    requests: [], // {method, path, rawPath, modelId, operation, headers, rawBody, body, status}
    streams: [], // {model, state, events: [{event, data}]}
    streamsStarted: 0,
    streamsCompleted: 0,
    streamsCut: 0,
  };
  const cleanups = new Set();

  function sendError(res, err, record) {
    record.status = err.status;
    record.errorType = err.type;
    res.writeHead(err.status, {
      'content-type': 'application/json',
      'x-amzn-errortype': `${err.type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
      'x-amzn-requestid': randomUUIDish(),
      ...err.headers,
    });
    res.end(JSON.stringify({ message: err.message }));
  }

  function openStream(res, model) {
    res.writeHead(200, {
      'content-type': 'application/vnd.amazon.eventstream',
      'x-amzn-requestid': randomUUIDish(),
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
      async event(type, obj) {
        st.events.push({ event: type, data: obj });
        return w.raw(eventFrame(type, obj));
      },
      async exception(type, obj) {
        st.events.push({ event: type, data: obj, exception: true });
        return w.raw(exceptionFrame(type, obj));
      },
      async raw(buf) {
        if (gone) return;
        if (model === 'split-frames') {
          for (let i = 0; i < buf.length && !gone; i += 5) {
            if (!res.write(buf.subarray(i, i + 5))) await new Promise((r) => res.once('drain', r));
            await new Promise((r) => setImmediate(r));
          }
        } else if (!res.write(buf)) {
          await new Promise((r) => res.once('drain', r));
        }
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

  async function handleConverse(req, res, record, stream) {
    const model = record.modelId;
    const body = record.body;
    if (!known.has(model)) throw invalid('The provided model identifier is invalid.');
    if (embedFamily(model)) throw invalid("This action doesn't support the model that you provided. Try again with a supported text or chat model.");
    if (!/^application\/json/i.test(req.headers['content-type'] || '')) throw new ApiError(415, 'UnsupportedMediaTypeException', 'Unsupported Media Type');
    if (body === null) throw new ApiError(400, 'SerializationException', 'Could not parse the request body as JSON.');
    validateRequest(body, model);
    const fault = faultError(model);
    if (fault) throw fault;
    const plan = planAnswer(body, model);

    if (!stream) {
      if (model === 'stall') {
        await new Promise((resolve) => { res.once('close', resolve); cleanups.add(resolve); });
        return;
      }
      if (model === 'malformed-chunk' || model === 'error-mid-stream' || model === 'reset-mid-stream') {
        record.status = 200;
        const text = JSON.stringify(converseBody(body, plan, model)).slice(0, 40);
        res.writeHead(200, { 'content-type': 'application/json' });
        if (model === 'reset-mid-stream') {
          res.write(text, () => setTimeout(() => res.socket && res.socket.destroy(), 20));
          return;
        }
        res.end(text);
        return;
      }
      record.status = 200;
      res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': randomUUIDish() });
      res.end(JSON.stringify(converseBody(body, plan, model)));
      return;
    }

    record.status = 200;
    const w = openStream(res, model);
    const events = streamEvents(body, plan, model);
    if (model === 'stall') {
      await w.event(...events[0]);
      await new Promise((resolve) => { res.once('close', resolve); cleanups.add(resolve); });
      return;
    }
    if (model === 'slow-stream') {
      await w.event(...events[0]);
      for (let i = 0; i < SLOW_CHUNKS && !w.gone; i++) {
        await sleep(SLOW_INTERVAL_MS);
        await w.event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: `${i ? ' ' : ''}s${i + 1}` } });
      }
      await w.event('contentBlockStop', { contentBlockIndex: 0 });
      await w.event('messageStop', { stopReason: 'end_turn' });
      await w.event('metadata', { usage: { inputTokens: 1, outputTokens: SLOW_CHUNKS, totalTokens: SLOW_CHUNKS + 1 }, metrics: { latencyMs: 1 } });
      return w.end();
    }
    if (model === 'reset-mid-stream' || model === 'error-mid-stream' || model === 'malformed-chunk') {
      const head = [];
      let deltas = 0;
      for (const e of events) {
        if (e[0] === 'contentBlockDelta' && deltas++ >= MID_STREAM_DELTAS) break;
        head.push(e);
      }
      for (const e of head) await w.event(...e);
      if (model === 'reset-mid-stream') {
        await sleep(50);
        w.st.state = 'reset';
        res.socket.destroy();
        return;
      }
      if (model === 'error-mid-stream') {
        await w.exception('throttlingException', { message: 'Too many requests, please wait before trying again.' });
        return w.end('errored');
      }
      const bad = eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: ' bad' } });
      bad[bad.length - 1] ^= 0xff;
      w.st.events.push({ event: 'contentBlockDelta', data: 'malformed' });
      await w.raw(bad);
      for (const e of events.slice(head.length)) await w.event(...e);
      return w.end();
    }
    for (const e of events) await w.event(...e);
    return w.end();
  }

  async function handleInvoke(req, res, record) {
    const model = record.modelId;
    const body = record.body;
    if (!known.has(embedBase(model))) throw invalid('The provided model identifier is invalid.');
    if (!/^application\/json/i.test(req.headers['content-type'] || '')) throw new ApiError(415, 'UnsupportedMediaTypeException', 'Unsupported Media Type');
    const accept = req.headers.accept;
    if (accept !== undefined && !/^(application\/json|\*\/\*)/i.test(accept)) {
      throw invalid(`The requested accept type ${accept} is not supported by the model.`);
    }
    if (body === null) throw malformed('#: the body is not valid JSON');
    const fam = embedFamily(model);
    // Chat models' native InvokeModel bodies are not emulated (Converse is).
    if (!fam) throw malformed('#: the emulator serves InvokeModel for embedding models only');
    if (fam === 'cohere') validateCohere(body);
    else validateTitan(body, fam);
    record.family = fam;
    const fault = embedFault(model);
    const err = fault && faultError(fault);
    if (err) throw err;
    const answer = JSON.stringify(embedAnswer(body, fam, embedBase(model)));
    if (fault === 'stall') {
      await new Promise((resolve) => { res.once('close', resolve); cleanups.add(resolve); });
      return;
    }
    record.status = 200;
    // As the real InvokeModel: the token counts travel in response headers
    // (Cohere's body has none; Titan's repeats the input count).
    const inputTokens = fam === 'cohere' ? body.texts.reduce((n, t) => n + countWords(t), 0) : countWords(body.inputText);
    res.writeHead(200, {
      'content-type': 'application/json', 'x-amzn-requestid': randomUUIDish(),
      'x-amzn-bedrock-invocation-latency': '12', 'x-amzn-bedrock-input-token-count': String(inputTokens),
    });
    if (fault === 'reset-mid-stream') {
      res.write(answer.slice(0, 40), () => setTimeout(() => res.socket && res.socket.destroy(), 20));
      return;
    }
    res.end(fault === 'malformed-chunk' ? answer.slice(0, 40) : answer);
  }

  async function handle(req, res) {
    const qAt = req.url.indexOf('?');
    const rawPath = qAt < 0 ? req.url : req.url.slice(0, qAt);
    const search = qAt < 0 ? '' : req.url.slice(qAt);
    const raw = await readBody(req);
    const record = {
      method: req.method, path: rawPath, rawPath, query: search, headers: { ...req.headers },
      rawBody: raw.toString('utf8'), body: null, status: null, modelId: null, operation: null, time: Date.now(),
    };
    try { record.body = JSON.parse(record.rawBody); } catch { /* not JSON */ }
    stats.requests.push(record);
    try {
      const m = /^\/model\/([^/]+)\/(converse|converse-stream|invoke)$/.exec(rawPath);
      if (!m || req.method !== 'POST') {
        verifySigV4(req, rawPath, search, raw, auth);
        throw new ApiError(404, 'UnknownOperationException', 'UnknownOperationException');
      }
      try { record.modelId = decodeURIComponent(m[1]); } catch { record.modelId = m[1]; }
      record.operation = m[2];
      verifySigV4(req, rawPath, search, raw, auth);
      if (m[2] === 'invoke') return await handleInvoke(req, res, record);
      return await handleConverse(req, res, record, m[2] === 'converse-stream');
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (res.headersSent) return res.destroy();
      return sendError(res, err, record);
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!opts.quiet) console.error('bedrock emulator: internal error', err);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json', 'x-amzn-errortype': 'InternalServerException' });
        res.end(JSON.stringify({ message: `emulator bug: ${err.message}` }));
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
    converseRequests() { return stats.requests.filter((r) => r.operation && r.operation !== 'invoke'); },
    invokeRequests() { return stats.requests.filter((r) => r.operation === 'invoke'); },
    lastInvoke() { const r = emu.invokeRequests(); return r[r.length - 1]; },
    lastRequest() { const r = emu.converseRequests(); return r[r.length - 1]; },
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

function randomUUIDish() {
  const h = hex(32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ----------------------------------------------------------------------------
// CLI

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = { port: 8005 };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') args.port = Number(argv[++i]);
    else if (a === '--host') args.host = argv[++i];
    else if (a === '--region') args.region = argv[++i];
    else if (a === '--access-key') args.accessKey = argv[++i];
    else if (a === '--secret-key') args.secretKey = argv[++i];
    else if (a === '--session-token') args.sessionToken = argv[++i];
    else if (a === '--models') args.models = argv[++i].split(',').filter(Boolean);
    else {
      console.error(`bedrock emulator: unknown argument ${a}\nusage: node bedrock.mjs [--port P] [--host H] --access-key AK --secret-key SK [--region R] [--session-token T] [--models a,b]`);
      process.exit(2);
    }
  }
  const emu = await startBedrockEmulator({ ...args, quiet: false });
  console.log(`bedrock emulator listening on ${emu.url}`);
  const stop = async () => { await emu.close(); process.exit(0); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
