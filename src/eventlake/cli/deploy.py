"""`eventlake deploy ec2|status|client-config|destroy|template`: the broker on AWS EC2 (deploy/)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from eventlake.cli import output
from eventlake.cli.common import ConfigOpt, settings

if TYPE_CHECKING:
    from eventlake.deploy.aws import Clients
    from eventlake.deploy.plan import DeployPlan

NameArg = Annotated[str, typer.Argument(help="Deployment name: a lowercase letter, then [a-z0-9-], 31 at most.")]
RegionOpt = Annotated[
    str | None, typer.Option("--region", help="AWS region (default: [aws] region).", show_default=False)
]
CidrOpt = Annotated[
    list[str],
    typer.Option("--allow-cidr", help="Network allowed to reach the broker, e.g. 203.0.113.7/32 (repeatable)."),
]
InstanceTypeOpt = Annotated[str, typer.Option("--instance-type", help="EC2 instance type.")]
NodesOpt = Annotated[int, typer.Option("--nodes", help="Brokers on the instance: 1 or 3.")]
SshKeyOpt = Annotated[
    str | None, typer.Option("--ssh-key", help="EC2 key pair for SSH; opens port 22 to --allow-cidr.")
]
VolumeOpt = Annotated[int, typer.Option("--volume-gb", help="Root volume (gp3, encrypted), GiB.")]
PortOpt = Annotated[int, typer.Option("--port", help="The brokers' SASL_SSL port (3 nodes: port..port+2).")]
AppUserOpt = Annotated[str, typer.Option("--app-user", help="Application user made besides the admin.")]
InstallSpecOpt = Annotated[
    str | None,
    typer.Option("--install-spec", help="pip requirement for eventlake on the instance.", show_default=False),
]
AllowAnywhereOpt = Annotated[bool, typer.Option("--allow-anywhere", help="Allow 0.0.0.0/0 or ::/0 in --allow-cidr.")]
# The options of `ec2` and `template` that go to make_plan under their own names.
PLAN_OPTIONS = ("allow_anywhere", "instance_type", "nodes", "ssh_key", "volume_gb", "port", "app_user", "install_spec")


def _clients(ctx: typer.Context, config: Path | None, region: str | None) -> Clients:
    from eventlake.deploy.aws import Clients

    s = settings(ctx, config, aws={"region": region})
    return Clients(s.aws, s.aws.region)


def _region(ctx: typer.Context, config: Path | None, region: str | None) -> str:
    return settings(ctx, config, aws={"region": region}).aws.region


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Run the broker on AWS EC2: TLS + SCRAM, open only to your networks; and remove it.",
        no_args_is_help=True,
    )

    def plan_from(ctx: typer.Context) -> DeployPlan:
        """The checked plan from the options `ec2` and `template` share, as click parsed them (ctx.params)."""
        from eventlake.deploy import names
        from eventlake.deploy.plan import make_plan

        given = ctx.params
        names.check_name(given["name"])
        plan, warnings = make_plan(
            given["name"],
            _region(ctx, given["config"], given["region"]),
            given["allow_cidr"],
            **{option: given[option] for option in PLAN_OPTIONS},
        )
        for warning in warnings:
            output.info(f"warning: {warning}")
        return plan

    @group.command("ec2")
    def ec2(
        ctx: typer.Context,
        name: NameArg,
        allow_cidr: CidrOpt,
        region: RegionOpt = None,
        instance_type: InstanceTypeOpt = "t3.small",
        nodes: NodesOpt = 1,
        ssh_key: SshKeyOpt = None,
        volume_gb: VolumeOpt = 50,
        port: PortOpt = 9092,
        app_user: AppUserOpt = "app",
        install_spec: InstallSpecOpt = None,
        allow_anywhere: AllowAnywhereOpt = False,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; create nothing.")] = False,
        config: ConfigOpt = None,
    ) -> None:
        """Create a broker host: security group, least-privilege role, instance; passwords go to SSM.

        The instance makes its CA and the users' passwords itself and keeps them in SSM
        Parameter Store (SecureString) under /eventlake/NAME/; fetch a client's files with
        `eventlake deploy client-config NAME --user app`.
        """
        plan = plan_from(ctx)
        if dry_run:
            from eventlake.deploy.plan import describe

            sys.stdout.write(describe(plan))
            sys.stdout.flush()
            return
        from eventlake.deploy import ec2 as deploy_ec2

        clients = _clients(ctx, config, plan.region)
        done = deploy_ec2.create(clients, plan, say=output.info)
        output.info(
            f"deployment {plan.name} in {plan.region}: instance {done.instance_id} ({done.state}) from {done.ami}, "
            f"security group {done.security_group_id}, role and instance profile {done.role}"
        )
        for rule in plan.rules():
            output.info(f"  open: {rule.shown()}")
        where = done.public_dns or done.public_ip or "(no public address yet)"
        output.info(
            f"endpoint {where}:{plan.port}; the broker is set up in a few minutes. "
            f"Then: eventlake deploy client-config {plan.name} --user {plan.app_user}"
        )

    @group.command("status")
    def status(ctx: typer.Context, name: NameArg, region: RegionOpt = None, config: ConfigOpt = None) -> None:
        """Instance state, endpoint, open rules, and whether the broker answers over TLS from here."""
        from eventlake.deploy import ec2 as deploy_ec2
        from eventlake.deploy import names
        from eventlake.deploy.health import probe
        from eventlake.deploy.parameters import fetch_ca

        names.check_name(name)
        clients = _clients(ctx, config, region)
        found = deploy_ec2.status(clients, name)
        lines = [f"deployment {name} in {clients.region}"]
        for i in found.instances:
            lines.append(f"  instance {i['InstanceId']}: {i['State']['Name']} ({i.get('InstanceType', '?')})")
        for rule in found.rules:
            lines.append(f"  open: {rule}")
        bootstrap = found.bootstrap()
        if found.endpoint is None or found.broker_ports is None or bootstrap is None:
            lines.append("  endpoint: none (no running instance with a public address and an open broker port)")
        else:
            lines.append(f"  endpoint: {bootstrap}")
            lines.append(f"  broker: {probe(found.endpoint, found.broker_ports[0], fetch_ca(clients, name))}")
        sys.stdout.write("\n".join(lines) + "\n")

    @group.command("client-config")
    def client_config(
        ctx: typer.Context,
        name: NameArg,
        user: Annotated[str, typer.Option("--user", help="Kafka user whose password the instance published.")],
        out: Annotated[
            Path | None, typer.Option("--out", help="Folder for the files (default ./eventlake-NAME).")
        ] = None,
        region: RegionOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Fetch the CA and the user's password from SSM; write eventlake.toml, client.properties
        (Java), librdkafka.conf (kcat -F) and ca.pem, each mode 600. The password is never printed."""
        from eventlake.broker.client_files import ClientSettings, Format, render
        from eventlake.cli.client_config import write_private
        from eventlake.deploy import ec2 as deploy_ec2
        from eventlake.deploy import names
        from eventlake.deploy.parameters import fetch_client_material

        names.check_name(name)
        names.check_app_user(user)
        clients = _clients(ctx, config, region)
        found = deploy_ec2.status(clients, name)
        if found.endpoint is None:
            from eventlake.deploy.exceptions import DeployError

            raise DeployError(
                f"deployment {name} has no running instance with a public address",
                hint=f"see `eventlake deploy status {name}`",
            )
        material = fetch_client_material(clients, name, user)
        folder = (out if out is not None else Path(f"eventlake-{name}")).absolute()
        _make_folder(folder)
        ca_path = folder / "ca.pem"
        write_private(ca_path, material.ca_pem)
        bootstrap = found.bootstrap()
        if bootstrap is None:
            from eventlake.deploy.exceptions import DeployError

            raise DeployError(f"deployment {name} has no broker port open", hint="redeploy it")
        cfg = ClientSettings(bootstrap, user, ca_path, material.password)
        written = []
        for file_name, fmt in (
            ("eventlake.toml", Format.toml),
            ("client.properties", Format.properties),
            ("librdkafka.conf", Format.librdkafka),
        ):
            write_private(folder / file_name, render(cfg, fmt))
            written.append(file_name)
        output.info(
            f"wrote {', '.join(written)} and ca.pem to {folder} (mode 600) for user {user} at {bootstrap}; "
            f"use: eventlake --config {folder / 'eventlake.toml'} ..., or kcat -F {folder / 'librdkafka.conf'}"
        )

    @group.command("destroy")
    def destroy(ctx: typer.Context, name: NameArg, region: RegionOpt = None, config: ConfigOpt = None) -> None:
        """Remove everything of the deployment (tagged eventlake:deployment=NAME), SSM parameters included.
        Safe to run again: a second run says there is nothing to remove."""
        from eventlake.deploy import ec2 as deploy_ec2
        from eventlake.deploy import names

        names.check_name(name)
        clients = _clients(ctx, config, region)
        removed = deploy_ec2.destroy(clients, name, say=lambda what: output.info(f"removed {what}"))
        if removed:
            output.info(f"deployment {name} in {clients.region}: removed {len(removed)} resources")
        else:
            output.info(f"deployment {name} in {clients.region}: nothing to remove")

    @group.command("template")
    def template(
        ctx: typer.Context,
        name: NameArg,
        allow_cidr: CidrOpt,
        region: RegionOpt = None,
        instance_type: InstanceTypeOpt = "t3.small",
        nodes: NodesOpt = 1,
        ssh_key: SshKeyOpt = None,
        volume_gb: VolumeOpt = 50,
        port: PortOpt = 9092,
        app_user: AppUserOpt = "app",
        install_spec: InstallSpecOpt = None,
        allow_anywhere: AllowAnywhereOpt = False,
        config: ConfigOpt = None,
    ) -> None:
        """Print the same deployment as a CloudFormation template (YAML) on stdout."""
        from eventlake.deploy.template import template_yaml

        plan = plan_from(ctx)
        sys.stdout.write(template_yaml(plan))
        sys.stdout.flush()

    app.add_typer(group, name="deploy")


def _make_folder(folder: Path) -> None:
    from eventlake.errors import UsageError

    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create {folder}: {exc.strerror or exc}", hint="pass --out a writable folder"
        ) from None
