// The rows of the translation-fidelity matrix (docs/matrix.md): what a
// user of each inbound API would notice, asserted through that API's own
// client (inbound.mjs) against one provider kind (kinds/<kind>.mjs).
//
// A row's run(ctx) throws on a failure. ctx: { gw (the gateway: url,
// stop), client (inbound.mjs), kind (the adapter), sc (the kind's
// scenario for this row), upstream() (the requests the kind's emulator
// received), section, headers (the gateway key) }.
import assert from 'node:assert/strict';

export const WEATHER = {
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
export const TIME = {
  name: 'get_time',
  description: 'Time in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
// A 1x1 PNG.
export const PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
export const SCHEMA = {
  name: 'weather',
  schema: {
    type: 'object',
    properties: { city: { type: 'string' }, celsius: { type: 'number' } },
    required: ['city', 'celsius'],
    additionalProperties: false,
  },
};

const user = (text) => ({ role: 'user', content: text });

/** The canonical request a row starts from, with the scenario's model,
 * prompt and fields on top. */
export function base(sc, fields = {}) {
  const req = { model: sc.model, messages: [user(sc.prompt || 'Hello there, matrix')], ...fields, ...(sc.req || {}) };
  return req;
}

async function send(ctx, req) {
  return ctx.client.send(ctx.gw.url, req, { headers: { ...ctx.headers, ...(req.headers || {}) } });
}

function ok(r) {
  assert.ok(r.ok, `expected success, got ${r.status}: ${r.error ? `${r.error.type}: ${r.error.message}` : r.raw.slice(0, 200)}`);
}

function expectText(ctx, r) {
  ok(r);
  assert.ok(r.text.length > 0, 'no text');
  if (ctx.sc.expect?.text !== undefined) assert.equal(r.text, ctx.sc.expect.text);
}

async function toolCall(ctx, stream) {
  const r = await send(ctx, base(ctx.sc, { stream, tools: [WEATHER, TIME], toolChoice: { name: 'get_weather' } }));
  ok(r);
  assert.equal(r.toolCalls.length, 1, `tool calls: ${JSON.stringify(r.toolCalls)}`);
  assert.equal(r.toolCalls[0].name, 'get_weather');
  assert.equal(typeof r.toolCalls[0].args, 'object');
  assert.ok(r.toolCalls[0].id, 'a tool call id');
  assert.equal(r.finish, 'tool_calls');
  return r;
}

async function roundTrip(ctx, stream) {
  const first = await toolCall(ctx, false);
  const call = first.toolCalls[0];
  const req = base(ctx.sc, { stream, tools: [WEATHER, TIME] });
  req.messages.push(first.assistantMessage,
    { role: 'tool', toolCallId: call.id, name: call.name, content: '18C and sunny' });
  const r = await send(ctx, req);
  ok(r);
  assert.ok(r.text.length > 0, 'an answer after the tool result');
  if (ctx.kind.checkUpstream) ctx.kind.checkUpstream('tool-result-round-trip', ctx.upstream().at(-1), { call });
}

async function errorRow(ctx, status, stream = false) {
  const r = await send(ctx, base(ctx.sc, { stream }));
  assert.equal(r.ok, false, 'expected an error');
  assert.equal(r.status, ctx.sc.expect?.status ?? status, `status ${r.status}: ${r.raw.slice(0, 200)}`);
  assert.ok(r.error && r.error.type && r.error.message, `an error in the API's shape: ${r.raw.slice(0, 200)}`);
  return r;
}

async function midStream(ctx) {
  const r = await send(ctx, base(ctx.sc, { stream: true }));
  assert.equal(r.status, 200, `the stream starts: ${r.raw.slice(0, 200)}`);
  assert.equal(r.ok, false, 'the stream must not end as a success');
  assert.ok(r.streamError, 'an error event in the API\'s own shape ends the stream');
  assert.ok(r.error && r.error.message, 'the error says why');
  return r;
}

async function finish(ctx, want, fields = {}) {
  const r = await send(ctx, base(ctx.sc, fields));
  ok(r);
  assert.equal(r.finish, want);
}

export const ROWS = [
  { id: 'text', run: async (ctx) => expectText(ctx, await send(ctx, base(ctx.sc))) },
  { id: 'stream-text', run: async (ctx) => expectText(ctx, await send(ctx, base(ctx.sc, { stream: true }))) },
  { id: 'tool-call', run: (ctx) => toolCall(ctx, false) },
  { id: 'stream-tool-call', run: (ctx) => toolCall(ctx, true) },
  { id: 'tool-result-round-trip', run: (ctx) => roundTrip(ctx, false) },
  { id: 'stream-tool-result-round-trip', run: (ctx) => roundTrip(ctx, true) },
  {
    id: 'parallel-tools',
    run: async (ctx) => {
      const r = await send(ctx, base(ctx.sc, { tools: [WEATHER, TIME], toolChoice: 'required' }));
      ok(r);
      assert.ok(r.toolCalls.length >= 2, `two tool calls in one answer: ${JSON.stringify(r.toolCalls)}`);
      assert.equal(new Set(r.toolCalls.map((c) => c.id)).size, r.toolCalls.length, 'distinct ids');
    },
  },
  {
    id: 'image-input',
    run: async (ctx) => {
      const req = base(ctx.sc);
      req.messages = [{ role: 'user', content: [{ type: 'text', text: 'What is in this image?' },
        { type: 'image', mediaType: 'image/png', data: PNG_B64 }] }];
      ok(await send(ctx, req));
      if (ctx.kind.checkUpstream) ctx.kind.checkUpstream('image-input', ctx.upstream().at(-1), { data: PNG_B64 });
    },
  },
  {
    id: 'json-schema',
    run: async (ctx) => {
      const r = await send(ctx, base(ctx.sc, { jsonSchema: SCHEMA }));
      ok(r);
      const doc = JSON.parse(r.text);
      assert.equal(typeof doc, 'object');
      if (ctx.kind.checkUpstream) ctx.kind.checkUpstream('json-schema', ctx.upstream().at(-1), { schema: SCHEMA });
    },
  },
  {
    id: 'reasoning',
    run: async (ctx) => {
      const r = await send(ctx, base(ctx.sc, { reasoning: { effort: 'medium', budgetTokens: 1024 }, maxTokens: 4096 }));
      ok(r);
      assert.ok(r.reasoning.length > 0, 'the reasoning reaches the client');
      if (ctx.sc.expect?.signature) {
        assert.ok(r.reasoningSignature, 'the signature reaches the client');
        // Sent back, it reaches the upstream unchanged.
        const req = base(ctx.sc, { reasoning: { effort: 'medium', budgetTokens: 1024 }, maxTokens: 4096 });
        req.messages.push(r.assistantMessage, { role: 'user', content: 'And then?' });
        ok(await send(ctx, req));
        ctx.kind.checkUpstream('reasoning', ctx.upstream().at(-1), { signature: ctx.sc.expect.signature, result: r });
      }
    },
  },
  {
    id: 'stream-usage',
    run: async (ctx) => {
      const r = await send(ctx, base(ctx.sc, { stream: true }));
      ok(r);
      assert.ok(r.usage, 'usage in the stream');
      assert.ok(r.usage.input > 0 && r.usage.output > 0, JSON.stringify(r.usage));
      const e = ctx.sc.expect || {};
      if (e.cached !== undefined) assert.equal(r.usage.cached, e.cached, 'cached tokens');
      if (e.reasoning !== undefined) assert.equal(r.usage.reasoning, e.reasoning, 'reasoning tokens');
    },
  },
  { id: 'finish-stop', run: (ctx) => finish(ctx, 'stop') },
  { id: 'finish-length', run: (ctx) => finish(ctx, 'length', { maxTokens: 1 }) },
  { id: 'finish-tool-calls', run: (ctx) => finish(ctx, 'tool_calls', { tools: [WEATHER], toolChoice: { name: 'get_weather' } }) },
  { id: 'finish-content-filter', run: (ctx) => finish(ctx, 'content_filter') },
  { id: 'error-400', run: (ctx) => errorRow(ctx, 400) },
  // The provider refuses the gateway's credential: 502, never a 401 that
  // would tell the client its own key is wrong.
  { id: 'error-401', run: (ctx) => errorRow(ctx, 502) },
  { id: 'error-404', run: (ctx) => errorRow(ctx, 404) },
  {
    id: 'error-429',
    run: async (ctx) => {
      const r = await errorRow(ctx, 429);
      assert.ok(r.headers['retry-after'], 'retry-after reaches the client');
    },
  },
  { id: 'error-5xx', run: (ctx) => errorRow(ctx, 502) },
  { id: 'error-503', run: (ctx) => errorRow(ctx, 503) },
  { id: 'error-mid-stream', run: (ctx) => midStream(ctx) },
  { id: 'reset-mid-stream', run: (ctx) => midStream(ctx) },
  { id: 'malformed-line', run: (ctx) => midStream(ctx) },
  { id: 'stall', run: (ctx) => midStream(ctx) },
  {
    id: 'dropped-params',
    run: async (ctx) => {
      const r = await send(ctx, base(ctx.sc));
      ok(r);
      const dropped = ctx.sc.expect?.dropped;
      assert.ok(dropped, 'the scenario names the dropped parameter');
      assert.match(r.headers['x-switchboard-dropped-params'] || '', new RegExp(dropped));
    },
  },
  {
    id: 'refused-params',
    run: async (ctx) => {
      const r = await errorRow(ctx, 400);
      if (ctx.sc.expect?.param) assert.match(r.error.message + (r.error.param || ''), new RegExp(ctx.sc.expect.param));
    },
  },
  {
    id: 'auth-header',
    run: async (ctx) => {
      ok(await send(ctx, base(ctx.sc)));
      const up = ctx.upstream().at(-1);
      ctx.kind.checkUpstream('auth-header', up, { gatewayKey: ctx.headers.authorization });
      const all = JSON.stringify(up.headers);
      assert.ok(!all.includes(ctx.gatewayKey), 'the gateway key never goes upstream');
    },
  },
  {
    id: 'model-list',
    run: async (ctx) => {
      const r = await ctx.client.models(ctx.gw.url, { headers: ctx.headers });
      assert.equal(r.status, 200);
      assert.ok(r.ids.includes(ctx.sc.model), `${ctx.sc.model} in ${JSON.stringify(r.ids).slice(0, 300)}`);
    },
  },
  {
    id: 'embeddings',
    sections: ['chat'],
    run: async (ctx) => {
      const { res, body } = await embed(ctx);
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.data.length, 2);
      assert.ok(body.data.every((d) => Array.isArray(d.embedding) && d.embedding.length > 0));
      // A provider that reports no token count (Gemini's batchEmbedContents)
      // gets 0, documented as "not reported", never a made-up number.
      if (ctx.sc.expect?.usageReported === false) assert.equal(body.usage.prompt_tokens, 0);
      else assert.ok(body.usage && body.usage.prompt_tokens > 0);
    },
    // A kind without embeddings: an OpenAI error with the documented status.
    refuse: async (ctx) => {
      const { res, body } = await embed(ctx);
      assert.equal(res.status, ctx.sc.expect.status, JSON.stringify(body));
      assert.ok(body.error && body.error.message, JSON.stringify(body));
    },
  },
];

async function embed(ctx) {
  const res = await fetch(`${ctx.gw.url}/v1/embeddings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...ctx.headers },
    body: JSON.stringify({ model: ctx.sc.model, input: ['one', 'two'] }),
  });
  return { res, body: await res.json() };
}

/** The rows of a section, in order. */
export function rowsFor(section) {
  return ROWS.filter((r) => !r.sections || r.sections.includes(section));
}
