"""A statement's result within the row cap (`query.max_rows`) and byte cap (`query.max_result_bytes`).

Two shapes, one set of caps: an Arrow table (`engine.sql`: notebooks, dashboards' frames) and
Python rows (`engine.execute`: the CLI, the dashboard's JSON). Rows are fetched from DuckDB
directly, without Arrow, when every column is of a type whose Python value DuckDB and Arrow
agree on (the allow-list below): `eventlake query` then never loads pyarrow, numpy or pandas,
which cost more than DuckDB's own start-up. Other types (INTERVAL, MAP, UUID, nested...) go
through Arrow, as before, so a result's values never depend on the path that fetched them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb

from eventlake.query.exceptions import ResultTooLarge

if TYPE_CHECKING:
    import pyarrow as pa

_MAX_BATCH = 131072

# DuckDB type -> bytes per value in Arrow (None: variable, its length plus a 4-byte offset).
# Only these are fetched as Python values directly; any other type goes through Arrow.
_PYTHON_SAFE: dict[str, int | None] = {
    "BOOLEAN": 1,
    "TINYINT": 1,
    "SMALLINT": 2,
    "INTEGER": 4,
    "BIGINT": 8,
    "UTINYINT": 1,
    "USMALLINT": 2,
    "UINTEGER": 4,
    "UBIGINT": 8,
    "HUGEINT": 16,  # Arrow: decimal128(38, 0), which `_pylist` turns into int, as DuckDB gives it
    "UHUGEINT": 16,
    "FLOAT": 4,
    "DOUBLE": 8,
    "DATE": 4,
    "TIME": 8,
    "TIMESTAMP": 8,
    "TIMESTAMP_S": 8,
    "TIMESTAMP_MS": 8,
    "TIMESTAMP WITH TIME ZONE": 8,
    "VARCHAR": None,
    "JSON": None,
    "BLOB": None,
    '"NULL"': 0,
}
_DECIMAL = re.compile(r"^DECIMAL\((\d+),(\d+)\)$")


def _width(duckdb_type: str) -> tuple[bool, int | None]:
    """(fetched as Python values?, Arrow bytes per value or None for variable)."""
    if duckdb_type in _PYTHON_SAFE:
        return True, _PYTHON_SAFE[duckdb_type]
    return (_DECIMAL.match(duckdb_type) is not None), 16


def _batch_rows(limit: int) -> int:
    return min(max(limit + 1, 1024), _MAX_BATCH) if limit else _MAX_BATCH


def _too_large(max_bytes: int) -> ResultTooLarge:
    return ResultTooLarge(
        f"the result is over {max_bytes:,} bytes (query.max_result_bytes)",
        hint="select fewer columns or rows (LIMIT, WHERE, GROUP BY)",
    )


def fetch_arrow(relation: duckdb.DuckDBPyRelation | None, limit: int, max_bytes: int) -> tuple[pa.Table, bool]:
    """(table, truncated): at most `limit` rows (0 = all); ResultTooLarge past `max_bytes`."""
    import pyarrow as pa

    if relation is None:
        return pa.table({}), False
    reader = relation.to_arrow_reader(_batch_rows(limit))
    batches, count, size, truncated = [], 0, 0, False
    for batch in reader:
        if limit and count + batch.num_rows > limit:
            batch, truncated = batch.slice(0, limit - count), True
        size += batch.nbytes
        if size > max_bytes:
            raise _too_large(max_bytes)
        batches.append(batch)
        count += batch.num_rows
        if truncated:
            break
    return pa.Table.from_batches(batches, schema=reader.schema), truncated


def fetch_rows(
    cursor: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, Any] | None, limit: int, max_bytes: int
) -> tuple[list[str], list[tuple[Any, ...]], bool]:
    """(columns, rows, truncated) with the caps of `fetch_arrow`; the byte cap counts the size the
    rows have in Arrow (fixed widths, and string lengths), so both shapes refuse the same results."""
    bound = dict(params) if params else None
    relation = cursor.sql(sql, params=bound)
    if relation is None:
        return [], [], False
    types = [str(t) for t in relation.types]
    widths = [_width(t) for t in types]
    if not all(ok for ok, _ in widths):
        table, truncated = fetch_arrow(relation, limit, max_bytes)
        converted = list(zip(*(_pylist(col) for col in table.columns), strict=True)) if table.num_columns else []
        return table.column_names, converted, truncated
    fixed = sum(w for _, w in widths if w is not None)
    variable = [i for i, (_, w) in enumerate(widths) if w is None]
    whole = [i for i, t in enumerate(types) if (m := _DECIMAL.match(t)) is not None and m.group(2) == "0"]
    cursor.execute(sql, bound)
    rows: list[tuple[Any, ...]] = []
    size, truncated, batch = 0, False, _batch_rows(limit)
    while chunk := cursor.fetchmany(batch):
        if limit and len(rows) + len(chunk) > limit:
            chunk, truncated = chunk[: limit - len(rows)], True
        size += fixed * len(chunk)
        for i in variable:
            size += sum(4 + len(row[i]) for row in chunk if row[i] is not None)
        if size > max_bytes:
            raise _too_large(max_bytes)
        rows.extend(chunk)
        if truncated:
            break
    if whole:  # Arrow's path gives whole-number decimals as ints (`_pylist`): the same here
        rows = [_ints(row, whole) for row in rows]
    return list(relation.columns), rows, truncated


def _ints(row: tuple[Any, ...], at: list[int]) -> tuple[Any, ...]:
    values = list(row)
    for i in at:
        if isinstance(values[i], Decimal):
            values[i] = int(values[i])
    return tuple(values)


def _pylist(column: pa.ChunkedArray) -> list[Any]:
    """Python values; whole-number decimals (DuckDB's sum of integers is a HUGEINT) become ints."""
    import pyarrow as pa

    values: list[Any] = column.to_pylist()
    if pa.types.is_decimal(column.type) and column.type.scale == 0:
        return [None if v is None else int(v) for v in values]
    return values
