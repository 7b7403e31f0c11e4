/* The query page: SQL editor, results grid, one-click chart, CSV download. */
"use strict";
(function () {
  const sql = document.getElementById("sql");
  const run = document.getElementById("run");
  const chartBtn = document.getElementById("chart");
  const csvBtn = document.getElementById("csv");
  const status = document.getElementById("status");
  const errorNode = document.getElementById("query-error");
  const results = document.getElementById("results");
  const chartNode = document.getElementById("query-chart");
  const SHOW_ROWS = 1000;
  let last = null;
  let chart = null;
  EL.setLive("", "");

  async function loadTables() {
    const list = document.getElementById("tables");
    try {
      const data = await EL.api("/api/tables");
      list.replaceChildren();
      if (!data.tables.length) list.append(EL.el("li", { class: "muted", text: "no tables yet" }));
      for (const t of data.tables) {
        const label = t.name || String(t);
        list.append(EL.el("li", {}, EL.el("a", {
          title: "query this table",
          onclick: () => { sql.value = `SELECT *\nFROM ${label}\nLIMIT 100`; execute(); },
        }, label)));
      }
    } catch (err) {
      list.replaceChildren(EL.el("li", {}, EL.errorBox(err.message)));
    }
  }

  async function execute() {
    run.disabled = true;
    status.textContent = "running…";
    errorNode.hidden = true;
    try {
      const data = await EL.api("/api/query", { method: "POST", body: JSON.stringify({ sql: sql.value }) });
      last = data;
      results.replaceChildren(EL.table(data.columns, data.kinds, data.rows, SHOW_ROWS));
      const more = data.rows.length > SHOW_ROWS ? ` (showing ${SHOW_ROWS})` : "";
      status.textContent = `${data.rows.length.toLocaleString("en-US")} rows${more}${data.truncated ? ", truncated" : ""}` +
        ` in ${(data.elapsed_s * 1000).toFixed(0)} ms`;
      results.dataset.rows = String(data.rows.length);
      chartBtn.disabled = !data.rows.length;
      csvBtn.disabled = false;
      if (!chartNode.hidden) drawChart(true);
    } catch (err) {
      last = null;
      results.replaceChildren();
      errorNode.textContent = err.message;
      errorNode.hidden = false;
      status.textContent = "";
      chartBtn.disabled = true;
      csvBtn.disabled = true;
    } finally {
      run.disabled = false;
    }
  }

  let spec = null;

  function select(name, options, current, onchange) {
    const node = EL.el("select", { name }, options.map(([value, label]) =>
      EL.el("option", { value, selected: value === current }, label)));
    node.addEventListener("change", () => onchange(node.value));
    return EL.el("label", {}, name, node);
  }

  /* One click charts a guess (x: a time or text column, y: the numbers); the pickers change it. */
  function drawChart(keepSpec) {
    if (!last) return;
    chartNode.hidden = false;
    if (chart) chart.reset();
    chartNode.replaceChildren();
    const body = EL.el("div", { class: "body" });
    if (!keepSpec || !spec || !last.columns.includes(spec.x)) {
      try {
        spec = Charts.guess(last);
      } catch (err) {
        chartNode.append(EL.errorBox(err.message));
        return;
      }
    }
    const cols = last.columns.map((c) => [c, c]);
    const numeric = last.columns.filter((c, i) => last.kinds[i] === "number");
    const redraw = (change) => { Object.assign(spec, change); drawChart(true); };
    chartNode.append(EL.el("div", { class: "params chart-controls" },
      select("chart", [["line", "line"], ["bar", "bar"], ["area", "area"]], spec.chart, (v) => redraw({ chart: v })),
      select("x", cols, spec.x, (v) => redraw({ x: v })),
      select("y", [["*", "(all numbers)"], ...numeric.map((c) => [c, c])], spec.y.length > 1 ? "*" : spec.y[0],
        (v) => redraw({ y: v === "*" ? numeric.filter((c) => c !== spec.x) : [v] })),
      select("series", [["", "(none)"], ...cols], spec.series || "", (v) => redraw({ series: v || null }))), body);
    chart = new Charts.PanelView(body, spec);
    chart.show(last);
  }

  async function download() {
    errorNode.hidden = true;
    try {
      const res = await fetch("/api/query.csv", {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sql: sql.value }),
      });
      if (!res.ok) throw new Error((await res.json().catch(() => ({}))).error || res.statusText);
      const blob = await res.blob();
      const link = EL.el("a", { href: URL.createObjectURL(blob), download: "query.csv" });
      document.body.append(link);
      link.click();
      link.remove();
    } catch (err) {
      errorNode.textContent = err.message;
      errorNode.hidden = false;
    }
  }

  run.addEventListener("click", execute);
  chartBtn.addEventListener("click", () => drawChart(false));
  csvBtn.addEventListener("click", download);
  sql.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); execute(); }
  });
  loadTables();
  const table = new URL(window.location.href).searchParams.get("table");
  if (table && /^[A-Za-z0-9_.]+$/.test(table)) {
    sql.value = `SELECT *\nFROM ${table}\nLIMIT 100`;
    execute();
  }
})();
