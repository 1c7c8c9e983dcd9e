// POST /v1/embeddings: validation, the echo provider, and pass-through to
// OpenAI-compatible and Azure upstreams (float and base64, batches,
// dimensions), with usage recorded.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startOpenAIEmulator } from '../emulators/openai.mjs';
import { startGateway, request, errorOf, queryDb } from './harness.mjs';

const KEY = 'emb-test-key-0123456789';

function embed(base, body, headers = {}) {
  return request(`${base}/v1/embeddings`, { method: 'POST', body, headers });
}

function decodeBase64Floats(s) {
  const b = Buffer.from(s, 'base64');
  return Array.from({ length: b.length / 4 }, (_, i) => b.readFloatLE(4 * i));
}

describe('embeddings', () => {
  let emu;
  let az;
  let gw;

  before(async () => {
    emu = await startOpenAIEmulator({ apiKey: KEY, quiet: true, models: ['text-embedding-3-small', 'gpt-4o-mini'] });
    az = await startOpenAIEmulator({ apiKey: KEY, azure: true, quiet: true, models: ['emb'] });
    gw = await startGateway({
      config: {
        providers: [
          { name: 'up', kind: 'openai', base_url: emu.url, api_key_env: 'SB_EMB_KEY', models: ['text-embedding-3-small'] },
          { name: 'az', kind: 'azure', base_url: az.url.replace(/\/v1$/, ''), api_key_env: 'SB_EMB_KEY',
            models: ['emb'], options: { api_version: '2024-10-21' } },
        ],
      },
      env: { SB_EMB_KEY: KEY },
    });
  });
  after(async () => {
    if (gw) await gw.stop();
    if (emu) await emu.close();
    if (az) await az.close();
  });

  test('echo/embed-1: one unit vector per input, deterministic', async () => {
    const r = await embed(gw.url, { model: 'echo/embed-1', input: ['alpha', 'beta', 'alpha'], dimensions: 8 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'list');
    assert.deepEqual(r.json.data.map((d) => d.index), [0, 1, 2]);
    for (const d of r.json.data) {
      assert.equal(d.embedding.length, 8);
      const norm = Math.sqrt(d.embedding.reduce((a, x) => a + x * x, 0));
      assert.ok(Math.abs(norm - 1) < 1e-5, `unit length (${norm})`);
    }
    assert.deepEqual(r.json.data[0].embedding, r.json.data[2].embedding, 'same text, same vector');
    assert.notDeepEqual(r.json.data[0].embedding, r.json.data[1].embedding);
    assert.deepEqual(r.json.usage, { prompt_tokens: 3, total_tokens: 3 });
  });

  test('echo/embed-1: base64 is little-endian float32 of the float answer', async () => {
    const f = await embed(gw.url, { model: 'echo/embed-1', input: 'same text', dimensions: 4 });
    const b = await embed(gw.url, { model: 'echo/embed-1', input: 'same text', dimensions: 4, encoding_format: 'base64' });
    assert.equal(typeof b.json.data[0].embedding, 'string');
    const decoded = decodeBase64Floats(b.json.data[0].embedding);
    f.json.data[0].embedding.forEach((x, i) => assert.ok(Math.abs(x - decoded[i]) < 1e-6));
  });

  test('bad requests are 400 naming the param', async () => {
    const cases = [
      [{ input: 'x' }, 'model'],
      [{ model: 'echo/embed-1' }, 'input'],
      [{ model: 'echo/embed-1', input: '' }, 'input'],
      [{ model: 'echo/embed-1', input: [] }, 'input'],
      [{ model: 'echo/embed-1', input: ['ok', ''] }, 'input'],
      [{ model: 'echo/embed-1', input: 'x', encoding_format: 'hex' }, 'encoding_format'],
      [{ model: 'echo/embed-1', input: 'x', dimensions: 0 }, 'dimensions'],
      [{ model: 'echo/echo-1', input: 'x' }, 'model'],
    ];
    for (const [body, param] of cases) {
      const r = await embed(gw.url, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(errorOf(r).param, param, JSON.stringify(body));
    }
    const nf = await embed(gw.url, { model: 'nope/x', input: 'x' });
    assert.equal(nf.status, 404);
  });

  test('openai upstream: batch, dimensions and base64 pass through unchanged', async () => {
    const r = await embed(gw.url, { model: 'up/text-embedding-3-small', input: ['a b', 'c'], dimensions: 2, encoding_format: 'base64' },
      { 'x-request-id': 'emb-up-1' });
    assert.equal(r.status, 200, r.text);
    const up = emu.lastRequest('/v1/embeddings');
    assert.deepEqual(up.body, { model: 'text-embedding-3-small', input: ['a b', 'c'], dimensions: 2, encoding_format: 'base64' });
    assert.equal(up.headers.authorization, `Bearer ${KEY}`);
    assert.deepEqual(r.json, emu.lastResponse('/v1/embeddings').body);
    assert.equal(decodeBase64Floats(r.json.data[0].embedding).length, 2);
    assert.equal(r.headers['x-switchboard-provider'], 'up');
  });

  test('openai upstream errors map as for chat (429 keeps retry-after)', async () => {
    const emu2 = await startOpenAIEmulator({ apiKey: KEY, quiet: true });
    const gw2 = await startGateway({
      config: { providers: [{ name: 'f', kind: 'openai', base_url: emu2.url, api_key_env: 'SB_EMB_KEY', models: ['fault-429'] }] },
      env: { SB_EMB_KEY: KEY },
    });
    try {
      const r = await embed(gw2.url, { model: 'f/fault-429', input: 'x' });
      assert.equal(r.status, 429);
      assert.equal(r.headers['retry-after'], '7');
    } finally {
      await gw2.stop();
      await emu2.close();
    }
  });

  test('azure: deployment URL for embeddings', async () => {
    const r = await embed(gw.url, { model: 'az/emb', input: 'hello' });
    assert.equal(r.status, 200, r.text);
    const up = az.stats.requests.at(-1);
    assert.equal(up.path, '/openai/deployments/emb/embeddings');
    assert.equal(up.query, '?api-version=2024-10-21');
    assert.equal(up.headers['api-key'], KEY);
  });

  test('records carry api "embeddings" and the prompt tokens', async () => {
    await gw.stop();
    const rows = await queryDb(gw.dbPath, "SELECT api, provider, upstream_model, status, prompt_tokens FROM requests WHERE request_id = 'emb-up-1'");
    assert.deepEqual(rows, [{ api: 'embeddings', provider: 'up', upstream_model: 'text-embedding-3-small', status: 200, prompt_tokens: 3 }]);
    gw = null;
  });
});
