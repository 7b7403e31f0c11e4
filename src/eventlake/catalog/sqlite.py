"""The embedded catalog: one SQLite file (WAL), safe for several processes.

Every change that must be atomic (a flush's ledger entry with its files and
partitions; a compaction's swap of files) is one `BEGIN IMMEDIATE` transaction,
so a crash leaves either all of it or none of it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventlake.catalog import migrations
from eventlake.catalog.exceptions import CatalogError, CatalogUnavailable, LedgerConflict, TableNotFound
from eventlake.catalog.model import Column, DataFile, LedgerEntry, OffsetEvent, Partition, Table
from eventlake.types import TableRef

# Columns named in every read and write (never `SELECT *` or positional VALUES): a migration may add columns.
_TABLE_COLS = (
    "database, name, location, format, columns, partition_keys, schema_version, source, parameters, "
    "created_at, updated_at"
)
_FILE_COLS = (
    "path, database, name, partition_spec, format, rows, bytes, topic, kafka_partition, first_offset, "
    "last_offset, min_event_time, max_event_time, created_at"
)
_LEDGER_COLS = (
    "topic, partition, first_offset, last_offset, database, name, rows, bytes, dlq, files, max_event_time, committed_at"
)
_EVENT_COLS = "topic, partition, kind, first_offset, last_offset, incarnation, action, detail, detected_at"


def _spec(values: dict[str, str]) -> str:
    """A partition's identity: its key=value pairs in key order, as JSON."""
    return json.dumps(list(values.items()), separators=(",", ":"))


def _values(spec: str) -> dict[str, str]:
    return dict(json.loads(spec))


def _cols(columns: list[Column]) -> str:
    return json.dumps([[c.name, c.type] for c in columns])


def _uncols(text: str) -> list[Column]:
    return [Column(n, t) for n, t in json.loads(text)]


@dataclass(frozen=True)
class CatalogChanges:
    """`read_changes`: the change number read, whether anything but new files changed, every table
    and saved view, and per changed table (whole list?, [(rowid, file)])."""

    seq: int
    reset: bool
    tables: list[Table]
    views: list[tuple[str, str, str]]
    files: dict[tuple[str, str], tuple[bool, list[tuple[int, DataFile]]]]


class SQLiteCatalog:
    """Glue-shaped catalog, file list and exactly-once ledger in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN ourselves, so each transaction is explicit.
            self._conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
            # busy_timeout first: switching to WAL takes a lock too, and must wait, not fail,
            # while a sink in this or another process is committing.
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._conn.execute("PRAGMA synchronous=FULL")
            if self._conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.row_factory = sqlite3.Row  # columns by name: a migration may add or move them
            self._upgrade()
        except sqlite3.Error as exc:
            raise CatalogError(
                f"cannot open catalog {self.path}: {exc}", hint="check the path and its permissions, or pass --catalog"
            ) from exc

    def _upgrade(self) -> None:
        """Bring an older catalog to this eventlake's schema in one transaction; refuse a newer one."""
        if migrations.user_version(self._conn) == migrations.LATEST:
            return
        with self._tx() as c:
            current = migrations.user_version(c)  # again under the write lock: another process may have done it
            if current > migrations.LATEST:
                from eventlake import __version__

                by = migrations.made_by(c)
                raise CatalogError(
                    f"catalog {self.path} has schema version {current}, made by "
                    f"{f'eventlake {by}' if by else 'a newer eventlake'}; eventlake {__version__} reads "
                    f"versions up to {migrations.LATEST}",
                    hint="upgrade eventlake to open it",
                )
            if current < migrations.LATEST:
                from eventlake import __version__

                try:
                    migrations.upgrade(c, current, __version__)
                except sqlite3.Error as exc:  # rolled back by _tx: the file stays as it was
                    raise CatalogError(
                        f"cannot upgrade catalog {self.path} from schema version {current} to "
                        f"{migrations.LATEST}: {exc}; it was left unchanged",
                        hint="an object in the catalog has a name eventlake needs; remove it, or open "
                        "the catalog with the eventlake that made it",
                    ) from exc

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SQLiteCatalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, _unavailable(self.path, self._reconnect):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock, _unavailable(self.path, self._reconnect):
            return self._conn.execute(sql, params).fetchall()

    def _reconnect(self) -> None:
        """A connection that found its file read-only stays read-only: open a new one for the next try."""
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
        with contextlib.suppress(sqlite3.Error):
            self._conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.row_factory = sqlite3.Row

    # databases
    def ensure_database(self, name: str) -> None:
        with self._tx() as c:
            c.execute("INSERT OR IGNORE INTO databases (name, created_at) VALUES (?, ?)", (name, time.time()))

    def list_databases(self) -> list[str]:
        return [r[0] for r in self._query("SELECT name FROM databases ORDER BY name")]

    # tables
    def get_table(self, ref: TableRef) -> Table | None:
        rows = self._query(f"SELECT {_TABLE_COLS} FROM tables WHERE database=? AND name=?", (ref.database, ref.name))
        return _table(rows[0]) if rows else None

    def require_table(self, ref: TableRef) -> Table:
        table = self.get_table(ref)
        if table is None:
            raise TableNotFound(f"no table {ref} in the catalog", hint="`eventlake tables` lists them")
        return table

    def list_tables(self, database: str | None = None) -> list[Table]:
        if database is None:
            rows = self._query(f"SELECT {_TABLE_COLS} FROM tables ORDER BY database, name")
        else:
            rows = self._query(f"SELECT {_TABLE_COLS} FROM tables WHERE database=? ORDER BY name", (database,))
        return [_table(r) for r in rows]

    def upsert_table(self, table: Table) -> Table:
        """Create or update; bump schema_version (keeping the old schema) when columns change."""
        now = time.time()
        with self._tx() as c:
            c.execute("INSERT OR IGNORE INTO databases (name, created_at) VALUES (?, ?)", (table.database, now))
            row = c.execute(
                f"SELECT {_TABLE_COLS} FROM tables WHERE database=? AND name=?", (table.database, table.name)
            ).fetchone()
            if row is None:
                version, created = 1, now
                changed = True
            else:
                old = _table(row)
                changed = old.columns != table.columns or old.partition_keys != table.partition_keys
                version = old.schema_version + 1 if changed else old.schema_version
                created = old.created_at
            c.execute(
                f"INSERT OR REPLACE INTO tables ({_TABLE_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    table.database,
                    table.name,
                    table.location,
                    table.format,
                    _cols(table.columns),
                    _cols(table.partition_keys),
                    version,
                    table.source,
                    json.dumps(table.parameters),
                    created,
                    now,
                ),
            )
            if changed:
                c.execute(
                    "INSERT OR REPLACE INTO schema_versions (database, name, version, columns, created_at) "
                    "VALUES (?,?,?,?,?)",
                    (table.database, table.name, version, _cols(table.columns), now),
                )
        result = self.get_table(table.ref)
        assert result is not None
        return result

    def schema_versions(self, ref: TableRef) -> list[tuple[int, list[Column], float]]:
        rows = self._query(
            "SELECT version, columns, created_at FROM schema_versions WHERE database=? AND name=? ORDER BY version",
            (ref.database, ref.name),
        )
        return [(v, _uncols(cols), at) for v, cols, at in rows]

    def drop_table(self, ref: TableRef) -> None:
        with self._tx() as c:
            for tbl in ("tables", "schema_versions", "partitions", "files"):
                c.execute(f"DELETE FROM {tbl} WHERE database=? AND name=?", (ref.database, ref.name))

    # partitions
    def add_partitions(self, ref: TableRef, parts: list[Partition]) -> int:
        with self._tx() as c:
            return self._add_partitions(c, ref, parts)

    @staticmethod
    def _add_partitions(c: sqlite3.Connection, ref: TableRef, parts: list[Partition]) -> int:
        added = 0
        now = time.time()
        for p in parts:
            cur = c.execute(
                "INSERT OR IGNORE INTO partitions (database, name, spec, location, created_at) VALUES (?,?,?,?,?)",
                (ref.database, ref.name, _spec(p.values), p.location, now),
            )
            added += cur.rowcount
        return added

    def list_partitions(self, ref: TableRef) -> list[Partition]:
        rows = self._query(
            "SELECT spec, location, created_at FROM partitions WHERE database=? AND name=? ORDER BY spec",
            (ref.database, ref.name),
        )
        return [Partition(_values(s), loc, at) for s, loc, at in rows]

    def remove_partitions(self, ref: TableRef, values_list: list[dict[str, str]]) -> None:
        with self._tx() as c:
            for values in values_list:
                spec = _spec(values)
                c.execute(
                    "DELETE FROM partitions WHERE database=? AND name=? AND spec=?", (ref.database, ref.name, spec)
                )
                c.execute(
                    "DELETE FROM files WHERE database=? AND name=? AND partition_spec=?", (ref.database, ref.name, spec)
                )

    # files
    def add_files(self, ref: TableRef, files: list[DataFile]) -> None:
        with self._tx() as c:
            self._insert_files(c, ref, files, replace=True)

    @staticmethod
    def _insert_files(c: sqlite3.Connection, ref: TableRef, files: list[DataFile], *, replace: bool) -> None:
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        now = time.time()
        c.executemany(
            f"{verb} INTO files ({_FILE_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    f.path,
                    ref.database,
                    ref.name,
                    _spec(f.partition),
                    f.format,
                    f.rows,
                    f.bytes,
                    f.topic,
                    f.kafka_partition,
                    f.first_offset,
                    f.last_offset,
                    f.min_event_time,
                    f.max_event_time,
                    f.created_at or now,
                )
                for f in files
            ],
        )

    def remove_files(self, ref: TableRef, paths: list[str]) -> None:
        with self._tx() as c:
            c.executemany(
                "DELETE FROM files WHERE database=? AND name=? AND path=?", [(ref.database, ref.name, p) for p in paths]
            )

    def list_files(self, ref: TableRef | None = None, partition_filter: dict[str, str] | None = None) -> list[DataFile]:
        if ref is None:
            rows = self._query(f"SELECT {_FILE_COLS} FROM files ORDER BY database, name, path")
        else:
            rows = self._query(
                f"SELECT {_FILE_COLS} FROM files WHERE database=? AND name=? ORDER BY path", (ref.database, ref.name)
            )
        files = [_file(r) for r in rows]
        if partition_filter:
            files = [f for f in files if all(f.partition.get(k) == v for k, v in partition_filter.items())]
        return files

    def replace_files(self, ref: TableRef, old_paths: list[str], new_files: list[DataFile]) -> None:
        """Swap files in one transaction: readers see the old set or the new set, never a mix."""
        with self._tx() as c:
            marks = ",".join("?" * len(old_paths))
            query = f"SELECT path FROM files WHERE database=? AND name=? AND path IN ({marks})"
            rows = c.execute(query, (ref.database, ref.name, *old_paths)).fetchall() if old_paths else []
            present = {r[0] for r in rows}
            missing = set(old_paths) - present
            if missing:
                raise CatalogError(
                    f"cannot replace files no longer in {ref}: {sorted(missing)[:3]}",
                    hint="another compaction ran; run it again",
                )
            c.executemany("DELETE FROM files WHERE path=?", [(p,) for p in old_paths])
            self._insert_files(c, ref, new_files, replace=False)

    # ledger
    def ledger_next_offset(self, topic: str, partition: int) -> int | None:
        rows = self._query("SELECT max(last_offset) FROM ledger WHERE topic=? AND partition=?", (topic, partition))
        last = rows[0][0] if rows else None
        return None if last is None else int(last) + 1

    def commit_flush(self, entry: LedgerEntry) -> None:
        """Record one flush atomically, only if it continues the ledger exactly."""
        with self._tx() as c:
            last = c.execute(
                "SELECT max(last_offset) FROM ledger WHERE topic=? AND partition=?", (entry.topic, entry.partition)
            ).fetchone()[0]
            if last is not None and entry.first_offset != last + 1:
                raise LedgerConflict(
                    f"{entry.topic}[{entry.partition}] offsets {entry.first_offset}..{entry.last_offset} "
                    f"do not follow the ledger (next is {last + 1})",
                    hint="another sink owns this partition now; this flush is discarded",
                )
            try:
                c.execute(
                    f"INSERT INTO ledger ({_LEDGER_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        entry.topic,
                        entry.partition,
                        entry.first_offset,
                        entry.last_offset,
                        entry.table.database,
                        entry.table.name,
                        entry.rows,
                        entry.bytes or sum(f.bytes for f in entry.files),
                        entry.dlq,
                        len(entry.files),
                        entry.max_event_time,
                        entry.committed_at or time.time(),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise LedgerConflict(
                    f"{entry.topic}[{entry.partition}] offset {entry.first_offset} is already recorded",
                    hint="another sink recorded it first; this flush is discarded",
                ) from exc
            c.execute(
                "INSERT OR IGNORE INTO databases (name, created_at) VALUES (?, ?)", (entry.table.database, time.time())
            )
            self._insert_files(c, entry.table, entry.files, replace=False)
            parts = {_spec(f.partition): f for f in entry.files}
            table_row = c.execute(
                "SELECT location FROM tables WHERE database=? AND name=?", (entry.table.database, entry.table.name)
            ).fetchone()
            base = table_row["location"].rstrip("/") if table_row else ""
            self._add_partitions(
                c,
                entry.table,
                [
                    Partition(f.partition, base + "/" + "/".join(f"{k}={v}" for k, v in f.partition.items()))
                    for f in parts.values()
                ],
            )
            if entry.dlq:
                c.execute(
                    "INSERT INTO dlq_counts (topic, count) VALUES (?, ?) ON CONFLICT(topic) DO UPDATE SET "
                    "count = count + excluded.count",
                    (entry.topic, entry.dlq),
                )

    def ledger(self, topic: str | None = None, limit: int | None = None) -> list[LedgerEntry]:
        """Ledger entries, newest first, with `file_count` (files not attached; see list_files)."""
        sql = f"SELECT {_LEDGER_COLS} FROM ledger"
        params: tuple[Any, ...] = ()
        if topic is not None:
            sql += " WHERE topic=?"
            params = (topic,)
        sql += " ORDER BY committed_at DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [
            LedgerEntry(
                topic=r["topic"],
                partition=r["partition"],
                first_offset=r["first_offset"],
                last_offset=r["last_offset"],
                table=TableRef(r["database"], r["name"]),
                files=[],
                rows=r["rows"],
                bytes=r["bytes"],
                dlq=r["dlq"],
                max_event_time=r["max_event_time"],
                committed_at=r["committed_at"],
                file_count=r["files"],
            )
            for r in self._query(sql, params)
        ]

    def ledger_summary(self, recent_since: float) -> list[dict[str, Any]]:
        """Per (topic, partition), aggregated in SQL: what status and the dashboard show.

        `recent_rows` counts rows committed at or after `recent_since` (for rates).
        """
        rows = self._query(
            """SELECT l.topic, l.partition, max(l.last_offset) + 1, sum(l.rows), sum(l.bytes), sum(l.dlq),
                      sum(CASE WHEN l.committed_at >= ? THEN l.rows ELSE 0 END), max(l.committed_at),
                      max(l.max_event_time), l.database || '.' || l.name,
                      (SELECT count(*) FROM files f WHERE f.topic = l.topic AND f.kafka_partition = l.partition)
               FROM ledger l GROUP BY l.topic, l.partition ORDER BY l.topic, l.partition""",
            (recent_since,),
        )
        keys = (
            "topic",
            "partition",
            "next_offset",
            "rows",
            "bytes",
            "dlq",
            "recent_rows",
            "last_commit",
            "max_event_time",
            "table",
            "files",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def ledger_positions(self) -> dict[tuple[str, int], int]:
        """Next offset to land per (topic, partition)."""
        rows = self._query("SELECT topic, partition, max(last_offset) FROM ledger GROUP BY topic, partition")
        return {(t, p): int(last) + 1 for t, p, last in rows}

    # incarnations and offset breaks (topics deleted and recreated, retention gaps)
    def incarnation(self, topic: str) -> tuple[int, str | None]:
        """(incarnation number, Kafka topic id last seen) of a topic; (0, None) before any."""
        rows = self._query("SELECT incarnation, topic_id FROM topic_incarnations WHERE topic=?", (topic,))
        return (int(rows[0][0]), rows[0][1]) if rows else (0, None)

    def set_incarnation(self, topic: str, expected: int, topic_id: str | None, bump: bool) -> int:
        """Record `topic_id` for the topic; with `bump`, begin incarnation expected+1.

        Conditional, so that sinks of one group that all notice one recreation begin ONE new
        incarnation: whoever comes second finds it begun (same topic id, or a newer number)."""
        with self._tx() as c:
            row = c.execute("SELECT incarnation, topic_id FROM topic_incarnations WHERE topic=?", (topic,)).fetchone()
            current, known_id = (int(row["incarnation"]), row["topic_id"]) if row else (0, None)
            if current != expected or (bump and topic_id is not None and known_id == topic_id):
                return current
            number = current + 1 if bump else current
            c.execute(
                "INSERT INTO topic_incarnations (topic, incarnation, topic_id, changed_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(topic) DO UPDATE SET "
                "incarnation=excluded.incarnation, topic_id=excluded.topic_id, changed_at=excluded.changed_at",
                (topic, number, topic_id, time.time()),
            )
            return number

    def incarnation_topics(self) -> list[str]:
        """Every topic a sink has started on (each records its topic id at start)."""
        return [r[0] for r in self._query("SELECT topic FROM topic_incarnations ORDER BY topic")]

    def record_offset_event(self, event: OffsetEvent) -> None:
        with self._tx() as c:
            c.execute(
                f"INSERT INTO offset_events ({_EVENT_COLS}) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    event.topic,
                    event.partition,
                    event.kind,
                    event.first_offset,
                    event.last_offset,
                    event.incarnation,
                    event.action,
                    event.detail,
                    event.detected_at or time.time(),
                ),
            )

    def offset_events(self, topic: str | None = None) -> list[OffsetEvent]:
        """Offset breaks, oldest first."""
        sql = f"SELECT {_EVENT_COLS} FROM offset_events" + (" WHERE topic=?" if topic else "") + " ORDER BY detected_at"
        return [OffsetEvent(**dict(zip(r.keys(), r, strict=True))) for r in self._query(sql, (topic,) if topic else ())]

    def dlq_count(self, topic: str) -> int:
        rows = self._query("SELECT count FROM dlq_counts WHERE topic=?", (topic,))
        return int(rows[0][0]) if rows else 0

    # views
    def save_view(self, name: str, sql: str, database: str = "default") -> None:
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO views (database, name, sql, created_at) VALUES (?,?,?,?)",
                (database, name, sql, time.time()),
            )

    def list_views(self) -> list[tuple[str, str, str]]:
        return [(d, n, s) for d, n, s in self._query("SELECT database, name, sql FROM views ORDER BY database, name")]

    def drop_view(self, name: str, database: str = "default") -> None:
        with self._tx() as c:
            cur = c.execute("DELETE FROM views WHERE database=? AND name=?", (database, name))
            if cur.rowcount == 0:
                raise CatalogError(f"no view {database}.{name}", hint="`eventlake views list` shows them")

    # crawler bookkeeping
    def get_crawl_state(self, key: str) -> dict[str, Any] | None:
        rows = self._query("SELECT state FROM crawl_state WHERE key=?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def set_crawl_state(self, key: str, state: dict[str, Any]) -> None:
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO crawl_state (key, state) VALUES (?, ?)", (key, json.dumps(state)))

    # incremental reads for long-lived query engines (change numbers kept by triggers: migration 2)
    def change_seq(self) -> int:
        """The catalog-wide change number: it grows with every change to tables, files or views."""
        rows = self._query("SELECT coalesce(max(seq), 0) FROM table_changes")
        return int(rows[0][0])

    def read_changes(self, since: int, watermarks: Mapping[tuple[str, str], int]) -> CatalogChanges:
        """What changed after change number `since`, read in one transaction (one consistent state).

        Tables whose files were only added get their files with rowids past their `watermarks`
        entry; tables with any other change (files removed, table or views changed) get all files.
        """
        with self._lock, _unavailable(self.path, self._reconnect):
            c = self._conn
            c.execute("BEGIN")
            try:
                seq = int(c.execute("SELECT coalesce(max(seq), 0) FROM table_changes").fetchone()[0])
                changed = c.execute(
                    "SELECT database, name, reset_seq FROM table_changes WHERE seq > ?", (since,)
                ).fetchall()
                reset = any(r["reset_seq"] > since for r in changed)
                tables = [_table(r) for r in c.execute(f"SELECT {_TABLE_COLS} FROM tables ORDER BY database, name")]
                views = [
                    (r["database"], r["name"], r["sql"])
                    for r in c.execute("SELECT database, name, sql FROM views ORDER BY database, name")
                ]
                files: dict[tuple[str, str], tuple[bool, list[tuple[int, DataFile]]]] = {}
                for r in changed:
                    key = (r["database"], r["name"])
                    if not key[1]:
                        continue  # the views' row
                    whole = r["reset_seq"] > since or key not in watermarks
                    after = 0 if whole else watermarks[key]
                    rows = c.execute(
                        f"SELECT rowid AS rowid_, {_FILE_COLS} FROM files WHERE database=? AND name=? AND rowid > ? "
                        "ORDER BY rowid",
                        (key[0], key[1], after),
                    ).fetchall()
                    files[key] = (whole, [(int(row["rowid_"]), _file(row)) for row in rows])
            finally:
                c.execute("COMMIT")
        return CatalogChanges(seq, reset, tables, views, files)


@contextmanager
def _unavailable(path: Path, reconnect: Callable[[], None]) -> Iterator[None]:
    """SQLite's operational errors (locked, read-only, disk full, file gone) as one retriable line.

    Each statement opens the file afresh as far as these errors go: a catalog made writable
    again, or a disk with space again, works on the next try without reopening anything.
    """
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc)
        hints = {
            "locked": "another process holds a long write lock on it; it is retried",
            "readonly": "make the catalog file and its folder writable",
            "disk": "free space on the catalog's disk",
            "full": "free space on the catalog's disk",
            "unable to open": "check that the catalog's folder exists and is writable",
        }
        hint = next((h for word, h in hints.items() if word in text.replace("-", "").lower()), "check the catalog file")
        if "readonly" in text.replace("-", "").lower():
            reconnect()
        raise CatalogUnavailable(f"catalog {path} is unavailable: {text}", hint=hint) from exc


def _table(row: sqlite3.Row) -> Table:
    return Table(
        database=row["database"],
        name=row["name"],
        location=row["location"],
        format=row["format"],
        columns=_uncols(row["columns"]),
        partition_keys=_uncols(row["partition_keys"]),
        schema_version=row["schema_version"],
        source=row["source"],
        parameters=json.loads(row["parameters"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _file(row: sqlite3.Row) -> DataFile:
    return DataFile(
        path=row["path"],
        table=TableRef(row["database"], row["name"]),
        partition=_values(row["partition_spec"]),
        format=row["format"],
        rows=row["rows"],
        bytes=row["bytes"],
        topic=row["topic"],
        kafka_partition=row["kafka_partition"],
        first_offset=row["first_offset"],
        last_offset=row["last_offset"],
        min_event_time=row["min_event_time"],
        max_event_time=row["max_event_time"],
        created_at=row["created_at"],
    )
