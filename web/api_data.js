// The admin API calls of the data pages (overview, usage, request log):
// statistics, the request log and its records, and the lists their
// filters choose from. Query values travel as URL parameters; empty ones
// are left out, so "any" is never sent as a value.
import { call } from './api.js';

/** A query string of the non-empty values of obj ('' when none). */
export function query(obj) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(obj || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** GET /admin/v1/stats with these parameters (since, until, bucket, group, filters, top). */
export function stats(params) {
  return call('GET', `/admin/v1/stats${query(params)}`);
}

/** One page of the request log: {data, has_more, next_before_id}. */
export function requests(params) {
  return call('GET', `/admin/v1/requests${query(params)}`);
}

/** One request record with its attempts and (when logged) its bodies. */
export function requestDetail(id) {
  return call('GET', `/admin/v1/requests/${encodeURIComponent(id)}`);
}

/** Every route ([{name, …}]). */
export async function listRoutes() {
  const data = await call('GET', '/admin/v1/routes');
  return data && Array.isArray(data.data) ? data.data : [];
}

/** The same-origin URL of the usage CSV for these parameters. */
export function usageCsvUrl(params) {
  return `/admin/v1/usage.csv${query(params)}`;
}
