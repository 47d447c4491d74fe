"""A segment file opened as a TinyDB database, for inspection and tests (`files.open_segment`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from rxdesk.domain.errors import StoreError
from rxdesk.fileio import read_bytes, write_atomic
from rxdesk.store.files import dumps, loads


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


def open_segment_db(path: str | Path) -> TinyDB:
    db = TinyDB(path, storage=SegmentStorage, access_mode="r")
    db.table_class = KeyedTable
    return db
