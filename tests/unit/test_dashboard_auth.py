"""Who may open the dashboard: loopback by default; anything else only with a token, never logged."""

from __future__ import annotations

import logging

import httpx
import pytest
from pydantic import SecretStr

from eventlake.config import Settings
from eventlake.dashboard.auth import RedactToken, is_loopback
from eventlake.dashboard.exceptions import InsecureBind
from eventlake.dashboard.server import check_bind
from tests.fixtures_dashboard import TickLake, client, running_dashboard, tick_lake  # noqa: F401

TOKEN = "s3cret-t0ken"


def _with(lake: TickLake, **dashboard: object) -> Settings:
    return lake.settings.model_copy(update={"dashboard": lake.settings.dashboard.model_copy(update=dashboard)})


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.5", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("192.168.1.10", False), ("::", False), ("example.org", False),
])
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_binding_beyond_loopback_needs_a_token(tick_lake: TickLake) -> None:
    with pytest.raises(InsecureBind) as err:
        check_bind(_with(tick_lake, host="0.0.0.0"))
    assert "without an access token" in err.value.one_line() and "EVENTLAKE_DASHBOARD__TOKEN" in err.value.one_line()
    check_bind(_with(tick_lake, host="0.0.0.0", token=SecretStr(TOKEN)))
    check_bind(_with(tick_lake, host="127.0.0.1"))


def test_every_request_needs_the_token_once_one_is_set(tick_lake: TickLake) -> None:
    settings = _with(tick_lake, token=SecretStr(TOKEN))
    with running_dashboard(settings) as url, httpx.Client(base_url=url, timeout=20) as http:
        for path in ("/api/health", "/api/tables", "/pipeline", "/static/app.css"):
            denied = http.get(path)
            assert denied.status_code == 401, path
            assert "access token" in denied.json()["error"]
        assert http.post("/api/query", json={"sql": "SELECT 1"}).status_code == 401
        assert http.get("/api/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert http.get("/api/health?token=wrong").status_code == 401

        ok = http.get("/api/health", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and ok.json()["status"] == "ok"

        # Opening a page once with ?token= sets an HttpOnly cookie and drops the token from the URL.
        first = http.get(f"/dashboards/stocks?symbol=AAPL&token={TOKEN}", follow_redirects=False)
        assert first.status_code == 303
        assert first.headers["location"] == "/dashboards/stocks?symbol=AAPL"
        cookie = first.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
        assert http.get("/dashboards/stocks?symbol=AAPL").status_code == 200  # the client kept the cookie
        assert http.post("/api/query", json={"sql": "SELECT 1 AS one"}).json()["rows"] == [[1]]


def test_the_token_never_reaches_a_log_line() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", f"/pipeline?x=1&token={TOKEN}", "1.1", 303), None)
    RedactToken().filter(record)
    line = record.getMessage()
    assert TOKEN not in line
    assert "/pipeline?x=1&token=***" in line


def test_a_loopback_dashboard_refuses_other_host_names(client: httpx.Client) -> None:
    # DNS rebinding: a page of evil.example whose name resolves to 127.0.0.1 sends Host: evil.example.
    refused = client.get("/api/health", headers={"Host": "evil.example:8000"})
    assert refused.status_code == 421
    assert "loopback names only" in refused.json()["error"]
    assert client.get("/api/health", headers={"Host": "localhost:8000"}).status_code == 200
    assert client.get("/api/health").status_code == 200  # 127.0.0.1:PORT
