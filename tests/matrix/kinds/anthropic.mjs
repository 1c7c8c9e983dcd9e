// The `anthropic` provider kind in the matrix: the strict Anthropic
// Messages emulator (tests/emulators/anthropic.mjs) behind provider
// `mx-anthropic`. Each row names the emulator model (normal, behaviour or
// fault model) and the request fields that make it produce that case; see
// the emulator's header comment for what each model does.
import { FAULT_MODEL } from './faults.mjs';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { startAnthropicEmulator, countWords } from '../../emulators/anthropic.mjs';
import { base } from '../rows.mjs';

const P = 'mx-anthropic';
const KEY_ENV = 'SB_MX_ANTHROPIC_KEY';
const MODEL = 'claude-sonnet-4-5';
// claude-ghost: listed in the gateway's config, unknown to the emulator
// (Anthropic's 404 not_found_error).
const MODELS = [
  MODEL, 'claude-ghost', 'refusal',
  'fault-400', 'fault-401', 'fault-429', 'fault-500', 'fault-503',
  'error-mid-stream', 'reset-mid-stream', 'malformed-chunk', 'stall',
];

const PROMPT = 'Hello there, matrix';

let key = null;
const m = (model) => `${P}/${model}`;

/** The blocks of an Anthropic message (string content is one text block). */
const blocks = (msg) => (typeof msg.content === 'string' ? [{ type: 'text', text: msg.content }] : msg.content);

export default {
  kind: 'anthropic',

  async start() {
    key = `sk-ant-mx-${randomBytes(12).toString('hex')}`;
    const emu = await startAnthropicEmulator({ apiKey: key });
    return {
      providers: [{ name: P, kind: 'anthropic', base_url: emu.url, api_key_env: KEY_ENV, models: MODELS }],
      env: { [KEY_ENV]: key },
      upstream: () => emu.stats.requests.map((r) => ({ method: r.method, path: r.path, headers: r.headers, body: r.body })),
      close: () => emu.close(),
    };
  },

  scenario(row, section) {
    if (FAULT_MODEL[row]) return { model: m(FAULT_MODEL[row]) };
    switch (row) {
      case 'text':
      case 'stream-text':
        return { model: m(MODEL), prompt: PROMPT, expect: { text: `You said: ${PROMPT}` } };
      // tool_choice {type:tool} gives one call; {type:any} the first two
      // tools (parallel); after the tool_result: "Tool results: …".
      case 'tool-call':
      case 'stream-tool-call':
      case 'tool-result-round-trip':
      case 'stream-tool-result-round-trip':
      case 'parallel-tools':
      case 'image-input':
      case 'json-schema':
      case 'finish-stop':
      case 'finish-tool-calls':
      case 'auth-header':
      case 'model-list':
        return { model: m(MODEL) };
      // max_tokens 1: the answer is cut, stop_reason max_tokens.
      case 'finish-length':
        return { model: m(MODEL) };
      // thinking enabled: a thinking block with a signature the emulator
      // issued; sent back it must come unchanged or the emulator refuses.
      case 'reasoning':
        return { model: m(MODEL), expect: { signature: true } };
      // With thinking on, Anthropic reports the thinking's tokens in
      // usage.output_tokens_details.thinking_tokens (the 2026 API); cache
      // reads only for cache_control blocks, which no inbound request here
      // carries: none.
      case 'stream-usage':
        return {
          model: m(MODEL),
          prompt: PROMPT,
          req: { reasoning: { effort: 'low', budgetTokens: 1024 }, maxTokens: 4096 },
          expect: { cached: 0, reasoning: countWords(`Thinking about: ${PROMPT}`) },
        };
      case 'finish-content-filter':
        return { model: m('refusal') };
      case 'error-404':
        return { model: m('claude-ghost') };
      // What the Anthropic kind drops: safety_identifier when user is set
      // (both would be metadata.user_id). Responses in folds
      // safety_identifier into user itself (user wins, nothing listed), so
      // there the dropped field is a function tool's `strict`, which the
      // adapter does not send. Messages in to Anthropic is a raw relay:
      // nothing is dropped, every field reaches Anthropic as sent.
      case 'dropped-params':
        if (section === 'responses') {
          return {
            model: m(MODEL),
            req: { extra: { tools: [{ type: 'function', name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: true }] } },
            expect: { dropped: 'tools\\.function\\.strict' },
          };
        }
        if (section === 'messages') {
          return {
            model: m(MODEL),
            unsupported: 'Messages in to an Anthropic upstream is a raw relay: no parameter is dropped, each reaches Anthropic as sent',
            verify: async (ctx) => {
              const req = base(ctx.sc, { extra: { service_tier: 'auto' } });
              const r = await ctx.client.send(ctx.gw.url, req, { headers: ctx.headers });
              assert.ok(r.ok, `status ${r.status}: ${r.raw.slice(0, 200)}`);
              assert.equal(r.headers['x-switchboard-dropped-params'], undefined, 'nothing listed as dropped');
              assert.equal(ctx.upstream().at(-1).body.service_tier, 'auto', 'service_tier reached Anthropic');
            },
          };
        }
        return { model: m(MODEL), req: { extra: { user: 'u-matrix', safety_identifier: 'sid-matrix' } }, expect: { dropped: 'safety_identifier' } };
      // Anthropic's temperature range is 0 to 1: 1.5 is refused before
      // anything is sent.
      case 'refused-params':
        return { model: m(MODEL), req: { extra: { temperature: 1.5 } }, expect: { param: 'temperature' } };
      case 'embeddings':
        // The gateway refuses it before anything is sent: 400
        // invalid_request_error unsupported_value, param model.
        return {
          model: m(MODEL),
          unsupported: 'Anthropic has no embeddings API',
          expect: { status: 400, type: 'invalid_request_error' },
          verify: async (ctx) => {
            const before = ctx.upstream().length;
            const res = await fetch(`${ctx.gw.url}/v1/embeddings`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', ...ctx.headers },
              body: JSON.stringify({ model: ctx.sc.model, input: ['one', 'two'] }),
            });
            const body = await res.json();
            assert.equal(res.status, 400, JSON.stringify(body));
            assert.equal(body.error.type, 'invalid_request_error');
            assert.equal(body.error.code, 'unsupported_value');
            assert.equal(body.error.param, 'model');
            assert.equal(ctx.upstream().length, before, 'nothing reached Anthropic');
          },
        };
      default:
        throw new Error(`anthropic kind: no scenario for row ${row}`);
    }
  },

  checkUpstream(row, req, ctx) {
    assert.ok(req && req.body, `an upstream request for ${row}`);
    const msgs = req.body.messages;
    switch (row) {
      case 'tool-result-round-trip': {
        // The assistant turn carries the tool_use with the call's id, and
        // the next user turn the tool_result answering that id.
        const i = msgs.findIndex((x) => x.role === 'assistant'
          && blocks(x).some((b) => b.type === 'tool_use' && b.id === ctx.call.id));
        assert.ok(i >= 0, `a tool_use with id ${ctx.call.id}: ${JSON.stringify(msgs)}`);
        const use = blocks(msgs[i]).find((b) => b.type === 'tool_use' && b.id === ctx.call.id);
        assert.equal(use.name, ctx.call.name);
        assert.deepEqual(use.input, ctx.call.args);
        const next = msgs[i + 1];
        assert.equal(next && next.role, 'user');
        const res = blocks(next).find((b) => b.type === 'tool_result');
        assert.ok(res, `a tool_result block: ${JSON.stringify(next)}`);
        assert.equal(res.tool_use_id, ctx.call.id);
        const text = typeof res.content === 'string' ? res.content : (res.content || []).map((b) => b.text).join('');
        assert.equal(text, '18C and sunny');
        return;
      }
      case 'image-input': {
        const img = blocks(msgs.at(-1)).find((b) => b.type === 'image');
        assert.ok(img, `an image block: ${JSON.stringify(msgs.at(-1)).slice(0, 300)}`);
        assert.deepEqual(img.source, { type: 'base64', media_type: 'image/png', data: ctx.data });
        return;
      }
      case 'json-schema':
        assert.deepEqual(req.body.output_config && req.body.output_config.format,
          { type: 'json_schema', schema: ctx.schema.schema });
        return;
      case 'reasoning': {
        // The thinking block the client got, back first in its assistant
        // turn, text and signature unchanged.
        const a = msgs.find((x) => x.role === 'assistant');
        assert.ok(a, 'the assistant turn went back');
        const first = blocks(a)[0];
        assert.equal(first.type, 'thinking', JSON.stringify(a).slice(0, 300));
        assert.equal(first.signature, ctx.result.reasoningSignature);
        assert.equal(first.thinking, ctx.result.reasoning);
        assert.ok(req.body.thinking && req.body.thinking.type === 'enabled', 'thinking still on');
        return;
      }
      case 'auth-header':
        assert.equal(req.headers['x-api-key'], key);
        assert.equal(req.headers.authorization, undefined, 'no Authorization header upstream');
        assert.ok(req.headers['anthropic-version'], 'anthropic-version');
        return;
      default:
        throw new Error(`anthropic kind: no upstream check for ${row}`);
    }
  },
};
