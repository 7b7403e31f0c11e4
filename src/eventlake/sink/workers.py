"""`eventlake sink --workers N`: N members of one consumer group from one command.

Each worker is a whole `Sink` in its own process (started with multiprocessing's `spawn`: a
fresh interpreter, never a fork of one that already runs librdkafka and Arrow threads), so N
workers use N cores. They are ordinary group members: the broker shares the partitions among
them and the ledger in the catalog keeps every flush exactly once, as for N separate commands.

The parent only supervises:
- it forwards SIGINT/SIGTERM to every worker and waits for their clean stop;
- a worker that dies without a word (SIGKILL, the OOM killer) is restarted with backoff (1 s,
  2 s, ... 30 s): its partitions go to the others after `sink.session_timeout_ms` meanwhile, so
  landing never stops. Five deaths of one worker within ten minutes fail the command;
- a worker that reports an error (a missing topic, a revoked ACL, an offset break, an outage it
  gave up on) stops all and the command fails with that error: a restart would meet it again;
- `--until-idle` is decided here, for the group as a whole: every partition of the topics landed
  up to its high watermark (the ledger says so) and nothing landed for that long. A worker alone
  cannot tell: its siblings' partitions, or a dead one's not yet reassigned, may still lag;
- reports and metrics come from the workers every half second over one pipe each; the parent
  adds them into one summary and serves one /metrics (`--metrics-port`).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from eventlake.broker.exceptions import TopicNotFound
from eventlake.config import Settings
from eventlake.errors import EventlakeError
from eventlake.sink.exceptions import SinkError
from eventlake.sink.metrics import GroupMetrics, MetricsServer
from eventlake.sink.report import SinkReport
from eventlake.sink.signals import stop_on_signals

log = logging.getLogger(__name__)

PROGRESS_S = 0.25  # how often a worker sends its counts (and the parent may check for idleness)
MAX_DEATHS = 5  # deaths of one worker within DEATH_WINDOW_S that fail the command
DEATH_WINDOW_S = 600.0
MAX_BACKOFF_S = 30.0
STOP_GRACE_S = 120.0  # a stopping worker flushes and records what it holds; then it is killed


def cores() -> int:
    """Cores this process may run on (a container's or taskset's limit, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def worker_count(setting: int | str) -> int:
    return cores() if setting == "auto" else int(setting)


@dataclass
class WorkerInfo:
    """One worker slot over the run: what its processes landed, and how often it was restarted."""

    slot: int
    report: SinkReport
    restarts: int = 0
    pids: list[int] = field(default_factory=list)


@dataclass
class GroupReport:
    """What `sink --workers N` landed: the sum (`total`, a SinkReport) and each worker's part."""

    total: SinkReport
    workers: list[WorkerInfo]
    reason: str = ""  # why it stopped: "idle" or "signal"

    @property
    def restarts(self) -> int:
        return sum(w.restarts for w in self.workers)


def run_workers(
    settings: Settings, topics: list[str], workers: int, stop: threading.Event | None = None
) -> GroupReport:
    """Run `workers` sink processes in one group until stopped (or idle, with sink.until_idle)."""
    return _Group(settings, topics, workers, stop or threading.Event()).run()


# ---- the worker process


def worker_settings(settings: Settings, index: int) -> Settings:
    """What worker `index` of a group runs with: one member of the parent's group, nothing shared.

    Compaction and retention run on worker 0 only: leases would keep the others from doing the
    same work twice, but N threads would still list the lake N times on every pass.
    """
    cfg = settings.sink
    sink = cfg.model_copy(
        update={
            "workers": 1,
            "metrics_port": None,  # the parent serves the one endpoint
            "until_idle": None,  # decided by the parent, for the whole group
            # Static members need one id each: two with the same id fence each other.
            "group_instance_id": f"{cfg.group_instance_id}-{index}" if cfg.group_instance_id else None,
        }
    )
    update: dict[str, Any] = {"sink": sink}
    if index != 0:
        update["maintenance"] = settings.maintenance.model_copy(update={"enabled": False})
    return settings.model_copy(update=update)


def _worker_main(slot: int, settings: Settings, topics: list[str], conn: Connection, parent: int, level: int) -> None:
    # The parent forwards Ctrl-C as SIGTERM; until the sink installs its own handlers (which take
    # both), a terminal's Ctrl-C must not end this process with a traceback half-way through start-up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=level, format=f"%(asctime)s %(levelname)s worker-{slot} %(name)s: %(message)s")
    from eventlake.sink.runner import Sink  # Kafka's client and Arrow: here, not in the parent

    lock = threading.Lock()  # the progress thread and the end share the pipe

    def send(message: tuple[Any, ...]) -> bool:
        with lock:
            try:
                conn.send(message)
                return True
            except (OSError, ValueError, RuntimeError):  # the parent is gone
                return False

    stop = threading.Event()
    try:
        sink = Sink(settings, topics, stop)
    except EventlakeError as exc:
        send(("error", exc.message, exc.hint, None, None))
        return
    except Exception as exc:
        log.exception("worker %d failed to start", slot)
        send(("error", f"worker {slot} failed to start: {type(exc).__name__}: {exc}", None, None, None))
        return
    done = threading.Event()

    def progress() -> None:
        while not done.wait(PROGRESS_S):
            # An orphan (the parent was SIGKILLed) stops cleanly instead of landing on unsupervised.
            if os.getppid() != parent or not send(("progress", _copy(sink.report), sink.metrics.snapshot())):
                log.warning("the parent process is gone: stopping")
                stop.set()
                return

    threading.Thread(target=progress, name="sink-progress", daemon=True).start()
    try:
        report = sink.run()
    except EventlakeError as exc:
        done.set()
        send(("error", exc.message, exc.hint, _copy(sink.report), sink.metrics.snapshot()))
        _exit(1)
    except Exception as exc:  # a bug: said once, by the parent, with what the worker got done
        done.set()
        log.exception("worker %d failed", slot)
        send(("error", f"worker {slot} failed: {type(exc).__name__}: {exc}", None, _copy(sink.report), None))
        _exit(1)
    done.set()
    send(("done", report, sink.metrics.snapshot()))
    _exit(0)


def _exit(code: int) -> None:
    """End now. The sink has recorded every flush, produced its dead letters synchronously and
    closed its consumer and catalog; the interpreter's teardown (librdkafka and Arrow objects'
    destructors) only added 4-5 s to every stop on the loaded 2-core machine."""
    logging.shutdown()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _copy(report: SinkReport) -> SinkReport:
    # The sink thread keeps counting while this one pickles: copy the dict it grows first.
    return replace(report, partitions=dict(report.partitions))


# ---- the parent


@dataclass
class _Slot:
    index: int
    info: WorkerInfo
    proc: BaseProcess | None = None
    conn: Connection | None = None
    current: SinkReport | None = None  # the running process's latest report
    finished: bool = False  # said it ended ("done" or "error")
    signalled: bool = False  # sent SIGTERM by the parent
    restart_at: float | None = None
    deaths: deque[float] = field(default_factory=deque)


class _Group:
    def __init__(self, settings: Settings, topics: list[str], workers: int, stop: threading.Event) -> None:
        if not topics:
            raise SinkError("no topic to sink", hint="name one or more topics: eventlake sink TOPIC...")
        self.settings = settings
        self.cfg = settings.sink
        self.topics = list(dict.fromkeys(topics))
        self.stop = stop
        self.ctx = mp.get_context("spawn")
        self.partitions = self._partitions()
        total = sum(len(p) for p in self.partitions.values())
        if workers > total:
            log.warning("%d workers asked, the topics have %d partitions: running %d", workers, total, total)
            workers = max(1, total)
        self.slots = [_Slot(i + 1, WorkerInfo(i + 1, SinkReport(self.topics))) for i in range(workers)]
        self.metrics = GroupMetrics()
        self.fatal: SinkError | None = None
        self.stopping = ""  # why: "signal", "idle" or "error"
        self.last_progress = time.monotonic()
        self.last_total = -1
        self.last_idle_check = 0.0
        self._checker: Any = None  # a Consumer for high watermarks, made on the first idle check

    # ---- lifecycle

    def run(self) -> GroupReport:
        started = time.monotonic()
        server = None
        if self.cfg.metrics_port is not None:
            server = MetricsServer(self.metrics, self.cfg.metrics_host, self.cfg.metrics_port)
            server.start()
        restore = stop_on_signals(self.stop, log, "stopping the workers")
        try:
            for slot in self.slots:
                self._start(slot)
            self._supervise()
        finally:
            self._stop_all("error")
            self._reap(time.monotonic() + STOP_GRACE_S)
            restore()
            if server is not None:
                server.stop()
            if self._checker is not None:
                with contextlib.suppress(Exception):
                    self._checker.close()
        if self.fatal is not None:
            raise self.fatal
        report = GroupReport(_sum([s.info.report for s in self.slots], self.topics), [s.info for s in self.slots])
        report.total.seconds = time.monotonic() - started
        report.reason = self.stopping
        return report

    def _supervise(self) -> None:
        while True:
            if self.stop.is_set():
                self._stop_all("signal")
            live = [s for s in self.slots if s.proc is not None]
            pending = [s for s in self.slots if s.restart_at is not None]
            if not live and (not pending or self.stopping):
                return
            self._poll(live, PROGRESS_S)
            now = time.monotonic()
            for slot in pending:
                if slot.restart_at is not None and now >= slot.restart_at and not self.stopping:
                    slot.restart_at = None
                    slot.info.restarts += 1
                    self.metrics.restarts += 1
                    self._start(slot)
            self._check_idle(now)

    def _poll(self, live: list[_Slot], timeout: float) -> None:
        """Take the workers' messages and exits, waiting up to `timeout` for the first."""
        pipes: list[Any] = [s.conn for s in live if s.conn is not None]
        ready = wait(pipes + [s.proc.sentinel for s in live if s.proc is not None], timeout=timeout)
        for slot in live:
            if slot.conn is not None and slot.conn in ready:
                self._receive(slot)
            if slot.proc is not None and slot.proc.sentinel in ready:
                self._ended(slot)

    def _start(self, slot: _Slot) -> None:
        settings = worker_settings(self.settings, slot.index)
        reader, writer = self.ctx.Pipe(duplex=False)
        level = logging.getLogger().getEffectiveLevel()
        proc = self.ctx.Process(
            target=_worker_main,
            args=(slot.index, settings, self.topics, writer, os.getpid(), level),
            name=f"eventlake-sink-worker-{slot.index}",
            daemon=False,  # a daemonic process may not start its own (the DLQ producer does not, but Arrow may)
        )
        with _without_main():
            proc.start()
        writer.close()  # the child holds its end: EOF here once it exits
        slot.proc, slot.conn, slot.current, slot.signalled, slot.finished = proc, reader, None, False, False
        slot.info.pids.append(proc.pid or 0)
        self.metrics.workers = sum(1 for s in self.slots if s.proc is not None)
        log.info("worker %d started (pid %s)", slot.index, proc.pid)

    def _receive(self, slot: _Slot) -> None:
        assert slot.conn is not None
        try:
            while slot.conn.poll():
                self._message(slot, slot.conn.recv())
        except (EOFError, OSError):
            pass  # it exited: its sentinel says so

    def _message(self, slot: _Slot, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "progress":
            _, report, snap = message
            slot.current = report
            self.metrics.update(slot.index, snap)
            total = sum(
                s.info.report.rows + s.info.report.dlq + ((s.current.rows + s.current.dlq) if s.current else 0)
                for s in self.slots
            )
            if total != self.last_total:
                self.last_total, self.last_progress = total, time.monotonic()
        elif kind == "done":
            _, report, snap = message
            slot.current = report
            self.metrics.update(slot.index, snap)
            slot.finished = True
        elif kind == "error":
            _, text, hint, report, snap = message
            if report is not None:
                slot.current = report
            if snap is not None:
                self.metrics.update(slot.index, snap)
            slot.finished = True
            if self.fatal is None:
                self.fatal = SinkError(text, hint=hint)
            self._stop_all("error")

    def _ended(self, slot: _Slot) -> None:
        assert slot.proc is not None
        self._receive(slot)  # its last words come before its exit
        slot.proc.join(5)
        code = slot.proc.exitcode
        log.info("worker %d exited (code %s)", slot.index, code)
        if slot.conn is not None:
            slot.conn.close()
        slot.proc, slot.conn = None, None
        if slot.current is not None:
            slot.info.report = _sum([slot.info.report, slot.current], self.topics)
            slot.current = None
        self.metrics.exited(slot.index)
        self.metrics.workers = sum(1 for s in self.slots if s.proc is not None)
        if self.stopping or (slot.finished and self.fatal is not None):
            return
        # Died (or was stopped on its own, from outside the command): the group wants it back.
        slot.finished = False
        how = f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
        now = time.monotonic()
        slot.deaths.append(now)
        while slot.deaths and now - slot.deaths[0] > DEATH_WINDOW_S:
            slot.deaths.popleft()
        if len(slot.deaths) >= MAX_DEATHS:
            self.fatal = SinkError(
                f"sink worker {slot.index} died {len(slot.deaths)} times within {DEATH_WINDOW_S / 60:.0f} minutes "
                f"(last: {how})",
                hint="see the log above; `eventlake sink --workers 1 ...` shows a failing worker's error directly",
            )
            self._stop_all("error")
            return
        backoff = min(MAX_BACKOFF_S, 2.0 ** (len(slot.deaths) - 1))
        log.warning("sink worker %d (%s) ended unexpectedly: restarting in %.0fs", slot.index, how, backoff)
        slot.restart_at = now + backoff

    def _stop_all(self, why: str) -> None:
        if not self.stopping:
            self.stopping = why
            log.info("stopping %d workers (%s)", sum(1 for s in self.slots if s.proc is not None), why)
        for slot in self.slots:
            slot.restart_at = None
            if slot.proc is not None and slot.proc.is_alive() and not slot.signalled:
                with contextlib.suppress(OSError):
                    slot.proc.terminate()  # SIGTERM: the worker flushes, records, leaves the group
                slot.signalled = True

    def _reap(self, deadline: float) -> None:
        """Wait for stopping workers (their last reports included); kill what outlives the deadline."""
        while any(s.proc is not None for s in self.slots):
            live = [s for s in self.slots if s.proc is not None]
            self._poll(live, max(0.0, min(1.0, deadline - time.monotonic())))
            if time.monotonic() > deadline:
                for slot in live:
                    if slot.proc is not None and slot.proc.is_alive():
                        log.warning("worker %d did not stop in %.0fs: killing it", slot.index, STOP_GRACE_S)
                        slot.proc.kill()
                deadline = time.monotonic() + 10

    # ---- the group's view of Kafka and the ledger

    def _partitions(self) -> dict[str, list[int]]:
        from eventlake.broker import TopicAdmin

        s = self.settings
        admin = TopicAdmin(s.bootstrap_servers, s.kafka, timeout_s=s.kafka.connect_timeout_s)
        existing = set(admin.names(include_internal=True))
        out = {}
        for t in self.topics:
            if t not in existing:
                raise TopicNotFound(
                    f"topic {t} does not exist", hint=f"create it with `eventlake topics create {t}` or check the name"
                )
            out[t] = [p.partition for p in admin.describe(t).partitions]
        return out

    def _check_idle(self, now: float) -> None:
        idle_s = self.cfg.until_idle
        if idle_s is None or self.stopping or now - self.last_progress < idle_s:
            return
        if now - self.last_idle_check < PROGRESS_S:
            return
        self.last_idle_check = now
        try:
            caught_up = self._caught_up()
        except Exception as exc:  # the broker or catalog busy: ask again in a second
            log.info("idle check: %s", exc)
            return
        if caught_up:
            log.info("the group caught up and was idle for %.1fs: stopping", idle_s)
            self._stop_all("idle")

    def _caught_up(self) -> bool:
        """Every partition of the topics landed (ledger) up to its high watermark, right now."""
        from confluent_kafka import Consumer, TopicPartition

        from eventlake.broker.clients import client_config
        from eventlake.catalog import open_catalog
        from eventlake.sink.offsets import ledger_topic

        s = self.settings
        if self._checker is None:
            conf = client_config(s.bootstrap_servers, s.kafka)
            # Never subscribes: the group id is only required by the client, no group is joined.
            conf.update(
                {"group.id": f"{self.cfg.group}-idle-check", "enable.auto.commit": False, "enable.partition.eof": True}
            )
            self._checker = Consumer(conf)
        consumer = self._checker
        iceberg = None  # Iceberg tables keep their offsets in their snapshots, not in the ledger
        if self.cfg.table_format == "iceberg":
            from eventlake.sink.iceberg_commit import landed_offsets

            iceberg = landed_offsets(s, self.topics)
        with open_catalog(s) as store:
            for topic in self.topics:
                md = consumer.list_topics(topic, timeout=5).topics.get(topic)
                parts = sorted(md.partitions) if md is not None and md.error is None else []
                if not parts:
                    return False
                lt = ledger_topic(topic, store.incarnation(topic)[0])
                for p in parts:
                    low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5, cached=False)
                    nxt = store.ledger_next_offset(lt, p) if iceberg is None else iceberg.get((lt, p))
                    start = nxt if nxt is not None else low
                    if start < high and not _nothing_to_read(consumer, topic, p, start):
                        return False
        return True


def _nothing_to_read(consumer: Any, topic: str, partition: int, start: int) -> bool:
    """True when no committed message lies at or after `start`: what is left below the high
    watermark is transaction markers (a commit or abort takes an offset of its own) or aborted
    records, which a read_committed sink never lands. Asked of Kafka, not guessed from offsets."""
    from confluent_kafka import KafkaError, TopicPartition

    consumer.assign([TopicPartition(topic, partition, start)])
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            err = msg.error()
            return err is not None and err.code() == KafkaError._PARTITION_EOF
        return False  # no answer in time: not known to be caught up, ask again later
    finally:
        consumer.unassign()


@contextlib.contextmanager
def _without_main() -> Iterator[None]:
    """Start a spawned worker without re-running the parent's `__main__` in it. spawn imports the
    parent's main module (the `eventlake` script: Typer, Rich and every command) into each child
    for pickled functions defined there; the worker's function lives in this module, and those
    imports cost each worker ~0.5 CPU-s, on a machine where landing 1M events takes ~3."""
    main = sys.modules.get("__main__")
    names = ("__file__", "__spec__")
    saved: dict[str, Any] = {k: main.__dict__[k] for k in names if main is not None and k in main.__dict__}
    try:
        if main is not None:
            main.__dict__.pop("__file__", None)
            main.__dict__["__spec__"] = None
        yield
    finally:
        if main is not None:
            main.__dict__.update(saved)
            if "__spec__" not in saved:
                main.__dict__.pop("__spec__", None)


def _sum(reports: list[SinkReport], topics: list[str]) -> SinkReport:
    out = SinkReport(list(topics))
    starts: list[float] = []
    ends: list[float] = []
    for r in reports:
        out.rows += r.rows
        out.files += r.files
        out.bytes += r.bytes
        out.dlq += r.dlq
        out.flushes += r.flushes
        out.conflicts += r.conflicts
        out.seconds = max(out.seconds, r.seconds)
        for k, v in r.partitions.items():
            out.partitions[k] = out.partitions.get(k, 0) + v
        if r.busy_from is not None:
            starts.append(r.busy_from)
            ends.append(r.busy_from + r.busy_seconds)
    if starts:
        # Busy time of the group: the first message any worker got to the last flush any recorded.
        out.busy_from = min(starts)
        out.busy_seconds = max(ends) - out.busy_from
    return out


def topic_rows(report: SinkReport) -> dict[str, int]:
    """Rows landed per topic, from the report's "topic[p]" counts."""
    out: dict[str, int] = {}
    for key, rows in report.partitions.items():
        topic = key.rsplit("[", 1)[0]
        out[topic] = out.get(topic, 0) + rows
    return out
