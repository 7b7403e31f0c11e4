"""Moving a partition's replicas to other brokers with Kafka's own reassignment.

confluent-kafka (2.16) has no AlterPartitionReassignments, so the request is made by Kafka's
own tool class, `org.apache.kafka.tools.reassign.ReassignPartitionsCommand`, from the cached jars
(the broker's class path): it validates the plan against the cluster and starts the move; Kafka
then copies the data to the new replicas, adds them to the ISR and only then drops the old ones.
Waiting for the end is done here, on the Admin API's metadata (a JVM per look would cost seconds):
a move is done once the partition's replicas are exactly the new ones and all of them are in sync.

Every input is checked before the JVM starts: broker ids are whole numbers of registered
brokers, without repeats; the topic and partition exist.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from eventlake.broker.admin import PartitionInfo, TopicAdmin
from eventlake.broker.client_files import ClientSettings, Format, render
from eventlake.broker.exceptions import BrokerError, TopicNotFound
from eventlake.broker.jars import resolve_jars
from eventlake.broker.private_files import write_private
from eventlake.config.broker import KAFKA_VERSION, KafkaClientSettings
from eventlake.errors import UsageError
from eventlake.runtime.java import find_java

TOOL = "org.apache.kafka.tools.reassign.ReassignPartitionsCommand"
MAX_REPLICAS = 64  # far beyond any sensible replication factor; keeps the input small
_IDS = re.compile(rf"[0-9]{{1,9}}(?:,[0-9]{{1,9}}){{0,{MAX_REPLICAS - 1}}}")
# What the tool prints per ongoing move: "t-0: replicas: 1,2,3. adding: 3. removing: 1."
_ONGOING = re.compile(
    r"(?P<topic>[A-Za-z0-9._-]{1,249})-(?P<partition>[0-9]{1,9}): replicas: (?P<replicas>[0-9,]*)\."
    r"(?: adding: (?P<adding>[0-9,]*)\.)?(?: removing: (?P<removing>[0-9,]*)\.)?"
)


class ReassignmentError(BrokerError):
    """Kafka refused or did not finish a partition reassignment."""


def parse_replicas(text: str) -> tuple[int, ...]:
    """`--replicas 1,2,3`: broker ids, first the preferred leader; at least one, no repeats."""
    cleaned = text.replace(" ", "")
    if not _IDS.fullmatch(cleaned):
        raise UsageError(
            f"--replicas {text[:40]!r} is not a comma-separated list of broker ids",
            hint="e.g. --replicas 1,2,3 (the first is the preferred leader; `eventlake status` lists the brokers)",
        )
    ids = tuple(int(x) for x in cleaned.split(","))
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise UsageError(
            f"--replicas names broker {repeated[0]} more than once", hint="each replica must be on another broker"
        )
    return ids


@dataclass(frozen=True)
class Move:
    topic: str
    partition: int
    replicas: tuple[int, ...]

    def plan_json(self) -> str:
        one = {"topic": self.topic, "partition": self.partition, "replicas": list(self.replicas)}
        return json.dumps({"version": 1, "partitions": [one]})


@dataclass(frozen=True)
class Ongoing:
    topic: str
    partition: int
    replicas: tuple[int, ...]
    adding: tuple[int, ...]
    removing: tuple[int, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "replicas": list(self.replicas),
            "adding": list(self.adding),
            "removing": list(self.removing),
        }


def parse_ongoing(text: str) -> list[Ongoing]:
    """The moves in the tool's `--list` output (anything else on a line is ignored)."""

    def ids(value: str | None) -> tuple[int, ...]:
        return tuple(int(x) for x in value.split(",") if x) if value else ()

    out = []
    for line in text.splitlines():
        m = _ONGOING.fullmatch(line.strip())
        if m:
            out.append(
                Ongoing(m["topic"], int(m["partition"]), ids(m["replicas"]), ids(m["adding"]), ids(m["removing"]))
            )
    return out


class Reassigner(TopicAdmin):
    """Starts, lists and waits for partition reassignments on the cluster at `bootstrap_servers`."""

    def __init__(
        self,
        bootstrap_servers: str,
        kafka: KafkaClientSettings | None = None,
        timeout_s: float = 10.0,
        *,
        kafka_version: str = KAFKA_VERSION,
        cache_dir: Path | None = None,
    ) -> None:
        super().__init__(bootstrap_servers, kafka, timeout_s)
        self.kafka_version = kafka_version  # the tool comes from the same cached jars as the broker
        self.cache_dir = cache_dir

    def plan(self, topic: str, partition: int, replicas: tuple[int, ...]) -> tuple[Move, PartitionInfo]:
        """The move, checked against the cluster, and the partition as it is now."""
        if not replicas:
            raise UsageError("--replicas needs at least one broker id")
        md = self._metadata(topic)
        known = md.topics.get(topic)
        if known is None or known.error is not None:
            raise TopicNotFound(f"topic {topic} does not exist", hint="`eventlake topics list` shows them")
        if partition not in known.partitions:
            last = len(known.partitions) - 1
            raise UsageError(f"topic {topic} has no partition {partition}", hint=f"it has partitions 0 to {last}")
        brokers = sorted(md.brokers)
        unknown = [b for b in replicas if b not in brokers]
        if unknown:
            raise UsageError(
                f"broker {unknown[0]} is not registered in the cluster (up: {','.join(map(str, brokers))})",
                hint="name brokers that are up; start the new node before moving replicas to it",
            )
        p = known.partitions[partition]
        now = PartitionInfo(partition, p.leader, list(p.replicas), list(p.isrs), 0, 0)
        return Move(topic, partition, tuple(replicas)), now

    def start(self, move: Move) -> str:
        """Ask Kafka to move the replicas; returns the tool's own confirmation line."""
        with tempfile.TemporaryDirectory(prefix="eventlake-reassign-") as tmp:
            plan = Path(tmp) / "plan.json"
            write_private(plan, move.plan_json())
            out = self._tool(Path(tmp), "--reassignment-json-file", str(plan), "--execute")
        started = [line for line in out.splitlines() if line.startswith("Successfully started")]
        return started[0] if started else out.strip().splitlines()[-1]

    def ongoing(self) -> list[Ongoing]:
        with tempfile.TemporaryDirectory(prefix="eventlake-reassign-") as tmp:
            return parse_ongoing(self._tool(Path(tmp), "--list"))

    def wait(self, move: Move, timeout_s: float, poll_s: float = 0.5) -> PartitionInfo:
        """Until the partition's replicas are exactly the new ones and all in sync; the partition then."""
        deadline = time.monotonic() + timeout_s
        while True:
            p = self._metadata(move.topic).topics[move.topic].partitions.get(move.partition)
            if p is not None and tuple(p.replicas) == move.replicas and set(move.replicas) <= set(p.isrs):
                return PartitionInfo(move.partition, p.leader, list(p.replicas), list(p.isrs), 0, 0)
            if time.monotonic() >= deadline:
                now = f"replicas {list(p.replicas)}, in sync {list(p.isrs)}" if p is not None else "no metadata"
                raise ReassignmentError(
                    f"the move of {move.topic}-{move.partition} to {','.join(map(str, move.replicas))} "
                    f"did not finish within {timeout_s:g} s (now: {now})",
                    hint="Kafka goes on copying in the background: `eventlake topics reassign --list` shows it",
                )
            time.sleep(poll_s)

    # ---- the Java tool

    def _tool(self, tmp: Path, *args: str) -> str:
        java = find_java()
        libs = resolve_jars(self.kafka_version, self.cache_dir).resolve()
        cmd = [
            str(java.executable),
            "-Xmx256m",
            "-Djava.awt.headless=true",
            "-cp",
            f"{libs}/*",
            TOOL,
            "--bootstrap-server",
            self.bootstrap_servers,
            *self._command_config(tmp),
            *args,
        ]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=max(60.0, 3 * self.timeout_s), check=False, env=os.environ
            )
        except subprocess.TimeoutExpired as exc:
            raise ReassignmentError(
                "Kafka's reassignment tool did not answer in time", hint="check the cluster with `eventlake status`"
            ) from exc
        if proc.returncode != 0:
            raise ReassignmentError(f"Kafka refused the reassignment: {_first_error(proc.stdout + proc.stderr)}")
        return proc.stdout

    def _command_config(self, tmp: Path) -> list[str]:
        """A client.properties for a SASL_SSL cluster (SCRAM-SHA-512, eventlake's secure broker)."""
        kafka = self.kafka
        if kafka.security_protocol == "PLAINTEXT":
            return []
        if kafka.security_protocol != "SASL_SSL" or kafka.sasl_mechanism != "SCRAM-SHA-512" or not kafka.sasl_username:
            raise UsageError(
                f"topics reassign supports PLAINTEXT and SASL_SSL with SCRAM-SHA-512, not "
                f"{kafka.security_protocol}/{kafka.sasl_mechanism or 'no mechanism'}",
                hint="run Kafka's kafka-reassign-partitions.sh with your own --command-config",
            )
        if not kafka.ssl_ca_location or kafka.sasl_password is None:
            raise UsageError(
                "topics reassign on SASL_SSL needs kafka.ssl_ca_location and kafka.sasl_password",
                hint="set them as for every other command (EVENTLAKE_KAFKA__SASL_PASSWORD)",
            )
        text = render(
            ClientSettings(
                bootstrap=self.bootstrap_servers,
                user=kafka.sasl_username,
                ca=Path(kafka.ssl_ca_location),
                password=kafka.sasl_password.get_secret_value(),
            ),
            Format.properties,
        )
        path = tmp / "client.properties"
        write_private(path, text)
        return ["--command-config", str(path)]


def _first_error(output: str) -> str:
    """The tool's own reason ("Error: Unknown broker id 2"), without its stack trace."""
    lines = [line.strip() for line in output.splitlines() if line.strip() and not line.startswith(("\tat ", "at "))]
    for line in lines:
        if line.startswith("Error:"):
            return line[len("Error:") :].strip()[:300]
    return (lines[-1] if lines else "no output")[:300]
