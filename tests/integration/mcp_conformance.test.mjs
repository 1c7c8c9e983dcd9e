// The MCP conformance suite (@modelcontextprotocol/conformance, every
// server scenario) against the fixture server directly and through the
// gateway's /mcp/<server>, for the fixture federated over HTTP and over
// stdio: the gateway must score exactly what the server scores by itself.
// The suite's client sends no credential, so the gateway runs open here.
// Needs `npm ci` in tests/e2e (the suite, the SDK and node 22).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startGateway, waitFor, getMetrics, metricValue } from './harness.mjs';
import { startFixture, stdioServer, httpServer, MCP_FIXTURE } from './mcp_helpers.mjs';
import { runSuite, compareScores, formatDiffs, formatScores } from '../conformance/run.mjs';

describe('mcp conformance: /mcp/<server> scores what the server scores', () => {
  let fx;
  let gw;
  let direct;

  before(async () => {
    fx = await startFixture(0);
    gw = await startGateway({
      config: {
        mcp_servers: {
          fx: httpServer(fx.url),
          fxs: stdioServer([MCP_FIXTURE, '--stdio']),
        },
      },
    });
    await waitFor(async () => metricValue(await getMetrics(gw.url), 'switchboard_mcp_servers_up') === 2,
      { timeoutMs: 30000, interval: 100, what: 'both servers up' });
  });

  after(async () => {
    try {
      if (gw) await gw.stop();
    } finally {
      if (gw) await gw.kill();
      if (fx) await fx.stop();
    }
  });

  test('the fixture by itself passes every check', async (t) => {
    direct = await runSuite(fx.url);
    t.diagnostic(formatScores(direct));
    assert.ok(Object.keys(direct.scenarios).length >= 30, 'the whole suite ran');
    assert.equal(direct.total.failed, 0, formatScores(direct));
    assert.ok(direct.total.passed > 0);
  });

  for (const name of ['fx', 'fxs']) {
    test(`through the gateway (${name === 'fx' ? 'HTTP' : 'stdio'} upstream): the same score, scenario by scenario`, async (t) => {
      assert.ok(direct, 'the direct run came first');
      const via = await runSuite(`${gw.url}/mcp/${name}`);
      t.diagnostic(formatScores(via));
      const cmp = compareScores(direct, via);
      if (cmp.warnings.length) t.diagnostic(formatDiffs({ diffs: [], warnings: cmp.warnings }));
      assert.deepEqual(cmp.diffs.map((d) => d.scenario), [], formatDiffs(cmp));
    });
  }
});
