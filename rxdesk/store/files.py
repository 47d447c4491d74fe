"""File-level primitives: durable atomic writes, private permissions, the TinyDB storage.

Every file rxdesk writes is written to a temporary name, fsynced, renamed over its final
name, and the directory fsynced: a crash at any instant leaves either the old file or the new
one, never a mix. Files are created 0600 and directories 0700 (they hold patient data).
"""

from __future__ import annotations

import errno
import os
import secrets
import zlib
from pathlib import Path
from typing import Any

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from rxdesk.domain.errors import StoreError

FILE_MODE = 0o600
DIR_MODE = 0o700


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and parents) as 0700; tighten an existing one we own."""
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        if (path.stat().st_mode & 0o777) != DIR_MODE:
            os.chmod(path, DIR_MODE)
    except PermissionError:
        raise StoreError(f"data dir {path} is not writable (permission denied)") from None
    except OSError as exc:
        raise StoreError(f"data dir {path} cannot be created: {exc.strerror or exc}") from None


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Write `data` to `path` atomically and durably, mode 0600."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except PermissionError:
        raise StoreError(f"data dir {path.parent} is not writable (permission denied)") from None
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise StoreError(f"cannot write {path}: {reason}") from None
    if sync_dir:
        fsync_dir(path.parent)


def read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except PermissionError:
        raise StoreError(f"data file {path} is not readable (permission denied)") from None
    except IsADirectoryError:
        raise StoreError(f"data file {path} is a directory") from None


def checksum(data: bytes) -> int:
    return zlib.crc32(data)


def dumps(data: Any) -> bytes:
    return orjson.dumps(data)


def loads(data: bytes, path: Path) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise StoreError(
            f"data file {path} is corrupt ({'empty' if not data else 'not valid JSON'}: {exc.msg}); "
            "it was left as it is"
        ) from None


class SegmentStorage(Storage):
    """A TinyDB storage for one segment file: orjson in and out, atomic durable writes.

    Segment files are ordinary TinyDB documents (`{table: {doc_id: document}}`), so any of them
    opens with `open_segment(path)` for inspection.
    """

    def __init__(self, path: str | Path, access_mode: str = "r") -> None:
        self.path = Path(path)
        self.access_mode = access_mode

    def read(self) -> dict[str, dict[str, Any]] | None:
        if not self.path.exists():
            return None
        raw = read_bytes(self.path)
        data = loads(raw, self.path)
        if not isinstance(data, dict):
            raise StoreError(f"data file {self.path} is not a TinyDB document; it was left as it is")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        if self.access_mode == "r":
            raise StoreError(f"{self.path} is opened read-only")
        write_atomic(self.path, dumps(data))


class KeyedTable(Table):
    """Documents keyed by their natural id (a uid, a key_id), not TinyDB's integer ids."""

    document_id_class = str  # type: ignore[assignment]


def open_segment(path: str | Path) -> TinyDB:
    """Open a segment file read-only as a TinyDB database (for inspection and tests)."""
    db = TinyDB(path, storage=SegmentStorage, access_mode="r")
    db.table_class = KeyedTable
    return db
