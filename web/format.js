// Numbers and times in words for the data pages. A value the gateway did
// not measure (null) is said as such, never as 0.

/** 12345 → "12,345". */
export function int(v) {
  return typeof v === 'number' && Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '—';
}

/** USD with enough digits that small costs do not read as $0.00. */
export function money(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  if (v > 0 && v < 0.0001) return '< $0.0001';
  return v > 0 && v < 0.01 ? `$${v.toFixed(4)}` : `$${v.toFixed(2)}`;
}

/** A measure with the digits it needs: 1,234 · 12.3 · 0.42. */
export function num(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  if (Math.abs(v) >= 100 || Number.isInteger(v)) return Math.round(v).toLocaleString('en-US');
  return String(Number(v.toPrecision(Math.abs(v) >= 1 ? 3 : 2)));
}

/** Milliseconds (a gateway's own time is often below one), or "not measured" for null. */
export function ms(v) {
  return typeof v === 'number' && Number.isFinite(v) ? `${num(v)} ms` : 'not measured';
}

/** part/whole as a percentage, "—" when whole is 0. */
export function pct(part, whole) {
  if (!(whole > 0)) return '—';
  const p = (100 * part) / whole;
  return `${p < 10 && p > 0 ? p.toFixed(1) : Math.round(p)}%`;
}

/** "n thing" / "n things". */
export function plural(n, word) {
  return `${int(n)} ${word}${n === 1 ? '' : 's'}`;
}

/** A unix time (seconds) as "YYYY-MM-DD HH:MM:SS UTC". */
export function utc(sec) {
  if (typeof sec !== 'number' || !Number.isFinite(sec)) return '—';
  return `${new Date(sec * 1000).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Today's 00:00 UTC and this month's first day 00:00 UTC, unix seconds. */
export function dayAndMonthStart(now = new Date()) {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  return {
    day: Date.UTC(y, m, now.getUTCDate()) / 1000,
    month: Date.UTC(y, m, 1) / 1000,
  };
}
