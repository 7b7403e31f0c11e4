"""Settings of the lake sink stage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from eventlake.config.fields import Bytes, Count, Host, KafkaName, Port, Seconds, SecondsOrZero

SinkFormat = Literal["parquet", "jsonl"]
ParquetCompression = Literal["zstd", "snappy", "gzip", "lz4", "brotli", "none"]
MemoryPool = Literal["system", "jemalloc", "mimalloc"]
OnReset = Literal["fail", "resume-from-start"]
TableFormat = Literal["parquet", "iceberg"]


class SinkSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    group: KafkaName = Field("eventlake-sink", description="Kafka consumer group the sink processes share (--group).")
    format: SinkFormat = Field("parquet", description="File format the sink writes (--format).")
    table_format: TableFormat = Field(
        "parquet",
        description="Table format: parquet (folders + eventlake's ledger) or iceberg (Apache Iceberg v2 tables "
        "through pyiceberg, exactly once by Iceberg's own commit; --table-format).",
    )
    # A partition's buffer is flushed at whichever limit comes first. One second keeps
    # event-to-queryable latency near 1 s at live rates; during catch-up the byte limits
    # (counted with ~80 bytes of overhead per message) bound memory: decoding a flush takes
    # a few times its size. 16 MiB of ~200-byte events is ~70k rows, a 2-4 MB Parquet file.
    flush_rows: Count = Field(500_000, description="A partition's buffer is flushed at this many rows (--flush-rows).")
    flush_bytes: Bytes = Field(
        16 * 1024 * 1024, description="A partition's buffer is flushed at this size (bytes, --flush-bytes)."
    )
    flush_seconds: Seconds = Field(
        0.5, description="A partition's buffer is flushed this long after its oldest message (seconds)."
    )
    # All partitions' buffers together: past this the biggest buffer is flushed early. With the
    # defaults a 1M-event catch-up peaks near 350 MB RSS (the target is 500 MB).
    max_buffer_bytes: Bytes = Field(
        48 * 1024 * 1024, description="All partitions' buffers together; past this the biggest is flushed (bytes)."
    )
    max_record_bytes: Bytes = Field(
        1024 * 1024, description="Largest message value; a larger one goes to the DLQ (bytes)."
    )
    # What one record may add to a table or hold; a record past a limit goes to the DLQ alone.
    max_columns: int = Field(
        default=1000,
        ge=1,
        description="Most columns a table may have, nested struct fields included (lineage columns not "
        "counted); a record that would add more goes to the DLQ.",
    )
    max_name_length: int = Field(
        default=255,
        ge=1,
        le=100_000,
        description="Longest field name, once escaped (see the naming rule); longer ones go to the DLQ. "
        "255 is Glue's limit.",
    )
    max_depth: int = Field(
        default=32,
        ge=1,
        le=512,
        description="Deepest nesting of objects and arrays in a record (the record itself is level 1); "
        "deeper records go to the DLQ.",
    )
    event_time_min: datetime = Field(
        default=datetime(1970, 1, 1, tzinfo=UTC),
        description="Earliest event time a record may have (from --time-field, else its Kafka timestamp); "
        "earlier ones go to the DLQ. A time without a zone is UTC.",
    )
    event_time_max_ahead_s: float = Field(
        default=86_400.0,
        ge=0,
        description="How far past the sink's clock an event time may be (seconds); later ones go to the DLQ.",
    )
    compression: ParquetCompression = Field("zstd", description="Compression of the Parquet files written.")
    time_field: str | None = Field(
        None,
        description="Field holding event time (ISO-8601 or epoch seconds/milliseconds); unset: the Kafka timestamp.",
    )
    partition_by: list[str] = Field(
        default_factory=list, description="Extra Hive partition columns after dt and hour (--partition-by)."
    )
    # A flush whose rows span more dt/hour/partition-by folders than this is recorded as
    # several consecutive ledger entries, each writing at most this many files.
    max_files_per_flush: Count = Field(
        64, description="Most files one ledger entry writes; a flush spanning more folders takes several entries."
    )
    until_idle: SecondsOrZero | None = Field(
        None, description="Exit 0 once caught up and idle this long (seconds, batch use); unset: run until stopped."
    )
    metrics_port: Port | None = Field(None, description="Serve Prometheus metrics on this port; unset: no metrics.")
    metrics_host: Host = Field("127.0.0.1", description="Address the metrics endpoint binds.")
    # Files no ledger entry names (a crash between write and record) are swept at start, every
    # sweep_interval_seconds and at a clean stop, once the ledger covers their offsets and
    # they are older than this.
    orphan_grace_seconds: SecondsOrZero = Field(
        600.0, description="A file no ledger entry names is swept once older than this (seconds)."
    )
    sweep_orphans: bool = Field(
        True, description="Sweep orphan files at start, every sweep_interval_seconds and at stop."
    )
    sweep_interval_seconds: Seconds = Field(
        900.0, description="Time between two orphan sweeps of a running sink (seconds)."
    )
    session_timeout_ms: int = Field(
        10_000,
        ge=1000,
        le=3_600_000,
        description="A crashed sink's partitions move to the others after this long (milliseconds).",
    )
    # Static membership (one distinct id per process): a restarted process gets its partitions
    # back at once instead of after a rebalance. Off by default: two processes given the same
    # id fence each other.
    group_instance_id: KafkaName | None = Field(
        None, description="Static member id, distinct per process: a restarted one gets its partitions back at once."
    )
    consume_batch: Count = Field(10_000, description="Messages taken from the Kafka client per poll.")
    # "system" (malloc) gives memory back between flushes: about 70 MB less peak RSS than
    # mimalloc in a 1M catch-up.
    memory_pool: MemoryPool | None = Field(
        "system", description="Arrow's allocator in the sink process; unset keeps Arrow's default."
    )
    # A topic deleted and recreated, or retention deleting offsets before they landed (see
    # sink/offsets.py): `fail` stops with one line; `resume-from-start` records it and goes on.
    on_reset: OnReset = Field(
        "fail", description="What an offset break does: fail with one line, or record it and resume-from-start."
    )
    # How often topic ids are compared with the ledger's (a recreated topic refilled past the
    # ledger keeps valid offsets; only its id changed).
    topic_check_seconds: Seconds = Field(
        10.0,
        description="How often the topics' ids are compared with the ledger's to spot a recreated topic (seconds).",
    )
    # S3, catalog or broker outages are waited out this long (retrying with backoff, saying what
    # it waits for), then the sink exits with one line; nothing is lost either way.
    outage_timeout_s: Seconds = Field(
        900.0, description="How long an S3, catalog or broker outage is waited out before the sink exits (seconds)."
    )
    workers: int | Literal["auto"] = Field(
        default=1,
        description="Group members one `eventlake sink` runs, each its own process: 1..64, or auto "
        "(one per core). More than the topics' partitions would idle, so at most that many run.",
    )

    @field_validator("workers", mode="before")
    @classmethod
    def _workers(cls, value: object) -> int | str:
        return parse_workers(value)

    @field_validator("event_time_min")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


MAX_WORKERS = 64  # each worker is a whole process (~150 MB); past this it is a typo, not a plan


def parse_workers(value: object) -> int | str:
    """`auto` or an integer 1..MAX_WORKERS (a string from a flag or the environment too)."""
    text = str(value).strip().lower()
    if text == "auto":
        return "auto"
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_WORKERS:
        raise ValueError(f"workers must be 1..{MAX_WORKERS} or auto, not {str(value)[:40]!r}")
    return int(text)
