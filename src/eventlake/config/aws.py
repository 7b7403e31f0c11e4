"""Settings of the AWS side of the catalog and SQL: Glue Data Catalog and Athena."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr


class AwsSettings(BaseModel):
    """Where Glue and Athena are. endpoint_url points at a VPC endpoint or a test server."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str = "us-east-1"
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    # Glue database that mirrors eventlake's `default`; None keeps the same name.
    glue_database: str | None = None
    athena_workgroup: str = "primary"
    athena_output: str | None = None  # s3://bucket/athena-results/
    athena_poll_s: float = 0.25

    def client_kwargs(self) -> dict[str, object]:
        kwargs: dict[str, object] = {"region_name": self.region}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        if self.access_key_id:
            kwargs["aws_access_key_id"] = self.access_key_id
        if self.secret_access_key is not None:
            kwargs["aws_secret_access_key"] = self.secret_access_key.get_secret_value()
        if self.session_token is not None:
            kwargs["aws_session_token"] = self.session_token.get_secret_value()
        return kwargs
