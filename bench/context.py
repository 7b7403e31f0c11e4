"""What every case shares: sizes, the broker, Kafka's tools, paths, and the collected runs."""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench import profiling
from bench.cluster import BenchBroker
from bench.kafka_tools import KafkaTools
from bench.peers.ticks import ticks
from bench.results import Run
from bench.venvs import BENCH_DIR, peer_python

WORK_DIR = BENCH_DIR / "work"
PEERS_DIR = BENCH_DIR / "peers"
RESULTS_DIR = BENCH_DIR / "results"


@dataclass(frozen=True)
class Sizes:
    produce_events: int
    kafka_python_sample: int  # kafka-python runs on this many and is extrapolated
    sink_events: int
    quix_events: int
    tutorial_sample: int  # the seed's consumer runs on this many and is extrapolated
    tutorial_s3_sample: int  # the same, writing to S3 as the seed does (one PUT per message)
    e2e_rates: tuple[int, ...]  # events/s; 0 means unthrottled
    e2e_seconds: float
    e2e_unthrottled_events: int
    query_rows: int
    query_repeats: int = 3
    dashboard_seconds: float = 30.0  # the live producer's run at 5,000 events/s
    dashboard_old_events: int = 50_000  # ticks of the past two days, landed first (~50 hour partitions)
    longrun_hours: int = 48  # the long-run case: hours x 3 Kafka partitions x flushes = small files (30,240)
    longrun_flushes_per_hour: int = 210


FULL = Sizes(
    produce_events=1_000_000,
    kafka_python_sample=200_000,
    sink_events=1_000_000,
    quix_events=1_000_000,
    tutorial_sample=5_000,
    tutorial_s3_sample=1_000,
    e2e_rates=(5_000, 20_000, 50_000, 0),
    e2e_seconds=30.0,
    e2e_unthrottled_events=1_000_000,
    query_rows=10_000_000,
)
QUICK = Sizes(
    produce_events=100_000,
    kafka_python_sample=20_000,
    sink_events=100_000,
    quix_events=100_000,
    tutorial_sample=2_000,
    tutorial_s3_sample=300,
    e2e_rates=(5_000,),
    e2e_seconds=15.0,
    e2e_unthrottled_events=0,
    query_rows=1_000_000,
    dashboard_seconds=12.0,
    dashboard_old_events=20_000,
    longrun_hours=12,
    longrun_flushes_per_hour=40,
)


def sizes_for(
    quick: bool,
    events: int | None = None,
    e2e_seconds: float | None = None,
    query_rows: int | None = None,
    e2e_rates: tuple[int, ...] | None = None,
) -> Sizes:
    """The preset; --events overrides the produce, sink and unthrottled end-to-end sizes."""
    sizes = QUICK if quick else FULL
    if events:
        sizes = replace(
            sizes,
            produce_events=events,
            sink_events=events,
            quix_events=events,
            kafka_python_sample=min(sizes.kafka_python_sample, events),
            tutorial_sample=min(sizes.tutorial_sample, events),
            tutorial_s3_sample=min(sizes.tutorial_s3_sample, events),
            e2e_unthrottled_events=events if sizes.e2e_unthrottled_events else 0,
        )
    if e2e_seconds:
        sizes = replace(sizes, e2e_seconds=e2e_seconds)
    if query_rows:
        sizes = replace(sizes, query_rows=query_rows)
    if e2e_rates:
        sizes = replace(sizes, e2e_rates=e2e_rates)
    return sizes


def clean_env() -> dict[str, str]:
    """The environment for eventlake's CLI: none of the user's EVENTLAKE_* settings leak in."""
    return {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}


@dataclass
class Bench:
    sizes: Sizes
    broker: BenchBroker
    tools: KafkaTools
    runs: list[Run] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sections: dict[str, Any] = field(default_factory=dict)
    work: Path = WORK_DIR
    profile: bool = False
    _payloads_written: bool = False

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    def eventlake(self, *args: object, profile_as: str | None = None) -> list[str]:
        """The eventlake CLI installed beside this interpreter; under py-spy when --profile and `profile_as`."""
        exe = Path(sys.executable).parent / "eventlake"
        cmd = [str(exe), *(str(a) for a in args)]
        if self.profile and profile_as:
            cmd = profiling.wrap(cmd, RESULTS_DIR / "profiles" / f"{profile_as}.raw")
        return cmd

    def profiled(self, name: str, run: Run) -> Run:
        """Attach the profile summary of the run profiled as `name` (when --profile is on)."""
        if self.profile:
            summary = profiling.report(name, RESULTS_DIR / "profiles" / f"{name}.raw")
            self.sections.setdefault("profiles", {})[name] = summary
            run.extra["profiled"] = True
        return run

    def peer(self, name: str, script: str, *args: object) -> list[str]:
        return [str(peer_python(name)), "-W", "ignore", str(PEERS_DIR / script), *(str(a) for a in args)]

    def fresh_dir(self, *parts: str) -> Path:
        path = self.work.joinpath(*parts)
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def group(self, label: str) -> str:
        return f"bench-{label}-{uuid.uuid4().hex[:8]}"

    def add(self, run: Run) -> Run:
        self.runs.append(run)
        print(
            f"[bench] {run.name:<14} {run.tool:<28} {run.events:>10,} events {run.seconds:8.2f} s "
            f"{run.events_per_s:>12,.0f}/s  rss {run.peak_rss_mb or 0:,.0f} MB {run.note}",
            flush=True,
        )
        return run

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def fail(self, where: str, exc: BaseException) -> None:
        """A step that could not measure: say so in the results and go on with the others."""
        text = f"{where} failed: {exc}"
        self.errors.append(text)
        print(f"[bench] {text}", flush=True)

    def payload_file(self, lines: int = 20_000) -> Path:
        """Tick JSON lines for ProducerPerformance's --payload-file (it picks one at random per record)."""
        path = self.work / "payloads.jsonl"
        if not self._payloads_written:  # once per run: the generator may have changed since the last
            self._payloads_written = True
            clock_start = 1_764_000_000.0
            step = iter(range(10**9))
            source = ticks(seed=11, clock=lambda: clock_start + next(step) * 0.001)
            with path.open("w") as fh:
                for _ in range(lines):
                    fh.write(json.dumps(next(source), separators=(",", ":")) + "\n")
        return path

    def topic_messages(self, topic: str) -> int:
        return self.broker.admin.describe(topic).messages
