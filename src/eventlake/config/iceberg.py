"""Settings of Iceberg tables (`sink.table_format = "iceberg"`): where their catalog is."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class IcebergSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    catalog: str = Field(
        "sqlite",
        # The URL's parts are allow-listed when it is opened (catalog/postgres.py), as eventlake's own catalog's are.
        pattern=r"^(sqlite|glue|postgres(ql)?://\S+)$",
        description=(
            "Catalog of the Iceberg tables: sqlite (a file in the lake's _eventlake/, or beside a SQLite "
            "catalog for an S3 lake; one machine), postgresql://USER@HOST[:PORT]/DB (several machines), "
            "or glue (AWS Glue, reached with the [aws] settings)."
        ),
    )
    catalog_password: SecretStr | None = Field(
        None,
        description=(
            "Password of a postgresql:// Iceberg catalog (never in the URL; never shown); unset: "
            "catalog_password, then PGPASSWORD or ~/.pgpass."
        ),
    )
