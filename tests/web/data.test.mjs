// The dashboard's data pages in a real browser (Debian's chromium,
// headless, driven by playwright-core from tests/e2e's node_modules):
// the overview's totals and charts, a chart bar leading to the request log
// filtered to its bucket, a request's detail, the usage page with combined
// filters, "no data" for a filter that matches nothing, the CSV export,
// and the request log's live tail. Requests are made through the API with
// the echo provider. Screenshots go to SB_ARTIFACTS_DIR (the build tree
// under ctest) or the temp dir. No page errors, CSP violations, failed or
// foreign requests along the way.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import { startGateway, request, postChat, waitFor } from '../integration/harness.mjs';

const require = createRequire(new URL('../e2e/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.SB_CHROMIUM || '/usr/bin/chromium';
const ADMIN = 'sk-sb-admin-data-0123456789abcdef0123456789abcdef';
const ARTIFACTS = process.env.SB_ARTIFACTS_DIR || path.join(os.tmpdir(), 'sb-web-artifacts');
const bearer = (k) => ({ authorization: `Bearer ${k}` });
// Sent through the route and shown back in the request's detail: as text.
const MARKUP = '<img src=x onerror="document.title=\'pwned\'">by the route';
const chat = (model, text) => ({ model, messages: [{ role: 'user', content: text }], max_tokens: 16 });

describe('dashboard data pages in chromium', () => {
  let gw;
  let browser;
  let context;
  let page;
  let key; // {id, name, secret}
  const problems = []; // page errors, CSP violations, failed and foreign requests
  const tailPolls = []; // times of the live tail's requests (after_id=)

  async function shot(name) {
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  }

  async function api(pathAndQuery) {
    return request(`${gw.url}${pathAndQuery}`, { headers: bearer(ADMIN) });
  }

  async function signIn() {
    await page.goto(`${gw.url}/ui/`);
    await page.getByLabel('Admin key').fill(ADMIN);
    await page.getByLabel('Admin key').press('Enter');
    await page.locator('#who').waitFor();
  }

  async function logRows() {
    return (await api('/admin/v1/requests?limit=1000')).json.data;
  }

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    gw = await startGateway({
      env: { SWITCHBOARD_ADMIN_KEY: ADMIN },
      config: {
        routes: { smart: { targets: ['echo/echo-1'] } },
        logging: { bodies: true },
      },
    });
    let r = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(ADMIN), body: { name: 'data-app' } });
    assert.equal(r.status, 201, r.text);
    key = r.json;
    r = await request(`${gw.url}/admin/v1/prices`, {
      headers: bearer(ADMIN),
      body: { model: 'echo/echo-1', input_per_mtok: 100, output_per_mtok: 100 },
    });
    assert.equal(r.status, 200, r.text);
    for (const text of ['one', 'two', 'three']) {
      r = await postChat(gw.url, chat('echo/echo-1', text), { headers: bearer(key.secret) });
      assert.equal(r.status, 200, r.text);
    }
    r = await postChat(gw.url, chat('smart', MARKUP), { headers: bearer(key.secret) });
    assert.equal(r.status, 200, r.text);
    r = await postChat(gw.url, chat('echo/nothing', 'no such model'), { headers: bearer(key.secret) });
    assert.equal(r.status, 404, r.text);
    await waitFor(async () => (await logRows()).length >= 5, { what: 'five records', timeoutMs: 10000 });

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    context = await browser.newContext({ viewport: { width: 1200, height: 800 }, acceptDownloads: true });
    page = await context.newPage();
    page.setDefaultTimeout(10000);
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      // A failed load is judged by its response below, with its URL.
      if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    page.on('response', (res) => {
      const p = new URL(res.url()).pathname;
      // Before signing in, the page's session check is a 401 it expects.
      if (res.status() === 401 && p === '/ui/session') return;
      if (res.status() >= 400) problems.push(`${res.request().method()} ${p}: ${res.status()}`);
    });
    page.on('dialog', (d) => { problems.push(`a JS dialog opened: ${d.message()}`); d.dismiss(); });
    page.on('request', (req) => {
      const u = req.url();
      if (!u.startsWith(`${gw.url}/`) && !u.startsWith('data:')) problems.push(`foreign request: ${u}`);
      if (u.includes('/admin/v1/requests?') && u.includes('after_id=')) tailPolls.push(Date.now());
    });
  });

  after(async () => {
    if (browser) await browser.close();
    if (gw) await gw.stop();
  });

  test('sign in: the overview is the first page, with its totals', async () => {
    await signIn();
    await page.locator('#overview-title').waitFor();
    assert.equal(await page.locator('#nav-overview').getAttribute('aria-current'), 'page');
    const nav = await page.locator('#nav-list a').allTextContents();
    assert.deepEqual(nav.slice(0, 4), ['Overview', 'Usage', 'Request log', 'Keys']);
    // A card's value by its exact label.
    const card = (label) => page.locator('.stat').filter({ has: page.locator('dt', { hasText: new RegExp(`^${label}$`) }) })
      .locator('.stat-value');
    await card('Requests').waitFor();
    assert.equal(await card('Requests').textContent(), '5');
    assert.equal(await card('Error rate').textContent(), '20%');
    assert.match(await card('Cost today \\(UTC\\)').textContent(), /^(< )?\$\d/);
    assert.match(await card('Latency p50 / p95').textContent(), /^[\d.]+ ms \/ [\d.]+ ms$/);
    // Top models and keys link to the request log.
    const topModel = page.locator('#ov-top-models').locator('..').getByRole('link', { name: 'echo/echo-1' });
    assert.match(await topModel.getAttribute('href'), /^#\/requests\?model=echo%2Fecho-1/);
    const topKey = page.locator('#ov-top-keys').locator('..').getByRole('link', { name: 'data-app' });
    assert.match(await topKey.getAttribute('href'), new RegExp(`key=${key.id}`));
    await shot('overview');
  });

  test('the range picker keeps its choice in the hash', async () => {
    await page.getByRole('button', { name: '1 h', exact: true }).click();
    await page.waitForURL(/#\/overview\?range=1h$/);
    await page.locator('.chart').first().waitFor();
    assert.equal(await page.getByRole('button', { name: '1 h', exact: true }).getAttribute('aria-pressed'), 'true');
    assert.match(await page.locator('#overview-range-text').textContent(), /Last hour: .* in minute buckets/);
    // Minute buckets over an hour: most are hatched "no data", not bars of 0.
    assert.ok(await page.locator('#ov-requests').locator('..').locator('.chart-gap').count() > 30);
    for (const [name, label, word] of [['7 d', 'Last 7 days', 'hour'], ['30 d', 'Last 30 days', 'day'], ['1 h', 'Last hour', 'minute']]) {
      await page.getByRole('button', { name, exact: true }).click();
      await page.locator('#overview-range-text', { hasText: `${label}: ` }).waitFor();
      assert.match(await page.locator('#overview-range-text').textContent(), new RegExp(`in ${word} buckets`));
      assert.equal(await page.locator('#ov-requests').textContent(), `Requests per ${word}`);
    }
  });

  test('a chart bar, by keyboard, opens the request log for its bucket', async () => {
    const chart = page.locator('#ov-requests').locator('..');
    const bar = chart.locator('.chart-point').first();
    const name = await bar.getAttribute('aria-label');
    assert.match(name, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC: \d+ requests?$/);
    // One tab stop for the chart; the hidden table says the same.
    assert.equal(await bar.getAttribute('tabindex'), '0');
    assert.ok(await chart.locator('table caption', { hasText: 'data table' }).count() === 1);
    const count = Number(name.match(/: (\d+) request/)[1]);
    await bar.focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/requests\?since=\d+&until=\d+$/);
    const q = new URLSearchParams(new URL(page.url()).hash.split('?')[1]);
    assert.equal(Number(q.get('until')) - Number(q.get('since')), 60);
    await page.locator('#requests-title').waitFor();
    assert.match(await page.locator('#requests-filter-text').textContent(), /^Filtered: from .* UTC, before .* UTC\.$/);
    await waitFor(async () => (await page.locator('#requests-body tr').count()) === count, { what: `${count} rows` });
    assert.equal(await page.locator('#req-since').inputValue(), new Date(Number(q.get('since')) * 1000).toISOString().slice(0, 16));
  });

  test('a request\'s detail: record, attempts, headers and bodies as text; focus comes back', async () => {
    await page.goto(`${gw.url}/ui/#/requests?route=smart`);
    const row = page.locator('#requests-body tr', { hasText: 'smart' }).first();
    await row.waitFor();
    const details = row.getByRole('button', { name: /^Details of request/ });
    await details.click();
    const dialog = page.getByRole('dialog');
    await dialog.locator('dl.record').waitFor();
    assert.match(await dialog.locator('h2').textContent(), /^Request /);
    const record = await dialog.locator('dl.record').textContent();
    assert.match(record, /overhead_ms/);
    assert.match(record, /data-app/);
    assert.ok(await dialog.getByRole('table', { name: 'Route attempts, in order' }).count() === 1);
    // Logged headers (credentials redacted) and the bodies, as text only.
    const headers = dialog.getByRole('table', { name: 'Request headers' });
    assert.equal(await headers.getByRole('row', { name: /authorization/ }).locator('td').textContent(), '[redacted]');
    assert.ok(!(await dialog.textContent()).includes(key.secret));
    const sent = await dialog.getByLabel('Request body').textContent();
    assert.equal(JSON.parse(sent).messages[0].content, MARKUP);
    assert.match(await dialog.getByLabel('Response body').textContent(), /"chat\.completion"/);
    assert.equal(await dialog.locator('img').count(), 0);
    assert.notEqual(await page.title(), 'pwned');
    await shot('request-detail');
    await dialog.getByLabel('Response body').scrollIntoViewIfNeeded();
    await shot('request-detail-bodies');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.ok(await details.evaluate((n) => n === document.activeElement));
  });

  test('the request log\'s filters combine and land in the hash', async () => {
    await page.goto(`${gw.url}/ui/#/requests`);
    await page.locator('#requests-body tr').first().waitFor();
    await page.getByLabel('Key', { exact: true }).selectOption({ label: 'data-app' });
    await page.getByLabel('Status', { exact: true }).selectOption('error');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(new RegExp(`#/requests\\?key=${key.id}&status=error$`));
    await waitFor(async () => (await page.locator('#requests-body tr').count()) === 1, { what: 'the one error' });
    assert.equal(await page.locator('#requests-filter-text').textContent(), 'Filtered: key data-app, status error.');
    assert.match(await page.locator('#requests-body tr').textContent(), /echo\/nothing.*404 error/);
    await page.getByLabel('Status', { exact: true }).selectOption('ok');
    await page.getByLabel('Model', { exact: true }).fill('echo/echo-1');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/model=echo%2Fecho-1&status=ok$/);
    // The route's request is echo/echo-1 upstream too: the model filter matches either name.
    await waitFor(async () => (await page.locator('#requests-body tr').count()) >= 3, { what: 'the ok rows' });
    assert.equal(await page.locator('#requests-body tr.row-error').count(), 0);
    await shot('requests');
  });

  test('usage: combined filters, a chart by group, the table with its totals', async () => {
    await page.goto(`${gw.url}/ui/#/usage`);
    await page.locator('#usage-title').waitFor();
    await page.getByLabel('Key', { exact: true }).selectOption({ label: 'data-app' });
    await page.getByLabel('Provider', { exact: true }).fill('echo');
    await page.getByLabel('Group by', { exact: true }).selectOption('provider');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(new RegExp(`#/usage\\?key=${key.id}&provider=echo&from=.*&group=provider&metric=cost$`));
    const table = page.getByRole('table', { name: /^Usage by provider/ });
    await table.waitFor();
    assert.match(await table.locator('tbody').textContent(), /echo/);
    const totals = await table.locator('tfoot tr').textContent();
    assert.match(totals, /^Totals/);
    // The key's requests that reached echo: the route's, the three direct ones.
    assert.equal(await table.locator('tfoot td').first().textContent(), '4');
    // The metric toggle redraws without a reload and keeps the choice in the hash.
    await page.getByRole('radio', { name: 'Requests' }).check();
    await page.waitForURL(/metric=requests$/);
    await page.getByRole('heading', { name: 'Requests per day by provider' }).waitFor();
    const bar = page.locator('.chart-point').first();
    assert.match(await bar.getAttribute('aria-label'), /^\d{4}-\d{2}-\d{2}, echo: 4 requests$/);
    await shot('usage');
    // A bar opens the request log for its day and group, with the page's filters.
    await bar.click();
    await page.waitForURL(new RegExp(`#/requests\\?key=${key.id}&provider=echo&since=\\d+&until=\\d+$`));
    await waitFor(async () => (await page.locator('#requests-body tr').count()) === 4, { what: 'the day\'s 4 rows' });
    await page.goBack();
    await page.locator('#usage-table').waitFor();
  });

  test('usage: a filter that matches nothing says "no data", not zeros', async () => {
    await page.getByLabel('Model', { exact: true }).fill('no-such-model');
    await page.getByRole('button', { name: 'Apply' }).click();
    const empty = page.locator('#usage-empty');
    await empty.waitFor();
    assert.match(await empty.textContent(), /^No data for this range/);
    assert.equal(await page.locator('#usage-table').count(), 0);
    assert.equal(await page.locator('.chart').count(), 0);
    await shot('usage-no-data');
  });

  test('usage: Export CSV downloads usage.csv with the same filters', async () => {
    const download = async () => {
      const link = page.getByRole('link', { name: 'Export CSV' });
      await link.waitFor();
      const [d] = await Promise.all([page.waitForEvent('download'), link.click()]);
      assert.equal(d.suggestedFilename(), 'usage.csv');
      return { href: await link.getAttribute('href'), csv: readFileSync(await d.path(), 'utf8').split('\r\n') };
    };
    await page.goto(`${gw.url}/ui/#/usage?key=${key.id}&group=model`);
    let { href, csv } = await download();
    assert.match(href, new RegExp(`^/admin/v1/usage\\.csv\\?key=${key.id}&since=\\d{4}-\\d{2}-\\d{2}&until=\\d{4}-\\d{2}-\\d{2}&group=model$`));
    assert.match(csv[0], /^model,requests,errors,prompt_tokens,completion_tokens/);
    const echoRow = csv.find((l) => l.startsWith('echo/echo-1,'));
    assert.ok(echoRow, csv.join('\n'));
    // The key's three direct requests and the one through the route "smart".
    assert.equal(echoRow.split(',')[1], '4');
    // By route, for one route: its one row.
    await page.goto(`${gw.url}/ui/#/usage?route=smart&group=route`);
    ({ href, csv } = await download());
    assert.match(href, /\?route=smart&since=.*&group=route$/);
    assert.match(csv[0], /^route,requests,/);
    assert.deepEqual(csv.slice(1).filter(Boolean).map((l) => l.split(',').slice(0, 2).join(',')), ['smart,1']);
  });

  test('live tail: a new request appears at the top, and the tail stops when turned off', async () => {
    await page.goto(`${gw.url}/ui/#/requests`);
    await page.locator('#requests-body tr').first().waitFor();
    const before = await page.locator('#requests-body tr').count();
    const tail = page.getByRole('button', { name: 'Live tail' });
    await tail.click();
    assert.equal(await tail.getAttribute('aria-pressed'), 'true');
    const r = await postChat(gw.url, chat('smart', 'tail me'), { headers: bearer(key.secret) });
    assert.equal(r.status, 200, r.text);
    await waitFor(async () => (await page.locator('#requests-body tr').count()) === before + 1,
      { what: 'the new row', timeoutMs: 8000 });
    const top = await page.locator('#requests-body tr').first().locator('td').allTextContents();
    assert.equal(top[3], 'smart');
    // Said once, politely (the shell's status region).
    await waitFor(async () => /1 new request in the log/.test(await page.locator('#announce').textContent()),
      { what: 'the announcement', timeoutMs: 12000 });
    await tail.click();
    assert.equal(await tail.getAttribute('aria-pressed'), 'false');
    const polls = tailPolls.length;
    await new Promise((res) => setTimeout(res, 2500));
    assert.equal(tailPolls.length, polls, 'no polls once off');
  });

  test('leaving the page stops the live tail', async () => {
    await page.getByRole('button', { name: 'Live tail' }).click();
    await waitFor(() => tailPolls.length > 0, { what: 'a poll' });
    await page.locator('#nav-keys').click();
    await page.locator('#keys-view').waitFor();
    const polls = tailPolls.length;
    await new Promise((res) => setTimeout(res, 2500));
    assert.equal(tailPolls.length, polls, 'no polls after leaving');
  });

  test('no page errors, CSP violations, failed or foreign requests along the way', () => {
    assert.deepEqual(problems, []);
  });
});
