// The dashboard's only way to the gateway: same-origin JSON calls to the
// session API (/ui/session) and the admin API (/admin/v1). The session
// cookie is HttpOnly and travels by itself; every write also carries the
// session's CSRF token in X-CSRF-Token, which lives only in this module's
// memory (never in storage).

let csrfToken = '';

/** An answer other than 2xx: its HTTP status and the server's message. */
export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code || '';
  }
}

function messageOf(data, status) {
  const e = data && typeof data === 'object' ? data.error : null;
  if (e && typeof e === 'object' && typeof e.message === 'string' && e.message) {
    return e.message;
  }
  if (typeof e === 'string' && e) return e;
  return `The gateway answered ${status}.`;
}

export async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  const init = {
    method,
    headers,
    credentials: 'same-origin',
    cache: 'no-store',
    redirect: 'error',
    referrerPolicy: 'no-referrer',
  };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'The gateway cannot be reached.');
  }
  let data = null;
  if (res.status !== 204) {
    const text = await res.text();
    if (text) {
      try { data = JSON.parse(text); } catch { data = null; }
    }
  }
  if (!res.ok) {
    const code = data && data.error && typeof data.error.code === 'string' ? data.error.code : '';
    throw new ApiError(res.status, messageOf(data, res.status), code);
  }
  return data;
}

function remember(session) {
  csrfToken = session && typeof session.csrf_token === 'string' ? session.csrf_token : '';
  return session;
}

/** The current session ({name, csrf_token}); ApiError 401 when signed out. */
export async function getSession() {
  return remember(await call('GET', '/ui/session'));
}

/** Signs in with the admin credential; the session. */
export async function signIn(credential) {
  return remember(await call('POST', '/ui/session', { credential }));
}

/** Ends the session (the cookie is cleared by the answer). */
export async function signOut() {
  try {
    await call('DELETE', '/ui/session');
  } finally {
    csrfToken = '';
  }
}

/** Every key, as the admin API lists them. */
export async function listKeys() {
  const data = await call('GET', '/admin/v1/keys');
  return data && Array.isArray(data.data) ? data.data : [];
}

/** Creates a key; the answer holds `secret`, shown this once. */
export function createKey(fields) {
  return call('POST', '/admin/v1/keys', fields);
}

/** Revokes a key by id; the key as it is now. */
export function revokeKey(id) {
  return call('DELETE', `/admin/v1/keys/${encodeURIComponent(id)}`);
}

/** Spend in USD by key id over all recorded usage: a Map. */
export async function spendByKey() {
  const data = await call('GET', '/admin/v1/usage?group=key');
  const spend = new Map();
  const series = data && Array.isArray(data.series) ? data.series : [];
  for (const row of series) {
    if (row && typeof row.key === 'string' && typeof row.cost_usd === 'number') {
      spend.set(row.key, row.cost_usd);
    }
  }
  return spend;
}
