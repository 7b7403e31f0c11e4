"""From a record (a dict) to the bytes, key and timestamp of a Kafka message."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

# Naive datetimes are UTC; timestamps end in Z; NaN and infinities become null (orjson's own rule).
JSON_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    """Types orjson does not know natively, as notebooks and Parquet files hand them to us."""
    if isinstance(value, Decimal):  # its own digits: a float would round decimal128(38, x) values
        return orjson.Fragment(str(value)) if value.is_finite() else None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if type(value).__name__ == "NaTType":  # pandas' missing timestamp
        return None
    isoformat = getattr(value, "isoformat", None)  # pandas.Timestamp, datetime.time
    if callable(isoformat):
        return isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def encode(record: Any) -> bytes:
    try:
        return orjson.dumps(record, default=_default, option=JSON_OPTIONS)
    except TypeError:
        return encode_wide(record)


INT64_MIN = -(1 << 63)
UINT64_MAX = (1 << 64) - 1


def _widen(value: Any) -> Any:
    if value.__class__ is int and not INT64_MIN <= value <= UINT64_MAX:
        return orjson.Fragment(str(value))  # the exact digits, never a rounded double
    if value.__class__ is dict:
        return {k: _widen(v) for k, v in value.items()}
    if value.__class__ is list:
        return [_widen(v) for v in value]
    return value


def encode_wide(record: Any) -> bytes:
    """`encode` for a record orjson refused: integers beyond 64 bits are written digit for digit.

    Only called after a TypeError, so the hot path never walks records. Raises TypeError
    when something else was the cause."""
    return orjson.dumps(_widen(record), default=_default, option=JSON_OPTIONS)


def key_bytes(value: Any) -> bytes | None:
    """The message key: a string as itself, bytes as they are, anything else as its JSON text
    (`true`, `{"a":1}` with sorted keys, ISO times), never Python's `str()` (`True`, `{'a': 1}`).
    Missing or null means no key."""
    if value is None:
        return None
    if value.__class__ is str:
        return value.encode()
    if isinstance(value, bytes):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).encode()  # exact for any size (orjson refuses beyond 64 bits)
    if isinstance(value, date):
        return value.isoformat().encode()  # a time key reads like the string it stands for
    try:
        return orjson.dumps(
            value,
            option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_NAIVE_UTC | orjson.OPT_SERIALIZE_NUMPY,
        )
    except TypeError:
        return str(value).encode()


def to_epoch_ms(value: Any) -> int | None:
    """Milliseconds since the epoch (UTC) for a timestamp-like value, None if it is not one.

    Kafka cannot store times before 1970, so those are None too (`epoch_ms` tells them apart).
    """
    ms = epoch_ms(value)
    return ms if ms is not None and ms >= 0 else None


def epoch_ms(value: Any) -> int | None:
    """Milliseconds since the epoch (UTC), negative before 1970; None if not a timestamp.

    Accepts datetimes (naive = UTC), dates, ISO-8601 strings, and epoch numbers in seconds,
    milliseconds, microseconds or nanoseconds (told apart by magnitude).
    """
    if value is None or isinstance(value, bool):
        return None
    if value.__class__ is str:
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            try:
                value = float(value)
            except ValueError:
                return None
    ms: int  # `value` is still Any here (a str became a datetime or a float), so say what ms is
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        ms = math.floor(value.timestamp() * 1000)
    elif isinstance(value, date):
        ms = math.floor(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() * 1000)
    elif isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        magnitude = abs(value)
        if magnitude >= 1e17:
            ms = int(value // 1_000_000)
        elif magnitude >= 1e14:
            ms = int(value // 1000)
        elif magnitude >= 1e11:
            ms = int(value)
        else:
            ms = math.floor(value * 1000)
    else:
        return None
    return ms
