"""Time moves the state: the effective status of every stored status at every moment, and
the attendance rules built on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.domain import lifecycle
from rxdesk.domain.errors import Refused, ValidationFailed
from rxdesk.domain.models import Appointment, AppointmentStatus
from rxdesk.domain.times import format_utc

S = AppointmentStatus
BASE = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

# Where "now" lies relative to the appointment: the moments the rules distinguish.
MOMENTS = ("before hold expiry", "after hold expiry", "before start", "during", "at the end", "after end")


@st.composite
def appointments(draw: st.DrawFn, status: st.SearchStrategy[S] = st.sampled_from(list(S))) -> Appointment:
    """An appointment at any status, with a hold that lapses before, during or after it."""
    created = BASE + timedelta(minutes=draw(st.integers(-60 * 24 * 30, 60 * 24 * 30)))
    start = created + timedelta(minutes=draw(st.integers(1, 60 * 24 * 20)))
    minutes = draw(st.integers(5, 720))
    kind = draw(status)
    hold = created + timedelta(minutes=draw(st.integers(1, 60 * 24 * 7))) if kind in (S.held, S.expired) else None
    return Appointment(uid="2611abcdefghjk", patient_id="pat-001", doctor_id="dr-weber", type_key="gp",
                       status=kind, starts_at=start, ends_at=start + timedelta(minutes=minutes),
                       created_at=created, hold_expires_at=hold)


def moment(appt: Appointment, where: str, nudge: int) -> datetime:
    """An instant at `where`, `nudge` seconds inside it (0 = exactly on the boundary)."""
    hold = appt.hold_expires_at or appt.created_at + timedelta(minutes=1)
    return {
        "before hold expiry": hold - timedelta(seconds=1 + nudge),
        "after hold expiry": hold + timedelta(seconds=nudge),
        "before start": appt.starts_at - timedelta(seconds=1 + nudge),
        "during": appt.starts_at + min(timedelta(seconds=nudge), appt.ends_at - appt.starts_at - timedelta(seconds=1)),
        "at the end": appt.ends_at,
        "after end": appt.ends_at + timedelta(seconds=nudge),
    }[where]


def expected(appt: Appointment, now: datetime) -> S:
    """The rule, stated once more in the words of DESIGN."""
    if appt.status is S.held:
        assert appt.hold_expires_at is not None
        return S.expired if now >= appt.hold_expires_at else S.held
    if appt.status is S.confirmed:
        return S.completed if now >= appt.ends_at else S.confirmed
    return appt.status


@given(appt=appointments(), where=st.sampled_from(MOMENTS), nudge=st.integers(0, 3 * 86400))
def test_effective_status_of_every_status_at_every_moment(appt: Appointment, where: str, nudge: int) -> None:
    now = moment(appt, where, nudge)
    status = lifecycle.effective_status(appt, now)
    assert status is expected(appt, now)
    # Only time's two transitions ever differ from the stored status.
    assert status is appt.status or (appt.status, status) in {(S.held, S.expired), (S.confirmed, S.completed)}
    # The store applies the same rule to stored-form strings: it must agree to the second.
    doc = appt.to_json()
    assert lifecycle.status_at(doc["status"], doc["hold_expires_at"], doc["ends_at"], format_utc(now)) is status
    assert lifecycle.as_of(appt, now).status is status


@given(appt=appointments(st.just(S.held)), nudge=st.integers(0, 86400))
def test_a_held_appointment_is_expired_from_its_hold_expiry_on(appt: Appointment, nudge: int) -> None:
    lapse = appt.hold_expires_at
    assert lapse is not None
    assert lifecycle.effective_status(appt, lapse - timedelta(seconds=1 + nudge)) is S.held
    assert lifecycle.effective_status(appt, lapse + timedelta(seconds=nudge)) is S.expired
    # Whatever the clock says about the appointment's own time.
    assert lifecycle.effective_status(appt, max(lapse, appt.ends_at) + timedelta(seconds=nudge)) is S.expired


@given(appt=appointments(st.just(S.confirmed)), nudge=st.integers(0, 86400))
def test_a_confirmed_appointment_is_completed_from_its_end_on(appt: Appointment, nudge: int) -> None:
    assert lifecycle.effective_status(appt, appt.starts_at - timedelta(seconds=nudge)) is S.confirmed
    assert lifecycle.effective_status(appt, appt.ends_at - timedelta(seconds=1)) is S.confirmed
    assert lifecycle.effective_status(appt, appt.ends_at + timedelta(seconds=nudge)) is S.completed


@given(appt=appointments(st.sampled_from([S.cancelled, S.expired, S.completed, S.no_show])),
       where=st.sampled_from(MOMENTS), nudge=st.integers(0, 86400 * 30))
def test_final_and_marked_statuses_never_move_with_time(appt: Appointment, where: str, nudge: int) -> None:
    assert lifecycle.effective_status(appt, moment(appt, where, nudge)) is appt.status


# -- attendance -------------------------------------------------------------------------

START = BASE + timedelta(hours=1)


def confirmed(**extra: object) -> Appointment:
    fields: dict[str, Any] = dict(uid="2611abcdefghjk", patient_id="pat-001", doctor_id="dr-weber",
                                     type_key="gp", status=S.confirmed, starts_at=START,
                                     ends_at=START + timedelta(minutes=30), created_at=BASE - timedelta(days=1))
    fields.update(extra)
    return Appointment(**fields)


def test_nothing_is_marked_before_its_start() -> None:
    for target in lifecycle.ATTENDANCE:
        with pytest.raises(Refused, match="has not started"):
            lifecycle.mark_attendance(confirmed(), target, "why", "alice", START - timedelta(seconds=1))


@pytest.mark.parametrize("target", list(lifecycle.ATTENDANCE))
def test_a_started_confirmed_appointment_can_be_marked_either_way(target: S) -> None:
    marked = lifecycle.mark_attendance(confirmed(), target.value, "  Patient never joined ", "alice",
                                       START + timedelta(minutes=5))
    assert marked.status is target
    assert (marked.attendance_note, marked.attendance_by) == ("Patient never joined", "admin:alice")
    assert marked.attendance_at == START + timedelta(minutes=5)


def test_corrections_go_both_ways_for_seven_days_after_the_end() -> None:
    end = START + timedelta(minutes=30)
    ended = confirmed()  # stored confirmed: after its end it IS completed
    missed = lifecycle.mark_attendance(ended, "no_show", "no answer", "alice", end + timedelta(days=1))
    assert missed.status is S.no_show
    back = lifecycle.mark_attendance(missed, "completed", "doctor says they came", "bob", end + timedelta(days=7))
    assert back.status is S.completed and back.attendance_by == "admin:bob"
    with pytest.raises(Refused, match="more than 7 days"):
        lifecycle.mark_attendance(back, "no_show", "late correction", "alice", end + timedelta(days=7, seconds=1))
    with pytest.raises(Refused, match="already completed"):
        lifecycle.mark_attendance(ended, "completed", "twice", "alice", end + timedelta(hours=1))
    with pytest.raises(Refused, match="already no_show"):
        lifecycle.mark_attendance(missed, "no_show", "twice", "alice", end + timedelta(hours=1))


@pytest.mark.parametrize("status", [S.held, S.expired, S.cancelled])
def test_only_what_was_confirmed_can_be_marked(status: S) -> None:
    appt = confirmed(status=status, hold_expires_at=START + timedelta(days=1) if status is S.held else None)
    with pytest.raises(Refused, match="cannot be marked"):
        lifecycle.mark_attendance(appt, "no_show", "why", "alice", START + timedelta(minutes=5))


@pytest.mark.parametrize(("target", "reason"), [("cancelled", "why"), ("", "why"), ("no_show", ""),
                                                 ("no_show", "two\nlines"), ("completed", "x" * 501)])
def test_attendance_input_is_checked(target: str, reason: str) -> None:
    with pytest.raises(ValidationFailed):
        lifecycle.mark_attendance(confirmed(), target, reason, "alice", START + timedelta(minutes=5))


def test_rebook_rules_follow_the_effective_status() -> None:
    end = START + timedelta(minutes=30)
    assert lifecycle.why_not_rebookable(confirmed(), START + timedelta(minutes=5)) is None  # under way
    assert "completed" in (lifecycle.why_not_rebookable(confirmed(), end) or "")
    assert lifecycle.why_not_rebookable(confirmed(status=S.no_show), end + timedelta(days=30)) is None
    assert lifecycle.rebooked_status(confirmed(status=S.no_show)) is S.confirmed
    lapsed = confirmed(status=S.held, hold_expires_at=BASE)
    assert "expired" in (lifecycle.why_not_rebookable(lapsed, BASE) or "")
    assert lifecycle.why_not_rebookable(lapsed, BASE - timedelta(seconds=1)) is None


def reading(appt: Appointment, at: datetime) -> tuple[S, bool]:
    """How an appointment reads at `at`: its status and whether it is in progress."""
    status = lifecycle.effective_status(appt, at)
    return status, lifecycle.in_progress_at(status, appt.starts_at, appt.ends_at, at)


@given(appointments(), st.integers(-60 * 24 * 40, 60 * 24 * 40))
def test_the_next_change_is_the_first_instant_at_which_the_appointment_reads_otherwise(
        appt: Appointment, minutes: int) -> None:
    """What the app waits for to look again: before it, the appointment reads as it does now;
    at it, otherwise; None once time has nothing left to change."""
    now = BASE + timedelta(minutes=minutes)
    status = lifecycle.effective_status(appt, now)
    change = lifecycle.next_change_at(status, appt.starts_at, appt.ends_at, appt.hold_expires_at, now)
    if change is None:
        assert reading(appt, now) == reading(appt, now + timedelta(days=400))
        return
    assert change > now
    assert reading(appt, change - timedelta(seconds=1)) == reading(appt, now)
    assert reading(appt, change) != reading(appt, now)
