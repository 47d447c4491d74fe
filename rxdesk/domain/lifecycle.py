"""The appointment lifecycle: which transitions exist, what time does to a status, who may
cancel, rebook or mark attendance when.

Pure functions: each takes an appointment (and the instant it happens at) and returns the
changed copy, or raises `Refused` with the reason an agent reads.

Time moves the state: a hold past `hold_expires_at` IS expired and a confirmed appointment past
`ends_at` IS completed, for every read and every rule, before anything writes it down.
`effective_status` is that rule; every rule below starts from it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rxdesk.domain.enums import AppointmentStatus
from rxdesk.domain.errors import Refused, ValidationFailed
from rxdesk.domain.terminal import has_control

if TYPE_CHECKING:
    from rxdesk.domain.models import Appointment, AppointmentType, Doctor

S = AppointmentStatus

TRANSITIONS: dict[AppointmentStatus, frozenset[AppointmentStatus]] = {
    S.held: frozenset({S.confirmed, S.expired, S.cancelled}),
    S.confirmed: frozenset({S.cancelled, S.completed, S.no_show}),
    S.cancelled: frozenset(),
    S.expired: frozenset(),
    # Attendance corrections, within CORRECTION_WINDOW of the end.
    S.completed: frozenset({S.no_show}),
    S.no_show: frozenset({S.completed}),
}

# Held or confirmed: the one definition of "active" (a slot taken, a listing's default); both
# stores build their conditions from it. A StrEnum set, so stored strings are members too.
ACTIVE: frozenset[AppointmentStatus] = frozenset({S.held, S.confirmed})
# The statuses an appointment only has once it is over (or its hold is): a filter naming only
# these lists the past, newest first.
PAST: frozenset[AppointmentStatus] = frozenset({S.completed, S.no_show, S.expired})
ATTENDANCE = (S.no_show, S.completed)
REASON_MAX = 500
CORRECTION_WINDOW = timedelta(days=7)
# An appointment lasts at most this long (`AppointmentType.duration_minutes` <= 720): one that
# has not ended at an instant started at most this long before it.
LONGEST_APPOINTMENT = timedelta(minutes=720)
ADMIN_PREFIX = "admin:"

_BY_VALUE = {s.value: s for s in S}
# What time does to a stored status: the instant field from which on (`now >= it`) it is
# another status; a field left empty never arrives. `status_at` applies it; the PostgreSQL store
# builds its conditions from it.
TIME_MOVES: dict[AppointmentStatus, tuple[str, AppointmentStatus]] = {
    S.held: ("hold_expires_at", S.expired),
    S.confirmed: ("ends_at", S.completed),
}


def admin_actor(agent: str) -> str:
    """How an agent appears in `cancelled_by`, `attendance_by` and the audit log:
    `admin:<agent>`; an actor already named (`admin:bob`, `worker:…`) stays as it is."""
    return agent if ":" in agent else f"{ADMIN_PREFIX}{agent}"


def status_at(status: Any, hold_expires_at: Any, ends_at: Any, now: Any) -> AppointmentStatus:
    """The status an appointment has at `now`, from its stored status and times
    (`status_value_at`, as the enumeration)."""
    return _BY_VALUE[status_value_at(status, hold_expires_at, ends_at, now)]


def status_value_at(status: str, hold_expires_at: Any, ends_at: Any, now: Any) -> str:
    """The value of the status an appointment has at `now`, from its stored status and times.

    held with `now >= hold_expires_at` -> expired; confirmed with `now >= ends_at` ->
    completed; anything else as stored. The instants may be datetimes or all stored-form
    strings (`YYYY-MM-DDTHH:MM:SSZ`, which sort as the instants do), so the store applies this
    very rule to documents without parsing them, and a listing of tens of thousands of rows
    without making an enumeration member per row.
    """
    if status == "held":
        return "expired" if hold_expires_at is not None and now >= hold_expires_at else "held"
    if status == "confirmed":
        return "completed" if now >= ends_at else "confirmed"
    return status


def in_progress_at(status: Any, starts_at: Any, ends_at: Any, now: Any) -> bool:
    """True while an appointment that is active at `now` (its status from `status_at`) runs:
    `starts_at <= now < ends_at`. Datetimes, or all stored-form strings, as for `status_at`."""
    return status in ACTIVE and starts_at <= now < ends_at


def next_change_at(status: Any, starts_at: Any, ends_at: Any, hold_expires_at: Any, now: Any) -> Any:
    """The first instant after `now` at which time alone changes how an appointment reads: its
    start (in progress), its end (no longer in progress; a confirmed one completed), a hold's
    expiry (expired). None when nothing is left for time to change. `status` is the one
    `status_at` gives at `now`; datetimes, or all stored-form strings, as for `status_at`."""
    if status not in ACTIVE:
        return None
    coming = [starts_at, ends_at]
    if status == S.held and hold_expires_at is not None:
        coming.append(hold_expires_at)
    return min((instant for instant in coming if instant > now), default=None)


def effective_status(appt: Appointment, now: datetime) -> AppointmentStatus:
    """What the appointment is at `now`: its stored status with time applied (`status_at`)."""
    return status_at(appt.status, appt.hold_expires_at, appt.ends_at, now)


def as_of(appt: Appointment, now: datetime) -> Appointment:
    """The appointment as every reader sees it at `now`: its effective status in `status`."""
    status = effective_status(appt, now)
    return appt if status is appt.status else appt.model_copy(update={"status": status})


def can_transition(current: AppointmentStatus, target: AppointmentStatus) -> bool:
    return target in TRANSITIONS[current]


def check_transition(appt: Appointment, target: AppointmentStatus) -> None:
    if not can_transition(appt.status, target):
        raise Refused(
            f"appointment {appt.uid} is {appt.status.value}; it cannot become {target.value}"
        )


def _lapsed(appt: Appointment, status: AppointmentStatus) -> bool:
    return appt.status is S.held and status is S.expired


def why_not_cancellable(appt: Appointment, now: datetime) -> str | None:
    """Why an agent cannot cancel the appointment at `now`, or None when it can: held or
    confirmed that has not ended."""
    status = effective_status(appt, now)
    if _lapsed(appt, status):
        return f"the hold on appointment {appt.uid} expired; there is nothing left to cancel"
    if status is S.completed or (status in ACTIVE and now >= appt.ends_at):
        return f"appointment {appt.uid} has ended; mark it no_show instead"
    if status not in ACTIVE:
        return f"appointment {appt.uid} is {status.value}; only held or confirmed ones can be cancelled"
    return None


def why_not_rebookable(appt: Appointment, now: datetime) -> str | None:
    """Why an agent cannot rebook the appointment at `now`, or None when it can: held or
    confirmed that has not ended, or no_show (a missed appointment moved to a new slot)."""
    status = effective_status(appt, now)
    if _lapsed(appt, status):
        # Gone for the patient: moving it would revive it as a fresh hold.
        return f"the hold on appointment {appt.uid} expired; book a new appointment instead"
    if status is S.no_show:
        return None
    if status is S.completed:
        return f"appointment {appt.uid} is completed; a completed appointment cannot be rebooked"
    if status in ACTIVE and now >= appt.ends_at:
        return f"appointment {appt.uid} has ended; it cannot be rebooked"
    if status not in ACTIVE:
        return f"appointment {appt.uid} is {status.value}; only held, confirmed or no_show ones can be rebooked"
    return None


def rebooked_status(appt: Appointment) -> AppointmentStatus:
    """The status of the new appointment a rebook makes: a hold stays a hold, a confirmed or
    missed (no_show) appointment becomes a confirmed one."""
    return S.held if appt.status is S.held else S.confirmed


def normalize_reason(reason: object) -> str:
    """A reason (cancellation, attendance): trimmed, 1..500 characters, one printable line."""
    if not isinstance(reason, str):
        raise ValidationFailed("a reason is required")
    text = reason.strip()
    if not text:
        raise ValidationFailed("a reason is required")
    if len(text) > REASON_MAX:
        raise ValidationFailed(f"the reason is {len(text)} characters; at most {REASON_MAX} fit")
    if has_control(text):
        raise ValidationFailed("the reason must be one line without control characters or bidi overrides")
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
    """Admin cancel: held or confirmed that has not ended, a reason required, not limited by
    notice."""
    why = why_not_cancellable(appt, now)
    if why:
        raise Refused(why)
    return _cancelled(appt, normalize_reason(reason), admin_actor(agent), now)


def notice_passed(appt: Appointment, appt_type: AppointmentType, now: datetime) -> bool:
    """True once the patient may no longer cancel: less than the type's cancellation notice
    before the start. (An admin may cancel anyway.)"""
    return now > appt.starts_at - timedelta(minutes=appt_type.cancellation_notice_minutes)


def patient_cancel(
    appt: Appointment, appt_type: AppointmentType, by: str, now: datetime
) -> Appointment:
    """Patient/partner cancel: held or confirmed, and at least the type's notice before start."""
    why = why_not_cancellable(appt, now)
    if why:
        raise Refused(why)
    if notice_passed(appt, appt_type, now):
        raise Refused(
            f"appointment {appt.uid} starts too soon to cancel: "
            f"{appt_type.name} needs {appt_type.cancellation_notice_minutes} minutes' notice"
        )
    return _cancelled(appt, "cancelled by the patient", by, now)


def confirm(appt: Appointment, now: datetime) -> Appointment:
    """Held -> confirmed, only before the hold expires and before the appointment ends."""
    status = effective_status(appt, now)
    if _lapsed(appt, status):
        raise Refused(f"the hold on appointment {appt.uid} expired; book the slot again")
    if status is not S.held:
        raise Refused(f"appointment {appt.uid} is {status.value}; it cannot become confirmed")
    if now >= appt.ends_at:
        raise Refused(f"appointment {appt.uid} has ended; it can no longer be confirmed")
    return appt.model_copy(
        update={"status": S.confirmed, "confirmed_at": now, "hold_expires_at": None}
    )


def expire(appt: Appointment, now: datetime) -> Appointment:
    """Held -> expired, once hold_expires_at has passed: writes down what time decided."""
    check_transition(appt, S.expired)
    if effective_status(appt, now) is not S.expired:
        raise Refused(f"the hold on appointment {appt.uid} has not expired yet")
    return appt.model_copy(update={"status": S.expired})


def complete(appt: Appointment, now: datetime) -> Appointment:
    """Confirmed -> completed, once it has ended: writes down what time decided."""
    check_transition(appt, S.completed)
    if effective_status(appt, now) is not S.completed:
        raise Refused(f"appointment {appt.uid} has not ended yet")
    return appt.model_copy(update={"status": S.completed})


def parse_attendance(value: object) -> AppointmentStatus:
    """`no_show` or `completed`, as an agent types it."""
    text = str(value or "").strip().lower()
    if text not in {s.value for s in ATTENDANCE}:
        raise ValidationFailed(f"attendance {text[:40]!r} is not no_show or completed")
    return S(text)


def why_not_markable(appt: Appointment, target: AppointmentStatus, now: datetime,
                     successor: Appointment | None = None) -> str | None:
    """Why the appointment cannot be marked `target` (no_show or completed) at `now`, or None.

    A confirmed appointment that has started can be marked either; a completed or no_show one
    can be corrected to the other up to CORRECTION_WINDOW after its end. Nothing is marked
    before its start. A missed appointment that was rebooked (`successor`, the one it was
    rebooked to) is not corrected to completed while that one still stands: the patient would
    have two appointments for one visit; cancel it first (a cancelled or lapsed one is gone).
    """
    status = effective_status(appt, now)
    if status not in (S.confirmed, S.completed, S.no_show):
        what = "its hold expired" if _lapsed(appt, status) else f"it is {status.value}"
        return f"appointment {appt.uid} cannot be marked: {what}; only a confirmed appointment that has started can"
    if now < appt.starts_at:
        return f"appointment {appt.uid} has not started yet; attendance is marked once it has"
    if status is target:
        return f"appointment {appt.uid} is already {target.value}"
    if status is not S.confirmed and now > appt.ends_at + CORRECTION_WINDOW:
        return (f"appointment {appt.uid} ended more than {CORRECTION_WINDOW.days} days ago; "
                "its attendance can no longer be corrected")
    if status is S.no_show and target is S.completed and successor is not None:
        later = effective_status(successor, now)
        if later in ACTIVE:
            return f"appointment {appt.uid} was rebooked to {successor.uid}; cancel that one first"
        if later not in (S.cancelled, S.expired):
            return (f"appointment {appt.uid} was rebooked to {successor.uid}, which is {later.value}; "
                    "a missed appointment that was made up cannot be marked completed")
    return None


def mark_attendance(
    appt: Appointment, target: object, reason: object, agent: str, now: datetime,
    successor: Appointment | None = None,
) -> Appointment:
    """Attendance (admin): no_show (the patient did not attend) or completed, with a reason
    (`why_not_markable`; `successor`: the appointment this one was rebooked to, if any)."""
    status = parse_attendance(target)
    text = normalize_reason(reason)
    why = why_not_markable(appt, status, now, successor)
    if why:
        raise Refused(why)
    return appt.model_copy(
        update={
            "status": status,
            "attendance_note": text,
            "attendance_by": admin_actor(agent),
            "attendance_at": now,
        }
    )


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
    from rxdesk.domain.models import Appointment  # the rules import no pydantic until one is made

    if status not in ACTIVE:
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
