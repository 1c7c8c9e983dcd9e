// The request log: the records newest first, filtered by key, model,
// provider, route, API, status and time (all in the hash, so the overview
// and usage charts can link to a bucket), paged with "Older", a live tail
// that polls for newer records every 2 s, and each record's detail (route
// attempts, and headers and bodies when the gateway logs them) in a dialog.
import { el, announce } from './dom.js';
import { listKeys } from './api.js';
import * as data from './api_data.js';
import * as f from './format.js';

const FILTERS = ['key', 'model', 'provider', 'route', 'api', 'status', 'since', 'until'];
const APIS = ['chat', 'embeddings', 'models', 'messages', 'count_tokens', 'responses', 'other'];
const TAIL_MS = 2000;
const ANNOUNCE_EVERY_MS = 10000; // new rows are said at most this often

let tail = null; // {timer, busy} while the live tail runs
let dialog = null;

function stopTail() {
  if (tail) clearInterval(tail.timer);
  tail = null;
}

/** A since/until parameter (unix s, a date or ISO time) as unix seconds, or NaN. */
function secondsOf(v) {
  if (/^\d+$/.test(v)) return Number(v);
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : NaN;
}

/** The value of a datetime-local input (read as UTC) for a parameter. */
function localValue(v) {
  const s = secondsOf(v || '');
  return Number.isFinite(s) ? new Date(s * 1000).toISOString().slice(0, 16) : '';
}

function field(id, label, control) {
  control.id = id;
  return el('div', { className: 'field' }, el('label', { htmlFor: id }, label), control);
}

function optionList(value, anyLabel, list) {
  return [el('option', { value: '' }, anyLabel),
    ...list.map((o) => el('option', { value: o.value, selected: o.value === value }, o.label))];
}

function select(name, value, anyLabel, list) {
  return el('select', { name }, ...optionList(value, anyLabel, list));
}

function isError(r) {
  return typeof r.status === 'number' && r.status >= 400;
}

function statusCell(r) {
  const err = isError(r);
  const text = r.status === null || r.status === undefined ? 'unknown' : String(r.status);
  return el('td', {},
    el('span', { className: `badge ${err ? 'badge-revoked' : 'badge-active'}` }, err ? `${text} error` : `${text} ok`),
    r.error_type ? el('span', { className: 'cell-note' }, r.error_type) : null);
}

function tokensText(r) {
  if (typeof r.prompt_tokens !== 'number' && typeof r.completion_tokens !== 'number') return '—';
  return `${f.int(r.prompt_tokens || 0)} in / ${f.int(r.completion_tokens || 0)} out`;
}

function costText(r) {
  // Answered by the response cache: nothing paid upstream.
  if (r.cache === 'hit' || r.cache === 'coalesced') {
    const saved = typeof r.saved_usd === 'number' ? `, saved ${f.money(r.saved_usd)}` : '';
    return `${r.cache === 'hit' ? 'cache hit' : 'coalesced'}${saved}`;
  }
  if (r.unpriced) return 'unpriced';
  return typeof r.cost_usd === 'number' ? f.money(r.cost_usd) : '—';
}

function fieldText(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function detailContent(r, keyName) {
  const skip = new Set(['attempts', 'body']);
  const record = el('dl', { className: 'record' }, ...Object.keys(r).filter((k) => !skip.has(k)).flatMap((k) => [
    el('dt', {}, k),
    el('dd', {}, k === 'ts_ms' ? `${fieldText(r[k])} (${f.utc(r[k] / 1000)})`
      : k === 'key_id' && keyName ? `${fieldText(r[k])} (${keyName})` : fieldText(r[k])),
  ]));

  const attempts = Array.isArray(r.attempts) ? r.attempts : [];
  const cols = [...new Set(attempts.flatMap((a) => (a && typeof a === 'object' ? Object.keys(a) : [])))];
  const attemptsPart = attempts.length
    ? el('div', { className: 'table-wrap' }, el('table', {},
      el('caption', {}, 'Route attempts, in order'),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, '#'), ...cols.map((c) => el('th', { scope: 'col' }, c)))),
      el('tbody', {}, ...attempts.map((a, i) => el('tr', {},
        el('th', { scope: 'row' }, String(i + 1)),
        ...cols.map((c) => el('td', {}, a && c in a ? fieldText(a[c]) : '')))))))
    : el('p', { className: 'muted' }, 'No attempts recorded (the request did not go upstream through a route).');

  let bodyPart;
  const b = r.body;
  if (!b || typeof b !== 'object') {
    bodyPart = el('p', { className: 'muted', id: 'detail-no-body' }, 'Body logging is off (logging.bodies).');
  } else {
    const headers = b.request_headers && typeof b.request_headers === 'object' ? Object.entries(b.request_headers) : [];
    bodyPart = el('div', {},
      headers.length ? el('div', { className: 'table-wrap' }, el('table', {},
        el('caption', {}, 'Request headers'),
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Name'), el('th', { scope: 'col' }, 'Value'))),
        el('tbody', {}, ...headers.map(([k, v]) => el('tr', {}, el('th', { scope: 'row' }, k), el('td', {}, fieldText(v)))))))
        : el('p', { className: 'muted' }, 'No request headers were logged.'),
      el('h4', {}, 'Request body', b.request_truncated ? ' (truncated)' : ''),
      el('pre', { className: 'body-text', tabIndex: 0, 'aria-label': 'Request body' }, typeof b.request === 'string' ? b.request : ''),
      el('h4', {}, 'Response body', b.response_truncated ? ' (truncated)' : ''),
      el('pre', { className: 'body-text', tabIndex: 0, 'aria-label': 'Response body' }, typeof b.response === 'string' ? b.response : ''));
  }
  return [
    el('h3', {}, 'Record'), record,
    el('h3', {}, 'Route attempts'), attemptsPart,
    el('h3', {}, 'Headers and bodies'), bodyPart,
  ];
}

export default {
  id: 'requests',
  title: 'Request log',
  async mount(root, ctx) {
    const p = Object.fromEntries(FILTERS.map((k) => [k, ctx.params.get(k) || '']));
    const keyNames = new Map();
    let newest = 0;
    let nextBefore = null;
    let pending = 0; // rows the live tail added that were not yet announced
    let lastSaid = 0;
    let sayTimer = null;

    const error = el('p', { className: 'error', role: 'alert', hidden: true });
    const keySel = select('key', p.key, 'Any key', []);
    const routeSel = select('route', p.route, 'Any route', []);
    const form = el('form', { className: 'grid-form filters', 'aria-label': 'Request filters' },
      field('req-key', 'Key', keySel),
      field('req-model', 'Model', el('input', { name: 'model', value: p.model, autocomplete: 'off', spellcheck: false })),
      field('req-provider', 'Provider', el('input', { name: 'provider', value: p.provider, autocomplete: 'off', spellcheck: false })),
      field('req-route', 'Route', routeSel),
      field('req-api', 'API', select('api', p.api, 'Any API', APIS.map((a) => ({ value: a, label: a })))),
      field('req-status', 'Status', select('status', p.status, 'Any status', [
        { value: 'ok', label: 'OK' },
        { value: 'error', label: 'Error' },
        // A status code from a link (status=429) stays a choice of its own.
        ...(/^\d+$/.test(p.status) ? [{ value: p.status, label: p.status }] : []),
      ])),
      field('req-since', 'From (UTC)', el('input', { name: 'since', type: 'datetime-local', value: localValue(p.since) })),
      field('req-until', 'Before (UTC)', el('input', { name: 'until', type: 'datetime-local', value: localValue(p.until) })),
      el('div', { className: 'actions' },
        el('button', { type: 'submit' }, 'Apply'),
        el('button', { type: 'button', className: 'secondary', onclick: () => ctx.navigate('requests', {}) }, 'Clear')));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const next = {};
      for (const k of FILTERS) {
        let v = String(form.elements[k].value || '').trim();
        // datetime-local has no zone: the form says UTC, so it is read as UTC.
        if (v && (k === 'since' || k === 'until')) v = String(secondsOf(`${v}:00Z`));
        if (v && v !== 'NaN') next[k] = v;
      }
      ctx.navigate('requests', next);
    });

    const summary = el('p', { className: 'muted', id: 'requests-filter-text' });
    // The filters in words; the key by its name once the keys are loaded.
    const describe = () => {
      const parts = ['key', 'model', 'provider', 'route', 'api', 'status'].filter((k) => p[k])
        .map((k) => `${k} ${k === 'key' ? keyNames.get(p.key) || p.key : p[k]}`);
      if (p.since) parts.push(`from ${f.utc(secondsOf(p.since))}`);
      if (p.until) parts.push(`before ${f.utc(secondsOf(p.until))}`);
      summary.textContent = parts.length ? `Filtered: ${parts.join(', ')}.` : 'All requests, newest first.';
    };
    describe();

    const tailBtn = el('button', { type: 'button', className: 'secondary', 'aria-pressed': 'false', id: 'live-tail' }, 'Live tail');
    const tailState = el('span', { className: 'muted', id: 'live-tail-state' }, '');
    const tbody = el('tbody', { id: 'requests-body' });
    const empty = el('p', { className: 'no-data', id: 'requests-empty', hidden: true }, 'No requests match these filters.');
    const older = el('button', { type: 'button', className: 'secondary', hidden: true }, 'Older');
    dialog = el('dialog', { className: 'detail-dialog', 'aria-labelledby': 'request-detail-title' });

    root.append(
      el('h1', { id: 'requests-title' }, 'Request log'),
      el('section', { className: 'card', 'aria-label': 'Filters' }, form),
      error,
      el('section', { className: 'card', 'aria-labelledby': 'requests-list-title' },
        el('div', { className: 'section-head' },
          el('h2', { id: 'requests-list-title' }, 'Requests'),
          el('div', { className: 'toolbar' }, tailState, tailBtn)),
        summary,
        el('div', { className: 'table-wrap' }, el('table', { id: 'requests-table' },
          el('caption', { className: 'visually-hidden' }, 'Requests, newest first'),
          el('thead', {}, el('tr', {},
            ...['Time (UTC)', 'Model', 'Provider', 'Key', 'Route', 'API', 'Status', 'Tokens', 'Cost', 'Latency']
              .map((h) => el('th', { scope: 'col' }, h)),
            el('th', { scope: 'col' }, el('span', { className: 'visually-hidden' }, 'Details')))),
          tbody)),
        empty,
        el('p', {}, older)),
      dialog);

    const openDetail = async (r, opener) => {
      dialog.replaceChildren(
        el('div', { className: 'section-head' },
          el('h2', { id: 'request-detail-title' }, `Request ${r.request_id || r.id}`),
          el('button', { type: 'button', className: 'secondary small', onclick: () => dialog.close() }, 'Close')),
        el('p', { className: 'muted', role: 'status' }, 'Loading…'));
      const back = () => { if (opener.isConnected) opener.focus(); };
      dialog.addEventListener('close', back, { once: true });
      dialog.showModal();
      try {
        const d = await data.requestDetail(r.id);
        if (!ctx.isCurrent() || !dialog.open) return;
        dialog.replaceChildren(dialog.firstChild, ...detailContent(d, keyNames.get(d.key_id)));
      } catch (e) {
        if (!ctx.isCurrent()) return;
        const msg = el('p', { className: 'error', role: 'alert' });
        dialog.replaceChildren(dialog.firstChild, msg);
        ctx.failed(e, msg);
      }
    };

    const row = (r) => {
      const known = typeof r.ts_ms === 'number';
      const when = known ? f.utc(r.ts_ms / 1000).replace(' UTC', '') : '—';
      const keyName = keyNames.get(r.key_id) || r.key_id || '—';
      const btn = el('button', { type: 'button', className: 'secondary small' },
        'Details', el('span', { className: 'visually-hidden' }, ` of request ${r.request_id || r.id}`));
      btn.addEventListener('click', () => openDetail(r, btn));
      return el('tr', { 'data-id': r.id, className: isError(r) ? 'row-error' : '' },
        el('td', {}, known ? el('time', { dateTime: new Date(r.ts_ms).toISOString() }, when) : when),
        el('th', { scope: 'row' }, r.model || '—'),
        el('td', {}, r.provider || '—'),
        el('td', {}, keyName),
        el('td', {}, r.route || '—'),
        el('td', {}, r.api || '—'),
        statusCell(r),
        el('td', { className: 'num' }, tokensText(r)),
        el('td', { className: 'num' }, costText(r)),
        el('td', { className: 'num' }, f.ms(r.latency_ms)),
        el('td', { className: 'row-actions' }, btn));
    };

    const filters = () => Object.fromEntries(FILTERS.filter((k) => p[k]).map((k) => [k, p[k]]));
    const show = (page, append) => {
      const rows = Array.isArray(page.data) ? page.data : [];
      for (const r of rows) newest = Math.max(newest, r.id || 0);
      const nodes = rows.map(row);
      if (append) tbody.append(...nodes);
      else tbody.replaceChildren(...nodes);
      nextBefore = page.has_more ? page.next_before_id : null;
      older.hidden = nextBefore === null || nextBefore === undefined;
      empty.hidden = tbody.childElementCount > 0;
      return nodes;
    };

    older.addEventListener('click', async () => {
      older.disabled = true;
      try {
        const page = await data.requests({ ...filters(), before_id: nextBefore });
        if (!ctx.isCurrent()) return;
        const nodes = show(page, true);
        // The first new row's button, so keyboard users go on from there.
        const first = nodes.length && nodes[0].querySelector('button');
        if (first) first.focus();
      } catch (e) {
        if (ctx.isCurrent()) ctx.failed(e, error);
      } finally {
        older.disabled = false;
      }
    });

    const say = () => {
      sayTimer = null;
      if (!pending || !ctx.isCurrent()) return;
      announce(`${f.plural(pending, 'new request')} in the log.`);
      pending = 0;
      lastSaid = Date.now();
    };
    const poll = async () => {
      if (!tail || tail.busy) return;
      tail.busy = true;
      try {
        const page = await data.requests({ ...filters(), after_id: newest });
        if (!ctx.isCurrent() || !tail) return;
        const fresh = (Array.isArray(page.data) ? page.data : [])
          .filter((r) => r.id > newest).sort((a, b) => a.id - b.id);
        for (const r of fresh) {
          tbody.prepend(row(r));
          newest = Math.max(newest, r.id);
        }
        if (fresh.length) {
          empty.hidden = true;
          pending += fresh.length;
          if (!sayTimer) sayTimer = setTimeout(say, Math.max(0, lastSaid + ANNOUNCE_EVERY_MS - Date.now()));
        }
      } catch (e) {
        if (!ctx.isCurrent()) return;
        setTail(false);
        ctx.failed(e, error);
      } finally {
        if (tail) tail.busy = false;
      }
    };
    const setTail = (on) => {
      stopTail();
      tailBtn.setAttribute('aria-pressed', on ? 'true' : 'false');
      tailState.textContent = on ? 'Watching for new requests…' : '';
      if (on) {
        tail = { timer: setInterval(poll, TAIL_MS), busy: false };
        poll();
      }
    };
    tailBtn.addEventListener('click', () => setTail(tailBtn.getAttribute('aria-pressed') !== 'true'));

    try {
      const [keys, routes, page] = await Promise.all([
        listKeys(),
        data.listRoutes(),
        data.requests(filters()),
      ]);
      if (!ctx.isCurrent()) return;
      for (const k of keys) keyNames.set(k.id, k.name);
      describe();
      keySel.replaceChildren(...optionList(p.key, 'Any key', keys.map((k) => ({ value: k.id, label: k.name }))));
      routeSel.replaceChildren(...optionList(p.route, 'Any route', routes.map((r) => ({ value: r.name, label: r.name }))));
      show(page, false);
    } catch (e) {
      if (ctx.isCurrent()) ctx.failed(e, error);
    }
  },
  unmount() {
    stopTail();
    if (dialog && dialog.open) dialog.close();
    dialog = null;
  },
};
