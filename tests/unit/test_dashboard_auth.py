"""Who may open the dashboard: loopback by default; anything else only with a strong token, never logged."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from eventlake.config import Settings, load_settings
from eventlake.dashboard.auth import RedactToken, check_token, configured_token, install_redaction, is_loopback
from eventlake.dashboard.exceptions import MAKE_TOKEN, InsecureBind, TokenFileError, WeakToken
from eventlake.dashboard.server import check_bind
from tests.fixtures_dashboard import TickLake, client, running_dashboard, tick_lake  # noqa: F401

# As `python -c 'import secrets; print(secrets.token_urlsafe(32))'` prints them.
TOKEN = "zedTbDVRKo5qMB6xmPIXlG9UHtF5Httod4Brr0XeIC8"


def _with(lake: TickLake, **dashboard: object) -> Settings:
    return lake.settings.model_copy(update={"dashboard": lake.settings.dashboard.model_copy(update=dashboard)})


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.5", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.10", False),
        ("::", False),
        ("example.org", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_binding_beyond_loopback_needs_a_token(tick_lake: TickLake) -> None:
    with pytest.raises(InsecureBind) as err:
        check_bind(_with(tick_lake, host="0.0.0.0"))
    assert "without an access token" in err.value.one_line() and "EVENTLAKE_DASHBOARD__TOKEN" in err.value.one_line()
    assert "--token-file" in err.value.one_line()
    check_bind(_with(tick_lake, host="0.0.0.0", token=SecretStr(TOKEN)))
    check_bind(_with(tick_lake, host="127.0.0.1"))


@pytest.mark.parametrize("weak", [" ", "s3cret-t0ken", "x" * 40, "0123456789" * 4, "Password1!" * 4])
def test_a_weak_token_is_refused_in_one_line_with_how_to_make_one(tick_lake: TickLake, weak: str) -> None:
    with pytest.raises(WeakToken) as err:
        check_bind(_with(tick_lake, host="0.0.0.0", token=SecretStr(weak)))
    line = err.value.one_line()
    assert "\n" not in line and MAKE_TOKEN in line
    assert weak.strip() == "" or weak not in line  # the message never repeats the token


def test_whitespace_around_a_token_is_stripped_everywhere() -> None:
    assert check_token(f"  {TOKEN}\n") == TOKEN
    with pytest.raises(WeakToken, match="printable ASCII"):
        check_token(f"{TOKEN[:20]} {TOKEN[20:]}")


def test_the_token_can_come_from_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    settings = load_settings(overrides={"dashboard": {"token_file": str(path)}})
    assert configured_token(settings.dashboard) == TOKEN

    path.chmod(0o644)
    with pytest.raises(TokenFileError) as err:
        configured_token(settings.dashboard)
    assert f"has mode 0644, looser than 0600 (chmod 600 {path})" in err.value.one_line()

    path.chmod(0o600)
    both = load_settings(overrides={"dashboard": {"token_file": str(path), "token": TOKEN}})
    with pytest.raises(TokenFileError, match=r"both dashboard\.token and dashboard\.token_file"):
        configured_token(both.dashboard)
    missing = load_settings(overrides={"dashboard": {"token_file": str(tmp_path / "nope")}})
    with pytest.raises(TokenFileError, match="cannot read the token file"):
        configured_token(missing.dashboard)


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


def test_the_redirect_never_leads_to_another_site(tick_lake: TickLake) -> None:
    settings = _with(tick_lake, token=SecretStr(TOKEN))
    with running_dashboard(settings) as url, httpx.Client(base_url=url, timeout=20) as http:
        target = httpx.URL(url, raw_path=f"//evil.example/x?token={TOKEN}".encode())
        r = http.send(http.build_request("GET", target))
        assert r.status_code == 303 and r.headers["location"] == "/evil.example/x"


@pytest.mark.parametrize(
    "path",
    [
        f"/pipeline?x=1&token={TOKEN}",
        f"/pipeline?x=1&%74oken={TOKEN}",
        f"/pipeline?x=1&to%6Ben={TOKEN}",
        "/pipeline?x=1&token=" + "".join(f"%{b:02X}" for b in TOKEN.encode()),
        f"/pipeline?x=1&q={TOKEN[:30]}%{ord(TOKEN[30]):02x}{TOKEN[31:]}",
    ],
)
def test_the_token_never_reaches_a_log_line(path: str) -> None:
    install_redaction(TOKEN)
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 303),
        None,
    )
    RedactToken().filter(record)
    line = record.getMessage()
    assert TOKEN not in line and path.split("&")[-1] not in line
    assert line.startswith('127.0.0.1:5000 - "GET /pipeline?x=1&') and line.endswith('=*** HTTP/1.1" 303')


def test_an_app_log_line_with_the_token_is_redacted_too(caplog: pytest.LogCaptureFixture) -> None:
    install_redaction(TOKEN)
    caplog.set_level(logging.INFO, logger="eventlake.dashboard.app")
    try:
        raise ValueError(f"bad value {TOKEN}")
    except ValueError:
        logging.getLogger("eventlake.dashboard.app").exception("failed: %s", f"/x?%74oken={TOKEN}")
    assert caplog.records and all(
        TOKEN not in r.getMessage() and TOKEN not in (r.exc_text or "") for r in caplog.records
    )
    assert TOKEN not in caplog.text


def test_a_loopback_dashboard_refuses_other_host_names(client: httpx.Client) -> None:
    # DNS rebinding: a page of evil.example whose name resolves to 127.0.0.1 sends Host: evil.example.
    refused = client.get("/api/health", headers={"Host": "evil.example:8000"})
    assert refused.status_code == 421
    assert "loopback names only" in refused.json()["error"]
    assert client.get("/api/health", headers={"Host": "localhost:8000"}).status_code == 200
    assert client.get("/api/health").status_code == 200  # 127.0.0.1:PORT


def test_the_env_token_works_and_is_checked(tick_lake: TickLake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLAKE_DASHBOARD__TOKEN", f" {TOKEN} ")
    assert configured_token(load_settings().dashboard) == TOKEN
    monkeypatch.setenv("EVENTLAKE_DASHBOARD__TOKEN", "short")
    with pytest.raises(WeakToken, match="has 5 characters; it needs at least 32"):
        configured_token(load_settings().dashboard)
    assert os.environ["EVENTLAKE_DASHBOARD__TOKEN"] == "short"
