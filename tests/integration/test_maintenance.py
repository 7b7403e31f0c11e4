"""Maintenance against a real broker and sink: compaction while landing and reading, kills, retention and Glue."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from pydantic import SecretStr

from eventlake.catalog import open_catalog
from eventlake.catalog.glue import GluePublisher
from eventlake.catalog.maintain import glue_follower, hour_end, maintain
from eventlake.config import AwsSettings, Settings, load_settings
from eventlake.lake import open_lake
from eventlake.query import connect
from eventlake.sink import run_sink
from eventlake.types import TableRef, table_name_for_topic
from tests.fixtures_query import TABLE, build_sunk_lake
from tests.fixtures_sink import assert_exactly_once, produce_events, read_landed

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000


def _events(n: int, start_ms: int, hours: int, seed: int) -> list[dict[str, Any]]:
    """Events with event times spread evenly over `hours` closed hours from `start_ms`."""
    rnd = random.Random(seed)
    step = hours * HOUR_MS // n
    return [{"id": i, "v": rnd.randrange(1000), "at": start_ms + i * step} for i in range(n)]


def _settings(bootstrap: str, lake: Path, group: str, **maintenance: object) -> Settings:
    return load_settings(
        overrides={
            "bootstrap_servers": bootstrap,
            "lake": str(lake),
            "sink": {
                "group": group,
                "flush_rows": 15,
                "consume_batch": 15,
                "time_field": "at",
                "orphan_grace_seconds": 0.0,
            },
            "maintenance": {"grace_s": 1.0, "lease_s": 2.0, "closed_after_minutes": 0.0, **maintenance},
        }
    )


def _landed(settings: Settings, topic: str) -> int:
    with open_catalog(settings) as store:
        return sum(r["rows"] for r in store.ledger_summary(0) if r["topic"] == topic)


def _wait_landed(settings: Settings, topic: str, n: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while _landed(settings, topic) < n:
        assert time.monotonic() < deadline, f"only {_landed(settings, topic)} of {n} landed"
        time.sleep(0.2)


# In one snapshot: every row once (distinct coordinates) and none missing (each partition 0..max).
EXACT = (
    "SELECT count(*), count(DISTINCT (_partition, _offset)), "
    "(SELECT sum(m) FROM (SELECT max(_offset) + 1 AS m FROM {t} GROUP BY _partition)) FROM {t}"
)


def test_compaction_while_landing_and_reading_with_kills_keeps_every_row_exactly_once(
    bootstrap: str, topic: str, tmp_path: Path
) -> None:
    base = (int(time.time() * 1000) // HOUR_MS - 6) * HOUR_MS  # four closed hours, 6 to 2 hours ago
    first = _events(24_000, base, 4, seed=1)
    sent = produce_events(bootstrap, topic, first)
    settings = _settings(bootstrap, tmp_path / "lake", f"g-{topic}", enabled=False)  # compaction killed below
    stop = threading.Event()
    sink = threading.Thread(target=run_sink, args=(settings, [topic], stop), daemon=True)
    sink.start()
    _wait_landed(settings, topic, len(first))
    table = table_name_for_topic(topic)
    ref = TableRef("default", table)
    with open_catalog(settings) as store:
        files_before = len(store.list_files(ref))
    assert files_before >= 1500  # thousands of small files across several hours

    answers: list[tuple[int, int, int]] = []
    failures: list[BaseException] = []
    reading = threading.Event()

    def reader() -> None:
        with connect(settings) as engine:
            while not reading.is_set():
                try:
                    answers.append(tuple(engine.execute(EXACT.format(t=table)).rows[0]))
                except BaseException as exc:
                    failures.append(exc)
                    return

    more = _events(6_000, base, 4, seed=2)  # late events for the same (closed) hours, landing meanwhile
    extra: dict[str, Any] = {}
    producer = threading.Thread(target=lambda: extra.update(sent=produce_events(bootstrap, topic, more)))
    read = threading.Thread(target=reader)
    read.start()
    producer.start()
    env = {
        **os.environ,
        "EVENTLAKE_LAKE": settings.lake,
        "EVENTLAKE_MAINTENANCE__GRACE_S": "1",
        "EVENTLAKE_MAINTENANCE__LEASE_S": "2",
        "EVENTLAKE_MAINTENANCE__CLOSED_AFTER_MINUTES": "0",
    }
    cmd = [sys.executable, "-c", "from eventlake.cli.main import run; run()", "maintain", "--once"]
    rnd = random.Random(5)
    try:
        for _ in range(3):  # SIGKILL mid-pass
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open_catalog(settings) as store:
                while proc.poll() is None and not store.pending():
                    time.sleep(0.02)
            time.sleep(rnd.uniform(0.0, 1.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait(60)
        producer.join(120)
        _wait_landed(settings, topic, len(first) + len(more))
        time.sleep(2.1)  # the killed passes' leases run out
        for _ in range(2):  # the second pass merges late files that landed during the first
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, done.stderr
    finally:
        reading.set()
        read.join(60)
        stop.set()
        sink.join(60)
    assert not failures, failures[:1]
    assert len(answers) >= 5
    for n, distinct, expected in answers:
        assert n == distinct == expected  # no row twice, none missing, in every snapshot
    counts = [a[0] for a in answers]
    assert counts == sorted(counts) and counts[0] >= len(first) and counts[-1] == len(first) + len(more)

    lake = open_lake(settings.lake)
    all_sent = type(sent)({**sent.by_coord, **extra["sent"].by_coord})
    with open_catalog(settings) as store:
        assert_exactly_once(all_sent, read_landed(store, lake, topic), topic)
        files = store.list_files(ref)
        hours = {tuple(f.partition.items()) for f in files}
        assert len(files) == len(hours) == 4  # each closed hour: one file (far below 128 MB)
        assert store.pending() == []
        # Lineage: the files' ranges cover each Kafka partition's offsets, the ledger's end included.
        ends = {(r["partition"]): r["next_offset"] for r in store.ledger_summary(0)}
        covered = {p: max(r.last_offset for f in files for r in f.lineage() if r.partition == p) + 1 for p in ends}
        assert covered == ends
    on_disk = {lake.uri(o.rel_path) for o in lake.list(table)}
    assert on_disk == {f.path for f in files}  # killed passes left nothing behind


def test_the_sink_compacts_closed_hours_in_its_background(bootstrap: str, topic: str, tmp_path: Path) -> None:
    base = (int(time.time() * 1000) // HOUR_MS - 4) * HOUR_MS
    events = _events(6_000, base, 2, seed=3)
    sent = produce_events(bootstrap, topic, events)
    settings = _settings(bootstrap, tmp_path / "lake", f"g-{topic}", interval_s=1.0)
    stop = threading.Event()
    sink = threading.Thread(target=run_sink, args=(settings, [topic], stop), daemon=True)
    sink.start()
    ref = TableRef("default", table_name_for_topic(topic))
    try:
        _wait_landed(settings, topic, len(events))
        deadline = time.monotonic() + 120
        while True:
            with open_catalog(settings) as store:
                files = store.list_files(ref)
                runs = store.maintenance_runs()
            if len(files) == 2 and any(r["kind"] == "pass" for r in runs):
                break
            assert time.monotonic() < deadline, f"{len(files)} files after 120 s"
            time.sleep(0.5)
    finally:
        stop.set()
        sink.join(60)
    with open_catalog(settings) as store:
        assert_exactly_once(sent, read_landed(store, open_lake(settings.lake), topic), topic)


def test_retention_removes_expired_partitions_from_disk_catalog_and_glue(tmp_path: Path, moto_endpoint: str) -> None:
    aws = AwsSettings(endpoint_url=moto_endpoint, access_key_id="testing", secret_access_key=SecretStr("testing"))
    lake = build_sunk_lake(tmp_path / "lake", rows=2000, flush_rows=100)
    with open_catalog(lake.settings) as store:
        GluePublisher(aws).publish(store, allow_local=True)
        parts = sorted({tuple(f.partition.items()) for f in store.list_files(TABLE)})
    glue = boto3.client("glue", **aws.client_kwargs())

    def glue_parts() -> set[tuple[str, ...]]:
        pages = glue.get_partitions(DatabaseName="default", TableName="stock_ticks")["Partitions"]
        return {tuple(p["Values"]) for p in pages}

    assert glue_parts() == {tuple(v for _, v in p) for p in parts}
    # Keep partitions whose hour ended within the last 2 days of the logical clock: the first two expire.
    end = hour_end(dict(parts[1]))
    assert end is not None
    now = end + 2 * 86400 + 1
    settings = lake.settings.model_copy(
        update={
            "aws": aws,
            "maintenance": lake.settings.maintenance.model_copy(
                update={"retention": "2d", "glue": "sync", "grace_s": 0.0, "closed_after_minutes": 0.0}
            ),
        }
    )
    with open_catalog(settings) as store:
        report = maintain(
            store, open_lake(settings.lake), settings.maintenance, on_dropped=glue_follower(settings.aws), now=now
        )
        left = {tuple(p.values.items()) for p in store.list_partitions(TABLE)}
        files = store.list_files(TABLE)
    assert report.tables[0].partitions_dropped == 2
    assert left == set(parts[2:])
    assert glue_parts() == {tuple(v for _, v in p) for p in parts[2:]}
    on_disk = {str(p) for p in (lake.root / "stock_ticks").rglob("*.parquet")}
    assert on_disk == {f.path for f in files}
    assert not any((lake.root / "stock_ticks" / f"dt={parts[0][0][1]}" / f"hour={parts[0][1][1]}").glob("*"))
