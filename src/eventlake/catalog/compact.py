"""Merge a table partition's small files into files near a target size, atomically.

One code path for `eventlake compact TABLE` (manual) and the background maintenance
(`catalog/maintain.py`). Per table partition (a table-hour, say):

1. take the partition's lease in the catalog (one compactor per partition at a time, however
   many sinks and `maintain` processes run; a killed holder's lease expires);
2. cut its files, ordered by (topic, Kafka partition, first offset), into consecutive runs of
   up to the target size (a run of one file is left alone, so passes converge);
3. per run: note the output as pending in the catalog, stream the inputs into one Parquet file
   (row groups of ~64 MiB, so memory stays near one row group whatever the target), write it
   whole (atomic), then `swap_files`: one transaction, refused unless the lease is still ours
   and every input is still listed. The inputs become pending `retired` objects, deleted after
   the readers' grace.

A reader sees the inputs or the output, never both and never neither. A SIGKILL at any point
leaves the catalog exact; what it leaves on storage is named in `maintenance_pending` and
swept later (`settle_pending`). Lineage survives: an output holding one Kafka partition keeps
the file's own topic/partition/offset columns (first = smallest, last = largest input offset:
"the records of that range that fall in this folder", as for sink files); an output holding
several keeps one range per (topic, partition) in `file_ranges`. The ledger is untouched, since
the offsets it records are still exactly what the lake holds.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from eventlake.catalog.exceptions import CatalogError, TableNotFound
from eventlake.catalog.model import DataFile, FileRange, Table
from eventlake.catalog.store import CatalogStore, open_catalog
from eventlake.config import Settings
from eventlake.lake import Lake, open_lake
from eventlake.lake.store import TMP_DIR
from eventlake.types import TableRef

log = logging.getLogger(__name__)

TARGET_BYTES = 128 * 1024 * 1024
GRACE_S = 2.0  # inputs outlive their swap this long, so queries planned just before it still find them
LEASE_TTL_S = 600.0  # a killed compactor's partitions are free again after this
TMP_AGE_S = 60.0  # a temp file this old has no live writer (one file is written in seconds)
ROW_GROUP_BYTES = 64 * 1024 * 1024  # in-memory bytes buffered per output row group

# Rewrites a merged batch into the table's file schema (sink.conform provides it; None: as read).
Conform = Callable[[pa.Table], pa.Table]


@dataclass
class CompactionSummary:
    table: str
    partitions_compacted: int = 0
    files_before: int = 0
    files_after: int = 0
    rows: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def new_owner() -> str:
    """A lease owner id: unique per process and call, readable in the catalog."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def parse_partition(text: str | None) -> dict[str, str] | None:
    """`dt=2024-01-02/hour=03` -> {"dt": "2024-01-02", "hour": "03"}."""
    if not text:
        return None
    out = {}
    for part in text.strip("/").split("/"):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise CatalogError(f"bad partition {text!r}", hint="write it as key=value/key=value, e.g. dt=2024-01-02")
        out[key] = value
    return out


def _order(f: DataFile) -> tuple[str, int, int, str]:
    first = f.lineage()[0] if f.lineage() else None
    if first is None:
        return ("", -1, -1, f.path)
    return (first.topic, first.partition, first.first_offset, f.path)


def _source_orders(files: Sequence[DataFile]) -> dict[tuple[str, int], list[DataFile]]:
    """Per (topic, Kafka partition): the files holding part of it, in offset order."""
    by_source: dict[tuple[str, int], list[tuple[int, str, DataFile]]] = {}
    for f in files:
        for r in f.lineage():
            by_source.setdefault((r.topic, r.partition), []).append((r.first_offset, f.path, f))
    return {k: [f for *_, f in sorted(v, key=lambda item: item[:2])] for k, v in by_source.items()}


def offset_order(files: Sequence[DataFile]) -> list[DataFile]:
    """`files` in an order that keeps every Kafka partition's files in offset order, whatever mix of
    sources each file holds (a topological order; ties by `_order`). Any consecutive stretch of it
    then holds, per Kafka partition, consecutive files: what `merged_ranges` needs. Sorting by the
    first range alone does not: a file holding only partition 1 sorts after every file that starts
    with partition 0, so a cut could leave it between two files merged across it."""
    after: dict[str, set[str]] = {f.path: set() for f in files}
    before: dict[str, int] = {f.path: 0 for f in files}
    for chain in _source_orders(files).values():
        for a, b in itertools.pairwise(chain):
            if a.path != b.path and b.path not in after[a.path]:
                after[a.path].add(b.path)
                before[b.path] += 1
    by_path = {f.path: f for f in files}
    ready = [(_order(f), f.path) for f in files if before[f.path] == 0]
    heapq.heapify(ready)
    out: list[DataFile] = []
    while ready:
        _, path = heapq.heappop(ready)
        out.append(by_path[path])
        for nxt in after[path]:
            before[nxt] -= 1
            if before[nxt] == 0:
                heapq.heappush(ready, (_order(by_path[nxt]), nxt))
    if len(out) < len(files):  # a cycle (files merged across each other): left for `contiguous` to refuse
        seen = {f.path for f in out}
        out += sorted((f for f in files if f.path not in seen), key=_order)
    return out


def contiguous(run: Sequence[DataFile], files: Sequence[DataFile]) -> bool:
    """No file outside `run` holds offsets of a Kafka partition between two of `run`'s files of it:
    then one min..max range per partition describes the merged file exactly."""
    chosen = {f.path for f in run}
    for chain in _source_orders(files).values():
        hits = [i for i, f in enumerate(chain) if f.path in chosen]
        if hits and hits[-1] - hits[0] + 1 != len(hits):
            return False
    return True


def plan_runs(files: Sequence[DataFile], target_bytes: int) -> list[list[DataFile]]:
    """Consecutive runs of one partition's files, each up to ~target_bytes; runs of one file are left alone."""
    out: list[list[DataFile]] = []
    run: list[DataFile] = []
    size = 0
    for f in offset_order(files):
        if run and size + f.bytes > target_bytes:
            out.append(run)
            run, size = [], 0
        run.append(f)
        size += f.bytes
    if run:
        out.append(run)
    return [r for r in out if len(r) > 1]


COMPACTED_PREFIX = "compacted-"  # outputs' names; sink files are named by their offsets
# An open hour's pieces carry their tier: merging sink files makes tier 1, merging tier-n pieces tier n+1.
_PIECE = re.compile(r"compacted-t([0-9]{1,3})-[0-9a-f]{16}\.parquet")


def is_compacted(f: DataFile) -> bool:
    return f.path.rsplit("/", 1)[-1].startswith(COMPACTED_PREFIX)


def tier(f: DataFile) -> int | None:
    """0 for a sink file (one Kafka range), n for an open hour's piece of tier n, None for the rest
    (a closed hour's merged files, crawled files): the open hour's tiers leave those alone."""
    name = f.path.rsplit("/", 1)[-1]
    if not name.startswith(COMPACTED_PREFIX):
        return 0 if len(f.lineage()) == 1 else None
    m = _PIECE.fullmatch(name)
    return int(m.group(1)) if m else None


def _output_name(run: Sequence[DataFile], pieces: bool) -> str:
    tiers = [tier(f) for f in run]
    if pieces and None not in tiers:
        return f"{COMPACTED_PREFIX}t{1 + max(t or 0 for t in tiers)}-{uuid.uuid4().hex[:16]}.parquet"
    return f"{COMPACTED_PREFIX}{uuid.uuid4().hex[:16]}.parquet"


def open_hour_selection(
    files: Sequence[DataFile], *, written_before: float, window_s: float, fanout: int
) -> list[DataFile]:
    """What to merge next of an hour that is still open, so that a live query reads few files while
    each row is rewritten only about log_fanout(pieces) times before the hour closes:

    1. its newest sink files written before `written_before`, as one consecutive block per (topic,
       Kafka partition) in offset order, once the oldest is `window_s` older than that (each piece
       then holds at least `window_s` of flushes) -> a piece of tier 1;
    2. else the lowest tier with `fanout` pieces or more: all of them -> one piece of the next tier.

    Either way the choice is consecutive per Kafka partition, as `merged_ranges` requires
    (`compact_partition` checks it again with `contiguous`)."""
    orders = _source_orders(files)
    chosen: list[DataFile] = []
    for chain in orders.values():
        block: list[DataFile] = []
        for f in chain:
            if tier(f) != 0:
                if block:  # a piece after sink files: not the newest block, leave it
                    break
                continue
            if f.created_at is None or f.created_at >= written_before:
                break  # a young file ends the block: the files after it wait with it
            block.append(f)
        chosen += block
    if len(chosen) >= 2 and min(f.created_at or written_before for f in chosen) <= written_before - window_s:
        return chosen
    by_tier: dict[int, list[DataFile]] = {}
    for f in files:
        t = tier(f)
        if t:
            by_tier.setdefault(t, []).append(f)
    for t in sorted(by_tier):
        if len(by_tier[t]) >= fanout:
            return by_tier[t]
    return []


def merged_ranges(run: Sequence[DataFile]) -> list[FileRange]:
    """One range per (topic, Kafka partition): the run's files of it are consecutive, so min..max is exact."""
    by_source: dict[tuple[str, int], list[FileRange]] = {}
    for f in run:
        for r in f.lineage():
            by_source.setdefault((r.topic, r.partition), []).append(r)
    out = []
    for (topic, partition), rs in sorted(by_source.items()):
        mins = [r.min_event_time for r in rs if r.min_event_time is not None]
        maxs = [r.max_event_time for r in rs if r.max_event_time is not None]
        out.append(
            FileRange(
                topic,
                partition,
                min(r.first_offset for r in rs),
                max(r.last_offset for r in rs),
                sum(r.rows for r in rs),
                min(mins) if mins else None,
                max(maxs) if maxs else None,
            )
        )
    return out


def _align(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` in `schema`'s column order and types; columns it lacks as nulls."""
    cols = []
    for fld in schema:
        idx = table.schema.get_field_index(fld.name)
        col = table.column(idx) if idx >= 0 else pa.nulls(table.num_rows, fld.type)
        cols.append(col if col.type.equals(fld.type) else col.cast(fld.type))
    return pa.Table.from_arrays(cols, schema=schema)


def _fits(have: pa.Schema | pa.StructType, want: pa.Schema | pa.StructType) -> bool:
    """Every field (nested struct fields too) of `have` is in `want`: conforming loses nothing."""
    names = {f.name: f for f in want}
    for f in have:
        other = names.get(f.name)
        if other is None:
            return False
        if pa.types.is_struct(f.type) and pa.types.is_struct(other.type) and not _fits(f.type, other.type):
            return False
    return True


def _write_merged(
    lake: Lake, rel: str, run: Sequence[DataFile], compression: str, conform: Conform | None
) -> tuple[int, int]:
    """Stream `run` into one Parquet file at `rel` (atomic); return (rows, bytes)."""
    schemas = []
    for f in run:
        with lake.filesystem.open_input_file(lake.path(lake.rel(f.path))) as src:
            schemas.append(pq.read_schema(src))
    schema = pa.unify_schemas(schemas, promote_options="permissive")
    if conform is not None:
        target = conform(schema.empty_table()).schema
        if not _fits(schema, target):  # a file newer than the table we were given: never drop its columns
            raise CatalogError("the table's schema changed during the pass", hint="merged by the next pass")
        schema = target
    rows = 0

    def write(out: Any) -> None:
        nonlocal rows
        pending: list[pa.Table] = []
        size = 0
        with pq.ParquetWriter(out, schema, compression=compression) as writer:
            for f in run:
                with lake.filesystem.open_input_file(lake.path(lake.rel(f.path))) as src:
                    data = pq.read_table(src)
                data = conform(data) if conform is not None else _align(data, schema)
                pending.append(data)
                size += data.nbytes
                rows += data.num_rows
                if size >= ROW_GROUP_BYTES:
                    writer.write_table(pa.concat_tables(pending), row_group_size=1 << 30)
                    pending, size = [], 0
            if pending:
                writer.write_table(pa.concat_tables(pending), row_group_size=1 << 30)

    size = lake.write_atomic(rel, write)
    return rows, size


def _output(folder: str, run: Sequence[DataFile], rel_path: str, size: int) -> DataFile:
    ranges = merged_ranges(run)
    mins = [f.min_event_time for f in run if f.min_event_time is not None]
    maxs = [f.max_event_time for f in run if f.max_event_time is not None]
    one = ranges[0] if len(ranges) == 1 else None
    topics = {r.topic for r in ranges}
    return DataFile(
        path=rel_path,
        partition=dict(run[0].partition),
        rows=sum(f.rows for f in run),
        bytes=size,
        format="parquet",
        topic=next(iter(topics)) if len(topics) == 1 else None,
        kafka_partition=one.partition if one else None,
        first_offset=one.first_offset if one else None,
        last_offset=one.last_offset if one else None,
        min_event_time=min(mins) if mins else None,
        max_event_time=max(maxs) if maxs else None,
        created_at=time.time(),
        ranges=tuple(ranges) if len(ranges) > 1 else (),
    )


@dataclass
class PartitionResult:
    files_before: int = 0
    files_after: int = 0
    bytes_after: int = 0
    retired: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def compact_partition(
    store: CatalogStore,
    lake: Lake,
    ref: TableRef,
    values: dict[str, str],
    *,
    owner: str,
    target_bytes: int = TARGET_BYTES,
    compression: str = "zstd",
    conform: Conform | None = None,
    lease_ttl_s: float = LEASE_TTL_S,
    select: Callable[[list[DataFile]], list[DataFile]] | None = None,
    pieces: bool = False,
) -> PartitionResult:
    """Compact one table partition under its lease (see the module doc). Retired inputs are left
    pending in the catalog: `settle_pending` deletes them once the readers' grace has passed.
    `select`: which of the partition's files may be merged (all by default; `open_hour_selection`).
    `pieces`: outputs are an open hour's pieces, named with their tier (`tier`)."""
    pick = select or (lambda fs: fs)
    files = store.list_partition_files(ref, values)
    result = PartitionResult(files_before=len(files), files_after=len(files))
    runs = plan_runs(pick(files), target_bytes)
    if not runs:
        return result
    if not store.acquire_lease(ref, values, owner, lease_ttl_s):
        result.skipped.append(f"{_show(values)}: another process compacts it")
        return result
    try:
        # Listed again under the lease: another compactor may have swapped files just before.
        files = store.list_partition_files(ref, values)
        result.files_before = result.files_after = len(files)
        for run in plan_runs(pick(files), target_bytes):
            if any(f.format != "parquet" for f in run):
                result.skipped.append(f"{_show(values)}: not all files are Parquet")
                continue
            folder = lake.rel(run[0].path).rsplit("/", 1)[0]
            if not contiguous(run, files):  # never claim offsets another file holds (see merged_ranges)
                result.skipped.append(f"{_show(values)}: files interleave in offsets; left as they are")
                continue
            rel = f"{folder}/{_output_name(run, pieces)}"
            uri = lake.uri(rel)
            store.add_pending(ref, [uri], "output", owner)
            try:
                rows, size = _write_merged(lake, rel, run, compression, conform)
                expected = sum(f.rows for f in run)
                if rows != expected:
                    raise CatalogError(
                        f"merged file has {rows} rows, its inputs list {expected}",
                        hint="catalog and files disagree on row counts; that partition is left as it was",
                    )
                if not store.acquire_lease(ref, values, owner, lease_ttl_s):  # renew before the swap
                    raise CatalogError(f"lost the lease on {ref} {_show(values)}", hint="another process took over")
                store.swap_files(ref, values, owner, [f.path for f in run], [_output(folder, run, uri, size)])
            except Exception as exc:  # an outage, a file swapped meanwhile, a type clash: retried next pass
                lake.delete(rel)  # the swap did not happen: the merged copy must go
                store.remove_pending([uri])
                result.skipped.append(f"{_show(values)}: {str(exc).splitlines()[0] if str(exc) else exc!r}")
                continue
            except BaseException:
                lake.delete(rel)
                store.remove_pending([uri])
                raise
            result.retired += [f.path for f in run]
            result.files_after -= len(run) - 1
            result.bytes_after += size
    finally:
        store.release_lease(ref, values, owner)
    return result


def settle_pending(store: CatalogStore, lake: Lake, grace_s: float, now: float | None = None) -> list[str]:
    """Delete what compactions and retention left on storage: retired files once past the readers'
    grace, and outputs whose writer no longer holds a lease (killed before its swap). Returns the paths."""
    now = time.time() if now is None else now
    for obj in lake.list(TMP_DIR):  # a local lake's temp files of writers killed mid-write
        if obj.mtime is not None and now - obj.mtime >= max(grace_s, TMP_AGE_S):
            lake.delete(obj.rel_path)
    pending = store.pending()
    if not pending:
        return []
    live = store.live_lease_owners()
    named = store.named_paths([p for p, *_ in pending])
    done = []
    for path, _ref, kind, owner, created in pending:
        if kind == "retired" and now - created < grace_s:
            continue
        if kind == "output" and (owner in live or now - created < grace_s):
            continue
        if path not in named:  # never delete a file readers are told to read
            lake.delete(lake.rel(path))
        done.append(path)
    store.remove_pending(done)
    if done:
        log.info("removed %d retired or orphaned files", len(done))
    return done


def compact(
    store: CatalogStore,
    lake: Lake,
    ref: TableRef,
    partition: dict[str, str] | None = None,
    target_bytes: int = TARGET_BYTES,
    compression: str = "zstd",
    grace_s: float = GRACE_S,
    *,
    conform: Conform | None = None,
    wait: bool = True,
) -> CompactionSummary:
    """Compact every partition of `ref` (or those matching `partition`); with `wait`, delete the
    retired inputs after the grace before returning (the manual command)."""
    table = store.get_table(ref)
    if table is None:
        raise TableNotFound(f"no table {ref}", hint="`eventlake tables` lists them")
    summary = CompactionSummary(str(ref))
    if table.format != "parquet":
        summary.skipped.append(f"{ref} is {table.format}: only Parquet tables are compacted")
        return summary
    files = store.list_files(ref, partition_filter=partition)
    summary.files_before = summary.files_after = len(files)
    summary.bytes_before = sum(f.bytes for f in files)
    summary.rows = sum(f.rows for f in files)
    owner = new_owner()
    values_seen: dict[str, dict[str, str]] = {}
    for f in files:
        values_seen.setdefault(_show(f.partition), f.partition)
    for values in values_seen.values():
        result = compact_partition(
            store, lake, ref, values, owner=owner, target_bytes=target_bytes, compression=compression, conform=conform
        )
        summary.files_after -= result.files_before - result.files_after
        summary.skipped += result.skipped
        if result.retired:
            summary.partitions_compacted += 1
    if wait:
        time.sleep(grace_s)
        settle_pending(store, lake, grace_s)
    summary.bytes_after = sum(f.bytes for f in store.list_files(ref, partition_filter=partition))
    return summary


def _show(values: dict[str, str]) -> str:
    return "/".join(f"{k}={v}" for k, v in values.items()) or "(unpartitioned)"


def compact_table(
    settings: Settings,
    name: str,
    partition: str | None = None,
    *,
    target_bytes: int = TARGET_BYTES,
    grace_s: float = GRACE_S,
    conform_for: Callable[[Table], Conform] | None = None,
) -> CompactionSummary:
    """Compact TABLE of the lake in `settings` (the CLI's entry point). `conform_for`: the sink's
    schema rule (the CLI passes it; the catalog does not import the sink)."""
    ref = TableRef.parse(name, settings.database)
    lake = open_lake(settings.lake, settings.s3)
    conform = conform_for
    with open_catalog(settings) as store:
        table = store.get_table(ref)
        return compact(
            store,
            lake,
            ref,
            parse_partition(partition),
            target_bytes,
            settings.sink.compression,
            grace_s,
            conform=conform(table) if conform and table else None,
        )
