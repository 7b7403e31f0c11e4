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
from typing import IO, TYPE_CHECKING, Any

import orjson
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from eventlake.broker import TopicAdmin, check_reachable, client_config
from eventlake.errors import ConfigError, EventlakeError
from eventlake.produce.dlq import DeadLetters
from eventlake.produce.exceptions import BadOptions, BadRowError, ProducerFailed, TopicMissing
from eventlake.produce.pacing import RatePacer, SpeedPacer
from eventlake.produce.records import JSON_OPTIONS, _default, key_bytes, to_epoch_ms
from eventlake.produce.report import BadRow, ProduceReport
from eventlake.produce.sources import Source, open_source

if TYPE_CHECKING:  # eventlake.config imports this package's settings: no import cycle at run time
    from eventlake.config import Settings

COMPRESSIONS = ("lz4", "zstd", "gzip", "snappy", "none")
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

    def validate(self) -> None:
        if self.rate is not None and self.rate <= 0:
            raise BadOptions("--rate must be a positive number of events per second")
        if self.speed is not None and self.speed <= 0:
            raise BadOptions("--speed must be a positive factor")
        if self.rate is not None and self.speed is not None:
            raise BadOptions("--rate and --speed do not go together",
                             hint="pace by a fixed rate or by the data's own times")
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

    Raises BrokerUnreachable, TopicMissing, SourceError, BadOptions before sending
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
    run = _Run(settings, admin, topic, src, options, report, progress, stop)
    if options.time_field:
        run.retention_ms = retention_ms(admin, topic)
    return run.execute()


def retention_ms(admin: TopicAdmin, topic: str) -> int | None:
    """The topic's time retention, None when unlimited or unknown."""
    try:
        value = int(admin.configs(topic).get("retention.ms", "-1"))
    except (EventlakeError, ValueError):
        return None
    return value if value >= 0 else None


def check_broker(settings: Settings) -> None:
    """Fail at once when nothing listens; otherwise within kafka.connect_timeout_s."""
    check_reachable(settings.bootstrap_servers, settings.kafka)


def ensure_topic(admin: TopicAdmin, topic: str, options: ProduceOptions) -> None:
    if admin.exists(topic):
        return
    if not options.create_topic:
        raise TopicMissing(
            f"topic {topic} does not exist",
            hint=f"create it with `eventlake topics create {topic} --partitions N`, "
                 "or pass --create-topic --partitions N",
        )
    admin.create(topic, partitions=options.partitions, exist_ok=True)


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
    """One run's producer, dead letters, pacing and counts."""

    def __init__(self, settings: Settings, admin: TopicAdmin, topic: str, src: Source, options: ProduceOptions,
                 report: ProduceReport, progress: Progress | None, stop: threading.Event | None = None) -> None:
        self.settings = settings
        self.stop = stop
        self.topic = topic
        self.src = src
        self.options = options
        self.report = report
        self.progress = progress
        self.fatal: KafkaError | None = None
        self.retention_ms: int | None = None  # set when message timestamps come from the data
        self.producer = self._producer()
        ps = settings.produce
        self.dead_letters = DeadLetters(self.producer, admin, topic, report, ps.dlq_partitions, ps.report_bad_rows)
        self._next_progress = 0.0

    def _producer(self) -> Producer:
        ps = self.settings.produce
        report = self.report

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is None:
                report.delivered += 1
            else:
                report.failed += 1
                report.add_error(err.str())

        def on_error(err: KafkaError) -> None:
            if err.fatal():
                self.fatal = err

        conf = client_config(self.settings.bootstrap_servers, self.settings.kafka)
        conf.update({
            "enable.idempotence": ps.idempotent,
            "acks": ps.acks,
            "compression.type": self.options.compression or ps.compression,
            "linger.ms": ps.linger_ms,
            "batch.size": ps.batch_bytes,
            "partitioner": ps.partitioner,
            "queue.buffering.max.messages": ps.queue_max_messages,
            "queue.buffering.max.kbytes": ps.queue_max_kbytes,
            "message.timeout.ms": int(ps.delivery_timeout_s * 1000),
            "on_delivery": on_delivery,
            "error_cb": on_error,
        })
        try:
            return Producer(conf)
        except KafkaException as exc:
            raise ConfigError(f"invalid producer settings: {_reason(exc)}",
                              hint="check the produce and kafka sections of the settings") from exc
        except (TypeError, ValueError) as exc:  # a value of the wrong type, e.g. in kafka.extra
            raise ConfigError(f"invalid producer settings: {exc}",
                              hint="check the produce and kafka sections of the settings") from exc

    def execute(self) -> ProduceReport:
        report = self.report
        started = time.monotonic()
        strict_error: BadRowError | None = None
        try:
            self._send_all()
        except KeyboardInterrupt:
            report.interrupted = True
        except BadRowError as exc:
            strict_error = exc
        finally:
            self._flush()
            # A Ctrl-C between handing a message over and counting it: trust the delivery reports.
            report.sent = max(report.sent, report.delivered + report.failed)
            report.seconds = time.monotonic() - started
            if self.progress is not None:
                self.progress(report)
        if self.fatal is not None:
            raise ProducerFailed(f"the Kafka producer stopped: {self.fatal.str()}",
                                 hint=f"{report.delivered} of {report.sent} events were delivered")
        if strict_error is not None:
            strict_error.report = report
            raise strict_error
        return report

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
                self._on_bad(BadRow(f"cannot be sent: {_reason(exc)}", self.src.name, self.src.position.line, value))
                return False

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

    def _tick(self, sent: int) -> None:
        """Every few hundred messages or while waiting: progress; stop on a fatal producer error or when asked."""
        self.report.sent = sent
        if self.fatal is not None or (self.stop is not None and self.stop.is_set()):
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
                        on_bad(BadRow(f"cannot encode as JSON: {exc}", name, position.line,
                                      repr(record)[:10_000].encode()))
                        continue
                    key = key_bytes(record.get(key_field)) if key_field else None
                    timestamp = 0  # 0: the producer's clock
                    if time_field:
                        ms = to_epoch_ms(record.get(time_field))
                        if ms is None:
                            on_bad(BadRow(f"field {time_field!r} is missing or not a timestamp", name, position.line,
                                          value))
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
                        on_bad(BadRow(f"cannot be sent: {_reason(exc)}", name, position.line, value))
                        continue
                    sent += 1
                    if sync:
                        producer.flush(flush_timeout)
                        tick(sent)
                    elif not sent % poll_every:
                        poll(0)
                        tick(sent)
                    if sent == limit:
                        return
                if not opts.loop or self.src.endless or seen == 0:
                    return  # a pass that yields nothing would loop forever
                if speed is not None:
                    speed.new_pass()
        except _Stop:
            return
        finally:
            report.sent = sent


def _reason(exc: KafkaException) -> str:
    err = exc.args[0] if exc.args else exc
    return err.str() if isinstance(err, KafkaError) else str(err)


class _Stop(Exception):
    """Leave the hot loop (a fatal producer error, or `stop` was set); the caller flushes and reports."""
