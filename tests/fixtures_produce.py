"""Shared helpers of the produce tests: a reader that is not eventlake, and a CSV with bad rows in it.

Import explicitly: `from tests.fixtures_produce import malformed_csv  # noqa: F401`.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition


@dataclass(frozen=True)
class Read:
    """One message as a plain consumer sees it."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    headers: dict[str, bytes]


def _read(msg: Message) -> Read:
    partition, offset = msg.partition(), msg.offset()
    assert partition is not None and offset is not None, "a consumed message has both"
    # Consumed header values are bytes (str is accepted only when producing) and eventlake writes no null ones.
    headers = cast(dict[str, bytes], dict(msg.headers() or []))
    return Read(partition, offset, msg.key(), msg.value(), msg.timestamp()[1], headers)


def _consumer(bootstrap: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"produce-test-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )


def _high_watermark(consumer: Consumer, topic: str, partition: int, timeout_s: float = 15) -> int:
    # Right after a topic is created its partitions' leaders may not answer yet: retry briefly.
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return int(consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1])
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Per partition: the log end offset (a fresh topic's message count), straight from the broker."""
    consumer = _consumer(bootstrap)
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        return {p: _high_watermark(consumer, topic, p) for p in meta.partitions}
    finally:
        consumer.close()


def read_topic(bootstrap: str, topic: str, timeout_s: float = 60) -> list[Read]:
    """Every message of `topic` up to its current end, with confluent-kafka's plain Consumer."""
    ends = end_offsets(bootstrap, topic)
    expected = sum(ends.values())
    consumer = _consumer(bootstrap)
    consumer.assign([TopicPartition(topic, p, 0) for p in ends])
    out: list[Read] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=10_000, timeout=0.5):
                if msg.error() is not None:
                    continue
                out.append(_read(msg))
    finally:
        consumer.close()
    assert len(out) == expected, f"read {len(out)} of {expected} messages of {topic}"
    return sorted(out, key=lambda r: (r.partition, r.offset))


def read_to_end(bootstrap: str, topic: str, isolation: str = "read_committed", timeout_s: float = 120) -> list[Read]:
    """Every message a consumer with `isolation` sees, up to each partition's end (for
    read_committed: its last stable offset). Offsets are no count here: aborted records and
    transaction markers take offsets too."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"produce-test-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": isolation,
            "enable.partition.eof": True,
        }
    )
    ends = end_offsets(bootstrap, topic)
    consumer.assign([TopicPartition(topic, p, 0) for p in ends])
    out: list[Read] = []
    at_end: set[int] = set()
    deadline = time.monotonic() + timeout_s
    try:
        while len(at_end) < len(ends):
            missing = sorted(set(ends) - at_end)
            assert time.monotonic() < deadline, f"{topic}: partitions {missing} never reached their end"
            for msg in consumer.consume(num_messages=10_000, timeout=0.5):
                err = msg.error()
                if err is not None:
                    partition = msg.partition()
                    if (
                        err.code() == KafkaError._PARTITION_EOF
                        and partition is not None
                        and (msg.offset() or 0) >= ends[partition]
                    ):
                        at_end.add(partition)
                    continue
                out.append(_read(msg))
    finally:
        consumer.close()
    return sorted(out, key=lambda r: (r.partition, r.offset))


# A CSV with good rows and every kind of bad row the CSV reader must dead-letter.
GOOD_ROWS = [
    ("AAPL", "2024-03-01T14:30:00Z", "171.5", "100", "true"),
    ("MSFT", "2024-03-01T14:30:01Z", "415.25", "200", "false"),
    ("IBM", "2024-03-01T14:30:02Z", "", "300", "true"),
    ("AMZN", "2024-03-01T14:30:03Z", "178", "400", "false"),
    ("GOOG", "2024-03-01T14:30:04Z", "138.75", "500", "true"),
    ("AAPL", "2024-03-01T14:30:05Z", "171.75", "600", "false"),
]
HEADER = "symbol,ts,price,qty,flag"


@dataclass(frozen=True)
class MalformedCsv:
    path: Path
    good: list[dict[str, object]]  # records as they must arrive, in file order
    bad_lines: dict[int, str]  # line number -> a word the DLQ reason must contain


def _expected(row: tuple[str, ...]) -> dict[str, object]:
    symbol, ts, price, qty, flag = row
    return {
        "symbol": symbol,
        "ts": ts,
        "price": float(price) if price else None,
        "qty": int(qty),
        "flag": flag == "true",
    }


@pytest.fixture
def malformed_csv(tmp_path: Path) -> MalformedCsv:
    lines: list[bytes] = [HEADER.encode()]
    good = iter(GOOD_ROWS)
    bad_lines: dict[int, str] = {}

    def add_good() -> None:
        lines.append(",".join(next(good)).encode())

    add_good()
    add_good()
    lines.append(b"TSLA,2024-03-01T14:30:09Z,190.1")  # too few fields
    bad_lines[len(lines)] = "fields"
    add_good()
    lines.append(b"NFLX,2024-03-01T14:30:10Z,600.5,10,true,extra")  # too many fields
    bad_lines[len(lines)] = "fields"
    lines.append(b"NVDA,2024-03-01T14:30:11Z,\xff\xfe\x80,10,true")  # not UTF-8
    bad_lines[len(lines)] = "undecodable"
    add_good()
    add_good()
    lines.append(b"")  # a blank line is not a row
    add_good()
    path = tmp_path / "ticks.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return MalformedCsv(path, [_expected(r) for r in GOOD_ROWS], bad_lines)
