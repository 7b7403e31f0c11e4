"""The lake as a pyarrow filesystem: a local folder or s3://bucket/prefix.

Paths inside the filesystem have no scheme (`bucket/prefix/key` on S3, an absolute path
locally); the catalog stores full URIs for S3 objects and absolute paths for local files,
so `to_uri` and `fs_path` convert between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs as pafs

from eventlake.config import Settings
from eventlake.lake.settings import S3Settings


@dataclass(frozen=True)
class LakeFs:
    fs: pafs.FileSystem
    root: str  # filesystem path of the lake root, no trailing slash
    is_s3: bool

    def to_uri(self, path: str) -> str:
        return f"s3://{path}" if self.is_s3 else path

    def fs_path(self, uri: str) -> str:
        if uri.startswith("s3://"):
            return uri[len("s3://"):]
        if uri.startswith("file://"):
            return uri[len("file://"):]
        return uri

    def relative(self, path: str) -> str:
        return path[len(self.root):].lstrip("/") if path.startswith(self.root) else path


def s3_filesystem(s3: S3Settings) -> pafs.S3FileSystem:
    kwargs: dict[str, object] = {"region": s3.region}
    if s3.endpoint_url:
        parsed = urlparse(s3.endpoint_url)
        if parsed.scheme:
            kwargs["scheme"] = parsed.scheme
            kwargs["endpoint_override"] = parsed.netloc + parsed.path.rstrip("/")
        else:
            kwargs["endpoint_override"] = s3.endpoint_url
    if s3.access_key_id:
        kwargs["access_key"] = s3.access_key_id
    if s3.secret_access_key is not None:
        kwargs["secret_key"] = s3.secret_access_key.get_secret_value()
    if s3.session_token is not None:
        kwargs["session_token"] = s3.session_token.get_secret_value()
    if not s3.path_style and s3.endpoint_url is None:
        kwargs["force_virtual_addressing"] = True
    return pafs.S3FileSystem(**kwargs)


def lake_filesystem(settings: Settings, lake: str | None = None) -> LakeFs:
    uri = lake or settings.lake
    if uri.startswith("s3://"):
        return LakeFs(s3_filesystem(settings.s3), uri[len("s3://"):].rstrip("/"), is_s3=True)
    if uri.startswith("file://"):
        uri = uri[len("file://"):]
    return LakeFs(pafs.LocalFileSystem(), str(Path(uri).expanduser().resolve()), is_s3=False)
