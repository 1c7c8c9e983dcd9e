// Helpers for Switchboard's integration and e2e tests: start the real
// binary on a free port with a config in a fresh temp dir, talk HTTP and
// SSE to it at the byte level, and read its SQLite database.
//
// The binary is process.env.SWITCHBOARD_BIN (set by ctest); every child
// started here is killed when the test process exits, whatever happened.

import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync, readdirSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..');

/**
 * The variables test providers name as credentials: the gateway refuses
 * any not on its allow-list (security.credential_env), and the tests use
 * their own names. A test of the allow-list itself sets its own.
 */
export const TEST_CREDENTIAL_ENV = 'SWITCHBOARD_CRED_*,SB_*,UP*,LOCAL_API_KEY,OPENAI_API_KEY,'
  + 'ANTHROPIC_API_KEY,GEMINI_API_KEY,CO_API_KEY,AZURE_OPENAI_API_KEY,AWS_*';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolve with promise's value, or with `fallback` after ms (the timer is cleared either way). */
export function within(promise, ms, fallback = null) {
  let timer;
  const t = new Promise((resolve) => { timer = setTimeout(() => resolve(fallback), ms); });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/** Path of the binary under test. */
export function switchboardBin() {
  const bin = process.env.SWITCHBOARD_BIN || path.join(REPO_ROOT, 'build', 'switchboard');
  if (!existsSync(bin)) {
    throw new Error(`switchboard binary not found at ${bin} (set SWITCHBOARD_BIN)`);
  }
  return bin;
}

// Children still running when the test process exits are killed.
const children = new Set();
process.on('exit', () => {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

// Ports handed out by freePort() in this process: never handed out twice.
const portsHandedOut = new Set();

/*
 * Where freePort() picks from: below the kernel's ephemeral range, which
 * listen(0) (every fake upstream, in every test process) and outgoing
 * connections draw from, so a port picked here is not taken by one of
 * those between the pick and the gateway's bind.
 */
function portRange() {
  let lo = 32768;
  let hi = 60999;
  try {
    [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  } catch { /* not Linux: assume the usual range */ }
  if (lo - 1 - 15000 >= 2000) return [15000, lo - 1];
  if (65535 - (hi + 1) >= 2000) return [hi + 1, 65535];
  return [20000, 60999];
}

/** Whether 127.0.0.1:port can be bound (nobody listens there) right now. */
function portBindable(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * A TCP port nobody listens on right now (127.0.0.1): a random one from a
 * high range outside the ephemeral ports, checked by binding it, never one
 * this process handed out before. Another process can still take it before
 * the caller binds it; startGateway() retries with another port then.
 */
export async function freePort() {
  const [lo, hi] = portRange();
  for (let i = 0; i < 100; i++) {
    const port = lo + Math.floor(Math.random() * (hi - lo + 1));
    if (portsHandedOut.has(port)) continue;
    if (await portBindable(port)) {
      portsHandedOut.add(port);
      return port;
    }
  }
  // Hardly anything free in the range: let the kernel pick one.
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const srv = net.createServer();
      srv.unref();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const { port: p } = srv.address();
        srv.close(() => resolve(p));
      });
    });
    if (!portsHandedOut.has(port)) {
      portsHandedOut.add(port);
      return port;
    }
  }
}

/*
 * The listening TCP sockets on `port` (any address, IPv4 or IPv6), split
 * into those process `pid` holds and those of anybody else:
 * {ours, others}, or null where /proc cannot tell (not Linux).
 */
export function portListeners(pid, port) {
  const inodes = new Set();
  let readAny = false;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try { text = readFileSync(f, 'utf8'); } catch { continue; }
    readAny = true;
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A') continue; // 0A: LISTEN
      if (parseInt(cols[1].slice(cols[1].lastIndexOf(':') + 1), 16) === port) inodes.add(cols[9]);
    }
  }
  if (!readAny) return null;
  let fds;
  try { fds = readdirSync(`/proc/${pid}/fd`); } catch { return null; }
  let ours = 0;
  for (const fd of fds) {
    let link;
    try { link = readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m && inodes.has(m[1])) ours++;
  }
  return { ours, others: Math.max(0, inodes.size - ours) };
}

/** A fresh temporary directory (removed at exit unless SB_KEEP_TMP is set). */
const tempDirs = [];
process.on('exit', () => {
  if (process.env.SB_KEEP_TMP) return;
  for (const d of tempDirs) {
    try { rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
  }
});
export function tempDir(prefix = 'sb-test-') {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

function tail(s, n = 4000) {
  return s.length > n ? `…${s.slice(-n)}` : s;
}

/**
 * Wait until pred() returns a truthy value (polled every `interval` ms).
 * Throws with `what` after timeoutMs.
 */
export async function waitFor(pred, { timeoutMs = 5000, interval = 25, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(interval);
  }
}

/**
 * Run the binary to completion (for --version, migrate, config errors).
 * Returns {code, signal, stdout, stderr, timedOut}. A process still running
 * after timeoutMs is killed (timedOut true).
 */
export function runSwitchboard(args, { env = {}, timeoutMs = 10000, cwd } = {}) {
  const bin = switchboardBin();
  return new Promise((resolve) => {
    const proc = spawn(bin, args, {
      env: { ...process.env, SWITCHBOARD_CREDENTIAL_ENV: TEST_CREDENTIAL_ENV, ...env },
      cwd: cwd || os.tmpdir(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(proc);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    proc.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    proc.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGKILL');
    }, timeoutMs);
    proc.on('error', (err) => {
      clearTimeout(timer);
      children.delete(proc);
      resolve({ code: null, signal: null, stdout, stderr: stderr + String(err), timedOut });
    });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(proc);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/**
 * Start `switchboard serve` and wait for GET /healthz to answer 200.
 *
 * opts:
 *   config   object (written as JSON) or string (written as is) or null (no --config)
 *   env      extra environment for the process
 *   args     extra command-line arguments
 *   dir      reuse a directory (e.g. to restart on the same database)
 *   dbPath   database file (default <dir>/sb.db)
 *   port     port to use (default: a free one)
 *   passPort false: do not pass --port (the caller makes it listen on `port`
 *            through the environment or the config)
 *   cwd      working directory (default dir)
 *   readyTimeoutMs default 10000
 *
 * Returns {url, port, dir, dbPath, configPath, proc, pid, stdout(), stderr(),
 *          exited (promise of {code, signal}), stop(), kill()}.
 *
 * Ready means: /healthz answers 200 and (where /proc tells) the listening
 * socket on the port is this process's, nobody else's. When the harness
 * picked the port and it turns out taken (the gateway exits 1 saying the
 * port is in use, or another process serves it too), it starts again on
 * another port, a few times; a port the caller asked for is not changed.
 */
export async function startGateway(opts = {}) {
  const pickPort = !opts.port && opts.passPort !== false;
  const attempts = pickPort ? 5 : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startGatewayOnce(opts, pickPort);
    } catch (e) {
      if (!e.portTaken || attempt >= attempts) throw e;
    }
  }
}

async function startGatewayOnce(opts, pickPort) {
  const bin = switchboardBin();
  const dir = opts.dir || tempDir();
  const dbPath = opts.dbPath || path.join(dir, 'sb.db');
  const port = opts.port || await freePort();
  const args = ['serve'];
  if (opts.passPort !== false) args.push('--port', String(port));
  args.push('--db', dbPath);
  let configPath = null;
  if (opts.config !== null) {
    configPath = path.join(dir, 'config.json');
    const cfg = opts.config === undefined ? {} : opts.config;
    writeFileSync(configPath, typeof cfg === 'string' ? cfg : JSON.stringify(cfg, null, 2));
    args.push('--config', configPath);
  }
  if (opts.args) args.push(...opts.args);

  const proc = spawn(bin, args, {
    env: { ...process.env, SWITCHBOARD_CREDENTIAL_ENV: TEST_CREDENTIAL_ENV, ...(opts.env || {}) },
    cwd: opts.cwd || dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  proc.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    proc.on('error', (e) => {
      err += String(e);
      exitInfo = { code: null, signal: null, error: e };
      children.delete(proc);
      resolve(exitInfo);
    });
    proc.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      children.delete(proc);
      resolve(exitInfo);
    });
  });

  const url = `http://127.0.0.1:${port}`;
  const gw = {
    url, port, dir, dbPath, configPath, proc, pid: proc.pid,
    stdout: () => out,
    stderr: () => err,
    exited,
    get running() { return exitInfo === null; },
    /** SIGTERM, wait for the exit (15 s) and require exit code 0. */
    async stop({ timeoutMs = 15000, signal = 'SIGTERM' } = {}) {
      if (exitInfo) {
        if (exitInfo.code !== 0) {
          throw new Error(`gateway had already exited (code ${exitInfo.code}, signal ${exitInfo.signal}); stderr:\n${tail(err)}`);
        }
        return exitInfo;
      }
      proc.kill(signal);
      const res = await within(exited, timeoutMs);
      if (!res) {
        proc.kill('SIGKILL');
        await exited;
        throw new Error(`gateway did not exit within ${timeoutMs} ms of ${signal}; stderr:\n${tail(err)}`);
      }
      if (res.code !== 0) {
        throw new Error(`gateway exited with code ${res.code} (signal ${res.signal}) after ${signal}; stderr:\n${tail(err)}`);
      }
      return res;
    },
    /** SIGKILL, no questions (cleanup after a failure). */
    async kill() {
      if (exitInfo) return exitInfo;
      proc.kill('SIGKILL');
      return exited;
    },
  };

  const portTaken = (why) => {
    const e = new Error(`port ${port} is taken (${why}); args: ${args.join(' ')}\nstderr:\n${tail(err)}`);
    e.portTaken = pickPort;
    return e;
  };
  const deadline = Date.now() + (opts.readyTimeoutMs || 10000);
  for (;;) {
    if (exitInfo) {
      if (exitInfo.code === 1 && /in use|already/i.test(err)) throw portTaken('the gateway exited during start-up with code 1');
      throw new Error(`gateway exited during start-up (code ${exitInfo.code}, signal ${exitInfo.signal}); args: ${args.join(' ')}\nstderr:\n${tail(err)}`);
    }
    let healthy = false;
    try {
      healthy = (await request(`${url}/healthz`, { timeoutMs: 1000 })).status === 200;
    } catch { /* not listening yet */ }
    if (healthy && exitInfo === null) {
      // Whose answer was that? Another process may serve this port.
      const l = portListeners(proc.pid, port);
      if (!l || (l.ours > 0 && l.others === 0)) return gw;
      if (l.ours > 0 && !pickPort) return gw; // the caller's port, shared
      if (l.others > 0 && pickPort) {
        await gw.kill();
        throw portTaken(`${l.others} other listener(s) on it`);
      }
      // Otherwise not ours yet: this one will listen or exit.
    }
    if (Date.now() > deadline) {
      await gw.kill();
      throw new Error(`gateway not healthy after ${opts.readyTimeoutMs || 10000} ms; stderr:\n${tail(err)}`);
    }
    if (!healthy) await within(exited, 50);
    else await sleep(50);
  }
}

// ---------------------------------------------------------------------------
// SQLite through the sqlite3 CLI

/** Run SQL with `sqlite3 -json`; returns the rows (array of objects). */
export function queryDb(dbPath, sql) {
  return new Promise((resolve, reject) => {
    execFile('sqlite3', ['-bail', '-json', '-cmd', '.timeout 5000', dbPath, sql],
      { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`sqlite3 failed on ${dbPath}: ${stderr || error.message}\nSQL: ${sql}`));
          return;
        }
        const text = stdout.trim();
        if (!text) return resolve([]);
        try {
          resolve(JSON.parse(text));
        } catch (e) {
          reject(new Error(`sqlite3 output is not JSON: ${text.slice(0, 200)}`));
        }
      });
  });
}

/** Quote a string as an SQL literal. */
export function sqlString(s) {
  return `'${String(s).replace(/'/g, "''")}'`;
}

// ---------------------------------------------------------------------------
// HTTP

/**
 * One HTTP request with node:http. body: Buffer/string sent as is, or any
 * other value sent as JSON (content-type application/json added unless
 * given). Content-Length is always set unless opts.chunked.
 * Returns {status, headers, body (Buffer), text, json (or undefined), reusedSocket}.
 */
export function request(url, opts = {}) {
  const u = new URL(url);
  const headers = { ...(opts.headers || {}) };
  const lower = Object.fromEntries(Object.keys(headers).map((k) => [k.toLowerCase(), k]));
  let payload = null;
  if (opts.body !== undefined) {
    if (Buffer.isBuffer(opts.body) || typeof opts.body === 'string') {
      payload = Buffer.from(opts.body);
    } else {
      payload = Buffer.from(JSON.stringify(opts.body));
      if (!lower['content-type']) headers['content-type'] = 'application/json';
    }
    if (!opts.chunked && !lower['content-length']) headers['content-length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname,
      port: u.port,
      path: u.pathname + u.search,
      method: opts.method || (opts.body !== undefined ? 'POST' : 'GET'),
      headers,
      agent: opts.agent === undefined ? false : opts.agent,
      setHost: true,
    }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const body = Buffer.concat(parts);
        const text = body.toString('utf8');
        let json;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, body, text, json, reusedSocket: req.reusedSocket });
      });
      res.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
    const timer = setTimeout(() => req.destroy(new Error(`request to ${url} timed out`)), opts.timeoutMs || 30000);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    if (payload && opts.chunked) {
      // Transfer-Encoding: chunked (no Content-Length), in two pieces.
      req.write(payload.subarray(0, payload.length >> 1));
      req.end(payload.subarray(payload.length >> 1));
    } else {
      req.end(payload || undefined);
    }
  });
}

/** POST a JSON body to {gw.url}/v1/chat/completions. */
export function postChat(base, body, opts = {}) {
  return request(`${base}/v1/chat/completions`, { ...opts, body });
}

/** The OpenAI error object of a response, asserting the envelope shape. */
export function errorOf(res) {
  const j = res.json;
  if (!j || typeof j.error !== 'object' || j.error === null) {
    throw new Error(`not an OpenAI error body (status ${res.status}): ${res.text.slice(0, 500)}`);
  }
  return j.error;
}

// ---------------------------------------------------------------------------
// Server-Sent Events

/**
 * Incremental SSE parser following the WHATWG rules:
 * CR, LF and CRLF line ends; "field:value" with one optional space; data
 * lines joined with "\n"; comments ignored; blank line dispatches; events
 * without data dropped.
 */
export class SSEParser {
  constructor() {
    this.decoder = new TextDecoder('utf-8');
    this.buf = '';
    this.data = null;
    this.event = '';
    this.id = null;
    this.comments = 0;
  }

  /** Feed bytes (Buffer) or text; returns the events completed by it. */
  push(chunk, final = false) {
    this.buf += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: !final });
    const out = [];
    let start = 0;
    for (let i = 0; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (c !== '\n' && c !== '\r') continue;
      if (c === '\r' && i + 1 === this.buf.length && !final) break; // maybe CRLF split
      const line = this.buf.slice(start, i);
      if (c === '\r' && this.buf[i + 1] === '\n') i++;
      start = i + 1;
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    this.buf = this.buf.slice(start);
    return out;
  }

  line(line) {
    if (line === '') {
      if (this.data === null) {
        this.event = '';
        return null;
      }
      const ev = { event: this.event || 'message', data: this.data, id: this.id };
      this.data = null;
      this.event = '';
      return ev;
    }
    if (line[0] === ':') {
      this.comments++;
      return null;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'data') this.data = this.data === null ? value : `${this.data}\n${value}`;
    else if (field === 'event') this.event = value;
    else if (field === 'id') this.id = value;
    return null;
  }
}

/** Parse a complete SSE body into events. */
export function parseSSE(text) {
  const p = new SSEParser();
  return p.push(text, true);
}

/**
 * POST a chat request and read the answer as raw bytes. For an event
 * stream the events are parsed as they arrive.
 *
 * opts: headers, agent, timeoutMs (default 60000; then the request is
 *       destroyed and `timedOut` set),
 *       keepRaw (default true): keep the raw body text in `raw`,
 *       keepEvents (default true): keep every event in `events`/`chunks`
 *         (false for huge streams: only counts, errors and contentText),
 *       onEvent(ev, ctl): called for each event; ctl = {req, res, destroy()},
 *       onResponse(res, ctl): called with the IncomingMessage before any
 *         data is read (a test may res.pause() it).
 *
 * Returns {status, headers, raw, text (= raw), json (non-SSE answers),
 *   events: [{event, data, id, t (performance.now()), json}], eventCount,
 *   lastEvent, chunks (parsed JSON data events, [DONE] and error events
 *   excluded), errors (the `error` members of error events), contentText
 *   (all delta.content of choice 0), done (saw [DONE]), doneLast ([DONE]
 *   is the last event), ended (the body ended cleanly), aborted (the
 *   connection broke first), destroyedByClient, timedOut, tStart}.
 */
export function streamChat(base, body, opts = {}) {
  const url = new URL(`${base}/v1/chat/completions`);
  const payload = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const keepRaw = opts.keepRaw !== false;
  const keepEvents = opts.keepEvents !== false;
  return new Promise((resolve, reject) => {
    const tStart = performance.now();
    const result = {
      status: null, headers: null, raw: '', text: '', json: undefined,
      events: [], eventCount: 0, lastEvent: null, chunks: [], errors: [],
      contentText: '', done: false, doneLast: false, ended: false, aborted: false,
      destroyedByClient: false, timedOut: false, tStart,
    };
    const rawParts = [];
    let isSSE = false;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      result.doneLast = !!result.lastEvent && result.lastEvent.data === '[DONE]';
      if (keepRaw || !isSSE) result.raw = Buffer.concat(rawParts).toString('utf8');
      result.text = result.raw;
      if (!isSSE && result.status !== null) {
        try { result.json = JSON.parse(result.raw); } catch { /* not JSON */ }
      }
      resolve(result);
    };
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
      agent: opts.agent === undefined ? false : opts.agent,
      headers: {
        'content-type': 'application/json',
        'content-length': String(payload.length),
        accept: 'text/event-stream',
        ...(opts.headers || {}),
      },
    }, (res) => {
      result.status = res.statusCode;
      result.headers = res.headers;
      isSSE = /^text\/event-stream/i.test(res.headers['content-type'] || '');
      const parser = new SSEParser();
      const ctl = {
        req, res,
        destroy() {
          result.destroyedByClient = true;
          req.destroy();
          res.destroy();
          finish();
        },
      };
      const handle = (events) => {
        for (const ev of events) {
          ev.t = performance.now();
          if (ev.data === '[DONE]') {
            result.done = true;
          } else {
            try { ev.json = JSON.parse(ev.data); } catch { ev.json = undefined; }
            if (ev.json && ev.json.error) {
              result.errors.push(ev.json.error);
            } else if (ev.json !== undefined) {
              if (keepEvents) result.chunks.push(ev.json);
              const c = ev.json && Array.isArray(ev.json.choices) && ev.json.choices.find((x) => x.index === 0);
              if (c && c.delta && typeof c.delta.content === 'string') result.contentText += c.delta.content;
            }
          }
          result.eventCount++;
          result.lastEvent = ev;
          if (keepEvents) result.events.push(ev);
          if (opts.onEvent && !settled) opts.onEvent(ev, ctl);
        }
      };
      res.on('data', (c) => {
        if (keepRaw || !isSSE) rawParts.push(c);
        if (isSSE) handle(parser.push(c));
      });
      res.on('end', () => {
        if (isSSE) handle(parser.push(Buffer.alloc(0), true));
        result.ended = true;
        finish();
      });
      res.on('aborted', () => { result.aborted = true; });
      res.on('error', () => { result.aborted = true; finish(); });
      res.on('close', () => {
        if (!result.ended && !result.destroyedByClient) result.aborted = true;
        finish();
      });
      if (opts.onResponse) opts.onResponse(res, ctl);
    });
    const timer = setTimeout(() => {
      result.timedOut = true;
      req.destroy();
      finish();
    }, opts.timeoutMs || 60000);
    req.on('error', (e) => {
      if (settled) return;
      if (result.status === null) {
        clearTimeout(timer);
        settled = true;
        reject(e);
      } else {
        result.aborted = true;
        finish();
      }
    });
    req.end(payload);
  });
}

// ---------------------------------------------------------------------------
// Metrics and processes

/** Parse Prometheus text: {types: {name: type}, samples: [{name, labels, value}]}. */
export function parseMetrics(text) {
  const types = {};
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = /^# TYPE (\S+) (\S+)/.exec(line);
    if (m) {
      types[m[1]] = m[2];
      continue;
    }
    if (line.startsWith('#')) continue;
    const s = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/.exec(line);
    if (!s) {
      samples.push({ name: null, bad: line });
      continue;
    }
    const labels = {};
    if (s[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/g;
      let lm;
      while ((lm = re.exec(s[3])) !== null) labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, ch) => (ch === 'n' ? '\n' : ch));
    }
    const v = s[4] === '+Inf' ? Infinity : s[4] === '-Inf' ? -Infinity : Number(s[4]);
    samples.push({ name: s[1], labels, value: v });
  }
  return { types, samples };
}

/** Sum of the samples of `name` whose labels include `match`. */
export function metricValue(parsed, name, match = {}) {
  let sum = 0;
  let found = false;
  for (const s of parsed.samples) {
    if (s.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) {
      sum += s.value;
      found = true;
    }
  }
  return found ? sum : undefined;
}

/** Fetch and parse {gw.url}/metrics. */
export async function getMetrics(base) {
  const r = await request(`${base}/metrics`);
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return parseMetrics(r.text);
}

/** Resident set size of a process in bytes (from /proc/<pid>/status VmRSS). */
export function rssBytes(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(s);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** The highest migration number in migrations/ (the binary's schema version). */
export function expectedSchemaVersion() {
  const dir = path.join(REPO_ROOT, 'migrations');
  let max = 0;
  for (const f of listDir(dir)) {
    const m = /^(\d{4})_.*\.sql$/.exec(f);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max;
}

/** The project version from the top-level CMakeLists.txt. */
export function expectedVersion() {
  const text = readFileSync(path.join(REPO_ROOT, 'CMakeLists.txt'), 'utf8');
  const m = /project\(\s*switchboard\s+VERSION\s+([0-9.]+)/.exec(text);
  return m ? m[1] : null;
}

function listDir(dir) {
  try { return readdirSync(dir); } catch { return []; }
}

/** A chat request body with one user message. */
export function chatBody(model, text, extra = {}) {
  return { model, messages: [{ role: 'user', content: text }], ...extra };
}
