// Small building blocks shared by the operator pages: accessible tables,
// a confirmation dialog, number and time formats. Everything through
// el(): text from the gateway only ever becomes text nodes.
import { el } from './dom.js';

/**
 * A table: caption (shown or visually hidden), column headers, and rows
 * (arrays of cells: a string, a node, or {th: text} for the row header).
 */
export function table(caption, headers, rows, { hiddenCaption = true, id } = {}) {
  const body = el('tbody');
  for (const r of rows) {
    const tr = r.tr || el('tr');
    for (const c of r.cells || r) {
      if (c && typeof c === 'object' && 'th' in c) tr.append(el('th', { scope: 'row' }, c.th));
      else if (c instanceof Node) tr.append(c);
      else tr.append(el('td', {}, c === undefined || c === null ? '' : String(c)));
    }
    body.append(tr);
  }
  return el('div', { className: 'table-wrap' },
    el('table', { id },
      el('caption', { className: hiddenCaption ? 'visually-hidden' : '' }, caption),
      el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col' }, h)))),
      body));
}

/** A numeric cell. */
export function num(text) {
  return el('td', { className: 'num' }, text);
}

/** Milliseconds as text; "—" when unknown. */
export function ms(v) {
  return typeof v === 'number' && Number.isFinite(v) ? `${Math.round(v)} ms` : '—';
}

/** A share as a percentage; "—" when there is nothing to divide. */
export function pct(part, whole) {
  if (typeof part !== 'number' || typeof whole !== 'number' || whole <= 0) return '—';
  const p = (100 * part) / whole;
  return `${p < 10 && p > 0 ? p.toFixed(1) : Math.round(p)}%`;
}

/** A <time> for unix seconds or milliseconds (isMs). */
export function when(v, isMs) {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return el('span', {}, '—');
  const d = new Date(isMs ? v : v * 1000);
  return el('time', { dateTime: d.toISOString() }, d.toLocaleString());
}

/** A status badge (state: a short word from the gateway). */
export function badge(state) {
  const s = typeof state === 'string' && state ? state : 'unknown';
  return el('span', { className: `badge badge-${s.replace(/[^a-z_]/g, '')}` }, s);
}

/**
 * Asks a yes/no question in a modal <dialog>: resolves true on confirm,
 * false on cancel or Escape. The focus starts on Cancel and goes back to
 * where it was.
 */
export function confirmDialog({ title, text, confirm }) {
  return new Promise((resolve) => {
    const back = document.activeElement;
    const id = `confirm-${Math.random().toString(36).slice(2)}`;
    const cancelBtn = el('button', { type: 'button', className: 'secondary' }, 'Cancel');
    const okBtn = el('button', { type: 'button', className: 'danger' }, confirm);
    const dialog = el('dialog', { 'aria-labelledby': `${id}-t`, 'aria-describedby': `${id}-d` },
      el('h2', { id: `${id}-t` }, title),
      el('p', { id: `${id}-d` }, text),
      el('div', { className: 'dialog-actions' }, cancelBtn, okBtn));
    let answer = false;
    cancelBtn.addEventListener('click', () => dialog.close());
    okBtn.addEventListener('click', () => { answer = true; dialog.close(); });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (back && typeof back.focus === 'function' && back.isConnected) back.focus();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancelBtn.focus();
  });
}

/** A labelled field: {label, input (node), hint?}. */
export function field(label, input, hint) {
  return el('div', { className: 'field' },
    el('label', { htmlFor: input.id }, label, hint ? el('span', { className: 'hint' }, ` (${hint})`) : null),
    input);
}

/** An error line (hidden until it has text), announced when shown. */
export function errorLine(id) {
  return el('p', { id, className: 'error', role: 'alert', hidden: true });
}
