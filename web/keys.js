// The keys page: the list (name, prefix, status, limits, spend, created),
// the create form with the secret shown once, and revocation behind a
// confirmation dialog.
import * as api from './api.js';
import { byId, el, showError, announce } from './dom.js';

let onSignedOut = () => {};
let pendingRevoke = null; // {id, name} while the dialog is open
let loadSeq = 0;

function money(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '$0.00';
  if (v > 0 && v < 0.0001) return '< $0.0001';
  return v > 0 && v < 0.01 ? `$${v.toFixed(4)}` : `$${v.toFixed(2)}`;
}

function limitsText(k) {
  const parts = [];
  if (Array.isArray(k.models) && k.models.length) parts.push(`models: ${k.models.join(', ')}`);
  if (k.rpm > 0) parts.push(`${k.rpm} req/min`);
  if (k.tpm > 0) parts.push(`${k.tpm} tok/min`);
  if (k.max_parallel > 0) parts.push(`${k.max_parallel} parallel`);
  if (typeof k.budget_usd === 'number') parts.push(`budget ${money(k.budget_usd)} ${k.budget_period || ''}`.trim());
  if (typeof k.expires_at === 'number') parts.push(`expires ${new Date(k.expires_at * 1000).toISOString().slice(0, 10)}`);
  return parts.length ? parts.join(' · ') : 'none';
}

function createdCell(k) {
  if (typeof k.created_at !== 'number') return el('td', {}, '');
  const d = new Date(k.created_at * 1000);
  return el('td', {}, el('time', { dateTime: d.toISOString() }, d.toLocaleString()));
}

function row(k, spend) {
  const status = typeof k.status === 'string' ? k.status : 'unknown';
  const name = typeof k.name === 'string' ? k.name : '';
  const actions = el('td', { className: 'row-actions' });
  if (status !== 'revoked') {
    actions.append(el('button', {
      type: 'button',
      className: 'danger small',
      textContent: 'Revoke',
      'aria-label': `Revoke ${name}`,
      onclick: () => askRevoke(k.id, name),
    }));
  }
  return el('tr', { 'data-key-id': k.id },
    el('th', { scope: 'row' }, name),
    el('td', {}, el('code', {}, typeof k.prefix === 'string' ? k.prefix : '')),
    el('td', {}, el('span', { className: `badge badge-${status.replace(/[^a-z]/g, '')}` }, status)),
    el('td', {}, limitsText(k)),
    el('td', { className: 'num' }, money(spend.get(k.id) || 0)),
    createdCell(k),
    actions);
}

function signedOutOn(e) {
  if (e instanceof api.ApiError && e.status === 401) {
    onSignedOut('Your session has ended: sign in again.');
    return true;
  }
  return false;
}

/** Loads the list (and the spend, when the usage endpoint answers). */
export async function refresh() {
  const seq = ++loadSeq;
  const listError = byId('list-error');
  let keys;
  let spend = new Map();
  try {
    [keys, spend] = await Promise.all([
      api.listKeys(),
      // Spend is a nicety: the list shows without it (a 401 still ends the session).
      api.spendByKey().catch((e) => {
        if (e instanceof api.ApiError && e.status === 401) throw e;
        return new Map();
      }),
    ]);
  } catch (e) {
    if (seq !== loadSeq || signedOutOn(e)) return;
    showError(listError, `The keys could not be loaded: ${e.message}`);
    return;
  }
  if (seq !== loadSeq) return;
  showError(listError, '');
  keys.sort((a, b) => (b.created_at || 0) - (a.created_at || 0));
  byId('keys-body').replaceChildren(...keys.map((k) => row(k, spend)));
  byId('keys-empty').hidden = keys.length > 0;
}

function intField(form, name, label, errors) {
  const raw = form.elements[name].value.trim();
  if (raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    errors.push(`${label} must be a whole number of 0 or more.`);
    return undefined;
  }
  return n;
}

function fieldsOf(form) {
  const errors = [];
  const body = {};
  const name = form.elements.name.value.trim();
  if (!name) errors.push('A name is needed.');
  body.name = name;
  const models = form.elements.models.value.split(',').map((s) => s.trim()).filter(Boolean);
  if (models.length) body.models = models;
  const rpm = intField(form, 'rpm', 'Requests per minute', errors);
  if (rpm !== undefined) body.rpm = rpm;
  const tpm = intField(form, 'tpm', 'Tokens per minute', errors);
  if (tpm !== undefined) body.tpm = tpm;
  const budget = form.elements.budget_usd.value.trim();
  if (budget !== '') {
    const b = Number(budget);
    if (!Number.isFinite(b) || b < 0) {
      errors.push('The budget must be a number of 0 or more.');
    } else {
      body.budget_usd = b;
      body.budget_period = form.elements.budget_period.value;
    }
  }
  return { body, errors };
}

function showSecret(name, secret) {
  byId('secret-key-name').textContent = name;
  byId('secret-value').value = secret;
  byId('copy-status').textContent = '';
  const panel = byId('secret-panel');
  panel.hidden = false;
  panel.focus();
}

/** Hides the secret and forgets it (the page keeps no copy). */
export function hideSecret() {
  byId('secret-value').value = '';
  byId('secret-key-name').textContent = '';
  byId('copy-status').textContent = '';
  byId('secret-panel').hidden = true;
}

async function copySecret() {
  const input = byId('secret-value');
  const status = byId('copy-status');
  try {
    await navigator.clipboard.writeText(input.value);
    status.textContent = 'Copied to the clipboard.';
  } catch {
    input.focus();
    input.select();
    status.textContent = 'Copying is not allowed here: the secret is selected, press Ctrl+C.';
  }
}

async function onCreate(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = byId('create-error');
  const { body, errors } = fieldsOf(form);
  if (errors.length) {
    showError(error, errors.join(' '));
    form.elements.name.focus();
    return;
  }
  const submit = byId('create-submit');
  submit.disabled = true;
  showError(error, '');
  try {
    const key = await api.createKey(body);
    form.reset();
    showSecret(key.name, key.secret);
    announce(`Key ${key.name} created.`);
    await refresh();
  } catch (e) {
    if (!signedOutOn(e)) showError(error, `The key was not created: ${e.message}`);
  } finally {
    submit.disabled = false;
  }
}

function askRevoke(id, name) {
  pendingRevoke = { id, name };
  byId('revoke-name').textContent = name;
  byId('revoke-dialog').showModal();
  byId('revoke-cancel').focus();
}

async function confirmRevoke() {
  const target = pendingRevoke;
  const dialog = byId('revoke-dialog');
  pendingRevoke = null;
  dialog.close();
  if (!target) return;
  try {
    await api.revokeKey(target.id);
    announce(`Key ${target.name} revoked.`);
  } catch (e) {
    if (signedOutOn(e)) return;
    showError(byId('list-error'), `The key was not revoked: ${e.message}`);
  }
  await refresh();
  byId('list-title').focus();
}

/** Wires the page's controls once; signedOut(message) is called on a 401. */
export function setup(signedOut) {
  onSignedOut = signedOut;
  byId('create-form').addEventListener('submit', onCreate);
  byId('copy-secret').addEventListener('click', copySecret);
  byId('secret-done').addEventListener('click', () => {
    hideSecret();
    byId('key-name').focus();
  });
  byId('refresh').addEventListener('click', () => { refresh(); });
  byId('revoke-cancel').addEventListener('click', () => {
    pendingRevoke = null;
    byId('revoke-dialog').close();
  });
  byId('revoke-confirm').addEventListener('click', confirmRevoke);
  byId('revoke-dialog').addEventListener('close', () => { pendingRevoke = null; });
  byId('list-title').tabIndex = -1;
}
