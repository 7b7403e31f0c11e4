"""Iceberg tables for several machines: the catalog on a real PostgreSQL, the data on the S3 lake
(the real S3 server, S3Proxy). Two writers racing one partition: one commit wins, the loser's files are
deleted from S3, the table stays exact; query and the catalog commands read it. Secrets never reach a message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from eventlake.catalog import CatalogStore, open_catalog
from eventlake.catalog.iceberg_catalog import open_iceberg_catalog
from eventlake.config import Settings, load_settings
from eventlake.errors import ConfigError
from eventlake.lake import Lake, open_lake
from eventlake.lake.local_s3 import LocalS3
from eventlake.query import QueryEngine
from eventlake.sink.iceberg_commit import recorded_offsets
from tests.fixtures_postgres import PostgresServer
from tests.iceberg_writer import IcebergWriter

TOPIC = "orders"
EVENTLAKE = str(Path(sys.executable).with_name("eventlake"))


def _settings(lake: str, iceberg: str, s3: LocalS3 | None, **more: Any) -> Settings:
    return load_settings(
        overrides={"lake": lake, "iceberg": {"catalog": iceberg}, **(s3.overrides() if s3 else {}), **more}
    )


def Writer(settings: Settings, store: CatalogStore) -> IcebergWriter:
    """One sink's view of the table: its own catalog connection, as on its own machine."""
    return IcebergWriter(settings, store, TOPIC)


def _objects(lake: Lake) -> set[str]:
    return {o.rel_path for o in lake.list("orders/data")}


def _referenced(lake: Lake, table: Any) -> set[str]:
    return {lake.rel(t.file.file_path) for t in table.scan().plan_files()}


@pytest.fixture
def pg_settings(pg_catalog_url: str, postgres_server: PostgresServer, s3_server: LocalS3, unique_name: str) -> Settings:
    """An S3 lake of its own; eventlake's catalog and the Iceberg catalog in one PostgreSQL database."""
    return _settings(
        f"s3://{s3_server.bucket}/{unique_name}",
        pg_catalog_url,
        s3_server,
        catalog=pg_catalog_url,
        catalog_password=postgres_server.password,
    )


def test_two_writers_racing_one_partition_on_postgres_one_commit_wins(pg_settings: Settings) -> None:
    """Both start the same offsets of one partition (a zombie after a rebalance) at the same moment:
    the PostgreSQL catalog's compare-and-swap lets exactly one append; the other's files go from S3."""
    with open_catalog(pg_settings) as store:
        first = Writer(pg_settings, store)
        assert not first.flush(0, None, 0, [{"id": i, "w": "first"} for i in range(10)]).conflict
        for round_ in range(3):  # a few rounds: which writer reaches the swap first varies
            a, b = Writer(pg_settings, store), Writer(pg_settings, store)
            start = 10 + round_ * 5
            gate = threading.Barrier(2)
            results: dict[str, Any] = {}

            def race(
                name: str,
                w: IcebergWriter,
                start: int = start,
                gate: threading.Barrier = gate,
                out: dict[str, Any] = results,
            ) -> None:
                gate.wait()
                out[name] = w.flush(0, start, start, [{"id": start + i, "w": name} for i in range(5)])

            threads = [threading.Thread(target=race, args=(n, w)) for n, w in (("a", a), ("b", b))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert sorted(r.conflict for r in results.values()) == [False, True], results
            assert all(r.next_offset == start + 5 for r in results.values())
        table = first.ice.refresh()
        assert table is not None
        rows = table.scan().to_arrow()
        assert sorted(rows["_offset"].to_pylist()) == list(range(25))  # every offset once
        assert sorted(rows["id"].to_pylist()) == list(range(25))
        assert recorded_offsets(table) == {(TOPIC, 0): 25}
        # The losers deleted their data files from S3: what is there is what the table names.
        assert _objects(first.lake) == _referenced(first.lake, table)
        assert all(p.startswith("s3://") for p in (t.file.file_path for t in table.scan().plan_files()))


def test_query_reads_an_iceberg_table_on_the_s3_lake_through_the_postgres_catalog(
    pg_settings: Settings, s3_server: LocalS3, tmp_path: Path
) -> None:
    with open_catalog(pg_settings) as store:
        w = Writer(pg_settings, store)
        assert not w.flush(0, None, 0, [{"id": i, "v": i * 1.5} for i in range(100)]).conflict
        assert not w.flush(1, None, 0, [{"id": 100 + i, "v": 2.0} for i in range(50)]).conflict
    with QueryEngine(pg_settings) as engine:
        got = engine.sql("SELECT count(*) AS n, count(DISTINCT (_partition, _offset)) AS d, sum(id) AS s FROM orders")
    assert got.to_pylist() == [{"n": 150, "d": 150, "s": sum(range(150))}]

    # Another machine's empty folder: `tables`, `tables describe` and `views list` need no local lake.
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTLAKE_", "PG"))}
    assert pg_settings.catalog is not None and pg_settings.catalog_password is not None
    env |= {
        "EVENTLAKE_CATALOG": pg_settings.catalog,
        "EVENTLAKE_CATALOG_PASSWORD": pg_settings.catalog_password.get_secret_value(),
        "EVENTLAKE_ICEBERG__CATALOG": pg_settings.iceberg.catalog,
        "EVENTLAKE_S3__ENDPOINT_URL": s3_server.endpoint,
        "EVENTLAKE_S3__ACCESS_KEY_ID": s3_server.access_key,
        "EVENTLAKE_S3__SECRET_ACCESS_KEY": s3_server.secret_key,
    }

    def run(*args: str) -> Any:
        done = subprocess.run([EVENTLAKE, *args, "--format", "json"], capture_output=True, text=True, env=env,
                              cwd=empty, timeout=120, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert [t["table"] for t in run("tables")] == ["default.orders"]
    assert run("views", "list") == []
    info = run("tables", "describe", "orders", "--lake", pg_settings.lake)
    assert [s["total_records"] for s in info["snapshots"]] == [100, 150]
    assert not list(empty.iterdir())  # nothing made here: no lake folder, no catalog file


def test_a_wrong_password_or_a_hostile_url_gives_one_line_without_the_secret(
    pg_catalog_url: str, postgres_server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PGPASSWORD", "PGPASSFILE", "EVENTLAKE_CATALOG_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    lake = open_lake(str(tmp_path / "lake"))
    secret = "s3cret-Wrong-pw"
    wrong = load_settings(
        overrides={"lake": str(tmp_path / "lake"), "iceberg": {"catalog": pg_catalog_url, "catalog_password": secret}}
    )
    with pytest.raises(ConfigError) as err:
        open_iceberg_catalog(lake, wrong)
    text = f"{err.value} {err.value.hint}"
    assert secret not in text and "\n" not in str(err.value)
    assert "password authentication failed" in text and "eventlake" in text
    bad = pg_catalog_url.replace("postgresql://eventlake@", "postgresql://eventlake:pw@")
    with pytest.raises(ConfigError, match="holds a password") as err2:
        open_iceberg_catalog(lake, _settings(str(tmp_path / "lake"), bad, None))
    assert ":pw@" not in str(err2.value)
    with pytest.raises(ConfigError, match="unknown option"):
        open_iceberg_catalog(lake, _settings(str(tmp_path / "lake"), pg_catalog_url + "?options=-c%20x", None))


def test_an_s3_lake_with_a_shared_catalog_refuses_a_per_machine_sqlite_iceberg_catalog(
    s3_server: LocalS3, pg_catalog_url: str, unique_name: str
) -> None:
    settings = _settings(f"s3://{s3_server.bucket}/{unique_name}", "sqlite", s3_server, catalog=pg_catalog_url)
    with pytest.raises(ConfigError, match="shared Iceberg catalog") as err:
        open_iceberg_catalog(open_lake(settings.lake, settings.s3), settings)
    assert "EVENTLAKE_ICEBERG__CATALOG" in (err.value.hint or "")


def test_a_postgres_outage_under_an_iceberg_writer_is_waited_out_and_nothing_lands_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server of its own, stopped under a writer: commits and offset reads fail as the retriable
    CatalogUnavailable the sink waits out (not an error that stops it), with no password in it; once
    the server is back the same writer carries on and the table holds every offset once."""
    from eventlake.catalog.exceptions import CatalogUnavailable
    from eventlake.catalog.iceberg_catalog import catalog_outages
    from eventlake.sink.iceberg_commit import next_offset
    from tests.postgres_server import PostgresProcess

    running = PostgresProcess()
    try:
        server = running.server
        monkeypatch.setenv("EVENTLAKE_CATALOG_PASSWORD", server.password)
        settings = _settings(str(tmp_path / "lake"), server.url(server.new_database()), None)
        with open_catalog(settings) as store:
            w = Writer(settings, store)
            assert not w.flush(0, None, 0, [{"id": i} for i in range(10)]).conflict
            running.stop()
            for attempt in (
                lambda: w.flush(0, 10, 10, [{"id": 10 + i} for i in range(10)]),
                lambda: next_offset(w.ice, TOPIC, 0),
            ):
                with pytest.raises(CatalogUnavailable) as caught, catalog_outages():
                    attempt()
                assert caught.value.retriable and server.password not in str(caught.value)
                assert "\n" not in str(caught.value)
            running.start()
            # The sink's retry after the outage: the flush that met it did not land, so it lands now, once.
            with catalog_outages():
                assert next_offset(w.ice, TOPIC, 0) == 10
                assert not w.flush(0, 10, 10, [{"id": 10 + i} for i in range(10)]).conflict
            table = w.ice.refresh()
            assert table is not None
            assert sorted(table.scan().to_arrow()["_offset"].to_pylist()) == list(range(20))
    finally:
        running.remove()


def _open_fresh_catalog(lake_dir: str, gate: Any, results: Any) -> None:
    settings = load_settings(overrides={"lake": lake_dir})
    lake = open_lake(lake_dir)
    import pyiceberg.catalog.sql  # noqa: F401 - imported before the gate, so the opens start together

    gate.wait()
    try:
        open_iceberg_catalog(lake, settings)
        results.put("ok")
    except Exception as exc:
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_new_lakes_sqlite_iceberg_catalog_at_once_all_succeed(tmp_path: Path) -> None:
    """`sink --workers N` on a brand-new lake: N processes create pyiceberg's tables in one SQLite
    file at the same moment (behind a barrier); the losers of that race retry instead of failing."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    for round_ in range(3):
        lake_dir = str(tmp_path / f"lake{round_}")
        gate, results = ctx.Barrier(6), ctx.Queue()
        procs = [ctx.Process(target=_open_fresh_catalog, args=(lake_dir, gate, results)) for _ in range(6)]
        for p in procs:
            p.start()
        got = [results.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(30)
        assert got == ["ok"] * 6, got
