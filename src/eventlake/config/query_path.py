"""The settings a plain `eventlake query` reads, without pydantic: the query path's runtime type.

pydantic's import plus our models cost about 200 ms of CPU, more than a small query's own work.
When nothing is there for pydantic to read (no `EVENTLAKE_*` variable, no settings file, DuckDB
engine), a plain query's settings are the defaults plus a few flags, and this module builds them:
frozen dataclasses whose defaults ARE the defaults of the pydantic models (`Settings` and
`QuerySettings` take their `Field` defaults from here), so there is one source of truth. A flag
value is taken only when it plainly fits the model's own constraint; anything else returns None
and the caller validates everything with pydantic (`load_settings`), which also explains a
refusal. `tests/unit/test_config_query_path.py` checks both agree, hostile values included.

This module imports nothing of pydantic: it must stay so (tests/unit/test_query_startup.py).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias

if TYPE_CHECKING:
    from eventlake.config.settings import Settings

ENV_PREFIX = "EVENTLAKE_"
DEFAULT_CONFIG_FILE = Path("eventlake.toml")


@dataclass(frozen=True)
class QueryLimits:
    """What `QuerySettings` says about running one statement (its defaults are the model's)."""

    engine: Literal["duckdb", "athena"] = "duckdb"
    time_limit_s: float = 30.0
    max_rows: int = 100_000
    max_sql_bytes: int = 262_144
    max_result_bytes: int = 64 * 1024 * 1024
    threads: int | None = None
    memory_limit: str = "2GB"
    refresh_s: float = 0.1
    lag_timeout_s: float = 1.0


@dataclass(frozen=True)
class QueryPathSettings:
    """The fields of `Settings` a DuckDB query reads; the sections it never reads are absent."""

    lake: str = "./lake"
    catalog: str | None = None
    database: str = "default"
    bootstrap_servers: str = "127.0.0.1:9092"
    query: QueryLimits = field(default_factory=QueryLimits)
    # Unset without env or file: the defaults of their models, built where used (S3 lake, lag).
    catalog_password: None = None
    s3: None = None
    kafka: None = None


# What the query path accepts: the typed settings, or their lean twin for a plain query.
QueryConfig: TypeAlias = "Settings | QueryPathSettings"

QUERY_DEFAULTS = QueryLimits()
TOP_DEFAULTS = QueryPathSettings()


def nothing_to_read(config_file: Path | None) -> bool:
    """True when pydantic-settings would find no source: no settings file, no `EVENTLAKE_*` variable."""
    if config_file is not None or DEFAULT_CONFIG_FILE.is_file():
        return False
    # Any case: pydantic-settings matches variable names case-insensitively.
    return not any(name.upper().startswith(ENV_PREFIX) for name in os.environ)


def plain_query_settings(
    config_file: Path | None,
    lake: str | None,
    catalog: str | None,
    max_rows: int | None,
    time_limit: float | None,
    engine: str | None,
) -> QueryPathSettings | None:
    """Defaults + these flags when they need no pydantic (see the module's doc), else None."""
    if not nothing_to_read(config_file):
        return None
    top = TOP_DEFAULTS
    limits = QUERY_DEFAULTS
    if engine is not None and engine != "duckdb":  # Athena reads `aws`: the typed settings' job
        return None
    if lake is not None:
        if type(lake) is not str or not lake:  # Settings.lake: a text, min_length=1
            return None
        top = QueryPathSettings(lake=lake)
    if catalog is not None:
        if type(catalog) is not str:
            return None
        top = QueryPathSettings(lake=top.lake, catalog=catalog)
    if max_rows is not None:
        if type(max_rows) is not int or max_rows < 0:  # ge=0
            return None
        limits = QueryLimits(max_rows=max_rows, time_limit_s=limits.time_limit_s)
    if time_limit is not None:
        # Seconds: gt=0; only finite values here (pydantic's inf is its own business)
        if type(time_limit) is not float or not math.isfinite(time_limit) or time_limit <= 0:
            return None
        limits = QueryLimits(max_rows=limits.max_rows, time_limit_s=time_limit)
    return QueryPathSettings(lake=top.lake, catalog=top.catalog, query=limits)


def with_lake(settings: QueryConfig, lake: str) -> QueryConfig:
    """`settings` with another lake, whichever of the two types it is."""
    if isinstance(settings, QueryPathSettings):
        return replace(settings, lake=lake)
    return settings.model_copy(update={"lake": lake})


def typed(settings: QueryConfig) -> Settings:
    """The typed settings, for what the lean twin leaves out (the Iceberg catalog, S3): with nothing
    for pydantic to read, they are the models' defaults plus the lean settings' own values. Only a
    query that meets an Iceberg table pays for pydantic here."""
    if not isinstance(settings, QueryPathSettings):
        return settings
    from eventlake.config.settings import load_settings

    limits = settings.query
    return load_settings(
        overrides={
            "lake": settings.lake,
            "catalog": settings.catalog,
            "database": settings.database,
            "bootstrap_servers": settings.bootstrap_servers,
            "query": {"max_rows": limits.max_rows, "time_limit_s": limits.time_limit_s},
        }
    )
