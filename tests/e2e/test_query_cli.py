"""The crawl, tables, views, compact, query and sql commands as a user runs them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.e2e.conftest import Run
from tests.fixtures_query import build_sunk_lake, orders, write_hive_csv

pytestmark = pytest.mark.e2e


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_query_formats(cli: Run, tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=600)
    src = lake.source
    sql = "SELECT symbol, count(*) AS n, sum(volume) AS volume FROM stock_ticks GROUP BY symbol ORDER BY symbol"
    expected = src.groupby("symbol").agg(n=("volume", "size"), volume=("volume", "sum")).reset_index()

    as_json = cli("query", sql, "--lake", str(lake.root), "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == [
        {"symbol": s, "n": int(n), "volume": float(v)} for s, n, v in expected.itertuples(index=False)
    ]

    as_csv = cli("query", sql, "--lake", str(lake.root), "--format", "csv")
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert rows[0] == ["symbol", "n", "volume"] and len(rows) == len(expected) + 1

    out = tmp_path / "result.parquet"
    as_parquet = cli(
        "query", "SELECT * FROM stock_ticks", "--lake", str(lake.root), "--format", "parquet", "--out", str(out)
    )
    assert as_parquet.returncode == 0, as_parquet.stderr
    assert pq.read_table(out).num_rows == 600

    no_out = cli("query", sql, "--lake", str(lake.root), "--format", "parquet")
    assert no_out.returncode == 2 and "--out" in _one_line(no_out.stderr)

    limited = cli("query", "SELECT * FROM stock_ticks", "--lake", str(lake.root), "--format", "json", "--max-rows", "7")
    assert len(json.loads(limited.stdout)) == 7 and "first 7 rows" in limited.stderr


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "COPY (SELECT * FROM stock_ticks) TO 'stolen.csv'",
        "ATTACH 'other.duckdb' AS other",
        "INSTALL httpfs",
    ],
)
def test_refused_statements_exit_1_with_one_line(cli: Run, tmp_path: Path, sql: str) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=100)
    result = cli("query", sql, "--lake", str(lake.root))
    assert result.returncode == 1
    assert "refused" in _one_line(result.stderr)
    assert result.stdout == ""
    assert "root:" not in result.stderr
    assert not list(tmp_path.rglob("stolen.csv")) and not list(tmp_path.rglob("other.duckdb"))


def test_unknown_table_and_bad_sql_exit_1_with_one_line(cli: Run, tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=100)
    unknown = cli("query", "SELECT * FROM nope", "--lake", str(lake.root))
    assert unknown.returncode == 1
    assert "nope" in _one_line(unknown.stderr) and "eventlake tables" in unknown.stderr
    bad = cli("query", "SELEKT 1", "--lake", str(lake.root))
    assert bad.returncode == 1 and "syntax error" in _one_line(bad.stderr)
    typo = cli("query", "SELECT 1", "--lake", str(tmp_path / "lkae"))
    assert typo.returncode == 1 and "no lake at" in _one_line(typo.stderr)
    assert not (tmp_path / "lkae").exists()


def test_crawl_tables_describe_and_corrupt_file(cli: Run, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    df = orders(300)
    paths = write_hive_csv(lake / "orders", df)
    paths[0].write_text("order_id,amount\n1,2,3,4\n")  # broken: left out, named
    broken_rows = len(df[(df["dt"] == paths[0].parent.parent.name[3:]) & (df["region"] == paths[0].parent.name[7:])])

    crawl = cli("crawl", "--lake", str(lake))
    assert crawl.returncode == 0, crawl.stderr
    assert "tables created: default.orders" in crawl.stdout
    assert f"skipped {paths[0]}:" in crawl.stdout

    listed = cli("tables", "--lake", str(lake), "--format", "json")
    [table] = json.loads(listed.stdout)
    assert (table["table"], table["format"], table["partition_keys"], table["rows"]) == (
        "default.orders",
        "csv",
        "dt, region",
        len(df) - broken_rows,
    )

    described = json.loads(cli("tables", "describe", "orders", "--lake", str(lake), "--format", "json").stdout)
    assert [c["name"] for c in described["columns"]] == ["order_id", "amount", "paid", "ts", "customer"]
    assert [(k["name"], k["type"]) for k in described["partition_keys"]] == [("dt", "date"), ("region", "string")]
    assert len(described["files"]) == len(paths) - 1
    assert described["schema_versions"][0]["version"] == 1

    count = cli("query", "SELECT count(*) AS n FROM orders", "--lake", str(lake), "--format", "json")
    assert json.loads(count.stdout) == [{"n": len(df) - broken_rows}]

    missing = cli("tables", "describe", "nope", "--lake", str(lake))
    assert missing.returncode == 1 and "eventlake tables" in _one_line(missing.stderr)


def test_views_compact_and_sql_shell(cli: Run, tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=900, flush_rows=50)
    root = str(lake.root)
    created = cli("views", "create", "big_trades", "SELECT * FROM stock_ticks WHERE volume > 500", "--lake", root)
    assert created.returncode == 0, created.stderr
    refused = cli("views", "create", "bad", "COPY stock_ticks TO 'x.csv'", "--lake", root)
    assert refused.returncode == 1 and "refused" in _one_line(refused.stderr)
    assert json.loads(cli("views", "list", "--lake", root, "--format", "json").stdout) == [
        {"view": "default.big_trades", "sql": "SELECT * FROM stock_ticks WHERE volume > 500"}
    ]
    query = "SELECT count(*) AS n FROM big_trades"
    before = json.loads(cli("query", query, "--lake", root, "--format", "json").stdout)
    assert before == [{"n": int((lake.source["volume"] > 500).sum())}]

    files_before = json.loads(
        cli("query", "SELECT count(*) AS n FROM eventlake.files", "--lake", root, "--format", "json").stdout
    )[0]["n"]
    compacted = cli("compact", "stock_ticks", "--lake", root, "--format", "json")
    assert compacted.returncode == 0, compacted.stderr
    summary = json.loads(compacted.stdout)
    assert summary["files_before"] == files_before > summary["files_after"]
    assert json.loads(cli("query", query, "--lake", root, "--format", "json").stdout) == before

    shell = cli(
        "sql",
        "--lake",
        root,
        input=".tables\nSELECT count(*)\n  AS n FROM stock_ticks;\n"
        "SELECT * FROM nope;\n.format json\nSELECT max(volume) AS m FROM big_trades;\n.quit\n",
    )
    assert shell.returncode == 0, shell.stderr
    assert "default.stock_ticks" in shell.stdout and "900" in shell.stdout
    assert "nope" in shell.stderr
    assert '"m": ' + str(int(lake.source["volume"].max())) in shell.stdout

    dropped = cli("views", "drop", "big_trades", "--lake", root)
    assert dropped.returncode == 0
    gone = cli("query", query, "--lake", root)
    assert gone.returncode == 1 and "big_trades" in _one_line(gone.stderr)
