"""When a reminder rule is due (DESIGN: Reminders). Pure functions, no storage.

A rule is due for a confirmed appointment once `starts_at - minutes_before` has come and
while the appointment has not started: a worker that was down catches up late reminders until
the start, never after it, and never for an appointment that is no longer confirmed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from rxdesk.domain.lifecycle import effective_status
from rxdesk.domain.models import Appointment, AppointmentStatus, AppointmentType, ReminderRule


def due_at(appt: Appointment, rule: ReminderRule) -> datetime:
    """The moment the rule asks for: `minutes_before` the start."""
    return appt.starts_at - timedelta(minutes=rule.minutes_before)


def is_due(appt: Appointment, rule: ReminderRule, now: datetime) -> bool:
    """True when the rule's moment has come, the appointment has not started, and it is
    confirmed (as of `now`: `lifecycle.effective_status`)."""
    return (effective_status(appt, now) is AppointmentStatus.confirmed
            and due_at(appt, rule) <= now < appt.starts_at)


def late_by_seconds(due: datetime, now: datetime) -> int:
    """How late a reminder fires (0 when on time): a worker that was down catches up."""
    return max(0, int((now - due).total_seconds()))


def look_ahead(types: Iterable[AppointmentType]) -> timedelta | None:
    """How far ahead of now an appointment can start and have a rule due: the longest
    `minutes_before` of any rule (None when no type has a rule)."""
    longest = max((r.minutes_before for t in types for r in t.reminders), default=None)
    return timedelta(minutes=longest) if longest is not None else None
