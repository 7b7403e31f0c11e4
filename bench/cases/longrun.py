"""longrun: a lake after months of small flushes, before and after maintenance, against one written in big files.

The small-file lake is written the way the sink writes it, without Kafka (for speed): per flush,
one Parquet file per Kafka partition in its hour folder, named by its offsets, recorded by one
ledger entry (`commit_flush`, the sink's commit). Full size: 3 Kafka partitions x 48 hours x 210
flushes = 30,240 files of 40 rows (1.2M rows). At the demo's 1 s flush (~24 files a minute per
partition, ~4,300 an hour for 3 partitions) that is 7 hours of file count; spread over 48 hours
of event time it is a sink flushing every ~17 s for 2 days. The reference lake holds the same rows
in one flush per hour and partition (144 files: what a compacted-from-the-start pipeline has).

Measured on each lake, best of `repeats`, in this process (the costs that grow with files, not
Python's start-up): catalog open (open + list the files, what every engine does first); a query
over the last hour and one over everything with a fresh engine (`eventlake query`'s work); the
dashboard's panel refresh (a long-lived engine re-reads a changed catalog, then runs a per-minute
panel query over the last hour); `status` (the sink and maintenance read-models). The small lake
is measured as it grows (a quarter, half, all of its hours), then one maintenance pass
(`catalog.maintain.maintain`, what every sink runs in its background) catches up, and it is
measured again. Goal: each figure within 1.3x of the reference after maintenance, and at most
one file per 128 MB per closed table-hour.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from eventlake.catalog import Column, DataFile, LedgerEntry, Table, open_catalog
from eventlake.catalog.maintain import maintain, maintenance_status
from eventlake.config import Settings, load_settings
from eventlake.lake import open_lake
from eventlake.query import connect
from eventlake.sink.conform import file_schema
from eventlake.sink.health import sink_health
from eventlake.sink.maintenance import conformer_for
from eventlake.types import TableRef

TOPIC = "stock-ticks"
REF = TableRef("default", "stock_ticks")
PARTITIONS = 3
ROWS_PER_FILE = 40
HOUR_S = 3600
GOAL = 1.3
COLUMNS = [
    Column("symbol", "string"),
    Column("price", "double"),
    Column("volume", "bigint"),
    Column("ts", "timestamp"),
    Column("_topic", "string"),
    Column("_partition", "int"),
    Column("_offset", "bigint"),
]
SYMBOLS = np.array(["AAPL", "MSFT", "AMZN", "GOOG", "NVDA", "META", "TSLA", "NFLX"])
PANEL = (
    "SELECT date_trunc('minute', ts) AS minute, symbol, avg(price) AS price, sum(volume) AS volume "
    "FROM stock_ticks WHERE dt = '{dt}' AND hour = '{hour}' GROUP BY 1, 2 ORDER BY 1, 2"
)
LAST_HOUR = "SELECT count(*), sum(volume) FROM stock_ticks WHERE dt = '{dt}' AND hour = '{hour}'"
EVERYTHING = (
    "SELECT symbol, count(*), sum(volume), round(avg(price), 6) FROM stock_ticks GROUP BY symbol ORDER BY symbol"
)


def _settings(root: Path) -> Settings:
    # No time limit: a query over everything on 15,000 small files already passes the default 30 s.
    return load_settings(overrides={"lake": str(root), "query": {"time_limit_s": 3600}})


def _hour_values(start: int, h: int) -> dict[str, str]:
    t = time.gmtime(start + h * HOUR_S)
    return {"dt": time.strftime("%Y-%m-%d", t), "hour": f"{t.tm_hour:02d}"}


class LakeWriter:
    """Writes flushes the way the sink does: a file per flush and hour, one ledger entry each."""

    def __init__(self, root: Path, start: int, seed: int = 5) -> None:
        self.root, self.start = root, start
        self.settings = _settings(root)
        self.store = open_catalog(self.settings)
        # No fsync per commit while building (30,000 of them): the same rows, files and catalog
        # rows as the sink's, only the build's own crash safety is given up.
        self.store._conn.execute("PRAGMA synchronous=OFF")
        table = Table(
            "default",
            REF.name,
            str(root / REF.name),
            "parquet",
            COLUMNS,
            [Column("dt", "string"), Column("hour", "string")],
            source="sink",
        )
        self.store.upsert_table(table)
        self.schema = file_schema(table)
        self.next = [0] * PARTITIONS
        self.rng = np.random.default_rng(seed)

    def hour(self, h: int, flushes: int, rows_per_flush: int) -> None:
        values = _hour_values(self.start, h)
        folder = self.root / REF.name / f"dt={values['dt']}" / f"hour={values['hour']}"
        folder.mkdir(parents=True, exist_ok=True)
        t0 = (self.start + h * HOUR_S) * 1000  # epoch ms, the sink's event-time unit
        for p in range(PARTITIONS):
            n = flushes * rows_per_flush
            # Same rows whatever the flush size: the generator is consumed per (hour, partition).
            ts = np.sort(self.rng.integers(0, HOUR_S * 1000, n)) + t0
            sym = self.rng.choice(SYMBOLS, n)
            price = self.rng.normal(100, 20, n).round(2)
            vol = self.rng.integers(1, 1000, n)
            for f in range(flushes):
                sl = slice(f * rows_per_flush, (f + 1) * rows_per_flush)
                first = self.next[p]
                last = first + rows_per_flush - 1
                self.next[p] = last + 1
                data = pa.Table.from_arrays(
                    [
                        pa.array(sym[sl]),
                        pa.array(price[sl]),
                        pa.array(vol[sl]),
                        pa.array(ts[sl]).cast(self.schema.field("ts").type),
                        pa.array([TOPIC] * rows_per_flush),
                        pa.array(np.full(rows_per_flush, p, dtype=np.int32)),
                        pa.array(np.arange(first, last + 1, dtype=np.int64)),
                    ],
                    schema=self.schema,
                )
                path = folder / f"{TOPIC}+{p}+{first}+{last}.parquet"
                buf = pa.BufferOutputStream()  # encoded in memory, one plain write: half the time of a file writer
                pq.write_table(data, buf, compression="zstd")
                size = path.write_bytes(buf.getvalue().to_pybytes())
                file = DataFile(
                    str(path),
                    values,
                    rows_per_flush,
                    size,
                    topic=TOPIC,
                    kafka_partition=p,
                    first_offset=first,
                    last_offset=last,
                    min_event_time=float(ts[sl][0]) / 1e3,
                    max_event_time=float(ts[sl][-1]) / 1e3,
                    created_at=time.time(),
                )
                self.store.commit_flush(
                    LedgerEntry(
                        TOPIC,
                        p,
                        first,
                        last,
                        REF,
                        [file],
                        rows_per_flush,
                        max_event_time=file.max_event_time,
                        committed_at=(file.max_event_time or 0) + 1,  # flushed a second after its newest event
                    )
                )

    def close(self) -> None:
        self.store.close()


def _best(repeats: int, fn: Callable[[], Any]) -> float:
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def measure(settings: Settings, last: dict[str, str], repeats: int, full: bool = True) -> dict[str, float]:
    """Seconds (best of `repeats`) of what users wait for on this lake."""

    def catalog_open() -> None:
        with open_catalog(settings) as store:
            store.list_tables()
            store.list_files()

    def fresh(sql: str) -> Callable[[], None]:
        def run() -> None:
            with connect(settings) as engine:
                engine.sql(sql, max_rows=0)

        return run

    def status() -> None:
        with open_catalog(settings) as store:
            ends = store.ledger_positions()
            sink_health(store, lambda t, ps: {p: (0, ends.get((t, p), 0)) for p in ps})
            maintenance_status(store, settings.maintenance)

    out = {
        "catalog_open_s": _best(repeats, catalog_open),
        "query_everything_s": _best(repeats, fresh(EVERYTHING)),
        "status_s": _best(repeats, status),
    }
    if full:
        out["query_last_hour_s"] = _best(repeats, fresh(LAST_HOUR.format(**last)))
        with connect(settings) as engine:
            panel = PANEL.format(**last)

            def refresh() -> None:
                engine.refresh(force=True)  # what a long-lived engine does once the catalog changed
                engine.sql(panel, max_rows=0)

            out["panel_refresh_s"] = _best(repeats, refresh)
    return {k: round(v, 4) for k, v in out.items()}


def _files_per_hour(settings: Settings) -> dict[str, Any]:
    with open_catalog(settings) as store:
        stats = store.partition_file_stats(REF, settings.maintenance.small_bytes)
    target = settings.maintenance.target_bytes
    worst = max(s["files"] - max(1, math.ceil(s["bytes"] / target)) for s in stats)
    return {
        "hours": len(stats),
        "files": sum(s["files"] for s in stats),
        "max_files_per_hour": max(s["files"] for s in stats),
        "files_over_one_per_128mb": worst,
    }


# Best of 7: these are milliseconds on a shared VM, where best of 3 moved ratios by 0.3-0.6 between runs.
REPEATS = 7


def run_case(
    work: Path, hours: int, flushes_per_hour: int, repeats: int = REPEATS, log: Callable[[str], None] = print
) -> dict[str, Any]:
    small_root, ref_root = work / "longrun-small", work / "longrun-reference"
    for root in (small_root, ref_root):
        shutil.rmtree(root, ignore_errors=True)
    start = (int(time.time()) // HOUR_S - hours - 1) * HOUR_S  # every hour closed an hour ago or more
    last = _hour_values(start, hours - 1)
    rows = hours * PARTITIONS * flushes_per_hour * ROWS_PER_FILE
    out: dict[str, Any] = {
        "hours": hours,
        "kafka_partitions": PARTITIONS,
        "flushes_per_hour_per_partition": flushes_per_hour,
        "rows_per_file": ROWS_PER_FILE,
        "rows": rows,
        "small_files": hours * PARTITIONS * flushes_per_hour,
        "demo_hours_equivalent": round(hours * flushes_per_hour / (24 * 60), 1),
        "growth": [],
    }
    writer = LakeWriter(small_root, start)
    checkpoints = sorted({max(1, hours // 4), max(1, hours // 2), hours})
    t = time.perf_counter()
    for h in range(hours):
        writer.hour(h, flushes_per_hour, ROWS_PER_FILE)
        if h + 1 in checkpoints:
            files = (h + 1) * PARTITIONS * flushes_per_hour
            # The small lake's figures take longest (a minute and more) and vary least relative to their size: once.
            m = measure(writer.settings, _hour_values(start, h), 1, full=h + 1 == hours)
            out["growth"].append({"files": files, **m})
            log(f"longrun: {files:,} small files: {m}")
    writer.close()
    out["write_small_s"] = round(time.perf_counter() - t, 1)
    before = out["growth"][-1]

    ref = LakeWriter(ref_root, start)
    for h in range(hours):
        ref.hour(h, 1, flushes_per_hour * ROWS_PER_FILE)
    ref.close()
    reference = measure(ref.settings, last, repeats)
    log(f"longrun: reference ({hours * PARTITIONS} files): {reference}")

    settings = _settings(small_root)
    t = time.perf_counter()
    with open_catalog(settings) as store:
        report = maintain(store, open_lake(settings.lake), settings.maintenance, conform_for=conformer_for)
    out["maintenance_s"] = round(time.perf_counter() - t, 1)
    out["maintenance_files_merged"] = sum(tr.files_merged for tr in report.tables)
    after = measure(settings, last, repeats)
    log(f"longrun: after maintenance: {after}")
    with connect(settings) as a, connect(ref.settings) as b:
        same = a.sql(EVERYTHING, max_rows=0).equals(b.sql(EVERYTHING, max_rows=0))
    out.update(
        before=before,
        reference=reference,
        after=after,
        same_answers=same,
        layout_after=_files_per_hour(settings),
        layout_reference=_files_per_hour(ref.settings),
        ratio_before={k: round(before[k] / reference[k], 2) for k in reference},
        ratio_after={k: round(after[k] / reference[k], 2) for k in reference},
    )
    out["goal_met"] = (
        all(v <= GOAL for v in out["ratio_after"].values()) and out["layout_after"]["files_over_one_per_128mb"] <= 0
    )
    return out


def run(bench: Any) -> None:
    """The bench harness's entry (`python -m bench --cases longrun`)."""
    from bench.results import EVENTLAKE, Run

    sizes = bench.sizes
    result = run_case(bench.work, sizes.longrun_hours, sizes.longrun_flushes_per_hour)
    bench.sections["longrun"] = result
    for label, figures in (
        ("before maintenance", result["before"]),
        ("after maintenance", result["after"]),
        ("reference", result["reference"]),
    ):
        for key, seconds in figures.items():
            bench.add(
                Run(
                    f"longrun_{key.removesuffix('_s')}",
                    f"{EVENTLAKE} ({label})",
                    result["rows"],
                    seconds,
                    note=f"best of {REPEATS}, in-process",
                )
            )
    if not result["goal_met"]:
        bench.note(
            f"longrun: goal missed (ratios after maintenance {result['ratio_after']}, layout {result['layout_after']})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cases.longrun", description="the long-run case alone (no broker needed)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="12 hours x 40 flushes (1,440 files) instead of 48 x 210 (30,240)"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results" / "longrun.json")
    args = parser.parse_args(argv)
    hours, flushes = (12, 40) if args.quick else (48, 210)
    with tempfile.TemporaryDirectory(prefix="eventlake-longrun-") as tmp:
        result = run_case(Path(tmp), hours, flushes)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
