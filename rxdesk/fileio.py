"""Private, durable files: the primitives every file rxdesk writes goes through.

Every file is written to a temporary name, fsynced, renamed over its final name, and the
directory fsynced: a crash at any instant leaves either the old file or the new one, never a
mix. Files are created 0600 and directories 0700, missing parents included (they hold patient
data and keys). The store writes its segments with these, and the master key file too.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

from rxdesk.domain.errors import StoreError

FILE_MODE = 0o600
DIR_MODE = 0o700


def make_private_dirs(path: Path) -> None:
    """Create `path` and every missing parent as 0700, whatever the umask (`mkdir -p` would make
    the parents 0777 under umask 000, and whoever may write a parent may swap the folder in
    it). Folders that exist are left as they are; OSError as the system raised it."""
    missing = []
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:  # another process made it meanwhile
            continue
        os.chmod(folder, DIR_MODE)  # mkdir's mode passes through the umask


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and missing parents) as 0700; shut group and others out of an existing
    one we own. The owner's own bits stay as set: a data dir made read-only refuses writes."""
    try:
        make_private_dirs(path)
        mode = path.stat().st_mode & 0o777
        if mode & ~DIR_MODE:
            os.chmod(path, mode & DIR_MODE)
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


def write_atomic(path: Path, data: bytes, *, sync_dir: bool = True, fsync: bool = True) -> None:
    """Write `data` to `path` atomically and durably, mode 0600 (`fsync=False`: atomically
    only, for tests)."""
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
            if fsync:
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
    if sync_dir and fsync:
        fsync_dir(path.parent)


def read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except PermissionError:
        raise StoreError(f"data file {path} is not readable (permission denied)") from None
    except IsADirectoryError:
        raise StoreError(f"data file {path} is a directory") from None
