"""`eventlake users add|list|remove`: Kafka SCRAM-SHA-512 users; passwords only from stdin or a prompt."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from eventlake.cli import output
from eventlake.cli.common import BootstrapOpt, ConfigOpt, FormatOpt, settings

if TYPE_CHECKING:
    from eventlake.broker.users import UserAdmin
    from eventlake.config import Settings

PasswordStdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password as one line from stdin (else: asked twice).")
]


def user_admin(s: Settings) -> UserAdmin:
    from eventlake.broker.users import UserAdmin  # the Kafka client loads only for these commands

    return UserAdmin(s.bootstrap_servers, s.kafka, timeout_s=s.kafka.connect_timeout_s)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Add, list and remove Kafka users (SASL/SCRAM-SHA-512).", no_args_is_help=True)

    @group.command("add")
    def add(
        ctx: typer.Context,
        name: str,
        password_stdin: PasswordStdinOpt = False,
        update: Annotated[bool, typer.Option("--update", help="Change the password of an existing user.")] = False,
        bootstrap_servers: BootstrapOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Add a user (or change its password with --update). The password never goes on the command line."""
        from eventlake.broker.users import check_not_admin, checked_password, checked_user
        from eventlake.cli import passwords

        s = settings(ctx, config, bootstrap_servers=bootstrap_servers)
        user = checked_user(name)  # before asking for a password the command would refuse anyway
        check_not_admin(user, s.broker.sasl_username)
        password = passwords.from_stdin() if password_stdin else passwords.prompt_twice(user)
        checked_password(password, user=user)
        created = user_admin(s).add(user, password, update=update)
        output.info(f"added user {user} (SCRAM-SHA-512)" if created else f"changed the password of user {user}")

    @group.command("list")
    def list_(
        ctx: typer.Context,
        fmt: FormatOpt = output.Format.table,
        bootstrap_servers: BootstrapOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """List users and their SCRAM mechanisms (never a secret)."""
        users = user_admin(settings(ctx, config, bootstrap_servers=bootstrap_servers)).list()
        rows = [(u.name, mech, iterations) for u in users for mech, iterations in u.mechanisms]
        output.print_rows(["user", "mechanism", "iterations"], rows, fmt)

    @group.command("remove")
    def remove(ctx: typer.Context, name: str, bootstrap_servers: BootstrapOpt = None, config: ConfigOpt = None) -> None:
        """Remove a user's credentials (its ACLs stay: `eventlake acl list --user NAME`)."""
        from eventlake.broker.users import check_not_admin

        s = settings(ctx, config, bootstrap_servers=bootstrap_servers)
        check_not_admin(name, s.broker.sasl_username)
        user_admin(s).remove(name)
        output.info(f"removed user {name} (its ACLs stay: `eventlake acl list --user {name}`)")

    app.add_typer(group, name="users")
