// The official @anthropic-ai/sdk drives /v1/messages through the gateway to
// three provider kinds, each against its strict emulator: anthropic (the
// raw relay), openai and gemini (translated through the canonical form).
// A plain answer, the stream helper, a tool round trip, errors, the model
// list, token counting, and a usage record for every turn.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';

import { startGateway, queryDb, sqlString, waitFor } from '../integration/harness.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';
import { startAnthropicEmulator } from '../emulators/anthropic.mjs';
import { startGeminiEmulator } from '../emulators/gemini.mjs';

const KEY = 'e2e-provider-key-0123456789';
const TOOLS = [{
  name: 'get_weather', description: 'Weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
}];

// kind, emulator, base_url, model; `results`: the emulator's answer after a
// tool result quotes the result (the OpenAI emulator repeats the user text).
const KINDS = [
  { kind: 'openai', start: () => startOpenAIEmulator({ apiKey: KEY, quiet: true }), model: 'gpt-4o-mini', results: false },
  { kind: 'anthropic', start: () => startAnthropicEmulator({ apiKey: KEY, quiet: true }), model: 'claude-sonnet-4-5', results: true },
  { kind: 'gemini', start: () => startGeminiEmulator({ apiKey: KEY, quiet: true }), model: 'gemini-2.5-flash', results: true },
];

const emus = {};
let gw;
let client;
let seq = 0;
/** Request options with a fresh x-request-id (to find the usage row). */
const rid = (what) => {
  const id = `e2e-anth-${what}-${++seq}`;
  return { id, opts: { headers: { 'x-request-id': id } } };
};

/** The requests row of request id (written by the store's writer thread). */
function usageRow(id) {
  return waitFor(async () => {
    const rows = await queryDb(gw.dbPath, `SELECT * FROM requests WHERE request_id = ${sqlString(id)}`);
    return rows[0];
  }, { timeoutMs: 5000, what: `requests row ${id}` });
}

async function assertUsageRow(id, { provider, stream = 0 } = {}) {
  const row = await usageRow(id);
  assert.equal(row.api, 'messages');
  assert.equal(row.status, 200);
  assert.equal(row.stream, stream);
  if (provider) assert.equal(row.provider, provider);
  assert.ok(row.prompt_tokens > 0, `prompt_tokens recorded (${row.prompt_tokens})`);
  assert.ok(row.completion_tokens > 0, `completion_tokens recorded (${row.completion_tokens})`);
  return row;
}

before(async () => {
  const providers = [];
  for (const k of KINDS) {
    emus[k.kind] = await k.start();
    providers.push({ name: k.kind, kind: k.kind, base_url: emus[k.kind].url, models: [k.model], api_key_env: 'SB_E2E_PROVIDER_KEY' });
  }
  gw = await startGateway({ config: { providers }, env: { SB_E2E_PROVIDER_KEY: KEY } });
  client = new Anthropic({ baseURL: gw.url, apiKey: 'sk-ant-client-unused', maxRetries: 0 });
});
after(async () => {
  if (gw) await gw.stop();
  for (const e of Object.values(emus)) await e.close();
});

for (const k of KINDS) {
  describe(`anthropic SDK → ${k.kind}`, () => {
    const model = `${k.kind}/${k.model}`;

    test('messages.create', async () => {
      const { id, opts } = rid(`create-${k.kind}`);
      const m = await client.messages.create({
        model, max_tokens: 64, messages: [{ role: 'user', content: 'Hello there' }],
      }, opts);
      assert.equal(m.type, 'message');
      assert.equal(m.role, 'assistant');
      assert.match(m.id, /^msg_/);
      assert.equal(m.content.length, 1);
      assert.equal(m.content[0].type, 'text');
      assert.match(m.content[0].text, /Hello there/);
      assert.equal(m.stop_reason, 'end_turn');
      assert.ok(m.usage.input_tokens > 0 && m.usage.output_tokens > 0, JSON.stringify(m.usage));
      const row = await assertUsageRow(id, { provider: k.kind });
      assert.equal(row.completion_tokens, m.usage.output_tokens, 'the recorded completion is the answer\'s');
    });

    test('messages.stream and finalMessage', async () => {
      const { id, opts } = rid(`stream-${k.kind}`);
      const stream = client.messages.stream({
        model, max_tokens: 64, messages: [{ role: 'user', content: 'Stream this please' }],
      }, opts);
      let deltas = '';
      const events = [];
      stream.on('text', (t) => { deltas += t; });
      stream.on('streamEvent', (ev) => events.push(ev.type));
      const m = await stream.finalMessage();
      assert.equal(m.content[0].type, 'text');
      assert.match(m.content[0].text, /Stream this please/);
      assert.equal(deltas, m.content[0].text, 'text deltas add up to the final text');
      assert.equal(m.stop_reason, 'end_turn');
      assert.ok(m.usage.input_tokens > 0, 'input_tokens from message_start');
      assert.ok(m.usage.output_tokens > 0, 'output_tokens from message_delta');
      assert.equal(events[0], 'message_start');
      assert.equal(events[events.length - 1], 'message_stop');
      assert.ok(events.filter((e) => e === 'content_block_delta').length >= 2, 'streamed in pieces');
      await assertUsageRow(id, { provider: k.kind, stream: 1 });
    });

    test('tool round trip', async () => {
      const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
      const t1 = rid(`tool1-${k.kind}`);
      const first = await client.messages.create({
        model, max_tokens: 256, messages, tools: TOOLS, tool_choice: { type: 'tool', name: 'get_weather' },
      }, t1.opts);
      assert.equal(first.stop_reason, 'tool_use');
      const uses = first.content.filter((b) => b.type === 'tool_use');
      assert.equal(uses.length, 1, JSON.stringify(first.content));
      assert.equal(uses[0].name, 'get_weather');
      assert.match(uses[0].id, /^[a-zA-Z0-9_-]+$/);
      assert.equal(typeof uses[0].input, 'object', 'input is an object, not a string');
      assert.equal(typeof uses[0].input.city, 'string');

      messages.push({ role: 'assistant', content: first.content });
      messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: uses[0].id, content: '18C and sunny' }] });
      const t2 = rid(`tool2-${k.kind}`);
      const second = await client.messages.create({ model, max_tokens: 256, messages, tools: TOOLS }, t2.opts);
      assert.equal(second.stop_reason, 'end_turn');
      const text = second.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
      assert.ok(text.length > 0, 'a final answer');
      if (k.results) assert.match(text, /18C and sunny/, 'the model saw the tool result');
      await assertUsageRow(t1.id, { provider: k.kind });
      await assertUsageRow(t2.id, { provider: k.kind });
    });

    test('streamed tool call', async () => {
      const { id, opts } = rid(`toolstream-${k.kind}`);
      const m = await client.messages.stream({
        model, max_tokens: 256, messages: [{ role: 'user', content: 'Weather in Oslo?' }],
        tools: TOOLS, tool_choice: { type: 'tool', name: 'get_weather' },
      }, opts).finalMessage();
      assert.equal(m.stop_reason, 'tool_use');
      const use = m.content.find((b) => b.type === 'tool_use');
      assert.ok(use, JSON.stringify(m.content));
      assert.equal(use.name, 'get_weather');
      assert.equal(typeof use.input.city, 'string', 'input_json_delta fragments parse to the input');
      await assertUsageRow(id, { provider: k.kind, stream: 1 });
    });

    test('max_tokens missing → 400 BadRequestError', async () => {
      await assert.rejects(
        client.messages.create({ model, messages: [{ role: 'user', content: 'hi' }] }),
        (err) => {
          assert.ok(err instanceof Anthropic.BadRequestError, `${err.constructor.name}: ${err.message}`);
          assert.equal(err.status, 400);
          assert.equal(err.error.type, 'error');
          assert.equal(err.error.error.type, 'invalid_request_error');
          assert.match(err.error.error.message, /max_tokens/);
          return true;
        });
    });
  });
}

describe('anthropic SDK: errors, models, token counting', () => {
  test('unknown model → NotFoundError 404 in Anthropic\'s shape', async () => {
    for (const model of ['nosuch/model-x', 'anthropic/claude-nonexistent-9']) {
      await assert.rejects(
        client.messages.create({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
        (err) => {
          assert.ok(err instanceof Anthropic.NotFoundError, `${model}: ${err.constructor.name}: ${err.message}`);
          assert.equal(err.status, 404);
          assert.equal(err.error.type, 'error');
          assert.equal(err.error.error.type, 'not_found_error');
          assert.equal(typeof err.error.error.message, 'string');
          return true;
        });
    }
  });

  test('unknown model in a stream → NotFoundError before any event', async () => {
    const stream = client.messages.stream({ model: 'nosuch/model-y', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
    await assert.rejects(stream.finalMessage(), (err) => err instanceof Anthropic.NotFoundError && err.status === 404);
  });

  test('client.beta.messages (?beta=true, anthropic-beta) on the relay and a translated kind', async () => {
    for (const k of KINDS) {
      const m = await client.beta.messages.create({
        model: `${k.kind}/${k.model}`, max_tokens: 32, betas: ['token-efficient-tools-2025-02-19'],
        messages: [{ role: 'user', content: 'Beta hello' }],
      });
      assert.equal(m.type, 'message');
      assert.match(m.content[0].text, /Beta hello/);
    }
    const up = emus.anthropic.lastRequest();
    assert.equal(up.query, '', 'the gateway\'s ?beta=true is not forwarded');
    assert.equal(up.headers['anthropic-beta'], 'token-efficient-tools-2025-02-19');
  });

  test('models.list in Anthropic\'s shape, and models.retrieve', async () => {
    const models = [];
    for await (const m of client.models.list()) models.push(m);
    const ids = models.map((m) => m.id);
    for (const k of KINDS) assert.ok(ids.includes(`${k.kind}/${k.model}`), `${k.kind} model listed: ${ids}`);
    for (const m of models) {
      assert.equal(m.type, 'model');
      assert.equal(typeof m.display_name, 'string');
      assert.ok(!Number.isNaN(Date.parse(m.created_at)), `created_at is an RFC 3339 date: ${m.created_at}`);
    }
    const page = await client.models.list();
    assert.equal(page.has_more, false);
    assert.equal(page.first_id, ids[0]);
    assert.equal(page.last_id, ids[ids.length - 1]);

    const one = await client.models.retrieve('anthropic/claude-sonnet-4-5');
    assert.equal(one.id, 'anthropic/claude-sonnet-4-5');
    assert.equal(one.type, 'model');
    await assert.rejects(client.models.retrieve('nosuch/model'), (err) => err instanceof Anthropic.NotFoundError);
  });

  test('countTokens on anthropic is relayed to the upstream', async () => {
    const emu = emus.anthropic;
    const before = emu.requestsTo('/v1/messages/count_tokens').length;
    const params = {
      model: 'anthropic/claude-sonnet-4-5',
      system: 'You are terse.',
      messages: [{ role: 'user', content: 'Count the words in this message please' }],
    };
    const { data, response } = await client.messages.countTokens(params).withResponse();
    const ups = emu.requestsTo('/v1/messages/count_tokens');
    assert.equal(ups.length, before + 1, 'the upstream was asked');
    const up = ups[ups.length - 1];
    assert.equal(up.status, 200, `upstream accepted the relayed body: ${up.rawBody}`);
    assert.equal(up.body.model, 'claude-sonnet-4-5', 'only the model is rewritten');
    assert.deepEqual(up.body.messages, params.messages);
    assert.equal(up.body.system, params.system);
    // The emulator counts words: 3 (system) + 7 (message) + 1 (per message).
    assert.equal(data.input_tokens, 11);
    assert.equal(data.estimated, undefined, 'an exact count is not marked estimated');
    assert.equal(response.headers.get('x-switchboard-token-count'), null);
  });

  test('countTokens on openai and gemini is an estimate, said so', async () => {
    const upstreamCalls = () => emus.openai.stats.requests.length + emus.gemini.stats.requests.length;
    const calls = upstreamCalls();
    const short = await client.messages.countTokens({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    const long = await client.messages.countTokens({
      model: 'gemini/gemini-2.5-flash',
      system: 'You are a careful assistant. '.repeat(20),
      messages: [{ role: 'user', content: 'Tell me a long story about the sea. '.repeat(20) }],
      tools: TOOLS,
    }).withResponse();
    for (const r of [short, long]) {
      assert.equal(r.response.headers.get('x-switchboard-token-count'), 'estimate');
      assert.equal(r.data.estimated, true);
      assert.ok(Number.isInteger(r.data.input_tokens) && r.data.input_tokens > 0, JSON.stringify(r.data));
    }
    // ~4 characters a token: 20 × (29 + 36) characters is ~325 tokens.
    assert.ok(long.data.input_tokens > 250 && long.data.input_tokens < 1000, `estimate in range: ${long.data.input_tokens}`);
    assert.ok(long.data.input_tokens > short.data.input_tokens * 20);
    assert.equal(upstreamCalls(), calls, 'an estimate calls no upstream');
  });

  test('count_tokens and messages rows carry their api labels', async () => {
    const { id, opts } = rid('count-label');
    await client.messages.countTokens({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, opts);
    const row = await usageRow(id);
    assert.equal(row.api, 'count_tokens');
    assert.equal(row.status, 200);
    const rows = await queryDb(gw.dbPath, "SELECT api, count(*) AS n FROM requests WHERE request_id LIKE 'e2e-anth-%' GROUP BY api");
    const byApi = Object.fromEntries(rows.map((r) => [r.api, r.n]));
    assert.ok(byApi.messages >= KINDS.length * 5, `a messages row per turn: ${JSON.stringify(byApi)}`);
  });
});
