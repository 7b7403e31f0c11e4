"""The read-only check every user statement passes before DuckDB runs it.

Two layers keep SQL inside the catalog: DuckDB itself is locked down (no external access
beyond the lake, configuration locked, no extension loading), and this module refuses
anything that is not a SELECT (or EXPLAIN of one) and any call that reads files by path
(`read_csv('/etc/passwd')`, `glob`, `'file.parquet'` as a table) or runs SQL from a string
(`query(...)`). The check walks DuckDB's own parse tree (`json_serialize_sql`), so quoting
or comments cannot hide a call the way they could from a regex.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import duckdb

from eventlake.query.exceptions import BadSql, RefusedStatement

# Table functions that compute rows or read DuckDB's own metadata; everything else (read_*, *_scan,
# glob, query, parquet_metadata, checkpoint, ...) touches files or runs SQL and is refused.
ALLOWED_TABLE_FUNCTIONS = frozenset({
    "range", "generate_series", "unnest", "json_each", "json_tree", "repeat", "repeat_row",
    "duckdb_columns", "duckdb_constraints", "duckdb_databases", "duckdb_functions", "duckdb_keywords",
    "duckdb_schemas", "duckdb_tables", "duckdb_types", "duckdb_views", "duckdb_settings",
    "pragma_table_info", "pragma_show", "pragma_version", "summary", "icu_calendar_names",
    "pg_timezone_names", "histogram", "histogram_values",
})
DENIED_SCALAR_FUNCTIONS = frozenset({
    "json_execute_serialized_sql", "enable_profile", "disable_profile", "getenv",
})
_ALLOWED_CATALOGS = frozenset({"", "memory", "system", "temp"})
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_EXPLAIN = re.compile(r"^\s*explain\s+(analyze\s+)?", re.IGNORECASE)
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_FIRST_WORD = re.compile(r"[A-Za-z]+")
_HINT = "only SELECT over catalog tables runs here; `eventlake tables` lists them"


class SqlGuard:
    """Checks statements with a private, empty DuckDB connection (parsing only, nothing runs)."""

    def __init__(self) -> None:
        self._con = duckdb.connect(":memory:", config={"enable_external_access": False})
        self._lock = threading.Lock()

    def close(self) -> None:
        self._con.close()

    def check(self, sql: str) -> None:
        """Raise RefusedStatement or BadSql unless every statement in `sql` is a read-only SELECT."""
        if not sql.strip():
            raise BadSql("empty query", hint="write a SELECT, e.g. SELECT count(*) FROM my_table")
        with self._lock:
            statements = self._statements(sql)
            for statement in statements:
                self._check_statement(statement)

    def _statements(self, sql: str) -> list[Any]:
        try:
            statements = self._con.extract_statements(sql)
        except duckdb.Error as exc:
            raise BadSql(one_line(exc), hint="fix the SQL syntax") from exc
        if not statements:
            raise BadSql("empty query", hint="write a SELECT, e.g. SELECT count(*) FROM my_table")
        return statements

    def _check_statement(self, statement: Any) -> None:
        kind = statement.type
        text: str = statement.query
        if kind == duckdb.StatementType.EXPLAIN:
            inner = _EXPLAIN.sub("", text, count=1)
            inner_statements = self._statements(inner)
            if len(inner_statements) != 1 or inner_statements[0].type != duckdb.StatementType.SELECT:
                raise RefusedStatement("EXPLAIN is allowed for SELECT statements only", hint=_HINT)
            text = inner
        elif kind != duckdb.StatementType.SELECT:
            word = _FIRST_WORD.search(_COMMENTS.sub(" ", text))
            name = word.group(0).upper() if word else str(kind).rsplit(".", 1)[-1]
            raise RefusedStatement(f"{name} statements are refused: SQL here is read-only", hint=_HINT)
        self._check_tree(text)

    def _check_tree(self, text: str) -> None:
        row = self._con.execute("SELECT json_serialize_sql(?)", [text]).fetchone()
        tree = json.loads(row[0]) if row else {"error": True, "error_message": "no parse tree"}
        if tree.get("error"):
            if tree.get("error_type") == "parser":
                raise BadSql(str(tree.get("error_message", "syntax error")), hint="fix the SQL syntax")
            # PIVOT and a few other forms cannot be serialized, so they cannot be checked.
            raise RefusedStatement("this form of SELECT cannot be checked as read-only",
                                   hint="rewrite it without PIVOT/UNPIVOT (GROUP BY and CASE work)")
        for node in _nodes(tree):
            _check_node(node)


def _check_node(node: dict[str, Any]) -> None:
    kind = node.get("type")
    if kind == "TABLE_FUNCTION":
        function = node.get("function") or {}
        name = str(function.get("function_name", "")).lower()
        if name not in ALLOWED_TABLE_FUNCTIONS:
            raise RefusedStatement(f"{name}() is refused: SQL here reads catalog tables only, not files",
                                   hint=_HINT)
    elif kind == "BASE_TABLE":
        name = str(node.get("table_name", ""))
        catalog = str(node.get("catalog_name", "")).lower()
        if not _IDENTIFIER.match(name):
            raise RefusedStatement(f"'{name}' is refused: SQL here reads catalog tables, not files by path",
                                   hint=_HINT)
        if catalog not in _ALLOWED_CATALOGS:
            raise RefusedStatement(f"database '{catalog}' is refused", hint=_HINT)
    elif node.get("class") == "FUNCTION":
        name = str(node.get("function_name", "")).lower()
        if name in DENIED_SCALAR_FUNCTIONS:
            raise RefusedStatement(f"{name}() is refused", hint=_HINT)


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def one_line(exc: BaseException) -> str:
    """DuckDB's message without its 'LINE 1: ...' caret drawing, on one line."""
    text = str(exc).split("\nLINE ", 1)[0]
    return " ".join(text.split())
