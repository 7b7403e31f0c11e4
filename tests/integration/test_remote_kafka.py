"""Kafka for the outside world, seen from another machine: TLS + SCRAM + ACLs, and nothing else open.

The "other machine" is a network namespace joined by a veth pair (tests/netns.py). The broker is
eventlake's own, bound to the host's end (198.18.X.1) and advertised there, so every byte a client
sends crosses the veth. From inside run real clients: kcat, confluent-kafka (the project's Python),
Kafka's own Java console clients from the jars, `openssl s_client`, and `eventlake sink` itself.
Users, ACLs and client files are made the way a user makes them: `eventlake users add`,
`eventlake acl grant`, `eventlake client-config`, on the broker's machine (loopback, super user).

One broker for the module; each test uses its own users' files and topics, and checks its result
where the broker keeps it (watermarks, committed offsets, the lake), not in the client's word.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr

from eventlake.broker import LocalBroker, TopicAdmin
from eventlake.broker.jars import resolve_jars
from eventlake.catalog import CatalogStore
from eventlake.config import BrokerSettings
from eventlake.config.broker import KAFKA_VERSION
from eventlake.lake import open_lake
from eventlake.runtime import free_port
from tests.conftest import require_tool
from tests.fixtures_broker_tls import make_ca
from tests.fixtures_sink import landed_by_coord, read_landed
from tests.netns import (
    EVENTLAKE,
    CommandLines,
    OtherMachine,
    foreign_wildcard_ports,
    listeners,
    other_machine,
    python_env,
    run_eventlake,
)

pytestmark = pytest.mark.integration

REMOTE_CLIENT = Path(__file__).with_name("remote_client.py")
MESSAGES = 10_000
# A name the other machine resolves to the broker's address but that the broker's certificate does not carry.
WRONG_NAME = "kafka.wrong-name.test"


def _password() -> str:
    return secrets.token_urlsafe(24)


@dataclass
class User:
    name: str
    password: str
    files: dict[str, Path] = field(default_factory=dict)  # format -> client file from `eventlake client-config`


@dataclass
class Remote:
    """The broker, the other machine, the users and what every command printed (for the leak check)."""

    machine: OtherMachine
    broker: LocalBroker
    work: Path
    admin_password: str
    kcat_env: dict[str, str] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    printed: list[str] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        """The SASL_SSL listener as the other machine reaches it."""
        return f"{self.machine.host_address}:{self.broker.settings.port}"

    @property
    def ca(self) -> Path:
        return self.broker.data_dir / "tls" / "ca.pem"

    def passwords(self) -> list[str]:
        return [self.admin_password, *(u.password for u in self.users.values())]

    # ---- on the broker's machine, as its operator

    def cli(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
        """`eventlake ARGS` on the broker's machine; fails the test with its stderr when it fails."""
        proc = run_eventlake(args, cwd=self.work, input=input, env=env)
        self.printed += [proc.stdout, proc.stderr]
        assert proc.returncode == 0, f"eventlake {' '.join(args)}: {proc.stderr[-2000:]}"
        return proc.stdout

    def add_user(self, name: str, *grants: list[str], formats: tuple[str, ...] = ("librdkafka",)) -> User:
        user = User(name, _password())
        local = ["--bootstrap-servers", self.broker.local_bootstrap]
        self.cli("users", "add", name, "--password-stdin", *local, input=user.password + "\n")
        for grant in grants:
            self.cli("acl", "grant", name, *grant, *local)
        suffixes = {"librdkafka": "conf", "properties": "properties", "toml": "toml"}
        for fmt in formats:
            path = self.work / "clients" / f"{name}.{suffixes[fmt]}"
            path.parent.mkdir(exist_ok=True)
            self.cli(
                "client-config", "--user", name, "--format", fmt, "--password-stdin",
                "--bootstrap", self.bootstrap, "--ca", str(self.ca), "-o", str(path),
                input=user.password + "\n",
            )  # fmt: skip
            user.files[fmt] = path
        self.users[name] = user
        return user

    def end_offsets(self, topic: str) -> int:
        """Messages the broker holds for `topic` (sum of its partitions' high watermarks)."""
        consumer = Consumer({"bootstrap.servers": self.broker.local_bootstrap, "group.id": "watermarks"})
        try:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions)
        finally:
            consumer.close()

    def committed(self, group: str) -> list[tuple[int, int]]:
        """Offsets the broker holds for consumer group `group` (none for a group it never accepted)."""
        admin = AdminClient({"bootstrap.servers": self.broker.local_bootstrap})
        groups = {g.group_id for g in admin.list_consumer_groups().result(timeout=10).valid}
        if group not in groups:
            return []
        (future,) = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)]).values()
        return [(tp.partition, tp.offset) for tp in future.result(timeout=10).topic_partitions if tp.offset >= 0]

    # ---- on the other machine

    def client(self, task: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
        """Run tests/integration/remote_client.py (confluent-kafka) inside the namespace."""
        proc = self.machine.python(str(REMOTE_CLIENT), input=json.dumps(task), timeout=timeout)
        assert proc.returncode == 0, proc.stderr[-2000:]
        result: dict[str, Any] = json.loads(proc.stdout)
        return result

    def librdkafka_conf(self, user: User) -> dict[str, str]:
        """The user's librdkafka file from `eventlake client-config`, as confluent-kafka takes it."""
        conf = {}
        for line in user.files["librdkafka"].read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                conf[key.strip()] = value.strip()
        return conf

    def java(
        self, main: str, *args: str, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """One of Kafka's own console clients, from the broker's jars, inside the namespace."""
        libs = resolve_jars(KAFKA_VERSION)
        return self.machine.run(
            ["java", "-Xmx256m", "-cp", f"{libs}/*", main, *args],
            input=input,
            timeout=timeout,
            cwd=self.work,
        )

    def kcat(self, *args: str, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """kcat inside the namespace (on a librdkafka that can do SCRAM with Kafka 4, see kcat_env)."""
        return self.machine.run(["kcat", *args], input=input, timeout=timeout, env=self.kcat_env)

    def openssl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.machine.run(
            ["openssl", "s_client", "-connect", self.bootstrap, *args],
            input="",
            timeout=30,
        )


# librdkafka before 2.6.1 sends a SCRAM proof Kafka 4 rejects as "invalid credentials" (it repeats the
# client nonce; confluentinc/librdkafka#4895). Debian 12's kcat links librdkafka 2.0.2, so kcat runs on
# the librdkafka that confluent-kafka's wheel bundles (same C ABI) when the system's is older.
SCRAM_FIXED = (2, 6, 1)


def kcat_env(folder: Path) -> dict[str, str]:
    """The environment kcat runs in: its own librdkafka if that is new enough, else the wheel's."""
    env = dict(os.environ)
    version = re.search(
        r"librdkafka (\d+)\.(\d+)\.(\d+)",
        subprocess.run(["kcat", "-V"], capture_output=True, text=True, check=False).stdout,
    )
    if version and tuple(map(int, version.groups())) >= SCRAM_FIXED:
        return env
    import confluent_kafka

    bundled = sorted(Path(confluent_kafka.__file__).parent.parent.glob("confluent_kafka.libs/librdkafka*.so*"))
    if not bundled:
        pytest.fail("kcat's librdkafka is older than 2.6.1 (no SCRAM with Kafka 4) and no newer one is at hand")
    folder.mkdir(exist_ok=True)
    (folder / "librdkafka.so.1").symlink_to(bundled[0])
    env["LD_LIBRARY_PATH"] = str(folder)
    return env


def _clean_env() -> dict[str, str]:
    return python_env(drop=("EVENTLAKE_",))


# ---- the module's broker, machine and users


@pytest.fixture(scope="module")
def watch() -> Iterator[CommandLines]:
    """Every command line seen while the module runs, checked at its end against every password."""
    with CommandLines() as seen:
        yield seen


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory, watch: CommandLines) -> Iterator[Remote]:
    # `watch` runs from before the first password exists until the module ends.
    for tool in ("kcat", "openssl", "java"):
        require_tool(tool)
    work = tmp_path_factory.mktemp("remote")
    admin_password = _password()
    with other_machine() as machine:
        machine.set_hosts({WRONG_NAME: machine.host_address})
        broker = LocalBroker(
            BrokerSettings(
                host=machine.host_address,
                advertise=machine.host_address,
                port=free_port(machine.host_address),
                controller_port=free_port(),
                internal_port=free_port(),
                data_dir=work / "broker",
                sasl_password=SecretStr(admin_password),
                heap="768m",
                start_timeout_s=120,
            )
        )
        broker.start()
        try:
            r = Remote(machine, broker, work, admin_password, kcat_env=kcat_env(work / "librdkafka"))
            topics = TopicAdmin(broker.local_bootstrap)
            for name in ("orders", "orders-java", "guarded", "inbox"):
                topics.create(name, partitions=3)
            # Who may do what: the only rights each user has.
            java = ("librdkafka", "properties")
            r.add_user("writer", ["--topic", "orders", "--prefix", "--produce"], formats=java)
            r.add_user(
                "reader", ["--topic", "orders", "--prefix", "--consume", "--group-prefix", "readers-"], formats=java
            )
            r.add_user("sinker", ["--topic", "orders", "--sink", "--group", "sink-orders"], formats=("toml",))
            r.add_user("pusher", ["--topic", "inbox", "--produce"])
            r.add_user("stranger", ["--topic", "elsewhere", "--prefix", "--produce"])
            yield r
        finally:
            broker.stop()


@pytest.fixture(scope="module")
def orders(remote: Remote) -> list[dict[str, Any]]:
    """10,000 JSON events produced from the other machine by kcat as user `writer`, with the CA."""
    events = [{"id": i, "note": f"event {i}", "amount": i * 0.25} for i in range(MESSAGES)]
    lines = "".join(json.dumps(e) + "\n" for e in events)
    writer = remote.users["writer"]
    proc = remote.kcat("-F", str(writer.files["librdkafka"]), "-P", "-t", "orders", "-X", "linger.ms=20", input=lines)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert remote.end_offsets("orders") == MESSAGES, "the broker holds every message kcat sent, once"
    return events


# ---- the right user with the CA: everything works


def test_tls_handshake_verifies_with_the_ca_on_tls_1_2_and_1_3_only(remote: Remote) -> None:
    for version in ("-tls1_2", "-tls1_3"):
        out = remote.openssl(
            version, "-CAfile", str(remote.ca), "-verify_return_error", "-verify_ip", remote.machine.host_address
        )
        assert out.returncode == 0, out.stderr[-1500:]
        assert "Verify return code: 0 (ok)" in out.stdout
        assert f"New, TLSv1.{version[-1]}, Cipher is" in out.stdout, out.stdout[-1500:]
    # TLS 1.1, offered by a client willing to go that low, is refused by the broker.
    old = remote.openssl("-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", "-CAfile", str(remote.ca))
    assert old.returncode != 0
    assert "alert protocol version" in old.stderr, old.stderr[-1500:]


def test_ten_thousand_messages_from_the_other_machine_with_kcat_confluent_kafka_and_java(
    remote: Remote, orders: list[dict[str, Any]]
) -> None:
    sent = {json.dumps(e) for e in orders}
    reader = remote.users["reader"]

    # confluent-kafka, in a consumer group: every message once, at distinct offsets.
    got = remote.client(
        {
            "action": "consume",
            "conf": {**remote.librdkafka_conf(reader), "group.id": "readers-py", "enable.auto.commit": True},
            "topic": "orders",
            "count": MESSAGES,
            "timeout_s": 120,
        }
    )
    coords = {(p, o) for p, o, _ in got["messages"]}
    assert len(got["messages"]) == MESSAGES and len(coords) == MESSAGES
    assert {v for _, _, v in got["messages"]} == sent

    # Kafka's own Java console consumer, with the Java client file.
    java = remote.java(
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
        "--bootstrap-server", remote.bootstrap, "--topic", "orders", "--from-beginning",
        "--group", "readers-java", "--max-messages", str(MESSAGES), "--timeout-ms", "60000",
        "--consumer.config", str(reader.files["properties"]),
        timeout=180,
    )  # fmt: skip
    assert java.returncode == 0, java.stderr[-2000:]
    lines = java.stdout.splitlines()
    assert len(lines) == MESSAGES and set(lines) == sent

    # The Java console producer as `writer`, read back by kcat as `reader`.
    java_events = [f"java-{i}" for i in range(1000)]
    produced = remote.java(
        "org.apache.kafka.tools.ConsoleProducer",
        "--bootstrap-server", remote.bootstrap, "--topic", "orders-java",
        "--producer.config", str(remote.users["writer"].files["properties"]),
        input="\n".join(java_events) + "\n",
    )  # fmt: skip
    assert produced.returncode == 0, produced.stderr[-2000:]
    assert remote.end_offsets("orders-java") == len(java_events)
    back = remote.kcat("-F", str(reader.files["librdkafka"]), "-C", "-t", "orders-java", "-o", "beginning", "-e", "-q")
    assert back.returncode == 0, back.stderr[-2000:]
    assert sorted(back.stdout.splitlines()) == sorted(java_events)


def test_sink_on_the_other_machine_lands_them_exactly_once_over_sasl_ssl(
    remote: Remote, orders: list[dict[str, Any]]
) -> None:
    lake = remote.work / "lake"
    sink = remote.machine.popen(
        [EVENTLAKE, "--config", str(remote.users["sinker"].files["toml"]), "sink", "orders",
         "--lake", str(lake), "--group", "sink-orders", "--until-idle", "3"],
        env=_clean_env(),
        cwd=remote.work,
    )  # fmt: skip
    out, err = sink.communicate(timeout=300)
    remote.printed += [out, err]
    assert sink.returncode == 0, err[-2000:]
    with CatalogStore(lake / "_eventlake" / "catalog.sqlite") as store:
        table = read_landed(store, open_lake(str(lake)), "orders")
    landed = landed_by_coord(table)  # fails on a row landed twice
    assert table.num_rows == MESSAGES == len(landed)
    assert sorted(row["id"] for row in landed.values()) == list(range(MESSAGES))
    # Kafka's own record of the group: it consumed to the end of every partition.
    assert sum(offset for _, offset in remote.committed("sink-orders")) == MESSAGES


# ---- everything else fails, with the right error, and leaves nothing behind


def _other_ca(folder: Path) -> Path:
    """A CA that signed nothing the broker serves."""
    cert, _ = make_ca("another CA")
    path = folder / "other-ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


# (case, user, overrides of the user's librdkafka settings, what the error must say)
PRODUCE_FAILURES: list[tuple[str, str, dict[str, str], str]] = [
    # The broker hangs up on a client that does not start TLS: librdkafka sees the connection closed
    # while it waits for the answer to its first request (ApiVersion).
    ("no TLS", "writer", {"security.protocol": "SASL_PLAINTEXT"}, "APIVERSION_QUERY"),
    ("no TLS, no SASL", "writer", {"security.protocol": "PLAINTEXT"}, "APIVERSION_QUERY"),
    ("another CA", "writer", {"ssl.ca.location": "{other_ca}"}, "certificate verify failed"),
    ("SAN mismatch", "writer", {"bootstrap.servers": WRONG_NAME + ":{port}"}, "certificate verify failed"),
    ("SASL/PLAIN", "writer", {"sasl.mechanism": "PLAIN"}, "SCRAM-SHA-512"),
    ("wrong password", "writer", {"sasl.password": "{wrong}"}, "Authentication failed"),
    ("unknown user", "writer", {"sasl.username": "nobody-here"}, "Authentication failed"),
    ("user without the ACL", "stranger", {}, "TOPIC_AUTHORIZATION_FAILED"),
]


@pytest.mark.parametrize(("case", "user", "overrides", "error"), PRODUCE_FAILURES, ids=[c[0] for c in PRODUCE_FAILURES])
def test_refused_producer_gets_the_right_error_and_writes_nothing(
    remote: Remote, tmp_path: Path, case: str, user: str, overrides: dict[str, str], error: str
) -> None:
    fill = {"other_ca": str(_other_ca(tmp_path)), "port": str(remote.broker.settings.port), "wrong": _password()}
    conf = {**remote.librdkafka_conf(remote.users[user]), **{k: v.format(**fill) for k, v in overrides.items()}}
    result = remote.client(
        {"action": "produce", "conf": conf, "topic": "guarded", "values": ["must not land"] * 10, "timeout_s": 8}
    )
    assert result["delivered"] == [], case
    assert any(error in e for e in result["errors"]), f"{case}: {result['errors'][:5]}"
    assert remote.end_offsets("guarded") == 0, f"{case}: the broker took data"


# (case, user, group, what the error must say)
CONSUME_FAILURES: list[tuple[str, str, str, str]] = [
    ("user without the ACL", "stranger", "stranger-g", "AUTHORIZATION_FAILED"),
    ("user with produce but not consume rights", "pusher", "pusher-g", "AUTHORIZATION_FAILED"),
    ("wrong group for a reader", "reader", "not-readers", "GROUP_AUTHORIZATION_FAILED"),
]


@pytest.mark.parametrize(("case", "user", "group", "error"), CONSUME_FAILURES, ids=[c[0] for c in CONSUME_FAILURES])
def test_refused_consumer_gets_the_right_error_reads_and_commits_nothing(
    remote: Remote, orders: list[dict[str, Any]], case: str, user: str, group: str, error: str
) -> None:
    topic = "inbox" if user == "pusher" else "orders"
    if user == "pusher":  # it may produce there: the refusal below is about consuming only
        pushed = remote.client(
            {
                "action": "produce",
                "conf": remote.librdkafka_conf(remote.users[user]),
                "topic": topic,
                "values": ["pushed"],
                "timeout_s": 30,
            }
        )
        assert len(pushed["delivered"]) == 1, pushed["errors"][:3]
    conf = {**remote.librdkafka_conf(remote.users[user]), "group.id": group}
    result = remote.client({"action": "consume", "conf": conf, "topic": topic, "count": 1, "timeout_s": 15})
    assert result["messages"] == [], case
    assert any(error in e for e in result["errors"]), f"{case}: {result['errors'][:5]}"
    assert remote.committed(group) == [], f"{case}: the broker kept offsets for group {group}"


def test_kcat_java_and_openssl_are_refused_the_same_way(remote: Remote, tmp_path: Path) -> None:
    writer = remote.users["writer"]
    other_ca = _other_ca(tmp_path)

    def kcat(*overrides: str) -> subprocess.CompletedProcess[str]:
        args = [a for kv in overrides for a in ("-X", kv)]
        return remote.kcat("-F", str(writer.files["librdkafka"]), *args, "-P", "-t", "guarded", input="must not land\n")

    plain = kcat("security.protocol=SASL_PLAINTEXT", "message.timeout.ms=5000")
    assert plain.returncode != 0 and "connection closed by peer" in plain.stderr, plain.stderr[-1000:]
    wrong_ca = kcat(f"ssl.ca.location={other_ca}", "message.timeout.ms=5000")
    assert wrong_ca.returncode != 0 and "certificate verify failed" in wrong_ca.stderr, wrong_ca.stderr[-1000:]

    # Java with a wrong password: its own SaslAuthenticationException, nothing sent.
    props = tmp_path / "wrong.properties"
    text = writer.files["properties"].read_text()
    assert writer.password in text
    props.write_text(text.replace(writer.password, _password()))
    java = remote.java(
        "org.apache.kafka.tools.ConsoleProducer",
        "--bootstrap-server", remote.bootstrap, "--topic", "guarded", "--producer.config", str(props),
        "--producer-property", "delivery.timeout.ms=10000", "--producer-property", "request.timeout.ms=5000",
        "--max-block-ms", "10000",
        input="must not land\n",
    )  # fmt: skip
    assert "SaslAuthenticationException" in java.stdout + java.stderr, (java.stdout + java.stderr)[-2000:]

    # openssl: another CA, and a name the certificate does not carry.
    foreign = remote.openssl("-CAfile", str(other_ca), "-verify_return_error")
    assert foreign.returncode != 0 and "certificate verify failed" in foreign.stderr, foreign.stderr[-1000:]
    assert "Verify return code: 0 (ok)" not in foreign.stdout
    mismatch = remote.openssl("-CAfile", str(remote.ca), "-verify_return_error", "-verify_hostname", WRONG_NAME)
    assert mismatch.returncode != 0 and "hostname mismatch" in (mismatch.stdout + mismatch.stderr).lower()
    assert remote.end_offsets("guarded") == 0


# ---- what the other machine can see of the broker at all


def test_only_the_sasl_ssl_port_is_open_to_the_other_machine(remote: Remote) -> None:
    state = remote.broker.running_state()
    assert state is not None
    open_ports = set(remote.machine.scan(remote.machine.host_address))
    # Whatever else on this host listens on every address (an ssh server, another test run) is not the broker's.
    assert open_ports - foreign_wildcard_ports({state.pid}) == {remote.broker.settings.port}
    # The broker's other listeners are bound to loopback only, so no address of this host exposes them.
    # (Java listens on IPv6 sockets that take IPv4: ss shows ::ffff:127.0.0.1 for 127.0.0.1.)
    own = {(address.removeprefix("::ffff:"), port) for address, port, pids in listeners() if state.pid in pids}
    assert own == {
        (remote.machine.host_address, remote.broker.settings.port),
        ("127.0.0.1", remote.broker.internal_port),
        ("127.0.0.1", remote.broker.controller_port),
    }


# ---- passwords stay secret


def test_passwords_never_reach_logs_ps_or_config_show(remote: Remote, watch: CommandLines, orders: list[Any]) -> None:
    secrets_ = remote.passwords()
    # eventlake's own output with every secret in its settings (env), the debug client logs on.
    env = {
        "EVENTLAKE_BROKER__SASL_PASSWORD": remote.admin_password,
        "EVENTLAKE_KAFKA__SASL_PASSWORD": remote.users["sinker"].password,
    }
    remote.printed.append(remote.cli("config", "show", env=env))
    remote.printed.append(remote.cli("config", "show", "--format", "table", env=env))
    remote.printed.append(remote.cli("--config", str(remote.users["sinker"].files["toml"]), "config", "show"))
    debug_sink = remote.machine.popen(
        [EVENTLAKE, "--debug", "--config", str(remote.users["sinker"].files["toml"]), "sink", "orders",
         "--lake", str(remote.work / "lake-debug"), "--group", "sink-orders", "--until-idle", "1"],
        env=_clean_env(),
        cwd=remote.work,
    )  # fmt: skip
    ps_during = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True, check=True).stdout
    out, err = debug_sink.communicate(timeout=180)
    remote.printed += [out, err, ps_during]
    assert debug_sink.returncode == 0, err[-2000:]
    watch.sample()

    for secret in secrets_:
        for text in remote.printed:
            assert secret not in text, "a password was printed"
        for path in [*remote.broker.data_dir.rglob("*"), *(remote.work / "lake").rglob("*")]:
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), f"a password is in {path}"
    log = remote.broker.log_file.read_text(errors="replace")
    assert "KafkaConfig values" in log, "the broker log is the real one"
    hits = watch.holding(secrets_)
    assert watch.samples > 10 and hits == [], f"a password was on a command line: {hits[:2]}"


# ---- what eventlake's own commands say on the other machine


# (case, settings as env on top of the sinker's file, what the one-line error must say)
EVENTLAKE_FAILURES: list[tuple[str, dict[str, str], str]] = [
    ("no TLS", {"EVENTLAKE_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT"}, "without TLS"),
    ("another CA", {"EVENTLAKE_KAFKA__SSL_CA_LOCATION": "{other_ca}"}, "TLS certificate this client does not accept"),
    (
        "SAN mismatch",
        {"EVENTLAKE_BOOTSTRAP_SERVERS": WRONG_NAME + ":{port}"},
        "TLS certificate this client does not accept",
    ),
    (
        "SASL/PLAIN",
        {"EVENTLAKE_KAFKA__SASL_MECHANISM": "PLAIN"},
        "does not accept SASL mechanism PLAIN; it accepts SCRAM-SHA-512",
    ),
    ("wrong password", {"EVENTLAKE_KAFKA__SASL_PASSWORD": "{wrong}"}, "refused the credentials"),
]


@pytest.mark.parametrize(("case", "env", "error"), EVENTLAKE_FAILURES, ids=[c[0] for c in EVENTLAKE_FAILURES])
def test_eventlake_on_the_other_machine_says_what_is_wrong_in_one_line(
    remote: Remote, tmp_path: Path, case: str, env: dict[str, str], error: str
) -> None:
    fill = {"other_ca": str(_other_ca(tmp_path)), "port": str(remote.broker.settings.port), "wrong": _password()}
    proc = remote.machine.run(
        [EVENTLAKE, "--config", str(remote.users["sinker"].files["toml"]), "topics", "list"],
        # eventlake waits out its connect time-out on a failed TLS handshake: keep that short here.
        env={
            **_clean_env(),
            "EVENTLAKE_KAFKA__CONNECT_TIMEOUT_S": "3",
            **{k: v.format(**fill) for k, v in env.items()},
        },
        cwd=tmp_path,
        timeout=60,
    )
    remote.printed += [proc.stdout, proc.stderr]
    assert proc.returncode != 0, f"{case}: {proc.stdout[-500:]}"
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: ") and error in line, f"{case}: {line}"
    assert "no Kafka broker answered" not in line, f"{case}: the broker did answer"
