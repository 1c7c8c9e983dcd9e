// The OpenAI Conversations API over raw HTTP against the real binary:
// create, retrieve, update, delete; items added, listed (paged both ways),
// read and deleted; OpenAI's validation and limits; every write read back
// at once (read-your-writes); ownership by key; kept across a restart.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startGateway, request, queryDb } from './harness.mjs';

const ADMIN = 'sk-sb-admin-test-0123456789abcdef0123456789abcdef';
const bearer = (k) => ({ authorization: `Bearer ${k}` });

const userMsg = (text) => ({ type: 'message', role: 'user', content: [{ type: 'input_text', text }] });

function client(gw, headers = {}) {
  const call = (method, path, body) => request(`${gw.url}${path}`, { method, headers, body });
  return {
    post: (p, b) => call('POST', p, b),
    get: (p) => call('GET', p),
    del: (p) => call('DELETE', p),
  };
}

function assertNotFound(r, id) {
  assert.equal(r.status, 404, r.text);
  assert.deepEqual(r.json, {
    error: {
      message: `Conversation with id '${id}' not found.`,
      type: 'invalid_request_error',
      param: null,
      code: null,
    },
  });
}

describe('conversations: the API in open mode', () => {
  let gw;
  let c;
  before(async () => {
    gw = await startGateway();
    c = client(gw);
  });
  after(async () => { if (gw) await gw.stop(); });

  test('create with items and metadata, then everything reads back at once', async () => {
    const items = [
      userMsg('hello'),
      { role: 'assistant', content: 'hi, how can I help?' },
      { type: 'function_call', call_id: 'call_1', name: 'lookup', arguments: '{"q":"x"}' },
      { type: 'function_call_output', call_id: 'call_1', output: '42' },
      { type: 'reasoning', summary: [], encrypted_content: 'opaque' },
      { type: 'message', role: 'developer', content: 'be brief', id: 'msg_mine' },
    ];
    let r = await c.post('/v1/conversations', { items, metadata: { topic: 'demo' } });
    assert.equal(r.status, 200, r.text);
    const conv = r.json;
    assert.match(conv.id, /^conv_[0-9a-f]{32}$/);
    assert.equal(conv.object, 'conversation');
    assert.equal(typeof conv.created_at, 'number');
    assert.ok(Math.abs(conv.created_at - Date.now() / 1000) < 60);
    assert.deepEqual(conv.metadata, { topic: 'demo' });

    // No pause: the items queued by the create are listed by the next call.
    r = await c.get(`/v1/conversations/${conv.id}/items?order=asc`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'list');
    assert.equal(r.json.has_more, false);
    const got = r.json.data;
    assert.equal(got.length, 6);
    // Each as sent, plus an id by type (and the easy message's type).
    assert.match(got[0].id, /^msg_/);
    assert.deepEqual(got[0], { ...items[0], id: got[0].id });
    assert.deepEqual(got[1], { ...items[1], type: 'message', id: got[1].id });
    assert.match(got[2].id, /^fc_/);
    assert.deepEqual(got[2], { ...items[2], id: got[2].id });
    assert.match(got[3].id, /^fco_/);
    assert.match(got[4].id, /^rs_/);
    assert.equal(got[5].id, 'msg_mine');
    assert.equal(r.json.first_id, got[0].id);
    assert.equal(r.json.last_id, 'msg_mine');

    // The default order is newest first.
    r = await c.get(`/v1/conversations/${conv.id}/items`);
    assert.deepEqual(r.json.data.map((i) => i.id), got.map((i) => i.id).reverse());

    r = await c.get(`/v1/conversations/${conv.id}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, conv);
  });

  test('items: add, page through both ways, read one, delete one', async () => {
    let r = await c.post('/v1/conversations', {});
    assert.equal(r.status, 200, r.text);
    const id = r.json.id;
    assert.deepEqual(r.json.metadata, {});
    r = await c.get(`/v1/conversations/${id}/items`);
    assert.deepEqual(r.json, { object: 'list', data: [], first_id: null, last_id: null, has_more: false });

    const added = [];
    for (let batch = 0; batch < 3; batch++) {
      const items = [0, 1, 2].map((k) => userMsg(`m${batch * 3 + k}`));
      r = await c.post(`/v1/conversations/${id}/items`, { items });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.object, 'list');
      assert.equal(r.json.has_more, false);
      assert.equal(r.json.data.length, 3);
      assert.equal(r.json.first_id, r.json.data[0].id);
      assert.equal(r.json.last_id, r.json.data[2].id);
      added.push(...r.json.data);
    }
    const ids = added.map((i) => i.id);
    // asc, 4 at a time
    let seen = [];
    let after = null;
    for (;;) {
      r = await c.get(`/v1/conversations/${id}/items?order=asc&limit=4${after ? `&after=${after}` : ''}`);
      assert.equal(r.status, 200, r.text);
      seen.push(...r.json.data.map((i) => i.id));
      if (!r.json.has_more) break;
      after = r.json.last_id;
    }
    assert.deepEqual(seen, ids);
    // desc, 2 at a time
    seen = [];
    after = null;
    for (;;) {
      r = await c.get(`/v1/conversations/${id}/items?limit=2${after ? `&after=${after}` : ''}`);
      seen.push(...r.json.data.map((i) => i.id));
      if (!r.json.has_more) break;
      after = r.json.last_id;
    }
    assert.deepEqual(seen, [...ids].reverse());

    r = await c.get(`/v1/conversations/${id}/items/${ids[4]}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, added[4]);
    r = await c.del(`/v1/conversations/${id}/items/${ids[4]}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'conversation');
    assert.equal(r.json.id, id);
    r = await c.get(`/v1/conversations/${id}/items/${ids[4]}`);
    assert.equal(r.status, 404);
    assert.equal(r.json.error.message, `Item with id '${ids[4]}' not found.`);
    r = await c.del(`/v1/conversations/${id}/items/${ids[4]}`);
    assert.equal(r.status, 404);
    r = await c.get(`/v1/conversations/${id}/items?order=asc&limit=100`);
    assert.deepEqual(r.json.data.map((i) => i.id), ids.filter((x) => x !== ids[4]));
    // A cursor that is not one of its items.
    r = await c.get(`/v1/conversations/${id}/items?after=msg_nope`);
    assert.equal(r.status, 404);
  });

  test('update replaces the metadata; delete removes the conversation and its items', async () => {
    let r = await c.post('/v1/conversations', { metadata: { a: '1' }, items: [userMsg('x')] });
    const conv = r.json;
    r = await c.post(`/v1/conversations/${conv.id}`, { metadata: { b: '2' } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { ...conv, metadata: { b: '2' } });
    r = await c.get(`/v1/conversations/${conv.id}`);
    assert.deepEqual(r.json.metadata, { b: '2' });
    r = await c.post(`/v1/conversations/${conv.id}`, {});
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'metadata');

    r = await c.del(`/v1/conversations/${conv.id}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { id: conv.id, object: 'conversation.deleted', deleted: true });
    assertNotFound(await c.get(`/v1/conversations/${conv.id}`), conv.id);
    assertNotFound(await c.get(`/v1/conversations/${conv.id}/items`), conv.id);
    assertNotFound(await c.post(`/v1/conversations/${conv.id}/items`, { items: [userMsg('y')] }), conv.id);
    assertNotFound(await c.del(`/v1/conversations/${conv.id}`), conv.id);
    const rows = await queryDb(gw.dbPath, `SELECT count(*) AS n FROM conversation_items WHERE conv_id = '${conv.id}'`);
    assert.equal(rows[0].n, 0);
  });

  test('validation: OpenAI\'s item types and limits, 400 in OpenAI\'s shape', async () => {
    const bad = async (body, param, path = '/v1/conversations') => {
      const r = await c.post(path, body);
      assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 100)}: ${r.text}`);
      assert.equal(r.json.error.type, 'invalid_request_error');
      assert.equal(r.json.error.param, param);
      assert.equal(typeof r.json.error.message, 'string');
    };
    await bad({ items: [{ type: 'nonsense' }] }, 'items[0].type');
    await bad({ items: [userMsg('a'), { type: 'message', role: 'robot', content: 'x' }] }, 'items[1].role');
    await bad({ items: [{ type: 'message', role: 'user' }] }, 'items[0].content');
    await bad({ items: [{ type: 'message', role: 'assistant', content: [{ type: 'input_text', text: 'x' }] }] },
      'items[0].content[0].type');
    await bad({ items: [{ type: 'message', role: 'user', content: [{ type: 'output_text', text: 'x' }] }] },
      'items[0].content[0].type');
    await bad({ items: [{ type: 'function_call', call_id: 'c', name: 'f' }] }, 'items[0].arguments');
    await bad({ items: [{ type: 'function_call_output', output: 'x' }] }, 'items[0].call_id');
    await bad({ items: [{ type: 'item_reference', id: 'msg_1' }] }, 'items[0].type');
    await bad({ items: [{ content: 'no role, no type' }] }, 'items[0].type');
    await bad({ items: [userMsg('a'), { ...userMsg('b'), id: 'x1' }, { ...userMsg('c'), id: 'x1' }] }, 'items[2].id');
    await bad({ items: 'not an array' }, 'items');
    await bad({ items: Array.from({ length: 21 }, (_, k) => userMsg(`m${k}`)) }, 'items');
    await bad({ metadata: Object.fromEntries(Array.from({ length: 17 }, (_, k) => [`k${k}`, 'v'])) }, 'metadata');
    await bad({ metadata: { ['k'.repeat(65)]: 'v' } }, 'metadata');
    await bad({ metadata: { k: 'v'.repeat(513) } }, 'metadata.k');
    await bad({ metadata: { k: 1 } }, 'metadata.k');
    await bad({ metadata: [] }, 'metadata');
    // At the limits exactly: accepted.
    let r = await c.post('/v1/conversations', {
      items: Array.from({ length: 20 }, (_, k) => userMsg(`m${k}`)),
      metadata: Object.fromEntries(Array.from({ length: 16 }, (_, k) => [`${k}`.padEnd(64, 'k'), 'v'.repeat(512)])),
    });
    assert.equal(r.status, 200, r.text);
    const id = r.json.id;
    await bad({}, 'items', `/v1/conversations/${id}/items`);
    await bad({ items: [{ type: 'bogus' }] }, 'items[0].type', `/v1/conversations/${id}/items`);
    r = await c.get(`/v1/conversations/${id}/items?limit=0`);
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'limit');
    r = await c.get(`/v1/conversations/${id}/items?limit=101`);
    assert.equal(r.status, 400);
    r = await c.get(`/v1/conversations/${id}/items?order=sideways`);
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'order');
    r = await c.get(`/v1/conversations/${id}/items?limit=100`);
    assert.equal(r.json.data.length, 20);
    // Not JSON.
    r = await request(`${gw.url}/v1/conversations`, { method: 'POST', body: '{nope', headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400);
    // Paths and methods.
    r = await c.get(`/v1/conversations/${id}/other`);
    assert.equal(r.status, 404);
    r = await c.del(`/v1/conversations/${id}/items`);
    assert.equal(r.status, 405);
    r = await c.post(`/v1/conversations/${id}/items/msg_x`, {});
    assert.equal(r.status, 405);
    r = await request(`${gw.url}/v1/conversations`, { method: 'DELETE' });
    assert.equal(r.status, 405);
  });

  test('GET /v1/conversations lists them, paged', async () => {
    const made = [];
    for (let k = 0; k < 3; k++) made.push((await c.post('/v1/conversations', { metadata: { k: `${k}` } })).json.id);
    let r = await c.get('/v1/conversations?limit=100');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'list');
    const all = r.json.data.map((x) => x.id);
    for (const id of made) assert.ok(all.includes(id));
    // Newest first by default; paging covers every one once.
    const seen = [];
    let after = null;
    for (;;) {
      r = await c.get(`/v1/conversations?limit=2${after ? `&after=${after}` : ''}`);
      assert.equal(r.status, 200, r.text);
      seen.push(...r.json.data.map((x) => x.id));
      if (!r.json.has_more) break;
      after = r.json.last_id;
    }
    assert.deepEqual(seen, all);
    r = await c.get('/v1/conversations?order=asc&limit=100');
    assert.deepEqual(r.json.data.map((x) => x.id), [...all].reverse());
  });

  test('a burst of writes, each read back by the very next request', async () => {
    const id = (await c.post('/v1/conversations', {})).json.id;
    for (let k = 0; k < 30; k++) {
      const r = await c.post(`/v1/conversations/${id}/items`, { items: [userMsg(`n${k}`)] });
      const got = await c.get(`/v1/conversations/${id}/items?limit=1`);
      assert.equal(got.json.data[0].id, r.json.data[0].id);
    }
  });
});

describe('conversations: ownership by key', () => {
  let gw;
  let a;
  let b;
  let admin;
  before(async () => {
    gw = await startGateway({ env: { SWITCHBOARD_ADMIN_KEY: ADMIN } });
    const mk = async (name) => {
      const r = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(ADMIN), body: { name } });
      assert.equal(r.status, 201, r.text);
      return r.json.secret;
    };
    a = client(gw, bearer(await mk('a')));
    b = client(gw, bearer(await mk('b')));
    admin = client(gw, bearer(ADMIN));
  });
  after(async () => { if (gw) await gw.stop(); });

  test('another key finds nothing; the admin credential sees every one', async () => {
    let r = await request(`${gw.url}/v1/conversations`, { body: {} });
    assert.equal(r.status, 401);
    r = await a.post('/v1/conversations', { items: [userMsg('secret')] });
    assert.equal(r.status, 200, r.text);
    const id = r.json.id;
    const item = (await a.get(`/v1/conversations/${id}/items`)).json.data[0].id;

    assertNotFound(await b.get(`/v1/conversations/${id}`), id);
    assertNotFound(await b.get(`/v1/conversations/${id}/items`), id);
    assertNotFound(await b.get(`/v1/conversations/${id}/items/${item}`), id);
    assertNotFound(await b.post(`/v1/conversations/${id}/items`, { items: [userMsg('intrude')] }), id);
    assertNotFound(await b.post(`/v1/conversations/${id}`, { metadata: { x: 'y' } }), id);
    assertNotFound(await b.del(`/v1/conversations/${id}/items/${item}`), id);
    assertNotFound(await b.del(`/v1/conversations/${id}`), id);

    const bid = (await b.post('/v1/conversations', {})).json.id;
    r = await b.get('/v1/conversations');
    assert.deepEqual(r.json.data.map((x) => x.id), [bid]);
    r = await a.get('/v1/conversations');
    assert.deepEqual(r.json.data.map((x) => x.id), [id]);
    // b cannot page from a's conversation either.
    r = await b.get(`/v1/conversations?after=${id}`);
    assert.equal(r.status, 400);

    r = await admin.get(`/v1/conversations/${id}/items`);
    assert.equal(r.status, 200);
    assert.equal(r.json.data.length, 1);
    r = await admin.get('/v1/conversations?order=asc');
    assert.deepEqual(r.json.data.map((x) => x.id), [id, bid]);

    // Still a's after all that: nothing b did landed.
    r = await a.get(`/v1/conversations/${id}/items`);
    assert.equal(r.json.data.length, 1);
    const rows = await queryDb(gw.dbPath, `SELECT key_id FROM conversations WHERE id = '${id}'`);
    assert.equal(rows.length, 1);
    assert.ok(rows[0].key_id);
  });

  test('kept across a restart', async () => {
    const r = await a.post('/v1/conversations', { metadata: { keep: 'me' }, items: [userMsg('persist')] });
    const id = r.json.id;
    await gw.stop();
    gw = await startGateway({ env: { SWITCHBOARD_ADMIN_KEY: ADMIN }, dir: gw.dir, dbPath: gw.dbPath });
    admin = client(gw, bearer(ADMIN));
    const got = await admin.get(`/v1/conversations/${id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.json.metadata, { keep: 'me' });
    const items = await admin.get(`/v1/conversations/${id}/items`);
    assert.equal(items.json.data[0].content[0].text, 'persist');
  });
});
