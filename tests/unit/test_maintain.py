"""Automatic maintenance: closed hours compacted with lineage intact, retention exact, kills harmless."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eventlake.catalog import LedgerEntry, open_catalog
from eventlake.catalog.exceptions import LedgerConflict
from eventlake.catalog.maintain import hour_end, maintain
from eventlake.config.maintenance import MaintenanceSettings
from eventlake.lake import open_lake
from eventlake.query import connect
from tests.fixtures_query import TABLE, TOPIC, build_sunk_lake, write_flush

ALL_ROWS = "SELECT symbol, price, volume, ts, dt, hour FROM stock_ticks ORDER BY ts, symbol, volume, price"
LINEAGE = (
    "SELECT partition, min(first_offset), max(last_offset), sum(rows), sum(bytes) > 0 FROM eventlake.files "
    "GROUP BY partition ORDER BY partition"
)
WATERMARKS = "SELECT partition, landed_offset, max_event_time, watermark, rows FROM eventlake.watermarks ORDER BY 1"


def _end(values: dict[str, str]) -> float:
    end = hour_end(values)
    assert end is not None, values
    return end


def _cfg(**kw: object) -> MaintenanceSettings:
    return MaintenanceSettings.model_validate({"grace_s": 0.0, **kw})


def _on_disk(root: Path) -> set[str]:
    return {str(p) for p in (root / "stock_ticks").rglob("*.parquet")}


def test_closed_hours_become_one_file_each_with_lineage_and_answers_unchanged(tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=3000, flush_rows=40)
    with connect(lake.settings) as engine:
        rows_before = engine.sql(ALL_ROWS, max_rows=0)
        lineage_before = engine.execute(LINEAGE).rows
        marks_before = engine.execute(WATERMARKS).rows
    with open_catalog(lake.settings) as store:
        before = store.list_files(TABLE)
        hours = {tuple(f.partition.items()) for f in before}
        report = maintain(store, open_lake(lake.settings.lake), _cfg())
        after = store.list_files(TABLE)
        runs = store.maintenance_runs()
    assert len(before) > 10 * len(hours)
    assert sorted(tuple(f.partition.items()) for f in after) == sorted(hours)  # one file per hour
    [t] = report.tables
    assert t.files_merged == len(before) and t.partitions_compacted == len(hours)
    # Several Kafka partitions in one file: their ranges are kept, and nothing is left on disk but the new files.
    assert all(len(f.ranges) == 3 for f in after)
    assert _on_disk(lake.root) == {f.path for f in after}
    assert {r["kind"] for r in runs} >= {"compact", "pass"}
    with connect(lake.settings) as engine:
        assert engine.sql(ALL_ROWS, max_rows=0).equals(rows_before)
        assert engine.execute(LINEAGE).rows == lineage_before
        assert engine.execute(WATERMARKS).rows == marks_before


def test_an_open_hour_waits_and_late_events_in_a_closed_hour_are_merged_again(tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=1500, flush_rows=50)
    lk = open_lake(lake.settings.lake)
    with open_catalog(lake.settings) as store:
        parts = sorted({tuple(f.partition.items()) for f in store.list_files(TABLE)})
        last = dict(parts[-1])
        now = _end(last) + 5 * 60  # the last hour ended 5 minutes ago: not closed yet (10 by default)
        maintain(store, lk, _cfg(), now=now)
        files = store.list_files(TABLE)
        assert len([f for f in files if f.partition == last]) > 1
        assert all(len([f for f in files if f.partition == dict(p)]) == 1 for p in parts[:-1])
        # A late flush into the first (closed, compacted) hour: the next pass merges it in.
        late = lake.source.iloc[:7].copy()
        late["ts"] = late["ts"].min()
        late["offset"] = range(10_000, 10_007)
        new = write_flush(lake.root, late, 0, 10_000, 10_006)
        next_offset = store.ledger_next_offset(TOPIC, 0)
        store.commit_flush(LedgerEntry(TOPIC, 0, next_offset or 0, 10_006, TABLE, new, 7))
        first = dict(parts[0])
        assert len(store.list_partition_files(TABLE, first)) == 2
        maintain(store, lk, _cfg(), now=now + 3600)
        [merged] = store.list_partition_files(TABLE, first)
    with connect(lake.settings) as engine:
        assert engine.execute("SELECT count(*) FROM stock_ticks").rows == [(1507,)]
    assert {(r.partition, r.last_offset) for r in merged.ranges} >= {(0, 10_006)}


def test_retention_drops_exactly_the_expired_partitions_from_disk_and_catalog(tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=3000, flush_rows=100)
    lk = open_lake(lake.settings.lake)
    with open_catalog(lake.settings) as store:
        parts = sorted({tuple(f.partition.items()) for f in store.list_files(TABLE)})
        cut = dict(parts[2])  # keep 1 day after each hour's end: partitions 0..2 expire, the rest stay
        now = _end(cut) + 86400 + 1
        # closed_after 0: these files were written a moment ago, which otherwise defers dropping them
        cfg = _cfg(table_retention={"stock_ticks": "1d"}, closed_after_minutes=0)
        report = maintain(store, lk, cfg, now=now)
        kept = {tuple(p.values.items()) for p in store.list_partitions(TABLE)}
        files = store.list_files(TABLE)
    assert report.tables[0].partitions_dropped == 3
    assert kept == set(parts[3:])
    assert {tuple(f.partition.items()) for f in files} == set(parts[3:])
    assert _on_disk(lake.root) == {f.path for f in files}
    src = lake.source
    alive = src[src["ts"].astype("int64") / 1e6 >= hour_end(cut)]
    with connect(lake.settings) as engine:
        assert engine.execute("SELECT count(*), sum(volume) FROM stock_ticks").rows == [
            (len(alive), int(alive["volume"].sum()))
        ]


def test_retention_keeps_a_partition_that_holds_an_unrecorded_file(tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=600, flush_rows=100)
    with open_catalog(lake.settings) as store:
        parts = sorted({tuple(f.partition.items()) for f in store.list_files(TABLE)})
        first = dict(parts[0])
        folder = Path(store.list_partition_files(TABLE, first)[0].path).parent
        pending = folder / f"{TOPIC}+0+900+950.parquet"  # a flush written, its ledger entry not yet recorded
        pq.write_table(pa.table({"volume": [1]}), pending)
        report = maintain(store, open_lake(lake.settings.lake), _cfg(retention="1h", closed_after_minutes=0))
        left = {tuple(p.values.items()) for p in store.list_partitions(TABLE)}
    assert left == {parts[0]} and pending.exists()
    assert any("unrecorded" in s for s in report.tables[0].skipped)


def test_old_ledger_entries_are_rolled_up_per_hour_and_the_chain_goes_on(tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=900, flush_rows=30)
    with open_catalog(lake.settings) as store:
        entries = store.ledger()
        # As if landed two days ago, one flush every 10 s.
        store._conn.execute("UPDATE ledger SET committed_at = ? - 2 * 86400 + first_offset", (time.time(),))
        positions = store.ledger_positions()
        summary = {(r["topic"], r["partition"]): r["rows"] for r in store.ledger_summary(0)}
        report = maintain(store, open_lake(lake.settings.lake), _cfg())
        after = store.ledger()
        assert report.ledger_rolled_up == len(entries) - len(after) > 0
        assert store.ledger_positions() == positions
        assert {(r["topic"], r["partition"]): r["rows"] for r in store.ledger_summary(0)} == summary
        # The exactly-once chain continues after the rollup, and still refuses a replay.
        nxt = positions[(TOPIC, 0)]
        new = write_flush(lake.root, lake.source.iloc[:3].assign(offset=range(nxt, nxt + 3)), 0, nxt, nxt + 2)
        store.commit_flush(LedgerEntry(TOPIC, 0, nxt, nxt + 2, TABLE, new, 3))
        with pytest.raises(LedgerConflict):
            store.commit_flush(LedgerEntry(TOPIC, 0, nxt, nxt + 2, TABLE, new, 3))
