"""Settings of the web dashboard."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr


class DashboardSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = 8000
    # Required whenever host is not a loopback address.
    token: SecretStr | None = None
    dashboards_dir: str = "dashboards"
