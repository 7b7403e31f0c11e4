"""What the web app serves, as plain data: the pages and the JSON API both read this.

Figures come from the same read-models the CLI uses: SQL results from the query
engine (`eventlake.query`), pipeline health from `eventlake.sink.health` (see
`pipeline.py`). Nothing here computes a figure of its own.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from eventlake.config import Settings
from eventlake.dashboard import pipeline
from eventlake.dashboard.jsonable import cell, column_kinds
from eventlake.dashboard.params import Value, render_sql, resolve
from eventlake.dashboard.specs import Dashboard, DashboardLibrary, Panel
from eventlake.errors import EventlakeError
from eventlake.types import TableRef

if TYPE_CHECKING:
    from eventlake.query.engine import QueryEngine

# Panels of one dashboard refreshing together share one freshness look-up.
_FRESHNESS_REUSE_S = 0.5
# Distinct (dashboard, panel, parameters) results kept; beyond it the cache starts over.
_CACHE_MAX = 512


@dataclass
class Rows:
    columns: list[str]
    kinds: list[str]
    rows: list[list[Any]]
    truncated: bool
    elapsed_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PanelData:
    """One run of one panel: its rows or its error, and how fresh its data is."""

    dashboard: str
    panel: str
    columns: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    truncated: bool = False
    elapsed_s: float = 0.0
    error: str | None = None
    queried_at: float = 0.0
    # Freshness: when the panel's table last received data, and its newest event time.
    table: str | None = None
    landed_at: float | None = None
    newest_event_at: float | None = None

    def digest(self) -> str:
        """Changes exactly when what the viewer sees as data changes (not the query time)."""
        body = orjson.dumps([self.columns, self.rows, self.error, self.truncated])
        return hashlib.blake2b(body, digest_size=16).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["server_time"] = time.time()
        return out


class DashboardService:
    """One per web app: the dashboards library, one query engine, a short result cache."""

    def __init__(self, settings: Settings, base_dir: Path | None = None) -> None:
        self.settings = settings
        self.library = DashboardLibrary(settings.dashboard, base_dir)
        self._engine: QueryEngine | None = None
        # Request threads and live streams share one engine (it is thread-safe); this lock only
        # keeps two first requests from connecting twice.
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str, str], tuple[float, PanelData]] = {}
        self._fresh: dict[str, tuple[float, tuple[float | None, float | None]]] = {}
        self._pipeline = pipeline.PipelineModel(settings, self.tables)

    # --- the query engine
    def engine(self) -> QueryEngine:
        with self._lock:
            if self._engine is None:
                from eventlake.query import connect

                self._engine = connect(self.settings)
            return self._engine

    def run_sql(self, sql: str, max_rows: int | None = None, params: Mapping[str, Value] | None = None) -> Rows:
        """Run SQL through the query engine (thread-safe), `params` bound to its `$name` parameters;
        EventlakeError on bad SQL and friends."""
        result = self.engine().execute(sql, max_rows, params=params or None)
        rows = [list(r) for r in result.rows]
        truncated = bool(result.truncated)
        kinds = column_kinds(rows, len(result.columns))
        return Rows(
            columns=[str(c) for c in result.columns],
            kinds=kinds,
            rows=[[cell(v) for v in r] for r in rows],
            truncated=truncated,
            elapsed_s=float(result.elapsed_s),
        )

    def tables(self) -> list[dict[str, Any]]:
        """The engine's table summaries (what `eventlake tables` lists), as JSON-ready dicts."""
        return [{k: cell(v) for k, v in t.to_dict().items()} for t in self.engine().tables()]

    def freshness(self, table: str) -> tuple[float | None, float | None]:
        """(landed_at, newest_event_at) of a table, from `eventlake.files` as the engine sees it now:
        the same files the panel's query just read."""
        ref = TableRef.parse(table, self.settings.database)
        cached = self._fresh.get(str(ref))
        now = time.monotonic()
        if cached is not None and now - cached[0] < _FRESHNESS_REUSE_S:
            return cached[1]
        result = self.engine().execute(
            'SELECT epoch(max(created)), epoch(max(max_event_time)) FROM eventlake.files WHERE "table" = $t',
            params={"t": str(ref)},
        )
        row = result.rows[0] if result.rows else (None, None)
        value = (_num(row[0]), _num(row[1]))
        self._fresh[str(ref)] = (now, value)
        return value

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.close()
            self._engine = None

    # --- dashboards
    def dashboard_detail(self, name: str) -> dict[str, Any]:
        dash = self.library.get(name)
        params = []
        for p in dash.all_parameters().values():
            params.append(
                {
                    "name": p.name,
                    "label": p.label or p.name,
                    "type": p.type,
                    "default": p.default,
                    "choices": list(p.choices),
                }
            )
        return {
            "name": dash.name,
            "title": dash.title,
            "description": dash.description,
            "source": dash.source,
            "parameters": params,
            "panels": [
                {
                    "id": p.id,
                    "title": p.title,
                    "chart": p.chart,
                    "x": p.x,
                    "y": p.y,
                    "series": p.series,
                    "unit": p.unit,
                    "width": p.width,
                    "refresh_s": self.refresh_s(p),
                    "window_s": p.window,
                    "table": p.table or dash.table,
                }
                for p in dash.panels
            ],
        }

    def dashboards(self) -> dict[str, Any]:
        good, bad = self.library.list()
        return {
            "dashboards": [
                {
                    "name": d.name,
                    "title": d.title,
                    "description": d.description,
                    "panels": len(d.panels),
                    "source": d.source,
                }
                for d in good
            ],
            "errors": bad,
        }

    def refresh_s(self, panel: Panel) -> float:
        s = self.settings.dashboard
        return max(s.min_refresh_s, panel.refresh_s if panel.refresh_s is not None else s.default_refresh_s)

    def panel_data(self, dash: Dashboard, panel: Panel, values: Mapping[str, Value]) -> PanelData:
        """Run a panel now (or reuse a run younger than half its refresh); errors go in `.error`."""
        key = (dash.name, panel.id, orjson.dumps(dict(sorted(values.items()))).decode())
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.refresh_s(panel) / 2:
            return cached[1]
        data = self._run_panel(dash, panel, values)
        if len(self._cache) > _CACHE_MAX:
            self._cache.clear()
        self._cache[key] = (now, data)
        return data

    def _run_panel(self, dash: Dashboard, panel: Panel, values: Mapping[str, Value]) -> PanelData:
        table = panel.table or dash.table
        data = PanelData(dashboard=dash.name, panel=panel.id, table=table, queried_at=time.time())
        try:
            sql, params = render_sql(panel, values, data.queried_at)
            rows = self.run_sql(sql, self.settings.dashboard.max_panel_rows, params)
            data.columns, data.kinds, data.rows = rows.columns, rows.kinds, rows.rows
            data.truncated, data.elapsed_s = rows.truncated, rows.elapsed_s
        except EventlakeError as exc:
            data.error = exc.one_line()
        except Exception as exc:  # a panel shows any failure inline, never a blank page
            data.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if table:
            try:
                data.landed_at, data.newest_event_at = self.freshness(table)
            except EventlakeError:
                pass  # no freshness is shown; the panel's own error (if any) says why
        return data

    def panel(self, name: str, panel_id: str, given: Mapping[str, str]) -> PanelData:
        dash = self.library.get(name)
        return self.panel_data(dash, dash.panel(panel_id), resolve(dash, given))

    # --- pipeline
    def pipeline(self) -> dict[str, Any]:
        return self._pipeline.overview()

    def metrics(self) -> str:
        """Prometheus text: the Kafka cluster's health gauges (dashboard/metrics.py)."""
        from eventlake.dashboard.metrics import render

        return render(self._pipeline.cluster())


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None
