"""The Iceberg commit protocol on real files: a zombie's commit is refused and leaves nothing behind;
schema evolution by Iceberg's rules (new optional columns; a change Iceberg does not allow goes to the DLQ)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from eventlake.catalog import CatalogStore
from eventlake.config import load_settings
from eventlake.sink.iceberg_commit import record_iceberg_gap, recorded_offsets
from tests.iceberg_writer import IcebergWriter

TOPIC = "orders"


def Landing(lake_dir: Path, store: CatalogStore, partition_by: tuple[str, ...] = ()) -> IcebergWriter:
    """One sink's view of the topic's Iceberg table (each call is a separate writer)."""
    return IcebergWriter(load_settings(overrides={"lake": str(lake_dir)}), store, TOPIC, partition_by)


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def store(lake_dir: Path) -> Any:
    with CatalogStore(lake_dir / "_eventlake" / "catalog.sqlite") as s:
        yield s


def _data_files(lake_dir: Path) -> set[str]:
    return {str(p) for p in lake_dir.rglob("data/**/*.parquet")}


def test_a_zombie_commit_is_refused_and_leaves_no_data_file(lake_dir: Path, store: CatalogStore) -> None:
    old, new = Landing(lake_dir, store), Landing(lake_dir, store)
    assert not old.flush(0, None, 0, [{"id": i} for i in range(10)]).conflict
    # The partition moved to `new`, which lands 10..19; `old` (a zombie) still holds 10..14.
    assert not new.flush(0, 10, 10, [{"id": i} for i in range(10, 20)]).conflict
    before = _data_files(lake_dir)
    zombie = old.flush(0, 10, 10, [{"id": -i} for i in range(10, 15)])
    assert zombie.conflict and zombie.next_offset == 20
    # A replay of landed offsets from the very start is refused the same way.
    assert old.flush(0, None, 0, [{"id": 0}]).conflict
    assert old.flush(0, 0, 0, [{"id": 0}]).conflict
    table = new.ice.refresh()
    assert table is not None
    rows = table.scan().to_arrow()
    assert sorted(rows["_offset"].to_pylist()) == list(range(20))
    assert sorted(rows["id"].to_pylist()) == list(range(20))
    assert recorded_offsets(table) == {(TOPIC, 0): 20}
    referenced = {t.file.file_path.removeprefix("file://") for t in table.scan().plan_files()}
    assert _data_files(lake_dir) == before == referenced


def test_a_zombie_that_wrote_its_files_before_losing_the_race_deletes_them(lake_dir: Path, store: CatalogStore) -> None:
    """Both writers pass the early look; the one that commits second is refused at the commit."""
    a, b = Landing(lake_dir, store), Landing(lake_dir, store)
    assert not a.flush(1, None, 0, [{"id": 1}]).conflict
    a.ice.refresh()
    b.ice.refresh()
    assert not b.flush(1, 1, 1, [{"id": 2}, {"id": 3}]).conflict
    lost = a.flush(1, 1, 1, [{"id": 99}])
    assert lost.conflict
    table = a.ice.refresh()
    assert table is not None
    assert sorted(table.scan().to_arrow()["id"].to_pylist()) == [1, 2, 3]
    referenced = {t.file.file_path.removeprefix("file://") for t in table.scan().plan_files()}
    assert _data_files(lake_dir) == referenced


def test_partitions_commit_side_by_side(lake_dir: Path, store: CatalogStore) -> None:
    a, b = Landing(lake_dir, store), Landing(lake_dir, store)
    for i in range(3):
        assert not a.flush(0, i * 2 or None, i * 2, [{"p": 0, "n": i}, {"p": 0, "n": i}]).conflict
        assert not b.flush(1, i or None, i, [{"p": 1, "n": i}]).conflict
    table = a.ice.refresh()
    assert table is not None
    assert recorded_offsets(table) == {(TOPIC, 0): 6, (TOPIC, 1): 3}
    assert table.scan().to_arrow().num_rows == 9


def test_concurrent_sinks_on_different_partitions_retry_and_all_land(lake_dir: Path, store: CatalogStore) -> None:
    """Four writers (threads, each its own catalog connection) commit to one table at once: the
    losers of each compare-and-swap refresh and retry; every batch lands, every offset is recorded."""
    Landing(lake_dir, store).flush(9, None, 0, [{"n": 0}])  # the table exists before the race
    writers = [Landing(lake_dir, store) for _ in range(4)]
    errors: list[BaseException] = []

    def run(p: int) -> None:
        try:
            for i in range(8):
                res = writers[p].flush(p, i * 5 or None, i * 5, [{"n": i, "p": p}] * 5)
                assert not res.conflict
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:1]
    table = writers[0].ice.refresh()
    assert table is not None
    assert recorded_offsets(table) == {(TOPIC, 9): 1, **{(TOPIC, p): 40 for p in range(4)}}
    rows = table.scan().to_arrow()
    assert rows.num_rows == 1 + 4 * 40
    assert len(set(zip(rows["_partition"].to_pylist(), rows["_offset"].to_pylist(), strict=True))) == rows.num_rows
    referenced = {t.file.file_path.removeprefix("file://") for t in table.scan().plan_files()}
    assert _data_files(lake_dir) == referenced  # a lost compare-and-swap re-commits the same files


def test_schema_evolves_by_iceberg_rules(lake_dir: Path, store: CatalogStore) -> None:
    w = Landing(lake_dir, store)
    w.flush(0, None, 0, [{"id": 1, "price": 1.5, "qty": 3, "later": None}])
    # A new field: a new optional column; older rows read it as null.
    w.flush(0, 1, 1, [{"id": 2, "price": 2, "qty": 4, "note": "new", "later": 7}])
    # qty was an integer (Iceberg long): a fraction is a change Iceberg does not allow (long to double);
    # that record goes to the DLQ with the reason, the others land. price was a double: 2 lands as 2.0.
    res = w.flush(0, 2, 2, [{"id": 3, "price": 3, "qty": 5}, {"id": 4, "price": 4.25, "qty": 6.5}])
    assert res.rows == 1 and res.dlq == 1
    [letter] = w.letters
    assert letter.offset == 3 and "qty" in letter.reason and "long" in letter.reason
    table = w.ice.refresh()
    assert table is not None
    schema = {f.name: str(f.field_type) for f in table.schema().fields}
    assert schema["id"] == "long" and schema["qty"] == "long" and schema["price"] == "double"
    assert schema["note"] == "string"
    assert schema["later"] == "long"  # null at first: no column until a value typed it
    assert all(not f.required for f in table.schema().fields)
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
    assert [(r["id"], r["price"], r["qty"], r["note"]) for r in rows] == [
        (1, 1.5, 3, None),
        (2, 2.0, 4, "new"),
        (3, 3.0, 5, None),
    ]
    assert recorded_offsets(table) == {(TOPIC, 0): 4}  # the DLQ'd offset is covered too
    # eventlake's catalog entry follows the Iceberg schema (what `eventlake query` binds its view to).
    entry = store.get_table(w.table.ref)
    assert entry is not None
    cols = {c.name: c.type for c in entry.columns}
    assert cols["qty"] == "bigint" and cols["note"] == "string" and entry.parameters["table_type"] == "ICEBERG"


def test_partition_by_fields_partition_the_iceberg_table_once_they_appear(lake_dir: Path, store: CatalogStore) -> None:
    w = Landing(lake_dir, store, partition_by=("region",))
    w.flush(0, None, 0, [{"id": 1, "region": "eu"}, {"id": 2, "region": "us"}])
    table = w.ice.refresh()
    assert table is not None
    assert [(f.name, str(f.transform)) for f in table.spec().fields] == [("hour", "hour"), ("region", "identity")]
    folders = {Path(t.file.file_path).parent.name for t in table.scan().plan_files()}
    assert folders == {"region=eu", "region=us"}
    # The partition column stays in the rows (Iceberg's partitions are hidden, not folder-only).
    assert sorted(table.scan(row_filter="region == 'eu'").to_arrow()["id"].to_pylist()) == [1]


def test_a_retention_gap_is_recorded_as_an_empty_snapshot(lake_dir: Path, store: CatalogStore) -> None:
    w = Landing(lake_dir, store)
    w.flush(0, None, 0, [{"id": 0}, {"id": 1}])
    # Kafka deleted offsets 2..99 before they landed: the sink records the gap and resumes at 100.
    record_iceberg_gap(w.ice, TOPIC, 0, 2, 99, "g")
    table = w.ice.refresh()
    assert table is not None
    assert recorded_offsets(table) == {(TOPIC, 0): 100}
    assert not w.flush(0, 100, 100, [{"id": 100}]).conflict
    assert w.flush(0, 2, 2, [{"id": 2}]).conflict  # the deleted offsets cannot land later either
    assert sorted(w.ice.refresh().scan().to_arrow()["_offset"].to_pylist()) == [0, 1, 100]  # type: ignore[union-attr]
