"""The deployment plan (deploy/plan.py), its CloudFormation template and the broker probe: no AWS."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from eventlake.deploy.health import probe
from eventlake.deploy.plan import AMI_PARAMETER, describe, make_plan, mask_secrets
from eventlake.deploy.template import template_yaml
from eventlake.errors import UsageError
from tests.fixtures_broker_tls import issue, make_ca, write_pem

CIDR = "203.0.113.7/32"


@pytest.mark.parametrize(
    ("name", "cidrs", "extra", "says"),
    [
        ("Prod", [CIDR], {}, "deployment name 'Prod' is not allowed"),
        ("9lives", [CIDR], {}, "is not allowed"),
        ("a" * 32, [CIDR], {}, "is not allowed"),
        ("x;rm", [CIDR], {}, "is not allowed"),
        ("ok", [], {}, "no --allow-cidr given"),
        ("ok", ["banana"], {}, "'banana' is not a CIDR"),
        ("ok", ["10.0.0.0/33"], {}, "is not a CIDR"),
        ("ok", ["10.0.0.1/8"], {}, "has bits set after the prefix"),
        ("ok", ["0.0.0.0/0"], {}, "opens the broker to the whole internet"),
        ("ok", [CIDR, "::/0"], {}, "--allow-cidr ::/0 opens the broker"),
        ("ok", [CIDR], {"nodes": 2}, "--nodes 2 is not supported"),
        ("ok", [CIDR], {"volume_gb": 4}, "--volume-gb 4 is out of range"),
        ("ok", [CIDR], {"instance_type": "t3.small;reboot"}, "is not one"),
        ("ok", [CIDR], {"ssh_key": "my key"}, "key pair name 'my key' is not allowed"),
        ("ok", [CIDR], {"app_user": "app user"}, "user name 'app user' is not allowed"),
        ("ok", [CIDR], {"port": 80}, "--port 80 is out of range"),
    ],
)
def test_bad_input_is_refused_in_one_line(name: str, cidrs: list[str], extra: dict[str, Any], says: str) -> None:
    with pytest.raises(UsageError) as caught:
        make_plan(name, "eu-west-1", cidrs, **extra)
    line = caught.value.one_line()
    assert says in line and "\n" not in line


def test_anywhere_only_when_asked_and_then_with_a_warning() -> None:
    plan, warnings = make_plan("open", "eu-west-1", ["0.0.0.0/0", "::/0"], allow_anywhere=True)
    assert [str(r.cidr) for r in plan.rules()] == ["0.0.0.0/0", "::/0"]
    assert len(warnings) == 1 and "0.0.0.0/0, ::/0" in warnings[0]
    _, none = make_plan("closed", "eu-west-1", [CIDR], allow_anywhere=True)
    assert none == []


def test_rules_open_the_broker_ports_and_ssh_only_with_a_key() -> None:
    plan, _ = make_plan("web", "eu-west-1", [CIDR, "2001:db8::/64"])
    assert [r.shown() for r in plan.rules()] == [
        "tcp 9092 from 203.0.113.7/32 (eventlake Kafka SASL_SSL)",
        "tcp 9092 from 2001:db8::/64 (eventlake Kafka SASL_SSL)",
    ]
    three, _ = make_plan("web", "eu-west-1", [CIDR], nodes=3, ssh_key="ops", port=19092)
    assert [(r.from_port, r.to_port) for r in three.rules()] == [(19092, 19094), (22, 22)]
    assert three.rules()[0].ip_permission()["IpRanges"] == [{"CidrIp": CIDR, "Description": "eventlake Kafka SASL_SSL"}]


def test_masking_hides_secret_assignments_and_keeps_the_rest() -> None:
    script = (
        "#!/bin/bash\nPORT=9092\nexport ADMIN_PASSWORD='hunter2-xyz'\n  KAFKA_SECRET_KEY=abc\nAPP_USER=app\n"
        'SECRETS="$ETC/secrets"\n'
    )
    masked = mask_secrets(script)
    assert "hunter2-xyz" not in masked and "KAFKA_SECRET_KEY=****" in masked
    assert "PORT=9092" in masked and "APP_USER=app" in masked and "ADMIN_PASSWORD=****" in masked
    assert 'SECRETS="$ETC/secrets"' in masked  # where secrets are kept is not one


def test_dry_run_text_names_every_resource_and_the_user_data() -> None:
    plan, _ = make_plan("shop", "eu-west-1", [CIDR], ssh_key="ops")
    text = describe(plan)
    for part in (
        "security group eventlake-shop",
        "tcp 22 from 203.0.113.7/32",
        "IAM role and instance profile eventlake-shop",
        "on /eventlake/shop/*",
        "HttpTokens=required",
        "gp3, 50 GiB, encrypted",
        AMI_PARAMETER,
        plan.user_data().splitlines()[0],
    ):
        assert part in text, part


def test_template_states_imdsv2_encryption_tags_and_scoped_policy() -> None:
    plan, _ = make_plan("shop", "eu-west-1", [CIDR, "2001:db8::/64"])
    doc = yaml.safe_load(template_yaml(plan))
    assert doc["Parameters"]["LatestAmiId"] == {
        "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
        "Default": AMI_PARAMETER,
        "Description": "Amazon Linux 2023 AMI, from AWS's public SSM parameter",
    }
    res = doc["Resources"]
    instance = res["Instance"]["Properties"]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    (mapping,) = instance["BlockDeviceMappings"]
    assert mapping["Ebs"] == {"VolumeSize": 50, "VolumeType": "gp3", "Encrypted": True, "DeleteOnTermination": True}
    assert instance["PropagateTagsToVolumeOnCreation"] is True
    assert instance["UserData"] == {"Fn::Base64": plan.user_data()}
    for logical in ("SecurityGroup", "Role", "Instance"):
        assert {"Key": "eventlake:deployment", "Value": "shop"} in res[logical]["Properties"]["Tags"], logical
    ingress = res["SecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert [(r["FromPort"], r.get("CidrIp") or r.get("CidrIpv6")) for r in ingress] == [
        (9092, CIDR),
        (9092, "2001:db8::/64"),
    ]
    (statement,) = res["Role"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/eventlake/shop/*"
    }


# ---- the broker probe of `deploy status`, against a local TLS server


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, str]]:
    ca = make_ca("deployment CA")
    cert, key = issue(ca, ["127.0.0.1"])
    write_pem(tmp_path / "cert.pem", cert)
    write_pem(tmp_path / "key.pem", key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                try:
                    with context.wrap_socket(conn, server_side=True):
                        pass
                except (ssl.SSLError, OSError):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], ca[0].public_bytes(serialization.Encoding.PEM).decode()
    finally:
        stop.set()
        # accept() does not return when another thread closes the socket: wake it with a connection.
        socket.create_connection(listener.getsockname(), timeout=5).close()
        thread.join(10)
        listener.close()


def test_probe_says_tls_ok_only_for_the_deployments_own_ca(tls_server: tuple[int, str]) -> None:
    port, ca_pem = tls_server
    assert probe("127.0.0.1", port, ca_pem).startswith("TLS ok")
    other = make_ca("someone else")[0].public_bytes(serialization.Encoding.PEM).decode()
    assert probe("127.0.0.1", port, other).startswith("TCP open, TLS certificate refused")
    assert probe("127.0.0.1", port, None).startswith("TCP open; TLS not checked")


def test_probe_of_a_closed_port_is_unreachable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    assert probe("127.0.0.1", port, None, timeout=1).startswith("unreachable:")
