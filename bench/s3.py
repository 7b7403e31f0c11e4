"""A local S3 server (S3Proxy, filesystem backend) for the seed tutorial's consumer as written.

The seed writes every message to S3 with s3fs: one PUT per message. S3Proxy comes from
Maven Central into ~/.cache/eventlake/s3proxy/<version>/ (the same cache the tests use),
resolved once with Maven.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from eventlake.lake.local_s3 import LocalS3Unavailable, run_local_s3

# The launcher is eventlake's own (the tests use it too); missing Maven skips the S3 run.
S3Unavailable = LocalS3Unavailable


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str

    def env(self) -> dict[str, str]:
        """What the tutorial's s3fs needs to reach this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "BENCH_S3_ENDPOINT": self.endpoint,
        }


@contextmanager
def s3_server(data: Path) -> Iterator[S3Server]:
    """Start S3Proxy on a free port with one bucket; always stop it."""
    if data.exists():
        shutil.rmtree(data)
    with run_local_s3(data, "tutorial", "bench", "bench-secret") as s3:
        yield S3Server(s3.endpoint, s3.access_key, s3.secret_key, s3.bucket)
