"""The embedded Iceberg catalog: pyiceberg's SQL catalog in a SQLite file beside eventlake's own.

`<lake>/_eventlake/iceberg.sqlite` names each Iceberg table's current metadata file; the
warehouse (where tables, their metadata and data files live) is the lake root. Only local
lakes for now: an S3 lake needs pyiceberg's S3 FileIO settings (not wired yet).
pyiceberg loads only when an Iceberg table is touched (`pip install eventlake[iceberg]`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventlake.catalog.store import CATALOG_DIR
from eventlake.errors import ConfigError
from eventlake.lake import Lake

if TYPE_CHECKING:
    from pyiceberg.catalog.sql import SqlCatalog

ICEBERG_FILE = "iceberg.sqlite"
# The parameter eventlake's catalog entry of an Iceberg table carries (Athena's and Glue's name for it).
TABLE_TYPE = "table_type"
ICEBERG = "ICEBERG"


def is_iceberg(parameters: dict[str, str]) -> bool:
    return parameters.get(TABLE_TYPE, "").upper() == ICEBERG


def open_iceberg_catalog(lake: Lake) -> SqlCatalog:
    """The lake's embedded Iceberg catalog (the SQLite file is made on first use)."""
    if not lake.local:
        raise ConfigError(
            f"Iceberg tables need a local lake for now, not {lake.uri_root}",
            hint="use --table-format parquet for an S3 lake, or a local lake folder",
        )
    try:
        from pyiceberg.catalog.sql import SqlCatalog
    except ImportError:
        raise ConfigError(
            "Iceberg tables need pyiceberg", hint="pip install 'eventlake[iceberg]' (pyiceberg 0.12)"
        ) from None
    folder = f"{lake.root}/{CATALOG_DIR}"
    lake.filesystem.create_dir(folder, recursive=True)
    # timeout: sinks of one group commit to one file; SQLite waits for a writer's lock instead of failing.
    uri = f"sqlite:///{folder}/{ICEBERG_FILE}?timeout=30"
    props: dict[str, Any] = {"uri": uri, "warehouse": f"file://{lake.root}"}
    return SqlCatalog("eventlake", **props)
