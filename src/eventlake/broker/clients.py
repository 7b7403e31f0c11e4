"""The one place that turns settings into confluent-kafka client configuration.

Producers, consumers and admin clients elsewhere get their base config here, so
security settings and time-outs are applied the same way everywhere, and so the
message for an unreachable broker is written once.
"""

from __future__ import annotations

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
    conf.update(kafka.extra)
    return conf


def admin_client(bootstrap_servers: str, kafka: KafkaClientSettings | None = None) -> AdminClient:
    return AdminClient(client_config(bootstrap_servers, kafka))


def unreachable(bootstrap_servers: str, cause: object | None = None) -> BrokerUnreachable:
    detail = f": {cause}" if cause else ""
    return BrokerUnreachable(
        f"no Kafka broker answered at {bootstrap_servers}{detail}",
        hint="start one with `eventlake broker start` or pass --bootstrap-servers HOST:PORT",
    )


def check_reachable(
    bootstrap_servers: str, kafka: KafkaClientSettings | None = None, timeout_s: float | None = None
) -> None:
    """Raise BrokerUnreachable unless a broker answers a metadata request in time."""
    kafka = kafka or KafkaClientSettings()
    timeout = timeout_s if timeout_s is not None else kafka.connect_timeout_s
    try:
        admin_client(bootstrap_servers, kafka).list_topics(timeout=timeout)
    except KafkaException as exc:
        raise unreachable(bootstrap_servers) from exc
