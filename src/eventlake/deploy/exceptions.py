"""Errors of deploying the broker to AWS: each one line with what to do."""

from __future__ import annotations

from eventlake.errors import EventlakeError


class DeployError(EventlakeError):
    """AWS refused or could not do what the deployment needs."""


class AlreadyDeployed(DeployError):
    """A deployment of that name already has resources in the account."""

    http_status = 409


class NotDeployed(DeployError):
    """No deployment of that name is found."""

    http_status = 404


class AwsUnreachable(DeployError):
    """The AWS endpoint did not answer; the same command later can succeed."""

    http_status = 503
    retriable = True
