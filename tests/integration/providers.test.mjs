// Providers live in SQLite: the config file seeds them, the admin API and
// the CLI create, edit and delete them while the gateway runs, requests in
// flight keep the provider they started with, credentials are only ever
// named (an environment variable), and everything survives a restart.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import {
  startGateway, request, postChat, queryDb, freePort, runSwitchboard, streamChat, waitFor,
} from './harness.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';

const KEY = 'sk-upstream-providers-5ecret';
const ADMIN = 'sk-sb-admin-providers-0123456789abcdef0123456789abcdef';
const admin = { authorization: `Bearer ${ADMIN}` };
const ask = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'who serves me' }], ...extra });

const adminGet = (gw, path) => request(`${gw.url}/admin/v1${path}`, { method: 'GET', headers: admin });
const adminPost = (gw, path, body) => request(`${gw.url}/admin/v1${path}`, { headers: admin, body });
const adminDelete = (gw, path) => request(`${gw.url}/admin/v1${path}`, { method: 'DELETE', headers: admin });

describe('providers in the database', () => {
  let a;
  let b;
  let gw;
  let deadPort;
  const env = { UP: KEY, SWITCHBOARD_ADMIN_KEY: ADMIN };
  const seeded = () => ({ name: 'seeded', kind: 'openai', base_url: a.url, api_key_env: 'UP', models: ['gpt-4o-mini'] });

  before(async () => {
    a = await startOpenAIEmulator({ apiKey: KEY, quiet: true });
    b = await startOpenAIEmulator({ apiKey: KEY, quiet: true });
    deadPort = await freePort();
    gw = await startGateway({
      env,
      config: {
        providers: [seeded(), { name: 'doomed', kind: 'openai', base_url: a.url, api_key_env: 'UP', models: ['gpt-4o'] }],
        routes: { r1: { targets: ['seeded/gpt-4o-mini'] } },
      },
    });
  });
  after(async () => {
    if (gw) await gw.stop();
    for (const e of [a, b]) if (e) await e.close();
  });

  test('the config file seeds the table; the API lists them with their status, never the credential', async () => {
    const r = await adminGet(gw, '/providers');
    assert.equal(r.status, 200, r.text);
    const byName = Object.fromEntries(r.json.data.map((p) => [p.name, p]));
    assert.deepEqual(Object.keys(byName).sort(), ['doomed', 'seeded']);
    assert.equal(byName.seeded.source, 'config');
    assert.equal(byName.seeded.kind, 'openai');
    assert.equal(byName.seeded.api_key_env, 'UP');
    assert.deepEqual(byName.seeded.status, { served: true, models: ['gpt-4o-mini'] });
    assert.ok(!r.text.includes(KEY), 'the credential never appears');
    const rows = await queryDb(gw.dbPath, 'SELECT name, definition, source FROM providers');
    assert.equal(rows.length, 2);
    for (const row of rows) assert.ok(!row.definition.includes(KEY));
    const one = await adminGet(gw, '/providers/seeded');
    assert.equal(one.status, 200);
    assert.equal(one.json.base_url, a.url);
  });

  test('a provider created through the API serves the next request, with its model list fetched', async () => {
    const c = await adminPost(gw, '/providers', { name: 'added', kind: 'openai', base_url: b.url, api_key_env: 'UP' });
    assert.equal(c.status, 201, c.text);
    assert.equal(c.json.source, 'api');
    assert.equal(c.json.status.served, true);
    assert.ok(c.json.status.models.includes('gpt-4o'), JSON.stringify(c.json.status));
    const before = b.requestsTo('/v1/chat/completions').length;
    const r = await postChat(gw.url, ask('added/gpt-4o'), { headers: admin });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-switchboard-provider'], 'added');
    assert.equal(b.requestsTo('/v1/chat/completions').length, before + 1, 'the new provider\'s upstream answered');
    const m = await request(`${gw.url}/v1/models`, { method: 'GET', headers: admin });
    assert.ok(m.json.data.some((e) => e.id === 'added/gpt-4o'), 'listed in /v1/models');
  });

  test('a provider made through the API forwards the client headers it names', async () => {
    const c = await adminPost(gw, '/providers', { name: 'fwd', kind: 'openai', base_url: b.url, api_key_env: 'UP', models: ['gpt-4o'], forward_headers: ['x-tenant'] });
    assert.equal(c.status, 201, c.text);
    const r = await postChat(gw.url, ask('fwd/gpt-4o'), { headers: { ...admin, 'x-tenant': 'acme' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(b.lastRequest().headers['x-tenant'], 'acme');
    assert.equal((await adminDelete(gw, '/providers/fwd')).status, 200);
  });

  test('a credential header names its environment variable; the value reaches the upstream, never the table', async () => {
    // No api_key_env: the credential travels in a header that names it.
    const ok = await adminPost(gw, '/providers', { name: 'viahdr', kind: 'openai', base_url: b.url, models: ['gpt-4o'], headers: { Authorization: 'Bearer ${UP}', 'X-Team': 'blue' } });
    assert.equal(ok.status, 201, ok.text);
    assert.deepEqual(ok.json.headers, { Authorization: 'Bearer ${UP}', 'X-Team': 'blue' });
    const r = await postChat(gw.url, ask('viahdr/gpt-4o'), { headers: admin });
    assert.equal(r.status, 200, r.text);
    const h = b.lastRequest().headers;
    assert.equal(h.authorization, `Bearer ${KEY}`);
    assert.equal(h['x-team'], 'blue');
    const rows = await queryDb(gw.dbPath, "SELECT definition FROM providers WHERE name = 'viahdr'");
    assert.ok(!rows[0].definition.includes(KEY));
    assert.equal((await adminDelete(gw, '/providers/viahdr')).status, 200);
  });

  test('bad definitions are refused with a 400 that says why, and nothing is stored', async () => {
    const cases = [
      [{ name: 'lit', kind: 'openai', base_url: b.url, api_key: KEY }, /api_key_env/],
      [{ name: 'nokind', base_url: b.url }, /kind/],
      [{ name: 'weird', kind: 'palm', base_url: b.url }, /unknown provider kind/],
      [{ name: 'unset', kind: 'openai', base_url: b.url, api_key_env: 'SB_NOT_SET_ANYWHERE' }, /SB_NOT_SET_ANYWHERE/],
      [{ name: 'echo', kind: 'openai', base_url: b.url }, /built-in/],
      [{ name: 'bad/name', kind: 'openai', base_url: b.url }, /name/],
      [{ name: 'ftp', kind: 'openai', base_url: 'ftp://x' }, /http/],
      [{ name: 'opts', kind: 'ollama', options: { nope: 1 } }, /options\.nope/],
      [{ name: 'n'.repeat(65), kind: 'openai', base_url: b.url }, /1 to 64/],
      [{ name: 'hdr', kind: 'openai', base_url: b.url, headers: { 'X-Api-Key': KEY } }, /credential is never stored/],
      [{ name: 'hdr2', kind: 'openai', base_url: b.url, headers: { Authorization: 'Bearer x' } }, /\$\{VAR\}/],
      [{ name: 'hdr3', kind: 'openai', base_url: b.url, headers: { 'X-Api-Key': '${SB_NOT_SET_EITHER}' } }, /SB_NOT_SET_EITHER/],
    ];
    for (const [body, why] of cases) {
      const r = await adminPost(gw, '/providers', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)} -> ${r.text}`);
      assert.match(r.json.error.message, why);
      assert.ok(!r.text.includes(KEY), 'the credential is not echoed back');
    }
    const rows = await queryDb(gw.dbPath, 'SELECT name FROM providers ORDER BY name');
    assert.deepEqual(rows.map((x) => x.name), ['added', 'doomed', 'seeded']);
  });

  test('an edit takes effect on the next request; a gateway key cannot reach the admin API', async () => {
    let e = await adminPost(gw, '/providers/added', { kind: 'openai', base_url: `http://127.0.0.1:${deadPort}/v1`, api_key_env: 'UP', models: ['gpt-4o'] });
    assert.equal(e.status, 201, e.text);
    let r = await postChat(gw.url, ask('added/gpt-4o'), { headers: admin });
    assert.equal(r.status, 502, r.text);
    e = await adminPost(gw, '/providers/added', { kind: 'openai', base_url: b.url, api_key_env: 'UP' });
    assert.equal(e.status, 201, e.text);
    r = await postChat(gw.url, ask('added/gpt-4o'), { headers: admin });
    assert.equal(r.status, 200, r.text);
    const mismatch = await adminPost(gw, '/providers/added', { name: 'other', kind: 'openai', base_url: b.url });
    assert.equal(mismatch.status, 400);

    const k = await adminPost(gw, '/keys', { name: 'app' });
    assert.equal(k.status, 201, k.text);
    const denied = await request(`${gw.url}/admin/v1/providers`, { method: 'GET', headers: { authorization: `Bearer ${k.json.secret}` } });
    assert.equal(denied.status, 403);
  });

  test('a request in flight keeps its provider when it is deleted; the next one gets a 404', async () => {
    let started;
    const first = new Promise((resolve) => { started = resolve; });
    const s = streamChat(gw.url, ask('added/slow-stream', { stream: true }), { headers: admin, onEvent: () => started() });
    await Promise.race([first, s]); // the first chunk is out: the request holds its provider
    const d = await adminDelete(gw, '/providers/added');
    assert.equal(d.status, 200, d.text);
    assert.ok(!d.json.data.some((p) => p.name === 'added'));
    const r = await postChat(gw.url, ask('added/gpt-4o'), { headers: admin });
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.error.code, 'model_not_found');
    const done = await s;
    assert.equal(done.status, 200);
    assert.ok(done.done, 'the stream in flight ran to its end');
    assert.equal(done.errors.length, 0);
    const again = await adminDelete(gw, '/providers/added');
    assert.equal(again.status, 404);
  });

  test('the CLI writes the same table while the gateway runs, and the gateway picks it up', async () => {
    const cli = await runSwitchboard(['providers', 'set', 'fromcli', '--kind', 'openai', '--base-url', b.url,
      '--api-key-env', 'UP', '--models', 'gpt-4o,llama3', '--db', gw.dbPath], { env: { UP: '' } });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stderr, /UP is not set here/);
    // The CLI returns once the gateway serves the change.
    assert.equal((await postChat(gw.url, ask('fromcli/llama3'), { headers: admin })).status, 200);
    const list = await runSwitchboard(['providers', 'list', '--db', gw.dbPath]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^fromcli\t\{.*"base_url".*\}\tapi$/m);
    assert.match(list.stdout, /^seeded\t.*\tconfig$/m);
    const bad = await runSwitchboard(['providers', 'set', 'x', '--kind', 'nope', '--db', gw.dbPath]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown provider kind/);
    const gone = await runSwitchboard(['providers', 'delete', 'nosuch', '--db', gw.dbPath]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /no provider 'nosuch'/);
  });

  test('a provider whose model list is slow to fetch never holds up a key revocation', async () => {
    // An upstream that accepts connections and never answers: the gateway's
    // model-list fetch waits out its 5 s limit. It says when the fetch's
    // request has arrived.
    let fetchArrived;
    const fetching = new Promise((resolve) => { fetchArrived = resolve; });
    const silent = net.createServer((sock) => { sock.once('data', () => fetchArrived()); });
    await new Promise((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const k = await adminPost(gw, '/keys', { name: 'revoke-me-fast' });
      assert.equal(k.status, 201);
      const added = runSwitchboard(['providers', 'set', 'silent', '--kind', 'openai',
        '--base-url', `http://127.0.0.1:${silent.address().port}/v1`, '--db', gw.dbPath]);
      await Promise.race([fetching, added.then((r) => { // the gateway is now fetching
        throw new Error(`providers set ended before the gateway fetched the model list: ${r.code} ${r.stderr}`);
      })]);
      const t0 = Date.now();
      const rev = await runSwitchboard(['keys', 'revoke', 'revoke-me-fast', '--db', gw.dbPath]);
      assert.equal(rev.code, 0, rev.stderr);
      assert.ok(Date.now() - t0 < 1500, `the revoke waited ${Date.now() - t0} ms`);
      const r = await postChat(gw.url, ask('echo/echo-1'), { headers: { authorization: `Bearer ${k.json.secret}` } });
      assert.equal(r.status, 401, 'revoked at once');
      const a2 = await added;
      assert.equal(a2.code, 0, a2.stderr);
      assert.match(a2.stderr, /did not report the change/, 'the CLI says the provider is not served yet');
      await waitFor(async () => (await adminGet(gw, '/providers/silent')).json.status.served, { what: 'served', timeoutMs: 8000 });
      assert.equal((await adminDelete(gw, '/providers/silent')).status, 200);
    } finally {
      silent.close();
    }
  });

  test('prices can be deleted; a route can be read back by name', async () => {
    const p = await adminPost(gw, '/prices', { model: 'added/gpt-4o', input_per_mtok: 1, output_per_mtok: 2 });
    assert.equal(p.status, 200, p.text);
    const d = await request(`${gw.url}/admin/v1/prices/added/gpt-4o`, { method: 'DELETE', headers: admin });
    assert.equal(d.status, 200, d.text);
    assert.ok(!d.json.data.some((x) => x.model === 'added/gpt-4o'));
    const again = await request(`${gw.url}/admin/v1/prices/added/gpt-4o`, { method: 'DELETE', headers: admin });
    assert.equal(again.status, 404);
    const spaced = await adminPost(gw, '/routes', { name: 'my route', targets: ['echo/echo-1'] });
    assert.equal(spaced.status, 400, 'a route name is a model name: no spaces');
    const long = await adminPost(gw, '/routes', { name: 'r'.repeat(129), targets: ['echo/echo-1'] });
    assert.equal(long.status, 400);
    const rt = await adminGet(gw, '/routes/r1');
    assert.equal(rt.status, 200, rt.text);
    assert.deepEqual(rt.json.targets, ['seeded/gpt-4o-mini']);
    assert.equal(rt.json.source, 'config');
  });

  test('after a restart: operator rows stay, config rows follow the file, operator edits win over it', async () => {
    // Take the seeded provider over through the API: from now on it is the operator's.
    const own = await adminPost(gw, '/providers/seeded', { ...seeded(), name: undefined, models: ['gpt-4o-mini', 'llama3'] });
    assert.equal(own.status, 201, own.text);
    const dir = gw.dir;
    await gw.stop();
    gw = await startGateway({
      dir,
      env,
      config: {
        // seeded changed in the file (ignored: the operator owns it); doomed
        // removed from the file (deleted); fresh added to the file.
        providers: [{ ...seeded(), base_url: `http://127.0.0.1:${deadPort}/v1` },
          { name: 'fresh', kind: 'openai', base_url: b.url, api_key_env: 'UP', models: ['gpt-4o'] }],
        routes: { r1: { targets: ['fresh/gpt-4o'] } },
      },
    });
    const rows = await queryDb(gw.dbPath, 'SELECT name, source FROM providers ORDER BY name');
    assert.deepEqual(rows.map((x) => [x.name, x.source]), [['fresh', 'config'], ['fromcli', 'api'], ['seeded', 'api']]);
    assert.match(gw.stderr(), /wins over the config file/);
    const s = await postChat(gw.url, ask('seeded/llama3'), { headers: admin });
    assert.equal(s.status, 200, 'the operator\'s definition, not the file\'s dead address');
    assert.equal((await postChat(gw.url, ask('fresh/gpt-4o'), { headers: admin })).status, 200);
    assert.equal((await postChat(gw.url, ask('doomed/gpt-4o'), { headers: admin })).status, 404);
    const r = await postChat(gw.url, ask('r1'), { headers: admin });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-switchboard-provider'], 'fresh', 'the config-owned route followed the file');
    assert.equal((await postChat(gw.url, ask('fromcli/gpt-4o'), { headers: admin })).status, 200);
  });

  test('a gateway killed without a goodbye does not hold the CLI up', async () => {
    const dir = gw.dir;
    gw.proc.kill('SIGKILL');
    await gw.exited;
    const t0 = Date.now();
    const r = await runSwitchboard(['routes', 'set', 'after-kill', '--targets', 'echo/echo-1', '--db', gw.dbPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - t0 < 1500, `took ${Date.now() - t0} ms`);
    assert.doesNotMatch(r.stderr, /did not report/);
    assert.deepEqual(await queryDb(gw.dbPath, 'SELECT pid FROM gateways'), [], 'the dead gateway\'s row is gone');
    gw = await startGateway({ dir, env, config: { providers: [], routes: {} } });
  });

  test('a stored provider whose credential is missing stops the start, naming it', async () => {
    const dir = gw.dir;
    await gw.stop();
    const r = await runSwitchboard(['serve', '--port', String(await freePort()), '--db', `${dir}/sb.db`],
      { env: { UP: '', SWITCHBOARD_ADMIN_KEY: ADMIN }, timeoutMs: 10000 });
    gw = null;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /provider (fresh|fromcli|seeded): environment variable UP \(api_key_env\) is not set/);
  });
});
