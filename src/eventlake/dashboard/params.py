"""Filling a panel's SQL: viewer parameters as safe SQL literals, and the time window.

Values never reach SQL as text to be parsed: a string becomes one quoted literal
(quotes doubled), a number is parsed and re-printed, and a parameter with choices
accepts only those. Built-in placeholders come from the panel's window:

- ``{window_start}``: ``TIMESTAMPTZ 'YYYY-MM-DD HH:MM:SS+00:00'``, for the event-time filter;
- ``{recent_partitions}``: a predicate on the sink's ``dt``/``hour`` partition columns
  covering the window, so a refresh reads only the partitions it needs;
- ``{window_seconds}``: the window length as a number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from eventlake.dashboard.exceptions import BadParameter
from eventlake.dashboard.specs import PLACEHOLDER_RE, Dashboard, Panel, Parameter

Value = str | int | float


def sql_literal(value: Value) -> str:
    """One SQL literal for a value; strings are quoted with quotes doubled."""
    if isinstance(value, bool):
        raise BadParameter("boolean parameters are not supported")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadParameter(f"number {value} is not finite")
        return repr(value)
    if "\x00" in value:
        raise BadParameter("parameter values cannot contain NUL characters")
    return "'" + value.replace("'", "''") + "'"


def coerce(param: Parameter, raw: Value) -> Value:
    """A viewer's value in the parameter's type, checked against its choices."""
    try:
        value: Value
        if param.type == "int":
            value = int(raw)
        elif param.type == "float":
            value = float(raw)
        else:
            value = str(raw)
    except (TypeError, ValueError) as exc:
        raise BadParameter(f"parameter {param.name} must be {param.type}, got {raw!r}") from exc
    if param.choices and value not in param.choices and str(value) not in {str(c) for c in param.choices}:
        raise BadParameter(f"parameter {param.name} must be one of {', '.join(map(str, param.choices))}; "
                           f"got {raw!r}")
    return value


def resolve(dashboard: Dashboard, given: Mapping[str, str]) -> dict[str, Value]:
    """Every parameter's value: the viewer's if given (validated), else its default."""
    params = dashboard.all_parameters()
    unknown = sorted(set(given) - set(params) - {"token"})
    if unknown:
        raise BadParameter(f"dashboard {dashboard.name} has no parameter {unknown[0]!r}",
                           hint=f"its parameters: {', '.join(params) or 'none'}")
    return {name: coerce(p, given[name]) if name in given else coerce(p, p.default) for name, p in params.items()}


def window_values(window_s: float, now: float) -> dict[str, str]:
    start = datetime.fromtimestamp(now - window_s, UTC)
    day = start.strftime("%Y-%m-%d")
    hour = start.strftime("%H")
    return {
        # With its zone: compared with the sink's UTC timestamps it means the same instant
        # whatever the engine's session time zone.
        "window_start": f"TIMESTAMPTZ '{start.strftime('%Y-%m-%d %H:%M:%S')}+00:00'",
        "recent_partitions": f"(dt > '{day}' OR (dt = '{day}' AND hour >= '{hour}'))",
        "window_seconds": repr(float(window_s)),
    }


def render_sql(panel: Panel, values: Mapping[str, Value], now: float) -> str:
    """The panel's SQL with every placeholder replaced; run it as it is."""
    builtins = window_values(panel.window, now)

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in builtins:
            return builtins[name]
        if name in values:
            return sql_literal(values[name])
        raise BadParameter(f"panel {panel.id} uses {{{name}}}, which has no value")

    return PLACEHOLDER_RE.sub(fill, panel.sql)
