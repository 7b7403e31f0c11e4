"""What a failure looks like from outside: the dashboard's HTTP status and the CLI's exit code.

Both come from the error's class (`http_status`, `retriable` in eventlake/errors.py). The
dashboard is the real app (FastAPI's TestClient over `create_app`) on a real lake; the CLI is a
real `eventlake` process.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventlake.config import Settings
from eventlake.dashboard.app import RETRY_AFTER_S, create_app
from eventlake.errors import EventlakeError
from tests.fixtures_dashboard import TickLake, tick_lake  # noqa: F401

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx.*")  # Starlette prefers httpx2: not ours to fix here
    from starlette.testclient import TestClient

# Every module that defines EventlakeError subclasses, so the walk below sees all of them.
ERROR_MODULES = [
    "eventlake.errors",
    "eventlake.broker.exceptions",
    "eventlake.catalog.exceptions",
    "eventlake.catalog.glue",
    "eventlake.dashboard.exceptions",
    "eventlake.demo",
    "eventlake.lake.exceptions",
    "eventlake.lake.local_s3",
    "eventlake.produce.exceptions",
    "eventlake.query.exceptions",
    "eventlake.sink.exceptions",
]


def _all_error_classes() -> list[type[EventlakeError]]:
    for name in ERROR_MODULES:
        importlib.import_module(name)
    seen: list[type[EventlakeError]] = []
    todo: list[type[EventlakeError]] = [EventlakeError]
    while todo:
        cls = todo.pop()
        if cls not in seen and cls.__module__.startswith("eventlake."):
            seen.append(cls)
            todo.extend(cls.__subclasses__())
    return sorted(seen, key=lambda c: f"{c.__module__}.{c.__qualname__}")


ERROR_CLASSES = _all_error_classes()


def _settings(lake: TickLake, **query: Any) -> Settings:
    s = lake.settings
    return s.model_copy(update={"query": s.query.model_copy(update=query)})


@pytest.fixture
def http(tick_lake: TickLake) -> Iterator[TestClient]:
    with TestClient(create_app(tick_lake.settings), base_url="http://127.0.0.1") as client:
        yield client


def _error_line(response: Any) -> str:
    """The body every error has: JSON {"error": one line}, nothing else."""
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"], body
    assert body["error"] and "\n" not in body["error"]
    return str(body["error"])


def test_retriable_errors_are_503_and_every_status_is_an_error_status() -> None:
    assert len(ERROR_CLASSES) > 30  # the walk found the stages' classes, not only the root
    for cls in ERROR_CLASSES:
        assert 400 <= cls.http_status <= 599, cls
        if cls.retriable:
            assert cls.http_status == 503, f"{cls.__qualname__} is retriable but answers {cls.http_status}"


def _class_id(cls: type[EventlakeError]) -> str:
    return f"{cls.__module__.removeprefix('eventlake.')}.{cls.__qualname__}"


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=_class_id)
def test_the_handler_answers_each_class_with_its_status(tick_lake: TickLake, cls: type[EventlakeError]) -> None:
    app = create_app(tick_lake.settings)

    @app.get("/test/raise")
    def fail() -> None:
        error = cls.__new__(cls)  # some classes take other arguments; the handler needs only these
        EventlakeError.__init__(error, "it failed\nhere", hint="do this")
        raise error

    with TestClient(app, base_url="http://127.0.0.1") as client:
        response = client.get("/test/raise")
    assert response.status_code == cls.http_status
    assert _error_line(response) == "it failed here (do this)"
    # Retry-After only where waiting helps: a caller that sees none knows retrying as is will not.
    assert response.headers.get("retry-after") == (str(RETRY_AFTER_S) if cls.retriable else None)


@pytest.mark.parametrize(
    ("sql", "status", "fragment"),
    [
        ("SELEKT 1", 400, "syntax"),
        ("SELECT nope FROM stock_ticks", 400, "nope"),
        ("COPY stock_ticks TO 'x.csv'", 400, "refused"),
        ("SELECT * FROM no_such_table", 404, "no_such_table"),
    ],
)
def test_bad_sql_is_400_and_an_unknown_table_404(http: TestClient, sql: str, status: int, fragment: str) -> None:
    response = http.post("/api/query", json={"sql": sql})
    assert response.status_code == status
    assert fragment in _error_line(response)
    assert "retry-after" not in response.headers


def test_unknown_dashboard_or_panel_is_404_and_a_bad_parameter_400(http: TestClient) -> None:
    assert http.get("/api/dashboards/nope").status_code == 404
    assert http.get("/api/panels/stocks/nope").status_code == 404
    assert http.get("/api/stream/nope").status_code == 404
    bad = http.get("/api/panels/stocks/latest", params={"symbol": "nope"})
    assert bad.status_code == 400 and "must be one of" in _error_line(bad)


def test_a_query_over_its_time_limit_is_408_without_retry_after(tick_lake: TickLake) -> None:
    settings = _settings(tick_lake, time_limit_s=0.2)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        slow = client.post("/api/query", json={"sql": "SELECT count(*) FROM range(100000000000) t(a) WHERE a % 7 = 3"})
    assert slow.status_code == 408
    assert "0.2 s" in _error_line(slow)
    assert "retry-after" not in slow.headers  # the same query would run out of time again


def test_a_result_over_its_size_limit_is_413(tick_lake: TickLake) -> None:
    settings = _settings(tick_lake, max_result_bytes=1024)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        huge = client.post("/api/query", json={"sql": "SELECT repeat('x', 1000) AS s FROM range(100)"})
    assert huge.status_code == 413 and "max_result_bytes" in _error_line(huge)


def test_a_query_over_its_memory_limit_is_413(tick_lake: TickLake) -> None:
    settings = _settings(tick_lake, memory_limit="64MB")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        hog = client.post(
            "/api/query", json={"sql": "SELECT length(string_agg(repeat('x', 1000), '')) FROM range(10000000)"}
        )
    assert hog.status_code == 413 and "out of memory" in _error_line(hog)


@pytest.mark.parametrize("kind", ["a folder", "not SQLite"])
def test_a_catalog_that_will_not_open_is_503(tick_lake: TickLake, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "catalog.sqlite"
    if kind == "a folder":
        path.mkdir()
    else:
        path.write_bytes(b"this is not a database\n" * 200)
    settings = tick_lake.settings.model_copy(update={"catalog": str(path)})
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        for response in (client.get("/api/tables"), client.post("/api/query", json={"sql": "SELECT 1"})):
            assert response.status_code == 503
            assert f"cannot open catalog {path}" in _error_line(response)
            # Waiting does not turn a folder into a catalog: no Retry-After.
            assert "retry-after" not in response.headers
