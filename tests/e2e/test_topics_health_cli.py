"""`topics create --replication-factor/--min-insync`, `topics describe`, `topics reassign` and
`status --cluster` as a user runs them against the real single-node broker."""

from __future__ import annotations

import json

from eventlake.broker import TopicAdmin
from eventlake.runtime import free_port
from tests.e2e.conftest import Run


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_create_refuses_what_the_cluster_cannot_hold_and_describe_shows_replication(
    cli: Run, bootstrap: str, admin: TopicAdmin, unique_name: str
) -> None:
    bs = ("--bootstrap-servers", bootstrap)
    too_many = cli("topics", "create", unique_name, "--replication-factor", "3", *bs)
    assert too_many.returncode == 2
    assert "--replication-factor 3 needs 3 brokers; 1 is up" in _one_line(too_many.stderr)
    above_rf = cli("topics", "create", unique_name, "--min-insync", "2", *bs)
    assert above_rf.returncode == 2
    assert "--min-insync 2 must be between 1 and the replication factor 1" in _one_line(above_rf.stderr)
    assert not admin.exists(unique_name)  # nothing half-made

    made = cli("topics", "create", unique_name, "--partitions", "2", "--min-insync", "1", *bs)
    assert made.returncode == 0, made.stderr
    described = json.loads(cli("topics", "describe", unique_name, "--format", "json", *bs).stdout)
    assert described["configs"]["min.insync.replicas"] == "1" and described["min_insync_replicas"] == 1
    assert described["writable_acks_all"] is True
    assert described["under_replicated"] == [] and described["offline"] == []
    [broker] = admin.broker_ids()
    for p in described["partitions"]:
        assert (p["leader"], p["replicas"], p["isr"], p["under_replicated"], p["offline"]) == (
            broker,
            [broker],
            [broker],
            False,
            False,
        )
    table = cli("topics", "describe", unique_name, *bs, env={"COLUMNS": "200"})
    assert table.returncode == 0 and "flags" in table.stdout
    assert "acks=all writes: yes" in table.stderr


def test_reassign_moves_through_kafka_and_refuses_bad_replica_lists(
    cli: Run, bootstrap: str, admin: TopicAdmin, topic: str
) -> None:
    bs = ("--bootstrap-servers", bootstrap)
    [broker] = admin.broker_ids()
    moved = cli("topics", "reassign", topic, "--partition", "1", "--replicas", str(broker), "--wait", *bs)
    assert moved.returncode == 0, moved.stderr
    assert f"Successfully started partition reassignment for {topic}-1" in moved.stderr
    assert f"done: {topic}-1 replicas {broker}, in sync {broker}" in moved.stderr
    listed = cli("topics", "reassign", "--list", "--format", "json", *bs)
    assert listed.returncode == 0, listed.stderr
    assert [m for m in json.loads(listed.stdout) if m["topic"] == topic] == []

    cases = [
        (("--partition", "0", "--replicas", f"{broker},{broker}"), 2, f"names broker {broker} more than once"),
        (("--partition", "0", "--replicas", "1;rm -rf /"), 2, "is not a comma-separated list of broker ids"),
        (("--partition", "0", "--replicas", "-1"), 2, "is not a comma-separated list of broker ids"),
        (("--partition", "0", "--replicas", ""), 2, "is not a comma-separated list of broker ids"),
        (("--partition", "0", "--replicas", str(broker + 7)), 2, f"broker {broker + 7} is not registered"),
        (("--partition", "9", "--replicas", str(broker)), 2, f"topic {topic} has no partition 9"),
        (("--partition", "0"), 2, "needs TOPIC, --partition P and --replicas IDS"),
    ]
    for args, code, text in cases:
        result = cli("topics", "reassign", topic, *args, *bs)
        assert result.returncode == code, (args, result.stderr)
        assert text in _one_line(result.stderr), (args, result.stderr)
    missing = cli("topics", "reassign", "no-such-topic-here", "--partition", "0", "--replicas", str(broker), *bs)
    assert missing.returncode == 1 and "topic no-such-topic-here does not exist" in _one_line(missing.stderr)


def test_status_shows_the_cluster_and_an_unreachable_one_as_a_state(cli: Run, bootstrap: str, topic: str) -> None:
    shown = cli("status", "--cluster", "--format", "json", "--bootstrap-servers", bootstrap)
    assert shown.returncode == 0, shown.stderr
    health = json.loads(shown.stdout)
    assert (health["state"], health["brokers"], health["under_replicated_partitions"]) == ("healthy", 1, 0)
    assert health["offline_partitions"] == 0 and health["not_writable_topics"] == []
    mine = next(t for t in health["topics"] if t["topic"] == topic)
    assert mine["writable"] is True and len(mine["partitions"]) == 3
    table = cli("status", "--bootstrap-servers", bootstrap, env={"COLUMNS": "200"})
    assert table.returncode == 0, table.stderr
    assert f"kafka cluster at {bootstrap}: healthy" in table.stdout and "acks=all writes" in table.stdout

    closed = f"127.0.0.1:{free_port()}"
    down = cli("status", "--cluster", "--format", "json", "--bootstrap-servers", closed)
    assert down.returncode == 0, down.stderr
    state = json.loads(down.stdout)
    assert state["state"] == "unreachable" and f"no Kafka broker answered at {closed}" in state["error"]
    plain = cli("status", "--bootstrap-servers", closed, env={"COLUMNS": "200"})
    assert plain.returncode == 0 and "unreachable" in plain.stdout
