"""When a reminder rule is due (DESIGN: Reminders). Pure functions, no storage.

A rule is due for a confirmed appointment once its moment (`starts_at - minutes_before`) has
come and while the appointment has not started, provided that moment came after both the
rule's creation and the appointment's confirmation: a rule added today does not remind every
appointment already inside its window, and a booking confirmed two hours before its start
gets no "day before" reminder. A moment that passed while no worker ran is caught up late,
until the start, never after it, and never for an appointment that is no longer confirmed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from rxdesk.domain.enums import AppointmentStatus, RecipientGroup
from rxdesk.domain.lifecycle import effective_status

if TYPE_CHECKING:
    from rxdesk.domain.models import Appointment, AppointmentType, ReminderRule


def due_at(appt: Appointment, rule: ReminderRule) -> datetime:
    """The moment the rule asks for: `minutes_before` the start."""
    return appt.starts_at - timedelta(minutes=rule.minutes_before)


def in_window(appt: Appointment, rule: ReminderRule, now: datetime) -> bool:
    """The rule's moment has come, the appointment has not started, and it is confirmed (as
    of `now`: `lifecycle.effective_status`)."""
    return (effective_status(appt, now) is AppointmentStatus.confirmed
            and due_at(appt, rule) <= now < appt.starts_at)


def moment_counts(appt: Appointment, rule: ReminderRule) -> bool:
    """The moment fell at or after the rule's creation and the appointment's confirmation
    (a rule or appointment stored before either was recorded does not hold it back)."""
    moment = due_at(appt, rule)
    return all(since is None or moment >= since for since in (rule.created_at, appt.confirmed_at))


def is_due(appt: Appointment, rule: ReminderRule, now: datetime) -> bool:
    """True when the rule reminds this appointment now (see the module's note)."""
    return in_window(appt, rule, now) and moment_counts(appt, rule)


def late_by_seconds(due: datetime, now: datetime) -> int:
    """How late a reminder fires (0 when on time): a worker that was down catches up."""
    return max(0, int((now - due).total_seconds()))


def format_lateness(seconds: int) -> str:
    """Lateness as people read it: `12 min late`, `29 h late`, `2 d 3 h late` ("" when less
    than a minute late: on time)."""
    if seconds < 60:
        return ""
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min late"
    hours = minutes // 60
    if hours < 48:
        rest = minutes % 60
        return f"{hours} h {rest} min late" if hours < 10 and rest else f"{hours} h late"
    return f"{hours // 24} d {hours % 24} h late" if hours % 24 else f"{hours // 24} d late"


def same_rule(rules: Iterable[ReminderRule], recipient: RecipientGroup, minutes_before: int,
              *, other_than: str = "") -> ReminderRule | None:
    """The rule of `rules` that already reminds `recipient` `minutes_before` the start (a
    second one would send the same message twice), other than the rule `other_than`."""
    for rule in rules:
        if rule.recipient is recipient and rule.minutes_before == minutes_before and rule.id != other_than:
            return rule
    return None


def look_ahead(types: Iterable[AppointmentType]) -> timedelta | None:
    """How far ahead of now an appointment can start and have a rule due: the longest
    `minutes_before` of any rule (None when no type has a rule)."""
    longest = max((r.minutes_before for t in types for r in t.reminders), default=None)
    return timedelta(minutes=longest) if longest is not None else None
