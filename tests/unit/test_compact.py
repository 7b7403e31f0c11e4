"""Compaction: fewer files, identical answers, exact lineage, and no reader ever sees a gap or a double."""

from __future__ import annotations

import threading
from pathlib import Path

from eventlake.catalog import open_catalog
from eventlake.catalog.compact import compact_table
from eventlake.query import connect
from tests.fixtures_query import TABLE, build_sunk_lake

ALL_ROWS = "SELECT symbol, price, volume, ts, dt, hour FROM stock_ticks ORDER BY ts, symbol, volume, price"
LINEAGE = (
    "SELECT partition, min(first_offset), max(last_offset), sum(rows) FROM eventlake.files "
    "GROUP BY partition ORDER BY partition"
)


def test_compaction_keeps_results_and_lineage_and_reduces_files(tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=3000, flush_rows=100)
    with connect(lake.settings) as engine:
        rows_before = engine.sql(ALL_ROWS, max_rows=0)
        lineage_before = engine.execute(LINEAGE).rows
    with open_catalog(lake.settings) as store:
        old_files = store.list_files(TABLE)
        groups = {tuple(f.partition.items()) for f in old_files}

    summary = compact_table(lake.settings, "stock_ticks", grace_s=0)

    assert summary.files_before == len(old_files) > len(groups)
    assert summary.files_after == len(groups)  # one file per hour, whatever the Kafka partitions
    assert summary.rows == 3000
    with open_catalog(lake.settings) as store:
        new_files = store.list_files(TABLE)
    assert len(new_files) == len(groups)
    assert all(not Path(f.path).exists() for f in old_files)
    assert all(Path(f.path).exists() for f in new_files)
    with connect(lake.settings) as engine:
        assert engine.sql(ALL_ROWS, max_rows=0).equals(rows_before)
        assert engine.execute(LINEAGE).rows == lineage_before
        # Each merged file spans exactly the offsets of the events it holds.
        spans = engine.execute("SELECT f.partition, f.first_offset, f.last_offset, f.rows FROM eventlake.files f").rows
    for kafka_partition, first, last, rows in spans:
        events = lake.source[
            (lake.source["kafka_partition"] == kafka_partition)
            & (lake.source["offset"] >= first)
            & (lake.source["offset"] <= last)
        ]
        assert events["offset"].min() == first and events["offset"].max() == last
        assert rows <= len(events)


def test_compacting_one_partition_leaves_the_others(tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=1200, flush_rows=100)
    with open_catalog(lake.settings) as store:
        before = store.list_files(TABLE)
    target = {"dt": "2024-01-02", "hour": "01"}
    summary = compact_table(lake.settings, "default.stock_ticks", "dt=2024-01-02/hour=01", grace_s=0)
    with open_catalog(lake.settings) as store:
        after = store.list_files(TABLE)
    others_before = sorted(f.path for f in before if f.partition != target)
    assert sorted(f.path for f in after if f.partition != target) == others_before
    assert len([f for f in after if f.partition == target]) == 1 == summary.files_after
    assert summary.partitions_compacted == 1


def test_readers_during_compaction_never_see_rows_twice_or_missing(tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=3000, flush_rows=50)
    answers: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        with connect(lake.settings) as engine:
            while not done.is_set() or len(answers) < 3:
                try:
                    count, volume = engine.execute("SELECT count(*), sum(volume) FROM stock_ticks").rows[0]
                    answers.append((count, int(volume)))
                except BaseException as exc:
                    errors.append(exc)
                    return

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        compact_table(lake.settings, "stock_ticks")
    finally:
        done.set()
        thread.join(60)
    assert errors == []
    assert answers and set(answers) == {(3000, int(lake.source["volume"].sum()))}
