"""Fixtures for the dashboard tests: a real lake of stock ticks, and the web app over it.

No Kafka, but nothing look-alike either: `land_messages` encodes records as `eventlake
produce` does (JSON value, key field as the key, the producer's clock as the Kafka
timestamp) and lands them through the sink's own per-flush path, the one `Sink._flush`
takes for each partition: a PartitionBuffer filled with values, offsets, timestamps and
keys, then `flush_batch` (decode, partition, write Parquet, widen the table, one ledger
entry). Files, table schema, lineage columns and ledger are what `eventlake sink` writes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from eventlake.broker.dead_letters import DeadLetter
from eventlake.catalog import open_catalog
from eventlake.config import Settings, load_settings
from eventlake.dashboard.server import build_server
from eventlake.lake import open_lake
from eventlake.produce.records import encode, key_bytes
from eventlake.produce.sources import open_source
from eventlake.runtime import free_port
from eventlake.sink.buffer import PartitionBuffer
from eventlake.sink.ledger import FlushResult, flush_batch
from eventlake.sink.table import SinkTable
from eventlake.types import table_name_for_topic

# As `eventlake demo` runs them: both topics keyed by symbol, one sink with `--time-field ts`.
TOPIC = "stock-ticks"
PRICES_TOPIC = "stock-prices"
KEY_FIELD = "symbol"
TIME_FIELD = "ts"


def land_messages(settings: Settings, topic: str, partition: int, records: list[dict[str, Any]]) -> FlushResult:
    """One sink flush of `records`, sent to topic[partition] now, at the offsets that continue its ledger."""
    values: list[bytes | None] = [encode(r) for r in records]
    keys = [key_bytes(r.get(KEY_FIELD)) for r in records]
    sent_ms = int(time.time() * 1000)  # no --time-field on the producer: Kafka stamps them on arrival
    cfg = settings.sink.model_copy(update={"time_field": TIME_FIELD})
    lake = open_lake(settings.lake, settings.s3)
    letters: list[DeadLetter] = []
    with open_catalog(settings) as store:
        # As the Sink builds its table and partition buffer (on start and on assignment).
        table = SinkTable(store, lake, topic, settings.database, cfg.format, cfg.partition_by)
        start = store.ledger_next_offset(topic, partition)
        buffer = PartitionBuffer(topic, partition, start)
        first = start or 0
        buffer.add(values, list(range(first, first + len(values))), [sent_ms] * len(values), keys)
        result = flush_batch(buffer.take(), table, store, lake, cfg, letters.extend)
    if letters or result.conflict or result.rows != len(records):
        raise AssertionError(f"the sink did not land every record: {result}, dead letters {letters}")
    return result


@dataclass
class TickLake:
    """A local lake with table stock_ticks; `land` lands one sink flush of ticks (one Kafka partition)."""

    root: Path
    settings: Settings

    def land(self, ticks: list[dict[str, Any]], partition: int = 0) -> FlushResult:
        return land_messages(self.settings, TOPIC, partition, ticks)

    def land_prices(self) -> FlushResult:
        """Table stock_prices as the demo lands `sample:stocks` (560 monthly closes): read by the producer's
        own CSV source, then one flush."""
        rows = list(open_source("sample:stocks").records(_refuse))
        return land_messages(self.settings, PRICES_TOPIC, 0, rows)


def _refuse(bad: Any) -> None:
    raise AssertionError(f"sample:stocks has a bad row: {bad}")


def ticks(
    n: int, end: float | None = None, symbols: tuple[str, ...] = ("AAPL", "MSFT", "NVDA"), spacing_s: float = 0.5
) -> list[dict[str, Any]]:
    """n ticks ending at `end` (default now), round-robin over symbols, prices 100 + i/100, spread 0.02."""
    end = time.time() if end is None else end
    out = []
    for i in range(n):
        at = datetime.fromtimestamp(round(end - (n - 1 - i) * spacing_s, 3), UTC)
        price = 100.0 + i / 100
        iso = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        out.append(
            {
                "symbol": symbols[i % len(symbols)],
                "ts": iso,
                "price": price,
                "bid": round(price - 0.01, 2),
                "ask": round(price + 0.01, 2),
                "volume": 10 * (i + 1),
                "side": "buy" if i % 2 else "sell",
            }
        )
    return out


@pytest.fixture
def tick_lake(tmp_path: Path) -> TickLake:
    """A lake with 60 recent ticks of AAPL, MSFT and NVDA (landed in one flush)."""
    root = tmp_path / "lake"
    settings = load_settings(overrides={"lake": str(root), "dashboard": {"dashboards_dir": str(tmp_path / "dash")}})
    lake = TickLake(root, settings)
    lake.land(ticks(60))
    return lake


@contextmanager
def running_dashboard(settings: Settings, base_dir: Path | None = None) -> Iterator[str]:
    """A real uvicorn serving the dashboard on a free loopback port, in a thread; yields its base URL."""
    settings = settings.model_copy(
        update={"dashboard": settings.dashboard.model_copy(update={"host": "127.0.0.1", "port": free_port()})}
    )
    server = build_server(settings, base_dir)
    thread = threading.Thread(target=server.run, name="dashboard", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the dashboard server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{settings.dashboard.port}"
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.fixture
def client(tick_lake: TickLake) -> Iterator[httpx.Client]:
    """An HTTP client on a real dashboard server over `tick_lake`."""
    with running_dashboard(tick_lake.settings) as url, httpx.Client(base_url=url, timeout=20) as http:
        yield http


@dataclass
class LivePipeline:
    """A topic fed by eventlake's producer, landed by a real `eventlake sink` subprocess, served by a dashboard."""

    topic: str
    table: str
    settings: Settings
    url: str = ""
    produced: int = 0

    def produce(self, n: int, rate: float | None = None) -> None:
        """Send n synthetic ticks (now-stamped) at `rate`/s and wait until the sink has landed all of them."""
        from eventlake.produce import ProduceOptions, produce

        report = produce(self.settings, self.topic, "synthetic:ticks", ProduceOptions(limit=n, key="symbol", rate=rate))
        assert report.delivered == n, report.errors
        self.produced += n
        self.wait_landed(self.produced)

    def landed(self) -> int:
        with open_catalog(self.settings) as store:
            return sum(e.rows for e in store.ledger(self.topic))

    def wait_landed(self, rows: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while self.landed() < rows:
            if time.monotonic() > deadline:
                raise AssertionError(f"the sink landed {self.landed()} of {rows} rows in {timeout_s:.0f} s")
            time.sleep(0.2)


def stock_dashboard_for(table: str) -> str:
    """The built-in stock dashboard, reading `table` instead of stock_ticks."""
    from importlib import resources

    text = (resources.files("eventlake.dashboard.builtin") / "stocks.toml").read_text("utf-8")
    return text.replace("stock_ticks", table)


@pytest.fixture(scope="module")
def live_pipeline(bootstrap: str, admin: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePipeline]:
    """Module-wide: 600 ticks (12 s of them) landed by a real sink, the sink still running, a dashboard serving the lake
    with the stock dashboard pointed at this topic's table."""
    root = tmp_path_factory.mktemp("live")
    topic = f"stock-ticks-{uuid.uuid4().hex[:8]}"
    table = table_name_for_topic(topic)
    (root / "dash").mkdir()
    (root / "dash" / "stocks.toml").write_text(stock_dashboard_for(table))
    settings = load_settings(
        overrides={
            "bootstrap_servers": bootstrap,
            "lake": str(root / "lake"),
            "dashboard": {"dashboards_dir": str(root / "dash")},
        }
    )
    admin.create(topic, partitions=3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
    with (root / "sink.log").open("wb") as log:
        sink = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "eventlake.cli.main",
                "sink",
                topic,
                "--lake",
                str(root / "lake"),
                "--time-field",
                "ts",
                "--bootstrap-servers",
                bootstrap,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
            start_new_session=True,
        )
    pipeline = LivePipeline(topic, table, settings)
    try:
        # Spread over 12 s: at least three 5-second buckets, so time charts have lines to draw.
        pipeline.produce(600, rate=50)
        with running_dashboard(settings) as url:
            pipeline.url = url
            yield pipeline
    finally:
        os.killpg(sink.pid, signal.SIGTERM)
        try:
            sink.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(sink.pid, signal.SIGKILL)
            sink.wait(10)
