// The OpenAI Agents SDK (@openai/agents) as an MCP host: its
// MCPServerStreamableHttp connects to Switchboard's /mcp with a gateway
// key, lists the federated tools under their <server>__<tool> names next
// to the gateway's own, and calls them. Needs `npm ci` here.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { MCPServerStreamableHttp } from '@openai/agents';

import { startGateway, request, tempDir } from '../integration/harness.mjs';
import { stdioServer, MCP_FIXTURE, waitServersUp } from '../integration/mcp_helpers.mjs';

const ADMIN = 'sk-sb-admin-agents-mcp-0123456789abcdef0123456789ab';

describe('mcp: the OpenAI Agents SDK', () => {
  let gw;
  let key;
  let narrow;

  async function createKey(body) {
    const r = await request(`${gw.url}/admin/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(r.status, 201, r.text);
    return r.json;
  }

  function server(secret) {
    return new MCPServerStreamableHttp({
      url: `${gw.url}/mcp`,
      name: 'switchboard',
      requestInit: { headers: { Authorization: `Bearer ${secret}` } },
      cacheToolsList: false,
    });
  }

  before(async () => {
    gw = await startGateway({
      dir: tempDir('sb-agents-mcp-'),
      env: { SWITCHBOARD_ADMIN_KEY: ADMIN },
      config: { mcp_servers: { fxs: stdioServer([MCP_FIXTURE, '--stdio']) } },
    });
    await waitServersUp(gw.url, ADMIN, ['fxs']);
    key = await createKey({ name: 'agents-all' });
    narrow = await createKey({ name: 'agents-narrow', mcp_tools: ['fxs__echo'] });
  });

  after(async () => {
    if (gw) await gw.stop();
  });

  test('listTools shows the federated tools and the gateway\'s; callTool runs one', async () => {
    const mcp = server(key.secret);
    await mcp.connect();
    try {
      const names = (await mcp.listTools()).map((t) => t.name);
      for (const n of ['models_list', 'chat', 'fxs__echo', 'fxs__test_simple_text']) {
        assert.ok(names.includes(n), `${n} in ${names.join(',')}`);
      }
      const content = await mcp.callTool('fxs__echo', { text: 'through the gateway' });
      assert.equal(content[0]?.text, 'through the gateway', JSON.stringify(content));
      const chat = await mcp.callToolResult('chat', {
        model: 'echo/echo-1',
        messages: [{ role: 'user', content: 'hello agents' }],
      });
      assert.equal(chat.isError, false, JSON.stringify(chat));
      assert.equal(chat.structuredContent.text, 'hello agents');
    } finally {
      await mcp.close();
    }
  });

  test('a key limited to one tool sees and calls only that one', async () => {
    const mcp = server(narrow.secret);
    await mcp.connect();
    try {
      const names = (await mcp.listTools()).map((t) => t.name);
      assert.deepEqual(names, ['fxs__echo']);
      await assert.rejects(mcp.callTool('fxs__test_simple_text', {}), /Unknown tool/);
    } finally {
      await mcp.close();
    }
  });
});
