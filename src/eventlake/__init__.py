"""eventlake: events into Kafka, into a Parquet lake, into SQL and live dashboards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventlake.errors import EventlakeError

if TYPE_CHECKING:
    from eventlake.config import Settings, load_settings

__version__ = "0.1.0"

__all__ = ["EventlakeError", "Settings", "__version__", "load_settings"]


def __getattr__(name: str) -> Any:
    """`Settings` and `load_settings` on first use: a plain query runs without pydantic."""
    if name in ("Settings", "load_settings"):
        from eventlake import config

        return getattr(config, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
