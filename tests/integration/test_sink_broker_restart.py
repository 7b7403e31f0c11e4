"""The sink rides out its Kafka broker killed for a minute: it says it waits, loses nothing, lands nothing twice."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from eventlake.broker import LocalBroker, TopicAdmin
from eventlake.catalog import open_catalog
from eventlake.config import BrokerSettings, Settings, load_settings
from eventlake.lake import open_lake
from eventlake.runtime import free_port
from eventlake.sink import SinkReport, run_sink
from tests.fixtures_sink import Sent, assert_exactly_once, foreign_producer, make_events, produce_events, read_landed

pytestmark = pytest.mark.integration


def test_sink_survives_a_broker_killed_for_a_minute_exactly_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="eventlake.sink")
    broker = LocalBroker(
        BrokerSettings(port=free_port(), controller_port=free_port(), data_dir=tmp_path / "broker", heap="512m")
    )
    broker.start()
    try:
        topic = "restart-me"
        TopicAdmin(broker.bootstrap).create(topic, partitions=3)
        events = make_events(20_000, seed=21)
        settings = load_settings(
            overrides={
                "bootstrap_servers": broker.bootstrap,
                "lake": str(tmp_path / "lake"),
                "sink": {"group": "restart-group", "flush_rows": 5000},
            }
        )
        stop = threading.Event()
        reports: list[SinkReport] = []
        errors: list[BaseException] = []
        chunks: list[Sent] = []

        def sink() -> None:
            try:
                reports.append(run_sink(settings, [topic], stop))
            except BaseException as exc:  # surfaced by the assertions below
                errors.append(exc)

        paused = threading.Lock()  # held by the test while the broker is down: the producer waits

        def produce_paced() -> None:  # ~5,000 events/s before and after the outage
            # One producer throughout, as a service runs it: it reconnects when the broker is back
            # (a new one per chunk spent ~0.5 s connecting each time).
            producer = foreign_producer(broker.bootstrap)
            try:
                for i in range(0, len(events), 1000):
                    with paused:
                        chunk = events[i : i + 1000]
                        chunks.append(produce_events(broker.bootstrap, topic, chunk, producer=producer))
                    time.sleep(0.2)  # pacing: traffic flows before and after the outage
            except BaseException as exc:
                errors.append(exc)

        consumer_thread = threading.Thread(target=sink)
        producer_thread = threading.Thread(target=produce_paced)
        consumer_thread.start()
        producer_thread.start()
        try:
            _outage_and_back(broker, paused, consumer_thread, errors, caplog, settings)
            producer_thread.join(240)
            _wait_landed(settings, len(events), errors, timeout_s=180)
        finally:
            stop.set()  # whatever failed above, the sink thread must end with the test
            consumer_thread.join(60)
        assert not errors, errors
        sent = Sent({k: v for c in chunks for k, v in c.by_coord.items()})
        assert len(sent) == len(events)
        with open_catalog(settings) as store:
            assert_exactly_once(sent, read_landed(store, open_lake(settings.lake), topic), topic)
    finally:
        broker.stop()


def _outage_and_back(
    broker: LocalBroker,
    paused: threading.Lock,
    sink: threading.Thread,
    errors: list[BaseException],
    caplog: pytest.LogCaptureFixture,
    settings: Settings,
) -> None:
    """SIGKILL the broker mid-stream (the sink holds buffered rows), keep it down 60 s, start it again."""
    _wait_landed(settings, 4_000, errors)
    state = broker.running_state()
    assert state is not None
    with paused:
        os.kill(state.pid, signal.SIGKILL)
        time.sleep(60)  # the outage itself: a minute down is what this test is about
        assert sink.is_alive() and not errors, errors
        assert "waiting for the broker" in caplog.text  # never silent
        broker.start()


def _wait_landed(settings: Settings, rows: int, errors: list[BaseException], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    # One connection for the whole wait: opening the catalog (schema set-up) while the sink commits
    # can meet SQLITE_BUSY without the busy timeout, reads on an open connection do not.
    with open_catalog(settings) as store:
        while time.monotonic() < deadline:
            assert not errors, errors
            if sum(e.rows for e in store.ledger()) >= rows:
                return
            time.sleep(0.05)
    pytest.fail(f"fewer than {rows} rows landed in {timeout_s}s")
