"""Settings of the object store behind the lake (local folder or S3)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr


class S3Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint_url: str | None = None  # None: AWS itself
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    path_style: bool = False
