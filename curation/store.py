"""Where a run's files live: a local folder or any fsspec URL (`s3://bucket/prefix`, `file:///…`).

The manifests and the ledger go through these few calls, so one code path serves both. What
"atomic" means differs by store, and is decided here only (`atomic_writer`):

- a local folder (plain path or `file://`): a temporary file next to the target, fsynced, then
  renamed over it (a reader sees the old file or the new one, never half of one);
- an object store: the whole object is uploaded in one request (a PUT, or a multipart upload
  for > 100 MB, which S3 makes visible only when completed): no partial object is ever visible.
  There is no rename there, which is why the ledger's commit marker is a file written last.

Credentials and endpoints come from the usual environment of the fsspec backend, for S3 (s3fs /
botocore): `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL` (MinIO, Ceph, …).
"""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import fsspec
import pyarrow.fs
from fsspec.implementations.local import LocalFileSystem


def resolve(location: str | os.PathLike) -> tuple[fsspec.AbstractFileSystem, str]:
    """(filesystem, path inside it) of a plain path or a URL; plain paths become absolute."""
    return fsspec.core.url_to_fs(os.fspath(location))


def is_url(location: str | os.PathLike) -> bool:
    return "://" in os.fspath(location)


def is_local(fs: fsspec.AbstractFileSystem) -> bool:
    return isinstance(fs, LocalFileSystem)


def join(location: str | os.PathLike, *names: str) -> str:
    """`location/names…`, a URL staying a URL (os.path.join would not do for `s3://`)."""
    return "/".join([os.fspath(location).rstrip("/"), *names])


def display(location: str | os.PathLike) -> str:
    """How to name `location` to a person: an absolute path, or the URL as given."""
    return os.fspath(location) if is_url(location) else str(Path(location).resolve())


def arrow_filesystem(fs: fsspec.AbstractFileSystem) -> pyarrow.fs.FileSystem:
    """The pyarrow filesystem for dataset scans over `fs` (native for local files)."""
    if is_local(fs):
        return pyarrow.fs.LocalFileSystem()
    return pyarrow.fs.PyFileSystem(pyarrow.fs.FSSpecHandler(fs))


def list_files(fs: fsspec.AbstractFileSystem, folder: str, suffix: str) -> list[str]:
    """Paths of the files in `folder` whose names end with `suffix` ([] when there is no folder).
    Listed afresh: other processes and machines write here, so no cached listing is trusted."""
    fs.invalidate_cache(folder)
    try:
        names = fs.ls(folder, detail=False)
    except FileNotFoundError:
        return []
    return sorted(name for name in names if name.rsplit("/", 1)[-1].endswith(suffix))


def read_bytes(fs: fsspec.AbstractFileSystem, path: str) -> bytes:
    """The whole file (one GET on an object store); FileNotFoundError when there is none."""
    return fs.cat_file(path)


def remove(fs: fsspec.AbstractFileSystem, path: str) -> None:
    """Delete `path` if it is there."""
    try:
        fs.rm_file(path)
    except FileNotFoundError:
        pass


def modified_ns(fs: fsspec.AbstractFileSystem, path: str) -> int:
    """Modification time in ns since the epoch (an object store's LastModified: 1 s steps)."""
    return int(fs.modified(path).timestamp() * 1e9)


@contextmanager
def atomic_writer(fs: fsspec.AbstractFileSystem, path: str) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces `path` in `fs` as a whole when the block ends
    without an exception; after an exception nothing changed (module docstring: how, per store)."""
    if not is_local(fs):
        buffer = io.BytesIO()
        yield buffer
        fs.pipe_file(path, buffer.getvalue())  # one PUT (s3fs: multipart only above 100 MB)
        return
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    # 0666 minus the umask like any file (mkstemp's 0600 would hide manifests from the other users
    # of a shared folder).
    tmp = os.path.join(parent, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
