"""`eventlake acl grant|list|revoke`: Kafka ACLs in the roles eventlake's users need (broker/acls.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from eventlake.cli import output
from eventlake.cli.common import BootstrapOpt, ConfigOpt, FormatOpt, settings
from eventlake.errors import UsageError

if TYPE_CHECKING:
    from eventlake.broker.acls import AclAdmin, Grant
    from eventlake.config import Settings

TopicOpt = Annotated[str, typer.Option("--topic", help="The topic (or, with --prefix, the start of its names).")]
PrefixOpt = Annotated[
    bool, typer.Option("--prefix", help="--topic is a prefix: every topic whose name starts with it.")
]
ProduceOpt = Annotated[bool, typer.Option("--produce", help="WRITE and DESCRIBE on the topic.")]
ConsumeOpt = Annotated[bool, typer.Option("--consume", help="READ and DESCRIBE on the topic, READ on the group.")]
SinkOpt = Annotated[
    bool, typer.Option("--sink", help="What `eventlake sink` needs: --consume, the topic's configs, its .dlq topic.")
]
GroupOpt = Annotated[str | None, typer.Option("--group", help="Consumer group (needed by --consume and --sink).")]
GroupPrefixOpt = Annotated[
    str | None, typer.Option("--group-prefix", help="Every consumer group whose name starts with this.")
]
ExactlyOnceOpt = Annotated[
    bool,
    typer.Option("--exactly-once", help="With --produce: the transactional ids and progress topic of --exactly-once."),
]


def _acl_admin(s: Settings) -> AclAdmin:
    from eventlake.broker.acls import AclAdmin  # the Kafka client loads only for these commands

    return AclAdmin(s.bootstrap_servers, s.kafka, timeout_s=s.kafka.connect_timeout_s)


def _grants(
    user: str,
    topic: str,
    prefix: bool,
    produce: bool,
    consume: bool,
    sink: bool,
    group: str | None,
    group_prefix: str | None,
    exactly_once: bool,
) -> list[Grant]:
    from eventlake.broker.acls import Role, grants_for

    roles = [r for r, on in ((Role.produce, produce), (Role.consume, consume), (Role.sink, sink)) if on]
    if len(roles) != 1:
        raise UsageError("give exactly one of --produce, --consume or --sink", hint="one role per command")
    if group is not None and group_prefix is not None:
        raise UsageError("give --group or --group-prefix, not both", hint="one consumer group rule per command")
    return grants_for(
        user,
        roles[0],
        topic=topic,
        prefix=prefix,
        group=group if group is not None else group_prefix,
        group_prefix=group_prefix is not None,
        exactly_once=exactly_once,
    )


def register(app: typer.Typer) -> None:
    from eventlake.cli.users import user_admin

    group_app = typer.Typer(
        help="Grant, list and revoke Kafka ACLs (who may produce or consume what).", no_args_is_help=True
    )

    @group_app.command("grant")
    def grant(
        ctx: typer.Context,
        user: str,
        topic: TopicOpt,
        prefix: PrefixOpt = False,
        produce: ProduceOpt = False,
        consume: ConsumeOpt = False,
        sink: SinkOpt = False,
        group: GroupOpt = None,
        group_prefix: GroupPrefixOpt = None,
        exactly_once: ExactlyOnceOpt = False,
        bootstrap_servers: BootstrapOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Allow USER to produce to or consume from a topic (or every topic starting with a prefix)."""
        grants = _grants(user, topic, prefix, produce, consume, sink, group, group_prefix, exactly_once)
        s = settings(ctx, config, bootstrap_servers=bootstrap_servers)
        _acl_admin(s).grant(grants)
        output.info(
            f"granted {len(grants)} ACLs to user {grants[0].user} (`eventlake acl list --user {grants[0].user}`)"
        )
        # ACLs may name a user that does not exist yet; a typo would grant nobody anything.
        if user_admin(s).describe(grants[0].user) is None:
            output.info(
                f"note: user {grants[0].user} has no SCRAM credential yet (`eventlake users add {grants[0].user}`)"
            )

    @group_app.command("revoke")
    def revoke(
        ctx: typer.Context,
        user: str,
        topic: TopicOpt,
        prefix: PrefixOpt = False,
        produce: ProduceOpt = False,
        consume: ConsumeOpt = False,
        sink: SinkOpt = False,
        group: GroupOpt = None,
        group_prefix: GroupPrefixOpt = None,
        exactly_once: ExactlyOnceOpt = False,
        bootstrap_servers: BootstrapOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Remove exactly the ACLs the same `acl grant` made."""
        grants = _grants(user, topic, prefix, produce, consume, sink, group, group_prefix, exactly_once)
        from eventlake.broker.acls import AclNotFound

        removed = _acl_admin(settings(ctx, config, bootstrap_servers=bootstrap_servers)).revoke(grants)
        if not removed:
            raise AclNotFound(
                f"user {grants[0].user} has none of these ACLs",
                hint=f"`eventlake acl list --user {grants[0].user}` shows what it has",
            )
        output.info(f"revoked {len(removed)} ACLs of user {grants[0].user}")

    @group_app.command("list")
    def list_(
        ctx: typer.Context,
        user: Annotated[str | None, typer.Option("--user", help="Only this user's ACLs.")] = None,
        topic: Annotated[str | None, typer.Option("--topic", help="Only ACLs that apply to this topic.")] = None,
        fmt: FormatOpt = output.Format.table,
        bootstrap_servers: BootstrapOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """List ACLs: every one, a user's, or those that apply to a topic (literal, prefixed or '*')."""
        from eventlake.broker.acls import COLUMNS, rows

        grants = _acl_admin(settings(ctx, config, bootstrap_servers=bootstrap_servers)).list(user=user, topic=topic)
        output.print_rows(COLUMNS, rows(grants), fmt)

    app.add_typer(group_app, name="acl")
