"""`eventlake crawl`: any folder of the lake becomes a table you can query.

Walks the lake (local or S3), skipping names that start with `_` or `.` (the catalog's own
`_eventlake/`, the sink's `_tmp/`), classifies and describes each file (crawl_inspect),
groups files into tables by Glue's rules (crawl_plan), and applies the result to the
catalog: tables created or updated (schema change policy), partitions and files added,
files that are gone removed, tables whose folder is gone handled by the deletion policy.
Tables the sink owns are never touched: their files are governed by the ledger.

Incremental: each file's description is remembered in the crawl state with its size and
modification time, so a re-crawl only reads new or changed files; `new_folders_only`
crawls only folders that did not exist at the previous crawl (Glue's "new folders only").
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from eventlake.catalog.crawl_inspect import FileSchema, Unreadable, inspect_file
from eventlake.catalog.crawl_plan import FoundFile, PlannedTable, plan_tables
from eventlake.catalog.model import DataFile, Partition, Table
from eventlake.catalog.store import CatalogStore, open_catalog
from eventlake.config import Settings
from eventlake.config.query import CrawlerSettings
from eventlake.lake import Lake, LakeObject, open_lake
from eventlake.types import TableRef

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (files looked at, files in the lake)


@dataclass
class CrawlSummary:
    lake: str
    database: str
    tables_created: list[str] = field(default_factory=list)
    tables_updated: list[str] = field(default_factory=list)
    tables_unchanged: list[str] = field(default_factory=list)
    tables_deleted: list[str] = field(default_factory=list)  # by the deletion policy (delete/deprecate/log)
    schema_changes: list[str] = field(default_factory=list)
    partitions_added: int = 0
    files_added: int = 0
    files_removed: int = 0
    files_seen: int = 0
    files_read: int = 0  # new or changed since the last crawl
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["skipped"] = [{"file": f, "reason": r} for f, r in self.skipped]
        return out


def _hidden(rel: str) -> bool:
    return any(seg.startswith(("_", ".")) for seg in rel.split("/"))


def _parent(rel: str) -> str:
    return rel.rsplit("/", 1)[0] if "/" in rel else ""


class Crawler:
    def __init__(self, store: CatalogStore, lake: Lake, settings: CrawlerSettings | None = None) -> None:
        self.store = store
        self.lake = lake
        self.settings = settings or CrawlerSettings()

    def _state_key(self, database: str) -> str:
        return f"crawler:{self.lake.uri_root}:{database}"

    def crawl(
        self,
        database: str = "default",
        include: list[str] | None = None,
        exclude: list[str] | None = None,
        new_folders_only: bool | None = None,
        progress: Progress | None = None,
    ) -> CrawlSummary:
        include = list(include or self.settings.include)
        exclude = list(exclude or self.settings.exclude)
        new_only = self.settings.new_folders_only if new_folders_only is None else new_folders_only
        summary = CrawlSummary(self.lake.uri_root, database)
        self.store.ensure_database(database)

        sink_folders = self._sink_folders()
        state = self.store.get_crawl_state(self._state_key(database)) or {}
        cache: dict[str, dict[str, Any]] = state.get("files", {})
        old_folders = set(state.get("folders", []))

        objects = [o for o in self.lake.list() if not _hidden(o.rel_path)]
        seen_folders = {_parent(o.rel_path) for o in objects}
        found: list[FoundFile] = []
        new_cache: dict[str, dict[str, Any]] = {}
        for done, obj in enumerate(objects, start=1):
            if progress is not None:
                progress(done, len(objects))
            rel = obj.rel_path
            if any(rel == s or rel.startswith(s + "/") for s in sink_folders):
                continue  # the sink's tables: governed by the ledger
            if include and not any(fnmatch.fnmatch(rel, g) for g in include):
                continue
            if any(fnmatch.fnmatch(rel, g) for g in exclude):
                continue
            summary.files_seen += 1
            entry = self._describe(obj, cache.get(rel), new_only and _parent(rel) in old_folders, summary)
            if entry is None:
                continue
            new_cache[rel] = entry
            if "error" in entry:
                summary.skipped.append((self.lake.uri(rel), entry["error"]))
            else:
                found.append(FoundFile(rel, obj.size, obj.mtime or 0.0, FileSchema.from_state(entry["schema"])))

        tables, unplaced = plan_tables(found)
        summary.skipped += [(self.lake.uri(rel), reason) for rel, reason in unplaced]
        planned_names = set()
        for table in tables:
            planned_names.add(table.name)
            self._apply(database, table, summary)
        if not (include or exclude or new_only):
            self._handle_deleted(database, planned_names, summary)
        self.store.set_crawl_state(
            self._state_key(database),
            {
                "files": new_cache,
                "folders": sorted(seen_folders | (old_folders if new_only else set())),
            },
        )
        return summary

    def _sink_folders(self) -> list[str]:
        out = []
        for t in self.store.list_tables():
            if t.source != "crawler":
                try:
                    out.append(self.lake.rel(t.location.rstrip("/")))
                except Exception:  # a table of another lake sharing this catalog
                    continue
        return out

    def _describe(
        self, obj: LakeObject, cached: dict[str, Any] | None, old_folder: bool, summary: CrawlSummary
    ) -> dict[str, Any] | None:
        """The file's description: from the crawl state when unchanged, else read now."""
        unchanged = cached is not None and cached.get("size") == obj.size and cached.get("mtime") == obj.mtime
        if cached is not None and (unchanged or old_folder):
            return cached
        if old_folder:  # a file added to a folder crawled before: not crawled with new_folders_only
            return None
        summary.files_read += 1
        entry: dict[str, Any] = {"size": obj.size, "mtime": obj.mtime}
        try:
            entry["schema"] = inspect_file(
                self.lake.filesystem, self.lake.path(obj.rel_path), self.settings.sample_rows
            ).to_state()
        except Unreadable as exc:
            log.info("crawl: %s left out: %s", self.lake.uri(obj.rel_path), exc.reason)
            entry["error"] = exc.reason
        return entry

    def _table_for(self, database: str, plan: PlannedTable) -> Table:
        layout = plan.layout
        params = {"classification": {"jsonl": "json"}.get(layout.format, layout.format)}
        if layout.compression:
            params["compression"] = layout.compression
        if layout.format == "csv":
            params["csv.header"] = "true" if layout.header else "false"
            params["csv.delimiter"] = layout.delimiter
        if plan.union_by_name:
            params["union_by_name"] = "true"
        return Table(
            database,
            plan.name,
            self.lake.uri(plan.rel_location),
            layout.format,
            plan.columns,
            plan.partition_keys,
            source="crawler",
            parameters=params,
        )

    def _apply(self, database: str, plan: PlannedTable, summary: CrawlSummary) -> None:
        ref = TableRef(database, plan.name)
        wanted = self._table_for(database, plan)
        existing = self.store.get_table(ref)
        if existing is not None and existing.source != "crawler":
            summary.skipped.append((wanted.location, f"table {ref} belongs to the {existing.source}; not crawled"))
            return
        if existing is None:
            self.store.upsert_table(wanted)
            summary.tables_created.append(str(ref))
        else:
            changed = existing.columns != wanted.columns or existing.partition_keys != wanted.partition_keys
            if changed:
                change = _describe_change(existing, wanted)
                if self.settings.schema_change == "update":
                    self.store.upsert_table(wanted)
                    summary.schema_changes.append(f"{ref}: {change} (updated)")
                else:
                    summary.schema_changes.append(f"{ref}: {change} (logged; table kept)")
            elif existing.parameters != wanted.parameters or existing.location != wanted.location:
                self.store.upsert_table(wanted)
        files_changed = self._sync_files(ref, plan, summary)
        if existing is not None:
            updated = files_changed or str(ref) in " ".join(summary.schema_changes)
            (summary.tables_updated if updated else summary.tables_unchanged).append(str(ref))

    def _sync_files(self, ref: TableRef, plan: PlannedTable, summary: CrawlSummary) -> bool:
        have = {f.path: f for f in self.store.list_files(ref)}
        want = {
            self.lake.uri(f.rel): DataFile(
                path=self.lake.uri(f.rel),
                partition=values,
                rows=f.schema.rows,
                bytes=f.size,
                format=plan.layout.format,
                created_at=f.mtime,
            )
            for f, values in plan.files
        }
        new = [d for p, d in want.items() if p not in have or have[p].bytes != d.bytes or have[p].rows != d.rows]
        gone = [p for p in have if p not in want]
        if new:
            self.store.add_files(ref, new)
        if gone:
            self.store.remove_files(ref, gone)
        parts = {tuple(v.items()): v for _f, v in plan.files}
        partitions = [
            Partition(
                v,
                self.lake.uri(
                    "/".join(
                        [
                            plan.rel_location,
                            *(f"{k}={x}" if not k.startswith("partition_") else x for k, x in v.items()),
                        ]
                    )
                ),
            )
            for v in parts.values()
            if v
        ]
        summary.partitions_added += self.store.add_partitions(ref, partitions) if partitions else 0
        if self.settings.on_delete == "delete":
            empty = [p.values for p in self.store.list_partitions(ref) if tuple(p.values.items()) not in parts]
            if empty:
                self.store.remove_partitions(ref, empty)
        summary.files_added += len(new)
        summary.files_removed += len(gone)
        return bool(new or gone)

    def _handle_deleted(self, database: str, planned: set[str], summary: CrawlSummary) -> None:
        """Crawler tables of this lake whose folder has no files any more: Glue's deletion behaviour."""
        for table in self.store.list_tables(database):
            if table.source != "crawler" or table.name in planned:
                continue
            if not table.location.startswith(self.lake.uri_root + "/"):
                continue  # another lake's table in a shared catalog
            policy = self.settings.on_delete
            if policy == "log":
                summary.tables_deleted.append(f"{table.ref} (files gone; logged)")
                continue
            if policy == "delete":
                self.store.drop_table(table.ref)
                summary.tables_deleted.append(f"{table.ref} (deleted)")
                continue
            if table.parameters.get("deprecated") == "true":
                continue
            paths = [f.path for f in self.store.list_files(table.ref)]
            if paths:
                self.store.remove_files(table.ref, paths)
                summary.files_removed += len(paths)
            self.store.upsert_table(
                Table(
                    table.database,
                    table.name,
                    table.location,
                    table.format,
                    table.columns,
                    table.partition_keys,
                    source="crawler",
                    parameters={**table.parameters, "deprecated": "true"},
                )
            )
            summary.tables_deleted.append(f"{table.ref} (deprecated)")


def _describe_change(old: Table, new: Table) -> str:
    before = {c.name: c.type for c in old.columns}
    after = {c.name: c.type for c in new.columns}
    parts = [f"+{n} {t}" for n, t in after.items() if n not in before]
    parts += [f"-{n}" for n in before if n not in after]
    parts += [f"{n} {before[n]}->{t}" for n, t in after.items() if n in before and before[n] != t]
    if old.partition_keys != new.partition_keys:
        parts.append("partition keys " + ",".join(k.name for k in new.partition_keys))
    return ", ".join(parts) or "column order"


def crawl(store: CatalogStore, lake: Lake, settings: CrawlerSettings | None = None, **kwargs: Any) -> CrawlSummary:
    return Crawler(store, lake, settings).crawl(**kwargs)


def crawl_lake(
    settings: Settings,
    *,
    lake: str | None = None,
    database: str | None = None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    new_folders_only: bool | None = None,
    progress: Progress | None = None,
) -> CrawlSummary:
    """Crawl the lake of `settings` into its catalog (the CLI's and notebooks' entry point)."""
    if lake is not None and lake != settings.lake:
        settings = settings.model_copy(update={"lake": lake})
    with open_catalog(settings) as store:
        return Crawler(store, open_lake(settings.lake, settings.s3), settings.query.crawler).crawl(
            database=database or settings.database,
            include=include,
            exclude=exclude,
            new_folders_only=new_folders_only,
            progress=progress,
        )
