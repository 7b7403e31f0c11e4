"""Rows -> Hive partition folders: event time (dt, hour) plus optional `--partition-by` fields.

Event time comes from the time field (ISO-8601 strings or timestamps, epoch seconds or
milliseconds) or, without one, from the Kafka timestamp. All work is vectorised (numpy /
pyarrow compute); only the distinct folder values are touched in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from eventlake.sink.schema import TS

HOUR_MS = 3_600_000
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
# Characters Hive escapes in partition values (as %XX), plus control characters.
_HIVE_ESCAPE = set('"#%\'*/:=?\\\x7f{[]^') | {chr(c) for c in range(0x20)}


@dataclass(frozen=True)
class Group:
    """The rows of one flush that land in one partition folder."""

    values: dict[str, str]  # dt, hour, then partition-by fields, as in the path
    rows: np.ndarray  # row positions in the flush's table, ascending

    def folder(self) -> str:
        return "/".join(f"{k}={escape(v)}" for k, v in self.values.items())


def escape(value: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in _HIVE_ESCAPE else c for c in value)


def event_times_ms(table: pa.Table, kafka_ms: np.ndarray, time_field: str | None) -> np.ndarray:
    """Epoch milliseconds per row: the time field where it is usable, else the Kafka timestamp."""
    if not time_field or table.schema.get_field_index(time_field) < 0:
        return kafka_ms
    col = table.column(time_field).combine_chunks()
    t = col.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        ms = pc.cast(pc.cast(col, TS), pa.int64())
    elif pa.types.is_integer(t) or pa.types.is_floating(t):
        ms = _epoch_to_ms(col)
    elif pa.types.is_string(t):
        ms = _strings_to_ms(col)
    else:
        return kafka_ms
    values = ms.to_numpy(zero_copy_only=False)
    if ms.null_count:
        valid = pc.is_valid(ms).to_numpy(zero_copy_only=False)
        return np.where(valid, np.nan_to_num(values, nan=0).astype(np.int64), kafka_ms)
    return values.astype(np.int64)


def _epoch_to_ms(col: pa.Array) -> pa.Array:
    """Seconds, milliseconds, microseconds or nanoseconds since the epoch, told apart by size."""
    x = pc.cast(col, pa.float64())
    mag = pc.abs(x)
    scaled = pc.case_when(
        pc.make_struct(pc.less(mag, 1e11), pc.less(mag, 1e14), pc.less(mag, 1e17)),
        pc.multiply(x, 1000.0), x, pc.divide(x, 1e3), pc.divide(x, 1e6),
    )
    return pc.cast(pc.floor(scaled), pa.int64())


def _strings_to_ms(col: pa.Array) -> pa.Array:
    try:
        return pc.cast(pc.cast(col, TS), pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out: list[int | None] = []
    for s in col.to_pylist():  # rare: some strings are not ISO-8601 the C++ parser knows
        try:
            d = datetime.fromisoformat(s.replace("Z", "+00:00")) if s else None
        except ValueError:
            d = None
        if d is not None and d.tzinfo is None:
            d = d.replace(tzinfo=UTC)
        out.append(int(d.timestamp() * 1000) if d is not None else None)
    return pa.array(out, pa.int64())


def group_rows(table: pa.Table, times_ms: np.ndarray, partition_by: list[str]) -> list[Group]:
    """Rows grouped by folder, groups ordered by their first row (so by first offset)."""
    n = table.num_rows
    if n == 0:
        return []
    hours = times_ms // HOUR_MS
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
        rows = rows_sorted[bounds[g]:bounds[g + 1]]
        r0 = int(rows[0])
        values = _time_values(int(hours[r0]))
        for name, col in zip(partition_by, extra, strict=True):
            values[name] = str(col[r0])
        groups.append(Group(values, rows))
    return groups


def _time_values(hour: int) -> dict[str, str]:
    d = datetime.fromtimestamp(hour * 3600, tz=UTC)
    return {"dt": d.strftime("%Y-%m-%d"), "hour": d.strftime("%H")}


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
