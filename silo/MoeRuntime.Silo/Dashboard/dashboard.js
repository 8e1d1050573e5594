// The dashboard's only script, served from the silo under a Content-Security-Policy that allows no inline script.
// Every value from the JSON views is written with textContent or a style property, never parsed as HTML.
'use strict';
const token = new URLSearchParams(location.search).get('token') || '';
const fmt = (v, d = 3) => (v === undefined || v === null || !isFinite(v)) ? '–' : Number(v).toFixed(d);

/** An element with optional class and text; children are appended as nodes. */
function el(tag, { cls, text, title } = {}, ...children) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = String(text);
  if (title !== undefined) node.title = String(title);
  for (const child of children) node.append(child);
  return node;
}

/** A cell: a node as it is, anything else as text. */
const cell = (tag, c) => c instanceof Node ? el(tag, {}, c) : el(tag, { text: c });

function rows(id, header, lines) {
  const table = document.getElementById(id);
  table.replaceChildren(
    el('tr', {}, ...header.map(h => cell('th', h))),
    ...lines.map(l => el('tr', {}, ...l.map(c => cell('td', c)))));
}

function bar(share) {
  const fill = el('div');
  fill.style.width = `${Math.min(100, Math.max(0, 100 * (Number(share) || 0)))}%`;
  return el('div', { cls: 'bar', title: fmt(share, 2) }, fill);
}

function heat(v) {
  const experts = v.experts.length ? v.experts[0].hits.length : 0;
  const header = el('tr', {}, el('th', { text: 'layer' }),
    ...Array.from({ length: experts }, (_, e) => el('th', { text: e })), el('th', { text: 'imbalance' }));
  const lines = v.experts.map(layer => {
    const total = layer.hits.reduce((a, b) => a + b, 0) || 1;
    const cells = layer.hits.map(h => {
      const td = el('td', { text: Math.round(100 * h / total), title: h });
      const colours = MoeColors.heatCell(h / total);
      td.style.background = MoeColors.css(colours.background);
      td.style.color = MoeColors.css(colours.text);
      return td;
    });
    return el('tr', {}, el('td', { cls: 'layer', text: layer.layer }), ...cells, el('td', { cls: 'imbalance', text: fmt(layer.imbalance, 2) }));
  });
  document.getElementById('heat').replaceChildren(header, ...lines);
}

/** Per layer: PSI of the recent expert choices against the baseline (red over the threshold), the share of choices moved, counts. */
function drift(d) {
  if (!d) {
    document.getElementById('drift-windows').textContent = 'no drift view from this aggregator';
    document.getElementById('drift').replaceChildren();
    return;
  }
  document.getElementById('drift-windows').textContent =
    `last ${fmt(d.recentSeconds, 0)} s vs the ${fmt(d.baselineSeconds, 0)} s before; threshold PSI ${fmt(d.threshold, 2)}`;
  rows('drift', ['layer', 'PSI', 'moved', 'choices (recent / baseline)'], d.layers.map(l => [
    l.layer,
    l.sufficient ? el('span', { cls: l.psi > d.threshold ? 'bad' : 'ok', text: fmt(l.psi, 3) }) : el('span', { text: '–', title: 'too few choices to judge' }),
    l.sufficient ? bar(l.choiceShift) : '–',
    `${l.recentChoices} / ${l.baselineChoices}`]));
}

// Charts over time. The views hold only the selected window's values as of now, so the page keeps its own history: one
// point per poll, at the view's generatedAt (the server's clock, the same as the decision markers'), at most
// HistoryPoints of them (10 minutes at one poll every 2 s); changing the window starts the history again, since the
// values then mean something else. Longer history is Prometheus's and Grafana's (deploy/).
const PollMilliseconds = 2000;
const HistoryPoints = 300;
const DecisionsShown = 100;
const OutcomeColours = { applied: '#6f42c1', proposed: '#b08800', refused: '#b42318' };
const latencyOf = (metric, q) => v => v.latency[metric] ? v.latency[metric][q] : null;
const tierOf = (name, field) => v => { const t = v.tiers.find(x => x.tier === name); return t ? t[field] : null; };

function fmtBytes(b) {
  if (b === null || b === undefined || !isFinite(b)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  for (; Math.abs(b) >= 1024 && i < units.length - 1; i++) b /= 1024;
  return `${b.toFixed(b >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}

/**
 * Each chart: its container's id, how its axis shows values, and its series (label, colour, value from a view); axisSize
 * widens the value axis for long labels. The colours appear nowhere else on the page (the browser test finds each
 * chart's first series by its colour).
 */
const ChartSpecs = [
  { id: 'chart-requests', unit: v => fmt(v, 2), series: [
    { label: 'requests/s', stroke: '#1f77b4', value: v => v.requests.perSecond },
    { label: 'errors/s', stroke: '#d62728', value: v => v.requests.perSecond * v.requests.errorRatio }] },
  { id: 'chart-tokens', unit: v => fmt(v, 1), series: [
    { label: 'completion tokens/s', stroke: '#2ca02c', value: v => v.requests.completionTokensPerSecond },
    { label: 'prompt tokens/s', stroke: '#7f7f7f', value: v => v.requests.promptTokensPerSecond }] },
  { id: 'chart-latency', unit: v => fmt(v, 3), series: [
    { label: 'TTFT p50', stroke: '#9467bd', value: latencyOf('moe_time_to_first_token_seconds', 'p50') },
    { label: 'TTFT p95', stroke: '#5b2c8f', value: latencyOf('moe_time_to_first_token_seconds', 'p95') },
    { label: 'ITL p50', stroke: '#ff7f0e', value: latencyOf('moe_time_per_output_token_seconds', 'p50') },
    { label: 'ITL p95', stroke: '#a65200', value: latencyOf('moe_time_per_output_token_seconds', 'p95') }] },
  { id: 'chart-hits', unit: v => fmt(v, 2), series: [
    { label: 'hot hit ratio', stroke: '#8c564b', value: tierOf('hot', 'hitRatio') },
    { label: 'warm', stroke: '#bcbd22', value: tierOf('warm', 'hitRatio') },
    { label: 'cold', stroke: '#17becf', value: tierOf('cold', 'hitRatio') }] },
  { id: 'chart-hot', unit: fmtBytes, axisSize: 80, series: [
    { label: 'hot bytes', stroke: '#e377c2', value: tierOf('hot', 'memoryBytes') },
    { label: 'hot limit', stroke: '#636363', dash: [6, 4], value: tierOf('hot', 'capacityBytes') }] },
];

const charts = [];
let decisions = [];

/** Vertical lines at the controller decisions inside the chart's time range, coloured by outcome. */
function drawDecisions(u) {
  const [min, max] = [u.scales.x.min, u.scales.x.max];
  if (min === undefined || max === undefined || min === null || max === null) return;
  const ctx = u.ctx;
  ctx.save();
  // Two device pixels wide at a whole pixel: fully covered pixels in the outcome's colour, not a blurred 1-pixel line.
  ctx.lineWidth = 2 * Math.max(1, Math.round(devicePixelRatio));
  ctx.setLineDash([6, 4]);
  for (const d of decisions) {
    if (d.at < min || d.at > max) continue;
    const x = Math.round(u.valToPos(d.at, 'x', true));
    ctx.strokeStyle = OutcomeColours[d.outcome] || '#5b6670';
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
  }
  ctx.restore();
}

function chartWidth(node) { return Math.max(240, Math.floor(node.clientWidth)); }

function createCharts() {
  if (typeof uPlot !== 'function') {
    document.getElementById('chart-error').textContent = '(charts unavailable: uPlot did not load)';
    return;
  }
  for (const spec of ChartSpecs) {
    const node = document.getElementById(spec.id);
    const data = [[], ...spec.series.map(() => [])];
    const plot = new uPlot({
      width: chartWidth(node), height: 150,
      scales: { x: { time: true } },
      series: [{}, ...spec.series.map(s => ({ label: s.label, stroke: s.stroke, width: 2, dash: s.dash, value: (u, v) => spec.unit(v) }))],
      axes: [{}, { size: spec.axisSize || 60, values: (u, splits) => splits.map(spec.unit) }],
      hooks: { draw: [drawDecisions] },
    }, data, node);
    charts.push({ spec, node, plot, data });
  }
  window.addEventListener('resize', () => { for (const c of charts) c.plot.setSize({ width: chartWidth(c.node), height: 150 }); });
}

/** One point per chart from a view; a view no newer than the last point replaces it. */
function record(v) {
  const x = Date.parse(v.generatedAt) / 1000;
  if (!isFinite(x)) return;
  for (const c of charts) {
    const xs = c.data[0];
    const replace = xs.length > 0 && x <= xs[xs.length - 1];
    c.spec.series.forEach((s, i) => {
      const y = Number(s.value(v));
      const ys = c.data[i + 1];
      if (replace) ys[ys.length - 1] = isFinite(y) ? y : null; else ys.push(isFinite(y) ? y : null);
    });
    if (replace) xs[xs.length - 1] = x; else xs.push(x);
    if (xs.length > HistoryPoints) for (const column of c.data) column.splice(0, xs.length - HistoryPoints);
    c.plot.setData(c.data);
  }
}

function clearHistory() {
  for (const c of charts) {
    for (const column of c.data) column.length = 0;
    c.plot.setData(c.data);
  }
}

/** The newest controller decisions, for the markers and the list under the charts; a failure leaves the last ones. */
async function refreshDecisions() {
  try {
    const res = await fetch(`/v1/control/decisions?max=${DecisionsShown}`, { headers: { Authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const list = await res.json();
    decisions = list.map(d => ({ at: Date.parse(d.at) / 1000, outcome: d.outcome, controller: d.controller, change: d.change, rank: d.rank }))
      .filter(d => isFinite(d.at));
    document.getElementById('decisions').replaceChildren(
      el('div', { cls: 'meta', text: `${decisions.length} newest controller decisions; markers: applied, proposed, refused` }),
      ...decisions.slice(0, 5).map(d => {
        const swatch = el('span', { cls: 'swatch' });
        swatch.style.background = OutcomeColours[d.outcome] || '#5b6670';
        return el('div', { cls: 'decision' }, swatch, el('span', {
          text: `${new Date(d.at * 1000).toLocaleTimeString()} ${d.controller}${d.rank === null || d.rank === undefined ? '' : ` rank ${d.rank}`}: ${d.change} (${d.outcome})`,
        }));
      }));
    document.getElementById('chart-error').textContent = '';
  } catch (e) {
    document.getElementById('chart-error').textContent = `(decisions: ${e.message})`;
  }
  for (const c of charts) c.plot.redraw(false, false);
}

async function refresh() {
  const w = document.getElementById('window').value;
  try {
    const res = await fetch(`/v1/telemetry/summary?window=${encodeURIComponent(w)}`, { headers: { Authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const v = await res.json();
    document.getElementById('error').textContent = '';
    document.getElementById('updated').textContent = new Date(v.generatedAt).toLocaleTimeString();
    document.getElementById('ranks').textContent = `${v.ranks.live} live ranks, ${v.ranks.stale} stale`;
    rows('requests', ['', 'value'], [
      ['requests', fmt(v.requests.total, 0)], ['per second', fmt(v.requests.perSecond, 2)],
      ['error ratio', fmt(v.requests.errorRatio, 4)], ['completion tokens/s', fmt(v.requests.completionTokensPerSecond, 1)],
      ['admission rejects', fmt(v.requests.admissionRejects, 0)]]);
    rows('latency', ['metric', 'p50', 'p95', 'p99', 'n'], Object.entries(v.latency).map(([name, q]) =>
      [name.replace(/^moe_|_seconds$/g, ''), fmt(q.p50), fmt(q.p95), fmt(q.p99), q.count]));
    rows('slos', ['objective', 'target', 'actual', 'burn'], v.slos.map(s =>
      [s.name, fmt(s.target), el('span', { cls: s.met ? 'ok' : 'bad', text: fmt(s.actual) }), fmt(s.burnRate, 2)]));
    rows('tiers', ['tier', 'hit ratio', 'occupancy', 'fetch p95'], v.tiers.map(t =>
      [t.tier, fmt(t.hitRatio, 3), bar(t.occupancy), t.fetchLatency ? fmt(t.fetchLatency.p95, 4) : '–']));
    const m = v.mismatches;
    document.getElementById('mismatches').replaceChildren(
      el('div', { text: `${m.total} of ${m.compared} compared tokens` }),
      ...m.byLayerAndRanks.map(x => el('div', { cls: 'bad', text: `layer ${x.layer}: ranks ${x.rankA} vs ${x.rankB} — ${x.count}` })));
    drift(v.routingDrift);
    heat(v);
    record(v);
  } catch (e) {
    document.getElementById('error').textContent = `(${e.message})`;
  }
}

async function poll() {
  await refresh();
  await refreshDecisions();
}

document.getElementById('window').addEventListener('change', () => { clearHistory(); refresh(); });
createCharts();
poll();
setInterval(poll, PollMilliseconds);
