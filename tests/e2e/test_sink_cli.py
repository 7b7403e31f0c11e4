"""`eventlake sink` as users run it: killed mid-write, several processes in one group, status, metrics."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import AdminClient

from eventlake.catalog import CatalogStore
from eventlake.lake import open_lake
from eventlake.runtime import free_port
from tests.e2e.conftest import EVENTLAKE, Run
from tests.fixtures_sink import Sent, assert_exactly_once, foreign_producer, make_events, produce_events, read_landed
from tests.polling import wait_until

pytestmark = pytest.mark.e2e


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}


def _sink(
    bootstrap: str, topic: str, lake: Path, group: str, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [EVENTLAKE, "sink", topic, "--lake", str(lake), "--bootstrap-servers", bootstrap, "--group", group, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**_env(), **(env or {})},
    )


def _wait_rows(lake: Path, at_least: int, proc: subprocess.Popen[str], timeout_s: float = 120) -> int:
    deadline = time.monotonic() + timeout_s
    path = lake / "_eventlake" / "catalog.sqlite"
    while not path.exists() and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.02)
    # One connection for the whole wait (reads on an open connection never meet the schema set-up).
    with CatalogStore(path) as store:
        while time.monotonic() < deadline:
            rows = sum(e.rows for e in store.ledger())
            if rows >= at_least:
                return rows
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            time.sleep(0.02)
    pytest.fail(f"fewer than {at_least} rows landed within {timeout_s}s")


def _summary_rows(stderr: str) -> int:
    m = re.search(r"sink: (\d+) rows", stderr)
    assert m, stderr[-2000:]
    return int(m.group(1))


def _check_lake(lake: Path, sent: Sent, topic: str) -> None:
    with CatalogStore(lake / "_eventlake" / "catalog.sqlite") as store:
        assert_exactly_once(sent, read_landed(store, open_lake(str(lake)), topic), topic)


def test_sigkill_three_times_mid_write_still_lands_exactly_once(bootstrap: str, topic: str, tmp_path: Path) -> None:
    sent = produce_events(bootstrap, topic, make_events(300_000, seed=5))
    lake = tmp_path / "lake"
    group = f"g-{topic}"
    landed = 0
    for _ in range(3):
        proc = _sink(bootstrap, topic, lake, group, "--flush-rows", "7000")
        landed = _wait_rows(lake, landed + 20_000, proc)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)  # reaps it and closes its pipes
    assert landed < 300_000
    final = _sink(bootstrap, topic, lake, group, "--until-idle", "3", env={"EVENTLAKE_SINK__ORPHAN_GRACE_SECONDS": "0"})
    _, stderr = final.communicate(timeout=240)
    assert final.returncode == 0, stderr[-2000:]
    _check_lake(lake, sent, topic)
    # Files from the killed runs that no ledger entry names were swept at start: the lake holds
    # exactly the files the catalog lists.
    # Besides them, only files that maintenance merged (kept for readers' grace) or was writing when
    # killed, each named in the catalog as pending and deleted by a later pass.
    with CatalogStore(lake / "_eventlake" / "catalog.sqlite") as store:
        listed = {f.path for f in store.list_files()}
        pending = {path for path, *_ in store.pending()}
    on_disk = {str(p) for p in (lake / topic.replace("-", "_")).rglob("*") if p.is_file()}
    assert on_disk - pending == listed


def _group_members(admin: AdminClient, group: str) -> int:
    """Members of a consumer group that has finished rebalancing (0 while it rebalances)."""
    described = admin.describe_consumer_groups([group])[group].result(timeout=10)
    return len(described.members) if described.state == ConsumerGroupState.STABLE else 0


def _positions(lake: Path, topic: str) -> dict[int, int]:
    """Next offset to land per partition of `topic`, from the ledger."""
    with CatalogStore(lake / "_eventlake" / "catalog.sqlite") as store:
        return {p: n for (t, p), n in store.ledger_positions().items() if t == topic}


def test_one_then_two_then_three_then_one_sink_in_a_group(bootstrap: str, topic: str, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    group = f"g-{topic}"
    events = make_events(120_000, seed=9)
    chunks: list[Sent] = []
    enough = threading.Event()  # set once all three sinks have landed rows

    def produce_paced() -> None:  # about 2,000 events/s, at least 48,000, while sinks come and go
        producer = foreign_producer(bootstrap)  # one for the run: a new one per chunk took ~0.5 s to connect
        for i in range(0, len(events), 2000):
            chunks.append(produce_events(bootstrap, topic, events[i : i + 2000], producer=producer))
            if i + 2000 >= 48_000 and enough.is_set():
                return
            time.sleep(0.9)  # pacing: the point is traffic flowing all through the group's changes

    producer = threading.Thread(target=produce_paced)
    producer.start()
    admin = AdminClient({"bootstrap.servers": bootstrap})
    first = _sink(bootstrap, topic, lake, group, "--until-idle", "5")
    _wait_rows(lake, 1, first)
    second = _sink(bootstrap, topic, lake, group)
    wait_until(lambda: _group_members(admin, group) == 2, 120, "the second sink joining the group")
    third = _sink(bootstrap, topic, lake, group)
    wait_until(lambda: _group_members(admin, group) == 3, 120, "the third sink joining the group")
    # Three members, one partition each: every partition landing more rows means every sink landed.
    joined = _positions(lake, topic)
    wait_until(
        lambda: len(now := _positions(lake, topic)) == 3 and all(n > joined.get(p, 0) for p, n in now.items()),
        120,
        "rows landing on every partition with three sinks in the group",
        interval_s=0.2,
    )
    enough.set()
    for proc in (second, third):
        proc.send_signal(signal.SIGTERM)
    outs = [proc.communicate(timeout=60) for proc in (second, third)]
    assert [p.returncode for p in (second, third)] == [0, 0], [o[1][-1500:] for o in outs]
    producer.join(180)
    _, stderr = first.communicate(timeout=180)
    assert first.returncode == 0, stderr[-2000:]
    sent = Sent({k: v for c in chunks for k, v in c.by_coord.items()})
    assert len(sent) >= 48_000
    _check_lake(lake, sent, topic)
    helpers = [_summary_rows(o[1]) for o in outs]
    assert all(n > 0 for n in helpers), f"the second and third sinks landed {helpers}: partitions were not shared"
    assert _summary_rows(stderr) + sum(helpers) == len(sent)


def test_status_and_metrics_show_what_landed(cli: Run, bootstrap: str, topic: str, tmp_path: Path) -> None:
    events = make_events(5000, seed=1)
    produce_events(bootstrap, topic, [*[orjson.dumps(e) for e in events], b"garbage"])
    lake = tmp_path / "lake"
    port = free_port()
    proc = _sink(
        bootstrap, topic, lake, f"g-{topic}", "--until-idle", "4", "--metrics-port", str(port), "--time-field", "at_ms"
    )
    deadline = time.monotonic() + 90
    text = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                text = response.read().decode()
        except OSError:
            text = ""
        rows = sum(float(v) for v in re.findall(r"^eventlake_sink_rows_total\{[^}]*\} (\S+)$", text, re.M))
        if rows >= 5000:
            break
        time.sleep(0.2)
    assert "# TYPE eventlake_sink_rows_total counter" in text
    assert sum(float(v) for v in re.findall(r"^eventlake_sink_dlq_total\{[^}]*\} (\S+)$", text, re.M)) == 1
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "sink: 5000 rows" in stderr and "1 to the DLQ" in stderr

    status = cli("status", "--lake", str(lake), "--bootstrap-servers", bootstrap, "--format", "json")
    assert status.returncode == 0, status.stderr
    [t] = orjson.loads(status.stdout)
    assert (t["topic"], t["rows"], t["lag"], t["dlq"]) == (topic, 5000, 0, 1)
    assert sum(p["files"] for p in t["partitions"]) >= 3
    # event time from --time-field: epoch ms of 2023-11-14 -> freshness is about two years
    assert all(p["freshness_s"] > 300 * 86400 for p in t["partitions"])
    table = cli("status", "--lake", str(lake), "--bootstrap-servers", bootstrap, env={"COLUMNS": "400"})
    assert table.returncode == 0 and topic in table.stdout and "sink status" in table.stdout


def test_sink_of_a_missing_topic_is_a_one_line_error(cli: Run, bootstrap: str, tmp_path: Path) -> None:
    r = cli("sink", "no-such-topic-here", "--lake", str(tmp_path / "lake"), "--bootstrap-servers", bootstrap)
    assert r.returncode == 1
    assert "topic no-such-topic-here does not exist" in r.stderr and "Traceback" not in r.stderr
