"""The fast path: a whole batch parsed at once by Arrow's C++ JSON reader, typed by column.

It is taken only when it cannot misalign rows with messages or let a bad record through:
every value is one line that starts with `{` and ends with `}` (a lone `null` or a 100,000
levels deep value crashes the reader), valid UTF-8 (Arrow does not check), not nested
deeper than max_depth (counted on the brackets, a cheap upper bound), and the reader
returns exactly one row per value. The checks after reading look at columns, never rows:
field names, NaN/Infinity and integers beyond int64 (both read as doubles by Arrow: any
double not finite or not below 2**63 in magnitude is a doubt), new
columns of timestamps, the schema rules and the column limit. Any doubt: None, and the
careful path decides record by record.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from eventlake.sink.arrays import conform_array, conform_table, with_names
from eventlake.sink.exceptions import TypeConflict
from eventlake.sink.jsontypes import TS, strings_to_ts
from eventlake.sink.names import NameRefused, needs_renaming, renamed_type
from eventlake.sink.schema import contains, count_fields, depth, explicit_schema, merge_schema

_BLOCK = 1 << 20  # 1 MiB blocks: parsed in parallel on the thread pool
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INT64_LIMIT = pa.scalar(2.0**63)
ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


@dataclass(frozen=True)
class Limits:
    """What one record may be (sink settings of the same names)."""

    max_record_bytes: int = 1024 * 1024
    max_columns: int = 1000
    max_name_length: int = 255
    max_depth: int = 32


@dataclass(frozen=True)
class Rejected:
    index: int  # position in the batch of values
    reason: str


@dataclass
class Decoded:
    table: pa.Table  # one row per accepted value, in batch order, conformed to `schema`
    schema: pa.Schema  # the table schema after this batch (widened / new columns)
    accepted: list[int] | None = None  # batch positions of the rows; None: all of them
    rejected: list[Rejected] = field(default_factory=list)
    times_ms: np.ndarray | None = None  # event time per row (decode_batch only)


def fast(values: Sequence[bytes | None], schema: pa.Schema, lim: Limits) -> Decoded | None:
    n = len(values)
    if n == 0 or None in values:
        return None
    present = cast(Sequence[bytes], values)  # no None among them: checked just above
    if max(map(len, present)) > lim.max_record_bytes:
        return None
    joined = b"\n".join(present)
    if not _one_object_per_line(joined, n):
        return None
    if not joined.isascii():
        try:
            joined.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if _bracket_depth(joined) > lim.max_depth:
        return None
    table = read_lines(joined, schema)
    if table is None or table.num_rows != n:
        return None
    return typed(table, schema, lim)


def _one_object_per_line(joined: bytes, n: int) -> bool:
    if b"\r" in joined or joined[:1] != b"{" or joined[-1:] != b"}":
        return False
    buf = np.frombuffer(joined, dtype=np.uint8)
    breaks = np.flatnonzero(buf == 0x0A)
    if len(breaks) != n - 1:
        return False
    return bool((buf[breaks + 1] == 0x7B).all() and (buf[breaks - 1] == 0x7D).all())


def _bracket_depth(joined: bytes) -> int:
    """Deepest bracket nesting; brackets inside strings count too (an upper bound is enough)."""
    brackets = joined.translate(None, _NOT_BRACKETS)
    if len(brackets) <= 2 * 8:
        return len(brackets) // 2
    b = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((b == 0x7B) | (b == 0x5B), 1, -1).astype(np.int32)
    return int(np.cumsum(steps).max())


def read_lines(data: bytes, schema: pa.Schema, ts_as_string: bool = False) -> pa.Table | None:
    """Arrow's reader over JSON lines against the known schema; None if it refuses them.

    Known timestamp columns are parsed by Arrow first (fast); if it refuses (more than 3
    fractional digits), they are read as text and typed by jsontypes in `conform_table`.
    """
    explicit = explicit_schema(schema, ts_as_string)
    parse = pj.ParseOptions(explicit_schema=explicit if len(explicit) else None, unexpected_field_behavior="infer")
    try:
        return pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(block_size=_BLOCK), parse_options=parse)
    except ARROW_ERRORS:
        if ts_as_string or not any(contains(f.type, pa.types.is_timestamp) for f in schema):
            return None
    return read_lines(data, schema, ts_as_string=True)


def typed(table: pa.Table, schema: pa.Schema, lim: Limits, check_numbers: bool = True) -> Decoded | None:
    """Column-level checks and typing of what the reader returned; None sends the batch to the careful path.

    `check_numbers` False: the records' numbers were checked one by one already (the careful path).
    """
    row = pa.struct(list(table.schema))
    if needs_renaming(row, lim.max_name_length):
        try:
            row = renamed_type(row, lim.max_name_length)
        except NameRefused:
            return None
        table = pa.Table.from_arrays(
            [
                pa.chunked_array([with_names(c, f.type) for c in col.chunks], type=f.type)
                for col, f in zip(table.columns, row, strict=True)
            ],
            names=[f.name for f in row],
        )
    # NaN/Infinity tokens (not JSON) and integers beyond int64 both arrive as doubles: any
    # double that is not finite or not below 2**63 in magnitude sends the batch the careful way.
    if check_numbers and any(pc.any(pc.invert(pc.less(pc.abs(a), _INT64_LIMIT))).as_py() for a in _floats(table)):
        return None
    try:
        table = _parse_known_timestamps(table, schema)
        table = _promote_timestamps(table, schema)
        merged = merge_schema(schema, table.schema)
        if count_fields(merged) > lim.max_columns or depth(pa.struct(list(merged))) > lim.max_depth:
            return None
        return Decoded(conform_table(table, merged), merged)
    except (TypeConflict, *ARROW_ERRORS):
        return None


def _floats(table: pa.Table) -> Iterator[pa.Array]:
    for col in table.columns:
        for chunk in col.chunks:
            yield from _float_leaves(chunk)


def _float_leaves(arr: pa.Array) -> Iterator[pa.Array]:
    if pa.types.is_floating(arr.type):
        yield arr
    elif pa.types.is_struct(arr.type):
        for i in range(arr.type.num_fields):
            yield from _float_leaves(arr.field(i))
    elif pa.types.is_list(arr.type):
        yield from _float_leaves(arr.values)


def _parse_known_timestamps(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Known timestamp fields read as text (see read_lines) typed by the rule; TypeConflict if one is not."""
    for i, f in enumerate(table.schema):
        idx = schema.get_field_index(f.name)
        if idx < 0:
            continue
        want = _ts_where_known(f.type, schema.field(idx).type)
        if want != f.type:
            table = table.set_column(i, f.name, conform_array(table.column(i).combine_chunks(), want))
    return table


def _ts_where_known(t: pa.DataType, known: pa.DataType) -> pa.DataType:
    if pa.types.is_string(t) and pa.types.is_timestamp(known):
        return TS
    if pa.types.is_struct(t) and pa.types.is_struct(known):
        return pa.struct(
            [
                pa.field(f.name, _ts_where_known(f.type, k) if (k := _child(known, f.name)) is not None else f.type)
                for f in t
            ]
        )
    if pa.types.is_list(t) and pa.types.is_list(known):
        return pa.list_(_ts_where_known(t.value_type, known.value_type))
    return t


# ---- new columns of timestamps: Arrow detects only whole seconds, the rule takes 0-9 digits


def _promote_timestamps(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A NEW string field (top-level or nested) whose every value is a timestamp becomes TS.

    Only new fields: a field the table already holds keeps its type (the explicit schema
    parses later batches into it), so files of one table never disagree.
    """
    for i, f in enumerate(table.schema):
        idx = schema.get_field_index(f.name)
        known = schema.field(idx).type if idx >= 0 else None
        if not _new_strings(f.type, known):
            continue
        col = table.column(i).combine_chunks()
        table = table.set_column(i, f.name, _promote(col, known))
    return table


def _new_strings(t: pa.DataType, known: pa.DataType | None) -> bool:
    if known is None or pa.types.is_null(known):
        return contains(t, pa.types.is_string)
    if pa.types.is_struct(t) and pa.types.is_struct(known):
        return any(_new_strings(f.type, _child(known, f.name)) for f in t)
    if pa.types.is_list(t) and pa.types.is_list(known):
        return _new_strings(t.value_type, known.value_type)
    return False


def _child(t: pa.DataType, name: str) -> pa.DataType | None:
    idx = t.get_field_index(name)
    return t.field(idx).type if idx >= 0 else None


def _promote(arr: pa.Array, known: pa.DataType | None) -> pa.Array:
    t = arr.type
    if pa.types.is_string(t):
        if known is not None and not pa.types.is_null(known):
            return arr
        ts = strings_to_ts(arr) if len(arr) > arr.null_count else None
        return ts if ts is not None else arr
    if pa.types.is_struct(t):
        kt = known if known is not None and pa.types.is_struct(known) else None
        children = [_promote(arr.field(i), _child(kt, f.name) if kt is not None else None) for i, f in enumerate(t)]
        return pa.StructArray.from_arrays(
            children,
            fields=[pa.field(f.name, c.type) for f, c in zip(t, children, strict=True)],
            mask=arr.is_null() if arr.null_count else None,
        )
    if pa.types.is_list(t):
        kv = known.value_type if known is not None and pa.types.is_list(known) else None
        return pa.ListArray.from_arrays(
            arr.offsets, _promote(arr.values, kv), mask=arr.is_null() if arr.null_count else None
        )
    return arr


__all__ = ["ARROW_ERRORS", "TS", "Decoded", "Limits", "Rejected", "fast", "read_lines", "typed"]
