"""Never silent: a recreated topic or a retention gap under the ledger is found, shown and handled.

Real broker; each case lands some data, breaks the offsets the way an operator's bad day does
(delete and recreate the topic; retention deleting records before they landed, done here with
Kafka's own DeleteRecords), and checks what a user sees: the sink's one-line error with the
default `sink.on_reset = fail`, the state in `status`, and with `resume-from-start` every row of
the new data landed exactly once next to the old rows.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from eventlake.broker import TopicAdmin
from eventlake.catalog import open_catalog
from eventlake.config import Settings, load_settings
from eventlake.query import connect
from eventlake.sink import SinkReport, run_sink, sink_health
from eventlake.sink.exceptions import SinkError
from eventlake.types import table_name_for_topic
from tests.fixtures_sink import make_events, produce_events

pytestmark = pytest.mark.integration


def _settings(bootstrap: str, tmp_path: Path, topic: str, **sink: Any) -> Settings:
    return load_settings(
        overrides={
            "bootstrap_servers": bootstrap,
            "lake": str(tmp_path / "lake"),
            "sink": {"group": f"g-{topic}", "until_idle": 1.5, "flush_seconds": 0.2, **sink},
        }
    )


def _recreate(admin: TopicAdmin, topic: str, partitions: int) -> None:
    admin.delete(topic)
    deadline = time.monotonic() + 60
    while True:  # deletion is asynchronous in KRaft: create again once the name is free
        try:
            admin.create(topic, partitions=partitions)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _ids(settings: Settings, topic: str) -> list[int]:
    with connect(settings) as engine:
        rows = engine.execute(f"SELECT id FROM {table_name_for_topic(topic)} ORDER BY id").rows
    return [r[0] for r in rows]


def _states(settings: Settings, topic: str) -> tuple[int, list[str]]:
    with open_catalog(settings) as store:
        health = {t.topic: t for t in sink_health(store)}
    return health[topic].incarnation, [p.state for p in health[topic].partitions]


@pytest.mark.parametrize("refill", [150, 900], ids=["below-the-ledger", "past-the-ledger-by-topic-id"])
def test_topic_recreated_between_runs_stops_then_lands_as_a_new_incarnation(
    admin: TopicAdmin, bootstrap: str, unique_name: str, tmp_path: Path, refill: int
) -> None:
    topic = unique_name
    admin.create(topic, partitions=2)
    produce_events(bootstrap, topic, make_events(400))
    settings = _settings(bootstrap, tmp_path, topic)
    assert run_sink(settings, [topic]).rows == 400

    _recreate(admin, topic, 2)
    fresh = [{**e, "id": 10_000 + e["id"]} for e in make_events(refill, seed=5)]
    produce_events(bootstrap, topic, fresh)

    with pytest.raises(SinkError, match="deleted and recreated") as failed:
        run_sink(settings, [topic])
    assert "resume-from-start" in str(failed.value)  # the one line says what to do
    incarnation, states = _states(settings, topic)
    assert incarnation == 0 and any(s == "RESET (stopped)" for s in states)
    assert _ids(settings, topic) == list(range(400))  # nothing of the new topic landed under the old name

    report = run_sink(
        settings.model_copy(update={"sink": settings.sink.model_copy(update={"on_reset": "resume-from-start"})}),
        [topic],
    )
    assert report.rows == refill
    assert _ids(settings, topic) == list(range(400)) + [10_000 + i for i in range(refill)]
    incarnation, states = _states(settings, topic)
    assert incarnation == 1 and states == ["OK", "OK"]
    with open_catalog(settings) as store:
        kinds = {(e.kind, e.action) for e in store.offset_events(topic)}
    assert kinds == {("reset", "stopped"), ("reset", "resumed")}


def test_topic_recreated_under_a_running_sink_lands_the_new_topic_exactly_once(
    admin: TopicAdmin, bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    topic = unique_name
    admin.create(topic, partitions=3)
    settings = _settings(
        bootstrap, tmp_path, topic, until_idle=None, on_reset="resume-from-start", topic_check_seconds=1.0
    )
    stop = threading.Event()
    reports: list[SinkReport] = []
    errors: list[BaseException] = []

    def sink() -> None:
        try:
            reports.append(run_sink(settings, [topic], stop))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=sink)
    thread.start()
    try:
        produce_events(bootstrap, topic, make_events(600))
        _wait_for_ids(settings, topic, set(range(600)), errors)
        _recreate(admin, topic, 3)
        fresh = [{**e, "id": 10_000 + e["id"]} for e in make_events(800, seed=9)]
        produce_events(bootstrap, topic, fresh)
        _wait_for_ids(settings, topic, set(range(600)) | {10_000 + i for i in range(800)}, errors)
    finally:
        stop.set()
        thread.join(60)
    assert not errors, errors
    ids = _ids(settings, topic)
    assert len(ids) == len(set(ids)) == 1400  # exactly once, old rows kept
    incarnation, states = _states(settings, topic)
    assert incarnation == 1 and set(states) == {"OK"}


def test_retention_gap_stops_with_its_size_then_is_recorded_and_passed(
    admin: TopicAdmin, bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    topic = unique_name
    admin.create(topic, partitions=1)
    produce_events(bootstrap, topic, make_events(100))
    settings = _settings(bootstrap, tmp_path, topic)
    assert run_sink(settings, [topic]).rows == 100
    produce_events(bootstrap, topic, [{**e, "id": 100 + e["id"]} for e in make_events(200, seed=3)])
    # What retention does to a lagging sink: the log start moves past the ledger (offset 100).
    kafka_admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until its future is done
    for future in kafka_admin.delete_records([TopicPartition(topic, 0, 250)]).values():
        future.result(30)

    with pytest.raises(SinkError, match=r"offsets 100\.\.249 \(150\) were deleted by retention"):
        run_sink(settings, [topic])
    assert _states(settings, topic)[1] == ["GAP 150 (stopped)"]

    resumed = settings.model_copy(update={"sink": settings.sink.model_copy(update={"on_reset": "resume-from-start"})})
    assert run_sink(resumed, [topic]).rows == 50
    assert _ids(settings, topic) == list(range(100)) + list(range(250, 300))
    assert _states(settings, topic)[1] == ["GAP 150"]
    with open_catalog(settings) as store:
        gap = [e for e in store.ledger(topic) if e.rows == 0 and not e.files]
    assert [(e.first_offset, e.last_offset) for e in gap] == [(100, 249)]


def test_status_lists_partitions_that_never_landed(
    admin: TopicAdmin, bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    topic = unique_name
    admin.create(topic, partitions=3)
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(30):
        producer.produce(topic, value=orjson.dumps({"id": i}), partition=1)
    assert producer.flush(30) == 0
    settings = _settings(bootstrap, tmp_path, topic)
    run_sink(settings, [topic])
    with open_catalog(settings) as store:
        health = sink_health(
            store, admin.offsets, partitions=lambda t: [p.partition for p in admin.describe(t).partitions]
        )
    parts = {p.partition: p for p in health[0].partitions}
    assert sorted(parts) == [0, 1, 2]
    assert parts[1].rows == 30 and parts[1].lag == 0
    assert parts[0].rows == 0 and parts[0].lag == 0 and parts[0].state == "OK"


def _wait_for_ids(
    settings: Settings, topic: str, want: set[int], errors: list[BaseException], timeout_s: float = 90
) -> None:
    deadline = time.monotonic() + timeout_s
    seen: set[int] = set()
    while time.monotonic() < deadline:
        assert not errors, errors
        try:
            seen = set(_ids(settings, topic))
        except Exception:  # the table may not exist yet
            seen = set()
        if want <= seen:
            return
        time.sleep(0.3)
    pytest.fail(f"{len(want - seen)} of {len(want)} ids did not land in {timeout_s}s")


def test_partitions_added_to_a_topic_land_within_seconds(
    admin: TopicAdmin, bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    """librdkafka looks for new partitions every 5 minutes by default; the sink asks every 5 s."""
    from confluent_kafka.admin import NewPartitions

    topic = unique_name
    admin.create(topic, partitions=1)
    settings = _settings(bootstrap, tmp_path, topic, until_idle=None)
    stop = threading.Event()
    errors: list[BaseException] = []

    def sink() -> None:
        try:
            run_sink(settings, [topic], stop)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=sink)
    thread.start()
    try:
        produce_events(bootstrap, topic, make_events(50))
        _wait_for_ids(settings, topic, set(range(50)), errors)
        kafka_admin = AdminClient({"bootstrap.servers": bootstrap})
        for future in kafka_admin.create_partitions([NewPartitions(topic, 3)]).values():
            future.result(30)
        producer = Producer({"bootstrap.servers": bootstrap})
        added = time.monotonic()
        for i in range(50, 80):
            producer.produce(topic, value=orjson.dumps({"id": i}), partition=2)
        assert producer.flush(30) == 0
        _wait_for_ids(settings, topic, set(range(80)), errors, timeout_s=30)
        assert time.monotonic() - added < 20  # seconds, not librdkafka's default 5 minutes
    finally:
        stop.set()
        thread.join(60)
    assert not errors, errors
