"""Partition pruning before DuckDB: which of a table's partitions can a query's WHERE select at all?

Works on the parse tree the guard already made (`json_serialize_sql`). A table is pruned only
where that is sound: it is named once in the whole statement, as the whole FROM of a SELECT
(no join), so that SELECT's WHERE filters exactly its rows. The WHERE is then evaluated per
partition with three values (no / maybe): comparisons, IN and BETWEEN of a partition column
with a constant (or a bound `$parameter`) decide; anything else is "maybe". A partition is left
out only when the WHERE is surely false for its values, so DuckDB applying the same WHERE
afterwards returns the same rows; it just never sees the other partitions' files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAYBE = None  # three-valued: False (surely no row), MAYBE (cannot tell)
_FLIP = {
    "COMPARE_LESSTHAN": "COMPARE_GREATERTHAN",
    "COMPARE_GREATERTHAN": "COMPARE_LESSTHAN",
    "COMPARE_LESSTHANOREQUALTO": "COMPARE_GREATERTHANOREQUALTO",
    "COMPARE_GREATERTHANOREQUALTO": "COMPARE_LESSTHANOREQUALTO",
    "COMPARE_EQUAL": "COMPARE_EQUAL",
    "COMPARE_NOTEQUAL": "COMPARE_NOTEQUAL",
}
_INTEGER_TYPES = {"bigint", "int", "integer", "smallint", "tinyint"}


def _walk(tree: Any, kind: str) -> list[dict[str, Any]]:
    """Every node of `type` kind, with an explicit stack: trees can be thousands of levels deep
    (a long UNION chain), where recursion would be slow or overflow."""
    found, stack = [], [tree]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if value.get("type") == kind:
                found.append(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def base_tables(tree: Any) -> list[dict[str, Any]]:
    """Every BASE_TABLE node of a parse tree."""
    return _walk(tree, "BASE_TABLE")


def where_for(tree: dict[str, Any], table_node: dict[str, Any]) -> dict[str, Any] | None:
    """The WHERE of the SELECT whose whole FROM is `table_node` (None: no such SELECT, or no WHERE)."""
    for node in _walk(tree, "SELECT_NODE"):
        if node.get("from_table") is table_node:
            where = node.get("where_clause")
            return where if isinstance(where, dict) else None
    return None


class PartitionFilter:
    """Decides, for one table reference and its SELECT's WHERE, whether a partition may hold rows."""

    def __init__(
        self, where: dict[str, Any], names: set[str], keys: Mapping[str, str], params: Mapping[str, Any] | None
    ) -> None:
        self.where = where
        self.names = {n.lower() for n in names}  # the table's name and alias, for qualified columns
        self.keys = {k.lower(): t.lower() for k, t in keys.items()}  # partition key -> Hive type
        self.params = {k.lower(): v for k, v in (params or {}).items()}

    def may_match(self, values: Mapping[str, str]) -> bool:
        lowered = {k.lower(): v for k, v in values.items()}
        try:
            return self._eval(self.where, lowered) is not False
        except RecursionError:  # a WHERE too deep to evaluate here: DuckDB gets every file
            return True

    def _eval(self, node: dict[str, Any], values: Mapping[str, str]) -> bool | None:
        cls, kind = node.get("class"), node.get("type")
        if cls == "CONJUNCTION":
            results = [self._eval(c, values) for c in node.get("children", [])]
            if kind == "CONJUNCTION_AND":
                return False if any(r is False for r in results) else MAYBE
            if kind == "CONJUNCTION_OR":
                return False if results and all(r is False for r in results) else MAYBE
            return MAYBE
        if cls == "COMPARISON" and kind in _FLIP:
            left, right = node.get("left", {}), node.get("right", {})
            key = self._key(left)
            if key is None:
                key, kind, right = self._key(right), _FLIP[kind], left
            if key is None or key not in values:
                return MAYBE
            return self._compare(kind, values[key], self.keys[key], right)
        if cls == "OPERATOR" and kind == "COMPARE_IN":
            children = node.get("children", [])
            key = self._key(children[0]) if children else None
            if key is None or key not in values:
                return MAYBE
            results = [self._compare("COMPARE_EQUAL", values[key], self.keys[key], c) for c in children[1:]]
            return False if results and all(r is False for r in results) else MAYBE
        if cls == "BETWEEN":
            key = self._key(node.get("input", {}))
            if key is None or key not in values:
                return MAYBE
            low = self._compare("COMPARE_GREATERTHANOREQUALTO", values[key], self.keys[key], node.get("lower", {}))
            high = self._compare("COMPARE_LESSTHANOREQUALTO", values[key], self.keys[key], node.get("upper", {}))
            return False if low is False or high is False else MAYBE
        return MAYBE

    def _key(self, node: dict[str, Any]) -> str | None:
        if node.get("class") != "COLUMN_REF":
            return None
        names = [str(n).lower() for n in node.get("column_names", [])]
        if len(names) == 2 and names[0] not in self.names:
            return None
        if len(names) not in (1, 2) or names[-1] not in self.keys:
            return None
        return names[-1]

    def _constant(self, node: dict[str, Any]) -> tuple[str, str] | None:
        """(kind, text) of a constant or a bound parameter: kind is `string` or `integer`."""
        if node.get("class") == "PARAMETER":
            value = self.params.get(str(node.get("identifier", "")).lower())
            if isinstance(value, bool) or value is None:
                return None
            if isinstance(value, int):
                return "integer", str(value)
            return ("string", value) if isinstance(value, str) else None
        if node.get("class") != "CONSTANT":
            return None
        literal = node.get("literal")
        if isinstance(literal, dict):  # {"kind": "STRING", "text": "..."}
            kind, text = str(literal.get("kind", "")).upper(), literal.get("text")
        else:  # {"value": {"type": {"id": "VARCHAR"}, "is_null": false, "value": ...}}
            value = node.get("value") or {}
            kind, text = str((value.get("type") or {}).get("id", "")).upper(), value.get("value")
            if value.get("is_null"):
                return None
            kind = {"VARCHAR": "STRING"}.get(kind, kind)
        if not isinstance(text, str | int) or isinstance(text, bool):
            return None
        if kind == "STRING":
            return "string", str(text)
        if kind in {"INTEGER", "BIGINT", "HUGEINT", "SMALLINT", "TINYINT"}:
            return "integer", str(text)
        return None

    def _compare(self, kind: str, value: str, key_type: str, other: dict[str, Any]) -> bool | None:
        constant = self._constant(other)
        if constant is None:
            return MAYBE
        const_kind, text = constant
        left: Any
        right: Any
        if key_type == "string" and const_kind == "string":
            left, right = value, text
        elif key_type in _INTEGER_TYPES and const_kind == "integer":
            try:
                left, right = int(value), int(text)
            except ValueError:
                return MAYBE
        else:  # a cast would decide (e.g. a date key against a string): leave it to DuckDB
            return MAYBE
        result = {
            "COMPARE_EQUAL": left == right,
            "COMPARE_NOTEQUAL": left != right,
            "COMPARE_LESSTHAN": left < right,
            "COMPARE_GREATERTHAN": left > right,
            "COMPARE_LESSTHANOREQUALTO": left <= right,
            "COMPARE_GREATERTHANOREQUALTO": left >= right,
        }[kind]
        return MAYBE if result else False
