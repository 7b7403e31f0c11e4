"""dashboard: how far a live panel trails the lake at 5,000 events/s, and how many files a refresh opens.

Set-up: a fresh topic and lake; `eventlake sink --time-field ts` running; first, ticks stamped
over the past two days (from a JSONL file through `eventlake produce`) land in ~50 old hour
partitions, so the table is large and a refresh has partitions to skip. Then `eventlake
dashboard` (a subprocess) serves the built-in `stocks` dashboard pointed at this table, the bench
subscribes to its live stream (`GET /api/stream/stocks`, Server-Sent Events), and `eventlake
produce --source synthetic:ticks --rate 5000` runs.

Lag: at each push of the `latest` panel (the latest-prices table, whose rows carry each symbol's
newest tick time), the newest event time landed in the catalog (the ledger's max event time,
read when the push arrives) minus the newest tick time the panel shows.

Files: each stocks panel's SQL runs once more through `eventlake.query.connect(settings)` under
EXPLAIN ANALYZE; DuckDB counts the files each table scan opened ("Total Files Read"), compared
with the table's files in the catalog and the files of the partitions the panel's window needs.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from bench import procs
from bench.cases.e2e import wait_group_assigned
from bench.context import Bench, clean_env
from bench.dashboard_metrics import files_read, in_window, newest_landed, newest_shown, old_ticks, sse_events
from bench.latency import summarize
from bench.results import EVENTLAKE, Run

RATE = 5_000
DASHBOARD = "stocks"
PANEL = "latest"  # its `last_tick` column is each symbol's newest tick time
TIME_COLUMN = "last_tick"
# The pre-landed ticks span these hours before now: none falls in a panel's window (15 minutes at most).
OLD_FROM_H, OLD_TO_H = 48.0, 2.0
METHOD = (
    f"`eventlake dashboard` serving the built-in {DASHBOARD} dashboard, subscribed over SSE; at each push "
    f"of panel `{PANEL}`: newest event time landed in the catalog (ledger) when the push arrives - newest "
    f"`{TIME_COLUMN}` in the pushed rows. Files: each panel's SQL under EXPLAIN ANALYZE through "
    "eventlake.query.connect (DuckDB's Total Files Read per scan) vs the table's files in the catalog"
)


class PanelWatcher(threading.Thread):
    """Follow the dashboard's live stream; at each push of PANEL, record (arrival, newest landed, newest shown)."""

    def __init__(self, url: str, settings: Any, topic: str) -> None:
        super().__init__(daemon=True)
        self.url, self.settings, self.topic = url, settings, topic
        self.samples: list[tuple[float, float, float]] = []
        self.pushes: Counter[str] = Counter()
        self.panel_errors: list[str] = []
        self.error: str | None = None
        self.connected = threading.Event()
        self._halt = threading.Event()

    def run(self) -> None:
        from eventlake.catalog import open_catalog

        try:
            with (
                open_catalog(self.settings) as store,
                httpx.Client(base_url=self.url, timeout=30) as http,
                http.stream("GET", f"/api/stream/{DASHBOARD}") as response,
            ):
                response.raise_for_status()
                self.connected.set()
                for event, data in sse_events(response.iter_lines()):
                    if self._halt.is_set():
                        return
                    if event == "panel":
                        self._push(data, store)
        except Exception as exc:
            if not self._halt.is_set():
                self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.connected.set()

    def _push(self, data: dict[str, Any], store: Any) -> None:
        self.pushes[data.get("panel", "?")] += 1
        if data.get("error"):
            self.panel_errors.append(f"{data.get('panel')}: {data['error']}")
            return
        if data.get("panel") != PANEL:
            return
        shown = newest_shown(data.get("columns", []), data.get("rows", []), TIME_COLUMN)
        if shown is None:
            return  # nothing in the window yet (the old ticks are hours old)
        arrived = time.time()
        landed = newest_landed(store.ledger_summary(arrived), self.topic)
        if landed is not None:
            self.samples.append((arrived, landed, shown))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def stocks_dashboard_for(table: str) -> str:
    """The built-in stocks dashboard as shipped, reading `table` instead of stock_ticks."""
    text = (resources.files("eventlake.dashboard.builtin") / "stocks.toml").read_text("utf-8")
    return text.replace("stock_ticks", table)


def write_old_ticks(path: Path, n: int, now: float) -> None:
    with path.open("wb") as fh:
        for tick in old_ticks(n, now - OLD_FROM_H * 3600, now - OLD_TO_H * 3600):
            fh.write(orjson.dumps(tick) + b"\n")


def landed_rows(settings: Any, topic: str) -> int:
    from eventlake.catalog import open_catalog
    from eventlake.catalog.store import catalog_path

    if not catalog_path(settings).is_file():  # the sink creates it at its first flush
        return 0
    with open_catalog(settings) as store:
        return sum(int(r["rows"] or 0) for r in store.ledger_summary(time.time()) if r["topic"] == topic)


def wait_landed(settings: Any, topic: str, rows: int, sink: procs.Running, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    landed = landed_rows(settings, topic)
    while landed < rows and time.monotonic() < deadline and sink.alive():
        time.sleep(0.2)
        landed = landed_rows(settings, topic)
    return landed


def wait_healthy(url: str, server: procs.Running, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and server.alive():
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the dashboard did not answer {url}/api/health within {timeout_s:.0f} s")


def files_per_refresh(settings: Any, table: str) -> dict[str, Any]:
    """Per panel: files each scan opened (EXPLAIN ANALYZE), the files its window needs; the table's files."""
    from eventlake.catalog import open_catalog
    from eventlake.dashboard.params import render_sql, resolve
    from eventlake.dashboard.specs import DashboardLibrary
    from eventlake.query import connect
    from eventlake.types import TableRef

    dash = DashboardLibrary(settings.dashboard).get(DASHBOARD)
    values = resolve(dash, {})
    with open_catalog(settings) as store:
        files = store.list_files(TableRef(settings.database, table))
    now = time.time()
    by_panel: dict[str, Any] = {}
    engine = connect(settings)
    try:
        for panel in dash.panels:
            sql, params = render_sql(panel, values, now)
            plan = engine.execute(f"EXPLAIN ANALYZE {sql}", params=params)
            scans = files_read("\n".join(str(cell) for row in plan.rows for cell in row))
            needed = sum(1 for f in files if in_window(f.partition, now - panel.window))
            by_panel[panel.id] = {"scans": scans, "files_needed": needed}
    finally:
        engine.close()
    # The headline: the most files one table scan of any panel opened (a CTE read twice is two scans).
    worst = max(by_panel, key=lambda p: max(by_panel[p]["scans"], default=-1))
    return {
        "files_read": max(by_panel[worst]["scans"], default=None),
        "files_needed": by_panel[worst]["files_needed"],
        "files_total": len(files),
        "files_panel": worst,
        "by_panel": by_panel,
    }


def run(bench: Bench) -> None:
    from eventlake.config import load_settings
    from eventlake.runtime import free_port
    from eventlake.types import table_name_for_topic

    seconds, old_events = bench.sizes.dashboard_seconds, bench.sizes.dashboard_old_events
    live_events = int(RATE * seconds)
    topic = bench.broker.fresh_topic("dashboard")
    table = table_name_for_topic(topic)
    work = bench.fresh_dir("dashboard")
    lake, dash_dir = work / "lake", work / "dashboards"
    dash_dir.mkdir()
    (dash_dir / f"{DASHBOARD}.toml").write_text(stocks_dashboard_for(table))
    settings = load_settings(
        overrides={
            "lake": str(lake),
            "bootstrap_servers": bench.bootstrap,
            "dashboard": {"dashboards_dir": str(dash_dir)},
        }
    )
    old_file = work / "old-ticks.jsonl"
    write_old_ticks(old_file, old_events, time.time())
    group = bench.group("dashboard")
    sink = procs.Running(
        bench.eventlake(
            "sink",
            topic,
            "--lake",
            lake,
            "--group",
            group,
            "--time-field",
            "ts",
            "--bootstrap-servers",
            bench.bootstrap,
        ),
        env=clean_env(),
    )
    server: procs.Running | None = None
    watcher: PanelWatcher | None = None
    try:
        if not wait_group_assigned(bench.bootstrap, group):
            bench.note("dashboard: the sink's group was not stable after 30 s; started the producers anyway")
        procs.run(
            bench.eventlake(
                "produce", topic, "--source", old_file, "--output", "json", "--bootstrap-servers", bench.bootstrap
            ),
            env=clean_env(),
        ).check("eventlake produce (old ticks)")
        if wait_landed(settings, topic, old_events, sink, 180) < old_events:
            raise RuntimeError(f"the sink did not land the {old_events:,} old ticks within 180 s")

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        # A 1 s keep-alive lets the watcher notice it should stop even when no panel changes.
        server = procs.Running(
            bench.eventlake(
                "dashboard",
                "--port",
                port,
                "--lake",
                lake,
                "--dashboards-dir",
                dash_dir,
                "--bootstrap-servers",
                bench.bootstrap,
            ),
            env={**clean_env(), "EVENTLAKE_DASHBOARD__STREAM_HEARTBEAT_S": "1"},
        )
        wait_healthy(url, server)
        watcher = PanelWatcher(url, settings, topic)
        watcher.start()
        watcher.connected.wait(30)
        producer = procs.run(
            bench.eventlake(
                "produce",
                topic,
                "--source",
                "synthetic:ticks",
                "--limit",
                live_events,
                "--rate",
                RATE,
                "--output",
                "json",
                "--bootstrap-servers",
                bench.bootstrap,
            ),
            env=clean_env(),
            timeout_s=seconds * 10 + 300,
        )
        producer.check("eventlake produce (live ticks)")
        landed = wait_landed(settings, topic, old_events + live_events, sink, 120)
        time.sleep(4)  # two more refreshes of the panel: the last flush reaches the screen
        watcher.stop()
        files = files_per_refresh(settings, table)
    finally:
        if watcher is not None:
            watcher.stop()
        server_done = server.stop() if server is not None else None
        sink.stop()
        bench.broker.delete_topic(topic)
    assert watcher is not None  # set before anything that can fail without raising
    if watcher.error:
        raise RuntimeError(f"dashboard: the live stream failed: {watcher.error}")
    record(bench, watcher, files, live_events, landed - old_events, producer, server_done)


def record(
    bench: Bench,
    watcher: PanelWatcher,
    files: dict[str, Any],
    live_events: int,
    live_landed: int,
    producer: procs.Finished,
    server: procs.Finished | None,
) -> None:
    if live_landed != live_events:
        bench.note(f"dashboard: the sink landed {live_landed:,} of {live_events:,} live ticks")
    for error in dict.fromkeys(watcher.panel_errors):
        bench.note(f"dashboard: panel error: {error}")
    lags = np.array([(landed - shown) * 1000.0 for _, landed, shown in watcher.samples])
    ages = np.array([(arrived - shown) * 1000.0 for arrived, _, shown in watcher.samples])
    lag, age = summarize(lags), summarize(ages)
    if not watcher.samples:
        bench.note(f"dashboard: no push of panel {PANEL} showed data")
    summary = procs.last_json_line(producer.stdout) or {}
    own = summary.get("seconds")
    span = float(own) if isinstance(own, (int, float)) and own else producer.seconds
    rss = server.peak_rss_mb if server is not None else None
    bench.sections["dashboard"] = {
        "rate": RATE,
        "panel": PANEL,
        "p50_ms": lag["p50_ms"],
        "p95_ms": lag["p95_ms"],
        "max_ms": lag["max_ms"],
        "pushes": len(watcher.samples),
        "age_p50_ms": age["p50_ms"],
        "age_p95_ms": age["p95_ms"],
        "pushes_by_panel": dict(watcher.pushes),
        "events": live_landed,
        "files_read": files["files_read"],
        "files_needed": files["files_needed"],
        "files_total": files["files_total"],
        "files_panel": files["files_panel"],
        "files_by_panel": files["by_panel"],
        "dashboard_peak_rss_mb": rss,
        "method": METHOD,
    }
    bench.add(
        Run(
            "dashboard_panel_lag",
            EVENTLAKE,
            live_landed,
            span,
            rss,
            note=f"producer at {RATE:,}/s; panel {PANEL} max {lag['max_ms']} ms behind the newest landed "
            f"event; a refresh read {files['files_read']} of {files['files_total']} files; "
            "RSS is the dashboard's",
            extra={
                "p50_ms": lag["p50_ms"],
                "p95_ms": lag["p95_ms"],
                "max_ms": lag["max_ms"],
                "pushes": len(watcher.samples),
                "target_rate": RATE,
            },
        )
    )
