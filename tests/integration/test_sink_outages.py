"""Waiting, not dying: the sink rides out a minute without S3 or without its catalog.

Each case produces at a steady pace while the sink runs, takes one thing away for 60 s (the
S3 server is stopped; the catalog is held by an exclusive SQLite lock), then gives it back,
and checks what a user would: the sink never exited, it said what it waited for (log and
/metrics), and afterwards the lake holds every event exactly once. Traffic flows from before
the outage until the sink has said it is back and a few more chunks went out: by time, not by
a fixed count of events (a fixed 9,000 at this pace kept each case producing for ~3 minutes).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eventlake.broker import TopicAdmin
from eventlake.catalog import catalog_path, open_catalog
from eventlake.config import Settings, load_settings
from eventlake.lake import open_lake
from eventlake.lake.local_s3 import run_local_s3
from eventlake.runtime import free_port
from eventlake.sink import SinkReport, run_sink
from tests.fixtures_sink import (
    Sent,
    assert_exactly_once,
    foreign_producer,
    make_events,
    produce_events,
    read_landed,
)

pytestmark = pytest.mark.integration

OUTAGE_S = 60.0
CHUNK = 50  # events per chunk, one chunk every PACE_S: about 100 events/s
PACE_S = 0.5
AFTER_RECOVERY_CHUNKS = 6  # traffic that goes on after the sink said it is back, landing too


class _Pipeline:
    """A sink thread and a paced producer thread over one topic; the producer runs until `finish`."""

    def __init__(self, settings: Settings, bootstrap: str, topic: str, events: list[dict[str, Any]]) -> None:
        self.settings, self.bootstrap, self.topic, self.events = settings, bootstrap, topic, events
        self.stop = threading.Event()
        self.enough = threading.Event()  # the producer's stop: set by finish()
        self.errors: list[BaseException] = []
        self.reports: list[SinkReport] = []
        self.chunks: list[Sent] = []
        self.sink = threading.Thread(target=self._sink)
        self.producer = threading.Thread(target=self._produce)

    def _sink(self) -> None:
        try:
            self.reports.append(run_sink(self.settings, [self.topic], self.stop))
        except BaseException as exc:
            self.errors.append(exc)

    def _produce(self) -> None:  # about 100 events/s until finish()
        producer = foreign_producer(self.bootstrap)
        try:
            for i in range(0, len(self.events), CHUNK):
                chunk = self.events[i : i + CHUNK]
                self.chunks.append(produce_events(self.bootstrap, self.topic, chunk, producer=producer))
                if self.enough.wait(PACE_S):  # pacing: traffic flows all through the outage
                    return
            raise AssertionError(f"all {len(self.events)} events sent before the test ended: make more")
        except BaseException as exc:
            self.errors.append(exc)

    def start(self) -> None:
        self.sink.start()
        self.producer.start()

    def sent_after_recovery(self, caplog: pytest.LogCaptureFixture, since: int) -> None:
        """Wait for the sink to say (in the log past offset `since`) that the lake and catalog are
        back, and that they were away about as long as they were (the wait counts from the call
        that failed, and retries back off to 5 s only), then for a few more chunks to go out."""
        back = re.compile(r"the lake and catalog is back after (\d+) s")
        _wait(
            lambda: back.search(caplog.text[since:]) is not None,
            self.errors,
            120,
            "the sink did not say the lake and catalog are back",
        )
        match = back.search(caplog.text[since:])
        assert match is not None and OUTAGE_S - 5 <= int(match.group(1)) <= OUTAGE_S + 15, match
        more = len(self.chunks) + AFTER_RECOVERY_CHUNKS
        _wait(lambda: len(self.chunks) >= more, self.errors, 60, "traffic did not go on after the outage")

    def finish(self) -> Sent:
        self.enough.set()
        self.producer.join(300)
        assert not self.producer.is_alive(), "the producer did not stop"
        return Sent({k: v for c in self.chunks for k, v in c.by_coord.items()})

    def close(self) -> None:
        self.enough.set()
        self.stop.set()
        self.sink.join(120)


def _landed_rows(settings: Settings) -> int:
    with open_catalog(settings) as store:
        return sum(e.rows for e in store.ledger())


def _wait(condition: Callable[[], bool], errors: list[BaseException], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert not errors, errors
        try:
            if condition():
                return
        except Exception:  # the catalog may be the thing that is down
            pass
        time.sleep(0.2)
    pytest.fail(f"{what} within {timeout_s:.0f} s")


def test_sink_waits_out_a_minute_without_s3(
    admin: TopicAdmin, bootstrap: str, unique_name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="eventlake.sink")
    port, data = free_port(), tmp_path / "s3"
    admin.create(unique_name, partitions=2)
    events = make_events(30_000, seed=11)  # more than the test sends: it stops by time
    metrics_port = free_port()
    with run_local_s3(data, "lake", "outage-key", "outage-secret-123", port=port) as s3:
        settings = load_settings(
            overrides={
                "bootstrap_servers": bootstrap,
                "lake": "s3://lake/outage",
                "catalog": str(tmp_path / "catalog.sqlite"),
                **s3.overrides(),
                "sink": {"group": f"g-{unique_name}", "flush_seconds": 0.5, "metrics_port": metrics_port},
            }
        )
        pipeline = _Pipeline(settings, bootstrap, unique_name, events)
        pipeline.start()
        _wait(lambda: _landed_rows(settings) >= 500, pipeline.errors, 90, "500 rows did not land")
    try:
        # S3 is gone: the sink must keep running and say so, in the log and on /metrics.
        down_since, log_mark = time.monotonic(), len(caplog.text)
        _wait(lambda: "waiting for the lake" in caplog.text, pipeline.errors, 30, "the sink did not report the wait")
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
            metrics = response.read().decode()
        assert 'eventlake_sink_waiting_seconds{for="the lake and catalog"}' in metrics
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_since)))  # the outage lasts OUTAGE_S: the point
        assert pipeline.sink.is_alive() and not pipeline.errors
        with run_local_s3(data, "lake", "outage-key", "outage-secret-123", port=port):
            pipeline.sent_after_recovery(caplog, log_mark)
            sent = pipeline.finish()
            _wait(
                lambda: _landed_rows(settings) >= len(sent),
                pipeline.errors,
                180,
                f"{len(sent)} rows did not land after S3 came back",
            )
            pipeline.close()
            assert not pipeline.errors, pipeline.errors
            with open_catalog(settings) as store:
                assert_exactly_once(
                    sent, read_landed(store, open_lake(settings.lake, settings.s3), unique_name), unique_name
                )
    finally:
        pipeline.close()


def test_sink_waits_out_a_minute_of_locked_catalog(
    admin: TopicAdmin, bootstrap: str, unique_name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="eventlake.sink")
    admin.create(unique_name, partitions=2)
    events = make_events(30_000, seed=13)  # more than the test sends: it stops by time
    settings = load_settings(
        overrides={
            "bootstrap_servers": bootstrap,
            "lake": str(tmp_path / "lake"),
            "sink": {"group": f"g-{unique_name}", "flush_seconds": 0.5},
        }
    )
    pipeline = _Pipeline(settings, bootstrap, unique_name, events)
    pipeline.start()
    try:
        _wait(lambda: _landed_rows(settings) >= 500, pipeline.errors, 90, "500 rows did not land")
        # Another process holds the catalog's write lock for a minute (longer than SQLite's 30 s
        # busy timeout, so the sink meets 'database is locked' and must wait, not die).
        log_mark = len(caplog.text)
        holder = sqlite3.connect(str(catalog_path(settings)), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            time.sleep(OUTAGE_S)  # the lock is held this long on purpose: the outage is the point
            assert pipeline.sink.is_alive() and not pipeline.errors
            assert "waiting for the" in caplog.text and "catalog" in caplog.text
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        pipeline.sent_after_recovery(caplog, log_mark)
        sent = pipeline.finish()
        _wait(
            lambda: _landed_rows(settings) >= len(sent),
            pipeline.errors,
            180,
            f"{len(sent)} rows did not land after the lock",
        )
        pipeline.close()
        assert not pipeline.errors, pipeline.errors
        with open_catalog(settings) as store:
            assert_exactly_once(sent, read_landed(store, open_lake(settings.lake), unique_name), unique_name)
    finally:
        pipeline.close()
