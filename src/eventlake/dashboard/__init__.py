"""The dashboard stage: a FastAPI web app over the query engine and the sink's health.

    from eventlake.dashboard import create_app
    app = create_app(settings)      # pages, JSON API, live panels (SSE)

Dashboards as code live in `dashboard.dashboards_dir` (TOML or YAML); a stock dashboard ships
built in. Names are loaded lazily so `eventlake.config` can import this package's settings.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventlake.dashboard.app import create_app
    from eventlake.dashboard.server import build_server, check_bind, serve
    from eventlake.dashboard.specs import Dashboard, DashboardLibrary, Panel, Parameter

_WHERE = {
    "create_app": "app",
    "build_server": "server",
    "check_bind": "server",
    "serve": "server",
    "Dashboard": "specs",
    "DashboardLibrary": "specs",
    "Panel": "specs",
    "Parameter": "specs",
}

__all__ = ["Dashboard", "DashboardLibrary", "Panel", "Parameter", "build_server", "check_bind", "create_app", "serve"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'eventlake.dashboard' has no attribute {name!r}")
    return getattr(importlib.import_module(f"eventlake.dashboard.{module}"), name)
