"""`eventlake topics create|list|describe|delete|reassign`, with Kafka's own config names."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from eventlake.cli import output

if TYPE_CHECKING:
    from eventlake.broker import PartitionInfo, TopicAdmin, TopicInfo

from eventlake.cli.common import BootstrapOpt, ConfigOpt, FormatOpt, settings
from eventlake.errors import UsageError


def _admin(ctx: typer.Context, config: Path | None, bootstrap: str | None) -> TopicAdmin:
    from eventlake.broker import TopicAdmin  # the Kafka client loads only for topic commands

    s = settings(ctx, config, bootstrap_servers=bootstrap)
    return TopicAdmin(s.bootstrap_servers, s.kafka, timeout_s=s.kafka.connect_timeout_s)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Create, list, describe and delete Kafka topics.", no_args_is_help=True)

    @group.command("create")
    def create(
        ctx: typer.Context,
        name: str,
        partitions: Annotated[int, typer.Option("--partitions", min=1)] = 3,
        replication_factor: Annotated[
            int | None,
            typer.Option(
                "--replication-factor",
                min=1,
                help="Copies of each partition, on as many brokers [default: 3, or the brokers up if fewer].",
                show_default=False,
            ),
        ] = None,
        min_insync: Annotated[
            int | None,
            typer.Option(
                "--min-insync",
                min=1,
                help="min.insync.replicas: replicas in sync an acks=all write needs (1 to the replication factor).",
                show_default=False,
            ),
        ] = None,
        retention_ms: Annotated[int | None, typer.Option("--retention-ms", help="retention.ms")] = None,
        retention_bytes: Annotated[int | None, typer.Option("--retention-bytes", help="retention.bytes")] = None,
        segment_bytes: Annotated[int | None, typer.Option("--segment-bytes", help="segment.bytes")] = None,
        if_not_exists: Annotated[bool, typer.Option("--if-not-exists", help="No error if it exists.")] = False,
        bootstrap_servers: BootstrapOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Create a topic."""
        configs = {
            k: str(v)
            for k, v in {
                "retention.ms": retention_ms,
                "retention.bytes": retention_bytes,
                "segment.bytes": segment_bytes,
                "min.insync.replicas": min_insync,
            }.items()
            if v is not None
        }
        admin = _admin(ctx, config, bootstrap_servers)
        created = admin.create(name, partitions, replication_factor, configs, exist_ok=if_not_exists)
        if created and replication_factor is None:  # the default depends on the brokers: say what it was
            replication_factor = len(admin.describe(name).partitions[0].replicas)
        copies = f", replication factor {replication_factor}" if replication_factor and replication_factor > 1 else ""
        insync = f", min.insync.replicas {min_insync}" if min_insync is not None else ""
        made = f"created topic {name} ({partitions} partitions{copies}{insync})"
        output.info(made if created else f"topic {name} exists")

    @group.command("list")
    def list_(
        ctx: typer.Context,
        internal: Annotated[bool, typer.Option("--internal", help="Include __consumer_offsets etc.")] = False,
        fmt: FormatOpt = output.Format.table,
        bootstrap_servers: BootstrapOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """List topics."""
        admin = _admin(ctx, config, bootstrap_servers)
        rows = []
        for name in admin.names(include_internal=internal):
            info = admin.describe(name)
            rows.append((name, len(info.partitions), info.messages))
        output.print_rows(["topic", "partitions", "messages"], rows, fmt)

    @group.command("describe")
    def describe(
        ctx: typer.Context,
        name: str,
        fmt: FormatOpt = output.Format.table,
        bootstrap_servers: BootstrapOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Show partitions (leader, replicas, ISR, under-replicated/offline, offsets) and configs."""
        info = _admin(ctx, config, bootstrap_servers).describe(name)
        if fmt is output.Format.json:
            output.print_json(
                {
                    "name": info.name,
                    "configs": info.configs,
                    "min_insync_replicas": info.min_insync,
                    "writable_acks_all": info.writable,
                    "under_replicated": [p.partition for p in info.partitions if p.under_replicated],
                    "offline": [p.partition for p in info.partitions if p.offline],
                    "partitions": [p.as_dict() for p in info.partitions],
                }
            )
            return
        output.print_rows(
            ["partition", "leader", "replicas", "isr", "flags", "log_start_offset", "log_end_offset", "messages"],
            [
                (
                    p.partition,
                    p.leader if not p.offline else "none",
                    ",".join(map(str, p.replicas)),
                    ",".join(map(str, p.isr)),
                    _flags(p),
                    p.log_start_offset if p.offsets_known else "?",
                    p.log_end_offset if p.offsets_known else "?",
                    p.messages if p.offsets_known else "?",
                )
                for p in info.partitions
            ],
            fmt,
            title=f"topic {info.name}",
        )
        if fmt is output.Format.table:
            output.print_mapping(info.configs, fmt)
            output.info(_writability(info))

    @group.command("delete")
    def delete(ctx: typer.Context, name: str, bootstrap_servers: BootstrapOpt = None, config: ConfigOpt = None) -> None:
        """Delete a topic and its messages."""
        _admin(ctx, config, bootstrap_servers).delete(name)
        output.info(f"deleted topic {name}")

    @group.command("reassign")
    def reassign(
        ctx: typer.Context,
        name: Annotated[str | None, typer.Argument(metavar="[TOPIC]", show_default=False)] = None,
        partition: Annotated[int | None, typer.Option("--partition", min=0, show_default=False)] = None,
        replicas: Annotated[
            str | None,
            typer.Option(
                "--replicas",
                help="Broker ids, comma-separated, the preferred leader first (e.g. 1,2,4).",
                show_default=False,
            ),
        ] = None,
        wait: Annotated[bool, typer.Option("--wait", help="Wait until the new replicas are all in sync.")] = False,
        wait_timeout: Annotated[
            float, typer.Option("--timeout", min=1, help="How long --wait waits (seconds).")
        ] = 600.0,
        list_: Annotated[bool, typer.Option("--list", help="List the reassignments in progress.")] = False,
        fmt: FormatOpt = output.Format.table,
        bootstrap_servers: BootstrapOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Move a partition's replicas to other brokers (Kafka's own reassignment), or --list those running."""
        from eventlake.broker.acls import check_name
        from eventlake.broker.reassign import Reassigner, parse_replicas

        s = settings(ctx, config, bootstrap_servers=bootstrap_servers)
        mover = Reassigner(
            s.bootstrap_servers,
            s.kafka,
            timeout_s=s.kafka.connect_timeout_s,
            kafka_version=s.broker.kafka_version,
            cache_dir=s.broker.cache_dir,
        )
        if list_:
            if name is not None or partition is not None or replicas is not None:
                raise UsageError("--list takes no TOPIC, --partition or --replicas", hint="topics reassign --list")
            moves = mover.ongoing()
            if fmt is output.Format.json:
                output.print_json([m.as_dict() for m in moves])
            elif not moves:
                output.info("no reassignments in progress")
            else:
                output.print_rows(
                    ["topic", "partition", "replicas", "adding", "removing"],
                    [(m.topic, m.partition, _ids(m.replicas), _ids(m.adding), _ids(m.removing)) for m in moves],
                    fmt,
                    title="reassignments in progress",
                )
            return
        if name is None or partition is None or replicas is None:
            raise UsageError(
                "topics reassign needs TOPIC, --partition P and --replicas IDS (or --list)",
                hint="e.g. eventlake topics reassign orders --partition 0 --replicas 1,2,4 --wait",
            )
        check_name("topic", name)
        move, before = mover.plan(name, partition, parse_replicas(replicas))
        line = mover.start(move)
        output.info(f"{line}: replicas {_ids(before.replicas)} -> {_ids(move.replicas)}")
        if wait:
            done = mover.wait(move, wait_timeout)
            output.info(
                f"done: {name}-{partition} replicas {_ids(done.replicas)}, "
                f"in sync {_ids(done.isr)}, leader {done.leader}"
            )

    app.add_typer(group, name="topics")


def _ids(ids: list[int] | tuple[int, ...]) -> str:
    return ",".join(map(str, ids))


def _flags(p: PartitionInfo) -> str:
    return ",".join(f for f, on in (("offline", p.offline), ("under-replicated", p.under_replicated)) if on)


def _writability(info: TopicInfo) -> str:
    """One line: can a producer with acks=all write to this topic now?"""
    n = info.min_insync
    if info.writable is None:
        return "acks=all writes: unknown (min.insync.replicas could not be read)"
    if info.writable:
        return f"acks=all writes: yes (every partition has a leader and at least {n} in-sync replica(s))"
    offline = [p.partition for p in info.partitions if p.offline]
    if offline:
        return (
            f"acks=all writes: NO, partition(s) {_ids(offline)} have no leader: "
            "writes to them wait and time out until a replica's broker returns"
        )
    short = [p.partition for p in info.partitions if n is not None and len(p.isr) < n]
    return (
        f"acks=all writes: NO on partition(s) {_ids(short)}, fewer than min.insync.replicas={n} replicas "
        "in sync: producers get NOT_ENOUGH_REPLICAS"
    )
