"""produce: eventlake's producer vs kafka-python's KafkaProducer vs ProducerPerformance (the ceiling).

Each tool sends to a fresh 3-partition topic on the same broker, acks=all, lz4.
"""

from __future__ import annotations

from bench import procs
from bench.context import Bench, clean_env
from bench.kafka_tools import parse_producer_perf
from bench.results import EVENTLAKE, KAFKA_PYTHON, PRODUCER_PERF, Run


def run_eventlake(bench: Bench, events: int, name: str = "produce") -> Run:
    topic = bench.broker.fresh_topic("produce-eventlake")
    done = procs.run(
        bench.eventlake(
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
            profile_as=name,
        ),
        env=clean_env(),
    ).check("eventlake produce")
    summary = procs.last_json_line(done.stdout) or {}
    landed = bench.topic_messages(topic)
    if landed != events:
        raise RuntimeError(f"eventlake produce: {landed:,} of {events:,} events are in {topic}")
    extra = {}
    if isinstance(summary.get("seconds"), (int, float)) and summary["seconds"]:
        extra["own_seconds"] = round(float(summary["seconds"]), 3)
        extra["own_events_per_s"] = round(events / float(summary["seconds"]), 1)
    bench.broker.delete_topic(topic)
    return bench.add(
        bench.profiled(
            name,
            Run(
                name,
                EVENTLAKE,
                events,
                done.seconds,
                done.peak_rss_mb,
                note="wall time of the CLI process",
                extra=extra,
            ),
        )
    )


def run_kafka_python(bench: Bench, events: int) -> Run:
    sample = min(events, bench.sizes.kafka_python_sample)
    topic = bench.broker.fresh_topic("produce-kafka-python")
    done = procs.run(bench.peer("kafka-python", "kafka_python_produce.py", bench.bootstrap, topic, sample))
    done.check("kafka-python producer")
    summary = procs.last_json_line(done.stdout) or {}
    landed = bench.topic_messages(topic)
    if landed != sample:
        raise RuntimeError(f"kafka-python producer: {landed:,} of {sample:,} events are in {topic}")
    own = float(summary["seconds"])
    # Start-up once, then the sample's steady rate over all events.
    seconds = (done.seconds - own) + own * events / sample
    note = f"acks=all, compression {summary.get('compression')}"
    extra: dict[str, object] = {"compression": summary.get("compression"), "sample_seconds": round(done.seconds, 3)}
    if sample < events:
        note += f"; extrapolated from {sample:,} events"
        extra["extrapolated_from"] = sample
    bench.broker.delete_topic(topic)
    return bench.add(Run("produce", KAFKA_PYTHON, events, seconds, done.peak_rss_mb, note=note, extra=extra))


def run_ceiling(bench: Bench, events: int) -> Run:
    topic = bench.broker.fresh_topic("produce-ceiling")
    done = procs.run(bench.tools.producer_perf(bench.bootstrap, topic, events, payload_file=bench.payload_file()))
    done.check("ProducerPerformance")
    sent, rate = parse_producer_perf(done.stdout)
    bench.broker.delete_topic(topic)
    return bench.add(
        Run(
            "produce",
            PRODUCER_PERF,
            sent,
            done.seconds,
            done.peak_rss_mb,
            note="JVM wall time; payloads are the same tick JSON lines",
            extra={"own_events_per_s": rate},
        )
    )


REPLAY_LINES = 300_000  # a file of ~60 MB: long enough for a steady rate, short enough for 2 runs


def run_file_replay(bench: Bench, events: int) -> list[Run]:
    """The same JSONL file sent at least once (default) and with --exactly-once (transactions plus a
    progress record per transaction): what resuming without duplicates costs, in one run."""
    lines = min(events, REPLAY_LINES)
    payloads = bench.payload_file().read_text().splitlines()
    source = bench.work / "replay.jsonl"
    with source.open("w") as fh:
        for i in range(lines):
            fh.write(payloads[i % len(payloads)] + "\n")
    runs = []
    for label, flags in (("eventlake (file, at least once)", []), ("eventlake --exactly-once", ["--exactly-once"])):
        topic = bench.broker.fresh_topic("produce-file")
        done = procs.run(
            bench.eventlake(
                "produce",
                topic,
                "--source",
                str(source),
                *flags,
                "--output",
                "json",
                "--bootstrap-servers",
                bench.bootstrap,
            ),
            env=clean_env(),
        ).check(f"eventlake produce {' '.join(flags)}")
        summary = procs.last_json_line(done.stdout) or {}
        delivered = int(summary.get("delivered", 0) or 0)
        if delivered != lines:
            raise RuntimeError(f"{label}: {delivered:,} of {lines:,} lines delivered")
        bench.broker.delete_topic(topic)
        runs.append(
            bench.add(
                Run(
                    "produce_file",
                    label,
                    lines,
                    done.seconds,
                    done.peak_rss_mb,
                    note="wall time of the CLI process, a JSONL file of tick events",
                )
            )
        )
    return runs


def run(bench: Bench) -> None:
    events = bench.sizes.produce_events
    for step in (run_eventlake, run_kafka_python, run_ceiling, run_file_replay):
        try:
            step(bench, events)
        except Exception as exc:  # one tool failing must not hide the others' numbers
            bench.fail(f"produce/{step.__name__}", exc)
