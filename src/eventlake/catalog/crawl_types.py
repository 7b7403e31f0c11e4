"""Types the crawler infers, as Hive/Athena type strings: bigint, double, boolean, string, timestamp.

Text values (CSV cells, partition folder values) are typed by their shape; JSON values by
their JSON type; Parquet columns by their Arrow type. Two types seen for one column merge
to the narrowest type that holds both (bigint + double -> double, anything else -> string),
the way Glue's classifiers widen.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

NULL = "null"  # only nulls seen so far; becomes string if nothing else shows up

_INT = re.compile(r"^[+-]?\d{1,18}$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$|^[+-]?(nan|inf|infinity)$", re.IGNORECASE)
_BOOL = {"true", "false"}
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?Z?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMERIC_RANK = {"tinyint": 0, "smallint": 1, "int": 2, "bigint": 3, "float": 4, "double": 5}


def text_type(value: str) -> str:
    """The type of one CSV cell; an empty cell is null."""
    v = value.strip()
    if not v:
        return NULL
    if _INT.match(v):
        return "bigint"
    if _FLOAT.match(v):
        return "double"
    if v.lower() in _BOOL:
        return "boolean"
    if _TIMESTAMP.match(v):
        return "timestamp"
    return "string"


def partition_value_type(value: str) -> str:
    """Partition folder values: integers (hour=03), dates (dt=2024-01-02), else strings."""
    if _INT.match(value):
        return "bigint"
    if _DATE.match(value):
        return "date"
    return "string"


def json_type(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint" if -(2**63) <= value < 2**63 else "double"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "timestamp" if _TIMESTAMP.match(value) else "string"
    if isinstance(value, dict):
        if not value:
            return "string"
        fields = ",".join(f"{k}:{_known(json_type(v))}" for k, v in value.items())
        return f"struct<{fields}>"
    if isinstance(value, list):
        inner = NULL
        for item in value:
            inner = merge(inner, json_type(item))
        return f"array<{_known(inner)}>"
    return "string"


def _known(t: str) -> str:
    return "string" if t == NULL else t


def merge(a: str, b: str) -> str:
    if a == b:
        return a
    if a == NULL:
        return b
    if b == NULL:
        return a
    if a in _NUMERIC_RANK and b in _NUMERIC_RANK:
        return max(a, b, key=_NUMERIC_RANK.__getitem__)
    if a.startswith("decimal") or b.startswith("decimal"):
        return "double" if {a.split("(")[0], b.split("(")[0]} <= {"decimal", *_NUMERIC_RANK} else "string"
    if a.startswith("struct<") and b.startswith("struct<"):
        return _merge_structs(a, b)
    if a.startswith("array<") and b.startswith("array<"):
        return f"array<{merge(a[6:-1], b[6:-1])}>"
    return "string"


def _merge_structs(a: str, b: str) -> str:
    fa, fb = struct_fields(a), struct_fields(b)
    merged = dict(fa)
    for name, t in fb.items():
        merged[name] = merge(merged[name], t) if name in merged else t
    return "struct<" + ",".join(f"{k}:{v}" for k, v in merged.items()) + ">"


def struct_fields(t: str) -> dict[str, str]:
    """`struct<a:bigint,b:struct<c:string>>` -> {"a": "bigint", "b": "struct<c:string>"}."""
    body, out, depth, start = t[7:-1], {}, 0, 0
    parts = []
    for i, ch in enumerate(body):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    for part in parts:
        name, _, typ = part.partition(":")
        if name:
            out[name] = typ
    return out


def arrow_to_hive(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int64(t) or pa.types.is_uint32(t) or pa.types.is_uint64(t):
        return "bigint"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "int"
    if pa.types.is_int16(t) or pa.types.is_uint8(t):
        return "smallint"
    if pa.types.is_int8(t):
        return "tinyint"
    if pa.types.is_float32(t):
        return "float"
    if pa.types.is_floating(t):
        return "double"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_struct(t):
        return "struct<" + ",".join(f"{f.name}:{arrow_to_hive(f.type)}" for f in t) + ">"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"array<{arrow_to_hive(t.value_type)}>"
    if pa.types.is_map(t):
        return f"map<{arrow_to_hive(t.key_type)},{arrow_to_hive(t.item_type)}>"
    if pa.types.is_dictionary(t):
        return arrow_to_hive(t.value_type)
    return "string"


def finish(t: str) -> str:
    """A column that only ever held nulls is a string column."""
    return _known(t)
