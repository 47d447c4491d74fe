"""Appointments: the overview's listing, the detail, the admin cancellation and attendance.

Everything read here is as of the service clock's now: a lapsed hold reads as expired and an
ended confirmed appointment as completed (`lifecycle.effective_status`), in rows, details,
counts and filters alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from rxdesk.domain import lifecycle
from rxdesk.domain.enums import AppointmentStatus, EventType, appointment_target
from rxdesk.domain.errors import NotFound, ValidationFailed
from rxdesk.domain.ids import normalize_uid
from rxdesk.domain.limits import format_minutes
from rxdesk.domain.queries import AppointmentQuery, AppointmentRecord, Page
from rxdesk.domain.times import format_local, format_utc, local_day_bounds
from rxdesk.services.base import Service, admin_actor, record
from rxdesk.services.events import appointment_data, publish
from rxdesk.store.protocols import StoreView, UnitOfWork

if TYPE_CHECKING:
    from rxdesk.domain.models import Appointment, AppointmentType, AuditEntry, Delivery, Doctor, Patient, ReminderSent
    from rxdesk.services.filters import FilterText, ParsedFilter

DEFAULT_STATUSES = frozenset(s.value for s in lifecycle.ACTIVE)
PAST_STATUSES = frozenset(s.value for s in lifecycle.PAST)
EVERY_STATUS = frozenset(s.value for s in AppointmentStatus)
# Appointments one cancellation may take at once: a selection, a doctor's fortnight.
MAX_CANCEL = 1000

Span = Literal["upcoming", "past", "dates", "any"]


@dataclass(frozen=True)
class AppointmentFilter:
    """What an agent narrows the overview by (DESIGN: `appointments list`).

    Defaults (`window_of`): active (held or confirmed) appointments that have not ended, in
    progress first. `statuses` replaces the status default, `date_from`/`date_to` (days in the
    org's zone, `date_to` inclusive) replace the time default, and `all` drops whichever default
    was not replaced.
    """

    statuses: frozenset[str] | None = None
    doctor_id: str | None = None
    patient_id: str | None = None
    patient_ids: frozenset[str] | None = None  # any one of these (a name several patients share)
    date_from: date | None = None
    date_to: date | None = None
    all: bool = False


@dataclass(frozen=True)
class ListingWindow:
    """What a filter lists once its defaults are applied (`window_of`): the statuses (None for
    any) and the span of time, `upcoming` (not ended: in progress first, then by start),
    `past` (any time, newest first), `dates` (starting in the days given, by start) or `any`."""

    statuses: frozenset[str] | None
    span: Span
    date_from: date | None = None
    date_to: date | None = None

    @property
    def newest_first(self) -> bool:
        return self.span == "past"

    def text(self) -> str:
        """The window in words, as the app's count line and the command line say it:
        "held, confirmed · not ended"."""
        chosen = self.statuses
        if chosen is None or chosen >= EVERY_STATUS:
            statuses = "any status"
        else:
            statuses = ", ".join(s.value for s in AppointmentStatus if s.value in chosen)
        if self.span == "dates":
            start = f"from {self.date_from.isoformat()}" if self.date_from else "any start"
            end = f"to {self.date_to.isoformat()}" if self.date_to else "any end"
            return f"{statuses} · {start} · {end}"
        return f"{statuses} · " + {"upcoming": "not ended", "past": "any time · newest first",
                                    "any": "any time"}[self.span]


def window_of(f: AppointmentFilter) -> ListingWindow:
    """The filter's defaults, in the one place they are decided (the listing, the app's count
    line and the command line all read them here): no statuses named means held or confirmed
    (unless `all`); no days named means appointments that have not ended yet (in progress
    first), or, when every status named is one only the past has (completed, no_show, expired),
    the past, newest first; `all` drops whichever default was not replaced."""
    statuses = f.statuses if f.statuses else (None if f.all else DEFAULT_STATUSES)
    span: Span
    if f.date_from is not None or f.date_to is not None:
        span = "dates"
    elif f.all:
        span = "any"
    elif statuses is not None and statuses <= PAST_STATUSES:
        span = "past"
    else:
        span = "upcoming"
    return ListingWindow(statuses, span, f.date_from, f.date_to)


class AppointmentRow:
    """One row of a listing: an appointment with the names an agent reads beside it.

    Built over the store's record of the appointment as of now (its effective status); the
    full `Appointment` model is made only when asked for, so listing tens of thousands of rows
    stays cheap.
    """

    __slots__ = ("doctor_name", "in_progress", "patient_name", "record", "type_name")

    def __init__(self, record: AppointmentRecord, doctor_name: str, patient_name: str, type_name: str,
                 in_progress: bool = False) -> None:
        self.record = record
        self.doctor_name = doctor_name
        self.patient_name = patient_name
        self.type_name = type_name
        self.in_progress = in_progress  # active and running as of the listing's now

    def showing(self, appointment: Appointment) -> AppointmentRow:
        """The same row for a changed appointment (the names stay; one that is no longer
        active is no longer in progress)."""
        return AppointmentRow(AppointmentRecord.of(appointment), self.doctor_name, self.patient_name, self.type_name,
                              self.in_progress and appointment.status in lifecycle.ACTIVE)

    @property
    def appointment(self) -> Appointment:
        return self.record.appointment

    @property
    def uid(self) -> str:
        return self.record.uid

    @property
    def status(self) -> AppointmentStatus:
        return self.record.status

    @property
    def starts_at(self) -> datetime:
        return self.record.starts_at

    @property
    def patient_id(self) -> str:
        return self.record.patient_id

    @property
    def doctor_id(self) -> str:
        return self.record.doctor_id

    @property
    def type_key(self) -> str:
        return self.record.type_key

    def next_change(self, now: datetime) -> datetime | None:
        """When time alone next changes this row (it starts, ends, or its hold lapses), after
        `now`, the instant it was listed as of."""
        return self.record.next_change(now)

    def to_json(self) -> dict[str, Any]:
        return self.record.to_json()


@dataclass
class AppointmentDetail:
    appointment: Appointment
    patient: Patient | None
    doctor: Doctor | None
    type: AppointmentType | None
    previous_chain: list[Appointment] = field(default_factory=list)  # nearest first
    next_chain: list[Appointment] = field(default_factory=list)  # nearest first
    audit: list[AuditEntry] = field(default_factory=list)
    reminders_sent: list[ReminderSent] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)  # webhook deliveries of its events
    cancel_refusal: str | None = None  # why a cancel would be refused; None when it can be cancelled
    as_of: datetime | None = None  # the instant it was read as of

    @property
    def in_progress(self) -> bool:
        """Active and running as of the read (`lifecycle.in_progress_at`)."""
        a = self.appointment
        return self.as_of is not None and lifecycle.in_progress_at(a.status, a.starts_at, a.ends_at, self.as_of)

    @property
    def next_change(self) -> datetime | None:
        """When time alone next changes how it reads (it starts, ends, or its hold lapses)."""
        a = self.appointment
        if self.as_of is None:
            return None
        changes: datetime | None = lifecycle.next_change_at(a.status, a.starts_at, a.ends_at, a.hold_expires_at,
                                                            self.as_of)
        return changes

    def to_json(self) -> dict[str, Any]:
        data = self.appointment.to_json()  # as of now: the effective status
        data["next_meeting_uid"] = self.next_chain[0].uid if self.next_chain else None
        data["patient"] = self.patient.to_json() if self.patient else None
        data["doctor"] = (
            self.doctor.to_json(include={"id", "name", "email", "timezone", "room_url"})
            if self.doctor
            else None
        )
        data["type"] = self.type.to_json(exclude={"reminders"}) if self.type else None
        data["rebook_chain"] = {
            "previous": [a.uid for a in self.previous_chain],
            "next": [a.uid for a in self.next_chain],
        }
        data["audit"] = [e.to_json() for e in self.audit]
        data["reminders_sent"] = [r.to_json() for r in self.reminders_sent]
        data["deliveries"] = [d.to_json() for d in self.deliveries]
        return data


@dataclass(frozen=True)
class AppointmentSummary:
    appointment: Appointment
    patient_name: str
    doctor_name: str
    type_name: str
    zone: str  # the organisation's, for showing times
    cancel_refusal: str | None  # why a cancel would be refused; None when it can be cancelled
    # Attendance an agent could mark now: (no_show or completed, why not or None when it can).
    attendance: tuple[tuple[AppointmentStatus, str | None], ...] = ()
    # Said beside a cancel, never a refusal: the patient's own notice period has passed.
    notice_note: str | None = None

    @property
    def markable(self) -> list[AppointmentStatus]:
        return [status for status, why in self.attendance if why is None]

    def text(self) -> str:
        appt = self.appointment
        return (f"{self.patient_name} with {self.doctor_name}, {format_local(appt.starts_at, self.zone)}\n"
                f"{self.type_name} · {appt.status.value} · {appt.uid}")


class AppointmentService(Service):
    def _query(
        self, view: StoreView, f: AppointmentFilter, *, offset: int, limit: int | None, count: bool,
        brief: bool = False,
    ) -> AppointmentQuery:
        if f.doctor_id is not None and view.doctors.get(f.doctor_id) is None:
            raise NotFound(f"no doctor {f.doctor_id!r}")
        if f.patient_id is not None and view.patients.get(f.patient_id) is None:
            raise NotFound(f"no patient {f.patient_id!r}")
        window = window_of(f)
        now = self.now()
        starts_from: datetime | None = None
        starts_before: datetime | None = None
        if window.span == "dates":
            tz = self.org(view).timezone
            if f.date_from is not None:
                starts_from = local_day_bounds(f.date_from, tz)[0]
            if f.date_to is not None:
                starts_before = local_day_bounds(f.date_to, tz)[1]
        return AppointmentQuery(
            statuses=window.statuses,
            doctor_id=f.doctor_id,
            patient_id=f.patient_id,
            patient_ids=f.patient_ids,
            starts_from=starts_from,
            starts_before=starts_before,
            ends_after=now if window.span == "upcoming" else None,
            offset=offset,
            limit=limit,
            descending=window.newest_first,
            count=count,
            as_of=now,
            brief=brief,
        )

    def list_appointments(
        self,
        f: AppointmentFilter | None = None,
        *,
        offset: int = 0,
        limit: int | None = None,
        count: bool = True,
        brief: bool = False,
    ) -> Page[AppointmentRow]:
        """Appointments matching the filter in its window (`window_of`): by start, or newest
        first for the past; with names resolved and those running now marked in progress.
        `brief`: rows for printing only, without `appointment` or `to_json`
        (`AppointmentQuery.brief`)."""
        with self.store.read() as view:
            query = self._query(view, f or AppointmentFilter(), offset=offset, limit=limit, count=count,
                                brief=brief)
            page = view.appointments.search(query)
            return Page(rows(view, page.items, query.as_of or self.now()), page.total, page.offset, page.limit)

    def get(self, uid: str) -> Appointment:
        """The appointment as stored; `show` and `summary` give it as of now."""
        with self.store.read() as view:
            return view.appointments.require(uid)

    def show(self, uid: str) -> AppointmentDetail:
        """Everything about one appointment as of now: people, type, rebook chain, audit,
        reminders."""
        from rxdesk.domain.sending import with_message_states  # the detail page's alone (it reads addresses)

        now = self.now()
        with self.store.read() as view:
            appt = view.appointments.require(uid)
            previous: list[Appointment] = []
            cursor = appt
            seen = {appt.uid}
            while cursor.previous_meeting_uid and cursor.previous_meeting_uid not in seen:
                prior = view.appointments.get(cursor.previous_meeting_uid)
                if prior is None:
                    break
                previous.append(prior)
                seen.add(prior.uid)
                cursor = prior
            following: list[Appointment] = []
            nxt = view.appointments.successor_of(appt.uid)
            while nxt and nxt not in seen:
                later = view.appointments.get(nxt)
                if later is None:
                    break
                following.append(later)
                seen.add(later.uid)
                nxt = view.appointments.successor_of(later.uid)
            return AppointmentDetail(
                appointment=lifecycle.as_of(appt, now),
                patient=view.patients.get(appt.patient_id),
                doctor=view.doctors.get(appt.doctor_id),
                type=view.types.get(appt.type_key),
                previous_chain=[lifecycle.as_of(a, now) for a in previous],
                next_chain=[lifecycle.as_of(a, now) for a in following],
                audit=view.audit.for_target(appointment_target(appt.uid)),
                reminders_sent=with_message_states(view.reminders_sent.for_appointment(appt.uid), view.messages.get),
                deliveries=view.deliveries.for_appointment(appt.uid),
                cancel_refusal=lifecycle.why_not_cancellable(appt, now),
                as_of=now,
            )

    def parse_filter(self, text: FilterText, *, names: Mapping[str, str] | None = None,
                     overview: bool = False, every_patient_named: bool = False) -> ParsedFilter:
        """The filter an agent typed (`services.filters`): one error per bad field, and the
        doctors or patients the texts matched. `names` says how a refusal names each field
        (the app's labels by default); `overview` reads the app's fields as they say, and
        `every_patient_named` lists every patient a name several share, as the app does
        (see `parse_filter_text`)."""
        from rxdesk.services.filters import FIELD_NAMES, parse_filter_text

        return parse_filter_text(self, text, names=names or FIELD_NAMES, overview=overview,
                                 every_patient_named=every_patient_named)

    def summary(self, uid: str) -> AppointmentSummary:
        """One appointment as of now with the names an agent reads beside it, whether it can
        be cancelled and which attendance it can be marked with: what a dialog shows. Reads no
        patient records, only names."""
        return self.summaries([uid])[0]

    def summaries(self, uids: Sequence[str]) -> list[AppointmentSummary]:
        """`summary` of several appointments (a selection), by start, from one read."""
        now = self.now()
        with self.store.read() as view:
            appts = sorted((view.appointments.require(uid) for uid in dict.fromkeys(uids)),
                           key=lambda a: (a.starts_at, a.uid))
            listed = rows(view, [AppointmentRecord.of(appt) for appt in appts], now)
            zone_name = self.org(view).timezone
            kinds = {appt.type_key: view.types.get(appt.type_key) for appt in appts}
            successors = {appt.uid: _successor(view, appt) for appt in appts}
        return [
            AppointmentSummary(
                lifecycle.as_of(appt, now), row.patient_name, row.doctor_name, row.type_name, zone_name,
                lifecycle.why_not_cancellable(appt, now),
                tuple((status, lifecycle.why_not_markable(appt, status, now, successors[appt.uid]))
                      for status in lifecycle.ATTENDANCE),
                _notice_note(appt, kinds.get(appt.type_key), now),
            )
            for appt, row in zip(appts, listed, strict=True)
        ]

    def why_not_cancellable(self, uid: str) -> str | None:
        return lifecycle.why_not_cancellable(self.get(uid), self.now())

    def cancel_appointment(self, uid: str, reason: str, agent: str) -> Appointment:
        """Admin cancel: held or confirmed that has not ended, with a reason (1..500
        characters), before or after the start. Writes APPOINTMENT_CANCELLED and an audit
        entry with it."""
        return self.cancel_appointments([uid], reason, agent)[0]

    def cancel_appointments(self, uids: Sequence[str], reason: str, agent: str) -> list[Appointment]:
        """Admin cancel of several appointments in one write, all or none: each must be
        cancellable (held or confirmed that has not ended); the first that is not is named in
        the refusal and nothing changes. One APPOINTMENT_CANCELLED event and one audit entry
        per appointment. A uid given twice is cancelled once."""
        wanted = list(dict.fromkeys(normalize_uid(str(u)) for u in uids))
        if not wanted:
            raise ValidationFailed("name at least one appointment to cancel")
        if len(wanted) > MAX_CANCEL:
            raise ValidationFailed(f"{len(wanted):,} appointments at once; at most {MAX_CANCEL:,}")
        text = lifecycle.normalize_reason(reason)
        actor = admin_actor(agent)
        with self.store.write() as view:
            now = self.now()
            return [cancel(view, view.appointments.require(uid), text, actor, now) for uid in wanted]

    def mark_attendance(self, uid: str, status: str, reason: str, agent: str) -> Appointment:
        """Attendance (admin): `no_show` (the patient did not attend) or `completed`, for a
        confirmed appointment that has started, or as a correction of a completed or no_show
        one up to 7 days after its end; never before the start; a missed one that was rebooked is
        not corrected to completed while the appointment it was rebooked to stands (cancel that
        one first). A reason is required (stored in
        `attendance_note`, with `attendance_by` and `attendance_at`). Writes
        APPOINTMENT_NO_SHOW or APPOINTMENT_COMPLETED and an audit entry with it."""
        target = lifecycle.parse_attendance(status)
        text = lifecycle.normalize_reason(reason)
        actor = admin_actor(agent)
        with self.store.write() as view:
            now = self.now()
            appt = view.appointments.require(uid)
            marked = lifecycle.mark_attendance(appt, target, text, actor, now, _successor(view, appt))
            view.appointments.put(marked)
            no_show = target is AppointmentStatus.no_show
            event = EventType.APPOINTMENT_NO_SHOW if no_show else EventType.APPOINTMENT_COMPLETED
            publish(view, event, appointment_data(marked, reason=text, marked_by=marked.attendance_by), now)
            record(
                view,
                at=now,
                actor=actor,
                action="appointment.mark",
                target=appointment_target(appt.uid),
                details={"from_status": lifecycle.effective_status(appt, now).value, "to_status": target.value,
                         "reason": text},
            )
        return marked


def _successor(view: StoreView, appt: Appointment) -> Appointment | None:
    """The appointment a missed one was rebooked to (only a no_show keeps its own status when
    rebooked, so only its successor can still stand beside it)."""
    if appt.status is not AppointmentStatus.no_show:
        return None
    uid = view.appointments.successor_of(appt.uid)
    return view.appointments.get(uid) if uid else None


def _notice_note(appt: Appointment, kind: AppointmentType | None, now: datetime) -> str | None:
    """Said beside a cancel, never a refusal: the patient's own notice period has passed."""
    if kind is None or lifecycle.why_not_cancellable(appt, now) or not lifecycle.notice_passed(appt, kind, now):
        return None
    return (f"The patient's notice period ({format_minutes(kind.cancellation_notice_minutes)} before the start) "
            "has passed: the patient could no longer cancel; as an admin you still may.")


def rows(view: StoreView, records: Sequence[AppointmentRecord], now: datetime) -> list[AppointmentRow]:
    """Listing rows for these appointments as of `now` (their effective status), with the
    doctor's, patient's and type's names."""
    doctors = view.doctors.names()
    types = view.types.names()
    keys = [r.keys for r in records]  # a listing of tens of thousands of rows: nothing looked up twice
    patients = view.patients.names_of({patient for _, patient, _ in keys})
    at = format_utc(now)
    found = []
    for r, (doctor, patient, type_key) in zip(records, keys, strict=True):
        record = r.as_of(at)
        found.append(AppointmentRow(record, doctors.get(doctor, doctor), patients.get(patient, patient),
                                    types.get(type_key, type_key), record.in_progress(at)))
    return found


def cancel(view: UnitOfWork, appt: Appointment, reason: str, actor: str, now: datetime) -> Appointment:
    """Admin cancel inside the caller's write, with its event and audit entry (`reason` is
    already a checked reason)."""
    cancelled = lifecycle.admin_cancel(appt, reason, actor, now)
    view.appointments.put(cancelled)
    publish(view, EventType.APPOINTMENT_CANCELLED,
            appointment_data(cancelled, reason=reason, cancelled_by=cancelled.cancelled_by), now)
    record(view, at=now, actor=actor, action="appointment.cancel", target=appointment_target(appt.uid),
           details={"from_status": appt.status.value, "reason": reason})
    return cancelled
