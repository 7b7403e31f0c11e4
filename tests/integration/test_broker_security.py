"""A broker reachable from other machines: SCRAM over TLS only, credentials never written or leaked.

Every test here starts a real Apache Kafka through eventlake's own `broker` package, bound
to a real non-loopback address (`exposed_address`: a veth in a namespace the session
makes), and talks to it with real clients: confluent-kafka and `openssl s_client`. What
eventlake writes for Kafka is also read back by Java itself (java.util.Properties as Kafka
loads server.properties) when a JDK compiler is available.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, ResourceType
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from eventlake.broker import LocalBroker, TopicAdmin
from eventlake.broker.clients import auth_failure, check_reachable, client_config
from eventlake.broker.exceptions import (
    AuthenticationFailed,
    AuthorizationFailed,
    BrokerError,
    BrokerUnreachable,
    CredentialsRefused,
)
from eventlake.broker.jars import resolve_jars
from eventlake.broker.javaconf import load_properties
from eventlake.config import BrokerSettings, KafkaClientSettings
from eventlake.config.broker import KAFKA_VERSION
from eventlake.runtime import free_port
from tests.fixtures_broker_tls import issue, make_ca, write_pem
from tests.polling import wait_until

pytestmark = pytest.mark.integration

PASSWORD = "pa55-w0rd-9f1c-Q7"
# Everything that broke out of the old, unescaped JAAS and properties text (a quote that
# closes the value and adds a SASL user, a backslash, a line break that starts a new
# property, separators and comment marks, spaces, Latin-1, BMP and astral unicode): it now
# never reaches a file at all, and must still authenticate byte for byte through SCRAM.
HOSTILE_PASSWORD = (
    'Zq8"x\\y" user_mallory="mallory-pass-123";\n'
    "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256\r\n"
    "authorizer.class.name=evil #=!: \t\\u0041 é€😀 end\\"
)


def _exposed(tmp_path: Path, password: str, address: str = "0.0.0.0", **extra: object) -> LocalBroker:
    return LocalBroker(
        BrokerSettings(
            host=address,
            advertise=None if address == "0.0.0.0" else address,
            port=free_port(),
            controller_port=free_port(),
            internal_port=free_port(),
            data_dir=tmp_path / "b",
            sasl_password=SecretStr(password),
            start_timeout_s=120,
            **extra,
        )
    )


def _scram(user: str, password: str, ca: Path | str) -> KafkaClientSettings:
    return KafkaClientSettings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=user,
        sasl_password=SecretStr(password),
        ssl_ca_location=str(ca),
        connect_timeout_s=8,
    )


def _raw_admin(broker: LocalBroker, conf: dict[str, Any], errors: list[KafkaError] | None = None) -> AdminClient:
    base: dict[str, Any] = {
        "bootstrap.servers": broker.bootstrap,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "eventlake",
        "ssl.ca.location": str(broker.tls.ca),
        "log_level": 0,
    }
    if errors is not None:
        base["error_cb"] = errors.append
    return AdminClient({**base, **conf})


def _s_client(broker: LocalBroker, *args: str, ca: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`openssl s_client` to the broker's TLS listener, verifying against `ca` (default: the broker's)."""
    return subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            broker.bootstrap,
            "-CAfile",
            str(ca or broker.tls.ca),
            "-verify_return_error",
            "-showcerts",
            *args,
        ],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _served_serial(broker: LocalBroker) -> int:
    """The serial number of the certificate the broker serves to a new connection."""
    res = _s_client(broker)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    leaf = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", res.stdout, re.S)
    assert leaf is not None
    serial = subprocess.run(
        ["openssl", "x509", "-noout", "-serial"], input=leaf[0], capture_output=True, text=True, check=True
    ).stdout
    return int(serial.strip().split("=", 1)[1], 16)


# ---- Java's own reading of what eventlake wrote

_JAVA_VIEW = r"""
import java.nio.charset.StandardCharsets;
import java.util.*;
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
        }
    }
}
"""


def _unhex(field: str) -> str:
    return bytes.fromhex(field[1:]).decode("utf-8")


def java_view(files: list[Path], work: Path) -> dict[str, dict[str, str]]:
    """Per file: the properties as Kafka loads them, read by Java.

    Fails, saying so, when no JDK compiler can run a Java source file (a JRE-only machine).
    """
    java = os.environ.get("JAVA_HOME", "")
    java_bin = str(Path(java) / "bin" / "java") if java else "java"
    modules = subprocess.run([java_bin, "--list-modules"], capture_output=True, text=True, check=False)
    if "jdk.compiler" not in modules.stdout:
        pytest.fail(f"no JDK compiler (jdk.compiler) in {java_bin}: install a JDK 17, not a JRE")
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
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        kind, *fields = line.split("\t")
        if kind == "FILE":
            current = {}
            out[_unhex(fields[0])] = current
        elif kind == "P":
            current[_unhex(fields[0])] = _unhex(fields[1])
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


# ---- the real broker, on a non-loopback address, with a hostile password


@pytest.fixture(scope="module")
def hostile_broker(tmp_path_factory: pytest.TempPathFactory, exposed_address: str) -> Iterator[LocalBroker]:
    broker = _exposed(tmp_path_factory.mktemp("hostile"), HOSTILE_PASSWORD, exposed_address)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def test_hostile_password_authenticates_exactly_through_scram_over_tls(hostile_broker: LocalBroker) -> None:
    bootstrap, ca = hostile_broker.bootstrap, hostile_broker.tls.ca
    # (a) the right password, byte for byte, works with a real client...
    check_reachable(bootstrap, _scram("eventlake", HOSTILE_PASSWORD, ca))
    TopicAdmin(hostile_broker.local_bootstrap).create("exact", partitions=1)
    admin = _raw_admin(hostile_broker, {"sasl.password": HOSTILE_PASSWORD})
    assert "exact" in admin.list_topics(timeout=10).topics

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
            check_reachable(bootstrap, _scram("eventlake", wrong, ca))

    # (c) the user the password tried to add does not exist.
    with pytest.raises(AuthenticationFailed, match="user mallory"):
        check_reachable(bootstrap, _scram("mallory", "mallory-pass-123", ca))


def test_properties_hold_no_password_and_kafka_reads_them_as_written(
    hostile_broker: LocalBroker, tmp_path: Path
) -> None:
    written = hostile_broker.data_dir / "server.properties"
    raw = written.read_bytes()
    assert raw.isascii()
    intended = hostile_broker.server_properties()
    pairs = load_properties(raw)
    assert pairs == list(intended.items()), "a key was added, lost or changed"
    assert len(raw.splitlines()) == len(intended), "one line per property"
    text = raw.decode("ascii")
    for fragment in ("Zq8", "mallory", "user_", "PlainLoginModule", "password"):
        assert fragment not in text, fragment
    props = dict(pairs)
    assert props["listener.security.protocol.map"] == "EXTERNAL:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert props["listener.name.external.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"

    # What Kafka itself understood: the settings it logged, and no unknown key it was handed.
    log = hostile_broker.log_file.read_text(encoding="utf-8", errors="replace")
    logged = _logged_config(log)
    assert logged["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert logged["listeners"] == intended["listeners"]
    assert logged["listener.security.protocol.map"] == intended["listener.security.protocol.map"]
    assert logged["log.dirs"] == intended["log.dirs"]
    assert "isn't a known config" not in log

    # And Java, reading the file the way Kafka does.
    assert java_view([written], tmp_path)[str(written)] == intended


def test_password_never_reaches_files_logs_or_ps(hostile_broker: LocalBroker) -> None:
    fragments = [HOSTILE_PASSWORD[:20], 'Zq8"x', "mallory-pass-123"]
    for path in hostile_broker.data_dir.rglob("*"):
        assert stat.S_IMODE(path.lstat().st_mode) & 0o077 == 0, path
        if path.is_file() and not path.is_relative_to(hostile_broker.log_dirs):
            data = path.read_bytes()
            for fragment in fragments:
                assert fragment.encode() not in data, (path, fragment)
    # The metadata log holds the salted SCRAM hash, never the password itself.
    for path in hostile_broker.log_dirs.rglob("*.log"):
        assert HOSTILE_PASSWORD[:20].encode() not in path.read_bytes(), path
    ps = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True, check=True).stdout
    assert "kafka.Kafka" in ps, "the broker's command line is visible to ps"
    for fragment in fragments:
        assert fragment not in ps


def test_tls_needs_the_broker_ca_and_version_1_2_or_later(hostile_broker: LocalBroker, tmp_path: Path) -> None:
    for version in ("-tls1_2", "-tls1_3"):
        ok = _s_client(hostile_broker, version)
        assert ok.returncode == 0 and "Verify return code: 0 (ok)" in ok.stdout, ok.stderr[-500:]
    # OpenSSL 3 refuses TLS 1.1 on its own at the default security level: level 0 lets it try.
    old = _s_client(hostile_broker, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    assert old.returncode != 0
    assert "alert protocol version" in old.stderr, old.stderr[-500:]

    other_ca = write_pem(tmp_path / "other-ca.pem", make_ca("another CA")[0])
    wrong = _s_client(hostile_broker, ca=other_ca)
    assert wrong.returncode != 0 and "certificate verify failed" in (wrong.stdout + wrong.stderr)
    with pytest.raises(BrokerUnreachable, match="certificate verify failed"):
        check_reachable(hostile_broker.bootstrap, _scram("eventlake", HOSTILE_PASSWORD, other_ca))


def test_plain_mechanism_is_refused_even_with_the_right_password(hostile_broker: LocalBroker) -> None:
    errors: list[KafkaError] = []
    admin = _raw_admin(hostile_broker, {"sasl.mechanism": "PLAIN", "sasl.password": HOSTILE_PASSWORD}, errors)
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)
    admin.poll(0)
    said = " ".join(e.str() for e in errors)
    assert "Unsupported SASL mechanism" in said and "SCRAM-SHA-512" in said, said


def test_wrong_password_is_reported_as_refused_credentials_quickly(hostile_broker: LocalBroker) -> None:
    bootstrap = hostile_broker.bootstrap
    wrong = _scram("eventlake", "not-the-password-123", hostile_broker.tls.ca)
    started = time.monotonic()
    with pytest.raises(AuthenticationFailed) as caught:
        check_reachable(bootstrap, wrong)
    assert time.monotonic() - started < 5, "an auth failure must not wait for the connect time-out"
    line = str(caught.value)
    assert line.startswith(
        f"Kafka at {bootstrap} refused the credentials for user eventlake "
        "(SASL authentication failed): check the password"
    )
    assert "no Kafka broker answered" not in line
    assert "\n" not in line and "not-the-password" not in line
    assert not isinstance(caught.value, BrokerUnreachable)

    # The same through topic administration, as `eventlake topics ...` and the sink use it.
    with pytest.raises(AuthenticationFailed, match="refused the credentials"):
        TopicAdmin(bootstrap, wrong).names()


def test_clients_without_tls_get_nowhere(hostile_broker: LocalBroker) -> None:
    bootstrap = hostile_broker.bootstrap
    with pytest.raises(BrokerUnreachable, match="a TLS listener answers there") as caught:
        check_reachable(bootstrap, KafkaClientSettings(connect_timeout_s=4))
    assert 'security_protocol = "SASL_SSL"' in str(caught.value)
    assert "\n" not in str(caught.value)
    # Our own client will not even send a password in clear text to a non-loopback address...
    cleartext = KafkaClientSettings(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="eventlake",
        sasl_password=SecretStr(HOSTILE_PASSWORD),
    )
    with pytest.raises(CredentialsRefused, match="without TLS"):
        client_config(bootstrap, cleartext)
    # ... and a client that does (opted out) meets a TLS listener that never answers in clear.
    anyway = cleartext.model_copy(update={"allow_cleartext_password": True, "connect_timeout_s": 4})
    with pytest.raises(BrokerUnreachable):
        check_reachable(bootstrap, anyway)


def test_auth_failure_classifies_client_errors() -> None:
    kafka = _scram("alice", "whatever-password", "/nonexistent/ca.pem")
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
    odd = auth_failure(sasl, "k:9092", _scram("a\nb", "whatever-password", "/x"))
    assert odd is not None and "\n" not in str(odd)


def test_certificate_rotates_while_a_producer_runs(hostile_broker: LocalBroker) -> None:
    """`broker certs --renew` on a running broker: the new certificate is served, nothing is lost."""
    admin = TopicAdmin(hostile_broker.local_bootstrap)
    admin.create("rotation", partitions=2)
    before = _served_serial(hostile_broker)
    conf = client_config(hostile_broker.bootstrap, _scram("eventlake", HOSTILE_PASSWORD, hostile_broker.tls.ca))
    producer = Producer({**conf, "acks": "all", "enable.idempotence": True, "linger.ms": 5})
    failed: list[str] = []
    delivered = 0
    stop = threading.Event()

    def on_delivery(err: KafkaError | None, _msg: object) -> None:
        nonlocal delivered
        if err is not None:
            failed.append(err.str())
        else:
            delivered += 1

    def produce() -> None:
        i = 0
        while not stop.is_set():
            producer.produce("rotation", value=f"m-{i}".encode(), on_delivery=on_delivery)
            producer.poll(0.002)
            i += 1
        producer.flush(60)

    worker = threading.Thread(target=produce)
    worker.start()
    try:
        wait_until(lambda: delivered > 500, 60, "the producer delivers before the rotation")
        serials = [before]
        for _ in range(2):  # twice: a reload must not depend on the location's value changing
            info, changed = hostile_broker.rotate_certificate()
            assert changed and info.serial not in serials
            serials.append(info.serial)
            wait_until(lambda: _served_serial(hostile_broker) == serials[-1], 30, "the new certificate is served")
        at_rotation = delivered
        wait_until(lambda: delivered > at_rotation + 500, 60, "the producer keeps delivering after the rotation")
        # A client connecting now verifies the new certificate with the same CA.
        check_reachable(hostile_broker.bootstrap, _scram("eventlake", HOSTILE_PASSWORD, hostile_broker.tls.ca))
    finally:
        stop.set()
        worker.join(90)
    assert not failed, failed[:3]
    assert admin.describe("rotation").messages == delivered
    # No dynamic override is left behind: the keystore path is server.properties' again.
    resource = ConfigResource(ResourceType.BROKER, "1")
    local = AdminClient({"bootstrap.servers": hostile_broker.local_bootstrap})  # kept until the answer
    entry = local.describe_configs([resource])[resource].result()["listener.name.external.ssl.keystore.location"]
    assert entry.source == ConfigSource.STATIC_BROKER_CONFIG.value
    assert entry.value == str(hostile_broker.tls.keystore)


# ---- a certificate of your own, and a password changed between starts


def test_own_certificate_and_a_changed_password_take_effect(tmp_path: Path, exposed_address: str) -> None:
    ca = make_ca("company CA")
    cert, key = issue(ca, ["kafka.test.example", exposed_address], key=rsa.generate_private_key(65537, 2048))
    own = {
        "tls_cert": write_pem(tmp_path / "kafka.pem", cert),
        "tls_key": write_pem(tmp_path / "kafka-key.pem", key),  # PKCS#1: made PKCS#8 for Kafka
        "tls_ca": write_pem(tmp_path / "company-ca.pem", ca[0]),
    }
    broker = _exposed(tmp_path, PASSWORD, exposed_address, **own)
    broker.start()
    try:
        check_reachable(broker.bootstrap, _scram("eventlake", PASSWORD, own["tls_ca"]))
        assert _served_serial(broker) == cert.serial_number
    finally:
        broker.stop()
    renamed = "an0ther-pa55-w0rd-Q8"
    again = _exposed(tmp_path, renamed, exposed_address, **own)
    again = LocalBroker(again.settings.model_copy(update={"port": broker.settings.port}))
    again.start()
    try:
        check_reachable(again.bootstrap, _scram("eventlake", renamed, own["tls_ca"]))
        with pytest.raises(AuthenticationFailed):
            check_reachable(again.bootstrap, _scram("eventlake", PASSWORD, own["tls_ca"]))
    finally:
        again.stop()


# ---- a private data dir


def test_data_dir_and_everything_kafka_writes_are_private(tmp_path: Path, exposed_address: str) -> None:
    """An old, world-readable data dir is tightened; segments and keys are owner-only."""
    data = tmp_path / "b"
    (data / "kraft").mkdir(parents=True)
    data.chmod(0o755)
    (data / "kraft").chmod(0o755)
    for name in ("server.properties", "broker.log"):
        (data / name).write_text("old\n")
        (data / name).chmod(0o644)
    old_umask = os.umask(0o022)  # as a typical shell: files 644, folders 755 unless made private
    try:
        broker = _exposed(tmp_path, PASSWORD, exposed_address)
        broker.start()
        try:
            TopicAdmin(broker.local_bootstrap).create("private", partitions=2)
            producer = Producer(client_config(broker.bootstrap, _scram("eventlake", PASSWORD, broker.tls.ca)))
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
    assert (data / "tls" / "broker-key.pem").is_file() and (data / "tls" / "ca-key.pem").is_file()
    loose = [f"{oct(stat.S_IMODE(p.lstat().st_mode))} {p}" for p in entries if p.lstat().st_mode & 0o077]
    assert not loose, "group/other can read: " + ", ".join(loose[:10])
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
