"""Compacting an open hour's older minutes: consecutive blocks per Kafka partition, lineage exact,
earlier pieces left alone, and the hour made one file once it closes."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pandas as pd

from eventlake.catalog import CatalogStore, DataFile, open_catalog
from eventlake.catalog.compact import compact_partition, contiguous, is_compacted, new_owner, tier
from eventlake.catalog.maintain import maintain
from eventlake.lake import open_lake
from eventlake.query import connect
from tests.fixtures_query import TABLE, SunkLake, build_sunk_lake
from tests.unit.test_maintain import ALL_ROWS, LINEAGE, WATERMARKS, _cfg, _end, _on_disk


def _answers(settings: object) -> tuple[object, ...]:
    with connect(settings) as engine:  # type: ignore[arg-type]
        return engine.sql(ALL_ROWS, max_rows=0), engine.execute(LINEAGE).rows, engine.execute(WATERMARKS).rows


def test_open_hour_older_minutes_merge_in_blocks_then_the_closed_hour_is_one_file(tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=3000, flush_rows=40)
    rows, lineage, marks = _answers(lake.settings)
    cfg = _cfg(open_hour_seconds=300)
    with open_catalog(lake.settings) as store:
        files = store.list_files(TABLE)
        last_end = max(_end(f.partition) for f in files)
        now = last_end - 60  # the newest hour is still open
        newest = [f for f in files if _end(f.partition) == last_end and f.kafka_partition == 0]
        p0 = sorted(newest, key=lambda f: f.first_offset or 0)
        assert len(p0) >= 4
        young = p0[len(p0) // 2]
        # Every file written an hour ago but one in the middle of partition 0's offsets (just now).
        store._conn.execute("UPDATE files SET created_at = created_at - 3600 WHERE path <> ?", (young.path,))

        def open_hour() -> list[DataFile]:
            return [f for f in store.list_files(TABLE) if _end(f.partition) == last_end]

        maintain(store, open_lake(lake.settings.lake), cfg, now=now)
        [piece] = [f for f in open_hour() if is_compacted(f)]
        # Partition 0's block stops before the young file; the files after it wait with it.
        assert sorted(f.path for f in open_hour() if not is_compacted(f)) == sorted(f.path for f in p0[len(p0) // 2 :])
        r0 = next(r for r in piece.lineage() if r.partition == 0)
        assert (r0.first_offset, r0.last_offset) == (p0[0].first_offset, p0[len(p0) // 2 - 1].last_offset)
        assert _answers(lake.settings) == (rows, lineage, marks)
        assert _on_disk(lake.root) == {f.path for f in store.list_files(TABLE)}

        # Still young: the files after it wait with it, and the piece is not rewritten.
        maintain(store, open_lake(lake.settings.lake), cfg, now=now)
        assert [f for f in open_hour() if is_compacted(f)] == [piece]
        # Old enough now: the next pass takes the next block, from the young file on.
        store._conn.execute("UPDATE files SET created_at = created_at - 3600 WHERE path = ?", (young.path,))
        maintain(store, open_lake(lake.settings.lake), cfg, now=now)
        pieces = [f for f in open_hour() if is_compacted(f)]
        assert len(pieces) == 2 and piece in pieces
        assert [f for f in open_hour() if not is_compacted(f)] == []
        assert _answers(lake.settings) == (rows, lineage, marks)

        maintain(store, open_lake(lake.settings.lake), cfg, now=last_end + 11 * 60)  # closed now
        assert len(open_hour()) == 1
        assert _answers(lake.settings) == (rows, lineage, marks)
        assert _on_disk(lake.root) == {f.path for f in store.list_files(TABLE)}


def _open_hour_lake(tmp_path: Path) -> SunkLake:
    """75 sink files over 3 Kafka partitions, all in the hour to come (open whatever the clock says)."""
    start = (int(time.time()) // 3600 + 1) * 3600
    return build_sunk_lake(
        tmp_path / "lake", rows=3000, flush_rows=40, start=pd.Timestamp(start, unit="s"), span_s=3599
    )


def _age(store: CatalogStore, partitions: tuple[int, ...], block: int, per_block: int = 2) -> None:
    """The `block`-th stretch of `per_block` sink files of each of `partitions` becomes an hour old; the
    rest of the sink files stay young, written 'later' (created_at in the future)."""
    if block == 0:
        store._conn.execute("UPDATE files SET created_at = ?", (time.time() + 3600,))
    files = store.list_files(TABLE)
    for p in partitions:
        chain = sorted((f for f in files if f.kafka_partition == p and tier(f) == 0), key=lambda f: f.first_offset or 0)
        old = [f.path for f in chain if (f.created_at or 0) < time.time()]
        for f in chain[len(old) : len(old) + per_block]:
            store._conn.execute("UPDATE files SET created_at = ? WHERE path = ?", (time.time() - 3600, f.path))


def _lineage_once(lake: SunkLake, files: list[DataFile]) -> None:
    """Per Kafka partition, the files' ranges cover every offset exactly once, rows included."""
    for p, events in lake.source.groupby("kafka_partition"):
        ranges = sorted((r.first_offset, r.last_offset, r.rows) for f in files for r in f.lineage() if r.partition == p)
        assert ranges[0][0] == 0 and ranges[-1][1] == len(events) - 1
        assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(ranges)), ranges
        assert sum(r[2] for r in ranges) == len(events)


def test_open_hour_pieces_merge_in_tiers_so_a_live_query_reads_few_files(tmp_path: Path) -> None:
    lake = _open_hour_lake(tmp_path)
    expected = _answers(lake.settings)
    cfg = _cfg(open_hour_seconds=60, open_hour_fanout=3)
    with open_catalog(lake.settings) as store:
        for block in range(11):  # eleven pieces' worth of sink files, one block aging per pass
            _age(store, (0, 1, 2), block)
            maintain(store, open_lake(lake.settings.lake), cfg)
            files = store.list_files(TABLE)
            tiers = sorted((tier(f) or 0 for f in files if is_compacted(f)), reverse=True)
            # Like a counter in base 3: 11 blocks = 102 -> one tier-3 piece and two of tier 1.
            digits, n = [], block + 1
            for t in range(1, 5):
                digits += [t] * (n % 3)
                n //= 3
            assert tiers == sorted(digits, reverse=True), (block, tiers)
            _lineage_once(lake, files)
            if block in (2, 8, 10):  # after each cascade: one tier, two, three
                assert _answers(lake.settings) == expected
            assert _on_disk(lake.root) == {f.path for f in files}
        # A tier-3 piece holds 9 blocks of 6 sink files: each row in it was rewritten 3 times, not 9.
        assert len([f for f in files if not is_compacted(f)]) == 75 - 11 * 6


def test_pieces_missing_a_kafka_partition_are_never_merged_across(tmp_path: Path) -> None:
    lake = _open_hour_lake(tmp_path)
    expected = _answers(lake.settings)
    cfg = _cfg(open_hour_seconds=60, open_hour_fanout=64)
    with open_catalog(lake.settings) as store:
        # Kafka partition 0 is idle while the second piece is made: that piece starts at partition 1.
        for block, partitions in enumerate([(0, 1, 2), (1, 2), (0, 1, 2)]):
            _age(store, partitions, block)
            maintain(store, open_lake(lake.settings.lake), cfg)
        files = store.list_files(TABLE)
        p1, p2, p3 = sorted((f for f in files if is_compacted(f)), key=lambda f: f.lineage()[-1].first_offset)
        assert {r.partition for r in p2.lineage()} == {1, 2}
        # Merging the first and third piece alone would claim the second's offsets of partitions 1 and 2.
        assert not contiguous([p1, p3], files) and contiguous([p1, p2, p3], files)
        # Compacting with a tiny target cuts the hour into many runs: each stays consecutive per partition.
        result = compact_partition(
            store, open_lake(lake.settings.lake), TABLE, p1.partition, owner=new_owner(), target_bytes=3 * p2.bytes
        )
        assert len(result.retired) > 3 and not result.skipped
        files = store.list_files(TABLE)
        _lineage_once(lake, files)
    assert _answers(lake.settings) == expected
