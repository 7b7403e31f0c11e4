"""The produce-then-sink CLI runs that the `cluster` and `secure` cases time on two paths each.

Each run is `eventlake produce ... --output json` into a topic the case made, then `eventlake sink
... --until-idle 0.5` draining it into a fresh lake; both are checked against the broker's and the
lake's counts. The cases differ only in where they point the CLI (`bootstrap`, settings in `env`)
and in the names of what they record: a `Target` each.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from bench import procs
from bench.cases.sink import lake_rows, sink_summary_seconds
from bench.context import Bench, clean_env
from bench.results import Run
from eventlake.broker import TopicAdmin


@dataclass(frozen=True)
class Target:
    """One of the two paths a case compares: where the CLI connects, with which settings, and the names of its runs."""

    case: str  # "cluster": runs cluster_produce, cluster_sink
    tool: str
    bootstrap: str
    env: dict[str, str]  # client settings as eventlake reads them (never on argv)
    what: str  # the path in error messages: "(RF 3)", "over SASL_SSL"


def produce(bench: Bench, target: Target, admin: TopicAdmin, topic: str, events: int) -> Run:
    """`eventlake produce` of `events` synthetic ticks into `topic` (already made)."""
    args = ["produce", topic, "--source", "synthetic:ticks", "--limit", events, "--output", "json"]
    done = procs.run(
        bench.eventlake(*args, "--bootstrap-servers", target.bootstrap), env={**clean_env(), **target.env}
    ).check(f"eventlake produce {target.what}")
    landed = admin.describe(topic).messages
    if landed != events:
        raise RuntimeError(f"eventlake produce: {landed:,} of {events:,} events are in {topic}")
    summary = procs.last_json_line(done.stdout) or {}
    extra: dict[str, object] = {}
    if isinstance(summary.get("seconds"), (int, float)) and summary["seconds"]:
        extra["own_seconds"] = round(float(summary["seconds"]), 3)
        extra["own_events_per_s"] = round(events / float(summary["seconds"]), 1)
    return Run(
        f"{target.case}_produce",
        target.tool,
        events,
        done.seconds,
        done.peak_rss_mb,
        note="wall time of the CLI",
        extra=extra,
    )


def sink(bench: Bench, target: Target, topic: str, events: int, label: str) -> Run:
    """`eventlake sink` draining `topic` (holding `events`) into a fresh lake, which is removed after the count."""
    lake = bench.fresh_dir("lakes", f"{target.case}_{label}")
    args = ["sink", topic, "--lake", lake, "--group", bench.group(label), "--until-idle", 0.5]
    done = procs.run(
        bench.eventlake(*args, "--bootstrap-servers", target.bootstrap),
        env={**clean_env(), **target.env},
        timeout_s=3600,
    ).check(f"eventlake sink {target.what}")
    rows = lake_rows(lake)
    if rows != events:
        raise RuntimeError(f"eventlake sink: {rows:,} rows in the lake, expected {events:,}")
    shutil.rmtree(lake, ignore_errors=True)
    extra: dict[str, object] = {}
    own = sink_summary_seconds(done.stdout + done.stderr)
    if own:
        extra["own_seconds"] = round(own, 3)
        extra["own_events_per_s"] = round(events / own, 1)
    note = "whole process: start-up + catch-up + 0.5 s idle wait"
    return Run(f"{target.case}_sink", target.tool, events, done.seconds, done.peak_rss_mb, note=note, extra=extra)


def best(runs: list[Run]) -> Run:
    """The fastest of a path's rounds, its note listing every round's rate."""
    fastest = max(runs, key=lambda r: r.events_per_s)
    fastest.note += f"; best of {len(runs)}: " + ", ".join(f"{r.events_per_s:,.0f}/s" for r in runs)
    return fastest
