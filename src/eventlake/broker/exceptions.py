"""Errors of the broker stage: Java, jars, the local server, and reaching any Kafka."""

from __future__ import annotations

from eventlake.errors import EventlakeError


class BrokerError(EventlakeError):
    """The local broker could not be started, stopped or inspected."""


class JarsUnavailable(BrokerError):
    """The Kafka jars could not be resolved into the cache (the network or Maven Central is down)."""

    http_status = 503
    retriable = True


class PortInUse(BrokerError):
    """Another process listens where the broker should."""


class BrokerUnreachable(BrokerError):
    """No Kafka answered at the bootstrap address in time."""

    http_status = 503
    retriable = True


class TopicError(BrokerError):
    """A topic could not be created, described or deleted."""


class TopicNotFound(TopicError):
    """The topic does not exist (auto-creation is off by design)."""

    http_status = 404


class CredentialsRefused(BrokerError):
    """The broker's own SASL user name or password is unusable or too weak to expose Kafka with."""


class AuthenticationFailed(BrokerError):
    """Kafka answered but refused the client's credentials (SASL authentication failed).

    502, not 401: these are the server's own credentials for Kafka, not the HTTP caller's
    (the dashboard's token check answers 401 for those)."""

    http_status = 502


class AuthorizationFailed(BrokerError):
    """Kafka accepted the credentials but the user may not do what was asked (ACLs).

    502, not 403, for the same reason as AuthenticationFailed."""

    http_status = 502
