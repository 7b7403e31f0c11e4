"""The read-only check every user statement passes before DuckDB runs it: an allow-list.

DuckDB parses the SQL (`json_serialize_sql`) and every node of the tree, at any depth, must be
one this module knows to be read-only: query nodes that select (SELECT, set operations, CTEs),
table references to catalog relations, CTE names, subqueries, joins and VALUES, expressions of
known classes, functions from `allowed_functions.txt` and a few table functions that compute rows.
Anything else (a COPY in a CTE body, a path used as a table or schema name, reflection over
DuckDB's own catalog, a node type a newer DuckDB adds) is refused, because it is not on the list.
Quoting and comments cannot hide a call the way they could from a regex: the tree is DuckDB's own.

This is the first of two locks: DuckDB is also opened so that it can write no lake file
(see `readonly_fs`), so one hole in this list is not enough to change data.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Collection, Iterator
from importlib import resources
from typing import Any

import duckdb

from eventlake.query.exceptions import BadSql, RefusedStatement, UnknownTable

# Table functions that compute rows from their arguments alone; every other one reads files,
# settings or DuckDB's catalog, or runs SQL from a string.
ALLOWED_TABLE_FUNCTIONS = frozenset(
    {
        "range",
        "generate_series",
        "unnest",
        "json_each",
        "json_tree",
        "repeat",
        "repeat_row",
    }
)
QUERY_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})
TABLE_REFS = frozenset({"BASE_TABLE", "JOIN", "SUBQUERY", "TABLE_FUNCTION", "EXPRESSION_LIST", "EMPTY", "SHOW_REF"})
MODIFIERS = frozenset({"ORDER_MODIFIER", "LIMIT_MODIFIER", "LIMIT_PERCENT_MODIFIER", "DISTINCT_MODIFIER"})
ORDER_TYPES = frozenset({"ASCENDING", "DESCENDING", "ORDER_DEFAULT", "INVALID"})
ALLOWED_TYPES = QUERY_NODES | TABLE_REFS | MODIFIERS | ORDER_TYPES
EXPRESSION_CLASSES = frozenset(
    {
        "COLUMN_REF",
        "CONSTANT",
        "FUNCTION",
        "OPERATOR",
        "COMPARISON",
        "CONJUNCTION",
        "CASE",
        "CAST",
        "BETWEEN",
        "SUBQUERY",
        "STAR",
        "WINDOW",
        "PARAMETER",
        "COLLATE",
        "LAMBDA",
        "LAMBDA_REF",
        "POSITIONAL_REFERENCE",
        "TYPE",
    }
)
SYSTEM_SCHEMA = "eventlake"
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_EXPLAIN = re.compile(r"^\s*explain\s+(analyze\s+)?", re.IGNORECASE)
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_FIRST_WORD = re.compile(r"[A-Za-z]+")
_HINT = "only SELECT over catalog tables runs here; `eventlake tables` lists them"


def _allowed_functions() -> frozenset[str]:
    text = (resources.files("eventlake.query") / "allowed_functions.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


# Parser-level forms written as function calls: UNNEST in a select list, GROUPING() of grouping sets.
ALLOWED_FUNCTIONS = _allowed_functions() | {"unnest", "unlist", "grouping", "grouping_id"}


class SqlGuard:
    """Checks one statement with a private, empty DuckDB connection (parsing only, nothing runs).

    `relations` (lower-case `(schema, name)` pairs; schema "" for bare names) is the allow-list of
    tables and views SQL may name; without it, any identifier-shaped name that is not one of
    DuckDB's own catalog relations passes (used where the catalog is not known yet).
    """

    def __init__(self, max_bytes: int = 262_144, con: duckdb.DuckDBPyConnection | None = None) -> None:
        """`con`: parse on a cursor of this private instance (one instance less to start: ~40 ms);
        it must hold no user object and run no user SQL. Default: an instance of the guard's own."""
        self.max_bytes = max_bytes
        if con is None:
            self._con = duckdb.connect(":memory:", config={"enable_external_access": False})
        else:
            self._con = con.cursor()
        self._lock = threading.Lock()
        self._builtin = _builtin_relations(self._con)

    def close(self) -> None:
        self._con.close()

    def check(self, sql: str, relations: Collection[tuple[str, str]] | None = None) -> dict[str, Any]:
        """Raise RefusedStatement, UnknownTable or BadSql unless `sql` is one read-only SELECT.

        Returns the checked statement's parse tree (the engine prunes partitions with it)."""
        size = len(sql.encode("utf-8", "surrogatepass"))
        if size > self.max_bytes:  # before parsing: a huge text must not cost parse time or memory
            raise BadSql(
                f"SQL of {size:,} bytes is over the limit of {self.max_bytes:,} bytes",
                hint="shorten it, or raise query.max_sql_bytes",
            )
        if not sql.strip():
            raise BadSql("empty query", hint="write a SELECT, e.g. SELECT count(*) FROM my_table")
        with self._lock:
            statements = self._statements(sql)
            for statement in statements[1:]:  # a refused statement anywhere is named as such
                self._check_kind(statement)
            if len(statements) > 1:
                raise BadSql(
                    f"{len(statements)} statements given: one statement at a time", hint="send each SELECT on its own"
                )
            return self._check_statement(statements[0], relations)

    def _statements(self, sql: str) -> list[Any]:
        try:
            statements = self._con.extract_statements(sql)
        except duckdb.Error as exc:
            raise BadSql(one_line(exc), hint="fix the SQL syntax") from exc
        except RecursionError as exc:
            raise BadSql("SQL is nested too deeply", hint="flatten the query") from exc
        if not statements:
            raise BadSql("empty query", hint="write a SELECT, e.g. SELECT count(*) FROM my_table")
        return statements

    def _check_statement(self, statement: Any, relations: Collection[tuple[str, str]] | None) -> dict[str, Any]:
        tree = self._tree(self._check_kind(statement))
        _TreeCheck(tree, relations, self._builtin).run()
        return tree

    def _check_kind(self, statement: Any) -> str:
        """The SELECT text to check: the statement's, or the one an EXPLAIN wraps; others are refused."""
        text: str = statement.query
        kind = _kind(statement)
        if kind == duckdb.StatementType.EXPLAIN:
            inner = _EXPLAIN.sub("", text, count=1)
            inner_statements = self._statements(inner)
            if len(inner_statements) != 1 or _kind(inner_statements[0]) != duckdb.StatementType.SELECT:
                raise RefusedStatement("EXPLAIN is allowed for SELECT statements only", hint=_HINT)
            text = inner
        elif kind != duckdb.StatementType.SELECT:
            word = _FIRST_WORD.search(_COMMENTS.sub(" ", text))
            name = word.group(0).upper() if word else str(kind).rsplit(".", 1)[-1]
            raise RefusedStatement(f"{name} statements are refused: SQL here is read-only", hint=_HINT)
        return text

    def _tree(self, text: str) -> dict[str, Any]:
        try:
            row = self._con.execute("SELECT json_serialize_sql(?)", [text]).fetchone()
            tree: dict[str, Any] = json.loads(row[0]) if row else {"error": True, "error_message": "no parse tree"}
        except RecursionError as exc:
            raise BadSql("SQL is nested too deeply", hint="flatten the query") from exc
        except duckdb.Error as exc:
            raise BadSql(one_line(exc), hint="fix the SQL syntax") from exc
        if tree.get("error"):
            if tree.get("error_type") == "parser":
                message = one_line(Exception(tree.get("error_message", "syntax error")))
                raise BadSql(message, hint="fix the SQL syntax")
            # PIVOT and a few other forms cannot be serialized, so they cannot be checked.
            raise RefusedStatement(
                "this form of SELECT cannot be checked as read-only",
                hint="rewrite it without PIVOT/UNPIVOT (GROUP BY and CASE work)",
            )
        statements: list[Any] = tree.get("statements") or []
        if len(statements) != 1:
            raise BadSql("one statement at a time", hint="send each SELECT on its own")
        return dict(statements[0])


class _TreeCheck:
    """One walk over a parse tree: every dict is a node to allow, or the statement is refused."""

    def __init__(
        self, tree: dict[str, Any], relations: Collection[tuple[str, str]] | None, builtin: frozenset[str]
    ) -> None:
        self.tree = tree
        self.relations = relations
        self.builtin = builtin
        self.ctes = {name.lower() for name in _cte_names(tree)}

    def run(self) -> None:
        for name in self.ctes:
            if name in self.builtin or not IDENTIFIER.match(name):
                raise RefusedStatement(f"a CTE cannot be named '{name}'", hint="choose another name")
        for node in _nodes(self.tree):
            if "info_type" in node:  # a statement's payload (COPY, INSERT, ...) nested in a query node
                raise RefusedStatement(f"{node['info_type']} is refused: SQL here is read-only", hint=_HINT)
            if "class" in node:
                self._expression(node)
            elif "type" in node:
                self._typed(node)

    def _typed(self, node: dict[str, Any]) -> None:
        if not isinstance(node["type"], str):  # a value's logical type (TABLESAMPLE's size), not a node
            return
        kind = node["type"]
        if kind not in ALLOWED_TYPES:
            what = kind.removesuffix("_NODE").replace("_", " ")
            raise RefusedStatement(f"{what} is refused: SQL here is read-only", hint=_HINT)
        if kind == "BASE_TABLE":
            self._table(node)
        elif kind == "SHOW_REF" and (node.get("table_name") or not node.get("query")):
            # DESCRIBE/SUMMARIZE of a query (whose tree is checked like any other) only: SHOW TABLES and
            # friends list DuckDB's own catalog.
            raise RefusedStatement("SHOW is refused; DESCRIBE a table, or read eventlake.tables", hint=_HINT)
        elif kind == "TABLE_FUNCTION":
            function = node.get("function") or {}
            name = str(function.get("function_name", "")).lower()
            if name not in ALLOWED_TABLE_FUNCTIONS or function.get("schema") or function.get("catalog"):
                raise RefusedStatement(
                    f"{name}() is refused: SQL here reads catalog tables only, not files or settings", hint=_HINT
                )
            function["__table_function"] = True  # its own FUNCTION node is checked here, not as a scalar

    def _table(self, node: dict[str, Any]) -> None:
        if node.get("at_clause"):
            raise RefusedStatement("AT (time travel) is refused for catalog tables", hint=_HINT)
        catalog = str(node.get("catalog_name", ""))
        schema = str(node.get("schema_name", ""))
        name = str(node.get("table_name", ""))
        shown = ".".join(p for p in (catalog, schema, name) if p)
        for part in (catalog, schema, name):
            if part and not IDENTIFIER.match(part):
                raise RefusedStatement(
                    f"'{shown}' is refused: SQL here reads catalog tables by name, not files by path", hint=_HINT
                )
        if catalog:  # `memory.main.x`, `system.main.x`: names are `table` or `database.table` only
            raise RefusedStatement(f"'{shown}' is refused: name tables as table or database.table", hint=_HINT)
        key = (schema.lower(), name.lower())
        if not schema and key[1] in self.ctes:
            return
        if key[0] == "main":
            key = ("", key[1])
        if self.relations is not None and key in self.relations:
            return  # a catalog relation (its view shadows any DuckDB name it shares)
        if (not key[0] and key[1] in self.builtin) or key[0] in {"information_schema", "pg_catalog"}:
            raise RefusedStatement(
                f"'{shown}' is refused: DuckDB's own catalog is not exposed; "
                "eventlake.tables and eventlake.files describe the lake",
                hint=_HINT,
            )
        if self.relations is not None:
            raise UnknownTable(f"table {shown} does not exist", hint="`eventlake tables` lists them")

    def _expression(self, node: dict[str, Any]) -> None:
        kind = str(node["class"])
        if kind not in EXPRESSION_CLASSES:
            raise RefusedStatement(f"{kind.replace('_', ' ').lower()} expressions are refused", hint=_HINT)
        if kind in ("FUNCTION", "WINDOW") and not node.pop("__table_function", False):
            name = str(node.get("function_name", "")).lower()
            if node.get("schema") or node.get("catalog") or name not in ALLOWED_FUNCTIONS:
                raise RefusedStatement(
                    f"{name}() is refused: not a function SQL can call here",
                    hint="ordinary math, text, date, list and aggregate functions work",
                )
            if node.get("export_state"):
                raise RefusedStatement("EXPORT_STATE is refused", hint=_HINT)


def _kind(statement: Any) -> Any:
    """The statement's type; None for one this DuckDB's Python enum does not know (UPDATE EXTENSIONS)."""
    try:
        return statement.type
    except ValueError:
        return None


def _cte_names(tree: dict[str, Any]) -> Iterator[str]:
    for node in _nodes(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            for entry in cte_map.get("map") or []:
                if isinstance(entry, dict):
                    yield str(entry.get("key", ""))


def _builtin_relations(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Names DuckDB resolves to its own catalog (duckdb_settings, sqlite_master, ...) from any schema.

    Views and tables only (15 ms): table functions need parentheses, which the table-function
    allow-list already covers; listing them too cost 50 ms more per engine."""
    rows = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE internal UNION "
        "SELECT table_name FROM duckdb_tables() WHERE internal"
    ).fetchall()
    return frozenset(str(name).lower() for (name,) in rows)


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def tokenize(sql: str) -> list[tuple[int, str]]:
    """DuckDB's tokens of `sql`: (start offset, kind name such as 'string_const' or 'comment').

    For callers outside this package (dashboard placeholders) that must not import DuckDB."""
    try:
        return [(offset, str(getattr(kind, "name", kind))) for offset, kind in duckdb.tokenize(sql)]
    except duckdb.Error as exc:
        raise BadSql(one_line(exc), hint="fix the SQL syntax") from exc


def one_line(exc: BaseException) -> str:
    """DuckDB's message without its 'LINE 1: ...' caret drawing, on one line."""
    text = " ".join(str(exc).split("\nLINE ", 1)[0].split())
    if "max expression depth" in text.lower():  # DuckDB's own hint (SET ...) cannot be followed here
        return "SQL is nested too deeply: at most 1000 levels of expressions and subqueries"
    return text
