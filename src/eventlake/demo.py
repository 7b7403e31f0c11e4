"""`eventlake demo`: the whole pipeline on one machine, watched live in the browser.

It starts (or reuses) the local broker, creates the topics, streams synthetic stock ticks
at a pace a person can watch (and the packaged stock sample once, into its own topic),
runs the sink into the lake, and serves the dashboard. The producers and the sink are
`eventlake` subprocesses, each in its own process group, so Ctrl-C in the terminal reaches
only the demo, which then stops them in order: producers first, then the sink (it flushes
and commits), then the broker if the demo started it. A second run continues the same lake:
the sink resumes from the lake's ledger.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import uvicorn

from eventlake.broker import TopicAdmin
from eventlake.broker.clients import check_reachable
from eventlake.broker.cluster import LocalCluster, open_local
from eventlake.broker.exceptions import BrokerUnreachable
from eventlake.config import Settings
from eventlake.dashboard.server import build_server, url_of
from eventlake.errors import EventlakeError

TICKS_TOPIC = "stock-ticks"
SAMPLE_TOPIC = "stock-prices"


class DemoError(EventlakeError):
    """A part of the demo failed to start or died while it ran."""


@dataclass(frozen=True)
class DemoOptions:
    duration_s: float | None = None  # None: until Ctrl-C
    rate: float = 200.0  # synthetic ticks per second
    partitions: int = 3
    config_file: Path | None = None  # passed on to the subprocesses


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    runs_forever: bool  # False: a one-off (the sample) that may exit 0

    def tail(self, lines: int = 3) -> str:
        try:
            text = self.log.read_text("utf-8", "replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(t.strip() for t in text[-lines:])


def _eventlake() -> list[str]:
    return [sys.executable, "-m", "eventlake.cli.main"]


class Demo:
    def __init__(self, settings: Settings, options: DemoOptions, say: Callable[[str], None]) -> None:
        self.settings = settings
        self.options = options
        self.say = say
        self.broker = open_local(settings.broker)  # one node, or the cluster of --nodes / the data dir
        self.started_broker = False
        self.bootstrap = settings.bootstrap_servers
        self.children: list[Child] = []
        self.failure: str | None = None
        self.log_dir = Path(settings.broker.data_dir).resolve().parent / "demo"
        lake = settings.lake
        self.lake = lake if "://" in lake else str(Path(lake).resolve())

    # --- the steps
    def run(self) -> None:
        """Run until Ctrl-C or the end of --duration; stop everything started; raise DemoError on a failure."""
        # Fails fast (port taken, non-loopback without token) before anything is started.
        server = build_server(self.settings)
        # SIGTERM stops the demo as Ctrl-C does: through the `finally` below, never leaving children behind.
        previous = signal.signal(signal.SIGTERM, _interrupt)
        if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
            # Started in the background (SIGINT ignored): children would inherit that and
            # could not be stopped cleanly with SIGINT.
            signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            self._broker()
            new_sample = self._topics()
            self._start_children(new_sample)
            self._serve(server)
        finally:
            try:
                self.stop()
            finally:
                signal.signal(signal.SIGTERM, previous)
        if self.failure:
            raise DemoError(self.failure, hint=f"logs in {self.log_dir}")

    def _broker(self) -> None:
        running = self.broker.running_state()
        if running is not None:
            self.bootstrap = running.bootstrap
            self.say(f"using the running broker at {self.bootstrap} (pid {running.pid})")
            return
        # A cluster's own bootstrap lists every node; the default setting names the first one.
        local = (self.broker.bootstrap, self.broker.bootstrap.split(",")[0])
        if self.settings.bootstrap_servers not in local:
            # Pointed at another Kafka: use it, never start a local one in its place.
            check_reachable(self.settings.bootstrap_servers, self.settings.kafka)
            self.say(f"using the Kafka cluster at {self.bootstrap}")
            return
        try:
            check_reachable(self.bootstrap, self.settings.kafka, timeout_s=2.0)
            self.say(f"using the Kafka broker already answering at {self.bootstrap}")
            return
        except BrokerUnreachable:
            pass
        nodes = f"a {self.broker.nodes}-node cluster, " if isinstance(self.broker, LocalCluster) else ""
        self.say(f"starting Apache Kafka ({nodes}data in {self.broker.data_dir}) ...")
        try:
            state, self.started_broker = self.broker.start()
        except BaseException:
            self.broker.stop()  # a start cut short (Ctrl-C) must not leave a JVM behind
            raise
        self.bootstrap = state.bootstrap
        self.say(f"broker up at {self.bootstrap}")

    def _topics(self) -> bool:
        admin = TopicAdmin(self.bootstrap, self.settings.kafka, timeout_s=self.settings.kafka.connect_timeout_s)
        # On a cluster every partition lives on three nodes (one on a single broker).
        rf = min(3, self.broker.nodes) if isinstance(self.broker, LocalCluster) else 1
        if admin.create(TICKS_TOPIC, self.options.partitions, replication_factor=rf, exist_ok=True):
            replicas = f", {rf} replicas each" if rf > 1 else ""
            self.say(f"created topic {TICKS_TOPIC} ({self.options.partitions} partitions{replicas})")
        return admin.create(SAMPLE_TOPIC, 1, replication_factor=rf, exist_ok=True)

    def _start_children(self, new_sample: bool) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        common = ["--bootstrap-servers", self.bootstrap]
        config = ["--config", str(self.options.config_file)] if self.options.config_file else []
        self._spawn(
            "sink",
            [*config, "sink", TICKS_TOPIC, SAMPLE_TOPIC, "--lake", self.lake, "--time-field", "ts", *common],
            runs_forever=True,
        )
        self._spawn(
            "ticks",
            [
                *config,
                "produce",
                TICKS_TOPIC,
                "--source",
                "synthetic:ticks",
                "--rate",
                f"{self.options.rate:g}",
                "--key",
                "symbol",
                *common,
            ],
            runs_forever=True,
        )
        if new_sample:  # once per lake's topic: a second run must not land the sample twice
            self._spawn(
                "sample",
                [*config, "produce", SAMPLE_TOPIC, "--source", "sample:stocks", "--key", "symbol", *common],
                runs_forever=False,
            )
        self.say(
            f"streaming {self.options.rate:g} ticks/s into {TICKS_TOPIC}; the sink lands them in {self.lake} "
            f"(logs in {self.log_dir})"
        )

    def _spawn(self, name: str, args: list[str], runs_forever: bool) -> None:
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [*_eventlake(), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own process group: the terminal's Ctrl-C reaches the demo only, which stops
                # the children in order (producers, then the sink).
                start_new_session=True,
            )
        self.children.append(Child(name, proc, log, runs_forever))

    def _serve(self, server: uvicorn.Server) -> None:
        deadline = None if self.options.duration_s is None else time.monotonic() + self.options.duration_s
        watcher = threading.Thread(target=self._watch, args=(server, deadline), name="demo-watch", daemon=True)
        watcher.start()
        try:
            server.run()
        except KeyboardInterrupt:
            pass  # uvicorn re-raises the Ctrl-C it handled; stopping is what we were asked to do
        server.should_exit = True
        watcher.join(5)

    def _watch(self, server: uvicorn.Server, deadline: float | None) -> None:
        announced = False
        while not server.should_exit:
            if not announced and server.started:
                announced = True
                base = url_of(self.settings)
                self.say(
                    f"dashboard at {base}dashboards/stocks  (pipeline: {base}pipeline, SQL: {base}query; "
                    "Ctrl-C stops the demo)"
                )
                print(url_of(self.settings), flush=True)
            for child in self.children:
                code = child.proc.poll()
                if code is not None and (child.runs_forever or code != 0):
                    self.failure = f"the {child.name} process exited with code {code}: {child.tail()}"
                    server.should_exit = True
                    return
            if deadline is not None and time.monotonic() >= deadline:
                self.say(f"--duration {self.options.duration_s:g} s is over")
                server.should_exit = True
                return
            time.sleep(0.25)

    # --- stopping
    def stop(self) -> None:
        """Producers first, then the sink, then the broker if this demo started it."""
        producers = [c for c in self.children if c.name != "sink"]
        sinks = [c for c in self.children if c.name == "sink"]
        for group in (producers, sinks):
            _stop_all(group)
        self.children = []
        if self.started_broker:
            self.say("stopping the broker ...")
            self.broker.stop()
            self.started_broker = False
        self.say("demo stopped")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _signal(child: Child, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.proc.pid, sig)


def _stop_all(children: list[Child], grace_s: float = 15.0) -> None:
    """SIGINT (the clean stop of `eventlake` commands), then SIGTERM, then SIGKILL; reaps every child."""
    for sig, wait_s in ((signal.SIGINT, grace_s), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        alive = [c for c in children if c.proc.poll() is None]
        if not alive:
            break
        for child in alive:
            _signal(child, sig)
        deadline = time.monotonic() + wait_s
        for child in alive:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(max(0.0, deadline - time.monotonic()))
    for child in children:
        # Anything the child itself started in its group goes too.
        _signal(child, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(5)


def run_demo(settings: Settings, options: DemoOptions, say: Callable[[str], None]) -> None:
    Demo(settings, options, say).run()
