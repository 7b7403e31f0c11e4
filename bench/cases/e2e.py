"""end-to-end: a producer at a fixed rate with the sink running; sustained throughput and
event-to-queryable latency (p50/p95/p99), seen by two observers in the same run
(bench/observers.py), each polling every ~100 ms:

- the ledger, through eventlake's catalog library (the ledger's next offset per partition:
  the sink records a flush there only after its files are in place);
- a user: one long-lived query engine (`eventlake.query.connect`, default settings, its
  incremental catalog refresh) running `SELECT _partition, max(_offset) ... GROUP BY
  _partition`. This is freshness as the dashboard or a notebook sees it.

Neither spawns `eventlake query` per poll, whose start-up would dominate. Each event's
latency is the time of the first answer that showed its offset minus its own `ts`. The
events' offsets and timestamps are read back from Kafka after the run, so the producer needs
no instrumentation.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import numpy as np
import orjson
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from bench import procs
from bench.context import Bench, clean_env
from bench.latency import after_warmup, last_visible_time, latencies_ms, summarize, sustained_rate, ts_to_epoch_ms
from bench.observers import EnginePoller, LedgerPoller, Poller
from bench.results import EVENTLAKE, Run

POLL_S = 0.1
# Besides all events, latency is also summarised without the first seconds (the sink's first flush).
WARMUP_S = 5.0
METHOD = (
    "visibility polled every 100 ms through eventlake's catalog (ledger next offset per partition) and, "
    "as a user sees it, through one long-lived query engine (engine_*: SELECT _partition, max(_offset) "
    "... GROUP BY _partition, default settings); latency = first answer that showed the event's offset - "
    f"the event's ts; steady_* leave out events of the first {WARMUP_S:g} s; load = 1-minute load average "
    "at the start and end"
)


def wait_group_assigned(bootstrap: str, group: str, timeout_s: float = 30.0) -> bool:
    """True once the sink's consumer group is stable with at least one member."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            desc = admin.describe_consumer_groups([group])[group].result(timeout=5)
            if desc.members and str(desc.state).upper().endswith("STABLE"):
                return True
        time.sleep(0.2)
    return False


def read_back(bootstrap: str, topic: str, ends: dict[int, int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Every event's offset and `ts` (epoch ms), per partition, read from Kafka."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "bench-readback",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
    offsets: dict[int, list[int]] = {p: [] for p in ends}
    stamps: dict[int, list[float]] = {p: [] for p in ends}
    remaining = {p for p, end in ends.items() if end > 0}
    deadline = time.monotonic() + 300
    try:
        while remaining and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=20_000, timeout=1.0):
                if msg.error():
                    continue
                p, off = int(msg.partition() or 0), int(msg.offset() or 0)
                offsets[p].append(off)
                stamps[p].append(ts_to_epoch_ms(orjson.loads(msg.value() or b"{}")["ts"]))
                if off + 1 >= ends[p]:
                    remaining.discard(p)
    finally:
        consumer.close()
    return {p: (np.array(offsets[p], dtype=np.int64), np.array(stamps[p])) for p in ends}


def count_through_library(lake: Path, topic: str) -> int:
    """Rows a query through eventlake's library sees once the run is over (the visibility cross-check)."""
    from eventlake.config import load_settings
    from eventlake.query import connect
    from eventlake.types import table_name_for_topic

    engine = connect(load_settings(overrides={"lake": str(lake)}))
    try:
        table = engine.sql(f'SELECT count(*) AS n FROM "{table_name_for_topic(topic)}"')
        return int(table.column("n")[0].as_py())
    finally:
        engine.close()


def unseen_possible(poller: Poller, ends: dict[int, int]) -> bool:
    latest = poller.latest()
    return any(latest.get(p, 0) < n for p, n in ends.items())


def run_rate(bench: Bench, rate: int) -> dict[str, object]:
    label = f"e2e_{rate}" if rate else "e2e_unthrottled"
    events = int(rate * bench.sizes.e2e_seconds) if rate else bench.sizes.e2e_unthrottled_events
    topic = bench.broker.fresh_topic(label.replace("_", "-"))
    lake = bench.fresh_dir("lakes", label)
    group = bench.group("e2e")
    sink = procs.Running(
        bench.eventlake("sink", topic, "--lake", lake, "--group", group, "--bootstrap-servers", bench.bootstrap),
        env=clean_env(),
    )
    poller = LedgerPoller(lake, topic, POLL_S)
    engine = EnginePoller(lake, topic, POLL_S)
    poller.start()
    engine.start()
    load_start = os.getloadavg()[0]
    try:
        if not wait_group_assigned(bench.bootstrap, group):
            bench.note(f"{label}: the sink's group was not stable after 30 s; started the producer anyway")
        args = [
            "produce",
            topic,
            "--source",
            "synthetic:ticks",
            "--limit",
            events,
            "--output",
            "json",
            "--bootstrap-servers",
            bench.bootstrap,
        ]
        if rate:
            args += ["--rate", rate]
        producer = procs.run(bench.eventlake(*args), env=clean_env(), timeout_s=bench.sizes.e2e_seconds * 10 + 600)
        producer.check("eventlake produce (end-to-end)")
        ends = {p.partition: p.log_end_offset for p in bench.broker.admin.describe(topic).partitions}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and sink.alive():
            if not unseen_possible(poller, ends) and not unseen_possible(engine, ends):
                break
            time.sleep(POLL_S)
    finally:
        load_end = os.getloadavg()[0]
        poller.stop()
        engine.stop()
        sink_done = sink.stop()
    if poller.error:
        raise RuntimeError(f"{label}: polling the catalog failed: {poller.error}")
    if engine.error:
        raise RuntimeError(f"{label}: polling through the query engine failed: {engine.error}")
    events_landed = sum(ends.values())
    queryable = count_through_library(lake, topic)
    if queryable != events_landed:
        bench.note(
            f"{label}: a query through eventlake's library counts {queryable:,} rows, {events_landed:,} were produced"
        )
    if sink_done.returncode not in (0, -2, 130) and unseen_possible(poller, ends):
        tail = " ".join((sink_done.stderr or sink_done.stdout).strip().splitlines()[-3:])
        bench.note(f"{label}: the sink exited with {sink_done.returncode}: {tail}")
    per_partition = read_back(bench.bootstrap, topic, ends)
    # Both observers' timelines beside the lake, to see where the time goes (bench/work/lakes/<label>).
    timeline = {
        "ledger": poller.polls,
        "engine": engine.polls,
        "engine_query_s": engine.query_s,
        "engine_refresh_s": engine.refresh_s,
    }
    (lake / "observers.json").write_bytes(orjson.dumps(timeline, option=orjson.OPT_NON_STR_KEYS))
    values, stamps, unseen = latencies_ms(per_partition, poller.polls)
    steady = summarize(after_warmup(values, stamps, WARMUP_S))
    seen, seen_stamps, engine_unseen = latencies_ms(per_partition, engine.polls)
    fresh = summarize(seen)
    fresh_steady = summarize(after_warmup(seen, seen_stamps, WARMUP_S))
    query_ms = summarize(np.array(engine.query_s) * 1000.0)
    refresh_ms = summarize(np.array(engine.refresh_s) * 1000.0)
    first_ms = min((float(ts.min()) for _, ts in per_partition.values() if len(ts)), default=0.0)
    last_seen = last_visible_time(poller.polls, ends)
    summary = procs.last_json_line(producer.stdout) or {}
    own = summary.get("seconds")
    produced_rate = events_landed / float(own) if isinstance(own, (int, float)) and own else None
    sustained = sustained_rate(events_landed, first_ms, last_seen) if last_seen else None
    row: dict[str, object] = {
        "rate": rate,
        "events": events_landed,
        "produced_events_per_s": _round(produced_rate),
        "sustained_events_per_s": _round(sustained),
        **summarize(values),
        "unseen": unseen,
        "steady_p50_ms": steady["p50_ms"],
        "steady_p99_ms": steady["p99_ms"],
        "polls": len(poller.polls),
        # Freshness as a user sees it: the first answer of a long-lived query engine showing the event.
        "engine_p50_ms": fresh["p50_ms"],
        "engine_p95_ms": fresh["p95_ms"],
        "engine_p99_ms": fresh["p99_ms"],
        "engine_max_ms": fresh["max_ms"],
        "engine_unseen": engine_unseen,
        "engine_steady_p99_ms": fresh_steady["p99_ms"],
        "engine_polls": len(engine.polls),
        "engine_query_p50_ms": query_ms["p50_ms"],
        "engine_query_p99_ms": query_ms["p99_ms"],
        "engine_refresh_p50_ms": refresh_ms["p50_ms"],
        "engine_refresh_p99_ms": refresh_ms["p99_ms"],
        "load_average": [round(load_start, 2), round(load_end, 2)],
        "sink_peak_rss_mb": sink_done.peak_rss_mb,
        "producer_peak_rss_mb": producer.peak_rss_mb,
    }
    if unseen:
        bench.note(f"{label}: {unseen:,} events were not queryable within 120 s after the producer ended")
    if engine_unseen:
        bench.note(f"{label}: {engine_unseen:,} events were not shown by the query engine within 120 s")
    span = (last_seen - first_ms / 1000.0) if last_seen else sink_done.seconds
    bench.add(
        Run(
            label,
            EVENTLAKE,
            events_landed,
            span,
            sink_done.peak_rss_mb,
            note=f"first event ts to last event queryable; p99 {row['p99_ms']} ms (ledger), "
            f"{row['engine_p99_ms']} ms (query engine); RSS is the sink's",
            extra={"producer_peak_rss_mb": producer.peak_rss_mb, "target_rate": rate},
        )
    )
    bench.broker.delete_topic(topic)
    return row


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def run(bench: Bench) -> None:
    rows = []
    for rate in bench.sizes.e2e_rates:
        try:
            rows.append(run_rate(bench, rate))
        except Exception as exc:
            bench.fail(f"e2e at {rate or 'unthrottled'}", exc)
    headline = next((r for r in rows if r["rate"] == 5000), rows[0] if rows else None)
    if headline is not None:
        bench.sections["latency"] = {
            "rate": headline["rate"],
            "p50_ms": headline["p50_ms"],
            "p95_ms": headline["p95_ms"],
            "p99_ms": headline["p99_ms"],
            "method": METHOD,
            "by_rate": rows,
        }
