"""What the instance published to SSM Parameter Store: the CA certificate and the users' passwords.

The passwords are made on the instance and written there as SecureString (KMS-encrypted);
they never pass through user data, tags, or this machine's terminal. This module reads them
back for `deploy client-config`, which writes them to mode-600 files only.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventlake.deploy import names
from eventlake.deploy.aws import Clients, aws_errors, error_code
from eventlake.deploy.exceptions import DeployError

MAX_CA_BYTES = 64 * 1024


def ca_parameter(name: str) -> str:
    return f"{names.ssm_prefix(name)}/ca.pem"


def user_parameter(name: str, user: str) -> str:
    return f"{names.ssm_prefix(name)}/users/{user}"


@dataclass(frozen=True)
class ClientMaterial:
    ca_pem: str
    password: str

    def __repr__(self) -> str:  # never show the password in a traceback or a log
        return "ClientMaterial(ca_pem=..., password=****)"


def _get(clients: Clients, parameter: str, what: str, deployment: str) -> str | None:
    with aws_errors():
        try:
            value = clients.ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
        except Exception as exc:
            if error_code(exc) == "ParameterNotFound":
                return None
            raise
    if not isinstance(value, str):
        raise DeployError(f"the {what} of deployment {deployment} in SSM is not text", hint="redeploy")
    return value


def fetch_ca(clients: Clients, name: str) -> str | None:
    """The deployment's CA certificate (PEM), or None while the instance has not published it."""
    pem = _get(clients, ca_parameter(name), "CA certificate", name)
    if pem is None:
        return None
    if "-----BEGIN CERTIFICATE-----" not in pem or len(pem) > MAX_CA_BYTES:
        raise DeployError(f"{ca_parameter(name)} holds no PEM certificate", hint="redeploy")
    return pem


def fetch_client_material(clients: Clients, name: str, user: str) -> ClientMaterial:
    names.check_app_user(user)
    ca = fetch_ca(clients, name)
    if ca is None:
        raise DeployError(
            f"deployment {name} has not published its CA certificate yet ({ca_parameter(name)})",
            hint=f"the instance sets the broker up in a few minutes after start; see `eventlake deploy status {name}`",
        )
    password = _get(clients, user_parameter(name, user), "password", name)
    if password is None:
        raise DeployError(
            f"deployment {name} has no password for user {user} ({user_parameter(name, user)})",
            hint="give --user the application user named at deploy time (default app)",
        )
    return ClientMaterial(ca, password)
