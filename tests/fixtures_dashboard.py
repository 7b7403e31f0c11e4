"""Fixtures for the dashboard tests: a real lake of stock ticks, and the web app over it.

`land_ticks` writes Parquet files under dt=/hour= folders and records them in the
catalog's ledger, as the sink does after a flush, so the query engine reads them
exactly as it reads the sink's output.
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eventlake.catalog import Column, DataFile, LedgerEntry, Table, open_catalog
from eventlake.config import Settings, load_settings
from eventlake.dashboard.server import build_server
from eventlake.runtime import free_port
from eventlake.types import TableRef, table_name_for_topic

TOPIC = "stock-ticks"
REF = TableRef("default", "stock_ticks")
# As the sink lands synthetic ticks today: `ts` stays the ISO-8601 string the producer sent.
COLUMNS = [
    Column("symbol", "string"),
    Column("ts", "string"),
    Column("price", "double"),
    Column("bid", "double"),
    Column("ask", "double"),
    Column("volume", "bigint"),
    Column("side", "string"),
]
KEYS = [Column("dt", "string"), Column("hour", "string")]
SCHEMA = pa.schema(
    [
        ("symbol", pa.string()),
        ("ts", pa.string()),
        ("price", pa.float64()),
        ("bid", pa.float64()),
        ("ask", pa.float64()),
        ("volume", pa.int64()),
        ("side", pa.string()),
    ]
)


@dataclass
class TickLake:
    """A local lake with table stock_ticks; `land` appends one flush of ticks (one Kafka partition)."""

    root: Path
    settings: Settings
    next_offset: dict[int, int] = field(default_factory=dict)
    landed: int = 0

    def land(self, ticks: list[dict[str, Any]], partition: int = 0) -> None:
        first = self.next_offset.get(partition, 0)
        by_folder: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for tick in ticks:
            when = datetime.fromisoformat(tick["ts"])
            by_folder.setdefault((when.strftime("%Y-%m-%d"), when.strftime("%H")), []).append(tick)
        files = []
        with open_catalog(self.settings) as store:
            if store.get_table(REF) is None:
                store.ensure_database("default")
                store.upsert_table(
                    Table("default", "stock_ticks", str(self.root / "stock_ticks"), "parquet", COLUMNS, KEYS)
                )
            for (dt, hour), rows in by_folder.items():
                folder = self.root / "stock_ticks" / f"dt={dt}" / f"hour={hour}"
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{TOPIC}-{partition}-{first:020d}.parquet"
                pq.write_table(pa.Table.from_pylist([{k: r[k] for k in SCHEMA.names} for r in rows], SCHEMA), path)
                stamps = [datetime.fromisoformat(r["ts"]).timestamp() for r in rows]
                files.append(
                    DataFile(
                        str(path),
                        {"dt": dt, "hour": hour},
                        len(rows),
                        path.stat().st_size,
                        topic=TOPIC,
                        kafka_partition=partition,
                        first_offset=first,
                        last_offset=first + len(ticks) - 1,
                        min_event_time=min(stamps),
                        max_event_time=max(stamps),
                        created_at=time.time(),
                    )
                )
            store.commit_flush(
                LedgerEntry(
                    TOPIC, partition, first, first + len(ticks) - 1, REF, files, len(ticks), committed_at=time.time()
                )
            )
        self.next_offset[partition] = first + len(ticks)
        self.landed += len(ticks)

    def land_prices(self) -> None:
        """Table stock_prices as the demo lands `sample:stocks`: symbol, date (timestamp), price."""
        ref = TableRef("default", "stock_prices")
        folder = self.root / "stock_prices" / "dt=2026-01-01" / "hour=00"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "stock-prices-0-00000000000000000000.parquet"
        months = [datetime(2000 + i // 12, i % 12 + 1, 1, tzinfo=UTC) for i in range(24)]
        rows = [{"symbol": s, "date": m, "price": 10.0 + i} for s in ("IBM", "MSFT") for i, m in enumerate(months)]
        schema = pa.schema([("symbol", pa.string()), ("date", pa.timestamp("ms", tz="UTC")), ("price", pa.float64())])
        pq.write_table(pa.Table.from_pylist(rows, schema), path)
        with open_catalog(self.settings) as store:
            store.upsert_table(
                Table(
                    "default",
                    "stock_prices",
                    str(self.root / "stock_prices"),
                    "parquet",
                    [Column("symbol", "string"), Column("date", "timestamp"), Column("price", "double")],
                    KEYS,
                )
            )
            store.add_files(
                ref,
                [
                    DataFile(
                        str(path),
                        {"dt": "2026-01-01", "hour": "00"},
                        len(rows),
                        path.stat().st_size,
                        created_at=time.time(),
                    )
                ],
            )


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
