"""The one append-only log of the segment store: events, audit, deliveries and messages.

A log is a table split into numbered segments (`<name>-NNNNNN`) of a fixed number of rows.
Each row's sequence number comes from the manifest counter `<name>`, and its key carries that
number, so the segment that holds a row follows from the key and appending rewrites only the
last, small segment. Keys sort in sequence order.

Two options cover what the logs need beyond that:

- a row may live in another segment than its numbered one (`put(..., segment=...)`): audit
  entries about an appointment are kept in its week, beside it, numbered by the same counter;
- a queued log keeps the rows still waiting to be sent in the `queues` segment (key -> next
  attempt and lease), so the worker finds them without reading the log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tinydb import Query

from rxdesk.domain.ids import random_token
from rxdesk.store.engine import Snapshot, writable
from rxdesk.store.layout import (
    AUDIT,
    AUDIT_PER_SEGMENT,
    DELIVERIES,
    EVENTS,
    EVENTS_PER_SEGMENT,
    MESSAGES,
    QUEUED_PER_SEGMENT,
    QUEUES,
)
from rxdesk.store.segment_db import SegmentTable


def _numbered(prefix: str) -> tuple[Callable[[int], str], Callable[[str], int | None]]:
    """Keys `<prefix><12 digits>`: the sequence number is the key."""

    def key_of(seq: int) -> str:
        return f"{prefix}{seq:012d}"

    def seq_of(key: str) -> int | None:
        if not isinstance(key, str) or not key.startswith(prefix):
            return None
        digits = key[len(prefix):]
        return int(digits) if len(digits) == 12 and digits.isdigit() else None

    return key_of, seq_of


def _event_key(seq: int) -> str:
    # The sequence number first (it locates the segment), then a random tail so that ids
    # from two data dirs never collide at a receiver.
    return f"evt_{seq:012d}{random_token(6)}"


def _event_seq(key: str) -> int | None:
    if not isinstance(key, str) or not key.startswith("evt_") or not key[4:16].isdigit():
        return None
    return int(key[4:16])


@dataclass(frozen=True)
class LogKind:
    name: str  # the table, the manifest counter and (queued) the queue table
    per_segment: int
    key_of: Callable[[int], str]
    seq_of: Callable[[str], int | None]  # None: not a key of this log
    queued: bool = False

    @property
    def prefix(self) -> str:
        return f"{self.name}-"

    def segment_of(self, seq: int) -> str:
        return f"{self.prefix}{seq // self.per_segment:06d}"


EVENT_LOG = LogKind(EVENTS, EVENTS_PER_SEGMENT, _event_key, _event_seq)
AUDIT_LOG = LogKind(AUDIT, AUDIT_PER_SEGMENT, *_numbered(""))
DELIVERY_LOG = LogKind(DELIVERIES, QUEUED_PER_SEGMENT, *_numbered("dlv_"), queued=True)
MESSAGE_LOG = LogKind(MESSAGES, QUEUED_PER_SEGMENT, *_numbered("msg_"), queued=True)


class AppendOnlyLog:
    """One log over a snapshot (read) or a transaction (write); documents in, documents out."""

    def __init__(self, snap: Snapshot, kind: LogKind) -> None:
        self._snap = snap
        self.kind = kind

    def last_seq(self) -> int:
        return self._snap.counter(self.kind.name)

    def new_key(self) -> tuple[int, str]:
        """Take the next sequence number; returns it and the row's key."""
        seq = writable(self._snap).next_seq(self.kind.name)
        return seq, self.kind.key_of(seq)

    def segment_of(self, key: str) -> str | None:
        seq = self.kind.seq_of(key)
        return self.kind.segment_of(seq) if seq is not None else None

    def put(self, key: str, doc: dict[str, Any], *, segment: str | None = None) -> None:
        """Store (or replace) the row `key`; in `segment` instead of its numbered one if given."""
        home = segment or self.segment_of(key)
        if home is None:
            raise ValueError(f"not a key of the {self.kind.name} log: {key!r}")
        writable(self._snap).change(home, self.kind.name).put(key, doc)

    def put_many(self, rows: Sequence[tuple[str, dict[str, Any], str | None]]) -> None:
        """`put` of many rows (key, document, segment or None), one change per segment."""
        homes: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for key, doc, segment in rows:
            home = segment or self.segment_of(key)
            if home is None:
                raise ValueError(f"not a key of the {self.kind.name} log: {key!r}")
            homes.setdefault(home, []).append((key, doc))
        tx = writable(self._snap)
        for home, docs in homes.items():
            tx.change(home, self.kind.name).put_many(docs)

    def get(self, key: str) -> Mapping[str, Any] | None:
        segment = self.segment_of(key)
        if segment is None:
            return None
        return self._snap.table(segment, self.kind.name).document(key)

    def newest(self) -> Iterator[Mapping[str, Any]]:
        """Rows of the numbered segments, newest first, one segment at a time."""
        for name in reversed(self._snap.names(self.kind.prefix)):
            table = self._snap.table(name, self.kind.name).documents()
            for key in sorted(table, reverse=True):
                yield table[key]

    def after(self, seq: int) -> Iterator[tuple[int, Mapping[str, Any]]]:
        """(sequence number, row) above `seq`, oldest first."""
        if seq >= self.last_seq():
            return
        first_segment = self.kind.segment_of(seq + 1)
        for name in self._snap.names(self.kind.prefix):
            if name < first_segment:
                continue
            table = self._snap.table(name, self.kind.name).documents()
            for key in sorted(table):
                row_seq = self.kind.seq_of(key)
                if row_seq is not None and row_seq > seq:
                    yield row_seq, table[key]

    def warm(self) -> None:
        """Read the segment the next row goes to, so the first append does not parse it."""
        self._snap.segment(self.kind.segment_of(self.last_seq() + 1))

    # -- the queue of a queued log ---------------------------------------------------------

    def _queue(self) -> SegmentTable:
        assert self.kind.queued, f"the {self.kind.name} log has no queue"
        return self._snap.table(QUEUES, self.kind.name)

    def enqueue(self, key: str, *, at: str, lease: str, **kept: Any) -> None:
        """Keep `key` waiting: its next attempt at `at`, leased until `lease` ("" for none),
        with whatever else the queue should answer without reading the log (`kept`)."""
        self._queue()
        writable(self._snap).change(QUEUES, self.kind.name).put(key, {"at": at, "lease": lease, **kept})

    def queue(self) -> Mapping[str, Mapping[str, Any]]:
        """The waiting rows: key -> what `enqueue` kept (read-only)."""
        return self._queue().documents()

    def dequeue(self, key: str) -> None:
        if self._queue().has(key):
            writable(self._snap).change(QUEUES, self.kind.name).delete(key)

    def queued(self) -> int:
        return len(self._queue())

    def due(self, now: str, limit: int | None = None) -> list[str]:
        """Keys whose next attempt is at or before `now` and that no runner holds a lease on,
        the longest waiting first."""
        waiting = Query()
        found = self._queue().search((waiting.at <= now) & ((waiting.lease == "") | (waiting.lease <= now)))
        ready = sorted((doc["at"], str(doc.doc_id)) for doc in found)
        return [key for _, key in ready[:limit]]
