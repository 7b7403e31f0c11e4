"""DuckDB over the catalog: one view per table over exactly the files the catalog lists.

A connection is built from a snapshot of the catalog (tables, files, saved views), then
locked down: file access only to the listed files, configuration locked, no extensions.
A long-lived engine (the dashboard) re-reads the catalog at most every `query.refresh_s`
and builds a fresh connection when it changed, so new flushes become visible and a
compaction's swap is seen whole (old files or new files, never both).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from eventlake.catalog import CatalogStore, DataFile, Table, local_lake_path, open_catalog
from eventlake.config import Settings
from eventlake.lake import open_lake
from eventlake.query import system
from eventlake.query.exceptions import BadSql, QueryError, QueryTimeout, RefusedStatement, UnknownTable
from eventlake.query.guard import SqlGuard, one_line
from eventlake.query.sources import (
    duckdb_type,
    empty_select_sql,
    local_view_sql,
    quote_ident,
    quote_str,
    s3_source,
    schema_file_path,
    schema_file_sql,
)

log = logging.getLogger(__name__)

SYSTEM_SCHEMA = "eventlake"
_TABLES_HINT = "`eventlake tables` lists them"


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    elapsed_s: float
    truncated: bool

    def to_dict(self) -> dict[str, Any]:
        """The dashboard's POST /api/query answer."""
        return {"columns": self.columns, "rows": [list(r) for r in self.rows],
                "elapsed_s": self.elapsed_s, "truncated": self.truncated}


@dataclass(frozen=True)
class TableSummary:
    database: str
    name: str
    format: str
    source: str
    columns: list[tuple[str, str]]
    partition_keys: list[tuple[str, str]]
    files: int
    rows: int
    bytes: int
    schema_version: int
    location: str
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "qualified_name": self.qualified_name}


class _CatalogMoved(Exception):
    """A listed file vanished while views were being built (a compaction swapped it)."""


@dataclass
class _Snapshot:
    tables: list[Table]
    files: dict[tuple[str, str], list[DataFile]]
    views: list[tuple[str, str, str]]

    def key(self) -> tuple[Any, ...]:
        return (
            tuple((t.database, t.name, t.schema_version, t.format, t.updated_at) for t in self.tables),
            tuple((k, tuple(f.path for f in fs)) for k, fs in sorted(self.files.items())),
            tuple(self.views),
        )


class QueryEngine:
    """`engine.sql(text) -> pyarrow.Table`, `.df(text)`, `.execute(text) -> QueryResult`, `.tables()`."""

    def __init__(self, settings: Settings, store: CatalogStore | None = None, lake: str | None = None) -> None:
        if lake is not None and lake != settings.lake:
            settings = settings.model_copy(update={"lake": lake})
        self.settings = settings
        self.limits = settings.query
        self._own_store = store is None
        self.store = store if store is not None else open_catalog(settings)
        self.lake = open_lake(settings.lake, settings.s3)
        self.guard = SqlGuard()
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        # Arrow objects the views read (S3 datasets, system tables): registered per cursor, since a
        # registration is visible only to the connection that made it.
        self._arrow: dict[str, Any] = {}
        self._footers: dict[str, tuple[str, ...]] = {}  # path -> column names, for evolved tables
        self._snapshot: _Snapshot | None = None
        self._checked_at = 0.0
        self._temp_dir = Path(tempfile.gettempdir()) / "eventlake-duckdb"
        self._schema_dir = Path(tempfile.mkdtemp(prefix="eventlake-schemas-"))
        self.refresh(force=True)

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
        self.guard.close()
        shutil.rmtree(self._schema_dir, ignore_errors=True)
        if self._own_store:
            self.store.close()

    def __enter__(self) -> QueryEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def refresh(self, force: bool = False) -> None:
        """Rebuild the DuckDB views if the catalog changed since the last build."""
        now = time.monotonic()
        if not force and now - self._checked_at < self.limits.refresh_s:
            return
        for attempt in range(3):
            snapshot = self._read_catalog()
            self._checked_at = now
            with self._lock:
                if not force and self._snapshot is not None and snapshot.key() == self._snapshot.key():
                    return
            arrow: dict[str, Any] = {}
            try:
                con = self._build(snapshot, arrow, strict=attempt < 2)
            except _CatalogMoved:  # a file vanished between reading the catalog and binding: read it again
                continue
            with self._lock:
                # The old connection is not closed here: queries on other threads may still use its cursors.
                self._con, self._snapshot, self._arrow = con, snapshot, arrow
            return

    def _read_catalog(self) -> _Snapshot:
        files: dict[tuple[str, str], list[DataFile]] = defaultdict(list)
        for f in self.store.list_files():
            if f.table is not None:
                files[(f.table.database, f.table.name)].append(f)
        return _Snapshot(self.store.list_tables(), dict(files), self.store.list_views())

    # -- building the locked-down connection ------------------------------------------------------
    def _build(self, snap: _Snapshot, arrow: dict[str, Any], strict: bool = False) -> duckdb.DuckDBPyConnection:
        config: dict[str, Any] = {
            "python_enable_replacements": False, "autoinstall_known_extensions": False,
            "autoload_known_extensions": False, "allow_community_extensions": False,
            "memory_limit": self.limits.memory_limit,
        }
        if self.limits.threads:
            config["threads"] = self.limits.threads
        con = duckdb.connect(":memory:", config=config)
        try:
            allowed = self._create_views(con, snap, arrow, strict)
            self._create_system_tables(con, snap, arrow)
            tables = {(t.database, t.name) for t in snap.tables}
            # A table made later under a saved view's name wins: the view is left out (and logged).
            self._create_saved_views(con, [v for v in snap.views if (v[0], v[1]) not in tables])
            for database, name, _sql in snap.views:
                if (database, name) in tables:
                    log.warning("saved view %s.%s is hidden by a table of the same name", database, name)
            self._lock_down(con, allowed)
        except BaseException:
            con.close()
            raise
        return con

    def _schema(self, con: duckdb.DuckDBPyConnection, database: str) -> str:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(database)}")
        return quote_ident(database)

    def _create_views(self, con: duckdb.DuckDBPyConnection, snap: _Snapshot, arrow: dict[str, Any],
                      strict: bool = False) -> list[str]:
        allowed: list[str] = []
        for table in snap.tables:
            files = snap.files.get((table.database, table.name), [])
            schema = self._schema(con, table.database)
            view = f"{schema}.{quote_ident(table.name)}"
            try:
                select = self._table_select(con, table, files, arrow, allowed)
                con.execute(f"CREATE OR REPLACE VIEW {view} AS {select}")
            except Exception as exc:
                if strict and isinstance(exc, duckdb.IOException):
                    raise _CatalogMoved from exc
                # One unreadable table must not hide the others; querying it says why it cannot be read.
                reason = f"table {table.ref} cannot be read: {one_line(exc)}"
                log.warning("%s", reason)
                con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT error({quote_str(reason)}) AS unreadable")
            if table.database == self.settings.database:  # bare names resolve in the default database
                con.execute(f"CREATE OR REPLACE VIEW main.{quote_ident(table.name)} AS SELECT * FROM {view}")
            if self.lake.local:
                allowed += [f.path for f in files]
        return allowed

    def _table_select(self, con: duckdb.DuckDBPyConnection, table: Table, files: Sequence[DataFile],
                      arrow: dict[str, Any], allowed: list[str]) -> str:
        if not self.lake.local or any(f.path.startswith("s3://") for f in files):
            data_schema = con.sql(empty_select_sql(table.columns)).to_arrow_table().schema
            source = s3_source(table, files, self.lake.filesystem, f"__src_{table.database}_{table.name}",
                               data_schema)
            if source is None:
                return local_view_sql(table, [])
            con.register(source.name, source.dataset)
            arrow[source.name] = source.dataset
            return source.select
        if table.format != "parquet" or not files:
            return local_view_sql(table, files)
        # Older files may lack newer columns (the schema evolved; crawled folders may mix column sets):
        # files are grouped by the columns they hold, each group bound to its own schema file.
        evolved = table.schema_version > 1 or table.parameters.get("union_by_name") == "true"
        groups = self._column_groups(files) if evolved else {tuple(table.column_names()): list(files)}
        selects = []
        for names, group in groups.items():
            held = set(names)
            sub = replace(table, columns=[c for c in table.columns if c.name in held])
            if not sub.columns:  # no catalog column in these files: DuckDB's own union by name
                return local_view_sql(table, files, union_by_name=True)
            schema_file = self._schema_file(con, sub)
            allowed.append(schema_file)
            inner = local_view_sql(sub, group, schema_file=schema_file)
            if len(sub.columns) == len(table.columns):
                selects.append(inner)
                continue
            cols = [quote_ident(c.name) if c.name in held else f"CAST(NULL AS {duckdb_type(c.type)}) AS "
                    f"{quote_ident(c.name)}" for c in table.columns]
            cols += [quote_ident(k.name) for k in table.partition_keys]
            selects.append(f"SELECT {', '.join(cols)} FROM ({inner})")
        return "\nUNION ALL\n".join(selects)

    def _column_groups(self, files: Sequence[DataFile]) -> dict[tuple[str, ...], list[DataFile]]:
        """Files by the column names their footers hold (read once per engine: files never change)."""
        groups: dict[tuple[str, ...], list[DataFile]] = defaultdict(list)
        for f in files:
            names = self._footers.get(f.path)
            if names is None:
                names = tuple(sorted(pq.read_schema(f.path).names))
                self._footers[f.path] = names
            groups[names].append(f)
        return groups

    def _schema_file(self, con: duckdb.DuckDBPyConnection, table: Table) -> str:
        """An empty Parquet file with the table's columns, in this engine's own temp folder."""
        digest = hashlib.sha1(repr((table.database, table.name, table.columns, table.partition_keys)).encode())
        path = schema_file_path(str(self._schema_dir / digest.hexdigest()[:16]), table)
        if not Path(path).is_file():
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            con.execute(schema_file_sql(table, path))
        return path

    def _create_system_tables(self, con: duckdb.DuckDBPyConnection, snap: _Snapshot, arrow: dict[str, Any]) -> None:
        self._schema(con, SYSTEM_SCHEMA)
        pairs = self._pairs(snap)
        arrow["__eventlake_files"] = system.files_table(pairs)
        arrow["__eventlake_watermarks"] = system.watermarks_table(pairs)
        arrow["__eventlake_tables"] = _tables_arrow(self._summaries(snap))
        for name in ("files", "watermarks", "tables"):
            con.register(f"__eventlake_{name}", arrow[f"__eventlake_{name}"])
            con.execute(f"CREATE OR REPLACE VIEW {SYSTEM_SCHEMA}.{name} AS SELECT * FROM __eventlake_{name}")

    @staticmethod
    def _pairs(snap: _Snapshot) -> list[tuple[Table, list[DataFile]]]:
        return [(t, snap.files.get((t.database, t.name), [])) for t in snap.tables]

    def _create_saved_views(self, con: duckdb.DuckDBPyConnection, views: list[tuple[str, str, str]]) -> None:
        pending = list(views)
        # Views may use each other: create in passes until no pass makes progress.
        while pending:
            failed: list[tuple[str, str, str]] = []
            errors: dict[str, str] = {}
            for database, name, sql in pending:
                try:
                    self.guard.check(sql)
                    schema = self._schema(con, database)
                    body = sql.strip().rstrip(";")
                    con.execute(f"CREATE OR REPLACE VIEW {schema}.{quote_ident(name)} AS {body}")
                    if database == self.settings.database:
                        con.execute(f"CREATE OR REPLACE VIEW main.{quote_ident(name)} AS "
                                    f"SELECT * FROM {schema}.{quote_ident(name)}")
                except (duckdb.Error, QueryError) as exc:
                    failed.append((database, name, sql))
                    errors[f"{database}.{name}"] = one_line(exc)
            if len(failed) == len(pending):
                for view, reason in errors.items():
                    log.warning("saved view %s left out: %s", view, reason)
                return
            pending = failed

    def _lock_down(self, con: duckdb.DuckDBPyConnection, allowed_paths: list[str]) -> None:
        paths = ", ".join(quote_str(p) for p in allowed_paths)
        con.execute(f"SET temp_directory = {quote_str(str(self._temp_dir))}")
        con.execute(f"SET allowed_directories = [{quote_str(str(self._temp_dir) + '/')}]")
        con.execute(f"SET allowed_paths = [{paths}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")

    # -- read models ---------------------------------------------------------------------------------
    def _summaries(self, snap: _Snapshot) -> list[TableSummary]:
        out = []
        for t in snap.tables:
            files = snap.files.get((t.database, t.name), [])
            out.append(TableSummary(
                database=t.database, name=t.name, format=t.format, source=t.source,
                columns=[(c.name, c.type) for c in t.columns],
                partition_keys=[(c.name, c.type) for c in t.partition_keys],
                files=len(files), rows=sum(f.rows for f in files), bytes=sum(f.bytes for f in files),
                schema_version=t.schema_version, location=t.location, parameters=dict(t.parameters),
            ))
        return out

    def tables(self) -> list[TableSummary]:
        """Catalog tables as SQL sees them (the dashboard's GET /api/tables)."""
        self.refresh()
        assert self._snapshot is not None
        return self._summaries(self._snapshot)

    def views(self) -> list[tuple[str, str]]:
        """Saved views as SQL sees them: (database.name, sql)."""
        self.refresh()
        assert self._snapshot is not None
        return [(f"{d}.{n}", sql) for d, n, sql in self._snapshot.views]

    # -- running SQL -----------------------------------------------------------------------------------
    def sql(self, sql: str, max_rows: int | None = None) -> pa.Table:
        """Run read-only SQL; at most `max_rows` (default `query.max_rows`; 0 = no limit) rows come back."""
        table, _truncated, _elapsed = self._run(sql, max_rows)
        return table

    def df(self, sql: str, max_rows: int | None = None) -> Any:
        """Like `sql`, as a pandas DataFrame."""
        return self.sql(sql, max_rows).to_pandas()

    def execute(self, sql: str, max_rows: int | None = None) -> QueryResult:
        table, truncated, elapsed = self._run(sql, max_rows)
        rows = list(zip(*(_pylist(col) for col in table.columns), strict=True)) if table.num_columns else []
        return QueryResult(table.column_names, rows, elapsed, truncated)

    def _run(self, sql: str, max_rows: int | None) -> tuple[pa.Table, bool, float]:
        self.guard.check(sql)
        self.refresh()
        limit = self.limits.max_rows if max_rows is None else max_rows
        started = time.perf_counter()
        outcome, snapshot = self._run_once(sql, limit)
        if isinstance(outcome.get("error"), (duckdb.IOException, duckdb.PermissionException)) and snapshot:
            # A file vanished under us (a compaction swapped it; DuckDB then looks for a folder of that
            # name, outside the allowed paths): if the catalog moved on, run again on the new file list.
            self.refresh(force=True)
            if self._snapshot is not None and self._snapshot.key() != snapshot.key():
                outcome, snapshot = self._run_once(sql, limit)
        elapsed = time.perf_counter() - started
        if "error" in outcome:
            raise _translate(outcome["error"]) from outcome["error"]
        return outcome["table"], outcome["truncated"], elapsed

    def _run_once(self, sql: str, limit: int) -> tuple[dict[str, Any], _Snapshot | None]:
        with self._lock:
            if self._con is None:
                raise QueryError("the query engine is closed", hint="connect again")
            cursor = self._con.cursor()
            snapshot, arrow = self._snapshot, self._arrow
        try:
            for name, obj in arrow.items():
                cursor.register(name, obj)
            if "watermarks" in sql.lower() and snapshot is not None:
                self._register_watermarks(cursor, snapshot)
            outcome: dict[str, Any] = {}
            worker = threading.Thread(target=_fetch, args=(cursor, sql, limit, outcome), daemon=True,
                                      name="eventlake-query")
            worker.start()
            worker.join(self.limits.time_limit_s)
            if worker.is_alive():
                cursor.interrupt()
                worker.join(10)
                raise QueryTimeout(f"query ran longer than {self.limits.time_limit_s:g} s and was stopped",
                                   hint="narrow it (a WHERE on partition columns reads fewer files) or raise "
                                        "query.time_limit_s")
            return outcome, snapshot
        finally:
            cursor.close()

    def _register_watermarks(self, cursor: duckdb.DuckDBPyConnection, snap: _Snapshot) -> None:
        """Per-partition lag needs the broker: asked only when a query reads eventlake.watermarks."""
        lookup = system.kafka_end_offsets(self.settings.bootstrap_servers, self.settings.kafka,
                                          self.limits.lag_timeout_s)
        cursor.register("__eventlake_watermarks", system.watermarks_table(self._pairs(snap), lookup))


def _pylist(column: pa.ChunkedArray) -> list[Any]:
    """Python values; whole-number decimals (DuckDB's sum of integers is a HUGEINT) become ints."""
    values = column.to_pylist()
    if pa.types.is_decimal(column.type) and column.type.scale == 0:
        return [None if v is None else int(v) for v in values]
    return values


def _fetch(cursor: duckdb.DuckDBPyConnection, sql: str, limit: int, outcome: dict[str, Any]) -> None:
    """Run every statement; stream the last one's rows, stopping after `limit` (0 = all)."""
    try:
        statements = cursor.extract_statements(sql)
        for statement in statements[:-1]:
            cursor.execute(statement)
        relation = cursor.sql(statements[-1])
        if relation is None:
            outcome.update(table=pa.table({}), truncated=False)
            return
        reader = relation.to_arrow_reader(min(max(limit + 1, 1024), 131072) if limit else 131072)
        batches, count, truncated = [], 0, False
        for batch in reader:
            if limit and count + batch.num_rows > limit:
                batches.append(batch.slice(0, limit - count))
                truncated = True
                break
            batches.append(batch)
            count += batch.num_rows
        outcome.update(table=pa.Table.from_batches(batches, schema=reader.schema), truncated=truncated)
    except BaseException as exc:
        outcome["error"] = exc


def _translate(exc: BaseException) -> Exception:
    if isinstance(exc, QueryError):
        return exc
    text = one_line(exc)
    if isinstance(exc, duckdb.InterruptException):
        return QueryTimeout("query was interrupted", hint="raise query.time_limit_s or narrow the query")
    if isinstance(exc, duckdb.CatalogException) and "does not exist" in text:
        return UnknownTable(_without_internal_suggestion(text.removeprefix("Catalog Error: ")), hint=_TABLES_HINT)
    if isinstance(exc, duckdb.PermissionException):
        return RefusedStatement(text, hint="SQL here reads catalog tables only")
    if isinstance(exc, duckdb.IOException):
        return QueryError(f"a file the catalog lists cannot be read: {text}",
                          hint="re-run `eventlake crawl`, or check the lake folder")
    if isinstance(exc, duckdb.Error):
        return BadSql(text, hint="check names and types with `eventlake tables describe TABLE`")
    return QueryError(f"query failed: {exc}")


def _without_internal_suggestion(text: str) -> str:
    """Drop DuckDB's 'Did you mean "pg_enum"?' when the suggestion is one of its own catalog tables."""
    head, sep, tail = text.partition(" Did you mean ")
    internal = ('"pg_', '"duckdb_', '"sqlite_', '"information_schema', '"__', '"main.', '"temp.', '"system.')
    return head if sep and tail.startswith(internal) else text


def _tables_arrow(summaries: list[TableSummary]) -> pa.Table:
    return pa.Table.from_pylist([
        {"database": s.database, "name": s.name, "format": s.format, "source": s.source, "files": s.files,
         "rows": s.rows, "bytes": s.bytes, "schema_version": s.schema_version, "location": s.location,
         "columns": ", ".join(f"{n} {t}" for n, t in s.columns),
         "partition_keys": ", ".join(f"{n} {t}" for n, t in s.partition_keys)}
        for s in summaries
    ], schema=pa.schema([("database", pa.string()), ("name", pa.string()), ("format", pa.string()),
                         ("source", pa.string()), ("files", pa.int64()), ("rows", pa.int64()),
                         ("bytes", pa.int64()), ("schema_version", pa.int64()), ("location", pa.string()),
                         ("columns", pa.string()), ("partition_keys", pa.string())]))


def require_lake(settings: Settings) -> None:
    """For commands that read a lake: a local lake folder that does not exist is a typo, not an empty lake."""
    folder = local_lake_path(settings.lake)
    if folder is not None and not folder.is_dir():
        raise QueryError(f"no lake at {folder}",
                         hint="pass --lake with the folder `eventlake sink` or `eventlake crawl` used")


def connect(settings: Settings, *, lake: str | None = None, store: CatalogStore | None = None) -> QueryEngine:
    """A query engine over the catalog of `settings` (the notebooks' and dashboard's entry point)."""
    return QueryEngine(settings, store=store, lake=lake)
