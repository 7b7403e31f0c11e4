"""A real PostgreSQL server for the tests: Debian's `postgresql` package, one per test session.

initdb + postgres from /usr/lib/postgresql/<version>/bin in a temp folder, on 127.0.0.1 at a free
port, password logins only (scram-sha-256). PostgreSQL refuses to run as root, and CI runs as
root: then the server runs as `nobody`, in a folder handed to it.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from eventlake.runtime import free_port

_numbers = count()


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    admin: str
    admin_password: str
    user: str  # the role eventlake connects as (not a superuser)
    password: str

    def url(self, database: str) -> str:
        """A catalog URL as a user writes it: no password in it (that comes from catalog_password)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def admin_sql(self, sql: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.admin,
            password=self.admin_password,
            dbname=database,
            autocommit=True,
        ) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []

    def new_database(self, prefix: str = "cat") -> str:
        """A fresh empty database owned by `user`; returns its name."""
        name = f"{prefix}_{os.getpid()}_{next(_numbers)}"
        self.admin_sql(f'CREATE DATABASE "{name}" OWNER "{self.user}"')
        return name


def _binaries() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        pytest.fail(
            "no PostgreSQL server in /usr/lib/postgresql/*/bin: run `make system-deps` (Debian's postgresql)",
            pytrace=False,
        )
    return found[-1].parent


def _as_user() -> dict[str, Any]:
    """Popen arguments that drop root to `nobody` (PostgreSQL will not run as root)."""
    if os.geteuid() != 0:
        return {}
    return {"user": "nobody", "group": "nogroup", "extra_groups": []}


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = _binaries()
    # Under /tmp (sticky, world-traversable), not pytest's tmp (mode 700 for root: nobody could not enter).
    root = Path(tempfile.mkdtemp(prefix="eventlake-pg-"))
    data = root / "data"
    admin, admin_password = "eventlake_admin", secrets.token_urlsafe(16)
    pwfile = root / "pw"
    pwfile.write_text(admin_password + "\n")
    drop = _as_user()
    if drop:
        for path in (root, pwfile):
            shutil.chown(path, "nobody", "nogroup")
    pwfile.chmod(0o600)
    init = subprocess.run(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            admin,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ],
        capture_output=True,
        text=True,
        **drop,
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed: {init.stderr.strip().splitlines()[-1:]}", pytrace=False)
    port = free_port()
    log = open(root / "server.log", "wb")  # noqa: SIM115 - the server writes to it until the session ends
    # fsync off: the tests kill sinks, never this server, so durability across a power cut is not tested here.
    proc = subprocess.Popen(
        [
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"port={port}",
            "-c",
            f"unix_socket_directories={root}",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        **drop,
    )
    user, password = "eventlake", secrets.token_urlsafe(16)
    server = PostgresServer("127.0.0.1", port, admin, admin_password, user, password)
    try:
        _wait_ready(server, proc, root / "server.log")
        server.admin_sql(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)  # immediate shutdown: no checkpoint, the folder goes anyway
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(server: PostgresServer, proc: subprocess.Popen[bytes], log: Path) -> None:
    import psycopg

    deadline = time.monotonic() + 60
    while True:
        try:
            server.admin_sql("SELECT 1")
            return
        except psycopg.OperationalError:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = re.sub(r"\s+", " ", log.read_text(errors="replace")[-400:])
                pytest.fail(f"PostgreSQL did not start: {tail}", pytrace=False)
            time.sleep(0.1)


@pytest.fixture
def pg_catalog_url(postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty PostgreSQL database as a catalog URL; its password in EVENTLAKE_CATALOG_PASSWORD."""
    monkeypatch.setenv("EVENTLAKE_CATALOG_PASSWORD", postgres_server.password)
    return postgres_server.url(postgres_server.new_database())
