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

function heatColor(share) { const l = 92 - Math.round(share * 70); return `hsl(214, 75%, ${l}%)`; }

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
      td.style.background = heatColor(h / total);
      return td;
    });
    return el('tr', {}, el('td', { cls: 'layer', text: layer.layer }), ...cells, el('td', { cls: 'imbalance', text: fmt(layer.imbalance, 2) }));
  });
  document.getElementById('heat').replaceChildren(header, ...lines);
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
    heat(v);
  } catch (e) {
    document.getElementById('error').textContent = `(${e.message})`;
  }
}

document.getElementById('window').addEventListener('change', refresh);
refresh();
setInterval(refresh, 2000);
