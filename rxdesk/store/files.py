"""A data dir's files as the disk has them: each committed file there with its size, no manifest
taken for an empty data dir, and what crashed writers left behind swept away (`engine`)."""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterable
from pathlib import Path

from rxdesk.domain.errors import StoreError, short_path
from rxdesk.fileio import read_bytes, write_atomic
from rxdesk.store.manifest import Manifest, SegmentRef
from rxdesk.store.segment_db import file_signature

MANIFEST = "rxdesk.json"
PREVIOUS = "rxdesk.previous.json"
SEGMENTS = "segments"
LOCK = ".lock"
# How long a replaced file stays: a reader that took the manifest naming it can still open it.
GRACE_SECONDS = 30.0


def check_files(segments_dir: Path, refs: Iterable[SegmentRef]) -> None:
    """Each file of `refs` (a delta's too) exists with the size it was committed with."""
    folder = f"{segments_dir}{os.sep}"  # plain strings: a Path per file costs more than its stat
    for ref in (part for found in refs for part in found.files()):
        try:
            size = os.stat(folder + ref.file).st_size
        except FileNotFoundError:
            raise StoreError(f"data file {segments_dir / ref.file} is missing; the data dir is "
                             "incomplete") from None
        if size != ref.size:
            raise StoreError(f"data file {segments_dir / ref.file} is corrupt ({size} bytes, "
                             f"committed with {ref.size}); it was left as it is")


def refuse_if_damaged(data_dir: Path, *, writing: bool) -> None:
    """No manifest: an empty data dir, unless data files are there. Segment files (or a
    previous manifest) without the manifest that names them are a damaged data dir, never
    an empty one: reading it as empty would let the next write sweep every segment away.
    `writing`: this process holds the write lock (its own first write is under way)."""
    try:
        segments = sum(1 for entry in os.scandir(data_dir / SEGMENTS) if entry.name.endswith(".json"))
    except (FileNotFoundError, NotADirectoryError):
        segments = 0
    except OSError as exc:
        raise StoreError(f"data dir {short_path(data_dir)}: {exc.strerror or exc}") from None
    previous = (data_dir / PREVIOUS).exists()
    if not segments and not previous:
        return
    if not previous and not writing and _first_write_running(data_dir):
        return  # the data dir's first write has its segments down, not yet its manifest
    where = short_path(data_dir)
    found = f"{segments} segment file(s) are" if segments else "rxdesk.previous.json is"
    how = ("stop every rxdesk process and run `cp rxdesk.previous.json rxdesk.json` in it (the state "
           "before the last write), or restore a backup" if previous else "restore a backup")
    raise StoreError(f"data dir {where} is damaged: its manifest rxdesk.json is missing but "
                     f"{found} there; nothing was read or written. To restore: {how} "
                     "(README: Where data lives)")


def _first_write_running(data_dir: Path) -> bool:
    """True when another writer holds the lock (it alone can have written segments that
    no manifest names yet)."""
    from filelock import FileLock, Timeout

    probe = FileLock(str(data_dir / LOCK), timeout=0, mode=0o600, thread_local=False)
    try:
        probe.acquire()
    except (Timeout, OSError) as exc:
        return isinstance(exc, Timeout)
    probe.release()
    return False


def sweep(data_dir: Path, manifest: Manifest) -> None:
    """Remove what crashed writers left behind: temp files and never-committed segments."""
    keep = {part.file for ref in manifest.segments.values() for part in ref.files()}
    keep.update(f for f, _ in manifest.graveyard)
    try:
        previous = Manifest.from_bytes(read_bytes(data_dir / PREVIOUS), data_dir / PREVIOUS)
        keep.update(part.file for ref in previous.segments.values() for part in ref.files())
    except (FileNotFoundError, StoreError):
        pass
    cutoff = time.time() - 2 * GRACE_SECONDS
    for entry in os.scandir(data_dir / SEGMENTS):
        if entry.name in keep or not entry.name.endswith((".json", ".tmp")):
            continue
        try:
            if entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
        except FileNotFoundError:
            pass


def keep_previous(data_dir: Path, raw: bytes, read_as: tuple[int, int, int] | None, *, fsync: bool) -> None:
    """Keep the manifest a write replaces as `rxdesk.previous.json` (the state before the
    write). The manifest file itself is linked there while it is still the file this process
    read as `raw` (its inode, size and mtime `read_as`): a manifest names every segment
    (230 KB at a million appointments) and was written and flushed again at every write.
    Otherwise (changed under this process, or a file system without hard links) `raw` is
    written there."""
    manifest, previous = data_dir / MANIFEST, data_dir / PREVIOUS
    if read_as is not None and file_signature(manifest) == read_as:
        if file_signature(previous) == read_as:
            return  # the same file, linked already (a write that stopped before its commit)
        link = data_dir / f".{PREVIOUS}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            os.link(manifest, link)
            os.replace(link, previous)  # made durable with the new manifest's directory
            return
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(link)
    write_atomic(previous, raw, sync_dir=False, fsync=fsync)
