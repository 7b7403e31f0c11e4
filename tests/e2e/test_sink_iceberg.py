"""`eventlake sink --table-format iceberg`: real Iceberg v2 tables, exactly once across SIGKILLs,
read back through pyiceberg and through `eventlake query`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from eventlake.catalog.iceberg_sql import open_iceberg_catalog
from eventlake.config import Settings
from eventlake.lake import open_lake
from tests.e2e.conftest import EVENTLAKE, Run
from tests.fixtures_sink import assert_exactly_once, make_events, produce_events

pytestmark = pytest.mark.e2e

TOTAL = 300_000


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}


def _sink(bootstrap: str, topic: str, lake: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *(EVENTLAKE, "sink", topic, "--lake", str(lake), "--bootstrap-servers", bootstrap),
            *("--group", f"g-{topic}", "--table-format", "iceberg", *extra),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def _iceberg(lake: Path, topic: str) -> Any:
    return open_iceberg_catalog(open_lake(str(lake)), Settings()).load_table(("default", topic.replace("-", "_")))


def _committed_rows(lake: Path, topic: str) -> int:
    if not (lake / "_eventlake" / "iceberg.sqlite").exists():
        return 0
    try:
        snap = _iceberg(lake, topic).current_snapshot()
    except Exception:  # not made yet (NoSuchTableError), or the catalog file half set up
        return 0
    return int(snap.summary["total-records"]) if snap is not None else 0


def _wait_committed(lake: Path, topic: str, at_least: int, proc: subprocess.Popen[str], timeout_s: float = 120) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = _committed_rows(lake, topic)
        if rows >= at_least:
            return rows
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.02)
    pytest.fail(f"fewer than {at_least} rows committed within {timeout_s}s")


def _data_files(lake: Path, topic: str) -> set[Path]:
    return set((lake / topic.replace("-", "_") / "data").rglob("*.parquet"))


def _referenced(lake: Path, topic: str) -> set[Path]:
    try:
        return {Path(t.file.file_path.removeprefix("file://")) for t in _iceberg(lake, topic).scan().plan_files()}
    except Exception:  # no table yet
        return set()


def _kill_mid_commit(lake: Path, topic: str, proc: subprocess.Popen[str], orphans: set[Path]) -> bool:
    """SIGKILL once data files exist that no snapshot names yet (written, not committed); True if so."""
    deadline = time.monotonic() + 10
    caught = False
    while time.monotonic() < deadline and not caught:
        try:
            snap = _iceberg(lake, topic).current_snapshot()
            committed = int(snap.summary["total-data-files"]) if snap is not None else 0
        except Exception:  # the sink's commit holds the catalog's lock: look again
            continue
        caught = len(_data_files(lake, topic) - orphans) > committed
        if not caught:
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    return caught


def test_iceberg_sink_sigkilled_three_times_lands_exactly_once(
    cli: Run, bootstrap: str, topic: str, tmp_path: Path
) -> None:
    # The 300,000 events; flushes of 20,000 rows keep the commits (and the test) few.
    started = time.monotonic()
    sent = produce_events(bootstrap, topic, make_events(TOTAL, seed=14))
    produced = time.monotonic()
    lake = tmp_path / "lake"
    landed, mid_commit = 0, 0
    for _ in range(3):
        orphans = _data_files(lake, topic) - _referenced(lake, topic)  # what earlier kills left
        proc = _sink(bootstrap, topic, lake, "--flush-rows", "20000")
        try:
            landed = _wait_committed(lake, topic, landed + 20_000, proc)
            # Then killed between writing a flush's data files and committing them, when we see that.
            mid_commit += _kill_mid_commit(lake, topic, proc, orphans)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=10)
    assert landed < TOTAL
    assert mid_commit >= 1, "no kill landed between a flush's write and its commit"
    # Two processes of one group finish it: commits of different partitions race on one table.
    final = _sink(bootstrap, topic, lake, "--until-idle", "3", "--workers", "2", "--flush-rows", "20000")
    try:
        _, stderr = final.communicate(timeout=600)
    finally:
        if final.poll() is None:
            final.terminate()  # the workers follow their parent
            final.communicate(timeout=30)
    assert final.returncode == 0, stderr[-3000:]

    table = _iceberg(lake, topic)
    assert table.format_version == 2
    assert [f.transform.__class__.__name__ for f in table.spec().fields] == ["HourTransform"]
    rows = table.scan().to_arrow()
    assert_exactly_once(sent, rows, topic)
    assert _data_files(lake, topic) > _referenced(lake, topic)  # the killed writes exist, unreferenced
    summary = table.current_snapshot().summary
    for p in range(3):
        assert int(summary[f"eventlake.offsets.{topic}.{p}"]) == 1 + max(o for q, o in sent.by_coord if q == p)

    out = cli(
        "query",
        "--lake",
        str(lake),
        "--format",
        "json",
        "SELECT count(*) AS n, count(DISTINCT (_partition, _offset)) AS d, sum(nested.a) AS s "
        f"FROM {topic.replace('-', '_')}",
    )
    assert out.returncode == 0, out.stderr
    [got] = json.loads(out.stdout)
    assert got["n"] == got["d"] == TOTAL
    assert got["s"] == sum(e["nested"]["a"] for e in sent.by_coord.values())
    # A reader that is not pyiceberg (Iceberg's Java library, through the same SQLite catalog) agrees.
    from tests.iceberg_java import read_with_iceberg_java

    java = read_with_iceberg_java(lake, "default", topic.replace("-", "_"), "nested.a")
    assert (java["rows"], java["distinct"], java["sum"]) == (got["n"], got["d"], got["s"])
    assert java["snapshot"] == table.current_snapshot().snapshot_id and java["format_version"] == 2

    described = cli("tables", "describe", topic.replace("-", "_"), "--lake", str(lake), "--format", "json")
    assert described.returncode == 0, described.stderr
    info = json.loads(described.stdout)
    assert info["parameters"]["table_type"] == "ICEBERG"
    assert info["snapshots"][-1]["total_records"] == TOTAL and info["snapshots"][-1]["current"]
    assert sum(s["added_records"] for s in info["snapshots"]) == TOTAL
    print(f"produced {TOTAL} in {produced - started:.1f} s; landed and checked in {time.monotonic() - produced:.1f} s")
