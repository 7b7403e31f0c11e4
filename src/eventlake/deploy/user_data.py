"""PLACEHOLDER for the merge: the lead replaces this file with helper "userdata"'s version.

Only the interface below is fixed between the AWS side (deploy/ec2.py, deploy/template.py) and
the instance side; this minimal render exists so the AWS side's tests can check that the user
data holds no secret.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class UserDataPlan:
    name: str  # deployment name, already validated
    region: str
    nodes: int  # 1 or 3
    port: int  # the SASL_SSL port the security group opens
    app_user: str  # the application SCRAM user to create (besides the admin)
    install_spec: str  # pip requirement for eventlake on the instance
    ssm_prefix: (
        str  # e.g. "/eventlake/NAME"; the instance writes <prefix>/ca.pem, <prefix>/users/<user> as SecureString
    )


def render_user_data(plan: UserDataPlan) -> str:
    """The whole cloud-init shell script; it contains no secret (the instance makes its own)."""
    q = shlex.quote
    return (
        "#!/bin/bash\n"
        "set -euo pipefail\n"
        f"DEPLOYMENT={q(plan.name)}\n"
        f"REGION={q(plan.region)}\n"
        f"NODES={plan.nodes}\n"
        f"PORT={plan.port}\n"
        f"APP_USER={q(plan.app_user)}\n"
        f"INSTALL_SPEC={q(plan.install_spec)}\n"
        f"SSM_PREFIX={q(plan.ssm_prefix)}\n"
    )
