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
    GET  /metrics                         Prometheus gauges of the Kafka cluster's health (metrics.py)

Every error is JSON {"error": "one line"} with a 4xx/5xx status, never a blank page: the
status is the error class's `http_status` (eventlake/errors.py), and a retriable error (an
outage) adds `Retry-After`; request bodies over `dashboard.max_request_bytes` are refused with
413 before any route reads them (`BodyLimit`).
"""

from __future__ import annotations

import csv
import io
import logging
import re
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
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventlake import __version__
from eventlake.config import Settings
from eventlake.dashboard.auth import (
    LoopbackHostOnly,
    TokenAuth,
    configured_token,
    install_redaction,
    is_loopback,
    refuse,
)
from eventlake.dashboard.live import panel_events
from eventlake.dashboard.pages import render_page
from eventlake.dashboard.params import NUMBER_RE, query_values, resolve
from eventlake.dashboard.service import DashboardService
from eventlake.errors import EventlakeError

log = logging.getLogger(__name__)


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: str


# Seconds a client should wait before trying again after a retriable error (an outage): about
# a dashboard's refresh, and time for a lock to clear; the sink waits such outages out itself.
RETRY_AFTER_S = 5


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": re.sub(r"[\r\n]+", " ", message)}, status_code=status, headers=headers)


def error_headers(exc: EventlakeError) -> dict[str, str] | None:
    """`Retry-After` for an error that heals by itself; nothing for one that someone must fix."""
    return {"retry-after": str(RETRY_AFTER_S)} if exc.retriable else None


# Cells a spreadsheet would run as a formula (OWASP CSV injection), also in full-width forms.
_FORMULA_START = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")


def csv_cell(value: Any) -> Any:
    """One CSV cell that a spreadsheet shows as text and never runs as a formula.

    The rule (OWASP, CSV injection): a cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab
    (0x09) or a carriage return (0x0D), also after leading spaces or line breaks and in the
    full-width forms, gets a single quote ``'`` in front. Numbers stay as they are: int and float
    values (-5), and strings that are a plain decimal number ("-1.5", "+3", "1e-9"). NULL is empty.
    """
    if value is None:
        return ""
    if isinstance(value, (int, float)):  # bool too: written True/False
        return value
    text = value if isinstance(value, str) else str(value)
    if NUMBER_RE.fullmatch(text):
        return text
    if text[:1] in _FORMULA_START or text.lstrip(" \t\r\n")[:1] in _FORMULA_START:
        return "'" + text
    return text


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413: by Content-Length at once, else while reading.

    The body is read here (at most `max_bytes`) and handed to the app in one piece, so a chunked
    body without Content-Length is capped as well. Pure ASGI: streaming responses are untouched.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = [v for k, v in scope["headers"] if k == b"content-length"]
        if len(declared) > 1 or (declared and not declared[0].isdigit()):
            await refuse(scope, send, 400, "bad request: one numeric Content-Length header, please")
            return
        if declared and int(declared[0]) > self.max_bytes:
            await refuse(scope, send, 413, self._too_large())
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await refuse(scope, send, 413, self._too_large())
                return
            if not message.get("more_body", False):
                break
        body: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal body
            if body is not None:
                message, body = body, None
                return message
            return await receive()  # after the body: the disconnect a streaming response waits for

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        return (
            f"request body larger than {self.max_bytes} bytes "
            "(dashboard.max_request_bytes; env EVENTLAKE_DASHBOARD__MAX_REQUEST_BYTES)"
        )


def create_app(settings: Settings, base_dir: Path | None = None) -> FastAPI:
    """The dashboard app for these settings; `base_dir` anchors a relative dashboards_dir."""
    service = DashboardService(settings, base_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(
        title="eventlake dashboard",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.service = service
    _install_error_handlers(app)
    _install_api(app, service)
    _install_pages(app, service)
    static = resources.files("eventlake.dashboard") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    # The last added runs first: host check, then the token, then the body cap (an unauthenticated
    # client never makes the server read its body).
    app.add_middleware(BodyLimit, max_bytes=settings.dashboard.max_request_bytes)
    token = configured_token(settings.dashboard)
    if token:
        install_redaction(token)
        app.add_middleware(TokenAuth, token=token)
    if is_loopback(settings.dashboard.host):
        app.add_middleware(LoopbackHostOnly)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(EventlakeError)
    async def user_error(request: Request, exc: EventlakeError) -> JSONResponse:
        return _error(exc.http_status, exc.one_line(), error_headers(exc))

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
        return {
            "status": "ok",
            "version": __version__,
            "lake": settings.lake,
            "bootstrap_servers": settings.bootstrap_servers,
            "engine": settings.query.engine,
        }

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
        # CRLF (RFC 4180): a cell holding a lone CR or LF is then quoted, never split into two rows.
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow([csv_cell(c) for c in rows.columns])  # column names come from the data too
        writer.writerows([[csv_cell(v) for v in r] for r in rows.rows])
        return Response(
            buf.getvalue(), media_type="text/csv", headers={"content-disposition": 'attachment; filename="query.csv"'}
        )

    @app.get("/api/pipeline")
    def pipeline() -> dict[str, Any]:
        return service.pipeline()

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        from eventlake.dashboard.metrics import CONTENT_TYPE

        return Response(service.metrics(), media_type=CONTENT_TYPE)

    @app.get("/api/dashboards")
    def dashboards() -> dict[str, Any]:
        return service.dashboards()

    @app.get("/api/dashboards/{name}")
    def dashboard(name: str) -> dict[str, Any]:
        return service.dashboard_detail(name)

    @app.get("/api/panels/{name}/{panel_id}")
    def panel(name: str, panel_id: str, request: Request) -> dict[str, Any]:
        return service.panel(name, panel_id, query_values(request.scope["query_string"])).to_dict()

    @app.get("/api/stream/{name}")
    def stream(name: str, request: Request) -> StreamingResponse:
        dash = service.library.get(name)
        values = resolve(dash, query_values(request.scope["query_string"]))
        return StreamingResponse(
            panel_events(service, dash, values),
            media_type="text/event-stream",
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
            page = render_page("error", "Dashboard", message=exc.one_line())
            return HTMLResponse(page, status_code=exc.http_status, headers=error_headers(exc))
        return HTMLResponse(render_page("dashboard", title, name=name))

    @app.get("/query", include_in_schema=False)
    def query_page() -> HTMLResponse:
        return HTMLResponse(render_page("query", "Query"))
