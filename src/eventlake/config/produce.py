"""Settings of the producer stage."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ProduceSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    acks: str = "all"
    idempotent: bool = True
    compression: str = "lz4"  # lz4 | zstd | gzip | snappy | none
    linger_ms: int = 20
    batch_bytes: int = 1_000_000
    # Same key -> same partition as Java and kafka-python producers would choose (murmur2).
    partitioner: str = "murmur2_random"
    # librdkafka's local queue; a full queue makes the loop wait for deliveries (BufferError).
    queue_max_messages: int = 500_000
    queue_max_kbytes: int = 1_048_576
    # How long one message may take to be acknowledged before it counts as failed; keeps a
    # broker that dies mid-run from hanging the final flush.
    delivery_timeout_s: float = Field(default=30.0, gt=0)
    # Serve delivery reports every N messages in the hot loop (poll(0) is not free).
    poll_every: int = Field(default=1000, ge=1)
    # Partitions of `<topic>.dlq` when produce creates it.
    dlq_partitions: int = Field(default=1, ge=1)
    # CSV columns take the type that fits all of their first N values.
    csv_infer_rows: int = Field(default=1000, ge=1)
    # Longest a Ctrl-C or the end of the run waits for in-flight messages.
    flush_timeout_s: float = Field(default=30.0, gt=0)
    # How many bad rows the summary lists one by one (all are counted and dead-lettered).
    report_bad_rows: int = Field(default=100, ge=0)
    # --exactly-once: a transaction commits after this many events or seconds, whichever comes
    # first. Larger is faster (each commit waits for every acknowledgement); a run killed loses
    # at most one transaction of work, never sends anything twice.
    transaction_max_records: int = Field(default=50_000, ge=1)
    transaction_max_s: float = Field(default=1.0, gt=0)
    # A transaction its producer left open (killed, never restarted) is aborted by Kafka after
    # this long; until then read_committed consumers of its partitions wait.
    transaction_timeout_s: float = Field(default=60.0, gt=0)
    # The compacted topic holding each exactly-once replay's last committed position.
    progress_topic: str = "__eventlake_produce_progress"
