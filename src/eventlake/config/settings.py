"""The settings object: defaults < `eventlake.toml` < `EVENTLAKE_*` env < flags.

Each stage declares its own section model beside its code (``<stage>/settings.py``);
this module only composes them and knows where they come from. Nothing reads the
environment at import time: `load_settings` is called once by the CLI, the
dashboard's app factory, or a notebook, and the frozen result is passed down.
"""

from __future__ import annotations

import importlib
import json
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from eventlake.errors import ConfigError

if TYPE_CHECKING:
    from eventlake.broker.settings import BrokerSettings, KafkaClientSettings
    from eventlake.catalog.maintenance_settings import MaintenanceSettings
    from eventlake.catalog.settings import AwsSettings
    from eventlake.dashboard.settings import DashboardSettings
    from eventlake.lake.settings import S3Settings
    from eventlake.produce.settings import ProduceSettings
    from eventlake.query.settings import QuerySettings
    from eventlake.sink.settings import SinkSettings

# Section models live beside their stage. Stage packages import this module, so the
# sections are imported lazily (on first load) instead of at import time: that keeps
# `import eventlake.<stage>` free of import cycles whatever the stage's __init__ pulls in.
_SECTIONS = {
    "kafka": ("eventlake.broker.settings", "KafkaClientSettings"),
    "broker": ("eventlake.broker.settings", "BrokerSettings"),
    "produce": ("eventlake.produce.settings", "ProduceSettings"),
    "sink": ("eventlake.sink.settings", "SinkSettings"),
    "s3": ("eventlake.lake.settings", "S3Settings"),
    "query": ("eventlake.query.settings", "QuerySettings"),
    "dashboard": ("eventlake.dashboard.settings", "DashboardSettings"),
    "aws": ("eventlake.catalog.settings", "AwsSettings"),
    "maintenance": ("eventlake.catalog.maintenance_settings", "MaintenanceSettings"),
}

DEFAULT_CONFIG_FILE = Path("eventlake.toml")

_config_file: ContextVar[Path | None] = ContextVar("eventlake_config_file", default=None)


class Settings(BaseSettings):
    """Everything eventlake can be told, in one frozen object."""

    model_config = SettingsConfigDict(
        env_prefix="EVENTLAKE_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    bootstrap_servers: str = "127.0.0.1:9092"
    # A local folder or s3://bucket/prefix.
    lake: str = "./lake"
    # sqlite:///path or glue://; None puts a SQLite catalog inside a local lake.
    catalog: str | None = None
    database: str = "default"

    kafka: KafkaClientSettings = Field(default_factory=lambda: _section("kafka")())
    broker: BrokerSettings = Field(default_factory=lambda: _section("broker")())
    produce: ProduceSettings = Field(default_factory=lambda: _section("produce")())
    sink: SinkSettings = Field(default_factory=lambda: _section("sink")())
    s3: S3Settings = Field(default_factory=lambda: _section("s3")())
    query: QuerySettings = Field(default_factory=lambda: _section("query")())
    dashboard: DashboardSettings = Field(default_factory=lambda: _section("dashboard")())
    aws: AwsSettings = Field(default_factory=lambda: _section("aws")())
    maintenance: MaintenanceSettings = Field(default_factory=lambda: _section("maintenance")())

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file.get()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain data, every secret replaced by '********'."""
        return _mask(self)


def _section(name: str) -> Any:
    """The section model class for `name` (typed Any: mypy sees the real types above)."""
    module, cls = _SECTIONS[name]
    return getattr(importlib.import_module(module), cls)


_built = False


def _build() -> None:
    """Resolve the section types once every module has finished importing."""
    global _built
    if not _built:
        namespace = {cls: _section(name) for name, (_, cls) in _SECTIONS.items()}
        Settings.model_rebuild(_types_namespace=namespace)
        _built = True


def _mask(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "********" if value.get_secret_value() else ""
    if isinstance(value, BaseModel):
        return {name: _mask(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_mask(v) for v in value]
    return value


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(config_file: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Load settings once. `overrides` are flags: nested dicts, None values ignored.

    Flags win over env and env over the file, section by section: a flag that sets
    ``sink.flush_rows`` keeps ``sink.group`` from the env or file.
    """
    _build()
    path = Path(config_file) if config_file is not None else None
    if path is None and DEFAULT_CONFIG_FILE.is_file():
        path = DEFAULT_CONFIG_FILE
    if path is not None and not path.is_file():
        raise ConfigError(f"config file not found: {path}", hint="pass an existing --config FILE")
    clean = _drop_none(overrides or {})
    token = _config_file.set(path)
    try:
        base = Settings()
        if not clean:
            return base
        merged = _merge(base.model_dump(), clean)
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {_describe(exc)}", hint=_where(path)) from exc
    except ValueError as exc:  # malformed TOML or env JSON
        raise ConfigError(f"invalid settings: {exc}", hint=_where(path)) from exc
    finally:
        _config_file.reset(token)


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            nested = _drop_none(value)
            if nested:
                out[key] = nested
        elif value is not None:
            out[key] = value
    return out


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def _where(path: Path | None) -> str:
    src = f"{path} or " if path else ""
    return f"check {src}EVENTLAKE_* environment variables; `eventlake config show` prints them"


def dumps(settings: Settings) -> str:
    return json.dumps(settings.masked(), indent=2, default=str)
