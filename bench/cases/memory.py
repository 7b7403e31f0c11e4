"""memory: peak RSS of eventlake's producer and sink (process tree, psutil every 50 ms).

The produce, sink and end-to-end cases already sample every process they run; this case
gathers eventlake's numbers, and measures them itself only when those cases did not run.
"""

from __future__ import annotations

from typing import Any

from bench.cases import produce as produce_case
from bench.cases import sink as sink_case
from bench.context import Bench
from bench.results import EVENTLAKE


def run(bench: Bench) -> None:
    ours = [r for r in bench.runs if r.tool == EVENTLAKE]
    if not any(r.name == "produce" for r in ours):
        produce_case.run_eventlake(bench, bench.sizes.produce_events)
    if not any(r.name == "sink_catchup" for r in ours):
        topic = sink_case.fill(bench, "memory", bench.sizes.sink_events)
        sink_case.run_eventlake(bench, topic, bench.sizes.sink_events)
        bench.broker.delete_topic(topic)
    ours = [r for r in bench.runs if r.tool == EVENTLAKE]
    producer: list[dict[str, Any]] = []
    sink: list[dict[str, Any]] = []
    for r in ours:
        if r.name == "produce":
            producer.append({"run": r.name, "events": r.events, "peak_rss_mb": r.peak_rss_mb})
        elif r.name.startswith("sink"):
            sink.append({"run": r.name, "events": r.events, "peak_rss_mb": r.peak_rss_mb})
        elif r.name.startswith("e2e"):
            sink.append({"run": r.name, "events": r.events, "peak_rss_mb": r.peak_rss_mb})
            producer.append({"run": r.name, "events": r.events, "peak_rss_mb": r.extra.get("producer_peak_rss_mb")})
    bench.sections["memory"] = {
        "method": "peak RSS of the process and its children, psutil sampled every 50 ms",
        "producer_peak_rss_mb": max((p["peak_rss_mb"] or 0 for p in producer), default=None),
        "sink_peak_rss_mb": max((s["peak_rss_mb"] or 0 for s in sink), default=None),
        "producer_runs": producer,
        "sink_runs": sink,
    }
