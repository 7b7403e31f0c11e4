"""The catalog's vocabulary, shaped like the AWS Glue Data Catalog.

Databases hold tables; a table has columns and partition keys (Hive/Athena type
strings), a location and a format; partitions are key=value folders; and, beyond
Glue, the catalog lists every data file a query may read and keeps the ledger of
Kafka offset ranges those files hold (exactly-once).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eventlake.types import TableRef


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # bigint, double, boolean, string, timestamp, date, struct<...>, array<...>


@dataclass(frozen=True)
class Table:
    database: str
    name: str
    location: str
    format: str  # parquet | jsonl | csv
    columns: list[Column]
    partition_keys: list[Column] = field(default_factory=list)
    schema_version: int = 1
    source: str = "sink"  # sink | crawler
    parameters: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def ref(self) -> TableRef:
        return TableRef(self.database, self.name)

    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class Partition:
    values: dict[str, str]  # ordered as the table's partition keys
    location: str
    created_at: float = 0.0


@dataclass(frozen=True)
class FileRange:
    """One Kafka offset range a file holds (the records of first..last that fall in its folder).

    A sink file holds one range (the file's own topic/partition/offset columns); a compacted
    file merged from several Kafka partitions holds one per (topic, partition), kept in the
    catalog's `file_ranges` so lineage survives compaction.
    """

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    rows: int
    min_event_time: float | None = None
    max_event_time: float | None = None


@dataclass(frozen=True)
class DataFile:
    path: str  # absolute path or full URI of the object
    partition: dict[str, str]
    rows: int
    bytes: int
    format: str = "parquet"
    topic: str | None = None
    kafka_partition: int | None = None
    first_offset: int | None = None
    last_offset: int | None = None
    min_event_time: float | None = None  # epoch seconds
    max_event_time: float | None = None
    created_at: float = 0.0
    table: TableRef | None = None  # filled in when read back from the store
    # A compacted file's ranges when it holds more than one (then kafka_partition and the offsets are None).
    ranges: tuple[FileRange, ...] = ()

    def lineage(self) -> tuple[FileRange, ...]:
        """Every offset range this file holds: its `ranges`, or its own single range if it has one."""
        if self.ranges:
            return self.ranges
        if self.topic is None or self.kafka_partition is None or self.first_offset is None or self.last_offset is None:
            return ()
        return (
            FileRange(
                self.topic,
                self.kafka_partition,
                self.first_offset,
                self.last_offset,
                self.rows,
                self.min_event_time,
                self.max_event_time,
            ),
        )


@dataclass(frozen=True)
class LedgerEntry:
    """One flush of one Kafka partition: offsets first..last, landed in `files`."""

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    table: TableRef
    files: list[DataFile]
    rows: int
    dlq: int = 0
    committed_at: float = 0.0
    bytes: int = 0
    max_event_time: float | None = None
    # How many files the flush wrote (read back from the ledger, where `files` is left empty:
    # compaction and schema rewrites replace files, so `eventlake.files` lists what is there now).
    file_count: int = 0


@dataclass(frozen=True)
class OffsetEvent:
    """A break in a Kafka partition's offsets that the sink found and what it did about it.

    `kind`: `gap` (the log start moved past the ledger: retention deleted offsets
    first..last before they landed) or `reset` (the topic was deleted and recreated: its
    offsets restart below the ledger, or its topic id changed). `action`: `stopped`
    (sink.on_reset = fail) or `resumed` (the gap recorded, or a new incarnation begun).
    """

    topic: str
    partition: int
    kind: str
    first_offset: int | None
    last_offset: int | None
    incarnation: int
    action: str
    detail: str
    detected_at: float = 0.0
