"""Settings of the AWS side of the catalog and SQL: Glue Data Catalog and Athena."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from eventlake.config.fields import Seconds

Region = Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")]


class AwsSettings(BaseModel):
    """Where Glue and Athena are. endpoint_url points at a VPC endpoint or a test server."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: Region = Field(
        "us-east-1", description="AWS region of Glue, Athena and `eventlake deploy`, e.g. eu-west-1."
    )
    endpoint_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Endpoint for Glue and Athena (a VPC endpoint or a test server); unset uses AWS's own.",
    )
    access_key_id: str | None = Field(
        None, description="AWS access key id; unset uses the usual AWS credential chain (env, profile, role)."
    )
    secret_access_key: SecretStr | None = Field(None, description="AWS secret access key (never shown).")
    session_token: SecretStr | None = Field(
        None, description="AWS session token for temporary credentials (never shown)."
    )
    glue_database: str | None = Field(
        None,
        pattern=r"^[a-z0-9_]{1,255}$",
        description="Glue database that mirrors eventlake's `database`; unset keeps the same name.",
    )
    athena_workgroup: str = Field(
        "primary",
        pattern=r"^[A-Za-z0-9._\-]{1,128}$",
        description="Athena workgroup the queries run in (it sets their role and limits).",
    )
    athena_output: str | None = Field(
        None,
        pattern=r"^s3://[^/]+(/.*)?$",
        description="Where Athena writes query results, s3://bucket/prefix/; unset uses the workgroup's.",
    )
    athena_poll_s: Seconds = Field(0.25, description="How often a running Athena query is polled (seconds).")
    profile: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9._@+=,-]{1,64}$",
        description="Named profile of ~/.aws/config for `eventlake deploy`; unset uses AWS_PROFILE or the default.",
    )

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
