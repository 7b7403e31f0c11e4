"""Fixtures of the SQL security tests: a small real lake, a private temp dir and cwd, and "the world".

`sql_lake` (one per module) is what the sink leaves behind, written without Kafka by the
query fixtures (`build_sunk_lake`: Hive-partitioned Parquet recorded by ledger entries), plus
a second table (`orders`), two saved views, and planted files an attacker would like to read
(a canary CSV in the lake folder, a secret beside the lake, a canary in the shared
`$TMPDIR/eventlake-duckdb` folder older engines used). While the module runs,
`tempfile.gettempdir()` and the cwd are private folders of the module, so every file an
attack could write there is watched and nothing else on the machine writes there.

`snapshot_world(lake)` records sha256 of every file under the module's folder (the lake, its
pristine copy, the temp dir, the cwd, the planted files), the catalog's logical content
(SQLite dump: WAL makes the bytes flaky), the test's tmp_path and entries of the real system
temp dir bearing this session's MARKER. `assert_nothing_changed(before)` compares a fresh
snapshot with it; the `world` fixture also puts the lake back after a test that changed it.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eventlake.catalog import Column, DataFile, Table, open_catalog
from eventlake.config import Settings
from eventlake.types import TableRef
from tests.fixtures_query import build_sunk_lake, orders

# The real system temp dir, before any module points tempfile at its own folder.
REAL_TMP = Path(tempfile.gettempdir())
# Every path an attack aims outside the module's folders carries this session's marker.
MARKER = f"evlk-attack-{uuid.uuid4().hex[:10]}"
CANARY = f"evlk-canary-{uuid.uuid4().hex[:10]}"
EVENTLAKE = str(Path(sys.executable).with_name("eventlake"))
ORDERS_COLUMNS = [
    Column("order_id", "bigint"),
    Column("amount", "double"),
    Column("paid", "boolean"),
    Column("ts", "timestamp"),
    Column("customer", "string"),
]
ORDERS_KEYS = [Column("dt", "string"), Column("region", "string")]
SAVED_VIEWS = {
    "ticks_by_symbol": "SELECT symbol, count(*) AS n FROM stock_ticks GROUP BY symbol",
    "big_orders": "SELECT order_id, amount, region FROM orders WHERE amount > 60",
}
_CATALOG_FILES = ("catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm", "catalog.sqlite-journal")


@dataclass
class SqlLake:
    """A lake with stock_ticks and orders, its private temp dir and cwd, and the files attacks aim at."""

    base: Path  # the module's folder: everything below is watched
    root: Path  # the lake
    settings: Settings
    source: Any  # pandas DataFrame: every stock tick
    orders: Any  # pandas DataFrame: every order
    tmp: Path  # tempfile.gettempdir() while the module runs
    cwd: Path
    pristine: Path  # a copy of the lake as built, to put it back after a successful attack
    catalog: Path
    data_files: list[Path]  # every file the catalog lists
    planted_csv: Path  # in the lake folder, not in the catalog
    secret: Path  # beside the lake
    legacy_temp: Path  # $TMPDIR/eventlake-duckdb, as another local user could have created it
    engine_temp: list[Path] = field(default_factory=list)  # folders engines of this module made in tmp

    def secrets(self) -> list[str]:
        """Strings no result of an allowed query may contain: absolute lake/temp paths, canaries."""
        paths = {self.base, self.root, self.tmp, self.cwd, *self.engine_temp}
        out = {CANARY}
        for p in paths:
            out.add(str(p))
            out.add(str(p.resolve()))
        return sorted(out)

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def _add_orders(root: Path, settings: Settings) -> Any:
    """Table orders: Hive-partitioned Parquet (dt, region) as another tool exports it, files listed."""
    df = orders(300)
    table_root = root / "orders"
    files: list[DataFile] = []
    for (dt, region), part in df.groupby(["dt", "region"]):
        folder = table_root / f"dt={dt}" / f"region={region}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "part-0.parquet"
        data = part.drop(columns=["dt", "region"])
        pq.write_table(pa.Table.from_pandas(data, preserve_index=False), path)
        files.append(
            DataFile(
                str(path),
                {"dt": str(dt), "region": str(region)},
                len(part),
                path.stat().st_size,
                created_at=time.time(),
            )
        )
    with open_catalog(settings) as store:
        store.upsert_table(
            Table("default", "orders", str(table_root), "parquet", ORDERS_COLUMNS, ORDERS_KEYS, source="crawler")
        )
        store.add_files(TableRef("default", "orders"), files)
        for name, sql in SAVED_VIEWS.items():
            store.save_view(name, sql)
    return df


def build_sql_lake(base: Path, tmp: Path, cwd: Path) -> SqlLake:
    """The module's lake; `tmp` and `cwd` must already be the process's temp dir and cwd."""
    root = base / "lake"
    sunk = build_sunk_lake(root, rows=600, flush_rows=100)
    orders_df = _add_orders(root, sunk.settings)
    with open_catalog(sunk.settings) as store:
        data_files = sorted(Path(f.path) for f in store.list_files())
    planted = root / "stock_ticks" / "planted.csv"
    planted.write_text(f"secret\n{CANARY}\n")
    outside = base / "outside"
    outside.mkdir()
    secret = outside / "secret.csv"
    secret.write_text(f"secret\n{CANARY}\n")
    legacy = tmp / "eventlake-duckdb"
    legacy.mkdir(exist_ok=True)
    (legacy / "canary.csv").write_text(f"secret\n{CANARY}\n")
    pristine = base / "pristine"
    shutil.copytree(root, pristine)
    return SqlLake(
        base=base,
        root=root,
        settings=sunk.settings,
        source=sunk.source,
        orders=orders_df,
        tmp=tmp,
        cwd=cwd,
        pristine=pristine,
        catalog=root / "_eventlake" / "catalog.sqlite",
        data_files=data_files,
        planted_csv=planted,
        secret=secret,
        legacy_temp=legacy,
    )


@pytest.fixture(scope="module")
def sql_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlLake]:
    """One lake per module, with tempfile.gettempdir(), $TMPDIR and the cwd pointed at private folders."""
    base = tmp_path_factory.mktemp("sqlsec")
    tmp, cwd = base / "tmp", base / "cwd"
    tmp.mkdir()
    cwd.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        for name in [k for k in os.environ if k.startswith("EVENTLAKE_")]:
            mp.delenv(name)
        mp.setattr(tempfile, "tempdir", str(tmp))
        mp.setenv("TMPDIR", str(tmp))
        mp.chdir(cwd)
        yield build_sql_lake(base, tmp, cwd)


def listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def new_entries(folder: Path, before: set[str]) -> list[Path]:
    return sorted(folder / name for name in listing(folder) - before)


@pytest.fixture(scope="module")
def sql_engine(sql_lake: SqlLake) -> Iterator[Any]:
    """The library surface: `eventlake.query.connect(settings)` over the module's lake."""
    from eventlake.query import connect

    before = listing(sql_lake.tmp)
    engine = connect(sql_lake.settings)
    engine.execute("SELECT count(*) FROM stock_ticks")
    sql_lake.engine_temp += new_entries(sql_lake.tmp, before)
    try:
        yield engine
    finally:
        engine.close()


def http_client(settings: Settings) -> Any:
    """FastAPI's TestClient on `create_app(settings)`, addressed as 127.0.0.1; server errors become 500s.

    Starlette warns once, on import, that it prefers httpx2 over httpx: not ours to fix here."""
    from eventlake.dashboard.app import create_app

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx.*")
        from starlette.testclient import TestClient

    return TestClient(create_app(settings), base_url="http://127.0.0.1", raise_server_exceptions=False)


@pytest.fixture(scope="module")
def sql_client(sql_lake: SqlLake) -> Iterator[Any]:
    """The HTTP surface: POST /api/query on the dashboard app over the module's lake."""
    before = listing(sql_lake.tmp)
    with http_client(sql_lake.settings) as client:
        answer = client.post("/api/query", json={"sql": "SELECT count(*) FROM stock_ticks"})
        assert answer.status_code == 200, answer.text
        sql_lake.engine_temp += new_entries(sql_lake.tmp, before)
        yield client


# -- the world -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """What an attack could have changed: file digests by watched root, the catalog's content."""

    roots: tuple[tuple[str, Path], ...]
    files: dict[str, str]
    catalog_path: Path
    catalog: str
    lake: SqlLake


# sha256 by (path, inode, size, mtime, mode): SQL cannot write a file and keep its mtime, so a file whose
# stat is unchanged need not be read again (the snapshot runs three times per test).
_DIGESTS: dict[tuple[str, int, int, int, int], str] = {}


def _digest(path: Path) -> str:
    try:
        if path.is_symlink():
            return "symlink:" + str(path.readlink())
        st = path.stat()
        key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode)
        if key not in _DIGESTS:
            _DIGESTS[key] = _sha256(path)
        return _DIGESTS[key]
    except OSError as exc:  # vanished or unreadable while walking: still a fact worth comparing
        return f"error:{type(exc).__name__}"


def _sha256(path: Path) -> str:
    try:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return f"{path.stat().st_mode & 0o7777:o}:{h.hexdigest()}"
    except OSError as exc:  # vanished or unreadable while walking: still a fact worth comparing
        return f"error:{type(exc).__name__}"


def _walk(label: str, root: Path, out: dict[str, str]) -> None:
    if not root.exists():
        return
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        for d in dirs:
            out[f"{label}:{(here / d).relative_to(root).as_posix()}/"] = "dir"
        for name in names:
            if name in _CATALOG_FILES:
                continue
            path = here / name
            out[f"{label}:{path.relative_to(root).as_posix()}"] = _digest(path)


def catalog_dump(path: Path) -> str:
    """The catalog's logical content (schema and rows), read-only."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()


def snapshot_world(lake: SqlLake, *extra: Path) -> World:
    """Digests of everything the tests can watch: the module folder, `extra` folders, marked system-temp entries."""
    roots: list[tuple[str, Path]] = [("base", lake.base)]
    roots += [(f"extra{i}", p) for i, p in enumerate(extra)]
    files: dict[str, str] = {}
    for label, root in roots:
        _walk(label, root, files)
    for path in REAL_TMP.iterdir():
        if MARKER in path.name:
            files[f"systmp:{path.name}"] = _digest(path)
    return World(tuple(roots), files, lake.catalog, catalog_dump(lake.catalog), lake)


def world_changes(before: World) -> list[str]:
    """Lines describing what differs from `before` (empty when nothing changed)."""
    after = snapshot_world(before.lake, *[p for label, p in before.roots if label != "base"])
    changes = [f"new: {k}" for k in sorted(after.files.keys() - before.files.keys())]
    changes += [f"gone: {k}" for k in sorted(before.files.keys() - after.files.keys())]
    changes += [
        f"changed: {k}" for k in sorted(before.files.keys() & after.files.keys()) if before.files[k] != after.files[k]
    ]
    if after.catalog != before.catalog:
        diff = [
            line[:200]
            for line in difflib.unified_diff(before.catalog.splitlines(), after.catalog.splitlines(), lineterm="", n=0)
            if line[:1] in "+-"
        ][2:8]
        changes.append(f"changed: catalog content of {before.catalog_path}: {diff}")
    return changes


def assert_nothing_changed(before: World) -> None:
    """Fail, naming the files, if anything watched differs from the snapshot `before`."""
    changes = world_changes(before)
    if changes:
        shown = "\n  ".join(changes[:20]) + (f"\n  ... and {len(changes) - 20} more" if len(changes) > 20 else "")
        raise AssertionError(f"the query changed the world:\n  {shown}")


def restore_world(before: World) -> None:
    """Put the lake back as built and remove files an attack left in the watched folders."""
    lake = before.lake
    after = snapshot_world(lake, *[p for label, p in before.roots if label != "base"])
    roots = dict(before.roots)
    for key in sorted(after.files.keys() - before.files.keys(), reverse=True):
        label, _, rel = key.partition(":")
        path = REAL_TMP / rel if label == "systmp" else roots[label] / rel.rstrip("/")
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    for src in lake.pristine.rglob("*"):
        if src.is_file() and src.name not in _CATALOG_FILES:
            dst = lake.root / src.relative_to(lake.pristine)
            if not dst.is_file() or _digest(dst) != _digest(src):
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.unlink(missing_ok=True)
                shutil.copy2(src, dst)
    if catalog_dump(lake.catalog) != before.catalog:
        good = sqlite3.connect(lake.pristine / "_eventlake" / "catalog.sqlite")
        live = sqlite3.connect(lake.catalog, timeout=30)
        try:
            good.backup(live)
        finally:
            good.close()
            live.close()


@pytest.fixture
def world(sql_lake: SqlLake, tmp_path: Path) -> Iterator[World]:
    """A snapshot taken before the test (tmp_path watched too); a changed lake is put back afterwards."""
    before = snapshot_world(sql_lake, tmp_path)
    yield before
    if world_changes(before):
        restore_world(before)


# -- the CLI ---------------------------------------------------------------------------------------------


def cli_env(lake: SqlLake, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
    env.update(TMPDIR=str(lake.tmp), **extra)
    return env


def run_cli(
    lake: SqlLake, sql: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`eventlake query SQL --lake DIR ...` as a user runs it, in the module's cwd and temp dir."""
    return subprocess.run(
        [EVENTLAKE, "query", sql, "--lake", str(lake.root), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or cli_env(lake),
        cwd=lake.cwd,
        check=False,
    )


def one_error_line(stderr: str) -> str:
    """The single non-blank stderr line of a refused command (no traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr[:2000]}"
    return lines[0]
