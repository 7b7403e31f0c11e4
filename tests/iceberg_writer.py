"""One sink's committing side of a topic's Iceberg table, without Kafka: each `flush` is one batch
through eventlake's own commit (sink.iceberg_commit.flush_iceberg), as a sink's flush would be.
Each instance is a separate writer with its own table object (a zombie, another machine)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import orjson

from eventlake.broker.dead_letters import DeadLetter
from eventlake.catalog import CatalogStore
from eventlake.config import Settings
from eventlake.lake import open_lake
from eventlake.sink.iceberg_commit import flush_iceberg, iceberg_tables
from eventlake.sink.ledger import Batch, FlushResult
from eventlake.sink.table import SinkTable


def json_batch(
    topic: str, partition: int, start: int | None, first: int, events: list[Any], at: float | None = None
) -> Batch:
    """`events` as JSON messages at offsets first.. of one partition, all timestamped `at` (now)."""
    n = len(events)
    return Batch(
        topic=topic,
        partition=partition,
        start=start,
        values=[orjson.dumps(e) for e in events],
        offsets=np.arange(first, first + n, dtype=np.int64),
        timestamps=np.full(n, int((time.time() if at is None else at) * 1000), dtype=np.int64),
        keys=[None] * n,
    )


class IcebergWriter:
    def __init__(self, settings: Settings, store: CatalogStore, topic: str, partition_by: tuple[str, ...] = ()) -> None:
        self.topic = topic
        self.lake = open_lake(settings.lake, settings.s3)
        self.cfg = settings.sink.model_copy(update={"table_format": "iceberg", "partition_by": list(partition_by)})
        self.table = SinkTable(store, self.lake, topic, "default", "parquet", list(partition_by), iceberg=True)
        self.ice = iceberg_tables(self.lake, {topic: self.table}, self.cfg, settings)[topic]
        self.letters: list[DeadLetter] = []

    def flush(
        self, partition: int, start: int | None, first: int, events: list[Any], at: float | None = None
    ) -> FlushResult:
        batch = json_batch(self.topic, partition, start, first, events, at)
        return flush_iceberg(batch, self.table, self.ice, self.cfg, self.letters.extend, "g")
