// The routes page: every route (name, strategy, targets in order,
// retries, response cache policy, who owns it), a form to add or edit one
// with its targets as an ordered list and its cache policy (what the form
// does not edit of a route, its context and max_entry_bytes, is kept),
// deletion behind a confirmation, and "Test this route": a prompt sent
// through the gateway as the signed-in admin (POST /admin/v1/playground),
// its answer and latency shown.
import * as api from './api_ops.js';
import { el, showError, announce } from './dom.js';
import { table, confirmDialog, field, errorLine } from './ops_ui.js';
import { isSet, policyText, modeOf, ttlText, policyFrom } from './cache_ui.js';

const STRATEGIES = ['fallback', 'weighted', 'least-latency', 'lowest-cost'];
const MAX_TARGETS = 16;
const MAX_PROMPT = 32768;
const TARGET = /^[^/\s]+\/\S+$/;
const ROUTE_NAME = /^[^\s/]{1,128}$/;

let view = null;

/** A target as the form edits it: its "provider/model" and what else it had. */
function targetOf(t) {
  if (typeof t === 'string') return { text: t, extra: {} };
  if (t && typeof t === 'object') {
    const { provider, model, ...extra } = t;
    return { text: `${provider}/${model}`, extra };
  }
  return { text: '', extra: {} };
}

function targetsList(targets) {
  const ol = el('ol', { className: 'targets' });
  for (const t of Array.isArray(targets) ? targets : []) {
    const { text, extra } = targetOf(t);
    const notes = [];
    if (extra.weight && extra.weight !== 1) notes.push(`weight ${extra.weight}`);
    if (extra.timeout_ms) notes.push(`timeout ${extra.timeout_ms} ms`);
    ol.append(el('li', {}, el('code', {}, text), notes.length ? ` (${notes.join(', ')})` : ''));
  }
  return ol;
}

function routeRow(rt) {
  const v = view;
  const actions = el('td', { className: 'row-actions' });
  // Every control here writes (the playground is a POST): none for a
  // read-only session.
  if (!v.readOnly) {
    actions.append(
      el('button', { type: 'button', className: 'secondary small', 'aria-label': `Test ${rt.name}`, onclick: () => testRoute(rt.name) }, 'Test'),
      ' ',
      el('button', { type: 'button', className: 'secondary small', 'aria-label': `Edit ${rt.name}`, onclick: () => editRoute(rt) }, 'Edit'),
      ' ',
      el('button', { type: 'button', className: 'danger small', 'aria-label': `Delete ${rt.name}`, onclick: () => askDelete(rt.name) }, 'Delete'));
  }
  return {
    tr: el('tr', { 'data-route': rt.name }),
    cells: [
      { th: rt.name },
      typeof rt.strategy === 'string' ? rt.strategy : 'fallback',
      el('td', {}, targetsList(rt.targets)),
      String(typeof rt.retries === 'number' ? rt.retries : 0),
      policyText(rt.cache),
      typeof rt.source === 'string' ? rt.source : '',
      actions,
    ],
  };
}

async function load() {
  const v = view;
  const seq = ++v.seq;
  let routes;
  try {
    routes = await api.listRoutes();
  } catch (e) {
    if (view === v && seq === v.seq) v.ctx.failed(e, v.listError);
    return;
  }
  if (view !== v || seq !== v.seq || !v.ctx.isCurrent()) return;
  showError(v.listError, '');
  routes.sort((a, b) => String(a.name).localeCompare(String(b.name)));
  v.routes = routes;
  v.list.replaceChildren(table('Routes with their strategy, targets in order, retries and response cache',
    ['Name', 'Strategy', 'Targets, in order', 'Retries', 'Cache', 'Source', el('span', { className: 'visually-hidden' }, 'Actions')],
    routes.map(routeRow), { id: 'routes-table' }));
  v.empty.hidden = routes.length > 0;
  // The test box offers every route.
  const cur = v.testModel.value;
  v.testModel.replaceChildren(...routes.map((r) => el('option', { value: r.name }, r.name)));
  if (routes.some((r) => r.name === cur)) v.testModel.value = cur;
}

/* --- the targets editor --------------------------------------------------- */

function renderTargets() {
  const v = view;
  const items = v.targets.map((t, i) => {
    const inp = el('input', {
      id: `route-target-${i}`, value: t.text, autocomplete: 'off', spellcheck: false,
      placeholder: 'provider/model', 'aria-label': `Target ${i + 1} (provider/model)`,
    });
    inp.addEventListener('input', () => { t.text = inp.value; });
    const move = (d) => {
      const j = i + d;
      [v.targets[i], v.targets[j]] = [v.targets[j], v.targets[i]];
      renderTargets();
      const again = document.getElementById(`route-target-${j}`);
      if (again) again.focus();
    };
    return el('li', {},
      inp,
      el('button', { type: 'button', className: 'secondary small', disabled: i === 0, 'aria-label': `Move target ${i + 1} up`, onclick: () => move(-1) }, '↑'),
      el('button', { type: 'button', className: 'secondary small', disabled: i === v.targets.length - 1, 'aria-label': `Move target ${i + 1} down`, onclick: () => move(1) }, '↓'),
      el('button', {
        type: 'button', className: 'secondary small', disabled: v.targets.length === 1, 'aria-label': `Remove target ${i + 1}`,
        onclick: () => { v.targets.splice(i, 1); renderTargets(); v.addTarget.focus(); },
      }, 'Remove'));
  });
  v.targetList.replaceChildren(...items);
  v.addTarget.disabled = v.targets.length >= MAX_TARGETS;
}

function resetForm() {
  const v = view;
  v.form.reset();
  v.editing = null;
  v.targets = [{ text: '', extra: {} }];
  v.formTitle.textContent = 'Add a route';
  v.nameInput.readOnly = false;
  v.cancelEdit.hidden = true;
  showError(v.formError, '');
  renderTargets();
}

function editRoute(rt) {
  const v = view;
  v.editing = rt;
  v.formTitle.textContent = `Edit route ${rt.name}`;
  v.nameInput.value = rt.name;
  v.nameInput.readOnly = true;
  v.strategySelect.value = STRATEGIES.includes(rt.strategy) ? rt.strategy : 'fallback';
  v.retriesInput.value = String(typeof rt.retries === 'number' ? rt.retries : 0);
  v.targets = (Array.isArray(rt.targets) ? rt.targets : []).map(targetOf);
  if (!v.targets.length) v.targets = [{ text: '', extra: {} }];
  const cache = isSet(rt.cache) ? rt.cache : null;
  v.cacheMode.value = modeOf(cache);
  v.cacheScope.value = cache && cache.scope === 'shared' ? 'shared' : 'key';
  v.cacheTtl.value = ttlText(cache);
  v.cancelEdit.hidden = false;
  showError(v.formError, '');
  renderTargets();
  v.strategySelect.focus();
}

async function onSave(event) {
  event.preventDefault();
  const v = view;
  const errors = [];
  const name = v.nameInput.value.trim();
  if (!ROUTE_NAME.test(name)) errors.push('The name is 1 to 128 characters without spaces or "/".');
  const targets = [];
  v.targets.forEach((t, i) => {
    const text = t.text.trim();
    if (!TARGET.test(text)) {
      errors.push(`Target ${i + 1} must be provider/model.`);
      return;
    }
    const slash = text.indexOf('/');
    const keep = Object.keys(t.extra).length > 0;
    targets.push(keep ? { provider: text.slice(0, slash), model: text.slice(slash + 1), ...t.extra } : text);
  });
  const retries = Number(v.retriesInput.value || '0');
  if (!Number.isInteger(retries) || retries < 0 || retries > 5) errors.push('Retries are a whole number from 0 to 5.');
  // The cache policy: what the form edits, on top of what it does not
  // (max_entry_bytes); "Per key" is said only when the route said it.
  const was = v.editing && isSet(v.editing.cache) ? v.editing.cache : null;
  const scope = v.cacheScope.value === 'shared' ? 'shared' : (was && was.scope === 'key' ? 'key' : undefined);
  const cache = policyFrom({ mode: v.cacheMode.value, ttl: v.cacheTtl.value, scope, was }, errors);
  if (errors.length) {
    showError(v.formError, errors.join(' '));
    return;
  }
  const def = { strategy: v.strategySelect.value, targets, retries };
  if (v.editing && v.editing.context) def.context = v.editing.context;
  if (cache) def.cache = cache;
  v.saveBtn.disabled = true;
  showError(v.formError, '');
  try {
    await api.saveRoute(name, def);
    if (view !== v) return;
    announce(`Route ${name} saved.`);
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
    title: 'Delete this route?',
    text: `Requests for the model ${name} fail from now on.`,
    confirm: 'Delete',
  });
  if (!ok || view !== v) return;
  try {
    await api.deleteRoute(name);
    announce(`Route ${name} deleted.`);
  } catch (e) {
    if (view === v) v.ctx.failed(e, v.listError);
  }
  if (view !== v) return;
  await load();
  // The row and its button are gone: the focus goes to the list.
  const head = document.getElementById('routes-list-title');
  if (head && view === v) {
    head.tabIndex = -1;
    head.focus();
  }
}

/* --- test this route ---------------------------------------------------- */

function testRoute(name) {
  const v = view;
  v.testModel.value = name;
  v.testPrompt.focus();
}

async function onTest(event) {
  event.preventDefault();
  const v = view;
  const model = v.testModel.value;
  const prompt = v.testPrompt.value;
  if (!model) {
    showError(v.testError, 'Create a route first.');
    return;
  }
  if (!prompt.trim() || prompt.length > MAX_PROMPT) {
    showError(v.testError, 'Write a prompt (at most 32768 characters).');
    v.testPrompt.focus();
    return;
  }
  v.testBtn.disabled = true;
  showError(v.testError, '');
  v.testResult.hidden = true;
  v.testStatus.textContent = `Asking ${model}…`;
  try {
    const r = await api.playground(model, prompt, 256);
    if (view !== v || !v.ctx.isCurrent()) return;
    v.answerText.textContent = typeof r.text === 'string' ? r.text : '';
    v.answerMeta.textContent = `${typeof r.model === 'string' ? r.model : model} answered in ${typeof r.latency_ms === 'number' ? r.latency_ms : '?'} ms.`;
    v.testResult.hidden = false;
    v.testStatus.textContent = 'Answer received.';
  } catch (e) {
    if (view !== v) return;
    v.testStatus.textContent = '';
    v.ctx.failed(e, v.testError);
  } finally {
    v.testBtn.disabled = false;
  }
}

function buildForm() {
  const v = view;
  v.nameInput = el('input', { id: 'route-name', required: true, maxLength: 128, autocomplete: 'off', spellcheck: false });
  v.strategySelect = el('select', { id: 'route-strategy' }, ...STRATEGIES.map((s) => el('option', { value: s }, s)));
  v.retriesInput = el('input', { id: 'route-retries', type: 'number', min: 0, max: 5, step: 1, defaultValue: '0', inputMode: 'numeric' });
  v.targetList = el('ol', { className: 'target-editor', id: 'route-targets' });
  v.addTarget = el('button', {
    type: 'button', className: 'secondary small',
    onclick: () => { v.targets.push({ text: '', extra: {} }); renderTargets(); document.getElementById(`route-target-${v.targets.length - 1}`).focus(); },
  }, 'Add a target');
  v.cacheMode = el('select', { id: 'route-cache' },
    el('option', { value: '' }, 'Default — the gateway\'s setting'),
    el('option', { value: 'on' }, 'On'),
    el('option', { value: 'off' }, 'Off'));
  v.cacheScope = el('select', { id: 'route-cache-scope' },
    el('option', { value: 'key' }, 'Per key'),
    el('option', { value: 'shared' }, 'Shared between keys'));
  v.cacheTtl = el('input', { id: 'route-cache-ttl', inputMode: 'numeric', autocomplete: 'off', spellcheck: false });
  v.formError = errorLine('route-form-error');
  v.saveBtn = el('button', { type: 'submit', id: 'route-save' }, 'Save route');
  v.cancelEdit = el('button', { type: 'button', className: 'secondary', hidden: true, onclick: resetForm }, 'Cancel editing');
  v.formTitle = el('h2', { id: 'route-form-title' }, 'Add a route');
  v.form = el('form', { 'aria-labelledby': 'route-form-title' },
    el('div', { className: 'grid-form' },
      field('Name', v.nameInput, 'the model name clients send'),
      field('Strategy', v.strategySelect),
      field('Retries', v.retriesInput, 'of one target, 0 to 5')),
    el('fieldset', { className: 'targets-field' },
      el('legend', {}, 'Targets, tried in this order'),
      v.targetList, v.addTarget),
    el('fieldset', { className: 'targets-field' },
      el('legend', {}, 'Response cache'),
      el('div', { className: 'grid-form' },
        field('Cache', v.cacheMode),
        field('Scope', v.cacheScope, 'who reads an entry'),
        field('TTL in seconds', v.cacheTtl, 'empty: the gateway\'s'))),
    v.formError,
    el('div', { className: 'actions' }, v.saveBtn, v.cancelEdit));
  v.form.addEventListener('submit', onSave);
  return el('section', { className: 'card write-control', 'aria-labelledby': 'route-form-title' }, v.formTitle, v.form);
}

function buildTest() {
  const v = view;
  v.testModel = el('select', { id: 'test-route' });
  v.testPrompt = el('textarea', { id: 'test-prompt', rows: 3, maxLength: MAX_PROMPT, spellcheck: true });
  v.testBtn = el('button', { type: 'submit', id: 'test-send' }, 'Send');
  v.testError = errorLine('test-error');
  v.testStatus = el('p', { className: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  v.answerText = el('pre', { id: 'test-answer', className: 'answer' });
  v.answerMeta = el('p', { id: 'test-latency', className: 'muted' });
  v.testResult = el('div', { hidden: true }, el('h3', {}, 'Answer'), v.answerText, v.answerMeta);
  const form = el('form', { 'aria-labelledby': 'test-title' },
    field('Route', v.testModel),
    field('Prompt', v.testPrompt),
    el('div', { className: 'actions' }, v.testBtn),
    v.testError);
  form.addEventListener('submit', onTest);
  return el('section', { className: 'card', 'aria-labelledby': 'test-title' },
    el('h2', { id: 'test-title' }, 'Test this route'),
    el('p', { className: 'hint' }, 'The prompt goes through the gateway as you, like any request: routed, limited and recorded.'),
    form, v.testStatus, v.testResult);
}

async function mount(root, ctx) {
  view = { ctx, seq: 0, readOnly: !!(ctx.session && ctx.session.read_only), editing: null, targets: [{ text: '', extra: {} }], routes: [] };
  const v = view;
  v.list = el('div');
  v.listError = errorLine('routes-error');
  v.empty = el('p', { className: 'muted', hidden: true }, 'No routes yet.');
  const test = buildTest();
  root.append(
    el('h1', { id: 'routes-title' }, 'Routes'),
    el('section', { className: 'card', 'aria-labelledby': 'routes-list-title' },
      el('div', { className: 'section-head' },
        el('h2', { id: 'routes-list-title' }, 'All routes'),
        el('button', { type: 'button', className: 'secondary', onclick: () => load() }, 'Refresh')),
      v.listError, v.list, v.empty),
    v.readOnly ? null : test,
    v.readOnly ? null : buildForm());
  if (!v.readOnly) renderTargets();
  await load();
}

function unmount() {
  view = null;
}

export default { id: 'routes', title: 'Routes', mount, unmount };
