// The MCP servers page: each federated server with its state, its tools
// with their calls, errors and latency over the last 24 hours, the most
// recent tool calls, and which keys may use what: each key's mcp_tools
// globs, matched as the gateway matches them (fnmatch, docs/mcp.md) against
// the public names "<server>__<tool>" and the gateway's own tools.
import * as api from './api_ops.js';
import { el, showError } from './dom.js';
import { table, num, ms, badge, when, errorLine } from './ops_ui.js';

const GATEWAY_TOOLS = ['chat', 'models_list'];
const RECENT_CALLS = 50;
const MAX_SHOWN_MATCHES = 12;

let view = null;

/**
 * A glob as POSIX fnmatch(pattern, name, 0) reads it, as a RegExp:
 * "*" any run, "?" one character, "[...]" a set ("!" or "^" negates,
 * ranges with "-"), "\" quotes the next character; "/" and a leading "."
 * are ordinary.
 */
export function globToRegExp(glob) {
  const lit = (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '\\' && i + 1 < glob.length) re += lit(glob[++i]);
    else if (c === '[') {
      let j = i + 1;
      if (glob[j] === '!' || glob[j] === '^') j++;
      if (glob[j] === ']') j++;
      while (j < glob.length && glob[j] !== ']') j++;
      if (j >= glob.length) {
        re += lit('['); // no closing bracket: a literal "["
        continue;
      }
      let body = glob.slice(i + 1, j);
      let neg = false;
      if (body[0] === '!' || body[0] === '^') {
        neg = true;
        body = body.slice(1);
      }
      let set = '';
      for (let k = 0; k < body.length; k++) {
        const inner = body[k] === '-' && k > 0 && k < body.length - 1;
        set += inner ? '-' : lit(body[k]);
      }
      re += `[${neg ? '^' : ''}${set}]`;
      i = j;
    } else re += lit(c);
  }
  return new RegExp(`${re}$`);
}

function matcher(globs) {
  const res = globs.map((g) => {
    try { return globToRegExp(String(g)); } catch { return null; }
  }).filter(Boolean);
  return (name) => res.some((r) => r.test(name));
}

function transportOf(def) {
  if (!def || typeof def !== 'object') return '';
  if (typeof def.transport === 'string') return def.transport;
  return typeof def.url === 'string' ? 'http' : 'stdio';
}

function serversTable(servers) {
  return table('MCP servers and their state', ['Name', 'Transport', 'State', 'Error', 'Tools', 'Restarts'],
    servers.map((s) => {
      const st = s.status || {};
      return {
        tr: el('tr', { 'data-server': s.name }),
        cells: [
          { th: s.name },
          transportOf(s.definition),
          el('td', {}, badge(st.state || 'unknown')),
          typeof st.error === 'string' ? st.error : '—',
          num(typeof st.tools === 'number' ? String(st.tools) : '—'),
          num(typeof st.restarts === 'number' ? String(st.restarts) : '—'),
        ],
      };
    }), { id: 'mcp-servers-table' });
}

/** Every (server, tool): listed by the server now, or called in 24 h. */
function toolRows(servers, stats) {
  const byKey = new Map();
  for (const s of servers) {
    const names = s.status && Array.isArray(s.status.tool_names) ? s.status.tool_names : [];
    for (const t of names) byKey.set(`${s.name}\u0000${t}`, { server: s.name, tool: String(t), listed: true });
  }
  for (const row of stats) {
    const k = `${row.server}\u0000${row.tool}`;
    byKey.set(k, { ...(byKey.get(k) || { server: row.server, tool: row.tool, listed: false }), stat: row });
  }
  return [...byKey.values()].sort((a, b) => (a.server === b.server ? a.tool.localeCompare(b.tool) : a.server.localeCompare(b.server)));
}

function toolsTable(rows) {
  return table('Tools by server with their calls, errors and latency over the last 24 hours',
    ['Tool', 'Server', 'Public name', 'Calls (24 h)', 'Errors', 'p50', 'p95', 'Last call'],
    rows.map((r) => {
      const s = r.stat;
      return {
        tr: el('tr', { 'data-tool': `${r.server}__${r.tool}` }),
        cells: [
          { th: r.tool },
          r.server,
          el('td', {}, el('code', {}, r.server === 'gateway' ? r.tool : `${r.server}__${r.tool}`), r.listed ? '' : ' (no longer listed)'),
          num(s ? String(s.calls) : '0'),
          num(s ? String(s.errors) : '0'),
          num(s ? ms(s.p50_ms) : '—'),
          num(s ? ms(s.p95_ms) : '—'),
          el('td', {}, s ? when(s.last_ts_ms, true) : '—'),
        ],
      };
    }), { id: 'mcp-tools-table' });
}

function callsTable(calls, keyNames) {
  return table('The most recent tool calls', ['Time', 'Server', 'Tool', 'Outcome', 'Duration', 'Key', 'Error'],
    calls.map((c) => [
      el('td', {}, when(c.ts_ms, true)),
      c.server, c.tool,
      el('td', {}, badge(c.outcome)),
      num(ms(c.duration_ms)),
      c.key_id ? (keyNames.get(c.key_id) || c.key_id) : '—',
      typeof c.error === 'string' ? c.error : '',
    ]), { id: 'mcp-calls-table' });
}

function keysTable(keys, publicNames) {
  return table('Which MCP tools each key may call', ['Key', 'Role', 'Tool globs', 'Tools it may call now'],
    keys.map((k) => {
      let globs;
      let may;
      if (k.mcp_tools === null || k.mcp_tools === undefined) {
        globs = el('td', {}, 'any tool (no list)');
        may = el('td', {}, `all ${publicNames.length}`);
      } else {
        const list = Array.isArray(k.mcp_tools) ? k.mcp_tools.map(String) : [];
        globs = el('td', {}, list.length
          ? el('ul', { className: 'plain' }, ...list.map((g) => el('li', {}, el('code', {}, g))))
          : 'none (empty list)');
        const ok = matcher(list);
        const hits = publicNames.filter(ok);
        may = el('td', {}, hits.length ? `${hits.length} of ${publicNames.length}: ` : 'none',
          ...hits.slice(0, MAX_SHOWN_MATCHES).flatMap((n, i) => [i ? ', ' : '', el('code', {}, n)]),
          hits.length > MAX_SHOWN_MATCHES ? ` and ${hits.length - MAX_SHOWN_MATCHES} more` : '');
      }
      return {
        tr: el('tr', { 'data-key-id': k.id }),
        cells: [{ th: k.name }, typeof k.role === 'string' ? k.role : '', globs, may],
      };
    }), { id: 'mcp-keys-table' });
}

async function load() {
  const v = view;
  const seq = ++v.seq;
  let servers;
  let stats;
  let calls;
  let keys;
  try {
    [servers, stats, calls, keys] = await Promise.all([
      api.mcpServers(), api.mcpStats(), api.mcpCalls(RECENT_CALLS), api.keys(),
    ]);
  } catch (e) {
    if (view === v && seq === v.seq) v.ctx.failed(e, v.error);
    return;
  }
  if (view !== v || seq !== v.seq || !v.ctx.isCurrent()) return;
  showError(v.error, '');
  const rows = toolRows(servers, stats);
  const publicNames = [...GATEWAY_TOOLS, ...rows.filter((r) => r.listed).map((r) => `${r.server}__${r.tool}`)];
  const keyNames = new Map(keys.map((k) => [k.id, k.name]));
  v.servers.replaceChildren(servers.length ? serversTable(servers) : el('p', { className: 'muted' }, 'No MCP servers registered.'));
  v.tools.replaceChildren(rows.length ? toolsTable(rows) : el('p', { className: 'muted' }, 'No tools listed or called yet.'));
  v.calls.replaceChildren(calls.length ? callsTable(calls, keyNames) : el('p', { className: 'muted' }, 'No tool calls recorded.'));
  v.keys.replaceChildren(keys.length ? keysTable(keys.filter((k) => k.status !== 'revoked'), publicNames) : el('p', { className: 'muted' }, 'No keys.'));
}

function card(id, title, body, hint) {
  return el('section', { className: 'card', 'aria-labelledby': id },
    el('h2', { id }, title), hint ? el('p', { className: 'hint' }, hint) : null, body);
}

async function mount(root, ctx) {
  view = { ctx, seq: 0 };
  const v = view;
  v.error = errorLine('mcp-error');
  v.servers = el('div');
  v.tools = el('div');
  v.calls = el('div');
  v.keys = el('div');
  root.append(
    el('div', { className: 'section-head' },
      el('h1', { id: 'mcp-title' }, 'MCP servers'),
      el('button', { type: 'button', className: 'secondary', onclick: () => load() }, 'Refresh')),
    v.error,
    card('mcp-servers-title', 'Servers', v.servers),
    card('mcp-tools-title', 'Tools', v.tools, 'Errors count every outcome but ok; p50 and p95 are over the calls that reached the server.'),
    card('mcp-calls-title', 'Recent calls', v.calls),
    card('mcp-keys-title', 'Keys and their tools', v.keys,
      'A key\'s globs match the full names <server>__<tool> and the gateway\'s own tools (chat, models_list); no list means every tool, an empty list none.'));
  await load();
}

function unmount() {
  view = null;
}

export default { id: 'mcp', title: 'MCP servers', mount, unmount };
