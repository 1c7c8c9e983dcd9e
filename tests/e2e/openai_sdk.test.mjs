// The official OpenAI Node SDK against Switchboard: the echo provider and
// an OpenAI-compatible upstream (the emulator). Needs `npm ci` here.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { startGateway, queryDb, waitFor } from '../integration/harness.mjs';
import { startOpenAIEmulator, MID_STREAM_CHUNKS } from '../emulators/openai.mjs';

const KEY = 'sk-e2e-upstream-0123456789';

describe('openai sdk', () => {
  let emu;
  let gw;
  let client;

  before(async () => {
    emu = await startOpenAIEmulator({ apiKey: KEY });
    gw = await startGateway({
      config: {
        providers: [{
          name: 'local', kind: 'openai', base_url: emu.url, api_key_env: 'SB_E2E_KEY',
          models: ['gpt-4o-mini', 'fault-429', 'fault-500', 'error-mid-stream'],
        }],
      },
      env: { SB_E2E_KEY: KEY },
    });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 30000 });
  });

  after(async () => {
    try {
      if (gw) await gw.stop();
    } finally {
      if (gw) await gw.kill();
      if (emu) await emu.close();
    }
  });

  test('models.list shows the echo and upstream models', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.deepEqual(ids.sort(), ['echo/echo-1', 'echo/embed-1', 'echo/story-1', 'local/error-mid-stream', 'local/fault-429', 'local/fault-500', 'local/gpt-4o-mini']);
  });

  test('non-stream echo', async () => {
    const r = await client.chat.completions.create({
      model: 'echo/echo-1',
      messages: [{ role: 'user', content: 'Hello from the SDK' }],
    });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].message.content, 'Hello from the SDK');
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.usage.completion_tokens, 4);
    assert.equal(r.usage.prompt_tokens, 4);
    assert.equal(r.usage.total_tokens, 8);
  });

  test('withResponse exposes the gateway headers', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'echo/echo-1', messages: [{ role: 'user', content: 'headers' }] })
      .withResponse();
    assert.equal(data.choices[0].message.content, 'headers');
    assert.equal(response.headers.get('x-switchboard-provider'), 'echo');
    assert.equal(response.headers.get('x-switchboard-model'), 'echo-1');
    assert.match(response.headers.get('x-request-id'), /^req_[0-9a-f]{24}$/);
  });

  test('stream echo with for await', async () => {
    const stream = await client.chat.completions.create({
      model: 'echo/echo-1',
      messages: [{ role: 'user', content: 'stream these words to me' }],
      stream: true,
    });
    const deltas = [];
    let finish = null;
    let sawUsage = false;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      if (chunk.usage) sawUsage = true;
      const c = chunk.choices[0];
      if (!c) continue;
      if (c.delta.content) deltas.push(c.delta.content);
      if (c.finish_reason) finish = c.finish_reason;
    }
    assert.ok(deltas.length >= 2, `several deltas (${deltas.length})`);
    assert.equal(deltas.join(''), 'stream these words to me');
    assert.equal(finish, 'stop');
    assert.equal(sawUsage, false, 'no usage unless asked');
  });

  test('story-1 streams many chunks', async () => {
    const stream = await client.chat.completions.create({
      model: 'echo/story-1', messages: [{ role: 'user', content: 'a story' }], stream: true,
    });
    let n = 0;
    for await (const chunk of stream) if (chunk.choices[0] && chunk.choices[0].delta.content) n++;
    assert.ok(n >= 10, `${n} content chunks`);
  });

  test('stream with include_usage', async () => {
    const stream = await client.chat.completions.create({
      model: 'echo/echo-1',
      messages: [{ role: 'user', content: 'count my words please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage = null;
    let last = null;
    for await (const chunk of stream) {
      last = chunk;
      if (chunk.choices[0] && chunk.choices[0].delta.content) text += chunk.choices[0].delta.content;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, 'count my words please');
    assert.deepEqual(last.choices, [], 'the usage chunk comes last');
    assert.equal(usage.completion_tokens, 4);
    assert.equal(usage.prompt_tokens, 4);
    assert.equal(usage.total_tokens, 8);
  });

  test('the stream helper accumulates the final message', async () => {
    const runner = client.chat.completions.stream({
      model: 'echo/echo-1', messages: [{ role: 'user', content: 'helper works' }],
    });
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices[0].message.content, 'helper works');
  });

  test('upstream through the gateway: non-stream', async () => {
    const r = await client.chat.completions.create({
      model: 'local/gpt-4o-mini',
      messages: [{ role: 'user', content: 'via the emulator' }],
      temperature: 0.2,
    });
    assert.equal(r.choices[0].message.content, 'You said: via the emulator');
    assert.equal(r.model, 'gpt-4o-mini');
    assert.equal(r.usage.completion_tokens, 5);
    const up = emu.lastRequest();
    assert.equal(up.headers.authorization, `Bearer ${KEY}`, 'the gateway credential, not the SDK key');
    assert.equal(up.body.model, 'gpt-4o-mini');
    assert.equal(up.body.temperature, 0.2);
  });

  test('upstream through the gateway: stream, with and without usage', async () => {
    const s1 = await client.chat.completions.create({
      model: 'local/gpt-4o-mini', messages: [{ role: 'user', content: 'stream via emulator' }], stream: true,
    });
    let t1 = '';
    let usage1 = null;
    for await (const c of s1) {
      if (c.usage) usage1 = c.usage;
      if (c.choices[0] && c.choices[0].delta.content) t1 += c.choices[0].delta.content;
    }
    assert.equal(t1, 'You said: stream via emulator');
    assert.equal(usage1, null, 'the usage the gateway asked for is not passed on');

    const s2 = await client.chat.completions.create({
      model: 'local/gpt-4o-mini', messages: [{ role: 'user', content: 'stream via emulator' }], stream: true,
      stream_options: { include_usage: true },
    });
    let usage2 = null;
    for await (const c of s2) if (c.usage) usage2 = c.usage;
    assert.ok(usage2, 'usage when asked');
    assert.equal(usage2.completion_tokens, 5);
  });

  test('an upstream 429 is a RateLimitError', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'local/fault-429', messages: [{ role: 'user', content: 'x' }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.RateLimitError, `got ${err && err.constructor && err.constructor.name}: ${err}`);
        assert.equal(err.status, 429);
        assert.equal(err.headers.get('retry-after'), '7');
        assert.equal(err.code, 'rate_limit_exceeded');
        return true;
      });
    assert.equal(emu.requestsTo().filter((r) => r.body && r.body.model === 'fault-429').length, 1, 'maxRetries 0: one attempt');
  });

  test('an upstream 500 is an InternalServerError with status 502', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'local/fault-500', messages: [{ role: 'user', content: 'x' }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.InternalServerError, `got ${err}`);
        assert.equal(err.status, 502);
        assert.equal(err.type, 'upstream_error');
        return true;
      });
  });

  test('an unknown model is a NotFoundError', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'nope/nothing', messages: [{ role: 'user', content: 'x' }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.NotFoundError, `got ${err}`);
        assert.equal(err.status, 404);
        assert.equal(err.code, 'model_not_found');
        assert.equal(err.param, 'model');
        return true;
      });
  });

  test('a refused parameter is a BadRequestError naming it', async () => {
    await assert.rejects(
      client.chat.completions.create({
        model: 'echo/echo-1', messages: [{ role: 'user', content: 'x' }],
        tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }],
      }),
      (err) => {
        assert.ok(err instanceof OpenAI.BadRequestError, `got ${err}`);
        assert.equal(err.code, 'unsupported_parameter');
        assert.equal(err.param, 'tools');
        return true;
      });
  });

  test('a mid-stream upstream error is thrown from the iterator', async () => {
    const stream = await client.chat.completions.create({
      model: 'local/error-mid-stream', messages: [{ role: 'user', content: 'a b c d e' }], stream: true,
    });
    let text = '';
    await assert.rejects(
      (async () => {
        for await (const c of stream) if (c.choices[0] && c.choices[0].delta.content) text += c.choices[0].delta.content;
      })(),
      (err) => {
        assert.ok(err instanceof OpenAI.APIError, `got ${err}`);
        assert.equal(err.type, 'upstream_error');
        return true;
      });
    assert.equal(text.split(' ').length, MID_STREAM_CHUNKS, 'the chunks before the error were delivered');
  });
});

describe('openai SDK: embeddings', () => {
  let gw;
  before(async () => { gw = await startGateway(); });
  after(async () => { if (gw) await gw.stop(); });

  test('client.embeddings.create (the SDK asks for base64 and decodes it)', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const r = await client.embeddings.create({ model: 'echo/embed-1', input: ['one', 'two'], dimensions: 6 });
    assert.equal(r.data.length, 2);
    for (const d of r.data) {
      assert.equal(d.embedding.length, 6);
      assert.ok(d.embedding.every((x) => typeof x === 'number' && Number.isFinite(x)));
    }
    const f = await client.embeddings.create({ model: 'echo/embed-1', input: 'one', dimensions: 6, encoding_format: 'float' });
    f.data[0].embedding.forEach((x, i) => assert.ok(Math.abs(x - r.data[0].embedding[i]) < 1e-6));
  });
});

describe('openai sdk with gateway keys', () => {
  const ADMIN = 'sk-sb-admin-e2e-sdk-0123456789abcdef0123456789abcdef';
  let gw;
  const admin = async (path, body) => {
    const r = await fetch(`${gw.url}/admin/v1/${path}`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    assert.ok(r.ok, `${path}: ${r.status}`);
    return r.json();
  };

  before(async () => { gw = await startGateway({ env: { SWITCHBOARD_ADMIN_KEY: ADMIN } }); });
  after(async () => { if (gw) await gw.stop(); });

  test('an empty budget is a RateLimitError the SDK does not retry; a revoked key an AuthenticationError', async () => {
    await admin('prices', { model: 'echo/echo-1', input_per_mtok: 1000, output_per_mtok: 1000 });
    const key = await admin('keys', { name: 'sdk-broke', budget_usd: 0.01, budget_period: 'monthly' });
    // Default retries (2): the SDK would retry a 429 unless told not to.
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key.secret, timeout: 30000 });
    let lastRid;
    await assert.rejects(
      client.chat.completions.create({ model: 'echo/echo-1', messages: [{ role: 'user', content: 'x' }] }),
      (err) => {
        lastRid = err.requestID;
        assert.ok(err instanceof OpenAI.RateLimitError, `got ${err}`);
        assert.equal(err.code, 'insufficient_quota');
        assert.match(err.message, /monthly budget of \$0\.01/);
        return true;
      });
    // The writer has stored the SDK's last attempt (any retry is the last
    // one; earlier attempts were answered, and queued, before it began).
    assert.ok(lastRid, 'the error carries the x-request-id');
    await waitFor(async () => (await queryDb(gw.dbPath,
      `SELECT count(*) AS n FROM requests WHERE request_id = '${lastRid}'`))[0].n === 1,
    { what: "the record of the SDK's last attempt" });
    const [{ n }] = await queryDb(gw.dbPath, `SELECT count(*) AS n FROM requests WHERE key_id = '${key.id}'`);
    assert.equal(n, 1, 'one request: the SDK did not retry');

    const ok = await admin('keys', { name: 'sdk-ok' });
    const c2 = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: ok.secret, maxRetries: 0 });
    const r = await c2.chat.completions.create({ model: 'echo/echo-1', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(r.choices[0].message.content, 'hi');
    const del = await fetch(`${gw.url}/admin/v1/keys/${ok.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(del.status, 200);
    await assert.rejects(
      c2.chat.completions.create({ model: 'echo/echo-1', messages: [{ role: 'user', content: 'hi' }] }),
      (err) => err instanceof OpenAI.AuthenticationError && /revoked/.test(err.message));
  });
});
