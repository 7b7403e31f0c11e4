"""`eventlake catalog copy --to URL`: move a catalog (an embedded SQLite file, usually) to another
one (PostgreSQL, usually) whole: tables, schema history, partitions, files and their ranges, the
ledger, dead-letter counts, views, crawler state, topic incarnations, offset breaks, unsettled
maintenance objects and its run history.

The source is read in one read transaction and the target written in one write transaction,
which also reads the counts back: a failure anywhere leaves the target as it was. The target must
be empty unless `replace` (`--force`), which swaps its contents for the source's. Left out on
purpose: maintenance leases (held by processes of the old catalog; they expire anyway), the
change numbers (the target's triggers make its own as the rows go in) and the schema version
(the target is at this eventlake's). Sinks should be stopped while it runs: a flush that lands
in the old catalog after the copy read it is not in the new one, and its offsets are landed again
from the new catalog's ledger (not lost, but written twice in the lake, once unlisted).
"""

from __future__ import annotations

from eventlake.catalog.exceptions import CatalogError
from eventlake.catalog.sqlite import (
    _EVENT_COLS,
    _FILE_COLS,
    _LEDGER_COLS,
    _PENDING_COLS,
    _RANGE_COLS,
    _RUNS_COLS,
    _TABLE_COLS,
    SQLCatalog,
)

# table -> (columns, order), parents before children. `files` in its rowid order: an engine's
# incremental reads follow the target's own order from here on.
TABLES: dict[str, tuple[str, str]] = {
    "databases": ("name, created_at", "name"),
    "tables": (_TABLE_COLS, "database, name"),
    "schema_versions": ("database, name, version, columns, created_at", "database, name, version"),
    "partitions": ("database, name, spec, location, created_at", "database, name, spec"),
    "files": (_FILE_COLS, "rowid"),
    "file_ranges": (_RANGE_COLS, "path, topic, kafka_partition"),
    "ledger": (_LEDGER_COLS, "topic, partition, first_offset"),
    "dlq_counts": ("topic, count", "topic"),
    "views": ("database, name, sql, created_at", "database, name"),
    "crawl_state": ("key, state", "key"),
    "topic_incarnations": ("topic, incarnation, topic_id, changed_at", "topic"),
    "offset_events": (_EVENT_COLS, "detected_at, topic, partition"),
    "maintenance_pending": (_PENDING_COLS, "path"),
    "maintenance_runs": (_RUNS_COLS, "database, name, kind"),
}


def copy_catalog(source: SQLCatalog, target: SQLCatalog, *, replace: bool = False) -> dict[str, int]:
    """Copy every row of `source` into `target` in one transaction; returns rows per table, as verified."""
    if source.where == target.where:
        raise CatalogError(f"catalog copy: {source.where} is both source and target", hint="name another --to")
    rows = source.read_tables(TABLES)
    counts = target.load_tables(TABLES, rows, replace=replace)
    # Counted again after the commit, on a fresh read: what a user checking by hand would count.
    again = target.count_rows(list(TABLES))
    if again != counts:
        raise CatalogError(f"catalog copy: {target.where} holds {again} after commit, wrote {counts}")
    return counts
