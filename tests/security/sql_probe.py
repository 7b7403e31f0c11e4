"""Run one DoS request in a fresh process and report how it ended, how long it took, how much memory it took.

Used by test_sql_attacks.py: `python sql_probe.py < request.json` prints one JSON line. A fresh
process per case gives a clean memory baseline, and a request that never ends cannot hold the
test session: after `bound_s` the probe reports an overrun and exits, leaving the worker behind.

Request: {"surface": "library"|"http", "lake": DIR, "query": {...settings}, "sql": TEXT, "bound_s": S}
Answer:  {"kind": "ok"|"error"|"overrun"|"setup", "error_class", "message", "status", "elapsed_s",
          "rss_growth", "rows"}
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import psutil


class PeakRss:
    """Samples this process's RSS every 10 ms in a thread; `growth` is the peak over the start value."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.start: int = self.process.memory_info().rss
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def growth(self) -> int:
        self._stop.set()
        self.peak = max(self.peak, self.process.memory_info().rss)
        growth: int = self.peak - self.start  # psutil has no type hints
        return growth


def _setup(request: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    from eventlake.config import load_settings
    from eventlake.errors import EventlakeError

    settings = load_settings(None, {"lake": request["lake"], "query": request["query"]})
    sql = request["sql"]
    if request["surface"] == "library":
        from eventlake.query import connect

        engine = connect(settings)
        engine.execute("SELECT count(*) FROM stock_ticks")

        def library() -> dict[str, Any]:
            try:
                result = engine.execute(sql)
            except EventlakeError as exc:
                return {
                    "kind": "error",
                    "error_class": type(exc).__name__,
                    "message": str(exc),
                    "query_error": _is_query_error(exc),
                }
            except BaseException as exc:  # RecursionError, MemoryError, duckdb errors: all wrong here
                return {
                    "kind": "error",
                    "error_class": type(exc).__name__,
                    "message": str(exc)[:2000],
                    "query_error": False,
                    "traceback": traceback.format_exc()[-3000:],
                }
            return {"kind": "ok", "rows": len(result.rows), "truncated": result.truncated}

        return library

    import warnings

    from eventlake.dashboard.app import create_app

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx.*")
        from starlette.testclient import TestClient

    client = TestClient(create_app(settings), base_url="http://127.0.0.1", raise_server_exceptions=False)
    warm = client.post("/api/query", json={"sql": "SELECT count(*) FROM stock_ticks"})
    assert warm.status_code == 200, warm.text

    def http() -> dict[str, Any]:
        answer = client.post("/api/query", json={"sql": sql})
        out: dict[str, Any] = {
            "kind": "ok" if answer.status_code == 200 else "error",
            "status": answer.status_code,
            "content_type": answer.headers.get("content-type", ""),
            "bytes": len(answer.content),
        }
        if answer.status_code != 200:
            try:
                out["message"] = answer.json().get("error")
            except ValueError:
                out["message"] = None
                out["body"] = answer.text[:500]
        return out

    return http


def _is_query_error(exc: BaseException) -> bool:
    from eventlake.query.exceptions import QueryError

    return isinstance(exc, QueryError)


def main() -> None:
    request = json.loads(sys.stdin.read())
    try:
        call = _setup(request)
    except BaseException as exc:
        print(json.dumps({"kind": "setup", "error_class": type(exc).__name__, "message": str(exc)[:2000]}))
        return
    outcome: dict[str, Any] = {}
    memory = PeakRss()
    started = time.perf_counter()
    worker = threading.Thread(target=lambda: outcome.update(call()), daemon=True)
    worker.start()
    worker.join(request["bound_s"])
    elapsed = time.perf_counter() - started
    if worker.is_alive():
        outcome = {"kind": "overrun"}
    outcome.update(elapsed_s=round(elapsed, 3), rss_growth=memory.growth())
    print(json.dumps(outcome), flush=True)
    if outcome["kind"] == "overrun":
        os._exit(0)  # the stuck worker would keep the process alive


if __name__ == "__main__":
    main()
