// The response cache's policy of a route or a key ({enabled, ttl_s,
// max_entry_bytes, scope}, every field optional) in words, and read from
// the forms that edit it: a select (default, on, off), a TTL in seconds,
// and for a route the scope.

export const TTL_MAX = 31536000;

/** Whole seconds in the largest unit that divides them: "10 min", "2 h". */
function duration(s) {
  if (s % 86400 === 0) return `${s / 86400} d`;
  if (s % 3600 === 0) return `${s / 3600} h`;
  if (s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

function bytes(n) {
  if (n % 1048576 === 0) return `${n / 1048576} MiB`;
  if (n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** True when p is a policy that sets something. */
export function isSet(p) {
  return !!p && typeof p === 'object' && Object.keys(p).length > 0;
}

/** A policy in words: "on, shared, 10 min", "off"; '' when it sets nothing. */
export function policyText(p) {
  if (!isSet(p)) return '';
  if (p.enabled === false) return 'off';
  const parts = [p.enabled === true ? 'on' : 'gateway default'];
  if (p.scope === 'shared') parts.push('shared');
  else if (p.scope === 'key') parts.push('per key');
  if (typeof p.ttl_s === 'number' && p.ttl_s > 0) parts.push(duration(p.ttl_s));
  if (typeof p.max_entry_bytes === 'number' && p.max_entry_bytes > 0) parts.push(`entries up to ${bytes(p.max_entry_bytes)}`);
  return parts.join(', ');
}

/** The select's value for a policy: 'on', 'off' or '' (the gateway's). */
export function modeOf(p) {
  if (p && p.enabled === true) return 'on';
  if (p && p.enabled === false) return 'off';
  return '';
}

/** The TTL input's text for a policy. */
export function ttlText(p) {
  return p && typeof p.ttl_s === 'number' && p.ttl_s > 0 ? String(p.ttl_s) : '';
}

/**
 * The policy the form says: mode ('', 'on', 'off'), ttl (the input's text)
 * and scope ('key', 'shared' or undefined), on top of what the form does
 * not edit of the policy it started from (max_entry_bytes). Pushes to
 * errors when the TTL is not whole seconds from 1 to 31536000; null when
 * it sets nothing.
 */
export function policyFrom({ mode, ttl, scope, was }, errors) {
  const p = {};
  if (mode === 'on') p.enabled = true;
  else if (mode === 'off') p.enabled = false;
  const raw = String(ttl || '').trim();
  if (raw !== '') {
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isInteger(n) || n < 1 || n > TTL_MAX) {
      errors.push(`The cache TTL is a whole number of seconds from 1 to ${TTL_MAX}.`);
    } else {
      p.ttl_s = n;
    }
  }
  if (was && typeof was.max_entry_bytes === 'number') p.max_entry_bytes = was.max_entry_bytes;
  if (scope) p.scope = scope;
  return Object.keys(p).length ? p : null;
}

/** Two policies (or nulls) that say the same. */
export function samePolicy(a, b) {
  const norm = (p) => (isSet(p) ? JSON.stringify(Object.keys(p).sort().map((k) => [k, p[k]])) : '');
  return norm(a) === norm(b);
}
