"""The produce library against a real broker, read back with a plain confluent-kafka Consumer."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from eventlake.broker import TopicAdmin
from eventlake.broker.dead_letters import ERROR, read_headers
from eventlake.broker.exceptions import BrokerUnreachable, TopicNotFound
from eventlake.config import Settings, load_settings
from eventlake.produce import ProduceOptions, ProduceReport, produce
from eventlake.produce.exceptions import BadRowError
from tests.fixtures_produce import MalformedCsv, end_offsets, malformed_csv, read_topic  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(bootstrap: str) -> Settings:
    return load_settings(overrides={"bootstrap_servers": bootstrap})


def test_notebook_records_with_key_and_event_time(settings: Settings, topic: str, bootstrap: str) -> None:
    # Event times of the last hour (Kafka rejects times far in the future, and deletes those past retention).
    base_s = int(time.time()) // 3600 * 3600 - 3600
    at = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base_s + i)) for i in range(700)]
    records = [{"user": f"u{i % 7}", "n": i, "at": at[i]} for i in range(700)]
    report = produce(settings, topic, records, ProduceOptions(key="user", time_field="at"))
    assert (report.sent, report.delivered, report.failed, report.bad_rows_total) == (700, 700, 0, 0)
    assert report.ok
    messages = read_topic(bootstrap, topic)
    assert sorted(orjson.loads(m.value or b"")["n"] for m in messages) == list(range(700))
    partitions_of: dict[bytes | None, set[int]] = {}
    for m in messages:
        record = orjson.loads(m.value or b"")
        assert m.key == record["user"].encode()
        assert m.timestamp_ms == (base_s + record["n"]) * 1000
        partitions_of.setdefault(m.key, set()).add(m.partition)
    assert all(len(p) == 1 for p in partitions_of.values())
    # One key keeps its order: within a partition, each user's events are in the order sent.
    for key in partitions_of:
        ns = [orjson.loads(m.value or b"")["n"] for m in messages if m.key == key]
        assert ns == sorted(ns)


def test_malformed_csv_rows_go_to_the_dlq_with_headers(
    settings: Settings, topic: str, bootstrap: str, malformed_csv: MalformedCsv
) -> None:
    report = produce(settings, topic, str(malformed_csv.path), ProduceOptions())
    assert report.sent == report.delivered == len(malformed_csv.good)
    assert report.bad_rows_total == report.dlq == len(malformed_csv.bad_lines)
    assert report.ok
    arrived = sorted((orjson.loads(m.value or b"") for m in read_topic(bootstrap, topic)), key=lambda r: r["ts"])
    assert arrived == malformed_csv.good
    dead = read_topic(bootstrap, f"{topic}.dlq")
    letters = [(read_headers(m.headers), m) for m in dead]
    assert sorted(h.line or 0 for h, _ in letters) == sorted(malformed_csv.bad_lines)
    for h, m in letters:
        assert h.line is not None and h.reason is not None
        assert malformed_csv.bad_lines[h.line] in h.reason
        assert (h.stage, h.input, h.topic) == ("produce", str(malformed_csv.path), topic)
        assert m.headers[ERROR] == h.reason.encode()  # written in the documented format
        assert m.value  # the original bytes, for a person to fix and replay
    assert [b.line for b in report.bad_rows] == sorted(malformed_csv.bad_lines)


def test_strict_stops_at_the_first_bad_row(
    settings: Settings, topic: str, bootstrap: str, malformed_csv: MalformedCsv
) -> None:
    with pytest.raises(BadRowError, match=f"line {min(malformed_csv.bad_lines)}") as caught:
        produce(settings, topic, str(malformed_csv.path), ProduceOptions(strict=True))
    report = caught.value.report
    assert isinstance(report, ProduceReport)
    # The two rows before the first bad one were sent and delivered; nothing after it.
    assert (report.sent, report.delivered) == (2, 2)
    assert sorted(orjson.loads(m.value or b"")["symbol"] for m in read_topic(bootstrap, topic)) == ["AAPL", "MSFT"]
    assert TopicAdmin(bootstrap).exists(f"{topic}.dlq") is False


def test_loop_limit_and_seeded_sample_repeat(
    settings: Settings, admin: TopicAdmin, unique_name: str, bootstrap: str
) -> None:
    first, second = f"{unique_name}-a", f"{unique_name}-b"
    options = ProduceOptions(loop=True, limit=1000, sample=0.5, seed=42, create_topic=True, partitions=1)
    for name in (first, second):
        report = produce(settings, name, "sample:stocks", options)
        assert report.delivered == 1000
    a = [m.value for m in read_topic(bootstrap, first)]
    b = [m.value for m in read_topic(bootstrap, second)]
    assert a == b  # same seed, same records in the same order
    assert len(a) == 1000
    assert len(set(a)) <= 560  # half of the 560 rows per pass: 1,000 events took several passes
    assert {orjson.loads(v or b"")["symbol"] for v in a} == {"MSFT", "AMZN", "IBM", "GOOG", "AAPL"}


def test_missing_topic_says_how_to_create_it(settings: Settings, admin: TopicAdmin, unique_name: str) -> None:
    with pytest.raises(TopicNotFound, match=f"eventlake topics create {unique_name} --partitions N"):
        produce(settings, unique_name, "synthetic:ticks", ProduceOptions(limit=1))
    report = produce(
        settings, unique_name, "synthetic:ticks", ProduceOptions(limit=10, create_topic=True, partitions=4)
    )
    assert report.delivered == 10
    assert len(admin.describe(unique_name).partitions) == 4


def test_sync_waits_for_each_acknowledgement(settings: Settings, topic: str, bootstrap: str) -> None:
    report = produce(
        settings, topic, "synthetic:ticks", ProduceOptions(limit=50, sync=True, seed=3, compression="zstd")
    )
    assert (report.sent, report.delivered, report.failed) == (50, 50, 0)
    assert sum(end_offsets(bootstrap, topic).values()) == 50


def test_an_unreachable_broker_fails_fast_with_one_line() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = load_settings(overrides={"bootstrap_servers": f"127.0.0.1:{port}"})
    started = time.monotonic()
    with pytest.raises(BrokerUnreachable) as caught:
        produce(settings, "anything", "synthetic:ticks", ProduceOptions(limit=1))
    assert time.monotonic() - started < settings.kafka.connect_timeout_s + 2
    assert "\n" not in str(caught.value)
    assert f"127.0.0.1:{port}" in str(caught.value)


def test_old_event_times_warn_about_retention(settings: Settings, topic: str) -> None:
    report = produce(settings, topic, "sample:stocks", ProduceOptions(time_field="date", limit=5))
    assert report.delivered == 5
    assert len(report.warnings) == 1
    assert "retention" in report.warnings[0] and "--retention-ms -1" in report.warnings[0]


def test_timestamps_the_broker_would_refuse_are_dead_lettered_alone(
    settings: Settings, topic: str, bootstrap: str
) -> None:
    """The broker refuses a whole batch for one timestamp more than an hour ahead: such records go
    to the DLQ before sending, so the good ones around them (same partition, same batch) arrive."""
    now_s = int(time.time())

    def iso(s: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))

    records = [{"n": i, "at": iso(now_s - 60 + i)} for i in range(30)]
    records[10]["at"] = "2099-01-01T00:00:00Z"
    records[20]["at"] = iso(now_s + 2 * 3600)
    records[25]["at"] = "1969-07-20T20:17:00Z"
    records.append({"n": 30, "at": None})
    report = produce(settings, topic, records, ProduceOptions(time_field="at", key=None))
    assert (report.sent, report.delivered, report.failed) == (27, 27, 0)
    assert report.ok and report.dlq == report.bad_rows_total == 4
    assert sorted(orjson.loads(m.value or b"")["n"] for m in read_topic(bootstrap, topic)) == sorted(
        set(range(30)) - {10, 20, 25}
    )
    letters = [read_headers(m.headers) for m in read_topic(bootstrap, f"{topic}.dlq")]
    reasons = {h.line: h.reason or "" for h in letters}
    assert set(reasons) == {11, 21, 26, 31}
    assert "in the future" in reasons[11] and "message.timestamp.after.max.ms" in reasons[21]
    assert "before 1970" in reasons[26] and "missing or not a timestamp" in reasons[31]


def test_an_unterminated_quote_does_not_swallow_the_rest_of_the_csv(
    settings: Settings, topic: str, bootstrap: str, tmp_path: Path
) -> None:
    path = tmp_path / "quotes.csv"
    path.write_bytes(b'n,note\n1,fine\n2,"never closed\n3,after\n4,"multi\nline"\n5,last\n')
    report = produce(settings, topic, str(path), ProduceOptions())
    assert (report.delivered, report.dlq) == (4, 1)
    arrived = sorted((orjson.loads(m.value or b"") for m in read_topic(bootstrap, topic)), key=lambda r: r["n"])
    assert arrived == [
        {"n": 1, "note": "fine"},
        {"n": 3, "note": "after"},
        {"n": 4, "note": "multi\nline"},
        {"n": 5, "note": "last"},
    ]
    (dead,) = read_topic(bootstrap, f"{topic}.dlq")
    letter = read_headers(dead.headers)
    assert (dead.value, letter.line) == (b'2,"never closed', 3)
    assert "unterminated quote" in (letter.reason or "")


def test_integers_beyond_64_bits_arrive_digit_for_digit(
    settings: Settings, topic: str, bootstrap: str, tmp_path: Path
) -> None:
    big = "123456789012345678901234567890"
    jsonl = tmp_path / "big.jsonl"
    jsonl.write_text(f'{{"id": {big}, "n": 1}}\n{{"id": 18446744073709551616, "n": 2}}\n')
    csv = tmp_path / "big.csv"
    csv.write_text(f"id,n\n{big},3\n-99999999999999999999,4\n")
    for path in (jsonl, csv):
        assert produce(settings, topic, str(path), ProduceOptions(key="id")).delivered == 2
    values = sorted((m.value or b"" for m in read_topic(bootstrap, topic)), key=lambda v: orjson.loads(v)["n"])
    assert values == [
        f'{{"id":{big},"n":1}}'.encode(),
        b'{"id":18446744073709551616,"n":2}',
        f'{{"id":{big},"n":3}}'.encode(),
        b'{"id":-99999999999999999999,"n":4}',
    ]
    assert {m.key for m in read_topic(bootstrap, topic)} >= {big.encode(), b"18446744073709551616"}


def test_speed_replays_the_data_by_its_own_times(settings: Settings, topic: str, bootstrap: str) -> None:
    """Event times 0.8 s apart replayed 4x faster: the run waits for them (0.6 s), and keeps them as timestamps."""
    base_ms = (int(time.time()) - 600) * 1000
    records = [{"n": i, "t": base_ms + i * 800} for i in range(4)]
    report = produce(settings, topic, records, ProduceOptions(speed=4, time_field="t"))
    assert report.seconds >= 0.55  # unpaced, sending and flushing 4 events takes a few tens of milliseconds
    assert report.delivered == 4
    assert sorted(m.timestamp_ms for m in read_topic(bootstrap, topic)) == [r["t"] for r in records]


def test_a_record_too_large_for_kafka_is_dead_lettered(settings: Settings, topic: str, bootstrap: str) -> None:
    records: list[dict[str, Any]] = [{"n": 1}, {"n": 2, "blob": "x" * 2_000_000}, {"n": 3}]
    report = produce(settings, topic, records, ProduceOptions())
    assert (report.sent, report.delivered, report.dlq) == (2, 2, 1)
    assert report.ok
    (dead,) = read_topic(bootstrap, f"{topic}.dlq")
    letter = read_headers(dead.headers)
    assert letter.line == 2
    assert "too large" in (letter.reason or "").lower()
    assert (letter.truncated_from or 0) > 2_000_000
    assert dead.value is not None and dead.value.startswith(b'{"n":2,"blob":"xxx')


def test_an_endless_run_in_a_thread_stops_when_asked(settings: Settings, topic: str, bootstrap: str) -> None:
    """How the demo and notebooks run synthetic:ticks in the background and end it."""
    stop = threading.Event()
    reports: list[ProduceReport] = []
    worker = threading.Thread(
        target=lambda: reports.append(produce(settings, topic, "synthetic:ticks", ProduceOptions(rate=2000), stop=stop))
    )
    worker.start()
    deadline = time.monotonic() + 30
    while sum(end_offsets(bootstrap, topic).values()) < 500 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    worker.join(timeout=30)
    assert not worker.is_alive()
    (report,) = reports
    assert report.ok and report.sent == report.delivered >= 500
    assert sum(end_offsets(bootstrap, topic).values()) == report.delivered


def test_a_paced_run_sends_its_second_event_after_the_first_is_in_the_log(
    settings: Settings, admin: TopicAdmin, unique_name: str, bootstrap: str
) -> None:
    # librdkafka's idempotent producer holds messages until it has a producer id, which it asks
    # for only on a 500 ms timer after start: a paced run that did not wait for its first
    # delivery stamped half a second of events that all reached the log late. On a topic that
    # stamps the broker's append time, the second event must be made after the first was appended.
    admin.create(unique_name, partitions=1, configs={"message.timestamp.type": "LogAppendTime"})
    report = produce(settings, unique_name, "synthetic:ticks", ProduceOptions(rate=500, limit=20, seed=1))
    assert report.delivered == 20
    first, second = read_topic(bootstrap, unique_name)[:2]
    made = datetime.fromisoformat(orjson.loads(second.value or b"{}")["ts"].replace("Z", "+00:00"))
    assert first.timestamp_ms <= made.timestamp() * 1000
