"""The SQLite catalog: Glue-shaped tables, the file list, and the exactly-once ledger."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from eventlake.catalog import Column, DataFile, LedgerEntry, Partition, Table, catalog_path
from eventlake.catalog.exceptions import CatalogError, LedgerConflict
from eventlake.catalog.sqlite import SQLiteCatalog
from eventlake.config import load_settings
from eventlake.types import TableRef

REF = TableRef("default", "stock_ticks")


def _table(columns: list[Column]) -> Table:
    return Table(
        "default",
        "stock_ticks",
        "/lake/stock_ticks",
        "parquet",
        columns,
        [Column("dt", "string"), Column("hour", "string")],
    )


def _entry(first: int, last: int, tag: str = "a", dlq: int = 0) -> LedgerEntry:
    f = DataFile(
        f"/lake/stock_ticks/dt=2024-01-01/hour=00/t+0+{first}-{tag}.parquet",
        {"dt": "2024-01-01", "hour": "00"},
        rows=last - first + 1 - dlq,
        bytes=100,
        topic="t",
        kafka_partition=0,
        first_offset=first,
        last_offset=last,
        max_event_time=1.0,
    )
    return LedgerEntry("t", 0, first, last, REF, [f], rows=f.rows, dlq=dlq)


@pytest.fixture
def store(tmp_path: Path) -> SQLiteCatalog:
    return SQLiteCatalog(tmp_path / "catalog.sqlite")


def test_schema_versions_bump_only_when_columns_change(store: SQLiteCatalog) -> None:
    t1 = store.upsert_table(_table([Column("symbol", "string")]))
    assert t1.schema_version == 1
    assert store.upsert_table(_table([Column("symbol", "string")])).schema_version == 1
    t2 = store.upsert_table(_table([Column("symbol", "string"), Column("price", "double")]))
    assert t2.schema_version == 2
    versions = store.schema_versions(REF)
    assert [v for v, _, _ in versions] == [1, 2]
    assert versions[0][1] == [Column("symbol", "string")]
    assert store.list_databases() == ["default"]


def test_ledger_accepts_only_the_next_range(store: SQLiteCatalog) -> None:
    store.upsert_table(_table([Column("symbol", "string")]))
    assert store.ledger_next_offset("t", 0) is None
    store.commit_flush(_entry(0, 99))
    assert store.ledger_next_offset("t", 0) == 100
    with pytest.raises(LedgerConflict):
        store.commit_flush(_entry(0, 49, tag="zombie"))  # a zombie replays landed offsets
    with pytest.raises(LedgerConflict):
        store.commit_flush(_entry(150, 199))  # a gap would lose 100..149
    store.commit_flush(_entry(100, 199, dlq=3))
    assert store.ledger_next_offset("t", 0) == 200
    assert store.dlq_count("t") == 3
    files = store.list_files(REF)
    assert [f.first_offset for f in files] == [0, 100]
    assert all("zombie" not in f.path for f in files)  # a rejected flush leaves nothing behind
    assert [p.values for p in store.list_partitions(REF)] == [{"dt": "2024-01-01", "hour": "00"}]
    assert store.list_partitions(REF)[0].location == "/lake/stock_ticks/dt=2024-01-01/hour=00"


def _race(path: str, tag: str, results: multiprocessing.Queue[str]) -> None:
    with SQLiteCatalog(path) as store:
        try:
            store.commit_flush(_entry(0, 999, tag=tag))
            results.put(tag)
        except LedgerConflict:
            results.put("conflict")


def test_two_processes_racing_for_the_same_range_one_wins(tmp_path: Path) -> None:
    path = str(tmp_path / "catalog.sqlite")
    with SQLiteCatalog(path) as store:
        store.upsert_table(_table([Column("symbol", "string")]))
    # Separate processes, each with its own connection; forked from one server that imported
    # this module once, instead of four interpreters each importing it again (~1 s apiece).
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    results: multiprocessing.Queue[str] = ctx.Queue()
    procs = [ctx.Process(target=_race, args=(path, f"w{i}", results)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    outcomes = sorted(results.get(timeout=5) for _ in procs)
    assert outcomes.count("conflict") == 3
    with SQLiteCatalog(path) as store:
        files = store.list_files(REF)
    assert len(files) == 1 and files[0].path.endswith(f"-{next(o for o in outcomes if o != 'conflict')}.parquet")


def test_replace_files_swaps_atomically(store: SQLiteCatalog) -> None:
    store.upsert_table(_table([Column("symbol", "string")]))
    store.commit_flush(_entry(0, 9))
    store.commit_flush(_entry(10, 19))
    old = [f.path for f in store.list_files(REF)]
    merged = DataFile(
        "/lake/stock_ticks/dt=2024-01-01/hour=00/t+0+0.merged.parquet",
        {"dt": "2024-01-01", "hour": "00"},
        rows=20,
        bytes=150,
        topic="t",
        kafka_partition=0,
        first_offset=0,
        last_offset=19,
    )
    store.replace_files(REF, old, [merged])
    assert [f.path for f in store.list_files(REF)] == [merged.path]
    with pytest.raises(CatalogError):
        store.replace_files(REF, old, [merged])  # a second compaction of the same inputs
    assert [f.rows for f in store.list_files(REF)] == [20]


def test_views_partitions_and_crawl_state(store: SQLiteCatalog) -> None:
    store.upsert_table(_table([Column("symbol", "string")]))
    part = Partition({"dt": "2024-01-02", "hour": "05"}, "/lake/stock_ticks/dt=2024-01-02/hour=05")
    assert store.add_partitions(REF, [part]) == 1
    assert store.add_partitions(REF, [part]) == 0
    store.save_view("latest", "SELECT 1")
    assert store.list_views() == [("default", "latest", "SELECT 1")]
    store.drop_view("latest")
    with pytest.raises(CatalogError):
        store.drop_view("latest")
    store.set_crawl_state("lake", {"seen": ["a"]})
    assert store.get_crawl_state("lake") == {"seen": ["a"]}


def test_catalog_lives_inside_a_local_lake(tmp_path: Path) -> None:
    s = load_settings(overrides={"lake": str(tmp_path / "lake")})
    assert catalog_path(s) == tmp_path / "lake" / "_eventlake" / "catalog.sqlite"
    s = load_settings(overrides={"lake": "s3://bucket/prefix", "catalog": f"sqlite://{tmp_path}/c.sqlite"})
    assert catalog_path(s) == tmp_path / "c.sqlite"


def _open_new(path: str, results: multiprocessing.Queue[str]) -> None:
    try:
        with SQLiteCatalog(path) as store:
            store.list_databases()
        results.put("ok")
    except CatalogError as exc:
        results.put(str(exc))


def test_many_openers_of_a_new_catalog_all_get_it_in_wal_mode(tmp_path: Path) -> None:
    """Sinks, readers and `maintain` starting together on a lake with no catalog yet: switching a
    new file to WAL can meet "database is locked" without SQLite's busy wait; every opener must
    still get the catalog."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    for round_ in range(5):
        path = str(tmp_path / f"c{round_}.sqlite")
        results: multiprocessing.Queue[str] = ctx.Queue()
        procs = [ctx.Process(target=_open_new, args=(path, results)) for _ in range(8)]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(60)
        assert outcomes == ["ok"] * 8, outcomes
        with sqlite3.connect(path) as con:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
