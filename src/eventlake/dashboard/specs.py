"""Dashboards as code: the model of a dashboard file and where dashboards are found.

A dashboard is a TOML or YAML file: a title, optional parameters and a list of
panels. A panel is SQL plus a chart type, the fields to plot, a refresh interval
and a time window. Files in ``dashboard.dashboards_dir`` are read on every request,
so an edited file shows on the next page load; a file there overrides a built-in
dashboard of the same name.

Every ``{placeholder}`` in a panel's SQL must stand as a complete token where an SQL
value can go (checked with DuckDB's own tokenizer when the file loads): never inside
a string literal, a quoted identifier or a comment, where a bound parameter cannot work.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from eventlake.config.dashboard import DashboardSettings
from eventlake.dashboard.exceptions import DashboardNotFound, DashboardSpecError, PanelNotFound
from eventlake.errors import EventlakeError
from eventlake.query.guard import tokenize

ChartType = Literal["line", "bar", "area", "table", "number"]
ParamType = Literal["string", "int", "float"]

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Values the server fills in for every panel from its `window`; not user parameters.
BUILTIN_PLACEHOLDERS = frozenset({"window_start", "recent_partitions", "window_seconds"})
_SUFFIXES = (".toml", ".yaml", ".yml")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: str | float | int) -> float:
    """'15m' -> 900.0; a bare number is seconds."""
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION_RE.match(value)
        if match is None:
            raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 15m, 2h)")
        seconds = float(match.group(1)) * _UNIT_S[match.group(2) or "s"]
    if seconds <= 0:
        raise ValueError(f"duration must be positive: {value!r}")
    return seconds


class Parameter(BaseModel):
    """A value the viewer picks (e.g. a symbol); substituted into SQL as a literal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    label: str = ""
    type: ParamType = "string"
    default: str | int | float
    choices: list[str | int | float] = []

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        # `token` is the access token's query key, never handed to a dashboard.
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value) or value in BUILTIN_PLACEHOLDERS or value == "token":
            raise ValueError(f"parameter name {value!r} must be an identifier and not a built-in one or 'token'")
        return value

    @model_validator(mode="after")
    def _default_in_choices(self) -> Parameter:
        if self.choices and self.default not in self.choices:
            raise ValueError(f"default {self.default!r} of parameter {self.name} is not one of its choices")
        return self


class Panel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    title: str
    sql: str
    chart: ChartType = "table"
    x: str | None = None
    y: list[str] = []
    series: str | None = None
    refresh_s: float | None = None
    # How far back the panel looks; fills {window_start} and {recent_partitions}.
    window: float = 900.0
    # Whose landing time is this panel's freshness (default: the dashboard's table).
    table: str | None = None
    unit: str = ""
    width: Literal["half", "full"] = "half"
    parameters: list[Parameter] = []

    @model_validator(mode="before")
    @classmethod
    def _default_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("id") and isinstance(data.get("title"), str):
            data = {**data, "id": _slug(data["title"]) or "panel"}
        return data

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise ValueError(f"panel id {value!r} must be lower-case letters, digits, - or _")
        return value

    @field_validator("y", mode="before")
    @classmethod
    def _y_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("window", "refresh_s", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)

    @model_validator(mode="after")
    def _check(self) -> Panel:
        if self.chart in ("line", "bar", "area") and (not self.x or not self.y):
            raise ValueError(f"panel {self.title!r}: a {self.chart} chart needs x and y fields")
        problem = placeholder_problem(self.sql)
        if problem:
            raise ValueError(f"panel {self.id!r}: {problem}")
        return self


class Dashboard(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    title: str
    description: str = ""
    table: str | None = None
    parameters: list[Parameter] = []
    panels: list[Panel] = Field(min_length=1)
    source: str = ""

    @model_validator(mode="after")
    def _check(self) -> Dashboard:
        ids: set[str] = set()
        for panel in self.panels:
            if panel.id in ids:
                raise ValueError(f"two panels have the id {panel.id!r}; give them distinct ids")
            ids.add(panel.id)
        params = self.all_parameters()
        # DuckDB's named parameters ignore case: `$Region` and `$region` would be one value.
        folded = [name.lower() for name in params]
        if len(set(folded)) < len(folded):
            raise ValueError("two parameters differ only in upper/lower case; rename one")
        for panel in self.panels:
            for name in PLACEHOLDER_RE.findall(panel.sql):
                if name not in params and name not in BUILTIN_PLACEHOLDERS:
                    raise ValueError(f"panel {panel.id!r} uses {{{name}}}, which no parameter declares")
        return self

    def all_parameters(self) -> dict[str, Parameter]:
        """Dashboard-level and panel-level parameters in one namespace (one picker each)."""
        out: dict[str, Parameter] = {p.name: p for p in self.parameters}
        for panel in self.panels:
            for param in panel.parameters:
                known = out.get(param.name)
                if known is not None and known != param:
                    raise ValueError(f"parameter {param.name} is declared twice, differently")
                out[param.name] = param
        return out

    def panel(self, panel_id: str) -> Panel:
        for panel in self.panels:
            if panel.id == panel_id:
                return panel
        raise PanelNotFound(
            f"dashboard {self.name} has no panel {panel_id!r}",
            hint=f"its panels: {', '.join(p.id for p in self.panels)}",
        )


# How a placeholder sits in its SQL when it is not a token of its own.
_INSIDE = {
    "string_const": "inside a string literal",
    "identifier": "inside a quoted identifier",
    "comment": "inside a comment",
}


def placeholder_problem(sql: str) -> str | None:
    """Why a placeholder of this SQL cannot be bound as a value, or None when all can.

    Placeholders are replaced as at run time (a viewer parameter by `$name`; a built-in, whose real
    text the server makes, by the one-token stand-in `0`), DuckDB's tokenizer splits the result, and
    each replacement must start a token and end where its tokens end. Raw `$name`, `$1` or `?`
    parameters are refused too: only `{name}` is filled in.
    """
    parts: list[str] = []
    spots: list[tuple[int, int, str]] = []  # (start, end, placeholder name) in the replaced text
    pos = length = 0
    for match in PLACEHOLDER_RE.finditer(sql):
        name = match.group(1)
        stand_in = "0" if name in BUILTIN_PLACEHOLDERS else f"${name}"
        parts += [sql[pos : match.start()], stand_in]
        length += match.start() - pos
        spots.append((length, length + len(stand_in), name))
        length += len(stand_in)
        pos = match.end()
    text = "".join([*parts, sql[pos:]])
    try:
        tokens = tokenize(text)
    except EventlakeError as exc:  # it tokenizes what it cannot parse; kept for safety
        return f"its SQL cannot be tokenized: {exc.message}"
    offsets = [offset for offset, _ in tokens]
    for start, end, name in spots:
        following = next((o for o in offsets if o >= end), len(text))
        if start not in offsets or text[end:following].strip():
            kind, began = next(((k, o) for o, k in reversed(tokens) if o <= start), ("", 0))
            inside = _INSIDE.get(kind) if began < start and (kind != "identifier" or '"' in text[began:start]) else None
            fix = "write it without quotes" if inside and kind != "comment" else "put it where an SQL value goes"
            return (
                f"{{{name}}} is {inside or 'part of a larger token'}; {fix} "
                "(a placeholder is filled in as one whole SQL value, never pasted into text)"
            )
    ours = {start for start, _, _ in spots}
    for offset, kind in tokens:
        if kind == "operator" and text[offset] in "$?" and offset not in ours:
            raw = text[offset:].split(maxsplit=1)[0][:24]
            return f"it uses a raw SQL parameter {raw!r}; write {{name}} for a declared parameter instead"
    return None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def parse_dashboard(name: str, text: str, suffix: str, source: str = "") -> Dashboard:
    """Parse one dashboard file's text; errors name the file and the field."""
    where = source or f"{name}{suffix}"
    try:
        data = tomllib.loads(text) if suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise DashboardSpecError(f"{where}: not valid {suffix.lstrip('.').upper()}: {_first_line(exc)}") from exc
    if not isinstance(data, dict):
        raise DashboardSpecError(f"{where}: expected a table with title and panels")
    try:
        return Dashboard.model_validate({**data, "name": name, "source": where})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise DashboardSpecError(f"{where}: {loc + ': ' if loc else ''}{msg}") from exc


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class DashboardLibrary:
    """The dashboards a server offers: built-in ones, then files in dashboards_dir."""

    def __init__(self, settings: DashboardSettings, base_dir: Path | None = None) -> None:
        folder = Path(settings.dashboards_dir)
        self.folder = folder if folder.is_absolute() else (base_dir or Path.cwd()) / folder
        self.builtin = settings.builtin_dashboards

    def _files(self) -> dict[str, tuple[str, str, str]]:
        """name -> (text, suffix, source); user files override built-ins."""
        found: dict[str, tuple[str, str, str]] = {}
        if self.builtin:
            for entry in sorted(resources.files("eventlake.dashboard.builtin").iterdir(), key=lambda e: e.name):
                suffix = Path(entry.name).suffix
                if suffix in _SUFFIXES:
                    found[Path(entry.name).stem] = (entry.read_text("utf-8"), suffix, f"built-in {entry.name}")
        if self.folder.is_dir():
            for path in sorted(self.folder.iterdir()):
                if path.suffix in _SUFFIXES and NAME_RE.match(path.stem):
                    found[path.stem] = (path.read_text("utf-8"), path.suffix, str(path))
        return found

    def names(self) -> list[str]:
        return sorted(self._files())

    def list(self) -> tuple[list[Dashboard], dict[str, str]]:
        """Every dashboard that parses, and an error line for each that does not."""
        good: list[Dashboard] = []
        bad: dict[str, str] = {}
        for name, (text, suffix, source) in self._files().items():
            try:
                good.append(parse_dashboard(name, text, suffix, source))
            except DashboardSpecError as exc:
                bad[name] = exc.one_line()
        return good, bad

    def get(self, name: str) -> Dashboard:
        files = self._files()
        if name not in files:
            raise DashboardNotFound(
                f"no dashboard named {name!r}",
                hint=f"add {self.folder / name}.toml; available: {', '.join(files) or 'none'}",
            )
        text, suffix, source = files[name]
        return parse_dashboard(name, text, suffix, source)
