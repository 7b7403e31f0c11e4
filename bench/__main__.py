"""`python -m bench [--quick] [--cases produce,sink,...,iceberg] [--events N]` (all cases: CASES below).

Starts a dedicated broker, runs the cases, stops the broker, writes
bench/results/latest.json and latest.md, and prints the Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench import procs, results
from bench.cases import cluster, dashboard, e2e, iceberg, longrun, memory, produce, query, secure, sink
from bench.cluster import bench_broker
from bench.context import RESULTS_DIR, WORK_DIR, Bench, Sizes, sizes_for
from bench.kafka_tools import KafkaTools
from bench.machine import machine_info
from bench.venvs import PEERS, installed_version, peer_python

CASES: dict[str, Callable[[Bench], None]] = {
    "produce": produce.run,
    "sink": sink.run,
    "e2e": e2e.run,
    "dashboard": dashboard.run,
    "query": query.run,
    "memory": memory.run,
    "longrun": longrun.run,
    "secure": secure.run,  # its own exposed broker on a veth address: needs root
    "cluster": cluster.run,  # its own 3-node cluster beside the bench's broker
    "iceberg": iceberg.run,  # Iceberg vs Parquet sink, Iceberg freshness, sinks sharing a PostgreSQL catalog
}
# Which peer environments each case needs (made before the broker starts, so set-up is not timed).
NEEDS = {"produce": ["kafka-python"], "sink": ["kafka-python", "quixstreams"]}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a development run in under 3 minutes")
    parser.add_argument(
        "--cases", default=",".join(CASES), help=f"comma-separated subset of {','.join(CASES)} (default: all)"
    )
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help="events for the produce and sink cases and the unthrottled end-to-end run "
        "(default 1,000,000; quick 100,000)",
    )
    parser.add_argument(
        "--e2e-seconds",
        type=float,
        default=None,
        help="seconds of each fixed-rate end-to-end run (default 30; quick 15)",
    )
    parser.add_argument(
        "--e2e-rates",
        default=None,
        help="comma-separated events/s of the end-to-end runs, 0 = unthrottled (default 5000,20000,50000,0; "
        "quick 5000)",
    )
    parser.add_argument(
        "--query-rows",
        type=int,
        default=None,
        help="rows in the query case's lake (default 10,000,000; quick 1,000,000)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run eventlake's produce, sink and query under py-spy (bench/results/profiles)",
    )
    args = parser.parse_args(argv)
    args.case_list = [c.strip() for c in args.cases.split(",") if c.strip()]
    rates = [r.strip() for r in (args.e2e_rates or "").split(",") if r.strip()]
    if any(not (r.isascii() and r.isdigit()) or int(r) > 10_000_000 for r in rates):
        parser.error(f"--e2e-rates takes events/s such as 5000,50000 (0 = unthrottled), not {args.e2e_rates[:40]!r}")
    args.rates = tuple(int(r) for r in rates) or None
    unknown = [c for c in args.case_list if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    return args


def peer_versions(cases: list[str], profile: bool) -> dict[str, str]:
    needed = sorted({p for c in cases for p in NEEDS.get(c, [])} | ({"profilers"} if profile else set()))
    versions = {}
    for peer in needed:
        peer_python(peer)
        for req in PEERS[peer]:
            package = req.split("==")[0]
            versions[f"{peer}:{package}"] = installed_version(peer, package)
    if "quixstreams" in needed:
        versions["quixstreams:confluent-kafka"] = installed_version("quixstreams", "confluent-kafka")
    return versions


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sizes_for(args.quick, args.events, args.e2e_seconds, args.query_rows, args.rates)
    mode = ("quick" if args.quick else "full") + (" profiled" if args.profile else "")
    started = time.monotonic()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    versions = peer_versions(args.case_list, args.profile)
    with bench_broker(WORK_DIR / "broker") as broker, _reaping():
        bench = Bench(sizes=sizes, broker=broker, tools=KafkaTools.resolve(broker.kafka_version), profile=args.profile)
        machine = machine_info(broker.kafka_version, mode)
        machine["peers"] = versions
        print(f"[bench] {mode} run of {', '.join(args.case_list)} against {broker.bootstrap}", flush=True)
        for name in args.case_list:
            case_start = time.monotonic()
            try:
                CASES[name](bench)
            except Exception as exc:  # a broken case must not lose the others' results
                bench.fail(f"case {name}", exc)
            print(f"[bench] case {name} took {time.monotonic() - case_start:.0f} s", flush=True)
            # Written after every case: a run stopped half-way still leaves what it measured.
            write(document(bench, {**machine, "complete": False}, sizes, args.case_list))
    machine["complete"] = True
    machine["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    machine["bench_seconds"] = round(time.monotonic() - started, 1)
    doc = document(bench, machine, sizes, args.case_list)
    write(doc)
    print(results.markdown(doc))
    return 1 if bench.errors else 0


@contextlib.contextmanager
def _reaping() -> Iterator[None]:
    """Whatever happens (Ctrl-C included), no process the bench started outlives it."""
    try:
        yield
    finally:
        procs.stop_all()


def document(bench: Bench, machine: dict[str, Any], sizes: Sizes, cases: list[str]) -> dict[str, Any]:
    latency = bench.sections.get("latency")
    extra: dict[str, Any] = {"cases": cases, "sizes": dataclasses.asdict(sizes)}
    extra.update({k: v for k, v in bench.sections.items() if k != "latency"})
    extra["notes"] = bench.notes + [f"ERROR: {e}" for e in bench.errors]
    return results.build(machine, bench.runs, latency, extra)


def write(doc: dict[str, Any]) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "latest.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    (RESULTS_DIR / "latest.md").write_text(results.markdown(doc))


if __name__ == "__main__":
    sys.exit(main())
