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
      if (!chartNode.hidden) drawChart();
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

  function drawChart() {
    if (!last) return;
    chartNode.hidden = false;
    if (chart) chart.reset();
    chartNode.replaceChildren();
    const body = EL.el("div", { class: "body" });
    chartNode.append(body);
    let spec;
    try {
      spec = Charts.guess(last);
    } catch (err) {
      body.append(EL.errorBox(err.message));
      return;
    }
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
  chartBtn.addEventListener("click", drawChart);
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
