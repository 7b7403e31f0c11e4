"""`eventlake consume` as a user runs it, against the real broker.

The delivery-semantics test kills a consumer that is blocked printing a message (its stdout
pipe is full and nobody reads it) and restarts it with the same group: at-most-once has
committed that message already and skips it, at-least-once has not and prints it again.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from eventlake.broker import TopicAdmin, client_config
from eventlake.runtime import free_port
from tests.e2e.conftest import EVENTLAKE, Run

BASE_MS = (int(time.time()) - 3600) * 1000  # an hour ago, whole seconds


def _produce(bootstrap: str, topic: str, messages: list[dict[str, Any]]) -> None:
    producer = Producer(client_config(bootstrap))
    for m in messages:
        producer.produce(topic, **m)
    assert producer.flush(30) == 0


def _lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def _committed(bootstrap: str, group: str, topic: str, partition: int = 0) -> int:
    conf = client_config(bootstrap)
    conf["group.id"] = group
    consumer = Consumer(conf)
    try:
        return int(consumer.committed([TopicPartition(topic, partition)], timeout=15)[0].offset)
    finally:
        consumer.close()


@pytest.fixture
def sample(bootstrap: str, admin: TopicAdmin, unique_name: str) -> str:
    """Partition 0: offsets 0-4 at BASE_MS + i s, varied keys/values/headers; partition 1: two messages."""
    admin.create(unique_name, partitions=2)
    values: list[bytes] = [
        b'{"n": 0, "ok": true}',
        b"plain text",
        b"\xff\xfe\x00binary",
        b"red \x1b[31mALERT\x07",
        b"4",
    ]
    _produce(
        bootstrap,
        unique_name,
        [
            {
                "value": v,
                "key": f"k{i}".encode() if i != 1 else None,
                "partition": 0,
                "timestamp": BASE_MS + i * 1000,
                "headers": [("source", b"test"), ("evil", b"\x1b]0;owned\x07")] if i == 3 else [("i", str(i))],
            }
            for i, v in enumerate(values)
        ]
        + [{"value": f"p1-{i}".encode(), "partition": 1, "timestamp": BASE_MS + i} for i in range(2)],
    )
    return unique_name


def test_json_lines_show_keys_values_headers_and_timestamps(cli: Run, bootstrap: str, sample: str) -> None:
    rows = _lines(cli("consume", sample, "--from", "earliest", "--until-end", "--bootstrap-servers", bootstrap))
    assert sorted((r["partition"], r["offset"]) for r in rows) == [(0, i) for i in range(5)] + [(1, 0), (1, 1)]
    p0 = {r["offset"]: r for r in rows if r["partition"] == 0}
    assert p0[0]["value"] == {"n": 0, "ok": True} and p0[0]["value_encoding"] == "json"
    assert p0[0]["key"] == "k0" and p0[1]["key"] is None
    assert p0[1]["value"] == "plain text" and p0[1]["value_encoding"] == "text"
    assert p0[2]["value_encoding"] == "base64" and p0[2]["value"] == "//4AYmluYXJ5"
    assert p0[3]["value"] == "red \x1b[31mALERT\x07"  # kept exactly, escaped in the JSON text
    assert p0[4]["value"] == 4
    assert p0[3]["headers"] == [
        {"key": "source", "value": "test", "encoding": "text"},
        {"key": "evil", "value": "\x1b]0;owned\x07", "encoding": "text"},
    ]
    assert p0[2]["timestamp"] == datetime.fromtimestamp((BASE_MS + 2000) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert p0[2]["timestamp_type"] == "create_time"
    assert all(r["topic"] == sample for r in rows)


def test_from_offset_time_latest_partition_and_limit(cli: Run, bootstrap: str, sample: str) -> None:
    def offsets(*args: str) -> list[tuple[int, int]]:
        rows = _lines(cli("consume", sample, *args, "--bootstrap-servers", bootstrap))
        return [(r["partition"], r["offset"]) for r in rows]

    assert offsets("--from", "3", "--partition", "0", "--until-end") == [(0, 3), (0, 4)]
    at_2s = datetime.fromtimestamp(BASE_MS / 1000 + 2, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert offsets("--from", at_2s, "--partition", "0", "--until-end") == [(0, 2), (0, 3), (0, 4)]
    assert offsets("--from", "latest", "--until-end") == []
    assert offsets("--partition", "1", "--until-end") == [(1, 0), (1, 1)]
    assert offsets("--partition", "0", "--limit", "2") == [(0, 0), (0, 1)]  # stops without --until-end


def test_table_and_raw_keep_control_characters_off_the_terminal(cli: Run, bootstrap: str, sample: str) -> None:
    table = cli(
        "consume", sample, "--partition", "0", "--until-end", "--format", "table", "--bootstrap-servers", bootstrap
    )
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["part", "offset", "timestamp"] and len(lines) == 6
    assert "\x1b" not in table.stdout and "\x07" not in table.stdout
    assert "red \\x1b[31mALERT\\x07" in lines[4] and "evil=\\x1b]0;owned\\x07" in lines[4]
    assert "base64:" in lines[3]

    raw = subprocess.run(
        [EVENTLAKE, "consume", sample, "--partition", "0", "--until-end", "--format", "raw"],
        capture_output=True,
        env={**os.environ, "EVENTLAKE_BOOTSTRAP_SERVERS": bootstrap},
        timeout=120,
        check=False,
    )
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout.split(b"\n")[3] == b"red \x1b[31mALERT\x07"  # a pipe gets the bytes as they are

    # On a terminal, raw escapes them: a message cannot drive the user's terminal.
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [EVENTLAKE, "consume", sample, "--partition", "0", "--until-end", "--format", "raw"],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "EVENTLAKE_BOOTSTRAP_SERVERS": bootstrap},
    ) as proc:
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        assert proc.wait(60) == 0
    os.close(leader)
    assert b"\x1b" not in seen and b"\\x1b[31mALERT\\x07" in seen


def test_a_group_commits_and_resumes(cli: Run, bootstrap: str, sample: str, unique_name: str) -> None:
    group = f"g-{unique_name}"
    first = _lines(
        cli("consume", sample, "--group", group, "--partition", "0", "--limit", "3", "--bootstrap-servers", bootstrap)
    )
    assert [r["offset"] for r in first] == [0, 1, 2]
    assert _committed(bootstrap, group, sample) == 3
    rest = _lines(
        cli("consume", sample, "--group", group, "--partition", "0", "--until-end", "--bootstrap-servers", bootstrap)
    )
    assert [r["offset"] for r in rest] == [3, 4]
    assert _committed(bootstrap, group, sample) == 5
    # Without --group nothing is committed anywhere: the group's offset is unchanged by a plain read.
    _lines(cli("consume", sample, "--partition", "0", "--until-end", "--bootstrap-servers", bootstrap))
    assert _committed(bootstrap, group, sample) == 5


def _wait_until_blocked(proc: subprocess.Popen[bytes], stderr: Path) -> None:
    """Until the consumer sleeps in a write to its stdout pipe: full, and nobody reads it.

    The kernel says where a process sleeps (/proc/PID/wchan); only stdout is a pipe here.
    """
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with open(f"/proc/{proc.pid}/wchan") as f:
            if f.read().endswith("pipe_write"):
                return
        assert proc.poll() is None, f"the consumer ended before its output filled the pipe: {stderr.read_text()}"
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"the consumer never blocked writing its output: {stderr.read_text()}")


@pytest.mark.parametrize("semantics", ["at-most-once", "at-least-once"])
def test_a_killed_consumer_loses_or_repeats_the_message_in_flight(
    cli: Run, bootstrap: str, admin: TopicAdmin, unique_name: str, semantics: str, tmp_path: Path
) -> None:
    admin.create(unique_name, partitions=1)
    total = 40  # ~5 KB lines: far more than a pipe holds
    _produce(bootstrap, unique_name, [{"value": json.dumps("x" * 5000).encode(), "key": str(i)} for i in range(total)])
    group = f"g-{unique_name}"
    args = ["consume", unique_name, "--group", group, "--semantics", semantics, "--until-end"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
    env["EVENTLAKE_BOOTSTRAP_SERVERS"] = bootstrap
    errors = tmp_path / "stderr"
    with (
        errors.open("wb") as stderr,
        subprocess.Popen([EVENTLAKE, *args], stdout=subprocess.PIPE, stderr=stderr, env=env) as proc,
    ):
        _wait_until_blocked(proc, errors)
        proc.kill()  # SIGKILL: no clean-up, no last commit
        proc.wait(30)
        assert proc.stdout is not None
        printed = proc.stdout.read()
    *complete, partial = printed.split(b"\n")
    before = [json.loads(line)["offset"] for line in complete]
    assert before == list(range(len(before))) and len(before) < total
    in_flight = len(before)  # the message it was printing when killed: partly written
    assert partial.startswith(f'{{"topic":"{unique_name}","partition":0,"offset":{in_flight},'.encode())

    committed = _committed(bootstrap, group, unique_name)
    after = [r["offset"] for r in _lines(cli(*args, env=env))]
    assert after == list(range(after[0], total))
    if semantics == "at-most-once":
        # Committed before printing: the message in flight is lost, nothing is repeated.
        assert committed == in_flight + 1 == after[0]
        assert in_flight not in before + after and not set(before) & set(after)
    else:
        # Committed after printing: nothing is lost, the message in flight is printed again.
        assert committed == in_flight == after[0]
        assert sorted(before + after) == list(range(total))
    assert _committed(bootstrap, group, unique_name) == total


def test_bad_input_and_missing_things_are_one_line_errors(cli: Run, bootstrap: str, sample: str) -> None:
    bs = ("--bootstrap-servers", bootstrap)
    cases: list[tuple[tuple[str, ...], int, str]] = [
        (("consume", "bad/name", *bs), 2, "the topic name 'bad/name' is not allowed"),
        (("consume", "x" * 250, *bs), 2, "is not allowed"),
        (("consume", sample, "--group", "a b", *bs), 2, "the group name 'a b' is not allowed"),
        (("consume", sample, "--from", "yesterday", *bs), 2, "is not earliest, latest, an offset or an ISO time"),
        (("consume", sample, "--from", "2026-13-45T00:00:00Z", *bs), 2, "is not earliest, latest"),
        (("consume", sample, "--from", "-1", *bs), 2, "is not earliest, latest"),
        (("consume", sample, "--semantics", "at-most-once", *bs), 2, "--semantics needs --group"),
        (("consume", sample, "--partition", "7", *bs), 2, "has no partition 7"),
        (("consume", sample, "--from", "99", "--partition", "0", *bs), 2, "--from 99 is outside partition 0"),
        (("consume", "no-such-topic-here", *bs), 1, "topic no-such-topic-here does not exist"),
    ]
    for args, code, text in cases:
        result = cli(*args)
        assert result.returncode == code, (args, result.stderr)
        assert text in _one_line(result.stderr), (args, result.stderr)
    closed = f"127.0.0.1:{free_port()}"
    down = cli("consume", sample, "--bootstrap-servers", closed)
    assert down.returncode == 75 and f"no Kafka broker answered at {closed}" in _one_line(down.stderr)
