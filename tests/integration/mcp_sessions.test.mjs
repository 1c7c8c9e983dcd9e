// MCP client sessions under a careless or hostile client: one key that
// opens session after session (many agent frameworks never DELETE theirs)
// keeps at most mcp.max_sessions_per_key, losing its least recently used
// one; other keys' sessions are untouched.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startGateway, request } from './harness.mjs';
import { McpSession } from './mcp_helpers.mjs';

const ADMIN = 'sk-sb-admin-mcp-sessions-0123456789abcdef0123456789';

describe('mcp sessions: a cap per key', () => {
  let gw;
  const keys = {};

  before(async () => {
    gw = await startGateway({ env: { SWITCHBOARD_ADMIN_KEY: ADMIN }, config: { mcp: { max_sessions_per_key: 3 } } });
    for (const name of ['greedy', 'quiet']) {
      const r = await request(`${gw.url}/admin/v1/keys`, { headers: { authorization: `Bearer ${ADMIN}` }, body: { name } });
      assert.equal(r.status, 201, r.text);
      keys[name] = r.json.secret;
    }
  });
  after(async () => {
    if (gw) await gw.stop();
  });

  async function open(key) {
    const s = new McpSession(`${gw.url}/mcp`, { key });
    await s.open();
    return s;
  }

  test('past the cap a key\'s least recently used session ends (404); its others and other keys\' live on', async () => {
    const quiet = await open(keys.quiet);
    const first = await open(keys.greedy);
    const second = await open(keys.greedy);
    const third = await open(keys.greedy);
    // first is used again: second is now the least recently used.
    assert.deepEqual(await first.result('ping'), {});
    const fourth = await open(keys.greedy);
    const gone = await second.call('ping');
    assert.equal(gone.status, 404, gone.text);
    for (const s of [first, third, fourth, quiet]) assert.deepEqual(await s.result('ping'), {});
    // Many more: the key never holds more than three.
    const more = [];
    for (let i = 0; i < 10; i++) more.push(await open(keys.greedy));
    let alive = 0;
    for (const s of [first, third, fourth, ...more]) alive += (await s.call('ping')).status === 200 ? 1 : 0;
    assert.equal(alive, 3);
    assert.deepEqual(await quiet.result('ping'), {}, 'another key is not touched');
  });
});
