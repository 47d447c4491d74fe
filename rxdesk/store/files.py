"""Segment files: their checksum and JSON encoding; `open_segment` opens one with TinyDB.

Writing them durably and privately is `rxdesk.fileio`'s job.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from rxdesk.domain.errors import StoreError

if TYPE_CHECKING:
    # Only `open_segment` opens a segment as a TinyDB database: the store itself never
    # imports TinyDB.
    from tinydb import TinyDB


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


def open_segment(path: str | Path) -> TinyDB:
    """Open a segment file read-only as a TinyDB database (for inspection and tests)."""
    from rxdesk.store.segment_db import open_segment_db

    return open_segment_db(path)
