"""The dashboard stage: a FastAPI web app over the query engine and the sink's health.

    from eventlake.dashboard import create_app
    app = create_app(settings)      # pages, JSON API, live panels (SSE)

Dashboards as code live in `dashboard.dashboards_dir` (TOML or YAML); a stock dashboard ships
built in.
"""

from eventlake.dashboard.app import create_app
from eventlake.dashboard.server import build_server, check_bind, serve
from eventlake.dashboard.specs import Dashboard, DashboardLibrary, Panel, Parameter

__all__ = [
    "Dashboard",
    "DashboardLibrary",
    "Panel",
    "Parameter",
    "build_server",
    "check_bind",
    "create_app",
    "serve",
]
