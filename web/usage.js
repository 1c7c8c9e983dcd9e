// The usage page: cost, tokens or requests over time, stacked by model,
// key, provider or route, for any mix of key, model, provider, route and
// dates (all kept in the hash, so a view can be shared), with the series
// as a table, its totals, and the same filters as a CSV download.
import { el } from './dom.js';
import { listKeys } from './api.js';
import * as data from './api_data.js';
import { barChart, bucketLabel, PALETTE } from './chart.js';
import * as f from './format.js';

const GROUPS = [
  { id: 'model', label: 'Model' },
  { id: 'key', label: 'Key' },
  { id: 'provider', label: 'Provider' },
  { id: 'route', label: 'Route' },
];
const METRICS = [
  { id: 'cost', label: 'Cost', of: (r) => r.cost_usd || 0, format: f.money, axis: (v) => `$${v >= 1 || v === 0 ? v.toFixed(0) : v.toPrecision(1)}` },
  { id: 'tokens', label: 'Tokens', of: (r) => (r.prompt_tokens || 0) + (r.completion_tokens || 0), format: (v) => `${f.int(v)} tokens`, axis: f.int },
  { id: 'requests', label: 'Requests', of: (r) => r.requests || 0, format: (v) => f.plural(v, 'request'), axis: f.int },
];
const MAX_SERIES = PALETTE.length - 1; // the rest are summed as "Other"
const DAY = 86400;

const isoDay = (sec) => new Date(sec * 1000).toISOString().slice(0, 10);
const daySec = (s) => (/^\d{4}-\d{2}-\d{2}$/.test(s || '') ? Date.parse(`${s}T00:00:00Z`) / 1000 : NaN);

/** The page's state from the hash, with defaults (the last 7 days by model, cost). */
function stateOf(params) {
  const today = isoDay(Math.floor(Date.now() / 1000));
  const get = (k) => params.get(k) || '';
  return {
    key: get('key'),
    model: get('model'),
    provider: get('provider'),
    route: get('route'),
    from: Number.isFinite(daySec(get('from'))) ? get('from') : isoDay(daySec(today) - 6 * DAY),
    to: Number.isFinite(daySec(get('to'))) ? get('to') : today,
    group: GROUPS.some((g) => g.id === get('group')) ? get('group') : 'model',
    metric: METRICS.some((m) => m.id === get('metric')) ? get('metric') : 'cost',
  };
}

/** obj without its empty values ("any" is no parameter at all). */
function compact(obj) {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== '' && v !== null && v !== undefined));
}

/** The hash params of a state: only what differs from "any". */
function paramsOf(s) {
  const { key, model, provider, route, from, to, group, metric } = s;
  return compact({ key, model, provider, route, from, to, group, metric });
}

function field(id, label, control) {
  control.id = id;
  return el('div', { className: 'field' }, el('label', { htmlFor: id }, label), control);
}

function options(list, value, anyLabel) {
  return [el('option', { value: '' }, anyLabel),
    ...list.map((o) => el('option', { value: o.value, selected: o.value === value }, o.label))];
}

function groupValueLabel(row, group) {
  const v = row.group;
  if (group === 'key' && row.key_name) return row.key_name;
  return v === null || v === undefined || v === '' ? '(none)' : String(v);
}

/** The series' groups, largest first by the metric; past MAX_SERIES, "Other". */
function seriesOf(rows, group, metric) {
  const sums = new Map();
  for (const r of rows) {
    const k = r.group === null || r.group === undefined ? '' : String(r.group);
    const g = sums.get(k) || { value: k, label: groupValueLabel(r, group), total: 0 };
    g.total += metric.of(r);
    sums.set(k, g);
  }
  const sorted = [...sums.values()].sort((a, b) => b.total - a.total || a.label.localeCompare(b.label));
  const shown = sorted.length > MAX_SERIES + 1 ? sorted.slice(0, MAX_SERIES) : sorted;
  const series = shown.map((g, i) => ({ key: `g${i}`, label: g.label, value: g.value }));
  if (shown.length < sorted.length) series.push({ key: 'other', label: 'Other', value: null, colour: PALETTE[PALETTE.length - 1] });
  return series;
}

function renderChart(box, ctx, s, stats, metric) {
  const rows = stats.series;
  const series = seriesOf(rows, s.group, metric);
  const keyOf = new Map(series.filter((x) => x.value !== null).map((x) => [x.value, x.key]));
  const buckets = new Map();
  for (const r of rows) {
    const b = buckets.get(r.t) || { t: r.t, values: {} };
    const k = keyOf.get(r.group === null || r.group === undefined ? '' : String(r.group)) || 'other';
    b.values[k] = (b.values[k] || 0) + metric.of(r);
    buckets.set(r.t, b);
  }
  const word = stats.bucket_s >= DAY ? 'day' : 'hour';
  const title = `${metric.label} per ${word} by ${s.group}`;
  box.replaceChildren(el('h2', { id: 'usage-chart-title' }, title), barChart({
    title,
    yLabel: `${metric.label.toLowerCase()} / ${word}`,
    series,
    grouped: true,
    buckets: [...buckets.values()],
    bucketS: stats.bucket_s,
    since: stats.since,
    until: stats.until,
    format: metric.format,
    axisFormat: metric.axis,
    onPick: ({ t, series: key }) => {
      const filters = { key: s.key, model: s.model, provider: s.provider, route: s.route };
      const picked = series.find((x) => x.key === key);
      // A group's value is the request log's filter of the same name.
      if (picked && picked.value !== null && picked.value !== '') filters[s.group] = picked.value;
      ctx.navigate('requests', { ...compact(filters), since: t, until: t + stats.bucket_s });
    },
  }));
}

function renderTable(box, s, stats) {
  const groupLabel = GROUPS.find((g) => g.id === s.group).label;
  const t = stats.totals || {};
  const rows = [...stats.series].sort((a, b) => a.t - b.t || groupValueLabel(a, s.group).localeCompare(groupValueLabel(b, s.group)));
  const num = (v) => el('td', { className: 'num' }, v);
  box.replaceChildren(el('div', { className: 'table-wrap' }, el('table', { id: 'usage-table' },
    el('caption', {}, `Usage by ${groupLabel.toLowerCase()} and ${stats.bucket_s >= DAY ? 'day' : 'hour'}`),
    el('thead', {}, el('tr', {},
      el('th', { scope: 'col' }, 'Time (UTC)'),
      el('th', { scope: 'col' }, groupLabel),
      el('th', { scope: 'col', className: 'num' }, 'Requests'),
      el('th', { scope: 'col', className: 'num' }, 'Errors'),
      el('th', { scope: 'col', className: 'num' }, 'Input tokens'),
      el('th', { scope: 'col', className: 'num' }, 'Output tokens'),
      el('th', { scope: 'col', className: 'num' }, 'Cost'))),
    el('tbody', {}, ...rows.map((r) => el('tr', {},
      el('td', {}, bucketLabel(r.t, stats.bucket_s)),
      el('th', { scope: 'row' }, groupValueLabel(r, s.group)),
      num(f.int(r.requests)), num(f.int(r.errors)), num(f.int(r.prompt_tokens)),
      num(f.int(r.completion_tokens)), num(f.money(r.cost_usd))))),
    el('tfoot', {}, el('tr', { className: 'totals' },
      el('th', { scope: 'row', colSpan: 2 }, 'Totals'),
      num(f.int(t.requests)), num(f.int(t.errors)), num(f.int(t.prompt_tokens)),
      num(f.int(t.completion_tokens)), num(f.money(t.cost_usd)))))),
  el('p', { className: 'muted', hidden: !(t.unpriced_requests > 0) },
    `${f.plural(t.unpriced_requests, 'request')} used a model without a price: not in the cost.`));
}

function csvLink(s) {
  // usage.csv holds totals over the range, one row per group value.
  const until = isoDay(daySec(s.to) + DAY);
  const href = data.usageCsvUrl({
    key: s.key, model: s.model, provider: s.provider, route: s.route, since: s.from, until, group: s.group,
  });
  return el('p', { className: 'csv' },
    el('a', { href, download: 'usage.csv', id: 'usage-csv', className: 'button-link' }, 'Export CSV'),
    ` Totals per ${s.group} for the same filters.`);
}

export default {
  id: 'usage',
  title: 'Usage',
  async mount(root, ctx) {
    const s = stateOf(ctx.params);
    const error = el('p', { className: 'error', role: 'alert', hidden: true });
    const keySel = el('select', { name: 'key' }, ...options([], s.key, 'Any key'));
    const routeSel = el('select', { name: 'route' }, ...options([], s.route, 'Any route'));
    const form = el('form', { className: 'grid-form filters', 'aria-label': 'Usage filters' },
      field('usage-key', 'Key', keySel),
      field('usage-model', 'Model', el('input', { name: 'model', value: s.model, autocomplete: 'off', spellcheck: false })),
      field('usage-provider', 'Provider', el('input', { name: 'provider', value: s.provider, autocomplete: 'off', spellcheck: false })),
      field('usage-route', 'Route', routeSel),
      field('usage-from', 'From (UTC day)', el('input', { name: 'from', type: 'date', value: s.from, required: true })),
      field('usage-to', 'To (UTC day, included)', el('input', { name: 'to', type: 'date', value: s.to, required: true })),
      field('usage-group', 'Group by', el('select', { name: 'group' },
        ...GROUPS.map((g) => el('option', { value: g.id, selected: g.id === s.group }, g.label)))),
      el('div', { className: 'actions' }, el('button', { type: 'submit' }, 'Apply')));
    const metricBox = el('fieldset', { className: 'segmented-radio' },
      el('legend', {}, 'Show'),
      ...METRICS.map((m) => el('label', {},
        el('input', { type: 'radio', name: 'usage-metric', value: m.id, checked: m.id === s.metric }), ` ${m.label}`)));
    const chartBox = el('section', { className: 'card', 'aria-labelledby': 'usage-chart-title' },
      el('h2', { id: 'usage-chart-title' }, 'Usage over time'), el('p', { className: 'muted' }, 'Loading…'));
    const tableBox = el('section', { className: 'card', 'aria-label': 'Usage table', hidden: true });
    const empty = el('p', { className: 'no-data', id: 'usage-empty', hidden: true });
    const csvBox = el('div');
    root.append(
      el('h1', { id: 'usage-title' }, 'Usage'),
      el('section', { className: 'card', 'aria-label': 'Filters' }, form, metricBox, csvBox),
      error, empty, chartBox, tableBox);

    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const fd = new FormData(form);
      const next = { ...s };
      for (const k of ['key', 'model', 'provider', 'route', 'from', 'to', 'group']) next[k] = String(fd.get(k) || '').trim();
      if (next.from > next.to) {
        error.textContent = 'The first day comes after the last one.';
        error.hidden = false;
        form.elements.from.focus();
        return;
      }
      ctx.navigate('usage', paramsOf(next));
    });
    csvBox.append(csvLink(s));

    let stats = null;
    metricBox.addEventListener('change', () => {
      s.metric = metricBox.querySelector('input:checked').value;
      // The data is already here: redraw, and keep the choice in the hash
      // without a reload (replaceState fires no hashchange).
      history.replaceState(null, '', `#/usage?${new URLSearchParams(paramsOf(s)).toString()}`);
      if (stats && stats.series.length) renderChart(chartBox, ctx, s, stats, METRICS.find((m) => m.id === s.metric));
    });

    const since = daySec(s.from);
    const until = daySec(s.to) + DAY;
    try {
      const [keys, routes, st] = await Promise.all([
        listKeys(),
        data.listRoutes(),
        data.stats({
          since, until, bucket: until - since > 2 * DAY ? 'day' : 'hour', group: s.group,
          key: s.key, model: s.model, provider: s.provider, route: s.route,
        }),
      ]);
      if (!ctx.isCurrent()) return;
      keySel.replaceChildren(...options(keys.map((k) => ({ value: k.id, label: k.name })), s.key, 'Any key'));
      routeSel.replaceChildren(...options(routes.map((r) => ({ value: r.name, label: r.name })), s.route, 'Any route'));
      stats = { ...st, series: Array.isArray(st.series) ? st.series : [] };
    } catch (e) {
      if (!ctx.isCurrent()) return;
      chartBox.hidden = true;
      ctx.failed(e, error);
      return;
    }
    if (!stats.series.length) {
      // Nothing recorded is not the same as zero: no chart, no zero totals.
      empty.textContent = `No data for this range: no requests match these filters from ${s.from} to ${s.to}.`;
      empty.hidden = false;
      chartBox.hidden = true;
      return;
    }
    renderChart(chartBox, ctx, s, stats, METRICS.find((m) => m.id === s.metric));
    renderTable(tableBox, s, stats);
    tableBox.hidden = false;
  },
};
