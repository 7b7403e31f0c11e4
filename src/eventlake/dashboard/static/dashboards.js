/* The list of dashboards as code. */
"use strict";
(async function () {
  const list = document.getElementById("dashboards");
  EL.setLive("", "");
  try {
    const data = await EL.api("/api/dashboards");
    if (!data.dashboards.length) list.append(EL.el("p", { class: "muted", text: "No dashboards yet." }));
    for (const d of data.dashboards) {
      list.append(EL.el("a", { class: "card", href: `/dashboards/${encodeURIComponent(d.name)}` },
        EL.el("h3", { text: d.title }),
        EL.el("div", { class: "muted", text: d.description || "" }),
        EL.el("div", { class: "muted", text: `${d.panels} panels · ${d.source}` })));
    }
    const errors = document.getElementById("dashboard-errors");
    for (const [name, message] of Object.entries(data.errors)) {
      errors.append(EL.el("h2", { text: `${name} (not loaded)` }), EL.errorBox(message));
    }
  } catch (err) {
    list.replaceWith(EL.errorBox(err.message));
  }
})();
