// The matrix's `openai` kind (and, through its emulator's Azure mode,
// `azure`): the strict OpenAI Chat Completions emulator behind a provider
// of that kind.
import { FAULT_MODEL } from './faults.mjs';
import assert from 'node:assert/strict';

import { startOpenAIEmulator } from '../../emulators/openai.mjs';

const KEY = 'sk-upstream-matrix-openai-0123456789';
const MODELS = ['gpt-4o-mini', 'reasoner', 'text-embedding-3-small', 'gpt-unknown',
  'fault-400', 'fault-401', 'fault-429', 'fault-500', 'fault-503', 'stall',
  'reset-mid-stream', 'error-mid-stream', 'malformed-chunk', 'content-filter'];

/** An adapter for kind 'openai' or 'azure' (provider name p). */
export function openaiKind(kind, p) {
  const m = (model) => `${p}/${model}`;
  let emu;
  return {
    kind,
    async start() {
      // gpt-unknown is listed for the gateway but not served upstream: a 404.
      // (The fault models are always served.)
      emu = await startOpenAIEmulator({ apiKey: KEY, azure: kind === 'azure', quiet: true,
        models: ['gpt-4o-mini', 'reasoner', 'text-embedding-3-small'] });
      const env = `SB_MX_${kind.toUpperCase()}_KEY`;
      const base = kind === 'azure' ? emu.url.replace(/\/v1$/, '') : emu.url;
      return {
        providers: [{ name: p, kind, base_url: base, api_key_env: env, models: MODELS }],
        env: { [env]: KEY },
        upstream: () => emu.stats.requests.map((r) => ({ method: r.method, path: r.path, headers: r.headers, body: r.body })),
        close: () => emu.close(),
      };
    },
    scenario(row, section) {
      if (FAULT_MODEL[row]) return { model: m(FAULT_MODEL[row]) };
      switch (row) {
        case 'text': case 'stream-text':
          return { model: m('gpt-4o-mini'), expect: { text: 'You said: Hello there, matrix' } };
        case 'reasoning': return { model: m('reasoner') };
        case 'stream-usage': return { model: m('gpt-4o-mini'), expect: { cached: 0, reasoning: 0 } };
        case 'finish-content-filter': return { model: m('content-filter') };
        case 'error-404': return { model: m('gpt-unknown'), expect: { status: 404 } };
        case 'dropped-params':
          if (section === 'chat') {
            return {
              model: m('gpt-4o-mini'),
              unsupported: 'Chat to the OpenAI kind drops nothing: unknown fields are forwarded and the upstream judges them',
              verify: async (ctx) => {
                const r = await ctx.client.send(ctx.gw.url, { model: m('gpt-4o-mini'),
                  messages: [{ role: 'user', content: 'hi' }], extra: { top_k: 3 } }, { headers: ctx.headers });
                // The strict emulator rejects what OpenAI rejects; the client sees that 400.
                assert.equal(r.status, 400, r.raw.slice(0, 200));
                assert.equal(r.headers['x-switchboard-dropped-params'], undefined);
              },
            };
          }
          // A field the inbound API has and Chat Completions has not.
          return section === 'responses'
            ? { model: m('gpt-4o-mini'), req: { extra: { top_k: 3 } }, expect: { dropped: 'top_k' } }
            : { model: m('gpt-4o-mini'), req: { extra: { service_tier: 'auto' } }, expect: { dropped: 'service_tier' } };
        case 'refused-params':
          // Responses: what needs server-side state the gateway lacks;
          // otherwise the upstream refuses a field it does not know.
          return section === 'responses'
            ? { model: m('gpt-4o-mini'), req: { extra: { background: true } }, expect: { status: 400, param: 'background' } }
            : { model: m('gpt-4o-mini'), req: { extra: { top_k: 3 } }, expect: { status: 400, param: 'top_k' } };
        case 'embeddings': return { model: m('text-embedding-3-small') };
        default: return { model: m('gpt-4o-mini') };
      }
    },
    checkUpstream(row, up, ctx) {
      const msgs = up.body.messages || [];
      switch (row) {
        case 'tool-result-round-trip': {
          const tool = msgs.find((x) => x.role === 'tool');
          assert.ok(tool, 'a tool message upstream');
          assert.equal(tool.tool_call_id, ctx.call.id);
          assert.match(JSON.stringify(tool.content), /18C and sunny/);
          const asst = msgs.find((x) => x.role === 'assistant');
          assert.equal(asst.tool_calls[0].id, ctx.call.id);
          break;
        }
        case 'image-input': {
          const parts = msgs[0].content;
          const img = parts.find((x) => x.type === 'image_url');
          assert.equal(img.image_url.url, `data:image/png;base64,${ctx.data}`);
          break;
        }
        case 'json-schema':
          assert.equal(up.body.response_format.type, 'json_schema');
          assert.deepEqual(up.body.response_format.json_schema.schema, ctx.schema.schema);
          break;
        case 'auth-header':
          if (kind === 'azure') assert.equal(up.headers['api-key'], KEY);
          else assert.equal(up.headers.authorization, `Bearer ${KEY}`);
          break;
        default:
          break;
      }
    },
  };
}

export default openaiKind('openai', 'mx-openai');
