"""Building the locked-down DuckDB connection behind a query engine, from one catalog snapshot.

One view per table, the system tables in the `eventlake` schema, the saved views; then DuckDB
is locked: file access only through the read-only layers (`lake://`, `schema://`),
configuration locked, no extensions. A table's view lists no file: it reads a per-cursor
temporary view (`table_select`, made for each query over exactly the catalog-listed files the
query can need, see `prune`), so the connection's cost does not grow with the lake's history
and new files need no new connection.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from eventlake.catalog import CatalogStore, Column, DataFile, Table
from eventlake.lake import Lake
from eventlake.query import system
from eventlake.query.exceptions import QueryError
from eventlake.query.guard import SYSTEM_SCHEMA, SqlGuard, one_line
from eventlake.query.readonly_fs import ReadOnlyFiles
from eventlake.query.results import TableSummary, summarize
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

if TYPE_CHECKING:
    import pyarrow as pa

    from eventlake.config.query_path import QueryConfig

log = logging.getLogger(__name__)


class CatalogMoved(Exception):
    """A listed file vanished while views were being built (a compaction swapped it)."""


@dataclass
class Snapshot:
    tables: list[Table]
    files: dict[tuple[str, str], list[DataFile]]
    views: list[tuple[str, str, str]]
    seq: int = 0  # the catalog's change number this snapshot was read at
    _partitions: dict[tuple[str, str], dict[tuple[tuple[str, str], ...], list[DataFile]]] = field(
        default_factory=dict, repr=False
    )

    def by_partition(self, key: tuple[str, str]) -> dict[tuple[tuple[str, str], ...], list[DataFile]]:
        """A table's files grouped by partition values (built on first use per snapshot)."""
        groups = self._partitions.get(key)
        if groups is None:
            groups = defaultdict(list)
            for f in self.files.get(key, []):
                groups[tuple(f.partition.items())].append(f)
            self._partitions[key] = groups = dict(groups)
        return groups

    def definitions(self) -> tuple[Any, ...]:
        """What the connection is built from (tables and saved views, not files)."""
        return (
            tuple(
                (t.database, t.name, t.schema_version, t.format, tuple(t.columns), tuple(t.partition_keys))
                for t in self.tables
            ),
            tuple(self.views),
        )

    def relations(self, default_database: str) -> frozenset[tuple[str, str]]:
        """What SQL may name (the guard's allow-list): `db.name` for tables and saved views, bare
        names for those of the default database, and the system tables."""
        names = {(t.database, t.name) for t in self.tables} | {(d, n) for d, n, _sql in self.views}
        pairs = {(d.lower(), n.lower()) for d, n in names}
        pairs |= {("", n) for d, n in pairs if d == default_database.lower()}
        pairs |= {(SYSTEM_SCHEMA, name) for name in ("files", "watermarks", "tables")}
        return frozenset(pairs)

    def key(self) -> tuple[Any, ...]:
        return (self.seq, self.definitions())


def read_catalog(store: CatalogStore) -> Snapshot:
    files: dict[tuple[str, str], list[DataFile]] = defaultdict(list)
    for f in store.list_files():
        if f.table is not None:
            files[(f.table.database, f.table.name)].append(f)
    return Snapshot(store.list_tables(), dict(files), store.list_views())


def table_files(snap: Snapshot) -> list[tuple[Table, list[DataFile]]]:
    return [(t, snap.files.get((t.database, t.name), [])) for t in snap.tables]


def summaries(snap: Snapshot, relative: Callable[[str], str] = str) -> list[TableSummary]:
    """Tables as SQL users see them; `relative` turns lake locations into lake-relative names."""
    return summarize(snap.tables, (f for fs in snap.files.values() for f in fs), relative)


class ConnectionBuilder:
    """Builds connections for one engine; keeps what outlives a connection (schema files, footers)."""

    def __init__(
        self,
        settings: QueryConfig,
        lake: Lake,
        guard: SqlGuard,
        schema_dir: Path,
        temp_dir: Path,
        scratch: duckdb.DuckDBPyConnection | None = None,
        cache_files: bool = True,
    ) -> None:
        self.settings = settings
        self._cache_files = cache_files
        self.limits = settings.query
        self.lake = lake
        self.guard = guard
        self._schema_dir = schema_dir
        self._temp_dir = temp_dir
        # DuckDB reads local files only through these (read-only, named relative to their root).
        self._lake_files = ReadOnlyFiles(lake.root, "lake") if lake.local else None
        self._schema_files = ReadOnlyFiles(schema_dir, "schema")
        self._footers: dict[str, tuple[str, ...]] = {}  # path -> column names, for evolved tables
        # Schema files, Arrow schemas and footers' column names come from a private, unlocked connection
        # that runs only our own SQL: no user text, and lake files only by their catalog paths.
        self._scratch = scratch or duckdb.connect(":memory:", config={"enable_external_access": True})
        self._scratch_lock = threading.Lock()

    @staticmethod
    def temp_view(table: Table) -> str:
        """The per-cursor temporary view a table's view reads (made by `table_select` for each query)."""
        digest = hashlib.sha1(repr((table.database, table.name)).encode()).hexdigest()[:12]
        return f"__eventlake_t_{digest}"

    def table_select(
        self, cursor: duckdb.DuckDBPyConnection, table: Table, files: Sequence[DataFile], arrow: dict[str, Any]
    ) -> None:
        """On `cursor`: the temporary view behind `table`'s view, over exactly `files`."""
        select = self._table_select(cursor, table, files, arrow, [])
        cursor.execute(f"CREATE OR REPLACE TEMP VIEW {quote_ident(self.temp_view(table))} AS {select}")

    def build(self, snap: Snapshot) -> tuple[duckdb.DuckDBPyConnection, dict[str, Any]]:
        """A locked-down connection, and the Arrow objects its views read (to register on each cursor)."""
        arrow: dict[str, Any] = {}
        return self._build(snap, arrow), arrow

    def _build(self, snap: Snapshot, arrow: dict[str, Any]) -> duckdb.DuckDBPyConnection:
        config: dict[str, Any] = {
            "python_enable_replacements": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "memory_limit": self.limits.memory_limit,
            # Small lake files' bytes stay in DuckDB's buffer pool (evictable, within memory_limit):
            # a live query re-reads the open hour's files each refresh. Entries are checked against
            # the size and mtime of the file each open opened (readonly_fs), so a replaced file is read anew.
            "cache_local_files": self._cache_files,
        }
        if self.limits.threads:
            config["threads"] = self.limits.threads
        con = duckdb.connect(":memory:", config=config)
        # A catalog `timestamp` is UTC wall-clock time (catalog.hive_types): the sink's files hold
        # UTC instants, which DuckDB casts to the view's TIMESTAMP in the session's zone, so the
        # session must be UTC or a machine in New York sees midnight UTC as 19:00 the day before.
        con.execute("SET GLOBAL TimeZone = 'UTC'")  # GLOBAL: each query runs on a cursor of its own
        for filesystem in (self._lake_files, self._schema_files):
            if filesystem is not None:
                con.register_filesystem(filesystem)
        try:
            self._create_views(con, snap)
            self._create_system_tables(con, snap, arrow)
            tables = {(t.database, t.name) for t in snap.tables}
            # A table made later under a saved view's name wins: the view is left out (and logged).
            self._create_saved_views(con, snap, [v for v in snap.views if (v[0], v[1]) not in tables])
            for database, name, _sql in snap.views:
                if (database, name) in tables:
                    log.warning("saved view %s.%s is hidden by a table of the same name", database, name)
            self._lock_down(con)
        except BaseException:
            con.close()
            raise
        return con

    def _schema(self, con: duckdb.DuckDBPyConnection, database: str) -> str:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(database)}")
        return quote_ident(database)

    def _create_views(self, con: duckdb.DuckDBPyConnection, snap: Snapshot) -> None:
        """Each table's view reads its temporary view; here (on the connection) an empty one with the
        table's columns, so the view binds; each query's cursor makes its own over the files it needs."""
        for table in snap.tables:
            schema = self._schema(con, table.database)
            view = f"{schema}.{quote_ident(table.name)}"
            temp = quote_ident(self.temp_view(table))
            if table.format == "parquet" and table.columns and self.lake.local:
                self._schema_file(con, table)  # made now, not by a query: queries change nothing on disk
            con.execute(f"CREATE OR REPLACE TEMP VIEW {temp} AS {local_view_sql(table, [])}")
            con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {temp}")
            if table.database == self.settings.database:  # bare names resolve in the default database
                con.execute(f"CREATE OR REPLACE VIEW main.{quote_ident(table.name)} AS SELECT * FROM {view}")

    def _table_select(
        self,
        con: duckdb.DuckDBPyConnection,
        table: Table,
        files: Sequence[DataFile],
        arrow: dict[str, Any],
        allowed: list[str],
    ) -> str:
        if not self.lake.local or any(f.path.startswith("s3://") for f in files):
            # partition keys too: the dataset types them as DuckDB does on a local lake
            with self._scratch_lock:
                data_schema = (
                    self._scratch.sql(empty_select_sql([*table.columns, *table.partition_keys])).to_arrow_table().schema
                )
            source = s3_source(table, files, self.lake.filesystem, f"__src_{table.database}_{table.name}", data_schema)
            if source is None:
                return local_view_sql(table, [])
            con.register(source.name, source.dataset)
            arrow[source.name] = source.dataset
            return source.select
        assert self._lake_files is not None
        if table.format != "parquet" or not files:
            return local_view_sql(table, self._read_only(files, allowed))
        # Older files may lack newer columns (the schema evolved; crawled folders may mix column sets):
        # files are grouped by the columns they hold, each group bound to its own schema file.
        evolved = table.schema_version > 1 or table.parameters.get("union_by_name") == "true"
        groups = self._column_groups(files) if evolved else {tuple(table.column_names()): list(files)}
        selects = []
        for names, group in groups.items():
            held = set(names)
            sub = replace(table, columns=[c for c in table.columns if c.name in held])
            if not sub.columns:  # no catalog column in these files: DuckDB's own union by name
                return local_view_sql(table, self._read_only(files, allowed), union_by_name=True)
            schema_file = self._schema_files.url(self._schema_file(con, sub))
            allowed.append(schema_file)
            inner = local_view_sql(sub, self._read_only(group, allowed), schema_file=schema_file)
            if len(sub.columns) == len(table.columns):
                selects.append(inner)
                continue
            cols = [
                quote_ident(c.name)
                if c.name in held
                else f"CAST(NULL AS {duckdb_type(c.type)}) AS {quote_ident(c.name)}"
                for c in table.columns
            ]
            cols += [quote_ident(k.name) for k in table.partition_keys]
            selects.append(f"SELECT {', '.join(cols)} FROM ({inner})")
        return "\nUNION ALL\n".join(selects)

    def _read_only(self, files: Sequence[DataFile], allowed: list[str]) -> list[DataFile]:
        """The files as DuckDB names them: `lake://relative/path`, opened through the read-only layer."""
        assert self._lake_files is not None
        named = [replace(f, path=self._lake_files.url(f.path)) for f in files]
        allowed += [f.path for f in named]
        return named

    def _column_groups(self, files: Sequence[DataFile]) -> dict[tuple[str, ...], list[DataFile]]:
        """Files by the column names their footers hold (read once per engine: files never change)."""
        unread = [f.path for f in files if f.path not in self._footers]
        if unread:
            assert self._lake_files is not None
            for path in unread:
                self._lake_files.url(path)  # inside the lake, or PermissionError: never read a footer elsewhere
            with self._scratch_lock:  # DuckDB reads the footers: no Arrow, one call for all files
                rows = self._scratch.execute(
                    "SELECT file_name, name, num_children FROM parquet_schema(?)", [unread]
                ).fetchall()
            for path, names in _top_level_names(rows).items():
                self._footers[path] = tuple(sorted(names))
        groups: dict[tuple[str, ...], list[DataFile]] = defaultdict(list)
        for f in files:
            groups[self._footers[f.path]].append(f)
        return groups

    def _schema_file(self, con: duckdb.DuckDBPyConnection, table: Table) -> str:
        """An empty Parquet file with the table's columns, in this engine's own temp folder."""
        digest = hashlib.sha1(repr((table.database, table.name, table.columns, table.partition_keys)).encode())
        path = schema_file_path(str(self._schema_dir / digest.hexdigest()[:16]), table)
        if not Path(path).is_file():
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            with self._scratch_lock:
                self._scratch.execute(schema_file_sql(table, path))
        return path

    def _create_system_tables(self, con: duckdb.DuckDBPyConnection, snap: Snapshot, arrow: dict[str, Any]) -> None:
        """The views exist from the start over empty tables; their rows are built only for a query
        that can read them (`SystemTable.needed`): most queries never do, and building them
        costs more than a small query."""
        self._schema(con, SYSTEM_SCHEMA)
        arrow.update(self.system_tables(snap, arrow))
        for name in ("files", "watermarks", "tables"):
            empty = empty_select_sql(arrow[f"__eventlake_{name}"].columns)
            con.execute(f"CREATE OR REPLACE TEMP VIEW __eventlake_{name} AS {empty}")
            con.execute(f"CREATE OR REPLACE VIEW {SYSTEM_SCHEMA}.{name} AS SELECT * FROM __eventlake_{name}")

    def system_tables(self, snap: Snapshot, arrow: dict[str, Any]) -> dict[str, Any]:
        """`arrow` with the system tables' rows (built on first use) taken from `snap`."""
        pairs = table_files(snap)
        return {
            **arrow,
            "__eventlake_files": SystemTable(lambda: system.files_table(pairs, self.relative), system.FILES_COLUMNS),
            "__eventlake_watermarks": SystemTable(lambda: system.watermarks_table(pairs), system.WATERMARKS_COLUMNS),
            "__eventlake_tables": SystemTable(
                lambda: system.tables_table(summaries(snap, self.relative)), system.TABLES_COLUMNS
            ),
        }

    def _create_saved_views(
        self, con: duckdb.DuckDBPyConnection, snap: Snapshot, views: list[tuple[str, str, str]]
    ) -> None:
        pending = list(views)
        # Views may use each other: create in passes until no pass makes progress.
        while pending:
            failed: list[tuple[str, str, str]] = []
            errors: dict[str, str] = {}
            for database, name, sql in pending:
                try:
                    self.guard.check(sql, snap.relations(self.settings.database))
                    schema = self._schema(con, database)
                    body = sql.strip().rstrip(";")
                    con.execute(f"CREATE OR REPLACE VIEW {schema}.{quote_ident(name)} AS {body}")
                    if database == self.settings.database:
                        con.execute(
                            f"CREATE OR REPLACE VIEW main.{quote_ident(name)} AS "
                            f"SELECT * FROM {schema}.{quote_ident(name)}"
                        )
                except (duckdb.Error, QueryError) as exc:
                    failed.append((database, name, sql))
                    errors[f"{database}.{name}"] = one_line(exc)
            if len(failed) == len(pending):
                for view, reason in errors.items():
                    log.warning("saved view %s left out: %s", view, reason)
                return
            pending = failed

    def relative(self, location: str) -> str:
        """A lake location as SQL users see it: relative to the lake, never an absolute path."""
        try:
            return self.lake.rel(location)
        except Exception:
            return location.rstrip("/").rsplit("/", 1)[-1] if location.startswith("/") else location

    def _lock_down(self, con: duckdb.DuckDBPyConnection) -> None:
        """Only the read-only layers' names may be opened (the private temp folder takes spills).

        The whole `lake://` name space, not a list of files: cursors make views over new files
        without a new connection. Nothing can be written there (the layer opens `rb` only), and
        the SQL guard lets no query name a file: views list only catalog-named files."""
        dirs = [str(self._temp_dir) + "/", "lake://", "schema://"]
        con.execute(f"SET temp_directory = {quote_str(str(self._temp_dir))}")
        con.execute(f"SET allowed_directories = [{', '.join(quote_str(d) for d in dirs)}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")


def _top_level_names(rows: list[tuple[str, str, int | None]]) -> dict[str, list[str]]:
    """Each file's top-level column names from `parquet_schema` rows (file, name, children): per
    file its schema tree depth first, the root first; nested fields' children are skipped."""
    names: dict[str, list[str]] = defaultdict(list)
    stacks: dict[str, list[int]] = {}  # per file: children left to visit at each open level
    for path, name, children in rows:
        stack = stacks.setdefault(path, [])
        if path not in names:  # the root: its children are the columns
            names[path] = []
            stack.append(children or 0)
            continue
        if len(stack) == 1:
            names[path].append(name)
        stack[-1] -= 1
        if children:
            stack.append(children)
        while stack and stack[-1] == 0:
            stack.pop()
    return names


class SystemTable:
    """An `eventlake.*` system table's rows, built on first use."""

    def __init__(self, make: Callable[[], pa.Table], columns: list[Column]) -> None:
        self._make = make
        self._table: pa.Table | None = None
        self.columns = columns  # the empty view's, until a query reads the rows

    def get(self) -> pa.Table:
        if self._table is None:
            self._table = self._make()
        return self._table

    @staticmethod
    def needed(sql: str, snap: Snapshot | None) -> bool:
        """Can this SQL read a system table? Directly, or through a saved view that does."""
        if SYSTEM_SCHEMA in sql.lower():
            return True
        return snap is not None and any(SYSTEM_SCHEMA in view_sql.lower() for _, _, view_sql in snap.views)
