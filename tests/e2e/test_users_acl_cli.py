"""`eventlake users` and `eventlake acl` against the real broker, checked with Kafka's Admin API directly.

The session broker listens on loopback, where the client is the super user (User:ANONYMOUS) and
the authorizer (StandardAuthorizer) is on: users and ACLs are created and read back for real.
Logging in as these users over SASL_SSL is tested from another network namespace
(tests/integration/test_remote_kafka.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import (
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from eventlake.broker import LocalBroker
from tests.e2e.conftest import EVENTLAKE, Run

pytestmark = pytest.mark.integration

PASSWORD = "Tq4-vN8p-Zr2x-Wm7k"


def _user() -> str:
    return f"u-{uuid.uuid4().hex[:10]}"


def _scram(bootstrap: str) -> dict[str, list[tuple[str, int]]]:
    """Every SCRAM user and its (mechanism, iterations), straight from Kafka."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    described = admin.describe_user_scram_credentials().result(timeout=30)  # type: ignore[union-attr]
    return {name: [(i.mechanism.name, i.iterations) for i in d.scram_credential_infos] for name, d in described.items()}


def _acls(bootstrap: str, user: str) -> set[tuple[str, str, str, str]]:
    """The user's ACLs as (resource type, pattern, name, operation), straight from Kafka."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    flt = AclBindingFilter(
        ResourceType.ANY,
        None,  # type: ignore[arg-type]
        ResourcePatternType.ANY,
        f"User:{user}",
        None,  # type: ignore[arg-type]
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    bindings = admin.describe_acls(flt).result(timeout=30)
    assert all(b.permission_type == AclPermissionType.ALLOW and b.host == "*" for b in bindings)
    return {(b.restype.name, b.resource_pattern_type.name, b.name, b.operation.name) for b in bindings}


def test_add_list_remove_a_user(cli: Run, bootstrap: str) -> None:
    user = _user()
    added = cli("users", "add", user, "--password-stdin", "--bootstrap-servers", bootstrap, input=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert _scram(bootstrap)[user] == [("SCRAM_SHA_512", 8192)]

    listed = cli("users", "list", "--format", "json", "--bootstrap-servers", bootstrap)
    assert listed.returncode == 0, listed.stderr
    assert {"user": user, "mechanism": "SCRAM-SHA-512", "iterations": 8192} in json.loads(listed.stdout)

    again = cli("users", "add", user, "--password-stdin", "--bootstrap-servers", bootstrap, input=PASSWORD)
    assert again.returncode == 1 and "already exists" in again.stderr and "--update" in again.stderr
    changed = cli(
        "users", "add", user, "--password-stdin", "--update", "--bootstrap-servers", bootstrap, input="N" + PASSWORD
    )
    assert changed.returncode == 0, changed.stderr

    removed = cli("users", "remove", user, "--bootstrap-servers", bootstrap)
    assert removed.returncode == 0, removed.stderr
    assert user not in _scram(bootstrap)
    twice = cli("users", "remove", user, "--bootstrap-servers", bootstrap)
    assert twice.returncode == 1
    assert twice.stderr.count("\n") == 1 and f"user {user} does not exist" in twice.stderr
    for run in (added, listed, again, changed, removed, twice):
        assert PASSWORD not in run.stdout + run.stderr


def test_no_password_and_no_terminal_is_refused_before_anything_changes(cli: Run, bootstrap: str) -> None:
    user = _user()
    result = cli("users", "add", user, "--bootstrap-servers", bootstrap, input="")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--password-stdin" in result.stderr
    assert user not in _scram(bootstrap)


@pytest.mark.parametrize("how", [("add", "--password-stdin"), ("add", "--password-stdin", "--update"), ("remove",)])
def test_the_brokers_admin_is_changed_in_settings_not_here(cli: Run, bootstrap: str, how: tuple[str, ...]) -> None:
    """`broker start` sets the admin's password from broker.sasl_password each time: a change made
    with `users` would silently come undone at the next start, so it is refused."""
    admin = _user()
    env = {"EVENTLAKE_BROKER__SASL_USERNAME": admin}
    result = cli("users", how[0], admin, *how[1:], "--bootstrap-servers", bootstrap, input=PASSWORD, env=env)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") <= 2 and "EVENTLAKE_BROKER__SASL_PASSWORD" in result.stderr
    assert admin not in _scram(bootstrap)


@pytest.mark.parametrize(
    "password",
    ["", "short-Q7", "aaaaaaaaaaaaaaaaaaaaaaaa", " lead-Q7x-abcdef", "two\nlines-Q7x-abcdef", "x" * 5000],
)
def test_weak_or_malformed_passwords_are_refused(cli: Run, bootstrap: str, password: str) -> None:
    user = _user()
    result = cli("users", "add", user, "--password-stdin", "--bootstrap-servers", bootstrap, input=password + "\n")
    assert result.returncode in (1, 2)
    assert result.stderr.count("\n") == 1, result.stderr
    if password.strip():
        assert password.strip() not in result.stderr
    assert user not in _scram(bootstrap)


@pytest.mark.parametrize(
    "name", ['alice" user_x="y', "bob;", "User:bob", "*", "é", "x" * 65, "-x\nfoo", "a b", "ａｌｉｃｅ"]
)
def test_hostile_user_names_are_refused_before_a_password_is_read(cli: Run, bootstrap: str, name: str) -> None:
    before = _scram(bootstrap)
    result = cli("users", "add", "--password-stdin", "--bootstrap-servers", bootstrap, "--", name, input=PASSWORD)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "is not allowed" in result.stderr
    assert _scram(bootstrap) == before


def test_the_password_is_never_on_a_command_line_nor_in_logs(
    kafka: LocalBroker, bootstrap: str, tmp_path: Path
) -> None:
    """While `users add` runs, no process's arguments (what `ps` shows) hold the password; --debug logs never do."""
    user = _user()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("wb") as out_fh, err.open("wb") as err_fh:
        proc = subprocess.Popen(
            [EVENTLAKE, "--debug", "--log-level", "DEBUG", "users", "add", user, "--password-stdin",
             "--bootstrap-servers", bootstrap],
            stdin=subprocess.PIPE,
            stdout=out_fh,
            stderr=err_fh,
            env=env,
        )  # fmt: skip
        try:
            assert proc.stdin is not None
            proc.stdin.write(PASSWORD.encode() + b"\n")
            proc.stdin.close()
            looks = 0
            while proc.poll() is None or looks == 0:
                ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
                assert PASSWORD not in ps
                looks += 1
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    logs = out.read_bytes() + err.read_bytes()
    assert proc.returncode == 0, logs.decode()[-2000:]
    assert user in _scram(bootstrap)
    assert f"adding SCRAM-SHA-512 user {user}".encode() in logs  # the logs were on
    assert PASSWORD.encode() not in logs
    assert PASSWORD not in kafka.log_file.read_text(errors="replace")


def test_grant_list_revoke_produce_and_consume(cli: Run, bootstrap: str, unique_name: str) -> None:
    user = _user()
    topic, group = unique_name, f"{unique_name}-g"
    base = ("--topic", topic, "--bootstrap-servers", bootstrap)
    produce = cli("acl", "grant", user, "--produce", *base)
    assert produce.returncode == 0, produce.stderr
    assert "no SCRAM credential yet" in produce.stderr  # a typo in the name grants nobody: say so
    consume = cli("acl", "grant", user, "--consume", "--group", group, *base)
    assert consume.returncode == 0, consume.stderr
    assert _acls(bootstrap, user) == {
        ("TOPIC", "LITERAL", topic, "WRITE"),
        ("TOPIC", "LITERAL", topic, "DESCRIBE"),
        ("TOPIC", "LITERAL", topic, "READ"),
        ("GROUP", "LITERAL", group, "READ"),
    }

    def listed(*args: str) -> list[dict[str, str]]:
        result = cli("acl", "list", *args, "--format", "json", "--bootstrap-servers", bootstrap)
        assert result.returncode == 0, result.stderr
        rows: list[dict[str, str]] = json.loads(result.stdout)
        return rows

    mine = listed("--user", user)
    assert {(r["resource"], r["name"], r["operation"]) for r in mine} == {
        ("topic", topic, "WRITE"),
        ("topic", topic, "DESCRIBE"),
        ("topic", topic, "READ"),
        ("group", group, "READ"),
    }
    on_topic = listed("--topic", topic)
    assert {r["operation"] for r in on_topic if r["user"] == user} == {"WRITE", "DESCRIBE", "READ"}

    revoked = cli("acl", "revoke", user, "--produce", *base)
    assert revoked.returncode == 0, revoked.stderr
    # The shared DESCRIBE goes too; Kafka implies it from READ, so consuming still works.
    assert _acls(bootstrap, user) == {("TOPIC", "LITERAL", topic, "READ"), ("GROUP", "LITERAL", group, "READ")}
    cli("acl", "revoke", user, "--consume", "--group", group, *base)
    assert _acls(bootstrap, user) == set()
    nothing = cli("acl", "revoke", user, "--consume", "--group", group, *base)
    assert nothing.returncode == 1 and nothing.stderr.count("\n") == 1 and "none of these ACLs" in nothing.stderr


def test_prefixes_and_the_sink_role(cli: Run, bootstrap: str, unique_name: str) -> None:
    user = _user()
    granted = cli(
        "acl", "grant", user, "--sink", "--topic", unique_name, "--prefix", "--group-prefix", "sink-",
        "--bootstrap-servers", bootstrap,
    )  # fmt: skip
    assert granted.returncode == 0, granted.stderr
    acls = _acls(bootstrap, user)
    assert ("TOPIC", "PREFIXED", unique_name, "READ") in acls
    assert ("TOPIC", "PREFIXED", unique_name, "CREATE") in acls  # its .dlq topic starts with the prefix
    assert ("GROUP", "PREFIXED", "sink-", "READ") in acls
    # A topic under the prefix is covered: `acl list --topic` shows what applies to it.
    result = cli("acl", "list", "--topic", f"{unique_name}.dlq", "--format", "json", "--bootstrap-servers", bootstrap)
    assert any(r["user"] == user and r["pattern"] == "prefixed" for r in json.loads(result.stdout))


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--topic", "*", "--produce"), 2),
        (("--topic", "a b", "--produce"), 2),
        (("--topic", "x" * 250, "--produce"), 2),
        (("--topic", "..", "--produce"), 2),
        (("--topic", "t\nsuper.users=User:x", "--produce"), 2),
        (("--topic", "ｔ", "--produce"), 2),
        (("--topic", "", "--produce"), 2),
        (("--topic", "t", "--consume"), 2),  # no group
        (("--topic", "t", "--consume", "--group", "*"), 2),
        (("--topic", "t", "--consume", "--group", "g", "--group-prefix", "h"), 2),
        (("--topic", "t", "--produce", "--consume", "--group", "g"), 2),
        (("--topic", "t"), 2),  # no role
    ],
)
def test_bad_grants_are_refused_and_grant_nothing(cli: Run, bootstrap: str, args: tuple[str, ...], code: int) -> None:
    user = _user()
    result = cli("acl", "grant", user, *args, "--bootstrap-servers", bootstrap)
    assert result.returncode == code, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert _acls(bootstrap, user) == set()


@pytest.mark.parametrize("user", ["*", "User:x", 'a" b', "é", "x" * 65, ""])
def test_hostile_acl_users_are_refused(cli: Run, bootstrap: str, user: str) -> None:
    result = cli("acl", "grant", "--topic", "t", "--produce", "--bootstrap-servers", bootstrap, "--", user)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "not allowed" in result.stderr


def test_an_unreachable_broker_is_one_line_and_retriable(cli: Run) -> None:
    started = time.monotonic()
    result = cli("users", "list", "--bootstrap-servers", "127.0.0.1:9")
    assert result.returncode == 75
    assert result.stderr.count("\n") == 1 and "no Kafka broker answered" in result.stderr
    assert time.monotonic() - started < 60
