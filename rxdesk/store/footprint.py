"""What a parsed segment holds in memory, estimated from a few of its values.

The engine's cache is budgeted in bytes held, not bytes on disk: a week of appointments holds
about three times its file, the patients' names index five times (two lists of short strings),
a small segment of many dictionaries six. Measuring every object of a parsed week (tens of
thousands of documents) would cost as much as parsing it; the documents of a table are alike,
so a few of each container are measured and the rest counted as their like.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Mapping
from typing import Any

# A container of up to this many values is measured whole (a document's fields differ); a larger
# one (a table's documents, a list of names) from its first values, the rest counted as their mean.
WHOLE = 64
SAMPLED = 8
# Values every document shares (one object each in the interpreter).
_SHARED = (type(None), bool)


def segment_bytes(tables: Mapping[str, Mapping[str, Any]], delta: Mapping[str, Mapping[str, Any]] | None) -> int:
    """What a segment holds of its own: all its `tables` when one file holds it; when a `delta`
    lies over another segment's file, the delta's documents and the tables it copied to lie over
    it (their other documents are that segment's, counted with it)."""
    if not delta:
        return parsed_bytes(tables)
    copied = sum(sys.getsizeof(tables[name]) for name in delta if name in tables)
    return sys.getsizeof(tables) + copied + parsed_bytes(delta)


def parsed_bytes(tables: Mapping[str, Mapping[str, Any]]) -> int:
    """The memory held by a parsed segment (`{table: {doc_id: document}}`), estimated."""
    total = sys.getsizeof(tables)
    for table in tables.values():
        # A table's keys are its documents' ids, a string each; a document's keys are shared.
        total += sys.getsizeof(table) + _sampled(table.values(), len(table), table.keys())
    return total


def _size(value: Any) -> int:
    kind = type(value)
    if kind in _SHARED or (kind is str and len(value) <= 1):  # the empty string too, and one letter
        return 0
    if kind is dict:
        return sys.getsizeof(value) + _sampled(value.values(), len(value))
    if kind is list:
        return sys.getsizeof(value) + _sampled(value, len(value))
    return sys.getsizeof(value)


def _sampled(values: Any, count: int, keys: Any = None) -> int:
    """The size of `count` values (and of their keys, when given) from the first few."""
    if count == 0:
        return 0
    taken = list(itertools.islice(values, count if count <= WHOLE else SAMPLED))
    total = sum(map(_size, taken))
    if keys is not None:
        total += sum(map(sys.getsizeof, itertools.islice(keys, len(taken))))
    return total * count // len(taken)
