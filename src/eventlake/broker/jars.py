"""Resolve the Apache Kafka jars once into a user cache.

With Maven installed we let it resolve `kafka_2.13` and `kafka-tools` with their
runtime dependencies (it honours the user's mirrors and proxies). Without Maven we
download the exact list pinned in ``kafka-<version>.lock`` from Maven Central and
check each file's SHA-256, so both paths yield the same, verified class path.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import urllib.request
from importlib import resources
from pathlib import Path

from eventlake.broker.exceptions import JarsUnavailable
from eventlake.runtime.cache import default_cache_dir
from eventlake.runtime.maven import copy_dependencies

MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
_COMPLETE = ".complete"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>eventlake</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{v}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>{v}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
"""


def jars_dir(version: str, cache_dir: Path | None = None) -> Path:
    return (cache_dir or default_cache_dir()) / "kafka" / version / "libs"


def resolve_jars(version: str, cache_dir: Path | None = None, *, prefer_maven: bool = True) -> Path:
    """Return the folder holding every jar Kafka `version` needs; resolve it the first time."""
    libs = jars_dir(version, cache_dir)
    if (libs / _COMPLETE).is_file():
        return libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    # Resolve into a scratch folder and rename: a half-finished download is never used.
    scratch = Path(tempfile.mkdtemp(prefix="libs-", dir=libs.parent))
    try:
        mvn = shutil.which("mvn")
        if prefer_maven and mvn:
            _resolve_with_maven(mvn, version, scratch)
        else:
            _download_locked(version, scratch)
        (scratch / _COMPLETE).write_text(version)
        if libs.exists():
            shutil.rmtree(libs)
        scratch.rename(libs)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return libs


def _resolve_with_maven(mvn: str, version: str, out: Path) -> None:
    try:
        proc = copy_dependencies(mvn, _POM.format(v=version), out)
    except subprocess.TimeoutExpired as exc:
        raise JarsUnavailable(
            f"Maven did not resolve Kafka {version} within 15 minutes",
            hint="check network access to Maven Central",
        ) from exc
    if proc.returncode != 0 or not any(out.glob("kafka_2.13-*.jar")):
        last = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        raise JarsUnavailable(
            f"Maven could not resolve Kafka {version}: {last[0]}",
            hint="check network access to Maven Central, or uninstall mvn to use direct download",
        )


def locked_artifacts(version: str) -> list[tuple[str, str]]:
    """(group:artifact:version[:classifier], sha256) pairs pinned for `version`."""
    name = f"kafka-{version}.lock"
    ref = resources.files("eventlake.broker").joinpath(name)
    if not ref.is_file():
        raise JarsUnavailable(
            f"no pinned jar list for Kafka {version} and Maven is not installed",
            hint="install Maven (apt-get install maven) or use the default kafka_version",
        )
    rows = []
    for line in ref.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            coord, sha = line.split()
            rows.append((coord, sha))
    return rows


def artifact_url(coord: str, repo: str = MAVEN_CENTRAL) -> tuple[str, str]:
    parts = coord.split(":")
    group, artifact, version = parts[:3]
    classifier = f"-{parts[3]}" if len(parts) > 3 else ""
    filename = f"{artifact}-{version}{classifier}.jar"
    return f"{repo}/{group.replace('.', '/')}/{artifact}/{version}/{filename}", filename


def _download_locked(version: str, out: Path) -> None:
    for coord, sha in locked_artifacts(version):
        url, filename = artifact_url(coord)
        target = out / filename
        try:
            with urllib.request.urlopen(url, timeout=60) as resp, target.open("wb") as fh:
                shutil.copyfileobj(resp, fh)
        except OSError as exc:
            raise JarsUnavailable(
                f"could not download {filename}: {exc}", hint="check network access to Maven Central"
            ) from exc
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        if digest != sha:
            raise JarsUnavailable(
                f"checksum mismatch for {filename} (got {digest[:12]}, want {sha[:12]})",
                hint="a proxy or mirror altered the file; retry or resolve with Maven",
            )
