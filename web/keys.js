// The keys page: the list (name, prefix, status, limits, spend against
// the budget, created, role), the create form (with the role) and the
// secret shown once, editing a key's limits and response cache policy in
// a dialog, and revocation
// behind a confirmation dialog. A read-only (viewer) session sees the list
// only: no create, edit or revoke controls (the server refuses those
// writes anyway).
import * as api from './api.js';
import { updateKey, spendSince } from './api_keys.js';
import { byId, el, showError, announce } from './dom.js';
import { isSet, policyText, modeOf, ttlText, policyFrom, samePolicy } from './cache_ui.js';

let onSignedOut = () => {};
let pendingRevoke = null; // {id, name} while the dialog is open
let editing = null; // {key, opener} while the edit dialog is open
let loadSeq = 0;

const PERIOD_WORD = { daily: 'today', weekly: 'this week', monthly: 'this month', total: 'in total' };

function readOnly() {
  return document.body.classList.contains('read-only');
}

/** Start (unix s) of the budget period containing now, UTC, as the
 * gateway counts it: a day, a week from Monday, a calendar month; 0 for
 * total. */
export function periodStart(period, now = new Date()) {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  if (period === 'daily') return Date.UTC(y, m, d) / 1000;
  if (period === 'weekly') return Date.UTC(y, m, d - ((now.getUTCDay() + 6) % 7)) / 1000;
  if (period === 'monthly') return Date.UTC(y, m, 1) / 1000;
  return 0;
}

/** periodStart() as the date (YYYY-MM-DD) the admin API takes. */
function periodDate(period) {
  return new Date(periodStart(period) * 1000).toISOString().slice(0, 10);
}

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
  if (Array.isArray(k.mcp_tools)) parts.push(k.mcp_tools.length ? `MCP tools: ${k.mcp_tools.join(', ')}` : 'no MCP tools');
  if (typeof k.budget_usd === 'number') parts.push(`budget ${money(k.budget_usd)} ${k.budget_period || ''}`.trim());
  if (typeof k.expires_at === 'number') parts.push(`expires ${new Date(k.expires_at * 1000).toISOString().slice(0, 10)}`);
  if (isSet(k.cache)) parts.push(`cache: ${policyText(k.cache)}`);
  return parts.length ? parts.join(' · ') : 'none';
}

function createdCell(k) {
  if (typeof k.created_at !== 'number') return el('td', {}, '');
  const d = new Date(k.created_at * 1000);
  return el('td', {}, el('time', { dateTime: d.toISOString() }, d.toLocaleString()));
}

/** The spend cell: the spend in the budget's period against the budget,
 * with a meter, or the spend over all recorded usage. */
function spendCell(k, name, spends) {
  const td = el('td', { className: 'num' });
  const hasBudget = typeof k.budget_usd === 'number' && k.budget_usd >= 0;
  const period = hasBudget && PERIOD_WORD[k.budget_period] ? k.budget_period : '';
  if (!period) {
    td.append(money(spends.all.get(k.id) || 0));
    return td;
  }
  const spent = (spends[period] || spends.all).get(k.id) || 0;
  td.append(el('span', {}, `${money(spent)} of ${money(k.budget_usd)} ${period}`));
  const label = `Spend of ${name} ${PERIOD_WORD[period]}: ${money(spent)} of a ${money(k.budget_usd)} ${period} budget`;
  td.append(el('meter', {
    className: 'budget-meter',
    min: 0,
    max: k.budget_usd > 0 ? k.budget_usd : 1,
    low: k.budget_usd * 0.75,
    high: k.budget_usd * 0.9,
    optimum: 0,
    value: k.budget_usd > 0 ? Math.min(spent, k.budget_usd) : 1,
    'aria-label': label,
    title: label,
  }));
  return td;
}

function row(k, spends) {
  const status = typeof k.status === 'string' ? k.status : 'unknown';
  const name = typeof k.name === 'string' ? k.name : '';
  const role = typeof k.role === 'string' ? k.role : 'gateway';
  const actions = el('td', { className: 'row-actions' });
  if (status !== 'revoked' && !readOnly()) {
    actions.append(el('button', {
      type: 'button',
      className: 'secondary small',
      textContent: 'Edit',
      'aria-label': `Edit ${name}`,
      'aria-haspopup': 'dialog',
      'data-edit': k.id,
      onclick: (event) => openEdit(k, event.currentTarget),
    }), ' ');
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
    spendCell(k, name, spends),
    createdCell(k),
    el('td', {}, el('span', { className: `role role-${role.replace(/[^a-z]/g, '')}` }, role)),
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
  const ro = readOnly();
  byId('create-card').hidden = ro;
  byId('read-only-note').hidden = !ro;
  if (ro) hideSecret();
  let keys;
  const spends = { all: new Map() };
  // Spend is a nicety: the list shows without it (a 401 still ends the session).
  const spendOf = (since) => spendSince(since).catch((e) => {
    if (e instanceof api.ApiError && e.status === 401) throw e;
    return new Map();
  });
  try {
    // All at once: the spend since each period's start is a whole-days
    // query (periods start at a UTC midnight), which the gateway answers
    // from its daily roll-ups, so the three extra calls are cheap.
    [keys, spends.all, spends.daily, spends.weekly, spends.monthly] = await Promise.all([
      api.listKeys(), spendOf(''), spendOf(periodDate('daily')), spendOf(periodDate('weekly')),
      spendOf(periodDate('monthly')),
    ]);
  } catch (e) {
    if (seq !== loadSeq || signedOutOn(e)) return;
    showError(listError, `The keys could not be loaded: ${e.message}`);
    return;
  }
  if (seq !== loadSeq) return;
  showError(listError, '');
  keys.sort((a, b) => (b.created_at || 0) - (a.created_at || 0));
  byId('keys-body').replaceChildren(...keys.map((k) => row(k, spends)));
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
  const role = form.elements.role.value;
  if (role === 'admin' || role === 'viewer') body.role = role;
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

const listOf = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

function dateOf(unixS) {
  return typeof unixS === 'number' && unixS > 0 ? new Date(unixS * 1000).toISOString().slice(0, 10) : '';
}

function syncToolsField() {
  const input = byId('edit-tools');
  input.disabled = byId('edit-tools-mode').value !== 'list';
}

function openEdit(k, opener) {
  const form = byId('edit-form');
  editing = { key: k, opener };
  byId('edit-name').textContent = typeof k.name === 'string' ? k.name : '';
  form.elements.rpm.value = String(k.rpm || 0);
  form.elements.tpm.value = String(k.tpm || 0);
  form.elements.max_parallel.value = String(k.max_parallel || 0);
  const hasBudget = typeof k.budget_usd === 'number' && k.budget_usd >= 0;
  form.elements.budget_usd.value = hasBudget ? String(k.budget_usd) : '';
  form.elements.budget_period.value = hasBudget && PERIOD_WORD[k.budget_period] ? k.budget_period : 'monthly';
  form.elements.expires.value = dateOf(k.expires_at);
  form.elements.models.value = Array.isArray(k.models) ? k.models.join(', ') : '';
  const tools = Array.isArray(k.mcp_tools) ? k.mcp_tools : null;
  form.elements.tools_mode.value = !tools ? 'any' : tools.length ? 'list' : 'none';
  form.elements.mcp_tools.value = tools ? tools.join(', ') : '';
  form.elements.cache_mode.value = modeOf(k.cache);
  form.elements.cache_ttl.value = ttlText(k.cache);
  syncToolsField();
  showError(byId('edit-error'), '');
  byId('edit-dialog').showModal();
  byId('edit-rpm').focus();
}

/** The edit form as a POST body, or the reasons it cannot be one. The
 * cache policy is sent only when it changed (null clears it); a key's
 * policy never shares (no scope: what the key had is kept). */
function editBody(form, k) {
  const errors = [];
  const body = {};
  for (const [name, label] of [['rpm', 'Max requests a minute'], ['tpm', 'Max tokens a minute'],
    ['max_parallel', 'Max parallel requests']]) {
    const n = intField(form, name, label, errors);
    body[name] = n === undefined ? 0 : n;
  }
  const budget = form.elements.budget_usd.value.trim();
  if (budget === '') {
    body.budget_usd = null;
    body.budget_period = '';
  } else {
    const b = Number(budget);
    if (!Number.isFinite(b) || b < 0) errors.push('The budget must be a number of 0 or more.');
    body.budget_usd = b;
    body.budget_period = form.elements.budget_period.value;
  }
  const exp = form.elements.expires.value;
  if (exp === '') {
    body.expires_at = null;
  } else {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(exp);
    if (!m) errors.push('The expiry must be a date.');
    else body.expires_at = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 1000;
  }
  body.models = listOf(form.elements.models.value);
  const mode = form.elements.tools_mode.value;
  if (mode === 'any') {
    body.mcp_tools = null;
  } else if (mode === 'none') {
    body.mcp_tools = [];
  } else {
    body.mcp_tools = listOf(form.elements.mcp_tools.value);
    if (!body.mcp_tools.length) errors.push('List at least one tool glob, or choose "No tool".');
  }
  const was = isSet(k.cache) ? k.cache : null;
  const cache = policyFrom({
    mode: form.elements.cache_mode.value, ttl: form.elements.cache_ttl.value, scope: was ? was.scope : undefined, was,
  }, errors);
  if (!samePolicy(cache, was)) body.cache = cache;
  return { body, errors };
}

async function onEditSave(event) {
  event.preventDefault();
  if (!editing) return;
  const form = event.currentTarget;
  const error = byId('edit-error');
  const { body, errors } = editBody(form, editing.key);
  if (errors.length) {
    showError(error, errors.join(' '));
    return;
  }
  const save = byId('edit-save');
  const target = editing.key;
  save.disabled = true;
  showError(error, '');
  try {
    await updateKey(target.id, body);
  } catch (e) {
    if (!signedOutOn(e)) showError(error, `The key was not changed: ${e.message}`);
    return;
  } finally {
    save.disabled = false;
  }
  byId('edit-dialog').close();
  announce(`Key ${target.name} changed.`);
  await refresh();
  focusEditButton(target.id);
}

/** Back to the Edit button of key id (the row may have been redrawn). */
function focusEditButton(id) {
  const button = [...byId('keys-body').querySelectorAll('button[data-edit]')]
    .find((b) => b.getAttribute('data-edit') === id);
  if (button) button.focus();
}

function onEditClosed() {
  // A close event is queued: by the time it runs the dialog may be open
  // again (Escape, then Enter on the same button), for the same or
  // another key. Then it is not this closing's business.
  if (byId('edit-dialog').open) return;
  const was = editing;
  editing = null;
  if (!was) return;
  if (was.opener && was.opener.isConnected) was.opener.focus();
  else focusEditButton(was.key.id);
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
  byId('edit-form').addEventListener('submit', onEditSave);
  byId('edit-tools-mode').addEventListener('change', syncToolsField);
  byId('edit-cancel').addEventListener('click', () => byId('edit-dialog').close());
  // Escape, Cancel and Save all close it; the focus goes back to the row.
  byId('edit-dialog').addEventListener('close', onEditClosed);
  byId('list-title').tabIndex = -1;
}
