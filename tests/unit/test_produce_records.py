"""From records to message parts, and the options' own rules, without Kafka."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from eventlake.produce import ProduceOptions, open_source
from eventlake.produce.exceptions import BadOptions
from eventlake.produce.producer import expected_events
from eventlake.produce.records import encode, key_bytes, to_epoch_ms

T = 1_709_303_400_000  # 2024-03-01T14:30:00Z in ms


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 3, 1, 14, 30, tzinfo=UTC),
        datetime(2024, 3, 1, 14, 30),  # naive = UTC
        datetime(2024, 3, 1, 16, 30, tzinfo=timezone(timedelta(hours=2))),
        "2024-03-01T14:30:00Z",
        "2024-03-01T14:30:00+00:00",
        "2024-03-01 14:30:00",
        T,  # ms
        T / 1000,  # s
        T * 1000,  # µs
        T * 1_000_000,  # ns
        str(T / 1000),
    ],
)
def test_timestamps_in_many_shapes_become_epoch_ms(value: object) -> None:
    assert to_epoch_ms(value) == T


def test_dates_are_midnight_utc_and_non_times_are_none() -> None:
    assert to_epoch_ms(date(2024, 3, 1)) == T - 14.5 * 3600 * 1000
    value: object
    for value in (None, "soon", True, float("nan"), [], "1969-12-31T00:00:00Z"):
        assert to_epoch_ms(value) is None


def test_keys_are_the_text_of_the_value() -> None:
    assert key_bytes("AAPL") == b"AAPL"
    assert key_bytes(42) == b"42"
    assert key_bytes(42.0) == b"42"
    assert key_bytes(b"raw") == b"raw"
    assert key_bytes(None) is None


def test_json_encoding_of_awkward_values() -> None:
    record = {
        "nan": float("nan"),
        "inf": float("inf"),
        "when": datetime(2024, 3, 1, 14, 30, 0, 500_000),
        "day": date(2024, 3, 1),
        "price": Decimal("1.10"),
        "tags": {"b"},
        "took": timedelta(seconds=1.5),
        "raw": b"bytes",
    }
    assert orjson.loads(encode(record)) == {
        "nan": None,
        "inf": None,
        "when": "2024-03-01T14:30:00.500000Z",
        "day": "2024-03-01",
        "price": 1.1,
        "tags": ["b"],
        "took": 1.5,
        "raw": "bytes",
    }
    with pytest.raises(TypeError):
        encode({"x": object()})


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (ProduceOptions(rate=0), "--rate"),
        (ProduceOptions(rate=10, speed=2, time_field="t"), "do not go together"),
        (ProduceOptions(speed=2), "--time-field"),
        (ProduceOptions(sample=0), "--sample"),
        (ProduceOptions(sample=1.5), "--sample"),
        (ProduceOptions(limit=-1), "--limit"),
        (ProduceOptions(compression="brotli"), "compression"),
    ],
)
def test_options_that_contradict_each_other_are_usage_errors(options: ProduceOptions, words: str) -> None:
    with pytest.raises(BadOptions, match=words):
        options.validate()


def test_expected_events_for_the_eta(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("a\n" + "".join(f"{i}\n" for i in range(100)))
    csv = open_source(path)
    assert expected_events(csv, ProduceOptions()) == 100
    assert expected_events(csv, ProduceOptions(limit=30)) == 30
    assert expected_events(csv, ProduceOptions(limit=300)) == 100
    assert expected_events(csv, ProduceOptions(limit=300, loop=True)) == 300
    assert expected_events(csv, ProduceOptions(loop=True)) is None
    assert expected_events(csv, ProduceOptions(sample=0.5)) == 50
    ticks = open_source("synthetic:ticks")
    assert expected_events(ticks, ProduceOptions()) is None
    assert expected_events(ticks, ProduceOptions(limit=5)) == 5


def test_decimals_keep_their_digits() -> None:
    assert encode({"d": Decimal("12345678901234567890.123456789")}) == b'{"d":12345678901234567890.123456789}'
    assert encode({"d": Decimal("NaN")}) == b'{"d":null}'


def test_timestamps_a_topic_would_refuse_are_found_before_sending() -> None:
    import time

    from eventlake.produce.records import epoch_ms
    from eventlake.produce.topics import TimestampLimits

    limits = TimestampLimits()  # Kafka 4's defaults: at most 1 h ahead, any age
    now = int(time.time() * 1000)
    assert limits.problem(now, "at", "t") is None
    assert limits.problem(now + 50 * 60_000, "at", "t") is None  # 50 minutes ahead: taken
    assert "in the future" in (limits.problem(now + 2 * 3_600_000, "at", "t") or "")
    assert "message.timestamp.after.max.ms" in (limits.problem(now + 2 * 3_600_000, "at", "t") or "")
    assert limits.problem(0, "at", "t") is None
    assert "before 1970" in (limits.problem(epoch_ms("1969-12-31T23:00:00Z") or 0, "at", "t") or "")
    strict = TimestampLimits(after_ms=60_000, before_ms=3_600_000)
    assert strict.problem(now - 2 * 3_600_000, "at", "t") is not None
    assert strict.problem(now - 60_000, "at", "t") is None
    assert TimestampLimits(after_ms=None).problem(now + 10**12, "at", "t") is None  # LogAppendTime


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("AAPL", b"AAPL"),
        (b"\x00\xff", b"\x00\xff"),
        (7, b"7"),
        (3.0, b"3"),
        (2.5, b"2.5"),
        (10**30, str(10**30).encode()),
        (True, b"true"),
        (False, b"false"),
        ({"b": 1, "a": [1, None]}, b'{"a":[1,null],"b":1}'),
        ([1, "x"], b'[1,"x"]'),
        (None, None),
    ],
)
def test_keys_are_text_or_json_never_python_repr(value: object, key: bytes | None) -> None:
    assert key_bytes(value) == key
