"""Every file of a table in the table's current schema, so the lake reads alike in any engine.

Spark (no schema merging by default), pyarrow.dataset, polars and Athena take one schema for
a table and expect every file to hold it: an INT64 file beside DOUBLE ones, a file lacking a
newer column, or Arrow's Null type fail or need a hand-merged schema. The sink writes new
files in the newest schema; after a flush that widened a table (int -> double, a struct
gains fields, a new column, an "unknown yet" field typed), the `Conformer` thread rewrites
the older files: read, conform (new columns and fields as typed nulls, ints cast to double),
write under a new name, swap in one catalog transaction (`replace_files`, as compaction
does), delete the old file after compaction's grace. Readers see the old file or the new
one, never both; lineage (topic, partition, offsets, event times, rows) is copied and the
ledger is untouched, since the offsets it records are still exactly what the lake holds.

The catalog's columns are the file schema (`file_schema`): Glue and Athena read the same
columns, so a file that matches them is right for every partition too.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pyarrow as pa
import pyarrow.parquet as pq

from eventlake.catalog import CatalogStore, DataFile, Table
from eventlake.catalog.compact import GRACE_S
from eventlake.catalog.exceptions import CatalogError
from eventlake.lake import Lake
from eventlake.sink.arrays import conform_table
from eventlake.sink.exceptions import TypeConflict
from eventlake.sink.ledger import REWRITE_TAG
from eventlake.sink.schema import from_hive
from eventlake.sink.writer import encode
from eventlake.types import TableRef

log = logging.getLogger(__name__)


def file_schema(table: Table) -> pa.Schema:
    """The schema every Parquet file of `table` holds: its catalog columns as Arrow types."""
    return pa.schema([pa.field(c.name, from_hive(c.type)) for c in table.columns])


@dataclass
class ConformReport:
    checked: int = 0
    rewritten: list[str] = field(default_factory=list)  # old paths, swapped out
    failed: list[str] = field(default_factory=list)  # one line each: path and why


def conform_files(
    store: CatalogStore,
    lake: Lake,
    ref: TableRef,
    compression: str = "zstd",
    known: set[tuple[str, str]] | None = None,
    lock: threading.Lock | None = None,
    retire: Callable[[list[str]], None] | None = None,
) -> ConformReport:
    """Rewrite the files of `ref` whose schema is not the table's; return what was done.

    `known`: (path, schema text) pairs already found conforming (a file never changes, so its
    footer is read once per schema). `lock`: held from writing a new file until its swap, so a
    sweep in this process never takes it for an orphan. `retire`: gets the swapped-out paths
    (default: deleted after compaction's grace).
    """
    report = ConformReport()
    table = store.get_table(ref)
    if table is None or table.format != "parquet":
        return report
    target = file_schema(table)
    key = target.to_string(show_field_metadata=False, show_schema_metadata=False)
    known = set() if known is None else known
    for f in store.list_files(ref):
        if (f.path, key) in known or f.format != "parquet":
            continue
        report.checked += 1
        try:
            with lake.filesystem.open_input_file(lake.path(lake.rel(f.path))) as src:
                current = pq.read_schema(src)
            if not current.equals(target):
                with lock or threading.Lock():
                    _rewrite(store, lake, ref, f, target, compression)
                report.rewritten.append(f.path)
            known.add((f.path, key))
        except (CatalogError, TypeConflict, OSError, pa.ArrowException) as exc:
            # A file compacted or rewritten meanwhile by another process, or an outage: the next pass retries.
            report.failed.append(f"{f.path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    if report.rewritten:
        log.info("rewrote %d files of %s into its current schema", len(report.rewritten), ref)
        (retire or (lambda paths: _delete_later(lake, paths, GRACE_S)))(report.rewritten)
    return report


def _rewrite(
    store: CatalogStore, lake: Lake, ref: TableRef, f: DataFile, target: pa.Schema, compression: str
) -> DataFile:
    with lake.filesystem.open_input_file(lake.path(lake.rel(f.path))) as src:
        data = pq.read_table(src)
    if data.num_rows != f.rows:
        raise CatalogError(f"{f.path} holds {data.num_rows} rows, the catalog lists {f.rows}")
    rel = _new_name(lake.rel(f.path))
    size = lake.write_atomic(rel, encode(conform_table(data, target), "parquet", compression))
    new = replace(f, path=lake.uri(rel), bytes=size, created_at=time.time(), table=None)
    try:
        store.replace_files(ref, [f.path], [new])  # refused if the file was swapped out meanwhile
    except BaseException:
        lake.delete(rel)
        raise
    return new


def _new_name(rel: str) -> str:
    """`...+first+last.parquet` -> `...+first+last+r<tag>.parquet` (a fresh tag for each rewrite)."""
    folder, _, name = rel.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    head, plus, tail = stem.rpartition("+")
    if plus and REWRITE_TAG.fullmatch(tail):
        stem = head
    return f"{folder}/{stem}+r{uuid.uuid4().hex[:8]}{dot}{ext}"


def _delete_later(lake: Lake, paths: list[str], grace_s: float) -> None:
    # Readers that listed the catalog just before the swap may still open the old files.
    time.sleep(grace_s)
    for path in paths:
        lake.delete(lake.rel(path))


class Conformer:
    """A sink's background thread that keeps its tables' files in the tables' current schema.

    `poke()` after a flush that changed a table's schema (and at start, and with each sweep);
    each pass checks the footers of files it has not seen under the current schema. The sink's
    loop never waits for a rewrite; several sinks (or a compaction) racing on one file are
    safe, since the swap is conditional and the loser deletes its copy.
    """

    def __init__(
        self,
        store: CatalogStore,
        lake: Lake,
        refs: list[TableRef],
        compression: str,
        lock: threading.Lock,
        grace_s: float = GRACE_S,
    ) -> None:
        self.store, self.lake, self.refs = store, lake, refs
        self.compression, self.lock, self.grace_s = compression, lock, grace_s
        self.known: set[tuple[str, str]] = set()
        self._asked = self._served = 0  # pokes made, pokes a finished pass has covered
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="eventlake-conform", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self.poke()

    def poke(self) -> None:
        with self._cond:
            self._asked += 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once a pass begun after every poke so far has finished (tests, a clean stop)."""
        with self._cond:
            goal = self._asked
            return self._cond.wait_for(lambda: self._served >= goal, timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """One last pass (the final flush may have widened a table), old files deleted after the grace, then end."""
        with self._cond:
            self._stop = True
            self._asked += 1
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._asked > self._served)
                goal, stopping = self._asked, self._stop
            for ref in self.refs:
                try:
                    report = conform_files(
                        self.store,
                        self.lake,
                        ref,
                        self.compression,
                        self.known,
                        self.lock,
                        lambda paths: _delete_later(self.lake, paths, self.grace_s),
                    )
                except Exception as exc:  # the catalog away, say: the next poke retries
                    log.warning("rewriting old files of %s into its schema failed: %s", ref, exc)
                    continue
                for line in report.failed[:3]:
                    log.warning("could not rewrite %s (retried on the next pass)", line)
            with self._cond:
                self._served = goal
                self._cond.notify_all()
            if stopping:
                return
