"""Rebooking on behalf of a patient (DESIGN: Appointment lifecycle, Rebook; Meeting rooms).

From held or confirmed that has not ended, or from no_show (a missed appointment moved to a
new slot); never from completed. The new slot must be one the slot generator offers now: in
the doctor's windows, free, at least the booking notice from now. `same_doctor` keeps the
doctor; `any_doctor` lets any doctor offering the type take it. One write makes the new
appointment (linked back with `previous_meeting_uid`, the new doctor's room; a held original
gives a fresh hold, a confirmed or no_show one a confirmed appointment) and cancels a held or
confirmed original with a reason naming the new uid (a no_show original stays no_show), with
APPOINTMENT_REBOOKED and audit entries for both: both or neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rxdesk.domain import lifecycle
from rxdesk.domain.errors import Refused
from rxdesk.domain.ids import new_appointment_uid, normalize_uid
from rxdesk.domain.limits import SLOT_DAYS, whole_within
from rxdesk.domain.models import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Doctor,
    EventType,
    RebookingMode,
    appointment_target,
)
from rxdesk.domain.slots import SlotDiagnosis, diagnose
from rxdesk.domain.times import format_utc, to_utc, zone
from rxdesk.services.availability import busy_intervals, check_offered, open_slots
from rxdesk.services.base import Service, admin_actor, record
from rxdesk.services.events import publish
from rxdesk.services.lifecycle import expire_lapsed, lapsed_holds
from rxdesk.store.protocols import StoreView, UnitOfWork

MAX_DAYS = SLOT_DAYS[1]


@dataclass(frozen=True)
class OpenSlot:
    doctor_id: str
    doctor_name: str
    starts_at: datetime
    ends_at: datetime
    doctor_zone: str = "UTC"  # the doctor's own, for the doctor's local time beside the org's

    def to_json(self) -> dict[str, str]:
        return {"doctor_id": self.doctor_id, "starts_at": self.starts_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "ends_at": self.ends_at.strftime("%Y-%m-%dT%H:%M:%SZ")}


@dataclass(frozen=True)
class SlotChoice:
    """What the rebook screen shows: the appointment, its type's mode, and the open slots."""

    appointment: Appointment
    appointment_type: AppointmentType
    slots: list[OpenSlot]
    zone: str
    patient_name: str = ""
    doctor_name: str = ""


DAY_PARTS = {"morning": (0, 12), "afternoon": (12, 17), "evening": (17, 24)}


def by_time(slots: list[OpenSlot]) -> list[OpenSlot]:
    """Slots in the order an agent offers them: the earliest first, across doctors (ties by
    the doctor's name)."""
    return sorted(slots, key=lambda s: (s.starts_at, s.doctor_name.casefold(), s.doctor_id))


def match_slots(slots: list[OpenSlot], text: str, zone_name: str) -> list[OpenSlot]:
    """The slots an agent's typed words pick out, every word matching: part of the doctor's
    name, a day (`tue`, `24`, `2026-11-24`), a time (`09`, `09:30`), or `morning`,
    `afternoon`, `evening` (days and times in the organisation's zone)."""
    words = text.casefold().split()
    if not words:
        return slots
    tz = zone(zone_name)

    def matches(slot: OpenSlot, word: str) -> bool:
        local = slot.starts_at.astimezone(tz)
        if word in DAY_PARTS:
            low, high = DAY_PARTS[word]
            return low <= local.hour < high
        if ":" in word:  # a time: 9:30, 09:3
            return f"{local:%H:%M}".startswith(word if word.index(":") == 2 else f"0{word}")
        if word.isdigit() and len(word) <= 2:  # the day of the month or the hour
            return int(word) in (local.day, local.hour)
        if word[:1].isdigit():  # a date: 2026-11-24, 2026-11
            return f"{local:%Y-%m-%d}".startswith(word)
        return (word in slot.doctor_name.casefold() or f"{local:%A}".casefold().startswith(word))

    return [slot for slot in slots if all(matches(slot, word) for word in words)]


def _days(days: object) -> int:
    return whole_within(days, SLOT_DAYS, what="days")


class RebookingService(Service):
    def _movable(self, view: StoreView, uid: str, now: datetime) -> tuple[Appointment, AppointmentType]:
        appt = view.appointments.require(normalize_uid(uid) if isinstance(uid, str) else uid)
        why = lifecycle.why_not_rebookable(appt, now)
        if why:
            raise Refused(why)
        if appt.status is AppointmentStatus.no_show:
            # A missed appointment stays as it was: it can be moved once, not twice.
            successor = view.appointments.successor_of(appt.uid)
            if successor:
                raise Refused(f"appointment {appt.uid} was already rebooked to {successor}")
        return appt, view.types.require(appt.type_key)

    def _doctors(self, view: StoreView, appt: Appointment, appt_type: AppointmentType,
                 doctor_id: str | None) -> list[Doctor]:
        """The doctors the type's rebooking mode allows, narrowed to `doctor_id` when given."""
        if appt_type.rebooking_mode is RebookingMode.same_doctor:
            if doctor_id and doctor_id.strip() != appt.doctor_id:
                raise Refused(f"{appt_type.name} is rebooked with the same doctor only ({appt.doctor_id})")
            return [view.doctors.require(appt.doctor_id)]
        if doctor_id:
            doctor = view.doctors.require(doctor_id.strip())
            if appt_type.key not in doctor.appointment_types:
                raise Refused(f"{doctor.name} does not offer {appt_type.name} ({appt_type.key})")
            return [doctor]
        return sorted((d for d in view.doctors.all() if appt_type.key in d.appointment_types),
                      key=lambda d: (d.id != appt.doctor_id, d.name.casefold(), d.id))

    def slots(self, uid: str, *, days: object = 14, doctor_id: str | None = None) -> SlotChoice:
        """Open slots for moving this appointment over the next `days`, by doctor then start
        (the appointment's own doctor first). Its own time counts as free: it moves."""
        span = _days(days)
        with self.store.read() as view:
            now = self.now()
            appt, appt_type = self._movable(view, uid, now)
            end = now + timedelta(days=span)
            found: list[OpenSlot] = []
            for doctor in self._doctors(view, appt, appt_type, doctor_id):
                for slot in open_slots(view, doctor, appt_type, now=now, start=now, end=end, ignore_uid=appt.uid):
                    if doctor.id == appt.doctor_id and slot.starts_at == appt.starts_at:
                        continue  # where it already is
                    found.append(OpenSlot(doctor.id, doctor.name, slot.starts_at, slot.ends_at, doctor.timezone))
            patient = view.patients.get(appt.patient_id)
            own = view.doctors.get(appt.doctor_id)
            return SlotChoice(appt, appt_type, found, self.org(view).timezone,
                              patient.name if patient else appt.patient_id, own.name if own else appt.doctor_id)

    def rebook(self, uid: str, starts_at: datetime, *, doctor_id: str | None = None, agent: str) -> Appointment:
        """Move the appointment to `starts_at` (with `doctor_id`, or its own doctor)."""
        start = to_utc(starts_at)
        actor = admin_actor(agent)
        with self.store.write() as view:
            now = self.now()
            appt, appt_type = self._movable(view, uid, now)
            (doctor,) = self._doctors(view, appt, appt_type, doctor_id or appt.doctor_id)
            return move(view, appt, appt_type, doctor, start, now, actor, zone=self.org(view).timezone)

    def diagnose(self, doctor_id: str, type_key: str, *, days: object = 14) -> SlotDiagnosis:
        """Why patients see (no) slots for this doctor and type over the next `days`."""
        span = _days(days)
        with self.store.read() as view:
            doctor = view.doctors.require(str(doctor_id).strip())
            appt_type = view.types.require(str(type_key).strip())
            now = self.now()
            end = now + timedelta(days=span)
            busy = busy_intervals(view, doctor.id, now, end + timedelta(minutes=appt_type.duration_minutes),
                                  now=now)
            return diagnose(doctor, appt_type.key, appt_type.duration_minutes, busy, now=now,
                            booking_notice_minutes=appt_type.booking_notice_minutes, start=now, end=end)

    def preview(self, doctor_id: str, *, days: object = 14) -> dict[str, list[OpenSlot]]:
        """Open slots per offered type over the next `days` (the doctor detail's preview)."""
        span = _days(days)
        with self.store.read() as view:
            doctor = view.doctors.require(str(doctor_id).strip())
            now = self.now()
            result: dict[str, list[OpenSlot]] = {}
            for key in doctor.appointment_types:
                appt_type = view.types.get(key)
                if appt_type is None:
                    continue
                slots = open_slots(view, doctor, appt_type, now=now, start=now, end=now + timedelta(days=span))
                result[key] = [OpenSlot(doctor.id, doctor.name, s.starts_at, s.ends_at, doctor.timezone) for s in slots]
            return result


def check_move(view: StoreView, appt: Appointment, appt_type: AppointmentType, doctor: Doctor, start: datetime,
               now: datetime, *, zone: str) -> list[Appointment]:
    """The reads of a rebook: `start` must be a slot the generator offers `doctor` now (the
    appointment's own time counts as free). Returns the lapsed holds lying there, which the
    move writes down as expired. The caller has checked that the appointment may move to this
    doctor."""
    if doctor.id == appt.doctor_id and start == appt.starts_at:
        raise Refused(f"appointment {appt.uid} is already at that time with {doctor.name}")
    check_offered(view, doctor, appt_type, start, now, zone=zone, ignore_uid=appt.uid)
    return lapsed_holds(view, doctor.id, start, start + timedelta(minutes=appt_type.duration_minutes), now)


def write_move(view: UnitOfWork, appt: Appointment, appt_type: AppointmentType, doctor: Doctor, start: datetime,
               now: datetime, actor: str, *, lapsed: list[Appointment], why: str = "") -> Appointment:
    """The writes of a rebook, after `check_move`: the linked new appointment (the original's
    status, the new doctor's room), a held or confirmed original cancelled with a reason naming
    the new uid (and `why`, when the move has one beyond the patient's wish), the `lapsed` holds
    expired, APPOINTMENT_REBOOKED and the audit entries."""
    new = lifecycle.new_appointment(
        uid=new_appointment_uid(start), patient_id=appt.patient_id, doctor=doctor, appt_type=appt_type,
        starts_at=start, now=now, status=lifecycle.rebooked_status(appt), previous_uid=appt.uid,
    )
    # Named before either is written: a store may write the link with the original.
    view.appointments.link_successor(appt.uid, new.uid)
    written = []  # the original cancelled, then the new one (which may take the original's time)
    if appt.status is AppointmentStatus.no_show:
        previous = appt
    else:
        reason = f"rebooked to {new.uid}"
        if why:
            reason = f"{reason}: {why}"[:lifecycle.REASON_MAX]
        previous = lifecycle.admin_cancel(appt, reason, actor, now)
        written.append(previous)
    if lapsed:
        view.appointments.put_each(written)
        written = []
        expire_lapsed(view, lapsed, now, actor)
    view.appointments.put_each([*written, new])
    publish(view, EventType.APPOINTMENT_REBOOKED, {"appointment": new.to_json(), "previous": previous.to_json()}, now)
    details = {"from": appt.uid, "to": new.uid, "doctor_id": doctor.id, "starts_at": format_utc(new.starts_at)}
    if why:
        details["why"] = why
    record(view, at=now, actor=actor, action="appointment.rebook", target=appointment_target(appt.uid),
           details=details)
    record(view, at=now, actor=actor, action="appointment.rebooked_from", target=appointment_target(new.uid),
           details=details)
    return new


def move(view: UnitOfWork, appt: Appointment, appt_type: AppointmentType, doctor: Doctor, start: datetime,
         now: datetime, actor: str, *, zone: str) -> Appointment:
    """A rebook inside the caller's write: `check_move`, then `write_move`."""
    lapsed = check_move(view, appt, appt_type, doctor, start, now, zone=zone)
    return write_move(view, appt, appt_type, doctor, start, now, actor, lapsed=lapsed)
