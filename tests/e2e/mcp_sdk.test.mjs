// The official MCP TypeScript SDK client (@modelcontextprotocol/sdk) against
// Switchboard's /mcp and /mcp/<server>: the calls an MCP host makes,
// through federated servers (the fixture over HTTP, server-everything and
// server-memory over stdio) and the gateway's own tools on an emulated
// OpenAI upstream. Needs `npm ci` here.
//
// What the SDK client (1.32.2) does that these tests rely on: it sends
// requestInit.headers on every request (POST, GET, DELETE); it does NOT
// re-initialise by itself after a 404 on its session (it throws
// StreamableHTTPError with code 404; a new connect() without a session id
// is the application's move); terminateSession() forgets the id, so the
// next request goes without one (400 from the gateway); connect() with a
// transport made with {sessionId} skips initialize and reuses the session.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';

import { startGateway, request, tempDir, waitFor } from '../integration/harness.mjs';
import {
  startFixture, stdioServer, httpServer, everythingScript, memoryScript, MCP_FIXTURE, waitServersUp,
} from '../integration/mcp_helpers.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';

const ADMIN = 'sk-sb-admin-mcp-sdk-0123456789abcdef0123456789abcde';
const UPSTREAM_KEY = 'sk-e2e-mcp-upstream-0123456789';
const bearer = (k) => ({ authorization: `Bearer ${k}` });

describe('mcp: the official SDK client', () => {
  let emu;
  let fx;
  let gw;
  let config;
  let keyAll;
  let keyNarrow;
  const open = [];

  function transport(key, pathPart = '/mcp', opts = {}) {
    return new StreamableHTTPClientTransport(new URL(`${gw.url}${pathPart}`), {
      requestInit: { headers: { Authorization: `Bearer ${key}` } },
      ...opts,
    });
  }
  async function connect(key, pathPart = '/mcp', { capabilities = {}, transportOpts } = {}) {
    const client = new Client({ name: 'switchboard-e2e', version: '1.0.0' }, { capabilities });
    client.onerror = () => {}; // the background GET stream may fail across a restart
    const t = transport(key, pathPart, transportOpts);
    await client.connect(t);
    open.push(client);
    return { client, transport: t };
  }
  async function allTools(client) {
    const names = [];
    let cursor;
    let pages = 0;
    do {
      const r = await client.listTools(cursor === undefined ? {} : { cursor });
      names.push(...r.tools.map((t) => t.name));
      cursor = r.nextCursor;
      pages++;
    } while (cursor !== undefined);
    return { names, pages };
  }
  async function createKey(body) {
    const r = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(ADMIN), body });
    assert.equal(r.status, 201, r.text);
    return r.json;
  }
  const text = (res) => res.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

  before(async () => {
    emu = await startOpenAIEmulator({ apiKey: UPSTREAM_KEY });
    fx = await startFixture(0);
    const dir = tempDir('sb-mcp-sdk-');
    config = {
      providers: [{ name: 'local', kind: 'openai', base_url: emu.url, api_key_env: 'SB_E2E_KEY', models: ['gpt-4o-mini'] }],
      mcp: { page_size: 4 },
      mcp_servers: {
        fx: httpServer(fx.url),
        fxs: stdioServer([MCP_FIXTURE, '--stdio']),
        every: stdioServer([everythingScript(), 'stdio']),
        mem: stdioServer([memoryScript()], { env: { MEMORY_FILE_PATH: path.join(dir, 'mem.jsonl') } }),
      },
    };
    gw = await startGateway({ dir, config, env: { SB_E2E_KEY: UPSTREAM_KEY, SWITCHBOARD_ADMIN_KEY: ADMIN } });
    await waitServersUp(gw.url, ADMIN, ['every', 'fx', 'fxs', 'mem']);
    keyAll = await createKey({ name: 'sdk-all' });
    keyNarrow = await createKey({ name: 'sdk-narrow', mcp_tools: ['fx__echo', 'every__get-*', 'models_list'] });
  });

  after(async () => {
    for (const c of open) await c.close().catch(() => {});
    try {
      if (gw) await gw.stop();
    } finally {
      if (gw) await gw.kill();
      if (fx) await fx.stop();
      if (emu) await emu.close();
    }
  });

  test('initialize, then listTools page by page (mcp.page_size) and callTool', async () => {
    const { client, transport: t } = await connect(keyAll.secret);
    assert.match(t.sessionId, /^[0-9a-f]{32}$/i);
    assert.equal(typeof client.getServerVersion().name, 'string');
    assert.ok(client.getServerCapabilities().tools);
    const { names, pages } = await allTools(client);
    assert.ok(pages > 3, `pages: ${pages}`);
    for (const n of ['models_list', 'chat', 'fx__echo', 'fxs__echo', 'every__echo', 'mem__read_graph']) assert.ok(names.includes(n), n);
    assert.equal(new Set(names).size, names.length);
    const r = await client.callTool({ name: 'every__echo', arguments: { message: 'sdk says hi' } });
    assert.match(text(r), /sdk says hi/);
    const s = await client.callTool({ name: 'fxs__echo', arguments: { text: 'over stdio' } });
    assert.deepEqual(s.structuredContent, { text: 'over stdio' });
  });

  test('progress of a federated long-running tool reaches onprogress', async () => {
    const { client } = await connect(keyAll.secret);
    const seen = [];
    const r = await client.callTool({ name: 'every__trigger-long-running-operation', arguments: { duration: 1, steps: 4 } }, undefined,
      { onprogress: (p) => seen.push(p) });
    assert.ok(!r.isError, text(r));
    assert.deepEqual(seen.map((p) => p.progress), [1, 2, 3, 4]);
    assert.ok(seen.every((p) => p.total === 4));
  });

  test('an aborted call is cancelled upstream and recorded as cancelled', async () => {
    const { client, transport: t } = await connect(keyAll.secret);
    const before = (await client.callTool({ name: 'fx__stats' })).structuredContent.cancelled;
    const ac = new AbortController();
    const call = client.callTool({ name: 'fx__slow', arguments: { steps: 200, interval_ms: 50 } }, undefined, {
      signal: ac.signal,
      onprogress: () => ac.abort('enough'), // abort once it is surely running upstream
    });
    await assert.rejects(call);
    await waitFor(async () => (await client.callTool({ name: 'fx__stats' })).structuredContent.cancelled === before + 1,
      { timeoutMs: 15000, interval: 100, what: 'the fixture to see notifications/cancelled' });
    await waitFor(async () => {
      const r = await request(`${gw.url}/admin/v1/mcp/calls?key=${keyAll.id}&server=fx&tool=slow`, { headers: bearer(ADMIN) });
      return r.json?.data?.some((c) => c.outcome === 'cancelled' && c.session_id === t.sessionId);
    }, { what: 'a cancelled record' });
  });

  test('terminateSession ends the session; reusing its id is 404 (the SDK throws, no automatic re-initialise); a new connect works', async () => {
    const { client, transport: t } = await connect(keyAll.secret);
    const sid = t.sessionId;
    await client.ping();
    await t.terminateSession();
    assert.equal(t.sessionId, undefined);
    // The same client now sends no session id: 400.
    await assert.rejects(client.listTools(), (e) => e instanceof StreamableHTTPError && e.code === 400);

    const stale = new Client({ name: 'stale', version: '1' });
    stale.onerror = () => {};
    await stale.connect(transport(keyAll.secret, '/mcp', { sessionId: sid }));
    open.push(stale);
    await assert.rejects(stale.listTools(), (e) => e instanceof StreamableHTTPError && e.code === 404);

    const fresh = await connect(keyAll.secret);
    assert.notEqual(fresh.transport.sessionId, sid);
    assert.ok((await allTools(fresh.client)).names.includes('fx__echo'));
  });

  test('a session survives a gateway restart on the same database and port', async () => {
    const { client, transport: t } = await connect(keyAll.secret);
    const sid = t.sessionId;
    assert.match(text(await client.callTool({ name: 'fx__echo', arguments: { text: 'before' } })), /before/);
    await gw.stop();
    gw = await startGateway({ dir: gw.dir, port: gw.port, config, env: { SB_E2E_KEY: UPSTREAM_KEY, SWITCHBOARD_ADMIN_KEY: ADMIN } });
    await waitServersUp(gw.url, ADMIN, ['every', 'fx', 'fxs', 'mem']);
    // The client and transport from before go on with the same session.
    const r = await client.callTool({ name: 'fx__echo', arguments: { text: 'after' } });
    assert.equal(text(r), 'after');
    assert.equal(t.sessionId, sid);
    // So does a new transport given the id.
    const again = new Client({ name: 'again', version: '1' });
    again.onerror = () => {};
    const t2 = transport(keyAll.secret, '/mcp', { sessionId: sid });
    await again.connect(t2);
    open.push(again);
    assert.ok((await allTools(again)).names.includes('fx__echo'));
    assert.equal(t2.sessionId, sid);
  });

  test('permissions: the narrow key lists only its tools and a denied call is McpError -32602', async () => {
    const { client } = await connect(keyNarrow.secret);
    const { names } = await allTools(client);
    assert.equal(names[0], 'models_list');
    assert.ok(names.includes('fx__echo'));
    assert.ok(names.includes('every__get-sum'));
    assert.ok(names.slice(1).every((n) => n === 'fx__echo' || n.startsWith('every__get-')), names.join(','));
    await assert.rejects(client.callTool({ name: 'fx__slow', arguments: {} }), (e) => e instanceof McpError && e.code === -32602);
    await assert.rejects(client.callTool({ name: 'chat', arguments: { model: 'local/gpt-4o-mini', messages: [] } }),
      (e) => e instanceof McpError && e.code === -32602);
    assert.equal(text(await client.callTool({ name: 'fx__echo', arguments: { text: 'ok' } })), 'ok');
    // A server the key has not wholly: its own endpoint is refused.
    const c = new Client({ name: 'narrow-fx', version: '1' });
    await assert.rejects(c.connect(transport(keyNarrow.secret, '/mcp/fx')), (e) => e instanceof StreamableHTTPError && e.code === 403);
  });

  test('models_list and chat run through the router: the answer, its usage, its request record', async () => {
    const { client } = await connect(keyAll.secret);
    const m = await client.callTool({ name: 'models_list' });
    const ids = m.structuredContent.models.map((x) => `${x.provider}:${x.id}`);
    assert.ok(ids.includes('local:local/gpt-4o-mini'), ids.join(','));
    assert.ok(ids.includes('echo:echo/echo-1'), ids.join(','));

    const progress = [];
    const r = await client.callTool({
      name: 'chat',
      arguments: { model: 'local/gpt-4o-mini', messages: [{ role: 'user', content: 'hello over mcp' }], max_tokens: 50 },
    }, undefined, { onprogress: (p) => progress.push(p) });
    assert.ok(!r.isError, JSON.stringify(r));
    const sc = r.structuredContent;
    assert.equal(sc.text, 'You said: hello over mcp');
    assert.equal(text(r), sc.text);
    assert.equal(sc.finish_reason, 'stop');
    assert.match(sc.model, /gpt-4o-mini/);
    assert.ok(sc.usage.prompt_tokens > 0 && sc.usage.completion_tokens > 0);
    assert.equal(sc.usage.total_tokens, sc.usage.prompt_tokens + sc.usage.completion_tokens);
    assert.ok(progress.length >= 1, 'progress while the upstream streams');

    const rec = await waitFor(async () => {
      const x = await request(`${gw.url}/admin/v1/requests?key=${keyAll.id}`, { headers: bearer(ADMIN) });
      return x.json?.data?.find((d) => d.api === 'chat' && d.provider === 'local');
    }, { what: 'the chat request record' });
    assert.equal(rec.status, 200);
    assert.equal(rec.prompt_tokens, sc.usage.prompt_tokens);
    assert.equal(rec.completion_tokens, sc.usage.completion_tokens);

    // An unknown model is a tool error the model can read, not a crash.
    const bad = await client.callTool({ name: 'chat', arguments: { model: 'nope/none', messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(bad.isError, true);
  });

  test('sampling and elicitation requests of a server are relayed to the client that declared them', async () => {
    const { client } = await connect(keyAll.secret, '/mcp/fx', { capabilities: { sampling: {}, elicitation: {} } });
    const asked = [];
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      asked.push(req.params);
      return { role: 'assistant', content: { type: 'text', text: 'four' }, model: 'host-model', stopReason: 'endTurn' };
    });
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params);
      return { action: 'accept', content: { username: 'ada', email: 'ada@example.com' } };
    });
    let r = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'What is 2+2?' } });
    assert.equal(text(r), 'LLM response: four');
    assert.equal(asked[0].messages[0].content.text, 'What is 2+2?');
    r = await client.callTool({ name: 'test_elicitation', arguments: { message: 'Who are you?' } });
    assert.match(text(r), /action=accept/);
    assert.match(text(r), /ada@example\.com/);
    assert.equal(asked[1].message, 'Who are you?');

    // server-everything over stdio, through the aggregate endpoint too.
    const agg = await connect(keyAll.secret, '/mcp', { capabilities: { sampling: {} } });
    agg.client.setRequestHandler(CreateMessageRequestSchema, async () => (
      { role: 'assistant', content: { type: 'text', text: 'sampled by the host' }, model: 'host-model', stopReason: 'endTurn' }));
    r = await agg.client.callTool({ name: 'every__trigger-sampling-request', arguments: { prompt: 'say something', maxTokens: 20 } });
    assert.match(JSON.stringify(r.content), /sampled by the host/);

    // A client that did not declare sampling: the server's request is refused, so the tool fails.
    const plainClient = await connect(keyAll.secret, '/mcp/fx');
    let failed = false;
    try {
      const x = await plainClient.client.callTool({ name: 'test_sampling', arguments: { prompt: 'x' } });
      failed = x.isError === true;
    } catch (e) {
      failed = e instanceof McpError;
    }
    assert.ok(failed, 'no sampling without the capability');
  });
});
