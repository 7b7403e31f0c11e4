"""`eventlake query "SQL"` and the interactive `eventlake sql` shell (read-only SQL over the catalog)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from eventlake.catalog.store import require_lake
from eventlake.cli import output
from eventlake.cli.common import CatalogOpt, ConfigOpt, LakeOpt, settings
from eventlake.cli.query_run import QueryFormat, query_flags, run_query
from eventlake.config import Settings
from eventlake.errors import EventlakeError

if TYPE_CHECKING:
    from eventlake.query import QueryEngine

HISTORY_FILE = Path("~/.eventlake_history")
SHELL_HELP = """Enter SQL ending with ';' (it may span lines). Commands:
  .tables            list tables and views
  .schema TABLE      columns of a table
  .format FMT        table, csv or json
  .help              this text
  .quit              leave (also Ctrl-D)"""


MaxRowsOpt = Annotated[
    int | None, typer.Option("--max-rows", min=0, help="Return at most N rows (query.max_rows; 0 = no limit).")
]
TimeLimitOpt = Annotated[
    float | None, typer.Option("--time-limit", min=0.01, help="Stop after S seconds (query.time_limit_s).")
]


def _settings(
    ctx: typer.Context,
    config: Path | None,
    lake: str | None,
    catalog: str | None,
    max_rows: int | None,
    time_limit: float | None,
    engine: str | None = None,
) -> Settings:
    return settings(ctx, config, **query_flags(lake, catalog, max_rows, time_limit, engine))


def register(app: typer.Typer) -> None:
    @app.command("query")
    def query(
        ctx: typer.Context,
        sql: Annotated[
            str, typer.Argument(help='A SELECT over catalog tables, e.g. "SELECT count(*) FROM stock_ticks"')
        ],
        fmt: Annotated[QueryFormat, typer.Option("--format", help="table, csv, json or parquet")] = QueryFormat.table,
        out: Annotated[Path | None, typer.Option("--out", help="Write to FILE instead of stdout.")] = None,
        max_rows: MaxRowsOpt = None,
        time_limit: TimeLimitOpt = None,
        engine_name: Annotated[
            str | None,
            typer.Option(
                "--engine", help="duckdb (in-process, default) or athena (tables published with `glue publish`)"
            ),
        ] = None,
        as_of: Annotated[
            str | None,
            typer.Option(
                "--as-of",
                help="Read Iceberg tables as of a snapshot id or an ISO-8601 time (UTC without a zone): time travel.",
            ),
        ] = None,
        lake: LakeOpt = None,
        catalog: CatalogOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Run read-only SQL over the lake's tables (DuckDB); bare names are in the default database."""
        s = _settings(ctx, config, lake, catalog, max_rows, time_limit, engine_name)  # the setting checks --engine
        run_query(s, sql, fmt, out, as_of)

    @app.command("sql")
    def sql_shell(
        ctx: typer.Context,
        max_rows: MaxRowsOpt = None,
        time_limit: TimeLimitOpt = None,
        lake: LakeOpt = None,
        catalog: CatalogOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Interactive SQL shell with history (~/.eventlake_history); `.help` lists its commands."""
        s = _settings(ctx, config, lake, catalog, max_rows, time_limit)
        require_lake(s)
        from eventlake.query import connect

        with connect(s) as engine:
            Shell(engine).run()


class Shell:
    """A small REPL: statements end with ';', errors are one line and the shell goes on."""

    def __init__(self, engine: QueryEngine) -> None:
        self.engine = engine
        self.fmt = output.Format.table
        self.interactive = sys.stdin.isatty()

    def run(self) -> None:
        history = self._start_history()
        if self.interactive:
            output.info("eventlake sql: read-only SQL over the catalog. `.help` for commands, `.quit` to leave.")
        buffer: list[str] = []
        try:
            while True:
                try:
                    line = input(("   ...> " if buffer else "eventlake> ") if self.interactive else "")
                except EOFError:
                    break
                stripped = line.strip()
                if not buffer and stripped.startswith("."):
                    if not self._command(stripped):
                        break
                    continue
                if stripped:
                    buffer.append(line)
                if stripped.endswith(";"):
                    self._run_sql("\n".join(buffer))
                    buffer = []
            if buffer:
                self._run_sql("\n".join(buffer))
        finally:
            if history is not None:
                self._save_history(history)

    def _run_sql(self, sql: str) -> None:
        try:
            result = self.engine.execute(sql)
        except EventlakeError as exc:
            output.error(exc.one_line())
            return
        output.print_rows(result.columns, result.rows, self.fmt)
        if result.truncated:
            output.info(f"(first {len(result.rows)} rows)")
        if self.interactive:
            output.info(f"{len(result.rows)} rows in {result.elapsed_s:.3f} s")

    def _command(self, text: str) -> bool:
        word, _, arg = text.partition(" ")
        if word in (".quit", ".exit", ".q"):
            return False
        if word == ".help":
            output.info(SHELL_HELP)
        elif word == ".tables":
            rows: list[tuple[Any, ...]] = [(t.qualified_name, t.format, t.files, t.rows) for t in self.engine.tables()]
            rows += [(name, "view", None, None) for name, _sql in self.engine.views()]
            output.print_rows(["table", "format", "files", "rows"], rows, self.fmt)
        elif word == ".schema" and arg.strip():
            self._run_sql(f"DESCRIBE {arg.strip().rstrip(';')}")
        elif word == ".format" and arg.strip() in ("table", "csv", "json"):
            self.fmt = output.Format(arg.strip())
        else:
            output.error(f"unknown command {text!r}; `.help` lists commands")
        return True

    def _start_history(self) -> Any:
        if not self.interactive:
            return None
        try:
            import readline
        except ImportError:  # no readline on this platform: no history, the shell still works
            return None
        path = HISTORY_FILE.expanduser()
        try:
            readline.read_history_file(path)
        except OSError:
            pass
        readline.set_history_length(1000)
        return readline

    @staticmethod
    def _save_history(readline: Any) -> None:
        try:
            readline.write_history_file(HISTORY_FILE.expanduser())
        except OSError:
            pass
