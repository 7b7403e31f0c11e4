"""A broker reachable from other machines: credentials demanded, written exactly, never leaked.

Every test here starts a real Apache Kafka through eventlake's own `broker` package and talks
to it with a real client (confluent-kafka). What eventlake writes for Kafka is also read back
by Java itself (java.util.Properties as Kafka loads server.properties, and Kafka's own
JaasContext for the SASL users) when a JDK compiler is available.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from eventlake.broker import LocalBroker, TopicAdmin
from eventlake.broker.clients import auth_failure, check_reachable
from eventlake.broker.exceptions import (
    AuthenticationFailed,
    AuthorizationFailed,
    BrokerError,
    BrokerUnreachable,
    CredentialsRefused,
)
from eventlake.broker.jars import resolve_jars
from eventlake.broker.javaconf import load_properties, parse_jaas
from eventlake.broker.server import JAAS_PROPERTY
from eventlake.config import BrokerSettings, KafkaClientSettings
from eventlake.config.broker import KAFKA_VERSION
from eventlake.runtime import free_port

pytestmark = pytest.mark.integration

PASSWORD = "pa55-w0rd-9f1c-Q7"
# Everything that broke out of the old, unescaped JAAS and properties text: a quote that
# closes the value and adds a SASL user, a backslash, a line break that starts a new
# property, separators and comment marks, spaces, Latin-1, BMP and astral unicode.
HOSTILE_PASSWORD = (
    'Zq8"x\\y" user_mallory="mallory-pass-123";\n'
    "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256\r\n"
    "authorizer.class.name=evil #=!: \t\\u0041 é€😀 end\\"
)


def _exposed(tmp_path: Path, password: str, **extra: object) -> LocalBroker:
    return LocalBroker(
        BrokerSettings(
            host="0.0.0.0",
            advertise="127.0.0.1",
            port=free_port(),
            controller_port=free_port(),
            internal_port=free_port(),
            data_dir=tmp_path / "b",
            sasl_password=SecretStr(password),
            start_timeout_s=120,
            **extra,
        )
    )


def _sasl(user: str, password: str) -> KafkaClientSettings:
    return KafkaClientSettings(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username=user,
        sasl_password=SecretStr(password),
        connect_timeout_s=8,
    )


def _raw_client(port: int, user: str, password: str) -> AdminClient:
    return AdminClient(
        {
            "bootstrap.servers": f"127.0.0.1:{port}",
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.username": user,
            "sasl.password": password,
            "log_level": 0,
        }
    )


# ---- Java's own reading of what eventlake wrote

_JAVA_VIEW = r"""
import java.nio.charset.StandardCharsets;
import java.util.*;
import javax.security.auth.login.AppConfigurationEntry;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.network.ListenerName;
import org.apache.kafka.common.security.JaasContext;
import org.apache.kafka.common.utils.Utils;

public class JavaView {
    static String hex(Object o) {
        StringBuilder sb = new StringBuilder("x");
        for (byte b : String.valueOf(o).getBytes(StandardCharsets.UTF_8)) sb.append(String.format("%02x", b));
        return sb.toString();
    }
    public static void main(String[] args) throws Exception {
        for (String file : args) {
            System.out.println("FILE\t" + hex(file));
            Properties props = Utils.loadProps(file);  // as kafka.Kafka loads server.properties
            for (String key : new TreeSet<>(props.stringPropertyNames()))
                System.out.println("P\t" + hex(key) + "\t" + hex(props.getProperty(key)));
            String jaas = props.getProperty("%(jaas)s");
            if (jaas == null) continue;
            Map<String, Object> configs = new HashMap<>();
            // As the broker hands it over: the listener prefix already stripped.
            configs.put("plain.sasl.jaas.config", new Password(jaas));
            JaasContext ctx = JaasContext.loadServerContext(new ListenerName("EXTERNAL"), "PLAIN", configs);
            for (AppConfigurationEntry e : ctx.configurationEntries())
                for (Map.Entry<String, ?> o : new TreeMap<>(e.getOptions()).entrySet())
                    System.out.println("J\t" + hex(e.getLoginModuleName()) + "\t" + hex(o.getKey()) + "\t"
                                       + hex(o.getValue()));
        }
    }
}
""".replace("%(jaas)s", JAAS_PROPERTY)


def _unhex(field: str) -> str:
    return bytes.fromhex(field[1:]).decode("utf-8")


def java_view(files: list[Path], work: Path) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """Per file: (properties as Kafka loads them, JAAS options of the PLAIN login module), read by Java.

    Skips when no JDK compiler can run a Java source file (a JRE-only machine).
    """
    java = os.environ.get("JAVA_HOME", "")
    java_bin = str(Path(java) / "bin" / "java") if java else "java"
    modules = subprocess.run([java_bin, "--list-modules"], capture_output=True, text=True, check=False)
    if "jdk.compiler" not in modules.stdout:
        pytest.skip("no JDK compiler (jdk.compiler) to run Java's own reading of the files")
    source = work / "JavaView.java"
    source.write_text(_JAVA_VIEW)
    libs = resolve_jars(KAFKA_VERSION)
    proc = subprocess.run(
        [java_bin, "-cp", f"{libs}/*", str(source), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    current: tuple[dict[str, str], dict[str, str]] = ({}, {})
    for line in proc.stdout.splitlines():
        kind, *fields = line.split("\t")
        if kind == "FILE":
            current = ({}, {})
            out[_unhex(fields[0])] = current
        elif kind == "P":
            current[0][_unhex(fields[0])] = _unhex(fields[1])
        elif kind == "J":
            assert _unhex(fields[0]) == "org.apache.kafka.common.security.plain.PlainLoginModule"
            current[1][_unhex(fields[1])] = _unhex(fields[2])
    return out


def _logged_config(log: str) -> dict[str, str]:
    """The first `KafkaConfig values:` block Kafka logged: every known setting as it understood it."""
    block = log.split("KafkaConfig values:", 1)[1].split("\n[", 1)[0]
    return {m[1]: m[2] for m in re.finditer(r"^\t(\S+) = (.*)$", block, re.M)}


# ---- refusals before anything is written or bound


def test_exposed_bind_without_password_is_refused(tmp_path: Path) -> None:
    broker = LocalBroker(BrokerSettings(host="0.0.0.0", port=free_port(), data_dir=tmp_path / "b"))
    with pytest.raises(BrokerError, match="without credentials"):
        broker.start()
    assert not (tmp_path / "b" / "broker.json").exists()


@pytest.mark.parametrize(
    "password",
    [
        "",
        "   \t ",
        "short-Pw1",
        "aaaaaaaaaaaaaaaaaaaaaaaa",
        "abcabcabcabcabcabc",
        "abcdefghijkl",
        " leading-space-Kq83-Zp20x",
    ],
)
def test_weak_password_for_an_exposed_bind_is_refused_in_one_line(tmp_path: Path, password: str) -> None:
    broker = _exposed(tmp_path, password)
    with pytest.raises(CredentialsRefused) as caught:
        broker.start()
    line = str(caught.value)
    assert "\n" not in line and "\r" not in line
    assert "secrets.token_urlsafe(24)" in line
    if password.strip():
        assert password not in line
    assert not (tmp_path / "b").exists(), "nothing may be written for refused settings"


def test_hostile_user_name_is_refused_in_one_line(tmp_path: Path) -> None:
    broker = _exposed(tmp_path, PASSWORD, sasl_username='eventlake" user_mallory="x')
    with pytest.raises(CredentialsRefused, match="user name") as caught:
        broker.start()
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "b").exists()


# ---- the real broker with a hostile password


@pytest.fixture(scope="module")
def hostile_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    broker = _exposed(tmp_path_factory.mktemp("hostile"), HOSTILE_PASSWORD)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def test_hostile_password_authenticates_exactly(hostile_broker: LocalBroker) -> None:
    port = hostile_broker.settings.port
    # (a) the right password, byte for byte, works with a real client...
    right = _sasl("eventlake", HOSTILE_PASSWORD)
    check_reachable(f"127.0.0.1:{port}", right)
    TopicAdmin(hostile_broker.local_bootstrap).create("exact", partitions=1)
    assert "exact" in _raw_client(port, "eventlake", HOSTILE_PASSWORD).list_topics(timeout=10).topics

    # (b) ... and nothing close to it does: each escaping layer, undone or doubled, is a different password.
    near_misses = [
        HOSTILE_PASSWORD[:-1],  # the trailing backslash dropped
        HOSTILE_PASSWORD + "\\",
        HOSTILE_PASSWORD + " ",
        HOSTILE_PASSWORD.replace(" ", ""),
        HOSTILE_PASSWORD.replace("\\", "\\\\"),
        HOSTILE_PASSWORD.replace('"', '\\"'),
        HOSTILE_PASSWORD.replace("\n", "\\n"),
        HOSTILE_PASSWORD.replace("\r\n", "\n"),
        HOSTILE_PASSWORD.replace("\\u0041", "A"),
        HOSTILE_PASSWORD.replace("é", "e"),
        "Zq8",  # the password as the old JAAS text cut it at the first quote
    ]
    for wrong in near_misses:
        assert wrong != HOSTILE_PASSWORD
        with pytest.raises(AuthenticationFailed):
            check_reachable(f"127.0.0.1:{port}", _sasl("eventlake", wrong))

    # (c) the user the password tried to add does not exist.
    with pytest.raises(AuthenticationFailed, match="user mallory"):
        check_reachable(f"127.0.0.1:{port}", _sasl("mallory", "mallory-pass-123"))


def test_hostile_password_adds_no_property_and_no_user(hostile_broker: LocalBroker, tmp_path: Path) -> None:
    written = hostile_broker.data_dir / "server.properties"
    raw = written.read_bytes()
    assert raw.isascii()
    intended = hostile_broker.server_properties()
    pairs = load_properties(raw)
    assert pairs == list(intended.items()), "a key was added, lost or changed"
    assert len(raw.splitlines()) == len(intended), "one line per property"
    (entry,) = parse_jaas(dict(pairs)[JAAS_PROPERTY])
    assert entry.options == {"user_eventlake": HOSTILE_PASSWORD}

    # What Kafka itself understood: the settings it logged, and no unknown key it was handed.
    log = hostile_broker.log_file.read_text(encoding="utf-8", errors="replace")
    logged = _logged_config(log)
    assert logged["sasl.enabled.mechanisms"] == "[GSSAPI]"  # the injected line did not become a setting
    # Ours, not the injected "evil": the password's line did not become a setting.
    assert logged["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert logged["listeners"] == intended["listeners"]
    assert logged["log.dirs"] == intended["log.dirs"]
    assert "isn't a known config" not in log

    # And Java, reading the file the way Kafka does.
    props, jaas = java_view([written], tmp_path)[str(written)]
    assert props == intended
    assert jaas == {"user_eventlake": HOSTILE_PASSWORD}


def test_password_never_reaches_log_or_group_readable_files(hostile_broker: LocalBroker) -> None:
    log = hostile_broker.log_file.read_bytes()
    for fragment in ("Zq8", "mallory-pass-123", "user_mallory"):
        assert fragment.encode() not in log
    for path in hostile_broker.data_dir.rglob("*"):
        assert stat.S_IMODE(path.lstat().st_mode) & 0o077 == 0, path


# ---- auth failures are reported as what they are


def test_wrong_password_is_reported_as_refused_credentials_quickly(hostile_broker: LocalBroker) -> None:
    port = hostile_broker.settings.port
    wrong = _sasl("eventlake", "not-the-password-123")
    started = time.monotonic()
    with pytest.raises(AuthenticationFailed) as caught:
        check_reachable(f"127.0.0.1:{port}", wrong)
    assert time.monotonic() - started < 5, "an auth failure must not wait for the connect time-out"
    line = str(caught.value)
    assert line.startswith(
        f"Kafka at 127.0.0.1:{port} refused the credentials for user eventlake "
        "(SASL authentication failed): check the password"
    )
    assert "no Kafka broker answered" not in line
    assert "\n" not in line and "not-the-password" not in line
    assert not isinstance(caught.value, BrokerUnreachable)

    # The same through topic administration, as `eventlake topics ...` and the sink use it.
    with pytest.raises(AuthenticationFailed, match="refused the credentials"):
        TopicAdmin(f"127.0.0.1:{port}", wrong).names()


def test_plaintext_client_to_sasl_listener_is_told_about_the_protocol(hostile_broker: LocalBroker) -> None:
    port = hostile_broker.settings.port
    with pytest.raises(BrokerUnreachable, match="security_protocol") as caught:
        check_reachable(f"127.0.0.1:{port}", KafkaClientSettings(connect_timeout_s=8))
    assert "\n" not in str(caught.value)
    anonymous = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}", "log_level": 0})
    with pytest.raises(KafkaException):
        anonymous.list_topics(timeout=3)


def test_auth_failure_classifies_client_errors() -> None:
    kafka = _sasl("alice", "whatever-password")
    sasl = KafkaError(
        KafkaError._AUTHENTICATION,
        "sasl_ssl://kafka-1.example:9093/bootstrap: SASL authentication error: Authentication failed",
    )
    failure = auth_failure(sasl, "kafka-1.example:9093,kafka-2.example:9093", kafka)
    assert isinstance(failure, AuthenticationFailed)
    assert str(failure).startswith("Kafka at kafka-1.example:9093 refused the credentials for user alice")

    denied = auth_failure(
        KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)), "k:9092", kafka, doing="create topic orders"
    )
    assert isinstance(denied, AuthorizationFailed)
    assert "denied user alice the right to create topic orders (TOPIC_AUTHORIZATION_FAILED)" in str(denied)
    for code in (
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    ):
        assert isinstance(auth_failure(KafkaError(code), "k:9092", kafka), AuthorizationFailed)
    assert isinstance(
        auth_failure(KafkaError(KafkaError.SASL_AUTHENTICATION_FAILED), "k:9092", kafka), AuthenticationFailed
    )
    for code in (
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._TIMED_OUT,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
    ):
        assert auth_failure(KafkaError(code), "k:9092", kafka) is None
    assert auth_failure(ValueError("x"), "k:9092", kafka) is None
    # A hostile user name from settings never breaks the one-line message.
    odd = auth_failure(sasl, "k:9092", _sasl("a\nb", "whatever-password"))
    assert odd is not None and "\n" not in str(odd)


# ---- a private data dir


def test_data_dir_and_everything_kafka_writes_are_private(tmp_path: Path) -> None:
    """An old, world-readable data dir is tightened; segments Kafka writes are owner-only."""
    data = tmp_path / "b"
    (data / "kraft").mkdir(parents=True)
    data.chmod(0o755)
    (data / "kraft").chmod(0o755)
    for name in ("server.properties", "broker.log"):
        (data / name).write_text("old\n")
        (data / name).chmod(0o644)
    old_umask = os.umask(0o022)  # as a typical shell: files 644, folders 755 unless made private
    try:
        broker = _exposed(tmp_path, PASSWORD)
        broker.start()
        try:
            TopicAdmin(broker.local_bootstrap).create("private", partitions=2)
            producer = Producer(
                {
                    "bootstrap.servers": f"127.0.0.1:{broker.settings.port}",
                    "security.protocol": "SASL_PLAINTEXT",
                    "sasl.mechanism": "PLAIN",
                    "sasl.username": "eventlake",
                    "sasl.password": PASSWORD,
                    "log_level": 0,
                }
            )
            for i in range(2000):
                producer.produce("private", value=f"secret-{i}".encode())
            assert producer.flush(30) == 0
            consumer = Consumer(
                {
                    "bootstrap.servers": broker.local_bootstrap,
                    "group.id": "private-reader",
                    "auto.offset.reset": "earliest",
                }
            )
            consumer.subscribe(["private"])
            got = 0
            deadline = time.monotonic() + 60
            while got < 2000 and time.monotonic() < deadline:
                got += sum(1 for m in consumer.consume(500, timeout=0.5) if m.error() is None)
            consumer.close()  # commits: the offsets topic writes segments too
            assert got == 2000
        finally:
            broker.stop()  # flushes and writes checkpoints on the way out
    finally:
        os.umask(old_umask)
    entries = [data, *data.rglob("*")]
    assert any(p.suffix == ".log" and "private-" in str(p.parent) for p in entries), "segments were written"
    assert any("__consumer_offsets" in str(p) for p in entries)
    loose = [f"{oct(stat.S_IMODE(p.lstat().st_mode))} {p}" for p in entries if p.lstat().st_mode & 0o077]
    assert not loose, "group/other can read: " + ", ".join(loose[:10])
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
