"""`eventlake demo` as `make demo` runs it: its own broker, ticks landing, Ctrl-C leaves nothing behind,
and a second run continues the same lake."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

from eventlake.runtime import free_port
from tests.e2e.conftest import EVENTLAKE

pytestmark = pytest.mark.e2e


def _env(tmp_path: Path, kafka_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
    env.update(
        {
            # A broker of its own, on free ports, as a first `make demo` would start.
            "EVENTLAKE_BROKER__PORT": str(kafka_port),
            "EVENTLAKE_BROKER__CONTROLLER_PORT": str(free_port()),
            "EVENTLAKE_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
        }
    )
    return env


def _count(url: str, table: str) -> int:
    r = httpx.post(f"{url}api/query", json={"sql": f"SELECT count(*) FROM {table}"}, timeout=20)
    return int(r.json()["rows"][0][0]) if r.status_code == 200 else 0


def _wait(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def _port_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _run_demo(tmp_path: Path, env: dict[str, str], port: int, *extra: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [EVENTLAKE, "demo", "--port", str(port), "--rate", "100", *extra],
        cwd=tmp_path,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    url = proc.stdout.readline().strip()
    assert url == f"http://127.0.0.1:{port}/", (url, proc.stderr.read() if proc.poll() is not None else "")
    return proc, url


def test_demo_streams_into_the_lake_stops_cleanly_and_continues(tmp_path: Path) -> None:
    kafka_port, port = free_port(), free_port()
    env = _env(tmp_path, kafka_port)

    proc, url = _run_demo(tmp_path, env, port)
    try:
        assert httpx.get(f"{url}api/health", timeout=10).json()["status"] == "ok"
        _wait(lambda: _count(url, "stock_ticks") > 0, 60, "the first ticks to land")
        first = _count(url, "stock_ticks")
        _wait(lambda: _count(url, "stock_ticks") > first, 30, "stock_ticks to grow")
        _wait(lambda: _count(url, "stock_prices") == 560, 30, "the stock sample to land")
        assert httpx.get(f"{url}dashboards/stocks", timeout=10).status_code == 200
        started = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in started)
        assert "kafka.Kafka" in names and " sink stock-ticks" in names and "synthetic:ticks" in names
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        _, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert "demo stopped" in err and "Traceback" not in err
    assert not [p.pid for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert _port_closed(kafka_port) and _port_closed(port)

    # What the first run landed is still there, and a second run adds to it (the sample is not sent twice).
    proc, url = _run_demo(tmp_path, env, port, "--duration", "20")
    try:
        after_first = _count(url, "stock_ticks")
        assert after_first > first
        _wait(lambda: _count(url, "stock_ticks") > after_first, 40, "the second run's ticks")
        assert _count(url, "stock_prices") == 560
    finally:
        _, err = proc.communicate(timeout=90)  # --duration ends it
    assert proc.returncode == 0, err
    assert "--duration 20 s is over" in err
    assert _port_closed(kafka_port)
