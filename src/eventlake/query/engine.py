"""DuckDB over the catalog: one view per table over exactly the files the catalog lists.

A connection is built from a snapshot of the catalog (tables, files, saved views), then
locked down (`build`). A long-lived engine (the dashboard) re-reads the catalog at most every
`query.refresh_s` and builds a fresh connection when it changed, so new flushes become
visible and a compaction's swap is seen whole (old files or new files, never both). Each
query runs on a cursor on a worker thread, so the time limit can interrupt it.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from eventlake.catalog import CatalogStore, DataFile, Table, open_catalog
from eventlake.catalog.iceberg_sql import is_iceberg
from eventlake.config.query_path import with_lake
from eventlake.lake import open_lake
from eventlake.query import system
from eventlake.query.build import ConnectionBuilder, Snapshot, SystemTable, summaries, table_files
from eventlake.query.exceptions import (
    BadSql,
    OutOfMemory,
    QueryError,
    QueryTimeout,
    RefusedStatement,
    UnknownTable,
)
from eventlake.query.fetch import fetch_arrow, fetch_rows
from eventlake.query.guard import SqlGuard, one_line
from eventlake.query.iceberg_files import IcebergFiles
from eventlake.query.iceberg_filter import row_filter
from eventlake.query.prune import PartitionFilter, base_tables, where_for
from eventlake.query.results import QueryResult, TableSummary
from eventlake.query.time_travel import AsOf, TimeTravelError, parse_as_of

if TYPE_CHECKING:
    import pyarrow as pa

    from eventlake.config.query_path import QueryConfig

__all__ = ["QueryEngine", "QueryResult", "TableSummary", "connect"]

_TABLES_HINT = "`eventlake tables` lists them"


class QueryEngine:
    """`engine.sql(text) -> pyarrow.Table`, `.df(text)`, `.execute(text) -> QueryResult`, `.tables()`."""

    def __init__(
        self,
        settings: QueryConfig,
        store: CatalogStore | None = None,
        lake: str | None = None,
        as_of: AsOf | str | None = None,
        cache_files: bool = True,
    ) -> None:
        if lake is not None and lake != settings.lake:
            settings = with_lake(settings, lake)
        self.settings = settings
        self.limits = settings.query
        # Time travel: every query reads its Iceberg tables as of this snapshot or time (None: now).
        self.as_of = parse_as_of(as_of) if isinstance(as_of, str) else as_of
        self._own_store = store is None
        self.store = store if store is not None else open_catalog(settings)
        self.lake = open_lake(settings.lake, settings.s3)
        # One private DuckDB instance for eventlake's own SQL (schema files, footers; user SQL is only
        # parsed there, by the guard, never run): a DuckDB instance costs ~40 ms to start.
        self._scratch = duckdb.connect(":memory:", config={"enable_external_access": True})
        self.guard = SqlGuard(self.limits.max_sql_bytes, con=self._scratch)
        # Private folders (mkdtemp: mode 700, a fresh name) for schema files and DuckDB's spills:
        # no other user or engine can read or plant files there.
        self._schema_dir = Path(tempfile.mkdtemp(prefix="eventlake-schemas-"))
        self._temp_dir = Path(tempfile.mkdtemp(prefix="eventlake-duckdb-"))
        self._iceberg = IcebergFiles(self.lake, settings)  # Iceberg tables' files come from their snapshots
        self._builder = ConnectionBuilder(
            settings,
            self.lake,
            self.guard,
            self._schema_dir,
            self._temp_dir,
            scratch=self._scratch,
            cache_files=cache_files,
        )
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        # Arrow objects the views read (S3 datasets, system tables): registered per cursor, since a
        # registration is visible only to the connection that made it.
        self._arrow: dict[str, Any] = {}
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        # What the catalog said at the last look: files by path per table, and the highest file rowid
        # seen per table, so a refresh reads only what changed (`read_changes`).
        self._files: dict[tuple[str, str], dict[str, DataFile]] = {}
        self._rowids: dict[tuple[str, str], int] = {}
        self.refresh(force=True)

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
        self.guard.close()
        self._scratch.close()
        shutil.rmtree(self._schema_dir, ignore_errors=True)
        shutil.rmtree(self._temp_dir, ignore_errors=True)
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
        with self._refresh_lock:  # one rebuild at a time; threads that waited see the fresh snapshot
            if not force and now < self._checked_at:
                return
            self._rebuild(force)

    def _rebuild(self, force: bool) -> None:
        """Read what changed since the last look; a new connection only when tables or views changed."""
        self._checked_at = time.monotonic()
        since = self._snapshot.seq if self._snapshot is not None else -1
        if self._snapshot is not None and self.store.change_seq() == since:
            if not IcebergFiles.any(self._snapshot.tables):
                return  # one cheap query: nothing changed
            planned, moved = self._iceberg.files(self._snapshot.tables)  # Iceberg commits change no eventlake seq
            if moved:
                with self._lock:
                    self._snapshot = replace(self._snapshot, files={**self._snapshot.files, **planned}, _partitions={})
            return
        changes = self.store.read_changes(max(since, 0), self._rowids)
        files, rowids = dict(self._files), dict(self._rowids)
        lists = dict(self._snapshot.files) if self._snapshot is not None else {}
        for key, (whole, rows) in changes.files.items():
            current = {} if whole else dict(files.get(key, {}))
            for rowid, f in rows:
                current[f.path] = f  # by path: a file replaced in place is not listed twice
                rowids[key] = max(rowids.get(key, 0), rowid)
            if whole and not rows:
                rowids.pop(key, None)
            files[key], lists[key] = current, list(current.values())
        known = {(t.database, t.name) for t in changes.tables}
        for table_map in (files, rowids, lists):
            for key in [k for k in table_map if k not in known]:
                del table_map[key]
        if IcebergFiles.any(changes.tables):
            lists.update(self._iceberg.files(changes.tables)[0])
        snapshot = Snapshot(changes.tables, lists, changes.views, changes.seq)
        with self._lock:
            old = self._snapshot
        if old is None or old.definitions() != snapshot.definitions():
            con, arrow = self._builder.build(snapshot)
        else:
            con, arrow = None, None
        with self._lock:
            # An old connection is not closed here: queries on other threads may still use its cursors.
            if con is not None:
                self._con, self._arrow = con, arrow or {}
            elif self._con is not None:
                self._arrow = self._builder.system_tables(snapshot, self._arrow)
            self._snapshot, self._files, self._rowids = snapshot, files, rowids

    # -- read models ---------------------------------------------------------------------------------
    def tables(self) -> list[TableSummary]:
        """Catalog tables as SQL sees them (the dashboard's GET /api/tables)."""
        self.refresh()
        assert self._snapshot is not None
        return summaries(self._snapshot, self._builder.relative)

    def views(self) -> list[tuple[str, str]]:
        """Saved views as SQL sees them: (database.name, sql)."""
        self.refresh()
        assert self._snapshot is not None
        return [(f"{d}.{n}", sql) for d, n, sql in self._snapshot.views]

    # -- running SQL -----------------------------------------------------------------------------------
    def sql(self, sql: str, max_rows: int | None = None, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run one read-only SELECT; at most `max_rows` (default `query.max_rows`; 0 = no limit) rows
        come back. `params` bind `$name` placeholders as values (never as SQL text)."""
        (table, _truncated), _elapsed = self._run(sql, max_rows, params, as_rows=False)
        result: pa.Table = table
        return result

    def df(self, sql: str, max_rows: int | None = None, params: Mapping[str, Any] | None = None) -> Any:
        """Like `sql`, as a pandas DataFrame."""
        return self.sql(sql, max_rows, params).to_pandas()

    def execute(self, sql: str, max_rows: int | None = None, params: Mapping[str, Any] | None = None) -> QueryResult:
        """Like `sql`, as Python rows (fetched without Arrow where the column types allow: `fetch`)."""
        (columns, rows, truncated), elapsed = self._run(sql, max_rows, params, as_rows=True)
        return QueryResult(columns, rows, elapsed, truncated)

    def _run(
        self, sql: str, max_rows: int | None, params: Mapping[str, Any] | None, as_rows: bool
    ) -> tuple[Any, float]:
        """(what `fetch_rows` or `fetch_arrow` returned, seconds)."""
        if len(sql) > self.limits.max_sql_bytes:  # cheap first cut; the guard counts bytes exactly
            self.guard.check(sql)
        self.refresh()
        limit = self.limits.max_rows if max_rows is None else max_rows
        started = time.perf_counter()
        outcome, snapshot = self._run_once(sql, limit, params, started, as_rows)
        if isinstance(outcome.get("error"), (duckdb.IOException, duckdb.PermissionException)) and snapshot:
            # A file vanished under us (a compaction swapped it; DuckDB then looks for a folder of that
            # name, outside the allowed paths): if the catalog moved on, run again on the new file list.
            self.refresh(force=True)
            if self._snapshot is not None and self._snapshot.key() != snapshot.key():
                outcome, snapshot = self._run_once(sql, limit, params, started, as_rows)
        elapsed = time.perf_counter() - started
        if "error" in outcome:
            raise self._translate(outcome["error"]) from outcome["error"]
        return outcome["result"], elapsed

    def _run_once(
        self, sql: str, limit: int, params: Mapping[str, Any] | None, started: float, as_rows: bool
    ) -> tuple[dict[str, Any], Snapshot | None]:
        with self._lock:
            if self._con is None:
                raise QueryError("the query engine is closed", hint="connect again")
            cursor = self._con.cursor()
            snapshot, arrow = self._snapshot, self._arrow
        try:
            system_needed = SystemTable.needed(sql, snapshot)
            for name, obj in arrow.items():
                if isinstance(obj, SystemTable):
                    if system_needed:
                        cursor.register(name, obj.get())
                else:
                    cursor.register(name, obj)
            if system_needed and "watermarks" in sql.lower() and snapshot is not None:
                self._register_watermarks(cursor, snapshot)
            outcome: dict[str, Any] = {}
            relations = snapshot.relations(self.settings.database) if snapshot is not None else frozenset()
            job = _Job(self.guard, relations, cursor, sql, params, limit, self.limits.max_result_bytes, as_rows)
            job.prepare = lambda tree: self._prepare(cursor, tree, snapshot, params)
            # Parsing and checking run on the worker too: the time limit covers them.
            worker = threading.Thread(target=job.run, args=(outcome,), daemon=True, name="eventlake-query")
            worker.start()
            worker.join(max(self.limits.time_limit_s - (time.perf_counter() - started), 0.001))
            if worker.is_alive():
                cursor.interrupt()
                worker.join(10)
                raise QueryTimeout(
                    f"query ran longer than {self.limits.time_limit_s:g} s and was stopped",
                    hint="narrow it (a WHERE on partition columns reads fewer files) or raise query.time_limit_s",
                )
            return outcome, snapshot
        finally:
            cursor.close()

    def _prepare(
        self, cursor: duckdb.DuckDBPyConnection, tree: dict[str, Any], snap: Snapshot | None, params: Any
    ) -> None:
        """On the query's cursor: the temporary views behind the tables it names, over only the files
        whose partitions its WHERE can select (partition pruning before DuckDB sees a file list)."""
        if snap is None:
            return
        default = self.settings.database.lower()
        tables = {(t.database.lower(), t.name.lower()): t for t in snap.tables}
        views = {(d.lower(), n.lower()) for d, n, _sql in snap.views}
        nodes: dict[tuple[str, str], list[dict[str, Any]]] = {}
        everything = False
        for node in base_tables(tree):
            schema, name = str(node.get("schema_name", "")).lower(), str(node.get("table_name", "")).lower()
            key = (schema or default, name)
            if key in tables:
                nodes.setdefault(key, []).append(node)
            elif key in views:
                everything = True  # a saved view reads tables this tree does not show: all of them, whole
        needed = list(tables) if everything else list(nodes)
        if self.as_of is not None:
            self._check_as_of([tables[k] for k in needed])
        arrow: dict[str, Any] = {}
        for key in needed:
            table = tables[key]
            files = self._pruned(table, snap, nodes.get(key, []), tree, params, everything)
            self._builder.table_select(cursor, table, files, arrow)
        for name, obj in arrow.items():
            cursor.register(name, obj)

    def _pruned(
        self,
        table: Table,
        snap: Snapshot,
        nodes: list[dict[str, Any]],
        tree: dict[str, Any],
        params: Any,
        everything: bool,
    ) -> list[DataFile]:
        key = (table.database, table.name)
        if is_iceberg(table.parameters):
            return self._iceberg_files(table, snap, nodes, tree, params, everything)
        if everything or len(nodes) != 1 or not table.partition_keys:
            return snap.files.get(key, [])
        where = where_for(tree, nodes[0])
        if where is None:
            return snap.files.get(key, [])
        node = nodes[0]
        names = {table.name, str(node.get("alias") or "")} - {""}
        keys = {k.name: k.type for k in table.partition_keys}
        decide = PartitionFilter(where, names, keys, params)
        return [f for values, group in snap.by_partition(key).items() if decide.may_match(dict(values)) for f in group]

    def _iceberg_files(
        self,
        table: Table,
        snap: Snapshot,
        nodes: list[dict[str, Any]],
        tree: dict[str, Any],
        params: Any,
        everything: bool,
    ) -> list[DataFile]:
        """An Iceberg table's files for this query: its snapshot as of --as-of (else the current one),
        pruned by pyiceberg with the WHERE when the table is the whole FROM of one SELECT (as `_pruned`)."""
        where = where_for(tree, nodes[0]) if not everything and len(nodes) == 1 else None
        if where is None and self.as_of is None:
            return snap.files.get((table.database, table.name), [])
        build = None
        if where is not None:
            names = {table.name, str(nodes[0].get("alias") or "")} - {""}
            clause = where

            def build(kinds: dict[str, str]) -> Any:
                return row_filter(clause, names, kinds, params)

        return self._iceberg.planned(table, self.as_of, build)

    def _check_as_of(self, tables: list[Table]) -> None:
        """--as-of needs an Iceberg table to travel; a snapshot id names one table's snapshot."""
        assert self.as_of is not None
        iceberg = [t for t in tables if is_iceberg(t.parameters)]
        if not iceberg:
            raise TimeTravelError(
                f"--as-of {self.as_of.text}: this query reads no Iceberg table (only Iceberg tables keep snapshots)",
                hint="run it without --as-of, or query a table sunk with --table-format iceberg",
            )
        if self.as_of.snapshot_id is not None and len(iceberg) > 1:
            names = ", ".join(sorted(t.name for t in iceberg))
            raise TimeTravelError(
                f"--as-of {self.as_of.text}: a snapshot id belongs to one table, this query reads {names}",
                hint="give a time (--as-of 2026-11-26T10:00:00Z) to read several tables as of one moment",
            )

    def _translate(self, exc: BaseException) -> Exception:
        """The error as one line, with absolute local paths (lake, private folders) made relative."""
        error = _translate(exc)
        if not isinstance(error, QueryError):
            return error
        message = error.message
        for folder, name in ((self._temp_dir, "<temp>"), (self._schema_dir, "<schema>")):
            message = message.replace(str(folder), name)
        if self.lake.local:
            message = message.replace(self.lake.root + "/", "").replace(self.lake.root, "<lake>")
        if message != error.message:
            return type(error)(message, hint=error.hint)
        return error

    def _register_watermarks(self, cursor: duckdb.DuckDBPyConnection, snap: Snapshot) -> None:
        """Per-partition lag needs the broker: asked only when a query reads eventlake.watermarks."""
        lookup = system.kafka_end_offsets(
            self.settings.bootstrap_servers, self.settings.kafka, self.limits.lag_timeout_s
        )
        cursor.register("__eventlake_watermarks", system.watermarks_table(table_files(snap), lookup))


class _Job:
    """One statement on one cursor: check it, run it, stream its rows within the row and byte caps."""

    def __init__(
        self,
        guard: SqlGuard,
        relations: frozenset[tuple[str, str]],
        cursor: duckdb.DuckDBPyConnection,
        sql: str,
        params: Mapping[str, Any] | None,
        limit: int,
        max_bytes: int,
        as_rows: bool,
    ) -> None:
        self.guard, self.relations, self.cursor = guard, relations, cursor
        self.sql, self.params, self.limit, self.max_bytes = sql, params, limit, max_bytes
        self.as_rows = as_rows
        self.prepare: Callable[[dict[str, Any]], None] = lambda tree: None

    def run(self, outcome: dict[str, Any]) -> None:
        try:
            self.prepare(self.guard.check(self.sql, self.relations))
            if self.as_rows:
                outcome["result"] = fetch_rows(self.cursor, self.sql, self.params, self.limit, self.max_bytes)
            else:
                relation = self.cursor.sql(self.sql, params=dict(self.params) if self.params else None)
                outcome["result"] = fetch_arrow(relation, self.limit, self.max_bytes)
        except BaseException as exc:
            outcome["error"] = exc


def _translate(exc: BaseException) -> Exception:
    if isinstance(exc, QueryError):
        return exc
    if isinstance(exc, RecursionError):
        return BadSql("SQL is nested too deeply", hint="flatten the query")
    if isinstance(exc, MemoryError):
        return OutOfMemory("the query ran out of memory", hint="narrow it, or raise query.memory_limit")
    text = one_line(exc)
    if "PermissionError" in text:  # the read-only layer refused a write: the guard should have first
        return RefusedStatement("the query engine opens lake files read-only", hint="SQL here is read-only")
    if isinstance(exc, duckdb.OutOfMemoryException):
        return OutOfMemory(f"the query ran out of memory: {text}", hint="narrow it, or raise query.memory_limit")
    if isinstance(exc, duckdb.InterruptException):
        return QueryTimeout("query was interrupted", hint="raise query.time_limit_s or narrow the query")
    if isinstance(exc, duckdb.CatalogException) and "does not exist" in text:
        return UnknownTable(_without_internal_suggestion(text.removeprefix("Catalog Error: ")), hint=_TABLES_HINT)
    if isinstance(exc, duckdb.PermissionException):
        return RefusedStatement(text, hint="SQL here reads catalog tables only")
    if isinstance(exc, duckdb.IOException) or (
        isinstance(exc, duckdb.InvalidInputException)
        and ("IOError" in text or "Parquet" in text or "magic bytes" in text)
    ):
        # Local files fail as IO errors; S3 objects read through Arrow surface as "IOError: ..."
        return QueryError(
            f"a file the catalog lists cannot be read: {text}",
            hint="`eventlake tables describe TABLE` lists its files; re-crawl or compact",
        )
    if isinstance(exc, duckdb.Error):
        return BadSql(text, hint="check names and types with `eventlake tables describe TABLE`")
    return QueryError(f"query failed: {exc}")


def _without_internal_suggestion(text: str) -> str:
    """Drop DuckDB's 'Did you mean "pg_enum"?' when the suggestion is one of its own catalog tables."""
    head, sep, tail = text.partition(" Did you mean ")
    internal = ('"pg_', '"duckdb_', '"sqlite_', '"information_schema', '"__', '"main.', '"temp.', '"system.')
    return head if sep and tail.startswith(internal) else text


def connect(
    settings: QueryConfig,
    *,
    lake: str | None = None,
    store: CatalogStore | None = None,
    as_of: AsOf | str | None = None,
    cache_files: bool = True,
) -> QueryEngine:
    """A query engine over the catalog of `settings` (the notebooks' and dashboard's entry point);
    `as_of` (a snapshot id or an ISO-8601 time) reads Iceberg tables as they were then.
    `cache_files`: keep small lake files' bytes between queries (a long-lived engine re-reads the
    open hour each refresh; a one-shot query only pays for the copy: ~250 ms on the bench's lake)."""
    return QueryEngine(settings, store=store, lake=lake, as_of=as_of, cache_files=cache_files)
