#!/usr/bin/env node
// bench/mcp_upstream.mjs: a minimal, fast Streamable HTTP MCP server for
// bench/mcp.sh (node:http only, no SDK), so that the measured cost is the
// gateway's rather than the upstream's. POST /mcp: initialize (mints a
// session), notifications (202), ping, tools/list (one tool, echo),
// tools/call echo (a JSON answer); DELETE ends a session; GET is 405.
// Prints "listening <port>" once ready.
//
//   node bench/mcp_upstream.mjs [PORT]

import http from 'node:http';
import { randomBytes } from 'node:crypto';

const sessions = new Set();
const TOOLS = [{
  name: 'echo',
  description: 'Returns its text argument',
  inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
}];

function send(res, status, obj, headers = {}) {
  const body = obj === undefined ? '' : JSON.stringify(obj);
  res.writeHead(status, { ...(body ? { 'content-type': 'application/json' } : {}), 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}
const error = (id, code, message) => ({ jsonrpc: '2.0', id, error: { code, message } });

const server = http.createServer((req, res) => {
  const sid = req.headers['mcp-session-id'];
  if (req.method === 'DELETE') {
    send(res, sessions.delete(sid) ? 200 : 404, undefined);
    return;
  }
  if (req.method !== 'POST') {
    send(res, 405, undefined, { allow: 'POST, DELETE' });
    return;
  }
  const parts = [];
  req.on('data', (c) => parts.push(c));
  req.on('end', () => {
    let m;
    try {
      m = JSON.parse(Buffer.concat(parts).toString('utf8'));
    } catch {
      send(res, 400, error(null, -32700, 'Parse error'));
      return;
    }
    if (m.method === 'initialize') {
      const id = randomBytes(16).toString('hex');
      sessions.add(id);
      send(res, 200, {
        jsonrpc: '2.0', id: m.id,
        result: { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'bench-upstream', version: '1.0.0' } },
      }, { 'mcp-session-id': id });
      return;
    }
    if (!sessions.has(sid)) {
      send(res, sid ? 404 : 400, error(null, sid ? -32001 : -32000, sid ? 'Session not found' : 'Mcp-Session-Id required'));
      return;
    }
    if (m.id === undefined) {
      send(res, 202, undefined);
      return;
    }
    switch (m.method) {
      case 'ping': send(res, 200, { jsonrpc: '2.0', id: m.id, result: {} }); return;
      case 'tools/list': send(res, 200, { jsonrpc: '2.0', id: m.id, result: { tools: TOOLS } }); return;
      case 'tools/call':
        if (m.params?.name === 'echo') {
          const t = String(m.params.arguments?.text ?? '');
          send(res, 200, { jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: t }] } });
        } else {
          send(res, 200, error(m.id, -32602, `Unknown tool: ${m.params?.name}`));
        }
        return;
      default: send(res, 200, error(m.id, -32601, 'Method not found'));
    }
  });
});
server.keepAliveTimeout = 120000;
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
