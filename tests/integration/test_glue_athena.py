"""Glue publishing and Athena querying, against moto's server (no real AWS runs here)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import boto3
import pytest
from pydantic import SecretStr

from eventlake.catalog import Column, DataFile, LedgerEntry, Table
from eventlake.catalog.glue import GluePublisher
from eventlake.catalog.sqlite import SQLiteCatalog
from eventlake.config.aws import AwsSettings
from eventlake.config.query import QuerySettings
from eventlake.query.athena import AthenaEngine
from eventlake.query.exceptions import QueryError, RefusedStatement
from eventlake.types import TableRef

pytestmark = pytest.mark.integration

REF = TableRef("default", "stock_ticks")


def _aws(endpoint: str) -> AwsSettings:
    return AwsSettings(
        endpoint_url=endpoint,
        access_key_id="testing",
        secret_access_key=SecretStr("testing"),
        athena_output="s3://results/athena/",
        athena_poll_s=0.05,
    )


def _store(tmp_path: Path, columns: list[Column]) -> SQLiteCatalog:
    store = SQLiteCatalog(tmp_path / "catalog.sqlite")
    store.upsert_table(
        Table(
            "default",
            "stock_ticks",
            "s3://lake/stock_ticks",
            "parquet",
            columns,
            [Column("dt", "string"), Column("hour", "string")],
        )
    )
    return store


def _flush(store: SQLiteCatalog, first: int, hour: str) -> None:
    f = DataFile(
        f"s3://lake/stock_ticks/dt=2024-01-02/hour={hour}/stock-ticks+0+{first}.parquet",
        {"dt": "2024-01-02", "hour": hour},
        rows=10,
        bytes=1000,
        topic="stock-ticks",
        kafka_partition=0,
        first_offset=first,
        last_offset=first + 9,
    )
    store.commit_flush(LedgerEntry("stock-ticks", 0, first, first + 9, REF, [f], rows=10))


def test_publish_creates_tables_and_partitions_athena_can_read(tmp_path: Path, moto_endpoint: str) -> None:
    store = _store(tmp_path, [Column("symbol", "string"), Column("price", "double")])
    _flush(store, 0, "00")
    _flush(store, 10, "01")
    aws = _aws(moto_endpoint)
    report = GluePublisher(aws).publish(store)
    assert report.tables_created == ["default.stock_ticks"] and report.partitions_added == 2

    glue = boto3.client("glue", **aws.client_kwargs())
    table = glue.get_table(DatabaseName="default", Name="stock_ticks")["Table"]
    sd = table["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [("symbol", "string"), ("price", "double")]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt", "hour"]
    assert sd["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert sd["Location"] == "s3://lake/stock_ticks/"
    parts = glue.get_partitions(DatabaseName="default", TableName="stock_ticks")["Partitions"]
    assert sorted(p["StorageDescriptor"]["Location"] for p in parts) == [
        "s3://lake/stock_ticks/dt=2024-01-02/hour=00/",
        "s3://lake/stock_ticks/dt=2024-01-02/hour=01/",
    ]

    # A new column and a new hour: the table is updated, only the new partition is added.
    store.upsert_table(
        Table(
            "default",
            "stock_ticks",
            "s3://lake/stock_ticks",
            "parquet",
            [Column("symbol", "string"), Column("price", "double"), Column("volume", "bigint")],
            [Column("dt", "string"), Column("hour", "string")],
        )
    )
    _flush(store, 20, "02")
    again = GluePublisher(aws).publish(store)
    assert again.tables_updated == ["default.stock_ticks"] and again.partitions_added == 1
    table = glue.get_table(DatabaseName="default", Name="stock_ticks")["Table"]
    assert table["StorageDescriptor"]["Columns"][-1] == {"Name": "volume", "Type": "bigint"}
    assert table["Parameters"]["eventlake.schema_version"] == "2"


def _seed_athena_result(endpoint: str, rows: list[list[str | None]], columns: list[tuple[str, str]]) -> None:
    def row(values: list[str | None]) -> dict[str, object]:
        return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}

    body = {
        "account_id": "123456789012",
        "region": "us-east-1",
        "results": [
            {
                "rows": [row([c for c, _ in columns])] + [row(r) for r in rows],
                "column_info": [
                    {
                        "Name": c,
                        "Label": c,
                        "Type": t,
                        "CatalogName": "hive",
                        "SchemaName": "",
                        "TableName": "",
                        "Precision": 0,
                        "Scale": 0,
                        "Nullable": "UNKNOWN",
                        "CaseSensitive": False,
                    }
                    for c, t in columns
                ],
            }
        ],
    }
    req = urllib.request.Request(
        f"{endpoint}/moto-api/static/athena/query-results",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5):
        pass


def test_athena_engine_sends_the_query_and_types_the_rows(moto_endpoint: str) -> None:
    aws = _aws(moto_endpoint)
    _seed_athena_result(
        moto_endpoint,
        [["AAPL", "3", "101.5"], ["MSFT", "2", None]],
        [("symbol", "varchar"), ("n", "bigint"), ("avg_price", "double")],
    )
    engine = AthenaEngine(aws, QuerySettings(max_rows=100))
    sql = "SELECT symbol, count(*) AS n, avg(price) AS avg_price FROM stock_ticks GROUP BY symbol"
    result = engine.execute(sql)
    assert result.columns == ["symbol", "n", "avg_price"]
    assert result.rows == [("AAPL", 3, 101.5), ("MSFT", 2, None)]

    athena = boto3.client("athena", **aws.client_kwargs())
    executions = athena.list_query_executions()["QueryExecutionIds"]
    sent = [athena.get_query_execution(QueryExecutionId=q)["QueryExecution"] for q in executions]
    mine = [q for q in sent if q["Query"] == sql]
    assert mine and mine[0]["QueryExecutionContext"]["Database"] == "default"
    assert mine[0]["ResultConfiguration"]["OutputLocation"].startswith("s3://results/athena/")


def test_athena_engine_refuses_writes_and_needs_an_output(moto_endpoint: str) -> None:
    engine = AthenaEngine(_aws(moto_endpoint), QuerySettings())
    with pytest.raises(RefusedStatement):
        engine.execute("DROP TABLE stock_ticks")
    with pytest.raises(QueryError, match="results"):
        AthenaEngine(AwsSettings(endpoint_url=moto_endpoint), QuerySettings())
