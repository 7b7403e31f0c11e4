"""Kafka's SCRAM users through the Admin API: add, list, remove.

Credentials live in the KRaft metadata (not in any file), salted and hashed by the client
library before they leave this process (`UserScramCredentialUpsertion`). User names are on
the same allow-list as the broker's own admin user; passwords are checked for strength like
the admin's. Nothing here prints, logs or repeats a password, and no message quotes one.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, cast

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialsDescription,
    UserScramCredentialUpsertion,
)

from eventlake.broker.clients import AdminConnection, raise_for_auth
from eventlake.broker.credentials import MIN_PASSWORD_CHARS, check_password, check_username
from eventlake.broker.exceptions import BrokerError, CredentialsRefused

log = logging.getLogger(__name__)

MECHANISM = ScramMechanism.SCRAM_SHA_512
MECHANISM_NAME = "SCRAM-SHA-512"
# Kafka's own default and minimum for SCRAM-SHA-512 is 4096; twice that costs a login ~10 ms.
ITERATIONS = 8192
MAKE_USER_PASSWORD = (
    "make one with `python -c 'import secrets; print(secrets.token_urlsafe(24))'` "
    "and pass it on stdin with --password-stdin"
)
USERNAME_HINT = "use 1 to 64 letters, digits, '.', '_' or '-'"


class UserError(BrokerError):
    """A SCRAM user could not be added, listed or removed."""


class UserNotFound(UserError):
    """The broker has no SCRAM credential for that user."""

    http_status = 404


class UserExists(UserError):
    """The user already has a SCRAM-SHA-512 credential (change it with --update)."""

    http_status = 409


@dataclass(frozen=True)
class UserInfo:
    """What may be shown about a user: the name and its mechanisms, never a secret."""

    name: str
    mechanisms: tuple[tuple[str, int], ...]  # (mechanism, iterations)


def checked_user(name: str) -> str:
    """`name` if it is on the allow-list, else a one-line CredentialsRefused that says what fits."""
    try:
        return check_username(name)
    except CredentialsRefused as exc:
        raise CredentialsRefused(exc.message.replace("SASL user name", "user name"), hint=USERNAME_HINT) from None


def check_not_admin(user: str, admin: str) -> None:
    """Refuse to change or remove the broker's admin here: `broker start` sets its password from
    broker.sasl_password every time, so a change made here would silently come undone."""
    if user == admin:
        raise CredentialsRefused(
            f"user {user} is this broker's admin, whose password comes from broker.sasl_password",
            hint="change EVENTLAKE_BROKER__SASL_PASSWORD (or broker.sasl_password) and restart the broker",
        )


def checked_password(password: str, *, user: str) -> str:
    """`password` if Kafka clients can send it and it is strong enough for a network-facing user."""
    try:
        return check_password(password, host=f"user {user}")
    except CredentialsRefused as exc:
        # Same checks as the broker's admin; the hint points at this command, not the broker's env.
        message = exc.message.replace(" to expose Kafka on user ", " of user ").replace(
            "the SASL password", "the password"
        )
        raise CredentialsRefused(message, hint=MAKE_USER_PASSWORD) from None


def _mechanism_name(mechanism: object) -> str:
    name = getattr(mechanism, "name", str(mechanism))
    return str(name).replace("_", "-")


class UserAdmin(AdminConnection):
    """SCRAM users of the Kafka cluster at `bootstrap_servers` (a super user's connection)."""

    def _fail(self, exc: KafkaException, doing: str) -> UserError:
        raise_for_auth(exc, self.bootstrap_servers, self.kafka, doing=doing)
        return UserError(f"could not {doing}: {_reason(exc)}")

    def describe(self, name: str) -> UserInfo | None:
        """The user's SCRAM mechanisms, or None when it has none."""
        self._reachable()
        user = checked_user(name)
        futures = cast(
            "dict[str, Future[Any]]",
            self._admin.describe_user_scram_credentials([user], request_timeout=self.timeout_s),
        )
        future = futures[user]
        try:
            desc = future.result(timeout=self.timeout_s)
        except KafkaException as exc:
            if _code(exc) == KafkaError.RESOURCE_NOT_FOUND:
                return None
            raise self._fail(exc, f"describe user {user}") from exc
        return _info(desc)

    def list(self) -> list[UserInfo]:
        """Every user with a SCRAM credential, sorted by name."""
        self._reachable()
        # Without names the call answers with one future for everyone (a dict with names).
        future = cast("Future[Any]", self._admin.describe_user_scram_credentials(request_timeout=self.timeout_s))
        try:
            described: dict[str, UserScramCredentialsDescription] = future.result(timeout=self.timeout_s)
        except KafkaException as exc:
            raise self._fail(exc, "list users") from exc
        return sorted((_info(d) for d in described.values()), key=lambda u: u.name)

    def add(self, name: str, password: str, *, update: bool = False) -> bool:
        """Create the user (or, with `update`, change its password); True if it was new.

        The password is hashed with a fresh random salt by librdkafka before it is sent;
        Kafka stores only the salted SCRAM keys.
        """
        user = checked_user(name)
        secret = checked_password(password, user=user)
        existing = self.describe(user)
        has_scram = existing is not None and any(m == MECHANISM_NAME for m, _ in existing.mechanisms)
        if has_scram and not update:
            raise UserExists(
                f"user {user} already exists",
                hint=f"change its password with `eventlake users add {user} --update`",
            )
        upsert = UserScramCredentialUpsertion(user, ScramCredentialInfo(MECHANISM, ITERATIONS), secret.encode("utf-8"))
        # An audit line: who, never the secret.
        log.info("%s SCRAM-SHA-512 user %s (%d iterations)", "updating" if has_scram else "adding", user, ITERATIONS)
        self._alter(upsert, user, f"add user {user}")
        return not has_scram

    def remove(self, name: str) -> None:
        """Delete the user's SCRAM credentials; UserNotFound if it has none."""
        user = checked_user(name)
        existing = self.describe(user)
        if existing is None or not existing.mechanisms:
            raise UserNotFound(f"user {user} does not exist", hint="`eventlake users list` shows the users")
        log.info("removing SCRAM user %s", user)
        for mechanism, _ in existing.mechanisms:
            kind = ScramMechanism[mechanism.replace("-", "_")]
            try:
                self._alter(UserScramCredentialDeletion(user, kind), user, f"remove user {user}")
            except UserError as exc:
                if isinstance(exc.__cause__, KafkaException) and _code(exc.__cause__) == KafkaError.RESOURCE_NOT_FOUND:
                    continue  # removed meanwhile by someone else: the outcome asked for
                raise

    def _alter(
        self, alteration: UserScramCredentialUpsertion | UserScramCredentialDeletion, user: str, doing: str
    ) -> None:
        self._reachable()
        future = self._admin.alter_user_scram_credentials([alteration], request_timeout=self.timeout_s)[user]
        try:
            future.result(timeout=self.timeout_s)
        except KafkaException as exc:
            raise self._fail(exc, doing) from exc


def _info(desc: UserScramCredentialsDescription) -> UserInfo:
    infos = desc.scram_credential_infos or []
    return UserInfo(
        name=str(desc.user),
        mechanisms=tuple(sorted((_mechanism_name(i.mechanism), int(i.iterations)) for i in infos)),
    )


def _code(exc: KafkaException) -> int | None:
    err = exc.args[0] if exc.args else None
    return err.code() if isinstance(err, KafkaError) else None


def _reason(exc: KafkaException) -> str:
    err = exc.args[0] if exc.args else exc
    return err.str() if isinstance(err, KafkaError) else str(err)


__all__ = [
    "ITERATIONS",
    "MECHANISM_NAME",
    "MIN_PASSWORD_CHARS",
    "UserAdmin",
    "UserError",
    "UserExists",
    "UserInfo",
    "UserNotFound",
    "checked_password",
    "checked_user",
]
