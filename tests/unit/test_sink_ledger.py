"""The commit protocol without Kafka: zombies lose and clean up, orphans are invisible and swept."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest

from eventlake.broker.dead_letters import DeadLetter
from eventlake.catalog import CatalogStore, LedgerEntry
from eventlake.catalog.compact import compact_partition, settle_pending
from eventlake.config.sink import SinkSettings
from eventlake.lake import Lake, open_lake
from eventlake.sink.ledger import Batch, flush_batch, sweep_orphans
from eventlake.sink.table import SinkTable
from eventlake.types import TableRef

TOPIC = "clicks"
REF = TableRef("default", "clicks")


def _no_dead_letters(dead: list[DeadLetter]) -> None:
    """Drops dead letters, for the tests that look at the files and the ledger only."""


def _batch(start: int | None, first: int, last: int) -> Batch:
    offsets = np.arange(first, last + 1, dtype=np.int64)
    return Batch(
        TOPIC,
        0,
        start,
        [orjson.dumps({"n": int(o)}) for o in offsets],
        offsets,
        np.full(len(offsets), 1_700_000_000_000, dtype=np.int64),
        [None] * len(offsets),
    )


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return open_lake(str(tmp_path / "lake"))


@pytest.fixture
def store(tmp_path: Path) -> CatalogStore:
    return CatalogStore(tmp_path / "catalog.sqlite")


def _writer(store: CatalogStore, lake: Lake) -> SinkTable:
    return SinkTable(store, lake, TOPIC, "default", "parquet", [])


def _landed(store: CatalogStore) -> list[int]:
    return sorted(n for f in store.list_files(REF) for n in pq.read_table(f.path).column("n").to_pylist())


def _on_disk(lake: Lake) -> set[str]:
    return {lake.uri(o.rel_path) for o in lake.list("clicks")}


def test_flushes_continue_the_ledger_and_files_carry_their_offsets(store: CatalogStore, lake: Lake) -> None:
    letters: list[DeadLetter] = []
    r1 = flush_batch(_batch(None, 0, 99), _writer(store, lake), store, lake, SinkSettings(), letters.extend)
    r2 = flush_batch(_batch(100, 100, 149), _writer(store, lake), store, lake, SinkSettings(), letters.extend)
    assert (r1.rows, r1.next_offset, r2.rows, r2.next_offset) == (100, 100, 50, 150)
    assert store.ledger_next_offset(TOPIC, 0) == 150
    assert _landed(store) == list(range(150))
    assert sorted(Path(f.path).name for f in store.list_files(REF)) == [
        "clicks+0+0+99.parquet",
        "clicks+0+100+149.parquet",
    ]
    assert letters == []


class RacedCatalog(CatalogStore):
    """A real catalog in which another writer records its flush just before ours is recorded:
    the window between our files landing and our ledger entry."""

    def __init__(self, path: Path, lake: Lake, owner_batch: Batch) -> None:
        super().__init__(path)
        self.lake = lake
        self.owner_batch: Batch | None = owner_batch

    def commit_flush(self, entry: LedgerEntry) -> None:
        if self.owner_batch is not None:
            batch, self.owner_batch = self.owner_batch, None
            assert self.path is not None  # a SQLite file here
            with CatalogStore(self.path) as other:  # the owner: another process, same catalog file
                flush_batch(batch, _writer(other, self.lake), other, self.lake, SinkSettings(), _no_dead_letters)
        super().commit_flush(entry)


@pytest.mark.parametrize("zombie_range", [(0, 149), (0, 99)], ids=["longer-range", "same-range"])
def test_a_zombie_whose_commit_conflicts_removes_its_own_files(
    tmp_path: Path, lake: Lake, zombie_range: tuple[int, int]
) -> None:
    # Both believe the partition is theirs from offset 0; the owner records 0..99 first.
    store = RacedCatalog(tmp_path / "catalog.sqlite", lake, owner_batch=_batch(None, 0, 99))
    lost = flush_batch(_batch(None, *zombie_range), _writer(store, lake), store, lake, SinkSettings(), _no_dead_letters)
    assert lost.conflict and lost.rows == 0
    assert store.ledger_next_offset(TOPIC, 0) == 100
    # Only recorded files remain; with the same range the zombie wrote the owner's very name and
    # rows, and must not delete that recorded file.
    assert _on_disk(lake) == {f.path for f in store.list_files(REF)}
    assert _landed(store) == list(range(100))


def test_a_zombie_that_sees_the_ledger_moved_writes_nothing(store: CatalogStore, lake: Lake) -> None:
    flush_batch(_batch(None, 0, 99), _writer(store, lake), store, lake, SinkSettings(), _no_dead_letters)
    before = _on_disk(lake)
    lost = flush_batch(_batch(0, 0, 149), _writer(store, lake), store, lake, SinkSettings(), _no_dead_letters)
    assert lost.conflict and lost.next_offset == 100
    assert _on_disk(lake) == before
    assert _landed(store) == list(range(100))


def test_orphan_files_are_invisible_and_swept_once_the_ledger_covers_them(store: CatalogStore, lake: Lake) -> None:
    flush_batch(_batch(None, 0, 9), _writer(store, lake), store, lake, SinkSettings(), _no_dead_letters)
    # A crash between writing and recording a flush of 10..24 leaves a file no ledger entry names.
    orphan = "clicks/dt=2023-11-14/hour=22/clicks+0+10+24.parquet"
    lake.write_atomic(orphan, b"PAR1 half a flush")
    lake.write_atomic("clicks/README.txt", b"not the sink's")
    assert _landed(store) == list(range(10))  # readers see only listed files
    # Its offsets are not landed yet: it stays (it might be the only copy a live writer is recording).
    early = sweep_orphans(store, lake, "clicks", TOPIC, older_than_s=0)
    assert early.deleted == [] and lake.exists(orphan)
    # The restarted sink lands 10..29 with other flush boundaries.
    flush_batch(_batch(10, 10, 19), _writer(store, lake), store, lake, SinkSettings(), _no_dead_letters)
    flush_batch(_batch(20, 20, 29), _writer(store, lake), store, lake, SinkSettings(), _no_dead_letters)
    young = sweep_orphans(store, lake, "clicks", TOPIC, older_than_s=3600)
    assert young.deleted == [] and young.kept == 1 and lake.exists(orphan)
    swept = sweep_orphans(store, lake, "clicks", TOPIC, older_than_s=3600, now=time.time() + 7200)
    assert swept.deleted == [orphan]
    assert _on_disk(lake) == {f.path for f in store.list_files(REF)} | {lake.uri("clicks/README.txt")}
    assert _landed(store) == list(range(30))


def test_files_a_compaction_retired_are_left_to_maintenance_for_the_readers_grace(
    store: CatalogStore, lake: Lake
) -> None:
    flush_batch(_batch(None, 0, 9), _writer(store, lake), store, lake, SinkSettings(), _no_dead_letters)
    flush_batch(_batch(10, 10, 19), _writer(store, lake), store, lake, SinkSettings(), _no_dead_letters)
    inputs = {f.path for f in store.list_files(REF)}
    (values,) = {tuple(sorted(f.partition.items())) for f in store.list_files(REF)}
    result = compact_partition(store, lake, REF, dict(values), owner="maintainer")
    assert sorted(result.retired) == sorted(inputs) and len(store.list_files(REF)) == 1
    # The retired inputs are unlisted and their offsets covered, like a crashed flush's file; a
    # query planned before the swap may still read them, so the sink's sweep must leave them.
    swept = sweep_orphans(store, lake, "clicks", TOPIC, older_than_s=0, now=time.time() + 7200)
    assert swept.deleted == [] and all(lake.exists(lake.rel(p)) for p in inputs)
    # Maintenance deletes them once the grace has passed.
    assert sorted(settle_pending(store, lake, grace_s=30, now=time.time() + 60)) == sorted(inputs)
    assert _on_disk(lake) == {f.path for f in store.list_files(REF)}
    assert _landed(store) == list(range(20))


def test_bad_records_are_counted_in_the_ledger_and_handed_to_the_dlq(store: CatalogStore, lake: Lake) -> None:
    batch = _batch(None, 0, 5)
    batch.values[2] = b"oops"
    batch.values[4] = b"[1]"
    letters: list[DeadLetter] = []
    r = flush_batch(batch, _writer(store, lake), store, lake, SinkSettings(), letters.extend)
    assert (r.rows, r.dlq, r.next_offset) == (4, 2, 6)
    assert [(d.offset, d.value) for d in letters] == [(2, b"oops"), (4, b"[1]")]
    assert store.dlq_count(TOPIC) == 2
    assert _landed(store) == [0, 1, 3, 5]


def test_a_flush_over_many_hours_writes_capped_consecutive_ledger_entries(store: CatalogStore, lake: Lake) -> None:
    offsets = np.arange(0, 300, dtype=np.int64)
    hour_ms = 3_600_000
    stamps = 1_700_000_000_000 + (offsets // 10) * hour_ms  # 30 hours, time-ordered
    batch = Batch(TOPIC, 0, None, [orjson.dumps({"n": int(o)}) for o in offsets], offsets, stamps, [None] * 300)
    r = flush_batch(batch, _writer(store, lake), store, lake, SinkSettings(max_files_per_flush=8), _no_dead_letters)
    assert r.rows == 300 and len(r.files) == 30 and r.next_offset == 300
    entries = sorted((e.first_offset, e.last_offset) for e in store.ledger(TOPIC))
    assert entries == [(0, 79), (80, 159), (160, 239), (240, 299)]
    assert _landed(store) == list(range(300))


def test_local_lake_writes_atomically_lists_and_deletes(lake: Lake) -> None:
    size = lake.write_atomic("t/dt=2024-01-01/a.bin", b"hello")
    assert size == 5 and lake.read_bytes("t/dt=2024-01-01/a.bin") == b"hello"
    assert [o.rel_path for o in lake.list("t")] == ["t/dt=2024-01-01/a.bin"]
    assert lake.list("_tmp") == []  # nothing left behind
    lake.delete("t/dt=2024-01-01/a.bin")
    lake.delete("t/dt=2024-01-01/a.bin")  # twice is fine
    assert lake.list("t") == []
    assert lake.rel(lake.uri("t/x")) == "t/x"


def test_sinks_of_one_group_keep_each_others_new_columns(store: CatalogStore, lake: Lake) -> None:
    a, b = _writer(store, lake), _writer(store, lake)
    flush_batch(_batch(None, 0, 4), a, store, lake, SinkSettings(), _no_dead_letters)
    extra = _batch(None, 0, 1)
    extra.values[:] = [b'{"n": 100, "extra": "from b"}', b'{"n": 101, "extra": "from b"}']
    extra = Batch(TOPIC, 1, None, extra.values, extra.offsets, extra.timestamps, extra.keys)
    flush_batch(extra, b, store, lake, SinkSettings(), _no_dead_letters)
    # a has not seen `extra`; its next batch brings a field of its own
    other = _batch(5, 5, 6)
    other.values[:] = [b'{"n": 5, "other": 1.5}', b'{"n": 6}']
    r = flush_batch(other, a, store, lake, SinkSettings(), _no_dead_letters)
    assert r.rows == 2 and not r.conflict
    table = store.get_table(REF)
    assert table is not None
    assert [c.name for c in table.columns if not c.name.startswith("_")] == ["n", "extra", "other"]
    assert _landed(store) == [0, 1, 2, 3, 4, 5, 6, 100, 101]
