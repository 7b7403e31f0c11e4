"""A real PostgreSQL server: Debian's `postgresql` package, started by the tests (fixtures_postgres) and the bench.

initdb + postgres from /usr/lib/postgresql/<version>/bin in a temp folder, on 127.0.0.1 at a free
port, password logins only (scram-sha-256). PostgreSQL refuses to run as root, and CI runs as
root: then the server runs as `nobody`, in a folder handed to it. No pytest here, so the bench
(bench/cases/iceberg.py) can import it.
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
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

from eventlake.runtime import free_port


class PostgresUnavailable(RuntimeError):
    """The server could not be set up or started (the message says why and what to do)."""


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
        raise PostgresUnavailable(
            "no PostgreSQL server in /usr/lib/postgresql/*/bin: run `make system-deps` (Debian's postgresql)"
        )
    return found[-1].parent


def _as_user() -> dict[str, Any]:
    """Popen arguments that drop root to `nobody` (PostgreSQL will not run as root)."""
    if os.geteuid() != 0:
        return {}
    return {"user": "nobody", "group": "nogroup", "extra_groups": []}


class PostgresProcess:
    """One initialised data folder and the server running on it; `stop()` and `start()` again (same port)."""

    def __init__(self) -> None:
        self.bin_dir = _binaries()
        # Under /tmp (sticky, world-traversable), not pytest's tmp (mode 700 for root: nobody could not enter).
        self.root = Path(tempfile.mkdtemp(prefix="eventlake-pg-"))
        self.data = self.root / "data"
        self.drop = _as_user()
        admin, admin_password = "eventlake_admin", secrets.token_urlsafe(16)
        pwfile = self.root / "pw"
        pwfile.write_text(admin_password + "\n")
        if self.drop:
            for path in (self.root, pwfile):
                shutil.chown(path, "nobody", "nogroup")
        pwfile.chmod(0o600)
        init = subprocess.run(
            [str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", admin, f"--pwfile={pwfile}",
             "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync"],
            capture_output=True, text=True, **self.drop,
        )  # fmt: skip
        if init.returncode != 0:
            shutil.rmtree(self.root, ignore_errors=True)
            raise PostgresUnavailable(f"initdb failed: {init.stderr.strip().splitlines()[-1:]}")
        user, password = "eventlake", secrets.token_urlsafe(16)
        self.server = PostgresServer("127.0.0.1", free_port(), admin, admin_password, user, password)
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()
        self.server.admin_sql(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")

    def start(self) -> None:
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - closed once the child holds it
        # fsync off: the tests kill sinks and stop this server, never cut its power.
        try:
            self.proc = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.data),
                 "-c", "listen_addresses=127.0.0.1", "-c", f"port={self.server.port}",
                 "-c", f"unix_socket_directories={self.root}", "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "max_connections=200"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **self.drop,
            )  # fmt: skip
        finally:
            log.close()
        _wait_ready(self.server, self.proc, self.root / "server.log")

    def stop(self, immediate: bool = False) -> None:
        """Fast shutdown (sessions end, data kept: commits here are not synchronous, a crash could drop
        the last ones), or immediate (no checkpoint) when the folder goes anyway."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGQUIT if immediate else signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def remove(self) -> None:
        self.stop(immediate=True)
        shutil.rmtree(self.root, ignore_errors=True)


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
                raise PostgresUnavailable(f"PostgreSQL did not start: {tail}") from None
            time.sleep(0.1)
