// Switchboard's dashboard shell: sign-in with the admin credential, then
// the pages of pages.js behind a hash router (#/<page>?<params>), so that
// every view (a filtered request log, a chart's range) has a link that
// can be shared, bookmarked and reloaded.
import * as api from './api.js';
import { byId, el, showError, announce } from './dom.js';
import * as keys from './keys.js';
import { pages, pageById } from './pages.js';

let session = null;
let current = null; // the mounted page object
let mountSeq = 0;

function showView(which) {
  byId('loading').hidden = true;
  byId('signin-view').hidden = which !== 'signin';
  byId('keys-view').hidden = which !== 'keys';
  byId('page-view').hidden = which !== 'page';
  byId('who').hidden = which === 'signin';
  byId('nav').hidden = which === 'signin';
}

function unmountCurrent() {
  if (current && typeof current.unmount === 'function') {
    try { current.unmount(); } catch { /* a page's cleanup never blocks the next */ }
  }
  current = null;
}

function showSignIn(message) {
  unmountCurrent();
  session = null;
  keys.hideSecret();
  byId('keys-body').replaceChildren();
  byId('page-view').replaceChildren();
  byId('who-name').textContent = '';
  showView('signin');
  showError(byId('signin-error'), message || '');
  document.title = 'Sign in · Switchboard';
  byId('credential').focus();
}

/** The hash as {id, params}: "#/requests?model=x" → requests, model=x. */
function parseHash() {
  const h = window.location.hash.replace(/^#\/?/, '');
  const q = h.indexOf('?');
  const id = decodeURIComponent(q < 0 ? h : h.slice(0, q));
  const params = new URLSearchParams(q < 0 ? '' : h.slice(q + 1));
  return { id: pageById(id) ? id : pages[0].id, params };
}

/** Goes to page id with params (an object or URLSearchParams). */
export function navigate(id, params) {
  const qs = new URLSearchParams(params || {}).toString();
  const hash = `#/${encodeURIComponent(id)}${qs ? `?${qs}` : ''}`;
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

function failed(e, node) {
  if (e instanceof api.ApiError && e.status === 401) {
    showSignIn('Your session has ended: sign in again.');
    return;
  }
  if (node) showError(node, e && e.message ? e.message : String(e));
}

function buildNav() {
  const list = byId('nav-list');
  list.replaceChildren(...pages.map((p) => el('li', {},
    el('a', { href: `#/${p.id}`, id: `nav-${p.id}` }, p.title))));
}

function markNav(id) {
  for (const p of pages) {
    const a = document.getElementById(`nav-${p.id}`);
    if (!a) continue;
    if (p.id === id) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function route() {
  if (!session) return;
  const { id, params } = parseHash();
  const page = pageById(id);
  const seq = ++mountSeq;
  unmountCurrent();
  markNav(id);
  document.title = `${page.title} · Switchboard`;
  if (page.static) {
    byId('page-view').replaceChildren();
    showView('keys');
    const title = byId('keys-title');
    title.tabIndex = -1;
    title.focus();
    await keys.refresh();
    return;
  }
  const root = byId('page-view');
  root.replaceChildren();
  root.setAttribute('aria-labelledby', `${page.id}-title`);
  showView('page');
  current = page;
  const ctx = { params, navigate, signedOut: showSignIn, session, failed, isCurrent: () => seq === mountSeq };
  try {
    await page.mount(root, ctx);
  } catch (e) {
    if (seq === mountSeq) failed(e, root.appendChild(el('p', { className: 'error', role: 'alert' })));
  }
  const title = document.getElementById(`${page.id}-title`);
  if (title && seq === mountSeq) {
    title.tabIndex = -1;
    title.focus();
  }
}

async function signedIn(s) {
  session = s;
  byId('who-name').textContent = s && typeof s.name === 'string' ? s.name : 'admin';
  document.body.classList.toggle('read-only', !!(s && s.read_only));
  await route();
}

async function onSignIn(event) {
  event.preventDefault();
  const input = byId('credential');
  const error = byId('signin-error');
  const submit = byId('signin-submit');
  const credential = input.value;
  if (!credential) {
    showError(error, 'Enter the admin key.');
    input.focus();
    return;
  }
  submit.disabled = true;
  showError(error, '');
  try {
    const s = await api.signIn(credential);
    input.value = '';
    announce('Signed in.');
    await signedIn(s);
  } catch (e) {
    let text = `Sign-in failed: ${e.message}`;
    if (e instanceof api.ApiError && e.status === 401) text = 'That admin key is not right.';
    else if (e instanceof api.ApiError && e.status === 403) text = 'That key is not an admin key.';
    else if (e instanceof api.ApiError && e.status === 429) text = 'Too many attempts: wait a moment.';
    showError(error, text);
    input.select();
    input.focus();
  } finally {
    submit.disabled = false;
  }
}

async function onSignOut() {
  try {
    await api.signOut();
  } catch {
    // The session is gone from this page either way.
  }
  showSignIn('');
  announce('Signed out.');
}

async function start() {
  buildNav();
  byId('signin-form').addEventListener('submit', onSignIn);
  byId('sign-out').addEventListener('click', onSignOut);
  window.addEventListener('hashchange', () => { route(); });
  keys.setup(showSignIn);
  try {
    await signedIn(await api.getSession());
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 401) showSignIn('');
    else showSignIn(`The session could not be checked: ${e.message}`);
  }
}

start();
