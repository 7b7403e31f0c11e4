/* The pipeline page: /api/pipeline (sink health + topics + tables), polled every 2 s, no reloads. */
"use strict";
(function () {
  const POLL_MS = 2000;
  const $ = (id) => document.getElementById(id);
  const dash = (v, f) => (v === null || v === undefined ? "–" : f ? f(v) : EL.fmtNumber(v));
  const secs = (v) => (v === null || v === undefined ? "–" : v < 90 ? `${v.toFixed(1)} s` : EL.fmtAge(v).replace(" ago", ""));

  function stat(label, value, cls, id) {
    return EL.el("div", { class: "stat", id }, EL.el("div", { class: "label", text: label }),
      EL.el("div", { class: `value ${cls || ""}`, text: value }));
  }

  function summary(data) {
    const s = data.summary;
    const lagClass = s.lag === null ? "" : s.lag > 10000 ? "bad" : "ok";
    $("summary").replaceChildren(
      stat("Broker", data.broker.reachable ? "up" : "down", data.broker.reachable ? "ok" : "bad", "stat-broker"),
      ...kafkaStats(data.kafka),
      stat("Produce rate", s.produce_rate === null ? "–" : `${EL.fmtNumber(s.produce_rate)}/s`, "", "stat-produce"),
      stat("Sink rate", `${EL.fmtNumber(s.sink_rate)}/s`, "", "stat-sink"),
      stat("Lag", dash(s.lag), lagClass, "stat-lag"),
      stat("Newest data", secs(s.freshness_s), "", "stat-freshness"),
      stat("Rows landed", dash(s.rows_landed), "", "stat-rows"),
      stat("Files", dash(s.files), "", "stat-files"),
      stat("Bytes", EL.fmtBytes(s.bytes), "", "stat-bytes"),
      stat("DLQ", dash(s.dlq), s.dlq ? "bad" : "", "stat-dlq"),
      stat("Tables", dash(s.tables), "", "stat-tables"),
    );
  }

  // The cluster's health: a node down (a replica's broker missing, partitions under-replicated) is a
  // warning; partitions without a leader, or topics acks=all producers cannot write to, are bad.
  function kafkaStats(k) {
    if (!k || !k.reachable) {
      return [stat("Brokers up", "–", "bad", "stat-brokers"), stat("Under-replicated", "–", "", "stat-under-replicated"),
        stat("Offline partitions", "–", "", "stat-offline"), stat("acks=all writes", "–", "", "stat-writable")];
    }
    const down = k.missing_brokers.length;
    const brokers = stat("Brokers up", down ? `${k.brokers} (${down} down)` : String(k.brokers), down ? "warn" : "ok",
      "stat-brokers");
    brokers.title = k.broker_nodes.map((b) => `${b.id}@${b.address}`).join(", ") +
      (down ? ` · down: ${k.missing_brokers.join(", ")}` : "");
    const blocked = k.not_writable_topics;
    const writable = stat("acks=all writes", blocked.length ? `NO (${blocked.length})` : "yes", blocked.length ? "bad" : "ok",
      "stat-writable");
    writable.title = blocked.length ? `not writable: ${blocked.join(", ")}` : "every topic has enough in-sync replicas";
    return [brokers,
      stat("Under-replicated", EL.fmtNumber(k.under_replicated_partitions), k.under_replicated_partitions ? "warn" : "ok",
        "stat-under-replicated"),
      stat("Offline partitions", EL.fmtNumber(k.offline_partitions), k.offline_partitions ? "bad" : "ok", "stat-offline"),
      writable];
  }

  function when(ts) {
    return ts ? EL.fmtAge(EL.serverNow() - ts) : "–";
  }

  function topics(data) {
    const head = ["topic / partition", "messages in Kafka", "produced/s", "table", "rows landed", "landed/s", "lag",
      "freshness", "last flush", "files", "DLQ", "state"];
    const rows = [];
    const byTopic = new Map(data.topics.map((t) => [t.topic, t]));
    const sinkOnly = data.sink.filter((s) => !byTopic.has(s.topic)).map((s) => ({ topic: s.topic, partitions: [],
      messages: null, produce_rate: null, sink: s }));
    for (const t of [...data.topics, ...sinkOnly]) {
      const s = t.sink;
      const landed = s ? s.partitions.reduce((a, p) => a + p.rows_per_s, 0) : null;
      const fresh = s ? Math.min(...s.partitions.map((p) => (p.freshness_s === null ? Infinity : p.freshness_s))) : null;
      const last = s ? Math.max(...s.partitions.map((p) => p.last_flush_at || 0)) : null;
      const files = s ? s.partitions.reduce((a, p) => a + p.files, 0) : null;
      rows.push(EL.el("tr", { class: "topic-row", "data-topic": t.topic },
        EL.el("td", {}, EL.el("b", { text: t.topic }), replication(data.kafka, t.topic)), num(t.messages), num(t.produce_rate),
        EL.el("td", { text: s ? s.table : "" }), num(s ? s.rows : null), num(landed), num(s ? s.lag : null),
        EL.el("td", { text: s && isFinite(fresh) ? secs(fresh) : "–" }), EL.el("td", { text: s ? when(last) : "–" }),
        num(files), num(s ? s.dlq : null), stateCell(s ? worstState(s.partitions) : null)));
      const sinkParts = new Map((s ? s.partitions : []).map((p) => [p.partition, p]));
      const kafkaParts = new Map(t.partitions.map((p) => [p.partition, p]));
      const ids = [...new Set([...kafkaParts.keys(), ...sinkParts.keys()])].sort((a, b) => a - b);
      for (const id of ids) {
        const k = kafkaParts.get(id);
        const p = sinkParts.get(id);
        rows.push(EL.el("tr", { class: "partition-row" },
          EL.el("td", { class: "muted", text: `  partition ${id}` }), num(k ? k.messages : null), EL.el("td"),
          EL.el("td"), num(p ? p.rows : null), num(p ? p.rows_per_s : null), num(p ? p.lag : null),
          EL.el("td", { text: p ? secs(p.freshness_s) : "–" }), EL.el("td", { text: p ? when(p.last_flush_at) : "–" }),
          num(p ? p.files : null), EL.el("td"), stateCell(p ? p.state : null)));
      }
    }
    const body = rows.length ? rows : [EL.el("tr", {}, EL.el("td", { colspan: head.length, class: "muted",
      text: "no topics yet" }))];
    $("topics").replaceChildren(EL.el("div", { class: "box table-wrap" }, EL.el("table", { class: "data", id: "topics-table" },
      EL.el("thead", {}, EL.el("tr", {}, head.map((h) => EL.el("th", { text: h })))), EL.el("tbody", {}, body))));
  }

  // A badge after the topic's name when Kafka holds it with fewer copies than asked, or cannot serve it.
  function replication(k, topic) {
    const t = k && k.topics ? k.topics[topic] : null;
    if (!t) return null;
    if (t.offline.length) return EL.el("span", { class: "badge bad", text: ` offline: ${t.offline.join(",")}` });
    if (t.writable === false) return EL.el("span", { class: "badge bad", text: " acks=all refused" });
    if (t.under_replicated.length) {
      return EL.el("span", { class: "badge warn", text: ` under-replicated: ${t.under_replicated.join(",")}` });
    }
    return null;
  }

  // Offset breaks (a recreated topic, a retention gap) must be seen: anything but OK is shown as bad.
  function worstState(parts) {
    const bad = parts.map((p) => p.state).filter((st) => st && st !== "OK");
    return bad.find((st) => st.includes("stopped")) || bad[0] || "OK";
  }

  function stateCell(st) {
    return EL.el("td", { class: `state ${st && st !== "OK" ? "bad" : ""}`, text: st || "–" });
  }

  function num(v) { return EL.el("td", { class: "num", text: v === null || v === undefined ? "–" : EL.fmtNumber(v) }); }

  function tables(data) {
    const head = ["table", "format", "source", "rows", "files", "bytes", "partition keys", "columns", "schema v."];
    const rows = data.tables.map((t) => EL.el("tr", { "data-table": t.name },
      EL.el("td", {}, EL.el("a", { href: `/query?table=${encodeURIComponent(t.name)}`, text: t.qualified_name || t.name })),
      EL.el("td", { text: t.format }), EL.el("td", { text: t.source }), num(t.rows), num(t.files),
      EL.el("td", { class: "num", text: EL.fmtBytes(t.bytes) }),
      EL.el("td", { text: (t.partition_keys || []).map((k) => k[0]).join(", ") }),
      num((t.columns || []).length), num(t.schema_version)));
    const body = rows.length ? rows : [EL.el("tr", {}, EL.el("td", { colspan: head.length, class: "muted",
      text: "no tables yet: run `eventlake sink TOPIC` or `eventlake crawl`" }))];
    $("lake-tables").replaceChildren(EL.el("div", { class: "box table-wrap" }, EL.el("table", { class: "data", id: "tables-table" },
      EL.el("thead", {}, EL.el("tr", {}, head.map((h) => EL.el("th", { text: h })))), EL.el("tbody", {}, rows.length ? rows : body))));
  }

  function maintenance(data) {
    const m = data.maintenance;
    if (!m) { $("maintenance").replaceChildren(); return; }
    const head = ["table", "files", "bytes", "small files", "small share", "compacted", "retention"];
    const rows = m.tables.map((t) => EL.el("tr", { "data-table": t.table },
      EL.el("td", { text: t.table }), num(t.files), EL.el("td", { class: "num", text: EL.fmtBytes(t.bytes) }),
      num(t.small_files), EL.el("td", { class: "num", text: `${Math.round(100 * t.small_share)}%` }),
      EL.el("td", { text: t.last_compacted_at ? when(t.last_compacted_at) : "never" }),
      EL.el("td", { text: t.retention || "off" })));
    const note = `${m.enabled ? "runs in every sink" : "off in sinks: run `eventlake maintain`"} · last pass ` +
      `${m.last_pass_at ? when(m.last_pass_at) : "never"} · target ${m.target_file_mb} MB · small = under ${m.small_below_mb} MB`;
    $("maintenance").replaceChildren(EL.el("p", { class: "muted", id: "maintenance-note", text: note }),
      EL.el("div", { class: "box table-wrap" }, EL.el("table", { class: "data", id: "maintenance-table" },
        EL.el("thead", {}, EL.el("tr", {}, head.map((h) => EL.el("th", { text: h })))), EL.el("tbody", {}, rows))));
  }

  async function poll() {
    try {
      const data = await EL.api("/api/pipeline");
      EL.syncClock(data.generated_at);
      summary(data);
      topics(data);
      tables(data);
      maintenance(data);
      const err = $("pipeline-error");
      err.hidden = !data.errors.length;
      err.textContent = data.errors.join("\n");
      $("pipeline-updated").textContent = `lake ${data.lake} · Kafka ${data.broker.bootstrap_servers} · updated every ${POLL_MS / 1000} s`;
      document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
      EL.setLive("on", "live");
    } catch (e) {
      const err = $("pipeline-error");
      err.hidden = false;
      err.textContent = e.message;
      EL.setLive("off", "offline");
    }
    setTimeout(poll, POLL_MS);
  }
  poll();
})();
