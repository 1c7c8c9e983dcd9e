// A conversation past its model's context window, compacted into a summary
// instead of trimmed (docs/conversations.md "Context windows"): the key
// names a summary model; the gateway asks it, through its own
// /v1/chat/completions and as the same key, for a summary of the dropped
// exchanges and puts it where they were. The next turn with the same cut
// uses the stored summary again; a later cut extends it with what was
// dropped since; a failing summary model falls back to the trim, and says
// so.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startGateway, request, queryDb, sqlString, waitFor } from './harness.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';

const UPKEY = 'conv-summary-upstream-key-0123456789';
const ADMIN = 'sk-sb-admin-conv-summary-0123456789abcdef0123456789';
const HDR = 'x-switchboard-conversation';
const TRIMMED = 'x-switchboard-context-trimmed';

const bearer = (k) => ({ authorization: `Bearer ${k}` });
const pad = (w) => `${w} ${'x'.repeat(60)}`;

function text(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.filter((p) => p.type === 'text').map((p) => p.text).join('');
  return content == null ? null : JSON.stringify(content);
}

describe('conversation history compacted into a summary', () => {
  let emu;
  let gw;
  let key;
  let keyId;
  let failing;

  async function makeKey(name, model) {
    const r = await request(`${gw.url}/admin/v1/keys`, {
      headers: bearer(ADMIN), body: { name, context_summary_model: model },
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.context_summary_model, model);
    return r.json;
  }

  /** A conversation of key holding n plain exchanges (user "u<i>",
   * assistant "a<i>"). */
  async function conversation(k, n) {
    const c = await request(`${gw.url}/v1/conversations`, { headers: bearer(k), body: {} });
    assert.equal(c.status, 200, c.text);
    const items = [];
    for (let i = 1; i <= n; i++) {
      items.push({ type: 'message', role: 'user', content: pad(`u${i}`) });
      items.push({ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: pad(`a${i}`) }] });
    }
    const add = await request(`${gw.url}/v1/conversations/${c.json.id}/items`, { headers: bearer(k), body: { items } });
    assert.equal(add.status, 200, add.text);
    return c.json.id;
  }

  /** The chat requests the upstream got since mark, split into summary
   * requests (model gpt-4o) and turns. */
  function since(mark) {
    const all = emu.requestsTo('/v1/chat/completions').slice(mark);
    return {
      summaries: all.filter((r) => r.body.model === 'gpt-4o' || r.body.model === 'fault-500'),
      turns: all.filter((r) => r.body.model === 'gpt-4o-mini'),
    };
  }

  async function record(rid) {
    return waitFor(async () => (await queryDb(gw.dbPath, `SELECT context_dropped, context_strategy, context_summary
      FROM requests WHERE request_id = ${sqlString(rid)}`))[0], { what: 'the turn\'s record' });
  }

  const turn = (k, id, words) => request(`${gw.url}/v1/chat/completions`, {
    headers: { ...bearer(k), [HDR]: id },
    body: { model: 'oai/gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: pad(words) }] },
  });

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
          models: ['gpt-4o-mini', 'gpt-4o', 'fault-500'],
        }],
      },
    });
    const k = await makeKey('summarised', 'oai/gpt-4o');
    key = k.secret;
    keyId = k.id;
    failing = (await makeKey('failing', 'oai/fault-500')).secret;
    const cap = await request(`${gw.url}/admin/v1/models/oai/gpt-4o-mini`, {
      headers: bearer(ADMIN), body: { context_tokens: 150, max_output_tokens: 16 },
    });
    assert.equal(cap.status, 200, cap.text);
  });
  after(async () => {
    if (gw) await gw.stop();
    if (emu) await emu.close();
  });

  let conv;
  let firstSummary;

  test('the dropped exchanges are summarised by the key\'s model, as the key, and the summary takes their place', async () => {
    conv = await conversation(key, 4);
    const mark = emu.requestsTo('/v1/chat/completions').length;
    const r = await turn(key, conv, 'fifth');
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers[TRIMMED] || '', /^messages=\d+; exchanges=\d+; tokens=\d+; strategy=summarize; counted=estimate$/);
    const { summaries, turns } = since(mark);
    assert.equal(summaries.length, 1, 'one summary asked for');
    assert.equal(turns.length, 1);
    // The summary request: the transcript of what was dropped.
    const asked = summaries[0].body.messages;
    assert.equal(asked[0].role, 'system');
    assert.match(asked[1].content, /^Conversation to summarise:\nuser: u1 x+\nassistant: a1 x+\n/);
    assert.doesNotMatch(asked[1].content, /fifth/, 'the turn itself is not summarised');
    // The turn: the summary at the head of the kept history, merged into
    // its first user message; roles still alternate.
    const got = turns[0].body.messages;
    assert.equal(got[0].role, 'user');
    assert.match(text(got[0].content), /^Summary of the earlier conversation:\nYou said: Conversation to summarise:\nuser: u1 /);
    assert.ok(!got.some((m) => /^u1 /.test(text(m.content))), 'u1 is not sent as itself');
    got.forEach((m, i) => { if (i) assert.notEqual(m.role, got[i - 1].role, JSON.stringify(got)); });
    assert.equal(text(got.at(-1).content), pad('fifth'));
    // Recorded on the turn, and the summary's own request is the key's.
    const rec = await record(r.headers['x-request-id']);
    assert.equal(rec.context_strategy, 'summarize');
    assert.match(rec.context_summary, /^You said: Conversation to summarise:/);
    firstSummary = rec.context_summary;
    const sub = await waitFor(async () => (await queryDb(gw.dbPath, `SELECT key_id, model, status FROM requests
      WHERE request_id = ${sqlString(`${r.headers['x-request-id']}.summary`)}`))[0], { what: 'the summary\'s record' });
    assert.equal(sub.key_id, keyId);
    assert.equal(sub.status, 200);
    // The internal credential and the key it acts for stay inside the
    // gateway: the upstream sees the provider's key only.
    assert.equal(summaries[0].headers.authorization, `Bearer ${UPKEY}`);
    assert.equal(summaries[0].headers['x-switchboard-internal-key'], undefined);
    assert.ok(!JSON.stringify(summaries[0].headers).includes('sk-sb-internal-'));
    const page = await request(`${gw.url}/admin/v1/requests?limit=5`, { method: 'GET', headers: bearer(ADMIN) });
    assert.equal(page.status, 200, page.text);
    assert.ok(page.json.data.some((x) => x.context_strategy === 'summarize' && x.context_summary === firstSummary), page.text);
  });

  test('the same cut uses the stored summary again; a later one extends it', async () => {
    // The same history (a fresh conversation is not: its items differ),
    // so a failed turn that appends nothing leaves the cut where it was.
    const id = await conversation(key, 4);
    let mark = emu.requestsTo('/v1/chat/completions').length;
    const first = await turn(key, id, 'fifth');
    assert.equal(first.status, 200, first.text);
    assert.equal(since(mark).summaries.length, 1);
    const stored = await queryDb(gw.dbPath, `SELECT cut_item, summary FROM conversation_summaries WHERE conversation_id = ${sqlString(id)}`);
    assert.equal(stored.length, 1);
    // Asked again with the stored history unchanged: delete the turn's
    // items, then the same turn.
    const listed = await request(`${gw.url}/v1/conversations/${id}/items?limit=100&order=asc`, { method: 'GET', headers: bearer(key) });
    for (const it of listed.json.data.slice(8)) {
      const d = await request(`${gw.url}/v1/conversations/${id}/items/${it.id}`, { method: 'DELETE', headers: bearer(key) });
      assert.equal(d.status, 200, d.text);
    }
    mark = emu.requestsTo('/v1/chat/completions').length;
    const again = await turn(key, id, 'fifth');
    assert.equal(again.status, 200, again.text);
    assert.match(again.headers[TRIMMED] || '', /strategy=summarize; counted=estimate$/);
    const s = since(mark);
    assert.equal(s.summaries.length, 0, 'no second summary request for the same cut');
    assert.match(text(s.turns[0].body.messages[0].content), new RegExp(`^Summary of the earlier conversation:\\n${stored[0].summary.slice(0, 40).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    // Two more turns: the cut moves on; the new summary covers the
    // previous one and only what was dropped since.
    const next = await turn(key, id, 'sixth');
    assert.equal(next.status, 200, next.text);
    mark = emu.requestsTo('/v1/chat/completions').length;
    const later = await turn(key, id, 'seventh');
    assert.equal(later.status, 200, later.text);
    const { summaries } = since(mark);
    assert.equal(summaries.length, 1, later.headers[TRIMMED]);
    const prompt = summaries[0].body.messages[1].content;
    assert.match(prompt, /^Summary of what came before:\nYou said: /);
    // (the previous summary echoes its own prompt: the new part is last)
    const fresh = prompt.slice(prompt.lastIndexOf('Conversation to summarise:\n'));
    assert.doesNotMatch(fresh, /user: u1 /, 'u1 is in the previous summary only');
    assert.match(fresh, /^Conversation to summarise:\nuser: u\d x+\nassistant: a\d x+\n$/, 'one newly dropped exchange');
  });

  test('a route\'s summary model wins over the key\'s', async () => {
    const rt = await request(`${gw.url}/admin/v1/routes`, {
      headers: bearer(ADMIN),
      body: { name: 'compact', targets: ['oai/gpt-4o-mini'], context: { strategy: 'summarize', summary_model: 'oai/gpt-4o' } },
    });
    assert.ok(rt.status === 200 || rt.status === 201, rt.text);
    const id = await conversation(failing, 4);
    const mark = emu.requestsTo('/v1/chat/completions').length;
    const r = await request(`${gw.url}/v1/chat/completions`, {
      headers: { ...bearer(failing), [HDR]: id },
      body: { model: 'compact', max_tokens: 16, messages: [{ role: 'user', content: pad('fifth') }] },
    });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers[TRIMMED] || '', /strategy=summarize; counted=estimate$/);
    const { summaries, turns } = since(mark);
    assert.deepEqual(summaries.map((x) => x.body.model), ['gpt-4o']);
    assert.match(text(turns[0].body.messages[0].content), /^Summary of the earlier conversation:\n/);
  });

  test('the internal credential is not a key: a client naming a key with any other secret is refused', async () => {
    const r = await request(`${gw.url}/v1/chat/completions`, {
      headers: { authorization: 'Bearer sk-sb-internal-00', 'x-switchboard-internal-key': keyId },
      body: { model: 'oai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(r.status, 401, r.text);
  });

  test('a failing summary model falls back to the trim, and says so', async () => {
    const id = await conversation(failing, 4);
    const mark = emu.requestsTo('/v1/chat/completions').length;
    const r = await turn(failing, id, 'fifth');
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers[TRIMMED] || '', /^messages=\d+; exchanges=\d+; tokens=\d+; strategy=trim; summary=failed; counted=estimate$/);
    const { turns } = since(mark);
    const got = turns.at(-1).body.messages;
    assert.ok(!got.some((m) => /Summary of the earlier/.test(text(m.content))));
    assert.ok(!got.some((m) => /^u1 /.test(text(m.content))), 'u1 was trimmed');
    const rec = await record(r.headers['x-request-id']);
    assert.equal(rec.context_strategy, 'trim');
    assert.equal(rec.context_summary, null);
  });
});
