"""`eventlake dashboard` as a user runs it: refuses an open bind without a token, serves, stops on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from eventlake.broker import free_port
from tests.e2e.conftest import EVENTLAKE, Run
from tests.fixtures_dashboard import TickLake, tick_lake  # noqa: F401

pytestmark = pytest.mark.e2e


def test_an_open_bind_without_a_token_is_refused_in_one_line(cli: Run) -> None:
    result = cli("dashboard", "--host", "0.0.0.0", "--port", str(free_port()))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to serve the dashboard on 0.0.0.0 without an access token" in lines[0]
    assert "Traceback" not in result.stderr


def _start(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
    full_env.update(env or {})
    proc = subprocess.Popen([EVENTLAKE, *args], cwd=cwd, env=full_env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()  # printed once the server is about to accept connections
    assert url.startswith("http://127.0.0.1:"), (url, proc.stderr.read() if proc.poll() is not None else "")
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}api/health", timeout=2)
            return proc, url
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise
            time.sleep(0.1)


def _interrupt(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """Ctrl-C; the exit code and everything printed after the URL (stdout and stderr)."""
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out + err


def test_dashboard_serves_the_lake_and_stops_on_ctrl_c(tick_lake: TickLake, tmp_path: Path) -> None:
    proc, url = _start(["dashboard", "--port", str(free_port()), "--lake", str(tick_lake.root)], tmp_path)
    try:
        assert httpx.get(f"{url}api/health").json()["status"] == "ok"
        body = httpx.post(f"{url}api/query", json={"sql": "SELECT count(*) AS n FROM stock_ticks"}).json()
        assert body == {**body, "columns": ["n"], "rows": [[60]]}
        assert httpx.get(f"{url}dashboards/stocks").status_code == 200
    finally:
        code, err = _interrupt(proc)
    assert code == 0, err
    assert "Traceback" not in err


def test_with_a_token_requests_need_it_and_logs_never_show_it(tick_lake: TickLake, tmp_path: Path) -> None:
    token = "tok-e2e-1234567890"
    proc, url = _start(["--debug", "dashboard", "--port", str(free_port()), "--lake", str(tick_lake.root)],
                       tmp_path, env={"EVENTLAKE_DASHBOARD__TOKEN": token})
    try:
        assert httpx.get(f"{url}api/health").status_code == 401
        assert httpx.get(f"{url}api/health", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert httpx.get(f"{url}pipeline?token={token}").status_code == 303
    finally:
        code, printed = _interrupt(proc)
    assert code == 0
    assert "/pipeline?token=***" in printed  # the access log line is there, redacted
    assert token not in printed
