/* A dashboard page: panels from /api/dashboards/{name}, data pushed over /api/stream/{name} (SSE). */
"use strict";
(async function () {
  const name = document.body.dataset.name;
  const panelsNode = document.getElementById("panels");
  const views = new Map();
  let source = null;
  let detail;
  try {
    detail = await EL.api(`/api/dashboards/${encodeURIComponent(name)}`);
  } catch (err) {
    panelsNode.replaceWith(EL.errorBox(err.message));
    EL.setLive("off", "offline");
    return;
  }
  document.getElementById("dash-title").textContent = detail.title;
  document.getElementById("dash-description").textContent = detail.description || "";

  // Parameters: the URL's query string wins over defaults, so a view can be shared as a link.
  const url = new URL(window.location.href);
  const form = document.getElementById("params");
  const inputs = new Map();
  for (const p of detail.parameters) {
    const current = url.searchParams.get(p.name) ?? String(p.default);
    let input;
    if (p.choices.length) {
      input = EL.el("select", { name: p.name }, p.choices.map((c) =>
        EL.el("option", { value: String(c), selected: String(c) === current }, String(c))));
    } else {
      input = EL.el("input", { name: p.name, value: current, size: 10 });
    }
    input.addEventListener("change", () => connect());
    inputs.set(p.name, input);
    form.append(EL.el("label", {}, p.label, input));
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); connect(); });

  for (const panel of detail.panels) {
    const body = EL.el("div", { class: "body" }, EL.el("div", { class: "empty", text: "loading…" }));
    const fresh = EL.el("span", { class: "fresh", title: "when data last landed in the lake" });
    const node = EL.el("section", {
      class: `panel ${panel.chart} ${panel.width === "full" ? "full" : ""}`, id: `panel-${panel.id}`,
      "data-panel": panel.id, "data-chart": panel.chart, "data-updates": "0",
    }, EL.el("div", { class: "panel-head" }, EL.el("h2", { text: panel.title }), fresh), body);
    panelsNode.append(node);
    views.set(panel.id, { spec: panel, node, fresh, view: new Charts.PanelView(body, panel), data: null });
  }

  function query() {
    const q = new URLSearchParams();
    for (const [key, input] of inputs) q.set(key, input.value);
    return q.toString();
  }

  function onPanel(event) {
    const data = JSON.parse(event.data);
    const entry = views.get(data.panel);
    if (!entry) return;
    EL.syncClock(data.server_time);
    entry.data = data;
    entry.view.show(data);
    entry.node.dataset.updates = String(Number(entry.node.dataset.updates) + 1);
    entry.node.dataset.rows = String(data.rows.length);
    entry.node.dataset.state = data.error ? "error" : "ok";
    showFreshness(entry);
  }

  function showFreshness(entry) {
    const d = entry.data;
    if (!d) return;
    const now = EL.serverNow();
    const parts = [];
    if (d.landed_at) parts.push(`data landed ${EL.fmtAge(now - d.landed_at)}`);
    else if (d.table) parts.push(`no data landed in ${d.table} yet`);
    if (d.truncated) parts.push("truncated");
    entry.fresh.textContent = parts.join(" · ");
    entry.fresh.title = `queried ${EL.fmtAge(now - d.queried_at)} in ${(d.elapsed_s * 1000).toFixed(0)} ms`;
    entry.fresh.classList.toggle("stale", !!d.landed_at && now - d.landed_at > 60);
  }
  setInterval(() => views.forEach(showFreshness), 1000);

  async function explain(streamUrl) {
    // EventSource hides HTTP errors; ask once with fetch to show the server's one-line reason.
    const ctrl = new AbortController();
    try {
      const res = await fetch(streamUrl, { signal: ctrl.signal });
      if (!res.ok) {
        const body = await res.json().catch(() => ({}));
        for (const entry of views.values()) entry.view.fail(body.error || `${res.status} ${res.statusText}`);
        EL.setLive("off", "error");
        return;
      }
      ctrl.abort();
    } catch (e) { /* the server is away: keep trying */ }
    setTimeout(connect, 2000);
  }

  function connect() {
    if (source) source.close();
    const q = query();
    const next = new URL(window.location.href);
    next.search = q;
    history.replaceState(null, "", next);
    const streamUrl = `/api/stream/${encodeURIComponent(name)}?${q}`;
    source = new EventSource(streamUrl);
    EL.setLive("", "connecting");
    source.onopen = () => EL.setLive("on", "live");
    source.addEventListener("panel", onPanel);
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) explain(streamUrl);
      else EL.setLive("off", "reconnecting");
    };
  }
  connect();
})();
