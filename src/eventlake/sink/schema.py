"""Table schemas from JSON: Arrow types, safe widening, and Hive type strings for the catalog.

Types: int64 (bigint), float64 (double), bool (boolean), string, timestamp (see jsontypes:
stored as milliseconds UTC), struct, list. Widening rules, the only ones applied: null -> any
type, int -> float, a struct gains fields. A new field becomes a new nullable column.
Anything else is a conflict: the record goes to the dead letter topic.

An empty object `{}` has no type a reader can hold (`struct<>` breaks Parquet and the
catalog): while a field has only been `{}` or null it is "unknown yet" (null type) and
lands as null; once an object with fields arrives it is a struct, and a later `{}` lands
as that struct with all fields null. Empty arrays likewise leave the item type unknown.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from eventlake.catalog.hive_types import VOID, format_type, from_arrow, parse, to_arrow
from eventlake.sink.arrays import conform_array, conform_table
from eventlake.sink.exceptions import TypeConflict
from eventlake.sink.jsontypes import INT64_MAX, INT64_MIN, TS
from eventlake.sink.names import raw_type

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "TS",
    "conform_array",
    "conform_table",
    "contains",
    "count_fields",
    "depth",
    "explicit_schema",
    "from_hive",
    "has_null",
    "merge_schema",
    "merge_types",
    "normalize",
    "sink_type_text",
    "storage_type",
    "to_hive",
]


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
        return pa.struct([pa.field(f.name, normalize(f.type)) for f in t]) if t.num_fields else pa.null()
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.list_(normalize(t.value_type))
    return t


def merge_types(
    old: pa.DataType, new: pa.DataType, path: str = "", established: pa.DataType | None = None
) -> pa.DataType:
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
        folded = {n.lower(): n for n in fields}
        for f in new:
            sub = f"{path}.{f.name}"
            if f.name not in fields and f.name.lower() in folded:
                raise TypeConflict(f"field {sub.lstrip('.')} differs only in case from {folded[f.name.lower()]}")
            sub_est = est.field(f.name).type if est is not None and est.get_field_index(f.name) >= 0 else None
            fields[f.name] = merge_types(fields[f.name], f.type, sub, sub_est) if f.name in fields else f.type
            folded[f.name.lower()] = f.name
        return pa.struct([pa.field(n, t) for n, t in fields.items()])
    if pa.types.is_list(old) and pa.types.is_list(new):
        sub_est = established.value_type if established is not None and pa.types.is_list(established) else None
        return pa.list_(merge_types(old.value_type, new.value_type, f"{path}[]", sub_est))
    raise TypeConflict(f"field {path.lstrip('.') or '(root)'} is {to_hive(old)}, got {to_hive(new)}")


def merge_schema(old: pa.Schema, new: pa.Schema) -> pa.Schema:
    """`old`'s columns in order (widened where needed), then `new`'s new columns."""
    merged = merge_types(
        pa.struct(list(old)),
        pa.struct([pa.field(f.name, normalize(f.type)) for f in new]),
        established=pa.struct(list(old)),
    )
    return pa.schema(list(merged))


def explicit_schema(schema: pa.Schema, ts_as_string: bool = False) -> pa.Schema:
    """What we tell the JSON reader: known types under their JSON names, minus unknown (null) ones.

    `ts_as_string`: timestamps are read as text and typed by jsontypes (Arrow's own parser
    stops at milliseconds and refuses more fractional digits).
    """
    fields = []
    for f in schema:
        t = _known(f.type, ts_as_string)
        if t is not None:
            fields.append(pa.field(f.name, t))
    return pa.schema(list(raw_type(pa.struct(fields)))) if fields else pa.schema([])


def _known(t: pa.DataType, ts_as_string: bool) -> pa.DataType | None:
    if pa.types.is_null(t):
        return None
    if pa.types.is_struct(t):
        subs = [pa.field(f.name, k) for f in t if (k := _known(f.type, ts_as_string)) is not None]
        return pa.struct(subs) if subs else None
    if pa.types.is_list(t):
        k = _known(t.value_type, ts_as_string)
        return pa.list_(k) if k is not None else None
    if ts_as_string and pa.types.is_timestamp(t):
        return pa.string()
    return t


def count_fields(t: pa.DataType | pa.Schema) -> int:
    """Columns and nested fields: what sink.max_columns bounds."""
    fields = list(t) if isinstance(t, pa.Schema) else (list(t) if pa.types.is_struct(t) else [])
    if not isinstance(t, pa.Schema) and (pa.types.is_list(t) or pa.types.is_large_list(t)):
        return count_fields(t.value_type)
    return sum(1 + count_fields(f.type) for f in fields)


def depth(t: pa.DataType) -> int:
    """Nesting levels below a value of type `t` (a scalar: 0)."""
    if pa.types.is_struct(t):
        return 1 + max((depth(f.type) for f in t), default=0)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return 1 + depth(t.value_type)
    return 0


def storage_type(t: pa.DataType) -> pa.DataType:
    """The type files hold: "unknown yet" parts as string, the catalog's type for them.

    Arrow's Null type in a file is unreadable by Spark and Athena, and differs from the string
    files beside it; the conformer rewrites these nulls when the field's real type arrives.
    """
    if pa.types.is_null(t):
        return pa.string()
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, storage_type(f.type)) for f in t])
    if pa.types.is_list(t):
        return pa.list_(storage_type(t.value_type))
    return t


def contains(t: pa.DataType, leaf: Callable[[pa.DataType], bool]) -> bool:
    """Whether `t`, or a type nested in its structs and lists, satisfies `leaf`."""
    if leaf(t):
        return True
    if pa.types.is_struct(t):
        return any(contains(f.type, leaf) for f in t)
    if pa.types.is_list(t):
        return contains(t.value_type, leaf)
    return False


def has_null(t: pa.DataType) -> bool:
    return contains(t, pa.types.is_null)


# ---- Hive type strings (what the catalog stores): parsed and written by catalog.hive_types


def to_hive(t: pa.DataType) -> str:
    """The catalog's type string ("not typed yet" parts as string, Athena has no null type)."""
    return format_type(from_arrow(t))


def sink_type_text(t: pa.DataType) -> str:
    """`to_hive` that keeps "unknown yet" as `void` (kept in the table's parameters, not its columns)."""
    return format_type(from_arrow(t, null=VOID))


def from_hive(text: str) -> pa.DataType:
    """The Arrow type the sink holds for a catalog type (ValueError if the text is not one).

    The sink decodes JSON numbers as int64 or float64 only, so a `decimal(p,s)` column (a table a
    crawler made, which the sink then lands into) is held as double, as its values arrive."""
    return _as_json(to_arrow(parse(text)))


def _as_json(t: pa.DataType) -> pa.DataType:
    if pa.types.is_decimal(t):
        return pa.float64()
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _as_json(f.type)) for f in t])
    if pa.types.is_list(t):
        return pa.list_(_as_json(t.value_type))
    return t
