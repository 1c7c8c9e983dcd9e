// The built-in `echo` provider as a matrix column (a minimal adapter: the
// lead's own may replace it). Echo is always there, needs no emulator,
// answers with the last user text, honours max_tokens, counts words as
// tokens, and refuses tools with 400 unsupported_parameter
// (docs/reference.md), so most rows are cases it cannot produce.
import assert from 'node:assert/strict';

const MODEL = 'echo/echo-1';

// Rows echo cannot produce (no upstream, no tools, no faults): the
// gateway still answers an ordinary request normally there.
const CANNOT = {
  'tool-call': 'echo has no tools (400 unsupported_parameter)',
  'stream-tool-call': 'echo has no tools (400 unsupported_parameter)',
  'tool-result-round-trip': 'echo has no tools',
  'stream-tool-result-round-trip': 'echo has no tools',
  'parallel-tools': 'echo has no tools',
  'finish-tool-calls': 'echo has no tools',
  reasoning: 'echo does not reason',
  'finish-content-filter': 'echo never filters',
  'error-429': 'echo has no rate limit',
  'error-5xx': 'echo has no upstream',
  'error-503': 'echo has no upstream',
  'error-mid-stream': 'echo has no upstream',
  'reset-mid-stream': 'echo has no upstream',
  'malformed-line': 'echo has no upstream',
  stall: 'echo has no upstream',
  'dropped-params': 'echo drops nothing it is sent',
  'auth-header': 'echo has no upstream',
};

const TOOL = { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } };

export default {
  kind: 'echo',
  async start() {
    return { providers: [], env: {}, upstream: () => [], close: async () => {} };
  },
  scenario(row) {
    if (row === 'tool-call' || row === 'stream-tool-call' || row === 'finish-tool-calls') {
      return { unsupported: CANNOT[row], model: MODEL, req: { tools: [TOOL] }, expect: { status: 400, type: 'invalid_request_error' } };
    }
    if (CANNOT[row]) {
      return {
        unsupported: CANNOT[row],
        model: MODEL,
        // An ordinary request is answered as usual: the echo.
        async verify(ctx) {
          const r = await ctx.client.send(ctx.gw.url, { model: MODEL, messages: [{ role: 'user', content: 'plain' }] }, { headers: ctx.headers });
          assert.ok(r.ok, `status ${r.status}`);
          assert.equal(r.text, 'plain');
          assert.equal(r.reasoning, '');
        },
      };
    }
    switch (row) {
      case 'text':
      case 'stream-text':
        return { model: MODEL, prompt: 'Hello there, matrix', expect: { text: 'Hello there, matrix' } };
      case 'json-schema':
        // Echo answers the prompt: a JSON prompt makes a JSON answer.
        return { model: MODEL, prompt: '{"city":"Paris","celsius":18}' };
      case 'error-400':
      case 'refused-params':
        return { model: MODEL, req: { tools: [TOOL] }, expect: { param: 'tools' } };
      case 'error-401':
        return { model: MODEL, req: { headers: { authorization: 'Bearer sk-sb-not-a-key-0123456789', 'x-api-key': 'sk-sb-not-a-key-0123456789' } } };
      case 'error-404':
        return { model: 'echo/no-such-model' };
      case 'embeddings':
        return { model: 'echo/embed-1' };
      default:
        return { model: MODEL };
    }
  },
};
