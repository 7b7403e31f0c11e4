"""Catalog schema versions: an old catalog upgrades in place, in one transaction; a newer one is refused."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from eventlake.catalog import migrations
from eventlake.catalog.exceptions import CatalogError
from eventlake.catalog.sqlite import SQLiteCatalog
from eventlake.config import load_settings
from eventlake.query import connect

FIXTURE = Path(__file__).parents[1] / "fixtures" / "catalogs" / "v0_1_0"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())


def _maker() -> Any:
    spec = importlib.util.spec_from_file_location("make_v0_1_0", FIXTURE.parent / "make_v0_1_0.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _old_lake(tmp_path: Path) -> Path:
    """The fixture lake copied to tmp_path, its absolute paths moved there (raw SQL: the old schema)."""
    lake = tmp_path / "lake"
    shutil.copytree(FIXTURE / "lake", lake)
    old, new = EXPECTED["root"], str(lake)
    con = sqlite3.connect(lake / "_eventlake" / "catalog.sqlite", isolation_level=None)
    for table, column in (
        ("files", "path"),
        ("tables", "location"),
        ("partitions", "location"),
        ("crawl_state", "state"),
    ):
        con.execute(f"UPDATE {table} SET {column} = replace({column}, ?, ?)", (old, new))
    assert con.execute("PRAGMA user_version").fetchone()[0] == 0  # made before versions existed
    con.close()
    return lake


def _dump(path: Path) -> tuple[int, list[str]]:
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA user_version").fetchone()[0], list(con.iterdump())
    finally:
        con.close()


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def test_old_catalog_upgrades_and_queries_the_same(tmp_path: Path) -> None:
    lake = _old_lake(tmp_path)
    path = lake / "_eventlake" / "catalog.sqlite"
    with SQLiteCatalog(path) as store:
        assert _plain(_maker().catalog_facts(store)) == EXPECTED["catalog"]
    assert _dump(path)[0] == migrations.LATEST
    with connect(load_settings(overrides={"lake": str(lake)})) as engine:
        for name, sql in _maker().QUERIES.items():
            result = engine.execute(sql)
            got = {"columns": result.columns, "rows": _plain([list(r) for r in result.rows])}
            assert got == EXPECTED["queries"][name], name
    # Opening an up-to-date catalog changes nothing.
    before = _dump(path)
    SQLiteCatalog(path).close()
    assert _dump(path) == before


def test_catalog_from_a_newer_eventlake_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    SQLiteCatalog(path).close()
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("UPDATE meta SET value = '9.9.9' WHERE key = 'eventlake_version'")
    con.execute(f"PRAGMA user_version = {migrations.LATEST + 1}")
    con.close()
    with pytest.raises(CatalogError) as caught:
        SQLiteCatalog(path)
    assert "9.9.9" in caught.value.message and "\n" not in caught.value.message
    assert "upgrade eventlake" in (caught.value.hint or "")


def test_failed_upgrade_leaves_the_old_catalog_intact(tmp_path: Path) -> None:
    lake = _old_lake(tmp_path)
    path = lake / "_eventlake" / "catalog.sqlite"
    # Someone's own table under a name a migration creates late: the upgrade fails part-way.
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("CREATE TABLE files_by_partition (note TEXT)")
    con.close()
    before = _dump(path)
    with pytest.raises(CatalogError):
        SQLiteCatalog(path)
    assert _dump(path) == before  # no table, trigger, row or version of the upgrade is left
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("DROP TABLE files_by_partition")
    con.close()
    with SQLiteCatalog(path) as store:
        assert _plain(_maker().catalog_facts(store)) == EXPECTED["catalog"]


_UPGRADE = "import sys; from eventlake.catalog.sqlite import SQLiteCatalog; SQLiteCatalog(sys.argv[1]).close()"


def test_upgrade_killed_midway_leaves_old_or_new_never_a_mix(tmp_path: Path) -> None:
    lake = _old_lake(tmp_path)
    path = lake / "_eventlake" / "catalog.sqlite"
    con = sqlite3.connect(path)  # enough files that the upgrade takes a while (one transaction)
    con.executemany(
        "INSERT INTO files (path, database, name, partition_spec, format, rows, bytes, created_at) "
        "VALUES (?, 'default', 'bulk', ?, 'parquet', 1, 1, 0)",
        ((f"/x/{i:07d}.parquet", f'[["dt","{i % 97}"]]') for i in range(100_000)),
    )
    con.commit()
    con.close()
    wal = Path(str(path) + "-wal")
    proc = subprocess.Popen([sys.executable, "-c", _UPGRADE, str(path)], env=os.environ.copy())
    deadline = time.monotonic() + 60
    while proc.poll() is None and not (wal.is_file() and wal.stat().st_size > 0) and time.monotonic() < deadline:
        time.sleep(0.005)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    version, _rows = _dump(path)
    con = sqlite3.connect(path)
    has_meta = con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'meta'").fetchone()[0] == 1
    files = con.execute("SELECT count(*) FROM files").fetchone()[0]
    con.close()
    assert (version, has_meta) in ((0, False), (migrations.LATEST, True))
    assert files == 100_000 + 4
    with SQLiteCatalog(path) as store:  # whatever the kill left, the next open finishes the job
        assert _dump(path)[0] == migrations.LATEST
        assert [t.name for t in store.list_tables()] == ["prices", "ticks"]
