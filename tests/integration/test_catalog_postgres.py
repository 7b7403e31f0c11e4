"""The catalog on a real PostgreSQL server: the store's own tests again, the ledger under racing
processes, schema versions, a query engine reading it, and hostile catalog URLs."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eventlake.catalog import Column, DataFile, LedgerEntry, Table, migrations, open_catalog
from eventlake.catalog.copy import TABLES
from eventlake.catalog.exceptions import CatalogError, CatalogUnavailable
from eventlake.catalog.store import CatalogStore
from eventlake.config import load_settings
from eventlake.errors import EventlakeError
from eventlake.query import connect
from eventlake.runtime import free_port
from eventlake.types import TableRef
from tests import catalog_workers
from tests.fixtures_postgres import PostgresProcess, PostgresServer

# The SQLite store's tests, collected here again: each takes `store`, which this module makes on PostgreSQL.
from tests.unit.test_catalog_store import (  # noqa: F401
    REF,
    _entry,
    _table,
    test_ledger_accepts_only_the_next_range,
    test_replace_files_swaps_atomically,
    test_schema_versions_bump_only_when_columns_change,
    test_views_partitions_and_crawl_state,
)
from tests.unit.test_ledger_totals import test_totals_follow_flushes_rollups_and_edits_and_the_chain_holds  # noqa: F401
from tests.unit.test_maintain import test_old_ledger_entries_are_rolled_up_per_hour_and_the_chain_goes_on  # noqa: F401
from tests.unit.test_sink_ledger import (  # noqa: F401
    lake,
    test_a_flush_over_many_hours_writes_capped_consecutive_ledger_entries,
    test_a_zombie_that_sees_the_ledger_moved_writes_nothing,
    test_a_zombie_whose_commit_conflicts_removes_its_own_files,
    test_bad_records_are_counted_in_the_ledger_and_handed_to_the_dlq,
    test_flushes_continue_the_ledger_and_files_carry_their_offsets,
    test_orphan_files_are_invisible_and_swept_once_the_ledger_covers_them,
)

EVENTLAKE = str(Path(sys.executable).with_name("eventlake"))


def _open(url: str) -> CatalogStore:
    return open_catalog(load_settings(overrides={"catalog": url}))


@pytest.fixture
def store(pg_catalog_url: str) -> Iterator[CatalogStore]:
    with _open(pg_catalog_url) as opened:
        yield opened


def test_processes_racing_for_the_same_range_one_wins(pg_catalog_url: str, postgres_server: PostgresServer) -> None:
    with _open(pg_catalog_url) as store:
        store.upsert_table(_table([Column("symbol", "string")]))
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([catalog_workers.__name__])  # light: not this module's imports
    results: multiprocessing.Queue[str] = ctx.Queue()
    procs = [
        ctx.Process(target=catalog_workers.race, args=(pg_catalog_url, postgres_server.password, f"w{i}", results))
        for i in range(6)
    ]
    for p in procs:
        p.start()
    outcomes = sorted(results.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(60)
    assert outcomes.count("conflict") == 5, outcomes
    with _open(pg_catalog_url) as store:
        files = store.list_files(REF)
        assert store.ledger_next_offset("t", 0) == 1000
    winner = next(o for o in outcomes if o != "conflict")
    assert len(files) == 1 and files[0].path.endswith(f"-{winner}.parquet")


def test_sinks_starting_together_on_an_empty_database_create_the_schema_once(postgres_server: PostgresServer) -> None:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([catalog_workers.__name__])  # light: not this module's imports
    for _ in range(3):  # the race is in the timing: a few rounds, each on a new database
        db = postgres_server.new_database()
        url = postgres_server.url(db)
        results: multiprocessing.Queue[str] = ctx.Queue()
        procs = [
            ctx.Process(target=catalog_workers.open_new, args=(url, postgres_server.password, results))
            for _ in range(6)
        ]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(60)
        assert outcomes == ["ok"] * 6, outcomes
        assert postgres_server.admin_sql("SELECT version FROM eventlake_schema", db) == [(migrations.LATEST,)]


def test_schema_is_versioned_and_a_newer_one_is_refused(pg_catalog_url: str, postgres_server: PostgresServer) -> None:
    with _open(pg_catalog_url) as store:
        store.ensure_database("default")
    db = pg_catalog_url.rsplit("/", 1)[1]
    assert postgres_server.admin_sql("SELECT version FROM eventlake_schema", db) == [(migrations.LATEST,)]
    with _open(pg_catalog_url) as store:  # opening again upgrades nothing and keeps the data
        assert store.list_databases() == ["default"]
    postgres_server.admin_sql(f"UPDATE eventlake_schema SET version = {migrations.LATEST + 1}", db)
    with pytest.raises(CatalogError, match=r"made by eventlake .*upgrade eventlake"):
        _open(pg_catalog_url)


def _parquet(lake: Path, hour: str, first: int, rows: int = 3) -> DataFile:
    path = lake / "ticks" / "dt=2026-01-01" / f"hour={hour}" / f"ticks+0+{first}+{first + rows - 1}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"price": [1.0] * rows, "_offset": list(range(first, first + rows))}), path)
    return DataFile(str(path), {"dt": "2026-01-01", "hour": hour}, rows, path.stat().st_size, topic="ticks",
                    kafka_partition=0, first_offset=first, last_offset=first + rows - 1)  # fmt: skip


def test_a_long_lived_engine_follows_new_swapped_and_dropped_files(pg_catalog_url: str, tmp_path: Path) -> None:
    """The engine's incremental refresh reads the change numbers PostgreSQL's triggers keep."""
    lake = tmp_path / "lake"
    ref = TableRef("default", "ticks")
    settings = load_settings(overrides={"lake": str(lake), "catalog": pg_catalog_url})
    with open_catalog(settings) as store:
        keys = [Column("dt", "string"), Column("hour", "string")]
        cols = [Column("price", "double"), Column("_offset", "bigint")]
        store.upsert_table(Table("default", "ticks", str(lake / "ticks"), "parquet", cols, keys))
        for n, hour in enumerate(("00", "01", "02")):
            store.commit_flush(LedgerEntry("ticks", 0, n * 3, n * 3 + 2, ref, [_parquet(lake, hour, n * 3)], 3))
        with connect(settings) as engine:
            count = "SELECT count(*) AS n FROM ticks"
            assert engine.sql(count).column("n")[0].as_py() == 9
            store.commit_flush(LedgerEntry("ticks", 0, 9, 11, ref, [_parquet(lake, "02", 9)], 3))
            engine.refresh(force=True)
            assert engine.sql(count).column("n")[0].as_py() == 12
            old = [f.path for f in store.list_files(ref) if f.partition["hour"] == "02"]
            store.replace_files(ref, old, [_parquet(lake, "02", 100, rows=6)])
            engine.refresh(force=True)
            assert engine.sql(count).column("n")[0].as_py() == 12
            store.drop_table(ref)
            engine.refresh(force=True)
            assert [t.name for t in engine.tables()] == []


def _error_line(url: str, password: str | None, lake: Path) -> str:
    """What a user sees: `eventlake tables` with this catalog, one line on stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTLAKE_", "PG"))}
    if password is not None:
        env["EVENTLAKE_CATALOG_PASSWORD"] = password
    proc = subprocess.run(
        [sys.executable, "-m", "eventlake.cli.main", "tables", "--catalog", url, "--lake", str(lake)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode != 0
    return proc.stderr.strip()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://u:hunter2secret@127.0.0.1/db", "unsupported catalog 'mysql://u:***@127.0.0.1/db'"),
        ("postgresql://eventlake@127.0.0.1:{port}/x;DROP TABLE ledger", "database 'x;DROP TABLE ledger' must be"),
        ("postgresql://eventlake@127.0.0.1:{port}/db?options=-c%20log_statement%3Dall", "unknown option 'options'"),
        ("postgresql://eventlake@127.0.0.1:{port}/db' host='evil", "must be letters"),
        ("postgresql://eventlake:hunter2secret@127.0.0.1:{port}/db", "holds a password"),
        ("postgresql://eve%20il@127.0.0.1:{port}/db", "user 'eve il' must be"),
        ("postgresql://eventlake@127.0.0.1:{port}/db?sslmode=sometimes", "sslmode 'sometimes'"),
        ("postgresql://eventlake@evil\nhost:{port}/db", "control characters"),
        ("postgresql://eventlake@127.0.0.1:{port}/nosuchdb", 'database "nosuchdb" does not exist'),
    ],
)
def test_hostile_catalog_urls_give_one_line_without_secrets(
    postgres_server: PostgresServer, url: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENTLAKE_CATALOG_PASSWORD", postgres_server.password)
    with pytest.raises(EventlakeError) as caught:
        _open(url.format(port=postgres_server.port))
    line = str(caught.value)
    assert len(line.splitlines()) == 1, line
    assert expected in line
    assert "hunter2secret" not in line and postgres_server.password not in line
    assert caught.value.hint


def test_a_wrong_password_is_one_line_naming_the_user_not_the_password(
    pg_catalog_url: str, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    wrong = "not-" + postgres_server.password
    line = _error_line(pg_catalog_url, wrong, tmp_path)
    assert len(line.splitlines()) == 1, line
    assert "password authentication failed" in line and "eventlake" in line
    assert wrong not in line and postgres_server.password not in line


def test_a_server_that_is_not_there_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTLAKE_CATALOG_PASSWORD", "pw")
    with pytest.raises(CatalogError) as caught:
        _open(f"postgresql://eventlake@127.0.0.1:{free_port()}/db")
    line = str(caught.value)
    assert len(line.splitlines()) == 1 and "cannot open catalog postgresql://eventlake@127.0.0.1" in line, line


def test_every_other_store_call_works_on_postgres(store: CatalogStore) -> None:
    """The calls the tests above do not reach (status, offset breaks, maintenance): same answers as SQLite's."""
    from eventlake.catalog import OffsetEvent

    store.upsert_table(_table([Column("symbol", "string")]))
    store.commit_flush(_entry(0, 9))
    store.commit_flush(_entry(10, 19, tag="b", dlq=2))
    (summary,) = store.ledger_summary(0.0)
    assert summary["next_offset"] == 20 and summary["rows"] == 18 and summary["dlq"] == 2
    assert summary["table"] == "default.stock_ticks" and summary["files"] == 2
    assert isinstance(summary["rows"], int)  # PostgreSQL's numeric sums come back as ints
    assert store.ledger_positions() == {("t", 0): 20}
    assert [e.first_offset for e in store.ledger("t", limit=1)] == [10]
    assert store.incarnation("t") == (0, None)
    assert store.set_incarnation("t", 0, "id-1", bump=True) == 1
    assert store.set_incarnation("t", 0, "id-1", bump=True) == 1  # a second sink noticing the same recreation
    assert store.incarnation("t") == (1, "id-1") and store.incarnation_topics() == ["t"]
    store.record_offset_event(OffsetEvent("t", 0, "gap", 20, 29, 1, "skipped", "retention"))
    assert [(e.kind, e.first_offset) for e in store.offset_events("t")] == [("gap", 20)]
    part = {"dt": "2024-01-01", "hour": "00"}
    stats = store.partition_file_stats(REF, small_bytes=1000)
    assert stats[0]["files"] == 2 and stats[0]["small"] == 2 and stats[0]["values"] == part
    assert store.table_file_stats(1000)[REF] == {"files": 2, "bytes": 200, "small": 2}
    assert store.acquire_lease(REF, part, "me", 60) and not store.acquire_lease(REF, part, "other", 60)
    assert store.live_lease_owners() == {"me"}
    old = [f.path for f in store.list_partition_files(REF, part)]
    merged = DataFile("/lake/stock_ticks/dt=2024-01-01/hour=00/merged.parquet", part, rows=18, bytes=150)
    store.add_pending(REF, [merged.path], "output", "me")
    store.swap_files(REF, part, "me", old, [merged])
    assert {(p, k) for p, _, k, _, _ in store.pending()} == {(p, "retired") for p in old}
    assert store.named_paths([merged.path, *old]) == {merged.path}
    store.remove_pending(old)
    store.release_lease(REF, part, "me")
    store.record_maintenance(REF, "compact", 0.5, {"files": 2})
    assert [r["kind"] for r in store.maintenance_runs()] == ["compact"]
    seq = store.change_seq()
    store.add_files(REF, [DataFile("/lake/stock_ticks/x.parquet", part, rows=1, bytes=1)])
    changes = store.read_changes(seq, {("default", "stock_ticks"): 0})
    assert changes.seq > seq and {f.path for _, f in changes.files[("default", "stock_ticks")][1]} >= {
        "/lake/stock_ticks/x.parquet"
    }
    assert store.drop_partitions(REF, [part], "me") and store.list_files(REF) == []
    store.drop_table(REF)
    assert store.get_table(REF) is None


def test_catalog_copy_moves_everything_and_queries_answer_the_same(
    pg_catalog_url: str, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """0.1.0's fixture lake (tables, views, crawler state, ledger), upgraded, copied by the command a user
    runs: the PostgreSQL catalog says the same through the API and every query answers the same."""
    from tests.unit.test_catalog_versions import EXPECTED, _maker, _old_lake, _plain

    lake = _old_lake(tmp_path)
    with CatalogStore(lake / "_eventlake" / "catalog.sqlite") as source:
        assert _plain(_maker().catalog_facts(source)) == EXPECTED["catalog"]  # upgraded on open
        source_counts = source.count_rows(list(TABLES))
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
    env["EVENTLAKE_CATALOG_PASSWORD"] = postgres_server.password

    def copy(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [EVENTLAKE, "catalog", "copy", "--lake", str(lake), "--to", pg_catalog_url, "--format", "json", *extra],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip

    done = copy()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == source_counts and source_counts["ledger"] > 0 and source_counts["views"] > 0
    settings = load_settings(overrides={"lake": str(lake), "catalog": pg_catalog_url})
    with open_catalog(settings) as target:
        assert _plain(_maker().catalog_facts(target)) == EXPECTED["catalog"]
        assert target.count_rows(list(TABLES)) == source_counts
    with connect(settings) as engine:
        for name, sql in _maker().QUERIES.items():
            result = engine.execute(sql)
            assert {"columns": result.columns, "rows": _plain([list(r) for r in result.rows])} == EXPECTED["queries"][
                name
            ], name
    again = copy()  # a non-empty target is refused, and left as it was
    assert again.returncode == 1 and "is not empty" in again.stderr and "--force" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1 and postgres_server.password not in again.stderr
    forced = copy("--force")
    assert forced.returncode == 0, forced.stderr
    with open_catalog(settings) as target:
        assert target.count_rows(list(TABLES)) == source_counts


def test_a_server_outage_is_retriable_and_the_store_reconnects_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server of its own, stopped and started again: calls meanwhile fail as a retriable outage
    (the sink waits those out), and the same store works again afterwards without reopening."""
    running = PostgresProcess()
    try:
        server = running.server
        monkeypatch.setenv("EVENTLAKE_CATALOG_PASSWORD", server.password)
        with _open(server.url(server.new_database())) as store:
            store.upsert_table(_table([Column("symbol", "string")]))
            store.commit_flush(_entry(0, 9))
            running.stop()
            with pytest.raises(CatalogUnavailable) as caught:
                store.commit_flush(_entry(10, 19))
            assert caught.value.retriable and server.password not in str(caught.value)
            with pytest.raises(CatalogUnavailable):  # and again while it stays down
                store.ledger_next_offset("t", 0)
            running.start()
            assert store.ledger_next_offset("t", 0) == 10  # the flush that met the outage did not land
            store.commit_flush(_entry(10, 19))
            assert store.ledger_next_offset("t", 0) == 20
    finally:
        running.remove()


def test_a_version_3_catalog_with_history_gets_totals_equal_to_its_ledger(
    pg_catalog_url: str, postgres_server: PostgresServer
) -> None:
    from tests.unit.test_ledger_totals import _agree, _flush

    with _open(pg_catalog_url) as store:
        store.upsert_table(_table([]))
        for i in range(6):
            store.commit_flush(_flush("t", i % 2, 10 * (i // 2), 10 * (i // 2) + 9, 1000.0 + i, dlq=i % 2))
    db = pg_catalog_url.rsplit("/", 1)[1]
    # Back to schema version 3 (what the eventlake before migration 4 made), keeping the ledger's rows.
    postgres_server.admin_sql(
        "DROP TRIGGER ledger_totals_add ON ledger; DROP TRIGGER ledger_totals_remove ON ledger; "
        "DROP TRIGGER ledger_totals_change ON ledger; DROP FUNCTION eventlake_ledger_totals(); "
        "DROP TABLE ledger_totals; DROP INDEX ledger_by_commit; UPDATE eventlake_schema SET version = 3",
        db,
    )
    with _open(pg_catalog_url) as store:  # upgraded on open: the totals are filled from the ledger
        assert len(store.ledger()) == 6
        _agree(store)
        store.commit_flush(_flush("t", 0, 30, 39, 2000.0))  # and the chain goes on from them
        _agree(store)
    assert postgres_server.admin_sql("SELECT version FROM eventlake_schema", db) == [(migrations.LATEST,)]
