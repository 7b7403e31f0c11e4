"""The `eventlake` command: global options, command groups, and the error-to-exit-code map.

Each command group lives in its own module with a ``register(app)`` function.
Exit codes: 0 success; 1 a failure the user must see (one line on stderr, traceback
only with --debug); 2 bad usage; 75 a retriable failure (EX_TEMPFAIL from sysexits.h: an
outage such as an unreachable broker or a locked catalog; running the same command later
can succeed, so scripts and supervisors may retry on 75 and stop on 1); 130 interrupted.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import TYPE_CHECKING, Any

from eventlake.cli import output, query_fast
from eventlake.errors import EventlakeError, UsageError

if TYPE_CHECKING:
    from eventlake.cli.app import app as app
    from eventlake.cli.app import app_for as app_for
    from eventlake.cli.app import make_app as make_app

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
    "deploy": "deploy",
    "dashboard": "dashboard",
    "demo": "demo",
    "status": "status",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))
# The global options that take a value (the word after them is not a command).
_VALUE_OPTIONS = ("--config", "--log-level")


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
        if not query_fast.run(sys.argv[1:]):
            from eventlake.cli.app import app_for

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


def __getattr__(name: str) -> Any:
    """The Typer app and its builders (`cli/app.py`), imported on first use: a plain query needs no Typer."""
    if name in ("app", "app_for", "make_app"):
        from eventlake.cli import app as built

        return getattr(built, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    run()
