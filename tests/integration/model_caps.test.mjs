// The model capabilities table (migrations/0014_model_caps.sql): seeded
// with the published limits of common models, read and edited through
// /admin/v1/models like the prices, kept across restarts.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startGateway, request, queryDb } from './harness.mjs';

const ADMIN = 'sk-sb-admin-modelcaps-0123456789abcdef0123456789abcdef';
const admin = { authorization: `Bearer ${ADMIN}` };

describe('model capabilities', () => {
  let gw;
  const get = (path) => request(`${gw.url}/admin/v1/models${path}`, { method: 'GET', headers: admin });
  const post = (path, body) => request(`${gw.url}/admin/v1/models${path}`, { headers: admin, body });
  const del = (path) => request(`${gw.url}/admin/v1/models${path}`, { method: 'DELETE', headers: admin });

  before(async () => {
    gw = await startGateway({ env: { SWITCHBOARD_ADMIN_KEY: ADMIN } });
  });
  after(async () => {
    if (gw) await gw.stop();
  });

  test('the seeded table is listed, sorted, in the one JSON form', async () => {
    const r = await get('');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'list');
    const models = r.json.data.map((c) => c.model);
    assert.deepEqual(models, [...models].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const by = Object.fromEntries(r.json.data.map((c) => [c.model, c]));
    assert.deepEqual(by['gpt-4o'], {
      object: 'model.caps', model: 'gpt-4o', context_tokens: 128000, max_output_tokens: 16384,
      modalities: ['text', 'image', 'file'], tools: true, updated_at: 0,
    });
    assert.equal(by['claude-sonnet-4-5'].context_tokens, 200000);
    assert.equal(by['gemini-2.5-pro'].max_output_tokens, 65536);
    assert.equal(by['mistral-large-latest'].max_output_tokens, null, 'unknown stays null');
    assert.equal(by['mistral-large-latest'].modalities, null);
    assert.equal(by['deepseek-reasoner'].tools, null);
    const one = await get('/gpt-4.1');
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json.context_tokens, 1047576);
  });

  test('a row is set, read back by name (slashes included), replaced and deleted', async () => {
    const c = await post('', { model: 'local/llama3', context_tokens: 8192, max_output_tokens: 2048, modalities: ['text'], tools: false });
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.model, 'local/llama3');
    assert.equal(c.json.tools, false);
    assert.ok(c.json.updated_at > 1.7e9);
    const g = await get('/local/llama3');
    assert.equal(g.status, 200, g.text);
    assert.deepEqual(g.json.modalities, ['text']);
    // a GET sent back with edits is taken (object, updated_at ignored); the
    // model in the path wins, the optional fields left out become unknown
    const e = await post('/local/llama3', { ...g.json, context_tokens: 32768, max_output_tokens: null });
    assert.equal(e.status, 200, e.text);
    assert.equal(e.json.context_tokens, 32768);
    assert.equal(e.json.max_output_tokens, null);
    const bare = await post('/local/llama3', { context_tokens: 4096 });
    assert.equal(bare.status, 200, bare.text);
    assert.equal(bare.json.tools, null);
    assert.equal(bare.json.modalities, null);
    const rows = await queryDb(gw.dbPath, "SELECT context_tokens, modalities, tools FROM model_caps WHERE model = 'local/llama3'");
    assert.deepEqual(rows, [{ context_tokens: 4096, modalities: null, tools: null }]);
    const d = await del('/local/llama3');
    assert.equal(d.status, 200, d.text);
    assert.deepEqual(d.json, { model: 'local/llama3', object: 'model.caps', deleted: true });
    assert.equal((await get('/local/llama3')).status, 404);
    const again = await del('/local/llama3');
    assert.equal(again.status, 404);
    assert.match(again.json.error.message, /No capabilities for 'local\/llama3'/);
  });

  test('bad bodies are refused with the field named', async () => {
    const cases = [
      [{ context_tokens: 1000 }, 'model'],
      [{ model: 'm' }, 'context_tokens'],
      [{ model: 'm', context_tokens: 0 }, 'context_tokens'],
      [{ model: 'm', context_tokens: 1.5 }, 'context_tokens'],
      [{ model: 'm', context_tokens: '1000' }, 'context_tokens'],
      [{ model: 'm', context_tokens: 1000, max_output_tokens: 2000 }, null],
      [{ model: 'm', context_tokens: 1000, modalities: ['text', 'smell'] }, 'modalities'],
      [{ model: 'm', context_tokens: 1000, modalities: 'text' }, 'modalities'],
      [{ model: 'm', context_tokens: 1000, tools: 1 }, 'tools'],
      [{ model: 'm', context_tokens: 1000, colour: 'red' }, 'colour'],
      [{ model: 'a\u0001b', context_tokens: 1000 }, null],
    ];
    for (const [body, param] of cases) {
      const r = await post('', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.error.type, 'invalid_request_error');
      if (param) assert.equal(r.json.error.param, param, JSON.stringify(body));
    }
    const other = await post('/x', { model: 'y', context_tokens: 10 });
    assert.equal(other.status, 400, 'the body names another model than the path');
    const noModel = await del('');
    assert.equal(noModel.status, 405);
    assert.equal((await queryDb(gw.dbPath, "SELECT count(*) AS n FROM model_caps WHERE model IN ('m', 'x', 'y')"))[0].n, 0);
  });

  test('the admin credential is required', async () => {
    const r = await request(`${gw.url}/admin/v1/models`, { method: 'GET' });
    assert.equal(r.status, 401);
  });

  test('rows survive a restart', async () => {
    assert.equal((await post('', { model: 'kept/model', context_tokens: 1234 })).status, 200);
    const dir = gw.dir;
    await gw.stop();
    gw = await startGateway({ dir, env: { SWITCHBOARD_ADMIN_KEY: ADMIN } });
    const g = await get('/kept/model');
    assert.equal(g.status, 200, g.text);
    assert.equal(g.json.context_tokens, 1234);
  });
});
