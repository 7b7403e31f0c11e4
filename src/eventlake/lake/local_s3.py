"""A real S3-compatible server on this machine: S3Proxy (filesystem backend) on loopback.

What the test suite and the bench use to exercise the S3 path without a cloud, and what a
user can use to try an `s3://` lake offline. S3Proxy's jars come from Maven Central once,
resolved by Maven into ~/.cache/eventlake/s3proxy/<version>/ (scratch folder, then rename,
as the Kafka jars are).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventlake.lake.exceptions import LakeError
from eventlake.runtime import default_cache_dir, find_java, free_port
from eventlake.runtime.maven import MAVEN_TIMEOUT_S, copy_dependencies

S3PROXY_VERSION = "4.1.0"
# s3proxy 4.1.0's own resolution picks jackson-annotations 2.18, too old for its jackson 3.
_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>eventlake</groupId><artifactId>s3proxy-runtime</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.gaul</groupId><artifactId>s3proxy</artifactId><version>{v}</version></dependency>
    <dependency><groupId>com.fasterxml.jackson.core</groupId><artifactId>jackson-annotations</artifactId>
      <version>2.21</version></dependency>
  </dependencies>
</project>
"""


class LocalS3Unavailable(LakeError):
    """S3Proxy is not cached and cannot be resolved (no Maven, or Maven failed)."""


@dataclass(frozen=True)
class LocalS3:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str

    def overrides(self) -> dict[str, Any]:
        """The `[s3]` settings that point eventlake at this server (for `load_settings(overrides=...)`)."""
        return {
            "s3": {
                "endpoint_url": self.endpoint,
                "access_key_id": self.access_key,
                "secret_access_key": self.secret_key,
                "path_style": True,
            }
        }


def s3proxy_libs(version: str = S3PROXY_VERSION) -> Path:
    return default_cache_dir() / "s3proxy" / version


def resolve_s3proxy(version: str = S3PROXY_VERSION) -> Path:
    """The folder of S3Proxy's jars, resolved with Maven the first time."""
    libs = s3proxy_libs(version)
    if (libs / ".complete").is_file():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalS3Unavailable(
            "S3Proxy is resolved with Maven the first time, and mvn is not installed", hint="apt-get install maven"
        )
    libs.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="s3proxy-", dir=libs.parent))
    try:
        out = scratch / "libs"
        try:
            proc = copy_dependencies(mvn, _POM.format(v=version), out)
        except subprocess.TimeoutExpired as exc:
            raise LocalS3Unavailable(
                f"Maven did not resolve S3Proxy {version} within {MAVEN_TIMEOUT_S // 60} minutes",
                hint="check network access to Maven Central",
            ) from exc
        if proc.returncode != 0 or not any(out.glob("s3proxy-*.jar")):
            tail = (proc.stdout + proc.stderr).strip()[-300:]
            raise LocalS3Unavailable(
                f"Maven could not resolve S3Proxy {version}: {tail}", hint="check network access to Maven Central"
            )
        (out / ".complete").write_text(version)
        if libs.exists():
            shutil.rmtree(libs)
        out.rename(libs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return libs


@contextmanager
def run_local_s3(
    data: Path, bucket: str, access_key: str, secret_key: str, start_timeout_s: float = 90, port: int | None = None
) -> Iterator[LocalS3]:
    """Start S3Proxy on a loopback port (free, or `port` to come back where an earlier run was) with
    one bucket (objects under `data`, kept across runs); always stop it."""
    libs = resolve_s3proxy()
    (data / "blobs").mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    server = LocalS3(f"http://127.0.0.1:{port}", access_key, secret_key, bucket)
    conf = data / "s3proxy.conf"
    conf.write_text(
        "\n".join(
            [
                f"s3proxy.endpoint={server.endpoint}",
                "s3proxy.authorization=aws-v2-or-v4",
                f"s3proxy.identity={access_key}",
                f"s3proxy.credential={secret_key}",
                "jclouds.provider=filesystem",
                f"jclouds.filesystem.basedir={data / 'blobs'}",
            ]
        )
        + "\n"
    )
    conf.chmod(0o600)  # it holds the credential
    # S3Proxy's jar carries no logging configuration, so logback defaults to DEBUG on stdout
    # (one test run wrote a 440 MB log): warnings only.
    logback = data / "logback.xml"
    logback.write_text(_LOGBACK)
    with (data / "s3proxy.log").open("ab") as log:
        proc = subprocess.Popen(
            [
                str(find_java().executable),
                "-Xmx256m",
                f"-Dlogback.configurationFile={logback}",
                "-cp",
                f"{libs}/*",
                "org.gaul.s3proxy.Main",
                "--properties",
                str(conf),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "LOG_LEVEL": "warn"},
        )
    try:
        _wait_http(server.endpoint, proc, start_timeout_s)
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name="us-east-1",
        )
        if bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=bucket)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


_LOGBACK = """<configuration>
  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d %-5level %logger{24} %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="OUT"/></root>
</configuration>
"""


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LakeError(f"S3Proxy exited with {proc.returncode} during start-up")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError as exc:
            exc.close()
            return  # 403 to an anonymous request: it answers
        except (TimeoutError, urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise LakeError(f"S3Proxy did not answer at {url} within {timeout_s:.0f} s")
