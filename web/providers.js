// The providers page: every provider with its kind, base URL, the NAME of
// the environment variable holding its credential (never a value: the
// gateway stores none), its models and the router's health; latency and
// error rate per provider and per model over the last hour and 24 hours
// (from /admin/v1/stats when the gateway has it); a form to add or edit
// one, and deletion behind a confirmation.
import * as api from './api_ops.js';
import { ApiError } from './api.js';
import { el, showError, announce } from './dom.js';
import { table, ms, pct, badge, confirmDialog, field, errorLine } from './ops_ui.js';

const KINDS = ['openai', 'azure', 'anthropic', 'gemini', 'cohere', 'ollama', 'bedrock'];
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
const PROVIDER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_MODEL_ROWS = 24; // per-model statistics asked for, at most
const WINDOWS = [{ hours: 1, label: 'Last hour' }, { hours: 24, label: 'Last 24 h' }];
// Fields of a GET entry that are the gateway's, not the definition's.
const READ_ONLY = ['name', 'source', 'updated_at', 'status', 'health'];

let view = null; // this mount's state; null once unmounted

function healthCell(h) {
  const cell = el('td', {});
  if (!h || typeof h !== 'object') {
    cell.append('—');
    return cell;
  }
  cell.append(badge(h.state));
  return cell;
}

function windowText(t) {
  if (t === undefined) return '…';
  if (t === null) return '—';
  if (!t.requests) return 'no requests';
  return `p50 ${ms(t.latency_p50_ms)} · p95 ${ms(t.latency_p95_ms)} · errors ${pct(t.errors || 0, t.requests)} of ${t.requests}`;
}

function modelsOf(p) {
  const set = new Set();
  if (p.status && Array.isArray(p.status.models)) p.status.models.forEach((m) => set.add(String(m)));
  else if (Array.isArray(p.models)) p.models.forEach((m) => set.add(String(m)));
  if (p.health && Array.isArray(p.health.models)) p.health.models.forEach((m) => set.add(String(m.model)));
  return [...set];
}

function modelsText(p) {
  const ms_ = modelsOf(p);
  if (!ms_.length) return p.status && p.status.models === null ? 'unknown (any model passes)' : '—';
  return ms_.length > 6 ? `${ms_.slice(0, 6).join(', ')} and ${ms_.length - 6} more` : ms_.join(', ');
}

function providerRow(p, stats) {
  const actions = el('td', { className: 'row-actions write-control' });
  if (p.source !== 'builtin' && !view.readOnly) {
    actions.append(
      el('button', { type: 'button', className: 'secondary small', 'aria-label': `Edit ${p.name}`, onclick: () => editProvider(p) }, 'Edit'),
      ' ',
      el('button', { type: 'button', className: 'danger small', 'aria-label': `Delete ${p.name}`, onclick: () => askDelete(p.name) }, 'Delete'));
  }
  const st = stats.get(`p:${p.name}`) || [];
  return {
    tr: el('tr', { 'data-provider': p.name }),
    cells: [
      { th: p.name },
      typeof p.kind === 'string' ? p.kind : '',
      el('td', {}, p.base_url ? el('code', {}, String(p.base_url)) : (p.source === 'builtin' ? 'built in' : 'default')),
      el('td', {}, typeof p.api_key_env === 'string' ? el('code', {}, p.api_key_env) : '—'),
      modelsText(p),
      healthCell(p.health),
      windowText(st[0]),
      windowText(st[1]),
      actions,
    ],
  };
}

function modelRows(all, stats) {
  const rows = [];
  for (const p of all) {
    const hs = new Map(((p.health && p.health.models) || []).map((m) => [m.model, m]));
    for (const m of modelsOf(p)) {
      if (rows.length >= MAX_MODEL_ROWS) return rows;
      const h = hs.get(m);
      const st = stats.get(`m:${p.name}/${m}`) || [];
      let router = '—';
      if (h) {
        router = `${ms(h.ewma_ttfb_ms)}${h.consecutive_failures ? ` · ${h.consecutive_failures} failed in a row` : ''}`;
        if (h.cooling_down) router += ` · cooling down ${Math.ceil(h.cooldown_remaining_ms / 1000)} s`;
      }
      rows.push([{ th: `${p.name}/${m}` }, healthCell(h || { state: 'unknown' }), router, windowText(st[0]), windowText(st[1])]);
    }
  }
  return rows;
}

function render(all, stats) {
  const v = view;
  v.list.replaceChildren(table('Providers with their credential variable, models, health, latency and error rate',
    ['Name', 'Kind', 'Base URL', 'Credential variable', 'Models', 'Health', 'Last hour', 'Last 24 h', el('span', { className: 'visually-hidden' }, 'Actions')],
    all.map((p) => providerRow(p, stats)), { id: 'providers-table' }));
  v.models.replaceChildren(table('Models by provider: health from the router, latency and error rate',
    ['Model', 'Health', 'Router: time to first byte', 'Last hour', 'Last 24 h'],
    modelRows(all, stats), { id: 'provider-models-table' }));
  v.empty.hidden = all.length > 0;
}

/** Fills stats (a Map "p:name" / "m:provider/model" → [1 h, 24 h]). */
async function loadStats(all, stats, seq) {
  const v = view;
  const jobs = [];
  for (const p of all) jobs.push([`p:${p.name}`, { provider: p.name }]);
  let n = 0;
  for (const p of all) {
    for (const m of modelsOf(p)) {
      if (n++ >= MAX_MODEL_ROWS) break;
      jobs.push([`m:${p.name}/${m}`, { model: `${p.name}/${m}` }]);
    }
  }
  if (!jobs.length) return;
  try {
    // One probe first: a gateway without the endpoint answers 404 once.
    await api.statsTotals(jobs[0][1], 1);
  } catch (e) {
    if (!view || view !== v || seq !== v.seq) return;
    if (e instanceof ApiError && e.status === 401) throw e;
    for (const [k] of jobs) stats.set(k, [null, null]);
    v.statsNote.textContent = e instanceof ApiError && e.status === 404
      ? 'Latency and error rates need GET /admin/v1/stats, which this gateway does not serve yet: shown as —.'
      : `Latency and error rates could not be loaded: ${e.message}`;
    v.statsNote.hidden = false;
    return;
  }
  await Promise.all(jobs.map(async ([k, filter]) => {
    const out = [];
    for (const w of WINDOWS) {
      try {
        out.push(await api.statsTotals(filter, w.hours));
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) throw e;
        out.push(null);
      }
    }
    stats.set(k, out);
  }));
}

async function load() {
  const v = view;
  const seq = ++v.seq;
  let res;
  try {
    res = await api.listProviders();
  } catch (e) {
    if (view === v && seq === v.seq) v.ctx.failed(e, v.listError);
    return;
  }
  if (view !== v || seq !== v.seq || !v.ctx.isCurrent()) return;
  showError(v.listError, '');
  const all = [...res.builtin, ...res.data];
  const stats = new Map();
  render(all, stats);
  try {
    await loadStats(all, stats, seq);
  } catch (e) {
    if (view === v) v.ctx.failed(e, v.listError);
    return;
  }
  if (view !== v || seq !== v.seq || !v.ctx.isCurrent()) return;
  render(all, stats);
  v.list.setAttribute('aria-busy', 'false');
}

function input(id, attrs = {}) {
  return el('input', { id, name: id, autocomplete: 'off', spellcheck: false, ...attrs });
}

function resetForm() {
  const v = view;
  v.form.reset();
  v.editing = null;
  v.formTitle.textContent = 'Add a provider';
  v.nameInput.readOnly = false;
  v.cancelEdit.hidden = true;
  showError(v.formError, '');
}

function editProvider(p) {
  const v = view;
  v.editing = p;
  v.formTitle.textContent = `Edit provider ${p.name}`;
  v.nameInput.value = p.name;
  v.nameInput.readOnly = true;
  v.kindSelect.value = KINDS.includes(p.kind) ? p.kind : KINDS[0];
  v.baseInput.value = typeof p.base_url === 'string' ? p.base_url : '';
  v.envInput.value = typeof p.api_key_env === 'string' ? p.api_key_env : '';
  v.modelsInput.value = Array.isArray(p.models) ? p.models.join(', ') : '';
  v.cancelEdit.hidden = false;
  showError(v.formError, '');
  v.kindSelect.focus();
}

/** The definition the form describes, or {errors}. */
function formDefinition() {
  const v = view;
  const errors = [];
  const name = v.nameInput.value.trim();
  if (!PROVIDER_NAME.test(name)) errors.push('The name is 1 to 64 of A–Z, a–z, 0–9, "_", "." and "-".');
  const def = {};
  if (v.editing) {
    for (const [k, val] of Object.entries(v.editing)) if (!READ_ONLY.includes(k)) def[k] = val;
  }
  def.kind = v.kindSelect.value;
  const base = v.baseInput.value.trim();
  if (base && !/^https?:\/\/[^\s]+$/.test(base)) errors.push('The base URL starts with http:// or https://.');
  if (base) def.base_url = base; else delete def.base_url;
  const env = v.envInput.value.trim();
  if (env && !ENV_NAME.test(env)) errors.push('The credential variable is an environment variable NAME such as OPENAI_API_KEY (A–Z, 0–9, "_"), never the key itself.');
  if (env) def.api_key_env = env; else delete def.api_key_env;
  const models = v.modelsInput.value.split(',').map((s) => s.trim()).filter(Boolean);
  if (models.length) def.models = models; else delete def.models;
  return { name, def, errors };
}

async function onSave(event) {
  event.preventDefault();
  const v = view;
  const { name, def, errors } = formDefinition();
  if (errors.length) {
    showError(v.formError, errors.join(' '));
    return;
  }
  v.saveBtn.disabled = true;
  showError(v.formError, '');
  try {
    await api.saveProvider(name, def);
    if (view !== v) return;
    announce(`Provider ${name} saved.`);
    resetForm();
    await load();
  } catch (e) {
    if (view === v) v.ctx.failed(e, v.formError);
  } finally {
    v.saveBtn.disabled = false;
  }
}

async function askDelete(name) {
  const v = view;
  const ok = await confirmDialog({
    title: 'Delete this provider?',
    text: `Requests for ${name}'s models fail from now on, and routes that name it skip it. Its definition is gone.`,
    confirm: 'Delete',
  });
  if (!ok || view !== v) return;
  try {
    await api.deleteProvider(name);
    announce(`Provider ${name} deleted.`);
  } catch (e) {
    if (view === v) v.ctx.failed(e, v.listError);
  }
  if (view !== v) return;
  await load();
  // The row and its button are gone: the focus goes to the list.
  const head = document.getElementById('providers-list-title');
  if (head && view === v) {
    head.tabIndex = -1;
    head.focus();
  }
}

function buildForm() {
  const v = view;
  v.nameInput = input('provider-name', { required: true, maxLength: 64 });
  v.kindSelect = el('select', { id: 'provider-kind', name: 'kind' }, ...KINDS.map((k) => el('option', { value: k }, k)));
  v.baseInput = input('provider-base-url', { type: 'url', placeholder: 'https://api.example.com/v1' });
  v.envInput = input('provider-env', { placeholder: 'OPENAI_API_KEY', 'aria-describedby': 'provider-env-hint' });
  v.modelsInput = input('provider-models');
  v.formError = errorLine('provider-form-error');
  v.saveBtn = el('button', { type: 'submit', id: 'provider-save' }, 'Save provider');
  v.cancelEdit = el('button', { type: 'button', className: 'secondary', hidden: true, onclick: resetForm }, 'Cancel editing');
  v.formTitle = el('h2', { id: 'provider-form-title' }, 'Add a provider');
  v.form = el('form', { className: 'grid-form', 'aria-labelledby': 'provider-form-title' },
    field('Name', v.nameInput),
    field('Kind', v.kindSelect),
    field('Base URL', v.baseInput, 'empty: the kind\'s default'),
    field('Credential variable', v.envInput, 'a NAME'),
    field('Models', v.modelsInput, 'comma-separated; empty: listed by the provider'),
    el('div', { className: 'actions' }, v.saveBtn, v.cancelEdit),
    v.formError);
  v.form.addEventListener('submit', onSave);
  return el('section', { className: 'card write-control', 'aria-labelledby': 'provider-form-title' },
    v.formTitle,
    el('p', { id: 'provider-env-hint', className: 'hint' },
      'The gateway never stores a credential: name the environment variable that holds it, and start the gateway with it set.'),
    v.form);
}

async function mount(root, ctx) {
  view = { ctx, seq: 0, readOnly: !!(ctx.session && ctx.session.read_only), editing: null };
  const v = view;
  v.list = el('div', { 'aria-busy': 'true' });
  v.models = el('div');
  v.listError = errorLine('providers-error');
  v.empty = el('p', { className: 'muted', hidden: true }, 'No providers.');
  v.statsNote = el('p', { className: 'hint', id: 'providers-stats-note', hidden: true });
  root.append(
    el('h1', { id: 'providers-title' }, 'Providers'),
    el('section', { className: 'card', 'aria-labelledby': 'providers-list-title' },
      el('div', { className: 'section-head' },
        el('h2', { id: 'providers-list-title' }, 'All providers'),
        el('button', { type: 'button', className: 'secondary', onclick: () => load() }, 'Refresh')),
      el('p', { className: 'hint' }, 'Health is the router\'s view from requests through routes, in this gateway process.'),
      v.statsNote, v.listError, v.list, v.empty),
    el('section', { className: 'card', 'aria-labelledby': 'provider-models-title' },
      el('h2', { id: 'provider-models-title' }, 'By model'),
      v.models),
    v.readOnly ? null : buildForm());
  await load();
}

function unmount() {
  view = null;
}

export default { id: 'providers', title: 'Providers', mount, unmount };
