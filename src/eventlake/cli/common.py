"""Options every command shares, and the one place settings are loaded for the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from eventlake.cli import output
from eventlake.config import Settings, load_settings

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="Settings file (default ./eventlake.toml when present).", show_default=False),
]
BootstrapOpt = Annotated[
    str | None,
    typer.Option(
        "--bootstrap-servers",
        help="Kafka bootstrap servers HOST:PORT (env EVENTLAKE_BOOTSTRAP_SERVERS; default 127.0.0.1:9092)",
        show_default=False,
    ),
]
LakeOpt = Annotated[
    str | None,
    typer.Option(
        "--lake",
        help="Lake: a local folder or s3://bucket/prefix (env EVENTLAKE_LAKE; default ./lake)",
        show_default=False,
    ),
]
FormatOpt = Annotated[output.Format, typer.Option("--format", help="table, json or csv")]
CatalogOpt = Annotated[
    str | None,
    typer.Option(
        "--catalog",
        help="Catalog URI (sqlite:///path or postgresql://USER@HOST:PORT/DB); default: inside a local lake.",
        show_default=False,
    ),
]


@dataclass
class GlobalState:
    config: Path | None = None
    debug: bool = False


def state(ctx: typer.Context) -> GlobalState:
    root = ctx.find_root()
    if not isinstance(root.obj, GlobalState):
        root.obj = GlobalState()
    return root.obj


def settings(ctx: typer.Context, config: Path | None = None, **overrides: Any) -> Settings:
    """Load settings once for this command: flags (overrides) > env > file > defaults."""
    st = state(ctx)
    loaded = load_settings(config or st.config, overrides)
    if st.debug and loaded.kafka.log_level == 0:
        loaded = loaded.model_copy(update={"kafka": loaded.kafka.model_copy(update={"log_level": 6})})
    return loaded
