"""sink catch-up: a topic filled once with N events, then each reader drains it from the start.

eventlake's sink (fresh lake, fresh group, --until-idle 0.5: the whole process's wall time,
start-up and the idle wait included) vs Quix Streams' local FileSink writing Parquet vs the
seed tutorial's consumer (one JSON file per message, into a local folder and, as the seed
does, into S3 through s3fs against a local S3Proxy; on samples, extrapolated) vs
ConsumerPerformance (the ceiling: reading without writing).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb

from bench import procs
from bench.context import Bench, clean_env
from bench.kafka_tools import parse_consumer_perf
from bench.results import CONSUMER_PERF, EVENTLAKE, EVENTLAKE_WORKERS, QUIX, TUTORIAL, TUTORIAL_S3, Run
from eventlake.lake.local_s3 import LocalS3, LocalS3Unavailable, run_local_s3


def fill(bench: Bench, label: str, events: int, topic: str | None = None) -> str:
    """A topic holding exactly `events` tick events, written by ProducerPerformance (fast, and not ours)."""
    if topic is None:
        topic = bench.broker.fresh_topic(label)
    else:
        bench.broker.admin.create(topic, partitions=3)
    done = procs.run(bench.tools.producer_perf(bench.bootstrap, topic, events, payload_file=bench.payload_file()))
    done.check("filling the topic with ProducerPerformance")
    landed = bench.topic_messages(topic)
    if landed != events:
        raise RuntimeError(f"filling {topic}: {landed:,} of {events:,} events landed")
    return topic


def lake_rows(lake: Path) -> int:
    """Rows in every Parquet file under `lake` (the bench's lakes hold one table each)."""
    files = [
        p for p in lake.rglob("*.parquet") if not any(part.startswith(("_", ".")) for part in p.relative_to(lake).parts)
    ]
    if not files:
        return 0
    con = duckdb.connect()
    try:
        glob = [str(f) for f in files]
        row = con.execute("SELECT count(*) FROM read_parquet(?)", [glob]).fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


_SINK_SUMMARY = re.compile(r"flushes in ([\d.]+)s")


def sink_summary_seconds(output: str) -> float | None:
    """The sink's own run time from its last line ("sink: N rows in F files ..., K flushes in S s (R rows/s)")."""
    found = _SINK_SUMMARY.findall(output)
    return float(found[-1]) if found and float(found[-1]) > 0 else None


def run_eventlake(
    bench: Bench, topic: str, events: int, name: str = "sink_catchup", workers: int = 1
) -> tuple[Run, Path]:
    """`eventlake sink` (with `workers` > 1: `--workers N`, N processes of one group, one command)."""
    lake = bench.fresh_dir("lakes", name if workers == 1 else f"{name}_workers{workers}")
    more: tuple[object, ...] = ("--workers", workers) if workers > 1 else ()
    done = procs.run(
        bench.eventlake(
            "sink",
            topic,
            "--lake",
            lake,
            "--group",
            bench.group("sink"),
            "--until-idle",
            0.5,
            "--bootstrap-servers",
            bench.bootstrap,
            *more,
            profile_as=name if workers == 1 else None,  # py-spy follows one process, not a group
        ),
        env=clean_env(),
        timeout_s=3600,
    ).check(f"eventlake sink --workers {workers}")
    rows = lake_rows(lake)
    if rows != events:
        raise RuntimeError(f"eventlake sink --workers {workers}: {rows:,} rows in the lake, expected {events:,}")
    extra: dict[str, object] = {}
    own = sink_summary_seconds(done.stdout + done.stderr)
    if own:
        extra["own_seconds"] = round(own, 3)
        extra["own_events_per_s"] = round(events / own, 1)
    run = bench.add(
        bench.profiled(
            name,
            Run(
                name,
                EVENTLAKE if workers == 1 else EVENTLAKE_WORKERS,
                events,
                done.seconds,
                done.peak_rss_mb,
                note="whole process: start-up + catch-up + 0.5 s idle wait"
                + (f"; {workers} worker processes, RSS summed" if workers > 1 else ""),
                extra=extra,
            ),
        )
    )
    return run, lake


def run_quix(bench: Bench, topic: str, events: int) -> Run:
    count = min(events, bench.sizes.quix_events)
    out = bench.fresh_dir("quix_out")
    done = procs.run(
        bench.peer("quixstreams", "quix_sink.py", bench.bootstrap, topic, count, out, bench.group("quix")),
        timeout_s=3600,
    ).check("quixstreams FileSink")
    summary = procs.last_json_line(done.stdout) or {}
    if summary.get("rows") != count:
        raise RuntimeError(f"quixstreams wrote {summary.get('rows')} rows, expected {count:,}")
    note = "LocalFileSink + ParquetFormat; stops after N messages (no idle wait)"
    seconds, extra = done.seconds, {"own_seconds": summary.get("seconds")}
    if count < events:
        own = float(summary["seconds"])
        seconds = (done.seconds - own) + own * events / count
        note += f"; extrapolated from {count:,} events"
        extra["extrapolated_from"] = count
    return bench.add(Run("sink_catchup", QUIX, events, seconds, done.peak_rss_mb, note=note, extra=extra))


def run_tutorial(bench: Bench, topic: str, events: int, s3: LocalS3 | None = None) -> Run:
    """The seed's consumer on a sample: into a local folder, or (`s3`) into S3 with s3fs as the seed does."""
    sample = min(events, bench.sizes.tutorial_s3_sample if s3 else bench.sizes.tutorial_sample)
    out = f"s3://{s3.bucket}/stock_market" if s3 else str(bench.fresh_dir("tutorial_out"))
    done = procs.run(
        bench.peer("kafka-python", "tutorial_consumer.py", bench.bootstrap, topic, sample, out),
        env=_s3fs_env(s3) if s3 else None,
    )
    done.check("the seed tutorial's consumer")
    summary = procs.last_json_line(done.stdout) or {}
    if summary.get("files") != sample:
        raise RuntimeError(f"the tutorial consumer wrote {summary.get('files')} files, expected {sample:,}")
    own = float(summary["seconds"])
    seconds = (done.seconds - own) + own * events / sample
    where = "to S3 (local S3Proxy) with s3fs, one PUT per message" if s3 else "to a local file"
    return bench.add(
        Run(
            "sink_catchup",
            TUTORIAL_S3 if s3 else TUTORIAL,
            events,
            seconds,
            done.peak_rss_mb,
            note=f"kafka-python, json.dump per message {where}; extrapolated from {sample:,} events",
            extra={"extrapolated_from": sample, "sample_seconds": round(done.seconds, 3)},
        )
    )


def run_tutorial_s3(bench: Bench, topic: str, events: int) -> Run:
    """The seed writes every message to S3 with s3fs (one PUT per message): here into eventlake's
    local S3Proxy, started fresh; missing Maven skips this run (LocalS3Unavailable)."""
    data = bench.work / "s3proxy"
    shutil.rmtree(data, ignore_errors=True)
    with run_local_s3(data, "tutorial", "bench", "bench-secret") as server:
        return run_tutorial(bench, topic, events, server)


def _s3fs_env(s3: LocalS3) -> dict[str, str]:
    """What the tutorial's s3fs needs to reach the server."""
    return {
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "BENCH_S3_ENDPOINT": s3.endpoint,
    }


def run_ceiling(bench: Bench, topic: str, events: int) -> Run:
    done = procs.run(bench.tools.consumer_perf(bench.bootstrap, topic, events, bench.group("ceiling")))
    done.check("ConsumerPerformance")
    stats = parse_consumer_perf(done.stdout)
    consumed = int(stats["data.consumed.in.nMsg"])
    if consumed != events:
        raise RuntimeError(f"ConsumerPerformance read {consumed:,} of {events:,} events")
    return bench.add(
        Run(
            "sink_catchup",
            CONSUMER_PERF,
            consumed,
            done.seconds,
            done.peak_rss_mb,
            note="JVM wall time; reads, writes nothing",
            extra={"own_events_per_s": float(stats["nMsg.sec"]), "fetch_events_per_s": float(stats["fetch.nMsg.sec"])},
        )
    )


def run(bench: Bench) -> None:
    events = bench.sizes.sink_events
    topic = fill(bench, "sink", events)
    bench.sections["sink_topic_fill"] = "ProducerPerformance with tick JSON payloads (acks=all, lz4)"
    steps: tuple[Callable[[], object], ...] = (
        lambda: run_eventlake(bench, topic, events),
        lambda: run_eventlake(bench, topic, events, workers=2),
        lambda: run_quix(bench, topic, events),
        lambda: run_tutorial(bench, topic, events),
        lambda: run_tutorial_s3(bench, topic, events),
        lambda: run_ceiling(bench, topic, events),
    )
    labels = ("eventlake", "eventlake --workers 2", "quixstreams", "tutorial", "tutorial (S3)", "ceiling")
    for label, step in zip(labels, steps, strict=True):
        try:
            step()
        except LocalS3Unavailable as exc:
            bench.note(f"sink_catchup/{label} skipped: {exc}")
        except Exception as exc:
            bench.fail(f"sink_catchup/{label}", exc)
    bench.broker.delete_topic(topic)
