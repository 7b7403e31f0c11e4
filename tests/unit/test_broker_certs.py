"""The broker's certificates (broker/certs.py), what an exposed broker writes for Kafka, and the
client's refusal to send a password in clear text: files and settings only, no broker."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from pydantic import SecretStr

from eventlake.broker import LocalBroker, client_config
from eventlake.broker.certs import CertificateError, TlsFiles, broker_names, check_san, ensure_certificate, install_own
from eventlake.broker.exceptions import BrokerError, CredentialsRefused
from eventlake.config import BrokerSettings, KafkaClientSettings
from eventlake.config.broker import is_loopback
from tests.fixtures_broker_tls import issue, make_ca, write_pem

PASSWORD = "Kq83-Zp20-xY7w-Lm5n"


def _one_line(exc: BaseException) -> str:
    line = str(exc)
    assert line.isprintable() and line.isascii(), repr(line)
    return line


def test_private_ca_and_broker_certificate(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path / "tls")
    info, changed = ensure_certificate(files, ["kafka.example.org", "198.18.0.1"], days=30)
    assert changed
    for path in (files.ca, files.ca_key, files.cert, files.key, files.keystore):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(files.folder.stat().st_mode) == 0o700

    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    leaf, chain_ca = x509.load_pem_x509_certificates(files.cert.read_bytes())
    assert chain_ca == ca
    leaf.verify_directly_issued_by(ca)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["kafka.example.org"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["198.18.0.1"]
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert 29 < info.days_left <= 30 and info.expiring  # under 30 days: `broker status` warns
    assert info.sans == ("kafka.example.org", "198.18.0.1") and info.subject == "CN=kafka.example.org"

    # Kafka's PEM keystore: one unencrypted PKCS#8 key, then the chain, leaf first.
    keystore = files.keystore.read_bytes()
    assert keystore.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert b"ENCRYPTED" not in keystore
    key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert key.public_key() == leaf.public_key()
    assert x509.load_pem_x509_certificates(keystore.split(b"-----END PRIVATE KEY-----\n", 1)[1]) == [leaf, ca]


def test_certificate_is_kept_renewed_or_reissued_for_new_names(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path / "tls")
    first, _ = ensure_certificate(files, ["kafka.example.org"])
    ca_before = files.ca.read_bytes()
    again, changed = ensure_certificate(files, ["kafka.example.org"])
    assert not changed and again.serial == first.serial
    renewed, changed = ensure_certificate(files, ["kafka.example.org"], renew=True)
    assert changed and renewed.serial != first.serial
    assert (renewed.subject, renewed.sans, renewed.issuer) == (first.subject, first.sans, first.issuer)
    assert files.ca.read_bytes() == ca_before, "renewal keeps the CA clients already trust"
    wider, changed = ensure_certificate(files, ["kafka.example.org", "10.1.2.3"])
    assert changed and wider.sans == ("kafka.example.org", "10.1.2.3")


def test_names_come_from_advertise_host_and_extra() -> None:
    assert broker_names("kafka.example.org", "0.0.0.0", ["Alt.Example.org", "::1"]) == [
        "kafka.example.org",
        "alt.example.org",
        "::1",
    ]
    assert broker_names("198.18.0.1", "198.18.0.1") == ["198.18.0.1"]
    with pytest.raises(CertificateError, match="more than the 32"):
        broker_names("a.example", "::", [f"h{i}.example" for i in range(40)])


@pytest.mark.parametrize(
    "value",
    [
        "",
        "kafka.example.org\nDNS:evil.example",
        "kafka.example.org,DNS:evil.example",
        "-kafka.example",
        "kafka example",
        "*",
        "*.*.example.org",
        "a.*.example.org",
        "kafka.example.org/",
        "https://kafka.example.org",
        "k\x00afka",
        "кафка.example",
        "a" * 64 + ".example",
        "user@kafka.example",
        "kafka_1.example",
        "1.2.3.4/24",
    ],
)
def test_hostile_certificate_names_are_refused_in_one_line(value: str, tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match="is not a host name or an IP address") as caught:
        check_san(value)
    assert "\n" not in _one_line(caught.value)
    broker = LocalBroker(
        BrokerSettings(host="198.18.0.1", data_dir=tmp_path / "b", sasl_password=SecretStr(PASSWORD), tls_sans=[value])
    )
    with pytest.raises(CertificateError):
        broker.check_settings()
    with pytest.raises(CertificateError):
        broker.start()
    assert not (tmp_path / "b").exists(), "nothing may be written for refused settings"


@pytest.mark.parametrize("days", [0, -1, 3651])
def test_days_out_of_range(days: int, tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match="out of range"):
        ensure_certificate(TlsFiles(tmp_path / "tls"), ["kafka.example.org"], days=days)


# ---- your own certificate


def _own(tmp_path: Path, names: list[str], **kw: object) -> tuple[Path, Path, Path]:
    ca = make_ca()
    cert, key = issue(ca, names, **kw)  # type: ignore[arg-type]
    return (
        write_pem(tmp_path / "own.pem", cert),
        write_pem(tmp_path / "own-key.pem", key),
        write_pem(tmp_path / "ca.pem", ca[0]),
    )


def test_own_certificate_is_checked_and_copied_in(tmp_path: Path) -> None:
    cert, key, ca = _own(tmp_path, ["*.example.org", "198.18.0.1"])
    files = TlsFiles(tmp_path / "tls")
    info = install_own(files, cert, key, ca, "kafka.example.org")
    assert info.sans == ("*.example.org", "198.18.0.1")
    assert files.ca.read_bytes() == ca.read_bytes()
    assert not files.ca_key.exists()
    keystore = files.keystore.read_bytes()
    assert keystore.startswith(b"-----BEGIN PRIVATE KEY-----"), "a PKCS#1 / SEC1 key is converted to PKCS#8"
    assert len(x509.load_pem_x509_certificates(files.cert.read_bytes())) == 2
    with pytest.raises(CertificateError, match=r"no ca-key\.pem"):
        ensure_certificate(files, ["kafka.example.org"], renew=True)


def test_own_certificate_problems_are_one_line_each(tmp_path: Path) -> None:
    cert, key, ca = _own(tmp_path, ["kafka.example.org"])
    files = TlsFiles(tmp_path / "tls")
    (tmp_path / "other").mkdir()
    (tmp_path / "expired").mkdir()
    _, other_key, other_ca = _own(tmp_path / "other", ["kafka.example.org"])
    expired = _own(tmp_path / "expired", ["kafka.example.org"], days=-1)
    weak = make_ca()
    weak_cert, weak_key = issue(weak, ["kafka.example.org"], key=rsa.generate_private_key(65537, 1024))
    encrypted = tmp_path / "enc.pem"
    encrypted.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret-pass"),
        )
    )
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    cases = [
        ((cert, other_key, ca, "kafka.example.org"), "does not belong to the certificate"),
        ((cert, key, other_ca, "kafka.example.org"), "was not issued by the CA"),
        ((cert, key, ca, "other.example.org"), "do not cover the advertised"),
        ((cert, key, ca, "198.18.0.9"), "do not cover the advertised"),
        ((expired[0], expired[1], expired[2], "kafka.example.org"), "expired on"),
        (
            (
                write_pem(tmp_path / "weak.pem", weak_cert),
                write_pem(tmp_path / "weak-key.pem", weak_key),
                write_pem(tmp_path / "weak-ca.pem", weak[0]),
                "kafka.example.org",
            ),
            "1024 bits, too weak",
        ),
        ((cert, encrypted, ca, "kafka.example.org"), "is encrypted"),
        ((cert, ca, ca, "kafka.example.org"), "holds no PEM private key"),
        ((key, key, ca, "kafka.example.org"), "holds no PEM certificate"),
        ((tmp_path / "missing.pem", key, ca, "kafka.example.org"), "cannot be read"),
        ((tmp_path, key, ca, "kafka.example.org"), "not a regular file"),
        ((fifo, key, ca, "kafka.example.org"), "not a regular file"),
        ((Path("own.pem\nssl.keystore.location=/etc/shadow"), key, ca, "kafka.example.org"), "not a usable path"),
    ]
    for (c, k, a, advertise), phrase in cases:
        with pytest.raises(CertificateError) as caught:
            install_own(files, Path(c), Path(k), Path(a), advertise)
        assert phrase in _one_line(caught.value), (phrase, str(caught.value))
    assert not files.keystore.exists(), "nothing written for a refused certificate"


def test_own_certificate_needs_all_three_settings_and_is_checked_before_anything_is_written(tmp_path: Path) -> None:
    cert, key, ca = _own(tmp_path, ["kafka.example.org"])
    base = {"host": "0.0.0.0", "advertise": "kafka.example.org", "sasl_password": SecretStr(PASSWORD)}
    partial = LocalBroker(BrokerSettings(data_dir=tmp_path / "b", tls_cert=cert, tls_key=key, **base))
    with pytest.raises(CertificateError, match="all three"):
        partial.check_settings()
    wrong = LocalBroker(
        BrokerSettings(
            data_dir=tmp_path / "b", tls_cert=cert, tls_key=key, tls_ca=ca, **{**base, "advertise": "x.example"}
        )
    )
    with pytest.raises(CertificateError, match="do not cover"):
        wrong.start()
    assert not (tmp_path / "b").exists()


# ---- what an exposed broker writes for Kafka


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.5", "127.255.255.254", "::1", "localhost", "[::1]"])
def test_all_of_loopback_is_loopback(host: str) -> None:
    assert is_loopback(host)
    assert not BrokerSettings(host=host.strip("[]")).exposed


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "198.18.0.1", "10.0.0.5", "kafka.example.org", "128.0.0.1"])
def test_everything_else_is_exposed(host: str) -> None:
    assert not is_loopback(host)


def test_exposed_broker_offers_only_scram_over_tls_and_writes_no_password(tmp_path: Path) -> None:
    broker = LocalBroker(
        BrokerSettings(
            host="198.18.0.1",
            port=19092,
            internal_port=19094,
            data_dir=tmp_path / "b",
            sasl_password=SecretStr(PASSWORD),
        )
    )
    props = broker.server_properties()
    assert props["listeners"].startswith(
        "EXTERNAL://198.18.0.1:19092,INTERNAL://127.0.0.1:19094,CONTROLLER://127.0.0.1:"
    )
    assert props["listener.security.protocol.map"] == "EXTERNAL:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert props["listener.name.external.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["listener.name.external.ssl.enabled.protocols"] == "TLSv1.2,TLSv1.3"
    assert props["listener.name.external.ssl.keystore.type"] == "PEM"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    text = broker.server_properties_text()
    assert "PLAIN\n" not in text and "PlainLoginModule" not in text and "user_" not in text
    assert PASSWORD not in text


def test_weak_or_missing_password_beyond_loopback_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CredentialsRefused, match="without credentials"):
        LocalBroker(BrokerSettings(host="198.18.0.1", data_dir=tmp_path / "b")).check_settings()
    with pytest.raises(BrokerError, match="too short"):
        LocalBroker(
            BrokerSettings(host="198.18.0.1", data_dir=tmp_path / "b", sasl_password=SecretStr("x1!"))
        ).check_settings()
    # Certificates need no password: `broker certs` works before one is set.
    LocalBroker(BrokerSettings(host="198.18.0.1", data_dir=tmp_path / "b")).check_settings(credentials=False)


# ---- clients


def _sasl(protocol: str, mechanism: str = "SCRAM-SHA-512", **kw: object) -> KafkaClientSettings:
    return KafkaClientSettings(
        security_protocol=protocol,
        sasl_mechanism=mechanism,
        sasl_username="app",
        sasl_password=SecretStr("client-secret-123"),
        **kw,
    )


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
@pytest.mark.parametrize(
    "bootstrap", ["198.18.0.1:9092", "127.0.0.1:9092,kafka.example.org:9093", "[2001:db8::1]:9092"]
)
def test_client_refuses_a_password_without_tls_beyond_loopback(bootstrap: str, mechanism: str) -> None:
    with pytest.raises(CredentialsRefused) as caught:
        client_config(bootstrap, _sasl("SASL_PLAINTEXT", mechanism))
    line = _one_line(caught.value)
    assert "without TLS" in line and "SASL_SSL" in line and "allow_cleartext_password" in line
    assert "client-secret" not in line


def test_client_password_over_tls_loopback_or_allowed_cleartext_is_fine(tmp_path: Path) -> None:
    ca = write_pem(tmp_path / "ca.pem", make_ca()[0])
    conf = client_config("198.18.0.1:9092", _sasl("SASL_SSL", ssl_ca_location=str(ca)))
    assert conf["security.protocol"] == "SASL_SSL" and conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert conf["ssl.ca.location"] == str(ca)
    client_config("127.0.0.1:9092,localhost:9093,[::1]:9094", _sasl("SASL_PLAINTEXT", "PLAIN"))
    client_config("198.18.0.1:9092", _sasl("SASL_PLAINTEXT", "PLAIN", allow_cleartext_password=True))


def test_client_with_a_missing_ca_file_is_told_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match=r"kafka\.ssl_ca_location\) does not exist") as caught:
        client_config("198.18.0.1:9092", _sasl("SASL_SSL", ssl_ca_location=str(tmp_path / "nope.pem")))
    assert "<data-dir>/tls/ca.pem" in _one_line(caught.value)


@pytest.mark.parametrize(
    ("host", "local"),
    [("127.0.0.1", "127.0.0.1"), ("127.0.0.5", "127.0.0.5"), ("::1", "[::1]"), ("localhost", "127.0.0.1")],
)
def test_local_tools_reach_a_loopback_broker_where_it_binds(host: str, local: str, tmp_path: Path) -> None:
    broker = LocalBroker(BrokerSettings(host=host, port=19092, data_dir=tmp_path / "b"))
    assert broker.local_bootstrap == f"{local}:19092"
    assert broker.server_properties()["listeners"].startswith(f"PLAINTEXT://{host}:19092,")


@pytest.mark.parametrize(
    ("name", "phrase"),
    [
        ("kafka.pem\nlisteners=PLAINTEXT://0.0.0.0:1", "not a usable path"),
        ("kafka.pem\x00.key", "not a usable path"),
        ("kafka.pem\x1b[31m", "not a usable path"),
        ("../../../../../dev/zero", "not a regular file"),
        ("missing,other.pem", "cannot be read"),
    ],
)
def test_hostile_tls_paths_are_refused_before_anything_is_written(name: str, phrase: str, tmp_path: Path) -> None:
    _, key, ca = _own(tmp_path, ["kafka.example.org"])
    broker = LocalBroker(
        BrokerSettings(
            host="0.0.0.0",
            advertise="kafka.example.org",
            data_dir=tmp_path / "b",
            sasl_password=SecretStr(PASSWORD),
            tls_cert=tmp_path / name,
            tls_key=key,
            tls_ca=ca,
        )
    )
    with pytest.raises(CertificateError) as caught:
        broker.start()
    assert phrase in _one_line(caught.value)
    assert not (tmp_path / "b").exists()
