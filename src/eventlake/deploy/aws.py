"""boto3 clients from the `[aws]` settings, and AWS's errors turned into one line with what to do.

boto3 is imported here (and in the modules that call AWS) only, when a deploy command runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from eventlake.config.aws import AwsSettings
from eventlake.deploy.exceptions import AwsUnreachable, DeployError


@dataclass
class Clients:
    """One boto3 session's clients for a region: ec2, ssm, iam, sts (made on first use)."""

    aws: AwsSettings
    region: str

    def __post_init__(self) -> None:
        try:
            import boto3
        except ImportError as exc:
            raise DeployError("deploying to AWS needs boto3", hint="pip install 'eventlake[aws]'") from exc
        with aws_errors():
            self._session = (
                boto3.session.Session(profile_name=self.aws.profile) if self.aws.profile else boto3.session.Session()
            )
        self._made: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._made:
            kwargs = self.aws.client_kwargs()
            kwargs["region_name"] = self.region
            with aws_errors():
                self._made[service] = self._session.client(service, **kwargs)
        return self._made[service]

    @property
    def ec2(self) -> Any:
        return self.client("ec2")

    @property
    def ssm(self) -> Any:
        return self.client("ssm")

    @property
    def iam(self) -> Any:
        return self.client("iam")

    def account_and_partition(self) -> tuple[str, str]:
        with aws_errors():
            account = str(self.client("sts").get_caller_identity()["Account"])
        partition = self._session.get_partition_for_region(self.region) or "aws"
        return account, str(partition)


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


@contextlib.contextmanager
def aws_errors() -> Iterator[None]:
    """Credentials, endpoint and permission failures as one line each; other ClientErrors pass
    through for the caller to map (it knows what was asked)."""
    from botocore import exceptions as bx

    try:
        yield
    except (bx.NoCredentialsError, bx.PartialCredentialsError):
        raise DeployError(
            "no AWS credentials found",
            hint="set AWS_PROFILE or [aws] profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        ) from None
    except bx.ProfileNotFound as exc:
        raise DeployError(
            f"{exc}", hint="name a profile from ~/.aws/config in AWS_PROFILE or [aws] profile, or unset it"
        ) from None
    except (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError) as exc:
        raise AwsUnreachable(
            f"AWS did not answer: {exc}", hint="check the network and the region, then retry"
        ) from None
    except bx.ClientError as exc:
        code = error_code(exc)
        if code in (
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "AuthFailure",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "ExpiredTokenException",
            "InvalidAccessKeyId",
        ):
            raise DeployError(
                f"AWS refused the credentials ({code})", hint="check the access key, or refresh the session token"
            ) from None
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
            raise DeployError(
                f"AWS denied {exc.operation_name} ({code})",
                hint="the credentials need EC2, IAM and SSM rights; see README 'Deploy to EC2'",
            ) from None
        if code in (
            "RequestLimitExceeded",
            "Throttling",
            "ThrottlingException",
            "ServiceUnavailable",
        ) or code.startswith("5"):
            raise AwsUnreachable(f"AWS failed {exc.operation_name} ({code})", hint="retry in a minute") from None
        raise DeployError(
            f"AWS refused {exc.operation_name}: {code} {_first_line(exc)}".rstrip(),
            hint="see the message; run again with --debug for the whole answer",
        ) from None
    except bx.BotoCoreError as exc:
        raise DeployError(f"AWS call failed: {_first_line(exc)}", hint="run again with --debug for details") from None


def _first_line(exc: BaseException) -> str:
    """AWS's own message, bounded: one line, no markup, at most 200 characters."""
    response = getattr(exc, "response", None)
    message = ""
    if isinstance(response, dict):
        message = str(response.get("Error", {}).get("Message", ""))
    text = (message or str(exc)).strip().splitlines()
    line = text[0] if text else ""
    line = "".join(c if c.isprintable() else " " for c in line)
    return line[:200] + ("..." if len(line) > 200 else "")
