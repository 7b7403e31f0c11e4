"""`eventlake compact TABLE`: merge a partition's small files into large ones, atomically.

Files are merged per (table partition, Kafka partition), in offset order, so each merged
file's lineage stays exact: one topic partition, first offset = the smallest, last offset =
the largest of its inputs (`eventlake.files` stays right; the ledger is untouched, since the
offsets it records are still exactly what the lake holds). Each merged file is written
whole first (atomic write), then one catalog transaction swaps the inputs for it
(`store.replace_files`); the inputs are deleted once every partition is done, after a short
grace. A reader sees the old files or the merged one, never both and never neither; a query
engine still holding an older list after the grace re-reads the catalog and retries.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from eventlake.catalog.exceptions import CatalogError, TableNotFound
from eventlake.catalog.model import DataFile
from eventlake.catalog.store import CatalogStore, open_catalog
from eventlake.config import Settings
from eventlake.lake import Lake, open_lake
from eventlake.types import TableRef

log = logging.getLogger(__name__)

TARGET_BYTES = 128 * 1024 * 1024
GRACE_S = 2.0  # inputs outlive their swap this long, so queries planned just before it still find them


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


def _groups(files: Sequence[DataFile]) -> dict[tuple[Any, ...], list[DataFile]]:
    groups: dict[tuple[Any, ...], list[DataFile]] = defaultdict(list)
    for f in files:
        groups[(tuple(f.partition.items()), f.topic, f.kafka_partition)].append(f)
    for group in groups.values():
        group.sort(key=lambda f: (f.first_offset if f.first_offset is not None else -1, f.path))
    return groups


def _batches(files: list[DataFile], target_bytes: int) -> list[list[DataFile]]:
    """Consecutive runs of files, each up to ~target_bytes; runs of one file are left alone."""
    out: list[list[DataFile]] = []
    run: list[DataFile] = []
    size = 0
    for f in files:
        if run and size + f.bytes > target_bytes:
            out.append(run)
            run, size = [], 0
        run.append(f)
        size += f.bytes
    if run:
        out.append(run)
    return [r for r in out if len(r) > 1]


def _merged_name(first: DataFile, run: Sequence[DataFile]) -> str:
    folder = first.path.rsplit("/", 1)[0]
    if first.topic is not None and first.kafka_partition is not None:
        lo = min(f.first_offset for f in run if f.first_offset is not None)
        hi = max(f.last_offset for f in run if f.last_offset is not None)
        stem = f"{first.topic}-{first.kafka_partition}-{lo:012d}-{hi:012d}"
    else:
        stem = "part"
    return f"{folder}/{stem}.compacted-{uuid.uuid4().hex[:8]}.parquet"


def _merge(lake: Lake, run: Sequence[DataFile], compression: str) -> tuple[DataFile, pa.Table]:
    tables = []
    for f in run:
        with lake.filesystem.open_input_file(lake.path(lake.rel(f.path))) as src:
            tables.append(pq.read_table(src))
    merged = pa.concat_tables(tables, promote_options="permissive")
    first = run[0]
    target = _merged_name(first, run)
    size = lake.write_atomic(lake.rel(target), lambda out: pq.write_table(merged, out, compression=compression))
    offsets_known = all(f.first_offset is not None and f.last_offset is not None for f in run)
    mins = [f.min_event_time for f in run if f.min_event_time is not None]
    maxs = [f.max_event_time for f in run if f.max_event_time is not None]
    return DataFile(
        path=target,
        partition=dict(first.partition),
        rows=merged.num_rows,
        bytes=size,
        format="parquet",
        topic=first.topic,
        kafka_partition=first.kafka_partition,
        first_offset=min(f.first_offset for f in run if f.first_offset is not None) if offsets_known else None,
        last_offset=max(f.last_offset for f in run if f.last_offset is not None) if offsets_known else None,
        min_event_time=min(mins) if mins else None,
        max_event_time=max(maxs) if maxs else None,
        created_at=time.time(),
    ), merged


def _swap(store: CatalogStore, lake: Lake, ref: TableRef, run: Sequence[DataFile], compression: str) -> None:
    """Write the merged file, then swap it for `run` in one catalog transaction (or remove it again)."""
    new_file, merged = _merge(lake, run, compression)
    expected = sum(f.rows for f in run)
    try:
        if merged.num_rows != expected:
            raise CatalogError(
                f"merged file has {merged.num_rows} rows, its inputs list {expected}",
                hint="catalog and files disagree on row counts; that partition is left as it was",
            )
        store.replace_files(ref, [f.path for f in run], [new_file])
    except Exception:
        lake.delete(lake.rel(new_file.path))  # the swap did not happen: the merged copy must go
        raise


def compact(
    store: CatalogStore,
    lake: Lake,
    ref: TableRef,
    partition: dict[str, str] | None = None,
    target_bytes: int = TARGET_BYTES,
    compression: str = "zstd",
    grace_s: float = GRACE_S,
) -> CompactionSummary:
    table = store.get_table(ref)
    if table is None:
        raise TableNotFound(f"no table {ref}", hint="`eventlake tables` lists them")
    summary = CompactionSummary(str(ref))
    if table.format != "parquet":
        summary.skipped.append(f"{ref} is {table.format}: only Parquet tables are compacted")
        return summary
    files = store.list_files(ref, partition_filter=partition)
    summary.files_before = len(files)
    summary.bytes_before = sum(f.bytes for f in files)
    summary.rows = sum(f.rows for f in files)
    kept = len(files)
    touched: set[tuple[tuple[str, str], ...]] = set()
    retired: list[str] = []
    try:
        for (part, _topic, _kp), group in _groups(files).items():
            for run in _batches(group, target_bytes):
                if any(f.format != "parquet" for f in run):
                    summary.skipped.append(f"{part}: not all files are Parquet")
                    continue
                _swap(store, lake, ref, run, compression)
                retired += [f.path for f in run]
                kept -= len(run) - 1
                touched.add(part)
    finally:
        # Swapped inputs go even when a later run fails. Readers that listed the catalog just before a
        # swap may still open them: give them a moment first.
        if retired:
            time.sleep(grace_s)
            for path in retired:
                lake.delete(lake.rel(path))
    after = store.list_files(ref, partition_filter=partition)
    summary.files_after = kept
    summary.bytes_after = sum(f.bytes for f in after)
    summary.partitions_compacted = len(touched)
    return summary


def compact_table(
    settings: Settings,
    name: str,
    partition: str | None = None,
    *,
    target_bytes: int = TARGET_BYTES,
    grace_s: float = GRACE_S,
) -> CompactionSummary:
    """Compact TABLE of the lake in `settings` (the CLI's entry point)."""
    ref = TableRef.parse(name, settings.database)
    lake = open_lake(settings.lake, settings.s3)
    with open_catalog(settings) as store:
        return compact(store, lake, ref, parse_partition(partition), target_bytes, settings.sink.compression, grace_s)
