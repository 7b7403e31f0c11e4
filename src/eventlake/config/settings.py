"""The settings object: defaults < `eventlake.toml` < `EVENTLAKE_*` env < flags.

Each stage's section model has its own module in this package (``config/<stage>.py``);
this module only composes them and knows where they come from. `config` is the bottom
layer: it imports no stage, so every stage can import it. Nothing reads the
environment at import time: `load_settings` is called once by the CLI, the
dashboard's app factory, or a notebook, and the frozen result is passed down.

pydantic-settings reads the environment and the TOML file; it is loaded only when there is one to
read (an `EVENTLAKE_*` variable or a settings file): without, the settings are the defaults and
the flags, and a command starts without its import (~50 ms, more than a small query's own work).
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo

from eventlake.config.aws import AwsSettings
from eventlake.config.broker import BrokerSettings, KafkaClientSettings
from eventlake.config.dashboard import DashboardSettings
from eventlake.config.iceberg import IcebergSettings
from eventlake.config.lake import S3Settings
from eventlake.config.maintenance import MaintenanceSettings
from eventlake.config.produce import ProduceSettings
from eventlake.config.query import QuerySettings
from eventlake.config.query_path import DEFAULT_CONFIG_FILE, ENV_PREFIX, TOP_DEFAULTS, nothing_to_read
from eventlake.config.sink import SinkSettings
from eventlake.errors import ConfigError

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

_config_file: ContextVar[Path | None] = ContextVar("eventlake_config_file", default=None)


class Settings(BaseModel):
    """Everything eventlake can be told, in one frozen object."""

    # validate_default as pydantic-settings' BaseSettings has it, so both ways of loading agree.
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    bootstrap_servers: str = Field(
        TOP_DEFAULTS.bootstrap_servers,
        pattern=r"^[A-Za-z0-9._:\[\]\-]+(,[A-Za-z0-9._:\[\]\-]+)*$",
        description="Kafka brokers to start from, HOST:PORT[,HOST:PORT...] (--bootstrap-servers).",
    )
    lake: str = Field(
        TOP_DEFAULTS.lake, min_length=1, description="Where the lake is: a local folder or s3://bucket/prefix (--lake)."
    )
    catalog: str | None = Field(
        TOP_DEFAULTS.catalog,
        description=(
            "Catalog: sqlite:///path, or postgresql://USER@HOST:PORT/DB to share it between machines "
            "(--catalog); unset: inside a local lake, else ./.eventlake."
        ),
    )
    catalog_password: SecretStr | None = Field(
        None,
        description="Password of a postgresql://USER@HOST:PORT/DB catalog (never in the URL; never shown).",
    )
    database: str = Field(
        TOP_DEFAULTS.database,
        pattern=r"^[a-z_][a-z0-9_]{0,254}$",
        description="Catalog database of the sink's tables and of bare names in SQL.",
    )

    kafka: KafkaClientSettings = Field(
        default_factory=KafkaClientSettings, description="How every client reaches Kafka."
    )
    broker: BrokerSettings = Field(default_factory=BrokerSettings, description="The local broker.")
    produce: ProduceSettings = Field(default_factory=ProduceSettings, description="The producer.")
    sink: SinkSettings = Field(default_factory=SinkSettings, description="The lake sink.")
    s3: S3Settings = Field(default_factory=S3Settings, description="The S3 store behind an s3:// lake.")
    query: QuerySettings = Field(default_factory=QuerySettings, description="SQL engines and the crawler.")
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings, description="The web dashboard.")
    aws: AwsSettings = Field(default_factory=AwsSettings, description="Glue and Athena.")
    maintenance: MaintenanceSettings = Field(
        default_factory=MaintenanceSettings, description="Lake maintenance: automatic compaction and retention."
    )
    iceberg: IcebergSettings = Field(
        default_factory=IcebergSettings, description="Iceberg tables (sink.table_format = iceberg): their catalog."
    )

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain data, every secret replaced by '********'."""
        return _mask_model(self)


@cache
def _sourced() -> type[Settings]:
    """Settings read from the environment (`EVENTLAKE_*`, `__` between levels) and the TOML file."""
    from pydantic_settings import BaseSettings, SettingsConfigDict, TomlConfigSettingsSource

    class SourcedSettings(Settings, BaseSettings):
        model_config = SettingsConfigDict(
            env_prefix=ENV_PREFIX, env_nested_delimiter="__", frozen=True, extra="forbid", validate_default=True
        )

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

    return SourcedSettings


def _from_sources(path: Path | None) -> Settings:
    """The defaults, then what the environment and the file say (pydantic-settings only if they do)."""
    if nothing_to_read(path):
        return Settings()
    return Settings.model_validate(dict(_sourced()()))


def _mask_model(model: BaseModel) -> dict[str, Any]:
    return {name: _mask(getattr(model, name)) for name in type(model).model_fields}


def _mask(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "********" if value.get_secret_value() else ""
    if isinstance(value, BaseModel):
        return _mask_model(value)
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
    path = Path(config_file) if config_file is not None else None
    if path is None and DEFAULT_CONFIG_FILE.is_file():
        path = DEFAULT_CONFIG_FILE
    if path is not None and not path.is_file():
        raise ConfigError(f"config file not found: {path}", hint="pass an existing --config FILE")
    clean = _drop_none(overrides or {})
    token = _config_file.set(path)
    try:
        base = _from_sources(path)
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
    """One line per problem, joined: the dotted setting, what was wrong, and what it accepts."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        field = _field_at(err["loc"])
        msg = err["msg"]
        if err["type"] == "string_pattern_mismatch" and field is not None and field.description:
            # The pattern itself tells a user little; the description says what fits.
            msg = f"does not fit: {field.description.rstrip('.')}"
        if err["type"] == "extra_forbidden":  # its value is never echoed: it may be a misspelled secret
            parts.append(f"{loc}: unknown setting (`eventlake config show --doc` lists them)")
            continue
        if not _is_secret(loc) and isinstance(err.get("input"), str | int | float):
            msg = f"{msg.rstrip('.')} (got {_shown(err['input'])})"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def _field_at(loc: tuple[int | str, ...]) -> FieldInfo | None:
    model: type[BaseModel] = Settings
    field = None
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            model = nested
    return field


def _is_secret(loc: str) -> bool:
    return any(word in loc for word in ("password", "secret", "token"))


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _where(path: Path | None) -> str:
    src = f"{path} or " if path else ""
    return f"check {src}EVENTLAKE_* environment variables; `eventlake config show` prints them"


def dumps(settings: Settings) -> str:
    return json.dumps(settings.masked(), indent=2, default=str)
