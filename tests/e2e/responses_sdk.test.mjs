// The official openai SDK drives /v1/responses through the gateway to three
// provider kinds (openai, anthropic, gemini), each against its strict
// emulator: a plain answer, a stream, a function-tool round trip continued
// with previous_response_id, a conversation that changes provider between
// turns, the stored-response endpoints, and a usage record for every turn.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { startGateway, queryDb, sqlString, waitFor } from '../integration/harness.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';
import { startAnthropicEmulator } from '../emulators/anthropic.mjs';
import { startGeminiEmulator } from '../emulators/gemini.mjs';

const KEY = 'e2e-provider-key-0123456789';
const TOOLS = [{
  type: 'function', name: 'get_weather', description: 'Weather in a city', strict: false,
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
}];

// `results`: the emulator's answer after a tool result quotes the result
// (the OpenAI emulator repeats the last user text instead).
const KINDS = [
  { kind: 'openai', start: () => startOpenAIEmulator({ apiKey: KEY, quiet: true }), model: 'gpt-4o-mini', results: false },
  { kind: 'anthropic', start: () => startAnthropicEmulator({ apiKey: KEY, quiet: true }), model: 'claude-sonnet-4-5', results: true },
  { kind: 'gemini', start: () => startGeminiEmulator({ apiKey: KEY, quiet: true }), model: 'gemini-2.5-flash', results: true },
];
const MODEL = Object.fromEntries(KINDS.map((k) => [k.kind, `${k.kind}/${k.model}`]));

const emus = {};
let gw;
let client;
let seq = 0;
/** Request options with a fresh x-request-id (to find the usage row). */
const rid = (what) => {
  const id = `e2e-resp-${what}-${++seq}`;
  return { id, opts: { headers: { 'x-request-id': id } } };
};

async function assertUsageRow(id, { provider, stream = 0 } = {}) {
  const row = await waitFor(async () => {
    const rows = await queryDb(gw.dbPath, `SELECT * FROM requests WHERE request_id = ${sqlString(id)}`);
    return rows[0];
  }, { timeoutMs: 5000, what: `requests row ${id}` });
  assert.equal(row.api, 'responses');
  assert.equal(row.status, 200);
  assert.equal(row.stream, stream);
  if (provider) assert.equal(row.provider, provider);
  assert.ok(row.prompt_tokens > 0, `prompt_tokens recorded (${row.prompt_tokens})`);
  assert.ok(row.completion_tokens > 0, `completion_tokens recorded (${row.completion_tokens})`);
  return row;
}

function messageText(resp) {
  return resp.output.filter((o) => o.type === 'message')
    .flatMap((o) => o.content).filter((c) => c.type === 'output_text').map((c) => c.text).join('');
}

before(async () => {
  const providers = [];
  for (const k of KINDS) {
    emus[k.kind] = await k.start();
    providers.push({ name: k.kind, kind: k.kind, base_url: emus[k.kind].url, models: [k.model], api_key_env: 'SB_E2E_PROVIDER_KEY' });
  }
  gw = await startGateway({ config: { providers }, env: { SB_E2E_PROVIDER_KEY: KEY } });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'client-key-unused', maxRetries: 0 });
});
after(async () => {
  if (gw) await gw.stop();
  for (const e of Object.values(emus)) await e.close();
});

for (const k of KINDS) {
  describe(`openai SDK responses → ${k.kind}`, () => {
    const model = MODEL[k.kind];

    test('create (non-stream): output_text and usage', async () => {
      const { id, opts } = rid(`create-${k.kind}`);
      const r = await client.responses.create({ model, input: 'Hello there', max_output_tokens: 64 }, opts);
      assert.equal(r.object, 'response');
      assert.match(r.id, /^resp_/);
      assert.equal(r.status, 'completed');
      assert.equal(r.model, model);
      assert.match(r.output_text, /Hello there/);
      assert.equal(r.output_text, messageText(r));
      const msg = r.output.find((o) => o.type === 'message');
      assert.equal(msg.role, 'assistant');
      assert.equal(msg.status, 'completed');
      assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0, JSON.stringify(r.usage));
      assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
      const row = await assertUsageRow(id, { provider: k.kind });
      assert.equal(row.completion_tokens, r.usage.output_tokens);
    });

    test('stream: event order, deltas, sequence numbers', async () => {
      const { id, opts } = rid(`stream-${k.kind}`);
      const stream = await client.responses.create({ model, input: 'Stream this please', stream: true }, opts);
      const events = [];
      for await (const ev of stream) events.push(ev);
      const types = events.map((e) => e.type);
      assert.equal(types[0], 'response.created');
      assert.equal(types[1], 'response.in_progress');
      assert.equal(types[types.length - 1], 'response.completed');
      assert.equal(types.filter((t) => t === 'response.completed').length, 1);
      for (let i = 0; i < events.length; i++) {
        assert.equal(typeof events[i].sequence_number, 'number', `${types[i]} has a sequence_number`);
        if (i) assert.ok(events[i].sequence_number > events[i - 1].sequence_number, `sequence_number increases at ${i} (${types[i]})`);
      }
      assert.equal(events[0].sequence_number, 0);
      const deltas = events.filter((e) => e.type === 'response.output_text.delta');
      assert.ok(deltas.length >= 2, 'the text arrives in pieces');
      const text = deltas.map((e) => e.delta).join('');
      assert.match(text, /Stream this please/);
      const done = events.find((e) => e.type === 'response.output_text.done');
      assert.equal(done.text, text);
      // Item events sit between created and completed, each in its place.
      const at = (t) => types.indexOf(t);
      assert.ok(at('response.output_item.added') < at('response.content_part.added'));
      assert.ok(at('response.content_part.added') < at('response.output_text.delta'));
      assert.ok(types.lastIndexOf('response.output_text.delta') < at('response.output_text.done'));
      assert.ok(at('response.output_text.done') < at('response.content_part.done'));
      assert.ok(at('response.content_part.done') < at('response.output_item.done'));
      const final = events[events.length - 1].response;
      assert.equal(final.status, 'completed');
      assert.equal(messageText(final), text, 'the completed response holds the streamed text');
      assert.ok(final.usage.output_tokens > 0 && final.usage.input_tokens > 0);
      assert.equal(final.id, events[0].response.id);
      await assertUsageRow(id, { provider: k.kind, stream: 1 });
    });

    test('function tool round trip with previous_response_id', async () => {
      const t1 = rid(`tool1-${k.kind}`);
      const first = await client.responses.create({
        model, input: 'What is the weather in Paris?', tools: TOOLS,
        tool_choice: { type: 'function', name: 'get_weather' },
      }, t1.opts);
      const calls = first.output.filter((o) => o.type === 'function_call');
      assert.equal(calls.length, 1, JSON.stringify(first.output));
      assert.equal(calls[0].name, 'get_weather');
      assert.equal(typeof calls[0].call_id, 'string');
      assert.ok(calls[0].call_id.length > 0);
      assert.equal(typeof JSON.parse(calls[0].arguments).city, 'string');

      const t2 = rid(`tool2-${k.kind}`);
      const second = await client.responses.create({
        model, previous_response_id: first.id, tools: TOOLS,
        input: [{ type: 'function_call_output', call_id: calls[0].call_id, output: '18C and sunny' }],
      }, t2.opts);
      assert.equal(second.status, 'completed');
      assert.equal(second.previous_response_id, first.id);
      assert.equal(second.output.filter((o) => o.type === 'function_call').length, 0);
      assert.ok(second.output_text.length > 0, 'a final answer');
      if (k.results) assert.match(second.output_text, /18C and sunny/, 'the model saw the tool result');
      await assertUsageRow(t1.id, { provider: k.kind });
      await assertUsageRow(t2.id, { provider: k.kind });
    });

    test('streamed function call', async () => {
      const { id, opts } = rid(`toolstream-${k.kind}`);
      const stream = await client.responses.create({
        model, input: 'Weather in Oslo?', tools: TOOLS, tool_choice: { type: 'function', name: 'get_weather' }, stream: true,
      }, opts);
      const events = [];
      for await (const ev of stream) events.push(ev);
      const args = events.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => e.delta).join('');
      const done = events.find((e) => e.type === 'response.function_call_arguments.done');
      assert.ok(done, events.map((e) => e.type).join(','));
      assert.equal(done.arguments, args, 'argument deltas add up');
      assert.equal(typeof JSON.parse(args).city, 'string');
      const final = events[events.length - 1];
      assert.equal(final.type, 'response.completed');
      const call = final.response.output.find((o) => o.type === 'function_call');
      assert.equal(call.name, 'get_weather');
      assert.equal(call.arguments, args);
      await assertUsageRow(id, { provider: k.kind, stream: 1 });
    });
  });
}

describe('openai SDK responses: stored conversations', () => {
  test('previous_response_id continues on a different provider', async () => {
    const t1 = rid('switch1');
    const first = await client.responses.create({ model: MODEL.gemini, instructions: 'Speak like a pirate.', input: 'My name is Ada Lovelace' }, t1.opts);
    const gup = emus.gemini.lastRequest(':generateContent').body;
    assert.match(JSON.stringify(gup.systemInstruction), /Speak like a pirate/, 'instructions reach the first turn');
    assert.match(first.output_text, /Ada Lovelace/);
    const t2 = rid('switch2');
    const before = emus.anthropic.requestsTo('/v1/messages').length;
    const second = await client.responses.create({
      model: MODEL.anthropic, previous_response_id: first.id, input: 'What is my name?',
    }, t2.opts);
    assert.equal(second.status, 'completed');
    assert.equal(second.model, MODEL.anthropic);
    assert.equal(second.previous_response_id, first.id);
    assert.match(second.output_text, /What is my name/);
    // The Anthropic upstream got the whole conversation, Gemini's answer included.
    const ups = emus.anthropic.requestsTo('/v1/messages');
    assert.equal(ups.length, before + 1);
    const msgs = ups[ups.length - 1].body.messages;
    const flat = (m) => (typeof m.content === 'string' ? m.content : m.content.map((b) => b.text || '').join(' '));
    assert.deepEqual(msgs.map((m) => m.role), ['user', 'assistant', 'user']);
    assert.doesNotMatch(JSON.stringify(ups[ups.length - 1].body.system ?? ''), /pirate/, 'instructions are per call, not carried over');
    assert.match(flat(msgs[0]), /My name is Ada Lovelace/);
    assert.equal(flat(msgs[1]), first.output_text);
    assert.match(flat(msgs[2]), /What is my name\?/);
    await assertUsageRow(t1.id, { provider: 'gemini' });
    const row2 = await assertUsageRow(t2.id, { provider: 'anthropic' });
    const row1 = await assertUsageRow(t1.id);
    assert.ok(row2.prompt_tokens > row1.prompt_tokens, 'turn 2 paid for the history');

    // And back to OpenAI for a third turn, from the second.
    const t3 = rid('switch3');
    const third = await client.responses.create({ model: MODEL.openai, previous_response_id: second.id, input: 'Thanks!' }, t3.opts);
    assert.match(third.output_text, /Thanks!/);
    const up3 = emus.openai.lastRequest().body.messages;
    assert.deepEqual(up3.map((m) => m.role), ['user', 'assistant', 'user', 'assistant', 'user']);
    await assertUsageRow(t3.id, { provider: 'openai' });
  });

  test('a tool call on one provider, its output on another', async () => {
    const first = await client.responses.create({
      model: MODEL.openai, input: 'Weather in Rome?', tools: TOOLS, tool_choice: { type: 'function', name: 'get_weather' },
    });
    const call = first.output.find((o) => o.type === 'function_call');
    assert.ok(call, JSON.stringify(first.output));
    const second = await client.responses.create({
      model: MODEL.gemini, previous_response_id: first.id, tools: TOOLS,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '25C and clear' }],
    });
    assert.equal(second.status, 'completed');
    assert.match(second.output_text, /25C and clear/);
  });

  test('retrieve, input_items, delete, then 404', async () => {
    const created = await client.responses.create({
      model: MODEL.openai, instructions: 'Be brief.',
      input: [{ role: 'user', content: 'Remember the number 42' }],
      metadata: { topic: 'numbers' },
    });
    const got = await client.responses.retrieve(created.id);
    assert.equal(got.id, created.id);
    assert.equal(got.object, 'response');
    assert.equal(got.status, 'completed');
    assert.equal(got.output_text, created.output_text);
    assert.deepEqual(got.output, created.output);
    assert.deepEqual(got.usage, created.usage);
    assert.deepEqual(got.metadata, { topic: 'numbers' });
    assert.equal(got.store, true, 'store defaults to true');

    // Listed oldest first on request, each item normalized to a typed
    // message with input_text parts, as OpenAI answers.
    const items = [];
    for await (const it of client.responses.inputItems.list(created.id, { order: 'asc' })) items.push(it);
    assert.equal(items.length, 1, JSON.stringify(items));
    assert.equal(items[0].type, 'message', JSON.stringify(items[0]));
    assert.equal(items[0].role, 'user');
    assert.match(items[0].id, /^msg_/);
    assert.deepEqual(items[0].content, [{ type: 'input_text', text: 'Remember the number 42' }]);

    const del = await client.responses.delete(created.id).asResponse();
    assert.equal(del.status, 200);
    assert.deepEqual(await del.json(), { id: created.id, object: 'response.deleted', deleted: true });

    await assert.rejects(client.responses.retrieve(created.id), (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `${err.constructor.name}: ${err.message}`);
      assert.equal(err.status, 404);
      return true;
    });
    await assert.rejects(client.responses.delete(created.id), (err) => err instanceof OpenAI.NotFoundError);
    await assert.rejects(client.responses.create({ model: MODEL.openai, previous_response_id: created.id, input: 'again' }),
      (err) => err instanceof OpenAI.NotFoundError && err.param === 'previous_response_id');
  });

  test('input_items: default order is newest first; order and limit are honoured', async () => {
    const created = await client.responses.create({
      model: MODEL.openai,
      input: [
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'first item' }] },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'second item' }] },
      ],
    });
    const texts = (items) => items.map((it) => it.content.map((c) => c.text).join(''));
    const asc = [];
    for await (const it of client.responses.inputItems.list(created.id, { order: 'asc' })) asc.push(it);
    assert.deepEqual(texts(asc), ['first item', 'second item']);
    const page = await client.responses.inputItems.list(created.id);
    assert.deepEqual(texts(page.data), ['second item', 'first item'], 'order defaults to desc');
    const one = await client.responses.inputItems.list(created.id, { order: 'asc', limit: 1 });
    assert.deepEqual(texts(one.data), ['first item'], 'limit 1 gives one item');
    assert.equal(one.has_more, true);
    const all = [];
    for await (const it of client.responses.inputItems.list(created.id, { order: 'asc', limit: 1 })) all.push(it);
    assert.deepEqual(texts(all), ['first item', 'second item'], 'paging with after reaches every item once');
  });

  test('store:false cannot be continued or retrieved', async () => {
    const r = await client.responses.create({ model: MODEL.anthropic, input: 'Do not keep this', store: false });
    assert.equal(r.store, false);
    assert.match(r.output_text, /Do not keep this/);
    await assert.rejects(client.responses.create({ model: MODEL.anthropic, previous_response_id: r.id, input: 'next' }), (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `${err.constructor.name}: ${err.message}`);
      assert.equal(err.status, 404);
      assert.equal(err.param, 'previous_response_id');
      return true;
    });
    await assert.rejects(client.responses.retrieve(r.id), (err) => err instanceof OpenAI.NotFoundError);
  });

  test('unknown previous_response_id → 404 naming the parameter', async () => {
    await assert.rejects(client.responses.create({ model: MODEL.gemini, previous_response_id: 'resp_doesnotexist0000', input: 'hi' }), (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `${err.constructor.name}: ${err.message}`);
      assert.equal(err.param, 'previous_response_id');
      assert.match(err.message, /resp_doesnotexist0000/);
      return true;
    });
  });

  test('hosted tools are dropped and listed in x-switchboard-dropped-params', async () => {
    const { data, response } = await client.responses.create({
      model: MODEL.openai, input: 'Hello with tools', tools: [{ type: 'web_search' }, ...TOOLS],
    }).withResponse();
    assert.equal(data.status, 'completed');
    assert.match(response.headers.get('x-switchboard-dropped-params') || '', /web_search/);
    const up = emus.openai.lastRequest().body;
    assert.deepEqual(up.tools.map((t) => t.function.name), ['get_weather'], 'only the function tool went upstream');
  });
});
