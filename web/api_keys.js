// The keys page's admin API calls beyond api.js's: editing a key and the
// spend of every key since a time (for budgets of a period).
import { call } from './api.js';

/** Edits the fields given of the key with this id; the key as it is now. */
export function updateKey(id, fields) {
  return call('POST', `/admin/v1/keys/${encodeURIComponent(id)}`, fields);
}

/** Spend in USD by key id since `since` (a date, ISO time or unix
 * seconds; '' for all recorded usage): a Map. */
export async function spendSince(since) {
  const q = since ? `&since=${encodeURIComponent(String(since))}` : '';
  const data = await call('GET', `/admin/v1/usage?group=key${q}`);
  const spend = new Map();
  const series = data && Array.isArray(data.series) ? data.series : [];
  for (const row of series) {
    if (row && typeof row.key === 'string' && typeof row.cost_usd === 'number') {
      spend.set(row.key, (spend.get(row.key) || 0) + row.cost_usd);
    }
  }
  return spend;
}
