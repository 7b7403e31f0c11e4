"""Raw Kafka values -> one Arrow table, with bad records set aside for the DLQ.

Fast path (almost every batch): join the values with newlines and parse them all at once
in C++ with pyarrow's JSON reader, against the table's known schema (new fields are
inferred). It is taken only when it cannot misalign rows with messages: no empty value,
no value with a raw line break, valid UTF-8, and exactly one row per value.

Slow path (a batch with a bad record or a type change): check every record with orjson
and the schema rules, set the bad ones aside with a reason, and parse the rest in C++.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import orjson
import pyarrow as pa
import pyarrow.json as pj

from eventlake.sink.exceptions import TypeConflict
from eventlake.sink.schema import TS, conform_table, explicit_schema, infer_value, merge_schema, merge_types

_BLOCK = 1 << 20  # 1 MiB blocks: parsed in parallel on the thread pool


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


def decode(values: list[bytes | None], schema: pa.Schema, max_record_bytes: int) -> Decoded:
    """Parse JSON objects; `schema` is the table's known schema (may be empty)."""
    n = len(values)
    if n == 0:
        return Decoded(pa.table({f.name: pa.nulls(0, f.type) for f in schema}, schema=schema), schema)
    table = _fast(values, schema, max_record_bytes)  # type: ignore[arg-type]
    if table is not None:
        try:
            merged = merge_schema(schema, table.schema)
            return Decoded(conform_table(table, merged), merged)
        except (TypeConflict, pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return _slow(values, schema, max_record_bytes)


def _fast(values: list[bytes], schema: pa.Schema, max_record_bytes: int) -> pa.Table | None:
    n = len(values)
    # An empty or blank value needs no check of its own: the reader skips blank lines, so the
    # row count below comes out short and the batch takes the slow path.
    if None in values or max(map(len, values)) > max_record_bytes:
        return None
    joined = b"\n".join(values)
    if joined.count(b"\n") != n - 1 or b"\r" in joined:
        return None
    if not joined.isascii():
        try:
            joined.decode("utf-8")
        except UnicodeDecodeError:
            return None
    table = _read(joined, schema)
    return table if table is not None and table.num_rows == n else None


def _read(data: bytes, schema: pa.Schema) -> pa.Table | None:
    explicit = explicit_schema(schema)
    parse = pj.ParseOptions(explicit_schema=explicit if len(explicit) else None,
                            unexpected_field_behavior="infer")
    try:
        table = pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(block_size=_BLOCK),
                             parse_options=parse)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    return _promote_timestamps(table, schema)


# Zoned ISO-8601 with fractional seconds ("2024-01-02T03:04:05.123Z"), which Arrow's JSON
# type inference leaves as strings (it only detects whole seconds).
_ISO_FRACTION = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}\.\d{1,9}(Z|[+-]\d{2}:?\d{2})$")


def _promote_timestamps(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A NEW string column whose every value is a zoned ISO timestamp becomes a timestamp column.

    Only new columns: a column the table already holds keeps its type (the explicit schema
    parses later batches into it), so files of one table never disagree.
    """
    for i, f in enumerate(table.schema):
        if f.type != pa.string() or schema.get_field_index(f.name) >= 0:
            continue
        col = table.column(i)
        present = col.drop_null()
        if len(present) == 0 or not _ISO_FRACTION.match(present[0].as_py()):
            continue
        try:
            table = table.set_column(i, f.name, col.cast(TS))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue  # some value is not a timestamp: the column stays a string column
    return table


def _reason_not_json(exc: Exception) -> str:
    text = str(exc)
    if "utf-8" in text.lower() or "unicode" in text.lower() or "surrogate" in text.lower():
        return f"invalid UTF-8: {text}"
    return f"not JSON: {text}"


def _slow(values: list[bytes | None], schema: pa.Schema, max_record_bytes: int) -> Decoded:
    # 1. Structure (cheap, in orjson): a non-empty JSON object of allowed size and valid UTF-8.
    rejected: list[Rejected] = []
    objects: list[tuple[int, bytes, dict[str, object]]] = []
    for i, raw in enumerate(values):
        if raw is None:
            rejected.append(Rejected(i, "no value (tombstone)"))
            continue
        if len(raw) > max_record_bytes:
            rejected.append(Rejected(i, f"record of {len(raw)} bytes is over max_record_bytes={max_record_bytes}"))
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            rejected.append(Rejected(i, _reason_not_json(exc)))
            continue
        if not isinstance(obj, dict):
            rejected.append(Rejected(i, f"not a JSON object but {_kind(obj)}"))
            continue
        objects.append((i, raw if b"\n" not in raw and b"\r" not in raw else orjson.dumps(obj), obj))
    # 2. Most often only structure was wrong: the rest parses in C++ against the known schema.
    if objects:
        table = _read(b"\n".join(line for _, line, _ in objects), schema)
        if table is not None and table.num_rows == len(objects):
            try:
                merged = merge_schema(schema, table.schema)
                return Decoded(conform_table(table, merged), merged, accepted=[i for i, _, _ in objects],
                               rejected=rejected)
            except (TypeConflict, pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
    # 3. A type changed: apply the widening rules record by record (Python; rare).
    established = pa.struct(list(schema))
    current = established
    accepted: list[int] = []
    lines: list[bytes] = []
    for i, line, obj in objects:
        try:
            current = merge_types(current, infer_value(obj), "", established)
        except TypeConflict as exc:
            rejected.append(Rejected(i, f"type conflict: {exc}"))
            continue
        accepted.append(i)
        lines.append(line)
    target = pa.schema(list(current))
    table = _read(b"\n".join(lines), target) if lines else None
    if lines and (table is None or table.num_rows != len(lines)):
        # Our rules and the C++ reader disagree on some record (e.g. a duplicate key): find it.
        keep_acc, keep_lines = [], []
        for idx, line in zip(accepted, lines, strict=True):
            one = _read(line, target)
            if one is None or one.num_rows != 1:
                rejected.append(Rejected(idx, f"not readable as a row: {_arrow_error(line, target)}"))
            else:
                keep_acc.append(idx)
                keep_lines.append(line)
        accepted, lines = keep_acc, keep_lines
        table = _read(b"\n".join(lines), target) if lines else None
    rejected.sort(key=lambda r: r.index)
    if table is None:
        return Decoded(pa.table({f.name: pa.nulls(0, f.type) for f in schema}, schema=schema), schema,
                       accepted=[], rejected=rejected)
    merged = merge_schema(target, table.schema)
    return Decoded(conform_table(table, merged), merged, accepted=accepted, rejected=rejected)


def _arrow_error(line: bytes, schema: pa.Schema) -> str:
    explicit = explicit_schema(schema)
    try:
        pj.read_json(io.BytesIO(line), parse_options=pj.ParseOptions(
            explicit_schema=explicit if len(explicit) else None, unexpected_field_behavior="infer"))
    except Exception as exc:  # the reader's own words are the reason we report
        return str(exc).splitlines()[0]
    return "unexpected row count"


def _kind(obj: object) -> str:
    if obj is None:
        return "null"
    if isinstance(obj, bool):
        return "a boolean"
    if isinstance(obj, (int, float)):
        return "a number"
    if isinstance(obj, str):
        return "a string"
    if isinstance(obj, list):
        return "an array"
    return type(obj).__name__
