"""Session-wide services the tests share: one real Kafka broker, started lazily.

The broker is started through eventlake's own `broker` package on free ports with
its own data dir, once per session, and stopped at the end. Each test isolates
itself with unique topic and group names (`unique_name`).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventlake.broker import LocalBroker, TopicAdmin
from eventlake.config import BrokerSettings
from eventlake.runtime import free_port

# Each stage's shared fixtures live in tests/fixtures_<stage>.py and are loaded here.
pytest_plugins = sorted(f"tests.{p.stem}" for p in Path(__file__).parent.glob("fixtures_*.py"))


@pytest.fixture(scope="session")
def broker_settings(tmp_path_factory: pytest.TempPathFactory) -> BrokerSettings:
    port = free_port()
    controller = free_port()
    return BrokerSettings(
        port=port,
        controller_port=controller,
        data_dir=tmp_path_factory.mktemp("broker"),
        heap="768m",
        start_timeout_s=120,
    )


@pytest.fixture(scope="session")
def kafka(broker_settings: BrokerSettings) -> Iterator[LocalBroker]:
    """A real Apache Kafka (KRaft) for the whole session."""
    broker = LocalBroker(broker_settings)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def bootstrap(kafka: LocalBroker) -> str:
    return kafka.bootstrap


@pytest.fixture(scope="session")
def admin(bootstrap: str) -> TopicAdmin:
    return TopicAdmin(bootstrap)


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A topic/group name no other test uses: test name plus a random suffix."""
    base = request.node.name.split("[")[0].replace("test_", "")[:30].replace("_", "-")
    return f"{base}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def topic(admin: TopicAdmin, unique_name: str) -> str:
    """A fresh 3-partition topic."""
    admin.create(unique_name, partitions=3)
    return unique_name


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep files a person may want to look at (screenshots)."""
    path = Path(os.environ.get("EVENTLAKE_TEST_ARTIFACTS", "test-artifacts")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def require_tool(name: str) -> str:
    """Path of a system tool the tests need; in CI its absence fails instead of skipping."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (make test installs it when run as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
