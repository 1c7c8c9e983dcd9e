// The admin API calls of the operator pages (providers, routes, MCP
// servers, conversations), through api.js's call(): same origin, the
// session cookie, the CSRF token on writes. Path parts are always
// encoded: a name the gateway holds is never read as a path.
import { call } from './api.js';

const enc = encodeURIComponent;

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

const list = (data) => (data && Array.isArray(data.data) ? data.data : []);

/** {data: [provider…], builtin: [provider…]}. */
export async function listProviders() {
  const d = await call('GET', '/admin/v1/providers');
  return { data: list(d), builtin: d && Array.isArray(d.builtin) ? d.builtin : [] };
}

/** Creates or replaces provider name with def (its whole definition). */
export function saveProvider(name, def) {
  return call('POST', `/admin/v1/providers/${enc(name)}`, def);
}

export function deleteProvider(name) {
  return call('DELETE', `/admin/v1/providers/${enc(name)}`);
}

/**
 * Totals of GET /admin/v1/stats for one filter over the last `hours`:
 * {requests, errors, latency_p50_ms, latency_p95_ms, …}. Throws ApiError
 * (404 while the gateway has no stats endpoint).
 */
export async function statsTotals(filter, hours) {
  const until = Math.floor(Date.now() / 1000);
  const d = await call('GET', `/admin/v1/stats${query({ ...filter, since: until - hours * 3600, until })}`);
  return d && d.totals && typeof d.totals === 'object' ? d.totals : null;
}

export async function listRoutes() {
  return list(await call('GET', '/admin/v1/routes'));
}

/** Creates or replaces route name. */
export function saveRoute(name, def) {
  return call('POST', `/admin/v1/routes/${enc(name)}`, def);
}

export function deleteRoute(name) {
  return call('DELETE', `/admin/v1/routes/${enc(name)}`);
}

/** {object: "playground", model, text, latency_ms}. */
export function playground(model, prompt, maxTokens) {
  const body = { model, prompt };
  if (maxTokens) body.max_tokens = maxTokens;
  return call('POST', '/admin/v1/playground', body);
}

export async function mcpServers() {
  return list(await call('GET', '/admin/v1/mcp/servers'));
}

/** Tool-call statistics by server and tool over the last 24 h. */
export async function mcpStats() {
  return list(await call('GET', '/admin/v1/mcp/stats'));
}

export async function mcpCalls(limit) {
  return list(await call('GET', `/admin/v1/mcp/calls${query({ limit })}`));
}

export async function keys() {
  return list(await call('GET', '/admin/v1/keys'));
}

/** A page of conversations: {data, has_more, last_id}. */
export function conversations({ key, limit, after } = {}) {
  return call('GET', `/admin/v1/conversations${query({ key, limit, after })}`);
}

export function conversation(id) {
  return call('GET', `/admin/v1/conversations/${enc(id)}`);
}

/** A page of a conversation's items, oldest first. */
export function conversationItems(id, { limit, after } = {}) {
  return call('GET', `/admin/v1/conversations/${enc(id)}/items${query({ limit, after, order: 'asc' })}`);
}
