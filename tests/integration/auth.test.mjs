// Gateway keys and the admin credential: secure by default once either
// exists, keys made through the admin API and the CLI, model allow-lists,
// rate limits, immediate revocation, and the open mode's guard rails.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  startGateway, runSwitchboard, request, postChat, queryDb, waitFor, sleep, tempDir, freePort, streamChat,
} from './harness.mjs';

const ADMIN = 'sk-sb-admin-test-0123456789abcdef0123456789abcdef';
const chat = (model, text = 'hi there') => ({ model, messages: [{ role: 'user', content: text }] });
const bearer = (k) => ({ authorization: `Bearer ${k}` });

async function createKey(gw, body) {
  const r = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(ADMIN), body });
  assert.equal(r.status, 201, r.text);
  assert.match(r.json.secret, /^sk-sb-[0-9a-f]{64}$/);
  return r.json;
}

describe('auth: admin credential from SWITCHBOARD_ADMIN_KEY', () => {
  let gw;
  before(async () => {
    gw = await startGateway({ env: { SWITCHBOARD_ADMIN_KEY: ADMIN } });
  });
  after(async () => { if (gw) await gw.stop(); });

  test('every /v1 call needs a key, in the caller\'s error format', async () => {
    let r = await postChat(gw.url, chat('echo/echo-1'));
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, 'missing_api_key');
    r = await postChat(gw.url, chat('echo/echo-1'), { headers: bearer('sk-sb-nope') });
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, 'invalid_api_key');
    r = await request(`${gw.url}/v1/messages`, { body: { model: 'echo/echo-1', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(r.status, 401);
    assert.equal(r.json.type, 'error');
    assert.equal(r.json.error.type, 'authentication_error');
    r = await request(`${gw.url}/v1/models`);
    assert.equal(r.status, 401);
    // Health stays open for load balancers.
    assert.equal((await request(`${gw.url}/healthz`)).status, 200);
    r = await postChat(gw.url, chat('echo/echo-1'), { headers: bearer(ADMIN) });
    assert.equal(r.status, 200);
  });

  test('a key made through the admin API works once, is shown once, and is stored hashed', async () => {
    const k = await createKey(gw, { name: 'app', models: ['echo/echo-1'], tags: ['team-a'] });
    assert.equal(k.name, 'app');
    assert.equal(k.status, 'active');
    assert.ok(k.secret.startsWith(k.prefix));
    let r = await postChat(gw.url, chat('echo/echo-1', 'via key'), { headers: bearer(k.secret) });
    assert.equal(r.status, 200);
    assert.equal(r.json.choices[0].message.content, 'via key');
    const keyRids = [r.headers['x-request-id']];
    // x-api-key works too (Anthropic SDKs).
    r = await request(`${gw.url}/v1/messages`, {
      headers: { 'x-api-key': k.secret },
      body: { model: 'echo/echo-1', max_tokens: 5, messages: [{ role: 'user', content: 'anthropic style' }] },
    });
    assert.equal(r.status, 200, r.text);
    keyRids.push(r.headers['x-request-id']);
    // The list never shows the secret.
    r = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(ADMIN) });
    assert.equal(r.status, 200);
    assert.ok(r.json.data.some((x) => x.id === k.id));
    assert.ok(!r.text.includes(k.secret));
    // Nor does the database file, nor its WAL, once the writer has stored
    // the records of the two requests made with the key.
    await waitFor(async () => (await queryDb(gw.dbPath,
      `SELECT count(*) AS n FROM requests WHERE request_id IN ('${keyRids.join("','")}')`))[0].n === keyRids.length,
    { what: 'the records of the requests made with the key' });
    for (const f of [gw.dbPath, `${gw.dbPath}-wal`]) {
      try { assert.ok(!readFileSync(f).includes(Buffer.from(k.secret)), `${f} holds the secret`); } catch (e) { if (e.code !== 'ENOENT') throw e; }
    }
    // Usage is recorded against the key.
    const rid = (await postChat(gw.url, chat('echo/echo-1'), { headers: bearer(k.secret) })).headers['x-request-id'];
    await waitFor(async () => (await queryDb(gw.dbPath, `SELECT key_id FROM requests WHERE request_id='${rid}'`)).length === 1, { what: 'record' });
    const [row] = await queryDb(gw.dbPath, `SELECT key_id FROM requests WHERE request_id='${rid}'`);
    assert.equal(row.key_id, k.id);
  });

  test('model allow-list: 403 outside it, /v1/models shows only what the key may use', async () => {
    const k = await createKey(gw, { name: 'narrow', models: ['echo/echo-*'] });
    let r = await postChat(gw.url, chat('echo/story-1'), { headers: bearer(k.secret) });
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'model_not_allowed');
    r = await postChat(gw.url, chat('echo/echo-1'), { headers: bearer(k.secret) });
    assert.equal(r.status, 200);
    r = await request(`${gw.url}/v1/models`, { headers: bearer(k.secret) });
    assert.deepEqual(r.json.data.map((m) => m.id), ['echo/echo-1']);
  });

  test('the allow-list is checked before the model is looked up, alike on every endpoint', async () => {
    const k = await createKey(gw, { name: 'blind', models: ['echo/echo-*'] });
    const h = bearer(k.secret);
    const msg = (model) => ({ model, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
    const calls = {
      chat: (model) => postChat(gw.url, chat(model), { headers: h }),
      messages: (model) => request(`${gw.url}/v1/messages`, { headers: h, body: msg(model) }),
      count_tokens: (model) => request(`${gw.url}/v1/messages/count_tokens`, { headers: h, body: msg(model) }),
      responses: (model) => request(`${gw.url}/v1/responses`, { headers: h, body: { model, input: 'x' } }),
      embeddings: (model) => request(`${gw.url}/v1/embeddings`, { headers: h, body: { model, input: 'x' } }),
      model: (model) => request(`${gw.url}/v1/models/${model}`, { headers: h }),
    };
    const code = (r) => (r.json && r.json.error && (r.json.error.code || r.json.error.type));
    for (const [name, call] of Object.entries(calls)) {
      // Outside the list: the same 403 whether the model exists or not.
      const real = await call('echo/story-1');
      const fake = await call('echo/no-such-model');
      const other = await call('nope/nothing');
      for (const r of [real, fake, other]) assert.equal(r.status, 403, `${name}: ${r.status} ${r.text}`);
      assert.equal(code(real), code(fake), name);
      assert.equal(real.json.error.message.replace('story-1', 'X'), fake.json.error.message.replace('no-such-model', 'X'), name);
      // Inside it, a model that does not exist is still 404.
      const missing = await call('echo/echo-nope');
      assert.equal(missing.status, 404, `${name}: ${missing.status} ${missing.text}`);
    }
    assert.equal((await calls.chat('echo/story-1')).json.error.code, 'model_not_allowed');
  });

  test('a gateway key cannot use the admin API', async () => {
    const k = await createKey(gw, { name: 'not-admin' });
    const r = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(k.secret) });
    assert.equal(r.status, 403);
  });

  test('revocation through the API holds from the very next request', async () => {
    const k = await createKey(gw, { name: 'short-lived' });
    assert.equal((await postChat(gw.url, chat('echo/echo-1'), { headers: bearer(k.secret) })).status, 200);
    const del = await request(`${gw.url}/admin/v1/keys/${k.id}`, { method: 'DELETE', headers: bearer(ADMIN) });
    assert.equal(del.status, 200);
    assert.equal(del.json.status, 'revoked');
    // Several connections, so that every worker is asked.
    for (let i = 0; i < 8; i++) {
      const r = await postChat(gw.url, chat('echo/echo-1'), { headers: bearer(k.secret) });
      assert.equal(r.status, 401);
      assert.match(r.json.error.message, /revoked/);
    }
  });

  test('requests-per-minute: over the limit is 429 with retry-after and x-ratelimit headers', async () => {
    const k = await createKey(gw, { name: 'slow', rpm: 3 });
    const codes = [];
    let last;
    for (let i = 0; i < 5; i++) {
      last = await postChat(gw.url, chat('echo/echo-1'), { headers: bearer(k.secret) });
      codes.push(last.status);
      if (last.status === 200) assert.equal(last.headers['x-ratelimit-limit-requests'], '3');
    }
    assert.deepEqual(codes, [200, 200, 200, 429, 429]);
    assert.equal(last.json.error.type, 'rate_limit_error');
    assert.ok(Number(last.headers['retry-after']) >= 1);
  });

  test('tokens-per-minute: a request that used up the budget makes the next one 429', async () => {
    const k = await createKey(gw, { name: 'thrifty', tpm: 10 });
    const words = Array.from({ length: 20 }, (_, i) => `w${i}`).join(' ');
    const first = await postChat(gw.url, chat('echo/echo-1', words), { headers: bearer(k.secret) });
    assert.equal(first.status, 200);
    assert.equal(first.headers['x-ratelimit-limit-tokens'], '10');
    const second = await postChat(gw.url, chat('echo/echo-1'), { headers: bearer(k.secret) });
    assert.equal(second.status, 429);
    assert.match(second.json.error.message, /tokens per minute/);
  });

  test('limits hold under concurrency: a burst across connections and workers gets exactly its share', async () => {
    const k = await createKey(gw, { name: 'burst-rpm', rpm: 10 });
    const rs = await Promise.all(Array.from({ length: 40 }, () =>
      postChat(gw.url, chat('echo/echo-1'), { headers: bearer(k.secret) })));
    const ok = rs.filter((r) => r.status === 200).length;
    assert.ok(ok === 10 || ok === 11, `${ok} of 40 admitted at 10 rpm`); // 11: a refill mid-burst
    assert.ok(rs.every((r) => r.status === 200 || r.status === 429));
    const p = await createKey(gw, { name: 'burst-parallel', max_parallel: 3 });
    const streams = await Promise.all(Array.from({ length: 20 }, () =>
      request(`${gw.url}/v1/chat/completions`, { headers: bearer(p.secret), body: { ...chat('echo/story-1'), stream: true } })));
    assert.equal(streams.filter((r) => r.status === 200).length, 3, 'three streams at a time');
  });

  test('parallel limit: a second request while one streams is 429', async () => {
    const k = await createKey(gw, { name: 'one-at-a-time', max_parallel: 1 });
    // The first request holds its slot once its stream has begun: wait for
    // its first event (the story then streams on for over a second).
    let streaming;
    const begun = new Promise((resolve) => { streaming = resolve; });
    const first = streamChat(gw.url, { ...chat('echo/story-1'), stream: true }, {
      headers: bearer(k.secret), onEvent: () => streaming(),
    });
    await Promise.race([begun, first.then((r) => {
      throw new Error(`the first request ended without an event: ${r.status} ${r.raw.slice(0, 300)}`);
    })]);
    const second = await postChat(gw.url, chat('echo/echo-1'), { headers: bearer(k.secret) });
    assert.equal(second.status, 429);
    const firstDone = await first;
    assert.equal(firstDone.status, 200);
    assert.ok(firstDone.done, 'the first stream ran to its end');
    const third = await postChat(gw.url, chat('echo/echo-1'), { headers: bearer(k.secret) });
    assert.equal(third.status, 200);
  });

  test('edit through the API: a new allow-list holds at once', async () => {
    const k = await createKey(gw, { name: 'editable' });
    assert.equal((await postChat(gw.url, chat('echo/story-1'), { headers: bearer(k.secret) })).status, 200);
    const r = await request(`${gw.url}/admin/v1/keys/${k.id}`, { headers: bearer(ADMIN), body: { models: ['echo/echo-1'] } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.models, ['echo/echo-1']);
    assert.equal((await postChat(gw.url, chat('echo/story-1'), { headers: bearer(k.secret) })).status, 403);
  });

  test('a stored response belongs to the key that made it', async () => {
    const a = await createKey(gw, { name: 'resp-owner' });
    const b = await createKey(gw, { name: 'resp-other' });
    const made = await request(`${gw.url}/v1/responses`, {
      headers: bearer(a.secret), body: { model: 'echo/echo-1', input: 'remember me' },
    });
    assert.equal(made.status, 200, made.text);
    const id = made.json.id;
    const get = (k, suffix = '') => request(`${gw.url}/v1/responses/${id}${suffix}`, { method: 'GET', headers: bearer(k) });
    assert.equal((await get(a.secret)).status, 200, 'its owner reads it');
    assert.equal((await get(ADMIN)).status, 200, 'so does the admin credential');
    const other = await get(b.secret);
    assert.equal(other.status, 404, 'another key finds nothing');
    assert.match(other.json.error.message, new RegExp(id));
    assert.equal((await get(b.secret, '/input_items')).status, 404);
    const cont = await request(`${gw.url}/v1/responses`, {
      headers: bearer(b.secret), body: { model: 'echo/echo-1', input: 'and then?', previous_response_id: id },
    });
    assert.equal(cont.status, 404, 'nor can it continue the conversation');
    assert.equal(cont.json.error.param, 'previous_response_id');
    const del = await request(`${gw.url}/v1/responses/${id}`, { method: 'DELETE', headers: bearer(b.secret) });
    assert.equal(del.status, 404, 'nor delete it');
    const mine = await request(`${gw.url}/v1/responses`, {
      headers: bearer(a.secret), body: { model: 'echo/echo-1', input: 'and then?', previous_response_id: id },
    });
    assert.equal(mine.status, 200, mine.text);
    assert.equal((await get(a.secret)).status, 200, 'still there for its owner');

    // Its output items can be referred to by id, by their owner only.
    const itemId = made.json.output[0].id;
    const refer = (k, ref) => request(`${gw.url}/v1/responses`, {
      headers: bearer(k), body: { model: 'echo/echo-1', input: [ref, { role: 'user', content: 'again' }] },
    });
    const ok = await refer(a.secret, { type: 'item_reference', id: itemId });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await refer(a.secret, { id: itemId })).status, 200, 'the untyped shorthand');
    const theirs = await refer(b.secret, { type: 'item_reference', id: itemId });
    assert.equal(theirs.status, 404, 'another key cannot refer to it');
    assert.equal(theirs.json.error.param, 'input');
    const unknown = await refer(a.secret, { type: 'item_reference', id: 'msg_nope' });
    assert.equal(unknown.status, 404);
    assert.match(unknown.json.error.message, /Item with id 'msg_nope' not found/);
    const noId = await refer(a.secret, { type: 'item_reference' });
    assert.equal(noId.status, 400);
    assert.equal(noId.json.error.param, 'input[0].id');
    const gone = await request(`${gw.url}/v1/responses/${id}`, { method: 'DELETE', headers: bearer(a.secret) });
    assert.equal(gone.status, 200);
    assert.equal((await refer(a.secret, { type: 'item_reference', id: itemId })).status, 404, 'deleted with its response');
  });

  test('bad admin bodies are 400 naming the field', async () => {
    let r = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(ADMIN), body: { name: 'x', rpm: -1 } });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'rpm');
    r = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(ADMIN), body: { nme: 'x' } });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'nme');
    r = await request(`${gw.url}/admin/v1/keys/key_nope`, { headers: bearer(ADMIN) });
    assert.equal(r.status, 404);
  });
});

describe('auth: keys from the CLI reach a running gateway', () => {
  let gw;
  before(async () => { gw = await startGateway(); });
  after(async () => { if (gw) await gw.stop(); });

  test('open until the first key exists; then closed; a CLI revoke holds from the very next request', async () => {
    assert.equal((await postChat(gw.url, chat('echo/echo-1'))).status, 200, 'no key yet: open');
    const made = await runSwitchboard(['keys', 'create', '--name', 'cli-key', '--db', gw.dbPath]);
    assert.equal(made.code, 0, made.stderr);
    const secret = made.stdout.trim();
    assert.match(secret, /^sk-sb-[0-9a-f]{64}$/);
    // The CLI returns once the running gateway serves the change: no wait.
    assert.equal((await postChat(gw.url, chat('echo/echo-1'))).status, 401, 'the first key closed it');
    assert.equal((await postChat(gw.url, chat('echo/echo-1'), { headers: bearer(secret) })).status, 200);
    for (let i = 0; i < 3; i++) {
      const k = await runSwitchboard(['keys', 'create', '--name', `burst-${i}`, '--db', gw.dbPath]);
      const s = k.stdout.trim();
      assert.equal((await postChat(gw.url, chat('echo/echo-1'), { headers: bearer(s) })).status, 200, 'a new key works at once');
      assert.equal((await runSwitchboard(['keys', 'revoke', `burst-${i}`, '--db', gw.dbPath])).code, 0);
      assert.equal((await postChat(gw.url, chat('echo/echo-1'), { headers: bearer(s) })).status, 401, 'a revoked one fails at once');
    }
    const rev = await runSwitchboard(['keys', 'revoke', 'cli-key', '--db', gw.dbPath]);
    assert.equal(rev.code, 0, rev.stderr);
    assert.doesNotMatch(rev.stderr, /did not report/);
    assert.equal((await postChat(gw.url, chat('echo/echo-1'), { headers: bearer(secret) })).status, 401);
  });
});

describe('auth: the open mode\'s guard rails', () => {
  test('open and not on loopback: refuses to start without --allow-open', async () => {
    const dir = tempDir();
    const port = await freePort();
    const r = await runSwitchboard(['serve', '--host', '0.0.0.0', '--port', String(port), '--db', `${dir}/sb.db`], { timeoutMs: 5000 });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--allow-open/);
  });

  test('--allow-open, or an admin credential, lets it listen beyond loopback', async () => {
    const gw = await startGateway({ args: ['--host', '0.0.0.0', '--allow-open'] });
    assert.match(gw.stderr() + gw.stdout(), /open/i);
    await gw.stop();
    const gw2 = await startGateway({ args: ['--host', '0.0.0.0'], env: { SWITCHBOARD_ADMIN_KEY: ADMIN } });
    assert.equal((await postChat(gw2.url, chat('echo/echo-1'))).status, 401);
    await gw2.stop();
  });
});
