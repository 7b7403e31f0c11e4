"""Settings of the web dashboard."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from eventlake.config.fields import Bytes, Count, Host, Port, Seconds


class DashboardSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: Host = Field("127.0.0.1", description="Address the dashboard serves on; beyond loopback it needs a token.")
    port: Port = Field(8000, description="Port the dashboard serves on.")
    token: SecretStr | None = Field(
        None,
        description=(
            "Access token every request must carry (env EVENTLAKE_DASHBOARD__TOKEN); at least 32 characters "
            "of printable ASCII and 128 bits of estimated entropy. Required to bind beyond loopback."
        ),
    )
    token_file: str | None = Field(
        None,
        description=(
            "File holding the access token (instead of `token`); it must be readable by its owner only "
            "(mode 600 or 400). Surrounding whitespace, such as the final newline, is ignored."
        ),
    )
    dashboards_dir: str = Field(
        "dashboards",
        description="Folder of dashboards as code (*.toml, *.yaml); a file here overrides a built-in of its name.",
    )
    builtin_dashboards: bool = Field(True, description="Serve the dashboards shipped in the package (the stock one).")
    default_refresh_s: Seconds = Field(
        2.0, description="How often a panel without its own refresh_s re-runs its query (seconds)."
    )
    min_refresh_s: Seconds = Field(0.5, description="Shortest refresh any panel may ask for (seconds).")
    max_panel_rows: Count = Field(
        5_000, description="Rows a panel may send to the browser; more are cut off and flagged as truncated."
    )
    stream_heartbeat_s: Seconds = Field(
        15.0, description="How often an idle live stream sends a comment line to stay open through proxies (seconds)."
    )
    max_request_bytes: Bytes = Field(
        1024 * 1024,
        description=(
            "Largest request body accepted (bytes); a larger one, announced or streamed, is refused with 413."
        ),
    )
