"""The EC2 user data, run for real: a network namespace stands in for the instance.

The rendered script runs as root inside the namespace (tests/netns.py) with the switches it has
for a machine that is not a fresh instance: every path under a temporary root, no package
installation (the shared venv with this checkout's sources), no systemd (the broker is started
directly; the unit file is still written and checked). Around it run the two AWS services it
talks to, reachable only on the host's end of the veth: a minimal IMDSv2 stand-in (the real one
cannot run here) and moto's server for SSM Parameter Store (the stand-in the project allows).

From the host, outside the namespace, a user then does what `eventlake deploy client-config`
does: reads the CA and the passwords from SSM, writes client files, and uses kcat over SASL_SSL.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography import x509

from eventlake.deploy.user_data import UserDataPlan, render_user_data
from eventlake.runtime import free_port
from eventlake.runtime.cache import default_cache_dir
from tests.conftest import require_tool
from tests.fixtures_aws import run_moto
from tests.fixtures_broker_tls import make_ca, write_pem
from tests.integration.test_remote_kafka import kcat_env
from tests.netns import EVENTLAKE, CommandLines, OtherMachine, other_machine, python_env, run_eventlake

pytestmark = pytest.mark.integration

VENV = Path(sys.executable).parent.parent
REGION = "us-east-1"
PORT = 9094  # the instance's own port space: the namespace's
APP = "app"
ADMIN = "eventlake"
MESSAGES = 50


# ---- the metadata service: the least of IMDSv2 the script uses


@dataclass
class Imds:
    ip: str
    hostname: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    requests: list[tuple[str, str, bool]] = field(default_factory=list)  # (method, path, had the token)


def _imds_handler(imds: Imds) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: str = "") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self) -> None:
            imds.requests.append(("PUT", self.path, False))
            if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                self._answer(200, imds.token)
            else:
                self._answer(400)

        def do_GET(self) -> None:
            ok = self.headers.get("X-aws-ec2-metadata-token") == imds.token
            imds.requests.append(("GET", self.path, ok))
            if not ok:  # IMDSv2 required, as deploy sets it: no token, no answer
                self._answer(401)
                return
            values = {"public-ipv4": imds.ip, "public-hostname": imds.hostname}
            value = values.get(self.path.removeprefix("/latest/meta-data/"))
            self._answer(200, value) if value is not None else self._answer(404)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def imds_server(host: str, imds: Imds) -> Iterator[str]:
    server = ThreadingHTTPServer((host, free_port(host)), _imds_handler(imds))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# ---- the instance


@dataclass
class Instance:
    machine: OtherMachine
    plan: UserDataPlan
    user_data: str
    root: Path
    run: subprocess.CompletedProcess[str]
    imds: Imds
    ssm: Any
    work: Path
    cmdlines: CommandLines
    kcat_env: dict[str, str]
    service_user: str

    @property
    def bootstrap(self) -> str:
        return f"{self.machine.address}:{self.plan.port}"

    def parameter(self, name: str) -> str:
        value: str = self.ssm.get_parameter(Name=f"{self.plan.ssm_prefix}/{name}", WithDecryption=True)["Parameter"][
            "Value"
        ]
        return value

    def kcat(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """kcat on the host, outside the instance."""
        return subprocess.run(
            ["kcat", *args], input=input, capture_output=True, text=True, timeout=60, env=self.kcat_env, check=False
        )

    def cli(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
        """`eventlake ARGS` on the host, as the user outside the instance."""
        proc = run_eventlake(args, cwd=self.work, input=input, env=env, drop=("EVENTLAKE_", "AWS_"))
        assert proc.returncode == 0, f"eventlake {' '.join(args)}: {proc.stderr[-2000:]}"
        return proc.stdout


def _me() -> str:
    return subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()


def _script_env(root: Path, imds: str, moto: str) -> dict[str, str]:
    env = python_env(drop=("EVENTLAKE_", "AWS_"))
    env.update(
        {
            "EVENTLAKE_BOOTSTRAP_ROOT": str(root),
            "EVENTLAKE_BOOTSTRAP_SKIP_PACKAGES": "1",
            "EVENTLAKE_BOOTSTRAP_VENV": str(VENV),
            "EVENTLAKE_BOOTSTRAP_IMDS": imds,
            "EVENTLAKE_BOOTSTRAP_USER": _me(),
            # Kafka's jars as this machine cached them: the instance downloads them from Maven Central.
            "EVENTLAKE_BROKER__CACHE_DIR": str(default_cache_dir()),
            "EVENTLAKE_BROKER__HEAP": "512m",
            # The instance role's credentials, as moto takes any.
            "AWS_ENDPOINT_URL": moto,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
    )
    return env


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[Instance]:
    for tool in ("kcat", "java", "bash"):
        require_tool(tool)
    work = tmp_path_factory.mktemp("instance")
    root = work / "root"
    root.mkdir()
    with other_machine() as machine:
        host = machine.address.replace(".", "-")
        imds = Imds(ip=machine.address, hostname=f"ec2-{host}.compute-1.amazonaws.com")
        plan = UserDataPlan(
            name="ud-test",
            region=REGION,
            nodes=1,
            port=PORT,
            app_user=APP,
            install_spec="eventlake",
            ssm_prefix=f"/eventlake/ud-test-{secrets.token_hex(3)}",
        )
        user_data = render_user_data(plan)
        script = work / "user-data.sh"
        script.write_text(user_data)
        with imds_server(machine.host_address, imds) as imds_url, run_moto(machine.host_address) as moto:
            conf = root / "etc/eventlake/eventlake.toml"
            env = _script_env(root, imds_url, moto)
            try:
                with CommandLines(interval_s=0.05) as cmdlines:
                    run = machine.run(["bash", str(script)], env=env, timeout=300)
                # For a person to read (test_no_secret_... checks that neither holds a secret).
                kept = artifacts_dir / "deploy-user-data"
                kept.mkdir(exist_ok=True)
                (kept / "user-data.sh").write_text(user_data)
                (kept / "bootstrap.log").write_text(run.stdout + run.stderr)
                assert run.returncode == 0, f"user data failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
                ssm = boto3.client(
                    "ssm",
                    region_name=REGION,
                    endpoint_url=moto,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                )
                yield Instance(
                    machine,
                    plan,
                    user_data,
                    root,
                    run,
                    imds,
                    ssm,
                    work,
                    cmdlines,
                    kcat_env(work / "librdkafka"),
                    _me(),
                )
            finally:
                # The JVM outlives the script by design: stop it before its namespace goes.
                if conf.is_file():
                    machine.run([EVENTLAKE, "--config", str(conf), "broker", "stop"], env=env, timeout=120)


@pytest.fixture(scope="module")
def client_files(instance: Instance) -> dict[str, Path]:
    """What `deploy client-config` makes, from SSM's values only: the CA, the app's and admin's files."""
    folder = instance.work / "client"
    folder.mkdir()
    ca = folder / "ca.pem"
    ca.write_text(instance.parameter("ca.pem"))
    files = {"ca": ca}
    for user, fmt, suffix in ((APP, "librdkafka", "conf"), (ADMIN, "toml", "toml")):
        out = folder / f"{user}.{suffix}"
        instance.cli(
            "client-config", "--user", user, "--format", fmt, "--password-stdin",
            "--bootstrap", instance.bootstrap, "--ca", str(ca), "-o", str(out),
            input=instance.parameter(f"users/{user}") + "\n",
        )  # fmt: skip
        files[user] = out
    return files


# ---- the broker comes up, reachable from outside over TLS + SCRAM only


def test_app_user_produces_and_consumes_with_kcat_from_outside(
    instance: Instance, client_files: dict[str, Path]
) -> None:
    topic = f"{instance.plan.topics}orders"
    # Topics are the admin's to make (the app user has no CREATE): from outside, with its SSM password.
    instance.cli("--config", str(client_files[ADMIN]), "topics", "create", topic, "--partitions", "1")
    values = [f"event-{i}-{secrets.token_hex(4)}" for i in range(MESSAGES)]
    produced = instance.kcat("-F", str(client_files[APP]), "-P", "-t", topic, input="\n".join(values) + "\n")
    assert produced.returncode == 0, produced.stderr[-2000:]
    consumed = instance.kcat(
        "-F", str(client_files[APP]), "-C", "-t", topic, "-o", "beginning", "-c", str(MESSAGES), "-e", "-q"
    )
    assert consumed.returncode == 0, consumed.stderr[-2000:]
    assert consumed.stdout.splitlines() == values


def test_the_certificate_names_the_public_address_and_dns_name(
    instance: Instance, client_files: dict[str, Path]
) -> None:
    context = ssl.create_default_context(cafile=str(client_files["ca"]))
    with (
        socket.create_connection((instance.machine.address, PORT), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=instance.machine.address) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    sans = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    names = {str(v) for v in sans.value.get_values_for_type(x509.IPAddress)}
    names |= set(sans.value.get_values_for_type(x509.DNSName))
    assert {instance.imds.ip, instance.imds.hostname} <= names


@pytest.fixture(scope="module")
def guarded(instance: Instance, client_files: dict[str, Path]) -> str:
    """A topic the app user may use, which no refused client must write to."""
    topic = f"{instance.plan.topics}guarded"
    instance.cli("--config", str(client_files[ADMIN]), "topics", "create", topic, "--partitions", "1")
    return topic


def _other_ca(folder: Path) -> Path:
    return write_pem(folder / "other-ca.pem", make_ca("another CA")[0])


# (case, kcat -X overrides, what kcat must say)
REFUSED: list[tuple[str, list[str], str]] = [
    ("no TLS, no SASL", ["security.protocol=PLAINTEXT"], "connection closed by peer"),
    ("no TLS", ["security.protocol=SASL_PLAINTEXT"], "connection closed by peer"),
    ("wrong password", ["sasl.password=" + secrets.token_urlsafe(24)], "Authentication failed"),
    ("the admin's name, the app's password", ["sasl.username=" + ADMIN], "Authentication failed"),
    ("another CA", ["ssl.ca.location={other_ca}"], "certificate verify failed"),
]


@pytest.mark.parametrize(("case", "overrides", "error"), REFUSED, ids=[c[0] for c in REFUSED])
def test_without_the_credentials_nothing_gets_in(
    instance: Instance,
    client_files: dict[str, Path],
    guarded: str,
    tmp_path: Path,
    case: str,
    overrides: list[str],
    error: str,
) -> None:
    fill = {"other_ca": str(_other_ca(tmp_path))}
    settings = [*(o.format(**fill) for o in overrides), "message.timeout.ms=6000"]
    args = [a for kv in settings for a in ("-X", kv)]
    proc = instance.kcat("-F", str(client_files[APP]), *args, "-P", "-t", guarded, input="must not land\n")
    assert proc.returncode != 0, f"{case}: kcat succeeded"
    assert error in proc.stderr, f"{case}: {proc.stderr[-1500:]}"
    # What the broker holds, read with the right credentials: nothing.
    held = instance.kcat("-F", str(client_files[APP]), "-C", "-t", guarded, "-o", "beginning", "-e", "-q")
    assert held.returncode == 0 and held.stdout == "", f"{case}: {held.stdout[:200]} {held.stderr[-500:]}"


def test_the_app_user_reaches_only_its_topics(instance: Instance, client_files: dict[str, Path]) -> None:
    instance.cli("--config", str(client_files[ADMIN]), "topics", "create", "elsewhere", "--partitions", "1")
    args = ["-X", "message.timeout.ms=6000"]
    proc = instance.kcat("-F", str(client_files[APP]), *args, "-P", "-t", "elsewhere", input="must not land\n")
    assert proc.returncode != 0 and "authorization failed" in proc.stderr.lower(), proc.stderr[-1500:]


# ---- what the instance published, and where secrets are not


def test_ssm_holds_the_ca_and_both_passwords_as_secure_strings(instance: Instance) -> None:
    prefix = instance.plan.ssm_prefix
    found = instance.ssm.get_parameters_by_path(Path=prefix, Recursive=True, WithDecryption=False)["Parameters"]
    assert {p["Name"]: p["Type"] for p in found} == {
        f"{prefix}/ca.pem": "SecureString",
        f"{prefix}/users/{ADMIN}": "SecureString",
        f"{prefix}/users/{APP}": "SecureString",
    }
    for p in found:
        tags = instance.ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=p["Name"])["TagList"]
        assert {"Key": "eventlake:deployment", "Value": instance.plan.name} in tags
    ca = (instance.root / "var/lib/eventlake/broker/tls/ca.pem").read_text()
    assert instance.parameter("ca.pem") == ca
    # The IMDSv2 session: a token first, then only requests that carried it.
    assert instance.imds.requests[0][:2] == ("PUT", "/latest/api/token")
    assert all(had_token for method, _, had_token in instance.imds.requests if method == "GET")


def test_no_secret_in_user_data_logs_command_lines_or_other_files(instance: Instance) -> None:
    passwords = [instance.parameter(f"users/{u}") for u in (ADMIN, APP)]
    assert all(len(p) >= 32 for p in passwords)
    etc = instance.root / "etc/eventlake"
    secret_files = {etc / "broker.env", etc / "secrets" / ADMIN, etc / "secrets" / APP}
    for path in secret_files:
        mode = path.stat()
        assert stat.S_IMODE(mode.st_mode) == 0o600 and mode.st_uid == 0, path
    assert stat.S_IMODE((etc / "secrets").stat().st_mode) == 0o700
    printed = instance.run.stdout + instance.run.stderr
    assert "ready:" in printed  # the log is the script's whole run
    assert instance.cmdlines.samples > 20
    assert instance.cmdlines.holding(passwords) == [], "a password was on a command line"
    files = [p for p in instance.root.rglob("*") if p.is_file() and p not in secret_files]
    assert any(p.name == "broker.log" for p in files)  # the broker's own data is among what is checked
    for secret in passwords:
        assert secret not in instance.user_data
        assert secret not in printed, "a password was printed"
        for path in files:
            assert secret.encode() not in path.read_bytes(), f"a password is in {path}"


def test_the_service_unit_restarts_survives_reboots_and_holds_no_secret(instance: Instance) -> None:
    # Written with the test's paths and user (EVENTLAKE_BOOTSTRAP_ROOT, _VENV, _USER); on an instance
    # they are /etc/eventlake, /opt/eventlake/venv and the system user eventlake.
    path = instance.root / "etc/systemd/system/eventlake-broker.service"
    unit = path.read_text()
    etc = instance.root / "etc/eventlake"
    lines = set(unit.splitlines())
    assert {"Type=forking", "Restart=on-failure", "WantedBy=multi-user.target"} <= lines
    assert f"EnvironmentFile={etc}/broker.env" in lines
    assert f"User={instance.service_user}" in lines
    assert f"ExecStart={VENV}/bin/eventlake --config {etc}/eventlake.toml broker start" in lines
    assert "PASSWORD" not in unit.upper().replace("# THE ADMIN'S PASSWORD", "")
    if shutil.which("systemd-analyze"):
        proc = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", str(path)], capture_output=True, text=True, check=False
        )
        assert f"{path.name}:" not in proc.stderr, proc.stderr


def test_shellcheck_passes_on_the_rendered_script(instance: Instance) -> None:
    shellcheck = require_tool("shellcheck")
    proc = subprocess.run(
        [shellcheck, "--shell=bash", "--severity=style", "-"],
        input=instance.user_data,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
