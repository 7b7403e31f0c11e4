"""Settings of the local Apache Kafka broker and of every Kafka client."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

KAFKA_VERSION = "4.1.1"


class KafkaClientSettings(BaseModel):
    """How clients reach a Kafka cluster (local or remote). Secrets stay SecretStr."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None
    # An unreachable broker must fail within seconds, not hang.
    connect_timeout_s: float = 8.0
    # librdkafka's own log (syslog levels 0-7); 0 keeps refused-connection chatter off
    # the terminal: failures reach users as one-line errors instead. --debug raises it.
    log_level: int = 0
    extra: dict[str, str] = {}


class BrokerSettings(BaseModel):
    """The embedded single-node KRaft broker that `eventlake broker start` runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    port: int = 9092
    controller_port: int | None = None  # default: port + 1
    host: str = "127.0.0.1"
    advertise: str | None = None
    # Binding beyond loopback requires credentials: clients then authenticate with
    # SASL/PLAIN on `port`; local tools use a plaintext listener on 127.0.0.1:internal_port.
    sasl_username: str = "eventlake"
    sasl_password: SecretStr | None = None
    internal_port: int | None = None  # default: port + 2
    data_dir: Path = Path(".eventlake/broker")
    kafka_version: str = KAFKA_VERSION
    cache_dir: Path | None = None  # default: $XDG_CACHE_HOME/eventlake or ~/.cache/eventlake
    heap: str = "512m"
    log_retention_ms: int = 7 * 24 * 3600 * 1000
    log_retention_bytes: int = -1
    log_segment_bytes: int = 256 * 1024 * 1024
    default_partitions: int = 3
    start_timeout_s: float = 90.0
    stop_timeout_s: float = 30.0

    @property
    def exposed(self) -> bool:
        """True when the client listener is reachable from other machines."""
        return self.host not in LOOPBACK_HOSTS


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
