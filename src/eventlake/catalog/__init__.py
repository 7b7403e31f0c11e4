"""The catalog stage: Glue-shaped tables and partitions, the file list queries read,
and the exactly-once ledger of Kafka offsets."""

from eventlake.catalog.model import Column, DataFile, LedgerEntry, OffsetEvent, Partition, Table
from eventlake.catalog.store import CatalogStore, catalog_path, local_lake_path, open_catalog

__all__ = [
    "CatalogStore",
    "Column",
    "DataFile",
    "LedgerEntry",
    "OffsetEvent",
    "Partition",
    "Table",
    "catalog_path",
    "local_lake_path",
    "open_catalog",
]
