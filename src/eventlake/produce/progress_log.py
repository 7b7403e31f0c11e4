"""The progress topic: one compacted partition holding, per replay (key), its last committed progress.

Progress is read with isolation.level=read_committed, after init_transactions has fenced the
previous instance of the replay (and aborted its open transaction), so what is read is exactly
what the committed data covers. One partition keeps reading simple; the records are small and
compaction keeps one per replay.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import TYPE_CHECKING

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from eventlake.broker import TopicAdmin, client_config
from eventlake.produce.exceptions import ProgressUnavailable
from eventlake.produce.progress import Progress

if TYPE_CHECKING:
    from eventlake.config import Settings

PROGRESS_CONFIGS = {
    "cleanup.policy": "compact",
    "min.compaction.lag.ms": "0",
    "segment.ms": str(6 * 3600 * 1000),  # the open segment is never compacted: roll it now and then
    "retention.ms": "-1",
}


def ensure_progress_topic(admin: TopicAdmin, name: str) -> None:
    """Create the compacted progress topic once; concurrent producers may race to do it."""
    if not admin.exists(name):
        admin.create(name, partitions=1, configs=PROGRESS_CONFIGS, exist_ok=True)


def read_progress(settings: Settings, topic: str, key: bytes, timeout_s: float) -> Progress | None:
    """The last committed progress stored under `key`, None when there is none.

    Reads the partition to its end; with read_committed the end is the last stable offset, which
    another replay's transaction still open holds back until it ends (at most its
    transaction.timeout.ms), so this waits for that up to `timeout_s`."""
    conf = client_config(settings.bootstrap_servers, settings.kafka)
    conf.update(
        {
            "group.id": f"eventlake-progress-{uuid.uuid4().hex[:8]}",  # never committed: assign() only
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )
    consumer = Consumer(conf)
    found: bytes | None = None
    try:
        tp = TopicPartition(topic, 0)
        _, high = consumer.get_watermark_offsets(tp, timeout=timeout_s, cached=False)
        if high <= 0:
            return None
        consumer.assign([TopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            err = msg.error()
            offset = msg.offset() or 0
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    raise ProgressUnavailable(f"cannot read the progress topic {topic}: {err.str()}")
                if offset >= high:
                    break
                continue  # at the last stable offset: another replay's transaction is still open
            if msg.key() == key:
                found = msg.value()  # None: a tombstone (progress deleted)
            if offset + 1 >= high:
                break
        else:
            raise ProgressUnavailable(
                f"the progress topic {topic} did not become readable to its end in {timeout_s:g} s",
                hint="another --exactly-once producer may have died inside a transaction: Kafka ends it after "
                "produce.transaction_timeout_s; try again then",
            )
    except KafkaException as exc:
        raise ProgressUnavailable(f"cannot read the progress topic {topic}: {exc.args[0]}") from exc
    finally:
        with contextlib.suppress(Exception):
            consumer.close()
    if found is None:
        return None
    try:
        return Progress.decode(found)
    except (ValueError, TypeError, KeyError) as exc:
        raise ProgressUnavailable(
            f"the progress stored in {topic} for this file is unreadable: {exc}",
            hint="run with --restart to send the file from the top",
        ) from exc
