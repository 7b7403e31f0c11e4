"""What the EC2 instance's bootstrap script asks of Python: `python -m eventlake.deploy.instance ...`

- `configure`: reads the instance's public IPv4 address and DNS name from the metadata service
  (IMDSv2: a session token first, then the values), checks them, and writes the broker's
  settings file (no secret in it).
- `publish`: stores the CA certificate and the users' passwords in SSM Parameter Store as
  SecureString under the deployment's prefix, with the instance role's credentials.

Passwords come from files, never from the command line (`ps` shows it to every local user),
and are never printed. Every error is one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eventlake.deploy.user_data import ADMIN_USER, check_plan
from eventlake.errors import EventlakeError, UsageError

DEFAULT_IMDS = "http://169.254.169.254"
TOKEN_TTL_S = 300
_DNS = re.compile(r"(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_USER = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,63}")
_MAX_SECRET = 4096  # SSM's standard tier holds 4 KB; a CA certificate is well below


class InstanceError(EventlakeError):
    """The instance's metadata, files or AWS answered what the bootstrap cannot use."""


# ---- the metadata service (IMDSv2)


class Metadata:
    """IMDSv2 at `endpoint`: a PUT for a session token, then GETs that carry it."""

    def __init__(self, endpoint: str, *, wait_s: float = 60.0) -> None:
        if not re.fullmatch(r"http://[A-Za-z0-9.:\[\]-]+", endpoint):
            raise UsageError(f"the metadata endpoint {endpoint[:80]!r} is not allowed", hint="give http://HOST[:PORT]")
        self.endpoint = endpoint
        self.wait_s = wait_s
        self._token: str | None = None

    def _open(self, request: urllib.request.Request) -> str | None:
        """The answer's body; None on 404 (a value this instance does not have). Retries while the
        service is not up yet (early in boot), up to wait_s."""
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                with urllib.request.urlopen(request, timeout=2) as answer:
                    body: bytes = answer.read(4096)
                    return body.decode("ascii", "strict").strip()
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return None
                error = f"HTTP {exc.code}"
            except (OSError, UnicodeDecodeError) as exc:
                error = str(exc)
            if time.monotonic() > deadline:
                raise InstanceError(
                    f"the instance metadata service at {self.endpoint} did not answer: {error[:200]}",
                    hint="the instance needs IMDSv2 enabled (http-tokens required, hop limit 1 or more)",
                )
            time.sleep(1)

    def get(self, path: str) -> str | None:
        if self._token is None:
            token = self._open(
                urllib.request.Request(
                    f"{self.endpoint}/latest/api/token",
                    method="PUT",
                    headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_S)},
                )
            )
            if not token:
                raise InstanceError("the instance metadata service gave no session token", hint="is IMDSv2 enabled?")
            self._token = token
        return self._open(
            urllib.request.Request(
                f"{self.endpoint}/latest/meta-data/{path}", headers={"X-aws-ec2-metadata-token": self._token}
            )
        )


def public_names(meta: Metadata) -> tuple[str, str | None]:
    """(public IPv4 address, public DNS name or None), each checked before it reaches a setting."""
    ip_text = meta.get("public-ipv4")
    if not ip_text:
        raise InstanceError(
            "the instance has no public IPv4 address",
            hint="launch it in a subnet that assigns public addresses (eventlake deploy ec2 does)",
        )
    try:
        ip = ipaddress.IPv4Address(ip_text)
    except ValueError:
        raise InstanceError(f"the metadata's public-ipv4 {ip_text[:60]!r} is not an IPv4 address") from None
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast:
        raise InstanceError(f"the metadata's public-ipv4 {ip} cannot be a broker's address")
    # A VPC without DNS host names gives none: the certificate then holds the address only.
    host = meta.get("public-hostname") or None
    if host is not None:
        host = host.lower().rstrip(".")
        if _DNS.fullmatch(host) is None:
            raise InstanceError(f"the metadata's public-hostname {host[:80]!r} is not a DNS name")
    return str(ip), host


def settings_text(*, port: int, ip: str, host: str | None, state_dir: Path) -> str:
    """The broker's settings file: every client address beyond loopback is SASL_SSL on `port`."""
    # JSON strings are valid TOML basic strings (same escapes).
    sans = [n for n in (host, ip) if n]
    lines = [
        "# Written by the instance's bootstrap (eventlake.deploy). No secret here: the admin's",
        "# password reaches the broker from /etc/eventlake/broker.env (root only).",
        f"bootstrap_servers = {json.dumps(f'127.0.0.1:{port + 2}')}  # the loopback listener, for local tools",
        "",
        "[broker]",
        'host = "0.0.0.0"',
        f"port = {port}",
        f"advertise = {json.dumps(ip)}",
        f"tls_sans = {json.dumps(sans)}",
        f"data_dir = {json.dumps(str(state_dir / 'broker'))}",
        f"cache_dir = {json.dumps(str(state_dir / 'cache'))}",
        "",
    ]
    return "\n".join(lines)


def _write(path: Path, text: str, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    tmp.chmod(mode)
    tmp.replace(path)


def configure(args: argparse.Namespace) -> None:
    ip, host = public_names(Metadata(args.imds))
    _write(args.out, settings_text(port=args.port, ip=ip, host=host, state_dir=args.state_dir), 0o644)
    # For the bootstrap's log and the script: neither is a secret.
    print(ip, host or "-")


# ---- SSM Parameter Store


def _secret_file(path: Path, what: str) -> str:
    try:
        with path.open("rb") as fh:
            data = fh.read(_MAX_SECRET + 1)
    except OSError as exc:
        raise InstanceError(f"cannot read the {what} file {path}: {exc.strerror or exc}") from None
    text = data.decode("utf-8", "replace")
    if not text.strip() or len(data) > _MAX_SECRET:
        raise InstanceError(f"the {what} file {path} is empty or larger than {_MAX_SECRET} bytes")
    return text


def _password(spec: str) -> tuple[str, Path]:
    user, sep, path = spec.partition("=")
    if not sep or _USER.fullmatch(user) is None or not path:
        raise UsageError(f"--password {spec[:80]!r} is not USER=FILE", hint="give the user's name and its file")
    return user, Path(path)


def _check_target(deployment: str, region: str, prefix: str) -> None:
    """The same allow-lists as the rendered plan: publish must not write where the plan could not."""
    from eventlake.deploy.user_data import UserDataPlan

    check_plan(UserDataPlan(deployment, region, 1, 9093, "app", "eventlake", prefix))


def publish(args: argparse.Namespace) -> None:
    _check_target(args.deployment, args.region, args.prefix)
    values: dict[str, str] = {f"{args.prefix}/ca.pem": _secret_file(args.ca, "CA certificate")}
    for spec in args.password:
        user, path = _password(spec)
        values[f"{args.prefix}/users/{user}"] = _secret_file(path, f"password of {user}").strip()
    if f"{args.prefix}/users/{ADMIN_USER}" not in values:
        raise UsageError(f"no --password for the admin {ADMIN_USER}", hint=f"give --password {ADMIN_USER}=FILE")

    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    ssm: Any = boto3.client("ssm", region_name=args.region, config=Config(retries={"mode": "standard"}))
    tags = [{"Key": "eventlake:deployment", "Value": args.deployment}]
    try:
        for name, value in values.items():
            ssm.put_parameter(
                Name=name,
                Value=value,
                Type="SecureString",
                Overwrite=True,
                Description=f"eventlake deployment {args.deployment}",
            )
            # put_parameter takes Tags only without Overwrite: tag it separately, so a rerun works too.
            ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name, Tags=tags)
            print(f"published {name} (SecureString)")
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise InstanceError(
            f"SSM refused to store {name}: {error.get('Code', '?')}: {str(error.get('Message', ''))[:200]}",
            hint=f"the instance role needs ssm:PutParameter and ssm:AddTagsToResource on {args.prefix}/*",
        ) from None
    except BotoCoreError as exc:
        raise InstanceError(
            f"cannot reach SSM in {args.region}: {str(exc)[:200]}",
            hint="the instance needs its instance profile and a route to the SSM endpoint",
        ) from None


# ---- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m eventlake.deploy.instance", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    conf = sub.add_parser("configure", help="read the public names from IMDSv2 and write the broker's settings")
    conf.add_argument("--imds", default=DEFAULT_IMDS, help="metadata service endpoint")
    conf.add_argument("--port", type=int, required=True, help="the SASL_SSL port")
    conf.add_argument("--state-dir", type=Path, required=True, help="folder of the broker's data and jar cache")
    conf.add_argument("--out", type=Path, required=True, help="the settings file to write")
    conf.set_defaults(run=configure)
    pub = sub.add_parser("publish", help="store the CA and passwords in SSM Parameter Store (SecureString)")
    pub.add_argument("--deployment", required=True, help="deployment name, for the tag eventlake:deployment")
    pub.add_argument("--region", required=True)
    pub.add_argument("--prefix", required=True, help="parameter path prefix, e.g. /eventlake/NAME")
    pub.add_argument("--ca", type=Path, required=True, help="the CA certificate (PEM)")
    pub.add_argument("--password", action="append", default=[], help="USER=FILE: FILE holds USER's password")
    pub.set_defaults(run=publish)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except EventlakeError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
