"""A week segment's appointments and their order by start, kept as a document beside them.

Every appointment query is ordered by start then uid, and bisects a week by start. Sorting a
week costs more than reading it (25,000 appointments in a week of data set C), so the order is
stored in the segment, in the table `order`, as one document `by_start`:
`{"starts": [...], "uids": [...]}`, the week's starts and uids sorted together. It is written in
the same commit as the appointments it orders (`put_appointments`) and read through TinyDB.

A week written before the order was stored has none; one whose order does not count its
appointments was written by a version that did not keep it. Either is ordered in memory when
read, and stored with the week's next write.

How many of the week's appointments have each stored status are manifest counters
(`count.YYYY-MM-DD.STATUS`), and each doctor's are in a small side segment
(`week-counts-YYYY-MM-DD`), written in the same commit, with `counted.appt-YYYY-MM-DD`
(`engine`): a count of weeks the screen does not show parses none of them (`stored_counts`). A week without
them, or written since by a version that did not keep them, is counted from its documents, and
has them again from its next write of appointments.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, overload

from rxdesk.domain.enums import AppointmentStatus
from rxdesk.store.engine import Snapshot, Transaction
from rxdesk.store.layout import APPT_PREFIX, WEEK_COUNTS_PREFIX
from rxdesk.store.manifest import COMPACT_APPOINTMENTS, COUNTED
from rxdesk.store.segment_db import Segment

APPOINTMENTS = "appointments"
ORDER = "order"
BY_START = "by_start"
# Manifest counter `ends.YYYY-MM-DD`: the latest end of the week's appointments (layout).
ENDS = "ends."
# Manifest counters `count.YYYY-MM-DD.STATUS`: how many of the week's appointments have each.
COUNT = "count."
STATUSES = tuple(status.value for status in AppointmentStatus)
OTHER = "other"  # a stored status none of STATUSES (a damaged record)
KINDS = (*STATUSES, OTHER)
# The side segment `week-counts-YYYY-MM-DD`: the week's counts of each doctor (layout).
BY_DOCTOR = "by_doctor"


def _epoch(instant: Any) -> int:
    """Seconds since the epoch of a stored instant; 0 for one that is not (a damaged record:
    the week's latest end is then not known)."""
    try:
        return int(datetime.fromisoformat(instant).timestamp())
    except (TypeError, ValueError):
        return 0


def ended_by(snap: Snapshot, week: str, instant: datetime) -> bool:
    """True when every appointment of `week` ended at or before `instant`, known without
    reading the week (False when not known: a week an older version wrote last)."""
    latest = snap.counter(ENDS + week)
    return 0 < latest <= instant.timestamp()


def _note_ends(tx: Transaction, segment: str, docs: Sequence[Mapping[str, Any]],
               week_docs: Mapping[str, Mapping[str, Any]]) -> None:
    """Keep the week's latest end: a new later end raises it; a week that had none (written
    by an older version) takes it from every appointment it holds."""
    name = ENDS + segment[len(APPT_PREFIX):]
    known = tx.counter(name)
    ends = [_epoch(doc.get("ends_at")) for doc in (docs if known else week_docs.values())]
    latest = 0 if 0 in ends else max(known, *ends)
    if latest != known:
        tx.set_counter(name, latest)


def _count_name(week: str, status: str) -> str:
    """The manifest counter of how many of the week's appointments have `status`."""
    return f"{COUNT}{week}.{status}"


def stored_counts(snap: Snapshot, week: str, doctor_id: str | None = None) -> dict[str, int] | None:
    """How many of the week's appointments (of one doctor, with `doctor_id`) have each stored
    status (`other`: a damaged record's), from the manifest and the week's small side segment
    without reading the week; None when not known: a week an older version wrote last, or one
    this snapshot is changing."""
    generation = snap.file_generation(APPT_PREFIX + week)
    if generation is None or snap.counter(COUNTED + APPT_PREFIX + week) != generation:
        return None
    if doctor_id is None:
        return {status: snap.counter(_count_name(week, status)) for status in KINDS}
    side = snap.segment(WEEK_COUNTS_PREFIX + week)
    if side is None:
        return None
    found = side.table(BY_DOCTOR).documents().get(doctor_id, {})
    return {status: int(found.get(status, 0)) for status in KINDS}


def _kind(status: Any) -> str:
    return str(status) if status in STATUSES else OTHER


def _note_counts(tx: Transaction, segment: str, changes: Mapping[tuple[str, str], int],
                 week_docs: Mapping[str, Mapping[str, Any]]) -> None:
    """Keep the week's counts in step with a write: each (doctor, status) moves by its count
    in `changes`. Counts that are not of the week as it was before (an older version wrote it
    since, or none were kept) are counted again from the week's documents."""
    week = segment[len(APPT_PREFIX):]
    side = WEEK_COUNTS_PREFIX + week
    known = tx.counter(COUNTED + segment) in (tx.generation + 1, tx.file_generation(segment)) and tx.has(side)
    if known and not changes:  # no appointment changed doctor or status: the counts stand
        tx.set_counter(COUNTED + segment, tx.generation + 1)
        return
    by_doctor = tx.change(side, BY_DOCTOR)
    totals: dict[str, int] = {}
    if known:
        doctors: dict[str, dict[str, int]] = {}
        for (doctor, status), delta in changes.items():
            counts = doctors.get(doctor)
            if counts is None:
                counts = doctors[doctor] = dict(by_doctor.documents().get(doctor, {}))
            counts[status] = counts.get(status, 0) + delta
            totals[status] = totals.get(status, tx.counter(_count_name(week, status))) + delta
    else:
        doctors = {}
        totals = dict.fromkeys(KINDS, 0)
        for doc in week_docs.values():
            status = _kind(doc.get("status"))
            counts = doctors.setdefault(str(doc.get("doctor_id")), {})
            counts[status] = counts.get(status, 0) + 1
            totals[status] += 1
        by_doctor.truncate()
    for doctor, counts in doctors.items():
        kept = {status: count for status, count in counts.items() if count}
        if kept:
            by_doctor.put(doctor, kept)
        else:
            by_doctor.delete(doctor)
    for status, count in totals.items():
        name = _count_name(week, status)
        if count != tx.counter(name):
            tx.set_counter(name, count)
    tx.set_counter(COUNTED + segment, tx.generation + 1)


def _sorted(appointments: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    pairs = sorted((doc["starts_at"], uid) for uid, doc in appointments.items())
    return [start for start, _ in pairs], [uid for _, uid in pairs]


def _stored(seg: Segment) -> tuple[list[str], list[str]] | None:
    """The order stored in the week, when it orders every appointment of it. Appointments are
    never removed from a week, so one a version without the order added leaves it short."""
    doc = seg.table(ORDER).documents().get(BY_START)  # read in place: its lists are never changed
    if not isinstance(doc, dict):
        return None
    starts, uids = doc.get("starts"), doc.get("uids")
    if not isinstance(starts, list) or not isinstance(uids, list) or len(starts) != len(uids) \
            or len(uids) != len(seg.table(APPOINTMENTS).documents()):
        return None
    return starts, uids


def order_by_start(seg: Segment) -> tuple[list[str], list[str]]:
    """(starts, uids) of the week's appointments, sorted by start then uid (read-only lists)."""

    def build() -> tuple[list[str], list[str]]:
        stored = _stored(seg)
        return stored if stored is not None else _sorted(seg.table(APPOINTMENTS).documents())

    return seg.memo(ORDER, build)


class Rows(Sequence[dict[str, Any]]):
    """Appointment documents in the order of `uids`, each looked up when it is read (read-only).
    A week's listing reads a page of it and a count the rows before now: after a write to the
    week, a list of all its documents (6,700 at data set C) would be made again for them."""

    __slots__ = ("_docs", "_uids")

    def __init__(self, docs: Mapping[str, dict[str, Any]], uids: list[str]) -> None:
        self._docs, self._uids = docs, uids

    def __len__(self) -> int:
        return len(self._uids)

    @overload
    def __getitem__(self, at: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, at: slice) -> Rows: ...
    def __getitem__(self, at: int | slice) -> dict[str, Any] | Rows:
        if isinstance(at, slice):
            return Rows(self._docs, self._uids[at])
        return self._docs[self._uids[at]]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return map(self._docs.__getitem__, self._uids)


def rows_by_start(seg: Segment) -> Rows:
    """The week's appointment documents in start order, as parsed (read-only)."""
    return Rows(seg.table(APPOINTMENTS).documents(), order_by_start(seg)[1])


def stored_appointment(doc: Mapping[str, Any]) -> dict[str, Any]:
    """An appointment's document as a week stores it: its JSON form without the fields that
    are null. Most are, until the appointment is cancelled or attended (9 of 19 for a booked
    one): left out, a week is 40% smaller on disk and parses in half the time. Readers take
    a field that is not there as null (`queries.AppointmentRecord`, `appointment_from_json`),
    as they always took the fields documents stored before them lack."""
    return {key: value for key, value in doc.items() if value is not None}


def put_appointments(tx: Transaction, segment: str, docs: Sequence[Mapping[str, Any]]) -> None:
    """Store appointment documents of the week `segment` (`stored_appointment`) and keep its
    order in step. An appointment whose start is unchanged leaves the order as it is (a cancel,
    a completion); a new one is placed in it; many at once (the bulk loader) order the week
    again."""
    docs = [stored_appointment(doc) for doc in docs]
    if not tx.counter(COMPACT_APPOINTMENTS):  # from now on, versions that would misprint it refuse it
        tx.set_counter(COMPACT_APPOINTMENTS, 1)
    table = tx.change(segment, APPOINTMENTS)
    seg = tx.segment(segment)
    assert seg is not None
    stored = _stored(seg)
    before = table.documents()
    moved: dict[str, str | None] = {}  # uid -> where it started before (None: a new one)
    counted: dict[tuple[str, str], int] = {}  # (doctor, stored status) -> how many more or fewer
    was: dict[str, tuple[str, str]] = {}  # uid -> (doctor, status) before this write or its last doc
    for doc in docs:
        uid = doc["uid"]
        old = before.get(uid)
        if old is None or old["starts_at"] != doc["starts_at"]:
            moved[uid] = None if old is None else old["starts_at"]
        previous = was.get(uid, None if old is None else (str(old.get("doctor_id")), _kind(old.get("status"))))
        after = (str(doc["doctor_id"]), _kind(doc["status"]))
        if previous != after:
            if previous is not None:
                counted[previous] = counted.get(previous, 0) - 1
            counted[after] = counted.get(after, 0) + 1
        was[uid] = after
    starts, uids = stored if stored is not None else order_by_start(seg)
    if len(docs) == 1:
        table.put(docs[0]["uid"], docs[0])
    else:
        table.put_many((doc["uid"], doc) for doc in docs)
    if docs:
        _note_ends(tx, segment, docs, table.documents())
        _note_counts(tx, segment, counted, table.documents())
    if stored is not None and not moved:
        return
    if len(moved) > 16:
        starts, uids = _sorted(table.documents())
    else:
        starts, uids = list(starts), list(uids)
        for doc in docs:
            if doc["uid"] not in moved:
                continue
            old_start = moved[doc["uid"]]
            if old_start is not None:  # the same uid at another start: out of its old place first
                at = _place(starts, uids, old_start, doc["uid"])
                del starts[at], uids[at]
            at = _place(starts, uids, doc["starts_at"], doc["uid"])
            starts.insert(at, doc["starts_at"])
            uids.insert(at, doc["uid"])
    tx.change(segment, ORDER).put(BY_START, {"starts": starts, "uids": uids})


def _place(starts: list[str], uids: list[str], start: str, uid: str) -> int:
    """Where (start, uid) goes in the sorted pairs."""
    lo, hi = bisect.bisect_left(starts, start), bisect.bisect_right(starts, start)
    return lo + bisect.bisect_left(uids[lo:hi], uid)
