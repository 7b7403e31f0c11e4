"""The catalog store: written once in SQL, for an embedded SQLite file (WAL, safe for several
processes) or a PostgreSQL database (several machines), through a dialect (catalog/dialect.py).

Every change that must be atomic (a flush's ledger entry with its files and
partitions; a compaction's swap of files) is one transaction under the catalog's
write lock, so a crash leaves either all of it or none of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from eventlake.catalog import migrations
from eventlake.catalog.dialect import Dialect, SQLiteDialect, marks
from eventlake.catalog.exceptions import CatalogError, CatalogUnavailable, LedgerConflict, TableNotFound
from eventlake.catalog.model import Column, DataFile, FileRange, LedgerEntry, OffsetEvent, Partition, Table
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
_RANGE_COLS = (
    "path, database, name, topic, kafka_partition, first_offset, last_offset, rows, min_event_time, max_event_time"
)
_PENDING_COLS = "path, database, name, kind, owner, created_at"
_RUNS_COLS = "database, name, kind, ran_at, seconds, detail"
_EVENT_COLS = "topic, partition, kind, first_offset, last_offset, incarnation, action, detail, detected_at"

# Maintenance (catalog/maintain.py): a compacted file's offset ranges, who compacts which
# table-hour, objects written or retired but not yet swapped in or deleted (swept after a
# crash), and when maintenance last ran. Statements, not one script: the trigger holds `;`.


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


class SQLCatalog:
    """Glue-shaped catalog, file list and exactly-once ledger in one SQL database.

    Written once; `dialect` (catalog/dialect.py) says how SQLite and PostgreSQL differ. Every
    change that must be atomic is one transaction under the catalog's write lock (SQLite's
    `BEGIN IMMEDIATE`, PostgreSQL's transaction-scoped advisory lock), so writers queue as they
    do on one SQLite file, whichever machine they run on.
    """

    def __init__(self, target: str | Path | Dialect) -> None:
        """`target`: a SQLite file's path, or a dialect (catalog/postgres.py's for PostgreSQL)."""
        # The SQLite file, None elsewhere.
        self.path: Path | None = Path(target) if isinstance(target, str | Path) else None
        dialect = SQLiteDialect(self.path) if self.path is not None else target
        assert not isinstance(dialect, str | Path)
        self._dialect = dialect
        self.where = dialect.where
        self._lock = threading.RLock()
        try:
            self._conn = dialect.connect()
            self._upgrade()
        except CatalogError:
            self.close()
            raise
        except dialect.error as exc:
            self.close()
            raise CatalogError(
                f"cannot open catalog {self.where}: {dialect.describe(exc)}",
                hint=dialect.open_hint,
            ) from exc

    def _upgrade(self) -> None:
        """Bring an older catalog to this eventlake's schema in one transaction; refuse a newer one."""
        with self._lock, _unavailable(self._dialect, self._reconnect):
            if self._dialect.schema_version(self._conn) == migrations.LATEST:
                return
        with self._tx() as c:
            current = self._dialect.schema_version(c)  # again under the write lock: another process may have done it
            if current > migrations.LATEST:
                from eventlake import __version__

                by = migrations.made_by(c)
                raise CatalogError(
                    f"catalog {self.where} has schema version {current}, made by "
                    f"{f'eventlake {by}' if by else 'a newer eventlake'}; eventlake {__version__} reads "
                    f"versions up to {migrations.LATEST}",
                    hint="upgrade eventlake to open it",
                )
            if current < migrations.LATEST:
                from eventlake import __version__

                try:
                    self._dialect.upgrade(c, current, __version__)
                except self._dialect.error as exc:  # rolled back by _tx: the catalog stays as it was
                    raise CatalogError(
                        f"cannot upgrade catalog {self.where} from schema version {current} to "
                        f"{migrations.LATEST}: {self._dialect.describe(exc)}; it was left unchanged",
                        hint="an object in the catalog has a name eventlake needs; remove it, or open "
                        "the catalog with the eventlake that made it",
                    ) from exc

    def close(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None:
            with contextlib.suppress(*self._dialect.error):
                conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """A write transaction: the catalog's write lock is taken first, so reads inside it are current."""
        with self._lock, _unavailable(self._dialect, self._reconnect):
            self._dialect.begin_write(self._conn)
            try:
                yield self._conn
            except BaseException:
                with contextlib.suppress(*self._dialect.error):
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock, _unavailable(self._dialect, self._reconnect):
            return list(self._conn.execute(sql, params).fetchall())

    def _reconnect(self) -> None:
        self._conn = self._dialect.reconnect(self._conn)

    # databases
    def ensure_database(self, name: str) -> None:
        with self._tx() as c:
            c.execute(self._dialect.insert_ignore("databases", "name, created_at", "name"), (name, time.time()))

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
            c.execute(self._dialect.insert_ignore("databases", "name, created_at", "name"), (table.database, now))
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
                self._dialect.upsert("tables", _TABLE_COLS, "database, name"),
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
                    self._dialect.upsert(
                        "schema_versions", "database, name, version, columns, created_at", "database, name, version"
                    ),
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

    def _add_partitions(self, c: Any, ref: TableRef, parts: list[Partition]) -> int:
        added = 0
        now = time.time()
        for p in parts:
            cur = c.execute(
                self._dialect.insert_ignore(
                    "partitions", "database, name, spec, location, created_at", "database, name, spec"
                ),
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

    def _insert_files(self, c: Any, ref: TableRef, files: list[DataFile], *, replace: bool) -> None:
        sql = (
            self._dialect.upsert("files", _FILE_COLS, "path")
            if replace
            else f"INSERT INTO files ({_FILE_COLS}) VALUES ({marks(_FILE_COLS)})"
        )
        now = time.time()
        c.executemany(
            sql,
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
        ranges = [(f.path, ref.database, ref.name, r) for f in files if f.ranges for r in f.ranges]
        if ranges:
            c.executemany(
                self._dialect.upsert("file_ranges", _RANGE_COLS, "path, topic, kafka_partition"),
                [
                    (
                        p,
                        d,
                        n,
                        r.topic,
                        r.partition,
                        r.first_offset,
                        r.last_offset,
                        r.rows,
                        r.min_event_time,
                        r.max_event_time,
                    )
                    for p, d, n, r in ranges
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
        files = self._with_ranges(ref, [_file(r) for r in rows])
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
    # The ledger's per-partition figures come from `ledger_totals` (one row per partition, kept by
    # triggers in the same transaction as every ledger insert and delete: migration 4), so the
    # chain check, resume offsets and status cost the same on day 90 as on day 1.
    def ledger_next_offset(self, topic: str, partition: int) -> int | None:
        rows = self._query("SELECT next_offset FROM ledger_totals WHERE topic=? AND partition=?", (topic, partition))
        return int(rows[0][0]) if rows else None

    def commit_flush(self, entry: LedgerEntry) -> None:
        """Record one flush atomically, only if it continues the ledger exactly."""
        with self._tx() as c:
            row = c.execute(
                "SELECT next_offset FROM ledger_totals WHERE topic=? AND partition=?", (entry.topic, entry.partition)
            ).fetchone()
            if row is not None and entry.first_offset != row[0]:
                raise LedgerConflict(
                    f"{entry.topic}[{entry.partition}] offsets {entry.first_offset}..{entry.last_offset} "
                    f"do not follow the ledger (next is {row[0]})",
                    hint="another sink owns this partition now; this flush is discarded",
                )
            try:
                c.execute(
                    f"INSERT INTO ledger ({_LEDGER_COLS}) VALUES ({marks(_LEDGER_COLS)})",
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
            except self._dialect.integrity_error as exc:
                raise LedgerConflict(
                    f"{entry.topic}[{entry.partition}] offset {entry.first_offset} is already recorded",
                    hint="another sink recorded it first; this flush is discarded",
                ) from exc
            now = time.time()
            c.execute(self._dialect.insert_ignore("databases", "name, created_at", "name"), (entry.table.database, now))
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
                    "count = dlq_counts.count + excluded.count",
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
        # One row per partition (ledger_totals); the rate window's few entries found by ledger_by_commit
        # and added up here (a GROUP BY makes SQLite walk the whole ledger in key order instead).
        recent: dict[tuple[str, int], int] = {}
        for topic, part, n in self._query(
            "SELECT topic, partition, rows FROM ledger WHERE committed_at >= ?", (recent_since,)
        ):
            recent[(topic, part)] = recent.get((topic, part), 0) + n
        rows = [
            (*r[:6], recent.get((r[0], r[1]), 0), *r[6:])
            for r in self._query(
                """SELECT t.topic, t.partition, t.next_offset, t.rows, t.bytes, t.dlq,
                          t.last_commit, t.max_event_time, t.tbl,
                          (SELECT count(*) FROM files f WHERE f.topic = t.topic AND f.kafka_partition = t.partition)
                          + (SELECT count(*) FROM file_ranges r
                             WHERE r.topic = t.topic AND r.kafka_partition = t.partition)
                   FROM ledger_totals t ORDER BY t.topic, t.partition"""
            )
        ]
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
        rows = self._query("SELECT topic, partition, next_offset FROM ledger_totals")
        return {(t, p): int(n) for t, p, n in rows}

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
                f"INSERT INTO offset_events ({_EVENT_COLS}) VALUES ({marks(_EVENT_COLS)})",
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
                self._dialect.upsert("views", "database, name, sql, created_at", "database, name"),
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
            c.execute(self._dialect.upsert("crawl_state", "key, state", "key"), (key, json.dumps(state)))

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
        with self._lock, _unavailable(self._dialect, self._reconnect):
            c = self._conn
            self._dialect.begin_read(c)
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
                    found = [(int(row["rowid_"]), _file(row)) for row in rows]
                    if any(f.kafka_partition is None for _, f in found):  # compacted: lineage is in file_ranges
                        ranged = self._with_ranges(TableRef(*key), [f for _, f in found])
                        found = [(rowid, f) for (rowid, _), f in zip(found, ranged, strict=True)]
                    files[key] = (whole, found)
            finally:
                c.execute("COMMIT")
        return CatalogChanges(seq, reset, tables, views, files)

    # maintenance: compaction leases and swaps, retention, orphans of both, last runs (catalog/maintain.py)
    def _with_ranges(self, ref: TableRef | None, files: list[DataFile]) -> list[DataFile]:
        """Attach `file_ranges` to the compacted files that hold several Kafka partitions."""
        if ref is None:
            rows = self._query(f"SELECT {_RANGE_COLS} FROM file_ranges")
        else:
            rows = self._query(
                f"SELECT {_RANGE_COLS} FROM file_ranges WHERE database=? AND name=?", (ref.database, ref.name)
            )
        if not rows:
            return files
        by_path: dict[str, list[FileRange]] = {}
        for r in rows:
            by_path.setdefault(r["path"], []).append(
                FileRange(
                    r["topic"],
                    r["kafka_partition"],
                    r["first_offset"],
                    r["last_offset"],
                    r["rows"],
                    r["min_event_time"],
                    r["max_event_time"],
                )
            )
        out = []
        for f in files:
            ranges = by_path.get(f.path)
            if ranges:
                ranges.sort(key=lambda x: (x.topic, x.partition, x.first_offset))
                f = dataclasses.replace(f, ranges=tuple(ranges))
            out.append(f)
        return out

    def list_partition_files(self, ref: TableRef, values: dict[str, str]) -> list[DataFile]:
        """The files of one table partition (selected in SQL: compaction must not list the whole table)."""
        rows = self._query(
            f"SELECT {_FILE_COLS} FROM files WHERE database=? AND name=? AND partition_spec=? ORDER BY path",
            (ref.database, ref.name, _spec(values)),
        )
        files = [_file(r) for r in rows]
        if any(f.kafka_partition is None for f in files):
            files = self._with_ranges(ref, files)
        return files

    def acquire_lease(self, ref: TableRef, values: dict[str, str], owner: str, ttl_s: float) -> bool:
        """Take (or renew) the right to rewrite one table partition; False while another owner holds it."""
        now = time.time()
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO maintenance_leases (database, name, partition_spec, owner, expires_at) VALUES (?,?,?,?,?) "
                "ON CONFLICT(database, name, partition_spec) "
                "DO UPDATE SET owner=excluded.owner, expires_at=excluded.expires_at "
                "WHERE maintenance_leases.owner = excluded.owner OR maintenance_leases.expires_at < ?",
                (ref.database, ref.name, _spec(values), owner, now + ttl_s, now),
            )
            return int(cur.rowcount) == 1

    def release_lease(self, ref: TableRef, values: dict[str, str], owner: str) -> None:
        with self._tx() as c:
            c.execute(
                "DELETE FROM maintenance_leases WHERE database=? AND name=? AND partition_spec=? AND owner=?",
                (ref.database, ref.name, _spec(values), owner),
            )

    def live_lease_owners(self) -> set[str]:
        return {r[0] for r in self._query("SELECT owner FROM maintenance_leases WHERE expires_at >= ?", (time.time(),))}

    def add_pending(self, ref: TableRef, paths: list[str], kind: str, owner: str) -> None:
        """Note objects about to be written (`output`) so that a crash before their swap leaves a sweepable trace."""
        now = time.time()
        with self._tx() as c:
            c.executemany(
                self._dialect.upsert("maintenance_pending", _PENDING_COLS, "path"),
                [(p, ref.database, ref.name, kind, owner, now) for p in paths],
            )

    def remove_pending(self, paths: list[str]) -> None:
        with self._tx() as c:
            c.executemany("DELETE FROM maintenance_pending WHERE path=?", [(p,) for p in paths])

    def pending(self) -> list[tuple[str, TableRef, str, str, float]]:
        """(path, table, kind, owner, created_at) of every object written or retired but not settled."""
        rows = self._query("SELECT path, database, name, kind, owner, created_at FROM maintenance_pending")
        return [(p, TableRef(d, n), k, o, at) for p, d, n, k, o, at in rows]

    def named_paths(self, paths: list[str]) -> set[str]:
        """Which of `paths` the catalog lists as readable files."""
        out: set[str] = set()
        for start in range(0, len(paths), 500):
            chunk = paths[start : start + 500]
            marks = ",".join("?" * len(chunk))
            out |= {r[0] for r in self._query(f"SELECT path FROM files WHERE path IN ({marks})", tuple(chunk))}
        return out

    def swap_files(
        self, ref: TableRef, values: dict[str, str], owner: str, old_paths: list[str], new_files: list[DataFile]
    ) -> None:
        """A compaction's swap: only while `owner` holds the partition's lease and every input is still listed.

        In the same transaction the new files stop being pending outputs and the old ones become
        pending `retired` objects, deleted after the readers' grace (or by a later sweep after a crash).
        """
        now = time.time()
        with self._tx() as c:
            lease = c.execute(
                "SELECT owner FROM maintenance_leases "
                "WHERE database=? AND name=? AND partition_spec=? AND expires_at>=?",
                (ref.database, ref.name, _spec(values), now),
            ).fetchone()
            if lease is None or lease[0] != owner:
                raise CatalogError(f"lost the maintenance lease on {ref} {values}", hint="another process compacts it")
            present = 0
            for start in range(0, len(old_paths), 500):
                chunk = old_paths[start : start + 500]
                marks = ",".join("?" * len(chunk))
                present += c.execute(
                    f"SELECT count(*) FROM files WHERE database=? AND name=? AND path IN ({marks})",
                    (ref.database, ref.name, *chunk),
                ).fetchone()[0]
            if present != len(set(old_paths)):
                raise CatalogError(f"some files of {ref} {values} were replaced meanwhile", hint="retried next pass")
            c.executemany("DELETE FROM files WHERE path=?", [(p,) for p in old_paths])
            self._insert_files(c, ref, new_files, replace=False)
            c.executemany("DELETE FROM maintenance_pending WHERE path=?", [(f.path,) for f in new_files])
            c.executemany(
                self._dialect.upsert("maintenance_pending", _PENDING_COLS, "path"),
                [(p, ref.database, ref.name, "retired", owner, now) for p in old_paths],
            )

    def partition_file_stats(self, ref: TableRef, small_bytes: int) -> list[dict[str, Any]]:
        """Per table partition: files, bytes, files under `small_bytes`, newest file's created_at (in SQL)."""
        rows = self._query(
            "SELECT partition_spec, count(*), sum(bytes), sum(CASE WHEN bytes < ? THEN 1 ELSE 0 END), max(created_at) "
            "FROM files "
            "WHERE database=? AND name=? GROUP BY partition_spec",
            (small_bytes, ref.database, ref.name),
        )
        return [
            {"values": _values(s), "files": n, "bytes": b or 0, "small": sm or 0, "newest": at}
            for s, n, b, sm, at in rows
        ]

    def table_file_stats(self, small_bytes: int) -> dict[TableRef, dict[str, int]]:
        """Per table: files, bytes, and small files: under `small_bytes` in a partition that holds more
        than one file (what compaction can still merge; an hour that is one small file is done)."""
        rows = self._query(
            "SELECT database, name, sum(n), sum(b), sum(CASE WHEN n > 1 THEN s ELSE 0 END) FROM "
            "(SELECT database, name, count(*) AS n, sum(bytes) AS b, sum(CASE WHEN bytes < ? THEN 1 ELSE 0 END) AS s "
            "FROM files "
            "GROUP BY database, name, partition_spec) AS per_partition GROUP BY database, name",
            (small_bytes,),
        )
        return {TableRef(d, n): {"files": c, "bytes": b or 0, "small": s or 0} for d, n, c, b, s in rows}

    def drop_partitions(self, ref: TableRef, values_list: list[dict[str, str]], owner: str) -> list[str]:
        """Retention: unlist whole partitions and their files in one transaction; the files become
        pending `retired` objects (deleted after the grace, or by a later sweep). Returns their paths."""
        now = time.time()
        paths: list[str] = []
        with self._tx() as c:
            for values in values_list:
                key = (ref.database, ref.name, _spec(values))
                where = "database=? AND name=? AND partition_spec=?"
                found = [r[0] for r in c.execute(f"SELECT path FROM files WHERE {where}", key)]
                c.execute(f"DELETE FROM files WHERE {where}", key)
                c.execute("DELETE FROM partitions WHERE database=? AND name=? AND spec=?", key)
                c.execute(f"DELETE FROM maintenance_leases WHERE {where}", key)
                c.executemany(
                    self._dialect.upsert("maintenance_pending", _PENDING_COLS, "path"),
                    [(p, ref.database, ref.name, "retired", owner, now) for p in found],
                )
                paths += found
        return paths

    def record_maintenance(self, ref: TableRef | None, kind: str, seconds: float, detail: dict[str, Any]) -> None:
        """When maintenance of `kind` last ran on a table (None: the whole lake), and what it did."""
        database, name = (ref.database, ref.name) if ref else ("", "")
        with self._tx() as c:
            c.execute(
                self._dialect.upsert("maintenance_runs", _RUNS_COLS, "database, name, kind"),
                (database, name, kind, time.time(), seconds, json.dumps(detail)),
            )

    def rollup_ledger(self, before: float, bucket_s: float = 3600.0) -> int:
        """Merge ledger entries committed before `before` into one per (topic, partition, table, hour of
        commit); returns how many entries went. The ledger grows by one entry per flush (hundreds of
        thousands a day at 1 s flushes) and `status` aggregates all of it; the exactly-once chain only
        needs each partition's last offset, which a rollup of older entries never changes. Only
        contiguous runs are merged, so the chain stays gap-free entry by entry."""
        bucket_sql = self._dialect.trunc("committed_at / ?")
        with self._tx() as c:
            groups = c.execute(
                f"SELECT topic, partition, database, name, {bucket_sql} AS bucket, "
                "min(first_offset), max(last_offset), sum(last_offset - first_offset + 1), sum(rows), sum(bytes), "
                "sum(dlq), sum(files), max(max_event_time), max(committed_at), count(*) FROM ledger "
                "WHERE committed_at < ? GROUP BY topic, partition, database, name, bucket HAVING count(*) > 1",
                (bucket_s, before),
            ).fetchall()
            gone = 0
            for topic, part, db, name, bucket, first, last, span, rows, size, dlq, files, mx, at, n in groups:
                if span != last - first + 1:  # not one contiguous run (never expected): left as it is
                    continue
                c.execute(
                    "DELETE FROM ledger WHERE topic=? AND partition=? AND database=? AND name=? "
                    f"AND committed_at < ? AND {bucket_sql} = ?",
                    (topic, part, db, name, before, bucket_s, bucket),
                )
                c.execute(
                    f"INSERT INTO ledger ({_LEDGER_COLS}) VALUES ({marks(_LEDGER_COLS)})",
                    (topic, part, first, last, db, name, rows, size, dlq, files, mx, at),
                )
                gone += n - 1
            return gone

    # whole-catalog copy (catalog/copy.py): every row of the named tables, in and out
    def read_tables(self, tables: Mapping[str, tuple[str, str]]) -> dict[str, list[tuple[Any, ...]]]:
        """`{table: (columns, order)}` -> every row, all read in one transaction (one consistent state)."""
        with self._lock, _unavailable(self._dialect, self._reconnect):
            self._dialect.begin_read(self._conn)
            try:
                return {
                    name: [tuple(r) for r in self._conn.execute(f"SELECT {cols} FROM {name} ORDER BY {order}")]
                    for name, (cols, order) in tables.items()
                }
            finally:
                self._conn.execute("COMMIT")

    def count_rows(self, tables: list[str]) -> dict[str, int]:
        return {n: int(self._query(f"SELECT count(*) FROM {n}")[0][0]) for n in tables}

    def load_tables(
        self,
        tables: Mapping[str, tuple[str, str]],
        rows: Mapping[str, list[tuple[Any, ...]]],
        *,
        replace: bool,
    ) -> dict[str, int]:
        """Write `rows` into these tables in ONE transaction and return the counts read back inside it.

        Refused (CatalogError, nothing written) when any of them holds rows, unless `replace`, which
        empties them first. Counts that differ from `rows` roll everything back."""
        with self._tx() as c:
            held = {n: int(c.execute(f"SELECT count(*) FROM {n}").fetchone()[0]) for n in tables}
            if any(held.values()) and not replace:
                busy = ", ".join(f"{n} ({k})" for n, k in held.items() if k)
                raise CatalogError(
                    f"catalog {self.where} is not empty: {busy}",
                    hint="copy into an empty database, or pass --force to replace what it holds",
                )
            for name in reversed(list(tables)):
                c.execute(f"DELETE FROM {name}")
            for name, (cols, _) in tables.items():
                c.executemany(f"INSERT INTO {name} ({cols}) VALUES ({marks(cols)})", rows.get(name, []))
            counts = {n: int(c.execute(f"SELECT count(*) FROM {n}").fetchone()[0]) for n in tables}
            wrong = {n: (k, len(rows.get(n, []))) for n, k in counts.items() if k != len(rows.get(n, []))}
            if wrong:
                raise CatalogError(
                    f"copy into {self.where} read back other counts than it wrote: {wrong}; rolled back",
                    hint="nothing was changed; report this",
                )
            return counts

    def maintenance_runs(self) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT database, name, kind, ran_at, seconds, detail FROM maintenance_runs ORDER BY database, name, kind"
        )
        return [
            {
                "table": f"{d}.{n}" if n else None,
                "kind": k,
                "ran_at": at,
                "seconds": sec,
                "detail": json.loads(detail),
            }
            for d, n, k, at, sec, detail in rows
        ]


@contextmanager
def _unavailable(dialect: Dialect, reconnect: Callable[[], None]) -> Iterator[None]:
    """Errors that waiting or a fix outside can cure (locked, read-only, disk full, server gone) as one
    retriable line. Each statement meets the database afresh as far as these go: a catalog made
    writable again, or a server back up, works on the next try without reopening anything."""
    try:
        yield
    except dialect.error as exc:
        verdict = dialect.unavailable(exc)
        if verdict is None:
            raise
        hint, again = verdict
        if again:
            reconnect()
        raise CatalogUnavailable(f"catalog {dialect.where} is unavailable: {dialect.describe(exc)}", hint=hint) from exc


def _table(row: Any) -> Table:
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


def _file(row: Any) -> DataFile:
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


# The embedded catalog by its old name: `SQLiteCatalog(path)` is `SQLCatalog(path)`.
SQLiteCatalog = SQLCatalog
