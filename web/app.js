// Switchboard's dashboard: sign-in with the admin credential, then the
// keys page. Two views in one page; the session decides which one shows.
import * as api from './api.js';
import { byId, showError, announce } from './dom.js';
import * as keys from './keys.js';

function showView(which) {
  byId('loading').hidden = true;
  byId('signin-view').hidden = which !== 'signin';
  byId('keys-view').hidden = which !== 'keys';
  byId('who').hidden = which !== 'keys';
}

function showSignIn(message) {
  keys.hideSecret();
  byId('keys-body').replaceChildren();
  byId('who-name').textContent = '';
  showView('signin');
  showError(byId('signin-error'), message || '');
  document.title = 'Sign in · Switchboard';
  byId('credential').focus();
}

async function showKeys(session) {
  byId('who-name').textContent = session && typeof session.name === 'string' ? session.name : 'admin';
  showView('keys');
  document.title = 'Keys · Switchboard';
  const title = byId('keys-title');
  title.tabIndex = -1;
  title.focus();
  await keys.refresh();
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
    const session = await api.signIn(credential);
    input.value = '';
    announce('Signed in.');
    await showKeys(session);
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
  byId('signin-form').addEventListener('submit', onSignIn);
  byId('sign-out').addEventListener('click', onSignOut);
  keys.setup(showSignIn);
  try {
    await showKeys(await api.getSession());
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 401) showSignIn('');
    else showSignIn(`The session could not be checked: ${e.message}`);
  }
}

start();
