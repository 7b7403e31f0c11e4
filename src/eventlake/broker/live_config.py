"""What the running broker is told through Kafka's Admin API on its loopback listener.

- The admin's SCRAM credential: the Admin API is the only way that keeps the password off
  every command line (`kafka-storage format --add-scram` would show it in `ps`) and out of
  every file (Kafka keeps only the salted hash, in its metadata log).
- A new certificate: setting the EXTERNAL listener's keystore location again (to the same
  path) makes Kafka read the changed file and serve the new certificate without a restart.
"""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from eventlake.broker.clients import admin_client
from eventlake.broker.exceptions import BrokerError

SCRAM_ITERATIONS = 8192
KEYSTORE_LOCATION = "listener.name.external.ssl.keystore.location"
_TIMEOUT_S = 30.0


def upsert_scram_user(local_bootstrap: str, user: str, password: str) -> None:
    """Create or update `user` with a SCRAM-SHA-512 credential (new salt each time); idempotent."""
    upsert = UserScramCredentialUpsertion(
        user,
        ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
        password.encode("utf-8"),
    )
    admin = admin_client(local_bootstrap)
    try:
        for future in admin.alter_user_scram_credentials([upsert], request_timeout=_TIMEOUT_S).values():
            future.result(timeout=_TIMEOUT_S)
    except KafkaException as exc:
        # The error names the user at most, never the password: librdkafka does not echo it.
        raise BrokerError(
            f"the broker did not take the admin user {user}'s SCRAM credential: {exc.args[0]}",
            hint="see `eventlake broker logs`; start again to retry",
        ) from None


def reload_keystore(local_bootstrap: str, node_id: str, keystore: str) -> None:
    """Make the EXTERNAL listener read its keystore file again (after a new certificate was written).

    The override is removed again right after: the static value (the same path) then holds, so
    no stale path stays in the metadata log to outlive a moved data dir.
    """
    admin = admin_client(local_bootstrap)
    try:
        for op in (AlterConfigOpType.SET, AlterConfigOpType.DELETE):
            entry = ConfigEntry(KEYSTORE_LOCATION, keystore, incremental_operation=op)
            resource = ConfigResource(ResourceType.BROKER, node_id, incremental_configs=[entry])
            for future in admin.incremental_alter_configs([resource], request_timeout=_TIMEOUT_S).values():
                future.result(timeout=_TIMEOUT_S)
    except KafkaException as exc:
        raise BrokerError(
            f"the running broker did not take the new certificate: {exc.args[0]}",
            hint="the new files are written; restart the broker (`eventlake broker stop`, then start) to use them",
        ) from None
