"""Each segment is a TinyDB database: the storage of its immutable generations, the table keyed
by natural ids, and the one JSON codec of the data dir.

TinyDB is the document layer. A repository reads a document with `table.get(doc_id=key)`,
filters a table with `table.search(Query()...)`, and changes it with TinyDB's `insert`,
`upsert`, `update` and `remove`. What TinyDB has no notion of stays in `engine`: several
segments committed at once through the manifest, the write lock, the cache of parsed
generations, the graveyard.

A `SegmentStorage` is one of two things:

- a committed generation: one file, read once, checked against the size and CRC-32 the
  manifest recorded, parsed with orjson. Files never change, so the engine keeps the parsed
  database (and whatever is derived from it) by file name; writing to it is refused;
- a unit of work's staged copy of a segment: it starts from the committed tables (shared,
  not copied) and copies a table the first time it changes; nothing reaches the disk until the
  engine commits it (`write_generation`: a new file, durably, never over an old one).

Segment files are ordinary TinyDB documents (`{table: {doc_id: document}}`): `open_segment`
opens any of them read-only for inspection.
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any, TypeVar

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document, Table
from tinydb.utils import LRUCache

from rxdesk.domain.errors import StoreError
from rxdesk.fileio import read_bytes, write_atomic

Tables = dict[str, dict[str, Any]]
T = TypeVar("T")
_EMPTY: Mapping[str, Any] = {}


def checksum(data: bytes) -> int:
    return zlib.crc32(data)


def encode(data: Any) -> bytes:
    """The JSON of a segment, the manifest or a note beside it."""
    return orjson.dumps(data)


def fragment_of(encoded: bytes) -> Any:
    """JSON encoded already (by `encode`), placed as it is wherever a later `encode` meets it."""
    return orjson.Fragment(encoded)


def decode(data: bytes, path: Path) -> Any:
    """The value of the JSON file `path` read as `data`; a file that is not JSON is damage,
    reported by name."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise StoreError(
            f"data file {path} is corrupt ({'empty' if not data else 'not valid JSON'}: {exc.msg}); "
            "it was left as it is"
        ) from None


def file_signature(path: Path) -> tuple[int, int, int] | None:
    """What tells one file from another at `path` (inode, size, modification time): a file the
    store wrote never changes, so a different signature is a file changed or put there since."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def json_text(value: Any) -> str:
    """A stored value as text, whatever it was stored as: a string itself, anything else its
    JSON as PostgreSQL's `->>` gives it (stdlib json's separators are PostgreSQL's)."""
    return value if type(value) is str else json.dumps(value)


class SegmentStorage(Storage):
    """The TinyDB storage of one segment: a committed generation read from `source` (a path,
    checked against `size` and `crc` when the manifest gives them), or a unit of work's staged
    copy of `source` (a storage; None for a segment the unit of work creates)."""

    def __init__(self, source: Path | SegmentStorage | None = None, size: int | None = None,
                 crc: int | None = None, *, under: SegmentStorage | None = None) -> None:
        """With `under`, `source` is a delta file: the documents it holds laid over `under`'s."""
        self.staged = not isinstance(source, Path)
        self.revision = 0  # moves with every change of a staged copy: what is derived from it is stale
        self._owned: dict[str, set[str]] = {}  # table -> ids of the documents this copy made or copied
        # The documents changed since the segment's file was written, by table (its delta file:
        # `engine`); None for a segment no file holds yet, where a delta has nothing to lie over.
        self.delta: Tables | None = {}
        self.whole = False  # a document was removed or a table replaced: only a new file says that
        # The signature of the segment's file as its tables were read from it (or written): a
        # delta lies over that file only while it is still the file there.
        self.origin: tuple[int, int, int] | None = None
        if isinstance(source, Path):
            self.size, self._tables = self._parse(source, size, crc)
            if under is not None:
                self.delta, self._tables = self._tables, dict(under._tables)
                for table, docs in self.delta.items():
                    self._tables[table] = {**under._tables.get(table, _EMPTY), **docs}
                self.origin = under.origin
            else:
                self.origin = file_signature(source)
        else:
            self.size = 0
            self._tables = dict(source._tables) if source is not None else {}
            self.delta = source.delta if source is not None else None
            self.origin = source.origin if source is not None else None

    @staticmethod
    def _parse(path: Path, size: int | None, crc: int | None) -> tuple[int, Tables]:
        try:
            raw = read_bytes(path)
        except FileNotFoundError:
            raise StoreError(f"data file {path} disappeared while reading (a concurrent write?); try again") from None
        if (size is not None and len(raw) != size) or (crc is not None and checksum(raw) != crc):
            raise StoreError(f"data file {path} is corrupt (its checksum does not match the manifest); "
                             "it was left as it is")
        tables = decode(raw, path)
        if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
            raise StoreError(f"data file {path} is not a TinyDB document; it was left as it is")
        return len(raw), tables

    def read(self) -> Tables:
        return self._tables

    def write(self, data: Tables) -> None:
        """TinyDB's own write path (whole tables replaced): accepted on a staged copy only."""
        if not self.staged:
            raise RuntimeError("a committed segment never changes; change it inside Store.write()")
        if data is not self._tables:
            self._tables, self._owned, self.whole = data, {}, True
        self.revision += 1

    def own(self, table: str) -> MutableMapping[str, Any]:
        """The table `table` of this staged copy, to change in place. The table is copied on
        its first change and each document the first time a change reaches it, so readers of
        the committed generation never see one."""
        if not self.staged:
            raise RuntimeError("a committed segment never changes; change it inside Store.write()")
        owned = self._owned.get(table)
        if owned is None:
            self._tables[table] = dict(self._tables.get(table, _EMPTY))
            owned = self._owned[table] = set()
        self.revision += 1
        return _OwnedTable(self._tables[table], owned, self)

    def changed(self) -> Tables | None:
        """What a delta file of this staged copy holds: every document changed since the
        segment's file was written (the committed delta's and this copy's), by table; None
        when only a whole new file can say what changed (a new segment, a removal)."""
        if self.delta is None or self.whole:
            return None
        changed = {table: dict(docs) for table, docs in self.delta.items()}
        for table, ids in self._owned.items():
            docs, into = self._tables[table], changed.setdefault(table, {})
            for key in ids:
                into[key] = docs[key]
        return changed

    def write_generation(self, path: Path, *, fsync: bool,
                         delta: tuple[Tables, bytes] | None = None) -> tuple[int, int]:
        """Write this staged copy as the new file `path` (atomically; durably unless `fsync` is
        False), or only its `delta` (`changed()`, and its encoding), and freeze it as that
        committed generation; returns the size and CRC-32 of what was written."""
        data = encode(self._tables) if delta is None else delta[1]
        write_atomic(path, data, sync_dir=False, fsync=fsync)
        if delta is None:
            self.origin = file_signature(path)
        self.delta = {} if delta is None else delta[0]
        self.staged, self.size, self._owned, self.whole = False, len(data), {}, False
        return len(data), checksum(data)


class _OwnedTable(MutableMapping[str, Any]):
    """A staged table as TinyDB's write operations see it: a document is copied the first
    time one reaches it (`update` changes documents in place; committed ones are shared)."""

    __slots__ = ("_docs", "_owned", "_storage")

    def __init__(self, docs: dict[str, Any], owned: set[str], storage: SegmentStorage) -> None:
        self._docs = docs
        self._owned = owned
        self._storage = storage

    def __getitem__(self, key: str) -> Any:
        doc = self._docs[key]
        if key not in self._owned:
            doc = self._docs[key] = dict(doc)
            self._owned.add(key)
        return doc

    def __setitem__(self, key: str, doc: Any) -> None:
        self._docs[key] = doc
        self._owned.add(key)

    def __delitem__(self, key: str) -> None:
        del self._docs[key]
        self._owned.discard(key)
        self._storage.whole = True

    def __contains__(self, key: object) -> bool:
        return key in self._docs

    def __iter__(self) -> Iterator[str]:
        return iter(self._docs)

    def __len__(self) -> int:
        return len(self._docs)

    def clear(self) -> None:
        self._docs.clear()
        self._owned.clear()
        self._storage.whole = True


class _SharedQueryCache(LRUCache):  # type: ignore[type-arg]
    """TinyDB's query cache, safe to share between threads: a committed segment is read by
    every thread of the app at once, and an LRU step is several operations."""

    def __init__(self, capacity: int | None = None) -> None:
        super().__init__(capacity)
        self._lock = threading.Lock()

    def get(self, key: Any, default: Any = None) -> Any:
        with self._lock:
            return super().get(key, default)

    def set(self, key: Any, value: Any) -> None:
        with self._lock:
            super().set(key, value)

    def clear(self) -> None:
        if not self.cache:  # every write clears it: most find nothing cached
            return
        with self._lock:
            super().clear()


class SegmentTable(Table):
    """A TinyDB table keyed by natural ids (a uid, a key_id, a sequence number), not TinyDB's
    counter. Repositories filter with TinyDB's `search(Query()...)`; the doors below type
    TinyDB's id-based calls for string ids and replace a document whole."""

    document_id_class = str  # type: ignore[assignment]
    query_cache_class = _SharedQueryCache

    def _update_table(self, updater: Callable[[MutableMapping[str, Any]], None]) -> None:  # type: ignore[override]
        # TinyDB's own copies the whole table twice per write (to convert ids, which are strings
        # here already): for a week of 25,000 appointments that is milliseconds per row written.
        # The staged copy hands out its own copy of the table instead, changed in place. The one
        # use of a TinyDB internal: tests/unit/test_segment_db.py fails if an upgrade moves it.
        storage = self.storage
        assert isinstance(storage, SegmentStorage)
        updater(storage.own(self.name))
        self.clear_cache()

    def document(self, key: str) -> Document | None:
        """The document `key` (a copy: what a caller changes never reaches the store)."""
        return self.get(doc_id=key)  # type: ignore[call-overload, no-any-return]

    def has(self, key: str) -> bool:
        return key in self.documents()

    def __contains__(self, key: object) -> bool:
        # `key in table` asks for an id (TinyDB's Table would compare it with every document).
        return key in self.documents()

    def put(self, key: str, doc: Mapping[str, Any]) -> None:
        """Store `doc` as the document `key`, whole: an upsert would merge it into the old one."""
        if self.has(key):
            self.update(lambda old: _replace(old, doc), doc_ids=[key])  # type: ignore[list-item]
        else:
            self.insert(Document(doc, key))  # type: ignore[arg-type]

    def put_many(self, docs: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        """`put` of many documents, in one change of the table."""
        items = [(key, dict(doc)) for key, doc in docs]  # copied, as TinyDB's insert does
        if items:  # set in place, not removed and inserted: a removal needs a whole new file
            self._update_table(lambda table: table.update(items))

    def delete(self, key: str) -> None:
        if self.has(key):
            self.remove(doc_ids=[key])  # type: ignore[list-item]

    def documents(self) -> Mapping[str, Any]:
        """Every document by key, as parsed and never copied (read-only): for the views the
        store derives from a whole table once per segment (rows by start, names by id)."""
        return self.storage.read().get(self.name, _EMPTY)  # type: ignore[union-attr]


def _replace(old: MutableMapping[str, Any], new: Mapping[str, Any]) -> None:
    old.clear()
    old.update(new)


class SegmentDB(TinyDB):
    """One segment as a TinyDB database."""

    table_class = SegmentTable
    default_storage_class = SegmentStorage  # type: ignore[assignment]

    def table(self, name: str, **kwargs: Any) -> SegmentTable:
        found = super().table(name, **kwargs)
        assert isinstance(found, SegmentTable)
        return found

    @property
    def segment_storage(self) -> SegmentStorage:
        storage = self.storage
        assert isinstance(storage, SegmentStorage)
        return storage


def open_segment(path: str | Path, delta: str | Path | None = None) -> SegmentDB:
    """Open a segment file read-only as a TinyDB database (for inspection and tests); with
    `delta`, the segment as the manifest names it: the delta file's documents laid over it."""
    if delta is None:
        return SegmentDB(Path(path), storage=SegmentStorage)
    return SegmentDB(Path(delta), storage=SegmentStorage, under=SegmentStorage(Path(path)))


class Segment:
    """One segment at one generation: its TinyDB database, and views derived from its tables,
    memoised (a committed generation never changes; a staged one drops them as it changes)."""

    __slots__ = ("_memo", "_revision", "_tables", "db", "file", "name", "storage")

    def __init__(self, name: str, file: str | None, db: SegmentDB) -> None:
        self.name = name
        self.file = file
        self.db = db
        self.storage: SegmentStorage = db.segment_storage
        self._tables: dict[str, SegmentTable] = {}
        self._memo: dict[Hashable, Any] = {}
        self._revision = self.storage.revision

    def table(self, name: str) -> SegmentTable:
        # Asked several times per row written: kept here, one lookup, rather than asked of TinyDB.
        table = self._tables.get(name)
        if table is None:
            table = self._tables[name] = self.db.table(name)
        return table

    def memoized(self, key: Hashable) -> Any:
        """What `memo` computed for `key` in the segment's present state, or None."""
        return self._memo.get(key) if self._revision == self.storage.revision else None

    def memo(self, key: Hashable, build: Callable[[], T]) -> T:
        """`build()`, computed once per state of the segment."""
        if self._revision != self.storage.revision:
            self._memo.clear()
            self._revision = self.storage.revision
        try:
            value: T = self._memo[key]
        except KeyError:
            value = self._memo[key] = build()
        return value
