"""The bench's own broker: eventlake's LocalBroker on free ports, fresh data dir, 1 GB heap."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from eventlake.broker import LocalBroker, TopicAdmin
from eventlake.config import BrokerSettings
from eventlake.runtime import free_port


@dataclass
class BenchBroker:
    broker: LocalBroker
    bootstrap: str
    admin: TopicAdmin
    kafka_version: str

    def fresh_topic(self, label: str, partitions: int = 3) -> str:
        """A new topic for one run, so no run reads another's data."""
        name = f"bench-{label}-{uuid.uuid4().hex[:8]}"
        self.admin.create(name, partitions=partitions)
        return name

    def delete_topic(self, name: str) -> None:
        try:
            self.admin.delete(name)
        except Exception:  # cleaning up is best effort; the data dir goes at the end anyway
            pass


@contextmanager
def bench_broker(data_dir: Path) -> Iterator[BenchBroker]:
    """Start a dedicated broker (wiping `data_dir` first) and always stop it."""
    if data_dir.exists():
        LocalBroker(BrokerSettings(data_dir=data_dir)).stop()  # a run killed mid-way may have left one
        shutil.rmtree(data_dir)
    settings = BrokerSettings(
        port=free_port(),
        controller_port=free_port(),
        data_dir=data_dir,
        heap="1g",
        # Large runs write gigabytes; segments of 256 MB keep the file count low.
        log_segment_bytes=256 * 1024 * 1024,
    )
    broker = LocalBroker(settings)
    broker.start()
    try:
        yield BenchBroker(
            broker=broker,
            bootstrap=broker.bootstrap,
            admin=TopicAdmin(broker.bootstrap),
            kafka_version=settings.kafka_version,
        )
    finally:
        broker.stop()
