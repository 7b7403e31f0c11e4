"""`eventlake sink --workers N` as users run it: one command, N group members, one summary."""

from __future__ import annotations

import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import orjson
import psutil
import pytest

from eventlake.broker import TopicAdmin
from eventlake.catalog import CatalogStore
from eventlake.runtime import free_port
from tests.e2e.conftest import Run
from tests.e2e.test_sink_cli import _check_lake, _sink, _summary_rows, _wait_rows
from tests.fixtures_sink import make_events, produce_events

pytestmark = pytest.mark.e2e


@pytest.fixture
def topic6(admin: TopicAdmin, unique_name: str) -> str:
    admin.create(unique_name, partitions=6)
    return unique_name


def _workers_line(stderr: str) -> list[tuple[int, set[str]]]:
    """(rows, partitions) of each worker, from the summary's `sink workers:` line."""
    m = re.search(r"sink workers: (\d+) \((.*)\)", stderr)
    assert m, stderr[-2000:]
    out = []
    for part in m.group(2).split("; "):
        w = re.fullmatch(r"\d+: (\d+) rows from (.*)", part)
        assert w, part
        out.append((int(w.group(1)), set(w.group(2).split(", "))))
    assert len(out) == int(m.group(1))
    return out


def _workers(parent: int, want: int, timeout_s: float = 60) -> list[psutil.Process]:
    """The parent's worker processes (not multiprocessing's resource tracker)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [
            p
            for p in psutil.Process(parent).children()
            if any("spawn_main" in a for a in p.cmdline()) and "resource_tracker" not in " ".join(p.cmdline())
        ]
        if len(found) >= want:
            return found
        time.sleep(0.05)
    pytest.fail(f"fewer than {want} workers started")


def _wait_metrics(port: int, proc: subprocess.Popen[str], found: Callable[[str], list[str]]) -> list[str]:
    """Scrape /metrics until `found(text)` gives two values (one per worker)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
        except OSError:
            text = ""
        values = found(text)
        if len(values) == 2 and all(v != "0" for v in values):
            return values
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.2)
    pytest.fail("the two workers did not both own partitions within 120 s")


def test_two_workers_land_six_partitions_exactly_once_with_one_summary(
    cli: Run, bootstrap: str, topic6: str, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    port = free_port()
    proc = _sink(
        bootstrap, topic6, lake, f"g-{topic6}", "--workers", "2", "--flush-rows", "4000", "--metrics-port", str(port)
    )  # fmt: skip
    # Events go in once both workers own partitions: on an idle machine one worker could land
    # them all before the other has started. (No --until-idle: the empty topic would be idle.)
    _wait_metrics(port, proc, re.compile(r'^eventlake_sink_worker_partitions\{worker="\d+"\} (\d+)$', re.M).findall)
    sent = produce_events(bootstrap, topic6, make_events(60_000, seed=3))
    text = ""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # one endpoint for both workers, summed
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
        except OSError:
            text = ""
        rows = sum(float(v) for v in re.findall(r"^eventlake_sink_rows_total\{[^}]*\} (\S+)$", text, re.M))
        if rows >= 60_000:
            break
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.2)
    assert "eventlake_sink_workers 2" in text, text[-1500:]
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr[-2000:]
    _check_lake(lake, sent, topic6)

    assert _summary_rows(stderr) == 60_000
    workers = _workers_line(stderr)
    assert len(workers) == 2 and all(rows > 0 for rows, _ in workers), workers
    assert sum(rows for rows, _ in workers) == 60_000
    assert set().union(*(parts for _, parts in workers)) == {f"{topic6}[{p}]" for p in range(6)}

    status = cli("status", "--lake", str(lake), "--bootstrap-servers", bootstrap, "--format", "json")
    assert status.returncode == 0, status.stderr
    [t] = orjson.loads(status.stdout)
    assert (t["rows"], t["lag"]) == (60_000, 0)
    assert sorted(p["partition"] for p in t["partitions"]) == list(range(6))


def test_sigterm_to_the_command_stops_every_worker_cleanly(bootstrap: str, topic6: str, tmp_path: Path) -> None:
    sent = produce_events(bootstrap, topic6, make_events(200_000, seed=4))
    lake = tmp_path / "lake"
    group = f"g-{topic6}"
    proc = _sink(bootstrap, topic6, lake, group, "--workers", "2", "--flush-rows", "4000")
    workers = _workers(proc.pid, 2)
    _wait_rows(lake, 20_000, proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 0, stderr[-2000:]
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)
    with CatalogStore(lake / "_eventlake" / "catalog.sqlite") as store:
        recorded = sum(e.rows for e in store.ledger())
    assert _summary_rows(stderr) == recorded  # what the workers flushed on their way out is counted too

    final = _sink(bootstrap, topic6, lake, group, "--workers", "2", "--until-idle", "3")
    _, stderr = final.communicate(timeout=180)
    assert final.returncode == 0, stderr[-2000:]
    _check_lake(lake, sent, topic6)
    assert _summary_rows(stderr) == 200_000 - recorded


def test_a_killed_worker_is_restarted_and_every_event_lands_once(bootstrap: str, topic6: str, tmp_path: Path) -> None:
    sent = produce_events(bootstrap, topic6, make_events(200_000, seed=6))
    lake = tmp_path / "lake"
    proc = _sink(
        bootstrap, topic6, lake, f"g-{topic6}", "--workers", "2", "--until-idle", "3", "--flush-rows", "4000",
        env={"EVENTLAKE_SINK__ORPHAN_GRACE_SECONDS": "0"},
    )  # fmt: skip
    victim = _workers(proc.pid, 2)[0]
    _wait_rows(lake, 20_000, proc)
    victim.send_signal(signal.SIGKILL)
    _, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr[-2000:]
    assert "ended unexpectedly" in stderr and "1 restarted after dying" in stderr, stderr[-2000:]
    _check_lake(lake, sent, topic6)


@pytest.mark.parametrize("value", ["0", "-1", "abc", "10000", "1.5"])
def test_bad_worker_counts_are_one_line_errors(cli: Run, value: str) -> None:
    r = cli("sink", "some-topic", "--workers", value, "--bootstrap-servers", "127.0.0.1:1")
    assert r.returncode == 2, r.stderr
    [line] = r.stderr.strip().splitlines()
    assert "--workers" in line and "1..64 or auto" in line and "Traceback" not in line


@pytest.mark.parametrize("workers", ["1", "2"])
def test_until_idle_stops_after_transactional_producers(
    bootstrap: str, topic6: str, tmp_path: Path, workers: str
) -> None:
    """Each committed transaction ends with a marker that takes an offset of its own, so the high
    watermark is one past the last message: the sink must still see that it caught up and stop."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"tx-{topic6}"})
    producer.init_transactions(30)
    events = make_events(3_000, seed=11)
    for chunk in (events[:1_500], events[1_500:]):
        producer.begin_transaction()
        for i, e in enumerate(chunk):
            producer.produce(topic6, orjson.dumps(e), key=str(i).encode())
        producer.commit_transaction(30)
    lake = tmp_path / "lake"
    proc = _sink(bootstrap, topic6, lake, f"g-{topic6}", "--workers", workers, "--until-idle", "2")
    try:
        _, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"sink --workers {workers} --until-idle never stopped: {proc.communicate()[1][-1500:]}")
    assert proc.returncode == 0, stderr[-2000:]
    assert _summary_rows(stderr) == 3_000
    with CatalogStore(lake / "_eventlake" / "catalog.sqlite") as store:
        assert sum(e.rows for e in store.ledger()) == 3_000  # every message once; the markers land nothing
