"""`eventlake dashboard`: serve the web app (pipeline, dashboards as code, SQL) until Ctrl-C."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from eventlake.cli import output
from eventlake.cli.common import BootstrapOpt, CatalogOpt, ConfigOpt, LakeOpt, settings, state


def register(app: typer.Typer) -> None:
    @app.command("dashboard")
    def dashboard_cmd(
        ctx: typer.Context,
        host: Annotated[
            str | None,
            typer.Option(
                "--host",
                help="Address to bind (default 127.0.0.1; any other needs an access token).",
                show_default=False,
            ),
        ] = None,
        port: Annotated[int | None, typer.Option("--port", help="Port (default 8000).", show_default=False)] = None,
        token_file: Annotated[
            Path | None,
            typer.Option(
                "--token-file",
                help="File holding the access token, mode 600 (or env EVENTLAKE_DASHBOARD__TOKEN).",
                show_default=False,
            ),
        ] = None,
        # Gone: a command line is visible to every user in `ps`. Kept hidden only to say so.
        token: Annotated[str | None, typer.Option("--token", hidden=True, show_default=False)] = None,
        dashboards_dir: Annotated[
            str | None,
            typer.Option(
                "--dashboards-dir", help="Folder of dashboards as code (default ./dashboards).", show_default=False
            ),
        ] = None,
        lake: LakeOpt = None,
        catalog: CatalogOpt = None,
        bootstrap_servers: BootstrapOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Serve live dashboards, the pipeline's health and a SQL page over the lake."""
        if token is not None:
            from eventlake.dashboard.exceptions import TokenOnCommandLine

            raise TokenOnCommandLine(
                "--token is not accepted: every user can read a command line with ps",
                hint="set env EVENTLAKE_DASHBOARD__TOKEN or pass --token-file FILE (mode 600)",
            )
        s = settings(
            ctx,
            config,
            lake=lake,
            catalog=catalog,
            bootstrap_servers=bootstrap_servers,
            dashboard={
                "host": host,
                "port": port,
                "dashboards_dir": dashboards_dir,
                "token_file": str(token_file) if token_file is not None else None,
            },
        )

        def ready(url: str) -> None:
            output.info(f"dashboard for lake {s.lake} at {url} (Ctrl-C stops it)")
            typer.echo(url)

        from eventlake.dashboard.server import serve  # FastAPI loads only for this command

        serve(s, ready, access_log=state(ctx).debug)
