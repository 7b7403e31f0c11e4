"""SQL over a sunk lake: answers equal pandas', guard rails hold, partitions prune."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eventlake.catalog import Column, DataFile, LedgerEntry, Table, open_catalog
from eventlake.query import BadSql, QueryError, QueryTimeout, RefusedStatement, UnknownTable, connect
from eventlake.query.catalog_views import create_view, drop_view, list_views
from tests.fixtures_query import (  # noqa: F401
    TABLE,
    TOPIC,
    SunkLake,
    build_sunk_lake,
    lake_contents,
    lake_settings,
    shared_sunk_lake,
    source_events,
    sunk_lake,
    write_flush,
)


def test_aggregates_equal_pandas(shared_sunk_lake: SunkLake) -> None:
    src = shared_sunk_lake.source
    with connect(shared_sunk_lake.settings) as engine:
        total = engine.df(
            "SELECT count(*) AS n, count(price) AS priced, sum(volume) AS volume, "
            "avg(price) AS avg_price, min(ts) AS first, max(ts) AS last FROM stock_ticks"
        )
        by_symbol = engine.df(
            "SELECT symbol, count(*) AS n, sum(volume) AS volume, avg(price) AS avg_price "
            "FROM stock_ticks GROUP BY symbol ORDER BY symbol"
        )
    assert total["n"][0] == len(src) == 3000
    assert total["priced"][0] == src["price"].count()
    assert int(total["volume"][0]) == src["volume"].sum()
    assert total["avg_price"][0] == pytest.approx(src["price"].mean(), rel=1e-12)  # nulls left out, as pandas
    assert total["first"][0] == src["ts"].min()
    assert total["last"][0] == src["ts"].max()
    expected = (
        src.groupby("symbol")
        .agg(n=("price", "size"), volume=("volume", "sum"), avg_price=("price", "mean"))
        .reset_index()
    )
    assert by_symbol["symbol"].tolist() == expected["symbol"].tolist()
    assert by_symbol["n"].tolist() == expected["n"].tolist()
    assert [int(v) for v in by_symbol["volume"]] == expected["volume"].tolist()
    assert by_symbol["avg_price"].tolist() == pytest.approx(expected["avg_price"].tolist(), rel=1e-12)


def test_partition_columns_are_typed_and_group_like_pandas(shared_sunk_lake: SunkLake) -> None:
    src = shared_sunk_lake.source
    with connect(shared_sunk_lake.settings) as engine:
        got = engine.df("SELECT dt, hour, count(*) AS n FROM stock_ticks GROUP BY dt, hour ORDER BY dt, hour")
        types = dict(engine.execute("SELECT column_name, column_type FROM (DESCRIBE stock_ticks)").rows)
    expected = src.groupby([src["ts"].dt.date, src["ts"].dt.hour]).size()
    assert [(d, h) for d, h in zip(got["dt"], got["hour"], strict=True)] == list(expected.index)
    assert got["n"].tolist() == expected.tolist()
    assert types == {
        "symbol": "VARCHAR",
        "price": "DOUBLE",
        "volume": "BIGINT",
        "ts": "TIMESTAMP",
        "dt": "DATE",
        "hour": "INTEGER",
    }


def test_predicate_on_partition_columns_opens_no_other_partition(sunk_lake: SunkLake) -> None:
    with open_catalog(sunk_lake.settings) as store:
        files = store.list_files(TABLE)
    wanted = {"dt": "2024-01-02", "hour": "01"}
    inside = [f for f in files if f.partition == wanted]
    # Every file outside the partition is corrupted: a query that opened one would fail.
    outside = [f for f in files if f.partition != wanted]
    src = sunk_lake.source
    expected = src[(src["ts"].dt.date == pd.Timestamp("2024-01-02").date()) & (src["ts"].dt.hour == 1)]
    sql = "SELECT count(*), sum(volume) FROM stock_ticks WHERE dt = DATE '2024-01-02' AND hour = 1"
    with connect(sunk_lake.settings) as engine:
        plan = engine.execute(f"EXPLAIN ANALYZE {sql}").rows[0][1]
        scanned = re.search(r"Scanning Files: (\d+)/(\d+)", plan)
        assert scanned is not None and int(scanned.group(1)) == len(inside) == 6
        for f in outside:
            Path(f.path).write_bytes(b"not parquet at all")
        count, volume = engine.execute(sql).rows[0]
        assert (count, int(volume)) == (len(expected), int(expected["volume"].sum()))
        with pytest.raises(QueryError, match="cannot be read"):
            engine.execute("SELECT count(*), sum(volume) FROM stock_ticks")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "select * from READ_TEXT('/etc/passwd')",
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM glob('/*')",
        "SELECT * FROM query('SELECT 1')",
        "SELECT (SELECT count(*) FROM read_parquet('x.parquet')) FROM stock_ticks",
        "COPY stock_ticks TO 'out.csv'",
        "COPY (SELECT 1) TO '/tmp/x.csv'",
        "ATTACH 'other.db' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "CREATE TABLE x AS SELECT 1",
        "INSERT INTO stock_ticks SELECT * FROM stock_ticks",
        "PRAGMA version",
        "SET enable_external_access = true",
        "EXPORT DATABASE 'dump'",
        "SELECT 1; DROP VIEW stock_ticks",
        "EXPLAIN ANALYZE COPY stock_ticks TO 'x.csv'",
    ],
)
def test_refused_statements_one_line(shared_sunk_lake: SunkLake, sql: str) -> None:
    before = lake_contents(shared_sunk_lake.root)
    with connect(shared_sunk_lake.settings) as engine, pytest.raises(RefusedStatement) as info:
        engine.execute(sql)
    assert "\n" not in str(info.value)
    assert lake_contents(shared_sunk_lake.root) == before  # nothing written, nothing changed


def test_unknown_table_and_bad_sql_are_one_line(shared_sunk_lake: SunkLake) -> None:
    with connect(shared_sunk_lake.settings) as engine:
        with pytest.raises(UnknownTable, match="no_such_table") as unknown:
            engine.execute("SELECT * FROM no_such_table")
        with pytest.raises(BadSql, match="syntax error") as bad:
            engine.execute("SELEC count(*) FROM stock_ticks")
        with pytest.raises(BadSql, match="nope") as column:
            engine.execute("SELECT nope FROM stock_ticks")
    for err in (unknown, bad, column):
        assert "\n" not in str(err.value)
    assert "eventlake tables" in str(unknown.value)


def test_time_limit_stops_a_runaway_query(tmp_path: Path) -> None:
    settings = lake_settings(tmp_path / "lake", query={"time_limit_s": 0.5})
    with connect(settings) as engine:
        with pytest.raises(QueryTimeout, match=r"0\.5 s"):
            engine.execute("SELECT sum(a.range * b.range) FROM range(1000000000) a, range(1000) b")
        assert engine.execute("SELECT 42").rows == [(42,)]  # the engine is still usable


def test_max_rows_truncates_and_says_so(shared_sunk_lake: SunkLake) -> None:
    settings = shared_sunk_lake.settings.model_copy(
        update={"query": shared_sunk_lake.settings.query.model_copy(update={"max_rows": 10})}
    )
    with connect(settings) as engine:
        result = engine.execute("SELECT * FROM stock_ticks")
        assert len(result.rows) == 10 and result.truncated
        exact = engine.execute("SELECT * FROM stock_ticks LIMIT 10")
        assert len(exact.rows) == 10 and not exact.truncated
        assert engine.sql("SELECT * FROM stock_ticks", max_rows=0).num_rows == 3000


def test_system_tables_show_lineage_and_watermarks(shared_sunk_lake: SunkLake) -> None:
    src = shared_sunk_lake.source
    with connect(shared_sunk_lake.settings) as engine:
        files = engine.df("SELECT * FROM eventlake.files ORDER BY topic, partition, first_offset")
        marks = engine.df("SELECT * FROM eventlake.watermarks ORDER BY partition")
    assert files["rows"].sum() == 3000
    assert set(files["table"]) == {"default.stock_ticks"}
    per_part = files.groupby("partition").agg(
        first=("first_offset", "min"), last=("last_offset", "max"), rows=("rows", "sum")
    )
    expected = src.groupby("kafka_partition").agg(
        first=("offset", "min"), last=("offset", "max"), rows=("offset", "size")
    )
    assert per_part.values.tolist() == expected.values.tolist()
    assert marks["landed_offset"].tolist() == expected["last"].tolist()
    watermark = src.groupby("kafka_partition")["ts"].max().min()
    assert set(marks["watermark"]) == {watermark}
    assert marks["lag"].isna().all()  # no broker at 127.0.0.1:9092 here: lag unknown, no hang


def test_saved_views_and_new_files_are_visible(tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=600)
    with open_catalog(lake.settings) as store:
        store.save_view("volume_by_symbol", "SELECT symbol, sum(volume) AS volume FROM stock_ticks GROUP BY 1")
        store.save_view("top_symbol", "SELECT symbol FROM volume_by_symbol ORDER BY volume DESC LIMIT 1")
    expected = lake.source.groupby("symbol")["volume"].sum()
    with connect(lake.settings) as engine:
        got = dict(engine.execute("SELECT symbol, volume FROM volume_by_symbol").rows)
        assert {k: int(v) for k, v in got.items()} == expected.to_dict()
        assert engine.execute("SELECT * FROM top_symbol").rows == [(expected.idxmax(),)]
        # A later flush lands while the engine is open: the next query after refresh sees it.
        later = source_events(50, seed=99)
        later["kafka_partition"] = 0
        later["offset"] = range(200, 250)
        files = write_flush(lake.root, later, 0, 200, 249)
        with open_catalog(lake.settings) as store:
            store.commit_flush(LedgerEntry(TOPIC, 0, 200, 249, TABLE, files, 50))
        engine.refresh(force=True)
        assert engine.execute("SELECT count(*) FROM stock_ticks").rows == [(650,)]


def test_views_are_checked_before_they_are_saved(sunk_lake: SunkLake) -> None:
    settings = sunk_lake.settings
    with pytest.raises(UnknownTable, match="missing_table"):
        create_view(settings, "v1", "SELECT * FROM missing_table")
    with pytest.raises(RefusedStatement):
        create_view(settings, "v2", "SELECT * FROM read_parquet('/etc/hosts')")
    with pytest.raises(BadSql, match="is a table"):
        create_view(settings, "stock_ticks", "SELECT 1")
    create_view(settings, "by_symbol", "SELECT symbol, count(*) AS n FROM stock_ticks GROUP BY 1;")
    assert list_views(settings) == [
        {"view": "default.by_symbol", "sql": "SELECT symbol, count(*) AS n FROM stock_ticks GROUP BY 1"}
    ]
    with connect(settings) as engine:
        assert engine.views() == [("default.by_symbol", list_views(settings)[0]["sql"])]
        assert sum(n for _, n in engine.execute("SELECT * FROM by_symbol").rows) == 3000
    drop_view(settings, "by_symbol")
    assert list_views(settings) == []


def test_evolved_schema_old_files_read_new_columns_as_null_and_still_prune(tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=600)
    later = source_events(90, seed=5)
    later["kafka_partition"] = 0
    later["offset"] = range(200, 290)
    later["venue"] = "XNAS"
    with open_catalog(lake.settings) as store:
        table = store.get_table(TABLE)
        assert table is not None
        store.upsert_table(replace(table, columns=[*table.columns, Column("venue", "string")]))
        files = write_flush(lake.root, later, 0, 200, 289, extra=["venue"])
        store.commit_flush(LedgerEntry(TOPIC, 0, 200, 289, TABLE, files, 90))
        all_files = store.list_files(TABLE)
        table = store.get_table(TABLE)
        assert table is not None and table.schema_version == 2
    wanted = files[0].partition
    with connect(lake.settings) as engine:
        assert engine.execute("SELECT count(*), count(venue) FROM stock_ticks").rows == [(690, 90)]
        for f in all_files:
            if f.partition != wanted:
                Path(f.path).write_bytes(b"gone bad")
        dt, hour = wanted["dt"], int(wanted["hour"])
        inside = later[(later["ts"].dt.strftime("%Y-%m-%d") == dt) & (later["ts"].dt.hour == hour)]
        old = lake.source[(lake.source["ts"].dt.strftime("%Y-%m-%d") == dt) & (lake.source["ts"].dt.hour == hour)]
        got = engine.execute(f"SELECT count(*), count(venue) FROM stock_ticks WHERE dt = '{dt}' AND hour = {hour}")
        assert got.rows == [(len(inside) + len(old), len(inside))]


def test_s3_datasets_type_partition_keys_as_a_local_lake_does(tmp_path: Path) -> None:
    """The S3 path used to read a decimal partition key as text while a local lake read DECIMAL."""
    import duckdb
    import pyarrow.fs as pafs

    from eventlake.query.sources import empty_select_sql, s3_source

    path = tmp_path / "ticks" / "price=12.50" / "a.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({"n": pa.array([1], pa.int64())}), path)
    keys = [Column("price", "decimal(6,2)"), Column("dt", "date")]
    table = Table("default", "ticks", str(tmp_path / "ticks"), "parquet", [Column("n", "bigint")], keys)
    con = duckdb.connect()
    schema = con.sql(empty_select_sql([*table.columns, *keys])).to_arrow_table().schema
    files = [DataFile(str(path), {"price": "12.50", "dt": "2024-01-02"}, 1, path.stat().st_size)]
    source = s3_source(table, files, pafs.LocalFileSystem(), "src", schema)
    assert source is not None
    con.register(source.name, source.dataset)
    assert con.sql(f"SELECT typeof(price), typeof(dt), price FROM ({source.select})").fetchall() == [
        ("DECIMAL(6,2)", "DATE", Decimal("12.50"))
    ]


def test_every_table_listing_counts_the_same_files_rows_and_bytes(sunk_lake: SunkLake) -> None:
    """`eventlake tables`, `engine.tables()` and `eventlake.tables` share one summary."""
    from eventlake.query.catalog_views import list_tables

    with open_catalog(sunk_lake.settings) as store:
        files = store.list_files(TABLE)
        (listed,) = list_tables(store)
    expected = (len(files), len(sunk_lake.source), sum(f.bytes for f in files))
    assert expected[1] == 3000
    assert (listed["files"], listed["rows"], listed["bytes"], listed["status"]) == (*expected, "")
    with connect(sunk_lake.settings) as engine:
        (summary,) = engine.tables()
        (row,) = engine.execute("SELECT files, rows, bytes FROM eventlake.tables").rows
    assert (summary.files, summary.rows, summary.bytes) == expected == tuple(row)
    assert summary.qualified_name == listed["table"] and not summary.deprecated
