"""`eventlake consume TOPIC`: read a topic as json lines, an aligned table or raw values."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from eventlake.cli.common import BootstrapOpt, ConfigOpt, settings

if TYPE_CHECKING:
    from eventlake.broker.consume import TopicReader


class ConsumeFormat(StrEnum):
    json = "json"
    table = "table"
    raw = "raw"


class SemanticsOpt(StrEnum):
    at_most_once = "at-most-once"
    at_least_once = "at-least-once"


def register(app: typer.Typer) -> None:
    @app.command("consume")
    def consume(
        ctx: typer.Context,
        topic: Annotated[str, typer.Argument(help="The topic to read.", metavar="TOPIC", show_default=False)],
        group: Annotated[
            str | None,
            typer.Option("--group", help="Commit offsets to this group (default: none, a throwaway read)."),
        ] = None,
        start: Annotated[
            str | None,
            typer.Option(
                "--from",
                help="earliest, latest, an ISO time (no zone: UTC) or an OFFSET for every chosen partition "
                "(default: the group's committed offsets, else earliest)",
                show_default=False,
            ),
        ] = None,
        partitions: Annotated[
            list[int] | None, typer.Option("--partition", help="Read only this partition (repeatable).", min=0)
        ] = None,
        limit: Annotated[int | None, typer.Option("--limit", min=1, help="Stop after N messages.")] = None,
        until_end: Annotated[
            bool, typer.Option("--until-end", help="Stop at the end of every partition as it was at start.")
        ] = False,
        fmt: Annotated[
            ConsumeFormat, typer.Option("--format", help="json (one object a line), table or raw (value bytes)")
        ] = ConsumeFormat.json,
        semantics: Annotated[
            SemanticsOpt | None,
            typer.Option(
                "--semantics",
                help="With --group: commit before (at-most-once) or after (at-least-once, the default) "
                "each message is printed. Exactly-once is `eventlake sink`.",
                show_default=False,
            ),
        ] = None,
        bootstrap_servers: BootstrapOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Print a topic's messages with keys, headers and timestamps; Ctrl-C stops."""
        from eventlake.broker.consume import (
            TABLE_HEADER,
            ConsumeRequest,
            Semantics,
            TopicReader,
            parse_start,
        )

        request = ConsumeRequest(
            topic=topic,
            group=group,
            start=parse_start(start) if start is not None else None,
            partitions=tuple(partitions or ()),
            limit=limit,
            until_end=until_end,
            semantics=Semantics(semantics.value) if semantics else None,
        ).checked()
        s = settings(ctx, config, bootstrap_servers=bootstrap_servers)
        reader = TopicReader(s.bootstrap_servers, s.kafka, request)
        _print(reader, fmt, TABLE_HEADER)


def _print(reader: TopicReader, fmt: ConsumeFormat, table_header: str) -> None:
    out = sys.stdout
    terminal = out.isatty()
    header_due = fmt is ConsumeFormat.table
    # Each message is written and flushed before the next is asked for: at-least-once commits
    # only what has reached stdout.
    for record in reader.records():
        if fmt is ConsumeFormat.raw:
            out.buffer.write(record.raw_bytes(terminal))
            out.buffer.flush()
            continue
        if header_due:
            out.write(table_header + "\n")
            header_due = False
        out.write((record.json_line() if fmt is ConsumeFormat.json else record.table_line()) + "\n")
        out.flush()
