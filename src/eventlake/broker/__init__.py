"""The broker stage: a real local Apache Kafka (KRaft) and topic administration."""

from eventlake.broker.admin import PartitionInfo, TopicAdmin, TopicInfo
from eventlake.broker.clients import auth_failure, check_reachable, client_config, raise_for_auth
from eventlake.broker.exceptions import AuthenticationFailed, AuthorizationFailed
from eventlake.broker.server import BrokerStatus, LocalBroker

__all__ = [
    "AuthenticationFailed",
    "AuthorizationFailed",
    "BrokerStatus",
    "LocalBroker",
    "PartitionInfo",
    "TopicAdmin",
    "TopicInfo",
    "auth_failure",
    "check_reachable",
    "client_config",
    "raise_for_auth",
]
