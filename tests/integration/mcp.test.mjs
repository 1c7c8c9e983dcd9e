// The MCP endpoint at the byte level: /mcp (the aggregate of every
// federated server plus the gateway's own tools) and /mcp/<server>, with
// raw HTTP. The HTTP rules, sessions, versions, paging, the standalone
// stream, federation of stdio and HTTP servers, faults (a server that
// hangs, crashes or is down) and per-key tool permissions with their
// records. Needs `npm ci` in tests/e2e (the MCP SDK and servers).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import {
  startGateway, request, tempDir, freePort, waitFor, getMetrics, metricValue, runSwitchboard,
} from './harness.mjs';
import {
  startFixture, McpSession, mcpPost, openStream, resultText, waitServersUp,
  stdioServer, httpServer, MCP_FIXTURE, MCP_HANG, everythingScript, memoryScript, LATEST,
} from './mcp_helpers.mjs';

const ADMIN = 'sk-sb-admin-mcp-test-0123456789abcdef0123456789abcd';
const bearer = (k) => ({ authorization: `Bearer ${k}` });
const NAME_OK = /^[a-zA-Z0-9_-]{1,64}$/;
const LONG_TOOL = 'a_tool_whose_name_is_long_enough_to_need_shortening_01234567';
const UP = ['every', 'fx', 'fx2', 'fxs', 'hang', 'mem', 'mem2'];

const initBody = (version = LATEST) => ({
  jsonrpc: '2.0', id: 'init', method: 'initialize',
  params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

/** The aggregate name the brief prescribes for a tool whose "<server>__<tool>" is valid as is. */
const plain = (server, tool) => `${server}__${tool}`;

describe('mcp: the /mcp endpoint', () => {
  let fx;
  let fx2;
  let gw;
  let keyAll;
  let keyOther;
  let keyNarrow;
  let keyNone;
  let keyLimited;
  const mcp = () => `${gw.url}/mcp`;

  async function createKey(body) {
    const r = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(ADMIN), body });
    assert.equal(r.status, 201, r.text);
    return r.json;
  }
  async function calls(query) {
    const r = await request(`${gw.url}/admin/v1/mcp/calls?${query}`, { headers: bearer(ADMIN) });
    assert.equal(r.status, 200, r.text);
    return r.json.data;
  }
  async function open(url, key, opts = {}) {
    const s = new McpSession(url, { key, ...opts });
    await s.open();
    return s;
  }

  before(async () => {
    fx = await startFixture(0);
    fx2 = await startFixture(0);
    const dir = tempDir('sb-mcp-');
    const downPort = await freePort();
    gw = await startGateway({
      dir,
      env: { SWITCHBOARD_ADMIN_KEY: ADMIN },
      config: {
        limits: { max_body_bytes: 65536 },
        mcp: { page_size: 3, keepalive_s: 1 },
        mcp_servers: {
          fx: httpServer(fx.url),
          fx2: httpServer(fx2.url),
          fxs: stdioServer([MCP_FIXTURE, '--stdio']),
          every: stdioServer([everythingScript(), 'stdio']),
          mem: stdioServer([memoryScript()], { env: { MEMORY_FILE_PATH: path.join(dir, 'mem.jsonl') } }),
          mem2: stdioServer([memoryScript()], { env: { MEMORY_FILE_PATH: path.join(dir, 'mem2.jsonl') } }),
          hang: stdioServer([MCP_HANG], { timeout_s: 2 }),
          down: httpServer(`http://127.0.0.1:${downPort}/mcp`),
        },
      },
    });
    await waitServersUp(gw.url, ADMIN, UP);
    keyAll = await createKey({ name: 'mcp-all' });
    keyOther = await createKey({ name: 'mcp-other' });
    keyNarrow = await createKey({ name: 'mcp-narrow', mcp_tools: ['fx__echo', 'mem__read_*', 'mem2__*', 'models_list'] });
    keyNone = await createKey({ name: 'mcp-none', mcp_tools: [] });
    keyLimited = await createKey({ name: 'mcp-limited', rpm: 2 });
  });

  after(async () => {
    try {
      if (gw) await gw.stop();
    } finally {
      if (gw) await gw.kill();
      if (fx) await fx.stop();
      if (fx2) await fx2.stop();
    }
  });

  // ------------------------------------------------------------ HTTP ----

  test('no key or a wrong key: 401 with WWW-Authenticate and a JSON-RPC error; Bearer and x-api-key both work', async () => {
    for (const headers of [{}, bearer('sk-sb-not-a-key')]) {
      for (const url of [mcp(), `${mcp()}/fx`]) {
        const r = await mcpPost(url, initBody(), { headers });
        assert.equal(r.status, 401, `${url}: ${r.text}`);
        assert.match(r.headers['www-authenticate'] || '', /^Bearer\b/);
        assert.equal(r.json.jsonrpc, '2.0');
        assert.equal(r.json.id, null);
        assert.equal(r.json.error.code, -32001);
        assert.equal(r.headers['mcp-session-id'], undefined, 'no session for a stranger');
      }
    }
    let r = await mcpPost(mcp(), initBody(), { key: keyAll.secret });
    assert.equal(r.status, 200, r.text);
    r = await mcpPost(mcp(), initBody(), { headers: { 'x-api-key': keyAll.secret } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.response.result.protocolVersion, LATEST);
  });

  test('a foreign Host or Origin is refused with 403; the gateway\'s own origin is not', async () => {
    let r = await mcpPost(mcp(), initBody(), { key: keyAll.secret, headers: { host: 'evil.example.com' } });
    assert.equal(r.status, 403, r.text);
    r = await mcpPost(mcp(), initBody(), { key: keyAll.secret, headers: { origin: 'http://evil.example.com' } });
    assert.equal(r.status, 403, r.text);
    r = await mcpPost(mcp(), initBody(), { key: keyAll.secret, headers: { origin: `http://127.0.0.1:${gw.port}` } });
    assert.equal(r.status, 200, r.text);
  });

  test('POST needs Accept with both types (406), Content-Type JSON (415), a body within the limit (413)', async () => {
    for (const accept of ['application/json', 'text/event-stream', null]) {
      const r = await mcpPost(mcp(), initBody(), { key: keyAll.secret, accept });
      assert.equal(r.status, 406, `Accept ${accept}: ${r.text}`);
      assert.equal(r.json?.error?.code, -32000, r.text);
    }
    let r = await mcpPost(mcp(), JSON.stringify(initBody()), { key: keyAll.secret, contentType: 'text/plain' });
    assert.equal(r.status, 415, r.text);
    const s = await open(mcp(), keyAll.secret);
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(70000) } });
    r = await mcpPost(mcp(), big, s.opts());
    assert.equal(r.status, 413, r.text.slice(0, 300));
    // The session is still fine after all that.
    assert.deepEqual(await s.result('ping'), {});
  });

  test('unparsable JSON is 400 -32700 with id null; JSON that is not JSON-RPC is 400 -32600', async () => {
    const s = await open(mcp(), keyAll.secret);
    let r = await mcpPost(mcp(), '{"jsonrpc": "2.0", "id": 1, "method": ', s.opts());
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.code, -32700);
    assert.equal(r.json.id, null);
    r = await mcpPost(mcp(), '{"jsonrpc": "2.0", "id": 1, "method": ', { key: keyAll.secret });
    assert.equal(r.status, 400, 'without a session too');
    assert.equal(r.json.error.code, -32700);
    for (const body of ['{"hello": "world"}', '42', '{"jsonrpc": "2.0", "id": 1, "method": 7}']) {
      r = await mcpPost(mcp(), body, s.opts());
      assert.equal(r.status, 400, `${body}: ${r.text}`);
      assert.equal(r.json.error.code, -32600, body);
    }
  });

  test('a batch is refused on a 2025-11-25 (and 2025-06-18) session but answered on 2025-03-26 and 2024-11-05 ones', async () => {
    const batch = [{ jsonrpc: '2.0', id: 'b1', method: 'ping' }, { jsonrpc: '2.0', id: 'b2', method: 'ping' }];
    for (const v of [LATEST, '2025-06-18']) {
      const s = await open(mcp(), keyAll.secret, { version: v });
      assert.equal(s.version, v);
      const r = await mcpPost(mcp(), batch, s.opts());
      assert.equal(r.status, 400, `${v}: ${r.text}`);
      assert.equal(r.json.error.code, -32600, v);
    }
    for (const v of ['2025-03-26', '2024-11-05']) {
      const s = await open(mcp(), keyAll.secret, { version: v });
      assert.equal(s.version, v, 'the version asked for is the one negotiated');
      const r = await mcpPost(mcp(), batch, s.opts());
      assert.equal(r.status, 200, `${v}: ${r.text}`);
      const byId = Object.fromEntries(r.messages.map((m) => [m.id, m]));
      assert.deepEqual(byId.b1?.result, {}, r.text);
      assert.deepEqual(byId.b2?.result, {}, r.text);
    }
  });

  test('an unknown requested version is answered with 2025-11-25; an unsupported MCP-Protocol-Version header is 400', async () => {
    const s = await open(mcp(), keyAll.secret, { version: '2099-01-01' });
    assert.equal(s.version, LATEST);
    const r = await s.call('ping', undefined, { version: '1999-01-01' });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.code, -32000);
  });

  // -------------------------------------------------------- sessions ----

  test('initialize mints a session id; without one other requests are 400, an unknown one 404', async () => {
    const r = await mcpPost(mcp(), initBody(), { key: keyAll.secret });
    assert.equal(r.status, 200, r.text);
    const sid = r.headers['mcp-session-id'];
    assert.match(sid || '', /^[0-9a-f]{32}$/i);
    const res = r.response.result;
    assert.equal(res.protocolVersion, LATEST);
    assert.equal(typeof res.serverInfo.name, 'string');
    assert.ok(res.capabilities.tools, JSON.stringify(res.capabilities));
    // A second initialize gets another session.
    const r2 = await mcpPost(mcp(), initBody(), { key: keyAll.secret });
    assert.notEqual(r2.headers['mcp-session-id'], sid);

    let x = await mcpPost(mcp(), { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { key: keyAll.secret, version: LATEST });
    assert.equal(x.status, 400, x.text);
    assert.equal(x.json.error.code, -32000);
    x = await mcpPost(mcp(), { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { key: keyAll.secret, version: LATEST, session: 'f'.repeat(32) });
    assert.equal(x.status, 404, x.text);
    assert.equal(x.json.error.code, -32001);
  });

  test('DELETE ends a session (204), after which it is 404', async () => {
    const s = await open(mcp(), keyAll.secret);
    assert.deepEqual(await s.result('ping'), {});
    const d = await s.close();
    assert.equal(d.status, 204, d.text);
    const r = await s.call('ping');
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.error.code, -32001);
  });

  test('a session belongs to the key that opened it: another key gets 404 and the owner keeps it', async () => {
    const s = await open(mcp(), keyAll.secret);
    const r = await s.call('ping', undefined, { key: keyOther.secret });
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.error.code, -32001);
    const d = await request(mcp(), { method: 'DELETE', headers: { ...bearer(keyOther.secret), 'mcp-session-id': s.session } });
    assert.equal(d.status, 404, 'nor can it end it');
    assert.deepEqual(await s.result('ping'), {});
  });

  test('notifications and responses POSTed are 202 with no body', async () => {
    const s = await open(mcp(), keyAll.secret);
    let r = await s.notify('notifications/roots/list_changed');
    assert.equal(r.status, 202);
    assert.equal(r.text, '');
    r = await mcpPost(mcp(), { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'nothing-running' } }, s.opts());
    assert.equal(r.status, 202);
    assert.equal(r.text, '');
    r = await mcpPost(mcp(), { jsonrpc: '2.0', id: 'nobody-asked', result: {} }, s.opts());
    assert.equal(r.status, 202);
    assert.equal(r.text, '');
  });

  test('ping, server/discover without a session, unknown method -32601, bad params -32602', async () => {
    const s = await open(mcp(), keyAll.secret);
    let r = await s.call('ping');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^application\/json/, 'an immediate answer is plain JSON');
    assert.deepEqual(r.response.result, {});

    r = await mcpPost(mcp(), { jsonrpc: '2.0', id: 'd', method: 'server/discover' }, { key: keyAll.secret });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.response?.result, r.text);
    assert.ok(r.response.result.supportedVersions.includes(LATEST), r.text);
    assert.equal(typeof r.response.result.capabilities, 'object');
    assert.equal(typeof r.response.result.serverInfo.name, 'string');

    r = await s.call('tools/frobnicate', {});
    assert.equal(r.response.error.code, -32601, r.text);
    r = await s.call('tools/call', { arguments: {} });
    assert.equal(r.response.error.code, -32602, r.text);
    r = await s.call('resources/read', {});
    assert.equal(r.response.error.code, -32602, r.text);
  });

  test('an unknown /mcp/<server> is 404 with -32001', async () => {
    const r = await mcpPost(`${mcp()}/nosuchserver`, initBody(), { key: keyAll.secret });
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.error.code, -32001);
  });

  // ---------------------------------------------------------- paging ----

  test('lists are paged by mcp.page_size with nextCursor; a bad cursor is -32602', async () => {
    const s = await open(mcp(), keyAll.secret);
    const { items, pages } = await s.listAll('tools/list', 'tools');
    assert.ok(pages.length >= 3, `pages: ${pages}`);
    assert.ok(pages.slice(0, -1).every((n) => n === 3), `every page but the last is full: ${pages}`);
    assert.ok(pages.at(-1) >= 1 && pages.at(-1) <= 3, `${pages}`);
    const names = items.map((t) => t.name);
    assert.equal(new Set(names).size, names.length, 'no tool twice');
    assert.deepEqual(await s.toolNames(), names, 'the same order every time');
    const prompts = await s.listAll('prompts/list', 'prompts');
    assert.ok(prompts.pages.length >= 2, `prompt pages: ${prompts.pages}`);
    for (const bad of ['not-a-cursor', '!!!!', 'zzzz-9999-zzzz']) {
      const r = await s.call('tools/list', { cursor: bad });
      assert.equal(r.response?.error?.code, -32602, `cursor ${JSON.stringify(bad)}: ${r.text}`);
    }
  });

  // --------------------------------------------------- the GET stream ----

  test('GET opens the standalone stream (a second is 409); it carries resources/updated', async () => {
    // fxs: the fixture over stdio, whose notifications reach the gateway
    // whether or not it listens on an upstream GET stream.
    const url = `${mcp()}/fxs`;
    const s = await open(url, keyAll.secret);
    const hdrs = { ...bearer(keyAll.secret), accept: 'text/event-stream', 'mcp-session-id': s.session, 'mcp-protocol-version': s.version };
    const g1 = await openStream(url, hdrs);
    try {
      assert.equal(g1.status, 200);
      assert.match(g1.headers['content-type'], /^text\/event-stream/);
      const g2 = await openStream(url, hdrs);
      g2.close();
      assert.equal(g2.status, 409);
      assert.deepEqual(await s.result('resources/subscribe', { uri: 'test://watched-resource' }), {});
      const r = await s.callTool('touch_resource', { uri: 'test://watched-resource' });
      assert.equal(r.response?.result?.isError, undefined, r.text);
      const m = await g1.next((x) => x.method === 'notifications/resources/updated');
      assert.equal(m.params.uri, 'test://watched-resource');
      assert.equal(g1.ended, false, 'the stream stays open');
    } finally {
      g1.close();
    }
  });

  test('resources/updated reaches only the sessions subscribed to it; one unsubscribing leaves the others subscribed', async () => {
    const url = `${mcp()}/fxs`;
    const uri = 'test://shared-resource';
    const a = await open(url, keyAll.secret);
    const b = await open(url, keyAll.secret);
    const c = await open(url, keyAll.secret);
    const hdrs = (s) => ({ ...bearer(keyAll.secret), accept: 'text/event-stream', 'mcp-session-id': s.session, 'mcp-protocol-version': s.version });
    const [ga, gb, gc] = await Promise.all([openStream(url, hdrs(a)), openStream(url, hdrs(b)), openStream(url, hdrs(c))]);
    try {
      assert.deepEqual(await a.result('resources/subscribe', { uri }), {});
      assert.deepEqual(await b.result('resources/subscribe', { uri }), {});
      // b lets go; a still holds the one upstream subscription.
      assert.deepEqual(await b.result('resources/unsubscribe', { uri }), {});
      const r = await c.callTool('touch_resource', { uri });
      assert.match(resultText(r.response.result), /notified 1 session/, r.text);
      const m = await ga.next((x) => x.method === 'notifications/resources/updated' && x.params?.uri === uri);
      assert.equal(m.params.uri, uri);
      // Give the others the time a would have needed, then check.
      await new Promise((res) => setTimeout(res, 300));
      for (const g of [gb, gc]) {
        assert.ok(!g.messages.some((x) => x.method === 'notifications/resources/updated' && x.params?.uri === uri),
          JSON.stringify(g.messages));
      }
      // The last one lets go: the server no longer has a subscriber.
      assert.deepEqual(await a.result('resources/unsubscribe', { uri }), {});
      const r2 = await c.callTool('touch_resource', { uri });
      assert.match(resultText(r2.response.result), /notified 0 session/, r2.text);
    } finally {
      for (const g of [ga, gb, gc]) g.close();
    }
  });

  test('switchboard mcp tools connects to a server as the gateway would and prints what clients will see', async () => {
    const t = await runSwitchboard(['mcp', 'tools', 'fxs', '--db', gw.dbPath, '--config', gw.configPath], { timeoutMs: 30000 });
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /^fxs__test_simple_text\s+Returns a simple text response$/m);
    assert.match(t.stdout, /^fxs__dotted_name_[0-9a-f]{8}\s/m, 'the public (mapped) name');
    const j = await runSwitchboard(['mcp', 'tools', 'fxs', '--json', '--db', gw.dbPath, '--config', gw.configPath], { timeoutMs: 30000 });
    assert.equal(j.code, 0, j.stderr);
    assert.ok(JSON.parse(j.stdout).some((x) => x.name === 'dotted.name'), 'the server\'s own list');
    const down = await runSwitchboard(['mcp', 'tools', 'down', '--wait', '5', '--db', gw.dbPath, '--config', gw.configPath], { timeoutMs: 30000 });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /down: .+/);
    const none = await runSwitchboard(['mcp', 'tools', 'nosuch', '--db', gw.dbPath, '--config', gw.configPath]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no MCP server 'nosuch'/);
  });

  // ------------------------------------------------------ federation ----

  test('/mcp lists the gateway\'s tools first, then every server that is up by name, each in its own order', async () => {
    const s = await open(mcp(), keyAll.secret);
    const names = await s.toolNames();
    assert.deepEqual(new Set(names.slice(0, 2)), new Set(['chat', 'models_list']), names.slice(0, 5).join(','));
    for (const n of names) assert.match(n, NAME_OK);
    const servers = [];
    for (const n of names.slice(2)) {
      const sv = n.slice(0, n.indexOf('__'));
      if (servers.at(-1) !== sv) servers.push(sv);
    }
    assert.deepEqual(servers, [...UP].sort(), 'grouped by server, servers by name, the down one left out');

    // Each server's part is its own list, in its order, under its prefix.
    for (const sv of ['every', 'fx', 'mem']) {
      const own = await open(`${mcp()}/${sv}`, keyAll.secret);
      const its = await own.toolNames();
      const part = names.filter((n) => n.startsWith(`${sv}__`));
      assert.equal(part.length, its.length, sv);
      its.forEach((t, i) => {
        if (NAME_OK.test(plain(sv, t))) assert.equal(part[i], plain(sv, t));
      });
    }
  });

  test('names that do not fit are mapped: invalid characters to "_", too long to 55 characters + "_" + 8 hex; both callable', async () => {
    const s = await open(mcp(), keyAll.secret);
    const names = await s.toolNames();
    // A name with a character clients refuse gets the short form: the
    // character becomes "_" and a hash of the pair keeps it apart from a
    // tool really called "dotted_name".
    const dotted = names.find((n) => /^fx__dotted_name_[0-9a-f]{8}$/.test(n));
    assert.ok(dotted, names.filter((n) => n.startsWith('fx__')).join(','));
    const full = `fx__${LONG_TOOL}`;
    const long = names.find((n) => n.startsWith(full.slice(0, 55)));
    assert.ok(long, 'the long name is listed, shortened');
    assert.equal(long.length, 64);
    assert.match(long, /^.{55}_[0-9a-f]{8}$/);
    let r = await s.callTool(dotted);
    assert.equal(resultText(r.response.result), 'dotted');
    r = await s.callTool(long);
    assert.equal(resultText(r.response.result), 'long');
    // On /mcp/fx the server's own names.
    const own = await open(`${mcp()}/fx`, keyAll.secret);
    const ownNames = await own.toolNames();
    assert.ok(ownNames.includes('dotted.name') && ownNames.includes(LONG_TOOL));
    r = await own.callTool('dotted.name');
    assert.equal(resultText(r.response.result), 'dotted');
    // Stable: a new session sees the same mapped name.
    const again = await open(mcp(), keyAll.secret);
    assert.ok((await again.toolNames()).includes(long));
  });

  test('stdio and HTTP servers are called under <server>__<tool>; two instances of one server stay apart', async () => {
    const s = await open(mcp(), keyAll.secret);
    const names = await s.toolNames();
    for (const n of ['mem__read_graph', 'mem2__read_graph', 'every__echo', 'every__get-sum', 'fx__echo', 'fx2__echo']) {
      assert.ok(names.includes(n), `${n} listed`);
    }
    let r = await s.callTool('mem__create_entities', { entities: [{ name: 'alice', entityType: 'person', observations: ['writes tests'] }] });
    assert.ok(r.response?.result && !r.response.result.isError, r.text);
    r = await s.callTool('mem__read_graph');
    assert.match(resultText(r.response.result), /alice/);
    r = await s.callTool('mem2__read_graph');
    assert.ok(r.response?.result && !r.response.result.isError, r.text);
    assert.doesNotMatch(resultText(r.response.result), /alice/, 'mem2 is another instance');

    r = await s.callTool('every__echo', { message: 'hello everything' });
    assert.match(resultText(r.response.result), /hello everything/);
    r = await s.callTool('every__get-sum', { a: 2, b: 40 });
    assert.match(resultText(r.response.result), /42/);

    r = await s.callTool('fx__echo', { text: 'over http' });
    assert.equal(r.status, 200);
    assert.ok(r.sse, 'a federated tools/call answers as an event stream');
    assert.equal(resultText(r.response.result), 'over http');
    assert.deepEqual(r.response.result.structuredContent, { text: 'over http' });
    assert.equal(r.messages.at(-1), r.response, 'the response ends the stream');
  });

  test('progress of a federated call arrives with the caller\'s token before the result', async () => {
    const s = await open(mcp(), keyAll.secret);
    const r = await s.callTool('fx__slow', { steps: 3, interval_ms: 30 }, { meta: { progressToken: 'tok-raw-1' } });
    const progress = r.messages.filter((m) => m.method === 'notifications/progress');
    assert.deepEqual(progress.map((m) => [m.params.progressToken, m.params.progress, m.params.total]),
      [['tok-raw-1', 1, 3], ['tok-raw-1', 2, 3], ['tok-raw-1', 3, 3]]);
    assert.ok(r.messages.indexOf(r.response) > r.messages.indexOf(progress.at(-1)));
    assert.equal(resultText(r.response.result), 'slow finished 3 steps');
  });

  test('models_list shows the models the key may call', async () => {
    const s = await open(mcp(), keyAll.secret);
    const r = await s.callTool('models_list');
    const models = r.response.result.structuredContent.models;
    assert.ok(models.some((m) => m.id === 'echo/echo-1' && m.provider === 'echo'), JSON.stringify(models));
  });

  // ---------------------------------------------------------- faults ----

  test('a server that never answers: the call ends with a tool error after its timeout_s; the others keep working', async () => {
    const s = await open(mcp(), keyAll.secret);
    const hung = s.callTool('hang__hang');
    const r = await s.callTool('fx__echo', { text: 'still here' });
    assert.equal(resultText(r.response.result), 'still here', 'another server answers while one hangs');
    const h = await hung;
    assert.equal(h.status, 200, h.text);
    assert.equal(h.response?.result?.isError, true, h.text);
    assert.match(resultText(h.response.result), /unavailable/i);
    assert.match(resultText(h.response.result), /hang/, 'naming the server');
    const ok = await s.callTool('hang__ok');
    assert.equal(resultText(ok.response.result), 'ok', 'the same server is still usable');
    const rows = await waitFor(async () => {
      const timeouts = (await calls(`key=${keyAll.id}&server=hang&tool=hang`)).filter((c) => c.outcome === 'timeout');
      return timeouts.length ? timeouts : null;
    }, { what: 'a timeout record' });
    assert.equal(rows.length, 1);
  });

  test('a server that crashes is restarted and usable again', async () => {
    const s = await open(mcp(), keyAll.secret);
    const r = await s.callTool('fxs__crash');
    assert.equal(r.status, 200, r.text);
    assert.ok(r.response?.error || r.response?.result?.isError === true, `the crash is reported: ${r.text}`);
    await waitFor(async () => {
      const x = await s.callTool('fxs__test_simple_text');
      return x.response?.result && !x.response.result.isError && resultText(x.response.result).includes('simple text');
    }, { timeoutMs: 30000, interval: 250, what: 'fxs back' });
    const srv = await request(`${gw.url}/admin/v1/mcp/servers/fxs`, { headers: bearer(ADMIN) });
    assert.equal(srv.status, 200, srv.text);
    assert.equal(srv.json.status.state, 'up');
    assert.ok(srv.json.status.restarts >= 1, srv.text);
  });

  test('a server that is down: lists show the others; a call to it is a tool error saying why', async () => {
    const srv = await request(`${gw.url}/admin/v1/mcp/servers/down`, { headers: bearer(ADMIN) });
    assert.equal(srv.status, 200, srv.text);
    assert.notEqual(srv.json.status.state, 'up');
    assert.ok(srv.json.status.error, srv.text);

    const s = await open(mcp(), keyAll.secret);
    let names = await s.toolNames();
    assert.ok(!names.some((n) => n.startsWith('down__')));
    let r = await s.callTool('down__anything');
    assert.equal(r.response?.result?.isError, true, r.text);
    assert.match(resultText(r.response.result), /unavailable/i);

    // A server that was up and goes away.
    assert.ok(names.includes('fx2__echo'));
    await fx2.stop();
    r = await s.callTool('fx2__echo', { text: 'anyone?' });
    assert.equal(r.response?.result?.isError, true, r.text);
    assert.match(resultText(r.response.result), /unavailable/i);
    names = await waitFor(async () => {
      const n = await s.toolNames();
      return n.some((x) => x.startsWith('fx2__')) ? null : n;
    }, { timeoutMs: 20000, interval: 200, what: 'fx2 out of the list' });
    for (const n of ['fx__echo', 'mem__read_graph', 'every__echo']) assert.ok(names.includes(n), n);
    r = await s.callTool('fx__echo', { text: 'fine' });
    assert.equal(resultText(r.response.result), 'fine');
  });

  // ----------------------------------------------------- permissions ----

  test('mcp_tools globs: a key sees only its tools; a denied call is -32602 "Unknown tool" like an unknown one, and recorded as denied', async () => {
    const mem2 = await (await open(`${mcp()}/mem2`, keyAll.secret)).toolNames();
    const s = await open(mcp(), keyNarrow.secret);
    const names = await s.toolNames();
    assert.deepEqual(names, ['models_list', 'fx__echo', 'mem__read_graph', ...mem2.map((t) => `mem2__${t}`)]);

    const unknown = await s.callTool('fx__no_such_tool');
    const denied = await s.callTool('fx__slow', { steps: 1 });
    const deniedOwn = await s.callTool('chat', { model: 'echo/echo-1', messages: [{ role: 'user', content: 'x' }] });
    for (const r of [unknown, denied, deniedOwn]) {
      assert.equal(r.response?.error?.code, -32602, r.text);
    }
    assert.match(denied.response.error.message, /unknown tool/i);
    assert.equal(denied.response.error.message.replace('fx__slow', 'X'), unknown.response.error.message.replace('fx__no_such_tool', 'X'),
      'a denied tool is answered as an unknown one');
    const ok = await s.callTool('fx__echo', { text: 'allowed' });
    assert.equal(resultText(ok.response.result), 'allowed');

    const rows = await waitFor(async () => {
      const c = await calls(`key=${keyNarrow.id}`);
      return c.length >= 4 ? c : null;
    }, { what: 'four call records of the narrow key' });
    assert.equal(rows.length, 4, JSON.stringify(rows));
    const slow = rows.find((c) => c.server === 'fx' && c.tool === 'slow');
    assert.equal(slow?.outcome, 'denied', JSON.stringify(rows));
    assert.equal(rows.find((c) => c.tool === 'chat')?.outcome, 'denied', JSON.stringify(rows));
    const echo = rows.find((c) => c.server === 'fx' && c.tool === 'echo');
    assert.equal(echo?.outcome, 'ok');
    assert.equal(echo.key_id, keyNarrow.id);
    assert.equal(echo.session_id, s.session);
    assert.ok(echo.request_bytes > 0 && echo.response_bytes > 0, JSON.stringify(echo));
  });

  test('a server endpoint needs the whole server: /mcp/fx is 403 for the narrow key, /mcp/mem2 is not; prompts follow', async () => {
    let r = await mcpPost(`${mcp()}/fx`, initBody(), { key: keyNarrow.secret });
    assert.equal(r.status, 403, r.text);
    r = await mcpPost(`${mcp()}/mem`, initBody(), { key: keyNarrow.secret });
    assert.equal(r.status, 403, 'read_* is not the whole of mem');
    const m2 = await open(`${mcp()}/mem2`, keyNarrow.secret);
    assert.ok((await m2.toolNames()).includes('read_graph'));

    const narrow = await open(mcp(), keyNarrow.secret);
    const all = await open(mcp(), keyAll.secret);
    const np = (await narrow.listAll('prompts/list', 'prompts')).items.map((p) => p.name);
    const ap = (await all.listAll('prompts/list', 'prompts')).items.map((p) => p.name);
    assert.ok(ap.includes('fx__test_simple_prompt'), ap.join(','));
    assert.ok(!np.some((p) => p.startsWith('fx__') || p.startsWith('every__')), np.join(','));
    const nr = (await narrow.listAll('resources/list', 'resources')).items.map((x) => x.uri);
    assert.ok(!nr.includes('test://static-text'), 'nor fx\'s resources');
    r = await narrow.call('resources/read', { uri: 'test://static-text' });
    assert.ok(r.response?.error, `reading fx's resource is refused: ${r.text}`);
  });

  test('mcp_tools [] allows no tool at all', async () => {
    const s = await open(mcp(), keyNone.secret);
    assert.deepEqual(await s.toolNames(), []);
    const r = await s.callTool('fx__echo', { text: 'x' });
    assert.equal(r.response?.error?.code, -32602);
  });

  test('every tools/call takes one request from the key\'s rpm: over it, -32000 "rate limited" with retry_after_s', async () => {
    const s = await open(mcp(), keyLimited.secret);
    for (let i = 0; i < 2; i++) {
      const r = await s.callTool('fx__echo', { text: `call ${i}` });
      assert.equal(resultText(r.response?.result), `call ${i}`, r.text);
    }
    const r = await s.callTool('fx__echo', { text: 'one too many' });
    assert.equal(r.response?.error?.code, -32000, r.text);
    assert.match(r.response.error.message, /rate limited/i);
    assert.ok(r.response.error.data?.retry_after_s > 0, r.text);
    await waitFor(async () => (await calls(`key=${keyLimited.id}`)).some((c) => c.outcome === 'rate_limited'), { what: 'a rate_limited record' });
  });

  test('the calls are counted in /metrics', async () => {
    const m = await getMetrics(gw.url);
    assert.ok(metricValue(m, 'switchboard_mcp_tool_calls_total', { server: 'fx', outcome: 'ok' }) >= 1);
    assert.ok(metricValue(m, 'switchboard_mcp_tool_calls_total', { outcome: 'denied' }) >= 1);
    assert.ok(metricValue(m, 'switchboard_mcp_servers_up') >= 5);
    assert.ok(metricValue(m, 'switchboard_mcp_sessions') >= 1);
  });
});
