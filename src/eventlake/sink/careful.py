"""The careful path: a batch the fast path refused, checked one record at a time.

1. Structure (orjson, per record): a value, within max_record_bytes, JSON, an object, no
   integer beyond int64. Most often only this was wrong: the rest goes the fast way.
2. Otherwise every record is typed by the rule (jsontypes, names) and merged into the
   schema by the widening rules; a record that conflicts, or would take the table past
   max_columns, is set aside alone with its reason.
3. The accepted records are parsed in C++ against the merged schema. A record our rules
   take and Arrow's reader refuses (a duplicate key) is found by halving, so a batch with
   a few such records costs a few reads, not one per record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pyarrow as pa

from eventlake.sink.exceptions import TypeConflict
from eventlake.sink.fastpath import ARROW_ERRORS, Decoded, Limits, Rejected, fast, read_lines, typed
from eventlake.sink.jsontypes import Refused, big_integer, scalar_type
from eventlake.sink.names import NameRefused, checked
from eventlake.sink.schema import count_fields, merge_types

_REFUSALS = (TypeConflict, Refused, NameRefused)


def careful(values: Sequence[bytes | None], schema: pa.Schema, lim: Limits) -> Decoded:
    rejected: list[Rejected] = []
    objects: list[tuple[int, bytes, dict[str, Any]]] = []
    for i, raw in enumerate(values):
        checked = structure(raw, lim)
        if checked[0] is not None:
            rejected.append(Rejected(i, checked[0]))
        else:
            _, line, obj = checked
            objects.append((i, line, obj))
    if objects:
        quick = fast([line for _, line, _ in objects], schema, lim)
        if quick is not None:
            return Decoded(quick.table, quick.schema, [i for i, _, _ in objects], _sorted(rejected))
    established = pa.struct(list(schema))
    current = established
    merged_ok: set[pa.DataType] = set()  # record types already merged: widening never undoes them
    kept: list[tuple[int, bytes]] = []
    for i, line, obj in objects:
        try:
            t = infer_record(obj, lim)
            if t not in merged_ok:
                new = merge_types(current, t, "", established)
                if new != current and count_fields(new) > lim.max_columns:
                    raise Refused(
                        f"its fields would take the table to {count_fields(new)} columns, over "
                        f"max_columns={lim.max_columns}"
                    )
                current = new
                merged_ok.add(t)
        except _REFUSALS as exc:
            rejected.append(Rejected(i, _reason(exc)))
            continue
        kept.append((i, line))
    target = pa.schema(list(current))
    good, bad = _isolate(kept, target, lim)
    rejected.extend(bad)
    table = _table([line for _, line in good], target, lim) if good else None
    if table is None:
        empty = pa.table({f.name: pa.nulls(0, f.type) for f in schema}, schema=schema)
        return Decoded(empty, schema, accepted=[], rejected=_sorted(rejected))
    return Decoded(table, target, accepted=[i for i, _ in good], rejected=_sorted(rejected))


def structure(raw: bytes | None, lim: Limits) -> tuple[str, None, None] | tuple[None, bytes, dict[str, Any]]:
    """(reason, None, None) for a value that is not one JSON object we can take, else (None, line, object)."""
    if raw is None:
        return "no value (tombstone)", None, None
    if len(raw) > lim.max_record_bytes:
        return f"record of {len(raw)} bytes is over max_record_bytes={lim.max_record_bytes}", None, None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _not_json(exc), None, None
    if not isinstance(obj, dict):
        return f"not a JSON object but {_kind(obj)}", None, None
    big = big_integer(raw)
    if big is not None:
        return big, None, None
    # One object per line, starting with `{` and ending with `}`, as the fast path wants it.
    line = raw if raw[:1] == b"{" and raw[-1:] == b"}" and b"\n" not in raw and b"\r" not in raw else orjson.dumps(obj)
    return None, line, obj


def infer_record(obj: dict[str, Any], lim: Limits) -> pa.DataType:
    """The record's type under the rule (escaped names), or a refusal."""
    return _infer(obj, lim, 1, "", top=True)


def _infer(value: Any, lim: Limits, level: int, path: str, top: bool = False) -> pa.DataType:
    if isinstance(value, dict):
        if level > lim.max_depth:
            raise Refused(f"nested deeper than max_depth={lim.max_depth}")
        if not value:
            return pa.null()  # `{}`: no fields, no type yet (see schema)
        names = checked(list(value), top, lim.max_name_length, path)
        return pa.struct(
            [
                pa.field(n, _infer(v, lim, level + 1, f"{path}.{n}".lstrip(".")))
                for n, v in zip(names, value.values(), strict=True)
            ]
        )
    if isinstance(value, list):
        if level > lim.max_depth:
            raise Refused(f"nested deeper than max_depth={lim.max_depth}")
        item: pa.DataType = pa.null()
        for v in value:
            item = merge_types(item, _infer(v, lim, level + 1, f"{path}[]"), f"{path}[]")
        return pa.list_(item)
    return scalar_type(value)


def _table(lines: list[bytes], target: pa.Schema, lim: Limits) -> pa.Table | None:
    """The rows of `lines` in `target`'s types, or None if Arrow's reader or the rules refuse one."""
    data = b"\n".join(lines)
    table = read_lines(data, target, ts_as_string=True)
    if table is None or table.num_rows != len(lines):
        return None
    d = typed(table, target, lim, check_numbers=False)
    if d is None or not d.schema.equals(target):
        return None
    return d.table


def _isolate(
    items: list[tuple[int, bytes]], target: pa.Schema, lim: Limits
) -> tuple[list[tuple[int, bytes]], list[Rejected]]:
    """Records whose rows Arrow reads, and the others with Arrow's words, by halving."""
    if not items or _table([line for _, line in items], target, lim) is not None:
        return items, []
    if len(items) == 1:
        i, line = items[0]
        return [], [Rejected(i, f"not readable as a row: {_arrow_error(line, target)}")]
    mid = len(items) // 2
    good_a, bad_a = _isolate(items[:mid], target, lim)
    good_b, bad_b = _isolate(items[mid:], target, lim)
    return good_a + good_b, bad_a + bad_b


def _arrow_error(line: bytes, schema: pa.Schema) -> str:
    import io

    import pyarrow.json as pj

    from eventlake.sink.schema import explicit_schema

    explicit = explicit_schema(schema, ts_as_string=True)
    try:
        pj.read_json(
            io.BytesIO(line),
            parse_options=pj.ParseOptions(
                explicit_schema=explicit if len(explicit) else None, unexpected_field_behavior="infer"
            ),
        )
    except ARROW_ERRORS as exc:  # the reader's own words are the reason we report
        return str(exc).splitlines()[0]
    return "its values do not fit the table's types"


def _reason(exc: Exception) -> str:
    if isinstance(exc, TypeConflict):
        return f"type conflict: {exc}"
    return str(exc)


def _not_json(exc: Exception) -> str:
    text = str(exc)
    if "not valid utf-8" in text.lower():  # bytes; a BOM or an escaped lone surrogate is a JSON matter
        return f"invalid UTF-8: {text}"
    return f"not JSON: {text}"


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


def _sorted(rejected: list[Rejected]) -> list[Rejected]:
    return sorted(rejected, key=lambda r: r.index)
