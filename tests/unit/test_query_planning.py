"""Flat planning: a long-lived engine sees new and swapped files, and reads only the partitions a WHERE can need."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eventlake.catalog import Column, DataFile, LedgerEntry, Table
from eventlake.catalog.sqlite import SQLiteCatalog
from eventlake.config import load_settings
from eventlake.query import QueryEngine, QueryError, connect
from eventlake.types import TableRef

REF = TableRef("default", "ticks")


def _file(lake: Path, hour: str, first: int, rows: int = 3) -> DataFile:
    path = lake / "ticks" / "dt=2026-01-01" / f"hour={hour}" / f"ticks+0+{first}+{first + rows - 1}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"price": [1.0] * rows, "_offset": list(range(first, first + rows))}), path)
    return DataFile(str(path), {"dt": "2026-01-01", "hour": hour}, rows, path.stat().st_size, topic="ticks",
                    kafka_partition=0, first_offset=first, last_offset=first + rows - 1)  # fmt: skip


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    with SQLiteCatalog(lake / "_eventlake" / "catalog.sqlite") as store:
        columns = [Column("price", "double"), Column("_offset", "bigint")]
        keys = [Column("dt", "string"), Column("hour", "string")]
        store.upsert_table(Table("default", "ticks", str(lake / "ticks"), "parquet", columns, keys))
        for n, hour in enumerate(("00", "01", "02")):
            f = _file(lake, hour, n * 3)
            store.commit_flush(LedgerEntry("ticks", 0, n * 3, n * 3 + 2, REF, [f], 3))
    return lake


def _count(engine: QueryEngine, where: str = "true") -> int:
    return int(engine.sql(f"SELECT count(*) AS n FROM ticks WHERE {where}").column("n")[0].as_py())


def test_engine_sees_new_and_swapped_files_once(lake: Path) -> None:
    with (
        connect(load_settings(overrides={"lake": str(lake)})) as engine,
        SQLiteCatalog(lake / "_eventlake" / "catalog.sqlite") as store,
    ):
        assert _count(engine) == 9
        f = _file(lake, "02", 9)
        store.commit_flush(LedgerEntry("ticks", 0, 9, 11, REF, [f], 3))
        engine.refresh(force=True)
        assert _count(engine) == 12
        assert _count(engine, "hour = '02'") == 6
        # A compaction-like swap of hour 02's two files for one: each row still once.
        old = [x.path for x in store.list_files(REF) if x.partition["hour"] == "02"]
        merged = _file(lake, "02", 100, rows=6)
        store.replace_files(REF, old, [merged])
        engine.refresh(force=True)
        assert _count(engine) == 12
        assert engine.sql("SELECT min(_offset) AS m FROM ticks WHERE hour = '02'").column("m")[0].as_py() == 100
        store.drop_table(REF)
        engine.refresh(force=True)
        assert [t.name for t in engine.tables()] == []


@pytest.mark.parametrize(
    "where",
    [
        "hour = '02'",
        "t.hour = '02'",
        "hour IN ('02', '07')",
        "hour BETWEEN '02' AND '09'",
        "'01' < hour",
        "dt = '2026-01-01' AND hour >= $since",
        "(hour = '02' OR hour = '05') AND price > 0",
    ],
)
def test_a_partition_filter_opens_no_file_of_other_partitions(lake: Path, where: str) -> None:
    # Hour 00's file is broken: a query that reads it fails, so one that succeeds never opened it.
    broken = next((lake / "ticks" / "dt=2026-01-01" / "hour=00").glob("*.parquet"))
    broken.write_bytes(b"not parquet")
    with connect(load_settings(overrides={"lake": str(lake)})) as engine:
        with pytest.raises(QueryError):
            _count(engine)
        sql = f"SELECT count(*) AS n FROM ticks t WHERE {where}"
        assert engine.sql(sql, params={"since": "02"} if "$since" in sql else None).column("n")[0].as_py() == 3
        # Not prunable (OR with a non-partition column): DuckDB gets every file, and meets the broken one.
        with pytest.raises(QueryError):
            engine.sql("SELECT count(*) FROM ticks WHERE hour = '02' OR price > 0")
