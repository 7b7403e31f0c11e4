"""What a local cluster reads from outside its own code: the data dir's cluster.json (a file anyone
with access may have edited or broken) and the table Kafka's quorum tool prints. Hostile or broken
input is refused in one line, or read as "no quorum", never half-trusted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eventlake.broker.cluster import ClusterLayout
from eventlake.broker.exceptions import BrokerError
from eventlake.broker.quorum import parse_replication

GOOD = {"nodes": 3, "port": 29092, "controller_port": 29095, "internal_port": 29098, "cluster_id": "A" * 22}


def test_a_layout_written_by_eventlake_reads_back_the_same(tmp_path: Path) -> None:
    layout = ClusterLayout(nodes=3, port=29092, controller_port=29095, internal_port=29098, cluster_id="A" * 22)
    assert json.loads(json.dumps(GOOD)) == {k: getattr(layout, k) for k in GOOD}
    layout.save(tmp_path / "cluster.json")
    assert ClusterLayout.load(tmp_path / "cluster.json") == layout
    assert ClusterLayout.load(tmp_path / "missing.json") is None


@pytest.mark.parametrize(
    "text",
    [
        "",  # empty
        "{",  # malformed
        "\xff\xfe not utf-8",  # wrongly encoded (written as latin-1 below)
        "[]",  # not an object
        json.dumps({**GOOD, "nodes": "3"}),  # a string where a number goes
        json.dumps({**GOOD, "nodes": True}),  # a bool is not a node count
        json.dumps({**GOOD, "port": 2**70}),  # out of range
        json.dumps({**GOOD, "nodes": 10**6}),  # oversized cluster
        json.dumps({**GOOD, "nodes": 1}),  # a cluster file for one node
        json.dumps({**GOOD, "port": 65534}),  # ports run past 65535
        json.dumps({**GOOD, "controller_port": 29093}),  # overlaps the client ports
        json.dumps({**GOOD, "cluster_id": "x; rm -rf /" + "a" * 11}),  # injected into a command line
        json.dumps({**GOOD, "cluster_id": "A" * 23}),  # not a KRaft cluster id
        json.dumps({**GOOD, "cluster_id": {"nested": ["A" * 22]}}),  # nested
        json.dumps({k: v for k, v in GOOD.items() if k != "internal_port"}),  # a field missing
    ],
)
def test_a_broken_or_hostile_cluster_file_is_refused_in_one_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "cluster.json"
    path.write_bytes(text.encode("latin-1") if text.startswith("\xff") else text.encode())
    with pytest.raises(BrokerError) as refused:
        ClusterLayout.load(path)
    assert "\n" not in str(refused.value) and refused.value.hint


QUORUM = """NodeId  DirectoryId             LogEndOffset  Lag  LastFetchTimestamp  LastCaughtUpTimestamp  Status
2       pbvuBlaTTwKRxS5NLJwRFQ  190           0    1732650000000       1732650000000          Leader
1       Zw3nGVtVQc2VYdnUEyvpCg  190           0    1732650000000       1732650000000          Follower
3       NKCx0OqqQY68sQpAqZ3DzA  180           10   1732649999000       1732649990000          Follower
"""


def test_the_quorum_table_reads_leader_voters_and_lag() -> None:
    quorum = parse_replication(QUORUM)
    assert (quorum.leader_id, quorum.voters, quorum.error) == (2, [1, 2, 3], None)
    assert {m.node_id: m.lag for m in quorum.members} == {1: 0, 2: 0, 3: 10}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Exception in thread main org.apache.kafka.common.errors.TimeoutException",
        QUORUM.replace("Leader", "Leader; rm -rf /").replace("Follower", "Boss"),  # unknown status words
        QUORUM.replace("190", "9" * 40).replace("180", "9" * 40),  # numbers out of range
        "\n".join(line + " extra" for line in QUORUM.splitlines()),  # an extra column
        "x" * 1_000_000,  # oversized noise
    ],
)
def test_output_that_is_not_the_quorum_table_reads_as_no_quorum(text: str) -> None:
    quorum = parse_replication(text)
    assert (quorum.leader_id, quorum.voters, quorum.members) == (None, [], [])
    assert quorum.error == "no quorum table in the tool's output"
