"""Rows -> Hive partition folders: event time (dt, hour) plus optional `--partition-by` fields.

Event time comes from the time field (ISO-8601 strings or timestamps, epoch s/ms/us/ns: the
typing rule of jsontypes) or, without one, from the Kafka timestamp. Folder values are
zero-padded (dt=0999-01-01/hour=07). All work is vectorised (numpy / pyarrow compute); only
the distinct folder values are touched in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from eventlake.sink.jsontypes import TS, epoch_ms, iso_ms_array
from eventlake.sink.names import escape_top

HOUR_MS = 3_600_000
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
# Characters Hive escapes in partition values (as %XX), plus control characters.
_HIVE_ESCAPE = set("\"#%'*/:=?\\\x7f{[]^") | {chr(c) for c in range(0x20)}


@dataclass(frozen=True)
class Group:
    """The rows of one flush that land in one partition folder."""

    values: dict[str, str]  # dt, hour, then partition-by fields, as in the path
    rows: np.ndarray  # row positions in the flush's table, ascending

    def folder(self) -> str:
        return "/".join(f"{k}={escape(v)}" for k, v in self.values.items())


def escape(value: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in _HIVE_ESCAPE else c for c in value)


def event_times(table: pa.Table, kafka_ms: np.ndarray, time_field: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(float64 epoch ms per row, whether it came from the time field).

    The time field where it holds a time (a timestamp, an ISO-8601 string of the typing
    rule, epoch s/ms/us/ns); a missing, null or unreadable value falls back to the Kafka
    timestamp. Float, so a value far out of range reaches the window check as a number.
    """
    kafka = np.asarray(kafka_ms, dtype=np.float64)
    name = escape_top(time_field) if time_field else None
    if name is None or table.schema.get_field_index(name) < 0:
        return kafka, np.zeros(len(kafka), dtype=bool)
    col = table.column(name).combine_chunks()
    t = col.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        ms = _to_float(pc.cast(pc.cast(col, TS), pa.int64()))
    elif pa.types.is_integer(t) or pa.types.is_floating(t):
        ms = epoch_ms(col)
    elif pa.types.is_string(t):
        ms = _to_float(iso_ms_array(col))
    else:
        return kafka, np.zeros(len(kafka), dtype=bool)
    usable = ~np.isnan(ms)
    return np.where(usable, ms, kafka), usable


def _to_float(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def outside(times: np.ndarray, low_ms: float, high_ms: float) -> np.ndarray:
    """Rows whose event time is outside [low_ms, high_ms]."""
    return (times < low_ms) | (times > high_ms)


def describe_ms(ms: float) -> str:
    """An event time for a DLQ reason: ISO when it is one, else the number."""
    if -62135596800000 <= ms <= 253402300799999:
        return str(np.datetime64(int(ms), "ms")) + "Z"
    return f"{ms:.17g} ms since 1970"


# Times that folder names can hold (years 1-9999); the rest fall back to the Kafka timestamp.
_MIN_MS, _MAX_MS = -62135596800000.0, 253402300799999.0


def event_times_ms(table: pa.Table, kafka_ms: np.ndarray, time_field: str | None) -> np.ndarray:
    """Epoch milliseconds per row: the time field where it is usable, else the Kafka timestamp.

    Never raises: a time no folder can hold (1e23, int64 max) counts as unusable. The sink
    itself sends times outside `sink.event_time_*` to the DLQ before this (decode_batch).
    """
    times, _ = event_times(table, kafka_ms, time_field)
    bad = outside(times, _MIN_MS, _MAX_MS)
    if bad.any():
        times = np.where(bad, np.asarray(kafka_ms, dtype=np.float64), times)
    return times.astype(np.int64)


def group_rows(table: pa.Table, times_ms: np.ndarray, partition_by: list[str]) -> list[Group]:
    """Rows grouped by folder, groups ordered by their first row (so by first offset)."""
    n = table.num_rows
    if n == 0:
        return []
    hours = times_ms // HOUR_MS
    partition_by = [escape_top(name) for name in partition_by]  # columns hold escaped names
    extra = [_as_strings(table, name) for name in partition_by]
    if not extra and hours[0] == hours[-1] and (hours == hours[0]).all():
        return [Group(_time_values(int(hours[0])), np.arange(n))]
    keys = hours.astype(np.int64)
    labels: list[np.ndarray] = [keys]
    for column in extra:
        _, codes = np.unique(column, return_inverse=True)
        labels.append(codes.astype(np.int64))
    combo = np.stack(labels, axis=1) if len(labels) > 1 else keys.reshape(-1, 1)
    _, first, inverse = np.unique(combo, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(first, kind="stable")
    rows_sorted = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[rows_sorted], np.arange(len(first) + 1))
    groups = []
    for g in order:
        rows = rows_sorted[bounds[g] : bounds[g + 1]]
        r0 = int(rows[0])
        values = _time_values(int(hours[r0]))
        for name, col in zip(partition_by, extra, strict=True):
            values[name] = str(col[r0])
        groups.append(Group(values, rows))
    return groups


def _time_values(hour: int) -> dict[str, str]:
    # numpy, not datetime: zero-padded years (dt=0001-01-01) and no exception out of range
    text = str(np.datetime64(hour, "h"))  # 2024-01-02T03
    return {"dt": text[:-3], "hour": text[-2:]}


def _as_strings(table: pa.Table, name: str) -> np.ndarray:
    if table.schema.get_field_index(name) < 0:
        return np.full(table.num_rows, NULL_PARTITION, dtype=object)
    col = table.column(name).combine_chunks()
    if pa.types.is_timestamp(col.type):
        col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%S")
    elif pa.types.is_floating(col.type):
        col = pc.cast(col, pa.string())
    elif not pa.types.is_string(col.type):
        try:
            col = pc.cast(col, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            col = pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.string())
    col = pc.fill_null(col, NULL_PARTITION)
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)


def split_by_file_cap(groups: list[Group], n_rows: int, cap: int) -> list[tuple[int, int, list[Group]]]:
    """Cut a flush into consecutive row ranges [start, end) each touching at most `cap` folders."""
    if len(groups) <= cap:
        return [(0, n_rows, groups)]
    # per row: which group it belongs to
    gid = np.empty(n_rows, dtype=np.int64)
    for i, g in enumerate(groups):
        gid[g.rows] = i
    pieces = []
    start = 0
    while start < n_rows:
        ids, first = np.unique(gid[start:], return_index=True)
        end = n_rows if len(ids) <= cap else start + int(np.sort(first)[cap])
        sub = []
        for i in np.unique(gid[start:end]):
            rows = groups[i].rows
            rows = rows[(rows >= start) & (rows < end)]
            sub.append(Group(groups[i].values, rows))
        sub.sort(key=lambda g: int(g.rows[0]))
        pieces.append((start, end, sub))
        start = end
    return pieces
