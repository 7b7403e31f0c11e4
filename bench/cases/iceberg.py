"""iceberg: issue 14's speed goals, in one run on one broker.

1. Catch-up: one topic filled once (as the `sink` case), drained from the start by
   `eventlake sink ... --until-idle 0.5` with `--table-format parquet` and `--table-format iceberg`,
   each into a fresh lake and group, rounds in alternating order; best of each. Goal: Iceberg
   >= 0.7x Parquet (events/s over the whole process's wall time; the sink's own rate and the CPU
   time are beside it).
2. Freshness on Iceberg: `eventlake produce --rate 5000` with `eventlake sink --table-format iceberg`
   running; each event's latency is the first answer of a long-lived query engine
   (`SELECT _partition, max(_offset) ... GROUP BY _partition`, bench/observers.py, as the `e2e`
   case does for Parquet) that showed its offset, minus its `ts`. The Iceberg snapshots' offset
   maps are polled beside it (when the commit landed, before the engine saw it). Parquet in the
   same run for comparison. Goal: p99 <= 3 s.
3. Shared PostgreSQL catalog: a real PostgreSQL server (tests/postgres_server.py, as the tests
   run it), plain Parquet, `--catalog postgresql://...`; 1, 2 and 3 `eventlake sink` processes
   (separate commands, each in its own working directory, one group) drain one topic into one lake.
   Events/s from the first start to the last exit, and the ratio to 1 process.

CPU time (user + sys of the waited children, getrusage) is kept with every run: the machine is
shared, and wall time swings with other people's load.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import orjson

from bench import procs
from bench.cases.e2e import count_through_library, read_back, unseen_possible, wait_group_assigned
from bench.cases.sink import fill, lake_rows, sink_summary_seconds
from bench.context import Bench, clean_env
from bench.latency import after_warmup, latencies_ms, summarize
from bench.observers import EnginePoller, Poller
from bench.results import EVENTLAKE_ICEBERG, EVENTLAKE_PARQUET, EVENTLAKE_PG, PG_PROCESSES, Run

ROUNDS = 2
FORMATS = ("parquet", "iceberg")
FRESHNESS_RATE = 5_000
POLL_S = 0.1
WARMUP_S = 5.0


@contextmanager
def cpu_seconds() -> Iterator[list[float]]:
    """User + sys seconds of the children waited for inside the block (appended to the yielded list)."""
    out: list[float] = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        yield out
    finally:
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))


def _best(runs: list[Run]) -> Run:
    best = max(runs, key=lambda r: r.events_per_s)
    best.note += f"; best of {len(runs)}: " + ", ".join(f"{r.events_per_s:,.0f}/s" for r in runs)
    best.extra["rounds_events_per_s"] = [round(r.events_per_s, 1) for r in runs]
    best.extra["rounds_cpu_s"] = [r.extra.get("cpu_s") for r in runs]
    return best


def catchup(bench: Bench, topic: str, events: int, fmt: str, label: str) -> Run:
    lake = bench.fresh_dir("lakes", f"iceberg_{label}")
    args = ["sink", topic, "--lake", lake, "--group", bench.group(label), "--until-idle", 0.5]
    with cpu_seconds() as cpu:
        done = procs.run(
            bench.eventlake(*args, "--table-format", fmt, "--bootstrap-servers", bench.bootstrap),
            env=clean_env(),
            timeout_s=3600,
        ).check(f"eventlake sink --table-format {fmt}")
    rows = lake_rows(lake)  # no kills here: every data file on disk is committed
    if rows != events:
        raise RuntimeError(f"eventlake sink --table-format {fmt}: {rows:,} rows in the lake, expected {events:,}")
    extra: dict[str, object] = {"cpu_s": round(cpu[0], 2), "cpu_events_per_s": round(events / cpu[0], 1)}
    own = sink_summary_seconds(done.stdout + done.stderr)
    if own:
        extra["own_seconds"] = round(own, 3)
        extra["own_events_per_s"] = round(events / own, 1)
    tool = EVENTLAKE_ICEBERG if fmt == "iceberg" else EVENTLAKE_PARQUET
    note = "whole process: start-up + catch-up + 0.5 s idle wait"
    return Run("iceberg_catchup", tool, events, done.seconds, done.peak_rss_mb, note=note, extra=extra)


class SnapshotPoller(Poller):
    """The next offset per partition as the Iceberg table's current snapshot records it (the commit's moment)."""

    def open(self) -> None:
        from eventlake.catalog.iceberg_sql import open_iceberg_catalog
        from eventlake.config import load_settings
        from eventlake.lake import open_lake

        settings = load_settings(overrides={"lake": str(self.lake)})
        self.catalog = open_iceberg_catalog(open_lake(settings.lake, settings.s3), settings)
        from eventlake.types import table_name_for_topic

        self.identifier = (settings.database, table_name_for_topic(self.topic))

    def positions(self) -> dict[int, int]:
        from pyiceberg.exceptions import NoSuchTableError

        from eventlake.sink.iceberg_commit import recorded_offsets

        try:
            table = self.catalog.load_table(self.identifier)
        except NoSuchTableError:
            return {}
        return {p: n for (t, p), n in recorded_offsets(table).items() if t == self.topic}

    def close(self) -> None:
        pass


def freshness(bench: Bench, fmt: str) -> dict[str, object]:
    """Event-to-queryable latency at FRESHNESS_RATE through a long-lived query engine (and Iceberg's snapshots)."""
    label = f"fresh-{fmt}"
    events = int(FRESHNESS_RATE * bench.sizes.e2e_seconds)
    topic = bench.broker.fresh_topic(label)
    lake = bench.fresh_dir("lakes", f"iceberg_{label}")
    group = bench.group(label)
    sink_cmd = ["sink", topic, "--lake", lake, "--group", group, "--table-format", fmt]
    sink = procs.Running(bench.eventlake(*sink_cmd, "--bootstrap-servers", bench.bootstrap), env=clean_env())
    engine = EnginePoller(lake, topic, POLL_S)
    snapshots = SnapshotPoller(lake, topic, POLL_S) if fmt == "iceberg" else None
    observers: list[Poller] = [engine] + ([snapshots] if snapshots else [])
    for observer in observers:
        observer.start()
    load_start = os.getloadavg()[0]
    try:
        if not wait_group_assigned(bench.bootstrap, group):
            bench.note(f"{label}: the sink's group was not stable after 30 s; started the producer anyway")
        args = ["produce", topic, "--source", "synthetic:ticks", "--limit", events, "--rate", FRESHNESS_RATE]
        procs.run(
            bench.eventlake(*args, "--output", "json", "--bootstrap-servers", bench.bootstrap),
            env=clean_env(),
            timeout_s=bench.sizes.e2e_seconds * 10 + 600,
        ).check("eventlake produce (freshness)")
        ends = {p.partition: p.log_end_offset for p in bench.broker.admin.describe(topic).partitions}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and sink.alive() and any(unseen_possible(o, ends) for o in observers):
            time.sleep(POLL_S)
    finally:
        load_end = os.getloadavg()[0]
        for observer in observers:
            observer.stop()
        sink_done = sink.stop()
    for observer in observers:
        if observer.error:
            raise RuntimeError(f"{label}: {type(observer).__name__} failed: {observer.error}")
    landed = sum(ends.values())
    queryable = count_through_library(lake, topic)
    if queryable != landed:
        bench.note(f"{label}: a query through eventlake's library counts {queryable:,} rows, {landed:,} were produced")
    per_partition = read_back(bench.bootstrap, topic, ends)
    timeline = {"engine": engine.polls, "engine_query_s": engine.query_s}
    if snapshots:
        timeline["snapshots"] = snapshots.polls
    (lake / "observers.json").write_bytes(orjson.dumps(timeline, option=orjson.OPT_NON_STR_KEYS))
    seen, stamps, unseen = latencies_ms(per_partition, engine.polls)
    row: dict[str, object] = {
        "format": fmt,
        "rate": FRESHNESS_RATE,
        "events": landed,
        **summarize(seen),
        "steady_p99_ms": summarize(after_warmup(seen, stamps, WARMUP_S))["p99_ms"],
        "unseen": unseen,
        "engine_query_p50_ms": summarize(np.array(engine.query_s) * 1000.0)["p50_ms"],
        "load_average": [round(load_start, 2), round(load_end, 2)],
        "sink_peak_rss_mb": sink_done.peak_rss_mb,
    }
    if snapshots:
        committed, _, _ = latencies_ms(per_partition, snapshots.polls)
        row["snapshot_p50_ms"] = summarize(committed)["p50_ms"]
        row["snapshot_p99_ms"] = summarize(committed)["p99_ms"]
    print(f"[bench] iceberg freshness {fmt}: p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms", flush=True)
    if unseen:
        bench.note(f"{label}: {unseen:,} events were not shown by the query engine within 120 s")
    bench.broker.delete_topic(topic)
    return row


def pg_sinks(bench: Bench, topic: str, events: int, url: str, password: str, processes: int) -> Run:
    """`processes` separate `eventlake sink` commands of one group, each in its own working directory,
    sharing only Kafka, the lake folder and the PostgreSQL catalog."""
    lake = bench.fresh_dir("lakes", f"iceberg_pg{processes}")
    group = bench.group(f"pg{processes}")
    env = {**clean_env(), "EVENTLAKE_CATALOG_PASSWORD": password}
    args = ["sink", topic, "--lake", lake, "--catalog", url, "--group", group, "--until-idle", 0.5]
    started = time.perf_counter()
    with cpu_seconds() as cpu:
        running = []
        for i in range(processes):
            cwd = bench.fresh_dir("pg_workdirs", f"p{processes}_{i}")
            cmd = bench.eventlake(*args, "--bootstrap-servers", bench.bootstrap)
            running.append(procs.Running(cmd, cwd=cwd, env=env))
        finished = [
            r.wait(3600).check(f"eventlake sink {i + 1} of {processes} (PostgreSQL catalog)")
            for i, r in enumerate(running)
        ]
    seconds = time.perf_counter() - started
    rows = lake_rows(lake)
    if rows != events:
        raise RuntimeError(f"{processes} sinks on PostgreSQL's catalog: {rows:,} rows in the lake, not {events:,}")
    if (lake / "_eventlake" / "catalog.sqlite").exists():
        raise RuntimeError("the sinks made a SQLite catalog although --catalog named PostgreSQL")
    return Run(
        "pg_catalog_sink",
        EVENTLAKE_PG.format(n=processes),
        events,
        seconds,
        sum(f.peak_rss_mb for f in finished),
        note=f"{processes} sink process(es), one group, plain Parquet, catalog on PostgreSQL; "
        "first start to last exit, each with its 0.5 s idle wait",
        extra={
            "processes": processes,
            "cpu_s": round(cpu[0], 2),
            "per_process_s": [round(f.seconds, 2) for f in finished],
        },
    )


def run_catchup(bench: Bench) -> None:
    events = bench.sizes.sink_events
    topic = fill(bench, "iceberg", events)
    measured: dict[str, list[Run]] = {}
    for round_ in range(ROUNDS):
        for fmt in FORMATS if round_ % 2 == 0 else tuple(reversed(FORMATS)):
            measured.setdefault(fmt, []).append(catchup(bench, topic, events, fmt, f"{fmt}-{round_}"))
    for fmt in FORMATS:
        bench.add(_best(measured[fmt]))
    bench.broker.delete_topic(topic)


def run_freshness(bench: Bench) -> None:
    rows = []
    for fmt in ("iceberg", "parquet"):
        try:
            rows.append(freshness(bench, fmt))
        except Exception as exc:
            bench.fail(f"iceberg freshness ({fmt})", exc)
    bench.sections["iceberg_freshness"] = {
        "method": "latency = first answer of one long-lived query engine (SELECT _partition, max(_offset) ... GROUP "
        "BY _partition, polled every 100 ms) that showed the event's offset - the event's ts; snapshot_* = the "
        "same against the Iceberg table's current snapshot offsets (pyiceberg load_table every 100 ms)",
        "by_format": rows,
    }


def run_postgres(bench: Bench) -> None:
    from tests.postgres_server import PostgresProcess

    events = bench.sizes.sink_events
    topic = fill(bench, "pgcat", events)
    server = PostgresProcess()
    try:
        for n in PG_PROCESSES:
            url = server.server.url(server.server.new_database(f"bench{n}"))
            bench.add(pg_sinks(bench, topic, events, url, server.server.password, n))
    finally:
        server.remove()
        bench.broker.delete_topic(topic)


def run(bench: Bench) -> None:
    parts: tuple[tuple[str, Callable[[Bench], None]], ...] = (
        ("catch-up", run_catchup),
        ("freshness", run_freshness),
        ("PostgreSQL catalog", run_postgres),
    )
    # BENCH_ICEBERG_PARTS=freshness (comma-separated labels) runs a subset: a sink-side or engine-side
    # change re-measured without the catch-up and PostgreSQL parts.
    wanted = [w.strip() for w in os.environ.get("BENCH_ICEBERG_PARTS", "").split(",") if w.strip()]
    unknown = [w for w in wanted if w not in {label for label, _ in parts}]
    if unknown:
        raise ValueError(
            f"BENCH_ICEBERG_PARTS: unknown part(s) {unknown[:3]}; choose from catch-up, freshness, PostgreSQL catalog"
        )
    for label, part in parts:
        if wanted and label not in wanted:
            continue
        try:
            part(bench)
        except Exception as exc:
            bench.fail(f"iceberg/{label}", exc)
