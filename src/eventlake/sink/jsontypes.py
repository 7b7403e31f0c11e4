"""The sink's one typing rule for JSON values, shared by the fast and the careful decode path.

The fast path types whole columns (Arrow's C++ reader plus the vectorised functions here);
the careful path types one record at a time (`scalar_type`, careful.infer_record). Both use the definitions
below, so a value gets the same type whichever path its batch takes.

- Integers are int64 (`bigint`). An integer literal outside int64 is refused (the record
  goes to the DLQ): Arrow and orjson would silently round it to a double.
- Floats are float64. `NaN` and `Infinity` are not JSON: refused.
- Timestamps are strings `YYYY-MM-DD`, optionally followed by `T` or a space and `hh`,
  `hh:mm` or `hh:mm:ss` with 0 to 9 fractional digits, and optionally a zone `Z`, `±hh`,
  `±hhmm` or `±hh:mm`. A time without a zone is UTC. The date must exist (no Feb 30),
  hh < 24, mm < 60, ss < 60. Stored as milliseconds since the epoch, UTC: digits beyond
  the millisecond are cut (Athena and Trino read milliseconds).
- Epoch numbers (the time field only) are told apart by size: |x| < 1e11 seconds,
  < 1e14 milliseconds, < 1e17 microseconds, else nanoseconds.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TS = pa.timestamp("ms", tz="UTC")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# RE2 (Arrow) and Python `re` read this pattern alike: [0-9], never \d (Unicode digits in `re`).
ISO_PATTERN = (
    r"^(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})"
    r"(?:[T ](?P<h>[0-9]{2})(?::(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]{1,9}))?)?)?"
    r"(?P<z>Z|(?P<zs>[+-])(?P<zh>[0-9]{2})(?::?(?P<zm>[0-9]{2}))?)?)?$"
)
_ISO = re.compile(ISO_PATTERN)
_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _valid(y: Any, mo: Any, d: Any, h: Any, mi: Any, s: Any, zh: Any, zm: Any) -> Any:
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    month_ok = (mo >= 1) & (mo <= 12)
    dim = _DAYS[np.clip(mo, 1, 12) - 1] + ((mo == 2) & leap)
    return month_ok & (d >= 1) & (d <= dim) & (h < 24) & (mi < 60) & (s < 60) & (zh < 24) & (zm < 60)


def _epoch_ms(y: Any, mo: Any, d: Any, h: Any, mi: Any, s: Any, ms: Any, offset_min: Any) -> Any:
    """Days from the civil date (H. Hinnant's algorithm), then the time of day, minus the zone.

    On numpy arrays; iso_ms spells the same out for one value."""
    y = y - (mo <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (mo + np.where(mo > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return ((days * 24 + h) * 60 + mi - offset_min) * 60_000 + s * 1000 + ms


def iso_ms(text: str) -> int | None:
    """Milliseconds since the epoch for a timestamp string of the rule, else None.

    Plain Python (the careful path calls it per value); `iso_ms_array` is the same rule on
    whole columns, and tests hold the two to the same answers.
    """
    m = _ISO.match(text)
    if m is None:
        return None
    y, mo, d = int(m["y"]), int(m["mo"]), int(m["d"])
    h, mi, s = int(m["h"] or 0), int(m["mi"] or 0), int(m["s"] or 0)
    zh, zm = int(m["zh"] or 0), int(m["zm"] or 0)
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not 1 <= mo <= 12 or not 1 <= d <= int(_DAYS[mo - 1]) + (mo == 2 and leap):
        return None
    if h >= 24 or mi >= 60 or s >= 60 or zh >= 24 or zm >= 60:
        return None
    frac = int((m["f"] or "").ljust(9, "0")[:3])
    offset = (zh * 60 + zm) * (-1 if m["zs"] == "-" else 1)
    yy = y - (mo <= 2)
    era = yy // 400
    yoe = yy - era * 400
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return ((days * 24 + h) * 60 + mi - offset) * 60_000 + s * 1000 + frac


def iso_ms_array(arr: pa.Array) -> pa.Array:
    """`iso_ms` over a string array: int64 milliseconds, null where a value is not a timestamp."""
    parts = pc.extract_regex(arr, ISO_PATTERN)
    matched = pc.is_valid(parts).to_numpy(zero_copy_only=False)

    def num(name: str) -> np.ndarray:
        text = pc.fill_null(pc.struct_field(parts, name), "0")
        text = pc.replace_substring_regex(text, "^$", "0")
        return np.asarray(pc.cast(text, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)

    y, mo, d, h, mi, s, zh, zm = (num(k) for k in ("y", "mo", "d", "h", "mi", "s", "zh", "zm"))
    frac_text = pc.utf8_slice_codeunits(pc.utf8_rpad(pc.fill_null(pc.struct_field(parts, "f"), ""), 9, "0"), 0, 3)
    frac = np.asarray(pc.cast(frac_text, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    minus = np.asarray(pc.equal(pc.fill_null(pc.struct_field(parts, "zs"), ""), "-").to_numpy(zero_copy_only=False))
    offset = (zh * 60 + zm) * np.where(minus, -1, 1)
    ok = matched & _valid(y, mo, d, h, mi, s, zh, zm)
    ms = _epoch_ms(y, mo, d, h, mi, s, frac, offset)
    return pa.array(ms, pa.int64(), mask=~ok)


def strings_to_ts(arr: pa.Array) -> pa.Array | None:
    """A string array as TS, or None if some non-null value is not a timestamp of the rule."""
    ms = iso_ms_array(arr)
    if ms.null_count != arr.null_count:
        return None
    return ms.view(TS) if ms.offset == 0 else ms.cast(pa.int64()).view(TS)


def epoch_ms(col: pa.Array) -> np.ndarray:
    """Seconds, milliseconds, microseconds or nanoseconds since the epoch -> float64 milliseconds.

    Float, not int: a value far out of range (1e23, int64 max) must reach the event-time window
    check as a number, not overflow a cast. Nulls become NaN.
    """
    x = np.asarray(pc.cast(col, pa.float64(), safe=False).to_numpy(zero_copy_only=False), dtype=np.float64)
    mag = np.abs(x)
    with np.errstate(invalid="ignore"):
        scaled = np.select([mag < 1e11, mag < 1e14, mag < 1e17], [x * 1000.0, x, x / 1e3], x / 1e6)
    ms: np.ndarray = np.floor(scaled)  # numpy's stubs type ufunc results as Any
    return ms


# ---- one JSON value at a time (the careful path)


class Refused(ValueError):
    """A value the rule does not take; the record goes to the DLQ with this reason."""


def scalar_type(value: Any) -> pa.DataType:
    """The type of a JSON scalar (not a dict or list) under the rule."""
    if value is None:
        return pa.null()
    if value is True or value is False:
        return pa.bool_()
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise Refused(f"integer {_short(str(value))} is beyond int64")
        return pa.int64()
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise Refused("NaN or Infinity is not JSON")
        return pa.float64()
    if isinstance(value, str):
        return TS if iso_ms(value) is not None else pa.string()
    raise Refused(f"unsupported JSON value {type(value).__name__}")


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else f"{text[:n]}... ({len(text)} characters)"


# ---- integers beyond int64: orjson and Arrow read them as doubles, so look at the text

_DIGIT_MAP = bytes(0x31 if 0x30 <= b <= 0x39 else 0x30 for b in range(256))  # digit -> "1", else "0"


def may_hold_big_integer(data: bytes) -> bool:
    """True if `data` may hold an integer literal beyond int64 (19+ digits standing as a value).

    Digit runs are found at memory speed (translate + find); only runs of 19+ digits are
    looked at, and those after a `.` (fractions such as 0.0021060533511106927) or before
    `.`/`e` are not integers. A long run of digits in a string may still answer True: the
    careful path then checks exactly.
    """
    digits = data.translate(_DIGIT_MAP)
    pos = digits.find(_RUN)
    while pos >= 0:
        start = digits.rfind(b"0", 0, pos) + 1
        end = digits.find(b"0", pos)
        end = len(data) if end < 0 else end
        if data[start - 1 : start] in _BEFORE_INT and data[end : end + 1] in _AFTER_INT:
            return True
        pos = digits.find(_RUN, end)
    return False


_RUN = b"1" * 19
_BEFORE_INT = {b":", b"[", b",", b" ", b"\t", b"-", b""}
_AFTER_INT = {b",", b"]", b"}", b" ", b"\t", b"\n", b""}


def big_integer(raw: bytes) -> str | None:
    """The refusal reason if the JSON text `raw` holds an integer literal beyond int64."""
    if not may_hold_big_integer(raw):
        return None
    try:
        json.loads(raw, parse_int=_checked_int)
    except Refused as exc:
        return str(exc)
    except ValueError:  # not JSON at all: the caller's own parse says why
        return None
    return None


def _checked_int(text: str) -> int:
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise Refused(f"integer {_short(text)} is beyond int64")
    return value
