"""Settings of the producer stage."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from eventlake.config.fields import Bytes, Count, IntAsText, KafkaName, Seconds

Acks = Literal["all", "-1", "0", "1"]
ProduceCompression = Literal["lz4", "zstd", "gzip", "snappy", "none"]
Partitioner = Literal["murmur2_random", "murmur2", "consistent_random", "consistent", "fnv1a_random", "fnv1a", "random"]


class ProduceSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    acks: Annotated[Acks, IntAsText] = Field(
        "all", description="Acknowledgements a message needs: all (or -1) in-sync replicas, the leader (1), none (0)."
    )
    idempotent: bool = Field(True, description="No duplicates or reordering when the producer retries.")
    compression: ProduceCompression = Field("lz4", description="Compression of message batches on the wire.")
    linger_ms: int = Field(
        20, ge=0, le=900_000, description="How long a batch waits for more messages before it is sent (milliseconds)."
    )
    batch_bytes: Bytes = Field(1_000_000, description="Largest batch of messages sent to one partition (bytes).")
    # Same key -> same partition as Java and kafka-python producers would choose (murmur2).
    partitioner: Partitioner = Field(
        "murmur2_random",
        description="How a key picks its partition; murmur2 matches Java producers, *_random spreads keyless ones.",
    )
    # A full queue makes the loop wait for deliveries (BufferError) rather than fail.
    queue_max_messages: Count = Field(500_000, description="Messages librdkafka may hold unsent before the loop waits.")
    queue_max_kbytes: Count = Field(
        1_048_576, description="Kilobytes librdkafka may hold unsent before the loop waits."
    )
    # Keeps a broker that dies mid-run from hanging the final flush.
    delivery_timeout_s: Seconds = Field(
        30.0, description="How long one message may take to be acknowledged before it counts as failed (seconds)."
    )
    # poll(0) is not free in the hot loop.
    poll_every: Count = Field(1000, description="Serve delivery reports every this many messages.")
    dlq_partitions: Count = Field(1, description="Partitions of `<topic>.dlq` when produce creates it.")
    csv_infer_rows: Count = Field(1000, description="CSV columns take the type that fits all of their first N values.")
    flush_timeout_s: Seconds = Field(
        30.0, description="Longest a Ctrl-C or the end of the run waits for in-flight messages (seconds)."
    )
    report_bad_rows: int = Field(
        100, ge=0, description="How many bad rows the summary lists one by one (all are counted and dead-lettered)."
    )
    # Larger is faster (each commit waits for every acknowledgement); a run killed loses at most
    # one transaction of work, never sends anything twice.
    transaction_max_records: Count = Field(
        50_000, description="--exactly-once: a transaction commits after this many events (or transaction_max_s)."
    )
    transaction_max_s: Seconds = Field(
        1.0, description="--exactly-once: a transaction commits after this many seconds (or transaction_max_records)."
    )
    # Until then read_committed consumers of its partitions wait.
    transaction_timeout_s: Seconds = Field(
        60.0, description="Kafka aborts a transaction its producer left open (killed) after this long (seconds)."
    )
    progress_topic: KafkaName = Field(
        "__eventlake_produce_progress",
        description="Compacted topic holding each exactly-once replay's last committed position.",
    )
