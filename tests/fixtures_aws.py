"""moto's server: the one stand-in allowed, for AWS Glue and Athena (no real ones run here)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventlake.runtime import free_port


@contextlib.contextmanager
def run_moto(host: str = "127.0.0.1") -> Iterator[str]:
    """moto's server on `host` at a free port until the block ends; yields its endpoint."""
    port = free_port(host)
    exe = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen(
        [str(exe), "-H", host, "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("moto_server did not start")
                time.sleep(0.2)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto on loopback for the session (the deploy user-data test runs its own on a veth address)."""
    with run_moto() as endpoint:
        yield endpoint
