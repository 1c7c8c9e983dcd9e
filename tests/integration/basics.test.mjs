// The gateway's own surface: health, metrics, models, HTTP errors, request
// ids, CORS, the CLI, configuration errors and the database schema check
// (docs/reference.md).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';

import {
  startGateway, runSwitchboard, freePort, tempDir, request, postChat, errorOf,
  queryDb, sqlString, getMetrics, metricValue, expectedVersion,
  expectedSchemaVersion, chatBody, sleep, switchboardBin,
} from './harness.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';

const ORIGIN = 'http://localhost:3000';
const KEY = 'sk-basics-0123456789abcdef';

function assertError(res, status, code, { type = 'invalid_request_error', param } = {}) {
  assert.equal(res.status, status, `status (body: ${res.text.slice(0, 300)})`);
  assert.match(res.headers['content-type'] || '', /^application\/json/);
  const e = errorOf(res);
  assert.deepEqual(Object.keys(e).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0, 'error message is not empty');
  assert.equal(e.type, type);
  assert.equal(e.code, code);
  if (param !== undefined) assert.equal(e.param, param);
  return e;
}

describe('basics', () => {
  let emu;
  let gw;

  before(async () => {
    emu = await startOpenAIEmulator({ apiKey: KEY });
    gw = await startGateway({
      config: {
        workers: 2,
        limits: { max_body_bytes: 4096 },
        cors: { origins: [ORIGIN] },
        providers: [
          { name: 'local', kind: 'openai', base_url: emu.url, api_key_env: 'SB_BASICS_KEY', models: ['llama3', 'gpt-4o-mini'] },
          { name: 'local2', kind: 'openai', base_url: emu.url, api_key_env: 'SB_BASICS_KEY', models: ['llama3'] },
        ],
      },
      env: { SB_BASICS_KEY: KEY },
    });
  });

  after(async () => {
    try {
      if (gw) await gw.stop();
    } finally {
      if (gw) await gw.kill();
      if (emu) await emu.close();
    }
  });

  test('GET /healthz answers 200 {"status":"ok"}', async () => {
    const r = await request(`${gw.url}/healthz`);
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.deepEqual(r.json, { status: 'ok' });
  });

  test('GET /readyz answers 200 {"status":"ready"}', async () => {
    const r = await request(`${gw.url}/readyz`);
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.deepEqual(r.json, { status: 'ready' });
  });

  test('GET /metrics exposes the documented metrics', async () => {
    const ok = await postChat(gw.url, chatBody('echo/echo-1', 'count me'));
    assert.equal(ok.status, 200);
    const r = await request(`${gw.url}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/plain/);
    const m = await getMetrics(gw.url);
    assert.deepEqual(m.samples.filter((s) => s.name === null), [], 'every sample line parses');
    const types = {
      switchboard_requests_total: 'counter',
      switchboard_request_duration_seconds: 'histogram',
      switchboard_ttfb_seconds: 'histogram',
      switchboard_upstream_errors_total: 'counter',
      switchboard_streams_in_flight: 'gauge',
      switchboard_store_dropped_total: 'counter',
    };
    for (const [name, type] of Object.entries(types)) {
      assert.equal(m.types[name], type, `# TYPE ${name} ${type}`);
    }
    const served = m.samples.filter((s) => s.name === 'switchboard_requests_total' &&
      s.labels.provider === 'echo' && s.labels.status === '200');
    assert.ok(served.length >= 1, 'a requests_total series for provider echo, status 200');
    assert.ok(served.every((s) => typeof s.labels.endpoint === 'string' && s.labels.endpoint.length > 0), 'endpoint label');
    assert.ok(served.reduce((a, s) => a + s.value, 0) >= 1);
    assert.ok(metricValue(m, 'switchboard_request_duration_seconds_count') >= 1);
    assert.ok(metricValue(m, 'switchboard_request_duration_seconds_bucket', { le: '+Inf' }) >= 1);
    assert.ok(metricValue(m, 'switchboard_request_duration_seconds_sum') >= 0);
    assert.ok(metricValue(m, 'switchboard_ttfb_seconds_count') >= 1);
    assert.equal(metricValue(m, 'switchboard_streams_in_flight'), 0);
    assert.equal(metricValue(m, 'switchboard_store_dropped_total'), 0);
  });

  test('GET /v1/models lists echo models and configured provider models', async () => {
    const r = await request(`${gw.url}/v1/models`);
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.equal(r.json.object, 'list');
    const ids = r.json.data.map((m) => m.id).sort();
    assert.deepEqual(ids, ['echo/echo-1', 'echo/embed-1', 'echo/story-1', 'local/gpt-4o-mini', 'local/llama3', 'local2/llama3']);
    assert.deepEqual(r.json.data.find((m) => m.id === 'echo/echo-1'),
      { id: 'echo/echo-1', object: 'model', created: 0, owned_by: 'echo' });
    for (const m of r.json.data) {
      assert.equal(m.object, 'model');
      assert.equal(typeof m.created, 'number');
      assert.equal(typeof m.owned_by, 'string');
    }
  });

  test('unknown paths answer 404 not_found', async () => {
    assertError(await request(`${gw.url}/v1/nope`), 404, 'not_found');
    assertError(await request(`${gw.url}/nope`), 404, 'not_found');
    assertError(await request(`${gw.url}/v1/nope`, { body: { a: 1 } }), 404, 'not_found');
  });

  test('a wrong method answers 405 with allow', async () => {
    const r1 = await request(`${gw.url}/v1/chat/completions`);
    assertError(r1, 405, 'method_not_allowed');
    assert.ok(r1.headers.allow, 'allow header present');
    assert.ok(r1.headers.allow.split(/\s*,\s*/).includes('POST'), `allow: ${r1.headers.allow}`);

    const r2 = await request(`${gw.url}/v1/models`, { method: 'POST', body: {} });
    assertError(r2, 405, 'method_not_allowed');
    assert.ok((r2.headers.allow || '').split(/\s*,\s*/).includes('GET'), `allow: ${r2.headers.allow}`);

    const r3 = await request(`${gw.url}/v1/chat/completions`, { method: 'DELETE' });
    assertError(r3, 405, 'method_not_allowed');
  });

  test('a body over limits.max_body_bytes answers 413', async () => {
    const body = chatBody('echo/echo-1', 'x'.repeat(6000));
    const r = await postChat(gw.url, body);
    assertError(r, 413, 'request_too_large');
    // Just under the limit is fine.
    const small = await postChat(gw.url, chatBody('echo/echo-1', 'y'.repeat(3000)));
    assert.equal(small.status, 200);
  });

  test('a POST without Content-Length answers 411', async () => {
    const r = await request(`${gw.url}/v1/chat/completions`, {
      body: JSON.stringify(chatBody('echo/echo-1', 'chunked')),
      headers: { 'content-type': 'application/json' },
      chunked: true,
    });
    assertError(r, 411, 'length_required');
  });

  test('malformed JSON and non-object bodies answer 400 invalid_json', async () => {
    const hdr = { 'content-type': 'application/json' };
    for (const raw of ['{"model":', '[1,2]', '"text"', '42', 'null', '']) {
      const r = await request(`${gw.url}/v1/chat/completions`, { body: raw, headers: hdr, method: 'POST' });
      assertError(r, 400, 'invalid_json');
    }
  });

  test('unknown models answer 404 model_not_found', async () => {
    for (const model of ['nope/nothing', 'nothing', 'echo/nothing', 'local/not-listed']) {
      const r = await postChat(gw.url, chatBody(model, 'hi'));
      assertError(r, 404, 'model_not_found', { param: 'model' });
    }
    assert.equal(emu.requestsTo('/v1/chat/completions').length, 0, 'nothing reached the upstream');
  });

  test('a bare model listed by several providers answers 400 ambiguous_model', async () => {
    const r = await postChat(gw.url, chatBody('llama3', 'hi'));
    assertError(r, 400, 'ambiguous_model', { param: 'model' });
    assert.match(errorOf(r).message, /provider\/llama3/);
    assert.equal(emu.requestsTo('/v1/chat/completions').length, 0, 'nothing reached the upstream');
  });

  test('a bare model listed by exactly one provider is accepted', async () => {
    const r1 = await postChat(gw.url, chatBody('gpt-4o-mini', 'bare name'));
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.headers['x-switchboard-provider'], 'local');
    assert.equal(r1.headers['x-switchboard-model'], 'gpt-4o-mini');
    assert.equal(r1.json.choices[0].message.content, 'You said: bare name');
    assert.equal(emu.lastRequest().body.model, 'gpt-4o-mini');

    const r2 = await postChat(gw.url, chatBody('echo-1', 'bare echo'));
    assert.equal(r2.status, 200);
    assert.equal(r2.headers['x-switchboard-provider'], 'echo');
    assert.equal(r2.headers['x-switchboard-model'], 'echo-1');
    assert.equal(r2.json.choices[0].message.content, 'bare echo');
  });

  test('validation errors name the parameter', async () => {
    const base = chatBody('echo/echo-1', 'hi');
    const cases = [
      [{ ...base, temperature: 'hot' }, 'temperature', 'invalid_type'],
      [{ ...base, temperature: 5 }, 'temperature', 'invalid_value'],
      [{ ...base, top_p: 2 }, 'top_p', 'invalid_value'],
      [{ ...base, stream: 'yes' }, 'stream', 'invalid_type'],
      [{ ...base, max_tokens: 'ten' }, 'max_tokens', 'invalid_type'],
      [{ ...base, max_tokens: -1 }, 'max_tokens', 'invalid_value'],
      [{ ...base, messages: 'hi' }, 'messages', 'invalid_type'],
      [{ ...base, model: 7 }, 'model', 'invalid_type'],
    ];
    for (const [body, param, code] of cases) {
      const r = await postChat(gw.url, body);
      assertError(r, 400, code, { param });
    }
    // Missing required fields: 400 naming the field.
    const noMessages = await postChat(gw.url, { model: 'echo/echo-1' });
    assert.equal(noMessages.status, 400);
    assert.equal(errorOf(noMessages).type, 'invalid_request_error');
    assert.equal(errorOf(noMessages).param, 'messages');
    const noModel = await postChat(gw.url, { messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(noModel.status, 400);
    assert.equal(errorOf(noModel).param, 'model');
  });

  test('echo refuses tools, n > 1, logprobs and audio with unsupported_parameter', async () => {
    const base = chatBody('echo/echo-1', 'hi');
    const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }];
    const cases = [
      [{ ...base, tools }, 'tools'],
      [{ ...base, n: 2 }, 'n'],
      [{ ...base, logprobs: true }, 'logprobs'],
      [{ ...base, audio: { format: 'wav', voice: 'alloy' } }, 'audio'],
      [{ ...chatBody('echo/story-1', 'hi'), tools, stream: true }, 'tools'],
    ];
    for (const [body, param] of cases) {
      const r = await postChat(gw.url, body);
      assertError(r, 400, 'unsupported_parameter', { param });
    }
    const n1 = await postChat(gw.url, { ...base, n: 1 });
    assert.equal(n1.status, 200, 'n: 1 is fine');
  });

  test('x-request-id is echoed, or generated as req_ + 24 hex', async () => {
    const mine = await postChat(gw.url, chatBody('echo/echo-1', 'id'), { headers: { 'x-request-id': 'client-id-123' } });
    assert.equal(mine.headers['x-request-id'], 'client-id-123');

    const a = await postChat(gw.url, chatBody('echo/echo-1', 'id'));
    const b = await request(`${gw.url}/v1/models`);
    const c = await request(`${gw.url}/v1/nope`);
    for (const r of [a, b, c]) assert.match(r.headers['x-request-id'] || '', /^req_[0-9a-f]{24}$/);
    assert.notEqual(a.headers['x-request-id'], b.headers['x-request-id']);

    const onError = await postChat(gw.url, chatBody('nope/x', 'id'), { headers: { 'x-request-id': 'err-id-1' } });
    assert.equal(onError.status, 404);
    assert.equal(onError.headers['x-request-id'], 'err-id-1');

    const max = 'm'.repeat(128);
    const r128 = await request(`${gw.url}/v1/models`, { headers: { 'x-request-id': max } });
    assert.equal(r128.headers['x-request-id'], max);
    const r129 = await request(`${gw.url}/v1/models`, { headers: { 'x-request-id': `${max}m` } });
    assert.match(r129.headers['x-request-id'] || '', /^req_[0-9a-f]{24}$/, 'too long an id is replaced');

    // The upstream's own x-request-id does not leak through.
    const up = await postChat(gw.url, chatBody('local/llama3', 'id'), { headers: { 'x-request-id': 'client-id-up' } });
    assert.equal(up.status, 200);
    assert.equal(up.headers['x-request-id'], 'client-id-up');
  });

  test('CORS: preflight for an allowed origin, nothing for others', async () => {
    const pre = await request(`${gw.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], ORIGIN);
    const methods = (pre.headers['access-control-allow-methods'] || '').toUpperCase();
    assert.ok(methods.split(/\s*,\s*/).includes('POST'), `allow-methods: ${methods}`);
    const allowHeaders = (pre.headers['access-control-allow-headers'] || '').toLowerCase().split(/\s*,\s*/);
    assert.ok(allowHeaders.includes('authorization'), `allow-headers: ${allowHeaders}`);
    assert.ok(allowHeaders.includes('content-type'), `allow-headers: ${allowHeaders}`);

    const bad = await request(`${gw.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(bad.headers['access-control-allow-origin'], undefined);
    assert.equal(bad.headers['access-control-allow-methods'], undefined);

    const simple = await request(`${gw.url}/v1/models`, { headers: { origin: ORIGIN } });
    assert.equal(simple.status, 200);
    assert.equal(simple.headers['access-control-allow-origin'], ORIGIN);
    // Another origin's page may not call the API at all (a simple request
    // runs even though the page cannot read the answer).
    const other = await request(`${gw.url}/v1/models`, { headers: { origin: 'http://evil.example' } });
    assert.equal(other.status, 403);
    assert.equal(other.json.error.code, 'origin_not_allowed');
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  });

  test('keep-alive: several requests share one connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const reqs = [
        () => request(`${gw.url}/healthz`, { agent }),
        () => request(`${gw.url}/v1/models`, { agent }),
        () => postChat(gw.url, chatBody('echo/echo-1', 'one'), { agent }),
        () => request(`${gw.url}/v1/nope`, { agent }),
        () => postChat(gw.url, { model: 'echo/echo-1', messages: 'bad' }, { agent }),
        () => postChat(gw.url, chatBody('echo/echo-1', 'two'), { agent }),
      ];
      const statuses = [];
      const reused = [];
      for (const f of reqs) {
        const r = await f();
        statuses.push(r.status);
        reused.push(r.reusedSocket);
      }
      assert.deepEqual(statuses, [200, 200, 200, 404, 400, 200]);
      assert.deepEqual(reused, [false, true, true, true, true, true]);
    } finally {
      agent.destroy();
    }
  });
});

describe('gateway without cors', () => {
  test('no CORS headers at all', async (t) => {
    const gw = await startGateway({ config: {} });
    t.after(() => gw.kill());
    const pre = await request(`${gw.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST' },
    });
    assert.equal(pre.headers['access-control-allow-origin'], undefined);
    // Without cors.origins every other origin's page is refused; a
    // same-origin request (Origin naming the gateway itself) is not.
    const simple = await request(`${gw.url}/v1/models`, { headers: { origin: ORIGIN } });
    assert.equal(simple.status, 403);
    assert.equal(simple.headers['access-control-allow-origin'], undefined);
    const self = await request(`${gw.url}/v1/models`, { headers: { origin: gw.url } });
    assert.equal(self.status, 200);
    await gw.stop();
  });
});

describe('cli', () => {
  test('--version prints "switchboard X.Y.Z (schema N)"', async () => {
    const r = await runSwitchboard(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `switchboard ${expectedVersion()} (schema ${expectedSchemaVersion()})`);
  });

  test('--help exits 0 and names the commands', async () => {
    const r = await runSwitchboard(['--help']);
    assert.equal(r.code, 0, r.stderr);
    const text = r.stdout + r.stderr;
    assert.match(text, /serve/);
    assert.match(text, /migrate/);
  });

  test('usage errors exit 2', async () => {
    for (const args of [['bogus-command'], ['serve', '--bogus-flag'], ['serve', '--port'], []]) {
      const r = await runSwitchboard(args, { timeoutMs: 5000 });
      assert.equal(r.timedOut, false, `switchboard ${args.join(' ')} did not exit`);
      assert.equal(r.code, 2, `switchboard ${args.join(' ')}: exit ${r.code}, stderr: ${r.stderr}`);
      assert.ok(r.stderr.length > 0, 'says why on stderr');
    }
  });

  test('migrate creates the schema and is idempotent', async () => {
    const dir = tempDir();
    const db = path.join(dir, 'm.db');
    const r1 = await runSwitchboard(['migrate', '--db', db]);
    assert.equal(r1.code, 0, r1.stderr);
    const tables = (await queryDb(db, "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")).map((x) => x.name);
    assert.ok(tables.includes('requests'), `tables: ${tables}`);
    assert.ok(tables.includes('schema_migrations'), `tables: ${tables}`);
    const cols = (await queryDb(db, 'PRAGMA table_info(requests)')).map((c) => c.name);
    for (const c of ['ts_ms', 'request_id', 'api', 'model', 'provider', 'upstream_model', 'stream', 'status',
      'error_type', 'prompt_tokens', 'completion_tokens', 'ttfb_ms', 'latency_ms']) {
      assert.ok(cols.includes(c), `requests.${c}`);
    }
    const [{ v }] = await queryDb(db, 'SELECT max(version) AS v FROM schema_migrations');
    assert.equal(v, expectedSchemaVersion());
    const [{ n }] = await queryDb(db, 'SELECT count(*) AS n FROM schema_migrations');

    const r2 = await runSwitchboard(['migrate', '--db', db]);
    assert.equal(r2.code, 0, r2.stderr);
    const [{ n: n2 }] = await queryDb(db, 'SELECT count(*) AS n FROM schema_migrations');
    assert.equal(n2, n);
  });

  test('serve refuses a database newer than the binary', async () => {
    const dir = tempDir();
    const db = path.join(dir, 'new.db');
    const m = await runSwitchboard(['migrate', '--db', db]);
    assert.equal(m.code, 0, m.stderr);
    // Fill whatever columns schema_migrations has.
    const cols = await queryDb(db, 'PRAGMA table_info(schema_migrations)');
    const names = [];
    const values = [];
    for (const c of cols) {
      if (c.name === 'version') {
        names.push(c.name);
        values.push('9999');
      } else if (c.notnull && c.dflt_value === null && !c.pk) {
        names.push(c.name);
        values.push(/INT/i.test(c.type) ? '0' : sqlString('9999_from_the_future'));
      }
    }
    await queryDb(db, `INSERT INTO schema_migrations (${names.join(', ')}) VALUES (${values.join(', ')})`);
    const port = await freePort();
    const r = await runSwitchboard(['serve', '--port', String(port), '--db', db], { timeoutMs: 10000 });
    assert.equal(r.timedOut, false, 'serve did not exit');
    assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stderr, /newer|9999/i);
  });

  test('serve exits 1 when the port is in use', async () => {
    const srv = net.createServer();
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    try {
      const dir = tempDir();
      const r = await runSwitchboard(['serve', '--host', '127.0.0.1', '--port', String(srv.address().port),
        '--db', path.join(dir, 'p.db')], { timeoutMs: 10000 });
      assert.equal(r.timedOut, false, 'serve did not exit');
      assert.equal(r.code, 1, `stderr: ${r.stderr}`);
      assert.ok(r.stderr.length > 0);
    } finally {
      srv.close();
    }
  });
});

describe('config errors', () => {
  const goodProvider = { name: 'p', kind: 'openai', base_url: 'http://127.0.0.1:9/v1', models: ['m'] };
  const cases = [
    ['unknown top-level key', { bogus_key: 1 }, ['bogus_key']],
    ['unknown nested key', { listen: { host: '127.0.0.1', prot: 1 } }, ['listen.prot']],
    ['unknown limits key', { limits: { max_body_byte: 1 } }, ['limits.max_body_byte']],
    ['unknown provider key', { providers: [{ ...goodProvider, colour: 'red' }] }, ['providers[0].colour']],
    ['wrong type of a provider field', { providers: [{ ...goodProvider, kind: 5 }] }, ['config: providers[0].kind: expected', 'string']],
    ['wrong type of a limit', { limits: { max_body_bytes: 'big' } }, ['limits.max_body_bytes']],
    ['wrong type of workers', { workers: 'two' }, ['workers']],
    ['wrong type of cors.origins', { cors: { origins: 'http://a' } }, ['cors.origins']],
    ['wrong type of models', { providers: [{ ...goodProvider, models: 'm' }] }, ['providers[0].models']],
    ['unknown provider kind', { providers: [{ ...goodProvider, kind: 'nope' }] }, ['providers[0].kind']],
    ['reserved name echo', { providers: [{ ...goodProvider, name: 'echo' }] }, ['echo']],
    ['invalid provider name', { providers: [{ ...goodProvider, name: 'bad name' }] }, ['providers[0].name']],
    ['duplicate provider names', { providers: [goodProvider, { ...goodProvider }] }, [['providers[1].name', 'duplicate']]],
    ['invalid JSON', '{"listen": ', ['config']],
  ];
  for (const [what, config, needles] of cases) {
    test(`${what}: exit 1 naming the problem`, async () => {
      const dir = tempDir();
      const cfg = path.join(dir, 'config.json');
      writeFileSync(cfg, typeof config === 'string' ? config : JSON.stringify(config));
      const port = await freePort();
      const r = await runSwitchboard(['serve', '--port', String(port), '--db', path.join(dir, 'c.db'), '--config', cfg],
        { timeoutMs: 10000 });
      assert.equal(r.timedOut, false, 'serve did not exit');
      assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
      // A needle is a string, or a list of which any one will do.
      for (const n of needles) {
        const any = Array.isArray(n) ? n : [n];
        assert.ok(any.some((x) => r.stderr.includes(x)), `stderr names ${JSON.stringify(n)}: ${r.stderr}`);
      }
    });
  }
});

describe('settings precedence', () => {
  test('listen.port from the config is used without --port', async (t) => {
    const port = await freePort();
    const gw = await startGateway({ port, passPort: false, config: { listen: { host: '127.0.0.1', port } } });
    t.after(() => gw.kill());
    assert.equal((await request(`${gw.url}/healthz`)).status, 200);
    await gw.stop();
  });

  test('PORT beats the config file, --port beats PORT', async (t) => {
    const cfgPort = await freePort();
    const envPort = await freePort();
    const gw1 = await startGateway({
      port: envPort, passPort: false, env: { PORT: String(envPort) },
      config: { listen: { host: '127.0.0.1', port: cfgPort } },
    });
    t.after(() => gw1.kill());
    assert.equal((await request(`${gw1.url}/healthz`)).status, 200);
    await assert.rejects(request(`http://127.0.0.1:${cfgPort}/healthz`, { timeoutMs: 2000 }));
    await gw1.stop();

    const envPort2 = await freePort();
    const gw2 = await startGateway({ env: { PORT: String(envPort2) }, config: {} });
    t.after(() => gw2.kill());
    assert.equal((await request(`${gw2.url}/healthz`)).status, 200);
    await assert.rejects(request(`http://127.0.0.1:${envPort2}/healthz`, { timeoutMs: 2000 }));
    await gw2.stop();
  });

  test('SWITCHBOARD_DB is used without --db', async (t) => {
    const dir = tempDir();
    const db = path.join(dir, 'env.db');
    const port = await freePort();
    const proc = spawn(switchboardBin(), ['serve', '--port', String(port)], {
      env: { ...process.env, SWITCHBOARD_DB: db }, cwd: dir, stdio: 'ignore',
    });
    const exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
    t.after(() => proc.kill('SIGKILL'));
    let up = false;
    for (let i = 0; i < 200 && !up; i++) {
      try {
        up = (await request(`http://127.0.0.1:${port}/healthz`, { timeoutMs: 500 })).status === 200;
      } catch { await sleep(50); }
    }
    assert.ok(up, 'gateway came up');
    const r = await request(`http://127.0.0.1:${port}/v1/models`, { headers: { 'x-request-id': 'env-db-check' } });
    assert.equal(r.status, 200);
    proc.kill('SIGTERM');
    assert.equal(await exited, 0);
    const rows = await queryDb(db, "SELECT api, status FROM requests WHERE request_id = 'env-db-check'");
    assert.deepEqual(rows, [{ api: 'models', status: 200 }]);
  });
});
