// The matrix's `echo` column: the built-in offline provider. It has no
// upstream, no tools and no reasoning; where a row asks for what it lacks,
// the cell says so and checks what the gateway answers instead.
import assert from 'node:assert/strict';

import { WEATHER } from '../rows.mjs';

const TEXT = 'Hello there, matrix';

/** An unsupported cell whose case is refused: 400 invalid_request_error. */
const refused = (reason, req) => ({
  model: 'echo/echo-1', unsupported: reason, req, expect: { status: 400, type: 'invalid_request_error' },
});

/** An unsupported cell whose case cannot arise: the plain answer still comes. */
const absent = (reason) => ({
  model: 'echo/echo-1',
  unsupported: reason,
  verify: async (ctx) => {
    const r = await ctx.client.send(ctx.gw.url, { model: 'echo/echo-1', messages: [{ role: 'user', content: TEXT }] },
      { headers: ctx.headers });
    assert.ok(r.ok, r.raw.slice(0, 200));
    assert.equal(r.text, TEXT);
  },
});

const NO_TOOLS = 'echo has no tools: a request with tools is refused (unsupported_parameter)';
const NO_UPSTREAM = 'echo answers in-process: there is no upstream to fail';

export default {
  kind: 'echo',
  async start() {
    return { providers: [], env: {}, upstream: () => [], close: async () => {} };
  },
  scenario(row, section) {
    switch (row) {
      case 'text': case 'stream-text': case 'finish-stop': case 'finish-length':
        return { model: 'echo/echo-1', expect: { text: TEXT } };
      case 'stream-usage': return { model: 'echo/echo-1', expect: { cached: 0, reasoning: 0 } };
      case 'tool-call': case 'stream-tool-call': case 'tool-result-round-trip':
      case 'stream-tool-result-round-trip': case 'parallel-tools': case 'finish-tool-calls':
        return refused(NO_TOOLS, { tools: [WEATHER] });
      case 'image-input': return absent('echo reads the text of the last user message only');
      case 'json-schema': return absent('echo does not shape its answer to a schema');
      case 'reasoning': return absent('echo does not reason');
      case 'finish-content-filter': return absent('echo has no content filter');
      case 'error-400':
        // A field of the wrong type: every inbound API's 400.
        return { model: 'echo/echo-1', req: { extra: { temperature: 'hot' } }, expect: { status: 400 } };
      case 'error-401':
        // No upstream credential to refuse: the client's own wrong key is a 401.
        return { model: 'echo/echo-1', req: { headers: { authorization: 'Bearer sk-sb-not-a-key', 'x-api-key': 'sk-sb-not-a-key' } }, expect: { status: 401 } };
      case 'error-404': return { model: 'echo/no-such-model', expect: { status: 404 } };
      case 'error-429': return absent('echo has no rate limit of its own (the gateway\'s key limits are tested in integration.budget)');
      case 'error-5xx': case 'error-503': case 'error-mid-stream': case 'reset-mid-stream':
      case 'malformed-line': case 'stall':
        return absent(NO_UPSTREAM);
      case 'dropped-params':
        // Fields of the API that the gateway does not translate are dropped
        // and named; Chat's own fields are echo's to judge.
        if (section === 'chat') return absent('echo judges every Chat field itself: it refuses what it cannot do');
        return section === 'responses'
          ? { model: 'echo/echo-1', req: { extra: { top_k: 3 } }, expect: { dropped: 'top_k' } }
          : { model: 'echo/echo-1', req: { extra: { service_tier: 'auto' } }, expect: { dropped: 'service_tier' } };
      case 'refused-params':
        if (section === 'chat') return { model: 'echo/echo-1', req: { extra: { logprobs: true } }, expect: { status: 400, param: 'logprobs' } };
        if (section === 'responses') return { model: 'echo/echo-1', req: { extra: { top_logprobs: 2 } }, expect: { status: 400, param: 'logprobs' } };
        return {
          model: 'echo/echo-1',
          unsupported: 'no Messages field reaches echo that it would refuse: what it cannot honour is dropped and named',
          verify: async (ctx) => {
            const r = await ctx.client.send(ctx.gw.url, { model: 'echo/echo-1', messages: [{ role: 'user', content: TEXT }],
              extra: { service_tier: 'auto' } }, { headers: ctx.headers });
            assert.ok(r.ok, r.raw.slice(0, 200));
            assert.equal(r.headers['x-switchboard-dropped-params'], 'service_tier');
          },
        };
      case 'auth-header': return absent('echo has no upstream credential');
      case 'embeddings': return { model: 'echo/embed-1' };
      default: return { model: 'echo/echo-1' };
    }
  },
};
