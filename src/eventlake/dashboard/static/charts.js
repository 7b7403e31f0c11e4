/* Panels drawn with uPlot (vendored in /static/vendor/uplot): line, area, bar; plus table and number. */
"use strict";
window.Charts = (function () {
  const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d",
    "#ea580c", "#4f46e5", "#0d9488", "#9333ea"];
  const color = (i) => (i < PALETTE.length ? PALETTE[i] : `hsl(${(i * 137.508) % 360}, 62%, 45%)`);
  const alpha = (c, a) => (c.startsWith("#")
    ? c + Math.round(a * 255).toString(16).padStart(2, "0") : c.replace("hsl(", "hsla(").replace(")", `, ${a})`));

  function column(data, name, role) {
    const i = data.columns.indexOf(name);
    if (i < 0) throw new Error(`${role} field "${name}" is not a column of the result (columns: ${data.columns.join(", ")})`);
    return i;
  }

  /* Rows -> {xs, labels, kind, series: [{name, values}]}; a `series` field pivots rows into one line each. */
  function shape(spec, data) {
    const xi = column(data, spec.x, "x");
    const kind = data.kinds[xi] === "time" ? "time" : data.kinds[xi] === "number" ? "number" : "category";
    const yis = spec.y.map((name) => column(data, name, "y"));
    const si = spec.series ? column(data, spec.series, "series") : -1;
    const toX = (v) => (kind === "time" ? Date.parse(v) / 1000 : Number(v));
    const keys = [];
    const seen = new Map();
    for (const row of data.rows) {
      const k = row[xi];
      if (k === null || seen.has(k)) continue;
      seen.set(k, true);
      keys.push(k);
    }
    if (kind !== "category") keys.sort((a, b) => toX(a) - toX(b));
    const index = new Map(keys.map((k, i) => [k, i]));
    const xs = kind === "category" ? keys.map((_, i) => i) : keys.map(toX);
    const series = [];
    if (si >= 0) {
      const byName = new Map();
      for (const row of data.rows) {
        const name = row[si] === null ? "(null)" : String(row[si]);
        if (!byName.has(name)) byName.set(name, new Array(xs.length).fill(null));
        if (row[xi] !== null) byName.get(name)[index.get(row[xi])] = row[yis[0]];
      }
      for (const name of [...byName.keys()].sort()) series.push({ name, values: byName.get(name) });
    } else {
      for (const [n, yi] of yis.entries()) {
        const values = new Array(xs.length).fill(null);
        for (const row of data.rows) if (row[xi] !== null) values[index.get(row[xi])] = row[yi];
        series.push({ name: spec.y[n], values });
      }
    }
    const shaped = { xs, labels: keys.map(String), kind, series, slot: 1 };
    return spec.chart === "bar" && series.length > 1 ? grouped(shaped, keys, kind) : shaped;
  }

  /* Bars of several series side by side: each category gets one slot per series plus a gap slot. */
  function grouped(shaped, keys, kind) {
    const n = shaped.series.length;
    const slot = n + 1;
    const cats = keys.length;
    const times = kind === "time" ? keys.map((k) => new Date(Date.parse(k))) : [];
    const day = (t) => t.toISOString().slice(0, 10);
    const oneDay = times.every((t) => day(t) === day(times[0] || t));
    const label = (k, i) => (kind === "time"
      ? (oneDay ? "" : `${times[i].toISOString().slice(5, 10)} `) +
        times[i].toISOString().slice(11, 16)
      : String(k));
    const xs = [];
    for (let i = 0; i < cats; i++) for (let j = 0; j < n; j++) xs.push(i * slot + j);
    const series = shaped.series.map((s, j) => {
      const values = new Array(xs.length).fill(null);
      for (let i = 0; i < cats; i++) values[i * n + j] = s.values[i];
      return { name: s.name, values };
    });
    return { xs, labels: keys.map(label), kind: "category", series, slot, centers: keys.map((_, i) => i * slot + (n - 1) / 2) };
  }

  /* Axis numbers stay short: 1.2M, 850K, 12.5. */
  function compact(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return `${+(v / 1e9).toFixed(1)}B`;
    if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
    if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}K`;
    return EL.fmtNumber(v);
  }

  function options(spec, shaped, width) {
    const bar = spec.chart === "bar";
    const area = spec.chart === "area";
    const category = shaped.kind === "category";
    const fmtY = (u, splits) => splits.map((v) => (v === null ? "" : compact(v)));
    const xAxis = { stroke: "#6b7485", grid: { stroke: "#eef1f5" }, ticks: { stroke: "#e3e7ee" } };
    const slot = shaped.slot || 1;
    const labelAt = (x) => (x === null || x === undefined ? ""
      : shaped.labels[slot > 1 ? Math.floor(x / slot) : Math.round(x)] ?? "");
    const n = shaped.labels.length;
    const longest = Math.max(0, ...shaped.labels.map((l) => l.length));
    // Labels side by side need about 7 px a character; otherwise they stand upright.
    const turn = n * (longest * 7 + 8) > width - 80;
    if (category) {
      Object.assign(xAxis, {
        splits: () => shaped.centers || shaped.xs,
        values: (u, splits) => splits.map(labelAt),
        rotate: turn ? -90 : 0, size: turn ? 14 + 6 * longest : 30, gap: 4, font: "10px system-ui",
        grid: { show: false },
      });
    }
    const many = shaped.series.length > 12;
    // Grouped bars (several series) fill their slots; a single series leaves room between bars.
    const barPaths = () => uPlot.paths.bars({ size: [slot > 1 ? 0.92 : 0.7, 64], gap: 1 });
    return {
      width, height: spec.chart_height || 260,
      // Times in UTC, as in tables, SQL results and the lake's dt/hour partitions.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      legend: { show: shaped.series.length > 1 || !bar, live: !many },
      cursor: { points: { size: 6 } },
      scales: {
        x: category ? { time: false, range: () => [-0.6, Math.max(0, shaped.xs[shaped.xs.length - 1] || 0) + 0.6] }
          : { time: shaped.kind === "time" },
        y: { range: bar || area ? (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.05 : 1] : undefined },
      },
      axes: [xAxis, { stroke: "#6b7485", grid: { stroke: "#eef1f5" }, ticks: { stroke: "#e3e7ee" }, size: 64, values: fmtY }],
      series: [
        { label: spec.x, value: category ? (u, x) => labelAt(x) : undefined },
        ...shaped.series.map((s, i) => ({
          label: s.name,
          stroke: color(i),
          width: bar ? 0 : 1.5,
          fill: bar ? alpha(color(i), 0.85) : area ? alpha(color(i), 0.18) : undefined,
          paths: bar ? barPaths() : undefined,
          points: bar ? { show: false } : { size: 4 },
          spanGaps: !bar,
          value: (u, v) => (v === null ? "–" : EL.fmtNumber(v)),
        })),
      ],
    };
  }

  class Chart {
    constructor(container, spec) {
      this.container = container;
      this.spec = spec;
      this.plot = null;
      this.key = "";
      this.observer = new ResizeObserver(() => {
        if (this.plot) this.plot.setSize({ width: this.width(), height: this.plot.height });
      });
      this.observer.observe(container);
    }

    width() { return Math.max(200, this.container.clientWidth); }

    update(data) {
      const shaped = shape(this.spec, data);
      const key = JSON.stringify([shaped.kind, shaped.series.map((s) => s.name), shaped.kind === "category" ? shaped.labels : 0]);
      const columns = [shaped.xs, ...shaped.series.map((s) => s.values)];
      if (this.plot && key === this.key) {
        this.plot.setData(columns);
        return;
      }
      this.destroy();
      this.key = key;
      this.container.classList.toggle("chart-legend-scroll", shaped.series.length > 12);
      this.plot = new uPlot(options(this.spec, shaped, this.width()), columns, this.container);
    }

    destroy() {
      if (this.plot) { this.plot.destroy(); this.plot = null; }
      this.container.replaceChildren();
    }
  }

  function numberView(spec, data) {
    const name = spec.y && spec.y.length ? spec.y[0] : data.columns[0];
    const i = data.columns.indexOf(name);
    if (i < 0) throw new Error(`field "${name}" is not a column of the result (columns: ${data.columns.join(", ")})`);
    const value = data.rows.length ? data.rows[0][i] : null;
    return EL.el("div", { class: "big-number", "data-value": value === null ? "" : String(value) },
      value === null ? "–" : EL.fmtNumber(value), spec.unit ? EL.el("small", { text: spec.unit }) : null);
  }

  /* A panel body that keeps its uPlot instance across updates, so live data does not flicker. */
  class PanelView {
    constructor(body, spec) { this.body = body; this.spec = spec; this.chart = null; }

    show(data) {
      if (data.error) return this.fail(data.error);
      try {
        if (!data.rows.length && this.spec.chart !== "number") {
          this.reset();
          this.body.append(EL.el("div", { class: "empty", text: "no rows yet" }));
        } else if (this.spec.chart === "table") {
          this.reset();
          this.body.append(EL.table(data.columns, data.kinds, data.rows));
        } else if (this.spec.chart === "number") {
          this.reset();
          this.body.append(numberView(this.spec, data));
        } else {
          if (!this.chart) { this.body.replaceChildren(); this.chart = new Chart(this.body, this.spec); }
          this.chart.update(data);
        }
      } catch (err) {
        this.fail(err.message || String(err));
      }
    }

    fail(message) { this.reset(); this.body.append(EL.errorBox(message)); }

    reset() {
      if (this.chart) { this.chart.destroy(); this.chart.observer.disconnect(); this.chart = null; }
      this.body.replaceChildren();
    }
  }

  /* One-click chart for an ad-hoc result: guess x (a time, else a text column) and the numeric y's. */
  function guess(data) {
    const kinds = data.kinds;
    let xi = kinds.indexOf("time");
    if (xi < 0) xi = kinds.indexOf("string");
    if (xi < 0) xi = 0;
    let ys = data.columns.filter((c, i) => i !== xi && kinds[i] === "number").slice(0, 6);
    if (!ys.length) throw new Error("no numeric column to chart");
    // Columns of very different magnitudes on one axis hide the small ones: then chart the first only.
    const peak = (name) => {
      const i = data.columns.indexOf(name);
      return Math.max(...data.rows.map((r) => Math.abs(Number(r[i]) || 0)), 1e-9);
    };
    const peaks = ys.map(peak);
    if (Math.max(...peaks) / Math.min(...peaks) > 20) ys = ys.slice(0, 1);
    let series = null;
    if (kinds[xi] === "time") {
      const si = kinds.findIndex((k, i) => i !== xi && k === "string");
      if (si >= 0) series = data.columns[si];
    }
    return { chart: kinds[xi] === "time" ? "line" : "bar", x: data.columns[xi], y: series ? ys.slice(0, 1) : ys, series };
  }

  return { PanelView, Chart, guess, shape };
})();
