// Tiny SVG charts with labelled axes: no library, nothing fetched. Both charts scale to their
// container's width (viewBox) and redraw from scratch on every call.

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 220;
const PAD = { top: 12, right: 12, bottom: 40, left: 48 };
const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777",
  "#65a30d", "#ea580c", "#475569"];

/** A stable colour per series key, so one alert type keeps its colour across charts. */
export function colourFor(key, keys) {
  const i = keys.indexOf(key);
  return PALETTE[(i < 0 ? 0 : i) % PALETTE.length];
}

function el(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function frame(container, opts) {
  container.replaceChildren();
  const root = el("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart", role: "img",
    "aria-label": opts.title || "",
  });
  container.append(root);
  return root;
}

/** Round the top of the scale up to 1, 2 or 5 × 10^n so tick labels are readable. */
function niceMax(value) {
  if (value <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * step).find((m) => m >= value);
}

function yAxis(root, max, opts) {
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const format = opts.formatY || ((v) => String(Math.round(v * 100) / 100));
  for (const f of [0, 0.5, 1]) {
    const y = PAD.top + plotH * (1 - f);
    root.append(el("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y, class: "chart-grid" }));
    if (opts.integer && !Number.isInteger(max * f)) continue;
    root.append(el("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end", class: "chart-tick" },
      format(max * f)));
  }
  if (opts.yLabel) {
    root.append(el("text", { x: 12, y: PAD.top + plotH / 2, class: "chart-axis-label",
      transform: `rotate(-90 12 ${PAD.top + plotH / 2})`, "text-anchor": "middle" }, opts.yLabel));
  }
}

function xLabels(root, labels, xOf, opts) {
  const every = Math.max(1, Math.ceil(labels.length / 8));
  labels.forEach((label, i) => {
    if (i % every && i !== labels.length - 1) return;
    root.append(el("text", { x: xOf(i), y: HEIGHT - PAD.bottom + 16, "text-anchor": "middle",
      class: "chart-tick" }, label));
  });
  if (opts.xLabel) {
    root.append(el("text", { x: (PAD.left + WIDTH - PAD.right) / 2, y: HEIGHT - 4,
      "text-anchor": "middle", class: "chart-axis-label" }, opts.xLabel));
  }
}

function legend(container, keys, opts) {
  if (keys.length < 2 && !opts.legend) return;
  const list = document.createElement("ul");
  list.className = "chart-legend";
  for (const key of keys) {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "chart-swatch";
    swatch.style.background = colourFor(key, keys);
    item.append(swatch, (opts.keyLabel || String)(key));
    list.append(item);
  }
  container.append(list);
}

/**
 * Bars, stacked when a bar has several values.
 * bars: [{label, value}] or [{label, values: {key: number}}].
 * opts: {title, xLabel, yLabel, formatY, integer (counts: no fractional ticks),
 *        keyLabel(key) for the legend}.
 */
export function barChart(container, bars, opts = {}) {
  const rows = bars.map((b) => ({ label: b.label, values: b.values || { "": b.value || 0 } }));
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.values)))];
  const total = (r) => Object.values(r.values).reduce((a, b) => a + b, 0);
  const max = niceMax(Math.max(0, ...rows.map(total)));
  const root = frame(container, opts);
  yAxis(root, max, opts);
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(rows.length, 1);
  const xOf = (i) => PAD.left + slot * (i + 0.5);
  rows.forEach((row, i) => {
    let base = PAD.top + plotH;
    for (const key of keys) {
      const value = row.values[key] || 0;
      if (!value) continue;
      const h = (value / max) * plotH;
      base -= h;
      const bar = el("rect", { x: xOf(i) - slot * 0.35, y: base, width: slot * 0.7, height: h,
        fill: colourFor(key, keys), class: "chart-bar" });
      const name = key ? `${(opts.keyLabel || String)(key)}: ` : "";
      bar.append(el("title", {}, `${row.label} ${name}${(opts.formatY || String)(value)}`));
      root.append(bar);
    }
  });
  xLabels(root, rows.map((r) => r.label), xOf, opts);
  legend(container, keys.filter(Boolean), opts);
}

/**
 * Lines over time or any numeric x.
 * points: [{x, y}] for one line (x a Date or number), or [{key, points: [{x, y}]}] for several.
 * opts: {title, xLabel, yLabel, formatX(x), formatY(y), integer, keyLabel(key),
 *        threshold: number, thresholdLabel}.
 */
export function lineChart(container, points, opts = {}) {
  const lines = points.length && points[0].points ? points : [{ key: "", points }];
  const keys = lines.map((l) => l.key);
  const all = lines.flatMap((l) => l.points).map((p) => ({ x: +p.x, y: p.y }));
  const root = frame(container, opts);
  const ys = all.map((p) => p.y).concat(opts.threshold ?? []);
  const max = niceMax(Math.max(0, ...ys));
  yAxis(root, max, opts);
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x0 = Math.min(...all.map((p) => p.x));
  const x1 = Math.max(...all.map((p) => p.x));
  const xOfValue = (x) => PAD.left + (x1 > x0 ? ((x - x0) / (x1 - x0)) * plotW : plotW / 2);
  const yOf = (y) => PAD.top + plotH * (1 - y / max);
  if (opts.threshold !== undefined) {
    const y = yOf(opts.threshold);
    root.append(el("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y, class: "chart-threshold" }));
    if (opts.thresholdLabel) {
      root.append(el("text", { x: WIDTH - PAD.right, y: y - 4, "text-anchor": "end",
        class: "chart-threshold-label" }, opts.thresholdLabel));
    }
  }
  const formatX = opts.formatX || ((x) => String(x));
  for (const line of lines) {
    const colour = colourFor(line.key, keys);
    const coords = line.points.map((p) => `${xOfValue(+p.x).toFixed(1)},${yOf(p.y).toFixed(1)}`);
    root.append(el("polyline", { points: coords.join(" "), fill: "none", stroke: colour,
      class: "chart-line" }));
    for (const p of line.points) {
      const dot = el("circle", { cx: xOfValue(+p.x), cy: yOf(p.y), r: 2.5, fill: colour });
      dot.append(el("title", {}, `${formatX(p.x)}: ${(opts.formatY || String)(p.y)}`));
      root.append(dot);
    }
  }
  const first = lines[0].points;
  const ticks = first.length
    ? [0, Math.floor((first.length - 1) / 2), first.length - 1].filter((i, n, a) => a.indexOf(i) === n)
    : [];
  ticks.forEach((i, n) => root.append(el("text", { x: xOfValue(+first[i].x), y: HEIGHT - PAD.bottom + 16,
    "text-anchor": ["start", "middle", "end"][ticks.length === 1 ? 1 : n * (2 / (ticks.length - 1))],
    class: "chart-tick" }, formatX(first[i].x))));
  if (opts.xLabel) {
    root.append(el("text", { x: (PAD.left + WIDTH - PAD.right) / 2, y: HEIGHT - 4,
      "text-anchor": "middle", class: "chart-axis-label" }, opts.xLabel));
  }
  legend(container, keys.filter(Boolean), opts);
}
