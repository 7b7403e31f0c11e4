"""Rendering for the CLI: tables for people, JSON and CSV for programs.

Commands get data back from the library (read-models that never print) and hand it
here; the dashboard renders the same read-models as pages.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from rich.console import Console

# rich is loaded on the first table or message: JSON and CSV output (scripts, `eventlake query
# --format json`) never pay its import.


@cache
def console() -> Console:
    """stdout, for tables."""
    from rich.console import Console

    return Console()


@cache
def err_console() -> Console:
    """stderr, for messages and progress."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def to_json(value: Any, indent: bool = True) -> str:
    opts = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
    if indent:
        opts |= orjson.OPT_INDENT_2
    return orjson.dumps(value, default=_default, option=opts).decode()


def print_json(value: Any) -> None:
    sys.stdout.write(to_json(value) + "\n")
    sys.stdout.flush()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, (datetime, date)) else value


def print_rows(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    fmt: Format = Format.table,
    title: str | None = None,
) -> None:
    rows = list(rows)
    if fmt is Format.json:
        print_json([dict(zip(columns, row, strict=False)) for row in rows])
    elif fmt is Format.csv:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(v) for v in row])
        sys.stdout.write(buf.getvalue())
        sys.stdout.flush()
    else:
        from rich.table import Table

        table = Table(title=title, show_lines=False, header_style="bold")
        for col in columns:
            table.add_column(str(col))
        for row in rows:
            table.add_row(*(_cell(v) for v in row))
        console().print(table)


def print_mapping(mapping: dict[str, Any], fmt: Format = Format.table, title: str | None = None) -> None:
    if fmt is Format.json:
        print_json(mapping)
        return
    print_rows(
        ["key", "value"],
        [(k, v if not isinstance(v, (dict, list)) else to_json(v, False)) for k, v in mapping.items()],
        fmt,
        title,
    )


def info(message: str) -> None:
    # Messages carry user data (topic names, SQL, [brackets]): never read them as markup.
    err_console().print(message, markup=False, highlight=False, soft_wrap=True)


def error(message: str) -> None:
    from rich.text import Text

    err_console().print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
