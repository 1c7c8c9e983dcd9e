// The matrix's `cohere` kind: the strict Cohere v2 emulator
// (tests/emulators/cohere.mjs) behind a provider of kind cohere
// (providers/cohere.c, docs/providers/cohere.md).
//
// How the emulator is steered: a named tool_choice is sent as that tool
// alone with tool_choice REQUIRED, and REQUIRED makes the model call the
// first two tools it is given (parallel-tools); after a tool message it
// answers "Tool results: …"; reasoning_effort becomes Cohere's thinking
// (enabled, with a budget), which the model answers with a thinking block.
// Faults are chosen by model name.
import { FAULT_MODEL } from './faults.mjs';
import assert from 'node:assert/strict';

import { startCohereEmulator } from '../../emulators/cohere.mjs';
import { WEATHER } from '../rows.mjs';

const KEY = 'co-upstream-matrix-cohere-0123456789';
const P = 'mx-cohere';
const m = (model) => `${P}/${model}`;
const CHAT = 'command-a-03-2025';
const VISION = 'command-a-vision-07-2025';
const EMBED = 'embed-v4.0';
// command-gone is listed for the gateway but not served upstream: a 404.
const MODELS = [CHAT, VISION, EMBED, 'command-gone',
  'fault-400', 'fault-401', 'fault-429', 'fault-500', 'fault-503', 'stall',
  'reset-mid-stream', 'error-mid-stream', 'malformed-chunk'];

const TEXT = 'Hello there, matrix';

export default {
  kind: 'cohere',
  async start() {
    const emu = await startCohereEmulator({ apiKey: KEY, quiet: true });
    const env = 'SB_MX_COHERE_KEY';
    return {
      providers: [{ name: P, kind: 'cohere', base_url: emu.url, api_key_env: env, models: MODELS }],
      env: { [env]: KEY },
      upstream: () => emu.stats.requests.map((r) => ({ method: r.method, path: r.path, headers: r.headers, body: r.body })),
      close: () => emu.close(),
    };
  },
  scenario(row, section) {
    if (FAULT_MODEL[row]) return { model: m(FAULT_MODEL[row]) };
    switch (row) {
      case 'text': case 'stream-text':
        return { model: m(CHAT), expect: { text: `You said: ${TEXT}` } };
      case 'image-input': return { model: m(VISION) };
      // Cohere reports cached tokens (0 here) and no reasoning tokens.
      case 'stream-usage': return { model: m(CHAT), expect: { cached: 0, reasoning: 0 } };
      case 'finish-content-filter':
        return {
          model: m(CHAT),
          unsupported: 'Cohere has no content-filter finish reason (COMPLETE, STOP_SEQUENCE, MAX_TOKENS, TOOL_CALL, ERROR, TIMEOUT)',
          // The case cannot arise: a plain answer still ends as a stop.
          verify: async (ctx) => {
            const r = await ctx.client.send(ctx.gw.url, { model: m(CHAT), messages: [{ role: 'user', content: TEXT }] },
              { headers: ctx.headers });
            assert.ok(r.ok, r.raw.slice(0, 200));
            assert.equal(r.finish, 'stop');
          },
        };
      case 'error-404': return { model: m('command-gone'), expect: { status: 404 } };
      case 'dropped-params':
        // Advisory fields Cohere has no place for: dropped and named.
        if (section === 'messages') return { model: m(CHAT), req: { extra: { service_tier: 'auto' } }, expect: { dropped: 'service_tier' } };
        return { model: m(CHAT), req: { extra: { user: 'u-1' } }, expect: { dropped: 'user' } };
      case 'refused-params':
        // Cohere cannot limit a turn to one tool call: asking is refused.
        if (section === 'messages') {
          return { model: m(CHAT), req: { tools: [WEATHER], extra: { tool_choice: { type: 'auto', disable_parallel_tool_use: true } } },
            expect: { status: 400, param: 'parallel_tool_calls' } };
        }
        return { model: m(CHAT), req: { tools: [WEATHER], extra: { parallel_tool_calls: false } },
          expect: { status: 400, param: 'parallel_tool_calls' } };
      case 'embeddings': return { model: m(EMBED) };
      default: return { model: m(CHAT) };
    }
  },
  checkUpstream(row, up, ctx) {
    assert.equal(up.path, '/v2/chat');
    const msgs = up.body.messages || [];
    switch (row) {
      case 'tool-result-round-trip': {
        const tool = msgs.find((x) => x.role === 'tool');
        assert.ok(tool, 'a tool message upstream');
        assert.equal(tool.tool_call_id, ctx.call.id);
        assert.match(JSON.stringify(tool.content), /18C and sunny/);
        const asst = msgs.find((x) => x.role === 'assistant');
        assert.equal(asst.tool_calls[0].id, ctx.call.id);
        assert.equal(asst.tool_calls[0].function.name, ctx.call.name);
        assert.deepEqual(JSON.parse(asst.tool_calls[0].function.arguments), ctx.call.args);
        break;
      }
      case 'image-input': {
        const parts = msgs.at(-1).content;
        const img = parts.find((x) => x.type === 'image_url');
        assert.ok(img, `an image_url part: ${JSON.stringify(parts).slice(0, 200)}`);
        assert.equal(img.image_url.url, `data:image/png;base64,${ctx.data}`);
        break;
      }
      case 'json-schema':
        // Cohere's structured output: json_object with the schema.
        assert.equal(up.body.response_format.type, 'json_object');
        assert.deepEqual(up.body.response_format.json_schema, ctx.schema.schema);
        break;
      case 'auth-header':
        assert.equal(up.headers.authorization, `Bearer ${KEY}`);
        break;
      default:
        break;
    }
  },
};
