"""Two observers of the end-to-end case, each a thread recording (time, {partition: next offset}):

- `LedgerPoller` asks eventlake's catalog for the ledger's next offset per partition (what has
  landed: a query started after that moment sees the row);
- `EnginePoller` is a user: one long-lived query engine (as the dashboard and notebooks hold,
  with its incremental catalog refresh and default settings) running
  `SELECT _partition, max(_offset) ... GROUP BY _partition` in a loop. Its figure is freshness
  as a user sees it, refresh interval and query time included.

A poll's time is when its answer came back.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path

from bench.latency import Poll


def catalog_path(lake: Path) -> Path:
    from eventlake.catalog.store import CATALOG_DIR

    return lake / CATALOG_DIR / "catalog.sqlite"


class Poller(threading.Thread, ABC):
    """Poll `positions()` every `period_s` (after the previous answer) until stopped."""

    def __init__(self, lake: Path, topic: str, period_s: float) -> None:
        super().__init__(daemon=True)
        self.lake, self.topic, self.period_s = lake, topic, period_s
        self.polls: list[Poll] = []
        self.error: str | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        # The sink makes the catalog; an observer opening it first would race its creation.
        while not catalog_path(self.lake).is_file() and not self._halt.wait(self.period_s):
            pass
        if self._halt.is_set():
            return
        try:
            self.open()
            while not self._halt.is_set():
                positions = self.positions()
                self.polls.append((time.time(), positions))
                self._halt.wait(self.period_s)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.close()

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def positions(self) -> dict[int, int]: ...

    @abstractmethod
    def close(self) -> None: ...

    def latest(self) -> dict[int, int]:
        return dict(self.polls[-1][1]) if self.polls else {}

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)


class LedgerPoller(Poller):
    """The ledger's next offset per partition of one topic, through eventlake's catalog library."""

    def open(self) -> None:
        from eventlake.catalog.sqlite import SQLiteCatalog

        self.catalog = SQLiteCatalog(catalog_path(self.lake))

    def positions(self) -> dict[int, int]:
        return {p: n for (t, p), n in self.catalog.ledger_positions().items() if t == self.topic}

    def close(self) -> None:
        if hasattr(self, "catalog"):
            self.catalog.close()


class EnginePoller(Poller):
    """max(_offset) + 1 per Kafka partition, through one long-lived `eventlake.query.connect` engine."""

    def open(self) -> None:
        from eventlake.config import load_settings
        from eventlake.query import connect
        from eventlake.types import table_name_for_topic

        self.engine = connect(load_settings(overrides={"lake": str(self.lake)}))
        self.sql = (
            f'SELECT _partition AS p, max(_offset) AS o FROM "{table_name_for_topic(self.topic)}" GROUP BY _partition'
        )
        self.query_s: list[float] = []  # each poll's own time: what the engine costs a user
        self.refresh_s: list[float] = []  # of which the catalog refresh (the rest is DuckDB's query)

    def positions(self) -> dict[int, int]:
        from eventlake.query.exceptions import UnknownTable

        started = time.perf_counter()
        try:
            self.engine.refresh()  # what `sql` does first anyway; timed apart to see where time goes
            self.refresh_s.append(time.perf_counter() - started)
            table = self.engine.sql(self.sql)
        except UnknownTable:  # before the first flush the table does not exist yet
            return {}
        finally:
            self.query_s.append(time.perf_counter() - started)
        rows = table.to_pydict()
        return {int(p): int(o) + 1 for p, o in zip(rows["p"], rows["o"], strict=True) if o is not None}

    def close(self) -> None:
        if hasattr(self, "engine"):
            self.engine.close()
