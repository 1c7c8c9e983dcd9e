// The operator pages of the dashboard in a real browser (Debian's
// chromium, headless, driven by playwright-core from tests/e2e's
// node_modules): providers (the built-in echo listed, one added with an
// environment variable's NAME, then deleted behind a confirmation),
// routes (one created to echo and tested through the playground), MCP
// servers (a federated fixture server and its tools, calls and keys'
// globs) and conversations (one made with a key, opened with its items).
// No page errors, CSP violations or foreign requests along the way.
// Screenshots of each page go to SB_ARTIFACTS_DIR.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import { startGateway, request, waitFor } from '../integration/harness.mjs';
import { startFixture, httpServer, waitServersUp, McpSession } from '../integration/mcp_helpers.mjs';

const require = createRequire(new URL('../e2e/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.SB_CHROMIUM || '/usr/bin/chromium';
const ADMIN = 'sk-sb-admin-ops-web-0123456789abcdef0123456789abcdef';
const ARTIFACTS = process.env.SB_ARTIFACTS_DIR || path.join(os.tmpdir(), 'sb-web-artifacts');
const bearer = (k) => ({ authorization: `Bearer ${k}` });

describe('operator pages in chromium', () => {
  let gw;
  let fx;
  let browser;
  let context;
  let page;
  let agent; // a gateway key with MCP globs and a conversation
  let convId;
  let statsMissing = false; // GET /admin/v1/stats is not on this branch: its 404s are expected
  const problems = []; // page errors, CSP violations, failed requests

  const pv = () => page.locator('#page-view');

  async function shot(name) {
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  }

  async function go(id) {
    await page.locator(`#nav-${id}`).click();
    await page.locator(`#${id}-title`).waitFor();
    await waitFor(async () => page.evaluate((t) => document.activeElement && document.activeElement.id === t, `${id}-title`),
      { what: `the focus on the ${id} page's heading` });
  }

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    fx = await startFixture(0);
    gw = await startGateway({
      env: { SWITCHBOARD_ADMIN_KEY: ADMIN, SWITCHBOARD_CRED_WEBTEST: 'sk-not-used' },
      config: { mcp_servers: { fx: httpServer(fx.url) } },
    });
    const probe = await request(`${gw.url}/admin/v1/stats`, { headers: bearer(ADMIN) });
    statsMissing = probe.status === 404;
    await waitServersUp(gw.url, ADMIN, ['fx']);
    // A key that may call fx's echo and the gateway's chat, one call made.
    const k = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(ADMIN), body: { name: 'agent', mcp_tools: ['fx__ech?', 'chat'] } });
    assert.equal(k.status, 201, k.text);
    agent = k.json;
    const s = new McpSession(`${gw.url}/mcp`, { key: agent.secret });
    await s.open();
    const call = await s.callTool('fx__echo', { text: 'hello tools' });
    assert.ok(call.response && call.response.result, call.text);
    await s.close();
    // A conversation with a message and a tool call, made with the key.
    const c = await request(`${gw.url}/v1/conversations`, {
      headers: bearer(agent.secret),
      body: {
        metadata: { topic: 'web test' },
        items: [
          { type: 'message', role: 'user', content: 'What is the weather in Paris?' },
          { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
          { type: 'function_call_output', call_id: 'call_1', output: '{"temp_c":21}' },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'It is 21 °C in Paris.' }] },
        ],
      },
    });
    assert.equal(c.status, 200, c.text);
    convId = c.json.id;

    const launchArgs = ['--no-sandbox', '--disable-dev-shm-usage'];
    browser = await chromium.launch({ executablePath: CHROMIUM, args: launchArgs });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(10000);
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      // A failed load is judged by its response below, with its URL.
      if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    page.on('response', (r) => {
      const p = new URL(r.url()).pathname;
      // 401 before sign-in is expected; a missing stats endpoint is shown as such.
      if (r.status() >= 400 && !(p === '/ui/session' && r.status() === 401)
          && !(statsMissing && p === '/admin/v1/stats' && r.status() === 404)) {
        problems.push(`${r.request().method()} ${p}: ${r.status()}`);
      }
    });
    page.on('dialog', (d) => { problems.push(`a JS dialog opened: ${d.message()}`); d.dismiss(); });
    // Nothing but the gateway itself is ever asked for.
    page.on('request', (r) => {
      if (!r.url().startsWith(`${gw.url}/`) && !r.url().startsWith('data:')) problems.push(`foreign request: ${r.url()}`);
    });
  });

  after(async () => {
    if (browser) await browser.close();
    if (gw) await gw.stop();
    if (fx) await fx.stop();
  });

  test('sign in; the navigation lists the operator pages after Keys', async () => {
    await page.goto(`${gw.url}/ui/`);
    await page.locator('#signin-view').waitFor();
    await page.getByLabel('Admin key').fill(ADMIN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#nav').waitFor();
    const nav = await page.locator('#nav-list a').allTextContents();
    const at = nav.indexOf('Keys');
    assert.ok(at >= 0, nav.join(','));
    assert.deepEqual(nav.slice(at, at + 5), ['Keys', 'Providers', 'Routes', 'MCP servers', 'Conversations']);
  });

  test('providers: echo listed with its health; add one with a variable NAME, see it, delete it', async () => {
    await go('providers');
    const echo = page.locator('#providers-table tr[data-provider="echo"]');
    await echo.waitFor();
    const cells = await echo.locator('th, td').allTextContents();
    assert.equal(cells[0], 'echo');
    assert.match(cells[4], /echo-1/);
    assert.match(cells[5], /unknown|up|degraded|down/);
    if (statsMissing) await page.locator('#providers-stats-note', { hasText: '/admin/v1/stats' }).waitFor();
    else await waitFor(async () => !(await echo.textContent()).includes('…'), { what: 'the stats filled' });

    // A credential value is refused by the form before it is sent.
    await pv().getByLabel('Name', { exact: true }).fill('webprov');
    await pv().getByLabel('Kind', { exact: true }).selectOption('openai');
    await pv().getByLabel(/^Base URL/).fill('http://127.0.0.1:9/v1');
    await pv().getByLabel(/^Credential variable/).fill('sk-live-abc123');
    await pv().getByLabel(/^Models/).fill('m-one, m-two');
    await pv().getByRole('button', { name: 'Save provider' }).click();
    await page.locator('#provider-form-error', { hasText: 'environment variable NAME' }).waitFor();
    assert.equal((await request(`${gw.url}/admin/v1/providers/webprov`, { headers: bearer(ADMIN) })).status, 404);

    await pv().getByLabel(/^Credential variable/).fill('SWITCHBOARD_CRED_WEBTEST');
    await pv().getByRole('button', { name: 'Save provider' }).click();
    const row = page.locator('#providers-table tr[data-provider="webprov"]');
    await row.waitFor();
    const rc = await row.locator('th, td').allTextContents();
    assert.equal(rc[1], 'openai');
    assert.equal(rc[2], 'http://127.0.0.1:9/v1');
    assert.equal(rc[3], 'SWITCHBOARD_CRED_WEBTEST');
    assert.match(rc[4], /m-one, m-two/);
    assert.ok(!(await page.content()).includes('sk-not-used'), 'never a credential value');
    const stored = await request(`${gw.url}/admin/v1/providers/webprov`, { headers: bearer(ADMIN) });
    assert.equal(stored.json.api_key_env, 'SWITCHBOARD_CRED_WEBTEST');
    await shot('providers');

    // Delete asks first; Cancel keeps it, Delete removes it.
    await row.getByRole('button', { name: 'Delete webprov' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this provider?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await row.count(), 1);
    await row.getByRole('button', { name: 'Delete webprov' }).click();
    await page.getByRole('dialog', { name: 'Delete this provider?' }).getByRole('button', { name: 'Delete' }).click();
    await row.waitFor({ state: 'detached' });
    assert.equal((await request(`${gw.url}/admin/v1/providers/webprov`, { headers: bearer(ADMIN) })).status, 404);
  });

  test('routes: create one to echo with two ordered targets, test it with a prompt', async () => {
    await go('routes');
    await pv().getByLabel(/^Name/).fill('web-route');
    await pv().getByLabel(/^Retries/).fill('1');
    await pv().getByLabel('Target 1 (provider/model)').fill('echo/story-1');
    await pv().getByRole('button', { name: 'Add a target' }).click();
    await pv().getByLabel('Target 2 (provider/model)').fill('echo/echo-1');
    // echo-1 goes first.
    await pv().getByRole('button', { name: 'Move target 2 up' }).click();
    assert.equal(await pv().getByLabel('Target 1 (provider/model)').inputValue(), 'echo/echo-1');
    await pv().getByRole('button', { name: 'Save route' }).click();
    const row = page.locator('#routes-table tr[data-route="web-route"]');
    await row.waitFor();
    assert.deepEqual(await row.locator('ol.targets li').allTextContents(), ['echo/echo-1', 'echo/story-1']);
    const stored = await request(`${gw.url}/admin/v1/routes/web-route`, { headers: bearer(ADMIN) });
    assert.deepEqual(stored.json.targets, ['echo/echo-1', 'echo/story-1']);
    assert.equal(stored.json.retries, 1);

    await row.getByRole('button', { name: 'Test web-route' }).click();
    assert.equal(await page.evaluate(() => document.activeElement.id), 'test-prompt');
    assert.equal(await pv().getByLabel('Route', { exact: true }).inputValue(), 'web-route');
    await pv().getByLabel('Prompt', { exact: true }).fill('Say hello to the operators');
    await pv().getByRole('button', { name: 'Send' }).click();
    await page.locator('#test-answer', { hasText: 'Say hello to the operators' }).waitFor();
    assert.match(await page.locator('#test-latency').textContent(), /^web-route answered in \d+ ms\.$/);
    await shot('routes');
    // Recorded like any request, through the route.
    await waitFor(async () => {
      const log = await request(`${gw.url}/admin/v1/requests?limit=10`, { headers: bearer(ADMIN) });
      return log.json.data.some((x) => x.route === 'web-route' && x.status === 200 && /\.playground$/.test(x.request_id));
    }, { what: 'the playground request recorded', timeoutMs: 10000 });
  });

  test('routes: editing a route keeps its cache policy; the form sets, checks and turns off one', async () => {
    // A route with a cache policy, made through the API.
    const policy = { enabled: true, scope: 'shared', ttl_s: 600, max_entry_bytes: 1048576 };
    const made = await request(`${gw.url}/admin/v1/routes`, {
      headers: bearer(ADMIN), body: { name: 'cached-route', targets: ['echo/echo-1'], cache: policy },
    });
    assert.ok(made.status < 300, made.text);
    await pv().getByRole('button', { name: 'Refresh' }).click();
    const row = page.locator('#routes-table tr[data-route="cached-route"]');
    await row.waitFor();
    assert.equal(await row.locator('td').nth(3).textContent(), 'on, shared, 10 min, entries up to 1 MiB');
    // Unset: nothing said.
    assert.equal(await page.locator('#routes-table tr[data-route="web-route"] td').nth(3).textContent(), '');

    // The form shows it; saving another change keeps it whole.
    await row.getByRole('button', { name: 'Edit cached-route' }).click();
    assert.equal(await pv().getByLabel('Cache', { exact: true }).inputValue(), 'on');
    assert.equal(await pv().getByLabel(/^Scope/).inputValue(), 'shared');
    assert.equal(await pv().getByLabel(/^TTL in seconds/).inputValue(), '600');
    await pv().getByLabel(/^Retries/).fill('2');
    await pv().getByRole('button', { name: 'Save route' }).click();
    await waitFor(async () => (await row.locator('td').nth(2).textContent()) === '2', { what: 'the new retries in the list' });
    let stored = await request(`${gw.url}/admin/v1/routes/cached-route`, { headers: bearer(ADMIN) });
    assert.equal(stored.json.retries, 2);
    assert.deepEqual(stored.json.cache, policy);

    // A route without one: a TTL that is not whole seconds is refused by
    // the form, then On + Shared + a TTL is stored as exactly that.
    const plain = page.locator('#routes-table tr[data-route="web-route"]');
    await plain.getByRole('button', { name: 'Edit web-route' }).click();
    assert.equal(await pv().getByLabel('Cache', { exact: true }).inputValue(), '');
    assert.equal(await pv().getByLabel(/^Scope/).inputValue(), 'key');
    await pv().getByLabel('Cache', { exact: true }).selectOption({ label: 'On' });
    await pv().getByLabel(/^Scope/).selectOption({ label: 'Shared between keys' });
    await pv().getByLabel(/^TTL in seconds/).fill('0');
    await pv().getByRole('button', { name: 'Save route' }).click();
    await page.locator('#route-form-error', { hasText: 'cache TTL is a whole number of seconds from 1 to 31536000' }).waitFor();
    stored = await request(`${gw.url}/admin/v1/routes/web-route`, { headers: bearer(ADMIN) });
    assert.equal(stored.json.cache, undefined);
    await pv().getByLabel(/^TTL in seconds/).fill('900');
    await pv().getByRole('button', { name: 'Save route' }).click();
    await waitFor(async () => (await plain.locator('td').nth(3).textContent()) === 'on, shared, 15 min', { what: 'the policy in the list' });
    stored = await request(`${gw.url}/admin/v1/routes/web-route`, { headers: bearer(ADMIN) });
    assert.deepEqual(stored.json.cache, { enabled: true, scope: 'shared', ttl_s: 900 });
    assert.deepEqual(stored.json.targets, ['echo/echo-1', 'echo/story-1']);

    // Off, per key, no TTL: {"enabled": false}; then Default: none at all.
    await plain.getByRole('button', { name: 'Edit web-route' }).click();
    await pv().getByLabel('Cache', { exact: true }).selectOption({ label: 'Off' });
    await pv().getByLabel(/^Scope/).selectOption({ label: 'Per key' });
    await pv().getByLabel(/^TTL in seconds/).fill('');
    await pv().getByRole('button', { name: 'Save route' }).click();
    await waitFor(async () => (await plain.locator('td').nth(3).textContent()) === 'off', { what: 'off in the list' });
    stored = await request(`${gw.url}/admin/v1/routes/web-route`, { headers: bearer(ADMIN) });
    assert.deepEqual(stored.json.cache, { enabled: false });
    await plain.getByRole('button', { name: 'Edit web-route' }).click();
    assert.equal(await pv().getByLabel('Cache', { exact: true }).inputValue(), 'off');
    await pv().getByLabel('Cache', { exact: true }).selectOption({ label: 'Default — the gateway\'s setting' });
    await pv().getByRole('button', { name: 'Save route' }).click();
    await waitFor(async () => (await plain.locator('td').nth(3).textContent()) === '', { what: 'no policy in the list' });
    stored = await request(`${gw.url}/admin/v1/routes/web-route`, { headers: bearer(ADMIN) });
    assert.equal(stored.json.cache, undefined);
    await shot('routes-cache');
  });

  test('MCP servers: the fixture up with its tools, the call counted, the key\'s globs matched', async () => {
    await go('mcp');
    const srv = page.locator('#mcp-servers-table tr[data-server="fx"]');
    await srv.waitFor();
    assert.match(await srv.textContent(), /up/);
    const echo = page.locator('#mcp-tools-table tr[data-tool="fx__echo"]');
    await echo.waitFor();
    const cells = await echo.locator('th, td').allTextContents();
    assert.equal(cells[0], 'echo');
    assert.equal(cells[1], 'fx');
    assert.equal(cells[2], 'fx__echo');
    assert.equal(cells[3], '1');
    assert.equal(cells[4], '0');
    assert.match(cells[5], /^\d+ ms$/);
    assert.ok(await page.locator('#mcp-tools-table tr[data-tool="fx__slow"]').count() === 1, 'listed tools without calls too');
    await page.locator('#mcp-calls-table tr', { hasText: 'agent' }).first().waitFor();
    const key = page.locator(`#mcp-keys-table tr[data-key-id="${agent.id}"]`);
    const kc = await key.locator('th, td').allTextContents();
    assert.equal(kc[0], 'agent');
    assert.match(kc[2], /fx__ech\?/);
    assert.match(kc[3], /^2 of \d+: chat, fx__echo$/);
    await shot('mcp');
  });

  test('conversations: the key\'s conversation listed, filtered, opened with its items', async () => {
    await go('conversations');
    const row = page.locator(`#conversations-table tr[data-conversation="${convId}"]`);
    await row.waitFor();
    assert.match(await row.textContent(), /agent/);
    assert.match(await row.textContent(), /web test/);
    await pv().getByLabel('Key', { exact: true }).selectOption({ label: 'agent' });
    await page.waitForURL(/#\/conversations\?key=/);
    await row.waitFor();
    assert.equal(await page.locator('#conversations-table tbody tr').count(), 1);
    await row.getByRole('button', { name: `Open ${convId}` }).click();
    await page.waitForURL(new RegExp(`id=${convId}`));
    const items = page.locator('#conv-items > li');
    await waitFor(async () => (await items.count()) === 4, { what: 'four items' });
    assert.match(await items.nth(0).textContent(), /user.*What is the weather in Paris\?/s);
    assert.equal(await items.nth(1).locator('pre').textContent(), JSON.stringify({ city: 'Paris' }, null, 2));
    assert.match(await items.nth(1).locator('h3').textContent(), /get_weather/);
    assert.equal(await items.nth(2).locator('pre').textContent(), JSON.stringify({ temp_c: 21 }, null, 2));
    assert.match(await items.nth(3).textContent(), /It is 21 °C in Paris\./);
    // The link reopens the same view.
    await page.reload();
    await page.locator('#conv-items > li').nth(3).waitFor();
    await shot('conversations');
  });

  test('no page errors, CSP violations or foreign requests along the way', () => {
    assert.deepEqual(problems, []);
  });
});
