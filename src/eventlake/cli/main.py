"""The `eventlake` command: global options, command groups, and the error-to-exit-code map.

Each command group lives in its own module with a ``register(app)`` function.
Exit codes: 0 success; 1 a failure the user must see (one line on stderr, traceback
only with --debug); 2 bad usage; 75 a retriable failure (EX_TEMPFAIL from sysexits.h: an
outage such as an unreachable broker or a locked catalog; running the same command later
can succeed, so scripts and supervisors may retry on 75 and stop on 1); 130 interrupted.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import traceback
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from eventlake import __version__
from eventlake.cli import output
from eventlake.cli.common import GlobalState
from eventlake.errors import EventlakeError, UsageError

# Each command (or command group) by name -> the module that registers it, in the order of the
# data flow (`eventlake --help` lists them so). tests/unit/test_cli_commands.py checks it.
COMMANDS = {
    "config": "config_cmd",
    "broker": "broker",
    "topics": "topics",
    "consume": "consume",
    "users": "users",
    "acl": "acl",
    "client-config": "client_config",
    "produce": "produce",
    "sink": "sink",
    "crawl": "crawl",
    "tables": "tables",
    "catalog": "catalog",
    "views": "views",
    "compact": "compact",
    "maintain": "maintain",
    "query": "query",
    "sql": "query",
    "glue": "glue",
    "dashboard": "dashboard",
    "demo": "demo",
    "status": "status",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))
# The global options that take a value (the word after them is not a command).
_VALUE_OPTIONS = ("--config", "--log-level")


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


app = make_app()


def command_word(args: list[str]) -> str | None:
    """The command a command line names after the global options, if any."""
    words = iter(args)
    for word in words:
        if word in _VALUE_OPTIONS:
            next(words, None)
        elif word == "--":
            return None
        elif not word.startswith("-"):
            return word
    return None


def app_for(args: list[str]) -> typer.Typer:
    """Only the named command's module when the line names a known command: on every run Typer
    builds the parameters of each registered command (reading their type hints), which for all
    of them cost more than a small query. Help, --version and unknown words get every command."""
    word = command_word(args)
    return make_app((COMMANDS[word],)) if word in COMMANDS else app


def _debug_requested() -> bool:
    return "--debug" in sys.argv or os.environ.get("EVENTLAKE_DEBUG", "") not in ("", "0")


# sysexits.h: "temporary failure; user is invited to retry" (os.EX_TEMPFAIL is POSIX-only).
EX_TEMPFAIL = 75


def exit_code_for(exc: EventlakeError) -> int:
    """2 bad usage, 75 worth retrying as is, else 1."""
    if isinstance(exc, UsageError):
        return 2
    return EX_TEMPFAIL if exc.retriable else 1


def run() -> None:
    """Console-script entry point: Typer handles usage errors (exit 2); we handle ours."""
    try:
        app_for(sys.argv[1:])()
    except EventlakeError as exc:
        _report(exc)
        sys.exit(exit_code_for(exc))
    except KeyboardInterrupt:
        output.error("interrupted")
        sys.exit(130)


def _report(exc: EventlakeError) -> None:
    if _debug_requested():
        traceback.print_exc()
    output.error(exc.one_line())


if __name__ == "__main__":
    run()
