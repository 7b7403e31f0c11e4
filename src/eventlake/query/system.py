"""System tables in the `eventlake` schema: what has landed, from where, and how far behind it is.

`eventlake.files`: one row per data file queries may read, with its Kafka lineage.
`eventlake.watermarks`: one row per (table, topic, Kafka partition): the highest landed offset
and event time, the table's watermark (the event time before which every event has landed:
the minimum over its partitions of the maximum landed event time), and the lag behind the
broker's end offset when a broker answers within `query.lag_timeout_s` (null otherwise).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from eventlake.catalog.model import Column, DataFile, FileRange, Table
from eventlake.query.results import TableSummary

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

# Columns as catalog (Hive) types: the empty views are typed SQL (`sources.empty_select_sql`), so a
# connection is built without Arrow; rows become Arrow (`_from_rows`) only for a query that reads them.
FILES_COLUMNS = [
    Column("table", "string"),
    Column("topic", "string"),
    Column("partition", "int"),
    Column("first_offset", "bigint"),
    Column("last_offset", "bigint"),
    Column("rows", "bigint"),
    Column("bytes", "bigint"),
    Column("created", "timestamp"),
    Column("path", "string"),
    Column("table_partition", "string"),
    Column("format", "string"),
    Column("min_event_time", "timestamp"),
    Column("max_event_time", "timestamp"),
]
WATERMARKS_COLUMNS = [
    Column("table", "string"),
    Column("topic", "string"),
    Column("partition", "int"),
    Column("landed_offset", "bigint"),
    Column("max_event_time", "timestamp"),
    Column("watermark", "timestamp"),
    Column("end_offset", "bigint"),
    Column("lag", "bigint"),
    Column("files", "bigint"),
    Column("rows", "bigint"),
]
TABLES_COLUMNS = [
    Column("database", "string"),
    Column("name", "string"),
    Column("format", "string"),
    Column("source", "string"),
    Column("files", "bigint"),
    Column("rows", "bigint"),
    Column("bytes", "bigint"),
    Column("schema_version", "bigint"),
    Column("location", "string"),
    Column("columns", "string"),
    Column("partition_keys", "string"),
]

# topic, partitions -> {partition: end offset}; raises when no broker answers.
EndOffsets = Callable[[str, list[int]], dict[int, int]]


def _ts(epoch: float | None) -> float | None:
    """Epoch seconds, or None: turned into timestamp columns by `_from_rows`."""
    if epoch is None or epoch <= 0:
        return None
    return epoch


def _from_rows(rows: list[dict[str, Any]], columns: list[Column]) -> pa.Table:
    """Column by column, timestamps from epoch numbers: pa.Table.from_pylist with datetime
    objects imports pandas, which alone cost more than the whole query."""
    import pyarrow as pa

    # The Hive types above as DuckDB types them (timestamps without a zone, to the microsecond).
    types = {"string": pa.string(), "int": pa.int32(), "bigint": pa.int64(), "timestamp": pa.timestamp("us")}
    arrays = []
    for c in columns:
        values = [r[c.name] for r in rows]
        if c.type == "timestamp":
            micros = pa.array([None if v is None else int(v * 1_000_000) for v in values], pa.int64())
            arrays.append(micros.cast(types["timestamp"]))
        else:
            arrays.append(pa.array(values, types[c.type]))
    return pa.Table.from_arrays(arrays, schema=pa.schema([(c.name, types[c.type]) for c in columns]))


def files_table(
    files_by_table: Sequence[tuple[Table, Sequence[DataFile]]], relative: Callable[[str], str] = str
) -> pa.Table:
    """One row per file; `relative` names each file as SQL users see it (relative to the lake)."""
    rows = []
    for table, files in files_by_table:
        for f, r, share in _ranges(files):
            rows.append(
                {
                    "table": str(table.ref),
                    "topic": r.topic if r else f.topic,
                    "partition": r.partition if r else f.kafka_partition,
                    "first_offset": r.first_offset if r else f.first_offset,
                    "last_offset": r.last_offset if r else f.last_offset,
                    "rows": r.rows if r else f.rows,
                    "bytes": share,
                    "created": _ts(f.created_at),
                    "path": relative(f.path),
                    "table_partition": "/".join(f"{k}={v}" for k, v in f.partition.items()),
                    "format": f.format,
                    "min_event_time": _ts(f.min_event_time),
                    "max_event_time": _ts(f.max_event_time),
                }
            )
    return _from_rows(rows, FILES_COLUMNS)


def _ranges(files: Sequence[DataFile]) -> list[tuple[DataFile, FileRange | None, int]]:
    """(file, range, bytes) per row of `eventlake.files`: a compacted file holding several Kafka
    partitions is one row per range, its bytes split by rows so that sums stay exact."""
    out: list[tuple[DataFile, FileRange | None, int]] = []
    for f in files:
        if not f.ranges:
            out.append((f, None, f.bytes))
            continue
        left = f.bytes
        for i, r in enumerate(f.ranges):
            share = left if i == len(f.ranges) - 1 else f.bytes * r.rows // max(f.rows, 1)
            left -= share
            out.append((f, r, share))
    return out


def watermarks_table(
    files_by_table: Sequence[tuple[Table, Sequence[DataFile]]], end_offsets: EndOffsets | None = None
) -> pa.Table:
    rows = []
    ends: dict[str, dict[int, int] | None] = {}
    for table, files in files_by_table:
        per_part: dict[tuple[str, int], list[FileRange]] = defaultdict(list)
        for f in files:
            for r in f.lineage():  # a compacted file holding several Kafka partitions counts in each
                per_part[(r.topic, r.partition)].append(r)
        if not per_part:
            continue
        maxima = {key: max((f.max_event_time or 0.0) for f in fs) for key, fs in per_part.items()}
        watermark = _ts(min(maxima.values()))
        for (topic, partition), fs in sorted(per_part.items()):
            landed = max((f.last_offset for f in fs if f.last_offset is not None), default=None)
            if topic not in ends:
                ends[topic] = _end_offsets(end_offsets, topic, sorted(p for t, p in per_part if t == topic))
            end = (ends[topic] or {}).get(partition)
            lag = max(end - (landed + 1), 0) if end is not None and landed is not None else None
            rows.append(
                {
                    "table": str(table.ref),
                    "topic": topic,
                    "partition": partition,
                    "landed_offset": landed,
                    "max_event_time": _ts(maxima[(topic, partition)]),
                    "watermark": watermark,
                    "end_offset": end,
                    "lag": lag,
                    "files": len(fs),
                    "rows": sum(f.rows for f in fs),
                }
            )
    return _from_rows(rows, WATERMARKS_COLUMNS)


def tables_table(summaries: list[TableSummary]) -> pa.Table:
    """One row per catalog table, as SQL users see it (`engine.tables()`)."""
    rows = [
        {
            "database": s.database,
            "name": s.name,
            "format": s.format,
            "source": s.source,
            "files": s.files,
            "rows": s.rows,
            "bytes": s.bytes,
            "schema_version": s.schema_version,
            "location": s.location,
            "columns": ", ".join(f"{n} {t}" for n, t in s.columns),
            "partition_keys": ", ".join(f"{n} {t}" for n, t in s.partition_keys),
        }
        for s in summaries
    ]
    return _from_rows(rows, TABLES_COLUMNS)


def _end_offsets(lookup: EndOffsets | None, topic: str, partitions: list[int]) -> dict[int, int] | None:
    if lookup is None:
        return None
    try:
        return lookup(topic, partitions)
    except Exception as exc:  # no broker, no topic: lag is unknown, never an error
        log.debug("no end offsets for %s: %s", topic, exc)
        return None


def kafka_end_offsets(bootstrap_servers: str, kafka: object, timeout_s: float) -> EndOffsets:
    """End offsets from the broker through the broker package's admin (confluent-kafka lives there)."""
    from eventlake.broker import TopicAdmin
    from eventlake.config.broker import KafkaClientSettings

    settings = kafka if isinstance(kafka, KafkaClientSettings) else None
    admin = TopicAdmin(bootstrap_servers, settings, timeout_s=timeout_s)
    unreachable = False

    def lookup(topic: str, partitions: list[int]) -> dict[int, int]:
        nonlocal unreachable
        if unreachable:  # one failed look-up is enough: never wait once per topic
            raise RuntimeError("broker unreachable")
        try:
            return {p: high for p, (_low, high) in admin.offsets(topic, partitions).items()}
        except Exception:
            unreachable = True
            raise

    return lookup
