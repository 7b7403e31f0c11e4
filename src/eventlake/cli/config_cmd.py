"""`eventlake config show`: the effective settings, secrets masked; `--doc`: what every setting means."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from eventlake.cli import output
from eventlake.cli.common import ConfigOpt, settings
from eventlake.config.doc import setting_docs

DOC_COLUMNS = ("name", "type", "default", "env", "description")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Inspect settings.", no_args_is_help=True)

    @group.command("show")
    def show(
        ctx: typer.Context,
        doc: Annotated[
            bool,
            typer.Option("--doc", help="List every setting: dotted name, type and choices, default, env var, meaning."),
        ] = False,
        fmt: Annotated[
            output.Format | None,
            typer.Option(
                "--format",
                help="table, json or csv (default: json for the settings, table for --doc)",
                show_default=False,
            ),
        ] = None,
        config: ConfigOpt = None,
    ) -> None:
        """Print the effective settings (defaults < file < env < flags), secrets masked; --doc documents them."""
        if doc:  # the documentation needs no settings file, and a broken one must not hide it
            rows = [tuple(d.as_dict()[c] for c in DOC_COLUMNS) for d in setting_docs()]
            output.print_rows(DOC_COLUMNS, rows, fmt or output.Format.table)
            return
        values = settings(ctx, config).masked()
        if fmt is None or fmt is output.Format.json:
            output.print_json(values)
            return
        leaves = {d.name for d in setting_docs()}
        output.print_rows(("name", "value"), _flatten(values, leaves), fmt)

    app.add_typer(group, name="config")


def _flatten(values: dict[str, Any], leaves: set[str], prefix: str = "") -> list[tuple[str, Any]]:
    """Sections into dotted names; a setting that is itself a table (kafka.extra) stays one row."""
    rows: list[tuple[str, Any]] = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name not in leaves:
            rows += _flatten(value, leaves, f"{name}.")
        else:
            rows.append((name, output.to_json(value, indent=False) if isinstance(value, (dict, list)) else value))
    return rows
