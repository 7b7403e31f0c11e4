"""An exposed 3-node cluster: the secure-Kafka rules (TLS + SCRAM-SHA-512, nothing plaintext outside) on every node.

One real cluster for the module, bound to the host's end of a veth pair (tests/netns.py) and
advertised there, with the admin password from a secret made here. Clients run the way a
user's would: the client file from `eventlake client-config`, and confluent-kafka on the
"other machine" (the namespace), so every byte crosses the veth. What the cluster holds is
checked where it keeps it (watermarks, `eventlake broker status`), not in the client's word.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from eventlake.broker import TopicAdmin
from eventlake.broker.cluster import LocalCluster
from eventlake.config import BrokerSettings
from tests.fixtures_cluster import NODES, end_offsets, free_port_block, wait_isr
from tests.netns import OtherMachine, listeners, other_machine, python_env

pytestmark = pytest.mark.integration

EVENTLAKE = str(Path(sys.executable).with_name("eventlake"))
REMOTE_CLIENT = Path(__file__).with_name("remote_client.py")
TOPIC = "exposed-orders"
MESSAGES = 300


@dataclass
class Exposed:
    machine: OtherMachine
    cluster: LocalCluster
    password: str
    conf: dict[str, str]  # the admin's librdkafka file from `eventlake client-config`

    @property
    def address(self) -> str:
        return self.machine.host_address

    @property
    def ca(self) -> Path:
        return self.cluster.data_dir / "tls" / "ca.pem"

    def client_port(self, k: int) -> int:
        return self.cluster.layout.client_port(k)

    def remote(self, task: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
        """tests/integration/remote_client.py (confluent-kafka) on the other machine."""
        proc = self.machine.python(str(REMOTE_CLIENT), input=json.dumps(task), timeout=timeout)
        assert proc.returncode == 0, proc.stderr[-2000:]
        result: dict[str, Any] = json.loads(proc.stdout)
        return result


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in python_env().items() if not k.startswith("EVENTLAKE_")}


def _eventlake(*args: str, input: str | None = None, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EVENTLAKE, *args], input=input, capture_output=True, text=True, timeout=120, check=False,
        cwd=cwd, env=_clean_env(),
    )  # fmt: skip


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exposed]:
    work = tmp_path_factory.mktemp("exposed-cluster")
    password = secrets.token_urlsafe(24)
    with other_machine() as machine:
        cluster = LocalCluster(
            BrokerSettings(
                nodes=NODES,
                host=machine.host_address,
                advertise=machine.host_address,
                port=free_port_block(3 * NODES),
                data_dir=work / "cluster",
                sasl_password=SecretStr(password),
                heap="384m",
                start_timeout_s=180,
                # Nodes stopped together sometimes wait out the whole grace for a gone quorum: keep it short.
                stop_timeout_s=10,
            ),
            NODES,
        )
        cluster.start()
        try:
            bootstrap = ",".join(f"{machine.host_address}:{cluster.layout.client_port(k)}" for k in cluster.members)
            conf_file = work / "admin.conf"
            made = _eventlake(
                "client-config", "--user", "eventlake", "--format", "librdkafka", "--password-stdin",
                "--bootstrap", bootstrap, "--ca", str(cluster.data_dir / "tls" / "ca.pem"), "-o", str(conf_file),
                input=password + "\n", cwd=work,
            )  # fmt: skip
            assert made.returncode == 0, made.stderr[-2000:]
            conf = {}
            for line in conf_file.read_text().splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    key, _, value = line.partition("=")
                    conf[key.strip()] = value.strip()
            TopicAdmin(cluster.local_bootstrap).create(TOPIC, partitions=3, replication_factor=NODES)
            yield Exposed(machine, cluster, password, conf)
        finally:
            cluster.stop()


def _tls_names(address: str, port: int, ca: Path) -> list[str]:
    """One TLS handshake that verifies the chain with `ca` and the address; the certificate's IP names."""
    context = ssl.create_default_context(cafile=str(ca))  # checks the chain and the name (an IP: its IP SAN)
    with (
        socket.create_connection((address, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=address) as tls,
    ):
        cert = tls.getpeercert()
    assert cert is not None
    sans = cast("tuple[tuple[str, str], ...]", cert.get("subjectAltName", ()))
    return [value for kind, value in sans if kind == "IP Address"]


class _Logs(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _plaintext_refused(bootstrap: str) -> str:
    """A PLAINTEXT Kafka client's metadata request to `bootstrap` fails; what librdkafka logged about it."""
    logs = _Logs()
    logger = logging.getLogger(f"librdkafka.{bootstrap}")
    logger.addHandler(logs)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap, "security.protocol": "PLAINTEXT", "logger": logger}
    admin = AdminClient(conf)
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=4)
    admin.poll(0)  # hands over the log lines queued meanwhile
    return "\n".join(logs.lines)


def test_every_node_serves_tls_with_the_clusters_certificate_on_the_exposed_address(exposed: Exposed) -> None:
    for k in exposed.cluster.members:
        names = _tls_names(exposed.address, exposed.client_port(k), exposed.ca)
        assert exposed.address in names, f"node {k}: {names}"


def test_scram_producer_and_consumer_on_the_other_machine_move_every_message_once(exposed: Exposed) -> None:
    assert exposed.conf["security.protocol"] == "SASL_SSL" and exposed.conf["sasl.mechanism"] == "SCRAM-SHA-512"
    values = [f"order-{i}-{secrets.token_hex(4)}" for i in range(MESSAGES)]
    sent = exposed.remote(
        {"action": "produce", "conf": {**exposed.conf, "acks": "all"}, "topic": TOPIC, "values": values,
         "timeout_s": 60}
    )  # fmt: skip
    assert len(sent["delivered"]) == MESSAGES, sent["errors"][:5]
    # The cluster holds each once, on three replicas.
    assert sum(end_offsets(exposed.cluster.local_bootstrap, TOPIC, 3).values()) == MESSAGES
    wait_isr(exposed.cluster.local_bootstrap, TOPIC, NODES, timeout_s=30)
    got = exposed.remote(
        {"action": "consume", "conf": {**exposed.conf, "group.id": "exposed-readers"}, "topic": TOPIC,
         "count": MESSAGES, "timeout_s": 60}
    )  # fmt: skip
    coords = {(p, o) for p, o, _ in got["messages"]}
    assert len(got["messages"]) == MESSAGES == len(coords), got["errors"][:5]
    assert sorted(v for _, _, v in got["messages"]) == sorted(values)


def test_wrong_password_is_refused_and_writes_nothing(exposed: Exposed) -> None:
    before = sum(end_offsets(exposed.cluster.local_bootstrap, TOPIC, 3).values())
    conf = {**exposed.conf, "sasl.password": secrets.token_urlsafe(24)}
    result = exposed.remote({"action": "produce", "conf": conf, "topic": TOPIC, "values": ["no"] * 5, "timeout_s": 8})
    assert result["delivered"] == []
    assert any("Authentication failed" in e for e in result["errors"]), result["errors"][:5]
    assert sum(end_offsets(exposed.cluster.local_bootstrap, TOPIC, 3).values()) == before


def test_nothing_plaintext_is_reachable_on_the_exposed_address(exposed: Exposed) -> None:
    cluster, address = exposed.cluster, exposed.address
    # A PLAINTEXT client on each node's client port: the TLS listener hangs up on it.
    with ThreadPoolExecutor(max_workers=NODES) as pool:
        errors = list(pool.map(_plaintext_refused, [f"{address}:{exposed.client_port(k)}" for k in cluster.members]))
    # librdkafka's own diagnosis: the broker hung up while it asked for API versions, as a TLS listener does.
    assert all("connection closed by peer" in e and "APIVERSION_QUERY" in e for e in errors), errors
    # The controller and internal (plaintext) ports are bound to loopback only: the address refuses them.
    for k, m in cluster.members.items():
        for port in (m.controller_port, m.internal_port):
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((address, port), timeout=2).close()
        state = m.running_state()
        assert state is not None
        own = {(a.removeprefix("::ffff:"), p) for a, p, pids in listeners() if state.pid in pids}
        assert own == {
            (address, exposed.client_port(k)),
            ("127.0.0.1", m.internal_port),
            ("127.0.0.1", m.controller_port),
        }, f"node {k}"


def _status(exposed: Exposed) -> dict[str, Any]:
    proc = _eventlake(
        "broker", "status", "--data-dir", str(exposed.cluster.data_dir), "--format", "json",
        cwd=exposed.cluster.data_dir.parent,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    status: dict[str, Any] = json.loads(proc.stdout)
    return status


def test_broker_status_shows_all_three_nodes_up_on_the_exposed_address(exposed: Exposed) -> None:
    status = _status(exposed)
    assert status["running"] is True
    assert [(n["node_id"], n["up"]) for n in status["nodes"]] == [(k, True) for k in range(1, NODES + 1)]
    assert status["bootstrap"] == ",".join(f"{exposed.address}:{exposed.client_port(k)}" for k in range(1, NODES + 1))
    assert status["certificate"] is not None


def test_a_killed_node_comes_back_serving_tls_and_scram(exposed: Exposed) -> None:
    cluster, k = exposed.cluster, 2
    assert cluster.kill_node(k)
    with pytest.raises(OSError):  # nothing answers on its port any more
        socket.create_connection((exposed.address, exposed.client_port(k)), timeout=2).close()
    # A user who restarts it without the cluster's address is told so, instead of getting a
    # loopback-only node that the others and other machines cannot reach.
    bare = _eventlake(
        "broker", "start", "--data-dir", str(cluster.data_dir), "--node", str(k), cwd=cluster.data_dir.parent
    )
    assert bare.returncode != 0 and f"--host {exposed.address}" in bare.stderr, bare.stderr
    assert len(bare.stderr.strip().splitlines()) == 1 and cluster.members[k].running_state() is None
    # The cluster object keeps the exposed settings (host, advertise, password) it was started with.
    report = cluster.start_nodes([k])
    assert report.started == [k] and report.waiting == []
    assert exposed.address in _tls_names(exposed.address, exposed.client_port(k), exposed.ca)
    # SCRAM on that node alone: it answers the admin over SASL_SSL, and still refuses PLAINTEXT.
    only_k: dict[str, Any] = {**exposed.conf, "bootstrap.servers": f"{exposed.address}:{exposed.client_port(k)}"}
    meta = AdminClient(only_k).list_topics(TOPIC, timeout=15)
    assert sorted(meta.brokers) == list(range(1, NODES + 1))
    assert "APIVERSION_QUERY" in _plaintext_refused(f"{exposed.address}:{exposed.client_port(k)}")
    wait_isr(cluster.local_bootstrap, TOPIC, NODES, timeout_s=60)
    assert [(n["node_id"], n["up"]) for n in _status(exposed)["nodes"]] == [(n, True) for n in range(1, NODES + 1)]
