// One stored conversation continued from every inbound API (issue 13,
// docs/inbound.md "Conversations"): Chat Completions and Messages through
// the x-switchboard-conversation header (and metadata.conversation_id on
// Chat Completions), Responses through `conversation`; streamed and not.
// Each turn is checked where it matters, at the upstream: the messages the
// provider received are exactly the history and the turn. A turn sent the
// moment the last one's last byte arrived sees it; a failed turn appends
// nothing; another key's conversation is not found; conversation with
// previous_response_id is refused as OpenAI refuses it.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { startGateway, request, parseSSE, queryDb, sqlString, waitFor } from './harness.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';

const UPKEY = 'conv-inbound-upstream-key-0123456789';
const ADMIN = 'sk-sb-admin-conv-inbound-0123456789abcdef0123456789';
const AV = { 'anthropic-version': '2023-06-01' };
const HDR = 'x-switchboard-conversation';

const bearer = (k) => ({ authorization: `Bearer ${k}` });

/** POST body to path; a streamed answer is read to its last byte and its
 * events parsed. */
async function post(gw, path, body, headers = {}) {
  const r = await request(`${gw.url}${path}`, { body, headers });
  if (/^text\/event-stream/.test(r.headers['content-type'] || '')) {
    r.events = parseSSE(r.text).filter((e) => e.data !== '[DONE]').map((e) => ({ ...e, json: JSON.parse(e.data) }));
  }
  return r;
}

/** The text of a chat message's content (a string, or its text parts). */
function text(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.filter((p) => p.type === 'text').map((p) => p.text).join('');
  return content == null ? null : JSON.stringify(content);
}

/** What the upstream was sent, as [role, text] pairs. */
function sent(emu) {
  const last = emu.lastRequest('/v1/chat/completions');
  assert.ok(last, 'the upstream was called');
  return last.body.messages.map((m) => [m.role, text(m.content)]);
}

describe('conversations continued from every inbound API', () => {
  let emu;
  let gw;
  let keyA;
  let keyB;
  let conv;

  /** A conversation made by key (POST /v1/conversations). */
  async function create(key) {
    const r = await request(`${gw.url}/v1/conversations`, { headers: bearer(key), body: {} });
    assert.equal(r.status, 200, r.text);
    return r.json.id;
  }

  /** The stored items of id, oldest first, with their provider and model. */
  async function items(id) {
    return (await queryDb(gw.dbPath, `SELECT item, provider, model FROM conversation_items
      WHERE conv_id = ${sqlString(id)} ORDER BY seq`)).map((r) => ({ ...JSON.parse(r.item), provider: r.provider, model: r.model }));
  }

  before(async () => {
    emu = await startOpenAIEmulator({ apiKey: UPKEY, quiet: true });
    gw = await startGateway({
      env: { SWITCHBOARD_ADMIN_KEY: ADMIN, UP_KEY: UPKEY },
      config: {
        // These tests read the database file right after each answer: the
        // writer commits every record at once instead of gathering batches.
        limits: { store_batch_ms: 0 },
        providers: [{
          name: 'oai', kind: 'openai', base_url: emu.url, api_key_env: 'UP_KEY',
          models: ['gpt-4o-mini', 'fault-500', 'error-mid-stream'],
        }],
      },
    });
    for (const name of ['a', 'b']) {
      const r = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(ADMIN), body: { name } });
      assert.equal(r.status, 201, r.text);
      if (name === 'a') keyA = r.json.secret; else keyB = r.json.secret;
    }
    conv = await create(keyA);
    assert.match(conv, /^conv_[0-9a-f]{32}$/);
  });
  after(async () => {
    if (gw) await gw.stop();
    if (emu) await emu.close();
  });

  // The history every turn below extends, as [role, text].
  const history = [];

  test('Chat Completions, not streamed: the header starts the history; system messages are the turn\'s own', async () => {
    const r = await post(gw, '/v1/chat/completions', {
      model: 'oai/gpt-4o-mini',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'one' }],
    }, { ...bearer(keyA), [HDR]: conv });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'chat.completion');
    assert.deepEqual(sent(emu), [['system', 'Be brief.'], ['user', 'one']]);
    history.push(['user', 'one'], ['assistant', r.json.choices[0].message.content]);
  });

  test('Chat Completions, streamed, through metadata.conversation_id (removed before the upstream)', async () => {
    const r = await post(gw, '/v1/chat/completions', {
      model: 'oai/gpt-4o-mini', stream: true, metadata: { conversation_id: conv },
      messages: [{ role: 'user', content: 'two' }],
    }, bearer(keyA));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(sent(emu), [...history, ['user', 'two']]);
    assert.equal(emu.lastRequest('/v1/chat/completions').body.metadata, undefined, 'metadata not sent upstream');
    const answer = r.events.map((e) => e.json.choices?.[0]?.delta?.content || '').join('');
    assert.equal(answer, 'You said: two');
    history.push(['user', 'two'], ['assistant', answer]);
  });

  test('Messages, not streamed: the same conversation, the system prompt not stored', async () => {
    const r = await post(gw, '/v1/messages', {
      model: 'oai/gpt-4o-mini', max_tokens: 64, system: 'Answer in English.',
      messages: [{ role: 'user', content: 'three' }],
    }, { ...AV, 'x-api-key': keyA, [HDR]: conv });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.type, 'message');
    assert.deepEqual(sent(emu), [['system', 'Answer in English.'], ...history, ['user', 'three']]);
    history.push(['user', 'three'], ['assistant', r.json.content[0].text]);
  });

  test('Messages, streamed', async () => {
    const r = await post(gw, '/v1/messages', {
      model: 'oai/gpt-4o-mini', max_tokens: 64, stream: true,
      messages: [{ role: 'user', content: 'four' }],
    }, { ...AV, 'x-api-key': keyA, [HDR]: conv });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(sent(emu), [...history, ['user', 'four']]);
    const answer = r.events.filter((e) => e.json.type === 'content_block_delta').map((e) => e.json.delta.text).join('');
    assert.equal(answer, 'You said: four');
    history.push(['user', 'four'], ['assistant', answer]);
  });

  test('Responses, not streamed: conversation as a string; the response names it', async () => {
    const r = await post(gw, '/v1/responses', {
      model: 'oai/gpt-4o-mini', conversation: conv, input: 'five', instructions: 'Be kind.',
    }, bearer(keyA));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.conversation, { id: conv });
    assert.deepEqual(sent(emu), [['system', 'Be kind.'], ...history, ['user', 'five']]);
    history.push(['user', 'five'], ['assistant', r.json.output.find((o) => o.type === 'message').content[0].text]);
  });

  test('Responses, streamed, conversation as {id}; a turn sent at the last byte sees it', async () => {
    const r = await post(gw, '/v1/responses', {
      model: 'oai/gpt-4o-mini', conversation: { id: conv }, input: [{ role: 'user', content: 'six' }], stream: true,
    }, bearer(keyA));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(sent(emu), [...history, ['user', 'six']]);
    const done = r.events.find((e) => e.json.type === 'response.completed');
    assert.ok(done, 'response.completed');
    assert.deepEqual(done.json.response.conversation, { id: conv });
    const answer = done.json.response.output.find((o) => o.type === 'message').content[0].text;
    history.push(['user', 'six'], ['assistant', answer]);
    // At once, on a new connection (any worker).
    const next = await post(gw, '/v1/chat/completions', {
      model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: 'seven' }],
    }, { ...bearer(keyA), [HDR]: conv });
    assert.equal(next.status, 200, next.text);
    assert.deepEqual(sent(emu), [...history, ['user', 'seven']]);
    history.push(['user', 'seven'], ['assistant', next.json.choices[0].message.content]);
  });

  test('a failed turn appends nothing, streamed or not', async () => {
    const before = (await items(conv)).length;
    const failed = await post(gw, '/v1/chat/completions', {
      model: 'oai/fault-500', messages: [{ role: 'user', content: 'lost' }],
    }, { ...bearer(keyA), [HDR]: conv });
    assert.ok(failed.status >= 500, failed.text);
    const cut = await new Promise((resolve, reject) => {
      // The stream breaks off after a few chunks: read what comes.
      const u = new URL(`${gw.url}/v1/responses`);
      const payload = JSON.stringify({ model: 'oai/error-mid-stream', conversation: conv, input: 'lost too', stream: true });
      const req = http.request({
        host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: false,
        headers: { ...bearer(keyA), 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      }, (res) => {
        let t = '';
        res.on('data', (d) => { t += d; });
        res.on('end', () => resolve(t));
        res.on('error', () => resolve(t));
        res.on('close', () => resolve(t));
      });
      req.on('error', reject);
      req.end(payload);
    });
    assert.match(cut, /response\.failed|error/);
    assert.equal((await items(conv)).length, before, 'nothing appended');
    const r = await post(gw, '/v1/chat/completions', {
      model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: 'eight' }],
    }, { ...bearer(keyA), [HDR]: conv });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(sent(emu), [...history, ['user', 'eight']]);
    history.push(['user', 'eight'], ['assistant', r.json.choices[0].message.content]);
  });

  test('the stored items: the client\'s without a provider, the answers with theirs', async () => {
    const all = await items(conv);
    const msgs = all.filter((i) => i.type === 'message');
    assert.deepEqual(msgs.map((m) => [m.role, m.content.map((p) => p.text).join('')]), history);
    for (const m of all) {
      assert.match(m.id, /^(msg|rs|fc|fco)_[0-9a-f]+$/);
      if (m.role === 'assistant') {
        assert.equal(m.provider, 'oai');
        assert.equal(m.model, 'gpt-4o-mini');
        assert.equal(m.content[0].type, 'output_text');
      } else {
        assert.equal(m.provider, null);
        assert.equal(m.content[0].type, 'input_text');
      }
    }
    assert.equal(new Set(all.map((i) => i.id)).size, all.length, 'ids unique');
    // The same items through the Conversations API.
    const api = await request(`${gw.url}/v1/conversations/${conv}/items?order=asc&limit=100`, { headers: bearer(keyA) });
    assert.equal(api.status, 200, api.text);
    assert.deepEqual(api.json.data.map((i) => i.id), all.map((i) => i.id));
    assert.deepEqual(api.json.data[0].content, all[0].content);
  });

  test('another key\'s conversation, or none, is not found, in each API\'s error shape', async () => {
    const msg = `Conversation with id '${conv}' not found.`;
    const chat = await post(gw, '/v1/chat/completions', {
      model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: 'peek' }],
    }, { ...bearer(keyB), [HDR]: conv });
    assert.equal(chat.status, 404, chat.text);
    assert.deepEqual(chat.json, { error: { message: msg, type: 'invalid_request_error', param: null, code: null } });
    const msgs = await post(gw, '/v1/messages', {
      model: 'oai/gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: 'peek' }],
    }, { ...AV, 'x-api-key': keyB, [HDR]: conv });
    assert.equal(msgs.status, 404, msgs.text);
    assert.equal(msgs.json.type, 'error');
    assert.equal(msgs.json.error.type, 'not_found_error');
    assert.equal(msgs.json.error.message, msg);
    const resp = await post(gw, '/v1/responses', { model: 'oai/gpt-4o-mini', input: 'peek', conversation: conv }, bearer(keyB));
    assert.equal(resp.status, 404, resp.text);
    assert.equal(resp.json.error.message, msg);
    const none = await post(gw, '/v1/responses', { model: 'oai/gpt-4o-mini', input: 'x', conversation: 'conv_nope' }, bearer(keyA));
    assert.equal(none.status, 404, none.text);
    assert.equal(none.json.error.message, "Conversation with id 'conv_nope' not found.");
    // The admin credential sees every conversation.
    const admin = await post(gw, '/v1/chat/completions', {
      model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: 'nine' }],
    }, { ...bearer(ADMIN), [HDR]: conv });
    assert.equal(admin.status, 200, admin.text);
    assert.deepEqual(sent(emu), [...history, ['user', 'nine']]);
  });

  test('the stored part is held against the key\'s budget', async () => {
    const price = await request(`${gw.url}/admin/v1/prices`, {
      headers: bearer(ADMIN), body: { model: 'oai/gpt-4o-mini', input_per_mtok: 1000, output_per_mtok: 0 },
    });
    assert.ok(price.status < 300, price.text);
    const made = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(ADMIN), body: { name: 'capped', budget_usd: 1 } });
    assert.equal(made.status, 201, made.text);
    const capped = made.json.secret;
    // About 4,000 tokens at most of history ($4) against $1.
    const big = await request(`${gw.url}/v1/conversations`, {
      headers: bearer(capped), body: { items: [{ type: 'message', role: 'user', content: 'x'.repeat(4000) }] },
    });
    assert.equal(big.status, 200, big.text);
    const body = { model: 'oai/gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: 'short' }] };
    const calls = emu.requestsTo('/v1/chat/completions').length;
    const held = await post(gw, '/v1/chat/completions', body, { ...bearer(capped), [HDR]: big.json.id });
    assert.equal(held.status, 429, held.text);
    assert.equal(held.json.error.code, 'insufficient_quota');
    assert.equal(emu.requestsTo('/v1/chat/completions').length, calls, 'not sent upstream');
    assert.equal((await items(big.json.id)).length, 1, 'nothing appended');
    const alone = await post(gw, '/v1/chat/completions', body, bearer(capped));
    assert.equal(alone.status, 200, alone.text);
  });

  test('conversation with previous_response_id is refused; so is a conversation of the wrong type', async () => {
    const both = await post(gw, '/v1/responses', {
      model: 'oai/gpt-4o-mini', input: 'x', conversation: conv, previous_response_id: 'resp_1',
    }, bearer(keyA));
    assert.equal(both.status, 400, both.text);
    assert.equal(both.json.error.type, 'invalid_request_error');
    assert.equal(both.json.error.code, 'mutually_exclusive_parameters');
    assert.match(both.json.error.message, /^Mutually exclusive parameters/);
    const bad = await post(gw, '/v1/responses', { model: 'oai/gpt-4o-mini', input: 'x', conversation: 7 }, bearer(keyA));
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.error.param, 'conversation');
    const clash = await post(gw, '/v1/chat/completions', {
      model: 'oai/gpt-4o-mini', metadata: { conversation_id: 'conv_other' }, messages: [{ role: 'user', content: 'x' }],
    }, { ...bearer(keyA), [HDR]: conv });
    assert.equal(clash.status, 400, clash.text);
    assert.equal(clash.json.error.param, 'metadata.conversation_id');
  });
  test('a history past the model\'s context window is trimmed by whole exchanges, a tool call never parted from its result', async () => {
    const id = await create(keyA);
    const pad = (w) => `${w} ${'x'.repeat(60)}`;
    // The history: a plain exchange, one with a tool call and its result,
    // and another plain one, added through the Conversations API.
    const add = await request(`${gw.url}/v1/conversations/${id}/items`, {
      headers: bearer(keyA),
      body: {
        items: [
          { type: 'message', role: 'user', content: pad('first') },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: pad('answer one') }] },
          { type: 'message', role: 'user', content: pad('second') },
          { type: 'function_call', call_id: 'call_w', name: 'weather', arguments: '{"city":"Oslo"}' },
          { type: 'function_call_output', call_id: 'call_w', output: pad('rain') },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: pad('answer two') }] },
          { type: 'message', role: 'user', content: pad('third') },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: pad('answer three') }] },
        ],
      },
    });
    assert.equal(add.status, 200, add.text);
    // A small window for the model: the whole history does not fit.
    const cap = await request(`${gw.url}/admin/v1/models/oai/gpt-4o-mini`, {
      headers: bearer(ADMIN), body: { context_tokens: 170, max_output_tokens: 16 },
    });
    assert.equal(cap.status, 200, cap.text);
    try {
      const r = await post(gw, '/v1/chat/completions', {
        model: 'oai/gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: pad('fourth') }],
      }, { ...bearer(keyA), [HDR]: id });
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers['x-switchboard-context-trimmed'] || '', /^messages=\d+; exchanges=\d+; tokens=\d+; counted=estimate$/);
      // The trim is on the turn's record too.
      // (written by the store's writer after the answer: waited for)
      const rec = await waitFor(async () => (await queryDb(gw.dbPath, `SELECT context_dropped, context_dropped_tokens
        FROM requests WHERE request_id = ${sqlString(r.headers['x-request-id'])}`))[0], { what: 'the turn\'s record' });
      const m = /^messages=(\d+); exchanges=\d+; tokens=(\d+); counted=estimate$/.exec(r.headers['x-switchboard-context-trimmed']);
      assert.equal(rec?.context_dropped, Number(m[1]), JSON.stringify(rec));
      assert.equal(rec.context_dropped_tokens, Number(m[2]));
      const got = emu.lastRequest('/v1/chat/completions').body.messages;
      // The oldest exchange went; what is left starts with a user message
      // and ends with this turn.
      assert.equal(got[0].role, 'user', JSON.stringify(got));
      assert.ok(!got.some((m) => text(m.content)?.startsWith('first')), 'the oldest exchange was dropped');
      assert.equal(text(got.at(-1).content), pad('fourth'));
      assert.ok(got.length < 9, `something was dropped: ${got.length} messages`);
      // Every tool call that was kept has its result right after it.
      got.forEach((m, i) => {
        for (const c of m.tool_calls || []) {
          assert.equal(got[i + 1]?.role, 'tool', JSON.stringify(got));
          assert.equal(got[i + 1].tool_call_id, c.id);
        }
        if (m.role === 'tool') assert.ok(got[i - 1]?.tool_calls?.some((c) => c.id === m.tool_call_id), 'a result without its call');
      });
      // A turn that alone cannot fit is refused before the upstream.
      const before = emu.stats.requests.length;
      const big = await post(gw, '/v1/chat/completions', {
        model: 'oai/gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: 'y'.repeat(2000) }],
      }, { ...bearer(keyA), [HDR]: id });
      assert.equal(big.status, 400, big.text);
      assert.equal(big.json.error.code, 'context_length_exceeded');
      assert.equal(emu.stats.requests.length, before, 'nothing went upstream');
    } finally {
      await request(`${gw.url}/admin/v1/models/oai/gpt-4o-mini`, { method: 'DELETE', headers: bearer(ADMIN) });
    }
  });
});
