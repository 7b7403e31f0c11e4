"""`eventlake client-config`: the file a remote producer or consumer needs (broker/client_files.py)."""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from eventlake.cli import output
from eventlake.cli.common import ConfigOpt, settings
from eventlake.errors import UsageError

PRIVATE_FILE = 0o600


class FileFormat(StrEnum):
    """The formats of broker/client_files.py (here so the CLI loads no Kafka client to show --help)."""

    toml = "toml"
    properties = "properties"
    librdkafka = "librdkafka"


def write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, readable by its owner only from the first byte."""
    path = path.absolute()
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE)
    except OSError as exc:
        raise UsageError(
            f"cannot write {path}: {exc.strerror or exc}", hint="pass -o a file in a writable folder"
        ) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), PRIVATE_FILE)
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def register(app: typer.Typer) -> None:
    @app.command("client-config")
    def client_config(
        ctx: typer.Context,
        user: Annotated[str, typer.Option("--user", help="The Kafka user (see `eventlake users list`).")],
        fmt: Annotated[
            FileFormat, typer.Option("--format", help="toml (eventlake), properties (Java) or librdkafka (kcat -F).")
        ] = FileFormat.toml,
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the user's password as one line from stdin.")
        ] = False,
        password_file: Annotated[
            Path | None, typer.Option("--password-file", help="Read the user's password from this file (one line).")
        ] = None,
        bootstrap: Annotated[
            str | None,
            typer.Option(
                "--bootstrap", help="HOST:PORT clients connect to; default: the local broker's advertised one."
            ),
        ] = None,
        ca: Annotated[
            Path | None, typer.Option("--ca", help="CA certificate (PEM); default: <broker.data_dir>/tls/ca.pem.")
        ] = None,
        out: Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file (mode 600).")] = None,
        config: ConfigOpt = None,
    ) -> None:
        """Write what a client on another machine needs: address, CA, SCRAM-SHA-512 user and password.

        Without --password-stdin or --password-file the file reads the password from the
        environment (toml, properties). A file with a password is never printed to a terminal.
        """
        from eventlake.broker.client_files import PASSWORD_ENV, ClientSettings, Format, render
        from eventlake.broker.cluster import open_local
        from eventlake.broker.users import checked_password, checked_user
        from eventlake.cli import passwords

        name = checked_user(user)
        if password_stdin and password_file is not None:
            raise UsageError("give --password-stdin or --password-file, not both", hint="one password source")
        password = None
        if password_stdin:
            password = passwords.from_stdin()
        elif password_file is not None:
            password = passwords.from_file(password_file)
        if password is not None:
            checked_password(password, user=name)
        if password is not None and out is None and sys.stdout.isatty():
            raise UsageError(
                "refusing to print a password to the terminal",
                hint="write the file with -o FILE (mode 600), or pipe the output",
            )
        s = settings(ctx, config)
        local = open_local(s.broker)  # a cluster's address lists every node
        address = bootstrap if bootstrap is not None else local.bootstrap
        ca_path = (ca if ca is not None else local.data_dir / "tls" / "ca.pem").absolute()
        _check_ca(ca_path, given=ca is not None)
        text = render(ClientSettings(address, name, ca_path, password), Format(fmt.value))
        if out is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            write_private(out, text)
            output.info(f"wrote {out} ({fmt.value}, mode 600) for user {name} at {address}")
        if password is None:
            where = {
                "toml": f"set {PASSWORD_ENV} where the client runs",
                "properties": f"set {PASSWORD_ENV} where the client runs (read by Kafka's EnvVarConfigProvider)",
                "librdkafka": "add a line sasl.password=... to the file (librdkafka files cannot read the environment)",
            }[fmt.value]
            output.info(f"no password given: {where}")

    def _check_ca(path: Path, *, given: bool) -> None:
        try:
            head = path.read_bytes()[:65536]
        except OSError as exc:
            raise UsageError(
                f"cannot read the CA certificate {path}: {exc.strerror or exc}",
                hint="pass --ca PATH"
                if given
                else "run `eventlake broker certs` on the broker's machine, or pass --ca",
            ) from None
        if b"-----BEGIN CERTIFICATE-----" not in head:
            raise UsageError(f"{path} holds no PEM certificate", hint="pass the CA's certificate (ca.pem), not a key")
