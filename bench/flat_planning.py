"""Flat planning: does a long-lived engine's cost depend on the table's history?

`python -m bench.flat_planning [--files 30000 300] [--work DIR]`

Builds lakes shaped like the sink's (`dt=/hour=` folders, three Kafka partitions, one small
file per partition per flush, ledger entries and all) directly with pyarrow and the catalog's
own `commit_flush`, no broker needed: 30,000 files over N hours is about 3.5 days of the demo's
default one-second flush with three partitions... compressed into as many hours as it takes to
hold 100 files per partition-hour. Then, for each lake, a `QueryEngine` is opened once and we time:
- `open`: connecting (catalog read, views built),
- `refresh after one flush`: one more flush committed, then `engine.refresh(force=True)`,
- `last hour`: `SELECT count(*), max(_offset) FROM t WHERE dt=... AND hour=...` (the newest hour),
- `everything`: `SELECT count(*) FROM t`.
Median of `--repeats` runs each. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

TOPIC = "ticks"
PARTITIONS = 3
FILES_PER_PARTITION_HOUR = 100
ROWS_PER_FILE = 20
START = datetime(2026, 1, 1, tzinfo=UTC)


def _flush(catalog, lake: Path, n: int, offsets: dict[int, int]) -> None:  # type: ignore[no-untyped-def]
    """The n-th flush (0-based): one file per Kafka partition into the hour that n falls in."""
    from eventlake.catalog import DataFile, LedgerEntry
    from eventlake.types import TableRef

    when = START + timedelta(hours=n // FILES_PER_PARTITION_HOUR)
    part = {"dt": when.strftime("%Y-%m-%d"), "hour": when.strftime("%H")}
    folder = lake / "ticks" / f"dt={part['dt']}" / f"hour={part['hour']}"
    folder.mkdir(parents=True, exist_ok=True)
    for p in range(PARTITIONS):
        first = offsets.get(p, 0)
        last = first + ROWS_PER_FILE - 1
        offsets[p] = last + 1
        path = folder / f"{TOPIC}+{p}+{first}+{last}.parquet"
        table = pa.table(
            {
                "symbol": pa.array(["AAPL", "MSFT"] * (ROWS_PER_FILE // 2)),
                "price": pa.array([float(i) for i in range(ROWS_PER_FILE)]),
                "ts": pa.array([when.isoformat()] * ROWS_PER_FILE),
                "_partition": pa.array([p] * ROWS_PER_FILE, pa.int32()),
                "_offset": pa.array(range(first, last + 1), pa.int64()),
            }
        )
        pq.write_table(table, path)
        f = DataFile(
            str(path),
            part,
            ROWS_PER_FILE,
            path.stat().st_size,
            topic=TOPIC,
            kafka_partition=p,
            first_offset=first,
            last_offset=last,
        )
        catalog.commit_flush(LedgerEntry(TOPIC, p, first, last, TableRef("default", "ticks"), [f], ROWS_PER_FILE))


def build_lake(root: Path, files: int) -> dict[int, int]:
    from eventlake.catalog import Column, Table
    from eventlake.catalog.sqlite import SQLiteCatalog

    lake = root / f"lake{files}"
    if (lake / "_eventlake" / "catalog.sqlite").is_file():  # made by an earlier run: reuse it
        with SQLiteCatalog(lake / "_eventlake" / "catalog.sqlite") as done:
            return {p: n for (_t, p), n in done.ledger_positions().items()}
    catalog = SQLiteCatalog(lake / "_eventlake" / "catalog.sqlite")
    catalog._conn.execute("PRAGMA synchronous=OFF")  # a bench fixture: no fsync per flush
    columns = [Column("symbol", "string"), Column("price", "double"), Column("ts", "string")]
    columns += [Column("_partition", "int"), Column("_offset", "bigint")]
    keys = [Column("dt", "string"), Column("hour", "string")]
    catalog.upsert_table(Table("default", "ticks", str(lake / "ticks"), "parquet", columns, keys))
    offsets: dict[int, int] = {}
    for n in range(files // PARTITIONS):
        _flush(catalog, lake, n, offsets)
    catalog.close()
    return offsets


def median_time(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(root: Path, files: int, repeats: int) -> dict[str, float]:
    from eventlake.catalog.sqlite import SQLiteCatalog
    from eventlake.config import load_settings
    from eventlake.query import connect

    offsets = build_lake(root, files)
    lake = root / f"lake{files}"
    settings = load_settings(overrides={"lake": str(lake), "query": {"time_limit_s": 600}})
    started = time.perf_counter()
    engine = connect(settings)
    opened = time.perf_counter() - started
    catalog = SQLiteCatalog(lake / "_eventlake" / "catalog.sqlite")
    n = [sum(offsets.values()) // ROWS_PER_FILE // PARTITIONS]

    refreshes = []
    for _ in range(repeats):  # the flush is not timed: only the engine's refresh that follows it
        _flush(catalog, lake, n[0], offsets)
        n[0] += 1
        started = time.perf_counter()
        engine.refresh(force=True)
        refreshes.append(time.perf_counter() - started)
    refresh = statistics.median(refreshes)
    newest = START + timedelta(hours=(n[0] - 1) // FILES_PER_PARTITION_HOUR)
    where = f"dt = '{newest:%Y-%m-%d}' AND hour = '{newest:%H}'"
    last_hour_sql = f"SELECT count(*), max(_offset) FROM ticks WHERE {where}"
    last_hour = median_time(lambda: engine.sql(last_hour_sql), repeats)
    everything = median_time(lambda: engine.sql("SELECT count(*) FROM ticks"), 1)  # reads every file: once
    count = engine.sql("SELECT count(*) AS n FROM ticks").column("n")[0].as_py()
    assert count == n[0] * PARTITIONS * ROWS_PER_FILE, count
    engine.close()
    catalog.close()
    return {"open": opened, "refresh": refresh, "last_hour": last_hour, "everything": everything}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.flat_planning", description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, nargs="+", default=[300, 30000])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--work", type=Path, default=None, help="folder for the lakes (default: a temp folder)")
    args = parser.parse_args()
    root = args.work or Path(tempfile.mkdtemp(prefix="eventlake-flat-"))
    rows = []
    for files in args.files:
        m = measure(root, files, args.repeats)
        rows.append((files, m))
        print(f"{files} files: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in m.items()), flush=True)
    print("\n| files | open | refresh after one flush | last-hour query | query over everything |")
    print("|---:|---:|---:|---:|---:|")
    for files, m in rows:
        cells = " | ".join(f"{m[k] * 1000:.1f} ms" for k in ("open", "refresh", "last_hour", "everything"))
        print(f"| {files:,} | {cells} |")


if __name__ == "__main__":
    main()
