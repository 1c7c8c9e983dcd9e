// The matrix's `ollama` kind: the strict emulator of Ollama's native API
// (tests/emulators/ollama.mjs) behind a provider of kind ollama
// (providers/ollama.c, docs/providers/ollama.md).
//
// How the emulator is steered: the model calls every tool the last user
// message names, all in one answer; it cannot be forced to call one, and
// the gateway refuses a forced tool_choice (400 unsupported_value, the
// refused-params cell). So the tool rows ask with tool_choice auto and a
// prompt that names the tool (or both tools, for parallel-tools): the tool
// call, its id (made up by the gateway: Ollama sends none) and the round
// trip are what those cells check. Reasoning: `think` on a thinking model
// (qwen3) streams message.thinking. Faults are chosen by model name.
import { FAULT_MODEL } from './faults.mjs';
import assert from 'node:assert/strict';

import { startOllamaEmulator } from '../../emulators/ollama.mjs';
import { WEATHER } from '../rows.mjs';

// Ollama itself has no credential; one behind an authenticating proxy (or
// ollama.com) takes a Bearer key, which is what this provider is given.
const KEY = 'ollama-upstream-matrix-0123456789';
const P = 'mx-ollama';
const m = (model) => `${P}/${model}`;
const CHAT = 'llama3.2';
// ghost-model is listed for the gateway but not pulled upstream: a 404.
const MODELS = [CHAT, 'qwen3:8b', 'llava', 'nomic-embed-text', 'ghost-model',
  'fault-400', 'fault-401', 'fault-429', 'fault-500', 'fault-503', 'stall',
  'reset-mid-stream', 'error-mid-stream', 'malformed-chunk'];

const TEXT = 'Hello there, matrix';
const CALL_WEATHER = 'What is the weather in Paris? Please call get_weather';
const CALL_BOTH = 'Please call get_weather and get_time for Paris';
const auto = (prompt) => ({ model: m(CHAT), prompt, req: { toolChoice: 'auto' } });

export default {
  kind: 'ollama',
  async start() {
    const emu = await startOllamaEmulator({ apiKey: KEY, quiet: true });
    const env = 'SB_MX_OLLAMA_KEY';
    return {
      providers: [{ name: P, kind: 'ollama', base_url: emu.url, api_key_env: env, models: MODELS }],
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
      case 'tool-call': case 'stream-tool-call': case 'tool-result-round-trip':
      case 'stream-tool-result-round-trip': case 'finish-tool-calls':
        return auto(CALL_WEATHER);
      case 'parallel-tools': return auto(CALL_BOTH);
      case 'image-input': return { model: m('llava') };
      case 'reasoning': return { model: m('qwen3:8b') };
      // Ollama counts prompt and answer tokens only: no cache, no
      // separate reasoning count.
      case 'stream-usage': return { model: m(CHAT), expect: { cached: 0, reasoning: 0 } };
      case 'finish-content-filter':
        return {
          model: m(CHAT),
          unsupported: 'Ollama has no content filter: done_reason is only stop or length',
          // The case cannot arise: a plain answer still ends as a stop.
          verify: async (ctx) => {
            const r = await ctx.client.send(ctx.gw.url, { model: m(CHAT), messages: [{ role: 'user', content: TEXT }] },
              { headers: ctx.headers });
            assert.ok(r.ok, r.raw.slice(0, 200));
            assert.equal(r.finish, 'stop');
          },
        };
      case 'error-404': return { model: m('ghost-model'), expect: { status: 404 } };
      case 'dropped-params':
        // Advisory fields Ollama has no place for: dropped and named
        // (Ollama itself would ignore them silently).
        if (section === 'messages') return { model: m(CHAT), req: { extra: { service_tier: 'auto' } }, expect: { dropped: 'service_tier' } };
        return { model: m(CHAT), req: { extra: { user: 'u-1' } }, expect: { dropped: 'user' } };
      case 'refused-params':
        // Ollama cannot force a tool call: a required tool_choice is refused.
        return { model: m(CHAT), req: { tools: [WEATHER], toolChoice: 'required' }, expect: { status: 400, param: 'tool_choice' } };
      case 'embeddings': return { model: m('nomic-embed-text') };
      default: return { model: m(CHAT) };
    }
  },
  checkUpstream(row, up, ctx) {
    assert.equal(up.path, '/api/chat');
    const msgs = up.body.messages || [];
    switch (row) {
      case 'tool-result-round-trip': {
        // Ollama matches a result to its call by tool_name.
        const tool = msgs.find((x) => x.role === 'tool');
        assert.ok(tool, 'a tool message upstream');
        assert.equal(tool.tool_name, ctx.call.name);
        assert.equal(tool.tool_call_id, ctx.call.id, 'and by id, where Ollama has ids');
        assert.equal(tool.content, '18C and sunny');
        const asst = msgs.find((x) => x.role === 'assistant');
        assert.equal(asst.tool_calls[0].id, ctx.call.id);
        assert.equal(asst.tool_calls[0].function.name, ctx.call.name);
        assert.deepEqual(asst.tool_calls[0].function.arguments, ctx.call.args, 'arguments as an object');
        break;
      }
      case 'image-input': {
        const user = msgs.at(-1);
        assert.deepEqual(user.images, [ctx.data], 'the raw base64 in images');
        assert.equal(user.content, 'What is in this image?');
        break;
      }
      case 'json-schema':
        assert.deepEqual(up.body.format, ctx.schema.schema);
        break;
      case 'auth-header':
        assert.equal(up.headers.authorization, `Bearer ${KEY}`);
        break;
      default:
        break;
    }
  },
};
