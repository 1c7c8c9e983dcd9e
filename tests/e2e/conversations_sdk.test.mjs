// The official openai SDK's client.conversations, unmodified, against the
// gateway: create, retrieve, update, delete; items.create, items.list with
// its auto-paging (the SDK follows last_id while has_more), items.retrieve,
// items.delete; the SDK's NotFoundError for another key's conversation.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { startGateway, request } from '../integration/harness.mjs';

const ADMIN = 'sk-sb-admin-test-0123456789abcdef0123456789abcdef';

let gw;
let client;
let other;

async function makeKey(name) {
  const r = await request(`${gw.url}/admin/v1/keys`, { headers: { authorization: `Bearer ${ADMIN}` }, body: { name } });
  assert.equal(r.status, 201, r.text);
  return r.json.secret;
}

describe('openai SDK: client.conversations', () => {
  before(async () => {
    gw = await startGateway({ env: { SWITCHBOARD_ADMIN_KEY: ADMIN } });
    client = new OpenAI({ apiKey: await makeKey('sdk'), baseURL: `${gw.url}/v1`, maxRetries: 0 });
    other = new OpenAI({ apiKey: await makeKey('other'), baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  after(async () => { if (gw) await gw.stop(); });

  test('create, retrieve, update, delete', async () => {
    const conv = await client.conversations.create({
      metadata: { topic: 'sdk' },
      items: [{ type: 'message', role: 'user', content: 'Hello!' }],
    });
    assert.match(conv.id, /^conv_/);
    assert.equal(conv.object, 'conversation');
    assert.deepEqual(conv.metadata, { topic: 'sdk' });

    const got = await client.conversations.retrieve(conv.id);
    assert.deepEqual(got, conv);

    const upd = await client.conversations.update(conv.id, { metadata: { topic: 'changed' } });
    assert.deepEqual(upd.metadata, { topic: 'changed' });
    assert.equal(upd.created_at, conv.created_at);

    await assert.rejects(other.conversations.retrieve(conv.id), (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, String(e));
      assert.equal(e.status, 404);
      assert.equal(e.error?.message ?? e.message.replace(/^404 /, ''), `Conversation with id '${conv.id}' not found.`);
      return true;
    });

    const del = await client.conversations.delete(conv.id);
    assert.deepEqual(del, { id: conv.id, object: 'conversation.deleted', deleted: true });
    await assert.rejects(client.conversations.retrieve(conv.id), OpenAI.NotFoundError);
  });

  test('items: create, list with paging, retrieve, delete', async () => {
    const conv = await client.conversations.create();
    assert.deepEqual(conv.metadata, {});
    const made = [];
    for (let b = 0; b < 3; b++) {
      const list = await client.conversations.items.create(conv.id, {
        items: [
          { type: 'message', role: 'user', content: [{ type: 'input_text', text: `q${b}` }] },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: `a${b}`, annotations: [] }] },
        ],
      });
      assert.equal(list.object, 'list');
      assert.equal(list.data.length, 2);
      assert.equal(list.has_more, false);
      made.push(...list.data);
    }
    const ids = made.map((i) => i.id);

    // for await pages through every item (limit 2: three trips).
    const seen = [];
    for await (const item of client.conversations.items.list(conv.id, { limit: 2, order: 'asc' })) seen.push(item.id);
    assert.deepEqual(seen, ids);
    const desc = [];
    for await (const item of client.conversations.items.list(conv.id, { limit: 4 })) desc.push(item.id);
    assert.deepEqual(desc, [...ids].reverse());

    // Page by page.
    let page = await client.conversations.items.list(conv.id, { limit: 5, order: 'asc' });
    assert.equal(page.data.length, 5);
    assert.equal(page.has_more, true);
    assert.ok(page.hasNextPage());
    page = await page.getNextPage();
    assert.deepEqual(page.data.map((i) => i.id), [ids[5]]);
    assert.equal(page.hasNextPage(), false);

    const one = await client.conversations.items.retrieve(ids[1], { conversation_id: conv.id });
    assert.deepEqual(one, made[1]);
    assert.equal(one.content[0].text, 'a0');

    const after = await client.conversations.items.delete(ids[1], { conversation_id: conv.id });
    assert.equal(after.object, 'conversation');
    assert.equal(after.id, conv.id);
    await assert.rejects(client.conversations.items.retrieve(ids[1], { conversation_id: conv.id }), OpenAI.NotFoundError);
    const rest = [];
    for await (const item of client.conversations.items.list(conv.id, { order: 'asc' })) rest.push(item.id);
    assert.deepEqual(rest, ids.filter((x) => x !== ids[1]));
  });

  test('bad items come back as the SDK\'s BadRequestError', async () => {
    await assert.rejects(client.conversations.create({ items: [{ type: 'no_such_item' }] }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, String(e));
      assert.equal(e.param, 'items[0].type');
      return true;
    });
  });
  test('responses.create with conversation: each turn sees the ones before, stored as the conversation\'s items', async () => {
    const conv = await client.conversations.create({ metadata: { topic: 'sdk turns' } });
    const first = await client.responses.create({ model: 'echo/echo-1', conversation: conv.id, input: 'first turn' });
    assert.equal(first.output_text, 'first turn');
    assert.equal(first.conversation?.id, conv.id);
    // Streamed, with the {id} form; the SDK reads the stream to its end.
    const stream = await client.responses.create({ model: 'echo/echo-1', conversation: { id: conv.id }, input: 'second turn', stream: true });
    let done;
    for await (const ev of stream) if (ev.type === 'response.completed') done = ev.response;
    assert.ok(done, 'response.completed');
    const items = [];
    for await (const item of client.conversations.items.list(conv.id, { order: 'asc' })) items.push(item);
    const said = items.map((it) => `${it.role}:${(it.content || []).map((c) => c.text).join('')}`);
    assert.deepEqual(said, ['user:first turn', 'assistant:first turn', 'user:second turn', 'assistant:second turn']);
    // Both ways of continuing at once is refused, as OpenAI refuses it.
    await assert.rejects(client.responses.create({ model: 'echo/echo-1', conversation: conv.id, previous_response_id: first.id, input: 'x' }),
      OpenAI.BadRequestError);
    // Another key does not find it.
    await assert.rejects(other.responses.create({ model: 'echo/echo-1', conversation: conv.id, input: 'x' }), OpenAI.NotFoundError);
  });
});
