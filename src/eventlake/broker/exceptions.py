"""Errors of the broker stage: Java, jars, the local server, and reaching any Kafka."""

from __future__ import annotations

from eventlake.errors import EventlakeError


class BrokerError(EventlakeError):
    """The local broker could not be started, stopped or inspected."""


class JarsUnavailable(BrokerError):
    """The Kafka jars could not be resolved into the cache."""

    retriable = True


class PortInUse(BrokerError):
    """Another process listens where the broker should."""


class BrokerUnreachable(BrokerError):
    """No Kafka answered at the bootstrap address in time."""

    retriable = True


class TopicError(BrokerError):
    """A topic could not be created, described or deleted."""


class TopicNotFound(TopicError):
    """The topic does not exist (auto-creation is off by design)."""


class CredentialsRefused(BrokerError):
    """The broker's own SASL user name or password is unusable or too weak to expose Kafka with."""


class AuthenticationFailed(BrokerError):
    """Kafka answered but refused the client's credentials (SASL authentication failed)."""


class AuthorizationFailed(BrokerError):
    """Kafka accepted the credentials but the user may not do what was asked (ACLs)."""
