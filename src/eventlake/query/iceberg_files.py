"""The files of an Iceberg table, as pyiceberg plans them: what `eventlake query` scans with DuckDB.

eventlake's catalog lists an Iceberg table (its columns, `table_type=ICEBERG`) but not its
files: those are in the table's current snapshot. Each query refresh asks the lake's embedded
Iceberg catalog for the current snapshot and plans its data files (a table scan's
plan_files: manifests read, deleted files left out); DuckDB then reads exactly those files,
as it reads the files the ledger lists for a plain-Parquet table. Snapshot ids make the
refresh cheap: an unchanged snapshot keeps its planned list.

A moved snapshot is planned incrementally (the sink commits every flush, so this is the
freshness path): the metadata file is parsed again only when the catalog names a new one, and
data files are kept per manifest path. Manifests are immutable and a fast append adds one, so
a refresh reads only the manifests it has not seen; a replace, overwrite or delete rewrites
manifests under new paths (read fresh), and manifests the snapshot no longer lists drop out.
The result equals a full `scan().plan_files()` (tests/integration/test_iceberg_read.py).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from eventlake.catalog.iceberg_location import is_current
from eventlake.catalog.iceberg_sql import is_iceberg, open_iceberg_catalog
from eventlake.catalog.model import DataFile, Table
from eventlake.config.query_path import QueryConfig, typed
from eventlake.lake import Lake
from eventlake.query.iceberg_filter import column_kinds
from eventlake.query.time_travel import AsOf, TimeTravelError, snapshot_for
from eventlake.types import TableRef

if TYPE_CHECKING:
    from eventlake.config import Settings

log = logging.getLogger(__name__)


class IcebergFiles:
    """Planned data files of the Iceberg tables a catalog lists, kept per snapshot id."""

    def __init__(self, lake: Lake, settings: QueryConfig) -> None:
        self.lake = lake
        self._config = settings
        self._typed: Settings | None = None
        self._catalog: Any = None
        self._planned: dict[tuple[str, str], tuple[int | None, list[DataFile]]] = {}
        # per query: (database, name, snapshot id, filter) -> files; a few recent plans (dashboards repeat)
        self._queried: OrderedDict[tuple[str, str, int, str], list[DataFile]] = OrderedDict()
        # the pyiceberg table each refresh loaded: queries plan from it (the lake as of the last
        # refresh, as for Parquet tables) instead of reading the catalog and metadata file again
        self._loaded: dict[tuple[str, str], Any] = {}
        # per table: {manifest path: its live data files} of the last planned snapshot
        self._manifests: dict[tuple[str, str], dict[str, list[DataFile]]] = {}

    @property
    def settings(self) -> Settings:
        """Which Iceberg catalog (iceberg.catalog): typed settings, built only once an Iceberg table is met."""
        if self._typed is None:
            self._typed = typed(self._config)
        return self._typed

    @staticmethod
    def any(tables: list[Table]) -> bool:
        return any(is_iceberg(t.parameters) for t in tables)

    def files(self, tables: list[Table]) -> tuple[dict[tuple[str, str], list[DataFile]], bool]:
        """{(database, name): files} for the Iceberg tables among `tables`; True if any snapshot moved."""
        out: dict[tuple[str, str], list[DataFile]] = {}
        moved = False
        for t in tables:
            if not is_iceberg(t.parameters):
                continue
            key = (t.database, t.name)
            snapshot_id, files = self._plan(t)
            if self._planned.get(key, (None, None))[0] != snapshot_id or key not in self._planned:
                moved = True
            self._planned[key] = (snapshot_id, files)
            out[key] = files
        return out, moved

    def _plan(self, t: Table) -> tuple[int | None, list[DataFile]]:
        from pyiceberg.exceptions import NoSuchTableError

        if self._catalog is None:
            self._catalog = open_iceberg_catalog(self.lake, self.settings)
        key = (t.database, t.name)
        table = self._loaded.get(key)
        if table is None or not is_current(self._catalog, key, table):
            try:
                table = self._catalog.load_table(key)
            except NoSuchTableError:  # registered by a sink whose first flush has not committed yet
                self._loaded.pop(key, None)
                self._manifests.pop(key, None)
                return None, []
        self._loaded[key] = table
        snap = table.current_snapshot()
        if snap is None:
            return None, []
        known = self._planned.get(key)
        if known is not None and known[0] == snap.snapshot_id:
            return known
        return snap.snapshot_id, self._incremental(t, table, snap)

    def _incremental(self, t: Table, table: Any, snap: Any) -> list[DataFile]:
        """The snapshot's live data files, reading only manifests this table has not planned before."""
        from pyiceberg.manifest import ManifestContent

        manifests = snap.manifests(table.io)
        if any(m.content != ManifestContent.DATA for m in manifests):  # delete files: pyiceberg's full plan
            self._manifests.pop((t.database, t.name), None)
            return _files(t, table.scan(snapshot_id=snap.snapshot_id).plan_files())
        seen = self._manifests.get((t.database, t.name), {})
        current = {
            m.manifest_path: seen[m.manifest_path] if m.manifest_path in seen else _manifest_files(t, table.io, m)
            for m in manifests
        }
        self._manifests[(t.database, t.name)] = current  # manifests no longer listed drop out
        return [f for files in current.values() for f in files]

    def planned(self, t: Table, as_of: AsOf | None, where: Callable[[dict[str, str]], Any] | None) -> list[DataFile]:
        """The files one query reads: as of `as_of` (None: the current snapshot), without the files
        `where` rules out (a function of the table's {column: kind} giving a pyiceberg row filter, or None)."""
        from pyiceberg.exceptions import NoSuchTableError

        name = f"{t.database}.{t.name}" if t.database != "default" else t.name
        if self._catalog is None:
            self._catalog = open_iceberg_catalog(self.lake, self.settings)
        table = self._loaded.get((t.database, t.name))
        if table is None:
            try:
                table = self._catalog.load_table((t.database, t.name))
            except NoSuchTableError:
                table = None
        if table is None or table.current_snapshot() is None:
            if as_of is not None:
                raise TimeTravelError(
                    f"--as-of {as_of.text}: table {name} has no snapshot yet", hint="run it without --as-of"
                )
            return []
        current = table.current_snapshot()
        assert current is not None
        snapshot_id = snapshot_for(table, name, as_of) if as_of is not None else current.snapshot_id
        expression = where(column_kinds(table.schema())) if where is not None else None
        key = (t.database, t.name, snapshot_id, repr(expression))
        if key in self._queried:
            self._queried.move_to_end(key)
            return self._queried[key]
        if expression is None:
            files = _files(t, table.scan(snapshot_id=snapshot_id).plan_files())
        else:
            try:
                tasks = table.scan(row_filter=expression, snapshot_id=snapshot_id).plan_files()
            except ValueError:  # a column the snapshot's schema does not bind: no pruning then
                tasks = table.scan(snapshot_id=snapshot_id).plan_files()
            files = _files(t, tasks)
        self._queried[key] = files
        while len(self._queried) > 64:
            self._queried.popitem(last=False)
        return files


def _manifest_files(t: Table, io: Any, manifest: Any) -> list[DataFile]:
    """A data manifest's live files (entries marked deleted left out, as plan_files does)."""
    ref = TableRef(t.database, t.name)
    return [
        DataFile(
            path=e.data_file.file_path.removeprefix("file://"),
            partition={},
            rows=e.data_file.record_count,
            bytes=e.data_file.file_size_in_bytes,
            table=ref,
        )
        for e in manifest.fetch_manifest_entry(io, discard_deleted=True)
    ]


def _files(t: Table, tasks: Any) -> list[DataFile]:
    ref = TableRef(t.database, t.name)
    return [
        DataFile(
            path=task.file.file_path.removeprefix("file://"),
            partition={},
            rows=task.file.record_count,
            bytes=task.file.file_size_in_bytes,
            table=ref,
        )
        for task in tasks
    ]


def iceberg_snapshots(lake: Lake, database: str, name: str, settings: Settings) -> list[dict[str, Any]]:
    """The Iceberg table's snapshots, oldest first: what `eventlake tables describe` shows."""
    import datetime as dt

    from pyiceberg.exceptions import NoSuchTableError

    try:
        table = open_iceberg_catalog(lake, settings).load_table((database, name))
    except NoSuchTableError:
        return []
    current = table.current_snapshot()
    out = []
    for snap in table.snapshots():
        props = snap.summary.additional_properties if snap.summary is not None else {}
        out.append(
            {
                "snapshot_id": snap.snapshot_id,
                "committed": dt.datetime.fromtimestamp(snap.timestamp_ms / 1000, dt.UTC).isoformat(timespec="seconds"),
                "operation": snap.summary.operation.value if snap.summary is not None else "",
                "added_records": int(props.get("added-records", 0)),
                "total_records": int(props.get("total-records", 0)),
                "offsets": props.get("eventlake.range", ""),
                "current": current is not None and snap.snapshot_id == current.snapshot_id,
            }
        )
    return out
