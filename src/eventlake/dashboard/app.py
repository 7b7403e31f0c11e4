"""The web app: `create_app(settings)` returns a FastAPI app serving pages and the JSON API.

HTTP API (the first three are a fixed contract):

    GET  /api/health                      200 {"status": "ok", ...}
    GET  /api/tables                      tables the query engine sees
    POST /api/query {"sql": "..."}        {"columns": [...], "rows": [[...]], ...}
    POST /api/query.csv {"sql": "..."}    the same result as CSV (download)
    GET  /api/pipeline                    sink health + topics (the `eventlake status` read-model)
    GET  /api/dashboards                  dashboards as code
    GET  /api/dashboards/{name}           one dashboard: parameters and panels
    GET  /api/panels/{dashboard}/{panel}  one panel's data and freshness (?param=value)
    GET  /api/stream/{dashboard}          Server-Sent Events: `panel` events as data changes

Every error is JSON {"error": "one line"} with a 4xx/5xx status, never a blank page.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from eventlake import __version__
from eventlake.config import Settings
from eventlake.dashboard.auth import LoopbackHostOnly, TokenAuth, is_loopback
from eventlake.dashboard.exceptions import DashboardNotFound, PanelNotFound
from eventlake.dashboard.live import panel_events
from eventlake.dashboard.pages import render_page
from eventlake.dashboard.params import resolve
from eventlake.dashboard.service import DashboardService
from eventlake.errors import EventlakeError

log = logging.getLogger(__name__)


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: str


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(settings: Settings, base_dir: Path | None = None) -> FastAPI:
    """The dashboard app for these settings; `base_dir` anchors a relative dashboards_dir."""
    service = DashboardService(settings, base_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(title="eventlake dashboard", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json", lifespan=lifespan)
    app.state.service = service
    _install_error_handlers(app)
    _install_api(app, service)
    _install_pages(app, service)
    static = resources.files("eventlake.dashboard") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    token = settings.dashboard.token.get_secret_value() if settings.dashboard.token else ""
    if token:
        app.add_middleware(TokenAuth, token=token)
    if is_loopback(settings.dashboard.host):
        app.add_middleware(LoopbackHostOnly)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DashboardNotFound)
    @app.exception_handler(PanelNotFound)
    async def not_found(request: Request, exc: EventlakeError) -> JSONResponse:
        return _error(404, exc.one_line())

    @app.exception_handler(EventlakeError)
    async def user_error(request: Request, exc: EventlakeError) -> JSONResponse:
        return _error(400, exc.one_line())

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "bad request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(400, f"bad request: {where + ': ' if where else ''}{first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("dashboard request failed: %s %s", request.method, request.url.path)
        return _error(500, f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def _install_api(app: FastAPI, service: DashboardService) -> None:
    settings = service.settings

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "lake": settings.lake,
                "bootstrap_servers": settings.bootstrap_servers, "engine": settings.query.engine}

    @app.get("/api/tables")
    def tables() -> dict[str, Any]:
        return {"tables": service.tables()}

    @app.post("/api/query")
    def query(body: QueryRequest) -> dict[str, Any]:
        return service.run_sql(body.sql).to_dict()

    @app.post("/api/query.csv")
    def query_csv(body: QueryRequest) -> Response:
        rows = service.run_sql(body.sql)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(rows.columns)
        writer.writerows([["" if v is None else v for v in r] for r in rows.rows])
        return Response(buf.getvalue(), media_type="text/csv",
                        headers={"content-disposition": 'attachment; filename="query.csv"'})

    @app.get("/api/pipeline")
    def pipeline() -> dict[str, Any]:
        return service.pipeline()

    @app.get("/api/dashboards")
    def dashboards() -> dict[str, Any]:
        return service.dashboards()

    @app.get("/api/dashboards/{name}")
    def dashboard(name: str) -> dict[str, Any]:
        return service.dashboard_detail(name)

    @app.get("/api/panels/{name}/{panel_id}")
    def panel(name: str, panel_id: str, request: Request) -> dict[str, Any]:
        return service.panel(name, panel_id, dict(request.query_params)).to_dict()

    @app.get("/api/stream/{name}")
    def stream(name: str, request: Request) -> StreamingResponse:
        dash = service.library.get(name)
        values = resolve(dash, dict(request.query_params))
        return StreamingResponse(
            panel_events(service, dash, values), media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )


def _install_pages(app: FastAPI, service: DashboardService) -> None:
    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/pipeline", status_code=307)

    @app.get("/pipeline", include_in_schema=False)
    def pipeline_page() -> HTMLResponse:
        return HTMLResponse(render_page("pipeline", "Pipeline"))

    @app.get("/dashboards", include_in_schema=False)
    def dashboards_page() -> HTMLResponse:
        return HTMLResponse(render_page("dashboards", "Dashboards"))

    @app.get("/dashboards/{name}", include_in_schema=False)
    def dashboard_page(name: str) -> HTMLResponse:
        try:
            title = service.library.get(name).title
        except EventlakeError as exc:
            status = 404 if isinstance(exc, DashboardNotFound) else 400
            return HTMLResponse(render_page("error", "Dashboard", message=exc.one_line()), status_code=status)
        return HTMLResponse(render_page("dashboard", title, name=name))

    @app.get("/query", include_in_schema=False)
    def query_page() -> HTMLResponse:
        return HTMLResponse(render_page("query", "Query"))
