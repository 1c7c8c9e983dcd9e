// The overview page: totals for a range (last hour to last 30 days, kept
// in the hash as ?range=), cost today and this month, and charts of
// requests, tokens, errors and latency per bucket, with the top models and
// keys. A chart's bar opens the request log for that bucket's
// [t, t + bucket_s); a top model or key opens it filtered by that.
import { el } from './dom.js';
import * as data from './api_data.js';
import { barChart, lineChart, barList } from './chart.js';
import * as f from './format.js';

const RANGES = [
  { id: '1h', label: 'Last hour', short: '1 h', s: 3600 },
  { id: '24h', label: 'Last 24 hours', short: '24 h', s: 86400 },
  { id: '7d', label: 'Last 7 days', short: '7 d', s: 7 * 86400 },
  { id: '30d', label: 'Last 30 days', short: '30 d', s: 30 * 86400 },
];

const BUCKET_WORDS = { minute: 'minute', hour: 'hour', day: 'day' };

function bucketWord(stats) {
  return BUCKET_WORDS[stats.bucket] || `${stats.bucket_s} s`;
}

function stat(label, value, detail) {
  return el('div', { className: 'stat' },
    el('dt', {}, label),
    el('dd', {}, el('span', { className: 'stat-value' }, value),
      detail ? el('span', { className: 'stat-detail' }, detail) : null));
}

function percentiles(label, p50, p95, what) {
  // Both null: nothing to measure (no records, or none that went upstream).
  if (p50 === null && p95 === null) return stat(label, 'not measured', what);
  return stat(label, `${f.ms(p50)} / ${f.ms(p95)}`, what);
}

function cards(t, today, month) {
  const unpriced = t.unpriced_requests > 0 ? `${f.plural(t.unpriced_requests, 'request')} without a price` : null;
  return el('dl', { className: 'stats', 'aria-label': 'Totals for the range' },
    stat('Requests', f.int(t.requests)),
    stat('Error rate', f.pct(t.errors, t.requests), f.plural(t.errors, 'error')),
    stat('Input tokens', f.int(t.prompt_tokens), `${f.int(t.cached_tokens)} of them cached`),
    stat('Output tokens', f.int(t.completion_tokens), t.reasoning_tokens > 0 ? `${f.int(t.reasoning_tokens)} reasoning` : null),
    stat('Cost in range', f.money(t.cost_usd), unpriced),
    stat('Cost today (UTC)', f.money(today.totals.cost_usd)),
    stat('Cost this month (UTC)', f.money(month.totals.cost_usd)),
    percentiles('Latency p50 / p95', t.latency_p50_ms, t.latency_p95_ms, 'whole requests'),
    percentiles('Gateway overhead p50 / p95', t.overhead_p50_ms, t.overhead_p95_ms,
      'time added by the gateway itself'));
}

function section(id, title, ...body) {
  return el('section', { className: 'card', 'aria-labelledby': id },
    el('h2', { id }, title), ...body);
}

function requestsHref(params) {
  return `#/requests?${new URLSearchParams(params).toString()}`;
}

function render(body, ctx, stats, today, month, range) {
  const t = stats.totals || {};
  const word = bucketWord(stats);
  const rows = Array.isArray(stats.series) ? stats.series : [];
  const base = { bucketS: stats.bucket_s, since: stats.since, until: stats.until };
  const pickTo = (extra) => ({ t: start }) => ctx.navigate('requests', { since: start, until: start + stats.bucket_s, ...extra });
  const bucketsOf = (fn) => rows.map((r) => ({ t: r.t, values: fn(r) }));

  body.replaceChildren(
    el('p', { className: 'muted', id: 'overview-range-text' },
      `${range.label}: ${f.utc(stats.since)} to ${f.utc(stats.until)}, in ${word} buckets.`),
    el('p', { className: 'no-data', hidden: rows.length > 0 }, 'No data for this range: no requests were recorded.'),
    cards(t, today, month),
    section('ov-requests', `Requests per ${word}`, barChart({
      ...base,
      title: `Requests per ${word}`,
      yLabel: `requests / ${word}`,
      series: [{ key: 'requests', label: 'Requests' }],
      buckets: bucketsOf((r) => ({ requests: r.requests })),
      format: (v) => f.plural(v, 'request'),
      axisFormat: f.int,
      onPick: pickTo({}),
    })),
    section('ov-tokens', `Tokens per ${word}`, barChart({
      ...base,
      title: `Tokens per ${word}`,
      yLabel: `tokens / ${word}`,
      // Cached tokens are part of the input count: stacked apart, not twice.
      series: [
        { key: 'input', label: 'Input (not cached)' },
        { key: 'cached', label: 'Input (cached)' },
        { key: 'output', label: 'Output' },
      ],
      buckets: bucketsOf((r) => ({
        input: Math.max(0, (r.prompt_tokens || 0) - (r.cached_tokens || 0)),
        cached: r.cached_tokens || 0,
        output: r.completion_tokens || 0,
      })),
      format: (v) => `${f.int(v)} tokens`,
      axisFormat: f.int,
      onPick: pickTo({}),
    })),
    section('ov-errors', `Errors per ${word}`, barChart({
      ...base,
      title: `Errors per ${word}`,
      yLabel: `errors / ${word}`,
      series: [{ key: 'errors', label: 'Errors', colour: '#a4161a' }],
      buckets: bucketsOf((r) => ({ errors: r.errors })),
      format: (v) => f.plural(v, 'error'),
      axisFormat: f.int,
      onPick: pickTo({ status: 'error' }),
    })),
    section('ov-latency', `Latency per ${word}`, lineChart({
      ...base,
      title: `Latency per ${word} (p50 and p95)`,
      yLabel: 'ms',
      series: [
        { key: 'p50', label: 'p50 latency' },
        { key: 'p95', label: 'p95 latency' },
      ],
      buckets: bucketsOf((r) => ({ p50: r.latency_p50_ms, p95: r.latency_p95_ms })),
      format: f.ms,
      axisFormat: f.num,
      onPick: pickTo({}),
    })),
    el('div', { className: 'two-col' },
      section('ov-top-models', 'Top models', barList({
        title: 'Top models by requests',
        items: ((stats.top && stats.top.models) || []).map((m) => ({
          label: m.model,
          value: m.requests,
          text: `${f.plural(m.requests, 'request')} · ${f.int(m.tokens)} tokens · ${f.money(m.cost_usd)}`,
          href: requestsHref({ model: m.model, since: stats.since, until: stats.until }),
        })),
      })),
      section('ov-top-keys', 'Top keys', barList({
        title: 'Top keys by requests',
        items: ((stats.top && stats.top.keys) || []).map((k) => ({
          label: k.key_name || k.key_id || '(no key)',
          value: k.requests,
          text: `${f.plural(k.requests, 'request')} · ${f.int(k.tokens)} tokens · ${f.money(k.cost_usd)}`,
          href: requestsHref({ key: k.key_id || '', since: stats.since, until: stats.until }),
        })),
      }))));
}

export default {
  id: 'overview',
  title: 'Overview',
  async mount(root, ctx) {
    const range = RANGES.find((r) => r.id === ctx.params.get('range')) || RANGES[1];
    const picker = el('div', { className: 'segmented', role: 'group', 'aria-label': 'Range' },
      ...RANGES.map((r) => el('button', {
        type: 'button',
        className: 'secondary small',
        'aria-pressed': r === range ? 'true' : 'false',
        title: r.label,
        onclick: () => ctx.navigate('overview', { range: r.id }),
      }, r.short)));
    const refresh = el('button', { type: 'button', className: 'secondary small', onclick: () => ctx.navigate('overview', { range: range.id }) }, 'Refresh');
    const error = el('p', { className: 'error', role: 'alert', hidden: true });
    const body = el('div', { 'aria-live': 'off' }, el('p', { className: 'muted' }, 'Loading…'));
    root.append(
      el('div', { className: 'section-head' }, el('h1', { id: 'overview-title' }, 'Overview'),
        el('div', { className: 'toolbar' }, picker, refresh)),
      error, body);

    const until = Math.floor(Date.now() / 1000);
    const since = until - range.s;
    const { day, month } = f.dayAndMonthStart(new Date(until * 1000));
    try {
      const [stats, today, thisMonth] = await Promise.all([
        data.stats({ since, until, bucket: 'auto', top: 5 }),
        data.stats({ since: day, until, top: 1 }),
        data.stats({ since: month, until, top: 1 }),
      ]);
      if (!ctx.isCurrent()) return;
      render(body, ctx, stats, today, thisMonth, range);
    } catch (e) {
      if (!ctx.isCurrent()) return;
      body.replaceChildren();
      ctx.failed(e, error);
    }
  },
};
