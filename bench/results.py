"""The results: run rows, ratios against peers, targets, and their JSON and Markdown forms.

Everything here is pure (no processes, no clock) so the unit tests can check it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Tool names as they appear in the runs.
EVENTLAKE = "eventlake"
EVENTLAKE_LIBRARY = "eventlake (library)"
EVENTLAKE_WORKERS = "eventlake --workers 2"
KAFKA_PYTHON = "kafka-python"
PRODUCER_PERF = "kafka ProducerPerformance"
CONSUMER_PERF = "kafka ConsumerPerformance"
QUIX = "quixstreams"
TUTORIAL = "seed tutorial consumer"
TUTORIAL_S3 = "seed tutorial consumer (S3)"
DUCKDB = "duckdb"
DUCKDB_PROCESS = "duckdb (process)"
EVENTLAKE_PLAINTEXT = "eventlake plaintext"
EVENTLAKE_SASL_SSL = "eventlake SASL_SSL"
EVENTLAKE_SINGLE = "eventlake 1 node"
EVENTLAKE_CLUSTER = "eventlake 3 nodes RF 3"
EVENTLAKE_PARQUET = "eventlake --table-format parquet"
EVENTLAKE_ICEBERG = "eventlake --table-format iceberg"
EVENTLAKE_PG = "eventlake x{n}, PostgreSQL catalog"  # .format(n=processes)
PG_PROCESSES = (1, 2, 3)


@dataclass
class Run:
    """One measured run. `seconds` is wall time of the whole process unless `note` says otherwise."""

    name: str
    tool: str
    events: int
    seconds: float
    peak_rss_mb: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "tool": self.tool,
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(self.events_per_s, 1),
            "peak_rss_mb": self.peak_rss_mb,
        }
        if self.note:
            out["note"] = self.note
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class Target:
    label: str
    key: str  # a ratio name, or "sink_events_per_s" / "latency_p99_ms" / "dashboard_*"
    op: str  # ">=", "<=" or "<"
    threshold: float


TARGETS: tuple[Target, ...] = (
    Target("produce >= 0.5x the ceiling (ProducerPerformance)", "produce_vs_ceiling", ">=", 0.5),
    Target("produce >= 5x kafka-python", "produce_vs_kafka_python", ">=", 5.0),
    Target("sink >= 150,000 events/s (wall time of the whole process)", "sink_events_per_s", ">=", 150_000),
    Target("sink >= 150,000 events/s (the sink's own rate, from its summary)", "sink_own_events_per_s", ">=", 150_000),
    Target("sink >= 0.5x the consume ceiling (ConsumerPerformance)", "sink_vs_ceiling", ">=", 0.5),
    Target("sink --workers 2 >= 0.8x the consume ceiling (ConsumerPerformance)", "sink_workers_vs_ceiling", ">=", 0.8),
    Target("sink >= 3x Quix Streams", "sink_vs_quix", ">=", 3.0),
    Target("sink >= 1000x the seed's consumer (local folder)", "sink_vs_tutorial", ">=", 1000.0),
    Target("sink >= 1000x the seed's consumer (S3, as the seed)", "sink_vs_tutorial_s3", ">=", 1000.0),
    Target("latency p99 <= 2 s at 5,000 events/s", "latency_p99_ms", "<=", 2000.0),
    Target("freshness p99 <= 1 s at 5,000 events/s (query engine)", "freshness_p99_ms_5000", "<=", 1000.0),
    Target("freshness p99 <= 1 s at 50,000 events/s (query engine)", "freshness_p99_ms_50000", "<=", 1000.0),
    Target(
        "panel <= 2 s behind the newest landed event at 5,000 events/s (max over pushes)",
        "dashboard_lag_max_ms",
        "<=",
        2000.0,
    ),
    Target(
        "panel refresh reads only the partitions it needs (files read < files in the table)",
        "dashboard_files_read_share",
        "<",
        1.0,
    ),
    Target("produce over SASL_SSL >= 0.6x plaintext (same broker)", "secure_produce_vs_plaintext", ">=", 0.6),
    Target("sink over SASL_SSL >= 0.6x plaintext (same broker)", "secure_sink_vs_plaintext", ">=", 0.6),
    Target("produce on 3 nodes RF 3 >= 0.5x one node (same run)", "cluster_produce_vs_single", ">=", 0.5),
    Target("sink on 3 nodes RF 3 >= 0.5x one node (same run)", "cluster_sink_vs_single", ">=", 0.5),
    Target("leader SIGKILL to the next acks=all write < 10 s (worst trial)", "cluster_failover_s", "<", 10.0),
    Target("Iceberg sink catch-up >= 0.7x the Parquet sink (same run)", "iceberg_vs_parquet", ">=", 0.7),
    Target("Iceberg freshness p99 <= 3 s at 5,000 events/s (query engine)", "iceberg_freshness_p99_ms", "<=", 3000.0),
    Target("query <= 1.5x DuckDB direct (CLI vs process)", "query_vs_duckdb", "<=", 1.5),
    Target("query <= 1.5x DuckDB direct (library vs in-process)", "query_library_vs_duckdb", "<=", 1.5),
)


def find(runs: list[Run], name: str, tool: str) -> Run | None:
    for run in runs:
        if run.name == name and run.tool == tool:
            return run
    return None


def _rate_ratio(runs: list[Run], name: str, tool: str, peer: str) -> float | None:
    ours, theirs = find(runs, name, tool), find(runs, name, peer)
    if ours is None or theirs is None or theirs.events_per_s <= 0:
        return None
    return ours.events_per_s / theirs.events_per_s


def _time_ratio(runs: list[Run], name: str, tool: str, peer: str) -> float | None:
    ours, theirs = find(runs, name, tool), find(runs, name, peer)
    if ours is None or theirs is None or theirs.seconds <= 0:
        return None
    return ours.seconds / theirs.seconds


def _cpu_ratio(runs: list[Run], name: str, tool: str, peer: str) -> float | None:
    """The peer's CPU seconds / ours for the same work (higher is better, like a rate ratio)."""
    ours, theirs = find(runs, name, tool), find(runs, name, peer)
    mine, other = (ours.extra.get("cpu_s") if ours else None), (theirs.extra.get("cpu_s") if theirs else None)
    if not isinstance(mine, (int, float)) or not isinstance(other, (int, float)) or mine <= 0:
        return None
    return float(other) / float(mine)


def ratios(runs: list[Run]) -> dict[str, float | None]:
    """Rates are eventlake / peer (higher is better); query is eventlake time / DuckDB time (lower is better)."""
    return {
        "produce_vs_kafka_python": _rate_ratio(runs, "produce", EVENTLAKE, KAFKA_PYTHON),
        "produce_vs_ceiling": _rate_ratio(runs, "produce", EVENTLAKE, PRODUCER_PERF),
        "sink_vs_quix": _rate_ratio(runs, "sink_catchup", EVENTLAKE, QUIX),
        "sink_vs_tutorial": _rate_ratio(runs, "sink_catchup", EVENTLAKE, TUTORIAL),
        "sink_vs_tutorial_s3": _rate_ratio(runs, "sink_catchup", EVENTLAKE, TUTORIAL_S3),
        "sink_vs_ceiling": _rate_ratio(runs, "sink_catchup", EVENTLAKE, CONSUMER_PERF),
        "sink_workers_vs_ceiling": _rate_ratio(runs, "sink_catchup", EVENTLAKE_WORKERS, CONSUMER_PERF),
        "secure_produce_vs_plaintext": _rate_ratio(runs, "secure_produce", EVENTLAKE_SASL_SSL, EVENTLAKE_PLAINTEXT),
        "secure_sink_vs_plaintext": _rate_ratio(runs, "secure_sink", EVENTLAKE_SASL_SSL, EVENTLAKE_PLAINTEXT),
        "cluster_produce_vs_single": _rate_ratio(runs, "cluster_produce", EVENTLAKE_CLUSTER, EVENTLAKE_SINGLE),
        "cluster_sink_vs_single": _rate_ratio(runs, "cluster_sink", EVENTLAKE_CLUSTER, EVENTLAKE_SINGLE),
        "iceberg_vs_parquet": _rate_ratio(runs, "iceberg_catchup", EVENTLAKE_ICEBERG, EVENTLAKE_PARQUET),
        "iceberg_vs_parquet_cpu": _cpu_ratio(runs, "iceberg_catchup", EVENTLAKE_ICEBERG, EVENTLAKE_PARQUET),
        **{
            f"pg_catalog_{n}_vs_1": _rate_ratio(
                runs, "pg_catalog_sink", EVENTLAKE_PG.format(n=n), EVENTLAKE_PG.format(n=1)
            )
            for n in PG_PROCESSES[1:]
        },
        "query_vs_duckdb": _time_ratio(runs, "query", EVENTLAKE, DUCKDB_PROCESS),
        "query_library_vs_duckdb": _time_ratio(runs, "query", EVENTLAKE_LIBRARY, DUCKDB),
    }


def measured_values(
    runs: list[Run],
    ratio_values: dict[str, float | None],
    latency: dict[str, Any] | None,
    dashboard: dict[str, Any] | None = None,
    iceberg_freshness: dict[str, Any] | None = None,
) -> dict[str, float | None]:
    sink = find(runs, "sink_catchup", EVENTLAKE)
    values = dict(ratio_values)
    values["sink_events_per_s"] = sink.events_per_s if sink else None
    failover = find(runs, "cluster_failover", EVENTLAKE_CLUSTER)
    values["cluster_failover_s"] = failover.seconds if failover else None
    own = sink.extra.get("own_events_per_s") if sink else None
    values["sink_own_events_per_s"] = float(own) if isinstance(own, (int, float)) else None
    values["latency_p99_ms"] = latency.get("p99_ms") if latency and latency.get("rate") == 5000 else None
    for row in (latency or {}).get("by_rate", []):
        if row.get("rate") in (5000, 50000):
            values[f"freshness_p99_ms_{row['rate']}"] = row.get("engine_p99_ms")
    for row in (iceberg_freshness or {}).get("by_format", []):
        if row.get("format") == "iceberg" and row.get("rate") == 5000:
            values["iceberg_freshness_p99_ms"] = row.get("p99_ms")
    dash = dashboard or {}
    values["dashboard_lag_max_ms"] = dash.get("max_ms") if dash.get("rate") == 5000 else None
    read, total = dash.get("files_read"), dash.get("files_total")
    values["dashboard_files_read_share"] = read / total if isinstance(read, int) and total else None
    return values


def judge(values: Mapping[str, float | None]) -> list[dict[str, Any]]:
    """Each target with its measured value and "pass", "fail" or "not run"."""
    out = []
    for target in TARGETS:
        value = values.get(target.key)
        if value is None:
            verdict = "not run"
        elif target.op == ">=":
            verdict = "pass" if value >= target.threshold else "fail"
        elif target.op == "<":
            verdict = "pass" if value < target.threshold else "fail"
        else:
            verdict = "pass" if value <= target.threshold else "fail"
        out.append(
            {
                "target": target.label,
                "key": target.key,
                "op": target.op,
                "threshold": target.threshold,
                "measured": value,
                "result": verdict,
            }
        )
    return out


def build(
    machine: dict[str, Any], runs: list[Run], latency: dict[str, Any] | None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON document written to bench/results/latest.json."""
    ratio_values = ratios(runs)
    doc: dict[str, Any] = {
        "machine": machine,
        "runs": [r.to_dict() for r in runs],
        "latency": latency or {},
        "ratios": {k: (round(v, 4) if v is not None else None) for k, v in ratio_values.items()},
        "targets": judge(
            measured_values(
                runs, ratio_values, latency, (extra or {}).get("dashboard"), (extra or {}).get("iceberg_freshness")
            )
        ),
    }
    doc.update(extra or {})
    return doc


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _measured(key: str, value: float | None, dashboard: dict[str, Any] | None = None) -> str:
    if value is None:
        return "-"
    if key in ("sink_events_per_s", "sink_own_events_per_s"):
        return f"{value:,.0f} events/s"
    if key in ("latency_p99_ms", "dashboard_lag_max_ms", "iceberg_freshness_p99_ms") or key.startswith("freshness_"):
        return f"{value:,.0f} ms"
    if key == "cluster_failover_s":
        return f"{value:,.1f} s"
    if key == "dashboard_files_read_share" and dashboard:
        return f"{dashboard.get('files_read')} of {dashboard.get('files_total')} files"
    return f"{value:,.2f}x"


def longrun_lines(lr: dict[str, Any]) -> list[str]:
    """The long-run case: each figure before maintenance, after it, and on the big-file reference lake."""
    if not lr.get("after"):
        return []
    lines = [
        "",
        f"Long run: {lr['small_files']:,} small files ({lr['rows']:,} rows, {lr['hours']} hours x "
        f"{lr['kafka_partitions']} Kafka partitions) vs the same rows in {lr['layout_reference']['files']} files; "
        f"maintenance caught up in {lr['maintenance_s']} s; after it {lr['layout_after']['max_files_per_hour']} "
        f"file(s) per closed hour at most; same answers: {lr['same_answers']}.",
        "",
        "| seconds (best of) | small files | after maintenance | reference | after / reference |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, ref in lr["reference"].items():
        lines.append(
            f"| {key.removesuffix('_s')} | {lr['before'].get(key, 0):.3f} | {lr['after'][key]:.3f} | {ref:.3f} | "
            f"{lr['ratio_after'][key]:.2f}x |"
        )
    lines += ["", "| small files | catalog open s | query everything s | status s |", "|---:|---:|---:|---:|"]
    for g in lr.get("growth", []):
        figures = " | ".join(f"{g[k]:.3f}" for k in ("catalog_open_s", "query_everything_s", "status_s"))
        lines.append(f"| {g['files']:,} | {figures} |")
    return lines


def markdown(doc: dict[str, Any]) -> str:
    """The run table, the latency table, and the targets with pass/fail."""
    m = doc.get("machine", {})
    lines = [
        "# eventlake bench",
        "",
        f"{m.get('mode', '')} run, {m.get('started_at', '')}; {m.get('cpu_model', '?')}, {m.get('cores', '?')} cores, "
        f"{m.get('memory_gb', '?')} GB; Python {m.get('python', '?')}; Kafka {m.get('kafka_version', '?')}; "
        f"commit {m.get('git_commit', '?')}; load average at start {m.get('load_average_start', '?')}.",
        "",
        "| case | tool | events | seconds | events/s | peak RSS MB | note |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in doc.get("runs", []):
        note = r.get("note", "")
        if r.get("own_events_per_s"):
            note += f"; own rate {r['own_events_per_s']:,.0f}/s"
        if r.get("profiled"):
            note += "; profiled"
        if r.get("cpu_s"):
            note += f"; CPU {r['cpu_s']:,.1f} s (user + sys)"
        lines.append(
            f"| {r['name']} | {r['tool']} | {r['events']:,} | {r['seconds']:.2f} | {_num(r['events_per_s'])} | "
            f"{_num(r.get('peak_rss_mb'))} | {note} |"
        )
    lat = doc.get("latency") or {}
    if lat.get("by_rate"):
        lines += [
            "",
            "End-to-end (producer at a fixed rate, sink running): " + lat.get("method", ""),
            "",
            "| target rate | produced events/s | sustained events/s | p50 ms | p95 ms | p99 ms | max ms | unseen "
            "| steady p99 ms | engine p50 ms | engine p95 ms | engine p99 ms | engine max ms | engine query p50 ms "
            "| load |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for row in lat["by_rate"]:
            label = "unthrottled" if not row.get("rate") else f"{row['rate']:,}/s"
            load = "-".join(f"{x:.1f}" for x in row.get("load_average") or [])
            lines.append(
                f"| {label} | {_num(row.get('produced_events_per_s'))} | {_num(row.get('sustained_events_per_s'))} | "
                f"{_num(row.get('p50_ms'))} | {_num(row.get('p95_ms'))} | {_num(row.get('p99_ms'))} | "
                f"{_num(row.get('max_ms'))} | {row.get('unseen', 0)} | {_num(row.get('steady_p99_ms'))} | "
                f"{_num(row.get('engine_p50_ms'))} | {_num(row.get('engine_p95_ms'))} | "
                f"{_num(row.get('engine_p99_ms'))} | {_num(row.get('engine_max_ms'))} | "
                f"{_num(row.get('engine_query_p50_ms'), 1)} | {load} |"
            )
    lines += _dashboard_lines(doc.get("dashboard") or {})
    lines += iceberg_freshness_lines(doc.get("iceberg_freshness") or {})
    shown = {k: v for k, v in (doc.get("ratios") or {}).items() if k.startswith(("iceberg_vs", "pg_catalog_"))}
    if any(v is not None for v in shown.values()):
        lines += [
            "",
            "Ratios of the iceberg case (CPU: the other run's CPU seconds / this one's): "
            + ", ".join(f"{k} {v:.2f}x" for k, v in shown.items() if v is not None),
        ]
    lines += longrun_lines(doc.get("longrun") or {})
    mem = doc.get("memory") or {}
    if mem:
        lines += [
            "",
            f"Peak RSS ({mem.get('method', '')}): eventlake producer "
            f"{_num(mem.get('producer_peak_rss_mb'))} MB, sink {_num(mem.get('sink_peak_rss_mb'))} MB "
            "(largest over the runs above).",
        ]
    lines += ["", "| target | measured | result |", "|---|---:|---|"]
    for t in doc.get("targets", []):
        mark = {"pass": "pass", "fail": "**FAIL**"}.get(t["result"], t["result"])
        lines.append(f"| {t['target']} | {_measured(t['key'], t['measured'], doc.get('dashboard'))} | {mark} |")
    notes = doc.get("notes") or []
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _dashboard_lines(dash: dict[str, Any]) -> list[str]:
    if not dash:
        return []
    return [
        "",
        f"Dashboard at {_num(dash.get('rate'))} events/s: {dash.get('method', '')}",
        "",
        "| panel | pushes | lag p50 ms | lag p95 ms | lag max ms | age p50 ms | age p95 ms | files read "
        "| files needed | files in table |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {dash.get('panel', '')} | {dash.get('pushes', 0)} | {_num(dash.get('p50_ms'))} | "
        f"{_num(dash.get('p95_ms'))} | {_num(dash.get('max_ms'))} | {_num(dash.get('age_p50_ms'))} | "
        f"{_num(dash.get('age_p95_ms'))} | {dash.get('files_read', '-')} ({dash.get('files_panel', '')}) | "
        f"{dash.get('files_needed', '-')} | {dash.get('files_total', '-')} |",
    ]


def iceberg_freshness_lines(fresh: dict[str, Any]) -> list[str]:
    """The iceberg case's freshness runs: each table format's latency as a user sees it."""
    if not fresh.get("by_format"):
        return []
    lines = [
        "",
        "Freshness by table format: " + fresh.get("method", ""),
        "",
        "| format | events/s | p50 ms | p95 ms | p99 ms | max ms | steady p99 ms | unseen | snapshot p50 ms "
        "| snapshot p99 ms | engine query p50 ms | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in fresh["by_format"]:
        load = "-".join(f"{x:.1f}" for x in row.get("load_average") or [])
        lines.append(
            f"| {row['format']} | {_num(row.get('rate'))} | {_num(row.get('p50_ms'))} | {_num(row.get('p95_ms'))} | "
            f"{_num(row.get('p99_ms'))} | {_num(row.get('max_ms'))} | {_num(row.get('steady_p99_ms'))} | "
            f"{row.get('unseen', 0)} | {_num(row.get('snapshot_p50_ms'))} | {_num(row.get('snapshot_p99_ms'))} | "
            f"{_num(row.get('engine_query_p50_ms'), 1)} | {load} |"
        )
    return lines


def run_from_dict(data: dict[str, Any]) -> Run:
    """Rebuild a Run from its JSON form (for re-rendering a saved result)."""
    known = {"name", "tool", "events", "seconds", "events_per_s", "peak_rss_mb", "note"}
    return Run(
        name=data["name"],
        tool=data["tool"],
        events=int(data["events"]),
        seconds=float(data["seconds"]),
        peak_rss_mb=data.get("peak_rss_mb"),
        note=data.get("note", ""),
        extra={k: v for k, v in data.items() if k not in known},
    )


__all__ = ["TARGETS", "Run", "Target", "build", "judge", "markdown", "ratios", "run_from_dict"]
