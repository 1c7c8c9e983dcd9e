// Helpers for the MCP tests: raw JSON-RPC over Streamable HTTP against the
// gateway's /mcp and /mcp/<server> (byte-level, no SDK), the paths of the
// MCP servers the tests federate, and the gateway config that names them.

import { existsSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

import { REPO_ROOT, request, parseSSE, SSEParser, waitFor } from './harness.mjs';
import { startFixture } from '../conformance/run.mjs';

export { startFixture };

const requireE2E = createRequire(path.join(REPO_ROOT, 'tests', 'e2e', 'package.json'));
if (!existsSync(path.join(REPO_ROOT, 'tests', 'e2e', 'node_modules', '@modelcontextprotocol', 'sdk'))) {
  throw new Error('the MCP tests need the npm packages of tests/e2e: run `npm ci --prefix tests/e2e` (./.ci/bootstrap test does)');
}

/** Scripts of the MCP servers the tests run (node programs). */
export const MCP_FIXTURE = path.join(REPO_ROOT, 'tests', 'fixtures', 'mcp_fixture.mjs');
export const MCP_HANG = path.join(REPO_ROOT, 'tests', 'fixtures', 'mcp_hang.mjs');
export function everythingScript() {
  return path.join(path.dirname(requireE2E.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');
}
export function memoryScript() {
  return path.join(path.dirname(requireE2E.resolve('@modelcontextprotocol/server-memory/package.json')), 'dist', 'index.js');
}

/** mcp_servers definitions. */
export const stdioServer = (args, extra = {}) => ({ transport: 'stdio', command: process.execPath, args, ...extra });
export const httpServer = (url, extra = {}) => ({ transport: 'http', url, ...extra });

export const LATEST = '2025-11-25';
export const ACCEPT_BOTH = 'application/json, text/event-stream';

/**
 * One POST of a JSON-RPC message (or any body) to url. opts: key (Bearer),
 * session, version (MCP-Protocol-Version), accept, contentType, headers,
 * timeoutMs. Returns {status, headers, text, json (a JSON body), sse (the
 * body was an event stream), events, messages (every JSON-RPC message of
 * the answer, in order), response (the message answering body.id, when
 * body is one request)}.
 */
export async function mcpPost(url, body, opts = {}) {
  const headers = {
    accept: opts.accept === undefined ? ACCEPT_BOTH : opts.accept,
    'content-type': opts.contentType || 'application/json',
    ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}),
    ...(opts.session ? { 'mcp-session-id': opts.session } : {}),
    ...(opts.version ? { 'mcp-protocol-version': opts.version } : {}),
    ...(opts.headers || {}),
  };
  if (opts.accept === null) delete headers.accept;
  const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  const r = await request(url, { method: 'POST', headers, body: payload, timeoutMs: opts.timeoutMs || 60000 });
  const sse = /^text\/event-stream/i.test(r.headers['content-type'] || '');
  const out = { status: r.status, headers: r.headers, text: r.text, json: sse ? undefined : r.json, sse, events: [], messages: [] };
  if (sse) {
    out.events = parseSSE(r.text);
    for (const ev of out.events) {
      if (!ev.data || !ev.data.trim()) continue; // a priming event
      try { out.messages.push(JSON.parse(ev.data)); } catch { out.messages.push({ unparsable: ev.data }); }
    }
  } else if (r.json !== undefined) {
    out.messages = Array.isArray(r.json) ? r.json : [r.json];
  }
  if (body && typeof body === 'object' && !Array.isArray(body) && body.id !== undefined) {
    out.response = out.messages.find((m) => m.id === body.id && ('result' in m || 'error' in m));
  }
  return out;
}

let nextId = 1;

/**
 * A client session of one MCP endpoint (url: .../mcp or .../mcp/<server>),
 * spoken at the byte level.
 */
export class McpSession {
  constructor(url, { key, version = LATEST, capabilities = {} } = {}) {
    this.url = url;
    this.key = key;
    this.requested = version;
    this.capabilities = capabilities;
    this.session = null;
    this.version = null;
  }

  /** initialize + notifications/initialized; returns the initialize result. */
  async open() {
    const r = await mcpPost(this.url, {
      jsonrpc: '2.0', id: nextId++, method: 'initialize',
      params: { protocolVersion: this.requested, capabilities: this.capabilities, clientInfo: { name: 'switchboard-tests', version: '1.0.0' } },
    }, { key: this.key });
    if (r.status !== 200 || !r.response?.result) throw new Error(`initialize failed: ${r.status} ${r.text.slice(0, 500)}`);
    this.session = r.headers['mcp-session-id'];
    this.version = r.response.result.protocolVersion;
    this.initResult = r.response.result;
    const n = await this.notify('notifications/initialized');
    if (n.status !== 202) throw new Error(`notifications/initialized answered ${n.status}: ${n.text}`);
    return r.response.result;
  }

  opts(extra = {}) {
    return { key: this.key, session: this.session, version: this.version, ...extra };
  }

  /** One request; returns mcpPost's answer (see .response). */
  async call(method, params, extra = {}) {
    const body = { jsonrpc: '2.0', id: nextId++, method, ...(params === undefined ? {} : { params }) };
    return mcpPost(this.url, body, this.opts(extra));
  }

  /** One request; its result, or throws with the JSON-RPC error. */
  async result(method, params, extra = {}) {
    const r = await this.call(method, params, extra);
    if (!r.response) throw new Error(`${method}: no response (HTTP ${r.status}): ${r.text.slice(0, 500)}`);
    if (r.response.error) {
      const e = new Error(`${method}: JSON-RPC error ${r.response.error.code} ${r.response.error.message}`);
      e.rpc = r.response.error;
      throw e;
    }
    return r.response.result;
  }

  async notify(method, params) {
    return mcpPost(this.url, { jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) }, this.opts());
  }

  /** Every item of a paged list (tools, prompts, resources, resourceTemplates), and the pages. */
  async listAll(method, field, extra = {}) {
    const items = [];
    const pages = [];
    let cursor;
    for (let i = 0; i < 1000; i++) {
      const res = await this.result(method, cursor === undefined ? {} : { cursor }, extra);
      pages.push(res[field].length);
      items.push(...res[field]);
      cursor = res.nextCursor;
      if (cursor === undefined || cursor === null) return { items, pages };
    }
    throw new Error(`${method}: more than 1000 pages`);
  }

  async toolNames() {
    return (await this.listAll('tools/list', 'tools')).items.map((t) => t.name);
  }

  /** tools/call; returns the mcpPost answer (its .response). */
  callTool(name, args = {}, extra = {}) {
    return this.call('tools/call', { name, arguments: args, ...(extra.meta ? { _meta: extra.meta } : {}) }, extra);
  }

  async close() {
    if (!this.session) return null;
    const r = await request(this.url, {
      method: 'DELETE',
      headers: { ...(this.key ? { authorization: `Bearer ${this.key}` } : {}), 'mcp-session-id': this.session, 'mcp-protocol-version': this.version },
    });
    return r;
  }
}

/**
 * A GET standalone stream: resolves once the response headers are in with
 * {status, headers, events (growing), messages (growing), text (non-SSE
 * body, once ended), next(pred, ms), close()}.
 */
export function openStream(url, headers) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'GET', headers, agent: false }, (res) => {
      const s = {
        status: res.statusCode, headers: res.headers, events: [], messages: [], text: '', ended: false,
        close() { req.destroy(); res.destroy(); },
        /** The first message (seen or to come) matching pred. */
        next(pred, timeoutMs = 20000) {
          return waitFor(() => s.messages.find(pred), { timeoutMs, what: 'a message on the GET stream' });
        },
      };
      const parser = new SSEParser();
      const sse = /^text\/event-stream/i.test(res.headers['content-type'] || '');
      res.on('data', (c) => {
        if (!sse) { s.text += c.toString('utf8'); return; }
        for (const ev of parser.push(c)) {
          s.events.push(ev);
          if (ev.data && ev.data.trim()) {
            try { s.messages.push(JSON.parse(ev.data)); } catch { /* not ours to judge here */ }
          }
        }
      });
      res.on('end', () => { s.ended = true; });
      res.on('error', () => { s.ended = true; });
      resolve(s);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The text of a tool result's content blocks, joined. */
export function resultText(result) {
  return (result?.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

/** Wait until every server named is "up" in GET /admin/v1/mcp/servers. */
export async function waitServersUp(base, adminKey, names, timeoutMs = 60000) {
  let last = null;
  try {
    await waitFor(async () => {
      const r = await request(`${base}/admin/v1/mcp/servers`, { headers: adminKey ? { authorization: `Bearer ${adminKey}` } : {} });
      if (r.status !== 200) return false;
      last = r.json;
      const up = new Set(r.json.data.filter((s) => s.status?.state === 'up').map((s) => s.name));
      return names.every((n) => up.has(n));
    }, { timeoutMs, interval: 100, what: `MCP servers ${names.join(', ')} up` });
  } catch (e) {
    e.message += `; last /admin/v1/mcp/servers: ${JSON.stringify(last)}`;
    throw e;
  }
  return last;
}
