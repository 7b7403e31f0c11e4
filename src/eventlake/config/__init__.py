"""One typed settings object, loaded once at the edge (CLI, app factory, notebook).

The bottom layer of the package: each stage's section model lives here (`config/<stage>.py`)
so every stage can import its settings without importing another stage.
"""

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
