"""What eventlake sends to Glue and how it reads Athena's answers (no AWS needed)."""

from __future__ import annotations

from datetime import datetime

from eventlake.catalog import Column, Partition, Table
from eventlake.catalog.glue import partition_input, table_input
from eventlake.query.athena import parse_results


def test_csv_table_input_skips_the_header_and_uses_the_text_serde() -> None:
    table = Table(
        "default",
        "orders",
        "s3://b/orders",
        "csv",
        [Column("id", "bigint")],
        [Column("partition_0", "string")],
        source="crawler",
    )
    tin = table_input(table)
    assert tin["Parameters"]["skip.header.line.count"] == "1"
    assert tin["Parameters"]["classification"] == "csv"
    assert tin["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith("LazySimpleSerDe")
    part = partition_input(table, Partition({"partition_0": "2024"}, "s3://b/orders/2024"))
    assert part["Values"] == ["2024"]
    assert part["StorageDescriptor"]["Location"] == "s3://b/orders/2024/"


def test_parse_results_drops_the_header_row_and_types_values() -> None:
    info = [{"Name": "ts", "Type": "timestamp"}, {"Name": "ok", "Type": "boolean"}, {"Name": "n", "Type": "integer"}]
    pages = [
        {
            "ResultSet": {
                "ResultSetMetadata": {"ColumnInfo": info},
                "Rows": [
                    {"Data": [{"VarCharValue": "ts"}, {"VarCharValue": "ok"}, {"VarCharValue": "n"}]},
                    {
                        "Data": [
                            {"VarCharValue": "2024-01-02 03:04:05.000"},
                            {"VarCharValue": "true"},
                            {"VarCharValue": "7"},
                        ]
                    },
                ],
            }
        },
        {
            "ResultSet": {
                "ResultSetMetadata": {"ColumnInfo": info},
                "Rows": [{"Data": [{}, {"VarCharValue": "false"}, {}]}],
            }
        },
    ]
    columns, rows = parse_results(pages)
    assert columns == ["ts", "ok", "n"]
    assert rows == [(datetime(2024, 1, 2, 3, 4, 5), True, 7), (None, False, None)]
