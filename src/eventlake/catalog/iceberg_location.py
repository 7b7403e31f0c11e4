"""Which metadata file an Iceberg catalog names for a table, without loading (parsing) that file.

Loading an Iceberg table parses its whole metadata JSON, which lists every snapshot: at a sink's
commit cadence that parse is most of a refresh. When the catalog still names the metadata file a
held table was read from, the held table is the current one and the parse can be skipped.
"""

from __future__ import annotations

from typing import Any


def metadata_location(catalog: Any, identifier: tuple[str, str]) -> str | None:
    """The metadata file pyiceberg's SQL catalog (SQLite or PostgreSQL) names for the table: one row,
    no parse. None when the table is not there or the catalog is another kind (then load the table)."""
    from pyiceberg.catalog.sql import IcebergTables, SqlCatalog
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    if not isinstance(catalog, SqlCatalog):
        return None
    with Session(catalog.engine) as session:
        location: str | None = session.scalar(
            select(IcebergTables.metadata_location).where(
                IcebergTables.catalog_name == catalog.name,
                IcebergTables.table_namespace == identifier[0],
                IcebergTables.table_name == identifier[1],
            )
        )
    return location


def is_current(catalog: Any, identifier: tuple[str, str], table: Any) -> bool:
    """True if `table` (a pyiceberg table read earlier) is still what the catalog names."""
    location = metadata_location(catalog, identifier)
    return location is not None and table is not None and location == table.metadata_location
