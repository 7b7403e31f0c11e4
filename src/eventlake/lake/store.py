"""Object store access for the lake: one small interface over pyarrow filesystems.

Backends are chosen by URI scheme: a local path (or ``file://``) and ``s3://bucket/prefix``.
Writes are atomic: a local file is written under ``_tmp/`` and renamed into place; an S3
object appears whole when its PUT (or multipart upload) completes. Readers get
``filesystem`` and ``root`` to open files with pyarrow or DuckDB themselves.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import urlparse

from eventlake.lake.exceptions import LakeError, UnsupportedLake

if TYPE_CHECKING:  # pyarrow is loaded when a lake first touches its files: `eventlake query` never does
    import pyarrow as pa
    from pyarrow import fs as pafs

    from eventlake.config.lake import S3Settings

log = logging.getLogger(__name__)

# Hive convention: folders starting with `_` are not data (readers and crawlers skip them).
TMP_DIR = "_tmp"

Payload: TypeAlias = "bytes | pa.Buffer | Callable[[pa.NativeFile], None]"


@dataclass(frozen=True)
class LakeObject:
    """One object in the lake, relative to its root."""

    rel_path: str
    size: int
    mtime: float | None  # epoch seconds; None when the store does not say


class Lake:
    """A lake rooted at a folder or a bucket prefix."""

    def __init__(self, filesystem: pafs.FileSystem | None, root: str, uri_prefix: str, *, local: bool) -> None:
        """`filesystem` None: the local one, made on first use."""
        self._filesystem = filesystem
        self.root = root.rstrip("/")
        self._uri_prefix = uri_prefix.rstrip("/")
        self.local = local

    def __repr__(self) -> str:  # never shows credentials: only the location
        return f"Lake({self._uri_prefix!r})"

    @property
    def filesystem(self) -> pafs.FileSystem:
        if self._filesystem is None:
            from pyarrow import fs as pafs

            self._filesystem = pafs.LocalFileSystem()
        return self._filesystem

    @property
    def uri_root(self) -> str:
        return self._uri_prefix

    def path(self, rel_path: str) -> str:
        """The path inside `filesystem` (what pyarrow wants)."""
        return f"{self.root}/{rel_path.lstrip('/')}" if rel_path else self.root

    def uri(self, rel_path: str = "") -> str:
        """The full location: an absolute path for a local lake, s3://bucket/key for S3."""
        return f"{self._uri_prefix}/{rel_path.lstrip('/')}" if rel_path else self._uri_prefix

    def rel(self, uri_or_path: str) -> str:
        """Inverse of `uri` (also accepts filesystem paths)."""
        for prefix in (self._uri_prefix, self.root):
            if uri_or_path.startswith(prefix + "/"):
                return uri_or_path[len(prefix) + 1 :]
        raise LakeError(f"{uri_or_path} is not inside the lake {self._uri_prefix}")

    def write_atomic(self, rel_path: str, data: Payload) -> int:
        """Write an object so that readers see all of it or nothing; return its size in bytes."""
        target = self.path(rel_path)
        try:
            if not self.local:
                # One PUT (or one multipart upload) is atomic in S3: nothing is visible until it completes.
                return self._write(target, data)
            tmp = self.path(f"{TMP_DIR}/{uuid.uuid4().hex}")
            self.filesystem.create_dir(self.path(TMP_DIR), recursive=True)
            parent = target.rsplit("/", 1)[0]
            self.filesystem.create_dir(parent, recursive=True)
            try:
                size = self._write(tmp, data)
                Path(tmp).replace(target)
            except BaseException:
                with contextlib.suppress(OSError):
                    Path(tmp).unlink()
                raise
            return size
        except OSError as exc:
            raise LakeError(
                f"cannot write {self.uri(rel_path)}: {exc}", hint="check the lake location, permissions and credentials"
            ) from exc

    def _write(self, path: str, data: Payload) -> int:
        with self.filesystem.open_output_stream(path, metadata={}) as out:
            if callable(data):
                data(out)
            else:
                out.write(data)
            return int(out.tell())

    def read_bytes(self, rel_path: str) -> bytes:
        with self.filesystem.open_input_stream(self.path(rel_path)) as f:
            return bytes(f.read())

    def delete(self, rel_path: str) -> None:
        """Delete an object; a missing one is not an error (deletes are retried after crashes)."""
        try:
            self.filesystem.delete_file(self.path(rel_path))
        except FileNotFoundError:
            pass
        except OSError as exc:
            if "does not exist" in str(exc) or "NoSuchKey" in str(exc):
                return
            raise LakeError(f"cannot delete {self.uri(rel_path)}: {exc}") from exc

    def exists(self, rel_path: str) -> bool:
        from pyarrow import fs as pafs

        is_file: bool = self.filesystem.get_file_info(self.path(rel_path)).type == pafs.FileType.File
        return is_file

    def list(self, rel_dir: str = "") -> list[LakeObject]:
        """Every object below `rel_dir` (recursively), relative to the lake root."""
        from pyarrow import fs as pafs

        selector = pafs.FileSelector(self.path(rel_dir), recursive=True, allow_not_found=True)
        try:
            infos = self.filesystem.get_file_info(selector)
        except OSError as exc:
            raise LakeError(f"cannot list {self.uri(rel_dir)}: {exc}") from exc
        out = []
        for info in infos:
            if info.type != pafs.FileType.File:
                continue
            mtime = info.mtime.timestamp() if info.mtime is not None else None
            out.append(LakeObject(self.rel(info.path), int(info.size or 0), mtime))
        return out


def open_lake(uri: str, s3: S3Settings | None = None) -> Lake:
    """The lake at `uri`: a local folder (path or file://) or s3://bucket/prefix."""
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if scheme in ("", "file") or (len(scheme) == 1 and uri[1:3] in (":\\", ":/")):
        folder = Path(uri.removeprefix("file://")).expanduser().resolve()
        folder.mkdir(parents=True, exist_ok=True)
        return Lake(None, str(folder), str(folder), local=True)
    if scheme in ("s3", "s3a"):
        if s3 is None:  # imported here: a plain query over a local lake runs without pydantic
            from eventlake.config.lake import S3Settings

            s3 = S3Settings()
        return _open_s3(parsed.netloc, parsed.path.strip("/"), s3)
    raise UnsupportedLake(f"unsupported lake {uri!r}", hint="use a local folder or s3://bucket/prefix")


def _open_s3(bucket: str, prefix: str, s3: S3Settings) -> Lake:
    if not bucket:
        raise UnsupportedLake("an S3 lake needs a bucket: s3://bucket/prefix")
    kwargs: dict[str, object] = {"region": s3.region}
    if s3.access_key_id:
        kwargs["access_key"] = s3.access_key_id
        kwargs["secret_key"] = s3.secret_access_key.get_secret_value() if s3.secret_access_key else ""
        if s3.session_token is not None:
            kwargs["session_token"] = s3.session_token.get_secret_value()
    if s3.endpoint_url:
        endpoint = urlparse(s3.endpoint_url)
        kwargs["endpoint_override"] = endpoint.netloc or endpoint.path
        kwargs["scheme"] = endpoint.scheme or "https"
    # With endpoint_override the AWS SDK addresses buckets path-style (what S3Proxy, MinIO and
    # Ceph expect); against AWS itself it picks virtual hosts, which AWS requires for new buckets.
    from pyarrow import fs as pafs

    try:
        filesystem = pafs.S3FileSystem(**kwargs)
    except (OSError, ValueError) as exc:
        raise LakeError(f"cannot open S3 lake s3://{bucket}/{prefix}: {exc}") from exc
    root = f"{bucket}/{prefix}" if prefix else bucket
    log.info("lake on S3: bucket=%s prefix=%s endpoint=%s", bucket, prefix, s3.endpoint_url or "aws")
    return Lake(filesystem, root, f"s3://{root}", local=False)
