"""Writing down what time decided (DESIGN: Appointment lifecycle, "Time moves the state").

Every read already shows a lapsed hold as expired and an ended confirmed appointment as
completed (`lifecycle.effective_status`). These functions make the store catch up, inside the
caller's write, each change with its event and its audit entry:

- `catch_up`: the maintenance tick's step, bounded however long no tick ran;
- `expire_lapsed_holds`: a write that takes a slot first expires a lapsed hold lying there, so
  the store never holds two active-looking appointments on one doctor's time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from rxdesk.domain import lifecycle
from rxdesk.domain.models import Appointment, AppointmentStatus, EventType, appointment_target
from rxdesk.domain.times import format_utc
from rxdesk.services.base import record
from rxdesk.services.events import appointment_data, publish
from rxdesk.store.protocols import StoreView, UnitOfWork

# Week segments one tick reads looking for ended appointments: a week of backlog is one tick,
# a store that never had completions written catches up over a few.
CATCH_UP_WEEKS = 8
# A cursor (epoch seconds): every stored-confirmed appointment ending at or before it has been
# written down as completed.
COMPLETED_UNTIL = "appointments.completed_until"


def completion_horizon(view: StoreView) -> datetime | None:
    """Every stored-confirmed appointment ending at or before this instant has been written
    down as completed (None: not known yet)."""
    seconds = view.cursors.get(COMPLETED_UNTIL)
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


def set_completion_horizon(view: UnitOfWork, at: datetime) -> None:
    view.cursors.set(COMPLETED_UNTIL, int(at.timestamp()))


@dataclass
class CaughtUp:
    expired: list[Appointment] = field(default_factory=list)
    completed: list[Appointment] = field(default_factory=list)


def expire_hold(view: UnitOfWork, appt: Appointment, now: datetime, actor: str, **details: str) -> Appointment:
    expired = lifecycle.expire(appt, now)
    view.appointments.put(expired)
    publish(view, EventType.APPOINTMENT_HOLD_EXPIRED, appointment_data(expired), now)
    record(view, at=now, actor=actor, action="appointment.expire", target=appointment_target(appt.uid),
           details={"hold_expires_at": format_utc(appt.hold_expires_at) if appt.hold_expires_at else None,
                    **details})
    return expired


def complete(view: UnitOfWork, appt: Appointment, now: datetime, actor: str) -> Appointment:
    completed = lifecycle.complete(appt, now)
    view.appointments.put(completed)
    publish(view, EventType.APPOINTMENT_COMPLETED, appointment_data(completed), now)
    record(view, at=now, actor=actor, action="appointment.complete", target=appointment_target(appt.uid),
           details={"ends_at": format_utc(appt.ends_at)})
    return completed


def lapsed_holds(view: StoreView, doctor_id: str, start: datetime, end: datetime, now: datetime) -> list[Appointment]:
    """The doctor's holds overlapping [start, end) that lapsed but are still stored as held."""
    return [a for a in view.appointments.active_for_doctor(doctor_id, start, end)
            if lifecycle.effective_status(a, now) is AppointmentStatus.expired]


def expire_lapsed(view: UnitOfWork, holds: list[Appointment], now: datetime, actor: str) -> list[Appointment]:
    """Write down `lapsed_holds` as expired, in the caller's write: their slot is being booked."""
    return [expire_hold(view, a, now, actor, why="its slot was booked after the hold lapsed") for a in holds]


def expire_lapsed_holds(view: UnitOfWork, doctor_id: str, start: datetime, end: datetime, now: datetime,
                        actor: str) -> list[Appointment]:
    """Expire the doctor's lapsed holds overlapping [start, end), in the caller's write."""
    return expire_lapsed(view, lapsed_holds(view, doctor_id, start, end, now), now, actor)


def _ended(view: StoreView, now: datetime) -> tuple[list[Appointment], datetime, datetime | None]:
    horizon = completion_horizon(view)
    if horizon is not None and horizon >= now:
        return [], horizon, horizon
    ended, reached = view.appointments.confirmed_ended(horizon, now, max_weeks=CATCH_UP_WEEKS)
    return ended, reached, horizon


def has_catching_up(view: StoreView, now: datetime) -> bool:
    """Cheap reads: is there a lapsed hold or an ended appointment still stored as active, or
    weeks not yet looked through? (An idle tick reads this and writes nothing.)"""
    if view.appointments.lapsed_holds(now):
        return True
    ended, reached, _horizon = _ended(view, now)
    return bool(ended) or reached < now


def catch_up(view: UnitOfWork, now: datetime, actor: str) -> CaughtUp:
    """Write down every lapsed hold as expired and every ended confirmed appointment as
    completed (APPOINTMENT_HOLD_EXPIRED, APPOINTMENT_COMPLETED, audit), in the caller's write.

    Ended appointments are found through the weeks since the last catch-up (a cursor kept in
    the store), never by reading the history; a store that never had them written down catches
    up CATCH_UP_WEEKS week segments per call."""
    done = CaughtUp()
    for appt in view.appointments.lapsed_holds(now):
        done.expired.append(expire_hold(view, appt, now, actor))
    ended, reached, horizon = _ended(view, now)
    for appt in ended:
        done.completed.append(complete(view, appt, now, actor))
    if horizon is None or reached > horizon:
        set_completion_horizon(view, reached)
    return done
