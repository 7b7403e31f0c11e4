"""The broker stage: a real local Apache Kafka (KRaft) and topic administration."""

from eventlake.broker.admin import PartitionInfo, TopicAdmin, TopicInfo
from eventlake.broker.clients import check_reachable, client_config
from eventlake.broker.server import BrokerStatus, LocalBroker, free_port
from eventlake.broker.settings import BrokerSettings, KafkaClientSettings

__all__ = [
    "BrokerSettings",
    "BrokerStatus",
    "KafkaClientSettings",
    "LocalBroker",
    "PartitionInfo",
    "TopicAdmin",
    "TopicInfo",
    "check_reachable",
    "client_config",
    "free_port",
]
