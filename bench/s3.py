"""A local S3 server (S3Proxy, filesystem backend) for the seed tutorial's consumer as written.

The seed writes every message to S3 with s3fs: one PUT per message. S3Proxy comes from
Maven Central into ~/.cache/eventlake/s3proxy/<version>/ (the same cache the tests use),
resolved once with Maven.
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

from eventlake.broker import free_port
from eventlake.broker.jars import default_cache_dir
from eventlake.broker.java import find_java

S3PROXY_VERSION = "4.1.0"
# s3proxy 4.1.0's own resolution picks jackson-annotations 2.18, too old for its jackson 3.
_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>eventlake.bench</groupId><artifactId>s3proxy-runtime</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.gaul</groupId><artifactId>s3proxy</artifactId><version>{v}</version></dependency>
    <dependency><groupId>com.fasterxml.jackson.core</groupId><artifactId>jackson-annotations</artifactId>
      <version>2.21</version></dependency>
  </dependencies>
</project>
"""


class S3Unavailable(RuntimeError):
    """No S3Proxy in the cache and no Maven to resolve it: the S3 run is skipped, not failed."""


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str

    def env(self) -> dict[str, str]:
        """What the tutorial's s3fs needs to reach this server."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": "us-east-1", "BENCH_S3_ENDPOINT": self.endpoint}


def resolve_s3proxy(version: str = S3PROXY_VERSION) -> Path:
    libs = default_cache_dir() / "s3proxy" / version
    if (libs / ".complete").is_file():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise S3Unavailable("S3Proxy needs Maven (apt-get install maven) to be resolved the first time")
    libs.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="s3proxy-", dir=libs.parent))
    try:
        pom = scratch / "pom.xml"
        pom.write_text(_POM.format(v=version))
        out = scratch / "libs"
        proc = subprocess.run(
            [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", f"-DoutputDirectory={out}",
             "-DincludeScope=runtime"], capture_output=True, text=True, timeout=900, check=False)
        if proc.returncode != 0 or not any(out.glob("s3proxy-*.jar")):
            raise RuntimeError(f"Maven could not resolve S3Proxy {version}: {(proc.stdout + proc.stderr)[-500:]}")
        (out / ".complete").write_text(version)
        if libs.exists():
            shutil.rmtree(libs)
        out.rename(libs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return libs


@contextmanager
def s3_server(data: Path) -> Iterator[S3Server]:
    """Start S3Proxy on a free port with one bucket; always stop it."""
    libs = resolve_s3proxy()
    if data.exists():
        shutil.rmtree(data)
    (data / "blobs").mkdir(parents=True)
    port = free_port()
    server = S3Server(f"http://127.0.0.1:{port}", "bench", "bench-secret", "tutorial")
    conf = data / "s3proxy.conf"
    conf.write_text("\n".join([
        f"s3proxy.endpoint={server.endpoint}", "s3proxy.authorization=aws-v2-or-v4",
        f"s3proxy.identity={server.access_key}", f"s3proxy.credential={server.secret_key}",
        "jclouds.provider=filesystem", f"jclouds.filesystem.basedir={data / 'blobs'}",
    ]) + "\n")
    with (data / "s3proxy.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(find_java().executable), "-Xmx256m", "-cp", f"{libs}/*", "org.gaul.s3proxy.Main",
             "--properties", str(conf)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "LOG_LEVEL": "warn"},
        )
    try:
        _wait_http(server.endpoint, proc, timeout_s=90)
        import boto3

        boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
                     aws_secret_access_key=server.secret_key, region_name="us-east-1",
                     ).create_bucket(Bucket=server.bucket)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"S3Proxy exited with {proc.returncode} during start-up")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # 403 to an anonymous request: it answers
        except (TimeoutError, urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise RuntimeError(f"S3Proxy did not answer at {url} within {timeout_s:.0f} s")
