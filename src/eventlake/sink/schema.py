"""Table schemas from JSON: Arrow types, safe widening, and Hive type strings for the catalog.

Types: int64 (bigint), float64 (double), bool (boolean), string, timestamp (ISO-8601
strings, stored as milliseconds UTC), struct, list. Widening rules, the only ones applied:
null -> any type, int -> float, a struct gains fields. A new field becomes a new nullable
column. Anything else is a conflict: the record goes to the dead letter topic.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

from eventlake.catalog.crawl_types import arrow_to_hive
from eventlake.sink.exceptions import TypeConflict

TS = pa.timestamp("ms", tz="UTC")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# What Arrow's JSON reader detects as a timestamp: a date, optional whole-second time, optional zone.
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}(:\d{2}(:\d{2})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$")


def normalize(t: pa.DataType) -> pa.DataType:
    """The one Arrow type we store for what a JSON reader produced."""
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return TS
    if pa.types.is_integer(t):
        return pa.int64()
    if pa.types.is_floating(t):
        return pa.float64()
    if pa.types.is_large_string(t) or pa.types.is_string(t) or pa.types.is_dictionary(t):
        return pa.string()
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, normalize(f.type)) for f in t])
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.list_(normalize(t.value_type))
    return t


def merge_types(old: pa.DataType, new: pa.DataType, path: str = "",
                established: pa.DataType | None = None) -> pa.DataType:
    """The type that holds both, or TypeConflict. `established` is the type files already hold."""
    if old == new:
        return old
    if pa.types.is_null(new):
        return old
    if pa.types.is_null(old):
        return new
    numeric = (pa.int64(), pa.float64())
    if old in numeric and new in numeric:
        return pa.float64()
    if old == pa.string() and new == TS:
        return old  # a date-looking string in a string column stays a string
    if old == TS and new == pa.string() and established != TS:
        return new  # within one batch, a column of mixed strings is a string column
    if pa.types.is_struct(old) and pa.types.is_struct(new):
        est = established if established is not None and pa.types.is_struct(established) else None
        fields = {f.name: f.type for f in old}
        for f in new:
            sub_est = est.field(f.name).type if est is not None and est.get_field_index(f.name) >= 0 else None
            fields[f.name] = (merge_types(fields[f.name], f.type, f"{path}.{f.name}", sub_est)
                              if f.name in fields else f.type)
        return pa.struct([pa.field(n, t) for n, t in fields.items()])
    if pa.types.is_list(old) and pa.types.is_list(new):
        sub_est = established.value_type if established is not None and pa.types.is_list(established) else None
        return pa.list_(merge_types(old.value_type, new.value_type, f"{path}[]", sub_est))
    raise TypeConflict(f"field {path.lstrip('.') or '(root)'} is {to_hive(old)}, got {to_hive(new)}")


def merge_schema(old: pa.Schema, new: pa.Schema) -> pa.Schema:
    """`old`'s columns in order (widened where needed), then `new`'s new columns."""
    merged = merge_types(pa.struct(list(old)), pa.struct([pa.field(f.name, normalize(f.type)) for f in new]),
                         established=pa.struct(list(old)))
    return pa.schema(list(merged))


def explicit_schema(schema: pa.Schema) -> pa.Schema:
    """What we tell the JSON reader: known types, minus those not known yet (null)."""
    fields = []
    for f in schema:
        t = _known(f.type)
        if t is not None:
            fields.append(pa.field(f.name, t))
    return pa.schema(fields)


def _known(t: pa.DataType) -> pa.DataType | None:
    if pa.types.is_null(t):
        return None
    if pa.types.is_struct(t):
        subs = [pa.field(f.name, k) for f in t if (k := _known(f.type)) is not None]
        return pa.struct(subs) if subs else None
    if pa.types.is_list(t):
        k = _known(t.value_type)
        return pa.list_(k) if k is not None else None
    return t


# ---- JSON values, one record at a time (the slow path that isolates bad records)


def infer_value(value: Any) -> pa.DataType:
    if value is None:
        return pa.null()
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64() if INT64_MIN <= value <= INT64_MAX else pa.float64()
    if isinstance(value, float):
        return pa.float64()
    if isinstance(value, str):
        return TS if _ISO.match(value) else pa.string()
    if isinstance(value, list):
        item: pa.DataType = pa.null()
        for i, v in enumerate(value):
            item = merge_types(item, infer_value(v), f"[{i}]")
        return pa.list_(item)
    if isinstance(value, dict):
        return pa.struct([pa.field(str(k), infer_value(v)) for k, v in value.items()])
    raise TypeConflict(f"unsupported JSON value {type(value).__name__}")


# ---- Arrow arrays shaped to the table's schema


def conform_table(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Columns in `schema`'s order and types; missing columns are nulls."""
    n = table.num_rows
    arrays = []
    for f in schema:
        if table.schema.get_field_index(f.name) >= 0:
            col = table.column(f.name).combine_chunks() if table.column(f.name).num_chunks != 1 \
                else table.column(f.name).chunk(0)
            arrays.append(conform_array(col, f.type))
        else:
            arrays.append(pa.nulls(n, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def conform_array(arr: pa.Array, target: pa.DataType) -> pa.Array:
    if arr.type == target:
        return arr
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), target)
    if pa.types.is_struct(target) and pa.types.is_struct(arr.type):
        children = []
        for f in target:
            idx = arr.type.get_field_index(f.name)
            child = arr.field(idx) if idx >= 0 else pa.nulls(len(arr), f.type)
            children.append(conform_array(child, f.type))
        mask = arr.is_null() if arr.null_count else None
        return pa.StructArray.from_arrays(children, fields=list(target), mask=mask)
    if pa.types.is_list(target) and pa.types.is_list(arr.type):
        # offsets index into .values (the whole child, slice offset ignored): keep both as they are
        values = conform_array(arr.values, target.value_type)
        mask = arr.is_null() if arr.null_count else None
        return pa.ListArray.from_arrays(arr.offsets, values, type=target, mask=mask)
    return arr.cast(target)


# ---- Hive type strings (what the catalog stores)


def to_hive(t: pa.DataType) -> str:
    """The catalog's type string: one mapping for the sink and the crawler (catalog.crawl_types)."""
    return arrow_to_hive(t)


_SCALARS = {
    "string": pa.string(), "varchar": pa.string(), "boolean": pa.bool_(), "bigint": pa.int64(),
    "int": pa.int32(), "integer": pa.int32(), "smallint": pa.int16(), "tinyint": pa.int8(),
    "double": pa.float64(), "float": pa.float32(), "timestamp": TS, "date": pa.date32(),
    "binary": pa.binary(),
}


def from_hive(text: str) -> pa.DataType:
    t, rest = _parse_hive(text.strip())
    if rest.strip():
        raise ValueError(f"unparsed Hive type text {rest!r} in {text!r}")
    return t


def _parse_hive(s: str) -> tuple[pa.DataType, str]:
    low = s.lower()
    if low.startswith("struct<"):
        rest = s[7:]
        fields = []
        while not rest.startswith(">"):
            name, _, rest = rest.partition(":")
            t, rest = _parse_hive(rest)
            fields.append(pa.field(name.strip().strip("`"), t))
            rest = rest.lstrip(",")
        return pa.struct(fields), rest[1:]
    if low.startswith("array<"):
        t, rest = _parse_hive(s[6:])
        return pa.list_(t), rest[1:]
    m = re.match(r"[a-zA-Z]+(\(\d+(,\d+)?\))?", s)
    if not m:
        raise ValueError(f"unknown Hive type {s!r}")
    word = m.group(0).split("(")[0].lower()
    if word == "decimal":
        return pa.float64(), s[m.end():]
    return _SCALARS.get(word, pa.string()), s[m.end():]
