"""`eventlake dashboard` as a user runs it: refuses an open bind without a good token, serves, stops on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from eventlake.runtime import free_port
from tests.e2e.conftest import EVENTLAKE, Run
from tests.fixtures_dashboard import TickLake, tick_lake  # noqa: F401

pytestmark = pytest.mark.e2e


def test_an_open_bind_without_a_token_is_refused_in_one_line(cli: Run) -> None:
    result = cli("dashboard", "--host", "0.0.0.0", "--port", str(free_port()))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to serve the dashboard on 0.0.0.0 without an access token" in lines[0]
    assert "Traceback" not in result.stderr


TOKEN = "bN4xK8qT2vW7mZ1cR5yH9jL3sD6fG0pA-uE_iO2kYw"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["--token", TOKEN],
            {},
            "--token is not accepted: every user can read a command line with ps "
            "(set env EVENTLAKE_DASHBOARD__TOKEN or pass --token-file FILE (mode 600))",
        ),
        (
            [],
            {"EVENTLAKE_DASHBOARD__TOKEN": " "},
            "the dashboard access token is blank (make one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))')",
        ),
        ([], {"EVENTLAKE_DASHBOARD__TOKEN": "changeme-changeme-changeme-changeme"}, "too predictable"),
    ],
)
def test_a_weak_or_visible_token_is_refused_in_one_line(
    cli: Run, args: list[str], env: dict[str, str], message: str
) -> None:
    result = cli("dashboard", "--host", "0.0.0.0", "--port", str(free_port()), *args, env=env)
    assert result.returncode == (2 if "--token" in args else 1)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert TOKEN not in result.stderr and "Traceback" not in result.stderr


def test_a_token_file_others_may_read_is_refused(cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o644)
    result = cli("dashboard", "--host", "0.0.0.0", "--port", str(free_port()), "--token-file", str(path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"the token file {path} has mode 0644, looser than 0600 (chmod 600 {path})" in lines[0]


def _start(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
    full_env.update(env or {})
    proc = subprocess.Popen(
        [EVENTLAKE, *args], cwd=cwd, env=full_env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
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


@pytest.mark.parametrize("source", ["env", "file"])
def test_with_a_token_requests_need_it_and_logs_never_show_it(tick_lake: TickLake, tmp_path: Path, source: str) -> None:
    token = TOKEN
    args = ["--debug", "dashboard", "--port", str(free_port()), "--lake", str(tick_lake.root)]
    env = {}
    if source == "env":
        env["EVENTLAKE_DASHBOARD__TOKEN"] = token
    else:
        (tmp_path / "token").write_text(token + "\n")
        (tmp_path / "token").chmod(0o600)
        args += ["--token-file", str(tmp_path / "token")]
    proc, url = _start(args, tmp_path, env=env)
    try:
        assert httpx.get(f"{url}api/health").status_code == 401
        assert httpx.get(f"{url}api/health", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert httpx.get(f"{url}pipeline?token={token}").status_code == 303
        encoded = "".join(f"%{b:02x}" for b in token.encode())
        target = httpx.URL(f"{url}pipeline", raw_path=f"/pipeline?%74oken={encoded}".encode())
        assert httpx.get(target).status_code == 303
    finally:
        code, printed = _interrupt(proc)
    assert code == 0
    assert "/pipeline?token=***" in printed and "/pipeline?%74oken=***" in printed  # logged, redacted
    assert token not in printed and encoded not in printed
