"""The dashboard bench case's pure parts: old ticks, SSE parsing, panel and ledger times, files read, windows,
and how its results are judged and shown. No timing is asserted."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
from bench.cases.dashboard import stocks_dashboard_for
from bench.dashboard_metrics import files_read, in_window, newest_landed, newest_shown, old_ticks, sse_events
from bench.results import build, markdown

from eventlake.dashboard.specs import parse_dashboard


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_old_ticks_spread_evenly_between_start_and_end() -> None:
    start = datetime(2026, 1, 1, 0, 0, tzinfo=UTC).timestamp()
    end = start + 48 * 3600
    ticks = list(old_ticks(1_000, start, end))
    assert len(ticks) == 1_000
    stamps = [_epoch(t["ts"]) for t in ticks]
    assert stamps == sorted(stamps)
    assert stamps[0] == start and abs(stamps[-1] - end) < 0.002
    hours = {t["ts"][:13] for t in ticks}
    assert len(hours) == 49  # every hour of the two days, and the last tick's own
    assert set(ticks[0]) >= {"symbol", "ts", "price", "volume"}
    assert list(old_ticks(0, start, end)) == []


def test_sse_events_parse_panels_and_keep_alives() -> None:
    lines = [
        "retry: 2000",
        "",
        "event: panel",
        'data: {"panel": "latest", "rows": [[1]]}',
        "",
        ": keep-alive",
        "",
        'data: {"x": 1}',
        "",
    ]
    assert list(sse_events(lines)) == [
        ("panel", {"panel": "latest", "rows": [[1]]}),
        ("heartbeat", {}),
        ("message", {"x": 1}),
    ]


def test_newest_shown_is_the_latest_time_in_the_column() -> None:
    columns = ["symbol", "price", "last_tick"]
    rows = [
        ["AAPL", 1.0, "2026-01-01T10:00:01.500000Z"],
        ["MSFT", 2.0, "2026-01-01T10:00:03.250Z"],
        ["NVDA", 3.0, None],
    ]
    assert newest_shown(columns, rows, "last_tick") == _epoch("2026-01-01T10:00:03.250Z")
    assert newest_shown(columns, [], "last_tick") is None
    assert newest_shown(["symbol"], [["AAPL"]], "last_tick") is None


def test_newest_landed_takes_the_topics_latest_event_time() -> None:
    summary = [
        {"topic": "t", "partition": 0, "max_event_time": 100.5},
        {"topic": "t", "partition": 1, "max_event_time": 120.25},
        {"topic": "t", "partition": 2, "max_event_time": None},
        {"topic": "other", "partition": 0, "max_event_time": 999.0},
    ]
    assert newest_landed(summary, "t") == 120.25
    assert newest_landed(summary, "none") is None


def test_files_read_counts_each_scan_in_duckdbs_plan(tmp_path: Path) -> None:
    con = duckdb.connect()
    for dt in ("2026-01-01", "2026-01-02"):
        for hour in ("00", "01", "02"):
            folder = tmp_path / "t" / f"dt={dt}" / f"hour={hour}"
            folder.mkdir(parents=True)
            con.execute(f"COPY (SELECT 1 AS x) TO '{folder / 'f.parquet'}' (FORMAT parquet)")
    source = f"read_parquet('{tmp_path}/t/**/*.parquet', hive_partitioning = true)"
    where = "dt > '2026-01-02' OR (dt = '2026-01-02' AND hour >= '01')"
    plan = con.execute(f"EXPLAIN ANALYZE SELECT count(*) FROM {source} WHERE {where}").fetchall()[0][-1]
    assert files_read(plan) == [2]
    both = con.execute(
        f"EXPLAIN ANALYZE SELECT (SELECT count(*) FROM {source} WHERE {where}), (SELECT count(*) FROM {source})"
    ).fetchall()[0][-1]
    assert sorted(files_read(both)) == [2, 6]
    assert files_read("no scans here") == []


def test_in_window_matches_the_recent_partitions_filter() -> None:
    start = datetime(2026, 1, 2, 13, 50, tzinfo=UTC).timestamp()
    assert in_window({"dt": "2026-01-02", "hour": "13"}, start)
    assert in_window({"dt": "2026-01-02", "hour": "14"}, start)
    assert in_window({"dt": "2026-01-03", "hour": "00"}, start)
    assert not in_window({"dt": "2026-01-02", "hour": "12"}, start)
    assert not in_window({"dt": "2026-01-01", "hour": "23"}, start)


def test_the_benched_dashboard_is_the_shipped_one_on_another_table() -> None:
    text = stocks_dashboard_for("bench_dashboard_1")
    dash = parse_dashboard("stocks", text, ".toml", "bench")
    assert dash.table == "bench_dashboard_1"
    assert "latest" in [p.id for p in dash.panels]
    assert all("stock_ticks" not in p.sql and "bench_dashboard_1" in p.sql for p in dash.panels)


def _dashboard(max_ms: float, files_read: int, rate: int = 5000) -> dict[str, object]:
    return {
        "rate": rate,
        "panel": "latest",
        "p50_ms": 400.0,
        "p95_ms": 900.0,
        "max_ms": max_ms,
        "pushes": 15,
        "age_p50_ms": 1500.0,
        "age_p95_ms": 2100.0,
        "files_read": files_read,
        "files_needed": 3,
        "files_total": 150,
        "files_panel": "price",
        "method": "m",
    }


def test_dashboard_targets_judge_the_max_lag_and_the_files_read() -> None:
    targets = {t["key"]: t for t in build({}, [], None, {"dashboard": _dashboard(1800.0, 3)})["targets"]}
    assert (targets["dashboard_lag_max_ms"]["measured"], targets["dashboard_lag_max_ms"]["result"]) == (1800.0, "pass")
    assert (targets["dashboard_files_read_share"]["measured"], targets["dashboard_files_read_share"]["result"]) == (
        0.02,
        "pass",
    )
    bad = {t["key"]: t["result"] for t in build({}, [], None, {"dashboard": _dashboard(2300.0, 150)})["targets"]}
    assert bad["dashboard_lag_max_ms"] == "fail" and bad["dashboard_files_read_share"] == "fail"
    other_rate = {
        t["key"]: t["result"] for t in build({}, [], None, {"dashboard": _dashboard(10.0, 3, 20000)})["targets"]
    }
    assert other_rate["dashboard_lag_max_ms"] == "not run"
    absent = {t["key"]: t["result"] for t in build({}, [], None)["targets"]}
    assert absent["dashboard_lag_max_ms"] == absent["dashboard_files_read_share"] == "not run"


def test_markdown_shows_the_dashboard_block_and_targets() -> None:
    text = markdown(build({}, [], None, {"dashboard": _dashboard(1800.0, 3)}))
    assert "| latest | 15 | 400 | 900 | 1,800 | 1,500 | 2,100 | 3 (price) | 3 | 150 |" in text
    assert (
        "| panel <= 2 s behind the newest landed event at 5,000 events/s (max over pushes) | 1,800 ms | pass |" in text
    )
    assert (
        "| panel refresh reads only the partitions it needs (files read < files in the table) | 3 of 150 files "
        "| pass |" in text
    )
