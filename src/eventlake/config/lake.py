"""Settings of the object store behind the lake (local folder or S3)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class S3Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="S3 endpoint of another server (MinIO, S3Proxy, Ceph), addressed path-style; unset: AWS itself.",
    )
    region: str = Field("us-east-1", min_length=1, description="Region of the lake's bucket.")
    access_key_id: str | None = Field(
        None, description="Access key id; unset uses the usual AWS credential chain (env, profile, role)."
    )
    secret_access_key: SecretStr | None = Field(None, description="Secret access key (never shown).")
    session_token: SecretStr | None = Field(None, description="Session token for temporary credentials (never shown).")
    # Nothing reads it: pyarrow addresses a custom endpoint path-style and AWS by virtual host on its
    # own. Kept so existing files that set it still load.
    path_style: bool = Field(
        False, description="No effect: a custom endpoint_url is always addressed path-style, AWS itself by host."
    )
