// Accessibility of the dashboard, checked by axe-core in Debian's
// chromium: the sign-in view, then every page the navigation lists
// (web/pages.js; the links are read from the page, so pages added later
// are checked without touching this file), the keys page also with its
// dialogs open and as a read-only viewer sees it. Any violation of impact
// "serious" or "critical" fails, printed with its rule, impact and the
// selectors of the elements at fault. axe is put in the page through the
// browser's debugging protocol (page.evaluate), not a <script>, so the
// gateway's CSP stays as strict as it is.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import { startGateway, request } from '../integration/harness.mjs';

const require = createRequire(new URL('../e2e/package.json', import.meta.url));
const { chromium } = require('playwright-core');
const axe = require('axe-core');

const CHROMIUM = process.env.SB_CHROMIUM || '/usr/bin/chromium';
const ADMIN = 'sk-sb-admin-a11y-0123456789abcdef0123456789abcdef';
const ARTIFACTS = process.env.SB_ARTIFACTS_DIR || path.join(os.tmpdir(), 'sb-web-artifacts');
const bearer = (k) => ({ authorization: `Bearer ${k}` });
const FAILING = new Set(['serious', 'critical']);

describe('dashboard accessibility (axe-core)', () => {
  let gw;
  let browser;
  let page;
  const problems = []; // page errors, CSP violations, failed or foreign requests
  const checked = [];

  /** Runs axe on the page as it is; throws listing every serious or
   * critical violation. */
  async function check(what) {
    const hasAxe = await page.evaluate(() => typeof window.axe === 'object');
    if (!hasAxe) await page.evaluate(axe.source);
    const result = await page.evaluate(() => window.axe.run(document, {
      resultTypes: ['violations'],
    }));
    const bad = result.violations.filter((v) => FAILING.has(v.impact));
    const text = bad.map((v) => `  ${v.id} (${v.impact}): ${v.help}\n${
      v.nodes.map((n) => `    ${JSON.stringify(n.target)}`).join('\n')}`).join('\n');
    checked.push(what);
    await page.screenshot({ path: path.join(ARTIFACTS, `a11y-${what.replace(/[^a-z0-9]+/gi, '-')}.png`), fullPage: true });
    assert.equal(bad.length, 0, `axe on ${what}:\n${text}`);
  }

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    gw = await startGateway({ env: { SWITCHBOARD_ADMIN_KEY: ADMIN } });
    // Something in every column: a budgeted key with spend, an admin key,
    // a revoked key, an MCP tool list.
    let r = await request(`${gw.url}/admin/v1/keys`, {
      headers: bearer(ADMIN),
      body: { name: 'app', rpm: 60, budget_usd: 10, budget_period: 'monthly', models: ['echo/*'], mcp_tools: ['memory__*'] },
    });
    assert.equal(r.status, 201, r.text);
    r = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(ADMIN), body: { name: 'ops', role: 'admin' } });
    assert.equal(r.status, 201, r.text);
    r = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(ADMIN), body: { name: 'old' } });
    assert.equal(r.status, 201, r.text);
    r = await request(`${gw.url}/admin/v1/keys/old`, { method: 'DELETE', headers: bearer(ADMIN) });
    assert.equal(r.status, 200, r.text);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    page = await context.newPage();
    page.setDefaultTimeout(10000);
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    page.on('response', (r) => {
      const p = new URL(r.url()).pathname;
      if (r.status() >= 400 && !(p === '/ui/session' && r.status() === 401)) {
        problems.push(`${r.request().method()} ${p}: ${r.status()}`);
      }
    });
    page.on('request', (r) => {
      if (!r.url().startsWith(`${gw.url}/`) && !r.url().startsWith('data:')) problems.push(`foreign request: ${r.url()}`);
    });
  });

  after(async () => {
    if (browser) await browser.close();
    if (gw) await gw.stop();
  });

  test('the sign-in view, empty and with an error', async () => {
    await page.goto(`${gw.url}/ui/`);
    await page.locator('#signin-view').waitFor();
    await check('sign-in');
    await page.getByLabel('Admin key').fill('sk-sb-admin-wrong-0000000000000000000000000000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#signin-error').waitFor();
    await check('sign-in with an error');
  });

  test('every page of the navigation', async () => {
    await page.getByLabel('Admin key').fill(ADMIN);
    await page.getByLabel('Admin key').press('Enter');
    await page.locator('#nav').waitFor();
    const links = await page.locator('#nav-list a').evaluateAll((as) => as.map((a) => ({
      href: a.getAttribute('href'), id: a.id.replace(/^nav-/, ''), text: a.textContent,
    })));
    assert.ok(links.length >= 1, 'the navigation lists pages');
    for (const l of links) {
      await page.locator(`#nav-list a[href="${l.href}"]`).click();
      // A page has loaded once its heading has the focus and the network is quiet.
      await page.waitForFunction((id) => document.activeElement && document.activeElement.id === `${id}-title`, l.id);
      await page.waitForLoadState('networkidle');
      if (l.id === 'keys') await page.locator('#keys-body tr', { hasText: 'app' }).waitFor();
      await check(`page ${l.id}`);
    }
  });

  test('the keys page with its dialogs open and a secret shown', async () => {
    await page.goto(`${gw.url}/ui/#/keys`);
    await page.locator('#keys-body tr', { hasText: 'app' }).waitFor();
    await page.getByRole('button', { name: 'Edit app' }).click();
    await page.getByRole('dialog', { name: 'Edit key app' }).waitFor();
    await check('keys: edit dialog');
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Revoke app' }).click();
    await page.getByRole('dialog', { name: 'Revoke this key?' }).waitFor();
    await check('keys: revoke dialog');
    await page.keyboard.press('Escape');
    await page.getByLabel('Name', { exact: true }).fill('fresh');
    await page.getByLabel('Role').selectOption('viewer');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.locator('#secret-panel').waitFor();
    await check('keys: secret shown');
    await page.getByRole('button', { name: /hide it/ }).click();
  });

  test('the keys page as a read-only viewer sees it', async () => {
    const v = await request(`${gw.url}/admin/v1/keys`, { headers: bearer(ADMIN), body: { name: 'reader', role: 'viewer' } });
    assert.equal(v.status, 201, v.text);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#signin-view').waitFor();
    await page.getByLabel('Admin key').fill(v.json.secret);
    await page.getByLabel('Admin key').press('Enter');
    await page.locator('#read-only-note').waitFor();
    await page.locator('#keys-body tr', { hasText: 'app' }).waitFor();
    await check('keys: read-only');
  });

  test('the check is not vacuous: an unlabelled field fails it, named', async () => {
    await page.evaluate(() => {
      const i = document.createElement('input');
      i.id = 'a11y-probe';
      document.getElementById('keys-view').append(i);
    });
    await assert.rejects(check('probe'), (e) => /label \(critical\)/.test(e.message) && /#a11y-probe/.test(e.message));
    await page.evaluate(() => document.getElementById('a11y-probe').remove());
  });

  test('no page errors, CSP violations or foreign requests along the way', () => {
    assert.ok(checked.length >= 6, `checked: ${checked.join(', ')}`);
    assert.deepEqual(problems, []);
  });
});
