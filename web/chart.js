// Hand-written SVG charts for the data pages: stacked bars and lines over
// fixed time buckets, and a horizontal bar list for "top" tables.
//
// A time chart takes buckets [{t, values: {seriesKey: number|null}}]
// (t: bucket start, unix seconds), the bucket size and the range. A bucket
// that is absent had no records: it is drawn hatched (a gap in a line),
// never as 0, so "nothing happened" and "we know it was zero" look
// different. Every bar segment or point is a button (one tab stop for the
// whole chart, arrow keys between points, Enter/Space or a click calls
// opts.onPick({t, series})), named in words ("2026-12-06 14:00 UTC,
// echo/echo-1: 12 requests"); a visually hidden table holds the same
// numbers for screen readers. Times are UTC, as the gateway's buckets are.
import { el } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';

// Series colours: each at least 3:1 against the white card (WCAG 1.4.11).
export const PALETTE = ['#0b57a4', '#b35900', '#1a7f37', '#8250df', '#c2185b', '#006d77', '#5f6670'];

const W = 720;
const H = 240;
const PAD = { l: 64, r: 12, t: 28, b: 40 };
const MAX_SLOTS = 2000; // a range/bucket pair the gateway would refuse anyway

let chartSeq = 0; // unique ids for each chart's hatch pattern

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

const pad2 = (n) => String(n).padStart(2, '0');

/** A bucket start as text: a date for day buckets, else date and time. */
export function bucketLabel(t, bucketS) {
  const d = new Date(t * 1000);
  const day = `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
  if (bucketS >= 86400) return day;
  return `${day} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())} UTC`;
}

/** A short tick label: "12-06" for days, "14:00" (or "12-06 14:00" over days). */
function tickLabel(t, bucketS, spansDays) {
  const d = new Date(t * 1000);
  const md = `${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
  const hm = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
  if (bucketS >= 86400) return md;
  return spansDays ? `${md} ${hm}` : hm;
}

/** Every bucket start in [since, until), plus any the data has outside it. */
function slotsOf(buckets, bucketS, since, until) {
  const set = new Set();
  const first = Math.floor(since / bucketS) * bucketS;
  for (let t = first; t < until && set.size < MAX_SLOTS; t += bucketS) set.add(t);
  for (const b of buckets) set.add(b.t);
  return [...set].sort((a, b) => a - b);
}

/** A round top for the y axis whose half is round too: 1, 2, 4, 6 or 8 times a power of ten. */
function niceMax(v) {
  if (!(v > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(v));
  const f = v / exp;
  return ([1, 2, 4, 6, 8].find((n) => f <= n) || 10) * exp;
}

function defaultFormat(v) {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/**
 * The common frame: axes, ticks, hatching for absent buckets, the legend,
 * the hidden table, keyboard handling. draw(ctx) adds the marks and
 * returns the focusable points [{node, t, series, name}] in reading order.
 */
function timeChart(opts, kind) {
  const series = opts.series || [];
  const bucketS = opts.bucketS > 0 ? opts.bucketS : 3600;
  const buckets = (opts.buckets || []).filter((b) => b && Number.isFinite(b.t));
  const slots = slotsOf(buckets, bucketS, opts.since, opts.until);
  const byT = new Map(buckets.map((b) => [b.t, b.values || {}]));
  const format = opts.format || defaultFormat;
  const axisFormat = opts.axisFormat || format;
  const colour = (i) => series[i].colour || PALETTE[i % PALETTE.length];
  const id = `chart-${++chartSeq}`;
  // A point's name says its series when there are several, or when the
  // one series is a group's value (a model, a key), not the measure itself.
  const named = series.length > 1 || !!opts.grouped;

  const plotW = W - PAD.l - PAD.r;
  const plotH = H - PAD.t - PAD.b;
  const n = Math.max(slots.length, 1);
  const slotW = plotW / n;
  const xOf = (i) => PAD.l + i * slotW;

  let max = 0;
  for (const values of byT.values()) {
    if (kind === 'bar') {
      let sum = 0;
      for (const s of series) sum += Number(values[s.key]) || 0;
      max = Math.max(max, sum);
    } else {
      for (const s of series) if (typeof values[s.key] === 'number') max = Math.max(max, values[s.key]);
    }
  }
  const top = niceMax(max);
  const yOf = (v) => PAD.t + plotH - (v / top) * plotH;

  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'chart-svg',
    role: 'group',
    'aria-label': `${opts.title}. Arrow keys move between points; Enter opens the requests behind one.`,
  });
  root.append(svg('defs', {},
    svg('pattern', { id: `${id}-hatch`, width: 8, height: 8, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
      svg('rect', { width: 8, height: 8, fill: '#ffffff' }),
      svg('line', { x1: 0, y1: 0, x2: 0, y2: 8, stroke: '#aab0b9', 'stroke-width': 1.5 }))));

  // Absent buckets first, under everything.
  const gaps = svg('g', { 'aria-hidden': 'true' });
  slots.forEach((t, i) => {
    if (!byT.has(t)) {
      gaps.append(svg('rect', { x: xOf(i), y: PAD.t, width: slotW, height: plotH, fill: `url(#${id}-hatch)`, class: 'chart-gap' }));
    }
  });
  root.append(gaps);

  // Y axis: 0, half and top, with grid lines (no half of 1: a count
  // axis would label it with a rounded, wrong number).
  const axis = svg('g', { 'aria-hidden': 'true', class: 'chart-axis' });
  for (const v of top === 1 ? [0, top] : [0, top / 2, top]) {
    const y = yOf(v);
    axis.append(svg('line', { x1: PAD.l, x2: W - PAD.r, y1: y, y2: y, class: v ? 'chart-grid' : 'chart-base' }));
    axis.append(svg('text', { x: PAD.l - 6, y: y + 4, 'text-anchor': 'end' }, axisFormat(v)));
  }
  if (opts.yLabel) axis.append(svg('text', { x: 4, y: 12 }, opts.yLabel));
  // X axis: about six labels, on slot starts.
  const spansDays = slots.length > 0 && slots[slots.length - 1] - slots[0] >= 86400;
  const every = Math.max(1, Math.ceil(slots.length / 6));
  slots.forEach((t, i) => {
    if (i % every) return;
    const x = xOf(i) + slotW / 2;
    axis.append(svg('line', { x1: x, x2: x, y1: PAD.t + plotH, y2: PAD.t + plotH + 4, class: 'chart-base' }));
    axis.append(svg('text', { x, y: PAD.t + plotH + 18, 'text-anchor': 'middle' }, tickLabel(t, bucketS, spansDays)));
  });
  root.append(axis);

  const marks = svg('g', {});
  root.append(marks);
  const points = [];
  const nameOf = (t, label, v) => `${bucketLabel(t, bucketS)}${label ? `, ${label}` : ''}: ${format(v)}`;
  const point = (node, t, s, name) => {
    node.setAttribute('class', `${node.getAttribute('class') || ''} chart-point`.trim());
    node.setAttribute('role', 'button');
    node.setAttribute('tabindex', '-1');
    node.setAttribute('aria-label', name);
    points.push({ node, t, series: s, name });
  };

  if (kind === 'bar') {
    const bw = Math.max(1, slotW * 0.7);
    slots.forEach((t, i) => {
      if (!byT.has(t)) return;
      const values = byT.get(t);
      const x = xOf(i) + (slotW - bw) / 2;
      let base = 0;
      let drawn = 0;
      series.forEach((s, si) => {
        const v = Number(values[s.key]) || 0;
        if (v <= 0) return;
        const y0 = yOf(base);
        const y1 = yOf(base + v);
        base += v;
        const r = svg('rect', { x, y: y1, width: bw, height: Math.max(1, y0 - y1), fill: colour(si) });
        marks.append(r);
        point(r, t, s.key, nameOf(t, named ? s.label : '', v));
        drawn++;
      });
      if (!drawn) {
        // A bucket with records but 0 of this measure: a line on the axis.
        const r = svg('rect', { x, y: yOf(0) - 2, width: bw, height: 3, fill: '#1b1f24', class: 'chart-zero' });
        marks.append(r);
        point(r, t, series.length === 1 ? series[0].key : undefined, nameOf(t, '', 0));
      }
    });
  } else {
    series.forEach((s, si) => {
      let d = '';
      let prevIndex = -2;
      slots.forEach((t, i) => {
        const v = byT.has(t) ? byT.get(t)[s.key] : undefined;
        if (typeof v !== 'number') return;
        const x = xOf(i) + slotW / 2;
        d += `${i === prevIndex + 1 ? 'L' : 'M'}${x.toFixed(1)} ${yOf(v).toFixed(1)} `;
        prevIndex = i;
      });
      if (d) marks.append(svg('path', { d, fill: 'none', stroke: colour(si), 'stroke-width': 2, 'aria-hidden': 'true' }));
    });
    // Points after the lines, in time order, so Tab and arrows read left to right.
    slots.forEach((t, i) => {
      if (!byT.has(t)) return;
      series.forEach((s, si) => {
        const v = byT.get(t)[s.key];
        if (typeof v !== 'number') return;
        const c = svg('circle', { cx: xOf(i) + slotW / 2, cy: yOf(v), r: 4, fill: colour(si) });
        marks.append(c);
        point(c, t, s.key, nameOf(t, named ? s.label : '', v));
      });
    });
  }

  const readout = el('p', { className: 'chart-readout', 'aria-hidden': 'true' }, '\u00a0');
  let active = 0;
  const activate = (i, focus) => {
    if (!points.length) return;
    points[active].node.setAttribute('tabindex', '-1');
    active = Math.max(0, Math.min(points.length - 1, i));
    points[active].node.setAttribute('tabindex', '0');
    if (focus) points[active].node.focus();
  };
  activate(0, false);
  const pick = (p) => { if (opts.onPick) opts.onPick({ t: p.t, series: p.series }); };
  points.forEach((p, i) => {
    p.node.addEventListener('click', () => { activate(i, false); pick(p); });
    p.node.addEventListener('focus', () => { activate(i, false); readout.textContent = p.name; });
    p.node.addEventListener('mouseenter', () => { readout.textContent = p.name; });
    p.node.addEventListener('keydown', (e) => {
      const to = { ArrowRight: i + 1, ArrowDown: i + 1, ArrowLeft: i - 1, ArrowUp: i - 1, Home: 0, End: points.length - 1 }[e.key];
      if (to !== undefined) {
        e.preventDefault();
        activate(to, true);
      } else if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        pick(p);
      }
    });
  });

  const legend = el('ul', { className: 'chart-legend' },
    ...series.map((s, si) => {
      const sw = el('span', { className: 'swatch', 'aria-hidden': 'true' });
      sw.style.background = colour(si);
      return el('li', {}, sw, s.label);
    }),
    el('li', {}, el('span', { className: 'swatch swatch-gap', 'aria-hidden': 'true' }), 'No data'));
  const note = el('p', { className: 'chart-note' },
    `Hatched: no requests recorded in that ${bucketWord(bucketS)} (no data, not 0). `
    + `${kind === 'bar' ? 'A dark line on the axis' : 'A point on the axis'} is a measured 0. Times in UTC.`);

  const table = el('table', { className: 'visually-hidden' },
    el('caption', {}, `${opts.title} (data table)`),
    el('thead', {}, el('tr', {},
      el('th', { scope: 'col' }, 'Time (UTC)'),
      ...series.map((s) => el('th', { scope: 'col' }, s.label)))),
    el('tbody', {}, ...slots.map((t) => el('tr', {},
      el('th', { scope: 'row' }, bucketLabel(t, bucketS)),
      ...series.map((s) => {
        if (!byT.has(t)) return el('td', {}, 'no data');
        const v = byT.get(t)[s.key];
        if (kind === 'bar') return el('td', {}, format(Number(v) || 0));
        return el('td', {}, typeof v === 'number' ? format(v) : 'not measured');
      })))));

  return el('div', { className: 'chart' }, root, readout, legend, note, table);
}

function bucketWord(bucketS) {
  if (bucketS >= 86400) return 'day';
  if (bucketS >= 3600) return 'hour';
  if (bucketS >= 60) return 'minute';
  return `${bucketS} s`;
}

/**
 * Stacked bars over time. opts: {title, series: [{key, label, colour?}],
 * buckets, bucketS, since, until, format(v), axisFormat?(v), yLabel?,
 * grouped? (series are group values: always named), onPick?({t, series})}.
 */
export function barChart(opts) {
  return timeChart(opts, 'bar');
}

/** Lines over time (same opts as barChart); null values are not drawn. */
export function lineChart(opts) {
  return timeChart(opts, 'line');
}

/**
 * A horizontal bar list ("top models"): opts {title, items: [{label,
 * value, text, href}]}; each label a link, the bar's length relative to
 * the largest value, text the value in words.
 */
export function barList(opts) {
  const items = opts.items || [];
  if (!items.length) return el('p', { className: 'muted' }, opts.empty || 'No data for this range.');
  const max = Math.max(...items.map((i) => i.value), 0) || 1;
  return el('ol', { className: 'bar-list', 'aria-label': opts.title },
    ...items.map((item) => {
      const bar = el('span', { className: 'bar-list-bar', 'aria-hidden': 'true' });
      bar.style.width = `${Math.max(1, (item.value / max) * 100)}%`;
      return el('li', {},
        el('a', { href: item.href }, item.label),
        el('span', { className: 'bar-list-track', 'aria-hidden': 'true' }, bar),
        el('span', { className: 'bar-list-value' }, item.text));
    }));
}
