"""The catalog's schema versions: numbered migrations, applied in one transaction on open.

The version lives in SQLite's `PRAGMA user_version` (in the file header, so it is part of the
same transaction as the migrations). Version 0 is a file made before versions existed (or a
new file); migration 1 is the schema eventlake 0.1.0 made, written with `IF NOT EXISTS` so it
completes any catalog of that era. To change the schema, APPEND a migration (never edit one
that has shipped): see "Catalog schema versions" in docs/architecture.md.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    what: str
    sql: str  # statements separated by `;` (triggers included: split with sqlite3.complete_statement)
    # The same change for PostgreSQL, run as one script; "" when `sql` translates by `for_postgres`.
    postgres: str = ""


# Migration 1: the schema of eventlake 0.1.0 (commit ef190f6), unchanged.
_V1 = """
CREATE TABLE IF NOT EXISTS databases (
    name TEXT PRIMARY KEY, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tables (
    database TEXT NOT NULL, name TEXT NOT NULL, location TEXT NOT NULL, format TEXT NOT NULL,
    columns TEXT NOT NULL, partition_keys TEXT NOT NULL, schema_version INTEGER NOT NULL,
    source TEXT NOT NULL, parameters TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (database, name));
CREATE TABLE IF NOT EXISTS schema_versions (
    database TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL, columns TEXT NOT NULL,
    created_at REAL NOT NULL, PRIMARY KEY (database, name, version));
CREATE TABLE IF NOT EXISTS partitions (
    database TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL, location TEXT NOT NULL,
    created_at REAL NOT NULL, PRIMARY KEY (database, name, spec));
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, database TEXT NOT NULL, name TEXT NOT NULL, partition_spec TEXT NOT NULL,
    format TEXT NOT NULL, rows INTEGER NOT NULL, bytes INTEGER NOT NULL,
    topic TEXT, kafka_partition INTEGER, first_offset INTEGER, last_offset INTEGER,
    min_event_time REAL, max_event_time REAL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS files_by_table ON files (database, name);
CREATE INDEX IF NOT EXISTS files_by_source ON files (topic, kafka_partition);
CREATE TABLE IF NOT EXISTS ledger (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, first_offset INTEGER NOT NULL,
    last_offset INTEGER NOT NULL, database TEXT NOT NULL, name TEXT NOT NULL, rows INTEGER NOT NULL,
    bytes INTEGER NOT NULL, dlq INTEGER NOT NULL, files INTEGER NOT NULL, max_event_time REAL,
    committed_at REAL NOT NULL, PRIMARY KEY (topic, partition, first_offset));
CREATE TABLE IF NOT EXISTS dlq_counts (topic TEXT PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS views (
    database TEXT NOT NULL, name TEXT NOT NULL, sql TEXT NOT NULL, created_at REAL NOT NULL,
    PRIMARY KEY (database, name));
CREATE TABLE IF NOT EXISTS crawl_state (key TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS topic_incarnations (
    topic TEXT PRIMARY KEY, incarnation INTEGER NOT NULL, topic_id TEXT, changed_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS offset_events (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, kind TEXT NOT NULL, first_offset INTEGER,
    last_offset INTEGER, incarnation INTEGER NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL,
    detected_at REAL NOT NULL);
"""

# Migration 2: what changed since an engine last looked, kept by triggers (so every writer, of any
# version, keeps it right). `table_changes` has one row per table (and `('', '')` for saved views):
# `seq` = the catalog-wide change number of its last change, `reset_seq` = of its last change that
# was not only new files (files removed or replaced, table or views changed). Files are appended
# with growing rowids, so an engine re-reads only rowids past its watermark while `reset_seq` stays.
# `meta` says which eventlake last wrote the schema (for the "made by a newer eventlake" error).
_V2 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE table_changes (
    database TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL, reset_seq INTEGER NOT NULL,
    PRIMARY KEY (database, name));
INSERT INTO table_changes (database, name, seq, reset_seq) SELECT database, name, 1, 1 FROM tables;
INSERT INTO table_changes (database, name, seq, reset_seq) VALUES ('', '', 1, 1);
CREATE INDEX files_by_partition ON files (database, name, partition_spec);
CREATE TRIGGER files_added AFTER INSERT ON files BEGIN
    INSERT INTO table_changes (database, name, seq, reset_seq)
    VALUES (new.database, new.name, (SELECT coalesce(max(seq), 0) + 1 FROM table_changes), 0)
    ON CONFLICT (database, name) DO UPDATE SET seq = excluded.seq;
END;
CREATE TRIGGER files_removed AFTER DELETE ON files BEGIN
    INSERT INTO table_changes (database, name, seq, reset_seq)
    VALUES (old.database, old.name, (SELECT coalesce(max(seq), 0) + 1 FROM table_changes), 0)
    ON CONFLICT (database, name) DO UPDATE SET seq = excluded.seq, reset_seq = excluded.seq;
END;
CREATE TRIGGER files_changed AFTER UPDATE ON files BEGIN
    INSERT INTO table_changes (database, name, seq, reset_seq)
    VALUES (old.database, old.name, (SELECT coalesce(max(seq), 0) + 1 FROM table_changes), 0)
    ON CONFLICT (database, name) DO UPDATE SET seq = excluded.seq, reset_seq = excluded.seq;
END;
CREATE TRIGGER tables_added AFTER INSERT ON tables BEGIN
    INSERT INTO table_changes (database, name, seq, reset_seq)
    VALUES (new.database, new.name, (SELECT coalesce(max(seq), 0) + 1 FROM table_changes), 0)
    ON CONFLICT (database, name) DO UPDATE SET seq = excluded.seq, reset_seq = excluded.seq;
END;
CREATE TRIGGER tables_changed AFTER UPDATE ON tables BEGIN
    INSERT INTO table_changes (database, name, seq, reset_seq)
    VALUES (new.database, new.name, (SELECT coalesce(max(seq), 0) + 1 FROM table_changes), 0)
    ON CONFLICT (database, name) DO UPDATE SET seq = excluded.seq, reset_seq = excluded.seq;
END;
CREATE TRIGGER tables_removed AFTER DELETE ON tables BEGIN
    INSERT INTO table_changes (database, name, seq, reset_seq)
    VALUES (old.database, old.name, (SELECT coalesce(max(seq), 0) + 1 FROM table_changes), 0)
    ON CONFLICT (database, name) DO UPDATE SET seq = excluded.seq, reset_seq = excluded.seq;
END;
CREATE TRIGGER views_added AFTER INSERT ON views BEGIN
    UPDATE table_changes SET seq = (SELECT max(seq) + 1 FROM table_changes), reset_seq = seq
    WHERE database = '' AND name = '';
END;
CREATE TRIGGER views_removed AFTER DELETE ON views BEGIN
    UPDATE table_changes SET seq = (SELECT max(seq) + 1 FROM table_changes), reset_seq = seq
    WHERE database = '' AND name = '';
END;
"""

# Migration 3: lake maintenance. `file_ranges`: the Kafka ranges of a compacted file that holds
# several partitions (deleted with their file by a trigger); leases (one compactor per
# table-hour), files written or retired but not yet settled (swept after a kill), and when each
# kind of pass last ran per table.
_V3 = """
CREATE TABLE IF NOT EXISTS file_ranges (
    path TEXT NOT NULL, database TEXT NOT NULL, name TEXT NOT NULL, topic TEXT NOT NULL,
    kafka_partition INTEGER NOT NULL, first_offset INTEGER NOT NULL, last_offset INTEGER NOT NULL,
    rows INTEGER NOT NULL, min_event_time REAL, max_event_time REAL,
    PRIMARY KEY (path, topic, kafka_partition));
CREATE INDEX IF NOT EXISTS file_ranges_by_table ON file_ranges (database, name);
CREATE INDEX IF NOT EXISTS file_ranges_by_source ON file_ranges (topic, kafka_partition);
CREATE TRIGGER IF NOT EXISTS file_ranges_follow_files AFTER DELETE ON files BEGIN
    DELETE FROM file_ranges WHERE path = old.path;
END;
CREATE TABLE IF NOT EXISTS maintenance_leases (
    database TEXT NOT NULL, name TEXT NOT NULL, partition_spec TEXT NOT NULL, owner TEXT NOT NULL,
    expires_at REAL NOT NULL, PRIMARY KEY (database, name, partition_spec));
CREATE TABLE IF NOT EXISTS maintenance_pending (
    path TEXT PRIMARY KEY, database TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
    owner TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS maintenance_runs (
    database TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, ran_at REAL NOT NULL,
    seconds REAL NOT NULL, detail TEXT NOT NULL, PRIMARY KEY (database, name, kind));
"""

# Migration 4: one row per (topic, partition) with the ledger's totals, kept by triggers on every
# ledger insert, delete and update (so every writer of any version, the rollup and `catalog copy` keep it
# right), so `status`, the sink's resume offsets and the chain check cost one row per partition
# however many flushes the ledger holds. `next_offset` is max(last_offset) + 1, `tbl` the table
# of the partition's newest entry. A delete subtracts; a maximum is looked up again only when the
# deleted entry held it (the rollup deletes older entries and inserts their merge, which keeps
# every maximum). `ledger_by_commit` finds the entries of status's rate window without a scan.
_V4 = """
CREATE TABLE ledger_totals (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, entries INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    rows INTEGER NOT NULL, bytes INTEGER NOT NULL, dlq INTEGER NOT NULL, last_commit REAL NOT NULL,
    max_event_time REAL, tbl TEXT NOT NULL, PRIMARY KEY (topic, partition));
INSERT INTO ledger_totals (topic, partition, entries, next_offset, rows, bytes, dlq, last_commit, max_event_time, tbl)
SELECT l.topic, l.partition, count(*), max(l.last_offset) + 1, sum(l.rows), sum(l.bytes), sum(l.dlq),
       max(l.committed_at), max(l.max_event_time),
       (SELECT n.database || '.' || n.name FROM ledger n WHERE n.topic = l.topic AND n.partition = l.partition
        ORDER BY n.last_offset DESC LIMIT 1)
FROM ledger l GROUP BY l.topic, l.partition;
CREATE INDEX ledger_by_commit ON ledger (committed_at);
CREATE TRIGGER ledger_totals_add AFTER INSERT ON ledger BEGIN
    INSERT INTO ledger_totals (topic, partition, entries, next_offset, rows, bytes, dlq, last_commit,
                               max_event_time, tbl)
    VALUES (new.topic, new.partition, 1, new.last_offset + 1, new.rows, new.bytes, new.dlq, new.committed_at,
            new.max_event_time, new.database || '.' || new.name)
    ON CONFLICT (topic, partition) DO UPDATE SET
        entries = entries + 1, rows = rows + excluded.rows, bytes = bytes + excluded.bytes, dlq = dlq + excluded.dlq,
        tbl = CASE WHEN excluded.next_offset >= next_offset THEN excluded.tbl ELSE tbl END,
        next_offset = max(next_offset, excluded.next_offset),
        last_commit = max(last_commit, excluded.last_commit),
        max_event_time = coalesce(max(max_event_time, excluded.max_event_time), max_event_time,
                                  excluded.max_event_time);
END;
CREATE TRIGGER ledger_totals_remove AFTER DELETE ON ledger BEGIN
    UPDATE ledger_totals SET
        entries = entries - 1, rows = rows - old.rows, bytes = bytes - old.bytes, dlq = dlq - old.dlq,
        next_offset = CASE WHEN old.last_offset + 1 < next_offset THEN next_offset ELSE coalesce(
            (SELECT max(last_offset) + 1 FROM ledger WHERE topic = old.topic AND partition = old.partition), 0) END,
        last_commit = CASE WHEN old.committed_at < last_commit THEN last_commit ELSE coalesce(
            (SELECT max(committed_at) FROM ledger WHERE topic = old.topic AND partition = old.partition), 0) END,
        max_event_time = CASE WHEN old.max_event_time IS NULL OR old.max_event_time < max_event_time
            THEN max_event_time
            ELSE (SELECT max(max_event_time) FROM ledger WHERE topic = old.topic AND partition = old.partition) END
    WHERE topic = old.topic AND partition = old.partition;
    DELETE FROM ledger_totals WHERE topic = old.topic AND partition = old.partition AND entries <= 0;
END;
-- the ledger is only inserted into and deleted from; an update (by hand, an old tool) is both
CREATE TRIGGER ledger_totals_change AFTER UPDATE ON ledger BEGIN
    UPDATE ledger_totals SET
        entries = entries - 1, rows = rows - old.rows, bytes = bytes - old.bytes, dlq = dlq - old.dlq,
        next_offset = CASE WHEN old.last_offset + 1 < next_offset THEN next_offset ELSE coalesce(
            (SELECT max(last_offset) + 1 FROM ledger WHERE topic = old.topic AND partition = old.partition), 0) END,
        last_commit = CASE WHEN old.committed_at < last_commit THEN last_commit ELSE coalesce(
            (SELECT max(committed_at) FROM ledger WHERE topic = old.topic AND partition = old.partition), 0) END,
        max_event_time = CASE WHEN old.max_event_time IS NULL OR old.max_event_time < max_event_time
            THEN max_event_time
            ELSE (SELECT max(max_event_time) FROM ledger WHERE topic = old.topic AND partition = old.partition) END
    WHERE topic = old.topic AND partition = old.partition;
    DELETE FROM ledger_totals WHERE topic = old.topic AND partition = old.partition AND entries <= 0;
    INSERT INTO ledger_totals (topic, partition, entries, next_offset, rows, bytes, dlq, last_commit,
                               max_event_time, tbl)
    VALUES (new.topic, new.partition, 1, new.last_offset + 1, new.rows, new.bytes, new.dlq, new.committed_at,
            new.max_event_time, new.database || '.' || new.name)
    ON CONFLICT (topic, partition) DO UPDATE SET
        entries = entries + 1, rows = rows + excluded.rows, bytes = bytes + excluded.bytes, dlq = dlq + excluded.dlq,
        tbl = CASE WHEN excluded.next_offset >= next_offset THEN excluded.tbl ELSE tbl END,
        next_offset = max(next_offset, excluded.next_offset),
        last_commit = max(last_commit, excluded.last_commit),
        max_event_time = coalesce(max(max_event_time, excluded.max_event_time), max_event_time,
                                  excluded.max_event_time);
END;
"""


def for_postgres(sqlite_sql: str) -> str:
    """SQLite DDL in PostgreSQL's types: REAL is 4 bytes there, INTEGER 4 (offsets need 8)."""
    return re.sub(r"\bINTEGER\b", "BIGINT", re.sub(r"\bREAL\b", "DOUBLE PRECISION", sqlite_sql))


def _before_triggers(sqlite_sql: str) -> str:
    return sqlite_sql[: sqlite_sql.index("CREATE TRIGGER")]


# PostgreSQL: `files` gets the ordered `rowid` SQLite gives every row (an identity column, allocated
# under the catalog's write lock, so in commit order as in SQLite), and the triggers are PL/pgSQL.
_V1_PG = for_postgres(_V1).replace(
    "CREATE TABLE IF NOT EXISTS files (\n    path TEXT PRIMARY KEY,",
    "CREATE TABLE IF NOT EXISTS files (\n    rowid BIGINT GENERATED ALWAYS AS IDENTITY, path TEXT PRIMARY KEY,",
)
assert "rowid BIGINT" in _V1_PG

# One trigger function for the six SQLite triggers on files and tables: TG_ARGV[0] 'reset' when
# the change is more than new files, TG_ARGV[1] 'old' when an update is keyed by the old row.
_V2_PG = (
    for_postgres(_before_triggers(_V2))
    + """
CREATE FUNCTION eventlake_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    db TEXT; nm TEXT; next_seq BIGINT; is_reset BOOLEAN;
BEGIN
    is_reset := TG_ARGV[0] = 'reset';
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND TG_NARGS > 1 AND TG_ARGV[1] = 'old') THEN
        db := OLD.database; nm := OLD.name;
    ELSE
        db := NEW.database; nm := NEW.name;
    END IF;
    SELECT coalesce(max(seq), 0) + 1 INTO next_seq FROM table_changes;
    INSERT INTO table_changes (database, name, seq, reset_seq) VALUES (db, nm, next_seq, 0)
    ON CONFLICT (database, name) DO UPDATE SET seq = excluded.seq,
        reset_seq = CASE WHEN is_reset THEN excluded.seq ELSE table_changes.reset_seq END;
    RETURN NULL;
END $$;
CREATE FUNCTION eventlake_note_views() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE table_changes SET seq = (SELECT max(seq) + 1 FROM table_changes), reset_seq = seq
    WHERE database = '' AND name = '';
    RETURN NULL;
END $$;
CREATE TRIGGER files_added AFTER INSERT ON files FOR EACH ROW EXECUTE FUNCTION eventlake_note_change('add');
CREATE TRIGGER files_removed AFTER DELETE ON files FOR EACH ROW EXECUTE FUNCTION eventlake_note_change('reset');
CREATE TRIGGER files_changed AFTER UPDATE ON files
    FOR EACH ROW EXECUTE FUNCTION eventlake_note_change('reset', 'old');
CREATE TRIGGER tables_added AFTER INSERT ON tables FOR EACH ROW EXECUTE FUNCTION eventlake_note_change('reset');
CREATE TRIGGER tables_changed AFTER UPDATE ON tables
    FOR EACH ROW EXECUTE FUNCTION eventlake_note_change('reset', 'new');
CREATE TRIGGER tables_removed AFTER DELETE ON tables FOR EACH ROW EXECUTE FUNCTION eventlake_note_change('reset');
CREATE TRIGGER views_added AFTER INSERT ON views FOR EACH ROW EXECUTE FUNCTION eventlake_note_views();
CREATE TRIGGER views_removed AFTER DELETE ON views FOR EACH ROW EXECUTE FUNCTION eventlake_note_views();
-- an upsert that replaces a view is an UPDATE here (SQLite's REPLACE is an INSERT)
CREATE TRIGGER views_changed AFTER UPDATE ON views FOR EACH ROW EXECUTE FUNCTION eventlake_note_views();
"""
)

_V3_PG = (
    for_postgres(_before_triggers(_V3))
    + for_postgres(_V3[_V3.index("CREATE TABLE IF NOT EXISTS maintenance_leases") :])
    + """
CREATE FUNCTION eventlake_file_ranges_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM file_ranges WHERE path = OLD.path;
    RETURN NULL;
END $$;
CREATE TRIGGER file_ranges_follow_files AFTER DELETE ON files
    FOR EACH ROW EXECUTE FUNCTION eventlake_file_ranges_follow();
"""
)

# The same triggers as one PL/pgSQL function (greatest() skips NULLs, like the SQLite coalesce dance).
_V4_PG = (
    for_postgres(_before_triggers(_V4))
    + """
CREATE FUNCTION eventlake_ledger_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE ledger_totals AS t SET
            entries = t.entries - 1, rows = t.rows - OLD.rows, bytes = t.bytes - OLD.bytes, dlq = t.dlq - OLD.dlq,
            next_offset = CASE WHEN OLD.last_offset + 1 < t.next_offset THEN t.next_offset ELSE coalesce(
                (SELECT max(l.last_offset) + 1 FROM ledger l WHERE l.topic = OLD.topic AND l.partition = OLD.partition),
                0) END,
            last_commit = CASE WHEN OLD.committed_at < t.last_commit THEN t.last_commit ELSE coalesce(
                (SELECT max(l.committed_at) FROM ledger l WHERE l.topic = OLD.topic AND l.partition = OLD.partition),
                0) END,
            max_event_time = CASE WHEN OLD.max_event_time IS NULL OR OLD.max_event_time < t.max_event_time
                THEN t.max_event_time
                ELSE (SELECT max(l.max_event_time) FROM ledger l
                      WHERE l.topic = OLD.topic AND l.partition = OLD.partition) END
        WHERE t.topic = OLD.topic AND t.partition = OLD.partition;
        DELETE FROM ledger_totals t WHERE t.topic = OLD.topic AND t.partition = OLD.partition AND t.entries <= 0;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO ledger_totals AS t (topic, partition, entries, next_offset, rows, bytes, dlq, last_commit,
                                        max_event_time, tbl)
        VALUES (NEW.topic, NEW.partition, 1, NEW.last_offset + 1, NEW.rows, NEW.bytes, NEW.dlq, NEW.committed_at,
                NEW.max_event_time, NEW.database || '.' || NEW.name)
        ON CONFLICT (topic, partition) DO UPDATE SET
            entries = t.entries + 1, rows = t.rows + excluded.rows, bytes = t.bytes + excluded.bytes,
            dlq = t.dlq + excluded.dlq,
            tbl = CASE WHEN excluded.next_offset >= t.next_offset THEN excluded.tbl ELSE t.tbl END,
            next_offset = greatest(t.next_offset, excluded.next_offset),
            last_commit = greatest(t.last_commit, excluded.last_commit),
            max_event_time = greatest(t.max_event_time, excluded.max_event_time);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_totals_add AFTER INSERT ON ledger FOR EACH ROW EXECUTE FUNCTION eventlake_ledger_totals();
CREATE TRIGGER ledger_totals_remove AFTER DELETE ON ledger FOR EACH ROW EXECUTE FUNCTION eventlake_ledger_totals();
CREATE TRIGGER ledger_totals_change AFTER UPDATE ON ledger FOR EACH ROW EXECUTE FUNCTION eventlake_ledger_totals();
"""
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the schema of eventlake 0.1.0", _V1, _V1_PG),
    Migration(2, "change tracking for incremental refresh; files by partition", _V2, _V2_PG),
    Migration(3, "lake maintenance: file ranges, leases, pending files, runs", _V3, _V3_PG),
    Migration(4, "ledger totals per partition (status and the chain cost one row per partition)", _V4, _V4_PG),
)
LATEST = MIGRATIONS[-1].version


def statements(script: str) -> list[str]:
    """Split a script into whole statements (a trigger's body holds `;` too)."""
    out, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                out.append(pending.strip())
            pending = ""
    return out


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def made_by(conn: sqlite3.Connection) -> str | None:
    """The eventlake version that last upgraded this catalog's schema (None before `meta` existed)."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'eventlake_version'").fetchone()
    except sqlite3.OperationalError:
        return None
    return None if row is None else str(row[0])


def upgrade(conn: sqlite3.Connection, current: int, eventlake_version: str) -> None:
    """Apply the migrations after `current`, inside the caller's transaction."""
    for migration in MIGRATIONS:
        if migration.version > current:
            for stmt in statements(migration.sql):
                conn.execute(stmt)
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('eventlake_version', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (eventlake_version,),
    )
    conn.execute(f"PRAGMA user_version = {int(LATEST)}")
