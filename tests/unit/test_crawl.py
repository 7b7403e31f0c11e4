"""The crawler: folders written by other tools become tables with the right keys and types."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from eventlake.catalog import Table, open_catalog
from eventlake.catalog.crawler import crawl_lake
from eventlake.config import Settings
from eventlake.query import QueryEngine, UnknownTable, connect
from eventlake.types import TableRef
from tests.fixtures_query import (
    build_sunk_lake,
    lake_settings,
    orders,
    write_hive_csv,
    write_hive_parquet,
)

EXPECTED_COLUMNS = [
    ("order_id", "bigint"),
    ("amount", "double"),
    ("paid", "boolean"),
    ("ts", "timestamp"),
    ("customer", "string"),
]


def _table(settings: Settings, name: str) -> Table | None:
    with open_catalog(settings) as store:
        return store.get_table(TableRef("default", name))


def _aggregates_match(engine: QueryEngine, table: str, df: pd.DataFrame) -> None:
    got = engine.df(
        f"SELECT region, count(*) AS n, count(amount) AS priced, sum(amount) AS total, avg(amount) AS mean, "
        f"sum(CASE WHEN paid THEN 1 ELSE 0 END) AS paid FROM {table} GROUP BY region ORDER BY region"
    )
    want = (
        df.groupby("region")
        .agg(
            n=("order_id", "size"),
            priced=("amount", "count"),
            total=("amount", "sum"),
            mean=("amount", "mean"),
            paid=("paid", "sum"),
        )
        .reset_index()
    )
    assert got["region"].tolist() == want["region"].tolist()
    assert got["n"].tolist() == want["n"].tolist()
    assert got["priced"].tolist() == want["priced"].tolist()
    assert got["total"].tolist() == pytest.approx(want["total"].tolist(), rel=1e-9)
    assert got["mean"].tolist() == pytest.approx(want["mean"].tolist(), rel=1e-9)
    assert [int(v) for v in got["paid"]] == want["paid"].tolist()


def test_hive_csv_and_parquet_folders_become_typed_tables(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    df = orders()
    write_hive_csv(lake / "orders_csv", df)
    write_hive_parquet(lake / "orders_parquet", df)
    settings = lake_settings(lake)

    summary = crawl_lake(settings)

    assert sorted(summary.tables_created) == ["default.orders_csv", "default.orders_parquet"]
    assert summary.skipped == []
    partitions = df.groupby(["dt", "region"]).ngroups
    assert summary.partitions_added == 2 * partitions
    for name, fmt in (("orders_csv", "csv"), ("orders_parquet", "parquet")):
        table = _table(settings, name)
        assert table is not None and table.format == fmt
        assert [(c.name, c.type) for c in table.partition_keys] == [("dt", "date"), ("region", "string")]
        assert [(c.name, c.type) for c in table.columns] == EXPECTED_COLUMNS
    with connect(settings) as engine:
        for name in ("orders_csv", "orders_parquet"):
            _aggregates_match(engine, name, df)
            by_day = engine.execute(f"SELECT dt, count(*) FROM {name} GROUP BY dt ORDER BY dt").rows
            assert [(str(d), n) for d, n in by_day] == list(df.groupby("dt").size().items())
        first = engine.execute("SELECT ts FROM orders_csv WHERE order_id = 0").rows[0][0]
        assert first == df.loc[0, "ts"]


def test_corrupt_file_is_named_left_out_and_the_rest_is_queryable(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    df = orders()
    write_hive_parquet(lake / "orders", df)
    broken = lake / "orders" / "dt=2024-03-02" / "region=eu" / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not a parquet file")
    ragged = write_hive_csv(lake / "orders_csv", df)[0]
    ragged.write_text(ragged.read_text() + "1,2\n")
    settings = lake_settings(lake)

    summary = crawl_lake(settings)

    reasons = dict(summary.skipped)
    assert set(reasons) == {str(broken), str(ragged)}
    assert "Parquet" in reasons[str(broken)]
    assert "fields" in reasons[str(ragged)]
    ragged_part = df[(df["dt"] == ragged.parent.parent.name[3:]) & (df["region"] == ragged.parent.name[7:])]
    with connect(settings) as engine:
        _aggregates_match(engine, "orders", df)  # every good row, none of the broken file
        assert engine.execute("SELECT count(*) FROM orders_csv").rows == [(len(df) - len(ragged_part),)]
        paths = {r[0] for r in engine.execute("SELECT path FROM eventlake.files").rows}
    assert str(broken) not in paths and str(ragged) not in paths


def test_unnamed_partitions_gzip_json_lines_and_headerless_csv(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    df = orders(300)
    for dt, part in df.groupby("dt"):
        year, month, day = dt.split("-")
        folder = lake / "events" / year / month / day
        folder.mkdir(parents=True)
        with gzip.open(folder / "events.json.gz", "wt") as f:
            for rec in part.drop(columns=["dt"]).to_dict("records"):
                rec["ts"] = rec["ts"].isoformat()
                rec["amount"] = None if pd.isna(rec["amount"]) else rec["amount"]
                f.write(json.dumps(rec) + "\n")
    (lake / "raw").mkdir()
    (lake / "raw" / "plain.csv").write_text("1,2.5,x\n2,3.5,y\n3,,z\n")
    settings = lake_settings(lake)

    summary = crawl_lake(settings)

    assert sorted(summary.tables_created) == ["default.events", "default.raw"]
    events = _table(settings, "events")
    assert events is not None and events.format == "jsonl" and events.parameters["compression"] == "gzip"
    assert [(c.name, c.type) for c in events.partition_keys] == [
        ("partition_0", "string"),
        ("partition_1", "string"),
        ("partition_2", "string"),
    ]
    raw = _table(settings, "raw")
    assert raw is not None and raw.parameters["csv.header"] == "false"
    assert [(c.name, c.type) for c in raw.columns] == [("col0", "bigint"), ("col1", "double"), ("col2", "string")]
    with connect(settings) as engine:
        days = engine.execute(
            "SELECT partition_0 || '-' || partition_1 || '-' || partition_2, count(*), "
            "sum(amount) FROM events GROUP BY 1 ORDER BY 1"
        ).rows
        expected = df.groupby("dt").agg(n=("order_id", "size"), total=("amount", "sum"))
        assert [(d, n) for d, n, _ in days] == list(zip(expected.index, expected["n"], strict=True))
        assert [t for _, _, t in days] == pytest.approx(expected["total"].tolist())
        assert engine.execute("SELECT count(*) FROM events WHERE partition_2 = '02'").rows == [
            ((df["dt"] == "2024-03-02").sum(),)
        ]
        assert engine.execute("SELECT sum(col0), count(col1), max(col2) FROM raw").rows == [(6, 2, "z")]


def test_incompatible_folders_become_separate_tables(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    df = orders(100)
    write_hive_parquet(lake / "exports" / "orders", df, keys=("dt",))
    people = pd.DataFrame({"name": ["a", "b"], "age": [30, 40], "city": ["x", "y"]})
    (lake / "exports" / "people").mkdir(parents=True)
    people.to_csv(lake / "exports" / "people" / "people.csv", index=False)
    settings = lake_settings(lake)

    summary = crawl_lake(settings)

    assert sorted(summary.tables_created) == ["default.exports_orders", "default.exports_people"]
    with connect(settings) as engine:
        assert engine.execute("SELECT count(*) FROM exports_orders").rows == [(100,)]
        assert engine.execute("SELECT sum(age) FROM exports_people").rows == [(70,)]


def test_recrawl_is_incremental_and_follows_the_policies(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    df = orders(200)
    write_hive_parquet(lake / "orders", df[df["dt"] < "2024-03-03"], keys=("dt",))
    settings = lake_settings(lake)
    first = crawl_lake(settings)
    assert first.files_read == first.files_seen == 2

    again = crawl_lake(settings)
    assert again.files_read == 0 and again.tables_unchanged == ["default.orders"]

    # A new day arrives with a new column: only it is read, the table gets a new schema version.
    newer = df[df["dt"] == "2024-03-03"].assign(coupon="x")
    write_hive_parquet(lake / "orders", newer, keys=("dt",))
    third = crawl_lake(settings, new_folders_only=True)
    assert third.files_read == 1 and third.partitions_added == 1
    assert third.schema_changes == ["default.orders: +coupon string (updated)"]
    with open_catalog(settings) as store:
        versions = store.schema_versions(TableRef("default", "orders"))
    assert [v for v, _, _ in versions] == [1, 2]
    with connect(settings) as engine:
        assert engine.execute("SELECT count(*), count(coupon) FROM orders").rows == [(200, len(newer))]

    # With schema_change = log the table keeps its columns.
    (lake / "orders" / "dt=2024-03-04").mkdir()
    newer.drop(columns=["dt"]).assign(extra=1).to_parquet(lake / "orders" / "dt=2024-03-04" / "p.parquet", index=False)
    logged = crawl_lake(lake_settings(lake, query={"crawler": {"schema_change": "log"}}))
    assert logged.schema_changes == ["default.orders: +extra bigint (logged; table kept)"]
    orders_table = _table(settings, "orders")
    assert orders_table is not None and "extra" not in [c.name for c in orders_table.columns]


@pytest.mark.parametrize("policy", ["deprecate", "delete", "log"])
def test_deleted_folder_follows_the_deletion_policy(tmp_path: Path, policy: str) -> None:
    lake = tmp_path / "lake"
    write_hive_parquet(lake / "gone", orders(50), keys=("dt",))
    write_hive_parquet(lake / "kept", orders(50), keys=("dt",))
    settings = lake_settings(lake, query={"crawler": {"on_delete": policy}})
    crawl_lake(settings)
    for path in sorted((lake / "gone").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()

    summary = crawl_lake(settings)

    gone = _table(settings, "gone")
    if policy == "delete":
        assert summary.tables_deleted == ["default.gone (deleted)"] and gone is None
    elif policy == "deprecate":
        assert summary.tables_deleted == ["default.gone (deprecated)"]
        assert gone is not None and gone.parameters["deprecated"] == "true"
        with connect(settings) as engine:
            assert engine.execute("SELECT count(*) FROM gone").rows == [(0,)]
    else:
        assert summary.tables_deleted == ["default.gone (files gone; logged)"] and gone is not None
    assert summary.tables_unchanged == ["default.kept"]


def test_sink_tables_and_hidden_folders_are_not_crawled(tmp_path: Path) -> None:
    sunk = build_sunk_lake(tmp_path / "lake", rows=300)
    (sunk.root / ".staging").mkdir()
    (sunk.root / ".staging" / "x.csv").write_text("a,b\n1,2\n")
    (sunk.root / "_tmp").mkdir(exist_ok=True)
    (sunk.root / "_tmp" / "y.csv").write_text("a,b\n1,2\n")
    with open_catalog(sunk.settings) as store:
        before = store.get_table(TableRef("default", "stock_ticks"))
        files_before = store.list_files(TableRef("default", "stock_ticks"))

    summary = crawl_lake(sunk.settings)

    assert summary.tables_created == [] and summary.files_seen == 0
    with open_catalog(sunk.settings) as store:
        assert store.get_table(TableRef("default", "stock_ticks")) == before
        assert store.list_files(TableRef("default", "stock_ticks")) == files_before
        assert [t.name for t in store.list_tables()] == ["stock_ticks"]


def test_other_databases_are_schemas_in_sql(tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=300)
    write_hive_csv(lake.root / "exports", orders(120))
    summary = crawl_lake(lake.settings, database="raw")
    assert summary.tables_created == ["raw.exports"]
    with connect(lake.settings) as engine:
        assert engine.execute("SELECT count(*) FROM raw.exports").rows == [(120,)]
        assert engine.execute("SELECT count(*) FROM stock_ticks").rows == [(300,)]
        assert engine.execute('SELECT count(*) FROM "default".stock_ticks').rows == [(300,)]
        with pytest.raises(UnknownTable, match="exports"):
            engine.execute("SELECT count(*) FROM exports")


def test_include_and_exclude_globs(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_hive_csv(lake / "keep", orders(60))
    write_hive_csv(lake / "skip", orders(60))
    (lake / "keep" / "notes.tmp").write_text("scratch,file\n1,2\n")
    summary = crawl_lake(lake_settings(lake), include=["keep/*"], exclude=["*.tmp"])
    assert summary.tables_created == ["default.keep"] and summary.skipped == []
    with connect(lake_settings(lake)) as engine:
        assert engine.execute("SELECT count(*) FROM keep").rows == [(60,)]
