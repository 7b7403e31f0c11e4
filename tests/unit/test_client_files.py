"""Client files (`eventlake client-config`) and ACL roles: what each format's own reader gets back.

The readers are the ones the clients use or faithful copies checked against them elsewhere:
tomllib and eventlake's own settings loader, Java's Properties and JaasConfig rules
(`javaconf`, compared with Java itself in tests/e2e/test_client_config_cli.py), kcat's line
rules (`read_kcat_conf`, compared with kcat itself there).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from eventlake.broker.acls import MAX_NAME, Grant, Role, check_name, grants_for
from eventlake.broker.client_files import (
    ENV_PROVIDER,
    PASSWORD_ENV,
    SCRAM_LOGIN_MODULE,
    ClientFileRefused,
    ClientSettings,
    Format,
    check_bootstrap,
    read_kcat_conf,
    render,
)
from eventlake.broker.exceptions import CredentialsRefused
from eventlake.broker.javaconf import load_properties, parse_jaas
from eventlake.broker.users import checked_password, checked_user
from eventlake.config import load_settings
from eventlake.errors import UsageError

CA = Path("/etc/eventlake/ca.pem")
# What broke out of naive quoting in each format: quotes, backslashes, separators, comment
# marks, JAAS terminators, TOML table headers, kcat's \= and \:, Latin-1, BMP and astral.
HOSTILE = 'Zq8"x\\y\' user_mallory="m";\n[kafka]\r\n#=!: \t\\= \\: ${env:HOME} é€😀 end\\'
KCAT_SAFE_HOSTILE = 'Zq8"x\\y\' user_mallory="m"; [kafka] #=!: \t${env:HOME} é€😀 end'


def _cfg(password: str | None, ca: Path = CA, user: str = "app") -> ClientSettings:
    return ClientSettings("kafka.example.com:9093", user, ca, password)


@pytest.mark.parametrize("password", ["Xk9-pq7Zr2-mW4vT8", HOSTILE, KCAT_SAFE_HOSTILE])
def test_toml_reads_back_through_eventlakes_settings(tmp_path: Path, password: str) -> None:
    path = tmp_path / "app.toml"
    path.write_text(render(_cfg(password, ca=tmp_path / 'odd "ca"\n.pem'), Format.toml), encoding="utf-8")
    s = load_settings(path)
    assert s.bootstrap_servers == "kafka.example.com:9093"
    assert s.kafka.security_protocol == "SASL_SSL"
    assert s.kafka.sasl_mechanism == "SCRAM-SHA-512"
    assert s.kafka.sasl_username == "app"
    assert s.kafka.sasl_password is not None and s.kafka.sasl_password.get_secret_value() == password
    assert s.kafka.ssl_ca_location == str(tmp_path / 'odd "ca"\n.pem')


def test_toml_without_password_takes_it_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = render(_cfg(None), Format.toml)
    assert "sasl_password" not in tomllib.loads(text)["kafka"]
    assert PASSWORD_ENV in text
    path = tmp_path / "app.toml"
    path.write_text(text)
    monkeypatch.setenv(PASSWORD_ENV, "from-the-env-Q7x!")
    s = load_settings(path)
    assert s.kafka.sasl_password is not None and s.kafka.sasl_password.get_secret_value() == "from-the-env-Q7x!"
    assert s.kafka.sasl_username == "app"


@pytest.mark.parametrize("password", ["Xk9-pq7Zr2-mW4vT8", HOSTILE])
def test_properties_read_back_as_java_reads_them(password: str) -> None:
    text = render(_cfg(password, ca=Path("/data/ca: #1=x.pem")), Format.properties)
    assert text.isascii()
    props = dict(load_properties(text.encode("ascii")))
    assert props["bootstrap.servers"] == "kafka.example.com:9093"
    assert props["security.protocol"] == "SASL_SSL"
    assert props["sasl.mechanism"] == "SCRAM-SHA-512"
    assert props["ssl.truststore.type"] == "PEM"
    assert props["ssl.truststore.location"] == "/data/ca: #1=x.pem"
    assert "config.providers" not in props  # a password given is taken literally, ${...} included
    (entry,) = parse_jaas(props["sasl.jaas.config"])
    assert entry.login_module == SCRAM_LOGIN_MODULE
    assert entry.control_flag == "REQUIRED"
    assert entry.options == {"username": "app", "password": password}


def test_properties_without_password_use_kafkas_env_provider() -> None:
    props = dict(load_properties(render(_cfg(None), Format.properties).encode("ascii")))
    assert props["config.providers"] == "env"
    assert props["config.providers.env.class"] == ENV_PROVIDER
    (entry,) = parse_jaas(props["sasl.jaas.config"])
    assert entry.options["password"] == f"${{env:{PASSWORD_ENV}}}"


@pytest.mark.parametrize("password", ["Xk9-pq7Zr2-mW4vT8", KCAT_SAFE_HOSTILE, "a=b\\c:d#e!f x-Y7"])
def test_librdkafka_reads_back_by_kcats_rules(password: str) -> None:
    pairs = read_kcat_conf(render(_cfg(password), Format.librdkafka))
    assert dict(pairs) == {
        "bootstrap.servers": "kafka.example.com:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "app",
        "sasl.password": password,
        "ssl.ca.location": str(CA),
    }
    assert len(pairs) == 6  # no line added by a value


@pytest.mark.parametrize(
    "password",
    [
        "line\nbreak-Q7x-abcdef",  # a second line would be a second property
        "trailing-space-Q7x ",  # kcat trims it
        "esc\\=aped-Q7x-abcdef",  # kcat turns \\= into =
        "esc\\:aped-Q7x-abcdef",
        "Q7x-" + "y" * 600,  # longer than kcat's line buffer
    ],
)
def test_librdkafka_refuses_a_password_kcat_would_change(password: str) -> None:
    with pytest.raises(ClientFileRefused) as err:
        render(_cfg(password), Format.librdkafka)
    assert password not in str(err.value)
    assert "properties or toml" in str(err.value)


def test_librdkafka_without_password_says_to_add_it() -> None:
    text = render(_cfg(None), Format.librdkafka)
    assert "sasl.password" not in dict(read_kcat_conf(text))
    assert "add a line sasl.password=" in text


def test_kcat_reader_follows_kcat() -> None:
    assert read_kcat_conf("  # c\n\n k=v=w \n a\\=b=c\\:d\n") == [
        ("k", "v=w"),
        ("a", "b=c:d"),
    ]  # unescaped first, then split
    with pytest.raises(ValueError):
        read_kcat_conf("no-separator\n")


@pytest.mark.parametrize("value", ["kafka.example.com:9093", "203.0.113.7:9093", "[2001:db8::7]:9093", "a:1,b:2"])
def test_bootstrap_accepts_host_port(value: str) -> None:
    assert check_bootstrap(value) == value


@pytest.mark.parametrize(
    "value",
    ["", "host", "host:", "host:0", "host:65536", "ho st:9092", "host:9092\nx=y", "2001:db8::7:9092",
     "[host]:9092", "h\"o:9092", "host:９０９２", "-x:9092", "a:1,", "x" * 300 + ":1"],
)  # fmt: skip
def test_bootstrap_refuses_anything_else(value: str) -> None:
    with pytest.raises(UsageError):
        check_bootstrap(value)


# ---- names and passwords


@pytest.mark.parametrize(
    "name", ["", "a b", 'alice" user_x="y', "bob;", "User:bob", "*", "é", "x" * 65, "a\nb", "a\x00b", "ａｌｉｃｅ"]
)
def test_user_names_outside_the_allow_list_are_refused(name: str) -> None:
    with pytest.raises(CredentialsRefused) as err:
        checked_user(name)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "password", ["", "short-Q7", "aaaaaaaaaaaaaaaaaaaa", " leading-space-Q7x-abc", "nul\x00-Q7x-abcdef"]
)
def test_weak_or_unsendable_passwords_are_refused_without_being_repeated(password: str) -> None:
    with pytest.raises(CredentialsRefused) as err:
        checked_password(password, user="app")
    assert "--password-stdin" in str(err.value)
    if password.strip():
        assert password not in str(err.value)


# ---- ACL roles


def _ops(grants: list[Grant]) -> set[tuple[str, str, str, str]]:
    return {(g.resource, g.pattern, g.name, g.operation) for g in grants}


def test_produce_is_write_and_describe_on_the_topic() -> None:
    assert _ops(grants_for("app", Role.produce, topic="orders")) == {
        ("topic", "literal", "orders", "WRITE"),
        ("topic", "literal", "orders", "DESCRIBE"),
    }


def test_consume_needs_a_group_and_reads_in_it() -> None:
    with pytest.raises(UsageError, match="--group"):
        grants_for("app", Role.consume, topic="orders")
    assert _ops(grants_for("app", Role.consume, topic="ord", prefix=True, group="g-", group_prefix=True)) == {
        ("topic", "prefixed", "ord", "READ"),
        ("topic", "prefixed", "ord", "DESCRIBE"),
        ("group", "prefixed", "g-", "READ"),
    }


def test_sink_covers_its_dead_letter_topic() -> None:
    ops = _ops(grants_for("app", Role.sink, topic="orders", group="eventlake-sink"))
    assert ("topic", "literal", "orders.dlq", "CREATE") in ops
    assert ("topic", "literal", "orders.dlq", "WRITE") in ops
    assert ("group", "literal", "eventlake-sink", "READ") in ops
    assert not any(op == "WRITE" and name == "orders" for _, _, name, op in ops)


def test_exactly_once_produce_covers_transactions() -> None:
    ops = _ops(grants_for("app", Role.produce, topic="orders", exactly_once=True))
    assert ("transactional_id", "prefixed", "eventlake-produce-", "WRITE") in ops
    with pytest.raises(UsageError):
        grants_for("app", Role.consume, topic="orders", group="g", exactly_once=True)


@pytest.mark.parametrize("name", ["", "*", "a b", "a/b", "a,b", "é", "x" * (MAX_NAME + 1), "..", ".", "t\n", "ｔ"])
def test_topic_and_group_names_follow_kafkas_rule(name: str) -> None:
    with pytest.raises(UsageError) as err:
        check_name("topic", name)
    assert "\n" not in str(err.value)
    with pytest.raises(UsageError):
        grants_for("app", Role.consume, topic="orders", group=name)


def test_longest_legal_names_pass() -> None:
    assert check_name("topic", "x" * MAX_NAME) == "x" * MAX_NAME
    with pytest.raises(UsageError):  # its dead-letter topic would be too long for Kafka
        grants_for("app", Role.sink, topic="x" * MAX_NAME, group="g")


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "SASL PLAIN mechanism handshake failed: Broker: Unsupported SASL mechanism: "
            "broker's supported mechanisms: SCRAM-SHA-512",
            "does not accept SASL mechanism PLAIN; it accepts SCRAM-SHA-512",
        ),
        # What a hostile broker sends back is not repeated: only mechanism names are taken from it.
        (
            "Unsupported SASL mechanism: supported mechanisms: SCRAM-SHA-512\x1b[2J; rm -rf /",
            "it accepts SCRAM-SHA-512",
        ),
        ("Unsupported SASL mechanism: supported mechanisms: scram<script>", "refused the credentials"),
    ],
)
def test_an_unsupported_mechanism_names_what_the_broker_accepts(text: str, said: str) -> None:
    from confluent_kafka import KafkaError

    from eventlake.broker.clients import auth_failure
    from eventlake.config.broker import KafkaClientSettings

    kafka = KafkaClientSettings(security_protocol="SASL_SSL", sasl_mechanism="PLAIN", sasl_username="app")
    failure = auth_failure(KafkaError(KafkaError._AUTHENTICATION, text), "kafka.example:9093", kafka)
    assert failure is not None and said in failure.message
    assert "\x1b" not in failure.message and "rm -rf" not in failure.message and "<script>" not in failure.message
