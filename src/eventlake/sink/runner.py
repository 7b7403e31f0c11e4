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
import threading
import time
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from eventlake.broker import TopicAdmin
from eventlake.broker.clients import auth_failure, client_config, raise_for_auth
from eventlake.broker.exceptions import TopicNotFound
from eventlake.catalog import open_catalog
from eventlake.catalog.iceberg_catalog import catalog_outages
from eventlake.config import Settings
from eventlake.config.sink import MemoryPool
from eventlake.lake import open_lake
from eventlake.sink import offsets
from eventlake.sink.buffer import PartitionBuffer
from eventlake.sink.conform import Conformer
from eventlake.sink.dlq import DeadLetterProducer
from eventlake.sink.exceptions import SinkError
from eventlake.sink.iceberg_commit import flush_iceberg, iceberg_tables, record_iceberg_gap
from eventlake.sink.iceberg_commit import next_offset as iceberg_next_offset
from eventlake.sink.ledger import Batch, DeadLetterSink, FlushResult, flush_batch, record_gap, sweep_orphans
from eventlake.sink.maintenance import Maintainer
from eventlake.sink.metrics import MetricsServer, SinkMetrics
from eventlake.sink.outage import Outages
from eventlake.sink.report import SinkReport
from eventlake.sink.signals import stop_on_signals
from eventlake.sink.table import SinkTable

log = logging.getLogger(__name__)

TP = tuple[str, int]

# consume() waits this long unless a whole consume_batch is ready, and a message is held that
# long before its buffer's flush clock starts. Short even when idle: the partitions' buffers
# empty together at each flush, and a longer wait then added to every event's latency.
_CONSUME_WAIT_S = 0.05


def run_sink(
    settings: Settings,
    topics: list[str],
    stop: threading.Event | None = None,
    dead_letters: DeadLetterSink | None = None,
) -> SinkReport:
    """Land `topics` into the lake until stopped (or idle, with sink.until_idle)."""
    return Sink(settings, topics, stop, dead_letters).run()


class Sink:
    def __init__(
        self,
        settings: Settings,
        topics: list[str],
        stop: threading.Event | None = None,
        dead_letters: DeadLetterSink | None = None,
    ) -> None:
        if not topics:
            raise SinkError("no topic to sink", hint="name one or more topics: eventlake sink TOPIC...")
        self.settings = settings
        self.cfg = settings.sink
        self.topics = list(dict.fromkeys(topics))
        self.stop = stop or threading.Event()
        self.lake = open_lake(settings.lake, settings.s3)
        self.store = open_catalog(settings)
        self.dead_letters: DeadLetterSink = dead_letters or DeadLetterProducer(settings)
        iceberg = self.cfg.table_format == "iceberg"
        self.tables = {
            t: SinkTable(
                self.store,
                self.lake,
                t,
                settings.database,
                self.cfg.format,
                self.cfg.partition_by,
                iceberg=iceberg,
                event_time=iceberg and self.cfg.time_field is not None,
            )
            for t in self.topics
        }
        # --table-format iceberg: files and offsets live in Iceberg tables (sink.iceberg_commit), not the ledger.
        self.iceberg = iceberg_tables(self.lake, self.tables, self.cfg, settings) if iceberg else None
        self.buffers: dict[TP, PartitionBuffer] = {}
        # Old files are rewritten into a widened schema on a thread, so the loop never waits for it;
        # the lock keeps this process's sweep off a rewritten file between its write and its swap.
        self._file_lock = threading.Lock()
        self.conformer = (
            Conformer(
                self.store, self.lake, [t.ref for t in self.tables.values()], self.cfg.compression, self._file_lock
            )
            if self.cfg.format == "parquet" and not iceberg
            else None
        )
        # Compaction, retention and leftovers of both, on its own thread (sink/maintenance.py).
        # Iceberg tables are maintained by Iceberg's means in the same pass (sink/iceberg_maintain.py).
        maintain = settings.maintenance.enabled and (self.cfg.format == "parquet" or iceberg)
        self.maintainer = Maintainer(settings) if maintain else None
        self.report = SinkReport(self.topics)
        self.metrics = SinkMetrics()
        self._consumer: Consumer | None = None
        self._last_activity = time.monotonic()
        self._first_message: float | None = None
        self._last_sweep = time.monotonic()
        self.outages = Outages(self.cfg.outage_timeout_s, self.stop, self.metrics)
        # Incarnation of each topic (see sink.offsets): the ledger's and file names' `<topic>~n`.
        self.incarnations = {
            t: self.outages.retry("the catalog", partial(self.store.incarnation, t))[0] for t in self.topics
        }
        self._ids: offsets.TopicIds | None = None
        self._last_id_check = 0.0
        self._fatal: SinkError | None = None  # raised by the loop: callbacks must not raise
        self._gone: set[str] = set()  # topics reported missing since the last id check

    def _lt(self, topic: str) -> str:
        return offsets.ledger_topic(topic, self.incarnations.get(topic, 0))

    # ---- lifecycle

    def run(self) -> SinkReport:
        started = time.monotonic()
        self._check_topics()
        _use_memory_pool(self.cfg.memory_pool)
        self._sweep()
        if self.conformer is not None:
            self.conformer.start()
        if self.maintainer is not None:
            self.maintainer.start()
        server = None
        if self.cfg.metrics_port is not None:
            server = MetricsServer(self.metrics, self.cfg.metrics_host, self.cfg.metrics_port)
            server.start()
        restore = stop_on_signals(self.stop, log, "flushing and leaving the group")
        consumer = Consumer(self._consumer_config())
        self._consumer = consumer
        try:
            consumer.subscribe(self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost)
            log.info(
                "sink started topics=%s group=%s lake=%s", ",".join(self.topics), self.cfg.group, self.lake.uri_root
            )
            self._loop(consumer)
            for buf in list(self.buffers.values()):
                self._flush(buf, seek=False)
            if self.conformer is not None:
                self.conformer.stop()
            self._sweep()
        finally:
            if self.conformer is not None:
                self.conformer.stop()
            if self.maintainer is not None:
                self.maintainer.stop()
            with contextlib.suppress(KafkaException, RuntimeError):
                consumer.close()  # leaves the group: the partitions move at once
            restore()
            if server is not None:
                server.stop()
            self.store.close()
            self.report.seconds = time.monotonic() - started
        log.info(
            "sink stopped rows=%d files=%d dlq=%d seconds=%.1f",
            self.report.rows,
            self.report.files,
            self.report.dlq,
            self.report.seconds,
        )
        return self.report

    def _sweep(self) -> None:
        self._last_sweep = time.monotonic()
        if not self.cfg.sweep_orphans or self.iceberg is not None:
            return
        for topic, table in self.tables.items():
            for n in range(self.incarnations.get(topic, 0) + 1):  # each incarnation names its own files
                with self._file_lock:
                    self.outages.retry(
                        "the lake and catalog",
                        partial(
                            sweep_orphans,
                            self.store,
                            self.lake,
                            table.folder,
                            offsets.ledger_topic(topic, n),
                            self.cfg.orphan_grace_seconds,
                        ),
                    )
        if self.conformer is not None:
            self.conformer.poke()  # files a compaction or another sink wrote meanwhile

    def _check_topics(self) -> None:
        s = self.settings
        admin = TopicAdmin(s.bootstrap_servers, s.kafka, timeout_s=s.kafka.connect_timeout_s)
        existing = set(admin.names(include_internal=True))
        for t in self.topics:
            if t not in existing:
                raise TopicNotFound(
                    f"topic {t} does not exist", hint=f"create it with `eventlake topics create {t}` or check the name"
                )
        self._ids = offsets.TopicIds(client_config(s.bootstrap_servers, s.kafka))
        self._check_topic_ids()

    def _consumer_config(self) -> dict[str, Any]:
        conf = client_config(self.settings.bootstrap_servers, self.settings.kafka)
        session = self.cfg.session_timeout_ms
        conf.update(
            {
                "group.id": self.cfg.group,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                # Positions always come from the ledger; an out-of-range one is an offset break to
                # report (see sink.offsets), never a silent jump to another offset.
                "auto.offset.reset": "error",
                # New partitions of a topic are picked up within seconds, not librdkafka's 5 minutes.
                "topic.metadata.refresh.interval.ms": 5000,
                "partition.assignment.strategy": "cooperative-sticky",
                "session.timeout.ms": session,
                # A rebalance reaches a member with its next heartbeat, and a member joining a busy
                # group (`sink --workers N`, scaling out) waits for two of them (cooperative: revoke,
                # then assign): at session/5 (2 s) a second worker sat idle for ~4 s at every start.
                "heartbeat.interval.ms": max(500, session // 20),
                "fetch.wait.max.ms": 100,  # an idle partition's next message is not held back
                "queued.max.messages.kbytes": 32 * 1024,  # pre-fetch bound (memory)
                # When that pre-fetch queue is full, fetch again soon after it drains, not 1 s later
                # (librdkafka's default): during catch-up the sink would otherwise idle between fetches.
                "fetch.queue.backoff.ms": 20,
                "max.partition.fetch.bytes": 4 * 1024 * 1024,
                "enable.partition.eof": False,
            }
        )
        if self.cfg.group_instance_id:
            conf["group.instance.id"] = self.cfg.group_instance_id
        conf["error_cb"] = self._client_error  # broker-wide errors never reach consume()
        conf.update(self.settings.kafka.extra)  # the user's own client settings win
        return conf

    # ---- the loop

    def _loop(self, consumer: Consumer) -> None:
        cfg = self.cfg
        more_due = False
        while not self.stop.is_set():
            if self._fatal is not None:
                raise self._fatal
            # Another buffer is due: take what arrived meanwhile without waiting, then flush it.
            msgs = consumer.consume(num_messages=cfg.consume_batch, timeout=0 if more_due else _CONSUME_WAIT_S)
            now = time.monotonic()
            if self._fatal is not None:
                raise self._fatal
            if any(m.error() is None for m in msgs):
                self.outages.ended("the broker")
            self.outages.report()
            if now - self._last_id_check >= cfg.topic_check_seconds:
                self._check_topic_ids()
            if msgs:
                if self._first_message is None:
                    self._first_message = now
                self._last_activity = now
                self._ingest(msgs)
            # One flush per turn, the oldest buffer first. Flushing every due buffer in a row kept
            # the partitions' clocks in step (all emptied together, all refilled by the next
            # consume), so the last partition's events waited for every other partition's flush and
            # nothing was consumed meanwhile. Consuming between flushes spreads the partitions'
            # flushes over the period; each still flushes every flush_seconds (no more files).
            due = [b for b in self.buffers.values() if b.due(now, cfg.flush_rows, cfg.flush_bytes, cfg.flush_seconds)]
            if due:
                self._flush(min(due, key=lambda b: b.since))
            more_due = len(due) > 1
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
            # A password changed or an ACL revoked mid-run is not an outage to wait out: say so.
            raise_for_auth(err, self.settings.bootstrap_servers, self.settings.kafka, doing="consume")
            if err.fatal():
                raise SinkError(f"Kafka consumer failed: {err.str()}")
            if err.code() == KafkaError._TRANSPORT or err.code() == KafkaError._ALL_BROKERS_DOWN:
                self.outages.began("the broker", f"{self.settings.bootstrap_servers}: {err.str()}")
            elif err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                # Deleted under us: wait for it; if it comes back, its new topic id is an offset break.
                self.outages.began(f"topic {m.topic()}", f"{err.str()} (deleted?)", give_up=False)
                if m.topic() is not None:
                    self._gone.add(str(m.topic()))
            elif err.code() == KafkaError._AUTO_OFFSET_RESET and m.topic() is not None:
                self._offset_out_of_range(str(m.topic()), int(m.partition() or 0))
            else:
                log.warning("consumer: %s", err.str())

    def _client_error(self, err: KafkaError) -> None:
        """librdkafka's client-level errors (all brokers down, authentication), from its callback:
        recorded here, acted on by the loop (a callback must not raise)."""
        failure = auth_failure(err, self.settings.bootstrap_servers, self.settings.kafka, doing="consume")
        if failure is not None:
            self._fatal = self._fatal or SinkError(failure.message, hint=failure.hint)
        elif err.code() in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN):
            self.outages.began("the broker", f"{self.settings.bootstrap_servers}: {err.str()}")
        elif err.fatal():
            self._fatal = self._fatal or SinkError(f"Kafka consumer failed: {err.str()}")

    def _idle(self, consumer: Consumer, now: float, idle_s: float) -> bool:
        """Caught up everywhere we own, and nothing new for `idle_s`. No assignment is not idle."""
        if not self.buffers or now - self._last_activity < idle_s:
            return False
        for (topic, partition), buf in self.buffers.items():
            try:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=5, cached=False)
            except KafkaException:
                return False
            position = max(buf.position if buf.position is not None else low, low)
            if position < high:
                # A transaction's commit marker holds an offset that no message has, so the last
                # landed offset + 1 stops short of it; the consumer's own position moves past it.
                [tp] = consumer.position([TopicPartition(topic, partition)])
                position = max(position, tp.offset)
            if position < high or buf.rows:
                return False
        return True

    # ---- flushing

    def _flush(self, buf: PartitionBuffer, seek: bool = True) -> FlushResult | None:
        if buf.topic in self._gone:  # gone and back? Its id says whether these rows are a new topic's
            self._check_topic_ids()
        if not buf.rows or self._fatal is not None:
            return None
        batch = buf.take()
        batch.ledger_topic = self._lt(buf.topic)
        started = time.monotonic()
        changes = self.tables[buf.topic].changes
        # An S3 or catalog outage is waited out with the batch in memory (Kafka still has it too).
        result = self.outages.retry(
            "the lake and catalog",
            lambda: self._land(batch, buf.topic),
            held=f"{len(batch.values):,} rows of {buf.topic}[{buf.partition}]",
        )
        key = f"{buf.topic}[{buf.partition}]"
        if result.conflict:
            self.report.conflicts += 1
            nxt = self._recorded(batch.key, buf.partition)
            buf.reset(nxt)
            if seek and self._consumer is not None:
                with contextlib.suppress(KafkaException):
                    self._consumer.seek(
                        TopicPartition(buf.topic, buf.partition, nxt if nxt is not None else OFFSET_BEGINNING)
                    )
            return result
        if self.conformer is not None and self.tables[buf.topic].changes != changes:
            self.conformer.poke()  # the table widened: its older files get the new schema
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
            r.busy_from = self._first_message
        self.metrics.flushed(buf.topic, buf.partition, result, time.monotonic() - started)
        log.debug(
            "flushed %s rows=%d files=%d dlq=%d next=%s",
            key,
            result.rows,
            len(result.files),
            result.dlq,
            result.next_offset,
        )
        return result

    def _land(self, batch: Batch, topic: str) -> FlushResult:
        """The seam between the table formats: the ledger's commit, or Iceberg's."""
        if self.iceberg is None:
            return flush_batch(batch, self.tables[topic], self.store, self.lake, self.cfg, self.dead_letters)
        with catalog_outages():  # waited out by the caller's retry, like the ledger's catalog
            return flush_iceberg(
                batch, self.tables[topic], self.iceberg[topic], self.cfg, self.dead_letters, self.cfg.group
            )

    def _recorded(self, ledger_topic: str, partition: int) -> int | None:
        """Where a partition's landing stands: the ledger's next offset, or the Iceberg table's."""
        if self.iceberg is None:
            return self.store.ledger_next_offset(ledger_topic, partition)
        topic = ledger_topic.split("~", 1)[0]
        with catalog_outages():
            return iceberg_next_offset(self.iceberg[topic], ledger_topic, partition)

    def _commit_hint(self, topic: str, partition: int, next_offset: int) -> None:
        if self._consumer is None:
            return
        with contextlib.suppress(KafkaException, RuntimeError):
            self._consumer.commit(offsets=[TopicPartition(topic, partition, next_offset)], asynchronous=True)

    # ---- rebalancing

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if partitions and self._ids is not None:
            self._check_topic_ids()  # a topic recreated while no one owned it starts a new incarnation here
        for tp in partitions:
            nxt = self._start_offset(consumer, tp.topic, tp.partition)
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

    # ---- offset breaks (see sink.offsets)

    def _start_offset(self, consumer: Consumer, topic: str, partition: int) -> int | None:
        """The ledger's next offset, checked against the partition's log first."""
        nxt = self.outages.retry("the catalog", lambda: self._recorded(self._lt(topic), partition))
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=5, cached=False)
        except KafkaException:
            return nxt  # no answer now: an out-of-range start still reports itself (auto.offset.reset=error)
        brk = offsets.classify(topic, partition, nxt, low, high)
        return nxt if brk is None else self._handle_break(brk, low)

    def _offset_out_of_range(self, topic: str, partition: int) -> None:
        consumer = self._consumer
        buf = self.buffers.get((topic, partition))
        if consumer is None or buf is None:
            return
        self._flush(buf, seek=False)  # what is buffered came before the break: it lands first
        start = self._start_offset(consumer, topic, partition)
        if self._fatal is None and (topic, partition) in self.buffers:
            buf.reset(start)
            with contextlib.suppress(KafkaException):
                consumer.seek(TopicPartition(topic, partition, start if start is not None else OFFSET_BEGINNING))

    def _handle_break(self, brk: offsets.OffsetBreak, low: int) -> int | None:
        """Record the break and apply sink.on_reset; the offset to start at (None: the beginning)."""
        incarnation = self.incarnations.get(brk.topic, 0)
        if self.cfg.on_reset == "fail":
            offsets.record(self.store, brk, incarnation, "stopped")
            self.metrics.offset_break(brk.topic, brk.partition, brk.kind, brk.lost)
            message, hint = offsets.fail_message(brk)
            self._fatal = self._fatal or SinkError(message, hint=hint)
            return low
        if brk.kind == "gap":
            assert brk.first is not None and brk.last is not None
            if self.iceberg is not None:
                gap = (self._lt(brk.topic), brk.partition, brk.first, brk.last, self.cfg.group)
                record_iceberg_gap(self.iceberg[brk.topic], *gap)
            else:
                record_gap(self.store, self.tables[brk.topic], self._lt(brk.topic), brk.partition, brk.first, brk.last)
            offsets.record(self.store, brk, incarnation, "resumed")
            self.metrics.offset_break(brk.topic, brk.partition, brk.kind, brk.lost)
            return low
        self._new_incarnation(brk)
        return None

    def _new_incarnation(self, brk: offsets.OffsetBreak) -> None:
        """Land a recreated topic from its start under `<topic>~n`; its other partitions here follow."""
        topic = brk.topic
        ids = self._ids.get([topic], 5.0) if self._ids is not None else {}
        old = self.incarnations.get(topic, 0)
        new = self.store.set_incarnation(topic, old, ids.get(topic), bump=True)
        self.incarnations[topic] = new
        offsets.record(self.store, brk, new, "resumed")
        self.metrics.offset_break(topic, brk.partition, brk.kind, brk.lost)
        for (t, p), buf in list(self.buffers.items()):
            if t == topic:
                buf.take()  # rows read from the new topic under the old name: read again from its start
                buf.reset(None)
                if self._consumer is not None:
                    with contextlib.suppress(KafkaException):
                        self._consumer.seek(TopicPartition(t, p, OFFSET_BEGINNING))

    def _check_topic_ids(self) -> None:
        """A topic recreated and refilled past the ledger keeps valid offsets: only its id tells."""
        self._last_id_check = time.monotonic()
        if self._ids is None:
            return
        ids = self._ids.get(self.topics, 5.0)
        if ids:  # the broker answered
            self.outages.ended("the broker")
        for topic, topic_id in ids.items():
            self.outages.ended(f"topic {topic}")
            self._gone.discard(topic)
            incarnation, known = self.store.incarnation(topic)
            self.incarnations[topic] = incarnation  # another sink of the group may have begun a new one
            if known is None:
                self.store.set_incarnation(topic, incarnation, topic_id, bump=False)
            elif known != topic_id:
                owned = sorted(p for t, p in self.buffers if t == topic) or [0]
                brk = offsets.recreated(topic, owned[0], known, topic_id)
                if self.cfg.on_reset == "fail":
                    self._handle_break(brk, 0)
                else:
                    self._new_incarnation(brk)


def _use_memory_pool(name: MemoryPool | None) -> None:
    if name is None:
        return
    pools = {"system": pa.system_memory_pool, "jemalloc": pa.jemalloc_memory_pool, "mimalloc": pa.mimalloc_memory_pool}
    try:
        pa.set_memory_pool(pools[name]())
    except (NotImplementedError, pa.ArrowNotImplementedError):
        log.info("Arrow memory pool %s is not built in; keeping %s", name, pa.default_memory_pool().backend_name)
