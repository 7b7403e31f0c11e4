"""Types the crawler infers, as Hive/Athena type strings: bigint, double, boolean, string, timestamp.

Text values (CSV cells, partition folder values) are typed by their shape; JSON values by
their JSON type; Parquet columns by their Arrow type. Two types seen for one column merge
to the narrowest type that holds both (bigint + double -> double, anything else -> string),
the way Glue's classifiers widen.
"""

from __future__ import annotations

import re
from typing import Any

from eventlake.catalog.hive_types import (
    STRING,
    Array,
    Decimal,
    HiveType,
    HiveTypeError,
    Scalar,
    Struct,
    format_name,
    format_type,
    parse,
)

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
        fields = ",".join(f"{format_name(k)}:{_known(json_type(v))}" for k, v in value.items())
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
    try:
        return format_type(_merge(parse(a), parse(b)))
    except HiveTypeError:  # a type string an older crawl wrote that no longer parses: text holds it
        return "string"


def _numeric(t: HiveType) -> bool:
    return isinstance(t, Decimal) or (isinstance(t, Scalar) and t.name in _NUMERIC_RANK)


def _merge(a: HiveType, b: HiveType) -> HiveType:
    if a == b:
        return a
    if isinstance(a, Scalar) and isinstance(b, Scalar) and a.name in _NUMERIC_RANK and b.name in _NUMERIC_RANK:
        return max(a, b, key=lambda t: _NUMERIC_RANK[t.name])
    if _numeric(a) and _numeric(b):  # a decimal and another number
        return Scalar("double")
    if isinstance(a, Struct) and isinstance(b, Struct):
        merged = dict(a.fields)
        for name, t in b.fields:
            merged[name] = _merge(merged[name], t) if name in merged else t
        return Struct(tuple(merged.items()))
    if isinstance(a, Array) and isinstance(b, Array):
        return Array(_merge(a.item, b.item))
    return STRING


def finish(t: str) -> str:
    """A column that only ever held nulls is a string column."""
    return _known(t)
