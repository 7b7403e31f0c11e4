"""The sink library against a real broker (and a real S3 server), data from a non-eventlake producer."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from eventlake.broker import TopicAdmin
from eventlake.broker.dead_letters import read_headers
from eventlake.catalog import open_catalog
from eventlake.config import Settings, load_settings
from eventlake.lake import open_lake
from eventlake.lake.local_s3 import LocalS3
from eventlake.sink import run_sink, sink_health
from eventlake.types import table_name_for_topic
from tests.fixtures_sink import (  # noqa: F401
    Sent,
    assert_exactly_once,
    make_events,
    produce_events,
    read_landed,
    read_topic,
    s3_server,
)

pytestmark = pytest.mark.integration


def _settings(bootstrap: str, lake: str, group: str, **extra: object) -> Settings:
    sink = {"group": group, "until_idle": 2.0, "orphan_grace_seconds": 0.0}
    more = extra.pop("sink", {})
    assert isinstance(more, dict)
    sink.update(more)
    return load_settings(overrides={"bootstrap_servers": bootstrap, "lake": lake, "sink": sink, **extra})


def test_300k_events_from_a_foreign_producer_land_exactly_once(
    bootstrap: str, topic: str, tmp_path: Path, admin: TopicAdmin
) -> None:
    sent = produce_events(bootstrap, topic, make_events(300_000))
    settings = _settings(bootstrap, str(tmp_path / "lake"), f"g-{topic}")
    report = run_sink(settings, [topic])
    assert (report.rows, report.dlq, report.conflicts) == (300_000, 0, 0)
    lake = open_lake(settings.lake)
    with open_catalog(settings) as store:
        assert_exactly_once(sent, read_landed(store, lake, topic), topic)
        # Data is queryable without a crawler: the table and its partitions are in the catalog.
        ref = store.list_files()[0].table
        assert ref is not None  # the store fills it in when it reads a file back
        table = store.get_table(ref)
        assert table is not None and [c.name for c in table.partition_keys] == ["dt", "hour"]
        assert {"id", "amount", "nested", "_offset", "_key"} <= set(table.column_names())
        health = sink_health(store, admin.offsets)
    [t] = health
    assert t.rows == 300_000 and t.lag == 0 and t.dlq == 0
    assert sum(p.files for p in t.partitions) == report.files
    # A second run finds nothing new: nothing lands twice.
    again = run_sink(settings, [topic])
    assert again.rows == 0 and again.files == 0


def test_bad_messages_go_to_the_dlq_counted_and_every_good_one_lands(
    bootstrap: str, topic: str, tmp_path: Path
) -> None:
    good = make_events(3000, seed=11)
    bad = [
        b"not json at all",
        b"[1, 2, 3]",
        b'"a string"',
        b"42",
        b"null",
        b'{"id": "not a number"}',
        b'{"broken": ',
        b'{"s": "\xff\xfe invalid utf-8"}',
        b'{"big": "' + b"x" * 5000 + b'"}',
    ]
    mixed: list[bytes] = []
    for i, e in enumerate(good):
        mixed.append(orjson.dumps(e))
        if i % 300 == 150:
            mixed.extend(bad)
    sent = produce_events(bootstrap, topic, mixed)
    good_sent = {c: orjson.loads(v) for c, v in sent.by_coord.items() if v not in bad}
    settings = _settings(bootstrap, str(tmp_path / "lake"), f"g-{topic}", sink={"max_record_bytes": 4096})
    report = run_sink(settings, [topic])
    n_bad = len(sent) - len(good_sent)
    assert n_bad == 10 * len(bad)
    assert (report.rows, report.dlq) == (len(good), n_bad)
    with open_catalog(settings) as store:
        assert_exactly_once(Sent(good_sent), read_landed(store, open_lake(settings.lake), topic), topic)
        assert store.dlq_count(topic) == n_bad
    dead = read_topic(bootstrap, f"{topic}.dlq")
    assert len(dead) == n_bad
    letters = [(read_headers(m.headers()), m) for m in dead]
    by_coord = {(h.partition, h.offset): m for h, m in letters}
    assert set(by_coord) == set(sent.by_coord) - set(good_sent)
    for h, m in letters:
        assert h.partition is not None and h.offset is not None  # the sink's letters carry their source offset
        assert m.value() == sent.by_coord[(h.partition, h.offset)]
        assert (h.stage, h.topic) == ("sink", topic)
        assert h.reason
    reasons = {(h.reason or "").split(":")[0] for h, _ in letters}
    assert {"not JSON", "not a JSON object but an array", "type conflict", "invalid UTF-8"} <= reasons


def test_s3_lake_lands_exactly_once(bootstrap: str, topic: str, tmp_path: Path, s3_server: LocalS3) -> None:
    sent = produce_events(bootstrap, topic, make_events(60_000, seed=3))
    lake_uri = f"s3://{s3_server.bucket}/{topic}-lake"
    settings = _settings(
        bootstrap, lake_uri, f"g-{topic}", catalog=f"sqlite:///{tmp_path / 'catalog.sqlite'}", **s3_server.overrides()
    )
    report = run_sink(settings, [topic])
    assert report.rows == 60_000
    lake = open_lake(settings.lake, settings.s3)
    with open_catalog(settings) as store:
        files = store.list_files()
        assert files and all(f.path.startswith(f"{lake_uri}/") for f in files)
        assert_exactly_once(sent, read_landed(store, lake, topic), topic)
        # Every object in the bucket under the table is a listed file: nothing half-written left.
        listed = {f.path for f in files}
        assert {lake.uri(o.rel_path) for o in lake.list(table_name_for_topic(topic))} == listed


def test_jsonl_format_with_event_time_and_partition_by(bootstrap: str, topic: str, tmp_path: Path) -> None:
    # A replay of three days of history: events carry their own time, one hour apart per 100 events.
    events = [
        {
            "n": i,
            "sym": ["AAPL", "MSFT"][i % 2],
            "at": f"2024-03-{1 + i // 2400:02d}T{(i // 100) % 24:02d}:{i % 60:02d}:00Z",
            "px": i / 10,
        }
        for i in range(7200)
    ]
    sent = produce_events(bootstrap, topic, events)
    settings = _settings(
        bootstrap,
        str(tmp_path / "lake"),
        f"g-{topic}",
        sink={"format": "jsonl", "time_field": "at", "partition_by": ["sym"]},
    )
    report = run_sink(settings, [topic])
    assert report.rows == 7200
    with open_catalog(settings) as store:
        files = store.list_files()
        assert files[0].table is not None  # the store fills it in when it reads a file back
        table = store.get_table(files[0].table)
        assert table is not None
        assert [c.name for c in table.partition_keys] == ["dt", "hour", "sym"]
        assert "sym" not in table.column_names()  # Hive style: the partition value lives in the path
        # one file per hour and symbol per flush at most: 72 hours x 2 symbols x 3 Kafka partitions
        assert len(files) <= 72 * 2 * 3 and all(f.format == "jsonl" for f in files)
        for f in files:
            assert f.path.endswith(".jsonl")
            dt, hour, sym = (f.partition[k] for k in ("dt", "hour", "sym"))
            rows = [orjson.loads(line) for line in Path(f.path).read_bytes().splitlines()]
            assert rows and all(r["at"].startswith(f"{dt}T{hour}:") for r in rows)
            assert all(sent.by_coord[(r["_partition"], r["_offset"])]["sym"] == sym for r in rows)
        landed = sorted(orjson.loads(line)["n"] for f in files for line in Path(f.path).read_bytes().splitlines())
        assert landed == list(range(7200))
