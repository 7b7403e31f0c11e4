"""Every setting as documentation: dotted name, type with its choices and limits, default,
environment variable and description, read from the models themselves.

`eventlake config show --doc` prints these rows; `scripts/settings_tables.py` renders them as
the README's settings tables, and a unit test keeps the README equal to that rendering.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from eventlake.config.settings import Settings

ENV_PREFIX = "EVENTLAKE_"
MASK = "********"
UNSET = "(unset)"
TOP_LEVEL = ""  # the section of bootstrap_servers, lake, catalog and database


@dataclass(frozen=True)
class SettingDoc:
    name: str  # dotted, as in TOML sections and `config show`: sink.flush_rows
    section: str  # "" for top-level settings, else the dotted section: query.crawler
    type: str  # int, float >= 0, one of parquet / jsonl, secret, ...
    default: str
    env: str  # EVENTLAKE_SINK__FLUSH_ROWS
    description: str

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "env": self.env,
            "description": self.description,
        }


def setting_docs(model: type[BaseModel] = Settings, prefix: tuple[str, ...] = ()) -> list[SettingDoc]:
    """Every leaf setting of `model`, depth first in declaration order (top-level ones first)."""
    leaves: list[SettingDoc] = []
    sections: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        nested = _section_model(field)
        if nested is not None:
            sections.append((name, nested))
            continue
        path = (*prefix, name)
        leaves.append(
            SettingDoc(
                name=".".join(path),
                section=".".join(prefix),
                type=type_text(field),
                default=default_text(name, field),
                env=ENV_PREFIX + "__".join(path).upper(),
                description=field.description or "",
            )
        )
    for name, nested in sections:
        leaves += setting_docs(nested, (*prefix, name))
    return leaves


def section_docs(model: type[BaseModel] = Settings, prefix: tuple[str, ...] = ()) -> dict[str, str]:
    """Each section's dotted name -> its description (the field that holds it)."""
    out: dict[str, str] = {}
    for name, field in model.model_fields.items():
        nested = _section_model(field)
        if nested is not None:
            dotted = ".".join((*prefix, name))
            out[dotted] = field.description or ""
            out.update(section_docs(nested, (*prefix, name)))
    return out


def _section_model(field: FieldInfo) -> type[BaseModel] | None:
    ann = field.annotation
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def type_text(field: FieldInfo) -> str:
    """The type a user writes, with the choices or bounds that apply: `int 1..65535`."""
    ann: Any = field.annotation
    metadata = list(field.metadata)
    args = get_args(ann)
    if _is_union(ann) and type(None) in args:  # optional: the default says "(unset)"
        inner = [a for a in args if a is not type(None)]
        ann = inner[0] if len(inner) == 1 else Union[tuple(inner)]  # noqa: UP007 - built at run time
    if get_origin(ann) is Annotated:
        ann, *more = get_args(ann)
        metadata += more
    return _base_text(ann) + _bounds_text(metadata)


def _is_union(ann: Any) -> bool:
    return get_origin(ann) in (Union, types.UnionType)


def _base_text(ann: Any) -> str:
    origin = get_origin(ann)
    if origin is Literal:
        return "one of " + " / ".join(str(c) for c in get_args(ann))
    if origin is Annotated:
        return _base_text(get_args(ann)[0])
    if origin is list:
        return f"list of {_base_text(get_args(ann)[0])}"
    if origin is dict:
        return f"table of {_base_text(get_args(ann)[1])}"
    if ann is SecretStr:
        return "secret"
    if ann is Path:
        return "path"
    if ann is datetime:
        return "datetime"
    return getattr(ann, "__name__", str(ann))


def _bounds_text(metadata: list[Any]) -> str:
    low = high = None
    for item in metadata:
        for bound in getattr(item, "metadata", [item]):  # FieldInfo nested by an Annotated alias
            if isinstance(bound, annotated_types.Ge):
                low = f">= {bound.ge}"
            elif isinstance(bound, annotated_types.Gt):
                low = f"> {bound.gt}"
            elif isinstance(bound, annotated_types.Le):
                high = f"<= {bound.le}"
            elif isinstance(bound, annotated_types.Lt):
                high = f"< {bound.lt}"
    if low and high and low.startswith(">=") and high.startswith("<="):
        return f" {low[3:]}..{high[3:]}"
    return "".join(f" {b}" for b in (low, high) if b)


def default_text(name: str, field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    text = value_text(value)
    if name.endswith("_bytes") and isinstance(value, int) and value >= 1 << 20 and value % (1 << 20) == 0:
        text += f" ({value >> 20} MiB)"
    return text


def value_text(value: Any) -> str:
    if value is None:
        return UNSET
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {value_text(v)}" for k, v in value.items()) + "}"
    return str(value)


BEGIN_MARK = "<!-- settings-tables: generated by scripts/settings_tables.py; edit the models, not this -->"
END_MARK = "<!-- /settings-tables -->"
TABLE_HEAD = "| setting | type | default | description |\n|---|---|---|---|"


def markdown_tables(model: type[BaseModel] = Settings) -> str:
    """The README's settings tables, one per TOML section, between BEGIN_MARK and END_MARK."""
    docs = setting_docs(model)
    sections = {TOP_LEVEL: "Settings outside any section, at the top of the file."} | section_docs(model)
    out = [BEGIN_MARK]
    for section, about in sections.items():
        rows = [d for d in docs if d.section == section]
        if not rows:
            continue
        title = "Top level" if section == TOP_LEVEL else f"`[{section}]`"
        env = "EVENTLAKE_" + ("__".join(section.split(".")).upper() + "__" if section else "") + "*"
        out += ["", f"#### {title}", "", f"{about} Env `{env}`.", "", TABLE_HEAD]
        out += [f"| `{d.name}` | {_md(d.type)} | {_md(d.default)} | {_md(d.description)} |" for d in rows]
    out += ["", END_MARK]
    return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def replace_tables(readme: str, tables: str) -> str:
    """`readme` with the text between the marks (marks included) replaced by `tables`."""
    start, end = readme.find(BEGIN_MARK), readme.find(END_MARK)
    if start < 0 or end < start:
        raise ValueError(f"the README has no {BEGIN_MARK!r} ... {END_MARK!r} block")
    return readme[:start] + tables + readme[end + len(END_MARK) :]
