"""The sink process: a consumer-group member that lands its partitions exactly once.

Per-message Python work is kept to reading each message's value, offset, timestamp, key
and partition into lists; decoding, partitioning and writing happen per flush, in bulk.
Partitions resume from the ledger (never from Kafka's committed offsets, which are only a
hint for lag tools); on revoke, what is buffered is flushed and recorded before the
partition moves; SIGINT/SIGTERM flush, record, commit and leave the group.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import numpy as np
import pyarrow as pa
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from eventlake.broker import TopicAdmin
from eventlake.broker.clients import client_config
from eventlake.catalog import open_catalog
from eventlake.config import Settings
from eventlake.lake import open_lake
from eventlake.sink.buffer import PartitionBuffer
from eventlake.sink.dlq import DeadLetterProducer
from eventlake.sink.exceptions import SinkError, TopicMissing
from eventlake.sink.ledger import DeadLetterSink, FlushResult, flush_batch, sweep_orphans
from eventlake.sink.metrics import MetricsServer, SinkMetrics
from eventlake.sink.table import SinkTable
from eventlake.sink.writer import FORMATS

log = logging.getLogger(__name__)

TP = tuple[str, int]


@dataclass
class SinkReport:
    """What one run of the sink landed."""

    topics: list[str]
    rows: int = 0
    files: int = 0
    bytes: int = 0
    dlq: int = 0
    flushes: int = 0
    conflicts: int = 0
    seconds: float = 0.0  # the whole run: start-up, joining the group, idle waits included
    busy_seconds: float = 0.0  # first message received -> last flush recorded
    partitions: dict[str, int] = field(default_factory=dict)  # "topic[p]" -> rows landed

    @property
    def rows_per_s(self) -> float:
        """Landing rate while there was work: rows over busy time."""
        return self.rows / self.busy_seconds if self.busy_seconds > 0 else 0.0


def run_sink(settings: Settings, topics: list[str], stop: threading.Event | None = None,
             dead_letters: DeadLetterSink | None = None) -> SinkReport:
    """Land `topics` into the lake until stopped (or idle, with sink.until_idle)."""
    return Sink(settings, topics, stop, dead_letters).run()


class Sink:
    def __init__(self, settings: Settings, topics: list[str], stop: threading.Event | None = None,
                 dead_letters: DeadLetterSink | None = None) -> None:
        if not topics:
            raise SinkError("no topic to sink", hint="name one or more topics: eventlake sink TOPIC...")
        self.settings = settings
        self.cfg = settings.sink
        if self.cfg.format not in FORMATS:
            raise SinkError(f"unknown format {self.cfg.format!r}", hint="use parquet or jsonl")
        self.topics = list(dict.fromkeys(topics))
        self.stop = stop or threading.Event()
        self.lake = open_lake(settings.lake, settings.s3)
        self.store = open_catalog(settings)
        self.dead_letters: DeadLetterSink = dead_letters or DeadLetterProducer(settings)
        self.tables = {t: SinkTable(self.store, self.lake, t, settings.database, self.cfg.format,
                                    self.cfg.partition_by) for t in self.topics}
        self.buffers: dict[TP, PartitionBuffer] = {}
        self.report = SinkReport(self.topics)
        self.metrics = SinkMetrics()
        self._consumer: Consumer | None = None
        self._last_activity = time.monotonic()
        self._first_message: float | None = None
        self._last_sweep = time.monotonic()

    # ---- lifecycle

    def run(self) -> SinkReport:
        started = time.monotonic()
        self._check_topics()
        _use_memory_pool(self.cfg.memory_pool)
        self._sweep()
        server = None
        if self.cfg.metrics_port is not None:
            server = MetricsServer(self.metrics, self.cfg.metrics_host, self.cfg.metrics_port)
            server.start()
        restore = self._install_signals()
        consumer = Consumer(self._consumer_config())
        self._consumer = consumer
        try:
            consumer.subscribe(self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke,
                               on_lost=self._on_lost)
            log.info("sink started topics=%s group=%s lake=%s", ",".join(self.topics), self.cfg.group,
                     self.lake.uri_root)
            self._loop(consumer)
            for buf in list(self.buffers.values()):
                self._flush(buf, seek=False)
            self._sweep()
        finally:
            with contextlib.suppress(KafkaException, RuntimeError):
                consumer.close()  # leaves the group: the partitions move at once
            restore()
            if server is not None:
                server.stop()
            self.store.close()
            self.report.seconds = time.monotonic() - started
        log.info("sink stopped rows=%d files=%d dlq=%d seconds=%.1f", self.report.rows, self.report.files,
                 self.report.dlq, self.report.seconds)
        return self.report

    def _sweep(self) -> None:
        self._last_sweep = time.monotonic()
        if not self.cfg.sweep_orphans:
            return
        for topic, table in self.tables.items():
            sweep_orphans(self.store, self.lake, table.folder, topic, self.cfg.orphan_grace_seconds)

    def _check_topics(self) -> None:
        s = self.settings
        admin = TopicAdmin(s.bootstrap_servers, s.kafka, timeout_s=s.kafka.connect_timeout_s)
        existing = set(admin.names(include_internal=True))
        for t in self.topics:
            if t not in existing:
                raise TopicMissing(f"topic {t} does not exist",
                                   hint=f"create it with `eventlake topics create {t}` or check the name")

    def _consumer_config(self) -> dict[str, Any]:
        conf = client_config(self.settings.bootstrap_servers, self.settings.kafka)
        session = self.cfg.session_timeout_ms
        conf.update({
            "group.id": self.cfg.group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": session,
            "heartbeat.interval.ms": max(500, session // 5),
            "fetch.wait.max.ms": 100,  # an idle partition's next message is not held back
            "queued.max.messages.kbytes": 32 * 1024,  # pre-fetch bound (memory)
            # When that pre-fetch queue is full, fetch again soon after it drains, not 1 s later
            # (librdkafka's default): during catch-up the sink would otherwise idle between fetches.
            "fetch.queue.backoff.ms": 20,
            "max.partition.fetch.bytes": 4 * 1024 * 1024,
            "enable.partition.eof": False,
        })
        if self.cfg.group_instance_id:
            conf["group.instance.id"] = self.cfg.group_instance_id
        conf.update(self.settings.kafka.extra)  # the user's own client settings win
        return conf

    def _install_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def handler(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %d: flushing and leaving the group", signum)
            self.stop.set()

        old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

        def restore() -> None:
            for sig, h in old.items():
                signal.signal(sig, h)

        return restore

    # ---- the loop

    def _loop(self, consumer: Consumer) -> None:
        cfg = self.cfg
        while not self.stop.is_set():
            timeout = 0.05 if any(b.rows for b in self.buffers.values()) else 0.25
            msgs = consumer.consume(num_messages=cfg.consume_batch, timeout=timeout)
            now = time.monotonic()
            if msgs:
                if self._first_message is None:
                    self._first_message = now
                self._last_activity = now
                self._ingest(msgs)
            for buf in list(self.buffers.values()):
                if buf.due(now, cfg.flush_rows, cfg.flush_bytes, cfg.flush_seconds):
                    self._flush(buf)
            if now - self._last_sweep >= cfg.sweep_interval_seconds:
                self._sweep()
            if cfg.until_idle is not None and not msgs and self._idle(consumer, now, cfg.until_idle):
                log.info("caught up and idle for %.1fs: stopping", cfg.until_idle)
                return

    def _ingest(self, msgs: list[Message]) -> None:
        good = [m for m in msgs if m.error() is None]
        if len(good) != len(msgs):
            self._errors([m for m in msgs if m.error() is not None])
            if not good:
                return
        values: list[Any] = [m.value() for m in good]
        offsets: list[Any] = [m.offset() for m in good]
        stamps: list[Any] = [m.timestamp()[1] for m in good]
        keys: list[Any] = [m.key() for m in good]
        parts = np.fromiter((m.partition() for m in good), dtype=np.int64, count=len(good))
        if len(self.topics) > 1:
            ids: dict[Any, int] = {t: i for i, t in enumerate(self.topics)}
            parts += np.fromiter((ids[m.topic()] for m in good), dtype=np.int64, count=len(good)) << 32
        cuts = np.flatnonzero(np.diff(parts)) + 1
        starts = [0, *cuts.tolist()]
        ends = [*cuts.tolist(), len(good)]
        cfg = self.cfg
        resynced: set[TP] = set()
        for i, j in zip(starts, ends, strict=True):
            key = (str(good[i].topic()), int(good[i].partition() or 0))
            buf = self.buffers.get(key)
            if buf is None or key in resynced:
                # Not (or no longer) ours; or a flush of it just lost to another writer and we
                # seeked back to the ledger: the rest of this batch must not land after a gap.
                continue
            buf.add(values[i:j], offsets[i:j], stamps[i:j], keys[i:j])
            if buf.rows >= cfg.flush_rows or buf.nbytes >= cfg.flush_bytes:
                result = self._flush(buf)
                if result is not None and result.conflict:
                    resynced.add(key)
        total = sum(b.nbytes for b in self.buffers.values())
        while total > cfg.max_buffer_bytes:
            biggest = max(self.buffers.values(), key=lambda b: b.nbytes)
            total -= biggest.nbytes
            self._flush(biggest)

    def _errors(self, msgs: list[Message]) -> None:
        for m in msgs:
            err = m.error()
            if err is None:
                continue
            if err.fatal():
                raise SinkError(f"Kafka consumer failed: {err.str()}")
            if err.code() == KafkaError._TRANSPORT or err.code() == KafkaError._ALL_BROKERS_DOWN:
                log.warning("broker connection: %s (retrying)", err.str())
            elif err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise TopicMissing(f"topic is gone: {err.str()}")
            else:
                log.warning("consumer: %s", err.str())

    def _idle(self, consumer: Consumer, now: float, idle_s: float) -> bool:
        """Caught up everywhere we own, and nothing new for `idle_s`. No assignment is not idle."""
        if not self.buffers or now - self._last_activity < idle_s:
            return False
        for (topic, partition), buf in self.buffers.items():
            try:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=5,
                                                           cached=False)
            except KafkaException:
                return False
            position = max(buf.position if buf.position is not None else low, low)
            if position < high or buf.rows:
                return False
        return True

    # ---- flushing

    def _flush(self, buf: PartitionBuffer, seek: bool = True) -> FlushResult | None:
        if not buf.rows:
            return None
        batch = buf.take()
        started = time.monotonic()
        result = flush_batch(batch, self.tables[buf.topic], self.store, self.lake, self.cfg, self.dead_letters)
        key = f"{buf.topic}[{buf.partition}]"
        if result.conflict:
            self.report.conflicts += 1
            nxt = self.store.ledger_next_offset(buf.topic, buf.partition)
            buf.reset(nxt)
            if seek and self._consumer is not None:
                with contextlib.suppress(KafkaException):
                    self._consumer.seek(TopicPartition(buf.topic, buf.partition,
                                                       nxt if nxt is not None else OFFSET_BEGINNING))
            return result
        if result.next_offset is not None:
            buf.recorded(result.next_offset)
            self._commit_hint(buf.topic, buf.partition, result.next_offset)
        r = self.report
        r.rows += result.rows
        r.files += len(result.files)
        r.bytes += result.bytes
        r.dlq += result.dlq
        r.flushes += 1
        r.partitions[key] = r.partitions.get(key, 0) + result.rows
        if self._first_message is not None and result.rows + result.dlq:
            r.busy_seconds = time.monotonic() - self._first_message
        self.metrics.flushed(buf.topic, buf.partition, result, time.monotonic() - started)
        log.debug("flushed %s rows=%d files=%d dlq=%d next=%s", key, result.rows, len(result.files),
                  result.dlq, result.next_offset)
        return result

    def _commit_hint(self, topic: str, partition: int, next_offset: int) -> None:
        if self._consumer is None:
            return
        with contextlib.suppress(KafkaException, RuntimeError):
            self._consumer.commit(offsets=[TopicPartition(topic, partition, next_offset)], asynchronous=True)

    # ---- rebalancing

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            nxt = self.store.ledger_next_offset(tp.topic, tp.partition)
            tp.offset = nxt if nxt is not None else OFFSET_BEGINNING
            self.buffers[(tp.topic, tp.partition)] = PartitionBuffer(tp.topic, tp.partition, nxt)
            self.metrics.assigned(tp.topic, tp.partition, nxt)
        self._last_activity = time.monotonic()
        if partitions:
            log.info("assigned %s", ", ".join(f"{tp.topic}[{tp.partition}]@{tp.offset}" for tp in partitions))
        consumer.incremental_assign(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            buf = self.buffers.pop((tp.topic, tp.partition), None)
            if buf is not None:
                self._flush(buf, seek=False)
            self.metrics.revoked(tp.topic, tp.partition)
        self._last_activity = time.monotonic()
        if partitions:
            log.info("revoked %s", ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Someone else owns them now; whatever we buffered is theirs to land.
        for tp in partitions:
            self.buffers.pop((tp.topic, tp.partition), None)
            self.metrics.revoked(tp.topic, tp.partition)
        log.warning("lost %s", ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions))


def _use_memory_pool(name: str | None) -> None:
    if not name:
        return
    pools = {"system": pa.system_memory_pool, "jemalloc": pa.jemalloc_memory_pool,
             "mimalloc": pa.mimalloc_memory_pool}
    if name not in pools:
        raise SinkError(f"unknown memory_pool {name!r}", hint="use system, jemalloc or mimalloc")
    try:
        pa.set_memory_pool(pools[name]())
    except (NotImplementedError, pa.ArrowNotImplementedError):
        log.info("Arrow memory pool %s is not built in; keeping %s", name, pa.default_memory_pool().backend_name)
