"""`eventlake dashboard`: serve the web app (pipeline, dashboards as code, SQL) until Ctrl-C."""

from __future__ import annotations

from typing import Annotated

import typer

from eventlake.cli import output
from eventlake.cli.common import BootstrapOpt, CatalogOpt, ConfigOpt, LakeOpt, settings, state


def register(app: typer.Typer) -> None:
    @app.command("dashboard")
    def dashboard_cmd(
        ctx: typer.Context,
        host: Annotated[str | None, typer.Option(
            "--host", help="Address to bind (default 127.0.0.1; any other needs dashboard.token).",
            show_default=False)] = None,
        port: Annotated[int | None, typer.Option("--port", help="Port (default 8000).", show_default=False)] = None,
        token: Annotated[str | None, typer.Option(
            "--token", help="Access token every request must carry (better: env EVENTLAKE_DASHBOARD__TOKEN).",
            show_default=False)] = None,
        dashboards_dir: Annotated[str | None, typer.Option(
            "--dashboards-dir", help="Folder of dashboards as code (default ./dashboards).",
            show_default=False)] = None,
        lake: LakeOpt = None,
        catalog: CatalogOpt = None,
        bootstrap_servers: BootstrapOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Serve live dashboards, the pipeline's health and a SQL page over the lake."""
        s = settings(ctx, config, lake=lake, catalog=catalog, bootstrap_servers=bootstrap_servers,
                     dashboard={"host": host, "port": port, "token": token, "dashboards_dir": dashboards_dir})

        def ready(url: str) -> None:
            output.info(f"dashboard for lake {s.lake} at {url} (Ctrl-C stops it)")
            typer.echo(url)

        from eventlake.dashboard.server import serve  # FastAPI loads only for this command

        serve(s, ready, access_log=state(ctx).debug)
