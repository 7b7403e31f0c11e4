"""Resolve a Java program's runtime jars with Maven (Kafka's and S3Proxy's), the same way for both."""

from __future__ import annotations

import subprocess
from pathlib import Path

MAVEN_TIMEOUT_S = 900


def copy_dependencies(mvn: str, pom: str, out: Path) -> subprocess.CompletedProcess[str]:
    """Write `pom` beside `out` and let Maven copy its runtime dependencies into `out`.

    The caller checks the result (return code, expected jars) and says what failed in its own
    words; `subprocess.TimeoutExpired` after MAVEN_TIMEOUT_S is left to it as well."""
    pom_path = out.parent / "pom.xml"
    pom_path.write_text(pom)
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(pom_path),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={out}",
        "-DincludeScope=runtime",
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=MAVEN_TIMEOUT_S, check=False)
