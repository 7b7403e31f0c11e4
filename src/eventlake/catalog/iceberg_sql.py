"""Kept for imports made before the Iceberg catalog could be chosen: see catalog/iceberg_catalog.py."""

from __future__ import annotations

from eventlake.catalog.iceberg_catalog import ICEBERG, ICEBERG_FILE, TABLE_TYPE, is_iceberg, open_iceberg_catalog

__all__ = ["ICEBERG", "ICEBERG_FILE", "TABLE_TYPE", "is_iceberg", "open_iceberg_catalog"]
