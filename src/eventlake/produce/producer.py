"""The producer loop: records from a source, paced, encoded, keyed, into Kafka; every event accounted for.

One confluent-kafka Producer (idempotent, acks=all by default) sends asynchronously;
delivery reports are counted in a callback served by poll() every few hundred messages,
and the final flush waits for the rest. `sync` waits for each acknowledgement instead.
Bad rows never stop the run: they go to `<topic>.dlq` (or stop it with `strict`).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, get_args

import orjson
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from eventlake.broker import TopicAdmin, client_config
from eventlake.broker.clients import auth_failure
from eventlake.config import Settings
from eventlake.config.produce import ProduceCompression
from eventlake.errors import ConfigError, EventlakeError
from eventlake.produce.dlq import DeadLetters
from eventlake.produce.exceptions import BadOptions, BadRowError, ProducerFailed
from eventlake.produce.pacing import RatePacer, SpeedPacer
from eventlake.produce.records import JSON_OPTIONS, _default, encode_wide, epoch_ms, key_bytes
from eventlake.produce.replicas import not_enough_replicas
from eventlake.produce.report import BadRow, ProduceReport
from eventlake.produce.sources import Source, open_source
from eventlake.produce.topics import TimestampLimits, check_broker, ensure_topic, retention_ms, timestamp_limits

COMPRESSIONS: tuple[str, ...] = get_args(ProduceCompression)  # one list: the setting's type
PROGRESS_EVERY_S = 0.25

Progress = Callable[[ProduceReport], None]


@dataclass(frozen=True)
class ProduceOptions:
    """What to send and how; the CLI flags of `eventlake produce` one to one."""

    rate: float | None = None  # events per second; None: as fast as possible
    speed: float | None = None  # replay by time_field, this many times faster
    limit: int | None = None  # stop after this many events
    loop: bool = False  # start the source again at its end
    key: str | None = None  # field whose value is the message key
    time_field: str | None = None  # field whose value is the message timestamp
    sync: bool = False  # wait for each acknowledgement
    strict: bool = False  # first bad row: stop with an error instead of dead-lettering
    create_topic: bool = False
    partitions: int = 3  # of the topic --create-topic creates
    sample: float | None = None  # keep each record with this probability (seeded: repeatable)
    seed: int | None = None  # seeds sampling and synthetic data
    compression: str | None = None  # lz4 | zstd | gzip | snappy | none; None: settings
    exactly_once: bool = False  # transactions + committed progress: a run again resumes, never repeats
    restart: bool = False  # exactly-once: ignore the stored progress, send the file from the top
    replay_id: str | None = None  # exactly-once: a separate replay of the same file into the same topic

    def validate(self) -> None:
        if self.rate is not None and self.rate <= 0:
            raise BadOptions("--rate must be a positive number of events per second")
        if self.speed is not None and self.speed <= 0:
            raise BadOptions("--speed must be a positive factor")
        if self.rate is not None and self.speed is not None:
            raise BadOptions(
                "--rate and --speed do not go together", hint="pace by a fixed rate or by the data's own times"
            )
        if self.speed is not None and not self.time_field:
            raise BadOptions("--speed replays by the data's own times", hint="name their field with --time-field")
        if self.limit is not None and self.limit < 0:
            raise BadOptions("--limit must be 0 or more")
        if self.sample is not None and not 0 < self.sample <= 1:
            raise BadOptions("--sample is the fraction of records to keep, in (0, 1]")
        if self.partitions < 1:
            raise BadOptions("--partitions must be at least 1")
        if self.compression is not None and self.compression not in COMPRESSIONS:
            raise BadOptions(f"unknown compression {self.compression!r}", hint=f"use one of {', '.join(COMPRESSIONS)}")
        if not self.exactly_once:
            if self.restart or self.replay_id:
                raise BadOptions("--restart and --replay-id belong to --exactly-once", hint="add --exactly-once")
            return
        for flag, given in (("--loop", self.loop), ("--sample", self.sample is not None), ("--sync", self.sync)):
            if given:
                raise BadOptions(
                    f"--exactly-once does not go with {flag}",
                    hint="a transaction is the acknowledgement; a file is replayed once, whole",
                )


def produce(
    settings: Settings,
    topic: str,
    source: str | Iterable[dict[str, Any]],
    options: ProduceOptions | None = None,
    progress: Progress | None = None,
    *,
    stdin: IO[bytes] | None = None,
    stop: threading.Event | None = None,
) -> ProduceReport:
    """Send every record of `source` to `topic` and report what was delivered.

    Raises BrokerUnreachable, TopicNotFound, SourceError, BadOptions before sending
    anything; BadRowError (with `.report`) under `strict`. Ctrl-C (KeyboardInterrupt)
    ends the run: what is in flight is flushed and the report says so. Setting `stop`
    (from another thread: a demo, a notebook) ends an endless run the same way.
    """
    options = options or ProduceOptions()
    options.validate()
    src = open_source(source, seed=options.seed, infer_rows=settings.produce.csv_infer_rows, stdin=stdin)
    if options.loop and not src.reiterable:
        raise BadOptions(f"--loop cannot start {src.name} again", hint="loop over a file instead")
    check_broker(settings)
    admin = TopicAdmin(settings.bootstrap_servers, settings.kafka, timeout_s=settings.kafka.connect_timeout_s)
    ensure_topic(admin, topic, options)
    report = ProduceReport(topic=topic, source=src.name)
    if progress is not None:
        report.expected = expected_events(src, options)
    if options.exactly_once:
        from eventlake.produce.transactional import TransactionalRun  # only this mode pays for it

        run: _Run = TransactionalRun(settings, admin, topic, src, options, report, progress, stop)
    else:
        run = _Run(settings, admin, topic, src, options, report, progress, stop)
    if options.time_field:
        run.retention_ms = retention_ms(admin, topic)
        run.limits = timestamp_limits(settings, topic)
    return run.execute()


def expected_events(src: Source, options: ProduceOptions) -> int | None:
    """How many events the run will send, when that is known up front (for an ETA)."""
    if options.loop and options.limit is None:
        return None
    if src.endless:
        return options.limit
    size = src.size()
    if size is None:
        return options.limit
    if options.sample is not None:
        size = round(size * options.sample)
    if options.limit is not None and (options.loop or options.limit < size):
        return options.limit
    return size


def _sampled(records: Iterator[dict[str, Any]], fraction: float, rng: random.Random) -> Iterator[dict[str, Any]]:
    rand = rng.random
    for record in records:
        if rand() < fraction:
            yield record


class _Run:
    """One run's producer, dead letters, pacing and counts. Subclasses (exactly-once) hook in at
    `_config`, `_delivered`, `_start`, `after_send` (called after each event handed over) and `_finish`."""

    after_send: Callable[[], None] | None = None
    # A paced run waits for its first event's delivery before the clock starts (see _await_first).
    # The exactly-once run has its producer id before the first event (init_transactions).
    await_first = True

    def __init__(
        self,
        settings: Settings,
        admin: TopicAdmin,
        topic: str,
        src: Source,
        options: ProduceOptions,
        report: ProduceReport,
        progress: Progress | None,
        stop: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.stop = stop
        self.topic = topic
        self.src = src
        self.options = options
        self.report = report
        self.progress = progress
        self.fatal: KafkaError | None = None
        # A wrong password or a missing ACL: every message would time out as "failed" otherwise.
        self.auth: EventlakeError | None = None
        self.timed_out: set[int] = set()  # partitions whose messages timed out: asked why after the run
        self.retention_ms: int | None = None  # set when message timestamps come from the data
        self.limits = TimestampLimits()  # what the topic accepts as timestamps (read when they come from the data)
        self.exhausted = False  # the last pass read the source to its end
        self.producer = self._producer()
        ps = settings.produce
        self.dead_letters = DeadLetters(self.producer, admin, topic, report, ps.dlq_partitions, ps.report_bad_rows)
        self._next_progress = 0.0

    def _delivered(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.report.delivered += 1
        else:
            self.report.failed += 1
            self.report.add_error(err.str())
            partition = msg.partition()
            if err.code() == KafkaError._MSG_TIMED_OUT and partition is not None:
                self.timed_out.add(partition)

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self.fatal = err
        self.auth = self.auth or auth_failure(
            err, self.settings.bootstrap_servers, self.settings.kafka, doing="produce"
        )

    def _config(self) -> dict[str, Any]:
        ps = self.settings.produce
        conf = client_config(self.settings.bootstrap_servers, self.settings.kafka)
        conf.update(
            {
                "enable.idempotence": ps.idempotent,
                "acks": ps.acks,
                "compression.type": self.options.compression or ps.compression,
                "linger.ms": ps.linger_ms,
                "batch.size": ps.batch_bytes,
                "partitioner": ps.partitioner,
                "queue.buffering.max.messages": ps.queue_max_messages,
                "queue.buffering.max.kbytes": ps.queue_max_kbytes,
                "message.timeout.ms": int(ps.delivery_timeout_s * 1000),
                "on_delivery": self._delivered,
                "error_cb": self._on_error,
            }
        )
        return conf

    def _producer(self) -> Producer:
        try:
            return Producer(self._config())
        except KafkaException as exc:
            raise ConfigError(
                f"invalid producer settings: {_reason(exc)}",
                hint="check the produce and kafka sections of the settings",
            ) from exc
        except (TypeError, ValueError) as exc:  # a value of the wrong type, e.g. in kafka.extra
            raise ConfigError(
                f"invalid producer settings: {exc}", hint="check the produce and kafka sections of the settings"
            ) from exc

    def execute(self) -> ProduceReport:
        report = self.report
        started = time.monotonic()
        strict_error: BadRowError | None = None
        clean = False
        self._start()
        try:
            try:
                self._send_all()
            except KeyboardInterrupt:
                report.interrupted = True
            except BadRowError as exc:
                strict_error = exc
            except (KafkaException, SystemError) as exc:  # poll() raises a fatal error (fenced) too
                fatal = _fatal_of(exc)
                if fatal is None:
                    raise
                self.fatal = fatal
            clean = True
        finally:
            self._finish(clean, strict_error is not None)
            self._explain_timeouts()
            if self.stop is not None and self.stop.is_set() and not self.exhausted:
                report.interrupted = True  # asked to stop (Ctrl-C, SIGTERM) before the source ran out
            # A Ctrl-C between handing a message over and counting it: trust the delivery reports.
            report.sent = max(report.sent, report.delivered + report.failed)
            report.seconds = time.monotonic() - started
            if self.progress is not None:
                self.progress(report)
        if self.auth is not None:
            raise self.auth
        if self.fatal is not None:
            raise ProducerFailed(
                f"the Kafka producer stopped: {self.fatal.str()}",
                hint=f"{report.delivered} of {report.sent} events were delivered",
            )
        if strict_error is not None:
            strict_error.report = report
            raise strict_error
        return report

    def _explain_timeouts(self) -> None:
        """Name the cause librdkafka's "Message timed out" hides when it is too few in-sync replicas."""
        cause = not_enough_replicas(self.settings.bootstrap_servers, self.settings.kafka, self.topic, self.timed_out)
        if cause is not None:
            self.report.errors.insert(0, cause)

    def _start(self) -> None:
        """Before the first event (exactly-once: fence, find where to resume, begin a transaction)."""

    def _finish(self, clean: bool, strict: bool) -> None:
        """After the last event, whatever ended the run (exactly-once: commit or abort)."""
        self._flush()

    def _flush(self) -> None:
        timeout = self.settings.produce.flush_timeout_s
        try:
            left = self.producer.flush(timeout)
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
            self.report.interrupted = True
            left = len(self.producer)
        if left:
            self.report.add_error(f"{left} messages were still in flight after {timeout:g} s")

    def _on_bad(self, bad: BadRow) -> None:
        if self.options.strict:
            raise BadRowError(
                f"bad row at {bad.where()}: {bad.reason}",
                hint=f"--strict stops at the first bad row; without it bad rows go to {self.dead_letters.dlq_topic}",
            )
        self.dead_letters.send(bad)

    def _send_when_room(self, value: bytes, key: bytes | None, timestamp: int) -> bool:
        """Retry one message until librdkafka's queue has room; False if it cannot be sent at all."""
        while True:
            self.producer.poll(0.05)
            try:
                self.producer.produce(self.topic, value, key, timestamp=timestamp)
                return True
            except BufferError:
                continue
            except KafkaException as exc:
                self._cannot_send(exc, value)
                return False

    def _cannot_send(self, exc: KafkaException, value: bytes) -> None:
        """This one message cannot be sent (too large, ...): a bad row; unless the producer itself is done for."""
        err = exc.args[0] if exc.args else None
        if isinstance(err, KafkaError) and err.fatal():  # fenced, or an idempotence violation: not the row's fault
            self.fatal = err
            raise _Stop
        self._on_bad(BadRow(f"cannot be sent: {_reason(exc)}", self.src.name, self.src.position.line, value))

    def _warn_old(self, ms: int) -> None:
        days = (self.retention_ms or 0) / 86_400_000
        self.report.warnings.append(
            f"{self.options.time_field} {time.strftime('%Y-%m-%d', time.gmtime(ms / 1000))} is older than the "
            f"retention of {self.topic} ({days:g} days): Kafka deletes such messages within minutes; "
            f"use a topic with --retention-ms -1 (`eventlake topics create {self.topic} --retention-ms -1`) "
            "or leave out --time-field"
        )

    def _wait(self, delay: Callable[[], float], sent: int) -> None:
        """Wait until the pacer says the next event is due, serving delivery reports meanwhile.
        Within a millisecond of due is due: sleeping for less costs more than it keeps steady."""
        left = delay()
        while left > 0.001:
            self.producer.poll(min(left, PROGRESS_EVERY_S))
            self._tick(sent)
            left = delay()

    def _await_first(self) -> None:
        """Wait (serving reports) until the first event is delivered or failed.

        librdkafka's idempotent producer asks for its producer id only on a 500 ms timer when no
        broker connection is up yet, which is always the case right after it is created; until
        then it holds every message. A paced run would stamp half a second of events and then
        deliver them all late, which a live dashboard shows as a stale start. Waiting here moves
        that half second before the schedule begins, so every paced event goes out when it is made.
        """
        deadline = time.monotonic() + self.settings.produce.delivery_timeout_s
        while self.report.delivered + self.report.failed < 1 and time.monotonic() < deadline:
            self.producer.poll(0.01)
            self._tick(1)

    def _tick(self, sent: int) -> None:
        """Every few hundred messages or while waiting: progress; stop on a fatal producer error or when asked."""
        self.report.sent = sent
        if self.fatal is not None or self.auth is not None or (self.stop is not None and self.stop.is_set()):
            raise _Stop
        if self.progress is not None:
            now = time.monotonic()
            if now >= self._next_progress:
                self._next_progress = now + PROGRESS_EVERY_S
                self.progress(self.report)

    def _send_all(self) -> None:
        opts = self.options
        report = self.report
        topic = self.topic
        producer = self.producer
        send = producer.produce
        poll = producer.poll
        dumps = orjson.dumps
        default = _default
        json_options = JSON_OPTIONS
        key_field = opts.key
        time_field = opts.time_field
        limit = opts.limit
        sync = opts.sync
        flush_timeout = self.settings.produce.flush_timeout_s
        poll_every = self.settings.produce.poll_every
        rate = RatePacer(opts.rate) if opts.rate else None
        speed = SpeedPacer(opts.speed) if opts.speed else None
        rng = random.Random(f"sample-{opts.seed}") if opts.seed is not None else random.Random()
        on_bad = self._on_bad
        name = self.src.name
        position = self.src.position
        tick = self._tick
        after_send = self.after_send
        limits = self.limits
        latest_ok, earliest_ok = limits.latest_ok, limits.earliest_ok
        # Kafka deletes messages whose timestamp is older than retention.ms, at once.
        oldest_kept = time.time() * 1000 - self.retention_ms if self.retention_ms is not None else 0
        sent = 0
        if limit == 0:
            return
        try:
            while True:
                seen = 0
                records = self.src.records(on_bad)
                if opts.sample is not None:
                    records = _sampled(records, opts.sample, rng)
                for record in records:
                    seen += 1
                    try:
                        value = dumps(record, default=default, option=json_options)
                    except TypeError as exc:
                        try:  # integers beyond 64 bits, written digit for digit
                            value = encode_wide(record)
                        except TypeError:
                            on_bad(
                                BadRow(
                                    f"cannot encode as JSON: {exc}", name, position.line, repr(record)[:10_000].encode()
                                )
                            )
                            continue
                    key = key_bytes(record.get(key_field)) if key_field else None
                    timestamp = 0  # 0: the producer's clock
                    if time_field:
                        ms = epoch_ms(record.get(time_field))
                        if ms is None:
                            on_bad(
                                BadRow(
                                    f"field {time_field!r} is missing or not a timestamp", name, position.line, value
                                )
                            )
                            continue
                        if not earliest_ok <= ms <= latest_ok:  # maybe refused: dead-letter it alone
                            problem = limits.problem(ms, time_field, topic)
                            latest_ok, earliest_ok = limits.latest_ok, limits.earliest_ok
                            if problem is not None:
                                on_bad(BadRow(problem, name, position.line, value))
                                continue
                        timestamp = ms
                        if ms < oldest_kept:
                            self._warn_old(ms)
                            oldest_kept = 0
                    if rate is not None:
                        self._wait(rate.delay, sent)
                        rate.sent()
                    elif speed is not None:
                        event_s = timestamp / 1000
                        self._wait(lambda: speed.delay_for(event_s), sent)  # noqa: B023 (called at once)
                    try:
                        send(topic, value, key, timestamp=timestamp)
                    except BufferError:  # the local queue is full: let deliveries drain it
                        if not self._send_when_room(value, key, timestamp):
                            continue
                    except KafkaException as exc:  # this one message cannot be sent (too large, ...)
                        self._cannot_send(exc, value)
                        continue
                    sent += 1
                    if after_send is not None:  # before tick: a stop there must find this event accounted
                        after_send()
                    pacer = rate or speed
                    if sent == 1 and pacer is not None and self.await_first and not sync:
                        self._await_first()
                        pacer.restart()
                    if sync:
                        producer.flush(flush_timeout)
                        tick(sent)
                    elif not sent % poll_every:
                        poll(0)
                        tick(sent)
                    if sent == limit:
                        return
                self.exhausted = True
                if not opts.loop or self.src.endless or seen == 0:
                    return  # a pass that yields nothing would loop forever
                if speed is not None:
                    speed.new_pass()
        except _Stop:
            return
        finally:
            report.sent = sent


def _fatal_of(exc: BaseException) -> KafkaError | None:
    """The fatal Kafka error behind `exc`. A callback run while poll() holds one pending fails
    with SystemError, caused by it."""
    if isinstance(exc, SystemError):
        exc = exc.__cause__ or exc.__context__ or exc
    err = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    return err if isinstance(err, KafkaError) and err.fatal() else None


def _reason(exc: KafkaException) -> str:
    err = exc.args[0] if exc.args else exc
    return err.str() if isinstance(err, KafkaError) else str(err)


class _Stop(Exception):
    """Leave the hot loop (a fatal producer error, or `stop` was set); the caller flushes and reports."""
