"""What `eventlake query` does once its flags are parsed, without Typer: shared by the Typer
command (`cli/query.py`) and the start-up fast path (`cli/query_fast.py`)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventlake.cli import output
from eventlake.config.query_path import QueryConfig, plain_query_settings
from eventlake.errors import UsageError

if TYPE_CHECKING:
    from eventlake.query import QueryEngine
    from eventlake.query.athena import AthenaEngine


class QueryFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def query_settings(
    config: Path | None,
    lake: str | None,
    catalog: str | None,
    max_rows: int | None,
    time_limit: float | None,
    engine: str | None = None,
) -> QueryConfig:
    """The settings of a query: flags > env > file > defaults (`--engine` is checked by the setting).

    With nothing for pydantic to read and flags that plainly fit, the lean settings of
    `config/query_path.py` (the same defaults, without pydantic's import); else the typed ones.
    """
    plain = plain_query_settings(config, lake, catalog, max_rows, time_limit, engine)
    if plain is not None:
        return plain
    from eventlake.config import load_settings

    return load_settings(config, query_flags(lake, catalog, max_rows, time_limit, engine))


def query_flags(
    lake: str | None, catalog: str | None, max_rows: int | None, time_limit: float | None, engine: str | None
) -> dict[str, Any]:
    """The flags of `query` and `sql` as settings overrides (None: not given); both CLI paths use it."""
    query = {"max_rows": max_rows, "time_limit_s": time_limit, "engine": engine}
    return {"lake": lake, "catalog": catalog, "query": query}


def run_query(s: QueryConfig, sql: str, fmt: QueryFormat, out: Path | None, as_of: str | None = None) -> None:
    """Run one read-only statement with engine `s.query.engine` and write its rows; `as_of` (--as-of)
    reads Iceberg tables as of a snapshot id or an ISO-8601 time."""
    travel = None
    if as_of is not None:
        from eventlake.query.time_travel import parse_as_of

        travel = parse_as_of(as_of)  # a malformed value fails before anything opens
        if s.query.engine == "athena":
            raise UsageError("--as-of works with the duckdb engine", hint="drop --engine athena")
    if s.query.engine == "athena":
        from eventlake.config import Settings
        from eventlake.query.athena import AthenaEngine

        if not isinstance(s, Settings):  # never: the lean settings are DuckDB's only
            raise TypeError("the Athena engine needs the typed settings")

        write(AthenaEngine(s.aws, s.query, s.database), sql, fmt, out)
        return
    from eventlake.catalog.store import require_lake

    require_lake(s)
    from eventlake.query import connect

    with connect(s, as_of=travel, cache_files=False) as engine:  # one query: nothing to re-read
        write(engine, sql, fmt, out)


def write(engine: QueryEngine | AthenaEngine, sql: str, fmt: QueryFormat, out: Path | None) -> None:
    if fmt is QueryFormat.parquet:
        if out is None:
            raise UsageError("--format parquet needs --out FILE")
        import pyarrow as pa
        import pyarrow.parquet as pq

        if hasattr(engine, "sql"):
            table = engine.sql(sql)
        else:  # Athena answers rows: build the Arrow table from them
            res = engine.execute(sql)
            table = pa.Table.from_pylist([dict(zip(res.columns, r, strict=True)) for r in res.rows])
        pq.write_table(table, out)
        output.info(f"wrote {table.num_rows} rows to {out}")
        return
    result = engine.execute(sql)
    if out is not None:
        if fmt is QueryFormat.table:
            raise UsageError("--out needs --format csv, json or parquet")
        with out.open("w", encoding="utf-8") as f:
            _render_to(f, result.columns, result.rows, fmt)
        output.info(f"wrote {len(result.rows)} rows to {out}")
    else:
        output.print_rows(result.columns, result.rows, output.Format(fmt.value))
    if result.truncated:
        output.info(f"showing the first {len(result.rows)} rows (query.max_rows; --max-rows 0 for all)")


def _render_to(f: Any, columns: list[str], rows: list[tuple[Any, ...]], fmt: QueryFormat) -> None:
    previous = sys.stdout
    sys.stdout = f
    try:
        output.print_rows(columns, rows, output.Format(fmt.value))
    finally:
        sys.stdout = previous
