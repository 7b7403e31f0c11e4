"""Run a command as a subprocess, time it, and watch its peak memory.

Peak RSS is the largest sum of the resident sets of the process and all its
descendants, sampled every 50 ms with psutil (a short-lived spike between two
samples can be missed; 50 ms is far below the runs' lengths).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

SAMPLE_S = 0.05

# Every started command until it is reaped: `stop_all` ends them if the bench itself is stopped.
_LIVE: set[Running] = set()


@dataclass
class Finished:
    cmd: list[str]
    returncode: int
    seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str

    def check(self, what: str) -> Finished:
        """Raise with the command's own words when it failed."""
        if self.returncode != 0:
            tail = "\n".join((self.stderr or self.stdout).strip().splitlines()[-15:])
            raise RuntimeError(f"{what} failed (exit {self.returncode}): {' '.join(self.cmd)}\n{tail}")
        return self


def tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of `proc` and its descendants (0 once it is gone)."""
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


class Running:
    """A started command: sample its memory in a thread; wait for it or stop it."""

    def __init__(self, cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.cmd = [str(c) for c in cmd]
        # Files, not pipes: a chatty process that runs for minutes must never block on a full pipe.
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 (closed in _finish)
        self._err = tempfile.TemporaryFile()  # noqa: SIM115
        full_env = {**os.environ, **(env or {})}
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
            start_new_session=True,  # its own group: we can stop it and its children together
        )
        _LIVE.add(self)
        self.peak_rss = 0
        self._stop_sampling = threading.Event()
        self._ps = psutil.Process(self.proc.pid)
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop_sampling.is_set():
            self.peak_rss = max(self.peak_rss, tree_rss(self._ps))
            self._stop_sampling.wait(SAMPLE_S)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout_s: float) -> Finished:
        """Wait for the end; past `timeout_s` stop it and report exit code -9."""
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.proc.wait()
        return self._finish()

    def stop(self, grace_s: float = 15.0) -> Finished:
        """Ask it to stop (SIGINT, as Ctrl-C does), then SIGTERM, then SIGKILL."""
        for sig, wait in ((signal.SIGINT, grace_s), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                break
            self._signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=wait)
        self.proc.wait()
        return self._finish()

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def _finish(self) -> Finished:
        seconds = time.perf_counter() - self.started
        _LIVE.discard(self)
        self._stop_sampling.set()
        self._sampler.join()
        texts = []
        for fh in (self._out, self._err):
            fh.seek(0)
            texts.append(fh.read().decode("utf-8", "replace"))
            fh.close()
        return Finished(
            cmd=self.cmd,
            returncode=self.proc.returncode,
            seconds=seconds,
            peak_rss_mb=round(self.peak_rss / 1e6, 1),
            stdout=texts[0],
            stderr=texts[1],
        )


def stop_all() -> None:
    """Stop whatever the bench started and has not reaped (an interrupted run)."""
    for running in list(_LIVE):
        running.stop(grace_s=5.0)


def run(
    cmd: list[str], *, timeout_s: float = 1800, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Finished:
    """Run `cmd` to its end: wall seconds (start-up included) and peak RSS of its tree."""
    return Running(cmd, cwd=cwd, env=env).wait(timeout_s)


def last_json_line(text: str) -> dict[str, Any] | None:
    """The JSON object a tool printed last: the whole output, or its last `{`-line (one-line or indented)."""
    import json

    lines = text.strip().splitlines()
    for start in range(len(lines) - 1, -1, -1):
        if not lines[start].startswith("{"):
            continue
        for end in (start + 1, len(lines)):  # a one-line object, or an indented one running to the end
            with contextlib.suppress(ValueError):
                value = json.loads("\n".join(lines[start:end]))
                if isinstance(value, dict):
                    return value
    return None
