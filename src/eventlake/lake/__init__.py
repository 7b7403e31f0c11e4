"""The lake stage: object stores (a local folder, S3) behind one small interface."""

from eventlake.lake.exceptions import LakeError, UnsupportedLake
from eventlake.lake.store import Lake, LakeObject, open_lake

__all__ = [
    "Lake",
    "LakeError",
    "LakeObject",
    "UnsupportedLake",
    "open_lake",
]
