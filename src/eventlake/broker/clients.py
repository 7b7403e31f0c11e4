"""The one place that turns settings into confluent-kafka client configuration.

Producers, consumers and admin clients elsewhere get their base config here, so
security settings and time-outs are applied the same way everywhere, and so the
message for an unreachable broker is written once.
"""

from __future__ import annotations

import socket
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from eventlake.broker.exceptions import BrokerUnreachable
from eventlake.broker.settings import KafkaClientSettings


def client_config(bootstrap_servers: str, kafka: KafkaClientSettings | None = None) -> dict[str, Any]:
    kafka = kafka or KafkaClientSettings()
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


def _typed(value: str) -> str | bool | int:
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered.lstrip("-").isdigit():
        return int(lowered)
    return value


def admin_client(bootstrap_servers: str, kafka: KafkaClientSettings | None = None) -> AdminClient:
    return AdminClient(client_config(bootstrap_servers, kafka))


def unreachable(bootstrap_servers: str, cause: object | None = None) -> BrokerUnreachable:
    detail = f": {cause}" if cause else ""
    return BrokerUnreachable(
        f"no Kafka broker answered at {bootstrap_servers}{detail}",
        hint="start one with `eventlake broker start` or pass --bootstrap-servers HOST:PORT",
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


def check_reachable(
    bootstrap_servers: str, kafka: KafkaClientSettings | None = None, timeout_s: float | None = None
) -> None:
    """Raise BrokerUnreachable unless a broker answers a metadata request in time."""
    kafka = kafka or KafkaClientSettings()
    timeout = timeout_s if timeout_s is not None else kafka.connect_timeout_s
    refused = _all_refused(bootstrap_servers, min(timeout, 3.0))
    if refused is not None:
        raise unreachable(bootstrap_servers, refused)
    try:
        admin_client(bootstrap_servers, kafka).list_topics(timeout=timeout)
    except KafkaException as exc:
        raise unreachable(bootstrap_servers) from exc
