"""Serving the dashboard: the loopback/token rule, a free-port check, log redaction, and uvicorn."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import uvicorn

from eventlake.config import Settings
from eventlake.dashboard.app import create_app
from eventlake.dashboard.auth import configured_token, install_redaction, is_loopback
from eventlake.dashboard.exceptions import DashboardError, InsecureBind


def check_bind(settings: Settings) -> None:
    """Refuse a weak token or a bad token file always, and serving beyond loopback without a token."""
    s = settings.dashboard
    if configured_token(s) is None and not is_loopback(s.host):
        raise InsecureBind(
            f"refusing to serve the dashboard on {s.host} without an access token",
            hint="set env EVENTLAKE_DASHBOARD__TOKEN or --token-file FILE (dashboard.token_file), or bind 127.0.0.1",
        )


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise DashboardError(
                f"cannot serve on {host}:{port}: {exc.strerror or exc}",
                hint="stop what uses the port or pick another with --port",
            ) from exc


def url_of(settings: Settings) -> str:
    host = settings.dashboard.host
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{settings.dashboard.port}/"


def build_server(settings: Settings, base_dir: Path | None = None, *, access_log: bool = False) -> uvicorn.Server:
    """A uvicorn server for the app, not started; the caller runs `server.run()` (or in a thread)."""
    check_bind(settings)
    _check_port(settings.dashboard.host, settings.dashboard.port)
    config = uvicorn.Config(
        create_app(settings, base_dir),
        host=settings.dashboard.host,
        port=settings.dashboard.port,
        log_level="info" if access_log else "warning",
        access_log=access_log,
        # Live streams never end by themselves: give them a moment on shutdown, then close them.
        timeout_graceful_shutdown=2,
        lifespan="on",
    )
    # After uvicorn.Config: it has just replaced its loggers' handlers, which get the filter too.
    install_redaction()
    return uvicorn.Server(config)


def serve(settings: Settings, on_ready: Callable[[str], None] | None = None, *, access_log: bool = False) -> None:
    """Serve until Ctrl-C (or SIGTERM). `on_ready(url)` is called once the socket is bound."""
    server = build_server(settings, access_log=access_log)
    if on_ready is not None:
        on_ready(url_of(settings))
    try:
        server.run()
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it already handled; stopping is the normal way out
