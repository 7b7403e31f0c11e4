"""`eventlake sink` with its catalog on PostgreSQL: killed mid-write and restarted, and two sinks of one
group on different working directories sharing only Kafka, the lake and the catalog: exactly once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from confluent_kafka import ConsumerGroupState, KafkaException
from confluent_kafka.admin import AdminClient

from eventlake.catalog import CatalogStore, open_catalog
from eventlake.config import load_settings
from eventlake.lake import open_lake
from tests.e2e.conftest import EVENTLAKE
from tests.fixtures_postgres import PostgresServer
from tests.fixtures_sink import assert_exactly_once, make_events, produce_events, read_landed
from tests.polling import wait_until

pytestmark = pytest.mark.e2e


def _sink(
    bootstrap: str, topic: str, lake: Path, catalog: str, password: str, cwd: Path, *extra: str
) -> subprocess.Popen[str]:
    cwd.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
    env["EVENTLAKE_CATALOG_PASSWORD"] = password
    return subprocess.Popen(
        [EVENTLAKE, "sink", topic, "--lake", str(lake), "--catalog", catalog, "--bootstrap-servers", bootstrap,
         "--group", f"g-{topic}", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
    )  # fmt: skip


def _store(catalog: str) -> CatalogStore:
    return open_catalog(load_settings(overrides={"catalog": catalog}))


def _landed_rows(store: CatalogStore) -> int:
    return sum(int(row["rows"]) for row in store.ledger_summary(0.0))


def test_sigkilled_sinks_with_the_catalog_on_postgres_land_exactly_once(
    bootstrap: str, topic: str, tmp_path: Path, pg_catalog_url: str, postgres_server: PostgresServer
) -> None:
    sent = produce_events(bootstrap, topic, make_events(60_000, seed=14))
    lake = tmp_path / "lake"
    landed = 0
    with _store(pg_catalog_url) as store:
        for _ in range(2):
            proc = _sink(bootstrap, topic, lake, pg_catalog_url, postgres_server.password, tmp_path / "run",
                         "--flush-rows", "5000")  # fmt: skip
            target = landed + 10_000

            def enough(proc: subprocess.Popen[str] = proc, target: int = target) -> int:
                assert proc.poll() is None, proc.communicate()[1][-2000:]
                rows = _landed_rows(store)
                return rows if rows >= target else 0

            landed = wait_until(enough, 120, f"{target} rows landing", interval_s=0.02)
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=10)
    assert landed < 60_000
    final = _sink(bootstrap, topic, lake, pg_catalog_url, postgres_server.password, tmp_path / "run",
                  "--until-idle", "3")  # fmt: skip
    _, stderr = final.communicate(timeout=240)
    assert final.returncode == 0, stderr[-2000:]
    with _store(pg_catalog_url) as store:
        assert_exactly_once(sent, read_landed(store, open_lake(str(lake)), topic), topic)
        listed = {f.path for f in store.list_files()}
        pending = {path for path, *_ in store.pending()}  # merged by maintenance, deleted after the grace
    # The killed runs' unrecorded files were swept by the restart: the lake holds what the catalog lists.
    assert {str(p) for p in (lake / topic.replace("-", "_")).rglob("*") if p.is_file()} - pending == listed
    assert not (lake / "_eventlake" / "catalog.sqlite").exists()  # the catalog was PostgreSQL's alone


def _members(admin: AdminClient, group: str) -> int:
    try:
        described = admin.describe_consumer_groups([group])[group].result(timeout=10)
    except KafkaException:  # the new group's coordinator is still loading: ask again
        return 0
    return len(described.members) if described.state == ConsumerGroupState.STABLE else 0


def test_two_sinks_in_different_folders_share_one_ledger_on_postgres(
    bootstrap: str, topic: str, tmp_path: Path, pg_catalog_url: str, postgres_server: PostgresServer
) -> None:
    """Two "machines": each sink has its own working directory; they share Kafka, the lake and the catalog."""
    lake = tmp_path / "lake"
    flags = ("--until-idle", "4", "--flush-rows", "3000")
    sinks = [
        _sink(bootstrap, topic, lake, pg_catalog_url, postgres_server.password, tmp_path / f"machine{i}", *flags)
        for i in (1, 2)
    ]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    wait_until(lambda: _members(admin, f"g-{topic}") == 2, 120, "both sinks joining the group")
    sent = produce_events(bootstrap, topic, make_events(24_000, seed=15))
    rows = []
    for proc in sinks:
        _, stderr = proc.communicate(timeout=240)
        assert proc.returncode == 0, stderr[-2000:]
        m = re.search(r"sink: (\d+) rows", stderr)
        assert m, stderr[-2000:]
        rows.append(int(m.group(1)))
    assert all(n > 0 for n in rows), rows  # both landed a share
    with _store(pg_catalog_url) as store:
        assert_exactly_once(sent, read_landed(store, open_lake(str(lake)), topic), topic)
        assert _landed_rows(store) == 24_000 == sum(rows)
    for i in (1, 2):  # nothing was shared through the working directories
        assert not list((tmp_path / f"machine{i}").rglob("*.sqlite"))
