"""The Typer app of the `eventlake` command: global options and the registered command groups.

Kept apart from `cli/main.py` (the entry point) so a plain `eventlake query` line runs without
importing Typer at all (`cli/query_fast.py`).
"""

from __future__ import annotations

import importlib
import logging
import sys
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated

import typer

from eventlake import __version__
from eventlake.cli.common import GlobalState
from eventlake.cli.main import COMMAND_MODULES, COMMANDS, command_word


def _version(value: bool) -> None:
    if value:
        typer.echo(f"eventlake {__version__}")
        raise typer.Exit()


class LogLevel(StrEnum):
    """The levels `logging` knows; anything else is refused by Typer with the list (exit 2)."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


def main(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option("--config", help="Settings file (default ./eventlake.toml).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and client logs.")] = False,
    log_level: Annotated[
        LogLevel, typer.Option("--log-level", case_sensitive=False, help="Log level of eventlake's own logs.")
    ] = LogLevel.WARNING,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    ctx.obj = GlobalState(config=config, debug=debug)
    level = "DEBUG" if debug else log_level.value
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def make_app(modules: tuple[str, ...] = COMMAND_MODULES) -> typer.Typer:
    """The `eventlake` command with the commands of `modules` (default: all)."""
    new = typer.Typer(
        name="eventlake",
        help="Events into Kafka, into a Parquet lake, into SQL and live dashboards: exactly once.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    new.callback()(main)
    # Command modules are light: each loads its stage's library only when its command runs.
    for name in modules:
        importlib.import_module(f"eventlake.cli.{name}").register(new)
    return new


@cache
def whole_app() -> typer.Typer:
    """Every command: built on first use (a line naming one command never imports the others)."""
    return make_app()


def app_for(args: list[str]) -> typer.Typer:
    """Only the named command's module when the line names a known command: on every run Typer
    builds the parameters of each registered command (reading their type hints), which for all
    of them cost more than a small query. Help, --version and unknown words get every command."""
    word = command_word(args)
    return make_app((COMMANDS[word],)) if word in COMMANDS else whole_app()


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        return whole_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
