"""`catalog copy` between two SQLite files: every table, one transaction, a non-empty target refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventlake.catalog import Column, OffsetEvent
from eventlake.catalog.copy import TABLES, copy_catalog
from eventlake.catalog.exceptions import CatalogError
from eventlake.catalog.sqlite import SQLiteCatalog
from tests.unit.test_catalog_store import REF, _entry, _table


def _filled(path: Path) -> SQLiteCatalog:
    store = SQLiteCatalog(path)
    store.upsert_table(_table([Column("symbol", "string")]))
    store.upsert_table(_table([Column("symbol", "string"), Column("price", "double")]))
    store.commit_flush(_entry(0, 9))
    store.commit_flush(_entry(10, 19, tag="b", dlq=1))
    store.save_view("latest", "SELECT 1")
    store.set_crawl_state("lake", {"seen": ["a"]})
    store.set_incarnation("t", 0, "id", bump=True)
    store.record_offset_event(OffsetEvent("t", 0, "gap", 20, 29, 1, "skipped", "retention"))
    store.add_pending(REF, ["/lake/x.parquet"], "output", "me")
    store.record_maintenance(REF, "compact", 0.1, {})
    return store


def test_copy_moves_every_table_and_refuses_a_non_empty_target(tmp_path: Path) -> None:
    with _filled(tmp_path / "a.sqlite") as source, SQLiteCatalog(tmp_path / "b.sqlite") as target:
        counts = copy_catalog(source, target)
        assert counts == source.count_rows(list(TABLES))
        assert all(n for name, n in counts.items() if name != "file_ranges")  # no compaction ran here
        assert target.ledger_positions() == {("t", 0): 20} and target.dlq_count("t") == 1
        assert target.list_files(REF) == source.list_files(REF)
        assert target.schema_versions(REF) == source.schema_versions(REF)
        with pytest.raises(CatalogError, match="not empty"):
            copy_catalog(source, target)
        source.commit_flush(_entry(20, 29, tag="c"))
        copy_catalog(source, target, replace=True)
        assert target.ledger_positions() == {("t", 0): 30}
        with pytest.raises(CatalogError, match="both source and target"):
            copy_catalog(source, source)
