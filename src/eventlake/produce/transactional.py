"""--exactly-once: a file replayed in Kafka transactions, each of which also commits how far into the file it goes.

Start: init_transactions with the replay's transactional.id fences the instance before it (a
zombie can no longer commit) and has the coordinator abort its open transaction; then the last
committed progress is read (read_committed) and the file is checked to be the same one; the
source resumes after the last row that progress covers.

Run: every `transaction_max_records` events or `transaction_max_s` seconds, the data is flushed,
one progress record goes to the progress topic, and the transaction commits. Records, their
dead letters and the progress are visible together or not at all, so a run killed at any moment
and started again sends every row once: what the killed run had not committed is aborted and
sent again, what it committed is skipped.

The progress of an open transaction is the last row *handled* (sent or dead-lettered) as recorded
right after it was; a Ctrl-C (KeyboardInterrupt) may land between a send and that record, so it
aborts the open transaction instead of guessing. The CLI turns Ctrl-C and SIGTERM into `stop`,
which ends the loop between events, and then commits.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, KafkaException, Message

from eventlake.produce.exceptions import BadOptions, ExactlyOnceFailed, ProducerFailed
from eventlake.produce.producer import _Run
from eventlake.produce.progress import (
    FileIdentity,
    Progress,
    Replay,
    current_identity,
    mark_at,
    now_iso,
    plan_resume,
)
from eventlake.produce.progress_log import ensure_progress_topic, read_progress
from eventlake.produce.report import BadRow, ProduceReport
from eventlake.produce.sources import FileSource, ParquetSource, locate_row

if TYPE_CHECKING:
    import threading

    from eventlake.broker import TopicAdmin
    from eventlake.config import Settings
    from eventlake.produce.producer import ProduceOptions
    from eventlake.produce.producer import Progress as OnProgress
    from eventlake.produce.sources import Source

_QUIET = logging.getLogger("eventlake.produce.librdkafka")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False

_FENCED = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}


class TransactionalRun(_Run):
    await_first = False  # init_transactions() has the producer id before the first event

    def __init__(
        self,
        settings: Settings,
        admin: TopicAdmin,
        topic: str,
        src: Source,
        options: ProduceOptions,
        report: ProduceReport,
        progress: OnProgress | None,
        stop: threading.Event | None = None,
    ) -> None:
        if not isinstance(src, (FileSource, ParquetSource)):
            raise BadOptions(
                f"--exactly-once replays files; {src.name} is not one", hint="use a .csv, .jsonl or .parquet file"
            )
        ps = settings.produce
        self.path: Path = src.path
        self.replay = Replay.of(topic, src.path, options.replay_id)
        self.kind = src.kind if isinstance(src, FileSource) else "parquet"
        self.compressed = self.path.suffix.lower() == ".gz"
        self.progress_topic = ps.progress_topic
        self.max_records = ps.transaction_max_records
        self.max_s = ps.transaction_max_s
        self.txn_timeout_s = ps.transaction_timeout_s
        self.admin = admin
        self.identity: FileIdentity | None = None
        self.base: Progress | None = None  # where this run started (None: the top of the file)
        self.nothing_left = False
        self.open = False  # a transaction is begun and not yet committed or aborted
        self.in_txn = 0  # events handed over in the open transaction
        self.deadline = 0.0
        self.handled: tuple[int | None, int] = (None, 0)  # (line, offset) of the last row sent or dead-lettered
        super().__init__(settings, admin, topic, src, options, report, progress, stop)
        report.exactly_once = True
        self.after_send = self._after_send

    # ---- the producer

    def _config(self) -> dict[str, Any]:
        conf = super()._config()
        timeout_ms = int(self.txn_timeout_s * 1000)
        conf.update(
            {
                "transactional.id": self.replay.transactional_id,
                "enable.idempotence": True,
                "acks": "all",
                "transaction.timeout.ms": timeout_ms,
                "message.timeout.ms": min(int(conf["message.timeout.ms"]), timeout_ms),  # librdkafka requires it
            }
        )
        if self.settings.kafka.log_level == 0:  # librdkafka prints "FATAL ... fenced" at any level; we say it once
            conf["logger"] = _QUIET
        return conf

    def _delivered(self, err: KafkaError | None, msg: Message) -> None:
        # An acknowledged event is not yet delivered: its transaction may still abort. Commits count.
        if err is not None:
            self.report.failed += 1
            self.report.add_error(err.str())
            partition = msg.partition()
            if err.code() == KafkaError._MSG_TIMED_OUT and partition is not None:
                self.timed_out.add(partition)

    # ---- start, send, commit

    def _start(self) -> None:
        ensure_progress_topic(self.admin, self.progress_topic)
        try:
            self.producer.init_transactions(self.txn_timeout_s)
        except KafkaException as exc:
            raise ExactlyOnceFailed(
                f"cannot start a Kafka transaction: {_reason(exc)}",
                hint="--exactly-once needs a broker that allows transactions (and, with ACLs, WRITE on the "
                "transactional id and the progress topic)",
            ) from exc
        stored = read_progress(self.settings, self.progress_topic, self.replay.key, self.txn_timeout_s + 10)
        restart = self.options.restart
        self.identity = current_identity(self.path, None if restart else stored)
        plan = plan_resume(
            stored,
            self.identity,
            kind=self.kind,
            compressed=self.compressed,
            mark=lambda offset: mark_at(self.path, offset),
            restart=restart,
            name=self.src.name,
            topic=self.topic,
        )
        start = self.base = plan.start
        report = self.report
        if start is not None:
            report.resumed_at = start.where()
            report.previously_sent = start.records
            self.handled = (start.line, start.offset)
        if plan.nothing_left:
            self.nothing_left = True
            assert start is not None
            report.notes.append(
                f"{self.src.name} was sent to {self.topic} completely already ({start.records:,} "
                f"events): nothing to do; --restart sends it again"
            )
            report.expected = 0
            return
        if start is not None:
            if isinstance(self.src, ParquetSource):
                self.src.resume(start.offset)
            else:
                assert isinstance(self.src, FileSource)
                self.src.resume(start.line, start.offset, start.columns)
            if report.expected is not None:
                report.expected = max(report.expected - start.records - start.bad_rows, 0)
        self._begin()

    def _send_all(self) -> None:
        if not self.nothing_left:
            super()._send_all()

    def _begin(self) -> None:
        self.producer.begin_transaction()
        self.open = True
        self.in_txn = 0
        self.deadline = time.monotonic() + self.max_s

    def _after_send(self) -> None:
        position = self.src.position
        self.handled = (position.line, position.offset)
        self.in_txn += 1
        if self.in_txn >= self.max_records or time.monotonic() >= self.deadline:
            self._commit(done=False)
            self._begin()

    def _on_bad(self, bad: BadRow) -> None:
        super()._on_bad(bad)  # --strict raises here: the row is not handled
        position = self.src.position
        self.handled = (position.line, position.offset)

    def _progress(self, line: int | None, offset: int, done: bool) -> Progress:
        base = self.base
        assert self.identity is not None
        row_group = row_in_group = None
        if self.kind == "parquet":
            assert isinstance(self.src, ParquetSource)
            row_group, row_in_group = locate_row(self.src._file().metadata, offset)
        return Progress(
            kind=self.kind,
            compressed=self.compressed,
            file=self.identity,
            line=line or 0,
            offset=offset,
            records=(base.records if base else 0) + self.report.delivered + self.in_txn,
            bad_rows=(base.bad_rows if base else 0) + self.report.bad_rows_total,
            done=done,
            mark=None if self.kind == "parquet" or self.compressed else mark_at(self.path, offset)[0],
            columns=self.src.position.columns if self.kind == "csv" else None,
            row_group=row_group,
            row_in_group=row_in_group,
            extra={
                "topic": self.topic,
                "source": self.replay.path,
                "replay_id": self.replay.replay_id,
                "transactional_id": self.replay.transactional_id,
                "committed_at": now_iso(),
            },
        )

    def _commit(self, done: bool) -> None:
        """Flush, add the progress record, commit. Data first: the progress partition, which every
        exactly-once producer reads at start, then stays inside an open transaction only briefly."""
        position = self.src.position
        line, offset = (position.line, position.offset) if done else self.handled
        progress = self._progress(line, offset, done)
        producer = self.producer
        try:
            producer.flush(self.txn_timeout_s)
            producer.produce(self.progress_topic, progress.encode(), self.replay.key, partition=0)
            for attempt in range(3):
                try:
                    producer.commit_transaction(self.txn_timeout_s)
                    break
                except KafkaException as exc:
                    if not exc.args[0].retriable() or attempt == 2:
                        raise
        except KafkaException as exc:
            self._failed(exc)
        self.open = False
        self.report.delivered += self.in_txn
        self.report.transactions += 1
        self.in_txn = 0

    def _abort(self) -> None:
        if self.open and self.fatal is None:
            try:
                self.producer.abort_transaction(self.txn_timeout_s)
            except KafkaException:
                pass  # the coordinator aborts it after transaction.timeout.ms, or the next run's init does
        self.open = False
        self.in_txn = 0

    def _failed(self, exc: KafkaException) -> None:
        err = exc.args[0]
        if isinstance(err, KafkaError) and err.txn_requires_abort():
            self._abort()
            raise ExactlyOnceFailed(
                f"a transaction into {self.topic} was aborted: {err.str()}",
                hint=f"nothing after {self._committed_at()} is committed; run the same command "
                "again to go on from there",
            ) from exc
        self.open = False
        if isinstance(err, KafkaError) and err.code() in _FENCED:
            raise self._fenced() from exc
        raise ExactlyOnceFailed(
            f"the Kafka producer stopped: {_reason(exc)}",
            hint=f"run the same command again to go on from {self._committed_at()}",
        ) from exc

    def _fenced(self) -> ExactlyOnceFailed:
        return ExactlyOnceFailed(
            f"another --exactly-once producer of {self.src.name} into {self.topic} took over; this one stopped",
            hint="run one producer per file and topic, or give each its own --replay-id",
        )

    def _committed_at(self) -> str:
        base = self.base
        return "the top of the file" if base is None and not self.report.transactions else "the last commit"

    def _finish(self, clean: bool, strict: bool) -> None:
        if not self.open:
            return
        if self.fatal is not None or not clean or self.report.interrupted:
            self._abort()  # see the module's note on Ctrl-C
            if self.report.interrupted:
                self.report.add_error(
                    "interrupted: the open transaction was aborted; run again to resume after the last commit"
                )
            return
        self._commit(done=self.exhausted and not strict)
        if self.stop is not None and self.stop.is_set() and not self.exhausted:
            self.report.interrupted = True

    def execute(self) -> ProduceReport:
        try:
            return super().execute()
        except ProducerFailed as exc:
            if self.fatal is not None and self.fatal.code() in _FENCED and not isinstance(exc, ExactlyOnceFailed):
                raise self._fenced() from exc
            raise


def _reason(exc: KafkaException) -> str:
    err = exc.args[0] if exc.args else exc
    return err.str() if isinstance(err, KafkaError) else str(err)
