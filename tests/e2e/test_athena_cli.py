"""`eventlake glue publish` and `eventlake query --engine athena` as a user runs them (moto's server)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from eventlake.catalog import Column, Table
from eventlake.catalog.sqlite import SQLiteCatalog
from tests.e2e.conftest import Run
from tests.integration.test_glue_athena import _seed_athena_result

pytestmark = pytest.mark.e2e


def _env(endpoint: str, lake: Path) -> dict[str, str]:
    return {
        "EVENTLAKE_LAKE": str(lake),
        "EVENTLAKE_AWS__ENDPOINT_URL": endpoint,
        "EVENTLAKE_AWS__ACCESS_KEY_ID": "testing",
        "EVENTLAKE_AWS__SECRET_ACCESS_KEY": "testing",
        "EVENTLAKE_AWS__ATHENA_OUTPUT": "s3://results/athena/",
    }


def test_publish_then_query_with_athena(cli: Run, tmp_path: Path, moto_endpoint: str) -> None:
    lake = tmp_path / "lake"
    store = SQLiteCatalog(lake / "_eventlake" / "catalog.sqlite")
    store.upsert_table(
        Table(
            "default",
            "orders",
            str(lake / "orders"),
            "parquet",
            [Column("id", "bigint"), Column("amount", "double")],
            [Column("dt", "string")],
        )
    )
    env = _env(moto_endpoint, lake)

    refused = cli("glue", "publish", "--glue-database", "shop", env=env)
    assert refused.returncode == 1 and "local paths Athena cannot read" in refused.stderr
    published = cli("glue", "publish", "--glue-database", "shop", "--allow-local", env=env)
    assert published.returncode == 0, published.stderr
    assert "1 tables created" in published.stderr
    glue = boto3.client(
        "glue",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert glue.get_table(DatabaseName="shop", Name="orders")["Table"]["PartitionKeys"] == [
        {"Name": "dt", "Type": "string"}
    ]

    _seed_athena_result(moto_endpoint, [["7", "12.5"]], [("id", "bigint"), ("amount", "double")])
    res = cli("query", "SELECT id, amount FROM orders", "--engine", "athena", "--format", "json", env=env)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == [{"id": 7, "amount": 12.5}]

    refused = cli("query", "DROP TABLE orders", "--engine", "athena", env=env)
    assert refused.returncode == 1 and "only SELECT" in refused.stderr
    assert "testing" not in published.stderr + res.stderr + refused.stderr
