"""Publish eventlake's tables and partitions to the AWS Glue Data Catalog, for Athena.

The SQLite catalog stays the source of truth: it holds the ledger, which needs
conditional writes Glue does not offer. Glue gets a mirror of what Athena needs
(database, table with SerDe and partition keys, partitions), so the same lake on S3
is queryable from Athena, QuickSight or Spark. boto3 is imported here only.

An Iceberg table is published the way Athena (and pyiceberg's or Spark's Glue catalogs) read
one: `table_type=ICEBERG` and `metadata_location` naming its current metadata file, which
holds schema, partition spec and snapshots (no SerDe, no partitions: Iceberg lists its files
itself). Publishing again after new commits moves `metadata_location` on and keeps the one
it replaced as `previous_metadata_location`, as Iceberg's own Glue catalog does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eventlake.catalog.exceptions import CatalogError
from eventlake.catalog.iceberg_sql import is_iceberg, open_iceberg_catalog
from eventlake.catalog.model import Partition, Table
from eventlake.config import Settings
from eventlake.config.aws import AwsSettings
from eventlake.lake import Lake

if TYPE_CHECKING:
    from eventlake.catalog.sqlite import SQLCatalog

# Hive SerDe and formats per eventlake file format: what Glue crawlers write, what Athena reads.
_FORMATS: dict[str, dict[str, Any]] = {
    "parquet": {
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
            "Parameters": {"serialization.format": "1"},
        },
        "classification": "parquet",
    },
    "jsonl": {
        "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe", "Parameters": {}},
        "classification": "json",
    },
    "csv": {
        "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
            "Parameters": {"field.delim": ","},
        },
        "classification": "csv",
    },
}


def _storage(table: Table, location: str) -> dict[str, Any]:
    fmt = _FORMATS.get(table.format)
    if fmt is None:
        raise CatalogError(f"table {table.ref} has format {table.format!r}, which Glue cannot describe")
    return {
        "Columns": [{"Name": c.name, "Type": c.type} for c in table.columns],
        "Location": location,
        "InputFormat": fmt["InputFormat"],
        "OutputFormat": fmt["OutputFormat"],
        "SerdeInfo": fmt["SerdeInfo"],
        "Compressed": table.format == "parquet",
    }


def table_input(table: Table) -> dict[str, Any]:
    """The Glue TableInput for an eventlake table (pure: unit-tested without AWS)."""
    params = {
        "classification": _FORMATS.get(table.format, {}).get("classification", table.format),
        "eventlake.schema_version": str(table.schema_version),
        "eventlake.source": table.source,
        **table.parameters,
    }
    if table.format == "csv":
        params.setdefault("skip.header.line.count", "1")
    return {
        "Name": table.name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": params,
        "PartitionKeys": [{"Name": c.name, "Type": c.type} for c in table.partition_keys],
        "StorageDescriptor": _storage(table, table.location.rstrip("/") + "/"),
    }


def iceberg_table_input(
    table: Table, metadata_location: str, location: str, previous: str | None = None
) -> dict[str, Any]:
    """The Glue TableInput of an Iceberg table (pure): Athena reads schema, spec and files from the metadata."""
    params = {
        "eventlake.source": table.source,
        **table.parameters,
        "table_type": "ICEBERG",
        "metadata_location": metadata_location,
    }
    if previous and previous != metadata_location:
        params["previous_metadata_location"] = previous
    return {
        "Name": table.name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": params,
        "StorageDescriptor": {
            "Columns": [{"Name": c.name, "Type": c.type} for c in table.columns],
            "Location": location,
        },
    }


def iceberg_metadata(lake: Lake, settings: Settings, table: Table) -> tuple[str, str] | None:
    """(current metadata file, table location) of an Iceberg table; None before its first commit."""
    from pyiceberg.exceptions import NoSuchTableError

    try:
        current = open_iceberg_catalog(lake, settings).load_table((table.database, table.name))
    except NoSuchTableError:
        return None
    return current.metadata_location, current.location()


def partition_input(table: Table, partition: Partition) -> dict[str, Any]:
    return {
        "Values": [partition.values[k.name] for k in table.partition_keys],
        "StorageDescriptor": _storage(table, partition.location.rstrip("/") + "/"),
    }


@dataclass
class PublishReport:
    tables_created: list[str] = field(default_factory=list)
    tables_updated: list[str] = field(default_factory=list)
    partitions_added: int = 0
    partitions_updated: int = 0  # existing partitions given the table's current columns
    tables_skipped: list[str] = field(default_factory=list)  # Iceberg tables with no commit yet
    tables_in_glue: list[str] = field(default_factory=list)  # Iceberg tables whose catalog is Glue itself


def local_locations(tables: list[Table]) -> list[str]:
    """Locations Athena cannot read (not s3://): a local lake published by mistake, usually."""
    return [f"{t.ref}: {t.location}" for t in tables if not t.location.startswith(("s3://", "s3a://"))]


class GluePublisher:
    """Mirror tables and partitions of the eventlake catalog into Glue."""

    def __init__(self, aws: AwsSettings) -> None:
        try:
            import boto3
        except ImportError as exc:  # pragma: no cover - boto3 is a dependency
            raise CatalogError("publishing to Glue needs boto3", hint="pip install 'eventlake[aws]'") from exc
        self.aws = aws
        self._glue = boto3.client("glue", **aws.client_kwargs())

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise _GlueError(
                code,
                f"Glue {what} failed: {code}: {exc.response.get('Error', {}).get('Message')}",
            ) from exc
        except BotoCoreError as exc:
            raise CatalogError(
                f"Glue {what} failed: {exc}", hint="check aws.region, aws.endpoint_url and credentials"
            ) from exc

    def publish(
        self,
        store: SQLCatalog,
        tables: list[str] | None = None,
        allow_local: bool = False,
        lake: Lake | None = None,
        settings: Settings | None = None,
    ) -> PublishReport:
        """Mirror the tables (all, or those named); local paths as locations only with `allow_local`.
        Iceberg tables need the `lake` (their metadata location comes from its Iceberg catalog)."""
        chosen = [t for t in store.list_tables() if not tables or t.name in tables or str(t.ref) in tables]
        local = local_locations(chosen)
        if local and not allow_local:
            raise CatalogError(
                f"{len(local)} tables have local paths Athena cannot read, e.g. {local[0]}",
                hint="publish an s3:// lake, or pass --allow-local if a local Glue mirror is meant",
            )
        report = PublishReport()
        for table in chosen:
            database = self.aws.glue_database or table.database
            iceberg = None
            if is_iceberg(table.parameters):
                if lake is None or settings is None:
                    raise CatalogError(f"publishing Iceberg table {table.ref} needs its lake", hint="pass --lake")
                if settings.iceberg.catalog == "glue":
                    # Glue is already its catalog and moves metadata_location on every commit; a copy
                    # published here would race those commits and could point Glue at an older snapshot.
                    report.tables_in_glue.append(f"{table.database}.{table.name}")
                    continue
                iceberg = iceberg_metadata(lake, settings, table)
                if iceberg is None:
                    report.tables_skipped.append(f"{database}.{table.name}")
                    continue
            self._ensure_database(database)
            tin = iceberg_table_input(table, *iceberg) if iceberg is not None else table_input(table)
            try:
                known = self._call("get_table", self._glue.get_table, DatabaseName=database, Name=table.name)
                if iceberg is not None:  # the metadata file Glue named so far becomes the previous one
                    old = known.get("Table", {}).get("Parameters", {})
                    previous = old.get("metadata_location")
                    if previous == iceberg[0]:
                        previous = old.get("previous_metadata_location")
                    tin = iceberg_table_input(table, *iceberg, previous=previous)
                self._call("update_table", self._glue.update_table, DatabaseName=database, TableInput=tin)
                report.tables_updated.append(f"{database}.{table.name}")
            except _GlueError as exc:
                if exc.code != "EntityNotFoundException":
                    raise
                self._call("create_table", self._glue.create_table, DatabaseName=database, TableInput=tin)
                report.tables_created.append(f"{database}.{table.name}")
            added, updated = self._publish_partitions(database, table, store.list_partitions(table.ref))
            report.partitions_added += added
            report.partitions_updated += updated
        return report

    def _ensure_database(self, name: str) -> None:
        try:
            self._call("get_database", self._glue.get_database, Name=name)
        except _GlueError as exc:
            if exc.code != "EntityNotFoundException":
                raise
            self._call("create_database", self._glue.create_database, DatabaseInput={"Name": name})

    def _publish_partitions(self, database: str, table: Table, partitions: list[Partition]) -> tuple[int, int]:
        """(added, updated): new partitions created, existing ones whose columns differ from the table's updated.

        Athena reads a partition's files with the partition's columns: one left at an older schema
        (bigint where the table and the files now say double) would fail or misread them.
        """
        if not table.partition_keys or not partitions:
            return 0, 0
        existing: dict[tuple[str, ...], list[dict[str, str]]] = {}
        kwargs: dict[str, Any] = {"DatabaseName": database, "TableName": table.name}
        while True:
            page = self._call("get_partitions", self._glue.get_partitions, **kwargs)
            for p in page.get("Partitions", []):
                existing[tuple(p["Values"])] = [
                    {"Name": c["Name"], "Type": c["Type"]} for c in p.get("StorageDescriptor", {}).get("Columns", [])
                ]
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        columns = [{"Name": c.name, "Type": c.type} for c in table.columns]
        values = {p.location: tuple(p.values[k.name] for k in table.partition_keys) for p in partitions}
        new = [p for p in partitions if values[p.location] not in existing]
        stale = [p for p in partitions if values[p.location] in existing and existing[values[p.location]] != columns]
        for start in range(0, len(stale), 100):  # BatchUpdatePartition takes at most 100
            entries = [
                {"PartitionValueList": list(values[p.location]), "PartitionInput": partition_input(table, p)}
                for p in stale[start : start + 100]
            ]
            result = self._call(
                "batch_update_partition",
                self._glue.batch_update_partition,
                DatabaseName=database,
                TableName=table.name,
                Entries=entries,
            )
            if result.get("Errors"):
                raise CatalogError(
                    f"Glue refused updating partitions of {table.ref}: {result['Errors'][0].get('ErrorDetail')}"
                )
        for start in range(0, len(new), 100):  # BatchCreatePartition takes at most 100
            batch = [partition_input(table, p) for p in new[start : start + 100]]
            result = self._call(
                "batch_create_partition",
                self._glue.batch_create_partition,
                DatabaseName=database,
                TableName=table.name,
                PartitionInputList=batch,
            )
            errors = [
                e
                for e in result.get("Errors", [])
                if e.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException"
            ]
            if errors:
                raise CatalogError(f"Glue refused partitions of {table.ref}: {errors[0]['ErrorDetail']}")
        return len(new), len(stale)

    def remove_partitions(self, table: Table, values_list: list[dict[str, str]]) -> int:
        """Delete partitions (retention); ones Glue does not have are fine. Returns how many were asked."""
        if not table.partition_keys or not values_list:
            return 0
        database = self.aws.glue_database or table.database
        for start in range(0, len(values_list), 25):  # BatchDeletePartition takes at most 25
            chunk = values_list[start : start + 25]
            result = self._call(
                "batch_delete_partition",
                self._glue.batch_delete_partition,
                DatabaseName=database,
                TableName=table.name,
                PartitionsToDelete=[{"Values": [v[k.name] for k in table.partition_keys]} for v in chunk],
            )
            errors = [
                e
                for e in result.get("Errors", [])
                if e.get("ErrorDetail", {}).get("ErrorCode") != "EntityNotFoundException"
            ]
            if errors:
                raise CatalogError(f"Glue refused deleting partitions of {table.ref}: {errors[0]['ErrorDetail']}")
        return len(values_list)


class _GlueError(CatalogError):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message, hint="check aws.region, aws.endpoint_url and credentials")
