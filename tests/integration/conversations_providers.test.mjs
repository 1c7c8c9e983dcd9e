// One stored conversation continued across three provider kinds (issue 13
// item 5, docs/conversations.md "Provider state across switches"): an
// OpenAI-compatible model, Anthropic with thinking and a tool loop, Gemini 3
// with thought signatures and a tool loop, then back to Anthropic (from
// /v1/messages), back to Gemini (from /v1/responses) and back to the
// OpenAI-compatible model. The emulators are as strict as the real APIs:
// Anthropic refuses a thinking block whose signature it did not issue and a
// tool loop whose assistant turn does not start with its thinking; Gemini 3
// refuses a current-turn function call without a signature it issued. No
// turn may be refused, and each upstream is checked for exactly the state
// it should get: Anthropic its own signed thinking, Gemini its own thought
// signatures, the OpenAI-compatible upstream neither.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startGateway, request, parseSSE, queryDb, sqlString } from './harness.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';
import { startAnthropicEmulator } from '../emulators/anthropic.mjs';
import { startGeminiEmulator } from '../emulators/gemini.mjs';

const OAI_KEY = 'conv-prov-openai-key-0123456789';
const ANT_KEY = 'sk-ant-conv-prov-0123456789';
const GEM_KEY = 'AIza-conv-prov-0123456789';
const HDR = 'x-switchboard-conversation';
const AV = { 'anthropic-version': '2023-06-01' };

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather', description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

/** POST body to path; a streamed answer is read to its end and parsed. */
async function post(gw, path, body, headers = {}) {
  const r = await request(`${gw.url}${path}`, { body, headers });
  if (/^text\/event-stream/.test(r.headers['content-type'] || '')) {
    r.events = parseSSE(r.text).filter((e) => e.data !== '[DONE]').map((e) => JSON.parse(e.data));
  }
  return r;
}

/** A streamed Chat Completions answer put together: content, tool calls. */
function joined(events) {
  const out = { content: '', reasoning: '', calls: [] };
  for (const c of events) {
    const d = c.choices && c.choices[0] && c.choices[0].delta;
    if (!d) continue;
    if (d.content) out.content += d.content;
    if (d.reasoning_content) out.reasoning += d.reasoning_content;
    for (const tc of d.tool_calls || []) {
      if (!out.calls[tc.index]) out.calls[tc.index] = { id: tc.id, name: tc.function.name, arguments: '' };
      out.calls[tc.index].arguments += tc.function.arguments || '';
    }
  }
  return out;
}

/** Every thinking block an Anthropic request carries, with where it is. */
function thinkingBlocks(body) {
  const out = [];
  body.messages.forEach((m, i) => {
    if (!Array.isArray(m.content)) return;
    m.content.forEach((b, k) => {
      if (b.type === 'thinking' || b.type === 'redacted_thinking') out.push({ i, k, ...b });
    });
  });
  return out;
}

describe('a conversation across OpenAI-compatible, Anthropic and Gemini', () => {
  let oai;
  let ant;
  let gem;
  let gw;
  let conv;
  const antSigs = []; // thinking signatures Anthropic issued, in order
  let gemSig; // the thought signature of Gemini's tool call
  let gemCallId;

  before(async () => {
    oai = await startOpenAIEmulator({ apiKey: OAI_KEY, quiet: true });
    ant = await startAnthropicEmulator({ apiKey: ANT_KEY });
    gem = await startGeminiEmulator({ apiKey: GEM_KEY });
    gw = await startGateway({
      env: { UP_OAI: OAI_KEY, UP_ANT: ANT_KEY, UP_GEM: GEM_KEY },
      config: {
        // These tests read the database file right after each answer: the
        // writer commits every record at once instead of gathering batches.
        limits: { store_batch_ms: 0 },
        providers: [
          { name: 'oai', kind: 'openai', base_url: oai.url, api_key_env: 'UP_OAI', models: ['gpt-4o-mini'] },
          { name: 'an', kind: 'anthropic', base_url: ant.url, api_key_env: 'UP_ANT', models: ['claude-sonnet-4-5'] },
          { name: 'gm', kind: 'gemini', base_url: gem.url, api_key_env: 'UP_GEM', models: ['gemini-3-pro-preview'] },
        ],
      },
    });
    const r = await request(`${gw.url}/v1/conversations`, { body: { metadata: { task: 'switches' } } });
    assert.equal(r.status, 200, r.text);
    conv = r.json.id;
  });
  after(async () => {
    if (gw) await gw.stop();
    for (const e of [oai, ant, gem]) if (e) await e.close();
  });

  const chat = (body) => post(gw, '/v1/chat/completions', body, { [HDR]: conv });

  test('1. OpenAI-compatible: the first turn', async () => {
    const r = await chat({ model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: 'one' }] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(oai.lastRequest().body.messages, [{ role: 'user', content: 'one' }]);
  });

  test('2. Anthropic with thinking: a tool call, its thinking signed', async () => {
    const r = await chat({
      model: 'an/claude-sonnet-4-5', reasoning_effort: 'low', tools: [WEATHER],
      messages: [{ role: 'user', content: 'get_weather in Paris' }],
    });
    assert.equal(r.status, 200, r.text);
    const msg = r.json.choices[0].message;
    assert.equal(msg.tool_calls.length, 1);
    assert.match(msg.reasoning_content, /^Thinking about/);
    const up = ant.lastRequest().body;
    assert.deepEqual(up.thinking, { type: 'enabled', budget_tokens: 1024 });
    assert.deepEqual(thinkingBlocks(up), [], 'no thinking in the history yet');
    assert.deepEqual(up.messages.map((m) => m.role), ['user', 'assistant', 'user']);
    const sig = (msg.reasoning_details || [])[0];
    assert.equal(sig.format, 'anthropic-claude-v1');
    antSigs.push(sig.signature);
  });

  test('3. Anthropic, streamed: the tool result; the tool loop gets its signed thinking back', async () => {
    const call = (await items()).find((i) => i.type === 'function_call');
    const r = await chat({
      model: 'an/claude-sonnet-4-5', reasoning_effort: 'low', tools: [WEATHER], stream: true,
      messages: [{ role: 'tool', tool_call_id: call.call_id, content: '18C' }],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(joined(r.events).content, 'Tool results: 18C');
    const up = ant.lastRequest().body;
    const n = up.messages.length;
    assert.equal(up.messages[n - 2].content[0].type, 'thinking', 'the tool loop starts with its thinking');
    assert.equal(up.messages[n - 2].content[0].signature, antSigs[0]);
    assert.equal(up.messages[n - 2].content[1].type, 'tool_use');
    assert.equal(up.messages[n - 1].content[0].type, 'tool_result');
    // The streamed answer's signature is stored too.
    const rs = (await items()).filter((i) => i.type === 'reasoning');
    assert.equal(rs.length, 2);
    for (const it of rs) {
      assert.equal(it.format, 'anthropic-claude-v1');
      assert.equal(it.provider, 'an');
    }
    assert.equal(rs[0].encrypted_content, antSigs[0]);
    antSigs.push(rs[1].encrypted_content);
    assert.match(antSigs[1], /^sig_/);
  });

  test('4. Gemini 3: a tool call with a thought signature; no Anthropic state sent', async () => {
    const r = await chat({
      model: 'gm/gemini-3-pro-preview', tools: [WEATHER],
      messages: [{ role: 'user', content: '[tools] and in Rome?' }],
    });
    assert.equal(r.status, 200, r.text);
    const tc = r.json.choices[0].message.tool_calls[0];
    gemCallId = tc.id;
    gemSig = [...gem.issuedSignatures].pop();
    assert.equal(tc.extra_content.google.thought_signature, gemSig);
    const raw = JSON.stringify(gem.lastRequest().body);
    for (const s of antSigs) assert.ok(!raw.includes(s), 'no Anthropic signature at Gemini');
    assert.ok(!raw.includes('thoughtSignature'), 'no signature in the history yet');
  });

  test('5. Gemini 3, streamed: the tool result; its own signature goes back', async () => {
    const r = await chat({
      model: 'gm/gemini-3-pro-preview', tools: [WEATHER], stream: true,
      messages: [{ role: 'tool', tool_call_id: gemCallId, content: '25C' }],
    });
    assert.equal(r.status, 200, r.text);
    assert.match(joined(r.events).content, /^Tool results: get_weather=/);
    const contents = gem.lastRequest().body.contents;
    const sigs = contents.flatMap((c) => c.parts.filter((p) => p.thoughtSignature).map((p) => p.thoughtSignature));
    assert.deepEqual(sigs, [gemSig]);
    const raw = JSON.stringify(contents);
    for (const s of antSigs) assert.ok(!raw.includes(s));
  });

  test('6. back to Anthropic from /v1/messages: its own thinking, never Gemini\'s', async () => {
    const r = await post(gw, '/v1/messages', {
      model: 'an/claude-sonnet-4-5', max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: [{ role: 'user', content: 'back to claude' }],
    }, { ...AV, [HDR]: conv });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.type, 'message');
    assert.equal(r.json.content[0].type, 'thinking');
    assert.match(r.json.content[0].signature, /^sig_/, 'the Messages client gets the real signature');
    antSigs.push(r.json.content[0].signature);
    const up = ant.lastRequest().body;
    const blocks = thinkingBlocks(up);
    assert.deepEqual(blocks.map((b) => b.signature), antSigs.slice(0, 2));
    assert.ok(blocks.every((b) => b.k === 0), 'thinking first in its assistant message');
    const raw = JSON.stringify(up);
    assert.ok(!raw.includes(gemSig) && !raw.includes('__ts_'), 'no Gemini signature at Anthropic, not even in a tool id');
    const uses = up.messages.flatMap((m) => m.content.filter((b) => b.type === 'tool_use').map((b) => b.id));
    const results = up.messages.flatMap((m) => m.content.filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id));
    assert.equal(uses.length, 2);
    assert.deepEqual(results, uses, 'calls and results still pair');
    assert.ok(!raw.includes('thoughtSignature') && !raw.includes('extra_content') && !raw.includes('reasoning_details'));
    assert.equal(up.messages[up.messages.length - 1].content[0].text, 'back to claude');
  });

  test('7. back to Gemini from /v1/responses: its own signature, never Anthropic\'s', async () => {
    const r = await post(gw, '/v1/responses', { model: 'gm/gemini-3-pro-preview', input: 'back to gemini', conversation: conv });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'completed');
    const contents = gem.lastRequest().body.contents;
    const call = contents.find((c) => c.role === 'model' && c.parts.some((p) => p.functionCall && p.thoughtSignature));
    assert.ok(call, 'the Gemini tool call keeps its signature');
    assert.equal(call.parts.find((p) => p.functionCall).thoughtSignature, gemSig);
    const raw = JSON.stringify(contents);
    for (const s of antSigs) assert.ok(!raw.includes(s), 'no Anthropic signature at Gemini');
    assert.equal(contents[contents.length - 1].parts[0].text, 'back to gemini');
  });

  test('8. back to the OpenAI-compatible model: neither kind of state', async () => {
    const r = await chat({ model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: 'and openai again' }] });
    assert.equal(r.status, 200, r.text);
    const msgs = oai.lastRequest().body.messages;
    const raw = JSON.stringify(msgs);
    assert.ok(!raw.includes('reasoning_details') && !raw.includes('thinking') && !raw.includes('extra_content'));
    for (const s of [...antSigs, gemSig]) assert.ok(!raw.includes(s.slice(0, 12).replace(/[+/=]/g, '')));
    const ids = msgs.flatMap((m) => [...(m.tool_calls || []).map((t) => t.id), ...(m.tool_call_id ? [m.tool_call_id] : [])]);
    assert.equal(ids.length, 4, 'two tool calls and their results');
    for (const id of ids) assert.ok(id.length <= 40 && !id.includes('__ts_'), id);
    // Calls and results still pair.
    const calls = msgs.flatMap((m) => (m.tool_calls || []).map((t) => t.id));
    const results = msgs.filter((m) => m.role === 'tool').map((m) => m.tool_call_id);
    assert.deepEqual(results, calls);
  });

  test('controls: the emulated Anthropic refuses what the gateway avoids', async () => {
    const base = {
      model: 'claude-sonnet-4-5', max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 },
      tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
    };
    const loop = (first) => ({
      ...base,
      messages: [
        { role: 'user', content: 'get_weather in Oslo' },
        { role: 'assistant', content: [...first, { type: 'tool_use', id: 'toolu_x', name: 'get_weather', input: { city: 'Oslo' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_x', content: '2C' }] },
      ],
    });
    const h = { 'x-api-key': ANT_KEY, ...AV };
    const bare = await request(`${ant.url}/v1/messages`, { headers: h, body: loop([]) });
    assert.equal(bare.status, 400);
    assert.match(bare.json.error.message, /^messages\.1\.content\.0\.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`/);
    const forged = await request(`${ant.url}/v1/messages`, { headers: h, body: loop([{ type: 'thinking', thinking: 'x', signature: gemSig }]) });
    assert.equal(forged.status, 400);
    assert.equal(forged.json.error.message, 'messages.1.content.0: Invalid `signature` in `thinking` block');
  });

  /** The stored items, oldest first, with their provider column. */
  async function items() {
    return (await queryDb(gw.dbPath, `SELECT item, provider FROM conversation_items
      WHERE conv_id = ${sqlString(conv)} ORDER BY seq`)).map((r) => ({ ...JSON.parse(r.item), provider: r.provider }));
  }
});
