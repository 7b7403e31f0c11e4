"""The KRaft controller quorum of a local cluster, as Kafka itself reports it.

confluent-kafka has no Admin call for the metadata quorum (Java's `describeMetadataQuorum`),
so this runs Kafka's own `MetadataQuorumCommand describe --replication` from the cached jars
against the controllers' listeners, and reads its table with an allow-list per column.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from eventlake.broker.jars import resolve_jars
from eventlake.runtime.java import find_java

_TOOL = "org.apache.kafka.tools.MetadataQuorumCommand"
# NodeId DirectoryId LogEndOffset Lag LastFetchTimestamp LastCaughtUpTimestamp Status
_ROW = re.compile(
    r"^\s*(?P<id>\d{1,9})\s+(?P<dir>[A-Za-z0-9_-]{1,40})\s+(?P<end>-?\d{1,19})\s+(?P<lag>-?\d{1,19})\s+"
    r"(?P<fetch>-?\d{1,19})\s+(?P<caught>-?\d{1,19})\s+(?P<status>Leader|Follower|Observer)\s*$"
)


@dataclass(frozen=True)
class QuorumMember:
    node_id: int
    status: str  # Leader, Follower or Observer
    log_end_offset: int
    lag: int  # records of the metadata log behind the leader
    last_caught_up_ms: int  # ms since epoch; -1 when never


@dataclass(frozen=True)
class Quorum:
    leader_id: int | None
    voters: list[int] = field(default_factory=list)
    members: list[QuorumMember] = field(default_factory=list)
    error: str | None = None  # why the quorum could not be read

    def as_dict(self) -> dict[str, object]:
        return {
            "leader_id": self.leader_id,
            "voters": self.voters,
            "members": [m.__dict__ for m in self.members],
            "error": self.error,
        }


def parse_replication(text: str) -> Quorum:
    """`describe --replication`'s table: voters are the Leader and Followers, observers are not."""
    members = []
    for line in text.splitlines():
        m = _ROW.match(line)
        if m is not None:
            members.append(
                QuorumMember(
                    node_id=int(m["id"]),
                    status=m["status"],
                    log_end_offset=int(m["end"]),
                    lag=int(m["lag"]),
                    last_caught_up_ms=int(m["caught"]),
                )
            )
    if not members:
        return Quorum(leader_id=None, error="no quorum table in the tool's output")
    leader = next((m.node_id for m in members if m.status == "Leader"), None)
    voters = sorted(m.node_id for m in members if m.status != "Observer")
    return Quorum(leader_id=leader, voters=voters, members=members)


def describe_quorum(
    controllers: str, kafka_version: str, cache_dir: Path | None, log4j: Path, timeout_s: float = 20.0
) -> Quorum:
    """Leader, voters and each follower's lag, asked of the controllers at `controllers` (HOST:PORT,...)."""
    java = find_java()
    libs = resolve_jars(kafka_version, cache_dir).resolve()
    command = [
        str(java.executable),
        "-Xmx128m",
        "-XX:TieredStopAtLevel=1",  # a one-shot tool: start fast, never run long
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        f"{libs}/*",
        _TOOL,
        "--bootstrap-controller",
        controllers,
        "describe",
        "--replication",
    ]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return Quorum(leader_id=None, error=f"the controllers did not answer within {timeout_s:.0f}s")
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        reason = next((ln for ln in lines if "Exception" in ln or "Error" in ln), lines[-1] if lines else "no output")
        return Quorum(leader_id=None, error=reason[:200])
    return parse_replication(proc.stdout)
