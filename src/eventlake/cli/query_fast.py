"""`eventlake query` without Typer: the start-up fast path of the most common command line.

Building the Typer app (importing Typer and click, reading the command's type hints) costs about
as much CPU as a small query. A line that is exactly `query SQL` with options of the command,
each given once as `--option VALUE` with a value that plainly fits, runs here; anything else
(help, a global option, `--option=value`, a repeated or unknown option, a value Typer would
refuse or convert) goes to Typer, so every usage error and help text stays Typer's own.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

# option -> check of its value (a value that fails goes to Typer, which explains the problem)
_NUMBER = re.compile(r"[0-9]{1,18}")
_DECIMAL = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?")
_OPTIONS: dict[str, Callable[[str], bool]] = {
    "--format": lambda v: v in ("table", "csv", "json", "parquet"),
    "--out": bool,
    "--max-rows": lambda v: _NUMBER.fullmatch(v) is not None,
    "--time-limit": lambda v: _DECIMAL.fullmatch(v) is not None and float(v) >= 0.01,
    "--engine": bool,
    "--lake": bool,
    "--catalog": bool,
    "--config": bool,
    "--as-of": bool,  # checked by run_query's allow-lists, the same on both paths
}


def parse(args: list[str]) -> tuple[str, dict[str, str]] | None:
    """(SQL, {option: value}) when `args` is a plain `query` line, else None (Typer's turn)."""
    if len(args) < 2 or args[0] != "query" or "_EVENTLAKE_COMPLETE" in os.environ:
        return None
    sql: str | None = None
    options: dict[str, str] = {}
    words = iter(args[1:])
    for word in words:
        if word.startswith("-"):
            check = _OPTIONS.get(word)
            value = next(words, None)
            if check is None or word in options or value is None or value.startswith("-") or not check(value):
                return None
            options[word] = value
        elif sql is None:
            sql = word
        else:
            return None  # a second argument: Typer's usage error
    return (sql, options) if sql is not None else None


def run(args: list[str]) -> bool:
    """Run `args` if it is a plain `query` line (True), else do nothing (False)."""
    parsed = parse(args)
    if parsed is None:
        return False
    sql, options = parsed
    # What the Typer app's callback does with no global options.
    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from eventlake.cli.query_run import QueryFormat, query_settings, run_query

    get = options.get
    max_rows, time_limit, out, config = get("--max-rows"), get("--time-limit"), get("--out"), get("--config")
    s = query_settings(
        Path(config) if config is not None else None,
        get("--lake"),
        get("--catalog"),
        int(max_rows) if max_rows is not None else None,
        float(time_limit) if time_limit is not None else None,
        get("--engine"),
    )
    try:
        run_query(s, sql, QueryFormat(get("--format", "table")), Path(out) if out is not None else None, get("--as-of"))
    except KeyboardInterrupt:  # as Typer: exit 130, nothing printed
        sys.exit(130)
    except BrokenPipeError:  # as click: a closed stdout (`| head`) ends the command quietly, exit 1
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing flushes into it at exit
        sys.exit(1)
    return True
