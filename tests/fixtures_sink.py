"""Shared pieces of the sink tests: a real S3 server (S3Proxy), a foreign producer, lake readers.

S3Proxy comes from Maven Central (`org.gaul:s3proxy`), resolved once with Maven into
~/.cache/eventlake/s3proxy/<version>/ like the Kafka jars, and runs on the filesystem
backend on a free loopback port for the whole session.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from eventlake.catalog import CatalogStore
from eventlake.lake import Lake
from eventlake.lake.local_s3 import LocalS3, run_local_s3, s3proxy_libs
from eventlake.types import TableRef, table_name_for_topic
from tests.conftest import require_tool


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3]:
    """A real S3-compatible server (S3Proxy, filesystem backend) with one bucket."""
    require_tool("java")
    if not (s3proxy_libs() / ".complete").is_file():
        require_tool("mvn")  # resolves S3Proxy the first time
    data = tmp_path_factory.mktemp("s3proxy")
    with run_local_s3(data, "lake", "eventlake-test", "eventlake-test-secret") as s3:
        yield s3


# ---- a producer that is not eventlake


def make_events(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """JSON objects with ints, floats, strings, nulls, booleans, nested objects and arrays."""
    rnd = random.Random(seed)
    words = ["alpha", "beta", "gamma", "délta", "ε", "naïve", "東京", "emoji 🚀", 'quote " and \\', ""]
    out = []
    for i in range(n):
        e: dict[str, Any] = {
            "id": i,
            "user": f"user-{rnd.randrange(1000)}",
            "amount": round(rnd.uniform(-1e6, 1e6), 4),
            "count": rnd.randrange(-(2**40), 2**40),
            "ok": rnd.random() < 0.5,
            "note": None if i % 3 == 0 else rnd.choice(words),
            "at_ms": 1_700_000_000_000 + i * 1000,
            "nested": {
                "a": rnd.randrange(100),
                "tags": [rnd.choice(words) for _ in range(i % 4)],
                "deep": {"x": None if i % 5 == 0 else rnd.random()},
            },
        }
        if i % 7 == 0:
            e["optional"] = f"sometimes-{i}"
        out.append(e)
    return out


@dataclass(frozen=True)
class Sent:
    """Where each produced event landed in Kafka: (partition, offset) -> event."""

    by_coord: dict[tuple[int, int], Any]  # the event as given: a dict, or bytes when produced raw

    def __len__(self) -> int:
        return len(self.by_coord)


def foreign_producer(bootstrap: str) -> Producer:
    """A plain confluent-kafka Producer (idempotent, lz4), as a service that is not eventlake would run."""
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "batch.num.messages": 10000,
            "compression.type": "lz4",
            "enable.idempotence": True,
        }
    )


def produce_events(
    bootstrap: str,
    topic: str,
    events: list[dict[str, Any]] | list[bytes],
    keys: bool = True,
    producer: Producer | None = None,
) -> Sent:
    """Produce with a plain confluent-kafka Producer; record each message's partition and offset.

    Pass `producer` (from `foreign_producer`) to reuse one across calls: a new idempotent
    producer costs about half a second of connecting before its first message."""
    producer = producer or foreign_producer(bootstrap)
    coords: dict[tuple[int, int], Any] = {}
    failures: list[str] = []

    def delivered(err: Any, msg: Any, event: Any) -> None:
        if err is not None:
            failures.append(str(err))
        else:
            coords[(msg.partition(), msg.offset())] = event

    for i, e in enumerate(events):
        value = e if isinstance(e, bytes) else orjson.dumps(e)
        while True:
            try:
                producer.produce(
                    topic,
                    value=value,
                    key=str(i).encode() if keys else None,
                    on_delivery=functools.partial(delivered, event=e),
                )
                break
            except BufferError:
                producer.poll(0.05)
        if i % 5000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0
    assert not failures, failures[:3]
    return Sent(coords)


# ---- reading what landed, as a reader of the lake does: only the files the catalog lists


def read_landed(store: CatalogStore, lake: Lake, topic: str) -> pa.Table:
    files = store.list_files(TableRef("default", table_name_for_topic(topic)))
    tables = []
    for f in files:
        with lake.filesystem.open_input_file(lake.path(lake.rel(f.path))) as fh:
            if f.format == "jsonl":
                import pyarrow.json as pj

                tables.append(pj.read_json(fh))
            else:
                tables.append(pq.read_table(fh))
    if not tables:
        return pa.table({})
    return pa.concat_tables(tables, promote_options="permissive")


def landed_by_coord(table: pa.Table) -> dict[tuple[int, int], dict[str, Any]]:
    rows = table.to_pylist()
    out: dict[tuple[int, int], dict[str, Any]] = {}
    for r in rows:
        coord = (r["_partition"], r["_offset"])
        assert coord not in out, f"duplicate row at {coord}"
        out[coord] = r
    return out


def assert_exactly_once(sent: Sent, table: pa.Table, topic: str) -> None:
    """Every event once, at its Kafka coordinates, with its values as sent."""
    landed = landed_by_coord(table)
    assert table.num_rows == len(landed)
    missing = set(sent.by_coord) - set(landed)
    extra = set(landed) - set(sent.by_coord)
    assert not missing, f"{len(missing)} events missing, e.g. {sorted(missing)[:3]}"
    assert not extra, f"{len(extra)} rows never sent, e.g. {sorted(extra)[:3]}"
    for coord, event in sent.by_coord.items():
        row = landed[coord]
        assert row["_topic"] == topic
        for k, v in event.items():
            assert _same(row[k], v), f"{coord} field {k}: sent {v!r}, landed {row[k]!r}"


def _same(landed: Any, sent: Any) -> bool:
    kind = type(sent)
    if kind is type(landed) and kind is not dict and kind is not list:
        return bool(landed == sent)  # same scalar type: what the checks below come to, only quicker
    if isinstance(sent, dict):
        return isinstance(landed, dict) and all(_same(landed.get(k), v) for k, v in sent.items())
    if isinstance(sent, list):
        return (
            isinstance(landed, list)
            and len(landed) == len(sent)
            and all(_same(a, b) for a, b in zip(landed, sent, strict=True))
        )
    if isinstance(sent, bool) or sent is None or isinstance(sent, str):
        return landed == sent and type(landed) is type(sent)
    same: bool = landed == sent
    return same


def read_topic(bootstrap: str, topic: str, timeout_s: float = 30) -> list[Any]:
    """Every message of a topic (all partitions, beginning to end)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"read-{time.time_ns()}", "enable.auto.commit": False}
    )
    md = consumer.list_topics(topic, timeout=10).topics[topic]
    ends = {}
    for p in md.partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        if high > low:
            ends[p] = high
    consumer.assign([TopicPartition(topic, p, 0) for p in ends] or [])
    out: list[Any] = []
    done: set[int] = set()
    deadline = time.monotonic() + timeout_s
    try:
        while len(done) < len(ends) and time.monotonic() < deadline:
            for m in consumer.consume(1000, 0.5):
                if m.error() is None:
                    out.append(m)
                    partition, offset = m.partition(), m.offset()
                    assert partition is not None and offset is not None, "a consumed message has both"
                    if offset + 1 >= ends[partition]:
                        done.add(partition)
    finally:
        consumer.close()
    return out
