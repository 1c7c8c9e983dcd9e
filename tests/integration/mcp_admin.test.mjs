// The MCP control plane: federated server definitions in SQLite (seeded by
// the config file, edited through /admin/v1/mcp/servers and `switchboard
// mcp`), the record of tool calls (/admin/v1/mcp/calls, `switchboard usage
// --calls`) and the keys' mcp_tools, against the real binary.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { startGateway, request, queryDb, runSwitchboard, sqlString } from './harness.mjs';

const ADMIN = 'sk-sb-admin-mcp-0123456789abcdef0123456789abcdef';
const admin = { authorization: `Bearer ${ADMIN}` };
const adminGet = (gw, path) => request(`${gw.url}/admin/v1${path}`, { method: 'GET', headers: admin });
const adminPost = (gw, path, body) => request(`${gw.url}/admin/v1${path}`, { headers: admin, body });
const adminDelete = (gw, path) => request(`${gw.url}/admin/v1${path}`, { method: 'DELETE', headers: admin });

const FILES = { transport: 'stdio', command: 'node', args: ['server.mjs'], env: { TOKEN: '${SWITCHBOARD_CRED_FILES}' } };
const REMOTE = { url: 'http://127.0.0.1:9/mcp', headers: { Authorization: 'Bearer ${SWITCHBOARD_CRED_R}' }, timeout_s: 5 };

describe('MCP servers, calls and tool permissions (admin API and CLI)', () => {
  let gw;
  const env = { SWITCHBOARD_ADMIN_KEY: ADMIN };
  const config = () => ({ mcp: { page_size: 50 }, mcp_servers: { files: FILES, remote: REMOTE } });

  before(async () => {
    gw = await startGateway({ env, config: config() });
  });
  after(async () => {
    if (gw) await gw.stop();
  });

  test('the config file seeds the table; the API lists the definitions as written', async () => {
    const r = await adminGet(gw, '/mcp/servers');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'list');
    assert.deepEqual(r.json.data.map((s) => s.name), ['files', 'remote']);
    const [files, remote] = r.json.data;
    assert.equal(files.object, 'mcp.server');
    assert.equal(files.source, 'config');
    assert.deepEqual(files.definition, FILES);
    assert.deepEqual(remote.definition, REMOTE);
    const rows = await queryDb(gw.dbPath, 'SELECT name, source FROM mcp_servers ORDER BY name');
    assert.deepEqual(rows, [{ name: 'files', source: 'config' }, { name: 'remote', source: 'config' }]);
    const one = await adminGet(gw, '/mcp/servers/remote');
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json.name, 'remote');
    const none = await adminGet(gw, '/mcp/servers/nope');
    assert.equal(none.status, 404);
    assert.match(none.json.error.message, /No MCP server 'nope'/);
  });

  test('POST creates or replaces a definition; an entry as GET shows it is taken too', async () => {
    const def = { url: 'https://mcp.example.com/mcp', call_timeout_s: 30, enabled: false };
    const c = await adminPost(gw, '/mcp/servers/web', def);
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.name, 'web');
    assert.equal(c.json.source, 'api');
    assert.deepEqual(c.json.definition, def);
    const again = await adminPost(gw, '/mcp/servers/web', { ...c.json, definition: { url: 'https://other.example.com/mcp' } });
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(again.json.definition, { url: 'https://other.example.com/mcp' });
    const byBody = await adminPost(gw, '/mcp/servers', { name: 'named', command: 'true' });
    assert.equal(byBody.status, 200, byBody.text);
    assert.deepEqual(byBody.json.definition, { command: 'true' });
    const list = await adminGet(gw, '/mcp/servers');
    assert.deepEqual(list.json.data.map((s) => s.name), ['files', 'named', 'remote', 'web']);
  });

  test('an invalid or disallowed definition is a 400 saying why, and nothing is stored', async () => {
    const cases = [
      ['bad', { url: 'http://x', bogus: 1 }, /bogus: unknown key/],
      ['bad', { url: 'ftp://x' }, /must start with http/],
      ['bad', { transport: 'http' }, /missing required key "url"/],
      ['bad', { url: 'http://x', command: 'y' }, /both http/],
      ['bad', { command: 'c', args: ['a', 1] }, /args\[1\]: expected a string/],
      ['bad', { url: 'http://x', timeout_s: 0 }, /timeout_s: must be/],
      ['bad', { url: 'http://x', headers: { Authorization: 'Bearer literal' } }, /a credential is never stored/],
      ['bad', { url: 'http://x', headers: { 'X-T': '${HOME}' } }, /HOME \(headers\.X-T\) is not on the credential allow-list/],
      ['bad', { command: 'c', env: { K: '${SWITCHBOARD_ADMIN_KEY}' } }, /SWITCHBOARD_ADMIN_KEY/],
      ['bad', { url: 'http://169.254.169.254/latest' }, /link-local or cloud metadata/],
      ['a_b', { url: 'http://x' }, /\[A-Za-z0-9-\]/],
    ];
    for (const [name, body, re] of cases) {
      const r = await adminPost(gw, `/mcp/servers/${name}`, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.error.type, 'invalid_request_error');
      assert.match(r.json.error.message, re, JSON.stringify(body));
    }
    const mismatch = await adminPost(gw, '/mcp/servers/x1', { name: 'x2', url: 'http://x' });
    assert.equal(mismatch.status, 400);
    const text = await request(`${gw.url}/admin/v1/mcp/servers/x`, { headers: { ...admin, 'content-type': 'text/plain' }, body: '{}' });
    assert.notEqual(text.status, 200);
    const rows = await queryDb(gw.dbPath, "SELECT name FROM mcp_servers WHERE name IN ('bad', 'a_b', 'x1', 'x2', 'x')");
    assert.deepEqual(rows, []);
  });

  test('DELETE removes a server; a second time is 404; the collection takes no DELETE', async () => {
    const d = await adminDelete(gw, '/mcp/servers/named');
    assert.equal(d.status, 200, d.text);
    assert.deepEqual(d.json, { name: 'named', object: 'mcp.server', deleted: true });
    const again = await adminDelete(gw, '/mcp/servers/named');
    assert.equal(again.status, 404);
    const coll = await adminDelete(gw, '/mcp/servers');
    assert.equal(coll.status, 405);
  });

  test('the admin endpoints need the admin credential', async () => {
    const k = await adminPost(gw, '/keys', { name: 'plain' });
    assert.equal(k.status, 201, k.text);
    const asKey = { authorization: `Bearer ${k.json.secret}` };
    for (const path of ['/mcp/servers', '/mcp/calls']) {
      const r = await request(`${gw.url}/admin/v1${path}`, { method: 'GET', headers: asKey });
      assert.equal(r.status, 403, path);
      const anon = await request(`${gw.url}/admin/v1${path}`, { method: 'GET' });
      assert.equal(anon.status, 401, path);
    }
  });

  test('keys take and show mcp_tools: null (any), an array of globs, [] (none)', async () => {
    const c = await adminPost(gw, '/keys', { name: 'tools', mcp_tools: ['files__*', 'chat'] });
    assert.equal(c.status, 201, c.text);
    assert.deepEqual(c.json.mcp_tools, ['files__*', 'chat']);
    const plain = await adminGet(gw, '/keys/plain');
    assert.equal(plain.json.mcp_tools, null);
    const none = await adminPost(gw, '/keys/tools', { mcp_tools: [] });
    assert.equal(none.status, 200, none.text);
    assert.deepEqual(none.json.mcp_tools, []);
    const any = await adminPost(gw, '/keys/tools', { mcp_tools: null });
    assert.equal(any.status, 200, any.text);
    assert.equal(any.json.mcp_tools, null);
    const rows = await queryDb(gw.dbPath, "SELECT mcp_tools FROM api_keys WHERE name = 'tools'");
    assert.deepEqual(rows, [{ mcp_tools: null }]);
    for (const bad of [['a b'], [''], ['x'.repeat(201)], 'files__*', [1]]) {
      const r = await adminPost(gw, '/keys/tools', { mcp_tools: bad });
      assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.text}`);
    }
    const many = await adminPost(gw, '/keys/tools', { mcp_tools: Array.from({ length: 65 }, (_, i) => `s${i}__*`) });
    assert.equal(many.status, 400);
    assert.match(many.json.error.message, /at most 64/);
  });

  test('switchboard keys create --mcp-tools', async () => {
    const r = await runSwitchboard(['keys', 'create', '--name', 'cli-tools', '--mcp-tools', 'web__*, models_list', '--db', gw.dbPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sk-sb-[0-9a-f]{64}\n$/);
    const list = await runSwitchboard(['keys', 'list', '--json', '--db', gw.dbPath]);
    const k = JSON.parse(list.stdout).find((e) => e.name === 'cli-tools');
    assert.deepEqual(k.mcp_tools, ['web__*', 'models_list']);
    const bad = await runSwitchboard(['keys', 'create', '--name', 'x', '--mcp-tools', 'a b', '--db', gw.dbPath]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--mcp-tools/);
  });

  test('switchboard mcp add|list|get|remove work beside the running gateway', async () => {
    const add = await runSwitchboard(['mcp', 'add', 'cli', '--command', 'npx', '--arg', '-y', '--arg', 'pkg',
      '--env', 'TOKEN=${SWITCHBOARD_CRED_CLI}', '--cwd', '/tmp', '--timeout', '30', '--db', gw.dbPath]);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stderr, /MCP server 'cli' saved/);
    assert.doesNotMatch(add.stderr, /did not report/, 'the running gateway caught up');
    const r = await adminGet(gw, '/mcp/servers/cli');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.definition, { transport: 'stdio', command: 'npx', args: ['-y', 'pkg'], env: { TOKEN: '${SWITCHBOARD_CRED_CLI}' }, cwd: '/tmp', timeout_s: 30 });

    const http = await runSwitchboard(['mcp', 'add', 'cli2', '--url', 'https://h.example.com/mcp', '--header', 'Authorization: Bearer ${SWITCHBOARD_CRED_H}',
      '--header', 'X-A:1', '--call-timeout', '9', '--disabled', '--db', gw.dbPath]);
    assert.equal(http.code, 0, http.stderr);
    const h = await adminGet(gw, '/mcp/servers/cli2');
    assert.deepEqual(h.json.definition, { transport: 'http', url: 'https://h.example.com/mcp', headers: { Authorization: 'Bearer ${SWITCHBOARD_CRED_H}', 'X-A': '1' }, call_timeout_s: 9, enabled: false });

    const json = await runSwitchboard(['mcp', 'add', 'cli3', '--json', '{"url":"http://127.0.0.1:1/mcp"}', '--timeout', '7', '--db', gw.dbPath]);
    assert.equal(json.code, 0, json.stderr);

    const list = await runSwitchboard(['mcp', 'list', '--db', gw.dbPath]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^NAME\s+TRANSPORT\s+SOURCE\s+ENABLED\s+TARGET/);
    assert.match(list.stdout, /\ncli2\s+http\s+api\s+no\s+https:\/\/h\.example\.com\/mcp/);
    assert.match(list.stdout, /\nfiles\s+stdio\s+config\s+yes\s+node/);
    const lj = await runSwitchboard(['mcp', 'list', '--json', '--db', gw.dbPath]);
    const entries = JSON.parse(lj.stdout);
    assert.deepEqual(entries.find((e) => e.name === 'cli3').definition, { url: 'http://127.0.0.1:1/mcp', timeout_s: 7 });
    const get = await runSwitchboard(['mcp', 'get', 'remote', '--db', gw.dbPath]);
    assert.equal(get.code, 0);
    assert.deepEqual(JSON.parse(get.stdout).definition, REMOTE);

    const bad = [
      ['mcp', 'add', 'x', '--url', 'http://a', '--command', 'b'],
      ['mcp', 'add', 'x_y', '--url', 'http://a'],
      ['mcp', 'add', 'x', '--url', 'http://a', '--header', 'nocolon'],
      ['mcp', 'add', 'x', '--command', 'c', '--env', 'NOEQUALS'],
      ['mcp', 'add', 'x', '--url', 'http://a', '--timeout', '0'],
      ['mcp', 'add', 'x', '--json', '[]'],
      ['mcp', 'add', 'x'],
      ['mcp', 'add', '--url', 'http://a'],
      ['mcp', 'frob'],
    ];
    for (const args of bad) {
      const b = await runSwitchboard([...args, '--db', gw.dbPath]);
      assert.equal(b.code, 2, `${args.join(' ')}: ${b.stderr}`);
      assert.match(b.stderr, /switchboard: /);
    }
    const rows = await queryDb(gw.dbPath, "SELECT name FROM mcp_servers WHERE name IN ('x', 'x_y')");
    assert.deepEqual(rows, []);

    const rm = await runSwitchboard(['mcp', 'remove', 'cli3', '--db', gw.dbPath]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal((await adminGet(gw, '/mcp/servers/cli3')).status, 404);
    const rm2 = await runSwitchboard(['mcp', 'remove', 'cli3', '--db', gw.dbPath]);
    assert.equal(rm2.code, 1);
    assert.match(rm2.stderr, /no MCP server 'cli3'/);
    const get2 = await runSwitchboard(['mcp', 'get', 'cli3', '--db', gw.dbPath]);
    assert.equal(get2.code, 1);
  });

  test('tool calls: /admin/v1/mcp/calls and switchboard usage --calls, with filters', async () => {
    const keys = await adminGet(gw, '/keys');
    const tools = keys.json.data.find((k) => k.name === 'tools').id;
    const rows = [
      [1000, tools, 'files', 'read', 'ok', null],
      [2000, tools, 'files', 'write', 'tool_error', 'disk, "full"'],
      [3000, null, 'web', 'fetch', 'denied', null],
      [4000, 'key_other', 'gateway', 'chat', 'rate_limited', null],
    ];
    const values = rows.map(([ts, key, server, tool, outcome, error]) => `(${ts}, ${sqlString(`req-${ts}`)}, 'sess', ${key ? sqlString(key) : 'NULL'},`
      + ` ${sqlString(server)}, ${sqlString(tool)}, ${sqlString(outcome)}, ${error ? sqlString(error) : 'NULL'}, 5, 10, 20)`).join(', ');
    await queryDb(gw.dbPath, 'INSERT INTO mcp_calls(ts_ms, request_id, session_id, key_id, server, tool, outcome, error,'
      + ` duration_ms, request_bytes, response_bytes) VALUES ${values}`);

    const all = await adminGet(gw, '/mcp/calls');
    assert.equal(all.status, 200, all.text);
    assert.equal(all.json.object, 'list');
    assert.deepEqual(all.json.data.map((c) => c.ts_ms), [4000, 3000, 2000, 1000]);
    assert.deepEqual(all.json.data[2], {
      ts_ms: 2000, request_id: 'req-2000', session_id: 'sess', key_id: tools, server: 'files', tool: 'write',
      outcome: 'tool_error', error: 'disk, "full"', duration_ms: 5, request_bytes: 10, response_bytes: 20,
    });
    assert.equal(all.json.data[1].key_id, null);
    const byName = await adminGet(gw, '/mcp/calls?key=tools');
    assert.deepEqual(byName.json.data.map((c) => c.ts_ms), [2000, 1000]);
    const byServer = await adminGet(gw, '/mcp/calls?server=files&tool=read');
    assert.deepEqual(byServer.json.data.map((c) => c.ts_ms), [1000]);
    const window = await adminGet(gw, '/mcp/calls?since=2&until=4');
    assert.deepEqual(window.json.data.map((c) => c.ts_ms), [3000, 2000]);
    const limited = await adminGet(gw, '/mcp/calls?limit=1');
    assert.deepEqual(limited.json.data.map((c) => c.ts_ms), [4000]);
    for (const q of ['limit=0', 'limit=x', 'limit=10001', 'since=yesterday']) {
      const r = await adminGet(gw, `/mcp/calls?${q}`);
      assert.equal(r.status, 400, q);
    }

    const cj = await runSwitchboard(['usage', '--calls', '--format', 'json', '--key', 'tools', '--db', gw.dbPath]);
    assert.equal(cj.code, 0, cj.stderr);
    assert.deepEqual(JSON.parse(cj.stdout).data.map((c) => c.tool), ['write', 'read']);
    const csv = await runSwitchboard(['usage', '--calls', '--format', 'csv', '--server', 'files', '--db', gw.dbPath]);
    assert.equal(csv.code, 0, csv.stderr);
    const lines = csv.stdout.trim().split('\n');
    assert.equal(lines[0], 'ts_ms,request_id,session_id,key_id,server,tool,outcome,error,duration_ms,request_bytes,response_bytes');
    assert.equal(lines.length, 3);
    assert.equal(lines[1], `2000,req-2000,sess,${tools},files,write,tool_error,"disk, ""full""",5,10,20`);
    const table = await runSwitchboard(['usage', '--calls', '--tool', 'chat', '--db', gw.dbPath]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^TIME\s+SERVER\s+TOOL\s+OUTCOME/);
    assert.match(table.stdout, /gateway\s+chat\s+rate_limited\s+key_other/);
    assert.equal(table.stdout.trim().split('\n').length, 2);
    const since = await runSwitchboard(['usage', '--calls', '--format', 'json', '--since', '3', '--limit', '1', '--db', gw.dbPath]);
    assert.deepEqual(JSON.parse(since.stdout).data.map((c) => c.ts_ms), [4000]);
    for (const args of [['--server', 'x'], ['--calls', '--by', 'day'], ['--calls', '--limit', '0'], ['--calls', '--format', 'xml']]) {
      const b = await runSwitchboard(['usage', ...args, '--db', gw.dbPath]);
      assert.equal(b.code, 2, args.join(' '));
    }
  });

  test('after a restart an operator\'s edit wins over the file, and a server gone from the file goes', async () => {
    const edited = { command: 'node', args: ['edited.mjs'] };
    const e = await adminPost(gw, '/mcp/servers/files', edited);
    assert.equal(e.status, 200, e.text);
    await gw.stop();
    gw = await startGateway({ env, dir: gw.dir, config: { mcp_servers: { files: FILES } } });
    const r = await adminGet(gw, '/mcp/servers');
    const byName = Object.fromEntries(r.json.data.map((s) => [s.name, s]));
    assert.deepEqual(byName.files.definition, edited);
    assert.equal(byName.files.source, 'api');
    assert.equal(byName.remote, undefined, 'the file no longer has it');
    assert.ok(byName.web, 'operator rows stay');
    assert.match(gw.stdout() + gw.stderr(), /"mcp_server":"files"/);
  });

  test('a config file with an invalid or disallowed server does not start, naming it', async () => {
    const cases = [
      [{ mcp_servers: { files: { command: 'c', bogus: true } } }, /mcp_servers\.files\.bogus: unknown key/],
      [{ mcp: { page_size: 0 } }, /mcp\.page_size: must be between 1 and 10000/],
      [{ mcp_servers: { w: { url: 'http://x', headers: { 'X-T': '${HOME}' } } } }, /mcp server w: environment variable HOME/],
    ];
    for (const [cfg, re] of cases) {
      const file = path.join(gw.dir, 'bad.json');
      writeFileSync(file, JSON.stringify(cfg));
      const r = await runSwitchboard(['serve', '--port', '0', '--db', path.join(gw.dir, 'other.db'), '--config', file], { timeoutMs: 5000 });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, re);
    }
  });
});
