// A strict, deterministic emulator of Google's Gemini API (Generative
// Language API v1beta, the provider's public API reference), for
// Switchboard's tests.
//
// Library:  const emu = await startGeminiEmulator({apiKey: 'AIza...'});
//           emu.url -> 'http://127.0.0.1:PORT/v1beta'; emu.stats;
//           emu.requests; emu.lastRequest(); await emu.close();
// CLI:      node tests/emulators/gemini.mjs --port 8001 --api-key KEY
//
// Endpoints: GET /v1beta/models, GET /v1beta/models/{m},
//   POST /v1beta/models/{m}:generateContent,
//   POST /v1beta/models/{m}:countTokens ({contents} or
//   {generateContentRequest: {model, contents, ...}}, not both; answers
//   {totalTokens, promptTokensDetails}, totalTokens being the
//   promptTokenCount generateContent reports for that prompt: a word a
//   token), POST /v1beta/models/{m}:embedContent, POST /v1beta/models/{m}:batchEmbedContents
//   (embedding models only; see Embeddings below),
//   POST /v1beta/models/{m}:streamGenerateContent?alt=sse (SSE: every event
//   is "data: <GenerateContentResponse>\r\n\r\n", no event names, no
//   sentinel; text arrives two words per chunk, each functionCall whole in
//   its own chunk, finishReason and the full usageMetadata on the last
//   chunk; every chunk carries usageMetadata, modelVersion, responseId).
//   Without alt=sse the stream is one JSON array.
//
// Auth: x-goog-api-key header or ?key=. Missing key: 403 PERMISSION_DENIED;
//   wrong key: 400 INVALID_ARGUMENT with details[].reason API_KEY_INVALID
//   (as the real API).
//
// Strictness (each as the real API answers, 400 INVALID_ARGUMENT): body not
//   JSON; unknown fields ("Unknown name"); contents missing or empty;
//   roles other than user/model; empty parts; a part with no or two data
//   fields; functionCall.args / functionResponse.response not objects; a
//   function-response turn that does not follow a function-call turn, or
//   whose number of parts differs; a function-call turn that does not
//   follow a user or function-response turn; allowedFunctionNames outside
//   mode ANY/VALIDATED or naming an undeclared function; both parameters
//   and parametersJsonSchema; "additionalProperties" inside `parameters`
//   (the OpenAPI subset); responseJsonSchema without a JSON mime type.
//   Thought signatures: models whose name starts with "gemini-3" put a
//   thoughtSignature on the first functionCall part of each answer and,
//   like Gemini 3, reject a request whose current turn (the model turns
//   after the last user text) has a first functionCall part without a
//   signature ("Function call is missing a thought_signature") or with
//   one it never issued.
//
// Answers: "You said: <text of the last user turn with text>"; when the
//   last turn holds function responses and no text: "Tool results:
//   name=<JSON response>; ...".
//   Tool calls: with tools and functionCallingConfig.mode ANY (the named
//   allowedFunctionNames, else the first two declarations: parallel calls),
//   or with mode AUTO/unset when the last user text contains "[tools]";
//   never right after function responses. Arguments: every property of the
//   declared schema gets a value (strings: the last user text).
//   includeThoughts: a thought part "Thinking about: <text>" first.
//   responseMimeType application/json: a JSON object following
//   responseJsonSchema, else {"answer": ...}. maxOutputTokens cuts words
//   (finishReason MAX_TOKENS); stopSequences cut the text; candidateCount
//   gives that many candidates. A token is a whitespace-separated word.
//
// Embeddings: batchEmbedContents takes
//   {"requests":[EmbedContentRequest, ...]} (1 to 100 of them; each with
//   model "models/<path model>" (required, must repeat the path's),
//   content {parts: [{text}, ...]} with text parts only, optional taskType
//   (the nine enum values), title (only with RETRIEVAL_DOCUMENT),
//   outputDimensionality (1 to the model's size)) and answers
//   {"embeddings":[{"values":[...]}, ...]} in order, without usage;
//   embedContent takes one request's fields and answers
//   {"embedding":{"values":[...]}}. Unknown fields, a wrong or missing
//   model, empty parts, a bad taskType or dimensionality: 400
//   INVALID_ARGUMENT. Vectors are deterministic per text (and size):
//   values k/256 for k in -128..127 from SHA-256 of the text, exact in
//   float32. Embedding models: gemini-embedding-001 (3072),
//   text-embedding-004 (768); generateContent on them and the embed
//   methods on chat models are 404 "not supported for <method>", as the
//   real API; the fault-* models fail the embed methods the same way.
//
// Models by name: gemini-2.5-flash, gemini-2.5-pro, gemini-3-pro-preview
//   (signatures), finish-safety (SAFETY after "You"), finish-recitation,
//   finish-other, prompt-blocked (200, promptFeedback.blockReason, no
//   candidates), implicit-cache (as if the first half of the prompt had
//   been seen before: Gemini 2.5's implicit caching reports it as
//   usageMetadata.cachedContentTokenCount = floor(promptTokenCount / 2),
//   within promptTokenCount, with cacheTokensDetails), and faults: fault-400, fault-401 (401 UNAUTHENTICATED),
//   fault-403, fault-429 (RESOURCE_EXHAUSTED, RetryInfo 7s), fault-500,
//   fault-503 (UNAVAILABLE), fault-504, stall, reset-mid-stream,
//   error-mid-stream (a chunk with a top-level error), malformed-chunk,
//   slow-stream.
//
// No dependencies beyond node:*.

import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

export const DEFAULT_MODELS = ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-3-pro-preview'];
/** Embedding models and their native vector size. */
export const EMBEDDING_MODELS = { 'gemini-embedding-001': 3072, 'text-embedding-004': 768 };
export const EMBED_MAX_BATCH = 100;
export const TASK_TYPES = ['TASK_TYPE_UNSPECIFIED', 'RETRIEVAL_QUERY', 'RETRIEVAL_DOCUMENT', 'SEMANTIC_SIMILARITY',
  'CLASSIFICATION', 'CLUSTERING', 'QUESTION_ANSWERING', 'FACT_VERIFICATION', 'CODE_RETRIEVAL_QUERY'];
export const SPECIAL_MODELS = ['finish-safety', 'finish-recitation', 'finish-other', 'prompt-blocked', 'implicit-cache'];
export const FAULT_MODELS = [
  'fault-400', 'fault-401', 'fault-403', 'fault-429', 'fault-500', 'fault-503', 'fault-504',
  'stall', 'reset-mid-stream', 'error-mid-stream', 'malformed-chunk', 'slow-stream',
];
export const SLOW_CHUNKS = 20;
export const SLOW_INTERVAL_MS = 100;
export const MID_STREAM_CHUNKS = 2;

const STATUS_NAMES = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
};

export class GeminiError extends Error {
  constructor(code, message, details, status) {
    super(message);
    this.code = code;
    this.status = status || STATUS_NAMES[code] || 'UNKNOWN';
    this.details = details;
  }
  body() {
    const e = { code: this.code, message: this.message, status: this.status };
    if (this.details) e.details = this.details;
    return { error: e };
  }
}

const invalid = (message, details) => new GeminiError(400, message, details);
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const camel = (k) => k.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

function unknownName(key, where) {
  return invalid(`Invalid JSON payload received. Unknown name "${key}"${where ? ` at '${where}'` : ''}: Cannot find field.`,
    [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: where || '', description: `Invalid JSON payload received. Unknown name "${key}"${where ? ` at '${where}'` : ''}: Cannot find field.` }] }]);
}

/** proto3-JSON style: accept lowerCamelCase and snake_case, refuse the rest. */
function checkKeys(obj, allowed, where) {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(camel(k))) throw unknownName(k, where);
  }
}
const pick = (obj, k) => (obj[k] !== undefined ? obj[k] : obj[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)]);

const REQUEST_FIELDS = ['model', 'contents', 'systemInstruction', 'tools', 'toolConfig', 'safetySettings', 'generationConfig', 'cachedContent', 'labels'];
const GEN_FIELDS = ['stopSequences', 'responseMimeType', 'responseSchema', 'responseJsonSchema', 'responseModalities', 'candidateCount',
  'maxOutputTokens', 'temperature', 'topP', 'topK', 'seed', 'presencePenalty', 'frequencyPenalty', 'responseLogprobs', 'logprobs',
  'enableEnhancedCivicAnswers', 'speechConfig', 'thinkingConfig', 'imageConfig', 'mediaResolution'];
const PART_DATA = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'executableCode', 'codeExecutionResult'];
const PART_META = ['thought', 'thoughtSignature', 'videoMetadata', 'partMetadata', 'mediaResolution'];

function checkNumber(v, where, { int = false, min, max } = {}) {
  if (typeof v !== 'number' || (int && !Number.isInteger(v))) {
    throw invalid(`Invalid value at '${where}' (${int ? 'TYPE_INT32' : 'TYPE_FLOAT'}), ${JSON.stringify(v)}`);
  }
  if ((min !== undefined && v < min) || (max !== undefined && v > max)) {
    throw invalid(`* GenerateContentRequest.${where}: ${where.split('.').pop()} must be in the range [${min}, ${max}]\n`);
  }
}

function validateParts(parts, where, msg = 'GenerateContentRequest') {
  if (!Array.isArray(parts) || parts.length === 0) {
    throw invalid(`* ${msg}.${where}: contents.parts must not be empty.\n`);
  }
  parts.forEach((p, j) => {
    const w = `${where}[${j}]`;
    if (!isObject(p)) throw invalid(`Invalid value at '${w}', expected an object`);
    checkKeys(p, [...PART_DATA, ...PART_META], w);
    const data = Object.keys(p).map(camel).filter((k) => PART_DATA.includes(k));
    if (data.length === 0) throw invalid(`* ${msg}.${w}.data: required oneof field 'data' must have one initialized field\n`);
    if (data.length > 1) throw invalid(`Invalid JSON payload received. Oneof field 'data' is already set. Cannot set '${data[1]}'`);
    if (p.text !== undefined && typeof p.text !== 'string') throw invalid(`Invalid value at '${w}.text' (TYPE_STRING), ${JSON.stringify(p.text)}`);
    const inl = pick(p, 'inlineData');
    if (inl !== undefined) {
      if (!isObject(inl) || typeof pick(inl, 'mimeType') !== 'string' || typeof inl.data !== 'string') {
        throw invalid(`* GenerateContentRequest.${w}.inline_data: mime_type and data are required\n`);
      }
      if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(inl.data)) throw invalid(`Invalid value at '${w}.inline_data.data' (TYPE_BYTES), Base64 decoding failed for "${inl.data.slice(0, 20)}"`);
    }
    const fc = pick(p, 'functionCall');
    if (fc !== undefined) {
      if (!isObject(fc) || typeof fc.name !== 'string' || !fc.name) throw invalid(`* GenerateContentRequest.${w}.function_call.name: Name cannot be empty.\n`);
      if (fc.args !== undefined && !isObject(fc.args)) throw invalid(`Invalid value at '${w}.function_call.args' (type.googleapis.com/google.protobuf.Struct), ${JSON.stringify(fc.args)}`);
    }
    const fr = pick(p, 'functionResponse');
    if (fr !== undefined) {
      if (!isObject(fr) || typeof fr.name !== 'string' || !fr.name) throw invalid(`* GenerateContentRequest.${w}.function_response.name: Name cannot be empty.\n`);
      if (!isObject(fr.response)) throw invalid(`Invalid value at '${w}.function_response.response' (type.googleapis.com/google.protobuf.Struct), ${JSON.stringify(fr.response)}`);
    }
    const sig = pick(p, 'thoughtSignature');
    if (sig !== undefined && (typeof sig !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(sig))) {
      throw invalid(`Invalid value at '${w}.thought_signature' (TYPE_BYTES), Base64 decoding failed for "${String(sig).slice(0, 20)}"`);
    }
  });
}

const kindOf = (c) => {
  const parts = c.parts || [];
  if (parts.some((p) => pick(p, 'functionResponse'))) return 'fresponse';
  if (parts.some((p) => pick(p, 'functionCall'))) return 'fcall';
  return 'text';
};

function validateContents(contents) {
  if (contents === undefined || (Array.isArray(contents) && contents.length === 0)) {
    throw invalid('* GenerateContentRequest.contents: contents is not specified\n');
  }
  if (!Array.isArray(contents)) throw invalid(`Invalid value at 'contents', expected an array`);
  contents.forEach((c, i) => {
    const w = `contents[${i}]`;
    if (!isObject(c)) throw invalid(`Invalid value at '${w}', expected an object`);
    checkKeys(c, ['role', 'parts'], w);
    if (c.role !== undefined && c.role !== 'user' && c.role !== 'model') {
      throw invalid(`Please use a valid role: user, model.`);
    }
    if (c.role === undefined && contents.length > 1) throw invalid('Please use a valid role: user, model.');
    validateParts(c.parts, `${w}.parts`);
  });
  contents.forEach((c, i) => {
    const k = kindOf(c);
    const prev = i > 0 ? contents[i - 1] : null;
    if (k === 'fresponse') {
      if (c.role !== 'user') throw invalid('Please use a valid role: user, model.');
      if (!prev || prev.role !== 'model' || kindOf(prev) !== 'fcall') {
        throw invalid('Please ensure that function response turn comes immediately after a function call turn.');
      }
      const calls = prev.parts.filter((p) => pick(p, 'functionCall')).length;
      const resps = c.parts.filter((p) => pick(p, 'functionResponse')).length;
      if (calls !== resps) {
        throw invalid('Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.');
      }
    }
    if (k === 'fcall') {
      if (c.role !== 'model') throw invalid('Please use a valid role: user, model.');
      if (!prev || prev.role !== 'user') {
        throw invalid('Please ensure that function call turn comes immediately after a user turn or after a function response turn.');
      }
    }
  });
}

function validateSchemaSubset(s, where) {
  if (!isObject(s)) return;
  for (const [k, v] of Object.entries(s)) {
    if (['additionalProperties', '$schema', '$ref', '$defs', 'oneOf', 'allOf', 'const'].includes(k)) throw unknownName(k, where);
    if (k === 'properties' && isObject(v)) for (const [pk, pv] of Object.entries(v)) validateSchemaSubset(pv, `${where}.properties[${pk}]`);
    if (k === 'items') validateSchemaSubset(v, `${where}.items`);
  }
}

function validateTools(tools, toolConfig) {
  const names = [];
  if (tools !== undefined) {
    if (!Array.isArray(tools)) throw invalid(`Invalid value at 'tools', expected an array`);
    tools.forEach((t, i) => {
      const w = `tools[${i}]`;
      checkKeys(t, ['functionDeclarations', 'googleSearch', 'googleSearchRetrieval', 'codeExecution', 'urlContext', 'fileSearch', 'googleMaps', 'computerUse'], w);
      const decls = pick(t, 'functionDeclarations');
      if (decls === undefined) return;
      if (!Array.isArray(decls)) throw invalid(`Invalid value at '${w}.function_declarations', expected an array`);
      decls.forEach((d, j) => {
        const dw = `${w}.function_declarations[${j}]`;
        checkKeys(d, ['name', 'description', 'behavior', 'parameters', 'parametersJsonSchema', 'response', 'responseJsonSchema'], dw);
        if (typeof d.name !== 'string' || !/^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$/.test(d.name)) {
          throw invalid(`* GenerateContentRequest.${dw}.name: Invalid function name. Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:) or dashes (-), with a maximum length of 64.\n`);
        }
        if (d.parameters !== undefined && pick(d, 'parametersJsonSchema') !== undefined) {
          throw invalid(`* GenerateContentRequest.${dw}: parameters and parameters_json_schema cannot both be set.\n`);
        }
        if (d.parameters !== undefined) validateSchemaSubset(d.parameters, `${dw}.parameters`);
        names.push(d.name);
      });
    });
  }
  if (toolConfig !== undefined) {
    checkKeys(toolConfig, ['functionCallingConfig', 'retrievalConfig'], 'tool_config');
    const fcc = pick(toolConfig, 'functionCallingConfig');
    if (fcc !== undefined) {
      checkKeys(fcc, ['mode', 'allowedFunctionNames'], 'tool_config.function_calling_config');
      const mode = fcc.mode || 'MODE_UNSPECIFIED';
      if (!['MODE_UNSPECIFIED', 'AUTO', 'ANY', 'NONE', 'VALIDATED'].includes(mode)) {
        throw invalid(`Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), "${mode}"`);
      }
      const allowed = pick(fcc, 'allowedFunctionNames');
      if (allowed !== undefined) {
        if (mode !== 'ANY' && mode !== 'VALIDATED') {
          throw invalid('* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: only allowed when mode is ANY or VALIDATED.\n');
        }
        for (const n of allowed) {
          if (!names.includes(n)) throw invalid(`* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: Function "${n}" is not declared.\n`);
        }
      }
    }
  }
  return names;
}

function validateGeneration(gc) {
  if (gc === undefined) return;
  if (!isObject(gc)) throw invalid(`Invalid value at 'generation_config', expected an object`);
  checkKeys(gc, GEN_FIELDS, 'generation_config');
  const g = (k) => pick(gc, k);
  if (g('temperature') !== undefined) checkNumber(g('temperature'), 'generation_config.temperature', { min: 0, max: 2 });
  if (g('topP') !== undefined) checkNumber(g('topP'), 'generation_config.top_p', { min: 0, max: 1 });
  if (g('topK') !== undefined) checkNumber(g('topK'), 'generation_config.top_k', { int: true, min: 1, max: 1000 });
  if (g('candidateCount') !== undefined) checkNumber(g('candidateCount'), 'generation_config.candidate_count', { int: true, min: 1, max: 8 });
  if (g('maxOutputTokens') !== undefined) checkNumber(g('maxOutputTokens'), 'generation_config.max_output_tokens', { int: true, min: 1, max: 65536 });
  if (g('seed') !== undefined) checkNumber(g('seed'), 'generation_config.seed', { int: true });
  if (g('presencePenalty') !== undefined) checkNumber(g('presencePenalty'), 'generation_config.presence_penalty', { min: -2, max: 2 });
  if (g('frequencyPenalty') !== undefined) checkNumber(g('frequencyPenalty'), 'generation_config.frequency_penalty', { min: -2, max: 2 });
  const stops = g('stopSequences');
  if (stops !== undefined && (!Array.isArray(stops) || stops.length > 5 || stops.some((s) => typeof s !== 'string'))) {
    throw invalid('* GenerateContentRequest.generation_config.stop_sequences: at most 5 strings\n');
  }
  const mime = g('responseMimeType');
  if (mime !== undefined && !['text/plain', 'application/json', 'text/x.enum'].includes(mime)) {
    throw invalid(`* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are \`text/plain\`, \`application/json\`, and \`text/x.enum\`.\n`);
  }
  if ((g('responseJsonSchema') !== undefined || g('responseSchema') !== undefined) && mime !== 'application/json' && mime !== 'text/x.enum') {
    throw invalid('* GenerateContentRequest.generation_config.response_mime_type: response_mime_type must be one of [\'application/json\', \'text/x.enum\'] when response_schema is set.\n');
  }
  if (g('responseJsonSchema') !== undefined && g('responseSchema') !== undefined) {
    throw invalid('* GenerateContentRequest.generation_config: response_schema and response_json_schema cannot both be set.\n');
  }
  if (g('responseSchema') !== undefined) validateSchemaSubset(g('responseSchema'), 'generation_config.response_schema');
  const tc = g('thinkingConfig');
  if (tc !== undefined) {
    checkKeys(tc, ['thinkingBudget', 'includeThoughts', 'thinkingLevel'], 'generation_config.thinking_config');
    if (pick(tc, 'thinkingBudget') !== undefined) checkNumber(pick(tc, 'thinkingBudget'), 'generation_config.thinking_config.thinking_budget', { int: true, min: -1, max: 32768 });
  }
}

// ----------------------------------------------------------------------------
// Deterministic answers

export const countWords = (s) => s.split(/\s+/).filter(Boolean).length;
const fragments = (s) => s.match(/\s*\S+|\s+$/g) || [];
const textOfParts = (parts) => (parts || []).filter((p) => typeof p.text === 'string' && !p.thought).map((p) => p.text).join(' ');

function promptTokens(body) {
  let n = 0;
  for (const c of body.contents) {
    for (const p of c.parts) {
      if (typeof p.text === 'string') n += countWords(p.text);
      else n += countWords(JSON.stringify(p).replace(/[{}[\]",:]/g, ' '));
    }
  }
  const si = pick(body, 'systemInstruction');
  if (si && Array.isArray(si.parts)) n += countWords(textOfParts(si.parts));
  return n;
}

function exampleValue(schema, text) {
  if (!isObject(schema)) return null;
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  switch (String(schema.type).toLowerCase()) {
    case 'string': return text;
    case 'integer': case 'number': return 1;
    case 'boolean': return true;
    case 'array': return [];
    case 'object': {
      const o = {};
      for (const [k, s] of Object.entries(schema.properties || {})) o[k] = exampleValue(s, text);
      return o;
    }
    default: return null;
  }
}

function plan(body, model, signatures, issue) {
  const contents = body.contents;
  const last = contents[contents.length - 1];
  const gc = pick(body, 'generationConfig') || {};
  const g = (k) => pick(gc, k);
  const hasText = (c) => c.parts.some((p) => typeof p.text === 'string' && !p.thought);
  const afterTools = kindOf(last) === 'fresponse' && !hasText(last);
  let userText = '';
  for (let i = contents.length - 1; i >= 0; i--) {
    if (contents[i].role !== 'model' && hasText(contents[i])) { userText = textOfParts(contents[i].parts); break; }
  }
  const decls = [];
  for (const t of body.tools || []) for (const d of pick(t, 'functionDeclarations') || []) decls.push(d);
  const fcc = pick(pick(body, 'toolConfig') || {}, 'functionCallingConfig') || {};
  const mode = fcc.mode || 'AUTO';
  let calls = [];
  if (decls.length && !afterTools && mode !== 'NONE') {
    const allowed = pick(fcc, 'allowedFunctionNames');
    if (mode === 'ANY') calls = allowed ? decls.filter((d) => allowed.includes(d.name)) : decls.slice(0, 2);
    else if (/\[tools\]/.test(last.role === 'user' ? textOfParts(last.parts) : '')) calls = decls.slice(0, 2);
  }
  const thoughts = !!(g('thinkingConfig') && pick(g('thinkingConfig'), 'includeThoughts'));
  const thoughtText = thoughts ? `Thinking about: ${userText}` : null;
  const ptok = promptTokens(body);
  if (calls.length) {
    const parts = calls.map((d, k) => {
      const schema = pick(d, 'parametersJsonSchema') || d.parameters;
      const p = { functionCall: { name: d.name, args: exampleValue({ type: 'object', ...(schema || {}) }, userText) || {} } };
      if (signatures && k === 0) p.thoughtSignature = issue(d.name);
      return p;
    });
    const comp = parts.reduce((a, p) => a + countWords(JSON.stringify(p.functionCall.args)) + 1, 0);
    return { calls: parts, thoughtText, finish: 'STOP', n: 1, ptok, comp, thoughtsTok: thoughtText ? countWords(thoughtText) : 0 };
  }
  let text;
  if (afterTools) {
    text = 'Tool results: ' + last.parts.filter((p) => pick(p, 'functionResponse'))
      .map((p) => { const fr = pick(p, 'functionResponse'); return `${fr.name}=${JSON.stringify(fr.response)}`; }).join('; ');
  } else {
    text = `You said: ${userText}`;
  }
  if (g('responseMimeType') === 'application/json') {
    const schema = g('responseJsonSchema') || g('responseSchema');
    text = JSON.stringify(schema ? exampleValue({ type: 'object', ...schema }, text) : { answer: text });
  }
  let frags = fragments(text);
  let finish = 'STOP';
  if (model === 'finish-safety') { frags = frags.slice(0, 1); finish = 'SAFETY'; }
  if (model === 'finish-recitation') { frags = frags.slice(0, 2); finish = 'RECITATION'; }
  if (model === 'finish-other') finish = 'OTHER';
  const max = g('maxOutputTokens');
  if (max && frags.length > max) { frags = frags.slice(0, max); finish = 'MAX_TOKENS'; }
  const stops = g('stopSequences');
  if (stops) {
    const joined = frags.join('');
    let cut = -1;
    for (const s of stops) { const i = s ? joined.indexOf(s) : -1; if (i >= 0 && (cut < 0 || i < cut)) cut = i; }
    if (cut >= 0) frags = fragments(joined.slice(0, cut));
  }
  return { frags, text: frags.join(''), thoughtText, finish, n: g('candidateCount') || 1, ptok, comp: frags.length, thoughtsTok: thoughtText ? countWords(thoughtText) : 0 };
}

function usageOf(p, done) {
  const u = { promptTokenCount: p.ptok };
  if (p.cached) u.cachedContentTokenCount = p.cached;
  if (done) {
    u.candidatesTokenCount = p.comp * p.n;
    if (p.thoughtsTok) u.thoughtsTokenCount = p.thoughtsTok;
  }
  u.totalTokenCount = p.ptok + (done ? p.comp * p.n + p.thoughtsTok : 0);
  u.promptTokensDetails = [{ modality: 'TEXT', tokenCount: p.ptok }];
  if (p.cached) u.cacheTokensDetails = [{ modality: 'TEXT', tokenCount: p.cached }];
  return u;
}

// ----------------------------------------------------------------------------
// Embeddings

/** The fault-* models (see the header); msg names the request message. */
function fault(model, msg) {
  switch (model) {
    case 'fault-400': throw invalid(`* ${msg}.${msg === 'GenerateContentRequest' ? 'contents' : 'requests'}: emulated upstream rejection.\n`);
    case 'fault-401': throw new GeminiError(401, 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
    case 'fault-403': throw new GeminiError(403, 'The caller does not have permission');
    case 'fault-429': throw new GeminiError(429, 'You exceeded your current quota, please check your plan and billing details.', [
      { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }] },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '7s' },
    ]);
    case 'fault-500': throw new GeminiError(500, 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting');
    case 'fault-503': throw new GeminiError(503, 'The model is overloaded. Please try again later.');
    case 'fault-504': throw new GeminiError(504, 'Deadline expired before operation could complete.');
    default: break;
  }
}

const notSupported = (model, method) => new GeminiError(404, `models/${model} is not found for API version v1beta, or is not supported for ${method}. Call ListModels to see the list of available models and their supported methods.`);

/** The deterministic vector of text: size values k/256 (k in -128..127). */
export function embeddingOf(text, size) {
  const out = [];
  for (let block = 0; out.length < size; block++) {
    const h = createHash('sha256').update(`${block}:${text}`).digest();
    for (const b of h) {
      if (out.length === size) break;
      out.push((b - 128) / 256);
    }
  }
  return out;
}

/** Check one EmbedContentRequest (batch item at where, or the whole body)
 * and return its vector. */
function embedOne(r, model, where, msg) {
  const at = (f) => (where ? `${where}.${f}` : f);
  if (!isObject(r)) throw invalid(`Invalid value at '${where}', expected an object`);
  checkKeys(r, ['model', 'content', 'taskType', 'title', 'outputDimensionality'], where);
  if (where) {
    if (r.model === undefined || r.model === '') throw invalid(`* ${msg}.${at('model')}: model is required.\n`);
    if (r.model !== `models/${model}`) {
      throw invalid(`* ${msg}.${at('model')}: Model "${r.model}" does not match the model in the URL "models/${model}".\n`);
    }
  } else if (r.model !== undefined && r.model !== `models/${model}`) {
    throw invalid(`* ${msg}.model: Model "${r.model}" does not match the model in the URL "models/${model}".\n`);
  }
  const content = r.content;
  if (!isObject(content)) throw invalid(`* ${msg}.${at('content')}: content is required.\n`);
  checkKeys(content, ['role', 'parts'], at('content'));
  validateParts(content.parts, at('content.parts'), msg);
  content.parts.forEach((p, j) => {
    if (typeof p.text !== 'string') throw invalid(`* ${msg}.${at(`content.parts[${j}]`)}: only text parts are supported for embeddings.\n`);
  });
  const task = pick(r, 'taskType');
  if (task !== undefined && !TASK_TYPES.includes(task)) {
    throw invalid(`Invalid value at '${at('task_type')}' (type.googleapis.com/google.ai.generativelanguage.v1beta.TaskType), "${task}"`);
  }
  if (r.title !== undefined && task !== 'RETRIEVAL_DOCUMENT') {
    throw invalid(`* ${msg}.${at('title')}: title is only applicable when task_type is RETRIEVAL_DOCUMENT.\n`);
  }
  const size = EMBEDDING_MODELS[model];
  const dims = pick(r, 'outputDimensionality');
  if (dims !== undefined) {
    if (typeof dims !== 'number' || !Number.isInteger(dims)) throw invalid(`Invalid value at '${at('output_dimensionality')}' (TYPE_INT32), ${JSON.stringify(dims)}`);
    if (dims < 1 || dims > size) throw invalid(`* ${msg}.${at('output_dimensionality')}: output_dimensionality must be in the range [1, ${size}].\n`);
  }
  const text = content.parts.map((p) => p.text).join(' ');
  return embeddingOf(text, dims || size);
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
 * Start the emulator. opts: {port=0, host='127.0.0.1', apiKey, models,
 * quiet=true, chunkDelayMs=0}. Returns {port, url, stats, requests,
 * lastRequest(pathPart?), close()}.
 */
export async function startGeminiEmulator(opts = {}) {
  const host = opts.host || '127.0.0.1';
  const apiKey = opts.apiKey || null;
  const models = opts.models || DEFAULT_MODELS;
  const known = new Set([...models, ...SPECIAL_MODELS, ...FAULT_MODELS]);
  const embedders = new Set(Object.keys(EMBEDDING_MODELS));
  const issued = new Set();
  let seq = 0;
  const stats = { requests: [], streamsStarted: 0, streamsCompleted: 0, streamsCut: 0, streamsReset: 0, signaturesIssued: 0 };
  const cleanups = new Set();

  const issue = (name) => {
    // Opaque bytes whose base64 has '+', '/' and padding, like real ones.
    const sig = Buffer.concat([Buffer.from([0xfb, 0xef, 0xff]), Buffer.from(`sig:${name}:${++seq}:${randomBytes(4).toString('hex')}`)]).toString('base64');
    issued.add(sig);
    stats.signaturesIssued++;
    return sig;
  };

  function sendJson(res, status, obj, record, headers = {}) {
    const text = JSON.stringify(obj, null, 2); // Google pretty-prints
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text), vary: 'Origin', ...headers });
    res.end(text);
    record.status = status;
  }

  function checkAuth(req, url) {
    if (!apiKey) return;
    const key = req.headers['x-goog-api-key'] || url.searchParams.get('key');
    if (!key) {
      throw new GeminiError(403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
    }
    if (key !== apiKey) {
      throw invalid('API key not valid. Please pass a valid API key.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
        { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: 'API key not valid. Please pass a valid API key.' },
      ]);
    }
  }

  /** The signature check of Gemini 3 (see the header). */
  function checkSignatures(body) {
    const contents = body.contents;
    let start = 0;
    for (let i = contents.length - 1; i >= 0; i--) {
      if (contents[i].role === 'user' && kindOf(contents[i]) === 'text') { start = i + 1; break; }
    }
    for (let i = start; i < contents.length; i++) {
      const c = contents[i];
      if (c.role !== 'model') continue;
      const idx = c.parts.findIndex((p) => pick(p, 'functionCall'));
      if (idx < 0) continue;
      const p = c.parts[idx];
      const sig = pick(p, 'thoughtSignature');
      if (!sig) {
        throw invalid(`Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${pick(p, 'functionCall').name}\` , position ${idx + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`);
      }
      if (!issued.has(sig)) throw invalid('Corrupted thought signature.');
    }
  }

  function candidate(p, i, parts, finish) {
    const c = { content: { parts, role: 'model' } };
    if (finish) c.finishReason = finish;
    c.index = i;
    return c;
  }

  function fullResponse(p, model, rid) {
    if (model === 'prompt-blocked') {
      return { promptFeedback: { blockReason: 'SAFETY', safetyRatings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH' }] }, usageMetadata: usageOf({ ...p, comp: 0, thoughtsTok: 0 }, true), modelVersion: model, responseId: rid };
    }
    const cands = [];
    for (let i = 0; i < p.n; i++) {
      const parts = [];
      if (p.thoughtText) parts.push({ text: p.thoughtText, thought: true });
      if (p.calls) parts.push(...p.calls);
      else if (p.text) parts.push({ text: p.text });
      cands.push(candidate(p, i, parts, p.finish));
    }
    return { candidates: cands, usageMetadata: usageOf(p, true), modelVersion: model, responseId: rid };
  }

  /** The chunk payloads of a streamed answer (n is always 1 in streams we test). */
  function streamChunks(p, model, rid) {
    const out = [];
    const wrap = (parts, finish, done) => ({ candidates: [candidate(p, 0, parts, finish)], usageMetadata: usageOf(p, done), modelVersion: model, responseId: rid });
    if (model === 'prompt-blocked') return [fullResponse(p, model, rid)];
    if (p.thoughtText) out.push(wrap([{ text: p.thoughtText, thought: true }], undefined, false));
    if (p.calls) {
      p.calls.forEach((c, k) => out.push(wrap([c], k === p.calls.length - 1 ? p.finish : undefined, k === p.calls.length - 1)));
      return out;
    }
    const pieces = [];
    for (let i = 0; i < p.frags.length; i += 2) pieces.push(p.frags.slice(i, i + 2).join(''));
    if (pieces.length === 0) pieces.push('');
    pieces.forEach((t, k) => {
      const lastOne = k === pieces.length - 1;
      out.push(wrap(t ? [{ text: t }] : [], lastOne ? p.finish : undefined, lastOne));
    });
    return out;
  }

  // countTokens: {contents} or {generateContentRequest} (not both), the
  // latter a whole GenerateContentRequest with its model; the count is the
  // promptTokenCount generateContent would report for the same prompt.
  function handleCount(res, model, record) {
    const body = record.body;
    if (!isObject(body)) throw invalid('Invalid JSON payload received. Expected an object.');
    checkKeys(body, ['contents', 'generateContentRequest'], '');
    const gcr = pick(body, 'generateContentRequest');
    if (gcr !== undefined && body.contents !== undefined) {
      throw invalid('contents and generate_content_request cannot both be set.');
    }
    let prompt = body;
    if (gcr !== undefined) {
      if (!isObject(gcr)) throw invalid("Invalid value at 'generate_content_request' (type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentRequest)");
      checkKeys(gcr, REQUEST_FIELDS, 'generate_content_request');
      if (typeof gcr.model !== 'string' || !gcr.model) throw invalid('* GenerateContentRequest.model: unexpected model name format\n');
      const si = pick(gcr, 'systemInstruction');
      if (si !== undefined) {
        checkKeys(si, ['role', 'parts'], 'generate_content_request.system_instruction');
        validateParts(si.parts, 'generate_content_request.system_instruction.parts');
      }
      validateTools(gcr.tools, pick(gcr, 'toolConfig'));
      validateGeneration(pick(gcr, 'generationConfig'));
      prompt = gcr;
    }
    validateContents(prompt.contents);
    if (!known.has(model)) throw notSupported(model, 'countTokens');
    stats.countCalls = (stats.countCalls || 0) + 1;
    const n = promptTokens(prompt);
    return sendJson(res, 200, { totalTokens: n, promptTokensDetails: [{ modality: 'TEXT', tokenCount: n }] }, record);
  }

  async function handleGenerate(req, res, url, model, method, record) {
    const body = record.body;
    if (!isObject(body)) {
      throw invalid(`Invalid JSON payload received. ${record.rawBody.trim() ? 'Unexpected token.' : 'Expected an object.'}`);
    }
    checkKeys(body, REQUEST_FIELDS, '');
    validateContents(body.contents);
    const si = pick(body, 'systemInstruction');
    if (si !== undefined) {
      checkKeys(si, ['role', 'parts'], 'system_instruction');
      validateParts(si.parts, 'system_instruction.parts');
    }
    validateTools(body.tools, pick(body, 'toolConfig'));
    validateGeneration(pick(body, 'generationConfig'));
    if (!known.has(model)) throw notSupported(model, method);
    const signatures = model.startsWith('gemini-3');
    if (signatures) checkSignatures(body);
    fault(model, 'GenerateContentRequest');
    const rid = randomBytes(12).toString('base64url');
    const p = plan(body, model, signatures, issue);
    p.cached = model === 'implicit-cache' ? Math.floor(p.ptok / 2) : 0;
    if (method === 'generateContent') {
      if (model === 'stall') {
        await new Promise((resolve) => { res.once('close', resolve); cleanups.add(resolve); });
        return;
      }
      if (model === 'reset-mid-stream' || model === 'malformed-chunk' || model === 'error-mid-stream') {
        const text = JSON.stringify(fullResponse(p, model, rid));
        res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
        res.write(text.slice(0, text.length >> 1), () => setTimeout(() => res.socket && res.socket.destroy(), 20));
        record.status = 200;
        return;
      }
      return sendJson(res, 200, fullResponse(p, model, rid), record);
    }
    // streamGenerateContent
    const sse = url.searchParams.get('alt') === 'sse';
    record.status = 200;
    stats.streamsStarted++;
    res.writeHead(200, { 'content-type': sse ? 'text/event-stream' : 'application/json; charset=UTF-8', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
    res.flushHeaders();
    let state = 'open';
    res.on('close', () => { if (state === 'open') { state = 'cut'; stats.streamsCut++; } });
    let first = true;
    const write = async (obj) => {
      if (state !== 'open') return;
      const text = typeof obj === 'string' ? obj : JSON.stringify(obj);
      const ok = sse ? res.write(`data: ${text}\r\n\r\n`) : res.write(`${first ? '[' : ',\r\n'}${text}`);
      first = false;
      if (!ok) await new Promise((r) => { res.once('drain', r); res.once('close', r); });
    };
    const end = () => {
      if (state !== 'open') return;
      if (!sse) res.write(first ? '[]' : ']');
      state = 'done';
      stats.streamsCompleted++;
      res.end();
    };
    const chunks = streamChunks(p, model, rid);
    if (model === 'stall') {
      await write(chunks[0]);
      await new Promise((resolve) => { res.once('close', resolve); cleanups.add(resolve); });
      return;
    }
    if (model === 'reset-mid-stream' || model === 'error-mid-stream') {
      for (const c of chunks.slice(0, MID_STREAM_CHUNKS)) await write(c);
      if (model === 'reset-mid-stream') {
        await sleep(50);
        state = 'reset';
        stats.streamsReset++;
        res.socket.destroy();
        return;
      }
      await write({ error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } });
      return end();
    }
    if (model === 'malformed-chunk') {
      await write(chunks[0]);
      await write('{"candidates":[{"content":{"parts":[{"text":"oops"}');
      for (const c of chunks.slice(1)) await write(c);
      return end();
    }
    for (const c of chunks) {
      await write(c);
      if (model === 'slow-stream') await sleep(SLOW_INTERVAL_MS);
      else if (opts.chunkDelayMs) await sleep(opts.chunkDelayMs);
    }
    return end();
  }

  function handleEmbed(res, model, method, record) {
    const body = record.body;
    const msg = method === 'embedContent' ? 'EmbedContentRequest' : 'BatchEmbedContentsRequest';
    if (!isObject(body)) throw invalid(`Invalid JSON payload received. ${record.rawBody.trim() ? 'Unexpected token.' : 'Expected an object.'}`);
    if (method === 'embedContent') {
      const values = embedOne(body, model, '', msg);
      fault(model, msg);
      if (!embedders.has(model)) throw notSupported(model, method);
      return sendJson(res, 200, { embedding: { values } }, record);
    }
    checkKeys(body, ['requests'], '');
    const reqs = body.requests;
    if (reqs === undefined || (Array.isArray(reqs) && reqs.length === 0)) throw invalid(`* ${msg}.requests: requests must not be empty.\n`);
    if (!Array.isArray(reqs)) throw invalid(`Invalid value at 'requests', expected an array`);
    if (reqs.length > EMBED_MAX_BATCH) throw invalid(`* ${msg}.requests: at most ${EMBED_MAX_BATCH} requests can be in one batch\n`);
    const embeddings = reqs.map((r, i) => ({ values: embedOne(r, model, `requests[${i}]`, msg) }));
    fault(model, msg);
    if (!embedders.has(model)) throw notSupported(model, method);
    return sendJson(res, 200, { embeddings }, record);
  }

  const modelObject = (id) => ({
    name: `models/${id}`, version: '001', displayName: id, description: `Emulated ${id}`,
    inputTokenLimit: 1048576, outputTokenLimit: 65536,
    supportedGenerationMethods: ['generateContent', 'countTokens', 'createCachedContent', 'batchGenerateContent'],
    temperature: 1, topP: 0.95, topK: 64, maxTemperature: 2, thinking: true,
  });
  const embedModelObject = (id) => ({
    name: `models/${id}`, version: '001', displayName: id, description: `Emulated ${id}`,
    inputTokenLimit: 2048, outputTokenLimit: 1,
    supportedGenerationMethods: ['embedContent', 'countTextTokens', 'countTokens', 'asyncBatchEmbedContent'],
  });

  async function handle(req, res) {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname;
    const raw = await readBody(req);
    const record = { method: req.method, path, query: url.search, headers: { ...req.headers }, rawBody: raw.toString('utf8'), body: null, status: null, time: Date.now() };
    try { record.body = JSON.parse(record.rawBody); } catch { /* not JSON */ }
    stats.requests.push(record);
    try {
      if (!path.startsWith('/v1beta/')) throw new GeminiError(404, `Not Found: ${path}`);
      checkAuth(req, url);
      if (path === '/v1beta/models') {
        if (req.method !== 'GET') throw new GeminiError(404, 'Method not found.');
        return sendJson(res, 200, { models: [...[...models, ...SPECIAL_MODELS, ...FAULT_MODELS].map(modelObject), ...[...embedders].map(embedModelObject)] }, record);
      }
      const m = /^\/v1beta\/models\/([^/:]+)(?::([A-Za-z]+))?$/.exec(path);
      if (!m) throw new GeminiError(404, `Not Found: ${path}`);
      const model = decodeURIComponent(m[1]);
      const method = m[2];
      if (!method) {
        if (req.method !== 'GET') throw new GeminiError(404, 'Method not found.');
        if (embedders.has(model)) return sendJson(res, 200, embedModelObject(model), record);
        if (!known.has(model)) throw new GeminiError(404, `models/${model} is not found for API version v1beta`);
        return sendJson(res, 200, modelObject(model), record);
      }
      const embed = method === 'embedContent' || method === 'batchEmbedContents';
      if (method !== 'generateContent' && method !== 'streamGenerateContent' && method !== 'countTokens' && !embed) throw new GeminiError(404, `Method not found: ${method}`);
      if (req.method !== 'POST') throw new GeminiError(404, 'Method not found.');
      if (record.body === null) {
        throw invalid(`Invalid JSON payload received. Unexpected token.\n${record.rawBody.slice(0, 40)}\n^`);
      }
      if (embed) return handleEmbed(res, model, method, record);
      if (method === 'countTokens') return handleCount(res, model, record);
      return await handleGenerate(req, res, url, model, method, record);
    } catch (err) {
      if (!(err instanceof GeminiError)) throw err;
      if (res.headersSent) return res.destroy();
      return sendJson(res, err.code, err.body(), record);
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!opts.quiet) console.error('gemini emulator: internal error', err);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 500, message: String(err), status: 'INTERNAL' } }));
      } else {
        res.destroy();
      }
    });
  });
  await new Promise((resolve) => server.listen(opts.port || 0, host, resolve));
  const { port } = server.address();
  return {
    port,
    url: `http://${host}:${port}/v1beta`,
    stats,
    get requests() { return stats.requests; },
    /** The last request whose path contains pathPart (default: any). */
    lastRequest(pathPart = '') {
      for (let i = stats.requests.length - 1; i >= 0; i--) if (stats.requests[i].path.includes(pathPart)) return stats.requests[i];
      return null;
    },
    issuedSignatures: issued,
    close() {
      for (const c of cleanups) c();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] || '').href) {
  const args = process.argv.slice(2);
  const arg = (n, d) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : d; };
  const emu = await startGeminiEmulator({ port: Number(arg('--port', 8001)), host: arg('--host', '127.0.0.1'), apiKey: arg('--api-key', null), quiet: false });
  console.log(`gemini emulator on ${emu.url}`);
}
