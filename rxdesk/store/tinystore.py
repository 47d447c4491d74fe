"""The TinyDB implementation of the store contract (`protocols`), over the segment engine.

Where each kind of row lives, and why, is in `layout`; the engine (`engine`) commits changed
segments together through one manifest; every log is an `AppendOnlyLog` (`logs`).
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from collections.abc import Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, Generic, TypeVar

from rxdesk.domain.errors import NotFound
from rxdesk.domain.ids import uid_partition
from rxdesk.domain.models import (
    Admin,
    Appointment,
    AppointmentStatus,
    AppointmentType,
    AuditEntry,
    BookingSecret,
    Delivery,
    DeliveryStatus,
    Doctor,
    Entity,
    Event,
    EventType,
    Org,
    OutboxMessage,
    Patient,
    ReminderSent,
    Subscription,
    reminder_key,
)
from rxdesk.domain.queries import AppointmentQuery, AppointmentRecord, Page, appointment_from_json
from rxdesk.domain.times import format_utc, week_key, weeks_between
from rxdesk.store.engine import Engine, Segment, Snapshot, writable
from rxdesk.store.layout import (
    APPT_PREFIX,
    CORE,
    HOLDS,
    PATIENT_NAMES,
    PATIENTS,
    appointment_segment,
    appt_segment,
    delivery_index_segment,
)
from rxdesk.store.logs import AUDIT_LOG, DELIVERY_LOG, EVENT_LOG, MESSAGE_LOG, AppendOnlyLog

M = TypeVar("M", bound=Entity)
Q = TypeVar("Q", Delivery, OutboxMessage)


def _one_week(query: AppointmentQuery, week: str) -> AppointmentQuery:
    """The query narrowed to one week (for counting week by week)."""
    monday = datetime.fromisoformat(week).replace(tzinfo=UTC)
    start = max(query.starts_from, monday) if query.starts_from else monday
    before = monday + timedelta(days=7)
    before = min(query.starts_before, before) if query.starts_before else before
    return dataclasses.replace(query, starts_from=start, starts_before=before, offset=0, limit=None)


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

    def _docs(self) -> Mapping[str, dict[str, Any]]:
        return self._snap.table(self._segment, self._table)

    def get(self, key: str) -> M | None:
        if not isinstance(key, str):
            return None
        doc = self._docs().get(key)
        return self._model.model_validate(doc) if doc is not None else None

    def require(self, key: str) -> M:
        item = self.get(key)
        if item is None:
            raise NotFound(f"no {self._what} {key!r}")
        return item

    def all(self) -> list[M]:
        docs = self._docs()
        return [self._model.model_validate(docs[k]) for k in sorted(docs)]

    def count(self) -> int:
        return len(self._docs())

    def names(self) -> Mapping[str, str]:
        """id -> name for every row (memoised on the segment: cheap to ask per call)."""
        seg = self._snap.segment(self._segment)
        if seg is None:
            return MappingProxyType({})
        table = self._table
        return seg.memo(
            ("names", table),
            lambda: MappingProxyType({k: v.get("name", k) for k, v in seg.table(table).items()}),
        )

    def put(self, item: M) -> None:
        key = getattr(item, self._key)
        writable(self._snap).put(self._segment, self._table, key, item.to_json())

    def delete(self, key: str) -> None:
        writable(self._snap).delete(self._segment, self._table, key)


class OrgRepo:
    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap

    def get(self) -> Org | None:
        doc = self._snap.table(CORE, "org").get("org")
        return Org.model_validate(doc) if doc is not None else None

    def put(self, org: Org) -> None:
        writable(self._snap).put(CORE, "org", "org", org.to_json())


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
        if index is None:
            return MappingProxyType({})
        return index.memo("names", lambda: MappingProxyType({k: v["name"] for k, v in index.table("names").items()}))

    def put(self, item: Patient) -> None:
        super().put(item)
        self.index_names({item.id: item.name})

    def delete(self, key: str) -> None:
        super().delete(key)
        writable(self._snap).delete(PATIENT_NAMES, "names", key)

    def index_names(self, names: Mapping[str, str]) -> None:
        """Keep the id -> name index in step with the patient records."""
        table = writable(self._snap).writable_table(PATIENT_NAMES, "names")
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
        index: dict[str, str] = seg.memo(
            "by_external_id",
            lambda: {r["external_id"]: k for k, r in seg.table("patients").items() if r["external_id"]},
        )
        key = index.get(external_id)
        return self.get(key) if key is not None else None


def _sorted_rows(seg: Segment) -> list[dict[str, Any]]:
    def build() -> list[dict[str, Any]]:
        rows = list(seg.table("appointments").values())
        rows.sort(key=lambda r: (r["starts_at"], r["uid"]))
        return rows

    return seg.memo("sorted", build)


def _grouped(seg: Segment, field: str) -> dict[str, list[dict[str, Any]]]:
    def build() -> dict[str, list[dict[str, Any]]]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in _sorted_rows(seg):
            groups.setdefault(row[field], []).append(row)
        return groups

    return seg.memo(("by", field), build)


def _starts(rows: list[dict[str, Any]], seg: Segment, key: Hashable) -> list[str]:
    return seg.memo(("starts", key), lambda: [r["starts_at"] for r in rows])


class AppointmentRepo:
    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap

    def weeks(self) -> list[str]:
        return [n[len(APPT_PREFIX):] for n in self._snap.names(APPT_PREFIX)]

    def _raw(self, uid: str) -> dict[str, Any] | None:
        week = uid_partition(uid)
        if week is None:
            return None
        return self._snap.table(appt_segment(week), "appointments").get(uid.strip().lower())

    def get(self, uid: str) -> Appointment | None:
        doc = self._raw(uid)
        return appointment_from_json(doc) if doc is not None else None

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
        writable(self._snap).put(appt_segment(week), "appointments", appt.uid, doc)
        self._index_holds([doc])

    def put_many(self, docs: Sequence[Mapping[str, Any]]) -> None:
        """Insert appointments given in their JSON form, valid as they are (the bulk loader)."""
        tx = writable(self._snap)
        by_week: dict[str, list[Mapping[str, Any]]] = {}
        for doc in docs:
            by_week.setdefault(week_key(doc["starts_at"]), []).append(doc)
        for week, rows in by_week.items():
            table = tx.writable_table(appt_segment(week), "appointments")
            for doc in rows:
                table[doc["uid"]] = dict(doc)
        self._index_holds(docs)

    def _index_holds(self, docs: Sequence[Mapping[str, Any]]) -> None:
        """Keep the holds index in step: held ones in, everything else out."""
        tx = writable(self._snap)
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
                if statuses is not None and row["status"] not in statuses:
                    continue
                if query.patient_id is not None and row["patient_id"] != query.patient_id:
                    continue
                if query.doctor_id is not None and row["doctor_id"] != query.doctor_id:
                    continue
                yield row

    def count_raw(self, query: AppointmentQuery) -> int:
        """How many documents match, without walking them where a week's indexes can say:
        a week wholly inside the time range counts its rows per status by length."""
        start_s = format_utc(query.starts_from) if query.starts_from else None
        before_s = format_utc(query.starts_before) if query.starts_before else None
        statuses = query.statuses
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
                grouped = _grouped(seg, "status")
                total += sum(len(grouped.get(status, ())) for status in statuses)
            else:
                total += sum(1 for row in rows[lo:hi] if row["status"] in statuses)
        return total

    def search(self, query: AppointmentQuery) -> Page[AppointmentRecord]:
        offset = max(0, query.offset)
        end = None if query.limit is None else offset + max(0, query.limit)
        picked = [AppointmentRecord(doc) for doc in itertools.islice(self.iter_raw(query), offset, end)]
        total = self.count_raw(query) if query.count else None
        return Page(picked, total, offset, query.limit)

    def count(self, query: AppointmentQuery) -> int:
        return self.count_raw(query)

    def active_for_doctor(
        self, doctor_id: str, start: datetime, end: datetime
    ) -> list[Appointment]:
        """The doctor's held and confirmed appointments that overlap [start, end)."""
        start_s, end_s = format_utc(start), format_utc(end)
        found = []
        # An appointment starting late in the previous week may run into this range.
        for week in weeks_between(start - timedelta(days=1), end):
            seg = self._snap.segment(appt_segment(week))
            if seg is None:
                continue
            for row in _grouped(seg, "doctor_id").get(doctor_id, ()):
                if row["status"] in ("held", "confirmed") and row["starts_at"] < end_s and start_s < row["ends_at"]:
                    found.append(row)
        return [appointment_from_json(r) for r in found]

    def lapsed_holds(self, now: datetime) -> list[Appointment]:
        """Held appointments whose hold expired at or before `now` (from the holds index)."""
        now_s = format_utc(now)
        due = sorted(uid for uid, row in self._snap.table(HOLDS, "held").items() if row["expires"] <= now_s)
        return [a for a in map(self.get, due) if a is not None and a.status is AppointmentStatus.held]

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
        return [appointment_from_json(r) for r in found]

    def successor_of(self, uid: str) -> str | None:
        week = uid_partition(uid)
        if week is None:
            return None
        return self._snap.table(appt_segment(week), "links").get(uid)

    def link_successor(self, uid: str, new_uid: str) -> None:
        week = uid_partition(uid)
        assert week is not None
        writable(self._snap).put(appt_segment(week), "links", uid, new_uid)


class ReminderSentRepo:
    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap

    @staticmethod
    def _segment(uid: str) -> str:
        segment = appointment_segment(uid)
        if segment is None:
            raise NotFound(f"no appointment {uid!r}")
        return segment

    def exists(self, uid: str, rule_id: str, group: str, recipient_id: str) -> bool:
        key = reminder_key(uid, rule_id, group, recipient_id)
        return key in self._snap.table(self._segment(uid), "reminders_sent")

    def add(self, row: ReminderSent) -> None:
        writable(self._snap).put(self._segment(row.appointment_uid), "reminders_sent", row.key, row.to_json())

    def for_appointment(self, uid: str) -> list[ReminderSent]:
        segment = appointment_segment(uid)
        if segment is None:
            return []
        table = self._snap.table(segment, "reminders_sent")
        prefix = f"{uid}|"
        rows = [ReminderSent.model_validate(v) for k, v in table.items() if k.startswith(prefix)]
        rows.sort(key=lambda r: (r.sent_at, r.rule_id, r.recipient_group, r.recipient_id))
        return rows


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value: models hand out their nested data, never the cache's."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def _window(rows: Iterator[Any], offset: int, limit: int | None) -> list[Any]:
    return list(itertools.islice(rows, offset, None if limit is None else offset + limit))


class EventRepo:
    def __init__(self, snap: Snapshot) -> None:
        self._log = AppendOnlyLog(snap, EVENT_LOG)

    @staticmethod
    def _event(doc: Mapping[str, Any]) -> Event:
        return Event.model_validate({**doc, "data": copy_json(doc["data"])})

    def append(self, type: EventType, data: dict[str, Any], at: datetime) -> Event:
        _, key = self._log.new_key()
        event = Event(id=key, type=type, created_at=at, data=data)
        self._log.put(key, event.to_json())
        return event

    def get(self, event_id: str) -> Event | None:
        doc = self._log.get(event_id)
        return self._event(doc) if doc is not None else None

    def newest(self, *, type: EventType | None = None, offset: int = 0, limit: int | None = None) -> Page[Event]:
        rows = self._log.newest()
        if type is not None:
            rows = (r for r in rows if r["type"] == type.value)
        return Page([self._event(r) for r in _window(rows, offset, limit)], None, offset, limit)

    def after(self, seq: int, limit: int | None = None) -> list[tuple[int, Event]]:
        return [(s, self._event(r)) for s, r in _window(self._log.after(seq), 0, limit)]

    def last_seq(self) -> int:
        return self._log.last_seq()

    def warm(self) -> None:
        self._log.warm()


class AuditRepo:
    """The audit log; entries about one appointment are kept in its week, beside it."""

    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap
        self._log = AppendOnlyLog(snap, AUDIT_LOG)

    @staticmethod
    def _home(target: str) -> str | None:
        if target.startswith("appointment:"):
            return appointment_segment(target.split(":", 1)[1])
        return None

    @staticmethod
    def _entry(doc: Mapping[str, Any]) -> AuditEntry:
        return AuditEntry.model_validate({**doc, "details": copy_json(doc.get("details", {}))})

    def append(self, entry: AuditEntry) -> None:
        _, key = self._log.new_key()
        self._log.put(key, entry.to_json(), segment=self._home(entry.target))

    def for_target(self, target: str) -> list[AuditEntry]:
        home = self._home(target)
        if home is not None:
            table = self._snap.table(home, AUDIT_LOG.name)
            rows = [table[k] for k in sorted(table) if table[k]["target"] == target]
        else:
            rows = [r for r in self._log.newest() if r["target"] == target]
            rows.reverse()
        return [self._entry(r) for r in rows]

    def newest(self, *, offset: int = 0, limit: int | None = None) -> Page[AuditEntry]:
        """Audit entries not about one appointment (those live with the appointment)."""
        return Page([self._entry(r) for r in _window(self._log.newest(), offset, limit)], None, offset, limit)


class _QueuedRepo(Generic[Q]):
    """Deliveries or messages: a queued log of rows that each wait for their next attempt."""

    def __init__(self, log: AppendOnlyLog, model: type[Q]) -> None:
        self._log = log
        self._model: type[Q] = model

    def new_id(self) -> str:
        return self._log.new_key()[1]

    def get(self, row_id: str) -> Q | None:
        doc = self._log.get(row_id) if isinstance(row_id, str) else None
        return self._model.model_validate(doc) if doc is not None else None

    def put(self, row: Q) -> None:
        """Store `row`; a pending row stays in the queue with its next attempt and lease."""
        self._log.put(row.id, row.to_json())
        if row.status == "pending":
            at, lease = row.next_attempt_at, row.lease_until
            self._log.enqueue(row.id, at=format_utc(at) if at else "", lease=format_utc(lease) if lease else "")
        else:
            self._log.dequeue(row.id)

    def due(self, now: datetime, limit: int | None = None) -> list[Q]:
        return [row for row in map(self.get, self._log.due(format_utc(now), limit)) if row is not None]

    def queued(self) -> int:
        return self._log.queued()

    def last_seq(self) -> int:
        """How many rows were ever made (their sequence numbers start at 1)."""
        return self._log.last_seq()

    def _newest(self, status: str | None, offset: int, limit: int | None) -> Page[Q]:
        rows = self._log.newest()
        if status is not None:
            rows = (r for r in rows if r["status"] == status)
        return Page([self._model.model_validate(r) for r in _window(rows, offset, limit)], None, offset, limit)


class DeliveryRepo(_QueuedRepo[Delivery]):
    def __init__(self, snap: Snapshot) -> None:
        super().__init__(AppendOnlyLog(snap, DELIVERY_LOG), Delivery)
        self._snap = snap

    def newest(
        self, *, status: DeliveryStatus | None = None, offset: int = 0, limit: int | None = None
    ) -> Page[Delivery]:
        return self._newest(status.value if status is not None else None, offset, limit)

    def link_appointment(self, uid: str, delivery_ids: Sequence[str]) -> None:
        """Record that these deliveries carry events about appointment `uid`."""
        segment = delivery_index_segment(uid)
        if segment is None or not delivery_ids:
            return
        known = self._snap.table(segment, "by_appointment").get(uid) or {}
        writable(self._snap).put(segment, "by_appointment", uid, {"ids": [*known.get("ids", []), *delivery_ids]})

    def for_appointment(self, uid: str) -> list[Delivery]:
        """Deliveries of the events about appointment `uid`, oldest first."""
        segment = delivery_index_segment(uid)
        if segment is None:
            return []
        known = self._snap.table(segment, "by_appointment").get(uid) or {}
        return [row for row in map(self.get, known.get("ids", [])) if row is not None]


class MessageRepo(_QueuedRepo[OutboxMessage]):
    def __init__(self, snap: Snapshot) -> None:
        super().__init__(AppendOnlyLog(snap, MESSAGE_LOG), OutboxMessage)

    def newest(self, *, offset: int = 0, limit: int | None = None) -> Page[OutboxMessage]:
        return self._newest(None, offset, limit)


class CursorRepo:
    """Named positions in the logs, kept as manifest counters."""

    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap

    def get(self, name: str) -> int:
        return self._snap.counter(name)

    def set(self, name: str, value: int) -> None:
        writable(self._snap).set_counter(name, value)


class BulkLoad:
    """The bulk loader: whole tables written at once, in their JSON form."""

    def __init__(self, view: TinyView) -> None:
        self._view = view
        self._snap = view.snap

    def is_empty(self) -> bool:
        return not self._snap.names("")

    def clear(self) -> None:
        tx = writable(self._snap)
        for name in tx.names(""):
            tx.drop(name)

    def add_patients(self, patients: Sequence[Patient]) -> None:
        table = writable(self._snap).writable_table(PATIENTS, "patients")
        for patient in patients:
            table[patient.id] = patient.to_json()
        self._view.patients.index_names({p.id: p.name for p in patients})

    def add_appointments(self, appointments: Sequence[Mapping[str, Any]]) -> None:
        self._view.appointments.put_many(appointments)

    def add_audit(self, entries: Sequence[Mapping[str, Any]]) -> None:
        tx = writable(self._snap)
        for entry in entries:
            seq = tx.next_seq(AUDIT_LOG.name)
            key = AUDIT_LOG.key_of(seq)
            home = AuditRepo._home(str(entry["target"])) or AUDIT_LOG.segment_of(seq)
            tx.writable_table(home, AUDIT_LOG.name)[key] = dict(entry)

    def add_events(self, events: Sequence[Mapping[str, Any]]) -> None:
        tx = writable(self._snap)
        for event in events:
            seq = tx.next_seq(EVENT_LOG.name)
            key = EVENT_LOG.key_of(seq)
            tx.writable_table(EVENT_LOG.segment_of(seq), EVENT_LOG.name)[key] = {"id": key, **event}


class TinyView:
    """Every repository over one snapshot (`read()`) or transaction (`write()`).

    A context manager to fit `Store.read()`; a snapshot holds nothing open, so leaving the
    block releases nothing, and a view may also be used without one.
    """

    def __init__(self, snap: Snapshot) -> None:
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
        self.appointments = AppointmentRepo(snap)
        self.reminders_sent = ReminderSentRepo(snap)
        self.events = EventRepo(snap)
        self.audit = AuditRepo(snap)
        self.deliveries = DeliveryRepo(snap)
        self.messages = MessageRepo(snap)
        self.cursors = CursorRepo(snap)
        self.bulk = BulkLoad(self)

    def __enter__(self) -> TinyView:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    @property
    def generation(self) -> int:
        return self.snap.generation


class TinyStore:
    """The data dir as a store: `read()` for a consistent view, `write()` to change it."""

    def __init__(self, data_dir: str | Path, **engine_options: Any) -> None:
        self.engine = Engine(data_dir, **engine_options)

    @property
    def data_dir(self) -> Path:
        return self.engine.data_dir

    @property
    def location(self) -> str:
        return str(self.engine.data_dir)

    def read(self) -> TinyView:
        return TinyView(self.engine.snapshot())

    @contextmanager
    def write(self) -> Iterator[TinyView]:
        with self.engine.transaction() as tx:
            yield TinyView(tx)

    def generation(self) -> int:
        return self.engine.manifest().generation

    def is_empty(self) -> bool:
        return not self.engine.manifest().segments

    def warm_up(self) -> None:
        """Parse the segment the next event goes to: the first change of a session appends one."""
        self.read().events.warm()
