"""Compacting an open hour's older minutes: consecutive blocks per Kafka partition, lineage exact,
earlier pieces left alone, and the hour made one file once it closes."""

from __future__ import annotations

from pathlib import Path

from eventlake.catalog import DataFile, open_catalog
from eventlake.catalog.compact import is_compacted
from eventlake.catalog.maintain import maintain
from eventlake.lake import open_lake
from eventlake.query import connect
from tests.fixtures_query import TABLE, build_sunk_lake
from tests.unit.test_maintain import ALL_ROWS, LINEAGE, WATERMARKS, _cfg, _end, _on_disk


def _answers(settings: object) -> tuple[object, ...]:
    with connect(settings) as engine:  # type: ignore[arg-type]
        return engine.sql(ALL_ROWS, max_rows=0), engine.execute(LINEAGE).rows, engine.execute(WATERMARKS).rows


def test_open_hour_older_minutes_merge_in_blocks_then_the_closed_hour_is_one_file(tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=3000, flush_rows=40)
    rows, lineage, marks = _answers(lake.settings)
    cfg = _cfg(open_hour_minutes=5)
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

        # The next pass takes the next block (after the young file); the first piece is not rewritten.
        maintain(store, open_lake(lake.settings.lake), cfg, now=now)
        pieces = [f for f in open_hour() if is_compacted(f)]
        assert len(pieces) == 2 and piece in pieces
        assert [f.path for f in open_hour() if not is_compacted(f)] == [young.path]
        assert _answers(lake.settings) == (rows, lineage, marks)

        maintain(store, open_lake(lake.settings.lake), cfg, now=last_end + 11 * 60)  # closed now
        assert len(open_hour()) == 1
        assert _answers(lake.settings) == (rows, lineage, marks)
        assert _on_disk(lake.root) == {f.path for f in store.list_files(TABLE)}
