"""Run the `eventlake` command as a user does: a subprocess, its stdout, stderr and exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

EVENTLAKE = str(Path(sys.executable).with_name("eventlake"))

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(tmp_path: Path) -> Run:
    """`cli("topics", "list", env={...})` runs eventlake in a clean folder with a clean env."""

    def run(
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        input: str | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
        full_env.update(env or {})
        return subprocess.run(
            [EVENTLAKE, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            cwd=cwd or tmp_path,
            input=input,
            check=False,
        )

    return run
