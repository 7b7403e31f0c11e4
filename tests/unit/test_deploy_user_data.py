"""The user data's plan: every value allow-listed, then quoted, so no field can become a command."""

from __future__ import annotations

import dataclasses
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from eventlake.config import load_settings
from eventlake.deploy.instance import InstanceError, Metadata, main, public_names, settings_text
from eventlake.deploy.user_data import UserDataPlan, check_plan, render_user_data
from eventlake.errors import UsageError

PLAN = UserDataPlan(
    name="demo",
    region="us-east-1",
    nodes=1,
    port=9094,
    app_user="app",
    install_spec="eventlake==0.1.0",
    ssm_prefix="/eventlake/demo",
)
VARIABLES = {
    "name": "DEPLOYMENT",
    "region": "REGION",
    "nodes": "NODES",
    "port": "PORT",
    "app_user": "APP_USER",
    "install_spec": "INSTALL_SPEC",
    "ssm_prefix": "SSM_PREFIX",
    "topic_prefix": "TOPIC_PREFIX",
}


def _plan_block(script: str) -> str:
    """The rendered script's plan assignments: from `# ---- the plan` to the next blank line."""
    start = script.index("# ---- the plan\n")
    return script[start : script.index("\n\n", start)]


def _read_back(script: str, variable: str) -> str:
    """What bash itself makes of the plan's assignment of `variable`."""
    proc = subprocess.run(
        ["bash", "-c", f'set -euo pipefail\n{_plan_block(script)}\nprintf %s "${variable}"'],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return proc.stdout


# Allowed values that a shell would still split, glob or redirect without quoting.
NEEDS_QUOTES: list[tuple[str, Any]] = [
    ("install_spec", "eventlake[aws]>=0.1,<2"),
    ("install_spec", "https://example.org/dist/eventlake-0.1-py3-none-any.whl#sha256=ab12"),
    ("install_spec", "eventlake!=0.2,~=0.1"),
    ("app_user", "orders.app_1-x"),
    ("topic_prefix", "shop.orders-"),
]


@pytest.mark.parametrize(("field", "value"), NEEDS_QUOTES)
def test_allowed_values_reach_the_script_exactly(field: str, value: Any) -> None:
    script = render_user_data(dataclasses.replace(PLAN, **{field: value}))
    assert _read_back(script, VARIABLES[field]) == value


def test_the_rendered_script_is_complete_and_reads_back_the_plan() -> None:
    script = render_user_data(PLAN)
    assert script.startswith("#!/bin/bash\n") and "\nset -Eeuo pipefail" in script
    assert "@@" not in script
    assert len(script.encode()) < 16 * 1024  # EC2 refuses user data over 16 KB
    for field_name, variable in VARIABLES.items():
        expected = PLAN.topics if field_name == "topic_prefix" else str(getattr(PLAN, field_name))
        assert _read_back(script, variable) == expected
    assert _read_back(script, "TOPIC_PREFIX") == "app."  # the default: the app user's name and a dot


INJECTIONS = ["x;id", "$(id)", "`id`", "x\nid", "x'y", 'x"y', "x y", "x|id", "x&id", "x>(y)", "\\x", "ä", ""]

# (field, values refused besides INJECTIONS)
REFUSED: list[tuple[str, list[Any]]] = [
    ("name", ["Demo", "1demo", "-demo", "d" * 32, 7]),
    ("region", ["us-east", "US-EAST-1", "us-east-100", "us_east_1", None]),
    ("nodes", [0, 2, 4, True, "1", 1.0]),
    ("port", [0, 80, 1023, 65534, 65535, 70000, True, "9094", 9094.0]),
    ("app_user", ["eventlake", "-app", "1app", "a" * 65, "app*"]),
    ("install_spec", ["--index-url=https://evil.example/simple", "-e.", "eventlake ; curl", "e" * 301, "x$y", "x(y)"]),
    ("ssm_prefix", ["eventlake/demo", "/", "//x", "/x/", "/aws/x", "/ssm/x", "/AWS/x", "/x*y"]),
    ("topic_prefix", ["*", "a b", "a/b", "a" * 201]),
]


@pytest.mark.parametrize(
    ("field", "value"),
    [(f, v) for f, extra in REFUSED for v in [*extra, *INJECTIONS]],
    ids=[f"{f}={v!r}"[:60] for f, extra in REFUSED for v in [*extra, *INJECTIONS]],
)
def test_every_field_refuses_what_its_allow_list_does_not_hold(field: str, value: Any) -> None:
    plan = dataclasses.replace(PLAN, **{field: value})
    with pytest.raises(UsageError) as caught:
        render_user_data(plan)
    message = caught.value.one_line()
    assert "\n" not in message and caught.value.hint, message
    assert field.replace("_", " ").split()[0] in message.lower() or "application user" in message, message


def test_check_plan_gives_the_values_the_script_gets() -> None:
    values = check_plan(dataclasses.replace(PLAN, nodes=3, topic_prefix="shop."))
    assert values["NODES"] == "3" and values["TOPIC_PREFIX"] == "shop." and values["ADMIN_USER"] == "eventlake"


def test_the_settings_the_instance_writes_are_what_the_broker_reads(tmp_path: Path) -> None:
    path = tmp_path / "eventlake.toml"
    host = "ec2-203-0-113-7.compute-1.amazonaws.com"
    path.write_text(settings_text(port=9094, ip="203.0.113.7", host=host, state_dir=tmp_path / "state"))
    settings = load_settings(path)
    broker = settings.broker
    assert (broker.host, broker.port, broker.advertise) == ("0.0.0.0", 9094, "203.0.113.7")
    assert broker.tls_sans == [host, "203.0.113.7"] and broker.exposed
    assert broker.data_dir == tmp_path / "state" / "broker" and broker.sasl_password is None
    assert settings.bootstrap_servers == "127.0.0.1:9096"


@pytest.mark.parametrize("endpoint", ["file:///etc/passwd", "http://x/y", "https://169.254.169.254", "http://a b"])
def test_the_metadata_endpoint_is_a_plain_http_host(endpoint: str) -> None:
    with pytest.raises(UsageError):
        Metadata(endpoint)


@pytest.mark.parametrize(
    "args",
    [
        ["--prefix", "/aws/x", "--password", "eventlake=/dev/null"],
        ["--prefix", "/eventlake/demo", "--password", "no-file-given"],
        ["--prefix", "/eventlake/demo", "--password", "a b=/tmp/x"],
        ["--prefix", "/eventlake/demo"],  # the admin's password is required
    ],
)
def test_publish_refuses_bad_arguments_in_one_line(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    code = main(["publish", "--deployment", "demo", "--region", "us-east-1", "--ca", str(ca), *args])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1, err


# ---- what the metadata service says is outside input too


def _metadata_answering(values: dict[str, str]) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self) -> None:
            self._answer(200, "token")

        def do_GET(self) -> None:
            value = values.get(self.path.removeprefix("/latest/meta-data/"))
            self._answer(404, "") if value is None else self._answer(200, value)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"public-ipv4": "203.0.113.7", "public-hostname": "EC2-x.Example.com."}, ("203.0.113.7", "ec2-x.example.com")),
        ({"public-ipv4": "203.0.113.7"}, ("203.0.113.7", None)),  # a VPC without DNS host names
        ({}, "has no public IPv4 address"),
        ({"public-ipv4": "127.0.0.1"}, "cannot be a broker's address"),
        ({"public-ipv4": "203.0.113.7; id"}, "is not an IPv4 address"),
        ({"public-ipv4": "203.0.113.7", "public-hostname": "x\nadvertise=evil"}, "is not a DNS name"),
        ({"public-ipv4": "203.0.113.7", "public-hostname": "a_b.example.com"}, "is not a DNS name"),
    ],
)
def test_public_names_from_the_metadata_are_checked(values: dict[str, str], expected: object) -> None:
    server, endpoint = _metadata_answering(values)
    try:
        if isinstance(expected, tuple):
            assert public_names(Metadata(endpoint, wait_s=2)) == expected
        else:
            with pytest.raises(InstanceError) as caught:
                public_names(Metadata(endpoint, wait_s=2))
            assert str(expected) in caught.value.one_line() and "\n" not in caught.value.one_line()
    finally:
        server.shutdown()
        server.server_close()
