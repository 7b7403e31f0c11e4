"""Processes that race on one PostgreSQL catalog (forked by tests/integration/test_catalog_postgres.py).

A module of their own, with light imports: the forkserver preloads it once instead of the test module."""

from __future__ import annotations

import multiprocessing
import os

from eventlake.catalog import CatalogStore, open_catalog
from eventlake.catalog.exceptions import CatalogError, LedgerConflict
from eventlake.config import load_settings
from tests.unit.test_catalog_store import _entry


def _open(url: str, password: str) -> CatalogStore:
    os.environ["EVENTLAKE_CATALOG_PASSWORD"] = password
    return open_catalog(load_settings(overrides={"catalog": url}))


def race(url: str, password: str, tag: str, results: multiprocessing.Queue[str]) -> None:
    """Land offsets 0..999 of t[0]; say who won or that the ledger refused."""
    with _open(url, password) as store:
        try:
            store.commit_flush(_entry(0, 999, tag=tag))
            results.put(tag)
        except LedgerConflict:
            results.put("conflict")


def open_new(url: str, password: str, results: multiprocessing.Queue[str]) -> None:
    """Open (and so create or upgrade) the catalog; "ok" or the one-line error."""
    try:
        with _open(url, password) as store:
            store.ensure_database("default")
        results.put("ok")
    except CatalogError as exc:
        results.put(str(exc))
