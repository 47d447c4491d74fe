"""When a reminder rule is due (domain/reminders.py): a pure rule, checked at its edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rxdesk.domain import reminders
from rxdesk.domain.models import Appointment, AppointmentStatus, AppointmentType, RecipientGroup, ReminderRule

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
RULE = ReminderRule(id="r", recipient=RecipientGroup.patient, minutes_before=60)


def appointment(status: AppointmentStatus = AppointmentStatus.confirmed) -> Appointment:
    return Appointment(uid="0x9k7qm2xz4abc", patient_id="p", doctor_id="d", type_key="t", status=status,
                       starts_at=START, ends_at=START + timedelta(minutes=20), created_at=START - timedelta(days=2))


def test_due_from_its_moment_until_the_start_and_never_after() -> None:
    appt = appointment()
    assert reminders.due_at(appt, RULE) == START - timedelta(minutes=60)
    assert not reminders.is_due(appt, RULE, START - timedelta(minutes=60, seconds=1))
    assert reminders.is_due(appt, RULE, START - timedelta(minutes=60))
    assert reminders.is_due(appt, RULE, START - timedelta(seconds=1))  # late, but before the start
    assert not reminders.is_due(appt, RULE, START)


def test_only_a_confirmed_appointment_gets_reminders() -> None:
    moment = START - timedelta(minutes=30)
    for status in AppointmentStatus:
        assert reminders.is_due(appointment(status), RULE, moment) is (status is AppointmentStatus.confirmed)


def test_lateness_and_how_far_ahead_a_tick_looks() -> None:
    assert reminders.late_by_seconds(START, START - timedelta(minutes=1)) == 0
    assert reminders.late_by_seconds(START, START + timedelta(minutes=2)) == 120
    types = [AppointmentType(key="a", name="A", duration_minutes=20, reminders=[RULE]),
             AppointmentType(key="b", name="B", duration_minutes=20,
                             reminders=[RULE.model_copy(update={"id": "s", "minutes_before": 1440})])]
    assert reminders.look_ahead(types) == timedelta(days=1)
    assert reminders.look_ahead([AppointmentType(key="c", name="C", duration_minutes=20)]) is None


def test_minutes_before_takes_spans_as_the_tables_show_them() -> None:
    from rxdesk.domain.errors import ValidationFailed
    from rxdesk.domain.limits import format_minutes, parse_minutes

    for typed, minutes in (("90", 90), ("2h", 120), ("2 h", 120), ("1d", 1440), ("1d 2h", 1560),
                           ("1 h 30 min", 90), ("45m", 45)):
        assert parse_minutes(typed) == minutes
        assert parse_minutes(format_minutes(minutes)) == minutes
    for junk in ("", "h", "2x", "1.5h", "٣", "d 2", "2 5"):
        with pytest.raises(ValidationFailed):
            parse_minutes(junk)


def test_a_moment_before_the_rules_creation_or_the_confirmation_does_not_remind() -> None:
    appt = appointment().model_copy(update={"confirmed_at": START - timedelta(days=1)})
    moment = START - timedelta(minutes=60)
    made_before = RULE.model_copy(update={"created_at": moment - timedelta(seconds=1)})
    made_after = RULE.model_copy(update={"created_at": moment + timedelta(seconds=1)})
    assert reminders.is_due(appt, made_before, START - timedelta(minutes=30))
    assert reminders.is_due(appt, RULE.model_copy(update={"created_at": moment}), moment)  # at its moment
    assert not reminders.is_due(appt, made_after, START - timedelta(minutes=30))
    confirmed_late = appt.model_copy(update={"confirmed_at": START - timedelta(minutes=30)})
    assert not reminders.is_due(confirmed_late, made_before, START - timedelta(minutes=10))
    assert reminders.is_due(appt, RULE, START - timedelta(minutes=1))  # a rule stored before: as it always was


def test_lateness_reads_as_people_say_it() -> None:
    assert reminders.format_lateness(0) == "" and reminders.format_lateness(59) == ""
    assert reminders.format_lateness(12 * 60 + 5) == "12 min late"
    assert reminders.format_lateness(3 * 3600 + 5 * 60) == "3 h 5 min late"
    assert reminders.format_lateness(105180) == "29 h late"
    assert reminders.format_lateness(3 * 86400 + 2 * 3600) == "3 d 2 h late"
