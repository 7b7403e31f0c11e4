"""A real PostgreSQL server for the tests, one per test session (tests/postgres_server.py starts it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres_server import PostgresProcess, PostgresServer, PostgresUnavailable

__all__ = ["PostgresProcess", "PostgresServer", "pg_catalog_url", "postgres_server"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        running = PostgresProcess()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield running.server
    finally:
        running.remove()


@pytest.fixture
def pg_catalog_url(postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty PostgreSQL database as a catalog URL; its password in EVENTLAKE_CATALOG_PASSWORD."""
    monkeypatch.setenv("EVENTLAKE_CATALOG_PASSWORD", postgres_server.password)
    return postgres_server.url(postgres_server.new_database())
