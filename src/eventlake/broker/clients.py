"""The one place that turns settings into confluent-kafka client configuration.

Producers, consumers and admin clients elsewhere get their base config here, so
security settings and time-outs are applied the same way everywhere, and so the
messages for an unreachable broker, and for one that refuses the credentials or the
request (`auth_failure`), are written once.
"""

from __future__ import annotations

import re
import socket
import ssl
import time
from collections import deque
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from eventlake.broker.credentials import shown
from eventlake.broker.exceptions import (
    AuthenticationFailed,
    AuthorizationFailed,
    BrokerError,
    BrokerUnreachable,
    CredentialsRefused,
)
from eventlake.config.broker import KafkaClientSettings, is_loopback


def client_config(bootstrap_servers: str, kafka: KafkaClientSettings | None = None) -> dict[str, Any]:
    kafka = kafka or KafkaClientSettings()
    refuse_cleartext_password(bootstrap_servers, kafka)
    ca = kafka.ssl_ca_location
    if ca and ca != "probe" and not Path(ca).is_file():  # librdkafka would fail with "BIO lib"
        raise BrokerError(
            f"the CA file {shown(ca, 80)} (kafka.ssl_ca_location) does not exist or is not a file",
            hint="copy the broker's CA there (eventlake's broker: <data-dir>/tls/ca.pem) or fix the path",
        )
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers,
        "security.protocol": kafka.security_protocol,
        "socket.connection.setup.timeout.ms": int(kafka.connect_timeout_s * 1000),
        "log_level": kafka.log_level,
    }
    if kafka.sasl_mechanism:
        conf["sasl.mechanism"] = kafka.sasl_mechanism
    if kafka.sasl_username:
        conf["sasl.username"] = kafka.sasl_username
    if kafka.sasl_password is not None:
        conf["sasl.password"] = kafka.sasl_password.get_secret_value()
    if kafka.ssl_ca_location:
        conf["ssl.ca.location"] = kafka.ssl_ca_location
    # confluent-kafka wants real booleans and numbers where Kafka's docs say so.
    conf.update({k: _typed(v) for k, v in kafka.extra.items()})
    return conf


def refuse_cleartext_password(bootstrap_servers: str, kafka: KafkaClientSettings) -> None:
    """Refuse to send a SASL password without TLS to another machine (anyone on the path could read it).

    SASL_PLAINTEXT carries PLAIN passwords as they are, and even SCRAM's exchange can be
    replayed against a weak password offline; loopback addresses never leave this machine.
    """
    if kafka.sasl_password is None or kafka.allow_cleartext_password:
        return
    if kafka.security_protocol != "SASL_PLAINTEXT":
        return
    remote = [h for h in _hosts(bootstrap_servers) if not is_loopback(h)]
    if remote:
        raise CredentialsRefused(
            f"refusing to send the SASL password to {shown(remote[0], 60)} without TLS "
            "(kafka.security_protocol is SASL_PLAINTEXT)",
            hint='set kafka.security_protocol = "SASL_SSL" and kafka.ssl_ca_location to the broker\'s CA '
            "(eventlake's broker: <data-dir>/tls/ca.pem); only on a network you trust: "
            "kafka.allow_cleartext_password = true",
        )


def _hosts(bootstrap_servers: str) -> list[str]:
    """The host part of each HOST:PORT (or [v6]:PORT, or proto://HOST:PORT) in a bootstrap list."""
    hosts = []
    for address in bootstrap_servers.split(","):
        address = address.strip().rpartition("://")[2]
        if not address:
            continue
        host = address.rpartition(":")[0] if address.count(":") == 1 or address.startswith("[") else address
        hosts.append(host.strip("[]") or address)
    return hosts


def _typed(value: str) -> str | bool | int:
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered.lstrip("-").isdigit():
        return int(lowered)
    return value


def admin_client(
    bootstrap_servers: str, kafka: KafkaClientSettings | None = None, errors: ErrorLog | None = None
) -> AdminClient:
    conf = client_config(bootstrap_servers, kafka)
    if errors is not None:
        conf["error_cb"] = errors
    return AdminClient(conf)


# ---- telling "nothing answered" from "it answered no"

AUTHENTICATION_CODES = frozenset({KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED})
AUTHORIZATION_CODES = frozenset(
    {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        KafkaError.DELEGATION_TOKEN_AUTHORIZATION_FAILED,
    }
)
# librdkafka prefixes client errors with the broker: "sasl_plaintext://host:9092/bootstrap: ..."
_BROKER_PREFIX = re.compile(r"^(?:[a-z_]+://)?(?P<address>[^\s/]+)/(?:bootstrap|-?\d+):")
# Reported for every attempt whatever the cause; says nothing a user can act on.
_NOISE = frozenset({KafkaError._ALL_BROKERS_DOWN})


def _kafka_error(error: object) -> KafkaError | None:
    if isinstance(error, KafkaError):
        return error
    if isinstance(error, KafkaException) and error.args and isinstance(error.args[0], KafkaError):
        return error.args[0]
    return None


def _where(err: KafkaError, bootstrap_servers: str) -> str:
    match = _BROKER_PREFIX.match(err.str() or "")
    return match.group("address") if match else bootstrap_servers


def _user(kafka: KafkaClientSettings | None) -> str:
    name = kafka.sasl_username if kafka is not None else None
    if not name:
        return "(none set)"
    return name if re.fullmatch(r"[A-Za-z0-9._@+-]{1,64}", name) else shown(name)


_SUPPORTED_MECHANISMS = re.compile(r"supported mechanisms: ([A-Z0-9-]{1,32}(?:,[A-Z0-9-]{1,32}){0,7})(?![A-Za-z0-9-])")


def auth_failure(
    error: object, bootstrap_servers: str, kafka: KafkaClientSettings | None = None, *, doing: str | None = None
) -> AuthenticationFailed | AuthorizationFailed | None:
    """The typed error if `error` (a KafkaError, or a KafkaException holding one) is an auth failure.

    Use it wherever a Kafka client error reaches eventlake code (error_cb, a message's
    error(), an exception from a request) before calling anything "unreachable":

        failure = auth_failure(err, settings.bootstrap_servers, settings.kafka)
        if failure is not None:
            raise failure
    """
    err = _kafka_error(error)
    if err is None:
        return None
    code = err.code()
    if code in AUTHENTICATION_CODES:
        mechanism = (kafka.sasl_mechanism if kafka is not None else None) or "SASL"
        mechanism = mechanism if re.fullmatch(r"[A-Z0-9-]{1,32}", mechanism) else "SASL"
        # The broker's text is outside input: only a list of mechanism names is taken from it.
        offered = _SUPPORTED_MECHANISMS.search(err.str() or "")
        if "Unsupported SASL mechanism" in (err.str() or "") and offered is not None:
            return AuthenticationFailed(
                f"Kafka at {_where(err, bootstrap_servers)} does not accept SASL mechanism {mechanism}; "
                f"it accepts {offered.group(1)}",
                hint=f"set kafka.sasl_mechanism (EVENTLAKE_KAFKA__SASL_MECHANISM) to {offered.group(1).split(',')[0]}",
            )
        return AuthenticationFailed(
            f"Kafka at {_where(err, bootstrap_servers)} refused the credentials for user {_user(kafka)} "
            f"(SASL authentication failed): check the password",
            hint=f"kafka.sasl_password / EVENTLAKE_KAFKA__SASL_PASSWORD, kafka.sasl_username and "
            f"kafka.sasl_mechanism ({mechanism}) must match a user of that broker",
        )
    if code in AUTHORIZATION_CODES:
        action = f" to {doing}" if doing else ""
        return AuthorizationFailed(
            f"Kafka at {_where(err, bootstrap_servers)} denied user {_user(kafka)} the right{action} ({err.name()})",
            hint="ask the cluster's administrator for an ACL, or use a user that has one",
        )
    return None


class ErrorLog:
    """An `error_cb` that keeps the client's recent errors, to say why a request failed."""

    def __init__(self, keep: int = 50) -> None:
        self.errors: deque[KafkaError] = deque(maxlen=keep)

    def __call__(self, err: KafkaError) -> None:
        self.errors.append(err)

    def auth_failure(
        self, bootstrap_servers: str, kafka: KafkaClientSettings | None = None
    ) -> AuthenticationFailed | AuthorizationFailed | None:
        for err in reversed(self.errors):
            failure = auth_failure(err, bootstrap_servers, kafka)
            if failure is not None:
                return failure
        return None

    def last_reason(self) -> str | None:
        for err in reversed(self.errors):
            if err.code() not in _NOISE:
                return err.str()
        return None


def raise_for_auth(
    error: object, bootstrap_servers: str, kafka: KafkaClientSettings | None = None, *, doing: str | None = None
) -> None:
    """Raise AuthenticationFailed / AuthorizationFailed if `error` is one; otherwise do nothing."""
    failure = auth_failure(error, bootstrap_servers, kafka, doing=doing)
    if failure is not None:
        raise failure


def unreachable(bootstrap_servers: str, cause: object | None = None, *, hint: str | None = None) -> BrokerUnreachable:
    detail = f": {cause}" if cause else ""
    return BrokerUnreachable(
        f"no Kafka broker answered at {bootstrap_servers}{detail}",
        hint=hint or "start one with `eventlake broker start` or pass --bootstrap-servers HOST:PORT",
    )


def _all_refused(bootstrap_servers: str, timeout: float) -> str | None:
    """The reason if every bootstrap address refuses connections (nothing listens), else None.

    A refused connection is certain at once; a silent host is left to the Kafka client's
    own time-out, so this never makes a slow network look dead.
    """
    addresses = [a.strip() for a in bootstrap_servers.split(",") if a.strip()]
    reasons: list[str] = []
    for address in addresses:
        host, _, port = address.rpartition("://")[2].rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout):
                return None
        except (ConnectionRefusedError, socket.gaierror, ValueError) as exc:
            reasons.append(exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc))
        except OSError:
            return None
    return reasons[0] if addresses and len(reasons) == len(addresses) else None


_SLICE_S = 0.5  # how often a waiting check looks at the client's errors
_DROPPED_S = 2.0  # connections closed at once for this long: something answers, and says no


def _closed_by_peer(bootstrap_servers: str, kafka: KafkaClientSettings, errors: ErrorLog) -> BrokerUnreachable:
    """Something listens but closes our connections: most often a client protocol that does not match."""
    return unreachable(
        bootstrap_servers,
        errors.last_reason() or "the connection was closed",
        hint=f"something listens there but closes Kafka connections from this client "
        f"(security protocol {kafka.security_protocol}): if that Kafka requires SASL or TLS, "
        "set kafka.security_protocol and the kafka.sasl_* settings",
    )


def check_reachable(
    bootstrap_servers: str, kafka: KafkaClientSettings | None = None, timeout_s: float | None = None
) -> None:
    """Return once a broker answers a metadata request; otherwise raise what stood in the way.

    - every address refuses the connection: BrokerUnreachable at once (nothing listens);
    - the broker refuses the credentials: AuthenticationFailed as soon as it says so;
    - no answer in time, or connections dropped by the other side: BrokerUnreachable,
      with the client's last error as the reason.
    """
    kafka = kafka or KafkaClientSettings()
    timeout = timeout_s if timeout_s is not None else kafka.connect_timeout_s
    refused = _all_refused(bootstrap_servers, min(timeout, 3.0))
    if refused is not None:
        raise unreachable(bootstrap_servers, refused)
    errors = ErrorLog()
    admin = admin_client(bootstrap_servers, kafka, errors)
    deadline = time.monotonic() + timeout
    dropped_since: float | None = None
    fast_failures = 0
    last: KafkaException | None = None
    while True:
        now = time.monotonic()
        remaining = deadline - now
        if remaining <= 0:
            break
        try:
            admin.list_topics(timeout=min(remaining, _SLICE_S))
            return
        except KafkaException as exc:
            last = exc
        admin.poll(0)  # serves error_cb
        failure = errors.auth_failure(bootstrap_servers, kafka) or auth_failure(last, bootstrap_servers, kafka)
        if failure is not None:
            raise failure from last
        tls = _tls_failure(bootstrap_servers, errors)
        if tls is not None:
            raise tls from last
        # A call that fails before its own timeout ran out was answered with an error (connections
        # closed by the other side), not left waiting; 80% of the slice, not half, since a loaded
        # machine (CI) is slow to report even a closed connection.
        fast = time.monotonic() - now < _SLICE_S * 0.8
        fast_failures += fast
        if not fast:
            dropped_since = None
            continue
        dropped_since = dropped_since if dropped_since is not None else now
        if time.monotonic() - dropped_since >= min(_DROPPED_S, timeout):
            raise _closed_by_peer(bootstrap_servers, kafka, errors) from last
        time.sleep(0.1)
    if fast_failures >= 3:  # dropped again and again (a loaded machine may never see 2 s of it in a row)
        raise _closed_by_peer(bootstrap_servers, kafka, errors) from last
    if not kafka.security_protocol.endswith("SSL") and _speaks_tls(bootstrap_servers):
        # A TLS listener waits silently for a handshake that a plaintext client never starts.
        raise unreachable(
            bootstrap_servers,
            "a TLS listener answers there, and this client does not use TLS",
            hint='set kafka.security_protocol = "SASL_SSL" (with kafka.sasl_* and kafka.ssl_ca_location '
            "for the broker's CA)",
        ) from last
    raise unreachable(bootstrap_servers, errors.last_reason()) from last


def _tls_failure(bootstrap_servers: str, errors: ErrorLog) -> BrokerUnreachable | None:
    """The broker's certificate was not accepted: a CA that did not sign it, or a name it does not hold."""
    for err in reversed(errors.errors):
        text = err.str() or ""
        if "certificate verify failed" in text or "SSL handshake failed" in text:
            return BrokerUnreachable(
                f"Kafka at {_where(err, bootstrap_servers)} presented a TLS certificate this client does not "
                f"accept: {text}",
                hint="the broker's TLS certificate was not accepted: set kafka.ssl_ca_location to the CA that "
                "signed it (eventlake's broker: <data-dir>/tls/ca.pem), and reach it by a name the certificate "
                "holds (`eventlake broker status` lists them)",
            )
    return None


def _speaks_tls(bootstrap_servers: str, timeout_s: float = 1.5) -> bool:
    """Whether the first bootstrap address completes a TLS handshake (its certificate unchecked: only a probe)."""
    address = bootstrap_servers.split(",")[0].strip().rpartition("://")[2]
    host, _, port = address.rpartition(":")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s) as raw,
            context.wrap_socket(raw),
        ):
            return True
    except (OSError, ValueError):
        return False


class AdminConnection:
    """An Admin API client for the cluster at `bootstrap_servers`, shared by the topic, user and ACL
    admins: its errors kept to say why a request failed, and a reachability check on first use."""

    def __init__(
        self, bootstrap_servers: str, kafka: KafkaClientSettings | None = None, timeout_s: float = 10.0
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.kafka = kafka or KafkaClientSettings()
        self.timeout_s = timeout_s
        self._errors = ErrorLog()
        self._admin: AdminClient = admin_client(bootstrap_servers, self.kafka, self._errors)
        self._checked = False  # the first call fails fast when nothing listens

    def _reachable(self) -> None:
        if not self._checked:
            check_reachable(self.bootstrap_servers, self.kafka, self.timeout_s)
            self._checked = True
