"""Settings of the web dashboard."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class DashboardSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = 8000
    # Required whenever host is not a loopback address.
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
    # Dashboards as code (*.toml, *.yaml); a file here overrides a built-in one of the same name.
    dashboards_dir: str = "dashboards"
    # Serve the dashboards shipped in the package (the stock dashboard).
    builtin_dashboards: bool = True
    # A panel without its own refresh_s re-runs this often; none re-runs faster than min_refresh_s.
    default_refresh_s: float = 2.0
    min_refresh_s: float = 0.5
    # Rows a panel may return to the browser; more are cut off and flagged as truncated.
    max_panel_rows: int = 5_000
    # A comment line keeps idle live streams open through proxies.
    stream_heartbeat_s: float = 15.0
    max_request_bytes: int = Field(
        1024 * 1024,
        gt=0,
        description=(
            "Largest request body accepted (bytes); a larger one, announced or streamed, is refused with 413."
        ),
    )
