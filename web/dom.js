// Small DOM helpers. Text from the gateway only ever becomes text nodes
// (textContent, createTextNode): nothing here parses HTML.

/** The element with this id; throws when the page lacks it. */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing element #${id}`);
  return node;
}

/**
 * A new element: el('td', {className: 'x'}, 'text', child…). attrs are set
 * as properties, except `aria-*`, `data-*` and `scope`, set as attributes.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k.startsWith('aria-') || k.startsWith('data-') || k === 'scope') {
      node.setAttribute(k, String(v));
    } else {
      node[k] = v;
    }
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

/** Shows text in an error element (hidden when text is empty). */
export function showError(node, text) {
  node.textContent = text || '';
  node.hidden = !text;
}

/** Says text to screen readers through the page's live region. */
export function announce(text) {
  const region = byId('announce');
  region.textContent = '';
  // A fresh text node after a tick, so the same message twice is said twice.
  setTimeout(() => { region.textContent = text; }, 50);
}
