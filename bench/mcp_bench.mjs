#!/usr/bin/env node
// bench/mcp_bench.mjs: tools/call latency and CPU, an MCP server directly
// and through the gateway's /mcp/<server>, in one run (bench/mcp.sh starts
// both and calls this).
//
//   node bench/mcp_bench.mjs --direct URL --gateway URL [--gateway-pid PID]
//        [--upstream-pid PID] [--key KEY] [--tool echo] [--n 1000]
//        [--m 2000] [--conc 16] [--warmup 200]
//
// Per target: one session (initialize, notifications/initialized), WARMUP
// unmeasured calls, N sequential calls (one at a time: latency), then M
// calls with CONC in flight (throughput). Every answer is read whole and
// must hold the call's result (a JSON body or the last event of an SSE
// one). CPU per call from /proc/PID/stat (utime+stime, all threads) of the
// gateway and of the upstream server. Prints a Markdown table and the
// latency the gateway adds at p50 and p99.

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const DIRECT = opt('direct');
const GATEWAY = opt('gateway');
const GW_PID = opt('gateway-pid');
const UP_PID = opt('upstream-pid');
const KEY = opt('key');
const TOOL = opt('tool', 'echo');
const N = Number(opt('n', 1000));
const M = Number(opt('m', 2000));
const CONC = Number(opt('conc', 16));
const WARMUP = Number(opt('warmup', 200));
if (!DIRECT || !GATEWAY) {
  process.stderr.write('usage: mcp_bench.mjs --direct URL --gateway URL [--gateway-pid P] [--upstream-pid P] [--key K] [--n N] [--m M] [--conc C]\n');
  process.exit(2);
}

const CLK_TCK = Number(opt('clk-tck', 100)); // /proc stat times are in 1/CLK_TCK s
function cpuTicks(pid) {
  if (!pid) return null;
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
  } catch {
    return null;
  }
}

class Target {
  constructor(name, url) {
    this.name = name;
    this.url = url;
    this.session = null;
    this.version = null;
    this.id = 0;
  }

  headers() {
    return {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(KEY ? { authorization: `Bearer ${KEY}` } : {}),
      ...(this.session ? { 'mcp-session-id': this.session, 'mcp-protocol-version': this.version } : {}),
    };
  }

  async post(body) {
    const r = await fetch(this.url, { method: 'POST', headers: this.headers(), body: JSON.stringify(body) });
    const text = await r.text();
    return { r, text };
  }

  async open() {
    const { r, text } = await this.post({
      jsonrpc: '2.0', id: 0, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'switchboard-bench', version: '1' } },
    });
    if (r.status !== 200) throw new Error(`${this.name}: initialize answered ${r.status}: ${text.slice(0, 300)}`);
    this.session = r.headers.get('mcp-session-id');
    this.version = lastMessage(r, text).result.protocolVersion;
    const n = await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    if (n.r.status !== 202) throw new Error(`${this.name}: notifications/initialized answered ${n.r.status}`);
  }

  /** One tools/call; resolves with its latency in µs, throws unless it is a successful result. */
  async call() {
    const id = ++this.id;
    const t0 = performance.now();
    const { r, text } = await this.post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: TOOL, arguments: { text: `call ${id}` } } });
    const us = (performance.now() - t0) * 1000;
    const m = r.status === 200 ? lastMessage(r, text) : null;
    if (!m || m.id !== id || !m.result || m.result.isError) {
      throw new Error(`${this.name}: call ${id} failed (HTTP ${r.status}): ${text.slice(0, 300)}`);
    }
    return us;
  }

  async close() {
    if (this.session) await fetch(this.url, { method: 'DELETE', headers: this.headers() }).catch(() => {});
  }
}

/** The JSON-RPC message of a response: the body, or the last data event of an SSE body. */
function lastMessage(r, text) {
  if (/^text\/event-stream/i.test(r.headers.get('content-type') || '')) {
    const data = text.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).filter(Boolean);
    return data.length ? JSON.parse(data.at(-1)) : null;
  }
  return JSON.parse(text);
}

function pct(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
const fmt = (us) => (us < 1000 ? `${Math.round(us)} µs` : `${(us / 1000).toFixed(2)} ms`);

async function measure(target, mode) {
  const g0 = cpuTicks(GW_PID);
  const u0 = cpuTicks(UP_PID);
  const lat = [];
  const t0 = performance.now();
  if (mode === 'sequential') {
    for (let i = 0; i < N; i++) lat.push(await target.call());
  } else {
    let left = M;
    await Promise.all(Array.from({ length: CONC }, async () => {
      while (left-- > 0) lat.push(await target.call());
    }));
  }
  const secs = (performance.now() - t0) / 1000;
  const g1 = cpuTicks(GW_PID);
  const u1 = cpuTicks(UP_PID);
  lat.sort((a, b) => a - b);
  const perCall = (a, b) => (a === null || b === null ? null : ((b - a) * 1e6) / CLK_TCK / lat.length);
  return {
    target: target.name, mode, calls: lat.length, rate: lat.length / secs,
    p50: pct(lat, 50), p99: pct(lat, 99),
    gwCpu: target.name === 'gateway' ? perCall(g0, g1) : null,
    upCpu: perCall(u0, u1),
  };
}

const rows = [];
for (const [name, url] of [['direct', DIRECT], ['gateway', GATEWAY]]) {
  const t = new Target(name, url);
  await t.open();
  process.stderr.write(`==> ${name}: ${WARMUP} warm-up calls\n`);
  for (let i = 0; i < WARMUP; i++) await t.call();
  process.stderr.write(`==> ${name}: ${N} sequential calls\n`);
  rows.push(await measure(t, 'sequential'));
  process.stderr.write(`==> ${name}: ${M} calls, ${CONC} in flight\n`);
  rows.push(await measure(t, `concurrent ×${CONC}`));
  await t.close();
}

const cpu = (v) => (v === null ? '–' : `${Math.round(v)}`);
console.log('| target | mode | calls | calls/s | p50 | p99 | gateway CPU µs/call | upstream CPU µs/call |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.target} | ${r.mode} | ${r.calls} | ${Math.round(r.rate)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${cpu(r.gwCpu)} | ${cpu(r.upCpu)} |`);
}
const d = rows.find((r) => r.target === 'direct' && r.mode === 'sequential');
const g = rows.find((r) => r.target === 'gateway' && r.mode === 'sequential');
console.log('');
console.log(`Sequential calls: the gateway adds ${fmt(g.p50 - d.p50)} at p50 and ${fmt(g.p99 - d.p99)} at p99; `
  + `it spends ${cpu(g.gwCpu)} µs of CPU per call.`);
