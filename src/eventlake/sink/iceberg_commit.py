"""The commit protocol of Iceberg tables: exactly once through Iceberg's own atomic commit.

One flush of one Kafka partition: decode, write the data files (Parquet, zstd), then append
them in ONE Iceberg snapshot whose summary records the next offset of every topic-partition
the table has landed (`eventlake.offsets.<topic>.<partition>`, carried forward from the
previous snapshot, so the current snapshot alone says where every partition stands). The
append is allowed only if the current snapshot's next offset for this partition is where the
batch starts; otherwise (a zombie that lost its partition, a replay) it is refused and its
data files deleted. The catalog's compare-and-swap of the metadata location makes the check
and the append one step: a concurrent commit (another partition's sink) fails ours with
CommitFailedException, and we refresh, check again and retry with the same files.
A crash before the swap leaves data files no snapshot names: invisible to every reader.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from eventlake.broker.dead_letters import DeadLetter
from eventlake.catalog import DataFile
from eventlake.catalog.iceberg_catalog import ensure_namespace, open_iceberg_catalog
from eventlake.catalog.iceberg_location import is_current
from eventlake.config import Settings
from eventlake.config.sink import SinkSettings
from eventlake.lake import Lake, open_lake
from eventlake.sink.decode import decode_batch
from eventlake.sink.exceptions import SinkError
from eventlake.sink.iceberg_table import (
    EVENT_TIME,
    NO_RETRY,
    TIME_TYPE,
    IcebergSinkTable,
    allowed,
    field_name,
    own_name,
    plain,
    renamed,
)
from eventlake.sink.ledger import Batch, DeadLetterSink, FlushResult, _with_lineage
from eventlake.sink.table import LINEAGE_NAMES, SinkTable
from eventlake.types import table_name_for_topic

if TYPE_CHECKING:
    from pyiceberg.table import Table as IcebergTable
    from pyiceberg.table import Transaction
    from pyiceberg.table.metadata import TableMetadata

log = logging.getLogger(__name__)

OFFSET_KEY = "eventlake.offsets."
GROUP_KEY = "eventlake.group"
RANGE_KEY = "eventlake.range"
_RETRIES = 50


def iceberg_tables(
    lake: Lake, tables: dict[str, SinkTable], settings: SinkSettings, full: Settings
) -> dict[str, IcebergSinkTable]:
    """Each topic's Iceberg table in the catalog `iceberg.catalog` names (made by its first flush)."""
    catalog = open_iceberg_catalog(lake, full)
    for database in sorted({t.ref.database for t in tables.values()}):
        ensure_namespace(catalog, database)  # before the sinks of a group race to make it
    time_column = EVENT_TIME if settings.time_field is not None else "_timestamp"
    return {
        topic: IcebergSinkTable(catalog, lake, t.ref.database, t.ref.name, t.folder, time_column, t.partition_by)
        for topic, t in tables.items()
    }


def recorded_offsets(table: IcebergTable | None) -> dict[tuple[str, int], int]:
    """{(topic, partition): next offset} as the table's current snapshot records it."""
    snap = table.current_snapshot() if table is not None else None
    if snap is None or snap.summary is None:
        return {}
    return offsets_from_summary(snap.summary.additional_properties, ".".join(table.name()) if table is not None else "")


# A partition number and an offset as Kafka has them: ASCII digits that fit an int32 / int64 (str.isdigit
# also takes '²' and other Unicode digits, which int() refuses).
_PARTITION = re.compile(r"[0-9]{1,10}")
_OFFSET = re.compile(r"[0-9]{1,19}")


def offsets_from_summary(props: dict[str, str], table: str) -> dict[tuple[str, int], int]:
    """The offset map of one snapshot summary. The metadata is read from storage, so it is checked: an
    entry of ours that is not a partition and an offset stops the sink in one line. Skipping it would
    make its partition look unrecorded, and an unrecorded partition accepts any start, so rows could
    land twice."""
    out: dict[tuple[str, int], int] = {}
    for key, value in props.items():
        if not key.startswith(OFFSET_KEY):
            continue
        topic, _, part = key[len(OFFSET_KEY) :].rpartition(".")
        if not topic or not _PARTITION.fullmatch(part) or not _OFFSET.fullmatch(value) or int(value) >= 2**63:
            raise SinkError(
                f"Iceberg table {table}: its current snapshot's offset entry {key[:120]!r} = {value[:40]!r} "
                "is not a partition and an offset",
                hint="the table's metadata was changed by something other than eventlake; restore the "
                "previous snapshot (rollback) before sinking into it",
            )
        out[(topic, int(part))] = int(value)
    return out


def landed_offsets(settings: Settings, topics: list[str]) -> dict[tuple[str, int], int]:
    """{(topic, partition): next offset} over the topics' Iceberg tables (`sink --workers`' idle check)."""
    from pyiceberg.exceptions import NoSuchTableError

    catalog = open_iceberg_catalog(open_lake(settings.lake, settings.s3), settings)
    out: dict[tuple[str, int], int] = {}
    for topic in topics:
        try:
            out.update(recorded_offsets(catalog.load_table((settings.database, table_name_for_topic(topic)))))
        except NoSuchTableError:
            continue
    return out


def next_offset(ice: IcebergSinkTable, topic: str, partition: int) -> int | None:
    return recorded_offsets(_now(ice)).get((topic, partition))


def _now(ice: IcebergSinkTable) -> IcebergTable | None:
    """The table as the catalog has it now. The table this process last read or committed, when the
    catalog still names its metadata file (one catalog row instead of parsing metadata that lists
    every snapshot, most of a flush's read at a sink's commit cadence); else read again."""
    held = ice.current()
    return held if is_current(ice.catalog, ice.identifier, held) else ice.refresh()


def _follows(recorded: int | None, batch: Batch) -> bool:
    # Nothing recorded for the partition: any start (0, or the log start after a retention gap) follows.
    return recorded is None or recorded == batch.first


def record_iceberg_gap(ice: IcebergSinkTable, topic: str, partition: int, first: int, last: int, group: str) -> None:
    """Offsets Kafka deleted before they landed: an append of no files moves the partition's recorded
    offset past them (the Iceberg form of the ledger's gap entry). Another sink recording it first is fine."""
    if ice.refresh() is None:
        return  # nothing landed at all: the first flush starts where the log starts
    batch = Batch(topic, partition, first, [], np.asarray([last], dtype=np.int64), np.zeros(1, dtype=np.int64), [])
    batch.ledger_topic = topic
    _commit(ice, batch, [], group)


def flush_iceberg(
    batch: Batch,
    table: SinkTable,
    ice: IcebergSinkTable,
    settings: SinkSettings,
    dead_letters: DeadLetterSink,
    group: str,
) -> FlushResult:
    """Land one partition's batch as one Iceberg snapshot. Returns what was committed."""
    current = next_offset(ice, batch.key, batch.partition)
    if not _follows(current, batch):
        log.warning(
            "flush of %s[%s] from %s skipped: the table is at %s", batch.topic, batch.partition, batch.first, current
        )
        return FlushResult(next_offset=current, conflict=True)
    # The decoder works with the fields' names; a field named `_event_time` becomes `_x5f_event_time`
    # (own_name) so it never meets the sink's time column.
    decoded = decode_batch(batch.values, batch.timestamps, renamed(table.schema, field_name), settings)
    decoded.schema = renamed(decoded.schema, own_name)
    decoded.table = decoded.table.rename_columns([own_name(n) for n in decoded.table.column_names])
    table.schema = decoded.schema  # what decoding of the next batches starts from (eventlake's entry follows Iceberg's)
    accepted = np.asarray(decoded.accepted, dtype=np.int64) if decoded.accepted is not None else None
    offsets = batch.offsets if accepted is None else batch.offsets[accepted]
    stamps = batch.timestamps if accepted is None else batch.timestamps[accepted]
    keys = batch.keys if accepted is None else [batch.keys[i] for i in decoded.accepted or []]
    positions = decoded.accepted if decoded.accepted is not None else list(range(len(batch.values)))
    rejected = [(r.index, r.reason) for r in decoded.rejected]

    full = _with_lineage(decoded.table, table, batch, offsets, stamps, keys)
    full = full.set_column(full.schema.get_field_index("_timestamp"), "_timestamp", full["_timestamp"].cast(TIME_TYPE))
    if settings.time_field is not None:
        assert decoded.times_ms is not None
        times = pa.array(np.asarray(decoded.times_ms, dtype=np.int64) * 1000, pa.int64()).view(TIME_TYPE)
        full = full.append_column(pa.field(EVENT_TIME, TIME_TYPE), times)
    # A field seen only as null has no type yet: no Iceberg column until a value types it (a string
    # column now would refuse the field's first number later).
    untyped = [f.name for f in decoded.schema if pa.types.is_null(f.type) and f.name in full.schema.names]
    full = full.drop_columns(untyped)
    full, refused = _fit(full, ice)
    if refused:
        keep = np.asarray([i for i in range(full.num_rows) if i not in refused], dtype=np.int64)
        rejected += [(positions[i], reason) for i, reason in sorted(refused.items())]
        full = full.take(pa.array(keep))
    letters = [
        DeadLetter(
            "sink",
            batch.topic,
            reason,
            batch.values[i],
            batch.keys[i],
            partition=batch.partition,
            offset=int(batch.offsets[i]),
        )
        for i, reason in rejected
    ]
    if letters:
        dead_letters(letters)  # durable before the commit (DLQ is at-least-once)

    iceberg = ice.ensure(full.schema)
    target = iceberg.schema().as_arrow()
    full = _cast_to(full, target)
    written = _write(iceberg, full)
    # Any other failure leaves the files: the commit may have landed (the retry then finds the
    # table past this batch); if it did not, they are files no snapshot names, never read.
    committed = _commit(ice, batch, written, group)
    if committed is None:  # refused
        _delete(ice, written)
        now = next_offset(ice, batch.key, batch.partition)
        log.warning(
            "flush of %s[%s] %s..%s refused: the table is at %s",
            batch.topic,
            batch.partition,
            batch.first,
            batch.last,
            now,
        )
        return FlushResult(next_offset=now, conflict=True)
    table.adopt(_json_fields(committed.schema().as_arrow()))
    files = [
        DataFile(
            path=f.file_path,
            partition={},
            rows=f.record_count,
            bytes=f.file_size_in_bytes,
            topic=batch.key,
            kafka_partition=batch.partition,
            created_at=time.time(),
        )
        for f in written
    ]
    max_t = None
    if decoded.times_ms is not None and len(decoded.times_ms):
        max_t = float(np.max(decoded.times_ms)) / 1000.0
    return FlushResult(
        rows=full.num_rows,
        dlq=len(letters),
        files=files,
        bytes=sum(f.bytes for f in files),
        next_offset=batch.last + 1,
        max_event_time=max_t,
    )


def _fit(full: pa.Table, ice: IcebergSinkTable) -> tuple[pa.Table, dict[int, str]]:
    """`full` with columns the Iceberg table cannot take nulled, and {row: reason} for rows that held a value there."""
    refusals: dict[int, str] = {}
    table = ice.current()  # read at the start of this flush; a later schema change fails our commit's swap
    if table is None:
        return full, refusals
    current = table.schema().as_arrow()
    bad = np.zeros(full.num_rows, dtype=bool)
    for i, f in enumerate(full.schema):
        idx = current.get_field_index(f.name)
        if f.name in LINEAGE_NAMES or f.name == EVENT_TIME or idx < 0 or allowed(current.field(idx).type, f.type):
            continue
        old = current.field(idx).type
        column = full.column(i)
        present = pc.is_valid(column).to_numpy(zero_copy_only=False)
        if pa.types.is_integer(old) and pa.types.is_floating(f.type):
            # The decoder widened the column to double for the batch: whole numbers still fit the long column.
            values = column.to_numpy(zero_copy_only=False)
            whole = np.isfinite(values) & (np.floor(values) == values) & (np.abs(values) < 2.0**63)
            whole = np.where(present, whole, True)
            kept = pc.if_else(pa.array(whole), column, pa.nulls(len(column), f.type))
            present = ~whole
            fitted = kept.cast(old)
        else:
            fitted = pa.nulls(full.num_rows, old)
        for r in np.flatnonzero(present & ~bad).tolist():
            refusals[r] = (
                f"field {f.name}: the Iceberg column is {old}, this value is {f.type} "
                "(Iceberg promotes only int to long and float to double)"
            )
        bad |= present
        full = full.set_column(i, pa.field(f.name, old), fitted)
    return full, refusals


def _cast_to(full: pa.Table, target: pa.Schema) -> pa.Table:
    arrays = []
    for f in target:
        idx = full.schema.get_field_index(f.name)
        arrays.append(full.column(idx).cast(f.type) if idx >= 0 else pa.nulls(full.num_rows, f.type))
    return pa.Table.from_arrays(arrays, schema=target)


def _write(table: IcebergTable, df: pa.Table) -> list:  # type: ignore[type-arg]
    from pyiceberg.io.pyarrow import _dataframe_to_data_files

    if df.num_rows == 0:
        return []
    return list(_dataframe_to_data_files(table_metadata=table.metadata, df=df, io=table.io, write_uuid=uuid.uuid4()))


def _commit(ice: IcebergSinkTable, batch: Batch, files: list, group: str) -> IcebergTable | None:  # type: ignore[type-arg]
    """Append `files` in one snapshot if the table still stands where the batch starts; None: refused."""
    from pyiceberg.exceptions import CommitFailedException

    for attempt in range(_RETRIES):
        # The first attempt checks the table as this flush read it (no second catalog read): the swap
        # below commits only from exactly that metadata, so check and append stay one atomic step.
        # After a failed swap (or our property change) read the catalog again.
        table = ice.current() if attempt == 0 else ice.refresh()
        assert table is not None
        if table.properties.get(NO_RETRY) != "0":  # a table made or altered elsewhere
            with table.transaction() as txn:
                txn.set_properties({NO_RETRY: "0"})
            continue
        recorded = recorded_offsets(table)
        if not _follows(recorded.get((batch.key, batch.partition)), batch):
            return None
        recorded[(batch.key, batch.partition)] = batch.last + 1
        props = {f"{OFFSET_KEY}{t}.{p}": str(n) for (t, p), n in sorted(recorded.items())}
        props[GROUP_KEY] = group
        props[RANGE_KEY] = f"{batch.key}.{batch.partition}:{batch.first}-{batch.last}"
        txn = _transaction(table)
        with txn.update_snapshot(snapshot_properties=props).fast_append() as append:
            for f in files:
                append.append_data_file(f)
        try:
            return ice.use(txn.commit_transaction())
        except CommitFailedException:
            time.sleep(min(0.5, 0.01 * (attempt + 1)))  # another partition's sink committed first: look again
    raise SinkError(f"could not commit to Iceberg table {'.'.join(ice.identifier)}: {_RETRIES} conflicts in a row")


def _transaction(table: IcebergTable) -> Transaction:
    """A pyiceberg transaction that builds its staged metadata once per change, not on every look.

    pyiceberg's `Transaction.table_metadata` re-applies the staged updates to the table's metadata
    and deep-copies the result on each access, and one fast append looks about 20 times: the cost
    grew with every snapshot the table holds (measured: ~1 ms of CPU per snapshot per commit, so at
    6 commits/s the sink fell behind within a minute). The metadata models are frozen pydantic
    models and nothing in the append mutates them, so the copy is shared until the staged updates
    (or the base table) change. The commit itself, its requirements and the catalog's swap are
    pyiceberg's own, unchanged.
    """
    from pyiceberg.table import Transaction

    class _StagedOnce(Transaction):
        _staged: tuple[object, object, object] | None = None

        @property
        def table_metadata(self) -> TableMetadata:
            base, updates = self._table.metadata, self._updates
            if self._staged is None or self._staged[0] is not base or self._staged[1] is not updates:
                self._staged = (base, updates, _staged_metadata(base, updates))
            return self._staged[2]  # type: ignore[return-value]

    return _StagedOnce(table)


def _staged_metadata(base: TableMetadata, updates: tuple[object, ...]) -> TableMetadata:
    """pyiceberg's `update_table_metadata` without its final deep copy of the whole metadata.

    That copy was still two of the three deep copies per commit (the third is the catalog's own,
    in commit_table), each as long as the snapshot list. Each update is applied copy-on-write
    (`model_copy(update=...)` of frozen models), so the result shares the base's unchanged parts
    safely; it is only read, to build the snapshot. The catalog's commit applies the updates again,
    with pyiceberg's checks, to the metadata it loads: what is committed is unchanged.
    """
    import datetime as dt

    from pyiceberg.table.update import _apply_table_update, _TableMetadataUpdateContext
    from pyiceberg.utils.datetime import datetime_to_millis

    context = _TableMetadataUpdateContext()
    staged = base
    for update in updates:
        staged = _apply_table_update(update, staged, context)  # type: ignore[arg-type]
    if context.has_changes() and base.last_updated_ms == staged.last_updated_ms:
        staged = staged.model_copy(update={"last_updated_ms": datetime_to_millis(dt.datetime.now().astimezone())})
    return staged


def _delete(ice: IcebergSinkTable, files: list) -> None:  # type: ignore[type-arg]
    table = ice.table
    for f in files:
        try:
            table.io.delete(f.file_path)
        except OSError:
            log.warning("could not delete refused data file %s", f.file_path)


def _json_fields(schema: pa.Schema) -> pa.Schema:
    """The Iceberg schema as the sink's JSON schema: no lineage columns, Arrow's plain (not large) types."""
    return pa.schema(
        [pa.field(f.name, plain(f.type)) for f in schema if f.name not in LINEAGE_NAMES and f.name != EVENT_TIME]
    )
