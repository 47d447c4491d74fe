"""The storage engine: segments that are TinyDB databases, committed together through one manifest.

Layout of a data dir::

    rxdesk.json            the manifest: which file holds each segment, their sizes and
                           checksums, counters. Replaced atomically; its rename is the commit.
    rxdesk.previous.json   the manifest before the last commit (one step of rollback)
    segments/NAME.GEN.json one TinyDB database per segment and generation; never rewritten
    .lock                  the inter-process write lock

A write takes the lock, reads the newest manifest (and the segments it needs, re-read inside the
lock, each once), writes each changed segment to a NEW file, then replaces the manifest. A crash
before that rename leaves the previous state whole; after it, the new one. Readers take no lock:
a manifest names immutable files, so whatever manifest a reader sees is a consistent state.
Replaced files are deleted after a grace period, so a reader never loses a file it was opening.

Files being immutable, a process caches parsed segments by file name and re-reads only what
another process replaced: an action pays for the segments it touches, not for the history.

TinyDB is the document layer of each segment (`segment_db`); this module is what TinyDB has no
notion of: transactions across segments, the lock, the cache, the graveyard, the damage checks.
"""

from __future__ import annotations

import gc
import itertools
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rxdesk.domain.errors import StoreError, short_path
from rxdesk.fileio import ensure_private_dir, fsync_dir, read_bytes, write_atomic
from rxdesk.store.files import (
    GRACE_SECONDS,
    LOCK,
    MANIFEST,
    SEGMENTS,
    check_files,
    keep_previous,
    refuse_if_damaged,
    sweep,
)
from rxdesk.store.footprint import segment_bytes
from rxdesk.store.manifest import Encoded, Manifest, SegmentRef, carry_counted, delta_file, segment_file
from rxdesk.store.segment_db import Segment, SegmentDB, SegmentTable, Tables, encode, file_signature

if TYPE_CHECKING:
    # Imported where a lock is taken: a process that only reads never pays for filelock.
    from filelock import FileLock

SWEEP_EVERY = 64
DERIVED_KEPT = 8
# The cache's budget is of memory held (`footprint`); before a parse, a week is taken to hold up to
# 4 times its file (10 MB for 2.8 MB; a week written before its null fields were left out, 3).
PARSED_PER_FILE_BYTE = 4
# An app's or a command's cache: this week and the patients' names at a million appointments
# (about 30 MB held) and what a count or a filter reads besides; each week more is 10 MB held.
CACHE_BYTES = 40 * 1024 * 1024
# A running worker's: every tick reads this week and the last (ended appointments, reminders),
# about 25 MB at a million appointments, besides holds and webhooks; a smaller cache would have
# each tick parse them again.
WORKER_CACHE_BYTES = 192 * 1024 * 1024
# A write that changes a few documents of a segment whose file is at least this big writes them
# to a delta file beside it (`SegmentRef.delta`) while they stay under 1/DELTA_SHARE of it: a
# cancel at a million appointments writes a few KB, not its week's 4-11 MB (encoded, checksummed,
# flushed). Readers lay the delta over the file; a larger delta folds it into a new file.
DELTA_FROM_BYTES = 64 * 1024
DELTA_SHARE = 8

T = TypeVar("T")


def _nowhere() -> Segment:
    """An empty segment, read-only: what a snapshot answers for a segment that does not exist."""
    db = SegmentDB(None)
    db.segment_storage.staged = False
    return Segment("", None, db)


_NOWHERE = _nowhere()
_READERS = itertools.count()


class Snapshot:
    """A consistent, read-only view of the store at one manifest generation."""

    def __init__(self, engine: Engine, manifest: Manifest) -> None:
        self._engine = engine
        self.manifest = manifest
        self.reader = next(_READERS)  # which snapshot asks for a segment (the cache's policy)

    @property
    def generation(self) -> int:
        return self.manifest.generation

    def segment(self, name: str) -> Segment | None:
        ref = self.manifest.segments.get(name)
        if ref is None:
            return None
        return self._engine._load(name, ref, self.reader)

    def table(self, segment: str, table: str) -> SegmentTable:
        """The TinyDB table `table` of `segment` (empty when the segment does not exist)."""
        seg = self.segment(segment)
        return seg.table(table) if seg is not None else _NOWHERE.table(table)

    def names(self, prefix: str) -> list[str]:
        return self.manifest.names(prefix)

    def has(self, name: str) -> bool:
        """Whether the segment `name` exists (without reading it)."""
        return name in self.manifest.segments

    def derived(self, what: str, segments: list[str], build: Callable[[], T]) -> T:
        """`build()`, a view derived from several segments, kept while their files stay."""
        files = tuple(self.manifest.segments[name].state for name in segments)
        return self._engine._derived((what, files), build)

    def counter(self, name: str) -> int:
        return self.manifest.counters.get(name, 0)

    def file_generation(self, name: str) -> int | None:
        """The generation that wrote the committed file of segment `name` (None: no such segment)."""
        ref = self.manifest.segments.get(name)
        return ref.generation if ref is not None else None

    @property
    def writable(self) -> bool:
        return False


class Transaction(Snapshot):
    """A snapshot taken under the write lock, plus the changes to commit with it."""

    def __init__(self, engine: Engine, manifest: Manifest) -> None:
        super().__init__(engine, manifest)
        self._dirty: dict[str, Segment] = {}
        self._dropped: set[str] = set()
        self._counters: dict[str, int] = {}
        self._kept: dict[Hashable, Any] = {}
        self._read: dict[str, Segment] = {}

    @property
    def writable(self) -> bool:
        return True

    @property
    def dirty(self) -> bool:
        return bool(self._dirty or self._counters or self._dropped)

    def segment(self, name: str) -> Segment | None:
        # Read once per unit of work, whatever the cache lets go meanwhile (a tick reads many weeks).
        seg = self._dirty.get(name) or self._read.get(name)
        if seg is None and name not in self._dropped:
            seg = super().segment(name)
            if seg is not None:
                self._read[name] = seg
        return seg

    def names(self, prefix: str) -> list[str]:
        names = set(super().names(prefix)) - self._dropped
        names.update(n for n in self._dirty if n.startswith(prefix))
        return sorted(names)

    def has(self, name: str) -> bool:
        return name in self._dirty or (name not in self._dropped and super().has(name))

    def derived(self, what: str, segments: list[str], build: Callable[[], T]) -> T:
        return build()  # staged segments change under it: nothing kept

    def file_generation(self, name: str) -> int | None:
        return None if name in self._dropped else super().file_generation(name)

    def drop(self, name: str) -> None:
        """Remove a whole segment (its file is retired like any replaced file)."""
        self._dirty.pop(name, None)
        self._read.pop(name, None)
        self._dropped.add(name)

    def counter(self, name: str) -> int:
        return self._counters.get(name, super().counter(name))

    def set_counter(self, name: str, value: int) -> None:
        """Move a counter (e.g. a cursor over the event log) to `value`."""
        self._counters[name] = value

    def kept(self, key: Hashable, build: Callable[[], T]) -> T:
        """`build()` once per unit of work: what several of its changes keep up to date (an
        index being rewritten) instead of reading it back each time."""
        try:
            value: T = self._kept[key]
        except KeyError:
            value = self._kept[key] = build()
        return value

    def next_seq(self, name: str) -> int:
        value = self.counter(name) + 1
        self._counters[name] = value
        return value

    def change(self, segment: str, table: str) -> SegmentTable:
        """The TinyDB table to change: that of this transaction's staged copy of `segment`
        (made on first use; readers of the committed segment never see a change)."""
        seg = self._dirty.get(segment)
        if seg is None:
            base = None if segment in self._dropped else self.segment(segment)
            seg = Segment(segment, None, SegmentDB(base.storage if base is not None else None))
            self._dirty[segment] = seg
        return seg.table(table)


def _laid_over(ref: SegmentRef) -> int:
    """What the cache makes room for before laying a delta over its file (in file bytes): the
    delta, and the tables it copies (their documents are the file's, counted with it)."""
    assert ref.delta is not None
    return ref.delta.size + ref.size // DELTA_SHARE


def writable(snap: Snapshot) -> Transaction:
    """`snap` as the transaction it must be for a change."""
    if not isinstance(snap, Transaction):
        raise RuntimeError("this view is read-only; change data inside Store.write()")
    return snap


class Engine:
    def __init__(
        self,
        data_dir: str | Path,
        *,
        cache_bytes: int = CACHE_BYTES,
        lock_timeout: float = 30.0,
        fsync: bool = True,
        delta_from: int | None = None,
        short_lived: bool = False,
    ) -> None:
        """`fsync=False` skips flushing to the disk: a crash of the machine (not of the
        process) may then lose recent commits. Only for tests; never the default. `delta_from`:
        the smallest segment file a write lays a delta over (DELTA_FROM_BYTES). `short_lived`:
        a command that answers and exits; what it parses is frozen out of the cyclic garbage
        collector's passes (`gc.freeze`): parsed JSON holds no cycle, reference counting frees
        it, and at a million appointments the collector's full passes over weeks of it took
        14% of a listing (75 of 918 ms in three passes). A cycle made meanwhile stays until
        the exit; so the app and a running worker never freeze."""
        self.data_dir = Path(data_dir).expanduser()
        self.segments_dir = self.data_dir / SEGMENTS
        self.manifest_path = self.data_dir / MANIFEST
        self.cache_bytes = cache_bytes
        self.lock_timeout = lock_timeout
        self.fsync = fsync
        self.delta_from = DELTA_FROM_BYTES if delta_from is None else delta_from
        self.short_lived = short_lived
        self._mutex = threading.RLock()  # guards the cache and the cached manifest
        self._write_mutex = threading.Lock()  # one writer per process; the file lock does the rest
        self._file_lock: FileLock | None = None
        self._writing = threading.local()
        self._manifest: Manifest | None = None
        self._manifest_stat: tuple[int, int, int] | None = None
        self._cache: OrderedDict[str, tuple[Segment, int]] = OrderedDict()
        self._read_once: dict[str, int] = {}  # file -> the one snapshot that asked for it yet
        self._loading: dict[str, threading.Lock] = {}  # file -> held while one thread parses it
        # `Snapshot.derived`, by (what, files), the newest last.
        self._views: OrderedDict[tuple[str, tuple[str, ...]], Any] = OrderedDict()
        self._cached_bytes = 0
        self.commits = 0  # writes committed by this process: the benchmark counts them
        self._encoded = Encoded()  # from its second write on (`Manifest.to_bytes`)

    # -- reading -------------------------------------------------------------------------

    def manifest(self, *, fresh: bool = False) -> Manifest:
        """The newest committed manifest; re-read only when the file has changed, or always
        with `fresh` (under the write lock: see `transaction`)."""
        try:
            st = os.stat(self.manifest_path)
        except NotADirectoryError:
            raise StoreError(f"data dir {self.data_dir} is not a directory") from None
        except FileNotFoundError:
            if self.data_dir.exists() and not self.data_dir.is_dir():
                raise StoreError(f"data dir {self.data_dir} is not a directory") from None
            refuse_if_damaged(self.data_dir, writing=getattr(self._writing, "active", False))
            with self._mutex:
                self._manifest, self._manifest_stat = Manifest(), None
            return self._manifest
        except PermissionError:
            raise StoreError(f"data dir {self.data_dir} is not readable (permission denied)") from None
        except OSError as exc:  # a name too long for the file system, an I/O error, ...
            raise StoreError(f"data dir {short_path(self.data_dir)}: {exc.strerror or exc}") from None
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._mutex:
            if not fresh and self._manifest is not None and key == self._manifest_stat:
                return self._manifest
        raw = read_bytes(self.manifest_path)
        with self._mutex:
            known = self._manifest
        # The known manifest read again (under the write lock): the same bytes are not parsed again
        # (thousands of segments at a million appointments) and their files not checked again.
        if known is None or known.raw != raw:
            manifest = Manifest.from_bytes(raw, self.manifest_path)
            self._verify_sizes(manifest, known)
        else:
            manifest = known
        with self._mutex:
            self._manifest, self._manifest_stat = manifest, key
        return manifest

    def _verify_sizes(self, manifest: Manifest, known: Manifest | None = None) -> None:
        """A whole-store check of what this process has not seen yet: each segment file that
        `known` (already checked here, or written here) does not name exists with the size it
        was committed with. A process's first manifest is checked whole; a later one, only its
        new files (files never change once written: a write pays for what it adds to the store,
        not for its history). Contents are checked (CRC-32) when a segment is read."""
        seen = known.segments if known is not None else {}
        check_files(self.segments_dir, [ref for name, ref in manifest.segments.items() if seen.get(name) != ref])

    def snapshot(self) -> Snapshot:
        return Snapshot(self, self.manifest())

    def _load(self, name: str, ref: SegmentRef, reader: int) -> Segment:
        """The segment, parsed once: a thread that asks for a segment another is parsing waits
        for it (the app's threads often want the same week at once; two parses of a week of
        data set C hold twice its memory and the interpreter twice as long). A segment with a
        delta is its file's segment (cached as any) with the delta's documents laid over it."""
        state = ref.state
        with self._mutex:
            hit = self._cache.get(state)
            if hit is not None:
                self._cache.move_to_end(state)
                if self._read_once.get(state, reader) != reader:
                    del self._read_once[state]
                return hit[0]
            gate = self._loading.setdefault(state, threading.Lock())
        try:
            with gate:
                with self._mutex:
                    hit = self._cache.get(state)
                    if hit is not None:
                        return hit[0]
                    self._make_room(name, state, (ref.size if ref.delta is None else _laid_over(ref))
                                    * PARSED_PER_FILE_BYTE)
                if ref.delta is None:
                    seg = Segment(name, ref.file, SegmentDB(self.segments_dir / ref.file, ref.size, ref.crc))
                else:
                    under = self._load(name, SegmentRef(ref.file, ref.size, ref.crc), reader).storage
                    seg = Segment(name, state, SegmentDB(self.segments_dir / state, ref.delta.size, ref.delta.crc,
                                                         under=under))
                if self.short_lived:
                    gc.freeze()
                self._remember(seg, reader)
                return seg
        finally:
            with self._mutex:
                if self._loading.get(state) is gate:
                    del self._loading[state]

    def read_ahead(self, snap: Snapshot, names: list[str]) -> None:
        """Parse the segments `names` in order while the cache has room for each without letting
        anything go (each parse is its own step: other threads run between them)."""
        for name in names:
            ref = snap.manifest.segments.get(name)
            with self._mutex:
                if ref is None or ref.state in self._cache:
                    continue
                parsed = sum(part.size for part in ref.files()) * PARSED_PER_FILE_BYTE
                if self._cached_bytes + parsed > self.cache_bytes:
                    return
            self._load(name, ref, snap.reader)

    def _derived(self, key: tuple[str, tuple[str, ...]], build: Callable[[], T]) -> T:
        with self._mutex:
            if key in self._views:
                self._views.move_to_end(key)
                found: T = self._views[key]
                return found
        value = build()
        with self._mutex:
            if not all(file in self._cache for file in key[1]):
                return value  # the cache could not hold what it was made of: neither can the views
            self._views[key] = value
            while len(self._views) > DERIVED_KEPT:
                self._views.popitem(last=False)
        return value

    def _remember(self, seg: Segment, reader: int | None = None) -> None:
        """Cache `seg` (parsed for the snapshot `reader`; None: written here)."""
        size = segment_bytes(seg.storage.read(), seg.storage.delta)
        with self._mutex:
            assert seg.file is not None
            if seg.file in self._cache:
                return
            self._cache[seg.file] = (seg, size)
            self._cached_bytes += size
            if reader is not None:
                self._read_once[seg.file] = reader
            self._make_room(seg.name, seg.file)

    def _make_room(self, name: str, file: str, parsing: int = 0) -> None:
        """Keep the cache within budget with `parsing` bytes more (a parse about to start: what must
        go goes first, not once the parse holds its memory too). What one snapshot alone asked
        for goes first (weeks a filter passed through), not the week every listing reads."""
        newest = self._manifest.segments.get(name) if self._manifest is not None else None
        if newest is not None and newest.state == file:
            # Its older generations are read by no new snapshot: their memory goes now, not when
            # the budget pushes them out (a week cancelled in twice was held three times). The
            # file a delta lies over stays: the next delta lies over it too.
            for old in [old for old, (seg, _) in self._cache.items() if seg.name == name and old not in
                        (file, newest.file)]:
                self._forget(old)
        while self._cached_bytes + parsing > self.cache_bytes and len(self._cache) > (file in self._cache):
            once = (old for old in self._cache if old in self._read_once and old != file)
            self._forget(next(once, None) or next(old for old in self._cache if old != file))

    def _forget(self, file: str) -> None:
        """Drop a cached segment file and the views derived from it (they would keep its
        documents alive)."""
        _, size = self._cache.pop(file)
        self._cached_bytes -= size
        self._read_once.pop(file, None)
        for key in [key for key in self._views if file in key[1]]:
            del self._views[key]

    # -- writing -------------------------------------------------------------------------

    def _lock(self) -> FileLock:
        from filelock import FileLock

        if self._file_lock is None:
            ensure_private_dir(self.data_dir)
            ensure_private_dir(self.segments_dir)
            self._file_lock = FileLock(str(self.data_dir / LOCK), timeout=self.lock_timeout, mode=0o600,
                                       thread_local=False)
        return self._file_lock

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Hold the write lock, yield a fresh view to read and change, commit on success.
        An exception inside the block discards every change: nothing reaches the disk."""
        if getattr(self._writing, "active", False):
            raise RuntimeError("nested store transaction")
        from filelock import Timeout

        with self._write_mutex:
            lock = self._lock()
            try:
                lock.acquire()
            except Timeout:
                raise StoreError(f"the data dir {self.data_dir} is busy: another rxdesk process has held "
                                 f"the write lock for {self.lock_timeout:.0f} s") from None
            except PermissionError:
                raise StoreError(f"data dir {self.data_dir} is not writable (permission denied)") from None
            # The commit renames the manifest in the data dir: refuse a read-only one before any
            # segment is written, so a refused write leaves no file behind.
            if not os.access(self.data_dir, os.W_OK, effective_ids=os.access in os.supports_effective_ids):
                lock.release()
                raise StoreError(f"data dir {self.data_dir} is not writable (permission denied)")
            self._writing.active = True
            try:
                # Read, never taken from the cache: two commits within one tick of the file
                # system's clock can leave a manifest with the same size, time and (reused)
                # inode as the one cached, and a write built on the older one would drop the
                # other's commit.
                tx = Transaction(self, self.manifest(fresh=True))
                yield tx
                if tx.dirty:
                    self._commit(tx)
            finally:
                self._writing.active = False
                lock.release()

    def _commit(self, tx: Transaction) -> None:
        old = tx.manifest
        # What this write builds on may come from the cache, parsed before a file was damaged
        # under this process: its files are checked again, so nothing is written over damage.
        touched = tx._read.keys() | tx._dirty.keys() | tx._dropped
        check_files(self.segments_dir, [old.segments[name] for name in touched if name in old.segments])
        generation = old.generation + 1
        segments = dict(old.segments)
        now = time.time()
        graveyard = list(old.graveyard)
        fresh: list[Segment] = []
        for name, seg in tx._dirty.items():
            was = old.segments.get(name)
            delta = self._delta(seg, was)
            if was is not None and delta is not None:
                file = delta_file(name, generation)
                size, crc = seg.storage.write_generation(self.segments_dir / file, fsync=self.fsync, delta=delta)
                segments[name] = SegmentRef(was.file, was.size, was.crc, SegmentRef(file, size, crc))
                graveyard.extend((part.file, now) for part in was.files()[1:])
            else:
                file = segment_file(name, generation)
                size, crc = seg.storage.write_generation(self.segments_dir / file, fsync=self.fsync)
                segments[name] = SegmentRef(file, size, crc)
                graveyard.extend((part.file, now) for part in (was.files() if was is not None else ()))
            seg.file = file
            fresh.append(seg)
        for name in tx._dropped - set(tx._dirty):
            ref = segments.pop(name, None)
            if ref is not None:
                graveyard.extend((part.file, now) for part in ref.files())
        if self.fsync:
            fsync_dir(self.segments_dir)

        expired = [f for f, t in graveyard if now - t > GRACE_SECONDS]
        graveyard = [(f, t) for f, t in graveyard if now - t <= GRACE_SECONDS]
        counters = dict(old.counters)
        counters.update(tx._counters)
        carry_counted(counters, old, tx._dirty.keys() - tx._dropped, generation)
        manifest = Manifest(generation, segments, counters, tuple(graveyard))
        changed = tx._dirty.keys() | tx._dropped
        raw = manifest.to_bytes(self._encoded, old.segments, changed) if self.commits else manifest.to_bytes()
        if old.raw:
            with self._mutex:
                read_as = self._manifest_stat if old is self._manifest else None
            keep_previous(self.data_dir, old.raw, read_as, fsync=self.fsync)
        write_atomic(self.manifest_path, raw, fsync=self.fsync)  # the commit point
        st = os.stat(self.manifest_path)
        with self._mutex:
            self._manifest = Manifest(generation, segments, counters, tuple(graveyard), raw)
            self._manifest_stat = (st.st_ino, st.st_size, st.st_mtime_ns)
        self.commits += 1
        for seg in fresh:
            self._remember(seg)

        for file in expired:
            try:
                os.unlink(self.segments_dir / file)
            except FileNotFoundError:
                pass
        if generation % SWEEP_EVERY == 1:
            sweep(self.data_dir, manifest)

    def _delta(self, seg: Segment, was: SegmentRef | None) -> tuple[Tables, bytes] | None:
        """`seg`'s delta (`changed()`) and its file, encoded: None when a whole new file is due (a small or a new
        segment, a removal, changes grown past 1/DELTA_SHARE of the file: folded in; or a file
        that is not the one this process read: changed since, by hand or by damage, it is
        replaced from what was read and checked, never built on)."""
        if was is None or was.size < self.delta_from:
            return None
        if seg.storage.origin is None or seg.storage.origin != file_signature(self.segments_dir / was.file):
            return None
        changed = seg.storage.changed()
        if changed is None:
            return None
        data = encode(changed)
        return (changed, data) if len(data) * DELTA_SHARE <= was.size else None
