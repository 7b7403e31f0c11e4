"""`eventlake config show`: the effective settings, secrets masked."""

from __future__ import annotations

import typer

from eventlake.cli import output
from eventlake.cli.common import ConfigOpt, settings


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Inspect settings.", no_args_is_help=True)

    @group.command("show")
    def show(ctx: typer.Context, config: ConfigOpt = None) -> None:
        """Print the effective settings (file < env < flags) as JSON, secrets masked."""
        output.print_json(settings(ctx, config).masked())

    app.add_typer(group, name="config")
