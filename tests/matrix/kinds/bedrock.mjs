// The matrix's `bedrock` kind: the strict AWS Bedrock Converse emulator
// (tests/emulators/bedrock.mjs, which verifies SigV4 for real and streams
// binary event-stream frames) behind a provider of kind bedrock.
import { FAULT_MODEL } from './faults.mjs';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { startBedrockEmulator } from '../../emulators/bedrock.mjs';
import { WEATHER } from '../rows.mjs';

const P = 'mx-bedrock';
const AK = `AKIA${randomBytes(8).toString('hex').toUpperCase()}`;
const SK = randomBytes(20).toString('base64');
const REGION = 'us-west-2';
// Claude on Bedrock: answers, calls tools, thinks (signed reasoningContent).
const CLAUDE = 'anthropic.claude-3-7-sonnet-20250219-v1:0';
const COHERE_EMBED = 'cohere.embed-english-v3';
const TITAN_EMBED = 'amazon.titan-embed-text-v2:0';
const MODELS = [CLAUDE, COHERE_EMBED, TITAN_EMBED, 'cache-read', 'content-filtered',
  'fault-400', 'fault-401', 'fault-404', 'fault-429', 'fault-500', 'fault-503',
  'error-mid-stream', 'reset-mid-stream', 'malformed-chunk', 'stall'];
const ENV = { ak: 'SB_MX_BEDROCK_AK', sk: 'SB_MX_BEDROCK_SK' };

const m = (model) => `${P}/${model}`;
const up = (e) => ({ method: e.method, path: e.path, headers: e.headers, body: e.body });

let emu;

export default {
  kind: 'bedrock',
  async start() {
    emu = await startBedrockEmulator({ accessKey: AK, secretKey: SK, region: REGION, models: [CLAUDE], quiet: true });
    return {
      providers: [{
        name: P, kind: 'bedrock', base_url: emu.url, models: MODELS,
        options: { region: REGION, access_key_env: ENV.ak, secret_key_env: ENV.sk },
      }],
      env: { [ENV.ak]: AK, [ENV.sk]: SK },
      upstream: () => emu.stats.requests.map(up),
      close: () => emu.close(),
    };
  },
  scenario(row, section) {
    if (FAULT_MODEL[row]) return { model: m(FAULT_MODEL[row]) };
    switch (row) {
      case 'text': case 'stream-text':
        return { model: m(CLAUDE), expect: { text: 'You said: Hello there, matrix' } };
      // Claude on Bedrock thinks: reasoningContent with a signature, which
      // comes back to Bedrock first in its assistant turn.
      case 'reasoning': return { model: m(CLAUDE), expect: { signature: true } };
      // Bedrock reports cache reads (cacheReadInputTokens), no reasoning count.
      case 'stream-usage': return { model: m('cache-read'), expect: { cached: 5, reasoning: 0 } };
      case 'finish-content-filter': return { model: m('content-filtered') };
      // 404 ResourceNotFoundException.
      case 'error-404': return { model: m('fault-404'), expect: { status: 404 } };
      case 'dropped-params':
        // Fields Converse has no place for are dropped and named.
        if (section === 'chat') return { model: m(CLAUDE), req: { extra: { user: 'u-1' } }, expect: { dropped: 'user' } };
        if (section === 'responses') return { model: m(CLAUDE), req: { extra: { top_k: 3 } }, expect: { dropped: 'top_k' } };
        return { model: m(CLAUDE), req: { extra: { service_tier: 'auto' } }, expect: { dropped: 'service_tier' } };
      case 'refused-params':
        // What Converse cannot express is refused before anything goes upstream.
        if (section === 'chat') return { model: m(CLAUDE), req: { extra: { seed: 7 } }, expect: { status: 400, param: 'seed' } };
        // Converse cannot turn parallel tool calls off (without tools the
        // Responses API ignores the field, so the row sends one).
        if (section === 'responses') {
          return { model: m(CLAUDE), req: { tools: [WEATHER], extra: { parallel_tool_calls: false } },
            expect: { status: 400, param: 'parallel_tool_calls' } };
        }
        // Messages says it as tool_choice.disable_parallel_tool_use.
        return {
          model: m(CLAUDE),
          req: { tools: [WEATHER], extra: { tool_choice: { type: 'auto', disable_parallel_tool_use: true } } },
          expect: { status: 400, param: 'parallel' },
        };
      case 'embeddings': return { model: m(COHERE_EMBED) };
      default: return { model: m(CLAUDE) };
    }
  },
  checkUpstream(row, req, ctx) {
    const msgs = req.body?.messages || [];
    switch (row) {
      case 'tool-result-round-trip': {
        assert.match(req.path, /\/converse(-stream)?$/);
        const asst = msgs.find((x) => x.role === 'assistant');
        assert.ok(asst, 'an assistant turn upstream');
        const use = asst.content.find((b) => b.toolUse);
        assert.ok(use, `a toolUse block: ${JSON.stringify(asst.content)}`);
        assert.equal(use.toolUse.toolUseId, ctx.call.id);
        assert.equal(use.toolUse.name, ctx.call.name);
        const user = msgs[msgs.indexOf(asst) + 1];
        assert.equal(user?.role, 'user', 'the tool result is the next user turn');
        const res = user.content.find((b) => b.toolResult);
        assert.ok(res, `a toolResult block: ${JSON.stringify(user.content)}`);
        assert.equal(res.toolResult.toolUseId, ctx.call.id);
        assert.match(JSON.stringify(res.toolResult.content), /18C and sunny/);
        break;
      }
      case 'image-input': {
        const img = msgs[0].content.find((b) => b.image);
        assert.ok(img, `an image block: ${JSON.stringify(msgs[0].content).slice(0, 300)}`);
        assert.equal(img.image.format, 'png');
        assert.equal(img.image.source.bytes, ctx.data);
        break;
      }
      case 'json-schema': {
        const tf = req.body.outputConfig?.textFormat;
        assert.equal(tf?.type, 'json_schema', JSON.stringify(req.body.outputConfig));
        assert.deepEqual(JSON.parse(tf.structure.jsonSchema.schema), ctx.schema.schema);
        break;
      }
      case 'reasoning': {
        assert.ok(req.body.additionalModelRequestFields?.thinking, 'thinking asked for');
        const asst = msgs.find((x) => x.role === 'assistant');
        assert.ok(asst, 'the assistant turn went back');
        const rc = asst.content[0]?.reasoningContent;
        assert.ok(rc, `reasoningContent first in the assistant turn: ${JSON.stringify(asst.content).slice(0, 300)}`);
        // A Messages client holds it tagged with its format (docs/inbound.md);
        // the upstream gets Bedrock's own value back, unchanged.
        assert.equal(rc.reasoningText.signature,
          ctx.result.reasoningSignature.replace(/^sb1:bedrock-converse-v1:/, ''), 'the signature unchanged');
        assert.equal(rc.reasoningText.text, ctx.result.reasoning, 'the reasoning text unchanged');
        break;
      }
      case 'auth-header': {
        const auth = req.headers.authorization || '';
        assert.match(auth, new RegExp(`^AWS4-HMAC-SHA256 Credential=${AK}/\\d{8}/${REGION}/bedrock/aws4_request, ?SignedHeaders=[a-z0-9;-]+, ?Signature=[0-9a-f]{64}$`), auth);
        assert.ok(req.headers['x-amz-date'], 'x-amz-date');
        assert.ok(!auth.includes(ctx.gatewayKey.replace(/^Bearer /, '')), 'never the gateway key');
        break;
      }
      default:
        break;
    }
  },
};
