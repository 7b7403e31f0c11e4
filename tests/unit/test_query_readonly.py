"""The second lock: even SQL that got past the guard cannot change a lake file or see absolute paths.

These tests go around the guard on purpose (statements run on the engine's own DuckDB
connection) to show that DuckDB itself holds no write permission on the lake.
"""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import duckdb
import pytest

from eventlake.query import connect
from eventlake.query.exceptions import BadSql, QueryError, ResultTooLarge
from eventlake.query.readonly_fs import ReadOnlyFiles
from tests.fixtures_query import SunkLake, lake_settings, sunk_lake  # noqa: F401


def _checksums(root: Path) -> dict[Path, str]:
    return {
        p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file() and p.suffix == ".parquet"
    }


def test_duckdb_cannot_write_a_lake_file_even_past_the_guard(sunk_lake: SunkLake) -> None:
    before = _checksums(sunk_lake.root)
    victim = sorted(before)[0]
    with connect(sunk_lake.settings) as engine:
        con = engine._con
        assert con is not None
        name = f"lake://{victim.relative_to(sunk_lake.root).as_posix()}"
        attempts = [
            f"COPY (SELECT 42 AS x) TO '{name}' (FORMAT parquet, USE_TMP_FILE false)",
            f"COPY (SELECT 42 AS x) TO '{victim}' (FORMAT parquet, USE_TMP_FILE false)",
            f"COPY (SELECT 42 AS x) TO '{victim.parent}/new.parquet' (FORMAT parquet)",
            f"WITH x AS (COPY (SELECT 1) TO '{name}' (FORMAT csv)) SELECT 1",
        ]
        for sql in attempts:
            with pytest.raises(duckdb.Error):
                con.execute(sql)
        # The engine still reads every row afterwards.
        assert engine.execute("SELECT count(*) FROM stock_ticks").rows == [(len(sunk_lake.source),)]
    assert _checksums(sunk_lake.root) == before
    assert not (victim.parent / "new.parquet").exists()


def test_read_only_layer_refuses_writes_and_names_outside_its_root(tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "a.parquet").write_bytes(b"PAR1")
    (tmp_path / "secret").write_text("no")
    (tmp_path / "lake" / "link").symlink_to(tmp_path / "secret")
    files = ReadOnlyFiles(tmp_path / "lake", "lake")
    assert files.url(tmp_path / "lake" / "a.parquet") == "lake://a.parquet"
    with files.open("lake://a.parquet") as fh:
        assert fh.read() == b"PAR1"
    for mode in ("wb", "ab", "r+b", "xb"):
        with pytest.raises(PermissionError):
            files.open("lake://a.parquet", mode)
    for escape in ("lake://../secret", "lake://link", "lake:///etc/passwd", "lake://a.parquet/../../secret"):
        with pytest.raises(PermissionError):
            files.open(escape)
        assert files.glob(escape) == []
    with pytest.raises(PermissionError):
        files.url(tmp_path / "secret")
    with pytest.raises(PermissionError):
        files.rm("lake://a.parquet")


def test_sql_users_see_lake_relative_paths_only(sunk_lake: SunkLake) -> None:
    root = str(sunk_lake.root.resolve())
    with connect(sunk_lake.settings) as engine:
        paths = [p for (p,) in engine.execute("SELECT path FROM eventlake.files").rows]
        locations = [loc for (loc,) in engine.execute("SELECT location FROM eventlake.tables").rows]
        assert paths and all(p.startswith("stock_ticks/dt=") and p.endswith(".parquet") for p in paths)
        assert locations == ["stock_ticks"]
        assert all(not t.location.startswith("/") for t in engine.tables())
        text = repr(engine.execute("EXPLAIN SELECT * FROM stock_ticks WHERE volume > 3").rows)
        assert root not in text and str(engine._temp_dir) not in text


def test_each_engine_has_a_private_temp_folder_removed_on_close(sunk_lake: SunkLake) -> None:
    first, second = connect(sunk_lake.settings), connect(sunk_lake.settings)
    folders = [first._temp_dir, second._temp_dir]
    assert folders[0] != folders[1]
    for folder in folders:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    first.close()
    second.close()
    assert not any(folder.exists() for folder in folders)


def test_named_parameters_are_values_never_sql(sunk_lake: SunkLake) -> None:
    with connect(sunk_lake.settings) as engine:
        hostile = "AAPL' OR '1'='1"
        rows = engine.execute("SELECT count(*) FROM stock_ticks WHERE symbol = $s", params={"s": hostile}).rows
        assert rows == [(0,)]
        aapl = engine.execute("SELECT count(*) FROM stock_ticks WHERE symbol = $s", params={"s": "AAPL"}).rows
        assert aapl == [(int((sunk_lake.source.symbol == "AAPL").sum()),)]


def test_size_and_result_caps_are_one_line_errors(tmp_path: Path, sunk_lake: SunkLake) -> None:
    settings = lake_settings(sunk_lake.root, query={"max_sql_bytes": 4096, "max_result_bytes": 100_000})
    with connect(settings) as engine:
        with pytest.raises(BadSql, match="over the limit of 4,096 bytes"):
            engine.execute("SELECT '" + "x" * 5000 + "'")
        with pytest.raises(ResultTooLarge, match="max_result_bytes"):
            engine.execute("SELECT repeat('x', 1000) FROM range(1000)")
        with pytest.raises(BadSql, match="one statement at a time"):
            engine.execute("SELECT 1; SELECT 2")
        with pytest.raises(BadSql, match="nested too deeply"):
            engine.execute("SELECT " + "(" * 2000 + "1" + ")" * 2000)
        # A trailing semicolon is still one statement.
        assert engine.execute("SELECT 1 AS one;").rows == [(1,)]


def test_guard_runs_inside_the_time_limit(sunk_lake: SunkLake) -> None:
    settings = lake_settings(sunk_lake.root, query={"time_limit_s": 1.0})
    with connect(settings) as engine, pytest.raises(QueryError, match="longer than 1 s"):
        engine.execute("SELECT count(*) FROM range(100000000000) a, range(100) b WHERE a.range % 7 = b.range")


def test_large_files_read_in_parallel_through_the_layer_equal_a_native_read(tmp_path: Path) -> None:
    """DuckDB's threads share one handle per file (seek, then read): positions must not mix."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    for i in range(2):
        n = 1_000_000
        table = pa.table(
            {"a": rng.integers(0, 1 << 40, n), "b": rng.random(n), "s": pa.array(rng.choice(["x", "yy", "zzz"], n))}
        )
        pq.write_table(table, tmp_path / f"f{i}.parquet", row_group_size=50_000, compression="zstd")
    files = ReadOnlyFiles(tmp_path, "lake")
    sql = "SELECT sum(a), sum((b * 1e6)::BIGINT), count(DISTINCT s), count(*) FROM read_parquet({})"
    native = (
        duckdb.connect(config={"threads": 4})
        .execute(sql.format([str(tmp_path / f"f{i}.parquet") for i in range(2)]))
        .fetchall()
    )
    con = duckdb.connect(config={"threads": 4})
    con.register_filesystem(files)
    for _ in range(3):
        assert con.execute(sql.format([f"lake://f{i}.parquet" for i in range(2)])).fetchall() == native


def test_gzip_files_read_through_the_layer_from_many_threads(tmp_path: Path) -> None:
    """Sequential reads: one thread may seek where another reads (DuckDB's gzip reader)."""
    import gzip
    import json

    for d in range(12):
        with gzip.open(tmp_path / f"e{d}.json.gz", "wt") as f:
            for i in range(2000):
                f.write(json.dumps({"a": i, "d": d}) + "\n")
    con = duckdb.connect(config={"threads": 4})
    con.register_filesystem(ReadOnlyFiles(tmp_path, "lake"))
    scans = " UNION ALL ".join(
        f"SELECT * FROM read_json(['lake://e{d}.json.gz'], format='newline_delimited', compression='gzip', "
        "columns={'a': 'BIGINT', 'd': 'BIGINT'})"
        for d in range(12)
    )
    for _ in range(5):
        assert con.execute(f"SELECT count(*), sum(a), sum(d) FROM ({scans})").fetchall() == [
            (24_000, 12 * sum(range(2000)), 2000 * sum(range(12)))
        ]


def test_what_duckdb_asks_per_file_answers_nothing_outside_the_root(tmp_path: Path) -> None:
    """Glob, size, mtime and exists are answered from lookups: a name outside the root never gets in."""
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "a.parquet").write_bytes(b"PAR1")
    (tmp_path / "secret").write_text("no")
    (tmp_path / "lake" / "link").symlink_to(tmp_path / "secret")
    files = ReadOnlyFiles(tmp_path / "lake", "lake")
    assert files.glob("lake://a.parquet") == ["lake://a.parquet"]
    assert files.size("lake://a.parquet") == 4
    for escape in ("lake://../secret", "lake://link", "lake:///etc/passwd", "lake://a.parquet/../../secret"):
        for _ in range(2):  # the second ask must not find an answer kept by the first
            assert files.glob(escape) == []
            assert not files.isfile(escape) and not files.exists(escape)
            for ask in (files.size, files.modified, files.info):
                with pytest.raises(PermissionError):
                    ask(escape)
    # A name not there yet is not remembered as missing: a later flush's file is found.
    assert files.glob("lake://b.parquet") == []
    (tmp_path / "lake" / "b.parquet").write_bytes(b"PAR1")
    assert files.glob("lake://b.parquet") == ["lake://b.parquet"]


def test_a_file_replaced_under_its_name_is_read_as_it_is_now(sunk_lake: SunkLake) -> None:
    """A long-lived engine keeps answers per name; size and mtime come from the file it opened,
    so a file rewritten in place (a crawled folder re-exported) is never read with the old size."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with connect(sunk_lake.settings) as engine:
        total = len(sunk_lake.source)
        assert engine.execute("SELECT count(*) FROM stock_ticks").rows == [(total,)]
        victim = sorted(sunk_lake.root.rglob("*.parquet"))[0]
        old = pq.read_table(victim)
        grown = pa.concat_tables([old] * 50)  # another size, same columns
        pq.write_table(grown, victim)
        for _ in range(2):
            assert engine.execute("SELECT count(*) FROM stock_ticks").rows == [(total + 49 * old.num_rows,)]
