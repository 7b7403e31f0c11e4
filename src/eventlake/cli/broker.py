"""`eventlake broker start|stop|status|logs|certs`: the local Apache Kafka (KRaft)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from eventlake.cli import output
from eventlake.cli.common import ConfigOpt, settings
from eventlake.runtime import find_java

if TYPE_CHECKING:
    from eventlake.broker import LocalBroker

DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Broker data folder (default ./.eventlake/broker).")
]


def _broker(ctx: typer.Context, config: Path | None, **flags: object) -> LocalBroker:
    from eventlake.broker import LocalBroker  # the Kafka client loads only for broker commands

    return LocalBroker(settings(ctx, config, broker=flags).broker)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Run a local Apache Kafka broker (KRaft mode).", no_args_is_help=True)

    @group.command("start")
    def start(
        ctx: typer.Context,
        port: Annotated[int | None, typer.Option("--port", help="Client port (default 9092).")] = None,
        data_dir: DataDirOpt = None,
        advertise: Annotated[
            str | None,
            typer.Option("--advertise", help="Host name clients on other machines use to reach this broker."),
        ] = None,
        host: Annotated[
            str | None,
            typer.Option(
                "--host",
                help="Address to bind (default 127.0.0.1). Any other address needs a strong "
                "EVENTLAKE_BROKER__SASL_PASSWORD; clients then use SASL_SSL with SCRAM-SHA-512 and the CA "
                "in <data-dir>/tls/ca.pem.",
            ),
        ] = None,
        config: ConfigOpt = None,
    ) -> None:
        """Start the broker (resolving Kafka's jars on first use) and print its bootstrap address."""
        broker = _broker(ctx, config, port=port, data_dir=data_dir, advertise=advertise, host=host)
        state, started = broker.start()
        if not started:
            output.info(f"broker already running (pid {state.pid}, data dir {broker.data_dir})")
        else:
            output.info(f"broker started (pid {state.pid}, Kafka {state.version}, data dir {broker.data_dir})")
        if broker.settings.exposed:
            output.info(f"clients: SASL_SSL, SCRAM-SHA-512, CA {broker.tls.ca}")
        typer.echo(state.bootstrap)

    @group.command("stop")
    def stop(ctx: typer.Context, data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
        """Stop the broker gracefully."""
        broker = _broker(ctx, config, data_dir=data_dir)
        if broker.stop():
            output.info(f"broker stopped (data dir {broker.data_dir})")
        else:
            output.info(f"no broker running for data dir {broker.data_dir}")

    @group.command("status")
    def status(
        ctx: typer.Context,
        data_dir: DataDirOpt = None,
        config: ConfigOpt = None,
        fmt: Annotated[output.Format, typer.Option("--format", help="table or json")] = output.Format.table,
    ) -> None:
        """Say whether the broker is up; exit 1 when it is down."""
        st = _broker(ctx, config, data_dir=data_dir).status()
        if fmt is output.Format.json:
            output.print_json(st.__dict__)
        elif st.running:
            typer.echo(f"up: {st.bootstrap} (pid {st.pid}, Kafka {st.version}, up {st.uptime_s:.0f}s)")
            if st.certificate is not None:
                _print_certificate(st.certificate)
        else:
            typer.echo(f"down: {st.reason} (data dir {st.data_dir})")
        if not st.running:
            raise typer.Exit(1)

    @group.command("certs")
    def certs_cmd(
        ctx: typer.Context,
        san: Annotated[
            list[str] | None,
            typer.Option("--san", help="Another name or IP address clients use (repeat); adds to broker.tls_sans."),
        ] = None,
        days: Annotated[int, typer.Option("--days", help="Validity of the broker certificate (1-3650 days).")] = 397,
        renew: Annotated[
            bool, typer.Option("--renew", help="Issue a new certificate now; a running broker serves it at once.")
        ] = False,
        data_dir: DataDirOpt = None,
        advertise: Annotated[
            str | None, typer.Option("--advertise", help="The name clients use (default: broker.advertise).")
        ] = None,
        host: Annotated[str | None, typer.Option("--host", help="The address the broker binds.")] = None,
        config: ConfigOpt = None,
        fmt: Annotated[output.Format, typer.Option("--format", help="table or json")] = output.Format.table,
    ) -> None:
        """Make the private CA and broker certificate in <data-dir>/tls (or renew it), and print it."""
        broker = _broker(ctx, config, data_dir=data_dir, advertise=advertise, host=host)
        running = broker.running_state()
        if running is not None and advertise is None and host is None:
            # The names the running broker was started with, not today's defaults.
            broker = _broker(ctx, config, data_dir=data_dir, advertise=running.advertise, host=running.host)
        info, changed = broker.rotate_certificate(list(san or []), days=days, renew=renew)
        if fmt is output.Format.json:
            output.print_json({**info.as_dict(), "changed": changed, "ca": str(broker.tls.ca)})
            return
        if not changed:
            output.info("certificate unchanged (pass --renew for a new one)")
        elif running is not None:
            output.info(f"new certificate written; the running broker (pid {running.pid}) serves it now")
        else:
            output.info("new certificate written")
        _print_certificate(info.as_dict())
        typer.echo(f"CA for clients: {broker.tls.ca}")

    @group.command("logs")
    def logs(
        ctx: typer.Context,
        data_dir: DataDirOpt = None,
        config: ConfigOpt = None,
        lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines.")] = 100,
    ) -> None:
        """Show the end of the broker's log."""
        broker = _broker(ctx, config, data_dir=data_dir)
        text = broker.logs(lines)
        if not text:
            output.info(f"no broker log yet at {broker.log_file}")
        else:
            typer.echo(text)

    @group.command("fetch")
    def fetch(ctx: typer.Context, config: ConfigOpt = None) -> None:
        """Resolve Kafka's jars into the cache now (start does it on first use)."""
        s = settings(ctx, config).broker
        find_java()
        from eventlake.broker.jars import resolve_jars

        libs = resolve_jars(s.kafka_version, s.cache_dir)
        output.info(f"Kafka {s.kafka_version} jars ready in {libs}")

    app.add_typer(group, name="broker")


def _print_certificate(cert: dict[str, object]) -> None:
    names = ", ".join(str(n) for n in cert["sans"]) if isinstance(cert["sans"], list) else ""
    typer.echo(f"certificate: {cert['subject']} (names: {names}; issuer {cert['issuer']})")
    days = cert["days_left"]
    line = f"expires: {cert['not_after']} (in {days} days)"
    if isinstance(days, float | int) and days < 30:
        output.info(f"warning: the broker certificate expires in {days} days: run `eventlake broker certs --renew`")
    typer.echo(line)
