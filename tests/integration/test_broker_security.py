"""A broker reachable from other machines must demand credentials, and never log them."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from eventlake.broker import BrokerSettings, LocalBroker, TopicAdmin, free_port
from eventlake.broker.exceptions import BrokerError

pytestmark = pytest.mark.integration

PASSWORD = "pa55-w0rd-9f1c"


def test_exposed_bind_without_password_is_refused(tmp_path: Path) -> None:
    broker = LocalBroker(BrokerSettings(host="0.0.0.0", port=free_port(), data_dir=tmp_path / "b"))
    with pytest.raises(BrokerError, match="without credentials"):
        broker.start()
    assert not (tmp_path / "b" / "broker.json").exists()


def test_exposed_broker_requires_sasl_and_hides_the_password(tmp_path: Path) -> None:
    port = free_port()
    broker = LocalBroker(BrokerSettings(
        host="0.0.0.0", advertise="127.0.0.1", port=port, controller_port=free_port(),
        internal_port=free_port(), data_dir=tmp_path / "b", sasl_password=SecretStr(PASSWORD),
    ))
    broker.start()
    try:
        # Local tools use the loopback listener; they can create topics.
        TopicAdmin(broker.local_bootstrap).create("secured", partitions=1)

        anonymous = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}", "log_level": 0})
        with pytest.raises(KafkaException):
            anonymous.list_topics(timeout=3)

        wrong = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}", "security.protocol": "SASL_PLAINTEXT",
                             "sasl.mechanism": "PLAIN", "sasl.username": "eventlake",
                             "sasl.password": "guess", "log_level": 0})
        with pytest.raises(KafkaException):
            wrong.list_topics(timeout=3)

        right = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}", "security.protocol": "SASL_PLAINTEXT",
                             "sasl.mechanism": "PLAIN", "sasl.username": "eventlake",
                             "sasl.password": PASSWORD, "log_level": 0})
        assert "secured" in right.list_topics(timeout=10).topics

        assert PASSWORD not in broker.log_file.read_text()
        assert (broker.data_dir / "server.properties").stat().st_mode & 0o077 == 0
    finally:
        broker.stop()
