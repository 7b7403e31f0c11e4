"""Start-up: `eventlake query --format json` loads only what it needs, and rows fetched without
Arrow are the values Arrow would give."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from eventlake.cli.query_fast import parse
from eventlake.query import connect
from tests.fixtures_query import build_sunk_lake

SQL = "SELECT symbol, count(*) AS n, sum(volume) AS volume FROM stock_ticks GROUP BY symbol ORDER BY symbol"
HEAVY = ("pyarrow", "numpy", "pandas", "rich")


def _imported(cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the eventlake command as its entry point does; the top-level packages it imported."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("EVENTLAKE_")}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "eventlake.cli.main", *args],
        cwd=cwd,  # no eventlake.toml there
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return done, names


def test_query_as_json_loads_no_arrow_numpy_pandas_or_rich(tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=600)
    done, imported = _imported(tmp_path, "query", SQL, "--lake", str(lake.root), "--format", "json")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout)
    expected = lake.source.groupby("symbol").agg(n=("volume", "size"), volume=("volume", "sum")).reset_index()
    assert rows == [
        {"symbol": s, "n": int(n), "volume": int(v)}
        for s, n, v in zip(expected["symbol"], expected["n"], expected["volume"], strict=True)
    ]
    assert "duckdb" in imported  # the harness sees what the command imports...
    assert not imported & set(HEAVY), f"eventlake query --format json imported {sorted(imported & set(HEAVY))}"
    # No EVENTLAKE_* variable and no settings file: nothing for pydantic-settings to read.
    assert "pydantic_settings" not in imported
    # A plain `query` line runs without building the Typer app (cli/query_fast.py).
    assert not imported & {"typer", "click"}, f"a plain query imported {sorted(imported & {'typer', 'click'})}"
    # ...nor pydantic: without env or file its settings are config/query_path.py's lean ones.
    assert not imported & {"pydantic", "pydantic_core"}, f"a plain query imported {sorted(imported & {'pydantic'})}"
    # ...and Parquet output, which needs Arrow, does load it.
    done, imported = _imported(
        tmp_path, "query", SQL, "--lake", str(lake.root), "--format", "parquet", "--out", str(tmp_path / "o.parquet")
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "pyarrow" in imported


@pytest.mark.parametrize(
    ("args", "fast"),
    [
        (["query", "SELECT 1"], True),
        (["query", "SELECT 1", "--format", "csv", "--max-rows", "0", "--time-limit", "2.5", "--lake", "l"], True),
        (["query", "--lake", "l", "SELECT 1", "--engine", "athena", "--catalog", "c", "--config", "f"], True),
        (["query", "SELECT 1", "--out", "o.parquet", "--format", "parquet"], True),
        (["query"], False),  # Typer says what is missing
        (["query", "--help"], False),
        (["query", "SELECT 1", "-h"], False),
        (["--debug", "query", "SELECT 1"], False),  # global options are Typer's
        (["query", "SELECT 1", "--format=json"], False),
        (["query", "SELECT 1", "--format", "JSON"], False),  # Typer refuses it, with the choices
        (["query", "SELECT 1", "--max-rows", "-1"], False),
        (["query", "SELECT 1", "--max-rows", "1e3"], False),
        (["query", "SELECT 1", "--time-limit", "0"], False),
        (["query", "SELECT 1", "--lake", ""], False),
        (["query", "SELECT 1", "--lake"], False),
        (["query", "SELECT 1", "--lake", "a", "--lake", "b"], False),
        (["query", "SELECT 1", "SELECT 2"], False),
        (["query", "SELECT 1", "--bogus", "x"], False),
        (["query", "-- a comment first"], False),
        (["sql"], False),
    ],
)
def test_only_plain_query_lines_skip_typer(args: list[str], fast: bool) -> None:
    assert (parse(args) is not None) == fast


def test_a_line_the_fast_path_leaves_gets_typers_usage_error(tmp_path: Path) -> None:
    done, imported = _imported(tmp_path, "query", "SELECT 1", "--format", "JSON")
    assert done.returncode == 2
    assert "Invalid value for '--format'" in done.stderr
    assert "typer" in imported


def _arrow_rows(table: pa.Table) -> list[tuple[Any, ...]]:
    """Arrow's Python values, whole-number decimals as ints (how `execute` has always answered)."""
    columns = []
    for col in table.columns:
        values = col.to_pylist()
        if pa.types.is_decimal(col.type) and col.type.scale == 0:
            values = [None if v is None else int(v) for v in values]
        columns.append(values)
    return list(zip(*columns, strict=True))


# Every type `execute` fetches without Arrow, nulls and edge values included, and some it leaves to Arrow.
TYPED = """
SELECT * FROM (VALUES
  (true, 1::TINYINT, 2::SMALLINT, 3::INTEGER, 4::BIGINT, 5::UTINYINT, 6::USMALLINT, 7::UINTEGER,
   18446744073709551615::UBIGINT, 170141183460469231731687303715884105727::HUGEINT, 9::UHUGEINT,
   0.1::FLOAT, 0.1::DOUBLE, 'nan'::DOUBLE, 1.25::DECIMAL(10,2), 12345678901234567890::DECIMAL(38,0),
   'héllo ✓', '{"a": 1}'::JSON, '\\x00\\xff'::BLOB, DATE '2024-02-29', TIME '23:59:59.999999',
   TIMESTAMP '2024-01-02 03:04:05.123456', TIMESTAMP_S '2024-01-02 03:04:05', TIMESTAMP_MS '2024-01-02 03:04:05.5',
   TIMESTAMPTZ '2024-01-02 03:04:05+02', NULL,
   INTERVAL 2 MONTH, MAP {'k': 1}, [1::HUGEINT], {'a': 1.5::DECIMAL(4,1)},
   '8c2fe1e8-2c59-4ca7-9d6a-1a7a0b1f7d2e'::UUID),
  (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
)
"""


def test_rows_are_the_values_arrow_gives_for_every_type(tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=300)
    with connect(lake.settings) as engine:
        for sql in (
            TYPED,
            SQL,
            "SELECT * FROM stock_ticks ORDER BY ts, symbol",
            # not avg: its float sum depends on the order DuckDB's threads add in
            "SELECT sum(volume) AS v, max(price) AS p, min(ts) AS t FROM stock_ticks",
            "SELECT * FROM eventlake.files ORDER BY path",
            "SELECT symbol FROM stock_ticks WHERE false",
        ):
            rows = engine.execute(sql, max_rows=0)
            table = engine.sql(sql, max_rows=0)
            assert rows.columns == table.column_names
            assert repr(rows.rows) == repr(_arrow_rows(table)), sql  # repr: nan == nan, and types count


def test_row_cap_truncates_as_arrow_does(tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=300)
    sql = "SELECT * FROM stock_ticks ORDER BY ts, symbol"
    with connect(lake.settings) as engine:
        for limit in (1, 299, 300, 301):
            rows = engine.execute(sql, max_rows=limit)
            table = engine.sql(sql, max_rows=limit)
            assert len(rows.rows) == table.num_rows == min(limit, 300)
            assert rows.truncated == (limit < 300)
