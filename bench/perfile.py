"""CPU per file of a repeated query in a long-lived engine, against DuckDB's native reader, interleaved.

A live query over the open hour reads hundreds of small sink files; what each costs sets how
fresh a dashboard can be. Each contender runs in a child process that opens once (an engine, or
a DuckDB connection), runs the query once to warm up, then `--queries` times, and reports the
process CPU time (`time.process_time`: every thread, user + sys) of each; the children run in
rotating order, round after round, so all meet the same load of a shared machine. Reported: per
contender the median over rounds of each round's median query, per file, with the spread (the
lowest and highest round medians).

    python -m bench.perfile LAKE [--build 1800] [--rounds 5] [--queries 5] [NAME=SRC ...]

`--build N` first writes a lake of about N files of 40 rows (the sink's layout, through the
catalog, as tests/fixtures_query does) at LAKE. Each `NAME=SRC` runs the engine from that source
tree (compare a branch with a copy of another's `src`, e.g. `git archive HEAD src | tar -x -C DIR`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.context import clean_env

SQL = "SELECT count(*), max(ts) FROM stock_ticks"
NATIVE = "duckdb native"
NATIVE_CACHED = "duckdb native, parquet_metadata_cache"


def _child_engine(lake: str, queries: int) -> list[float]:
    from eventlake.config import load_settings
    from eventlake.query import connect

    with connect(load_settings(None, {"lake": lake})) as engine:
        engine.execute(SQL)
        return [_cpu(lambda: engine.execute(SQL)) for _ in range(queries)]


def _child_native(lake: str, queries: int, metadata_cache: bool) -> list[float]:
    import duckdb

    from eventlake.catalog import open_catalog
    from eventlake.config import load_settings

    with open_catalog(load_settings(None, {"lake": lake})) as store:
        paths = [f.path for f in store.list_files()]
    con = duckdb.connect(":memory:")
    if metadata_cache:
        con.execute("SET parquet_metadata_cache = true")
    listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    sql = SQL.replace("stock_ticks", f"read_parquet([{listed}], hive_partitioning = true)")
    con.execute(sql).fetchall()
    return [_cpu(lambda: con.execute(sql).fetchall()) for _ in range(queries)]


def _cpu(run: Callable[[], object]) -> float:
    started = time.process_time()
    run()
    return time.process_time() - started


def _files(lake: Path) -> int:
    return sum(1 for _ in lake.rglob("*.parquet"))


def build(lake: Path, files: int) -> None:
    """About `files` files of 40 rows in one table-hour span (3 Kafka partitions, one file per flush)."""
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from tests.fixtures_query import build_sunk_lake

    build_sunk_lake(lake, rows=files * 40, flush_rows=40, span_s=3000)


def measure(lake: Path, sources: dict[str, str], rounds: int, queries: int) -> dict[str, list[float]]:
    """name -> each round's median CPU seconds per query."""
    me = [sys.executable, "-m", "bench.perfile", str(lake), "--child"]
    bench_root = str(Path(__file__).parents[1])
    commands = {name: ([*me, "engine"], src) for name, src in sources.items()}
    here = str(Path(__file__).parents[1] / "src")
    commands[NATIVE] = ([*me, "native"], here)
    commands[NATIVE_CACHED] = ([*me, "native-cached"], here)
    names = list(commands)
    out: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            cmd, src = commands[name]
            env = {**clean_env(), "PYTHONPATH": f"{src}:{bench_root}"}
            done = subprocess.run(
                [*cmd, "--queries", str(queries)], env=env, capture_output=True, text=True, check=False
            )
            if done.returncode:
                raise SystemExit(f"{name} failed: {done.stderr[-2000:]}")
            out[name].append(statistics.median(json.loads(done.stdout)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lake", type=Path)
    parser.add_argument("--build", type=int, default=0, help="first write a lake of about N small files at LAKE")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--queries", type=int, default=5, help="queries per child after one warm-up")
    parser.add_argument("--child", choices=["engine", "native", "native-cached"], help=argparse.SUPPRESS)
    parser.add_argument("sources", nargs="*", help="NAME=SRC: eventlake's source tree to run (default: this one)")
    args = parser.parse_intermixed_args()
    lake = args.lake.resolve()
    if args.child:
        if args.child == "engine":
            print(json.dumps(_child_engine(str(lake), args.queries)))
        else:
            print(json.dumps(_child_native(str(lake), args.queries, args.child == "native-cached")))
        return
    if args.build:
        if lake.exists():
            raise SystemExit(f"{lake} exists: give a new folder to --build, or leave --build out to reuse it")
        build(lake, args.build)
    sources = dict(s.split("=", 1) for s in args.sources) or {"eventlake": str(Path(__file__).parents[1] / "src")}
    files = _files(lake)
    start_load = os.getloadavg()[0]
    results = measure(lake, sources, args.rounds, args.queries)
    load = f"load average {start_load:.1f} -> {os.getloadavg()[0]:.1f}"
    print(f"{files} files; {load}; {args.rounds} rounds x {args.queries} queries")
    print(f"{'':40s} CPU ms per file: median of round medians (lowest-highest)")
    for name, per_round in results.items():
        ms = sorted(x * 1000 / files for x in per_round)
        print(f"{name:40s} {statistics.median(ms):.3f} ({ms[0]:.3f}-{ms[-1]:.3f})")


if __name__ == "__main__":
    main()
