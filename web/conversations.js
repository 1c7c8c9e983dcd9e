// The conversations page: every key's conversations, newest first, a page
// at a time, filtered by key; one opened shows its items in order:
// messages as text, tool calls and their outputs as JSON. The view is in
// the link (#/conversations?key=…&after=…&id=…), so it can be shared.
import * as api from './api_ops.js';
import { el, showError } from './dom.js';
import { table, when, errorLine } from './ops_ui.js';

const PAGE = 20;
const ITEMS_PAGE = 100;

let view = null;

function pretty(v) {
  if (typeof v === 'string') {
    try { return JSON.stringify(JSON.parse(v), null, 2); } catch { return v; }
  }
  return JSON.stringify(v, null, 2);
}

/** A message's text: its string content, or its text parts joined. */
function messageText(content) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => {
    if (p && typeof p.text === 'string') return p.text;
    if (p && typeof p.refusal === 'string') return `[refusal] ${p.refusal}`;
    return `[${p && typeof p.type === 'string' ? p.type : 'part'}]`;
  }).join('\n');
}

function itemNode(it) {
  const type = it && typeof it.type === 'string' ? it.type : 'item';
  if (type === 'message') {
    const role = typeof it.role === 'string' ? it.role : 'message';
    return el('li', { className: `conv-item conv-${role.replace(/[^a-z]/g, '')}` },
      el('h3', {}, role),
      el('p', { className: 'conv-text' }, messageText(it.content)));
  }
  if (type === 'function_call') {
    return el('li', { className: 'conv-item conv-tool' },
      el('h3', {}, 'Tool call ', el('code', {}, String(it.name || '')),
        it.call_id ? el('span', { className: 'hint' }, ` (${it.call_id})`) : null),
      el('pre', {}, pretty(it.arguments === undefined ? {} : it.arguments)));
  }
  if (type === 'function_call_output') {
    return el('li', { className: 'conv-item conv-tool' },
      el('h3', {}, 'Tool output', it.call_id ? el('span', { className: 'hint' }, ` (${it.call_id})`) : null),
      el('pre', {}, pretty(it.output === undefined ? '' : it.output)));
  }
  return el('li', { className: 'conv-item' }, el('h3', {}, type), el('pre', {}, pretty(it)));
}

function keyLabel(id) {
  if (!id) return 'no key';
  return view.keyNames.get(id) || id;
}

async function loadItems(id, after) {
  const v = view;
  const page = await api.conversationItems(id, { limit: ITEMS_PAGE, after });
  if (view !== v || !v.ctx.isCurrent()) return;
  const data = Array.isArray(page.data) ? page.data : [];
  v.items.append(...data.map(itemNode));
  v.moreItems.hidden = !page.has_more;
  v.moreItems.onclick = () => {
    loadItems(id, page.last_id).catch((e) => { if (view === v) v.ctx.failed(e, v.detailError); });
  };
  v.itemsEmpty.hidden = v.items.childElementCount > 0;
}

async function openConversation(id) {
  const v = view;
  v.detail.hidden = false;
  v.detailTitle.textContent = `Conversation ${id}`;
  v.items.replaceChildren();
  v.meta.replaceChildren();
  try {
    const c = await api.conversation(id);
    if (view !== v || !v.ctx.isCurrent()) return;
    v.meta.append(
      el('dt', {}, 'Key'), el('dd', {}, keyLabel(c.key_id)),
      el('dt', {}, 'Created'), el('dd', {}, when(c.created_at)),
      el('dt', {}, 'Metadata'), el('dd', {}, el('pre', {}, pretty(c.metadata || {}))));
    await loadItems(id);
  } catch (e) {
    if (view === v) v.ctx.failed(e, v.detailError);
  }
}

async function loadList() {
  const v = view;
  const p = v.ctx.params;
  const key = p.get('key') || '';
  const after = p.get('after') || '';
  let page;
  try {
    page = await api.conversations({ key, after, limit: PAGE });
  } catch (e) {
    if (view === v) v.ctx.failed(e, v.listError);
    return;
  }
  if (view !== v || !v.ctx.isCurrent()) return;
  const data = Array.isArray(page.data) ? page.data : [];
  const open = p.get('id');
  v.list.replaceChildren(table('Conversations, newest first', ['Conversation', 'Key', 'Created', 'Metadata', el('span', { className: 'visually-hidden' }, 'Actions')],
    data.map((c) => ({
      tr: el('tr', { 'data-conversation': c.id, className: c.id === open ? 'selected' : '' }),
      cells: [
        { th: el('code', {}, String(c.id)) },
        keyLabel(c.key_id),
        el('td', {}, when(c.created_at)),
        el('td', {}, c.metadata && Object.keys(c.metadata).length ? el('code', {}, JSON.stringify(c.metadata)) : '—'),
        el('td', { className: 'row-actions' },
          el('button', {
            type: 'button', className: 'secondary small', 'aria-label': `Open ${c.id}`,
            onclick: () => v.ctx.navigate('conversations', { ...(key ? { key } : {}), ...(after ? { after } : {}), id: c.id }),
          }, 'Open')),
      ],
    })), { id: 'conversations-table' }));
  v.empty.hidden = data.length > 0;
  v.next.hidden = !page.has_more;
  v.next.onclick = () => v.ctx.navigate('conversations', { ...(key ? { key } : {}), after: page.last_id });
  v.first.hidden = !after;
}

async function loadKeys() {
  const v = view;
  let keys = [];
  try {
    keys = await api.keys();
  } catch (e) {
    if (view === v) v.ctx.failed(e, v.listError);
  }
  if (view !== v) return;
  v.keyNames = new Map(keys.map((k) => [k.id, k.name]));
  const cur = v.ctx.params.get('key') || '';
  v.keySelect.replaceChildren(el('option', { value: '' }, 'All keys'),
    ...keys.map((k) => el('option', { value: k.id }, `${k.name}${k.status === 'revoked' ? ' (revoked)' : ''}`)));
  if (cur && !keys.some((k) => k.id === cur)) v.keySelect.append(el('option', { value: cur }, cur));
  v.keySelect.value = cur;
}

async function mount(root, ctx) {
  view = { ctx, keyNames: new Map() };
  const v = view;
  v.keySelect = el('select', { id: 'conv-key' });
  v.keySelect.addEventListener('change', () => {
    ctx.navigate('conversations', v.keySelect.value ? { key: v.keySelect.value } : {});
  });
  v.list = el('div');
  v.listError = errorLine('conversations-error');
  v.empty = el('p', { className: 'muted', hidden: true }, 'No conversations.');
  v.next = el('button', { type: 'button', className: 'secondary', hidden: true }, 'Next page');
  v.first = el('button', {
    type: 'button', className: 'secondary', hidden: true,
    onclick: () => ctx.navigate('conversations', ctx.params.get('key') ? { key: ctx.params.get('key') } : {}),
  }, 'First page');
  v.detailTitle = el('h2', { id: 'conv-detail-title' });
  v.detailError = errorLine('conv-detail-error');
  v.meta = el('dl', { className: 'conv-meta' });
  v.items = el('ol', { className: 'conv-items', id: 'conv-items', 'aria-label': 'Items, oldest first' });
  v.itemsEmpty = el('p', { className: 'muted', hidden: true }, 'No items.');
  v.moreItems = el('button', { type: 'button', className: 'secondary', hidden: true }, 'More items');
  v.detail = el('section', { className: 'card', 'aria-labelledby': 'conv-detail-title', hidden: true },
    el('div', { className: 'section-head' }, v.detailTitle,
      el('button', {
        type: 'button', className: 'secondary',
        onclick: () => {
          const q = {};
          for (const k of ['key', 'after']) if (ctx.params.get(k)) q[k] = ctx.params.get(k);
          ctx.navigate('conversations', q);
        },
      }, 'Close')),
    v.detailError, v.meta, v.items, v.itemsEmpty, v.moreItems);
  root.append(
    el('h1', { id: 'conversations-title' }, 'Conversations'),
    el('section', { className: 'card', 'aria-labelledby': 'conv-list-title' },
      el('div', { className: 'section-head' },
        el('h2', { id: 'conv-list-title' }, 'Every key\'s conversations'),
        el('div', { className: 'field inline' }, el('label', { htmlFor: 'conv-key' }, 'Key'), v.keySelect)),
      v.listError, v.list, v.empty,
      el('div', { className: 'actions' }, v.first, v.next)),
    v.detail);
  await loadKeys();
  if (view !== v || !ctx.isCurrent()) return;
  await loadList();
  const id = ctx.params.get('id');
  if (id && view === v && ctx.isCurrent()) await openConversation(id);
}

function unmount() {
  view = null;
}

export default { id: 'conversations', title: 'Conversations', mount, unmount };
