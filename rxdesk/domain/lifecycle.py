"""The appointment lifecycle: which transitions exist and who may cancel when.

Pure functions: each takes an appointment and returns the changed copy, or raises `Refused`
with the reason an agent reads.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rxdesk.domain.errors import Refused, ValidationFailed
from rxdesk.domain.models import Appointment, AppointmentStatus, AppointmentType, Doctor

S = AppointmentStatus

TRANSITIONS: dict[AppointmentStatus, frozenset[AppointmentStatus]] = {
    S.held: frozenset({S.confirmed, S.expired, S.cancelled}),
    S.confirmed: frozenset({S.cancelled, S.completed, S.no_show}),
    S.cancelled: frozenset(),
    S.expired: frozenset(),
    S.completed: frozenset(),
    S.no_show: frozenset(),
}

REASON_MAX = 500


def can_transition(current: AppointmentStatus, target: AppointmentStatus) -> bool:
    return target in TRANSITIONS[current]


def check_transition(appt: Appointment, target: AppointmentStatus) -> None:
    if not can_transition(appt.status, target):
        raise Refused(
            f"appointment {appt.uid} is {appt.status.value}; it cannot become {target.value}"
        )


def why_not_cancellable(appt: Appointment) -> str | None:
    """The reason an appointment cannot be cancelled at all, or None when it can."""
    if can_transition(appt.status, S.cancelled):
        return None
    return f"appointment {appt.uid} is {appt.status.value}; only held or confirmed ones can be cancelled"


def normalize_reason(reason: object) -> str:
    """A cancellation reason: trimmed, 1..500 characters, one line of printable text."""
    if not isinstance(reason, str):
        raise ValidationFailed("a reason is required")
    text = reason.strip()
    if not text:
        raise ValidationFailed("a reason is required")
    if len(text) > REASON_MAX:
        raise ValidationFailed(f"the reason is {len(text)} characters; at most {REASON_MAX} fit")
    if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in text):
        raise ValidationFailed("the reason must be one line without control characters")
    return text


def _cancelled(appt: Appointment, reason: str, by: str, now: datetime) -> Appointment:
    return appt.model_copy(
        update={
            "status": S.cancelled,
            "cancelled_at": now,
            "cancel_reason": reason,
            "cancelled_by": by,
            "hold_expires_at": None if appt.status is S.confirmed else appt.hold_expires_at,
        }
    )


def admin_cancel(appt: Appointment, reason: object, agent: str, now: datetime) -> Appointment:
    """Admin cancel: held or confirmed only, a reason required, not limited by notice."""
    why = why_not_cancellable(appt)
    if why:
        raise Refused(why)
    return _cancelled(appt, normalize_reason(reason), f"admin:{agent}", now)


def patient_cancel(
    appt: Appointment, appt_type: AppointmentType, by: str, now: datetime
) -> Appointment:
    """Patient/partner cancel: held or confirmed, and at least the type's notice before start."""
    why = why_not_cancellable(appt)
    if why:
        raise Refused(why)
    notice = timedelta(minutes=appt_type.cancellation_notice_minutes)
    if now > appt.starts_at - notice:
        raise Refused(
            f"appointment {appt.uid} starts too soon to cancel: "
            f"{appt_type.name} needs {appt_type.cancellation_notice_minutes} minutes' notice"
        )
    return _cancelled(appt, "cancelled by the patient", by, now)


def confirm(appt: Appointment, now: datetime) -> Appointment:
    """Held -> confirmed, only before the hold expires."""
    check_transition(appt, S.confirmed)
    if appt.hold_expires_at is not None and now >= appt.hold_expires_at:
        raise Refused(f"the hold on appointment {appt.uid} expired; book the slot again")
    return appt.model_copy(
        update={"status": S.confirmed, "confirmed_at": now, "hold_expires_at": None}
    )


def expire(appt: Appointment, now: datetime) -> Appointment:
    """Held -> expired, once hold_expires_at has passed (the worker's job)."""
    check_transition(appt, S.expired)
    if appt.hold_expires_at is None or now < appt.hold_expires_at:
        raise Refused(f"the hold on appointment {appt.uid} has not expired yet")
    return appt.model_copy(update={"status": S.expired})


def finish(appt: Appointment, target: AppointmentStatus) -> Appointment:
    """Confirmed -> completed or no_show."""
    if target not in (S.completed, S.no_show):
        raise Refused(f"{target.value} is not an outcome of an appointment")
    check_transition(appt, target)
    return appt.model_copy(update={"status": target})


def new_appointment(
    *,
    uid: str,
    patient_id: str,
    doctor: Doctor,
    appt_type: AppointmentType,
    starts_at: datetime,
    now: datetime,
    status: AppointmentStatus = S.held,
    previous_uid: str | None = None,
) -> Appointment:
    """A new held or confirmed appointment in a slot: it lasts the type's duration, a hold
    lasts the type's hold TTL from now, and it takes the doctor's persistent meeting room."""
    if status not in (S.held, S.confirmed):
        raise Refused(f"a new appointment is held or confirmed, not {status.value}")
    held = status is S.held
    return Appointment(
        uid=uid,
        patient_id=patient_id,
        doctor_id=doctor.id,
        type_key=appt_type.key,
        status=status,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=appt_type.duration_minutes),
        created_at=now,
        hold_expires_at=now + timedelta(minutes=appt_type.hold_ttl_minutes) if held else None,
        confirmed_at=None if held else now,
        previous_meeting_uid=previous_uid,
        room_url=doctor.room_url,
    )
