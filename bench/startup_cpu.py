"""`eventlake query` start-up vs a plain DuckDB process, in CPU time, interleaved.

On a shared 2-core machine wall times swing with the neighbours' load; the CPU a process used
(user + sys of the waited child, `getrusage(RUSAGE_CHILDREN)`) swings much less. The contenders
run in rotating order, round after round, so both meet the same load; medians and minimums are
reported, with the load average. Each `NAME=SRC` runs `eventlake query` from that source tree
(compare a branch with a copy of another's `src`).

    python -m bench.startup_cpu LAKE [--runs 11] [NAME=SRC ...]

LAKE holds the query case's `stock_ticks` table (`bench/work/lakes/sink_query_fill` after a
bench run, whose catalog names its files by absolute path: move it only with its catalog).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.bytecode import compile_tree
from bench.cases.query import SQL, direct_sql
from bench.context import clean_env

DUCKDB = "duckdb process"


def _commands(lake: Path, sources: dict[str, str]) -> dict[str, tuple[list[str], dict[str, str]]]:
    entry = "from eventlake.cli.main import run; run()"
    cli = [sys.executable, "-c", entry, "query", SQL, "--lake", str(lake), "--format", "json"]
    out = {name: (cli, {**clean_env(), "PYTHONPATH": src}) for name, src in sources.items()}
    code = "import duckdb, sys, json; print(json.dumps(duckdb.sql(sys.argv[1]).fetchall()))"
    out[DUCKDB] = ([sys.executable, "-c", code, direct_sql(lake)], clean_env())
    return out


def measure(lake: Path, sources: dict[str, str], runs: int) -> dict[str, tuple[list[float], list[float]]]:
    """name -> (CPU seconds per run, wall seconds per run)."""
    commands = _commands(lake, sources)
    names = list(commands)
    out: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in names}
    for i in range(runs):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            cmd, env = commands[name]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(cmd, env=env, capture_output=True, check=False, cwd=lake.parent)
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode:
                raise SystemExit(f"{name} failed: {done.stderr.decode()[-2000:]}")
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            out[name][0].append(cpu)
            out[name][1].append(wall)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lake", type=Path)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("sources", nargs="*", help="NAME=SRC: eventlake's source tree to run (default: this one)")
    args = parser.parse_intermixed_args()  # `LAKE --runs N NAME=SRC ...` too
    sources = dict(s.split("=", 1) for s in args.sources) or {"eventlake": str(Path(__file__).parents[1] / "src")}
    for src in sources.values():
        compile_tree(src)  # as an installed copy has it (bench/bytecode.py)
    start_load = os.getloadavg()
    results = measure(args.lake.resolve(), sources, args.runs)
    print(f"load average at start {start_load[0]:.1f}, at end {os.getloadavg()[0]:.1f}; {args.runs} runs each")
    cpu_ref, wall_ref = results[DUCKDB]
    for name, (cpu, wall) in results.items():
        print(
            f"{name:16s} CPU median {statistics.median(cpu) * 1000:6.0f} ms (min {min(cpu) * 1000:6.0f})"
            f"  wall median {statistics.median(wall) * 1000:6.0f} ms (min {min(wall) * 1000:6.0f})"
            f"  ratio CPU {statistics.median(cpu) / statistics.median(cpu_ref):.2f}x"
            f" (min {min(cpu) / min(cpu_ref):.2f}x), wall {statistics.median(wall) / statistics.median(wall_ref):.2f}x"
        )


if __name__ == "__main__":
    main()
