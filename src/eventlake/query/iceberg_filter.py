"""A query's WHERE as a pyiceberg row filter: Iceberg's own partition and file pruning.

Iceberg hides its partitions (hour of the time column, identity of --partition-by fields) in
its metadata, so the Parquet lake's folder pruning (prune.py) has nothing to look at. Instead
the WHERE of the SELECT whose whole FROM is the table (the same soundness rule as prune.py) is
translated into a pyiceberg expression and given to `scan(row_filter=...)`: pyiceberg projects it
through the partition transforms (manifests and partitions left out) and tests it against each
file's column bounds. Only what surely means the same in DuckDB and in Iceberg is translated:
=, <, <=, >, >=, IN and BETWEEN of a top-level column with a string or integer constant (or a
bound `$parameter`), under AND and OR; anything else is "true" (no pruning from it). Times are
read as DuckDB reads them in the engine (TimeZone UTC): a time without a zone is UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from eventlake.query.prune import PartitionFilter
from eventlake.query.time_travel import TIME_PATTERN

_OPS = {
    "COMPARE_EQUAL": "EqualTo",
    "COMPARE_LESSTHAN": "LessThan",
    "COMPARE_GREATERTHAN": "GreaterThan",
    "COMPARE_LESSTHANOREQUALTO": "LessThanOrEqual",
    "COMPARE_GREATERTHANOREQUALTO": "GreaterThanOrEqual",
}
_FLIP = {
    "COMPARE_EQUAL": "COMPARE_EQUAL",
    "COMPARE_LESSTHAN": "COMPARE_GREATERTHAN",
    "COMPARE_GREATERTHAN": "COMPARE_LESSTHAN",
    "COMPARE_LESSTHANOREQUALTO": "COMPARE_GREATERTHANOREQUALTO",
    "COMPARE_GREATERTHANOREQUALTO": "COMPARE_LESSTHANOREQUALTO",
}
_LONG = 2**63


def row_filter(
    where: dict[str, Any], names: set[str], columns: Mapping[str, str], params: Mapping[str, Any] | None
) -> Any:
    """The pyiceberg expression for `where`, or None when nothing of it can prune.

    `columns`: the Iceberg table's top-level columns, name -> kind (`string`, `integer`, `time`);
    `names`: the table's name and alias, for qualified column references."""
    translated = _Translator(where, names, columns, params).expression(where)
    from pyiceberg.expressions import AlwaysTrue

    return None if translated is None or isinstance(translated, AlwaysTrue) else translated


def column_kinds(schema: Any) -> dict[str, str]:
    """{column name: kind} of a pyiceberg schema's top-level columns a filter can use."""
    from pyiceberg.types import (
        IntegerType,
        LongType,
        StringType,
        TimestampType,
        TimestamptzType,
    )

    kinds: dict[str, str] = {}
    for field in schema.fields:
        if isinstance(field.field_type, StringType):
            kinds[field.name] = "string"
        elif isinstance(field.field_type, IntegerType | LongType):
            kinds[field.name] = "integer"
        elif isinstance(field.field_type, TimestampType | TimestamptzType):
            kinds[field.name] = "time"
    return kinds


class _Translator:
    def __init__(
        self, where: dict[str, Any], names: set[str], columns: Mapping[str, str], params: Mapping[str, Any] | None
    ) -> None:
        self.columns = {k.lower(): (k, v) for k, v in columns.items()}
        # prune.py's reading of constants and $parameters (its partition keys are not used here)
        self.constants = PartitionFilter(where, names, {}, params)
        self.names = {n.lower() for n in names}

    def expression(self, node: dict[str, Any]) -> Any:
        """A pyiceberg expression, or None (cannot say anything: no pruning from this node)."""
        from pyiceberg.expressions import And, Or

        cls, kind = node.get("class"), node.get("type")
        if cls == "CONJUNCTION":
            parts = [self.expression(c) for c in node.get("children", [])]
            if kind == "CONJUNCTION_AND":
                known = [p for p in parts if p is not None]  # dropping a conjunct only widens
                return _fold(And, known) if known else None
            if kind == "CONJUNCTION_OR" and parts and all(p is not None for p in parts):
                return _fold(Or, parts)
            return None
        if cls == "COMPARISON" and kind in _OPS:
            left, right = node.get("left", {}), node.get("right", {})
            column = self._column(left)
            if column is None:
                column, kind, right = self._column(right), _FLIP[kind], left
            return self._compare(kind, column, right) if column is not None else None
        if cls == "OPERATOR" and kind == "COMPARE_IN":
            children = node.get("children", [])
            column = self._column(children[0]) if children else None
            if column is None or len(children) < 2:
                return None
            parts = [self._compare("COMPARE_EQUAL", column, c) for c in children[1:]]
            return _fold(Or, parts) if all(p is not None for p in parts) else None
        if cls == "BETWEEN":
            column = self._column(node.get("input", {}))
            if column is None:
                return None
            low = self._compare("COMPARE_GREATERTHANOREQUALTO", column, node.get("lower", {}))
            high = self._compare("COMPARE_LESSTHANOREQUALTO", column, node.get("upper", {}))
            known = [p for p in (low, high) if p is not None]
            return _fold(And, known) if known else None
        return None

    def _column(self, node: dict[str, Any]) -> tuple[str, str] | None:
        if node.get("class") != "COLUMN_REF":
            return None
        parts = [str(n).lower() for n in node.get("column_names", [])]
        if len(parts) == 2 and parts[0] not in self.names:
            return None
        if len(parts) not in (1, 2):
            return None
        return self.columns.get(parts[-1])

    def _compare(self, kind: str, column: tuple[str, str], other: dict[str, Any]) -> Any:
        from pyiceberg import expressions

        name, column_kind = column
        value = self._value(column_kind, other)
        if value is None:
            return None
        return getattr(expressions, _OPS[kind])(name, value)

    def _value(self, column_kind: str, node: dict[str, Any]) -> Any:
        """The constant as the column's Iceberg value, or None when DuckDB might read it otherwise."""
        if column_kind == "time" and node.get("class") == "CAST":
            node = node.get("child") or {}  # TIMESTAMPTZ '...', DATE '...': the string decides
        constant = self.constants._constant(node)
        if constant is None:
            return None
        kind, text = constant
        if column_kind == "string" and kind == "string":
            return text
        if column_kind == "integer" and kind == "integer":
            number = int(text)
            return number if -_LONG <= number < _LONG else None
        if column_kind == "time" and kind == "string":
            return _micros(text)
        return None


def _micros(text: str) -> int | None:
    """A time string as epoch microseconds (UTC when it has no zone), or None if it is not plainly ISO."""
    value = text.strip()
    if len(value) > 40 or not TIME_PATTERN.fullmatch(value):
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    delta = when - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _fold(op: Any, parts: list[Any]) -> Any:
    result = parts[0]
    for part in parts[1:]:
        result = op(result, part)
    return result
