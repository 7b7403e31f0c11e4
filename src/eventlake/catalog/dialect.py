"""The seam between the one catalog store (`sqlite.py`'s `SQLCatalog`) and its databases.

The store's SQL is written once, in SQLite's spelling with `?` placeholders; a dialect says only
what differs: how to connect, how a write transaction takes the catalog's write lock, upserts,
integer truncation, the schema version's home, and which driver errors mean "try again".
`SQLiteDialect` is here; `PostgresDialect` is in `postgres.py` (its driver loads only when used).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Any, Protocol

from eventlake.catalog import migrations


class Dialect(Protocol):
    where: str  # the catalog as messages name it (a path, or a URL without its password)
    error: tuple[type[BaseException], ...]  # every error of the driver
    integrity_error: tuple[type[BaseException], ...]
    open_hint: str

    def connect(self) -> Any: ...
    def reconnect(self, conn: Any) -> Any: ...
    def begin_write(self, conn: Any) -> None: ...
    def begin_read(self, conn: Any) -> None: ...
    def insert_ignore(self, table: str, cols: str, key: str) -> str: ...
    def upsert(self, table: str, cols: str, key: str) -> str: ...
    def trunc(self, expr: str) -> str: ...
    def schema_version(self, conn: Any) -> int: ...
    def upgrade(self, conn: Any, current: int, eventlake_version: str) -> None: ...
    def unavailable(self, exc: BaseException) -> tuple[str, bool] | None: ...
    def describe(self, exc: BaseException) -> str: ...


def marks(cols: str) -> str:
    return ",".join("?" * len(cols.split(",")))


def update_set(cols: str, key: str) -> str:
    keys = {k.strip() for k in key.split(",")}
    return ", ".join(f"{c}=excluded.{c}" for c in (c.strip() for c in cols.split(",")) if c not in keys)


class SQLiteDialect:
    """One SQLite file in WAL mode: `BEGIN IMMEDIATE` is the catalog-wide write lock."""

    error: tuple[type[BaseException], ...] = (sqlite3.Error,)
    integrity_error: tuple[type[BaseException], ...] = (sqlite3.IntegrityError,)
    open_hint = "check the path and its permissions, or pass --catalog"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)

    def connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._open()
        self._use_wal(conn)
        return conn

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN ourselves, so each transaction is explicit.
        conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
        # busy_timeout first: switching to WAL takes a lock too, and must wait, not fail,
        # while a sink in this or another process is committing.
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA synchronous=FULL")
        conn.row_factory = sqlite3.Row  # columns by name: a migration may add or move them
        return conn

    def reconnect(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        """A connection that found its file read-only stays read-only: open a new one for the next try."""
        with contextlib.suppress(sqlite3.Error):
            conn.close()
        try:
            return self._open()
        except sqlite3.Error:
            return conn

    @staticmethod
    def _use_wal(conn: sqlite3.Connection) -> None:
        """Switch a new catalog to WAL. SQLite answers "locked" at once, without the busy timeout,
        when another connection (a second sink starting, a reader) holds the file during the
        switch; that one is usually switching it too, so look again until the timeout."""
        deadline = time.monotonic() + 30
        while conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def begin_write(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def begin_read(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN")  # deferred: one snapshot from the first read on

    def insert_ignore(self, table: str, cols: str, key: str) -> str:
        return f"INSERT OR IGNORE INTO {table} ({cols}) VALUES ({marks(cols)})"

    def upsert(self, table: str, cols: str, key: str) -> str:
        return f"INSERT OR REPLACE INTO {table} ({cols}) VALUES ({marks(cols)})"

    def trunc(self, expr: str) -> str:
        return f"CAST({expr} AS INTEGER)"  # SQLite truncates toward zero

    def schema_version(self, conn: sqlite3.Connection) -> int:
        return migrations.user_version(conn)

    def upgrade(self, conn: sqlite3.Connection, current: int, eventlake_version: str) -> None:
        migrations.upgrade(conn, current, eventlake_version)

    def describe(self, exc: BaseException) -> str:
        return str(exc)

    def unavailable(self, exc: BaseException) -> tuple[str, bool] | None:
        """(hint, reconnect?) for an error that waiting or fixing the file can cure; None otherwise."""
        if not isinstance(exc, sqlite3.OperationalError):
            return None
        text = str(exc).replace("-", "").lower()
        hints = {
            "locked": "another process holds a long write lock on it; it is retried",
            "readonly": "make the catalog file and its folder writable",
            "disk": "free space on the catalog's disk",
            "full": "free space on the catalog's disk",
            "unable to open": "check that the catalog's folder exists and is writable",
        }
        hint = next((h for word, h in hints.items() if word in text), "check the catalog file")
        return hint, "readonly" in text
