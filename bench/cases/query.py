"""query: an aggregate over N rows through `eventlake query` vs DuckDB directly on the same files.

The rows get into the lake the way users' rows do: ProducerPerformance fills a topic
`stock-ticks` with tick JSON, and `eventlake sink` lands it (that sink run is reported too).
Each contender runs the query `repeats` times; the best time counts:
- `eventlake query ... --format json` as a process (CLI start-up included),
- DuckDB in a fresh Python process (`import duckdb` + the query on read_parquet),
- eventlake's query library in this process, and DuckDB in this process.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import orjson

from bench import procs, profiling
from bench.bytecode import compile_tree, installed_package_dir
from bench.cases import sink as sink_case
from bench.context import RESULTS_DIR, Bench, clean_env
from bench.results import DUCKDB, DUCKDB_PROCESS, EVENTLAKE, EVENTLAKE_LIBRARY, Run

TOPIC = "stock-ticks"
TABLE = "stock_ticks"
SQL = (
    f"SELECT symbol, count(*) AS n, avg(price) AS avg_price, sum(volume) AS volume "
    f"FROM {TABLE} GROUP BY symbol ORDER BY symbol"
)


def table_dir(lake: Path) -> Path:
    """Where the sink put the table's files: `<lake>/<table>` or a `<table>` folder deeper down."""
    if (lake / TABLE).is_dir():
        return lake / TABLE
    found = sorted(p for p in lake.rglob(TABLE) if p.is_dir())
    return found[0] if found else lake


def direct_sql(lake: Path) -> str:
    source = f"read_parquet('{table_dir(lake)}/**/*.parquet', hive_partitioning=true)"
    return SQL.replace(f"FROM {TABLE}", f"FROM {source}")


def best_of(repeats: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def counts(rows: list[dict[str, Any]] | list[tuple[Any, ...]]) -> dict[str, int]:
    """symbol -> count, from row dicts (CLI JSON) or tuples (DuckDB)."""
    out = {}
    for row in rows:
        if isinstance(row, dict):
            out[str(row["symbol"])] = int(row["n"])
        else:
            out[str(row[0])] = int(row[1])
    return out


def library_query(lake: Path) -> Callable[[], list[dict[str, Any]]]:
    """eventlake's query library in-process: connect (reads the catalog), run, close; like DuckDB's side."""
    from eventlake.config import load_settings
    from eventlake.query import connect

    settings = load_settings(overrides={"lake": str(lake)})

    def call() -> list[dict[str, Any]]:
        engine = connect(settings)
        try:
            rows: list[dict[str, Any]] = engine.sql(SQL).to_pylist()
            return rows
        finally:
            engine.close()

    return call


def run(bench: Bench) -> None:
    rows = bench.sizes.query_rows
    repeats = bench.sizes.query_repeats
    topic = sink_case.fill(bench, "query", rows, topic=TOPIC)
    fill_run, lake = sink_case.run_eventlake(bench, topic, rows, name="sink_query_fill")
    bench.sections["query_data"] = (
        f"{rows:,} rows produced by ProducerPerformance into {TOPIC} and landed by "
        f"`eventlake sink` ({fill_run.events_per_s:,.0f} events/s)"
    )
    bench.broker.delete_topic(topic)

    peak_rss: dict[str, float] = {}  # the processes' largest peak RSS over the repeats
    compile_tree(installed_package_dir())  # the CLI's start-up as an installed copy has it (bench/bytecode.py)

    def cli() -> list[dict[str, Any]]:
        done = procs.run(bench.eventlake("query", SQL, "--lake", lake, "--format", "json"), env=clean_env())
        done.check("eventlake query")
        peak_rss[EVENTLAKE] = max(peak_rss.get(EVENTLAKE, 0.0), done.peak_rss_mb)
        rows: list[dict[str, Any]] = orjson.loads(done.stdout)
        return rows

    def duck_process() -> list[Any]:
        code = "import duckdb, sys, json; print(json.dumps(duckdb.sql(sys.argv[1]).fetchall()))"
        done = procs.run([sys.executable, "-c", code, direct_sql(lake)]).check("duckdb process")
        peak_rss[DUCKDB_PROCESS] = max(peak_rss.get(DUCKDB_PROCESS, 0.0), done.peak_rss_mb)
        rows: list[Any] = orjson.loads(done.stdout)
        return rows

    def duck_inprocess() -> list[Any]:
        con = duckdb.connect()
        try:
            return con.execute(direct_sql(lake)).fetchall()
        finally:
            con.close()

    reference: dict[str, int] | None = None
    contenders: list[tuple[str, Callable[[], Any], str]] = [
        (EVENTLAKE, cli, "`eventlake query --format json` process, best of"),
        (DUCKDB_PROCESS, duck_process, "python -c 'import duckdb; ...' process, best of"),
        (DUCKDB, duck_inprocess, "duckdb.connect().execute(...) in-process, best of"),
    ]
    try:
        contenders.insert(1, (EVENTLAKE_LIBRARY, library_query(lake), "eventlake query library in-process, best of"))
    except Exception as exc:
        bench.fail("query/eventlake library (in-process)", exc)
    for tool, fn, how in contenders:
        try:
            seconds, result = best_of(repeats, fn)
        except Exception as exc:
            bench.fail(f"query/{tool}", exc)
            continue
        got = counts(result)
        if sum(got.values()) != rows:
            bench.note(f"query/{tool}: counted {sum(got.values()):,} rows, expected {rows:,}")
        if reference is None:
            reference = got
        elif got != reference:
            bench.note(f"query/{tool}: result differs from {EVENTLAKE}'s")
        bench.add(Run("query", tool, rows, seconds, peak_rss.get(tool), note=f"{how} {repeats}"))
    if bench.profile:  # one more CLI run, under py-spy, so the timed runs above stay unprofiled
        procs.run(
            bench.eventlake("query", SQL, "--lake", lake, "--format", "json", profile_as="query_cli"), env=clean_env()
        ).check("eventlake query (profiled)")
        bench.sections.setdefault("profiles", {})["query_cli"] = profiling.report(
            "query_cli", RESULTS_DIR / "profiles" / "query_cli.raw"
        )
