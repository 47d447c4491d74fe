"""The TinyDB implementation of the repository Protocols, on top of the segment engine.

Where things live (segment names; each is one TinyDB document of tables):

    core               org, admins, appointment_types, doctors, booking_secrets, subscriptions
    patients           patients
    appt-YYYY-MM-DD    one week (from that Monday, UTC) of appointments by start, and what
                       belongs to them:
                       reminders_sent, audit (entries whose target is the appointment), links
                       (rebook successors)
    events-NNNNNN      the event outbox, EVENTS_PER_SEGMENT events a segment, oldest first
    audit-NNNNNN       audit entries about anything but an appointment

So an agent's cancel rewrites one week of appointments and the tail of the event log, never
the history, and the default overview opens only the weeks from now on.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

from rxdesk.domain.clock import Clock
from rxdesk.domain.errors import NotFound, StoreError
from rxdesk.domain.ids import random_token, uid_partition
from rxdesk.domain.lifecycle import status_at
from rxdesk.domain.models import (
    Admin,
    Appointment,
    AppointmentStatus,
    AppointmentType,
    AuditEntry,
    BookingSecret,
    Doctor,
    Entity,
    Event,
    EventType,
    Org,
    Patient,
    ReminderSent,
    Subscription,
    reminder_key,
)
from rxdesk.domain.queries import AppointmentQuery, Page, WorkerTick
from rxdesk.domain.times import format_utc, week_key, weeks_between
from rxdesk.store.deliveries import DeliveryRepo, MessageRepo
from rxdesk.store.engine import Engine, Snapshot, Transaction
from rxdesk.store.files import dumps, ensure_private_dir, loads, read_bytes, write_atomic
from rxdesk.store.problems import SKIPPED, note_problem, problems

M = TypeVar("M", bound=Entity)

CORE = "core"
PATIENTS = "patients"
# id -> name for every patient, kept beside the full records: listing a page of appointments
# needs the names, and this file is a fraction of the size of the records it summarises.
PATIENT_NAMES = "patient-names"
# uid -> hold_expires_at for every held appointment: the worker finds holds to expire here
# instead of reading weeks of appointments on every tick.
HOLDS = "holds"
APPT_PREFIX = "appt-"
EVENTS_PREFIX = "events-"
AUDIT_PREFIX = "audit-"
# Small enough that appending an event (every change writes one) rewrites ~300 KB, not MBs.
EVENTS_PER_SEGMENT = 500
AUDIT_PER_SEGMENT = 5000
# Holds never outlive this look-back: the worker scans weeks from now minus it for holds.
HOLD_LOOKBACK = timedelta(days=62)
# An appointment lasts at most 720 minutes (AppointmentType.duration_minutes): one that ends
# in a range started at most this long before it.
LONGEST_APPOINTMENT = timedelta(days=1)
# The newest maintenance tick, beside the manifest (`TinyStore.record_tick`).
LAST_TICK = "last-tick.json"
# Manifest counter: every stored-confirmed appointment ending at or before this instant (epoch
# seconds) has been written down as completed.
COMPLETED_UNTIL = "appointments.completed_until"


def _one_week(query: AppointmentQuery, week: str) -> AppointmentQuery:
    """The query narrowed to one week (for counting week by week)."""
    monday = datetime.fromisoformat(week).replace(tzinfo=UTC)
    start = max(query.starts_from, monday) if query.starts_from else monday
    before = monday + timedelta(days=7)
    before = min(query.starts_before, before) if query.starts_before else before
    return dataclasses.replace(query, starts_from=start, starts_before=before, offset=0, limit=None)


def appt_segment(week: str) -> str:
    return f"{APPT_PREFIX}{week}"


_APPT_TIMES = ("starts_at", "ends_at", "created_at", "hold_expires_at", "confirmed_at", "cancelled_at",
               "attendance_at")
_STATUS = {s.value: s for s in AppointmentStatus}


def appointment_from_store(doc: Mapping[str, Any]) -> Appointment:
    """Build an Appointment from a stored document without re-validating it.

    Stored documents were validated when written and are checksummed on disk, so listing
    thousands of rows skips pydantic's validation (about 4x faster).
    """
    data = dict(doc)
    for key in _APPT_TIMES:
        value = data.get(key)  # documents stored before a field existed lack it
        if value is not None:
            data[key] = datetime.fromisoformat(value)
    data["status"] = _STATUS[data["status"]]
    return Appointment.model_construct(**data)


def _writable(snap: Snapshot) -> Transaction:
    if not isinstance(snap, Transaction):
        raise RuntimeError("this view is read-only; change data inside Store.write()")
    return snap


class Keyed(Generic[M]):
    """A table of entities keyed by a natural id, in one segment."""

    def __init__(
        self, snap: Snapshot, segment: str, table: str, model: type[M], key: str, what: str
    ) -> None:
        self._snap = snap
        self._segment = segment
        self._table = table
        self._model = model
        self._key = key
        self._what = what

    def raw(self) -> Mapping[str, dict[str, Any]]:
        return self._snap.table(self._segment, self._table)

    def get(self, key: str) -> M | None:
        if not isinstance(key, str):
            return None
        doc = self.raw().get(key)
        return self._model.model_validate(doc) if doc is not None else None

    def require(self, key: str) -> M:
        item = self.get(key)
        if item is None:
            raise NotFound(f"no {self._what} {key!r}")
        return item

    def all(self) -> list[M]:
        raw = self.raw()
        return [self._model.model_validate(raw[k]) for k in sorted(raw)]

    def count(self) -> int:
        return len(self.raw())

    def names(self) -> Mapping[str, str]:
        """id -> name for every row (memoised on the segment: cheap to ask per call)."""
        seg = self._snap.segment(self._segment)
        if seg is None:
            return {}
        table = self._table
        return seg.memo(("names", table), lambda: {k: v.get("name", k) for k, v in seg.table(table).items()})

    def put(self, item: M) -> None:
        key = getattr(item, self._key)
        _writable(self._snap).put(self._segment, self._table, key, item.to_json())

    def delete(self, key: str) -> None:
        _writable(self._snap).delete(self._segment, self._table, key)


class OrgRepo:
    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap

    def get(self) -> Org | None:
        doc = self._snap.table(CORE, "org").get("org")
        return Org.model_validate(doc) if doc is not None else None

    def put(self, org: Org) -> None:
        _writable(self._snap).put(CORE, "org", "org", org.to_json())


class PatientRepo(Keyed[Patient]):
    def __init__(self, snap: Snapshot) -> None:
        super().__init__(snap, PATIENTS, "patients", Patient, "id", "patient")

    def _sorted(self) -> list[dict[str, Any]]:
        seg = self._snap.segment(PATIENTS)
        if seg is None:
            return []

        def build() -> list[dict[str, Any]]:
            rows = list(seg.table("patients").values())
            rows.sort(key=lambda r: (r["name"].casefold(), r["id"]))
            return rows

        return seg.memo("sorted", build)

    def names(self) -> Mapping[str, str]:
        index = self._snap.segment(PATIENT_NAMES)
        if index is not None:
            return index.memo("names", lambda: {k: v["name"] for k, v in index.table("names").items()})
        seg = self._snap.segment(PATIENTS)  # a data dir from before the index: the slow way
        if seg is None:
            return {}
        return seg.memo("names", lambda: {k: v["name"] for k, v in seg.table("patients").items()})

    def put(self, item: Patient) -> None:
        super().put(item)
        self.index_names({item.id: item.name})

    def delete(self, key: str) -> None:
        super().delete(key)
        _writable(self._snap).delete(PATIENT_NAMES, "names", key)

    def index_names(self, names: Mapping[str, str]) -> None:
        """Keep the id -> name index in step with patient records written in bulk."""
        tx = _writable(self._snap)
        if tx.segment(PATIENT_NAMES) is None and tx.segment(PATIENTS) is not None:
            # First write since the index exists: seed it from every record.
            table = tx.writable_table(PATIENT_NAMES, "names")
            table.update({k: {"name": v["name"]} for k, v in tx.table(PATIENTS, "patients").items()})
        table = tx.writable_table(PATIENT_NAMES, "names")
        for key, name in names.items():
            if table.get(key, {}).get("name") != name:
                table[key] = {"name": name}

    def search(self, text: str, *, offset: int = 0, limit: int | None = None) -> Page[Patient]:
        """Patients whose name, email, phone, external id or id contains `text` (any case;
        phone matched on its digits too), ordered by name."""
        needle = (text or "").strip().casefold()
        digits = "".join(ch for ch in needle if ch.isdigit())
        rows = self._sorted()
        if needle:
            def hit(r: dict[str, Any]) -> bool:
                if (
                    needle in r["name"].casefold()
                    or needle in r["email"].casefold()
                    or needle in r["external_id"].casefold()
                    or needle in r["id"].casefold()
                    or needle in r["phone"]
                ):
                    return True
                return len(digits) >= 3 and digits in "".join(c for c in r["phone"] if c.isdigit())

            rows = [r for r in rows if hit(r)]
        end = None if limit is None else offset + limit
        items = [Patient.model_validate(r) for r in rows[offset:end]]
        return Page(items, len(rows), offset, limit)

    def by_external_id(self, external_id: str) -> Patient | None:
        seg = self._snap.segment(PATIENTS)
        if seg is None or not external_id:
            return None
        index = seg.memo(
            "by_external_id",
            lambda: {r["external_id"]: k for k, r in seg.table("patients").items() if r["external_id"]},
        )
        key = index.get(external_id)
        return self.get(key) if key is not None else None


def _sorted_rows(seg: Any) -> list[dict[str, Any]]:
    def build() -> list[dict[str, Any]]:
        rows = list(seg.table("appointments").values())
        rows.sort(key=lambda r: (r["starts_at"], r["uid"]))
        return rows

    return seg.memo("sorted", build)


def _grouped(seg: Any, field: str) -> dict[str, list[dict[str, Any]]]:
    def build() -> dict[str, list[dict[str, Any]]]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in _sorted_rows(seg):
            groups.setdefault(row[field], []).append(row)
        return groups

    return seg.memo(("by", field), build)


def _starts(rows: list[dict[str, Any]], seg: Any, key: Any) -> list[str]:
    return seg.memo(("starts", key), lambda: [r["starts_at"] for r in rows])


# -- the status at an instant (AppointmentQuery.as_of) -------------------------------------
# The one rule is `lifecycle.status_at`; these apply it to stored documents (stored-form
# strings compare as instants) and use a week's groupings so that counting a whole week never
# walks it: only a lapsed hold (a small group) or a confirmed appointment that ended (found by
# bisecting the week's confirmed appointments by end) differs from its stored status.


def _status_as_of(row: Mapping[str, Any], as_of: str | None) -> str:
    status = row["status"]
    if as_of is None or (status != "held" and status != "confirmed"):
        return status
    return status_at(status, row.get("hold_expires_at"), row["ends_at"], as_of).value


def _confirmed_by_end(seg: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """The week's stored-confirmed documents ordered by end, with their ends for bisecting."""

    def build() -> tuple[list[str], list[dict[str, Any]]]:
        rows = sorted(_grouped(seg, "status").get("confirmed", ()), key=lambda r: (r["ends_at"], r["uid"]))
        return [r["ends_at"] for r in rows], rows

    return seg.memo(("confirmed", "by_end"), build)


def _week_status_counts(seg: Any, as_of: str | None) -> dict[str, int]:
    """How many of the week's appointments have each status at `as_of` (stored when None)."""
    grouped = _grouped(seg, "status")
    counts = {status: len(rows) for status, rows in grouped.items()}
    if as_of is None:
        return counts
    lapsed = sum(1 for r in grouped.get("held", ()) if _status_as_of(r, as_of) == "expired")
    ended = bisect.bisect_right(_confirmed_by_end(seg)[0], as_of)  # ends_at <= as_of
    counts["held"] = counts.get("held", 0) - lapsed
    counts["expired"] = counts.get("expired", 0) + lapsed
    counts["confirmed"] = counts.get("confirmed", 0) - ended
    counts["completed"] = counts.get("completed", 0) + ended
    return counts


class AppointmentRepo:
    def __init__(self, snap: Snapshot, clock: Clock | None = None) -> None:
        self._snap = snap
        self._clock = clock  # the service clock (RXDESK_NOW applies), for seeding the holds index

    def weeks(self) -> list[str]:
        return [n[len(APPT_PREFIX):] for n in self._snap.names(APPT_PREFIX)]

    def _raw(self, uid: str) -> dict[str, Any] | None:
        week = uid_partition(uid)
        if week is None:
            return None
        return self._snap.table(appt_segment(week), "appointments").get(uid.strip().lower())

    def get(self, uid: str) -> Appointment | None:
        doc = self._raw(uid)
        return appointment_from_store(doc) if doc is not None else None

    def require(self, uid: str) -> Appointment:
        appt = self.get(uid)
        if appt is None:
            raise NotFound(f"no appointment {str(uid).strip()!r}")
        return appt

    def put(self, appt: Appointment) -> None:
        week = uid_partition(appt.uid)
        if week != week_key(appt.starts_at):
            raise ValueError(f"uid {appt.uid} does not match the week of its start {week_key(appt.starts_at)}")
        doc = appt.to_json()
        _writable(self._snap).put(appt_segment(week), "appointments", appt.uid, doc)
        self._index_holds([doc])

    def put_raw_many(self, docs: list[dict[str, Any]]) -> None:
        """Bulk insert of already-validated documents (demo data, benchmarks)."""
        tx = _writable(self._snap)
        by_week: dict[str, list[dict[str, Any]]] = {}
        for doc in docs:
            by_week.setdefault(week_key(doc["starts_at"]), []).append(doc)
        for week, rows in by_week.items():
            table = tx.writable_table(appt_segment(week), "appointments")
            for doc in rows:
                table[doc["uid"]] = doc
        self._index_holds(docs)

    def _index_holds(self, docs: list[dict[str, Any]]) -> None:
        """Keep the holds index in step: held ones in, everything else out."""
        tx = _writable(self._snap)
        if tx.segment(HOLDS) is None:
            # The first write since the index exists: seed it with the holds a worker could
            # still have to expire (the old look-back), then keep it from here on.
            seed = tx.writable_table(HOLDS, "held")
            since = (self._clock.now() if self._clock is not None else datetime.now(UTC)) - HOLD_LOOKBACK
            for week in self._select_weeks(since, None):
                seg = tx.segment(appt_segment(week))
                for row in (_grouped(seg, "status").get("held", ()) if seg is not None else ()):
                    if row.get("hold_expires_at"):
                        seed[row["uid"]] = {"expires": row["hold_expires_at"]}
        index = tx.table(HOLDS, "held")
        for doc in docs:
            uid = doc["uid"]
            if doc["status"] == "held" and doc.get("hold_expires_at"):
                if index.get(uid, {}).get("expires") != doc["hold_expires_at"]:
                    tx.put(HOLDS, "held", uid, {"expires": doc["hold_expires_at"]})
                    index = tx.table(HOLDS, "held")
            elif uid in index:
                tx.delete(HOLDS, "held", uid)
                index = tx.table(HOLDS, "held")

    # -- queries -------------------------------------------------------------------------

    def _select_weeks(self, start: datetime | None, before: datetime | None) -> list[str]:
        weeks = self.weeks()
        if start is not None:
            lo = week_key(start)
            weeks = [w for w in weeks if w >= lo]
        if before is not None:
            hi = week_key(before - timedelta(seconds=1))
            weeks = [w for w in weeks if w <= hi]
        return weeks

    def iter_raw(self, query: AppointmentQuery) -> Iterator[dict[str, Any]]:
        """Matching raw documents in order, loading one week at a time."""
        start_s = format_utc(query.starts_from) if query.starts_from else None
        before_s = format_utc(query.starts_before) if query.starts_before else None
        statuses = query.statuses
        as_of = format_utc(query.as_of) if query.as_of is not None else None
        weeks = self._select_weeks(query.starts_from, query.starts_before)
        if query.descending:
            weeks.reverse()
        for week in weeks:
            seg = self._snap.segment(appt_segment(week))
            if seg is None:
                continue
            if query.doctor_id is not None:
                rows = _grouped(seg, "doctor_id").get(query.doctor_id, [])
                key: Any = ("doctor", query.doctor_id)
            elif query.patient_id is not None:
                rows = _grouped(seg, "patient_id").get(query.patient_id, [])
                key = ("patient", query.patient_id)
            else:
                rows = _sorted_rows(seg)
                key = "all"
            lo, hi = 0, len(rows)
            if start_s is not None or before_s is not None:
                starts = _starts(rows, seg, key)
                if start_s is not None:
                    lo = bisect.bisect_left(starts, start_s)
                if before_s is not None:
                    hi = bisect.bisect_left(starts, before_s)
            window = rows[lo:hi]
            if query.descending:
                window = window[::-1]
            for row in window:
                if statuses is not None and _status_as_of(row, as_of) not in statuses:
                    continue
                if query.patient_id is not None and row["patient_id"] != query.patient_id:
                    continue
                if query.doctor_id is not None and row["doctor_id"] != query.doctor_id:
                    continue
                yield row

    def count_raw(self, query: AppointmentQuery) -> int:
        """How many documents match, without walking them where a week's indexes can say:
        a week wholly inside the time range counts its rows per status (at `as_of`) from its
        groupings."""
        start_s = format_utc(query.starts_from) if query.starts_from else None
        before_s = format_utc(query.starts_before) if query.starts_before else None
        statuses = query.statuses
        as_of = format_utc(query.as_of) if query.as_of is not None else None
        total = 0
        for week in self._select_weeks(query.starts_from, query.starts_before):
            seg = self._snap.segment(appt_segment(week))
            if seg is None:
                continue
            if query.doctor_id is not None or query.patient_id is not None:
                total += sum(1 for _ in self.iter_raw(_one_week(query, week)))
                continue
            rows = _sorted_rows(seg)
            lo, hi = 0, len(rows)
            if start_s is not None or before_s is not None:
                starts = _starts(rows, seg, "all")
                if start_s is not None:
                    lo = bisect.bisect_left(starts, start_s)
                if before_s is not None:
                    hi = max(lo, bisect.bisect_left(starts, before_s))  # an empty range counts 0
            if statuses is None:
                total += hi - lo
            elif lo == 0 and hi == len(rows):
                counts = _week_status_counts(seg, as_of)
                total += sum(counts.get(status, 0) for status in statuses)
            else:
                total += sum(1 for row in rows[lo:hi] if _status_as_of(row, as_of) in statuses)
        return total

    def search_raw(self, query: AppointmentQuery) -> Page[Mapping[str, Any]]:
        """Like `search`, with the stored documents themselves (read-only, JSON form)."""
        offset = max(0, query.offset)
        end = None if query.limit is None else offset + max(0, query.limit)
        picked = list(itertools.islice(self.iter_raw(query), offset, end))
        total = self.count_raw(query) if query.count else None
        return Page(picked, total, offset, query.limit)  # type: ignore[arg-type]

    def search(self, query: AppointmentQuery) -> Page[Appointment]:
        page = self.search_raw(query)
        return Page([appointment_from_store(r) for r in page.items], page.total, page.offset, page.limit)

    def active_for_doctor(
        self, doctor_id: str, start: datetime, end: datetime, as_of: datetime | None = None
    ) -> list[Appointment]:
        """The doctor's held and confirmed appointments that overlap [start, end): held or
        confirmed at `as_of` (a lapsed hold is not), or as stored when `as_of` is None."""
        start_s, end_s = format_utc(start), format_utc(end)
        as_of_s = format_utc(as_of) if as_of is not None else None
        found = []
        # An appointment starting late in the previous week may run into this range.
        for week in weeks_between(start - LONGEST_APPOINTMENT, end):
            seg = self._snap.segment(appt_segment(week))
            if seg is None:
                continue
            for row in _grouped(seg, "doctor_id").get(doctor_id, ()):
                if row["starts_at"] < end_s and start_s < row["ends_at"] and \
                        _status_as_of(row, as_of_s) in ("held", "confirmed"):
                    found.append(row)
        return [appointment_from_store(r) for r in found]

    def held_expiring(self, now: datetime) -> list[Appointment]:
        """Held appointments whose hold has expired by `now`."""
        now_s = format_utc(now)
        if self._snap.segment(HOLDS) is not None:
            due = [uid for uid, row in self._snap.table(HOLDS, "held").items() if row["expires"] <= now_s]
            held = [a for a in (self.get(uid) for uid in sorted(due)) if a is not None and a.status.value == "held"]
            return held
        # A data dir from before the index: the holds of the look-back weeks.
        found = []
        for week in self._select_weeks(now - HOLD_LOOKBACK, None):
            seg = self._snap.segment(appt_segment(week))
            if seg is None:
                continue
            for row in _grouped(seg, "status").get("held", ()):
                expires = row.get("hold_expires_at")
                if expires is not None and expires <= now_s:
                    found.append(row)
        return [appointment_from_store(r) for r in found]

    def holds_lapsing(self, after: datetime, until: datetime) -> list[Appointment]:
        """Held appointments whose hold expires in (after, until], soonest first (from the
        holds index)."""
        after_s, until_s = format_utc(after), format_utc(until)
        due = sorted((row["expires"], uid) for uid, row in self._snap.table(HOLDS, "held").items()
                     if after_s < row["expires"] <= until_s)
        found = (self.get(uid) for _expires, uid in due)
        return [a for a in found if a is not None and a.status is AppointmentStatus.held]

    def confirmed_starting(self, after: datetime, until: datetime) -> list[Appointment]:
        """Confirmed appointments with after < starts_at <= until."""
        after_s, until_s = format_utc(after), format_utc(until)
        found = []
        for week in self._select_weeks(after, until + timedelta(seconds=1)):
            seg = self._snap.segment(appt_segment(week))
            if seg is None:
                continue
            for row in _grouped(seg, "status").get("confirmed", ()):
                if after_s < row["starts_at"] <= until_s:
                    found.append(row)
        return [appointment_from_store(r) for r in found]

    def confirmed_ended(
        self, after: datetime | None, until: datetime, *, max_weeks: int = 8
    ) -> tuple[list[Appointment], datetime]:
        """Stored-confirmed appointments with `after < ends_at <= until` (from the first when
        `after` is None), reading at most `max_weeks` week segments: a worker that was down
        catches up in bounded steps. Returns them, ordered by end within each week, and the
        instant up to which the answer is complete (`until`, or less when it stopped early)."""
        after_s = format_utc(after) if after is not None else None
        until_s = format_utc(until)
        weeks = self._select_weeks(after - LONGEST_APPOINTMENT if after is not None else None,
                                   until + timedelta(seconds=1))
        found: list[dict[str, Any]] = []
        reached = until
        for scanned, week in enumerate(weeks):
            if scanned >= max(2, max_weeks):
                # Every appointment ending by this week's Monday started in a week read above.
                monday = datetime.fromisoformat(week).replace(tzinfo=UTC)
                reached = min(until, max(monday, after) if after is not None else monday)
                break
            seg = self._snap.segment(appt_segment(week))
            if seg is None:
                continue
            ends, rows = _confirmed_by_end(seg)
            lo = bisect.bisect_right(ends, after_s) if after_s is not None else 0
            found.extend(rows[lo:bisect.bisect_right(ends, until_s)])
        return [appointment_from_store(r) for r in found], reached

    def completion_horizon(self) -> datetime | None:
        """Every stored-confirmed appointment ending at or before this instant has been
        written down as completed (None: not known yet)."""
        seconds = self._snap.counter(COMPLETED_UNTIL)
        return datetime.fromtimestamp(seconds, UTC) if seconds else None

    def set_completion_horizon(self, at: datetime) -> None:
        _writable(self._snap).set_counter(COMPLETED_UNTIL, int(at.timestamp()))

    def successor_of(self, uid: str) -> str | None:
        week = uid_partition(uid)
        if week is None:
            return None
        return self._snap.table(appt_segment(week), "links").get(uid)

    def link_successor(self, uid: str, new_uid: str) -> None:
        week = uid_partition(uid)
        assert week is not None
        _writable(self._snap).put(appt_segment(week), "links", uid, new_uid)  # type: ignore[arg-type]


class ReminderSentRepo:
    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap

    def _segment(self, uid: str) -> str:
        week = uid_partition(uid)
        if week is None:
            raise NotFound(f"no appointment {uid!r}")
        return appt_segment(week)

    def exists(self, uid: str, rule_id: str, group: str, recipient_id: str) -> bool:
        key = reminder_key(uid, rule_id, group, recipient_id)
        return key in self._snap.table(self._segment(uid), "reminders_sent")

    def add(self, row: ReminderSent) -> None:
        segment = self._segment(row.appointment_uid)
        doc = row.to_json()
        _writable(self._snap).put(segment, "reminders_sent", row.key, doc)
        if row.email_status.startswith(SKIPPED) or row.sms_status.startswith(SKIPPED):
            appt = self._snap.table(segment, "appointments").get(row.appointment_uid)
            if appt is not None:
                note_problem(self._snap, "skipped", row.key, appt["starts_at"], now=doc["sent_at"], row=doc)

    def skipped(self, starting_after: datetime) -> list[ReminderSent]:
        """Fired reminders whose email or SMS was skipped (no address to send to), of
        appointments starting after `starting_after`, by start (from the problems index)."""
        return [ReminderSent.model_validate(doc) for doc in problems(self._snap, "skipped", format_utc(starting_after))]

    update = add

    def for_appointment(self, uid: str) -> list[ReminderSent]:
        if uid_partition(uid) is None:
            return []
        table = self._snap.table(self._segment(uid), "reminders_sent")
        prefix = f"{uid}|"
        rows = [ReminderSent.model_validate(v) for k, v in table.items() if k.startswith(prefix)]
        rows.sort(key=lambda r: (r.sent_at, r.rule_id, r.recipient_group, r.recipient_id))
        return rows


def _plain_key(seq: int) -> str:
    return f"{seq:012d}"


def _plain_seq(key: str) -> int:
    return int(key[:12])


class LogTable:
    """An append-only table split into numbered segments of `per_segment` rows.

    Each row's sequence number comes from a manifest counter (named after the table), so the
    segment that holds a row follows from its number, and appending rewrites only the last,
    small segment. Keys sort in sequence order.
    """

    def __init__(
        self,
        snap: Snapshot,
        prefix: str,
        table: str,
        per_segment: int,
        *,
        key_of: Callable[[int], str] = _plain_key,
        seq_of: Callable[[str], int] = _plain_seq,
    ) -> None:
        self._snap = snap
        self.prefix = prefix
        self.table = table
        self.per_segment = per_segment
        self.key_of = key_of
        self.seq_of = seq_of

    def segment_of(self, seq: int) -> str:
        return f"{self.prefix}{seq // self.per_segment:06d}"

    def last_seq(self) -> int:
        return self._snap.counter(self.table)

    def append(self, make: Callable[[int, str], dict[str, Any]]) -> tuple[int, str]:
        """Append the row `make(seq, key)` builds; returns its sequence number and key."""
        tx = _writable(self._snap)
        seq = tx.next_seq(self.table)
        key = self.key_of(seq)
        tx.put(self.segment_of(seq), self.table, key, make(seq, key))
        return seq, key

    def replace(self, key: str, doc: dict[str, Any]) -> None:
        _writable(self._snap).put(self.segment_of(self.seq_of(key)), self.table, key, doc)

    def delete(self, key: str) -> None:
        _writable(self._snap).delete(self.segment_of(self.seq_of(key)), self.table, key)

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            seq = self.seq_of(key)
        except (ValueError, TypeError, IndexError):
            return None
        return self._snap.table(self.segment_of(seq), self.table).get(key)

    def newest(self) -> Iterator[dict[str, Any]]:
        """Rows newest first, one segment at a time."""
        for name in reversed(self._snap.names(self.prefix)):
            table = self._snap.table(name, self.table)
            for key in sorted(table, reverse=True):
                yield table[key]

    def after(self, seq: int) -> Iterator[tuple[int, dict[str, Any]]]:
        """Rows with a sequence number above `seq`, oldest first."""
        if seq >= self.last_seq():
            return
        first_segment = self.segment_of(seq + 1)
        for name in self._snap.names(self.prefix):
            if name < first_segment:
                continue
            table = self._snap.table(name, self.table)
            for key in sorted(table):
                row_seq = self.seq_of(key)
                if row_seq > seq:
                    yield row_seq, table[key]


def event_id(seq: int) -> str:
    # The sequence number first (it locates the segment), then a random tail so that ids
    # from two data dirs never collide at a receiver.
    return f"evt_{seq:012d}{random_token(6)}"


def event_seq(event_id: str) -> int:
    if not isinstance(event_id, str) or not event_id.startswith("evt_") or not event_id[4:16].isdigit():
        raise ValueError(f"not an event id: {event_id!r}")
    return int(event_id[4:16])


class EventRepo:
    def __init__(self, snap: Snapshot) -> None:
        self._log = LogTable(
            snap, EVENTS_PREFIX, "events", EVENTS_PER_SEGMENT, key_of=event_id, seq_of=event_seq
        )

    def append(self, type: EventType, data: dict[str, Any], at: datetime) -> Event:
        made: list[Event] = []

        def make(seq: int, key: str) -> dict[str, Any]:
            made.append(Event(id=key, type=type, created_at=at, data=data))
            return made[0].to_json()

        self._log.append(make)
        return made[0]

    def get(self, event_id: str) -> Event | None:
        doc = self._log.get(event_id)
        return Event.model_validate(doc) if doc is not None else None

    def newest(
        self, *, type: str | None = None, offset: int = 0, limit: int | None = None
    ) -> Page[Event]:
        rows = self._log.newest()
        if type is not None:
            rows = (r for r in rows if r["type"] == type)
        end = None if limit is None else offset + limit
        picked = list(itertools.islice(rows, offset, end))
        return Page([Event.model_validate(r) for r in picked], None, offset, limit)

    def after(self, seq: int, limit: int | None = None) -> Iterator[tuple[int, Event]]:
        rows = ((s, Event.model_validate(r)) for s, r in self._log.after(seq))
        return itertools.islice(rows, limit) if limit is not None else rows

    def last_seq(self) -> int:
        return self._log.last_seq()

    def warm(self) -> None:
        """Read the segment the next event goes to, so the first change of a session does not
        pay for parsing it."""
        self._log._snap.segment(self._log.segment_of(self.last_seq() + 1))


class AuditRepo:
    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap
        self._log = LogTable(snap, AUDIT_PREFIX, "audit", AUDIT_PER_SEGMENT)

    @staticmethod
    def _appointment_week(target: str) -> str | None:
        if target.startswith("appointment:"):
            return uid_partition(target.split(":", 1)[1])
        return None

    def append(self, entry: AuditEntry) -> None:
        week = self._appointment_week(entry.target)
        if week is None:
            self._log.append(lambda seq, key: entry.to_json())
            return
        tx = _writable(self._snap)
        seq = tx.next_seq("audit")
        tx.put(appt_segment(week), "audit", f"{seq:012d}", entry.to_json())

    def for_target(self, target: str) -> list[AuditEntry]:
        week = self._appointment_week(target)
        if week is not None:
            table = self._snap.table(appt_segment(week), "audit")
            rows = [table[k] for k in sorted(table) if table[k]["target"] == target]
        else:
            rows = [r for r in self._log.newest() if r["target"] == target]
            rows.reverse()
        return [AuditEntry.model_validate(r) for r in rows]

    def newest(self, *, offset: int = 0, limit: int | None = None) -> Page[AuditEntry]:
        """Audit entries not about one appointment (those live with the appointment)."""
        end = None if limit is None else offset + limit
        picked = list(itertools.islice(self._log.newest(), offset, end))
        return Page([AuditEntry.model_validate(r) for r in picked], None, offset, limit)


class TinyView:
    """All repositories over one snapshot (read) or transaction (write)."""

    def __init__(self, snap: Snapshot, clock: Clock | None = None) -> None:
        self.snap = snap
        self.org = OrgRepo(snap)
        self.admins: Keyed[Admin] = Keyed(snap, CORE, "admins", Admin, "id", "admin")
        self.types: Keyed[AppointmentType] = Keyed(
            snap, CORE, "appointment_types", AppointmentType, "key", "appointment type"
        )
        self.doctors: Keyed[Doctor] = Keyed(snap, CORE, "doctors", Doctor, "id", "doctor")
        self.secrets: Keyed[BookingSecret] = Keyed(
            snap, CORE, "booking_secrets", BookingSecret, "key_id", "booking secret"
        )
        self.subscriptions: Keyed[Subscription] = Keyed(
            snap, CORE, "subscriptions", Subscription, "id", "subscription"
        )
        self.patients = PatientRepo(snap)
        self.appointments = AppointmentRepo(snap, clock)
        self.reminders_sent = ReminderSentRepo(snap)
        self.events = EventRepo(snap)
        self.audit = AuditRepo(snap)
        self.deliveries = DeliveryRepo(snap)
        self.messages = MessageRepo(snap)

    @property
    def generation(self) -> int:
        return self.snap.generation

    @property
    def writable(self) -> bool:
        return self.snap.writable

    def after_commit(self, callback: Callable[[], None]) -> None:
        _writable(self.snap).after_commit(callback)


class TinyStore:
    """The data dir as a store: `read()` for a consistent view, `write()` to change it."""

    def __init__(self, data_dir: str | Path, *, clock: Clock | None = None, **engine_options: Any) -> None:
        self.engine = Engine(data_dir, **engine_options)
        self.clock = clock

    @property
    def data_dir(self) -> Path:
        return self.engine.data_dir

    def read(self) -> TinyView:
        return TinyView(self.engine.snapshot(), self.clock)

    @contextmanager
    def write(self) -> Iterator[TinyView]:
        with self.engine.transaction() as tx:
            yield TinyView(tx, self.clock)

    def generation(self) -> int:
        return self.engine.manifest().generation

    def record_tick(self, owner: str, at: datetime) -> None:
        """Note that a maintenance tick ran at `at`. Kept in a small file beside the manifest,
        outside every commit: an idle tick writes nothing else, and the manifest's generation
        (which every open app polls) does not move for it."""
        ensure_private_dir(self.data_dir)
        write_atomic(self.data_dir / LAST_TICK, dumps({"owner": owner, "at": format_utc(at)}), sync_dir=False)

    def last_tick(self) -> WorkerTick | None:
        """The newest tick recorded (None before the first, or when the note is unreadable)."""
        try:
            data = loads(read_bytes(self.data_dir / LAST_TICK), self.data_dir / LAST_TICK)
            return WorkerTick(str(data["owner"]), datetime.fromisoformat(data["at"]))
        except (OSError, StoreError, KeyError, TypeError, ValueError):
            return None

    def is_empty(self) -> bool:
        return not self.engine.manifest().segments
