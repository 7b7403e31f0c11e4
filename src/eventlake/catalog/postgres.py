"""The catalog on PostgreSQL: several machines' sinks share one ledger (`catalog = "postgresql://..."`).

The URL is outside input: it is parsed with allow-lists and handed to the driver as separate
keywords, never as a conninfo string, so nothing in it can add connection options. It carries no
password: that comes from `catalog_password` (env EVENTLAKE_CATALOG_PASSWORD), PGPASSWORD or
~/.pgpass, so URLs can be printed; a URL that holds one anyway is refused, and every message shows
URLs redacted. psycopg (the `postgres` extra) is imported only when such a catalog is opened.

The write lock: every write transaction (READ COMMITTED) first takes one transaction-scoped
advisory lock, the PostgreSQL twin of SQLite's `BEGIN IMMEDIATE`; see docs/architecture.md.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from eventlake.catalog import migrations
from eventlake.catalog.dialect import marks, update_set
from eventlake.errors import ConfigError

SCHEMES = ("postgresql", "postgres")
# One number for the catalog's write lock (advisory locks are per database, so one catalog each).
_WRITE_LOCK = 0x6576_6E74_6C6B  # "evntlk"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")  # PostgreSQL identifiers are at most 63 bytes
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$")
_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_PARAMS = ("sslmode", "sslrootcert", "connect_timeout", "application_name")
_HINT = "write postgresql://USER@HOST[:PORT]/DATABASE; the password goes in catalog_password"


def is_postgres(uri: str) -> bool:
    return uri.split("://", 1)[0].lower() in SCHEMES and "://" in uri


def redact(uri: str) -> str:
    """A URL as messages may show it: any password in it replaced by `***`."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@?#]*):[^@/?#]*@", r"\1:***@", uri)


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    user: str | None
    dbname: str
    options: dict[str, str] = field(default_factory=dict)

    def shown(self) -> str:
        user = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgresql://{user}{host}:{self.port}/{self.dbname}"


def parse(uri: str) -> Target:
    """postgresql://[USER@]HOST[:PORT]/DATABASE[?sslmode=...], each part allow-listed; one-line errors."""
    shown = redact(uri)
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in uri):
        raise ConfigError(f"catalog URL {shown!r} holds control characters", hint=_HINT)
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"catalog URL {shown!r} is not a valid URL: {exc}", hint=_HINT) from None
    if parts.scheme.lower() not in SCHEMES:
        raise ConfigError(f"catalog URL {shown!r} is not postgresql://", hint=_HINT)
    if parts.password is not None:
        raise ConfigError(
            f"catalog URL {shown!r} holds a password; URLs get printed and logged",
            hint="remove it from the URL and set catalog_password (env EVENTLAKE_CATALOG_PASSWORD) or use ~/.pgpass",
        )
    host = parts.hostname or ""
    if not host:
        raise ConfigError(f"catalog URL {shown!r} names no host", hint=_HINT)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST.match(host):
            raise ConfigError(f"catalog URL {shown!r}: {host!r} is not a host name or IP address", hint=_HINT) from None
    user = unquote(parts.username) if parts.username else None
    if user is not None and not _NAME.match(user):
        raise ConfigError(f"catalog URL {shown!r}: user {user!r} must be letters, digits, _ $ - (up to 63)", hint=_HINT)
    dbname = unquote(parts.path.removeprefix("/"))
    if not _NAME.match(dbname):
        raise ConfigError(
            f"catalog URL {shown!r}: database {dbname!r} must be letters, digits, _ $ - (up to 63)", hint=_HINT
        )
    if parts.fragment:
        raise ConfigError(f"catalog URL {shown!r} has a #fragment", hint=_HINT)
    options: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
        if key not in _PARAMS:
            raise ConfigError(
                f"catalog URL {shown!r}: unknown option {key!r}", hint=f"options allowed: {', '.join(_PARAMS)}"
            )
        if key == "sslmode" and value not in _SSLMODES:
            raise ConfigError(f"catalog URL {shown!r}: sslmode {value!r}", hint=f"one of {', '.join(_SSLMODES)}")
        if key == "connect_timeout" and not (value.isdigit() and 1 <= int(value) <= 300):
            raise ConfigError(f"catalog URL {shown!r}: connect_timeout {value!r}", hint="seconds, 1 to 300")
        options[key] = value
    return Target(host, port or 5432, user, dbname, options)


class _Row(tuple[Any, ...]):
    """A row by position and by column name, like sqlite3.Row (the store reads both ways)."""

    _index: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: Any) -> Any:
    from decimal import Decimal

    names = [c.name for c in cursor.description or ()]
    index = {n: i for i, n in enumerate(names)}

    def make(values: Any) -> _Row:
        # sum() of integers is numeric in PostgreSQL: back to int (or float), as SQLite gives them.
        fixed = [(int(v) if v == v.to_integral_value() else float(v)) if isinstance(v, Decimal) else v for v in values]
        row = _Row(fixed)
        row._index = index
        return row

    return make


class _Connection:
    """psycopg's connection with the store's `?` placeholders (its own are `%s`), connected again on
    the first statement after it broke (a server restart): the statement that met the break raised,
    so the next one begins a new transaction or runs alone, never continues the broken one."""

    def __init__(self, open_raw: Callable[[], Any]) -> None:
        self._open_raw = open_raw
        self.raw = open_raw()

    def _live(self) -> Any:
        if self.raw.closed or self.raw.broken:
            self.raw = self._open_raw()
        return self.raw

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        if not params:
            return self._live().execute(sql)  # no parameters: several statements may go as one script
        return self._live().execute(self._sql(sql), params)

    def executemany(self, sql: str, seq: Any) -> Any:
        cur = self._live().cursor()
        rows = list(seq)
        if rows:
            cur.executemany(self._sql(sql), rows)
        return cur

    def close(self) -> None:
        self.raw.close()


class PostgresDialect:
    """Connects with allow-listed keywords; the write lock is a transaction-scoped advisory lock."""

    open_hint = "check the URL, that the server runs, and catalog_password (env EVENTLAKE_CATALOG_PASSWORD)"

    def __init__(self, uri: str, password: str | None) -> None:
        self.target = parse(uri)
        self.where = self.target.shown()
        self._password = password or None
        try:
            import psycopg
        except ImportError:
            raise ConfigError(
                "a postgresql:// catalog needs the psycopg driver",
                hint="pip install 'eventlake[postgres]'",
            ) from None
        self._psycopg = psycopg
        self.error: tuple[type[BaseException], ...] = (psycopg.Error,)
        self.integrity_error: tuple[type[BaseException], ...] = (psycopg.errors.UniqueViolation,)

    def connect(self) -> _Connection:
        return _Connection(self._open)

    def _open(self) -> Any:
        t = self.target
        kwargs: dict[str, Any] = {"host": t.host, "port": t.port, "dbname": t.dbname, "connect_timeout": 10}
        if t.user:
            kwargs["user"] = t.user
        if self._password:
            kwargs["password"] = self._password
        kwargs.update(t.options)
        conn = self._psycopg.connect(autocommit=True, row_factory=_row_factory, **kwargs)
        # Waits as long as SQLite's busy timeout; a client that hangs inside a transaction
        # (stopped, not killed: a killed one's connection closes and its lock goes) lets go after a minute.
        conn.execute("SET lock_timeout = '30s'")
        conn.execute("SET idle_in_transaction_session_timeout = '60s'")
        conn.execute("SET TIME ZONE 'UTC'")
        return conn

    def reconnect(self, conn: _Connection) -> _Connection:
        """Drop the broken connection; the next statement opens a new one (and fails as an outage while down)."""
        try:
            conn.close()
        except self._psycopg.Error:
            pass
        return conn

    def begin_write(self, conn: _Connection) -> None:
        # READ COMMITTED on purpose: each statement after the lock sees everything committed
        # before the lock was granted (REPEATABLE READ would read from a snapshot taken while waiting).
        conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        conn.execute(f"SELECT pg_advisory_xact_lock({_WRITE_LOCK})")

    def begin_read(self, conn: _Connection) -> None:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")  # one snapshot for the whole read

    def insert_ignore(self, table: str, cols: str, key: str) -> str:
        return f"INSERT INTO {table} ({cols}) VALUES ({marks(cols)}) ON CONFLICT ({key}) DO NOTHING"

    def upsert(self, table: str, cols: str, key: str) -> str:
        return (
            f"INSERT INTO {table} ({cols}) VALUES ({marks(cols)}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {update_set(cols, key)}"
        )

    def trunc(self, expr: str) -> str:
        return f"CAST(trunc({expr}) AS BIGINT)"  # a plain CAST rounds here; SQLite's truncates

    def schema_version(self, conn: _Connection) -> int:
        """The version lives in a one-row table (PostgreSQL has no user_version); 0 before any."""
        # Asked of pg_tables through this statement's snapshot, not with to_regclass: that reads this
        # session's catalog cache, which may still say "no such table" after another process, holding
        # the write lock before us, created it (an advisory lock does not refresh the cache).
        exists = conn.execute(
            "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() "
            "AND tablename = 'eventlake_schema'"
        ).fetchone()[0]
        if not exists:
            return 0
        row = conn.execute("SELECT version FROM eventlake_schema").fetchone()
        return 0 if row is None else int(row[0])

    def upgrade(self, conn: _Connection, current: int, eventlake_version: str) -> None:
        """Apply the migrations after `current` inside the caller's transaction (DDL is transactional here)."""
        conn.execute("CREATE TABLE IF NOT EXISTS eventlake_schema (version INTEGER NOT NULL)")
        for migration in migrations.MIGRATIONS:
            if migration.version > current:
                conn.execute(migration.postgres or migrations.for_postgres(migration.sql))
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('eventlake_version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (eventlake_version,),
        )
        conn.execute("DELETE FROM eventlake_schema")
        conn.execute("INSERT INTO eventlake_schema (version) VALUES (?)", (migrations.LATEST,))

    def describe(self, exc: BaseException) -> str:
        """The driver's message on one line, without the password even if a server echoed it."""
        text = " ".join(str(exc).split())
        if self._password:
            text = text.replace(self._password, "***")
        return text or type(exc).__name__

    def unavailable(self, exc: BaseException) -> tuple[str, bool] | None:
        """(hint, reconnect?) for what waiting can cure: the server gone or restarting, a lock wait, too many
        connections. A refused login or a missing database is not: the caller sees a CatalogError."""
        errors = self._psycopg.errors
        if isinstance(exc, errors.LockNotAvailable):
            return "another process holds the catalog's write lock long; it is retried", False
        if isinstance(exc, errors.InvalidPassword | errors.InvalidAuthorizationSpecification):
            return None
        if isinstance(exc, self._psycopg.OperationalError):
            return "check that the PostgreSQL server runs and is reachable; it is retried", True
        return None
