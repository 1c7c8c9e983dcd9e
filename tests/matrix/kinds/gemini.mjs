// The `gemini` provider kind in the matrix: the strict Gemini emulator
// (tests/emulators/gemini.mjs) behind provider `mx-gemini`. Each row names
// the emulator model (normal, special or fault model) and the request
// fields that make it produce that case; see the emulator's header
// comment for what each model does.
import { FAULT_MODEL } from './faults.mjs';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { startGeminiEmulator, countWords } from '../../emulators/gemini.mjs';

const P = 'mx-gemini';
const KEY_ENV = 'SB_MX_GEMINI_KEY';
const MODEL = 'gemini-2.5-flash';
// Gemini 3 signs its function calls and refuses a tool loop whose call
// comes back without its thoughtSignature: the tool rows use it.
const SIGNED = 'gemini-3-pro-preview';
const EMBED = 'gemini-embedding-001';
// ghost-model: listed in the gateway's config, unknown to the emulator
// (Gemini's 404 NOT_FOUND).
const MODELS = [
  MODEL, SIGNED, EMBED, 'ghost-model', 'finish-safety', 'implicit-cache',
  'fault-400', 'fault-401', 'fault-429', 'fault-500', 'fault-503',
  'error-mid-stream', 'reset-mid-stream', 'malformed-chunk', 'stall',
];
const PROMPT = 'Hello there, matrix';

let key = null;
const m = (model) => `${P}/${model}`;
const pick = (o, k) => (o[k] !== undefined ? o[k] : o[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)]);

export default {
  kind: 'gemini',

  async start() {
    key = `AIza-mx-${randomBytes(12).toString('hex')}`;
    const emu = await startGeminiEmulator({ apiKey: key });
    return {
      providers: [{ name: P, kind: 'gemini', base_url: emu.url, api_key_env: KEY_ENV, models: MODELS }],
      env: { [KEY_ENV]: key },
      upstream: () => emu.stats.requests.map((r) => ({
        method: r.method, path: r.path, query: r.query, headers: r.headers, body: r.body,
      })),
      close: () => emu.close(),
    };
  },

  scenario(row, section) {
    if (FAULT_MODEL[row]) return { model: m(FAULT_MODEL[row]) };
    switch (row) {
      case 'text':
      case 'stream-text':
        return { model: m(MODEL), prompt: PROMPT, expect: { text: `You said: ${PROMPT}` } };
      // mode ANY + allowedFunctionNames gives the named call, mode ANY alone
      // the first two declarations (parallel); after the function
      // responses: "Tool results: …".
      case 'tool-call':
      case 'stream-tool-call':
      case 'tool-result-round-trip':
      case 'stream-tool-result-round-trip':
      case 'parallel-tools':
        return { model: m(SIGNED) };
      case 'image-input':
      case 'json-schema':
      case 'finish-stop':
      case 'finish-length':
      case 'finish-tool-calls':
      case 'auth-header':
      case 'model-list':
        return { model: m(MODEL) };
      // includeThoughts: a thought part first. Gemini puts thought
      // signatures on function calls (kept in the call id, exercised by
      // the Gemini 3 tool rows), none on these thoughts: nothing to send
      // back.
      case 'reasoning':
        return { model: m(MODEL) };
      // Gemini reports thoughtsTokenCount (the thought's words) when
      // thinking is on, and cachedContentTokenCount when implicit caching
      // hit (the emulator's implicit-cache model: half the prompt's six
      // words).
      case 'stream-usage': {
        const prompt = 'Hello there, matrix, count these words';
        return {
          model: m('implicit-cache'),
          prompt,
          req: { reasoning: { effort: 'low', budgetTokens: 1024 }, maxTokens: 4096 },
          expect: { cached: 3, reasoning: countWords(`Thinking about: ${prompt}`) },
        };
      }
      case 'finish-content-filter':
        return { model: m('finish-safety') };
      case 'error-404':
        return { model: m('ghost-model') };
      // Gemini has no end-user field: `user` is dropped (Messages in:
      // metadata.user_id becomes it).
      case 'dropped-params':
        return {
          model: m(MODEL),
          req: { extra: section === 'messages' ? { metadata: { user_id: 'u-matrix' } } : { user: 'u-matrix' } },
          expect: { dropped: 'user' },
        };
      // Gemini cannot limit the number of calls: parallel_tool_calls false
      // (Messages in: disable_parallel_tool_use) is refused.
      case 'refused-params':
        return {
          model: m(MODEL),
          req: {
            tools: [{ name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }],
            extra: section === 'messages'
              ? { tool_choice: { type: 'auto', disable_parallel_tool_use: true } }
              : { parallel_tool_calls: false },
          },
          expect: { param: 'parallel_tool_calls' },
        };
      // batchEmbedContents reports no token counts; the gateway answers
      // usage 0 ("not reported", docs/providers/gemini.md Embeddings), so
      // a row that wants prompt_tokens > 0 fails here by design.
      case 'embeddings':
        return { model: m(EMBED), expect: { usageReported: false } };
      default:
        throw new Error(`gemini kind: no scenario for row ${row}`);
    }
  },

  checkUpstream(row, req, ctx) {
    assert.ok(req && req.body, `an upstream request for ${row}`);
    const contents = req.body.contents;
    const gc = pick(req.body, 'generationConfig') || {};
    switch (row) {
      case 'tool-result-round-trip': {
        // Gemini sent no id: the adapter named the call call_<i>__ts_<sig>.
        // The model turn carries the call with that signature back as
        // thoughtSignature, and the next user turn the functionResponse
        // for that very call (same name, same position).
        const i = contents.findIndex((c) => c.role === 'model' && c.parts.some((p) => pick(p, 'functionCall')));
        assert.ok(i >= 0, `a functionCall turn: ${JSON.stringify(contents).slice(0, 400)}`);
        const calls = contents[i].parts.filter((p) => pick(p, 'functionCall'));
        const call = calls[0];
        assert.equal(pick(call, 'functionCall').name, ctx.call.name);
        assert.deepEqual(pick(call, 'functionCall').args, ctx.call.args);
        const [, sig] = String(ctx.call.id).split('__ts_');
        assert.ok(sig, `the call id carries the signature: ${ctx.call.id}`);
        assert.equal(pick(call, 'thoughtSignature'), Buffer.from(sig, 'base64url').toString('base64'),
          'the thought signature goes back on its functionCall part');
        const fcId = pick(call, 'functionCall').id;
        const next = contents[i + 1];
        assert.equal(next && next.role, 'user');
        const fr = next.parts.map((p) => pick(p, 'functionResponse')).filter(Boolean);
        assert.equal(fr.length, calls.length, 'one functionResponse per functionCall');
        assert.equal(fr[0].name, ctx.call.name);
        if (fcId !== undefined) assert.equal(fr[0].id, fcId);
        assert.deepEqual(fr[0].response, { content: '18C and sunny' });
        return;
      }
      case 'image-input': {
        const part = contents.at(-1).parts.map((p) => pick(p, 'inlineData')).find(Boolean);
        assert.ok(part, `an inlineData part: ${JSON.stringify(contents.at(-1)).slice(0, 300)}`);
        assert.equal(pick(part, 'mimeType'), 'image/png');
        assert.equal(part.data, ctx.data);
        return;
      }
      case 'json-schema':
        assert.equal(pick(gc, 'responseMimeType'), 'application/json');
        assert.deepEqual(pick(gc, 'responseJsonSchema'), ctx.schema.schema);
        return;
      case 'reasoning':
        throw new Error('gemini kind: its reasoning carries no signature to send back');
      case 'auth-header':
        assert.equal(req.headers['x-goog-api-key'], key);
        assert.equal(req.headers.authorization, undefined, 'no Authorization header upstream');
        assert.ok(!/[?&]key=/.test(req.query || ''), 'the key is not in the URL');
        return;
      default:
        throw new Error(`gemini kind: no upstream check for ${row}`);
    }
  },
};
