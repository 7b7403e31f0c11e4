"""The commit protocol that makes the lake exactly-once.

One flush of one Kafka partition: decode, write every file under its final name (atomic
per file), then record ONE ledger entry naming the files, conditional on its first offset
continuing the ledger. Data becomes visible only with that entry. A writer whose entry
conflicts (a zombie that lost its partition, or a replay of landed data) deletes the files
it wrote. Files that no entry names (a crash between write and record) are swept later.

File names hold the first and last offset of their rows, so a replay of the same offsets
writes the same name with the same rows, and two writers never hold different contents
under one name.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from eventlake.broker.dead_letters import DeadLetter
from eventlake.catalog import CatalogStore, DataFile, LedgerEntry
from eventlake.catalog.exceptions import LedgerConflict
from eventlake.config.sink import SinkSettings
from eventlake.lake import Lake
from eventlake.lake.store import TMP_DIR
from eventlake.sink.decode import decode_batch
from eventlake.sink.partitioner import Group, group_rows, split_by_file_cap
from eventlake.sink.schema import conform_table
from eventlake.sink.table import LINEAGE, SinkTable
from eventlake.sink.writer import EXTENSIONS, encode

log = logging.getLogger(__name__)

REWRITE_TAG = re.compile(r"r[0-9a-f]{8}")  # the suffix of a rewritten file's stem (sink.conform)


@dataclass
class Batch:
    """What a partition buffer held: raw values with their Kafka coordinates."""

    topic: str
    partition: int
    start: int | None  # the ledger's next offset when the buffer began (None: no entry yet)
    values: list[bytes | None]
    offsets: np.ndarray
    timestamps: np.ndarray  # Kafka timestamps, epoch ms
    keys: list[bytes | None]
    # The ledger's name for the topic: `<topic>~<n>` once it was recreated (see sink.offsets).
    ledger_topic: str | None = None

    @property
    def key(self) -> str:
        """The topic as the ledger and file names know it."""
        return self.ledger_topic or self.topic

    @property
    def first(self) -> int:
        return self.start if self.start is not None else int(self.offsets[0])

    @property
    def last(self) -> int:
        return int(self.offsets[-1])


@dataclass
class FlushResult:
    rows: int = 0
    dlq: int = 0
    files: list[DataFile] = field(default_factory=list)
    bytes: int = 0
    next_offset: int | None = None  # where the ledger stands for this partition after the flush
    conflict: bool = False
    max_event_time: float | None = None


DeadLetterSink = Callable[[list[DeadLetter]], None]


def flush_batch(
    batch: Batch,
    table: SinkTable,
    store: CatalogStore,
    lake: Lake,
    settings: SinkSettings,
    dead_letters: DeadLetterSink,
) -> FlushResult:
    """Land one partition's batch: files, then ledger entries. Returns what was recorded."""
    now_next = store.ledger_next_offset(batch.key, batch.partition)
    if now_next is not None and now_next != batch.first:
        # Someone else landed these offsets meanwhile (we are a zombie): skip the writing too.
        # commit_flush below still decides for the race this look cannot see.
        log.warning(
            "flush of %s[%s] from %s skipped: the ledger is at %s", batch.topic, batch.partition, batch.first, now_next
        )
        return FlushResult(next_offset=now_next, conflict=True)
    # Records that cannot land (bad JSON, a type conflict, an event time outside the window) are
    # rejected one by one; the rest of the batch lands.
    decoded = decode_batch(batch.values, batch.timestamps, table.schema, settings)
    if not decoded.schema.equals(table.schema):
        table.evolve(decoded.schema)
    accepted = np.asarray(decoded.accepted, dtype=np.int64) if decoded.accepted is not None else None
    offsets = batch.offsets if accepted is None else batch.offsets[accepted]
    stamps = batch.timestamps if accepted is None else batch.timestamps[accepted]
    keys = batch.keys if accepted is None else [batch.keys[i] for i in decoded.accepted or []]

    letters = [
        DeadLetter(
            "sink",
            batch.topic,
            r.reason,
            batch.values[r.index],
            batch.keys[r.index],
            partition=batch.partition,
            offset=int(batch.offsets[r.index]),
        )
        for r in decoded.rejected
    ]
    if letters:
        # Durable before the ledger entry: a crash after this replays them (DLQ is at-least-once),
        # a crash before never loses them.
        dead_letters(letters)

    data = decoded.table
    times = decoded.times_ms  # event times, window-checked by decode_batch
    assert times is not None
    full = _with_lineage(data, table, batch, offsets, stamps, keys)
    groups = group_rows(data, times, settings.partition_by)
    pieces = split_by_file_cap(groups, full.num_rows, settings.max_files_per_flush)
    if not pieces:
        pieces = [(0, 0, [])]
    dead_offsets = np.asarray([lt.offset for lt in letters], dtype=np.int64)

    result = FlushResult(next_offset=batch.first)
    for i, (start, end, piece_groups) in enumerate(pieces):
        first = batch.first if i == 0 else int(offsets[start])
        last = batch.last if i == len(pieces) - 1 else int(offsets[end]) - 1
        files = []
        try:
            for g in piece_groups:
                files.append(_write_file(g, full, times, offsets, table, lake, batch, settings))
            n_dead = int(((dead_offsets >= first) & (dead_offsets <= last)).sum())
            max_t = max((f.max_event_time for f in files if f.max_event_time is not None), default=None)
            entry = LedgerEntry(
                topic=batch.key,
                partition=batch.partition,
                first_offset=first,
                last_offset=last,
                table=table.ref,
                files=files,
                rows=end - start,
                dlq=n_dead,
                bytes=sum(f.bytes for f in files),
                max_event_time=max_t,
                committed_at=time.time(),
            )
            store.commit_flush(entry)
        except LedgerConflict as exc:
            log.warning("flush of %s[%s] %s..%s lost: %s", batch.topic, batch.partition, first, last, exc.message)
            discard_files(store, lake, table, files)
            result.conflict = True
            return result
        except BaseException:
            discard_files(store, lake, table, files)
            raise
        result.rows += entry.rows
        result.dlq += n_dead
        result.files.extend(files)
        result.bytes += entry.bytes
        result.next_offset = last + 1
        if max_t is not None:
            result.max_event_time = max(max_t, result.max_event_time or max_t)
    return result


def _with_lineage(
    data: pa.Table, table: SinkTable, batch: Batch, offsets: np.ndarray, stamps: np.ndarray, keys: list[bytes | None]
) -> pa.Table:
    # Files hold the catalog's types (never Arrow's Null type), so every file reads alike anywhere.
    schema = table.file_schema()
    n_data = len(schema) - len(LINEAGE)
    # The table's schema may hold more than this batch (columns other sinks of the group added).
    own = conform_table(data, pa.schema(list(schema)[:n_data]))
    arrays = [*own.columns, *table.lineage_columns(batch.topic, batch.partition, offsets, stamps, keys)]
    return pa.Table.from_arrays(arrays, schema=schema)


def _write_file(
    g: Group,
    full: pa.Table,
    times: np.ndarray,
    offsets: np.ndarray,
    table: SinkTable,
    lake: Lake,
    batch: Batch,
    settings: SinkSettings,
) -> DataFile:
    rows = g.rows
    part = full if len(rows) == full.num_rows else full.take(pa.array(rows))
    first, last = int(offsets[rows[0]]), int(offsets[rows[-1]])
    ext = EXTENSIONS[settings.format]
    rel = f"{table.folder}/{g.folder()}/{batch.key}+{batch.partition}+{first}+{last}.{ext}"
    size = lake.write_atomic(rel, encode(part, settings.format, settings.compression))
    t = times[rows]
    return DataFile(
        path=lake.uri(rel),
        partition=dict(g.values),
        rows=len(rows),
        bytes=size,
        format=settings.format,
        topic=batch.key,
        kafka_partition=batch.partition,
        first_offset=first,
        last_offset=last,
        min_event_time=float(t.min()) / 1000.0,
        max_event_time=float(t.max()) / 1000.0,
        created_at=time.time(),
    )


def discard_files(store: CatalogStore, lake: Lake, table: SinkTable, files: list[DataFile]) -> None:
    """Delete files this writer wrote, except any the catalog names (same name, same rows)."""
    if not files:
        return
    registered = {f.path for f in store.list_files(table.ref)}
    for f in files:
        if f.path not in registered:
            lake.delete(lake.rel(f.path))


@dataclass(frozen=True)
class SweepReport:
    deleted: list[str]
    kept: int  # unlisted files not (yet) safe to delete


def sweep_orphans(
    store: CatalogStore, lake: Lake, folder: str, topic: str, older_than_s: float, now: float | None = None
) -> SweepReport:
    """Delete this topic's sink files under `folder` that no catalog entry names, once the
    ledger has landed their offsets through other files.

    A file the catalog does not list is a crashed flush (written, never recorded), a zombie's
    flush, or a live writer's flush between write and record. It is deleted only if its name
    says it holds `topic` offsets that the ledger already covers, so the rows are in the lake
    through the files that were recorded; and only once older than `older_than_s`. A file
    whose offsets are not covered yet is kept until a replay lands them. Anything else in the
    folder (files that are not the sink's, another catalog's newer data) is never touched, nor
    is a file maintenance has noted as pending (written or retired, not yet settled).
    """
    now = time.time() if now is None else now
    named = {f.path for f in store.list_files()}
    # Files a compaction or retention just retired are maintenance's to delete, after the
    # readers' grace: a query planned before the swap may still be reading them.
    named |= {path for path, *_ in store.pending()}
    positions = store.ledger_positions()
    deleted, kept = [], 0
    for obj in lake.list(folder):
        if lake.uri(obj.rel_path) in named:
            continue
        coords = _file_offsets(obj.rel_path.rsplit("/", 1)[-1], topic)
        if coords is None:
            continue
        partition, last = coords
        covered = last < positions.get((topic, partition), 0)
        young = obj.mtime is not None and now - obj.mtime < older_than_s
        if not covered or young:
            kept += 1
            continue
        lake.delete(obj.rel_path)
        deleted.append(obj.rel_path)
    for obj in lake.list(TMP_DIR):  # a local lake's half-written temp files
        if obj.mtime is None or now - obj.mtime >= max(older_than_s, 60.0):
            lake.delete(obj.rel_path)
    if deleted:
        log.info("swept %d orphan files of %s from %s", len(deleted), topic, lake.uri(folder))
    return SweepReport(deleted, kept)


def _file_offsets(name: str, topic: str) -> tuple[int, int] | None:
    """(partition, last offset) from `<topic>+<partition>+<first>+<last>[+r<tag>].<ext>`; None if not ours.

    `+r<tag>`: a file rewritten into a newer schema (sink.conform); one never swapped in is an orphan too.
    """
    stem = name.rsplit(".", 1)[0]
    parts = stem.split("+")
    if len(parts) == 5 and REWRITE_TAG.fullmatch(parts[4]):
        parts = parts[:4]
    if len(parts) != 4 or parts[0] != topic or not all(p.isdigit() for p in parts[1:]):
        return None
    return int(parts[1]), int(parts[3])


def record_gap(store: CatalogStore, table: SinkTable, topic: str, partition: int, first: int, last: int) -> None:
    """A ledger entry with no rows for offsets Kafka deleted before they landed: the chain goes on,
    and `offset_events` says why these offsets hold nothing. Another sink recording it first is fine."""
    try:
        store.commit_flush(
            LedgerEntry(
                topic=topic,
                partition=partition,
                first_offset=first,
                last_offset=last,
                table=table.ref,
                files=[],
                rows=0,
                committed_at=time.time(),
            )
        )
    except LedgerConflict:
        pass
