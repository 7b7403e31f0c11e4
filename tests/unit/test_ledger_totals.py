"""The ledger's per-partition totals (catalog migration 4): what `status`, resume offsets and the
chain check read must equal what the ledger's entries add up to, after every kind of change."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from eventlake.catalog import DataFile, LedgerEntry, Table, migrations
from eventlake.catalog.exceptions import LedgerConflict
from eventlake.catalog.sqlite import SQLiteCatalog
from eventlake.catalog.store import CatalogStore
from eventlake.types import TableRef
from tests.unit.test_catalog_store import _table
from tests.unit.test_catalog_versions import _old_lake

REF = TableRef("default", "stock_ticks")
OTHER = TableRef("default", "quotes")
FIGURES = ("next_offset", "rows", "bytes", "dlq", "recent_rows", "last_commit", "max_event_time", "table")


@pytest.fixture
def store(tmp_path: Path) -> SQLiteCatalog:
    return SQLiteCatalog(tmp_path / "catalog.sqlite")


def _flush(
    topic: str, part: int, first: int, last: int, at: float, *, dlq: int = 0, event: float | None = 1.0
) -> LedgerEntry:
    ref = OTHER if topic == "q" else REF
    f = DataFile(
        f"/lake/{ref.name}/dt=2024-01-01/hour=00/{topic}+{part}+{first}+{last}.parquet",
        {"dt": "2024-01-01", "hour": "00"},
        rows=last - first + 1 - dlq,
        bytes=10 * (last - first + 1),
        topic=topic,
        kafka_partition=part,
        first_offset=first,
        last_offset=last,
        max_event_time=event,
    )
    return LedgerEntry(topic, part, first, last, ref, [f], rows=f.rows, dlq=dlq, max_event_time=event, committed_at=at)


def _summed(store: CatalogStore, recent_since: float) -> dict[tuple[str, int], dict[str, Any]]:
    """What a user adding up `eventlake ledger`'s entries by hand gets."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    entries = sorted(store.ledger(), key=lambda e: e.last_offset)
    for e in entries:
        s = out.setdefault(
            (e.topic, e.partition),
            {"next_offset": 0, "rows": 0, "bytes": 0, "dlq": 0, "recent_rows": 0, "last_commit": 0.0},
        )
        s["next_offset"] = max(s["next_offset"], e.last_offset + 1)
        s["rows"] += e.rows
        s["bytes"] += e.bytes
        s["dlq"] += e.dlq
        s["recent_rows"] += e.rows if (e.committed_at or 0) >= recent_since else 0
        s["last_commit"] = max(s["last_commit"], e.committed_at or 0)
        times = [x for x in (s.get("max_event_time"), e.max_event_time) if x is not None]
        s["max_event_time"] = max(times) if times else None
        s["table"] = str(e.table)  # the newest entry's table
    return out


def _shown(store: CatalogStore, recent_since: float) -> dict[tuple[str, int], dict[str, Any]]:
    return {(r["topic"], r["partition"]): {k: r[k] for k in FIGURES} for r in store.ledger_summary(recent_since)}


def _agree(store: CatalogStore, recent_since: float = 0.0) -> None:
    summed = _summed(store, recent_since)
    assert _shown(store, recent_since) == summed
    assert store.ledger_positions() == {k: v["next_offset"] for k, v in summed.items()}
    for (topic, part), v in summed.items():
        assert store.ledger_next_offset(topic, part) == v["next_offset"]


def test_totals_follow_flushes_rollups_and_edits_and_the_chain_holds(store: CatalogStore) -> None:
    store.upsert_table(_table([]))
    store.upsert_table(Table("default", "quotes", "/lake/quotes", "parquet", [], []))
    now = time.time()
    old = now - 2 * 86400
    nxt: dict[tuple[str, int], int] = {}
    for i in range(60):  # three partitions interleaved, an hour's flushes two days ago, some bad records
        key = [("t", 0), ("t", 1), ("q", 0)][i % 3]
        first = nxt.get(key, 0)
        size = 3 + i % 4
        event = None if i % 7 == 0 else old + i
        store.commit_flush(_flush(*key, first, first + size - 1, old + 60 * i, dlq=int(i % 5 == 0), event=event))
        nxt[key] = first + size
    _agree(store)
    _agree(store, recent_since=old + 60 * 30)

    gone = store.rollup_ledger(now - 300)
    assert gone > 0 and len(store.ledger()) < 60
    _agree(store)

    # Fresh flushes after the rollup: the chain goes on from the totals' next offset only.
    first = nxt[("t", 0)]
    store.commit_flush(_flush("t", 0, first, first + 4, now))
    for wrong in (first, first + 4, first + 9):  # a replay, an overlap, a gap
        with pytest.raises(LedgerConflict):
            store.commit_flush(_flush("t", 0, wrong, wrong + 2, now))
    _agree(store, recent_since=now - 60)

    # Edits by hand or by an older tool (an update, then deleting a partition's whole history as
    # `catalog copy --force` does): the totals still say what the entries add up to.
    store._conn.execute("UPDATE ledger SET committed_at = committed_at + 5, rows = rows + 1 WHERE topic = 't'")
    _agree(store, recent_since=now - 60)
    store._conn.execute("DELETE FROM ledger WHERE topic = 't' AND partition = 1 AND first_offset > 0")
    _agree(store)
    store._conn.execute("DELETE FROM ledger WHERE topic = 'q'")
    _agree(store)
    assert store.ledger_next_offset("q", 0) is None
    store.commit_flush(_flush("q", 0, 0, 2, now))  # a partition with no entry starts anywhere again
    _agree(store)


def test_an_old_catalog_gets_totals_equal_to_its_ledger(tmp_path: Path) -> None:
    lake = _old_lake(tmp_path)
    path = lake / "_eventlake" / "catalog.sqlite"
    with SQLiteCatalog(path) as store:
        assert store.ledger()  # the fixture has history to sum up
        _agree(store)
        assert migrations.LATEST >= 4
