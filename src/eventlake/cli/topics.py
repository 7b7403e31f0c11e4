"""`eventlake topics create|list|describe|delete`, with Kafka's own config names."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from eventlake.cli import output

if TYPE_CHECKING:
    from eventlake.broker import TopicAdmin

from eventlake.cli.common import BootstrapOpt, ConfigOpt, FormatOpt, settings


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
        replication_factor: Annotated[int, typer.Option("--replication-factor", min=1)] = 1,
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
            }.items()
            if v is not None
        }
        created = _admin(ctx, config, bootstrap_servers).create(
            name, partitions, replication_factor, configs, exist_ok=if_not_exists
        )
        output.info(f"created topic {name} ({partitions} partitions)" if created else f"topic {name} exists")

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
        """Show partitions (leader, replicas, log start and end offsets) and configs."""
        info = _admin(ctx, config, bootstrap_servers).describe(name)
        if fmt is output.Format.json:
            output.print_json(
                {
                    "name": info.name,
                    "configs": info.configs,
                    "partitions": [p.__dict__ for p in info.partitions],
                }
            )
            return
        output.print_rows(
            ["partition", "leader", "replicas", "isr", "log_start_offset", "log_end_offset", "messages"],
            [
                (
                    p.partition,
                    p.leader,
                    ",".join(map(str, p.replicas)),
                    ",".join(map(str, p.isr)),
                    p.log_start_offset,
                    p.log_end_offset,
                    p.messages,
                )
                for p in info.partitions
            ],
            fmt,
            title=f"topic {info.name}",
        )
        if fmt is output.Format.table:
            output.print_mapping(info.configs, fmt)

    @group.command("delete")
    def delete(ctx: typer.Context, name: str, bootstrap_servers: BootstrapOpt = None, config: ConfigOpt = None) -> None:
        """Delete a topic and its messages."""
        _admin(ctx, config, bootstrap_servers).delete(name)
        output.info(f"deleted topic {name}")

    app.add_typer(group, name="topics")
