"""The lean settings of a plain query (config/query_path.py) agree with the typed `Settings`:
same defaults, and a flag value is taken only where pydantic accepts it, to the same value;
everything else goes to pydantic, which explains the refusal."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from eventlake.cli.query_run import query_flags, query_settings
from eventlake.config import Settings, load_settings
from eventlake.config.query_path import QueryLimits, QueryPathSettings, plain_query_settings
from eventlake.errors import ConfigError

LIMITS = list(QueryLimits.__dataclass_fields__)
TOP = [f for f in QueryPathSettings.__dataclass_fields__ if f != "query"]


def _view(s: Settings | QueryPathSettings) -> dict[str, Any]:
    """What the query path reads; the sections the lean type leaves unset are their models' defaults."""
    out = {name: getattr(s, name) for name in TOP if name not in ("s3", "kafka")}
    out.update({f"query.{name}": getattr(s.query, name) for name in LIMITS})
    return out


@pytest.fixture(autouse=True)
def _no_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no eventlake.toml
    for name in list(__import__("os").environ):
        if name.upper().startswith("EVENTLAKE_"):
            monkeypatch.delenv(name)


def test_the_defaults_are_the_typed_settings_defaults() -> None:
    typed = Settings()
    assert _view(QueryPathSettings()) == _view(typed)
    # The sections it leaves unset are what the query path builds when it needs them: their defaults.
    assert typed.catalog_password is None
    assert typed.s3 == type(typed.s3)()
    assert typed.kafka == type(typed.kafka)()


HOSTILE: dict[str, list[Any]] = {
    "lake": ["", " ", "./lake", "s3://bucket/p", "../../etc", "x" * 5000, "a\x00b", "\n", 0, b"lake", None],
    "catalog": ["", "sqlite:///tmp/c.sqlite", "postgresql://u@h:5432/db", "ftp://x", "a\x00b", 1, None],
    "max_rows": [0, 1, 100, 2**63, -1, -(2**70), True, False, 1.0, 1.5, "5", "", None],
    "time_limit": [
        0.01,
        1.0,
        30.0,
        1e9,
        0.0,
        -0.0,
        -1.0,
        math.inf,
        -math.inf,
        math.nan,
        1,
        0,
        True,
        "1",
        "",
        None,
    ],
    "engine": ["duckdb", "athena", "DuckDB", "duckdb ", "", "sqlite", 1, None],
}


def _plain(flag: str, value: Any) -> bool:
    if value is None:
        return True
    if flag in ("lake", "catalog"):
        return type(value) is str
    if flag == "max_rows":
        return type(value) is int
    if flag == "time_limit":
        return type(value) is float and math.isfinite(value)
    return bool(value == "duckdb")


@pytest.mark.parametrize(("flag", "value"), [(f, v) for f, vs in HOSTILE.items() for v in vs])
def test_takes_a_flag_only_where_pydantic_takes_it_to_the_same_value(flag: str, value: Any) -> None:
    flags: dict[str, Any] = {"lake": None, "catalog": None, "max_rows": None, "time_limit": None, "engine": None}
    flags[flag] = value
    lean = plain_query_settings(None, **flags)
    try:
        typed: Settings | None = load_settings(None, query_flags(**flags))
    except ConfigError:
        typed = None
    if typed is None:
        assert lean is None, f"{flag}={value!r}: pydantic refuses it, the lean settings took it"
        with pytest.raises(ConfigError):  # the CLI's path gives pydantic's one-line refusal
            query_settings(None, **flags)
        return
    if lean is not None:
        assert _view(lean) == _view(typed)
        assert all(type(a) is type(b) for a, b in zip(_view(lean).values(), _view(typed).values(), strict=True))
    # A plain value of the flag's own type is always taken, so the fast path really skips pydantic.
    assert (lean is not None) == _plain(flag, value), f"{flag}={value!r}"
    assert _view(query_settings(None, **flags)) == _view(typed)


def test_any_source_for_pydantic_takes_the_typed_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("eventlake_query__max_rows", "7")  # any case, as pydantic-settings reads it
    s = query_settings(None, None, None, None, None)
    assert isinstance(s, Settings) and s.query.max_rows == 7
    monkeypatch.delenv("eventlake_query__max_rows")
    (tmp_path / "eventlake.toml").write_text('lake = "./from-file"\n', encoding="utf-8")
    s = query_settings(None, None, None, None, None)
    assert isinstance(s, Settings) and s.lake == "./from-file"
    (tmp_path / "eventlake.toml").unlink()
    other = tmp_path / "other.toml"
    other.write_text("[query]\nmax_rows = 3\n", encoding="utf-8")
    s = query_settings(other, None, None, None, None)
    assert isinstance(s, Settings) and s.query.max_rows == 3
    assert isinstance(query_settings(None, None, None, None, None), QueryPathSettings)
