"""Attacks on what the broker writes for Kafka: SASL users, passwords, hosts, paths and certificate names.

Every hostile value is either refused with a one-line error before anything is written or
bound, or has exactly the effect asked for and nothing else: hosts and paths are written so
that Kafka reads back that value (the properties file parsed as `java.util.Properties` parses
it and, where a JDK is present, by Java itself); passwords never reach the file at all (SCRAM
credentials are set through the Admin API), so no password can add a key or a user there.
The JAAS escaping (`eventlake.broker.javaconf`) is still checked for any text, for whoever
writes a JAAS option next.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from eventlake.broker import LocalBroker
from eventlake.broker.exceptions import BrokerError
from eventlake.broker.javaconf import dump_properties, jaas_quote, load_properties, parse_jaas
from eventlake.config import BrokerSettings
from tests.integration.test_broker_security import java_view

GOOD = "Kq83-Zp20-xY7w-Lm5n"
PLAIN_LOGIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
_rng = random.Random(20240611)
LONG_OK = "".join(_rng.choice(string.ascii_letters + string.digits + string.punctuation) for _ in range(1024))


@dataclass(frozen=True)
class Case:
    id: str
    password: str | None = GOOD
    username: str = "eventlake"
    host: str = "0.0.0.0"
    advertise: str | None = "kafka.example.internal"
    data_dir: str = "data"
    sans: tuple[str, ...] = ()
    refused: str | None = None  # a phrase of the one-line refusal; None: must round-trip

    def settings(self, root: Path) -> BrokerSettings:
        return BrokerSettings(
            host=self.host,
            advertise=self.advertise,
            port=19092,
            controller_port=19093,
            internal_port=19094,
            data_dir=root / self.data_dir,
            sasl_username=self.username,
            sasl_password=None if self.password is None else SecretStr(self.password),
            tls_sans=list(self.sans),
        )


CASES = [
    # -- passwords that must be accepted and written back exactly
    Case("quote-adds-user", password='Kq83Zp20x" user_mallory="owned-pass-123'),
    Case("jaas-entry-terminator", password=f'Kq83Zp20x"; {PLAIN_LOGIN_MODULE} required user_mallory="p";'),
    Case("backslash-quote", password='Kq83Zp20\\"user_m\\\\" x'),
    Case("trailing-backslash-continuation", password="Kq83Zp20xY7w\\"),
    Case("newline-new-property", password="Kq83Zp20x\nauthorizer.class.name=evil"),
    Case("cr-new-property", password="Kq83Zp20x\rsasl.enabled.mechanisms=PLAIN,GSSAPI"),
    Case("crlf-and-lf-cr", password="Kq83Zp20\r\nx=y\n\rz"),
    Case("separators", password="=Kq83:Zp20#x!y=z:"),
    Case("comment-marks-first", password="#Kq83Zp20xY7!w"),
    Case("bang-first", password="!Kq83Zp20xY7#w"),
    Case("literal-unicode-escape", password="Kq83Zp20\\u0041\\u000a\\uZZZZ"),
    Case("literal-c-escapes-and-octal", password="Kq83Zp20\\101\\n\\t\\0\\377"),
    Case("latin-1", password="Kq83Zp20-ñéüß-çà-ÿ"),
    Case("bmp-scripts", password="Пароль-密码-パスワード-12"),
    Case("astral-emoji", password="Kq83Zp20😀🔑𝕏-x"),
    Case("bidi-and-zero-width", password="Kq83Zp20\u202e\u200b\u2066xyz"),
    Case("c1-controls", password="Kq83Zp20\x85\x9c\x80xyz"),
    Case("jaas-comments", password="Kq83Zp20/*x*/ //y\n/ z"),
    Case("single-quotes", password="Kq83'Zp20'x'y"),
    Case("inner-tab-formfeed-vtab", password="Kq83\tZp20\f\vx-yz"),
    Case("inner-and-trailing-spaces", password="Kq83 Zp20  x y "),
    Case("config-provider-syntax", password="${file:/etc/passwd:x}Kq83Zp20"),
    Case("semicolons", password="Kq83;Zp20;x=y;"),
    Case("all-ascii-punctuation", password=string.punctuation + "Kq83Zp20"),
    Case("other-controls", password="Kq83Zp20\x01\x07\x1b[31m\x7fxy"),
    Case("longest-allowed", password=LONG_OK),
    Case("allowed-odd-user", username="svc.kafka-01_A"),
    Case("allowed-64-char-user", username="u" * 64),
    Case("ipv6-any-host", host="::"),
    Case("ip-advertise", advertise="10.0.0.5"),
    Case("data-dir-hostile-but-legal", data_dir="d #=!:\\ é\nx=y"),
    Case("sans-names-and-addresses", sans=("alt.example.org", "203.0.113.7", "2001:db8::7", "*.example.org")),
    # -- passwords that must be refused
    Case("no-password", password=None, refused="without credentials"),
    Case("empty", password="", refused="is empty"),
    Case("whitespace-only", password=" \t\n\r ", refused="only white space"),
    Case("nul-inside", password="Kq83Zp20\x00user_mallory", refused="NUL"),
    Case("lone-surrogate", password="Kq83Zp20xY7w\udc80", refused="not valid Unicode"),
    Case("too-short", password="Kq8!Zp2#x", refused="too short"),
    Case("one-char-repeated", password="a" * 40, refused="too predictable"),
    Case("two-char-pattern", password="ab" * 20, refused="too predictable"),
    Case("twelve-lowercase", password="abcdefghijkl", refused="too predictable"),
    Case("digits-only", password="123456789012345", refused="too predictable"),
    Case("leading-space", password=" " + GOOD, refused="starts with white space"),
    Case("leading-newline", password="\n" + GOOD, refused="starts with white space"),
    Case("too-long", password=LONG_OK + "x", refused="more than the 1024"),
    # -- user names outside the allow-list
    Case("user-quote-injection", username='eventlake" user_mallory="x', refused="user name"),
    Case("user-newline", username="a\nsasl.enabled.mechanisms=PLAIN", refused="user name"),
    Case("user-trailing-newline", username="eventlake\n", refused="user name"),
    Case("user-empty", username="", refused="user name"),
    Case("user-equals", username="user=name", refused="user name"),
    Case("user-space", username="user name", refused="user name"),
    Case("user-semicolon", username="eventlake;", refused="user name"),
    Case("user-slash-comment", username="a//b", refused="user name"),
    Case("user-unicode", username="пользователь", refused="user name"),
    Case("user-nul", username="admin\x00", refused="user name"),
    Case("user-65-chars", username="u" * 65, refused="user name"),
    # -- hosts and paths that Kafka would split into more than they are
    Case("host-adds-listener", host="0.0.0.0,PLAINTEXT://0.0.0.0:9999", refused="--host"),
    Case("advertise-adds-listener", advertise="kafka.example,EVIL://x:1", refused="--advertise"),
    Case("advertise-newline", advertise="h\nlisteners=PLAINTEXT://0.0.0.0:1", refused="--advertise"),
    Case("host-trailing-space", host="0.0.0.0 ", refused="--host"),
    Case("advertise-url", advertise="http://kafka.example/", refused="--advertise"),
    Case("data-dir-comma", data_dir="a,b", refused="comma"),
    # -- certificate names: nothing that could add a name, a field or a line to the certificate
    Case("san-newline", sans=("kafka.example\nDNS:evil.example",), refused="certificate name"),
    Case("san-comma", sans=("kafka.example,DNS:evil.example",), refused="certificate name"),
    Case("san-openssl-prefix", sans=("DNS:evil.example",), refused="certificate name"),
    Case("san-nul", sans=("kafka.example\x00evil.example",), refused="certificate name"),
    Case("san-bare-wildcard", sans=("*",), refused="certificate name"),
    Case("san-inner-wildcard", sans=("a.*.example",), refused="certificate name"),
    Case("san-url", sans=("https://kafka.example/",), refused="certificate name"),
    Case("san-email", sans=("admin@kafka.example",), refused="certificate name"),
    Case("san-cidr", sans=("203.0.113.0/24",), refused="certificate name"),
    Case("san-unicode", sans=("кафка.example",), refused="certificate name"),
    Case("san-too-many", sans=tuple(f"h{i}.example" for i in range(40)), refused="more than the 32"),
]
ACCEPTED = [c for c in CASES if c.refused is None]
REFUSED = [c for c in CASES if c.refused is not None]


def test_corpus_is_broad() -> None:
    assert len(CASES) >= 25 and len(ACCEPTED) >= 20 and len(REFUSED) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", REFUSED, ids=[c.id for c in REFUSED])
def test_hostile_value_is_refused_in_one_line_before_anything_is_written(case: Case, tmp_path: Path) -> None:
    broker = LocalBroker(case.settings(tmp_path))
    with pytest.raises(BrokerError) as checked:
        broker.check_settings()
    with pytest.raises(BrokerError) as started:
        broker.start()
    for caught in (checked, started):
        line = str(caught.value)
        assert case.refused is not None and case.refused in line
        assert line.isascii() and line.isprintable(), f"not one clean line: {line!r}"
        if case.password and len(case.password.strip()) >= 4:
            assert case.password not in line and case.password.strip()[:8] not in line
    assert not (tmp_path / case.data_dir).exists(), "nothing may be written for refused settings"


def _expected(case: Case, root: Path) -> dict[str, str]:
    """What the properties must be: those of the same broker with a benign password (it has no part in them)."""
    return LocalBroker(
        Case(
            "benign", host=case.host, advertise=case.advertise, data_dir=case.data_dir, username=case.username
        ).settings(root)
    ).server_properties()


@pytest.mark.parametrize("case", ACCEPTED, ids=[c.id for c in ACCEPTED])
def test_hostile_value_round_trips_exactly(case: Case, tmp_path: Path) -> None:
    broker = LocalBroker(case.settings(tmp_path))
    text = broker.server_properties_text()
    assert text.isascii(), "non-ASCII must be written as \\uXXXX (Kafka reads ISO-8859-1)"
    expected = _expected(case, tmp_path)
    pairs = load_properties(text.encode("ascii"))
    assert pairs == list(expected.items()), "a key was added, lost or changed"
    assert len(text.splitlines()) == len(expected), "one line per property"
    assert case.password is not None
    if len(case.password) >= 8:
        assert case.password not in text and case.password.strip()[:8] not in text, "no password in the file"
    assert "PLAIN" not in text.replace("PLAINTEXT", ""), "no SASL/PLAIN anywhere"
    # The values Kafka splits or binds are the ones asked for, whole.
    props = dict(pairs)
    assert props["listener.name.external.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["log.dirs"] == str((tmp_path / case.data_dir).resolve() / "kraft")
    assert props["listeners"].split(",")[0] == f"EXTERNAL://{case.host}:19092"
    assert props["advertised.listeners"].split(",")[0] == f"EXTERNAL://{case.advertise}:19092"
    assert len(props["listeners"].split(",")) == 3 and len(props["advertised.listeners"].split(",")) == 2


# Raw texts the Python reader must read exactly as Java does (not written by eventlake).
RAW_PROPERTIES = [
    "a=b\\\n   c\\\r\n\td\n",
    "#c\\\nx=y\n!z=w\n",
    "k\\ ey = v \\\n",
    "\\u0041\\u00e9=x\\u0020y\n",
    "x:y z\ny z\nw\t=\t:v\n",
    "  \f lead=trail  \r\n\r\ne\\=q=r\\:s\\#\n",
    "key\\\n#notcomment=1\n",
    "a=\\t\\n\\r\\f\\\\\\q\n",
]


@pytest.mark.integration
def test_java_reads_every_accepted_case_exactly_as_eventlake_does(tmp_path: Path) -> None:
    """java.util.Properties (via Kafka's Utils.loadProps), on the files themselves."""
    files: dict[Path, dict[str, str]] = {}
    for i, case in enumerate(ACCEPTED):
        text = LocalBroker(case.settings(tmp_path / "cases")).server_properties_text()
        path = tmp_path / f"case-{i}.properties"
        path.write_bytes(text.encode("ascii"))
        files[path] = _expected(case, tmp_path / "cases")
    for i, raw in enumerate(RAW_PROPERTIES):
        path = tmp_path / f"raw-{i}.properties"
        path.write_bytes(raw.encode("latin-1"))
        files[path] = dict(load_properties(raw.encode("latin-1")))
    seen = java_view(list(files), tmp_path)
    for path, props in files.items():
        assert seen[str(path)] == props, path.name


# -- the escaping itself, for any text at all

_any_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=200)


@settings(max_examples=400, database=None, deadline=None)
@given(key=_any_text, value=_any_text)
def test_any_key_and_value_round_trip_through_properties(key: str, value: str) -> None:
    text = dump_properties({key: value, "after": "x"})
    assert text.isascii()
    assert load_properties(text.encode("ascii")) == [(key, value), ("after", "x")]


@settings(max_examples=400, database=None, deadline=None)
@given(value=_any_text)
def test_any_password_round_trips_through_jaas_and_properties(value: str) -> None:
    jaas = f"{PLAIN_LOGIN_MODULE} required user_eventlake={jaas_quote(value)};"
    (entry,) = parse_jaas(dict(load_properties(dump_properties({"j": jaas}).encode("ascii")))["j"])
    assert entry.options == {"user_eventlake": value}
