"""Settings of the local Apache Kafka broker and of every Kafka client."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from eventlake.config.fields import Count, Port, Seconds, UpperCase

KAFKA_VERSION = "4.1.1"

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER"]


class KafkaClientSettings(BaseModel):
    """How clients reach a Kafka cluster (local or remote). Secrets stay SecretStr."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    security_protocol: Annotated[SecurityProtocol, UpperCase] = Field(
        "PLAINTEXT", description="How clients talk to Kafka: plain, TLS, SASL, or SASL over TLS (any case)."
    )
    sasl_mechanism: Annotated[SaslMechanism, UpperCase] | None = Field(
        None, description="SASL mechanism when security_protocol is SASL_*; must match a user of that cluster."
    )
    sasl_username: str | None = Field(None, min_length=1, description="SASL user name.")
    sasl_password: SecretStr | None = Field(None, description="SASL password (never shown; better set by env).")
    ssl_ca_location: str | None = Field(
        None, description="PEM file of the CA that signed the brokers' certificates; unset uses the system's."
    )
    # An unreachable broker must fail within seconds, not hang.
    connect_timeout_s: Seconds = Field(
        8.0, description="How long a client tries to reach the cluster before it fails with one line (seconds)."
    )
    # 0 keeps refused-connection chatter off the terminal: failures reach users as one-line errors.
    log_level: int = Field(
        0, ge=0, le=7, description="librdkafka's own log level (syslog 0-7); 0 keeps it quiet, --debug sets 6."
    )
    allow_cleartext_password: bool = Field(
        False,
        description="Let a SASL password travel without TLS (SASL_PLAINTEXT) to a non-loopback broker; "
        "off: such a client is refused.",
    )
    extra: dict[str, str] = Field(
        default_factory=dict,
        description='More librdkafka properties for every client, e.g. {"socket.keepalive.enable" = "true"}.',
    )


class BrokerSettings(BaseModel):
    """The embedded KRaft broker (one node, or a local cluster of `nodes`) that `eventlake broker start` runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    port: Port = Field(9092, description="Port of the client listener (node N of a cluster: port + N-1).")
    # None, not 1: a later `broker stop|status|start` without --nodes follows what the data dir holds.
    nodes: int | None = Field(
        None,
        ge=1,
        le=9,
        description="Nodes of the local KRaft cluster (1-9; each broker and controller, ports from port up); "
        "unset: what the data dir was started with, else 1.",
    )
    controller_port: Port | None = Field(
        None, description="Port of the KRaft controller (node N: + N-1); unset: port + nodes."
    )
    # host, advertise and sasl_username are checked by the broker itself (broker/server.py), with
    # messages that say which listener property a hostile value would have split.
    host: str = Field(
        "127.0.0.1",
        description="Address the client listener binds; beyond loopback it is SASL_SSL (SCRAM-SHA-512) "
        "and needs sasl_password.",
    )
    advertise: str | None = Field(
        None, description="Host name clients on other machines use to reach the broker; unset: host."
    )
    # Binding beyond loopback requires credentials: clients then authenticate with SCRAM-SHA-512
    # over TLS on `port`; local tools use a plaintext listener on 127.0.0.1:internal_port.
    sasl_username: str = Field(
        "eventlake", description="The admin (a Kafka super user, SCRAM-SHA-512) when the broker binds beyond loopback."
    )
    sasl_password: SecretStr | None = Field(
        None, description="That user's password, required beyond loopback (never shown; better set by env)."
    )
    tls_cert: Path | None = Field(
        None, description="Your own broker certificate chain (PEM); unset: made in <data_dir>/tls by a private CA."
    )
    tls_key: Path | None = Field(None, description="The private key (PEM, unencrypted) of tls_cert.")
    tls_ca: Path | None = Field(None, description="The CA (PEM) that signed tls_cert, which clients need.")
    tls_sans: list[str] = Field(
        default_factory=list,
        description="More names or addresses for the broker certificate, besides advertise and host.",
    )
    internal_port: Port | None = Field(
        None,
        description="Plaintext listener on 127.0.0.1 for local tools when exposed (node N: + N-1); "
        "unset: port + 2 x nodes.",
    )
    data_dir: Path = Field(Path(".eventlake/broker"), description="Folder of the broker's logs and metadata.")
    kafka_version: str = Field(
        KAFKA_VERSION, pattern=r"^\d+\.\d+\.\d+$", description="Apache Kafka version whose jars the broker runs."
    )
    cache_dir: Path | None = Field(
        None, description="Where Kafka's jars are cached; unset: $XDG_CACHE_HOME/eventlake or ~/.cache/eventlake."
    )
    heap: str = Field(
        "512m", pattern=r"^[1-9][0-9]*[kKmMgG]?$", description="Java heap of the broker (-Xms/-Xmx), e.g. 512m or 2g."
    )
    log_retention_ms: int = Field(
        7 * 24 * 3600 * 1000, ge=-1, description="How long Kafka keeps messages (milliseconds; -1: forever)."
    )
    log_retention_bytes: int = Field(
        -1, ge=-1, description="Most bytes Kafka keeps per partition before deleting old ones (-1: no limit)."
    )
    log_segment_bytes: int = Field(
        256 * 1024 * 1024, ge=1024 * 1024, description="Size of one log segment file (bytes; Kafka's minimum is 1 MiB)."
    )
    default_partitions: Count = Field(3, description="Partitions of a topic created without a partition count.")
    start_timeout_s: Seconds = Field(
        90.0, description="How long `broker start` waits for the broker to answer (seconds)."
    )
    stop_timeout_s: Seconds = Field(
        30.0, description="How long `broker stop` waits before it kills the broker (seconds)."
    )

    @property
    def exposed(self) -> bool:
        """True when the client listener is reachable from other machines."""
        return not is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and "localhost": reachable from this machine only. Any other name may not be."""
    name = host.strip("[]")
    if name.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
