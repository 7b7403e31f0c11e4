/* Shared helpers for every page: API calls, DOM building, number and age formatting. */
"use strict";
window.EL = (function () {
  async function api(path, options) {
    const res = await fetch(path, Object.assign({ headers: { "content-type": "application/json" } }, options || {}));
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) {
      const message = body && body.error ? body.error : `${res.status} ${res.statusText}`;
      throw new Error(message);
    }
    return body;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function fmtNumber(value, digits) {
    if (value === null || value === undefined || value === "") return "";
    if (typeof value !== "number") return String(value);
    if (Number.isInteger(value)) return value.toLocaleString("en-US");
    const abs = Math.abs(value);
    const d = digits !== undefined ? digits : abs >= 1000 ? 1 : abs >= 1 ? 2 : 4;
    return value.toLocaleString("en-US", { minimumFractionDigits: 0, maximumFractionDigits: d });
  }

  function fmtAge(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "never";
    const s = Math.max(0, seconds);
    if (s < 10) return `${s.toFixed(1)} s ago`;
    if (s < 90) return `${Math.round(s)} s ago`;
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    if (s < 172800) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} days ago`;
  }

  function fmtBytes(n) {
    if (n === null || n === undefined) return "";
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0, v = n;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
  }

  function fmtCell(value, kind) {
    if (value === null || value === undefined) return "";
    if (kind === "time" && typeof value === "string") {
      // 2026-01-02T03:04:05.678000Z -> 2026-01-02 03:04:05.678 (UTC, milliseconds)
      return value.replace("T", " ").replace(/(\.\d{3})\d*/, "$1").replace(/\.000$|\.000(?=Z)/, "").replace("Z", "");
    }
    if (typeof value === "number") return fmtNumber(value);
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function table(columns, kinds, rows, limit) {
    const shown = limit ? rows.slice(0, limit) : rows;
    const head = el("tr", {}, columns.map((c) => el("th", { text: c })));
    const body = shown.map((row) => el("tr", {}, row.map((v, i) =>
      el("td", { class: kinds[i] === "number" ? "num" : null, text: fmtCell(v, kinds[i]) }))));
    return el("div", { class: "table-wrap" }, el("table", { class: "data" }, el("thead", {}, head), el("tbody", {}, body)));
  }

  function errorBox(message) { return el("div", { class: "error-box", role: "alert", text: message }); }

  function setLive(state, text) {
    const node = document.getElementById("live");
    if (!node) return;
    node.hidden = !text;
    node.className = `live ${state}`;
    document.getElementById("live-text").textContent = text;
  }

  // The server's clock, as seen from here: ages are computed against it, not the browser's clock.
  let clockOffset = 0;
  function syncClock(serverTime) { if (serverTime) clockOffset = Date.now() / 1000 - serverTime; }
  function serverNow() { return Date.now() / 1000 - clockOffset; }

  return { api, el, fmtNumber, fmtAge, fmtBytes, fmtCell, table, errorBox, setLive, syncClock, serverNow };
})();
