// A stored conversation near its model's window is measured with the
// provider's own token counter (issue 13 item 6, docs/conversations.md
// "Context windows"): Anthropic's /v1/messages/count_tokens and Gemini's
// models/{model}:countTokens. The emulators count a word a token, the
// gateway's estimate about four bytes a token, so a history of one-letter
// words is counted about twice what the estimate says: the trim follows
// the provider's count (it drops what the estimate alone would keep).
// Far from the window no count is asked for; a count that fails leaves
// the estimate to decide.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { startGateway, request, queryDb, sqlString, waitFor } from './harness.mjs';
import { startAnthropicEmulator } from '../emulators/anthropic.mjs';
import { startGeminiEmulator } from '../emulators/gemini.mjs';

const ANTH_KEY = 'sk-ant-conv-count-0123456789abcdef';
const GEM_KEY = 'AIzaConvCount0123456789abcdef';
const ADMIN = 'sk-sb-admin-conv-count-0123456789abcdef0123456789';
const HDR = 'x-switchboard-conversation';
const TRIMMED = 'x-switchboard-context-trimmed';

const bearer = (k) => ({ authorization: `Bearer ${k}` });
// 200 words of 200 tokens by the emulators' count, about 100 by the
// estimate (399 bytes).
/** How the turn answered by r was measured, from its request record
 * (written after the answer: waited for). */
async function counted(gw, r) {
  const rec = await waitFor(async () => (await queryDb(gw.dbPath, `SELECT context_counted FROM requests
    WHERE request_id = ${sqlString(r.headers['x-request-id'])}`))[0], { what: 'the turn\'s record' });
  return rec.context_counted;
}
const words = (label) => [label, ...Array(199).fill('w')].join(' ');

describe('context windows measured by the provider\'s own count', () => {
  let anth;
  let gem;
  let gw;
  // An Anthropic upstream whose counter fails: 529 on the first count,
  // then no answer at all; its Messages answer is fixed.
  let flaky;
  const flakyCounts = [];

  before(async () => {
    anth = await startAnthropicEmulator({ apiKey: ANTH_KEY });
    gem = await startGeminiEmulator({ apiKey: GEM_KEY, quiet: true });
    flaky = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/v1/messages/count_tokens') {
          flakyCounts.push(Date.now());
          if (flakyCounts.length > 1) return; // never answered
          res.writeHead(529, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }));
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({
          id: 'msg_flaky', type: 'message', role: 'assistant', model: 'claude-haiku-4-5',
          content: [{ type: 'text', text: 'ok' }], stop_reason: 'end_turn', stop_sequence: null,
          usage: { input_tokens: 1, output_tokens: 1 },
        }));
      });
    });
    await new Promise((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    gw = await startGateway({
      env: { SWITCHBOARD_ADMIN_KEY: ADMIN, SWITCHBOARD_CRED_CC_ANTH: ANTH_KEY, SWITCHBOARD_CRED_CC_GEM: GEM_KEY },
      config: {
        providers: [
          { name: 'anth', kind: 'anthropic', base_url: anth.url, api_key_env: 'SWITCHBOARD_CRED_CC_ANTH', models: ['claude-haiku-4-5'] },
          { name: 'gem', kind: 'gemini', base_url: gem.url, api_key_env: 'SWITCHBOARD_CRED_CC_GEM', models: ['gemini-2.5-flash'] },
          { name: 'flaky', kind: 'anthropic', base_url: `http://127.0.0.1:${flaky.address().port}`, api_key_env: 'SWITCHBOARD_CRED_CC_ANTH', models: ['claude-haiku-4-5'] },
        ],
      },
    });
  });
  after(async () => {
    if (gw) await gw.stop();
    if (anth) await anth.close();
    if (gem) await gem.close();
    if (flaky) {
      flaky.closeAllConnections();
      await new Promise((resolve) => flaky.close(resolve));
    }
  });

  /** A conversation holding three exchanges of 200 one-letter words each
   * message. */
  async function conversation() {
    const items = [];
    for (const n of ['first', 'second', 'third']) {
      items.push({ type: 'message', role: 'user', content: words(n) });
      items.push({ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: words(`answer-${n}`) }] });
    }
    const r = await request(`${gw.url}/v1/conversations`, { headers: bearer(ADMIN), body: { items } });
    assert.equal(r.status, 200, r.text);
    return r.json.id;
  }

  async function window(model, context_tokens) {
    const r = await request(`${gw.url}/admin/v1/models/${model}`, {
      headers: bearer(ADMIN), body: { context_tokens, max_output_tokens: 16 },
    });
    assert.equal(r.status, 200, r.text);
  }

  const cases = [
    {
      name: 'Anthropic', model: 'anth/claude-haiku-4-5',
      counts: () => anth.requestsTo('/v1/messages/count_tokens'),
      sent: () => anth.lastRequest('/v1/messages').body.messages.map((m) => (typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join(''))),
    },
    {
      name: 'Gemini', model: 'gem/gemini-2.5-flash',
      counts: () => gem.requests.filter((q) => q.path.endsWith(':countTokens')),
      sent: () => gem.lastRequest(':generateContent').body.contents.map((c) => c.parts.map((p) => p.text).join('')),
    },
  ];

  for (const c of cases) {
    test(`${c.name}: near the window the provider counts, and the trim follows its count`, async () => {
      // 7 messages: about 730 tokens by the estimate, 1,400 by the count.
      // A window of 900 holds them all by the estimate (near it: 83%);
      // by the count only the last exchange and the turn fit.
      await window(c.model, 900);
      try {
        const id = await conversation();
        const before = c.counts().length;
        const r = await request(`${gw.url}/v1/chat/completions`, {
          headers: { ...bearer(ADMIN), [HDR]: id },
          body: { model: c.model, max_tokens: 16, messages: [{ role: 'user', content: words('fourth') }] },
        });
        assert.equal(r.status, 200, r.text);
        assert.equal(c.counts().length, before + 1, 'one count per turn');
        const count = c.counts().at(-1);
        assert.ok(!count.rawBody.includes('max_tokens') && !count.rawBody.includes('maxOutputTokens'), count.rawBody);
        assert.match(r.headers[TRIMMED] || '', /^messages=4; exchanges=2; tokens=\d+; counted=provider$/);
        const got = c.sent();
        assert.deepEqual(got.map((t) => t.split(' ')[0]), ['third', 'answer-third', 'fourth']);
        assert.equal(await counted(gw, r), 'provider');
      } finally {
        await request(`${gw.url}/admin/v1/models/${c.model}`, { method: 'DELETE', headers: bearer(ADMIN) });
      }
    });

    test(`${c.name}: far from the window no count is asked for`, async () => {
      await window(c.model, 100000);
      try {
        const id = await conversation();
        const before = c.counts().length;
        const r = await request(`${gw.url}/v1/chat/completions`, {
          headers: { ...bearer(ADMIN), [HDR]: id },
          body: { model: c.model, max_tokens: 16, messages: [{ role: 'user', content: 'short' }] },
        });
        assert.equal(r.status, 200, r.text);
        assert.equal(c.counts().length, before, 'no count call');
        assert.equal(r.headers[TRIMMED], undefined);
        assert.equal(await counted(gw, r), 'estimate');
        // Far over it too: the estimate alone trims.
        await window(c.model, 300);
        const o = await request(`${gw.url}/v1/chat/completions`, {
          headers: { ...bearer(ADMIN), [HDR]: id },
          body: { model: c.model, max_tokens: 16, messages: [{ role: 'user', content: 'short' }] },
        });
        assert.equal(o.status, 200, o.text);
        assert.equal(c.counts().length, before, 'no count call');
        assert.match(o.headers[TRIMMED] || '', /; counted=estimate$/);
      } finally {
        await request(`${gw.url}/admin/v1/models/${c.model}`, { method: 'DELETE', headers: bearer(ADMIN) });
      }
    });
  }

  test('a count that fails or times out leaves the estimate to decide', async () => {
    // About 746 tokens by the estimate in a window of 700: near it, and
    // over it by the estimate, which drops the oldest exchange.
    await window('flaky/claude-haiku-4-5', 700);
    try {
      for (const [n, what] of [[1, 'refused'], [2, 'timed out']]) {
        const id = await conversation();
        const t0 = Date.now();
        const r = await request(`${gw.url}/v1/chat/completions`, {
          headers: { ...bearer(ADMIN), [HDR]: id },
          body: { model: 'flaky/claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: words('fourth') }] },
        });
        assert.equal(r.status, 200, `${what}: ${r.text}`);
        assert.equal(flakyCounts.length, n, `${what}: the count was asked for`);
        assert.match(r.headers[TRIMMED] || '', /^messages=2; exchanges=1; tokens=\d+; counted=estimate$/, what);
        assert.equal(await counted(gw, r), 'estimate', what);
        if (n === 2) {
          const took = Date.now() - t0;
          assert.ok(took >= 2900 && took < 6000, `the count's time-out is about 3 s: ${took} ms`);
        }
      }
    } finally {
      await request(`${gw.url}/admin/v1/models/flaky/claude-haiku-4-5`, { method: 'DELETE', headers: bearer(ADMIN) });
    }
  });
});
