"""`eventlake demo`: broker, topic, producers, sink and dashboard in one command (what `make demo` runs)."""

from __future__ import annotations

from typing import Annotated

import typer

from eventlake.cli import output
from eventlake.cli.common import BootstrapOpt, ConfigOpt, LakeOpt, settings, state


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_cmd(
        ctx: typer.Context,
        duration: Annotated[
            float | None,
            typer.Option(
                "--duration", min=1, help="Stop after this many seconds (default: at Ctrl-C).", show_default=False
            ),
        ] = None,
        rate: Annotated[float, typer.Option("--rate", min=1, help="Synthetic ticks per second.")] = 200.0,
        port: Annotated[
            int | None, typer.Option("--port", help="Dashboard port (default 8000).", show_default=False)
        ] = None,
        nodes: Annotated[
            int | None,
            typer.Option(
                "--nodes",
                min=1,
                max=9,
                help="Run the demo on a local KRaft cluster of this many nodes (default 1; kept with the broker's "
                "data dir). Drill it with `eventlake broker kill --node N` / `start --node N`.",
                show_default=False,
            ),
        ] = None,
        lake: LakeOpt = None,
        bootstrap_servers: BootstrapOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Stream stock ticks through Kafka into the lake and watch them live on the dashboard."""
        s = settings(
            ctx,
            config,
            lake=lake,
            bootstrap_servers=bootstrap_servers,
            dashboard={"port": port},
            broker={"nodes": nodes},
        )
        from eventlake.demo import DemoOptions, run_demo

        options = DemoOptions(duration_s=duration, rate=rate, config_file=config or state(ctx).config)
        run_demo(s, options, _say)


def _say(message: str) -> None:
    """A progress line on stderr, never wrapped or read as markup."""
    output.err_console().print(message, soft_wrap=True, markup=False, highlight=False)
