"""One typed settings object, loaded once at the edge (CLI, app factory, notebook).

The bottom layer of the package: each stage's section model lives here (`config/<stage>.py`)
so every stage can import its settings without importing another stage.

The names load on first use (PEP 562): importing `eventlake.config.query_path` (a plain query's
pydantic-free settings) must not import pydantic through this package's `__init__`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventlake.config.aws import AwsSettings
    from eventlake.config.broker import BrokerSettings, KafkaClientSettings
    from eventlake.config.dashboard import DashboardSettings
    from eventlake.config.iceberg import IcebergSettings
    from eventlake.config.lake import S3Settings
    from eventlake.config.maintenance import MaintenanceSettings
    from eventlake.config.produce import ProduceSettings
    from eventlake.config.query import CrawlerSettings, QuerySettings
    from eventlake.config.settings import Settings, load_settings
    from eventlake.config.sink import SinkSettings

_WHERE = {
    "AwsSettings": "aws",
    "BrokerSettings": "broker",
    "KafkaClientSettings": "broker",
    "DashboardSettings": "dashboard",
    "IcebergSettings": "iceberg",
    "S3Settings": "lake",
    "MaintenanceSettings": "maintenance",
    "ProduceSettings": "produce",
    "CrawlerSettings": "query",
    "QuerySettings": "query",
    "Settings": "settings",
    "load_settings": "settings",
    "SinkSettings": "sink",
}

__all__ = [
    "AwsSettings",
    "BrokerSettings",
    "CrawlerSettings",
    "DashboardSettings",
    "IcebergSettings",
    "KafkaClientSettings",
    "MaintenanceSettings",
    "ProduceSettings",
    "QuerySettings",
    "S3Settings",
    "Settings",
    "SinkSettings",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"eventlake.config.{module}"), name)
