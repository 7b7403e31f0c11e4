"""Prometheus text-format metrics of a running sink, served on /metrics when --metrics-port is set."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from eventlake.sink.exceptions import SinkError


class SinkMetrics:
    """Counters and gauges per topic/partition, updated by the sink thread, read by the server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rows: dict[tuple[str, int], int] = {}
        self.files: dict[tuple[str, int], int] = {}
        self.bytes: dict[tuple[str, int], int] = {}
        self.dlq: dict[tuple[str, int], int] = {}
        self.flushes: dict[tuple[str, int], int] = {}
        self.next_offset: dict[tuple[str, int], int] = {}
        self.last_flush: dict[tuple[str, int], float] = {}
        self.max_event_time: dict[tuple[str, int], float] = {}
        self.flush_seconds_sum = 0.0
        self.assigned_partitions: set[tuple[str, int]] = set()
        self.breaks: dict[tuple[str, int, str], int] = {}  # (topic, partition, gap|reset) -> count
        self.lost_offsets: dict[tuple[str, int], int] = {}  # offsets Kafka deleted before they landed
        self.waiting_since: dict[str, float] = {}  # what the sink waits for -> since (epoch s)

    def offset_break(self, topic: str, partition: int, kind: str, lost: int) -> None:
        with self._lock:
            self.breaks[(topic, partition, kind)] = self.breaks.get((topic, partition, kind), 0) + 1
            self.lost_offsets[(topic, partition)] = self.lost_offsets.get((topic, partition), 0) + lost

    def waiting(self, what: str, since: float | None) -> None:
        with self._lock:
            if since is None:
                self.waiting_since.pop(what, None)
            else:
                self.waiting_since[what] = since

    def flushed(self, topic: str, partition: int, result: Any, seconds: float) -> None:
        k = (topic, partition)
        with self._lock:
            self.rows[k] = self.rows.get(k, 0) + result.rows
            self.files[k] = self.files.get(k, 0) + len(result.files)
            self.bytes[k] = self.bytes.get(k, 0) + result.bytes
            self.dlq[k] = self.dlq.get(k, 0) + result.dlq
            self.flushes[k] = self.flushes.get(k, 0) + 1
            if result.next_offset is not None:
                self.next_offset[k] = result.next_offset
            self.last_flush[k] = time.time()
            if result.max_event_time is not None:
                self.max_event_time[k] = max(result.max_event_time, self.max_event_time.get(k, 0.0))
            self.flush_seconds_sum += seconds

    def assigned(self, topic: str, partition: int, next_offset: int | None) -> None:
        with self._lock:
            self.assigned_partitions.add((topic, partition))
            if next_offset is not None:
                self.next_offset[(topic, partition)] = next_offset

    def revoked(self, topic: str, partition: int) -> None:
        with self._lock:
            self.assigned_partitions.discard((topic, partition))

    # Counters add up across the workers of one command; the last values (gauges) take the newest.
    _COUNTERS = ("rows", "files", "bytes", "dlq", "flushes", "breaks", "lost_offsets")
    _NEWEST = ("next_offset", "last_flush", "max_event_time")

    def snapshot(self) -> dict[str, Any]:
        """A copy of every value, small and picklable: what a worker sends its parent."""
        with self._lock:
            out: dict[str, Any] = {name: dict(getattr(self, name)) for name in (*self._COUNTERS, *self._NEWEST)}
            out["assigned_partitions"] = set(self.assigned_partitions)
            out["waiting_since"] = dict(self.waiting_since)
            out["flush_seconds_sum"] = self.flush_seconds_sum
        return out

    def add(self, snap: dict[str, Any], live: bool = True) -> None:
        """Fold a worker's snapshot in. A worker that has exited (`live` False) keeps its counters
        (so they never go down when it is restarted) but owns nothing and waits for nothing."""
        with self._lock:
            for name in self._COUNTERS:
                mine = getattr(self, name)
                for k, v in snap[name].items():
                    mine[k] = mine.get(k, 0) + v
            for name in self._NEWEST:
                mine = getattr(self, name)
                for k, v in snap[name].items():
                    mine[k] = max(mine.get(k, v), v)
            self.flush_seconds_sum += snap["flush_seconds_sum"]
            if live:
                self.assigned_partitions |= snap["assigned_partitions"]
                for what, since in snap["waiting_since"].items():
                    self.waiting_since[what] = min(self.waiting_since.get(what, since), since)

    def render(self) -> str:
        now = time.time()
        lines: list[str] = []

        def family(name: str, kind: str, help_: str, values: dict[tuple[str, int], float]) -> None:
            lines.append(f"# HELP {name} {help_}")
            lines.append(f"# TYPE {name} {kind}")
            for (topic, part), v in sorted(values.items()):
                lines.append(f'{name}{{topic="{_esc(topic)}",partition="{part}"}} {v}')

        with self._lock:
            family("eventlake_sink_rows_total", "counter", "Rows landed in the lake.", dict(self.rows))
            family("eventlake_sink_files_total", "counter", "Files written and recorded.", dict(self.files))
            family("eventlake_sink_bytes_total", "counter", "Bytes of files written.", dict(self.bytes))
            family("eventlake_sink_dlq_total", "counter", "Records sent to the dead letter topic.", dict(self.dlq))
            family("eventlake_sink_flushes_total", "counter", "Ledger entries recorded.", dict(self.flushes))
            family(
                "eventlake_sink_next_offset",
                "gauge",
                "Next offset the ledger expects.",
                {k: float(v) for k, v in self.next_offset.items()},
            )
            family(
                "eventlake_sink_last_flush_age_seconds",
                "gauge",
                "Seconds since the last flush.",
                {k: round(now - v, 3) for k, v in self.last_flush.items()},
            )
            family(
                "eventlake_sink_freshness_seconds",
                "gauge",
                "Now minus the newest event time landed.",
                {k: round(now - v, 3) for k, v in self.max_event_time.items()},
            )
            family(
                "eventlake_sink_assigned",
                "gauge",
                "1 for each partition this process owns.",
                dict.fromkeys(self.assigned_partitions, 1.0),
            )
            family(
                "eventlake_sink_lost_offsets_total",
                "counter",
                "Offsets Kafka deleted before they landed (recorded gaps).",
                dict(self.lost_offsets),
            )
            lines.append("# HELP eventlake_sink_offset_breaks_total Topic recreations (reset) and retention gaps.")
            lines.append("# TYPE eventlake_sink_offset_breaks_total counter")
            for (topic, part, kind), n in sorted(self.breaks.items()):
                lines.append(
                    f'eventlake_sink_offset_breaks_total{{topic="{_esc(topic)}",partition="{part}",kind="{kind}"}} {n}'
                )
            lines.append("# HELP eventlake_sink_waiting_seconds How long the sink has waited for an outage to end.")
            lines.append("# TYPE eventlake_sink_waiting_seconds gauge")
            for what, since in sorted(self.waiting_since.items()):
                lines.append(f'eventlake_sink_waiting_seconds{{for="{_esc(what)}"}} {round(now - since, 3)}')
            lines.append("# HELP eventlake_sink_flush_seconds_total Time spent flushing.")
            lines.append("# TYPE eventlake_sink_flush_seconds_total counter")
            lines.append(f"eventlake_sink_flush_seconds_total {self.flush_seconds_sum:.6f}")
        return "\n".join(lines) + "\n"


class GroupMetrics:
    """The one /metrics of `eventlake sink --workers N`: the workers' latest snapshots, merged per
    scrape, plus how many workers run and how often one was restarted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[int, dict[str, Any]] = {}  # worker slot -> its running process's snapshot
        self._exited: list[dict[str, Any]] = []  # last snapshots of processes that ended
        self.workers = 0
        self.restarts = 0

    def update(self, slot: int, snap: dict[str, Any]) -> None:
        with self._lock:
            self._live[slot] = snap

    def exited(self, slot: int) -> None:
        with self._lock:
            snap = self._live.pop(slot, None)
            if snap is not None:
                self._exited.append(snap)

    def merged(self) -> SinkMetrics:
        out = SinkMetrics()
        with self._lock:
            for snap in self._exited:
                out.add(snap, live=False)
            for snap in self._live.values():
                out.add(snap)
        return out

    def render(self) -> str:
        with self._lock:
            workers, restarts = self.workers, self.restarts
            owned = {slot: len(snap["assigned_partitions"]) for slot, snap in sorted(self._live.items())}
        return (
            self.merged().render()
            + "# HELP eventlake_sink_workers Worker processes running.\n# TYPE eventlake_sink_workers gauge\n"
            + f"eventlake_sink_workers {workers}\n"
            + "# HELP eventlake_sink_worker_partitions Partitions each worker owns.\n"
            + "# TYPE eventlake_sink_worker_partitions gauge\n"
            + "".join(f'eventlake_sink_worker_partitions{{worker="{slot}"}} {n}\n' for slot, n in owned.items())
            + "# HELP eventlake_sink_worker_restarts_total Workers restarted after dying.\n"
            + "# TYPE eventlake_sink_worker_restarts_total counter\n"
            + f"eventlake_sink_worker_restarts_total {restarts}\n"
        )


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsServer:
    """A tiny HTTP server thread: GET /metrics."""

    def __init__(self, metrics: SinkMetrics | GroupMetrics, host: str, port: int) -> None:
        self.metrics = metrics
        metrics_ref = metrics

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = metrics_ref.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise SinkError(
                f"cannot serve metrics on {host}:{port}: {exc}", hint="choose another --metrics-port"
            ) from exc
        self._thread = threading.Thread(target=self._server.serve_forever, name="sink-metrics", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
