"""--exactly-once against a real broker: producers SIGKILLed mid-file and run again send every row once.

Read back with a plain confluent-kafka consumer at isolation.level=read_committed: what a killed
run had not committed was aborted, and is invisible; the next run sent it again.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import threading
import time
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eventlake.broker import TopicAdmin
from eventlake.broker.dead_letters import read_headers
from eventlake.config import Settings, load_settings
from eventlake.produce import ProduceOptions, ProduceReport, produce
from eventlake.produce.exceptions import BadRowError, ExactlyOnceFailed, ResumeRefused
from tests.e2e.conftest import EVENTLAKE
from tests.fixtures_produce import end_offsets, read_to_end

pytestmark = pytest.mark.integration

ROWS = 150_000
KEYS = 16
RATE = 20_000  # paced, so that five kills of 0.3-2 s land inside the file (~7.5 s of sending)
KILLS = 5


def write_source(kind: str, folder: Path) -> tuple[Path, list[int], list[int]]:
    """A file of ROWS rows numbered n = 0..ROWS-1 with a few bad rows; (path, good n, bad lines)."""
    good: list[int] = []
    bad_lines: list[int] = []
    if kind == "parquet":
        path = folder / "rows.parquet"
        n = list(range(ROWS))
        pq.write_table(
            pa.table({"n": n, "k": [f"k{i % KEYS}" for i in n], "v": [i * 0.5 for i in n]}), path, row_group_size=20_000
        )
        return path, n, []
    lines: list[bytes] = [b"n,k,v,note"] if kind == "csv" else []
    physical = len(lines)  # lines so far; a quoted note spans two
    for i in range(ROWS):
        if i % 40_000 == 777:  # a bad row in its place: the DLQ must get it exactly once too
            lines.append(b"bad,row" if kind == "csv" else b"{not json")
            physical += 1
            bad_lines.append(physical)
        if kind == "csv":
            note = '"two\nlines, quoted"' if i % 9_999 == 0 else f"note {i}"
            lines.append(f"{i},k{i % KEYS},{i * 0.5},{note}".encode())
        else:
            lines.append(orjson.dumps({"n": i, "k": f"k{i % KEYS}", "v": i * 0.5}))
        physical += 1 + lines[-1].count(b"\n")
        good.append(i)
    path = folder / f"rows.{kind}"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path, good, bad_lines


def _sending_started(proc: subprocess.Popen[str], bootstrap: str, topic: str, before: int) -> None:
    deadline = time.monotonic() + 90
    while proc.poll() is None and time.monotonic() < deadline:
        if sum(end_offsets(bootstrap, topic).values()) > before:
            return
        time.sleep(0.1)


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_sigkilled_five_times_and_run_again_every_row_arrives_once_in_order(
    kind: str, topic: str, bootstrap: str, tmp_path: Path
) -> None:
    path, good, bad_lines = write_source(kind, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
    env["EVENTLAKE_PRODUCE__TRANSACTION_MAX_S"] = "0.25"  # many commits, so kills land before and after them
    cmd = [
        EVENTLAKE,
        "produce",
        topic,
        "--source",
        str(path),
        "--exactly-once",
        "--key",
        "k",
        "--rate",
        str(RATE),
        "--output",
        "json",
        "--bootstrap-servers",
        bootstrap,
    ]
    rng = random.Random()
    killed_mid_file = 0
    for _ in range(KILLS):
        before = sum(end_offsets(bootstrap, topic).values())
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
        try:
            _sending_started(proc, bootstrap, topic, before)  # start-up (imports, fencing) is not the point
            time.sleep(rng.uniform(0.3, 2.0))  # a random moment mid-file to kill at: the time is the point
            if proc.poll() is None:
                proc.kill()  # SIGKILL: no flush, no commit, no clean-up
                killed_mid_file += 1
            proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    final = subprocess.run(
        [c for c in cmd if c != str(RATE) and c != "--rate"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert final.returncode == 0, final.stderr
    summary = json.loads(final.stdout)
    assert killed_mid_file >= 3, "the producer finished before most kills: raise ROWS or lower RATE"

    committed = read_to_end(bootstrap, topic)
    numbers = [orjson.loads(m.value or b"")["n"] for m in committed]
    assert len(numbers) == len(good)
    assert sorted(numbers) == good  # every row, once: no gap, no duplicate
    by_partition: dict[int, list[int]] = {}
    partitions_of: dict[bytes | None, set[int]] = {}
    for m, n in zip(committed, numbers, strict=True):
        by_partition.setdefault(m.partition, []).append(n)
        partitions_of.setdefault(m.key, set()).add(m.partition)
    for partition, ns in by_partition.items():
        assert ns == sorted(ns), f"partition {partition} is out of file order"
    assert all(len(p) == 1 for p in partitions_of.values()) and len(partitions_of) == KEYS
    assert summary["previously_sent"] + summary["delivered"] == len(good)
    assert summary["not_delivered"] == 0

    if bad_lines:
        dead = read_to_end(bootstrap, f"{topic}.dlq")
        assert sorted(read_headers(m.headers).line or 0 for m in dead) == bad_lines  # dead letters once each, too
    # What the kills left uncommitted is in the log, aborted: without transactions, duplicates.
    aborted = len(read_to_end(bootstrap, topic, isolation="read_uncommitted")) - len(committed)
    print(
        f"{kind}: {killed_mid_file} kills mid-file, {aborted:,} aborted records, "
        f"last run resumed at {summary['resumed_at']}"
    )
    assert aborted > 0


@pytest.fixture
def settings(bootstrap: str) -> Settings:
    return load_settings(overrides={"bootstrap_servers": bootstrap, "produce": {"transaction_max_s": 0.2}})


def write_jsonl(path: Path, start: int, stop: int, mode: str = "wb") -> None:
    with path.open(mode) as fh:
        fh.write(b"".join(orjson.dumps({"n": i, "k": f"k{i % 4}"}) + b"\n" for i in range(start, stop)))


def numbers(bootstrap: str, topic: str) -> list[int]:
    return sorted(orjson.loads(m.value or b"")["n"] for m in read_to_end(bootstrap, topic))


def test_run_again_sends_nothing_appended_rows_only_and_a_changed_file_is_refused(
    settings: Settings, topic: str, bootstrap: str, tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    write_jsonl(path, 0, 1000)
    options = ProduceOptions(exactly_once=True, key="k")
    first = produce(settings, topic, str(path), options)
    assert (first.delivered, first.resumed_at, first.ok) == (1000, None, True)
    again = produce(settings, topic, str(path), options)
    assert again.sent == 0 and again.resumed_at == "line 1,000" and "nothing to do" in again.notes[0]
    write_jsonl(path, 1000, 1500, "ab")  # appended: only the new rows go
    grown = produce(settings, topic, str(path), options)
    assert (grown.delivered, grown.previously_sent) == (500, 1000)
    assert numbers(bootstrap, topic) == list(range(1500))

    write_jsonl(path, 5, 1500)  # rewritten: sending on would skip or repeat rows
    with pytest.raises(ResumeRefused, match="changed") as caught:
        produce(settings, topic, str(path), options)
    assert "--restart" in str(caught.value)
    restarted = produce(settings, topic, str(path), ProduceOptions(exactly_once=True, key="k", restart=True))
    assert restarted.delivered == 1495
    other = produce(settings, topic, str(path), ProduceOptions(exactly_once=True, replay_id="copy-2"))
    assert other.delivered == 1495 and other.resumed_at is None  # its own progress


def test_a_second_producer_of_the_same_file_fences_the_first(
    settings: Settings, topic: str, bootstrap: str, tmp_path: Path
) -> None:
    """The zombie case: a producer thought dead still runs; the new one takes over, the old one stops."""
    path = tmp_path / "events.jsonl"
    write_jsonl(path, 0, 20_000)
    errors: list[BaseException] = []

    def slow() -> None:
        try:
            produce(settings, topic, str(path), ProduceOptions(exactly_once=True, key="k", rate=2000))
        except BaseException as exc:  # the test inspects it
            errors.append(exc)

    zombie = threading.Thread(target=slow)
    zombie.start()
    deadline = time.monotonic() + 60
    while sum(end_offsets(bootstrap, topic).values()) < 2000 and time.monotonic() < deadline:
        time.sleep(0.1)
    report = produce(settings, topic, str(path), ProduceOptions(exactly_once=True, key="k"))
    zombie.join(timeout=60)
    assert not zombie.is_alive()
    assert report.ok and report.resumed_at is not None
    assert len(errors) == 1 and isinstance(errors[0], ExactlyOnceFailed)
    assert "took over" in str(errors[0])
    assert numbers(bootstrap, topic) == list(range(20_000))


def test_strict_commits_the_rows_before_the_bad_one_and_stops_there_again(
    settings: Settings, topic: str, bootstrap: str, tmp_path: Path
) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(b"n,k\n" + b"".join(b"%d,k\n" % i for i in range(500)) + b"oops\n500,k\n")
    options = ProduceOptions(exactly_once=True, strict=True)
    for _ in range(2):
        with pytest.raises(BadRowError, match="line 502") as caught:
            produce(settings, topic, str(path), options)
        assert isinstance(caught.value.report, ProduceReport)
    assert numbers(bootstrap, topic) == list(range(500))  # the second run sent nothing twice
    report = produce(settings, topic, str(path), ProduceOptions(exactly_once=True))  # without --strict: go on
    assert (report.delivered, report.dlq, report.resumed_at) == (1, 1, "line 501")
    assert numbers(bootstrap, topic) == list(range(501))


def test_exactly_once_refuses_what_it_cannot_replay(settings: Settings, topic: str, admin: TopicAdmin) -> None:
    from eventlake.produce.exceptions import BadOptions

    with pytest.raises(BadOptions, match="replays files"):
        produce(settings, topic, "synthetic:ticks", ProduceOptions(exactly_once=True, limit=5))
    with pytest.raises(BadOptions, match="--loop"):
        produce(settings, topic, "sample:stocks", ProduceOptions(exactly_once=True, loop=True))
    with pytest.raises(BadOptions, match="--exactly-once"):
        produce(settings, topic, "sample:stocks", ProduceOptions(restart=True))
    assert produce(settings, topic, "sample:stocks", ProduceOptions(exactly_once=True)).delivered == 560
    assert admin.exists(settings.produce.progress_topic)
    assert admin.configs(settings.produce.progress_topic)["cleanup.policy"] == "compact"
