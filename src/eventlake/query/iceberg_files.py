"""The files of an Iceberg table, as pyiceberg plans them: what `eventlake query` scans with DuckDB.

eventlake's catalog lists an Iceberg table (its columns, `table_type=ICEBERG`) but not its
files: those are in the table's current snapshot. Each query refresh asks the lake's embedded
Iceberg catalog for the current snapshot and plans its data files (a table scan's
plan_files: manifests read, deleted files left out); DuckDB then reads exactly those files,
as it reads the files the ledger lists for a plain-Parquet table. Snapshot ids make the
refresh cheap: an unchanged snapshot keeps its planned list.
"""

from __future__ import annotations

import logging
from typing import Any

from eventlake.catalog.iceberg_sql import is_iceberg, open_iceberg_catalog
from eventlake.catalog.model import DataFile, Table
from eventlake.config import Settings
from eventlake.lake import Lake
from eventlake.types import TableRef

log = logging.getLogger(__name__)


class IcebergFiles:
    """Planned data files of the Iceberg tables a catalog lists, kept per snapshot id."""

    def __init__(self, lake: Lake, settings: Settings | None = None) -> None:
        self.lake = lake
        self.settings = settings  # which Iceberg catalog (iceberg.catalog); None: the lake's SQLite one
        self._catalog: Any = None
        self._planned: dict[tuple[str, str], tuple[int | None, list[DataFile]]] = {}

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
        try:
            table = self._catalog.load_table((t.database, t.name))
        except NoSuchTableError:  # registered by a sink whose first flush has not committed yet
            return None, []
        snap = table.current_snapshot()
        if snap is None:
            return None, []
        known = self._planned.get((t.database, t.name))
        if known is not None and known[0] == snap.snapshot_id:
            return known
        ref = TableRef(t.database, t.name)
        files = [
            DataFile(
                path=task.file.file_path.removeprefix("file://"),
                partition={},
                rows=task.file.record_count,
                bytes=task.file.file_size_in_bytes,
                table=ref,
            )
            for task in table.scan().plan_files()
        ]
        return snap.snapshot_id, files


def iceberg_snapshots(lake: Lake, database: str, name: str, settings: Settings | None = None) -> list[dict[str, Any]]:
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
