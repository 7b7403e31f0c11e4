"""`eventlake broker` and `eventlake topics` as a user types them."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from eventlake.runtime import free_port
from tests.e2e.conftest import Run

pytestmark = pytest.mark.e2e


def test_broker_lifecycle_and_topics(cli: Run, tmp_path: Path) -> None:
    port, cport = free_port(), free_port()
    data = str(tmp_path / "data")
    env = {"EVENTLAKE_BROKER__CONTROLLER_PORT": str(cport)}
    try:
        start = cli("broker", "start", "--port", str(port), "--data-dir", data, env=env)
        assert start.returncode == 0, start.stderr
        assert start.stdout.strip() == f"127.0.0.1:{port}"

        again = cli("broker", "start", "--port", str(port), "--data-dir", data, env=env)
        assert again.returncode == 0
        assert "already running" in again.stderr

        status = cli("broker", "status", "--data-dir", data)
        assert status.returncode == 0 and status.stdout.startswith("up:")

        bs = ["--bootstrap-servers", f"127.0.0.1:{port}"]
        created = cli("topics", "create", "orders", "--partitions", "4", "--retention-ms", "3600000", *bs)
        assert created.returncode == 0, created.stderr
        dup = cli("topics", "create", "orders", *bs)
        assert dup.returncode == 1 and "already exists" in dup.stderr

        listed = json.loads(cli("topics", "list", "--format", "json", *bs).stdout)
        assert {"topic": "orders", "partitions": 4, "messages": 0} in listed

        described = json.loads(cli("topics", "describe", "orders", "--format", "json", *bs).stdout)
        assert described["configs"]["retention.ms"] == "3600000"
        assert [p["leader"] for p in described["partitions"]] == [1, 1, 1, 1]

        assert cli("topics", "delete", "orders", *bs).returncode == 0
        missing = cli("topics", "describe", "orders", *bs)
        assert missing.returncode == 1 and "does not exist" in missing.stderr

        assert "Kafka Server started" in cli("broker", "logs", "-n", "100000", "--data-dir", data).stdout
    finally:
        cli("broker", "stop", "--data-dir", data)
    down = cli("broker", "status", "--data-dir", data)
    assert down.returncode == 1 and down.stdout.startswith("down:")


def test_port_in_use_is_one_line_no_traceback(cli: Run, tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        res = cli("broker", "start", "--port", str(port), "--data-dir", str(tmp_path / "d"))
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert f"port {port}" in res.stderr


def test_unreachable_broker_fails_fast_in_one_line(cli: Run) -> None:
    res = cli(
        "topics",
        "list",
        "--bootstrap-servers",
        f"127.0.0.1:{free_port()}",
        env={"EVENTLAKE_KAFKA__CONNECT_TIMEOUT_S": "2"},
        timeout=30,
    )
    assert res.returncode == 75  # EX_TEMPFAIL: the same command may work once a broker is up
    assert res.stderr.count("\n") == 1 and "no Kafka broker answered" in res.stderr


def test_weak_password_for_a_public_bind_is_one_line_with_a_recipe(cli: Run, tmp_path: Path) -> None:
    data = tmp_path / "weak"
    res = cli(
        "broker",
        "start",
        "--host",
        "0.0.0.0",
        "--port",
        str(free_port()),
        "--data-dir",
        str(data),
        env={"EVENTLAKE_BROKER__SASL_PASSWORD": "kafka123"},
    )
    assert res.returncode == 1
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "too short" in res.stderr and "secrets.token_urlsafe(24)" in res.stderr
    assert "kafka123" not in res.stderr
    assert not data.exists()


def test_public_broker_over_tls_tells_wrong_credentials_and_renews_its_certificate(
    cli: Run, tmp_path: Path, exposed_address: str
) -> None:
    port = free_port()
    data = tmp_path / "public"
    password = 'Cli-"quoted"\\pass\nline2=#!é'
    broker_env = {
        "EVENTLAKE_BROKER__SASL_PASSWORD": password,
        "EVENTLAKE_BROKER__CONTROLLER_PORT": str(free_port()),
        "EVENTLAKE_BROKER__INTERNAL_PORT": str(free_port()),
    }
    client = {
        "EVENTLAKE_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
        "EVENTLAKE_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
        "EVENTLAKE_KAFKA__SASL_USERNAME": "eventlake",
        "EVENTLAKE_KAFKA__SSL_CA_LOCATION": str(data / "tls" / "ca.pem"),
    }
    bs = ["--bootstrap-servers", f"{exposed_address}:{port}"]
    dd = ["--data-dir", str(data)]
    try:
        start = cli("broker", "start", "--host", exposed_address, "--port", str(port), *dd, env=broker_env, timeout=180)
        assert start.returncode == 0, start.stderr
        assert start.stdout.strip() == f"{exposed_address}:{port}"
        assert "SASL_SSL, SCRAM-SHA-512" in start.stderr and "ca.pem" in start.stderr

        admin = {**client, "EVENTLAKE_KAFKA__SASL_PASSWORD": password}
        right = cli("topics", "create", "ticks", "--partitions", "2", *bs, env=admin)
        assert right.returncode == 0, right.stderr
        produced = cli("produce", "ticks", "--source", "synthetic:ticks", "--limit", "500", *bs, env=admin)
        assert produced.returncode == 0, produced.stderr
        assert "500 delivered, 0 failed" in produced.stdout + produced.stderr
        listed = cli("topics", "list", "--format", "json", *bs, env=admin)
        assert listed.returncode == 0, listed.stderr
        assert {"topic": "ticks", "partitions": 2, "messages": 500}.items() <= json.loads(listed.stdout)[0].items()

        wrong = cli("topics", "list", *bs, env={**client, "EVENTLAKE_KAFKA__SASL_PASSWORD": password + "x"})
        assert wrong.returncode == 1
        assert "Traceback" not in wrong.stderr and wrong.stderr.count("\n") == 1
        assert f"Kafka at {exposed_address}:{port} refused the credentials for user eventlake" in wrong.stderr
        assert "no Kafka broker answered" not in wrong.stderr
        assert "Cli-" not in wrong.stderr

        cleartext = cli(
            "topics",
            "list",
            *bs,
            env={
                **client,
                "EVENTLAKE_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "EVENTLAKE_KAFKA__SASL_PASSWORD": password,
            },
        )
        assert cleartext.returncode == 1 and "without TLS" in cleartext.stderr
        assert len(cleartext.stderr.strip().splitlines()) == 1 and "Cli-" not in cleartext.stderr

        status = cli("broker", "status", *dd, "--format", "json")
        assert status.returncode == 0, status.stderr
        before = json.loads(status.stdout)["certificate"]
        assert before["sans"] == [exposed_address] and before["days_left"] > 300

        renew = cli("broker", "certs", *dd, "--renew", "--format", "json")
        assert renew.returncode == 0, renew.stderr
        after = json.loads(renew.stdout)
        assert after["changed"] and after["serial"] != before["serial"] and after["sans"] == before["sans"]
        shown = cli("broker", "status", *dd)
        assert f"names: {exposed_address}" in shown.stdout and "expires:" in shown.stdout
        served = json.loads(cli("broker", "status", *dd, "--format", "json").stdout)["certificate"]
        assert served["serial"] == after["serial"]
        again = cli("topics", "list", *bs, env={**client, "EVENTLAKE_KAFKA__SASL_PASSWORD": password})
        assert again.returncode == 0, again.stderr
    finally:
        cli("broker", "stop", *dd)


def test_broker_certs_refuses_hostile_names_in_one_line(cli: Run, tmp_path: Path) -> None:
    data = tmp_path / "certs"
    for bad in ["evil\nDNS:x.example", "a,b.example", "https://x.example/"]:
        res = cli("broker", "certs", "--data-dir", str(data), "--san", bad)
        assert res.returncode == 1 and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and "is not a host name or an IP address" in res.stderr
    assert not (data / "tls").exists()
    ok = cli("broker", "certs", "--data-dir", str(data), "--san", "kafka.example.org", "--days", "30")
    assert ok.returncode == 0, ok.stderr
    assert "names: 127.0.0.1, kafka.example.org" in ok.stdout
    assert f"CA for clients: {data / 'tls' / 'ca.pem'}" in ok.stdout
    days = cli("broker", "certs", "--data-dir", str(data), "--days", "0")
    assert days.returncode == 1 and "out of range" in days.stderr
    short = cli("broker", "certs", "--data-dir", str(data), "--renew", "--days", "10")
    assert short.returncode == 0, short.stderr
    assert "warning: the broker certificate expires in 10.0 days" in short.stderr and "--renew" in short.stderr


def test_bad_usage_exits_2(cli: Run) -> None:
    assert cli("topics", "create", "--no-such-flag").returncode == 2


def test_config_show_masks_secrets(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "eventlake.toml").write_text('[kafka]\nsasl_password = "s3cret"\n')
    res = cli("config", "show")
    assert res.returncode == 0, res.stderr
    assert "s3cret" not in res.stdout
    assert json.loads(res.stdout)["kafka"]["sasl_password"] == "********"
