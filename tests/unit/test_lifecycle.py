"""Every lifecycle transition, allowed and refused, and both cancellation rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rxdesk.domain import lifecycle
from rxdesk.domain.errors import Refused, ValidationFailed
from rxdesk.domain.models import Appointment, AppointmentStatus, AppointmentType

S = AppointmentStatus
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
START = NOW + timedelta(hours=5)
HOLD_END = NOW + timedelta(minutes=10)  # when a hold made for START lapses

ALLOWED = {
    (S.held, S.confirmed),
    (S.held, S.expired),
    (S.held, S.cancelled),
    (S.confirmed, S.cancelled),
    (S.confirmed, S.completed),
    (S.confirmed, S.no_show),
    (S.completed, S.no_show),
    (S.no_show, S.completed),
}


def appt(status: S, **extra: object) -> Appointment:
    fields: dict[str, Any] = dict(
        uid="2611abcdefghjk",
        patient_id="pat-001",
        doctor_id="dr-weber",
        type_key="gp-consult",
        status=status,
        starts_at=START,
        ends_at=START + timedelta(minutes=30),
        created_at=NOW - timedelta(minutes=5),
        hold_expires_at=HOLD_END if status is S.held else None,
    )
    fields.update(extra)
    return Appointment(**fields)


GP = AppointmentType(
    key="gp-consult", name="GP", duration_minutes=30, cancellation_notice_minutes=120
)


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_transition_table(current: S, target: S) -> None:
    assert lifecycle.can_transition(current, target) is ((current, target) in ALLOWED)
    if (current, target) in ALLOWED:
        lifecycle.check_transition(appt(current), target)
    else:
        with pytest.raises(Refused, match=current.value):
            lifecycle.check_transition(appt(current), target)


@pytest.mark.parametrize("status", [S.held, S.confirmed])
def test_admin_cancel_active(status: S) -> None:
    done = lifecycle.admin_cancel(appt(status), "  Patient called  ", "alice", NOW)
    assert done.status is S.cancelled
    assert done.cancel_reason == "Patient called"
    assert done.cancelled_by == "admin:alice"
    assert done.cancelled_at == NOW


def test_admin_cancel_ignores_notice_even_after_start() -> None:
    late = appt(S.confirmed, starts_at=NOW - timedelta(minutes=10), ends_at=NOW + timedelta(minutes=20))
    assert lifecycle.admin_cancel(late, "Doctor ill", "alice", NOW).status is S.cancelled


@pytest.mark.parametrize("status", [S.cancelled, S.expired, S.no_show])
def test_admin_cancel_refuses_terminal(status: S) -> None:
    with pytest.raises(Refused, match="only held or confirmed"):
        lifecycle.admin_cancel(appt(status), "reason", "alice", NOW)


def test_admin_cancel_refuses_what_has_ended() -> None:
    with pytest.raises(Refused, match="has ended; mark it no_show instead"):
        lifecycle.admin_cancel(appt(S.completed), "reason", "alice", NOW)
    # Stored confirmed, but its end has passed: it IS completed.
    with pytest.raises(Refused, match="has ended; mark it no_show instead"):
        lifecycle.admin_cancel(appt(S.confirmed), "reason", "alice", START + timedelta(minutes=30))
    # A lapsed hold IS expired.
    with pytest.raises(Refused, match="hold .* expired"):
        lifecycle.admin_cancel(appt(S.held), "reason", "alice", NOW + timedelta(minutes=10))


@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 501, "two\nlines", "tab\there", "\x1b[31m"])
def test_admin_cancel_reason_rules(reason: object) -> None:
    with pytest.raises(ValidationFailed):
        lifecycle.admin_cancel(appt(S.confirmed), reason, "alice", NOW)


def test_reason_of_500_characters_is_accepted() -> None:
    assert len(lifecycle.admin_cancel(appt(S.confirmed), "y" * 500, "a", NOW).cancel_reason or "") == 500


def test_patient_cancel_needs_notice() -> None:
    # START is 5 h away; notice is 2 h: fine now, refused at 3h01 from now.
    ok = lifecycle.patient_cancel(appt(S.confirmed), GP, "patient:pat-001", NOW)
    assert ok.status is S.cancelled and ok.cancelled_by == "patient:pat-001"
    edge = START - timedelta(minutes=120)
    assert lifecycle.patient_cancel(appt(S.confirmed), GP, "patient:pat-001", edge).status is S.cancelled
    with pytest.raises(Refused, match="120 minutes"):
        lifecycle.patient_cancel(appt(S.confirmed), GP, "patient:pat-001", edge + timedelta(seconds=1))


def test_patient_cancel_refuses_terminal() -> None:
    with pytest.raises(Refused):
        lifecycle.patient_cancel(appt(S.completed), GP, "patient:pat-001", NOW)


def test_confirm_before_expiry_only() -> None:
    held = appt(S.held)
    confirmed = lifecycle.confirm(held, NOW)
    assert confirmed.status is S.confirmed and confirmed.confirmed_at == NOW
    assert confirmed.hold_expires_at is None
    with pytest.raises(Refused, match="expired"):
        lifecycle.confirm(held, HOLD_END)
    with pytest.raises(Refused):
        lifecycle.confirm(appt(S.confirmed), NOW)


def test_expire_only_after_hold_passed_and_never_confirmed() -> None:
    held = appt(S.held)
    with pytest.raises(Refused, match="not expired"):
        lifecycle.expire(held, NOW)
    assert held.hold_expires_at == HOLD_END
    assert lifecycle.expire(held, HOLD_END).status is S.expired
    with pytest.raises(Refused):
        lifecycle.expire(appt(S.confirmed), NOW + timedelta(days=1))


def test_complete_only_once_ended() -> None:
    with pytest.raises(Refused, match="not ended"):
        lifecycle.complete(appt(S.confirmed), NOW)
    done = lifecycle.complete(appt(S.confirmed), START + timedelta(minutes=30))
    assert done.status is S.completed and done.attendance_by is None
    with pytest.raises(Refused):
        lifecycle.complete(appt(S.held), START + timedelta(days=1))


def test_confirm_refused_once_the_appointment_ended() -> None:
    long_hold = appt(S.held, hold_expires_at=START + timedelta(days=2))
    with pytest.raises(Refused, match="has ended"):
        lifecycle.confirm(long_hold, START + timedelta(minutes=30))
