"""Arrow arrays shaped to the table's schema: columns in order, names escaped, types widened."""

from __future__ import annotations

import pyarrow as pa

from eventlake.sink.exceptions import TypeConflict
from eventlake.sink.jsontypes import TS, strings_to_ts


def conform_table(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Columns in `schema`'s order and types; missing columns are nulls."""
    n = table.num_rows
    arrays = []
    for f in schema:
        if table.schema.get_field_index(f.name) >= 0:
            col = table.column(f.name)
            arrays.append(conform_array(col.combine_chunks() if col.num_chunks != 1 else col.chunk(0), f.type))
        else:
            arrays.append(pa.nulls(n, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def conform_array(arr: pa.Array, target: pa.DataType) -> pa.Array:
    if arr.type == target:
        return arr
    if pa.types.is_null(arr.type) or pa.types.is_null(target) or arr.null_count == len(arr):
        # all null: nothing to convert (a column stored as string while its type was unknown
        # becomes any type); null target: a field that is "unknown yet" (only nulls and `{}` so far)
        return pa.nulls(len(arr), target)
    if pa.types.is_struct(target) and pa.types.is_struct(arr.type):
        children = []
        for f in target:
            idx = arr.type.get_field_index(f.name)
            child = arr.field(idx) if idx >= 0 else pa.nulls(len(arr), f.type)
            children.append(conform_array(child, f.type))
        return pa.StructArray.from_arrays(children, fields=list(target), mask=_mask(arr))
    if pa.types.is_list(target) and pa.types.is_list(arr.type):
        # offsets index into .values (the whole child, slice offset ignored): keep both as they are
        values = conform_array(arr.values, target.value_type)
        return pa.ListArray.from_arrays(arr.offsets, values, type=target, mask=_mask(arr))
    if target == TS and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        ts = strings_to_ts(arr)
        if ts is None:
            raise TypeConflict("a value is not a timestamp")
        return ts
    if pa.types.is_timestamp(target) and pa.types.is_timestamp(arr.type):
        return arr.cast(target, safe=False)  # finer units: cut to the millisecond (documented)
    if pa.types.is_floating(target) and pa.types.is_integer(arr.type):
        return arr.cast(target, safe=False)  # int -> double widening: rounding past 2**53 is the rule
    try:
        return arr.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise TypeConflict(str(exc).splitlines()[0]) from exc


def with_names(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """`arr` with the field names of `target` (same shape, renamed by position)."""
    if pa.types.is_struct(arr.type):
        children = [with_names(arr.field(i), f.type) for i, f in enumerate(target)]
        return pa.StructArray.from_arrays(
            children, fields=[pa.field(f.name, c.type) for f, c in zip(target, children, strict=True)], mask=_mask(arr)
        )
    if pa.types.is_list(arr.type):
        values = with_names(arr.values, target.value_type)
        return pa.ListArray.from_arrays(arr.offsets, values, mask=_mask(arr))
    return arr


def _mask(arr: pa.Array) -> pa.Array | None:
    return arr.is_null() if arr.null_count else None
