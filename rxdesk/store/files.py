"""Segment files: their checksum and JSON encoding, and the TinyDB storage that opens one.

Writing them durably and privately is `rxdesk.fileio`'s job.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from rxdesk.domain.errors import StoreError
from rxdesk.fileio import read_bytes, write_atomic


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
