"""What the slot generator offers right now, read from the store: shared by patient booking
and agent rebooking, so both refuse the same starts for the same reasons."""

from __future__ import annotations

from datetime import datetime, timedelta

from rxdesk.domain.errors import Conflict, Refused
from rxdesk.domain.ids import FIRST_START, STARTS_BEFORE
from rxdesk.domain.models import AppointmentType, Doctor
from rxdesk.domain.slots import Slot, candidate_slots, free_slots
from rxdesk.domain.times import format_local
from rxdesk.store.protocols import StoreView


def busy_intervals(view: StoreView, doctor_id: str, start: datetime, end: datetime,
                   ignore_uid: str | None = None, *, now: datetime) -> list[tuple[datetime, datetime]]:
    """The doctor's appointments held or confirmed at `now` over [start, end) (a lapsed hold
    frees its slot at once), except `ignore_uid` (the appointment being moved)."""
    return [(a.starts_at, a.ends_at) for a in view.appointments.active_for_doctor(doctor_id, start, end, now)
            if a.uid != ignore_uid]


def open_slots(view: StoreView, doctor: Doctor, appt_type: AppointmentType, *, now: datetime,
               start: datetime, end: datetime, ignore_uid: str | None = None,
               notice_minutes: int | None = None) -> list[Slot]:
    """Free slots of the doctor for the type in [start, end), at least the type's booking notice
    after `now` (or `notice_minutes`: an agent booking for a patient gives none)."""
    busy = busy_intervals(view, doctor.id, start, end + timedelta(minutes=appt_type.duration_minutes), ignore_uid,
                          now=now)
    notice = appt_type.booking_notice_minutes if notice_minutes is None else notice_minutes
    return free_slots(doctor, appt_type.duration_minutes, busy, now=now, booking_notice_minutes=notice,
                      start=start, end=end)


def check_offered(view: StoreView, doctor: Doctor, appt_type: AppointmentType, start: datetime, now: datetime,
                  *, zone: str, ignore_uid: str | None = None, notice_minutes: int | None = None) -> None:
    """The start must be a slot the generator offers now: in the doctor's windows, past the
    booking notice (the type's, or `notice_minutes`), and free of the doctor's active
    appointments (read inside the write)."""
    if not FIRST_START <= start < STARTS_BEFORE:
        raise Refused(f"{start:%Y-%m-%dT%H:%M}Z is not a time appointments can start at "
                      f"(from {FIRST_START:%Y-%m-%d} to {STARTS_BEFORE:%Y-%m-%d})")
    duration = appt_type.duration_minutes
    probe_end = start + timedelta(seconds=1)
    offered = open_slots(view, doctor, appt_type, now=now, start=start, end=probe_end, ignore_uid=ignore_uid,
                         notice_minutes=notice_minutes)
    if any(slot.starts_at == start for slot in offered):
        return
    when = f"{format_local(start, zone)} ({zone})"
    if not any(slot.starts_at == start for slot in candidate_slots(doctor, duration, start, probe_end)):
        raise Refused(
            f"{when} is not a {appt_type.name} slot of {doctor.name}: slots start on the "
            f"{duration}-minute grid of the doctor's windows ({doctor.timezone})"
        )
    notice = appt_type.booking_notice_minutes if notice_minutes is None else notice_minutes
    if start < now + timedelta(minutes=notice):
        if not notice:
            raise Refused(f"{when} has passed")
        raise Refused(f"{when} starts too soon: {appt_type.name} needs {notice} minutes' booking notice")
    raise Conflict(f"{when} is taken: {doctor.name} has another appointment then")
