"""`eventlake client-config`: each file read back by the client that uses it, written privately.

- toml: eventlake's own settings loader (in a fresh process: `eventlake config show`);
- properties: Kafka's own Java classes (Utils.loadProps, AdminClientConfig with its config
  providers, JaasContext), as `kafka-console-producer --producer.config FILE` reads it;
- librdkafka: kcat itself (`-X dump` shows what it parsed; `-L` with only the protocol
  overridden reaches the session broker's plaintext loopback listener with the file's address).
Connecting over SASL_SSL with these files is tested from another network namespace
(tests/integration/test_remote_kafka.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from eventlake.broker.client_files import ENV_PROVIDER, PASSWORD_ENV, SCRAM_LOGIN_MODULE
from eventlake.broker.jars import resolve_jars
from eventlake.config.broker import KAFKA_VERSION
from tests.conftest import require_tool
from tests.e2e.conftest import EVENTLAKE, Run

pytestmark = pytest.mark.integration

PASSWORD = "Tq4-vN8p-Zr2x-Wm7k"
# Quotes, a backslash, JAAS and properties separators, comment marks, a ${} that must stay
# literal, Latin-1, BMP and astral characters: everything a naive writer breaks on.
HOSTILE = 'Zq8"x\\y\' user_m="m"; #=!: ${env:HOME} é€😀 end'


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real self-signed CA certificate (PEM), as `eventlake broker certs` makes one."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "eventlake test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _write(cli: Run, tmp_path: Path, fmt: str, password: str | None, **kw: str) -> Path:
    out = tmp_path / f"app.{fmt}"
    args = ["client-config", "--user", "app", "--format", fmt, "-o", str(out)]
    args += ["--bootstrap", kw.get("bootstrap", "kafka.example.com:9093"), "--ca", kw["ca"]]
    if password is not None:
        args.append("--password-stdin")
    result = cli(*args, input=(password + "\n") if password is not None else "")
    assert result.returncode == 0, result.stderr
    assert password is None or password not in result.stdout + result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    return out


# ---- Java reads the properties file

_CLIENT_VIEW = r"""
import java.nio.charset.StandardCharsets;
import java.util.*;
import javax.security.auth.login.AppConfigurationEntry;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.security.JaasContext;
import org.apache.kafka.common.utils.Utils;

public class ClientView {
    static String hex(Object o) {
        StringBuilder sb = new StringBuilder("x");
        for (byte b : String.valueOf(o).getBytes(StandardCharsets.UTF_8)) sb.append(String.format("%02x", b));
        return sb.toString();
    }
    public static void main(String[] args) throws Exception {
        // As Kafka's console clients load --producer.config / --command-config, then configure a client.
        Properties props = Utils.loadProps(args[0]);
        AdminClientConfig cfg = new AdminClientConfig(props);  // resolves ${env:...} via config.providers
        for (Map.Entry<String, Object> e : new TreeMap<>(cfg.originals()).entrySet())
            System.out.println("P\t" + hex(e.getKey()) + "\t" + hex(e.getValue()));
        Map<String, Object> configs = new HashMap<>();
        configs.put("sasl.jaas.config", cfg.getPassword("sasl.jaas.config"));
        JaasContext ctx = JaasContext.loadClientContext(configs);
        for (AppConfigurationEntry e : ctx.configurationEntries())
            for (Map.Entry<String, ?> o : new TreeMap<>(e.getOptions()).entrySet())
                System.out.println("J\t" + hex(e.getLoginModuleName()) + "\t" + hex(o.getKey()) + "\t"
                                   + hex(o.getValue()));
    }
}
"""


def _unhex(field: str) -> str:
    return bytes.fromhex(field[1:]).decode("utf-8")


def java_client_view(path: Path, work: Path, env: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(the client's resolved configs, the SCRAM login module's options) as Kafka's Java client reads `path`."""
    java = os.environ.get("JAVA_HOME", "")
    java_bin = str(Path(java) / "bin" / "java") if java else "java"
    modules = subprocess.run([java_bin, "--list-modules"], capture_output=True, text=True, check=False)
    if "jdk.compiler" not in modules.stdout:
        pytest.fail(f"no JDK compiler (jdk.compiler) in {java_bin}: install a JDK 17, not a JRE")
    source = work / "ClientView.java"
    source.write_text(_CLIENT_VIEW)
    libs = resolve_jars(KAFKA_VERSION)
    proc = subprocess.run(
        [java_bin, "-cp", f"{libs}/*", str(source), str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **env},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    props: dict[str, str] = {}
    options: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        kind, *fields = line.split("\t")
        if kind == "P":
            props[_unhex(fields[0])] = _unhex(fields[1])
        elif kind == "J":
            assert _unhex(fields[0]) == SCRAM_LOGIN_MODULE
            options[_unhex(fields[1])] = _unhex(fields[2])
    return props, options


def test_java_reads_the_properties_file_exactly(cli: Run, tmp_path: Path, ca: Path) -> None:
    out = _write(cli, tmp_path, "properties", HOSTILE, ca=str(ca))
    assert out.read_bytes().isascii()
    props, options = java_client_view(out, tmp_path, {})
    assert options == {"username": "app", "password": HOSTILE}
    assert props["bootstrap.servers"] == "kafka.example.com:9093"
    assert props["security.protocol"] == "SASL_SSL"
    assert props["sasl.mechanism"] == "SCRAM-SHA-512"
    assert props["ssl.truststore.type"] == "PEM"
    assert props["ssl.truststore.location"] == str(ca)
    assert "config.providers" not in props  # ${env:HOME} in the password stayed literal


def test_java_takes_the_password_from_the_environment_without_one(cli: Run, tmp_path: Path, ca: Path) -> None:
    out = _write(cli, tmp_path, "properties", None, ca=str(ca))
    assert PASSWORD_ENV in out.read_text() and PASSWORD not in out.read_text()
    props, options = java_client_view(out, tmp_path, {PASSWORD_ENV: PASSWORD})
    assert props["config.providers.env.class"] == ENV_PROVIDER
    assert options == {"username": "app", "password": PASSWORD}


# ---- kcat reads the librdkafka file


def _kcat_dump(kcat: str, path: Path) -> dict[str, str]:
    proc = subprocess.run([kcat, "-F", str(path), "-X", "dump"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return dict(line.split(" = ", 1) for line in proc.stdout.splitlines() if " = " in line)


def test_kcat_reads_the_librdkafka_file_exactly(cli: Run, tmp_path: Path, ca: Path, bootstrap: str) -> None:
    kcat = require_tool("kcat")
    password = HOSTILE.replace("\\", "/")  # kcat cannot carry every backslash sequence; the writer refuses those
    out = _write(cli, tmp_path, "librdkafka", password, ca=str(ca), bootstrap=bootstrap)
    dump = _kcat_dump(kcat, out)
    assert dump["sasl.username"] == "app"
    assert dump["sasl.password"] == password
    assert dump["sasl.mechanisms"] == "SCRAM-SHA-512"
    assert dump["security.protocol"] == "sasl_ssl"
    assert dump["ssl.ca.location"] == str(ca)
    assert dump["metadata.broker.list"] == bootstrap  # librdkafka's name for bootstrap.servers
    # The address works: only the protocol is switched to the session broker's plaintext listener.
    listed = subprocess.run(
        [kcat, "-F", str(out), "-X", "security.protocol=plaintext", "-L", "-J", "-m", "30"],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["brokers"]


def test_a_password_kcat_would_change_is_refused(cli: Run, tmp_path: Path, ca: Path) -> None:
    password = "ends-in-space-Q7x-abc "
    result = cli(
        "client-config", "--user", "app", "--format", "librdkafka", "--ca", str(ca), "--bootstrap", "k:9093",
        "--password-stdin", "-o", str(tmp_path / "x"), input=password + "\n",
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "--format properties or toml" in result.stderr
    assert password.strip() not in result.stderr
    assert not (tmp_path / "x").exists()


# ---- eventlake reads the toml file


def test_eventlake_reads_the_toml_file(cli: Run, tmp_path: Path, ca: Path) -> None:
    out = _write(cli, tmp_path, "toml", HOSTILE, ca=str(ca))
    shown = cli("--config", str(out), "config", "show", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    kafka = json.loads(shown.stdout)["kafka"]
    assert kafka["sasl_username"] == "app" and kafka["sasl_password"] == "********"
    assert kafka["security_protocol"] == "SASL_SSL" and kafka["ssl_ca_location"] == str(ca)
    assert HOSTILE not in shown.stdout + shown.stderr


def test_defaults_come_from_the_local_broker(cli: Run, tmp_path: Path, ca: Path) -> None:
    data_dir = tmp_path / "broker"
    (data_dir / "tls").mkdir(parents=True)
    (data_dir / "tls" / "ca.pem").write_bytes(ca.read_bytes())
    settings = tmp_path / "eventlake.toml"
    settings.write_text(f'[broker]\nport = 19093\nadvertise = "kafka.example.net"\ndata_dir = "{data_dir}"\n')
    result = cli("client-config", "--user", "app", "--format", "librdkafka")
    assert result.returncode == 0, result.stderr
    assert "bootstrap.servers=kafka.example.net:19093\n" in result.stdout
    assert f"ssl.ca.location={data_dir / 'tls' / 'ca.pem'}\n" in result.stdout
    assert "no password given" in result.stderr


def test_without_a_ca_it_says_how_to_make_one(cli: Run, tmp_path: Path) -> None:
    result = cli("client-config", "--user", "app")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "eventlake broker certs" in result.stderr


def test_a_key_is_not_taken_for_a_ca(cli: Run, tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    result = cli("client-config", "--user", "app", "--ca", str(key), "--bootstrap", "k:9093")
    assert result.returncode == 2 and "no PEM certificate" in result.stderr


# ---- where the password may go


def test_a_password_is_not_printed_to_a_terminal(tmp_path: Path, ca: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text(PASSWORD + "\n")
    main, child = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
    proc = subprocess.run(
        [EVENTLAKE, "client-config", "--user", "app", "--ca", str(ca), "--bootstrap", "k:9093",
         "--password-file", str(secret)],
        stdout=child,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )  # fmt: skip
    os.close(child)
    os.set_blocking(main, False)
    try:
        shown = os.read(main, 65536)
    except (BlockingIOError, OSError):
        shown = b""
    os.close(main)
    assert proc.returncode == 2
    assert b"refusing to print a password to the terminal" in proc.stderr
    assert PASSWORD.encode() not in shown + proc.stderr


def test_the_file_replaces_a_symlink_instead_of_writing_through_it(cli: Run, tmp_path: Path, ca: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    link = tmp_path / "app.toml"
    link.symlink_to(victim)
    result = cli(
        "client-config", "--user", "app", "--ca", str(ca), "--bootstrap", "k:9093", "--password-stdin",
        "-o", str(link), input=PASSWORD,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "keep me\n"
    assert not link.is_symlink() and stat.S_IMODE(link.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize(
    "args",
    [
        ("--user", 'app" password="x'),
        ("--user", "*"),
        ("--user", ""),
        ("--user", "app", "--bootstrap", "k:9093\nsasl.username=root"),
        ("--user", "app", "--bootstrap", "k"),
        ("--user", "app", "--password-stdin", "--password-file", "/dev/null"),
        ("--user", "app", "--format", "yaml"),
    ],
)
def test_bad_arguments_are_one_line(cli: Run, tmp_path: Path, ca: Path, args: tuple[str, ...]) -> None:
    result = cli("client-config", "--ca", str(ca), *args, input=PASSWORD)
    assert result.returncode in (1, 2)
    assert result.stdout == ""
    if "--format" not in args:  # Typer's own usage errors take a few lines
        assert result.stderr.count("\n") == 1, result.stderr


def test_a_password_file_with_two_lines_is_refused(cli: Run, tmp_path: Path, ca: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text(PASSWORD + "\nsecond-line\n")
    result = cli("client-config", "--user", "app", "--ca", str(ca), "--password-file", str(secret), "-o", "x")
    assert result.returncode == 2 and "more than one line" in result.stderr
    assert PASSWORD not in result.stderr
