"""An index of the reminders an agent should know about: a small segment, `reminder-problems`.

Its tables map a key to the start of the appointment it is about and the row itself
(`{"starts", "row"}`), so that asking costs this segment alone:

- `skipped`: ReminderSent keys whose email or SMS was skipped (no address to send to);
- `failed`: ids of messages that failed after their last retry.

Each entry is written in the same commit as the row it indexes. Only appointments that have
not started matter, so an entry goes as soon as a later write sees its start pass: the segment
holds a few upcoming days of problems, never the history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tinydb import Query

from rxdesk.store.engine import Snapshot, writable

PROBLEMS = "reminder-problems"
SKIPPED = "skipped:"  # how a ReminderSent's email or SMS status starts when nothing could be sent


def note_problem(snap: Snapshot, table: str, key: str, starts: str | None, *, now: str,
                 row: Mapping[str, Any] | None = None) -> None:
    """Index `row` as `key` under its appointment's start `starts` (stored form), or drop it
    with None; entries whose appointment started by `now` are dropped at the same time."""
    entries = snap.table(PROBLEMS, table)
    stale = [str(doc.doc_id) for doc in entries.search(Query().starts <= now)]
    keep = starts is not None and starts > now
    current = entries.document(key)
    entry = {"starts": starts, "row": dict(row or {})}
    if not stale and (current == entry if keep else current is None):
        return  # nothing would change: the segment is not rewritten
    changed = writable(snap).change(PROBLEMS, table)
    changed.remove(doc_ids=stale)  # type: ignore[arg-type]
    if keep:
        changed.put(key, entry)
    else:
        changed.delete(key)


def problems(snap: Snapshot, table: str, after: str) -> list[Mapping[str, Any]]:
    """The rows indexed in `table` whose appointment starts after `after`, by start."""
    found = snap.table(PROBLEMS, table).search(Query().starts > after)
    return [doc["row"] for doc in sorted(found, key=lambda doc: (doc["starts"], str(doc.doc_id)))]
