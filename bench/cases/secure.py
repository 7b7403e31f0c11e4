"""secure: eventlake's produce and sink over SASL_SSL (TLS + SCRAM-SHA-512, a user with ACLs) against
plaintext, on the same exposed broker in the same run.

The broker binds 198.18.X.1, the host's end of a test veth pair (tests/netns.py; needs root), so it
opens its SASL_SSL listener there and its plaintext listener on 127.0.0.1. Both clients run on this
machine: the only difference between the two paths is TLS, SCRAM and the ACL checks. Each pair
runs twice in alternating order (plaintext first, then SASL_SSL first), and the best of each is
compared, so a burst of load on a shared machine does not decide the ratio.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from bench.cases import cli_pair
from bench.context import Bench
from bench.results import EVENTLAKE_PLAINTEXT, EVENTLAKE_SASL_SSL, Run
from eventlake.broker import LocalBroker, TopicAdmin
from eventlake.config import BrokerSettings
from eventlake.runtime import free_port

ROUNDS = 2
USER = "bench"


@dataclass(frozen=True)
class SecureBroker:
    broker: LocalBroker
    admin: TopicAdmin
    plaintext: str  # 127.0.0.1:internal_port, no credentials
    secure: str  # 198.18.X.1:port, SASL_SSL
    env: dict[str, str]  # the SASL_SSL client settings, as eventlake reads them (never on argv)


@contextmanager
def secure_broker(data_dir: Path) -> Iterator[SecureBroker]:
    """An exposed broker on a veth address, a user with produce and sink rights on `bench-*`."""
    from tests.netns import other_machine

    from eventlake.broker.acls import AclAdmin, Role, grants_for
    from eventlake.broker.users import UserAdmin

    if data_dir.exists():
        shutil.rmtree(data_dir)
    with other_machine() as machine:
        host = machine.host_address
        broker = LocalBroker(
            BrokerSettings(
                host=host,
                advertise=host,
                port=free_port(host),
                controller_port=free_port(),
                internal_port=free_port(),
                data_dir=data_dir,
                heap="1g",
                sasl_password=SecretStr(secrets.token_urlsafe(24)),
                log_segment_bytes=256 * 1024 * 1024,
            )
        )
        broker.start()
        try:
            local = broker.local_bootstrap
            password = secrets.token_urlsafe(24)
            UserAdmin(local).add(USER, password)
            acls = AclAdmin(local)
            acls.grant(grants_for(USER, Role.produce, topic="bench-", prefix=True))
            acls.grant(grants_for(USER, Role.sink, topic="bench-", prefix=True, group="bench-", group_prefix=True))
            env = {
                "EVENTLAKE_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
                "EVENTLAKE_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
                "EVENTLAKE_KAFKA__SASL_USERNAME": USER,
                "EVENTLAKE_KAFKA__SASL_PASSWORD": password,
                "EVENTLAKE_KAFKA__SSL_CA_LOCATION": str(broker.data_dir / "tls" / "ca.pem"),
            }
            yield SecureBroker(broker, TopicAdmin(local), local, f"{host}:{broker.settings.port}", env)
        finally:
            broker.stop()


def _target(sb: SecureBroker, secure: bool) -> cli_pair.Target:
    return cli_pair.Target(
        "secure",
        EVENTLAKE_SASL_SSL if secure else EVENTLAKE_PLAINTEXT,
        sb.secure if secure else sb.plaintext,
        env=sb.env if secure else {},
        what=f"over {'SASL_SSL' if secure else 'plaintext'}",
    )


def run(bench: Bench) -> None:
    events = bench.sizes.produce_events
    measured: dict[tuple[str, bool], list[Run]] = {}
    with secure_broker(bench.work / "secure-broker") as sb:
        for round_ in range(ROUNDS):
            order = (False, True) if round_ % 2 == 0 else (True, False)
            for secure in order:
                label = f"{'sasl-ssl' if secure else 'plain'}-{round_}"
                topic = f"bench-secure-{label}-{secrets.token_hex(4)}"
                target = _target(sb, secure)
                sb.admin.create(topic, partitions=3)
                measured.setdefault(("produce", secure), []).append(
                    cli_pair.produce(bench, target, sb.admin, topic, events)
                )
                # The sink drains the topic it just filled: same events, same partitions.
                measured.setdefault(("sink", secure), []).append(cli_pair.sink(bench, target, topic, events, label))
                sb.admin.delete(topic)
    for case in ("produce", "sink"):
        for secure in (False, True):
            bench.add(cli_pair.best(measured[(case, secure)]))
