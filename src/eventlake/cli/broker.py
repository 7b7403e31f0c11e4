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
    from eventlake.broker.cluster import ClusterStatus, LocalCluster

DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Broker data folder (default ./.eventlake/broker).")
]
NodeOpt = Annotated[
    int | None,
    typer.Option("--node", min=1, help="Only this node of a local cluster (1..nodes).", show_default=False),
]


def _broker(ctx: typer.Context, config: Path | None, **flags: object) -> LocalBroker | LocalCluster:
    # The Kafka client loads only for broker commands.
    from eventlake.broker.cluster import open_local

    return open_local(settings(ctx, config, broker=flags).broker)


def _cluster(broker: LocalBroker | LocalCluster, node: int | None) -> LocalCluster | None:
    """The cluster when `broker` is one; --node on a single broker is refused in one line."""
    from eventlake.broker.cluster import LocalCluster
    from eventlake.broker.exceptions import BrokerError

    if isinstance(broker, LocalCluster):
        return broker
    if node is not None and node != 1:
        raise BrokerError(
            f"--node {node} is out of range: the broker in {broker.data_dir} is a single node",
            hint="leave out --node, or start a cluster with --nodes 3 in another --data-dir",
        )
    return None


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
        nodes: Annotated[
            int | None,
            typer.Option(
                "--nodes",
                min=1,
                max=9,
                help="Run a local KRaft cluster of this many nodes (default 1; kept with the data dir).",
                show_default=False,
            ),
        ] = None,
        node: NodeOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Start the broker (resolving Kafka's jars on first use) and print its bootstrap address."""
        broker = _broker(ctx, config, port=port, data_dir=data_dir, advertise=advertise, host=host, nodes=nodes)
        cluster = _cluster(broker, node)
        if cluster is not None:
            _start_cluster(cluster, node)
            return
        state, started = _single(broker).start()
        if not started:
            output.info(f"broker already running (pid {state.pid}, data dir {broker.data_dir})")
        else:
            output.info(f"broker started (pid {state.pid}, Kafka {state.version}, data dir {broker.data_dir})")
        if broker.settings.exposed:
            output.info(f"clients: SASL_SSL, SCRAM-SHA-512, CA {broker.tls.ca}")
        typer.echo(state.bootstrap)

    @group.command("stop")
    def stop(ctx: typer.Context, node: NodeOpt = None, data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
        """Stop the broker gracefully (every node of a cluster, or only --node N)."""
        broker = _broker(ctx, config, data_dir=data_dir)
        cluster = _cluster(broker, node)
        if cluster is not None and node is not None:
            done = cluster.stop_node(node)
            output.info(f"node {node} {'stopped' if done else 'was not running'} (data dir {cluster.data_dir})")
            return
        what = f"cluster ({cluster.nodes} nodes)" if cluster is not None else "broker"
        if broker.stop():
            output.info(f"{what} stopped (data dir {broker.data_dir})")
        else:
            output.info(f"no broker running for data dir {broker.data_dir}")

    @group.command("kill")
    def kill(
        ctx: typer.Context,
        node: Annotated[int, typer.Option("--node", min=1, help="The node to kill (1..nodes).")],
        data_dir: DataDirOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """SIGKILL one node of a local cluster, as a crash would (failure drills); start it again with start --node."""
        broker = _broker(ctx, config, data_dir=data_dir)
        cluster = _cluster(broker, node)
        target = cluster.node(node) if cluster is not None else _single(broker)
        if target.kill():
            output.info(f"node {node} killed (SIGKILL); start it again with `eventlake broker start --node {node}`")
        else:
            output.info(f"node {node} was not running (data dir {target.data_dir})")

    @group.command("status")
    def status(
        ctx: typer.Context,
        data_dir: DataDirOpt = None,
        config: ConfigOpt = None,
        fmt: Annotated[output.Format, typer.Option("--format", help="table or json")] = output.Format.table,
    ) -> None:
        """Say whether the broker is up (each node and the controller quorum of a cluster); exit 1 when down."""
        broker = _broker(ctx, config, data_dir=data_dir)
        cluster = _cluster(broker, None)
        if cluster is not None:
            _cluster_status(cluster.status(), fmt)
            return
        st = _single(broker).status()
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
        node: NodeOpt = None,
    ) -> None:
        """Show the end of the broker's log (of each node of a cluster, or only --node N)."""
        broker = _broker(ctx, config, data_dir=data_dir)
        cluster = _cluster(broker, node)
        text = cluster.logs(lines, node) if cluster is not None else broker.logs(lines)
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


def _single(broker: LocalBroker | LocalCluster) -> LocalBroker:
    from eventlake.broker import LocalBroker

    assert isinstance(broker, LocalBroker), "a cluster is handled before"
    return broker


def _start_cluster(cluster: LocalCluster, node: int | None) -> None:
    report = cluster.start_nodes([node] if node is not None else list(cluster.members))
    for k in sorted(cluster.members):
        st = report.state.nodes.get(k)
        if node is not None and k != node:
            continue
        if st is None:
            output.info(f"node {k}: not running")
        elif k in report.waiting:
            output.info(
                f"node {k} started (pid {st.pid}); it serves once {cluster.majority} of {cluster.nodes} nodes run: "
                "start another with `eventlake broker start --node N`"
            )
        elif k in report.started:
            output.info(f"node {k} started (pid {st.pid}, port {st.port})")
        else:
            output.info(f"node {k} already running (pid {st.pid}, port {st.port})")
    output.info(f"cluster of {cluster.nodes} nodes, Kafka {report.state.version}, data dir {cluster.data_dir}")
    if cluster.settings.exposed:
        output.info(f"clients: SASL_SSL, SCRAM-SHA-512, CA {cluster.tls.ca}")
    typer.echo(report.state.bootstrap)


def _cluster_status(st: ClusterStatus, fmt: output.Format) -> None:
    if fmt is output.Format.json:
        output.print_json(st.as_dict())
    else:
        up = sum(n.up for n in st.nodes)
        head = "up" if st.running and up == len(st.nodes) else "degraded" if st.running else "down"
        detail = f"{up} of {len(st.nodes)} nodes up" + ("; the cluster needs a majority to serve" if st.reason else "")
        typer.echo(f"{head}: {st.bootstrap} (Kafka {st.version}, {detail}, data dir {st.data_dir})")
        for n in st.nodes:
            ports = f"port {n.port}, controller {n.controller_port}"
            if n.internal_port is not None:
                ports += f", internal {n.internal_port}"
            pid = f"pid {n.pid}" if n.pid is not None else "no process"
            typer.echo(f"node {n.node_id}: {n.state} ({pid}, {ports})")
        q = st.quorum
        if q is not None and q.error is None:
            lags = ", ".join(f"{m.node_id}: {m.lag}" for m in q.members if m.status == "Follower")
            voters = ",".join(str(v) for v in q.voters)
            typer.echo(f"quorum: leader {q.leader_id}, voters {voters}; followers' lag (records): {lags or 'none'}")
        elif q is not None:
            typer.echo(f"quorum: unknown ({q.error})")
        if st.partitions is not None:
            p = st.partitions
            typer.echo(f"partitions: {p['total']}, under-replicated {p['under_replicated']}, offline {p['offline']}")
        if st.certificate is not None:
            _print_certificate(st.certificate)
    if not st.running:
        raise typer.Exit(1)
