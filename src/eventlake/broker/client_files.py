"""What a remote producer or consumer needs to reach a SASL_SSL broker, in three file formats.

- toml: eventlake's own settings (`bootstrap_servers` and the `[kafka]` section);
- properties: a Java `client.properties` (Kafka's console tools, any JVM client), PEM truststore;
- librdkafka: `key=value` lines as `kcat -F FILE` reads them (and confluent-kafka's config keys).

Every text is read back with the reader of its format (tomllib, Java's Properties and JaasConfig
rules in `javaconf`, kcat's line rules in `read_kcat_conf`) before it is returned: a value that
would reach the client as anything but itself (a password with a quote, a line break, kcat's
`\\=`) is refused with one line instead of written. Without a password the file reads it from
the environment where the format can (toml: EVENTLAKE_KAFKA__SASL_PASSWORD; properties: Kafka's
EnvVarConfigProvider), and says so in a comment.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from eventlake.broker.credentials import shown
from eventlake.broker.exceptions import BrokerError
from eventlake.broker.javaconf import dump_properties, jaas_quote, load_properties, parse_jaas
from eventlake.errors import UsageError

PASSWORD_ENV = "EVENTLAKE_KAFKA__SASL_PASSWORD"
SCRAM_LOGIN_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
ENV_PROVIDER = "org.apache.kafka.common.config.provider.EnvVarConfigProvider"
MECHANISM = "SCRAM-SHA-512"
PROTOCOL = "SASL_SSL"


class Format(StrEnum):
    toml = "toml"
    properties = "properties"
    librdkafka = "librdkafka"


class ClientFileRefused(BrokerError):
    """A value cannot be written in the chosen client file format so that it reads back as itself."""


@dataclass(frozen=True)
class ClientSettings:
    bootstrap: str
    user: str
    ca: Path
    password: str | None = None  # None: the file reads it from the environment, where it can


_HOSTNAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
    r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?"
)


def check_bootstrap(value: str) -> str:
    """`HOST:PORT[,HOST:PORT...]` with host names, IPv4 or [IPv6] addresses and ports 1-65535."""
    for address in value.split(","):
        host, sep, port = address.rpartition(":")
        ok = sep == ":" and port.isascii() and port.isdigit() and 1 <= int(port) <= 65535
        bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if ok and bare != host:
            ok = _is_ip(bare, 6)
        elif ok:
            ok = _is_ip(host, 4) or _HOSTNAME.fullmatch(host) is not None
        if not ok:
            raise UsageError(
                f"the bootstrap address {shown(value)} is not HOST:PORT",
                hint="use e.g. kafka.example.com:9092, 203.0.113.7:9092 or [2001:db8::7]:9092",
            )
    return value


def _is_ip(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False


def render(cfg: ClientSettings, fmt: Format) -> str:
    """The file text, verified to read back as `cfg` under its format's own rules."""
    check_bootstrap(cfg.bootstrap)
    if fmt is Format.toml:
        return _toml(cfg)
    if fmt is Format.properties:
        return _properties(cfg)
    return _librdkafka(cfg)


# ---- eventlake settings (TOML)


def toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped, the rest literal."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml(cfg: ClientSettings) -> str:
    lines = [
        f"# eventlake settings for Kafka user {cfg.user} (written by `eventlake client-config`)",
        f"bootstrap_servers = {toml_string(cfg.bootstrap)}",
        "",
        "[kafka]",
        f"security_protocol = {toml_string(PROTOCOL)}",
        f"sasl_mechanism = {toml_string(MECHANISM)}",
        f"sasl_username = {toml_string(cfg.user)}",
    ]
    if cfg.password is not None:
        lines.append(f"sasl_password = {toml_string(cfg.password)}")
    else:
        lines.append(f"# sasl_password: set the environment variable {PASSWORD_ENV}")
    lines.append(f"ssl_ca_location = {toml_string(str(cfg.ca))}")
    text = "\n".join(lines) + "\n"
    kafka = tomllib.loads(text)["kafka"]
    read = (kafka.get("sasl_username"), kafka.get("sasl_password"), kafka.get("ssl_ca_location"))
    if read != (cfg.user, cfg.password, str(cfg.ca)):
        raise ClientFileRefused("the settings file would not read back as written", hint="report this as a bug")
    return text


# ---- Java client.properties


def jaas_config(user: str, password: str) -> str:
    return f"{SCRAM_LOGIN_MODULE} required username={jaas_quote(user)} password={jaas_quote(password)};"


def _properties(cfg: ClientSettings) -> str:
    props: dict[str, str] = {}
    header = f"# Kafka client.properties for user {cfg.user} (written by `eventlake client-config`)\n"
    if cfg.password is None:
        # Kafka's EnvVarConfigProvider fills ${env:NAME} in when the client starts (Kafka 3.5+).
        props["config.providers"] = "env"
        props["config.providers.env.class"] = ENV_PROVIDER
        header += f"# the password comes from the environment variable {PASSWORD_ENV}\n"
        secret = f"${{env:{PASSWORD_ENV}}}"
    else:
        secret = cfg.password
    props.update(
        {
            "bootstrap.servers": cfg.bootstrap,
            "security.protocol": PROTOCOL,
            "sasl.mechanism": MECHANISM,
            "sasl.jaas.config": jaas_config(cfg.user, secret),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(cfg.ca),
        }
    )
    body = dump_properties(props)
    read = load_properties(body.encode("ascii"))
    entries = parse_jaas(dict(read)["sasl.jaas.config"])
    expected = {"username": cfg.user, "password": secret}
    if read != list(props.items()) or len(entries) != 1 or entries[0].options != expected:
        raise ClientFileRefused("client.properties would not read back as written", hint="report this as a bug")
    return header + body


# ---- librdkafka / kcat -F

KCAT_LINE_BYTES = 511  # kcat reads a config file with fgets() into a 512-byte buffer
_C_SPACE = " \t\n\v\f\r"


def read_kcat_conf(text: str) -> list[tuple[str, str]]:
    """The (key, value) pairs `kcat -F` sets, following its read_conf_file line by line.

    Each line is trimmed of C white space at both ends; empty lines and lines starting with
    `#` are skipped; every `\\:` and `\\=` becomes `:` and `=`; the key ends at the first `=`.
    A line longer than kcat's buffer is refused here (kcat would split it into two).
    """
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(text.split("\n"), 1):
        if len(line.encode("utf-8")) + 1 > KCAT_LINE_BYTES:
            raise ValueError(f"line {number} is longer than kcat reads in one piece")
        s = line.strip(_C_SPACE)
        if not s or s.startswith("#"):
            continue
        s = s.replace("\\:", ":").replace("\\=", "=")
        key, sep, value = s.partition("=")
        if not sep or not key:
            raise ValueError(f"line {number}: expected property=value")
        pairs.append((key, value))
    return pairs


def _librdkafka(cfg: ClientSettings) -> str:
    props = {
        "bootstrap.servers": cfg.bootstrap,
        "security.protocol": PROTOCOL,
        "sasl.mechanism": MECHANISM,
        "sasl.username": cfg.user,
    }
    if cfg.password is not None:
        props["sasl.password"] = cfg.password
    props["ssl.ca.location"] = str(cfg.ca)
    header = f"# librdkafka properties for user {cfg.user} (kcat -F FILE; written by `eventlake client-config`)\n"
    if cfg.password is None:
        header += "# no password here (librdkafka files cannot read the environment): add a line sasl.password=...\n"
    body = "".join(f"{k}={v}\n" for k, v in props.items())
    try:
        read = read_kcat_conf(header + body)
    except ValueError:
        read = []
    if read != list(props.items()):
        what = "the password" if cfg.password is not None and _unsafe_for_kcat(cfg.password) else "a value"
        raise ClientFileRefused(
            f"{what} cannot be written in a librdkafka file so that kcat reads it back unchanged "
            "(no line breaks, no trailing white space, no '\\:' or '\\=', lines under 512 bytes)",
            hint="use --format properties or toml for this password, or choose one without those",
        )
    return header + body


def _unsafe_for_kcat(value: str) -> bool:
    return (
        any(c in value for c in "\r\n")
        or value != value.strip(_C_SPACE)
        or "\\:" in value
        or "\\=" in value
        or len(value.encode("utf-8")) > KCAT_LINE_BYTES - len("sasl.password=") - 1
    )
