"""Old files rewritten into a widened table schema: swapped atomically, lineage and rows kept."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from eventlake.catalog import Column, DataFile, LedgerEntry, Table
from eventlake.catalog.sqlite import SQLiteCatalog
from eventlake.lake import Lake, open_lake
from eventlake.sink.conform import Conformer, conform_files, file_schema
from eventlake.sink.ledger import _file_offsets
from eventlake.sink.schema import TS, storage_type
from eventlake.sink.writer import encode
from eventlake.types import TableRef

REF = TableRef("default", "t")
KEYS = [Column("dt", "string"), Column("hour", "string")]


def _table(lake: Lake, columns: list[tuple[str, str]]) -> Table:
    return Table("default", "t", lake.uri("t"), "parquet", [Column(n, t) for n, t in columns], KEYS)


def _land(store: SQLiteCatalog, lake: Lake, data: pa.Table, first: int, hour: str = "00") -> DataFile:
    rel = f"t/dt=2024-01-02/hour={hour}/t+0+{first}+{first + data.num_rows - 1}.parquet"
    size = lake.write_atomic(rel, encode(data, "parquet"))
    f = DataFile(
        lake.uri(rel),
        {"dt": "2024-01-02", "hour": hour},
        data.num_rows,
        size,
        topic="t",
        kafka_partition=0,
        first_offset=first,
        last_offset=first + data.num_rows - 1,
        min_event_time=1.0,
        max_event_time=2.0,
    )
    store.commit_flush(LedgerEntry("t", 0, first, first + data.num_rows - 1, REF, [f], data.num_rows))
    return f


def test_widened_columns_are_rewritten_and_swapped_with_their_lineage(tmp_path: Path) -> None:
    lake = open_lake(str(tmp_path / "lake"))
    store = SQLiteCatalog(tmp_path / "catalog.sqlite")
    store.upsert_table(_table(lake, [("id", "bigint"), ("x", "bigint"), ("later", "string")]))
    old = _land(store, lake, pa.table({"id": [1, 2], "x": [10, None], "later": pa.nulls(2, pa.string())}), 0)
    # The table widens: x becomes double, a struct appears, the null-only column gets a type.
    store.upsert_table(
        _table(
            lake,
            [
                ("id", "bigint"),
                ("x", "double"),
                ("later", "struct<a:bigint>"),
                ("o", "struct<a:bigint,b:string>"),
                ("at", "timestamp"),
            ],
        )
    )
    table = store.get_table(REF)
    assert table is not None
    target = file_schema(table)
    assert target.field("at").type == TS and target.field("x").type == pa.float64()
    new = _land(
        store,
        lake,
        pa.table(
            {
                "id": [3],
                "x": [1.5],
                "later": pa.array([{"a": 1}]),
                "o": pa.array([{"a": 1, "b": "z"}]),
                "at": pa.array([0], pa.int64()).cast(TS),
            }
        ).cast(target),
        2,
    )
    retired: list[str] = []
    report = conform_files(store, lake, REF, retire=retired.extend)
    assert report.rewritten == [old.path] == retired and report.checked == 2 and not report.failed
    files = {f.first_offset: f for f in store.list_files(REF)}
    assert files[2].path == new.path  # already in the current schema: left alone
    swapped = files[0]
    assert swapped.path != old.path and swapped.path.endswith(".parquet") and "+r" in swapped.path
    assert (
        swapped.topic,
        swapped.kafka_partition,
        swapped.first_offset,
        swapped.last_offset,
        swapped.rows,
        swapped.min_event_time,
    ) == ("t", 0, 0, 1, 2, 1.0)
    data = pq.read_table(lake.path(lake.rel(swapped.path)))
    assert data.schema.equals(target)
    assert data.to_pylist() == [
        {"id": 1, "x": 10.0, "later": None, "o": None, "at": None},
        {"id": 2, "x": None, "later": None, "o": None, "at": None},
    ]
    # The ledger is untouched, and the rewritten name is still this topic's sink file (sweepable).
    assert store.ledger_next_offset("t", 0) == 3
    assert _file_offsets(swapped.path.rsplit("/", 1)[-1], "t") == (0, 1)
    # Nothing more to do on a second pass; the footer of each file is read once per schema.
    known: set[tuple[str, str]] = set()
    assert conform_files(store, lake, REF, known=known, retire=retired.extend).rewritten == []
    assert conform_files(store, lake, REF, known=known).checked == 0


def test_conformer_thread_serves_pokes_and_deletes_old_files_after_the_grace(tmp_path: Path) -> None:
    import threading

    lake = open_lake(str(tmp_path / "lake"))
    store = SQLiteCatalog(tmp_path / "catalog.sqlite")
    store.upsert_table(_table(lake, [("x", "bigint")]))
    old = _land(store, lake, pa.table({"x": [1, 2, 3]}), 0)
    store.upsert_table(_table(lake, [("x", "double"), ("y", "string")]))
    conformer = Conformer(store, lake, [REF], "zstd", threading.Lock(), grace_s=0.0)
    conformer.start()
    assert conformer.wait_idle(30)
    conformer.stop()
    [f] = store.list_files(REF)
    assert f.path != old.path and not Path(lake.path(lake.rel(old.path))).exists()
    assert pq.read_table(lake.path(lake.rel(f.path))).to_pylist() == [
        {"x": 1.0, "y": None},
        {"x": 2.0, "y": None},
        {"x": 3.0, "y": None},
    ]
    assert sorted(p.name for p in Path(lake.path("t")).rglob("*.parquet")) == [f.path.rsplit("/", 1)[-1]]


def test_unknown_yet_fields_are_stored_as_strings_never_arrow_null() -> None:
    t = pa.struct([pa.field("a", pa.null()), pa.field("b", pa.list_(pa.null())), pa.field("c", pa.int64())])
    assert storage_type(pa.null()) == pa.string()
    assert storage_type(t) == pa.struct(
        [pa.field("a", pa.string()), pa.field("b", pa.list_(pa.string())), pa.field("c", pa.int64())]
    )
