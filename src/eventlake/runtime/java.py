"""Find a Java 17+ runtime (for Kafka and S3Proxy): JAVA_HOME first, then PATH."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from eventlake.errors import EventlakeError

MIN_JAVA = 17
_INSTALL_HINT = (
    "install Java 17 or newer (Debian/Ubuntu: apt-get install openjdk-17-jre-headless; "
    "macOS: brew install openjdk@17) or set JAVA_HOME"
)


class JavaNotFound(EventlakeError):
    """No Java 17+ runtime to run Apache Kafka or S3Proxy with."""


@dataclass(frozen=True)
class JavaRuntime:
    executable: Path
    major: int


def find_java() -> JavaRuntime:
    candidates: list[Path] = []
    home = os.environ.get("JAVA_HOME")
    if home:
        candidates.append(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found:
        candidates.append(Path(found))
    seen_old: list[str] = []
    for exe in candidates:
        if not exe.is_file():
            continue
        major = _major_version(exe)
        if major is None:
            continue
        if major >= MIN_JAVA:
            return JavaRuntime(exe, major)
        seen_old.append(f"{exe} is Java {major}")
    if seen_old:
        raise JavaNotFound(f"Kafka and S3Proxy need Java {MIN_JAVA}+, but {', '.join(seen_old)}", hint=_INSTALL_HINT)
    raise JavaNotFound("no Java runtime found (JAVA_HOME unset and no java on PATH)", hint=_INSTALL_HINT)


def _major_version(exe: Path) -> int | None:
    try:
        out = subprocess.run([str(exe), "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    # Java 8 and older report "1.8.0_x".
    return int(match.group(2) or 0) if major == 1 else major
