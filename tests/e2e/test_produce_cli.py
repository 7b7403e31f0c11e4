"""`eventlake produce` as a user runs it; what landed is read back with a plain confluent-kafka Consumer."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from eventlake.broker import TopicAdmin
from eventlake.broker.dead_letters import read_headers
from tests.e2e.conftest import EVENTLAKE, Run
from tests.fixtures_produce import MalformedCsv, end_offsets, malformed_csv, read_to_end, read_topic  # noqa: F401

pytestmark = pytest.mark.e2e


def test_50k_synthetic_events_keyed_by_symbol(cli: Run, topic: str, bootstrap: str) -> None:
    done = cli(
        "produce",
        topic,
        "--source",
        "synthetic:ticks",
        "--limit",
        "50000",
        "--key",
        "symbol",
        "--seed",
        "1",
        "--output",
        "json",
        "--bootstrap-servers",
        bootstrap,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["sent"], summary["delivered"], summary["failed"], summary["dlq"]) == (50_000, 50_000, 0, 0)
    assert sum(end_offsets(bootstrap, topic).values()) == 50_000
    partitions_of: dict[str, set[int]] = {}
    for m in read_topic(bootstrap, topic):
        assert m.value is not None
        tick = orjson.loads(m.value)
        assert isinstance(tick, dict)
        assert m.key == tick["symbol"].encode()
        partitions_of.setdefault(tick["symbol"], set()).add(m.partition)
    assert len(partitions_of) >= 40  # many symbols
    assert {s: len(p) for s, p in partitions_of.items() if len(p) != 1} == {}
    assert len(set().union(*partitions_of.values())) == 3  # and they spread over the partitions


def test_malformed_csv_good_rows_arrive_bad_rows_in_dlq(
    cli: Run, topic: str, bootstrap: str, malformed_csv: MalformedCsv
) -> None:
    done = cli(
        "produce", topic, "--source", str(malformed_csv.path), "--output", "json", "--bootstrap-servers", bootstrap
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    good, bad = len(malformed_csv.good), len(malformed_csv.bad_lines)
    assert (summary["sent"], summary["delivered"], summary["dlq"], summary["bad_rows_total"]) == (good, good, bad, bad)
    assert sorted(b["line"] for b in summary["bad_rows"]) == sorted(malformed_csv.bad_lines)

    arrived = [orjson.loads(m.value or b"") for m in read_topic(bootstrap, topic)]
    assert sorted(arrived, key=lambda r: r["ts"]) == malformed_csv.good
    dead = [read_headers(m.headers) for m in read_topic(bootstrap, f"{topic}.dlq")]
    assert sorted(h.line for h in dead if h.line is not None) == sorted(malformed_csv.bad_lines)
    for h in dead:
        assert h.line is not None and h.reason is not None and h.stage == "produce"
        assert malformed_csv.bad_lines[h.line] in h.reason
        assert h.input == str(malformed_csv.path)

    # The text summary lists every bad row by line.
    text = cli("produce", topic, "--source", str(malformed_csv.path), "--bootstrap-servers", bootstrap)
    assert text.returncode == 0, text.stderr
    assert f"{good} delivered, 0 failed" in text.stderr
    for line in malformed_csv.bad_lines:
        assert f"line {line}:" in text.stderr


def test_rate_2000_sends_20000_events_in_about_10_seconds(cli: Run, topic: str, bootstrap: str) -> None:
    """Behaviour of --rate: 20,000 events at 2,000/s take ~10 s (startup and flush aside)."""
    started = time.monotonic()
    done = cli(
        "produce",
        topic,
        "--source",
        "synthetic:ticks",
        "--rate",
        "2000",
        "--limit",
        "20000",
        "--output",
        "json",
        "--bootstrap-servers",
        bootstrap,
    )
    wall = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["delivered"] == 20_000
    assert 8 <= summary["seconds"] <= 16, summary
    assert 8 <= wall <= 20
    assert sum(end_offsets(bootstrap, topic).values()) == 20_000


def test_broker_down_exits_75_fast_with_one_line(cli: Run) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    done = cli("produce", "ticks", "--source", "synthetic:ticks", "--bootstrap-servers", f"127.0.0.1:{port}")
    assert time.monotonic() - started < 10
    assert done.returncode == 75  # EX_TEMPFAIL: retriable, unlike the exit 1 of bad input
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "Traceback" not in done.stderr


def test_strict_exits_1_and_sends_nothing_after_the_bad_row(
    cli: Run, topic: str, bootstrap: str, malformed_csv: MalformedCsv
) -> None:
    done = cli("produce", topic, "--source", str(malformed_csv.path), "--strict", "--bootstrap-servers", bootstrap)
    assert done.returncode == 1
    assert f"line {min(malformed_csv.bad_lines)}" in done.stderr
    assert sorted(orjson.loads(m.value or b"")["symbol"] for m in read_topic(bootstrap, topic)) == ["AAPL", "MSFT"]


def test_stdin_json_lines(cli: Run, topic: str, bootstrap: str) -> None:
    lines = "".join(json.dumps({"n": i, "device": f"d{i % 3}"}) + "\n" for i in range(100)) + "{broken\n"
    done = cli(
        "produce",
        topic,
        "--source",
        "-",
        "--key",
        "device",
        "--output",
        "json",
        "--bootstrap-servers",
        bootstrap,
        input=lines,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["delivered"], summary["dlq"]) == (100, 1)
    assert summary["bad_rows"] == [{"reason": summary["bad_rows"][0]["reason"], "source": "stdin", "line": 101}]
    messages = read_topic(bootstrap, topic)
    assert sorted(orjson.loads(m.value or b"")["n"] for m in messages) == list(range(100))
    assert [m.value for m in read_topic(bootstrap, f"{topic}.dlq")] == [b"{broken"]


def test_missing_topic_and_create_topic(cli: Run, admin: TopicAdmin, unique_name: str, bootstrap: str) -> None:
    missing = cli("produce", unique_name, "--source", "sample:stocks", "--bootstrap-servers", bootstrap)
    assert missing.returncode == 1
    assert f"eventlake topics create {unique_name} --partitions N" in missing.stderr
    assert "--create-topic" in missing.stderr
    created = cli(
        "produce",
        unique_name,
        "--source",
        "sample:stocks",
        "--create-topic",
        "--partitions",
        "2",
        "--key",
        "symbol",
        "--bootstrap-servers",
        bootstrap,
    )
    assert created.returncode == 0, created.stderr
    assert "560 delivered, 0 failed" in created.stderr
    assert len(admin.describe(unique_name).partitions) == 2


@pytest.mark.parametrize(
    "args",
    [
        ["--rate", "10", "--speed", "2", "--time-field", "date"],
        ["--speed", "2"],
        ["--compression", "brotli"],
    ],
)
def test_contradicting_flags_are_usage_errors(cli: Run, topic: str, bootstrap: str, args: list[str]) -> None:
    done = cli("produce", topic, "--source", "sample:stocks", *args, "--bootstrap-servers", bootstrap)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_flushes_and_reports_what_was_delivered(
    topic: str, bootstrap: str, tmp_path: Path, sig: signal.Signals
) -> None:
    """An endless stream stopped with Ctrl-C or SIGTERM: in-flight events are flushed and counted, exit 0.

    The child starts with SIGINT ignored, as anything started in the background does (CI runners,
    nohup, `&`): eventlake must still stop cleanly."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
    proc = subprocess.Popen(
        [
            EVENTLAKE,
            "produce",
            topic,
            "--source",
            "synthetic:ticks",
            "--rate",
            "5000",
            "--output",
            "json",
            "--bootstrap-servers",
            bootstrap,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        # Ctrl-C once events are flowing (on a loaded machine start-up can take a while).
        deadline = time.monotonic() + 90
        while sum(end_offsets(bootstrap, topic).values()) < 2000 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sum(end_offsets(bootstrap, topic).values()) >= 2000, "the producer never got going"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["interrupted"] is True
    assert summary["sent"] == summary["delivered"] >= 2000
    assert summary["not_delivered"] == 0
    assert sum(end_offsets(bootstrap, topic).values()) == summary["delivered"]


def test_exactly_once_runs_again_resume_and_refuse_a_changed_file(
    cli: Run, topic: str, bootstrap: str, tmp_path: Path
) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("n,k\n" + "".join(f"{i},k{i % 3}\n" for i in range(2000)))
    args = ["produce", topic, "--source", str(path), "--exactly-once", "--key", "k", "--bootstrap-servers", bootstrap]
    first = cli(*args, "--limit", "1500", "--output", "json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["delivered"] == 1500
    rest = cli(*args)
    assert rest.returncode == 0, rest.stderr
    assert "resumed" in rest.stderr and "after line 1,501" in rest.stderr
    assert "500 delivered, 0 failed in 1 transactions" in rest.stderr
    again = cli(*args)
    assert again.returncode == 0 and "nothing to do" in again.stderr
    assert sorted(orjson.loads(m.value or b"")["n"] for m in read_to_end(bootstrap, topic)) == list(range(2000))

    path.write_text("n,k\n" + "".join(f"{i},x\n" for i in range(10)))
    changed = cli(*args)
    assert changed.returncode == 1
    assert len(changed.stderr.strip().splitlines()) == 1, changed.stderr
    assert "changed" in changed.stderr and "--restart" in changed.stderr
    usage = cli("produce", topic, "--source", str(path), "--restart", "--bootstrap-servers", bootstrap)
    assert usage.returncode == 2 and "--exactly-once" in usage.stderr


def test_exactly_once_sigterm_commits_what_was_sent_and_the_next_run_sends_the_rest(
    topic: str, bootstrap: str, tmp_path: Path
) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"".join(orjson.dumps({"n": i}) + b"\n" for i in range(30_000)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
    args = [
        EVENTLAKE,
        "produce",
        topic,
        "--source",
        str(path),
        "--exactly-once",
        "--output",
        "json",
        "--bootstrap-servers",
        bootstrap,
    ]
    proc = subprocess.Popen(
        [*args, "--rate", "3000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )
    try:
        deadline = time.monotonic() + 90
        while sum(end_offsets(bootstrap, topic).values()) < 3000 and time.monotonic() < deadline:
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    stopped = json.loads(out)
    assert stopped["interrupted"] is True and stopped["not_delivered"] == 0
    assert 3000 <= stopped["delivered"] < 30_000
    assert len(read_to_end(bootstrap, topic)) == stopped["delivered"]  # committed on the way out
    rest = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)
    assert rest.returncode == 0, rest.stderr
    assert json.loads(rest.stdout)["delivered"] == 30_000 - stopped["delivered"]
    assert sorted(orjson.loads(m.value or b"")["n"] for m in read_to_end(bootstrap, topic)) == list(range(30_000))
