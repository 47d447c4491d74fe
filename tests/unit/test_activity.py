"""The audit trail across the desk (`audit list`, the app's activity view): every entry,
appointments' included, newest first, by agent, by day and by what it is about, on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rxdesk.domain.clock import FixedClock
from rxdesk.domain.errors import ValidationFailed
from rxdesk.domain.models import appointment_target
from rxdesk.services import Desk
from rxdesk.services.activity import ActivityFilter
from tests.helpers import make_appointment, run_cli

pytestmark = pytest.mark.backends


def actions(desk: Desk, **typed: str) -> list[tuple[str, str, str]]:
    page = desk.activity.list_activity(ActivityFilter(**typed))
    return [(row.entry.actor, row.entry.action, row.entry.target) for row in page.items]


@pytest.fixture
def busy_day(clinic: Desk, clock: FixedClock, now: datetime) -> dict[str, str]:
    """Yesterday anna cancelled one appointment; today bob set a phone number and anna cancelled
    an appointment weeks ahead (kept in another week than the first) and booked one."""
    early = make_appointment(clinic, start=now + timedelta(days=2), patient_id="pat-002")
    later = make_appointment(clinic, start=now + timedelta(weeks=6), patient_id="pat-003")
    clock.set(now - timedelta(days=1))
    clinic.appointments.cancel_appointment(early.uid, "patient called", "anna")
    clock.set(now)
    clinic.doctors.set_phone("dr-osei", "+12025550123", "bob")
    clock.set(now + timedelta(minutes=5))
    clinic.appointments.cancel_appointment(later.uid, "moved abroad", "anna")
    clock.set(now + timedelta(minutes=10))
    booked = clinic.agent_booking.book("pat-001", "gp-consult", datetime(2026, 11, 23, 10, tzinfo=UTC),
                                       doctor_id="dr-weber", agent="anna")
    return {"early": early.uid, "later": later.uid, "booked": booked.uid}


def test_every_entry_newest_first_from_the_weeks_and_the_log(clinic: Desk, busy_day: dict[str, str]) -> None:
    found = actions(clinic)
    assert found[:3] == [
        ("admin:anna", "appointment.book", appointment_target(busy_day["booked"])),
        ("admin:anna", "appointment.cancel", appointment_target(busy_day["later"])),
        ("admin:bob", "doctor.set_phone", "doctor:dr-osei"),
    ]
    # The clinic's setup at `now` (before bob's entry of the same second), then yesterday's cancel.
    assert {action for _, action, _ in found[3:-1]} == {"provision"}
    assert found[-1] == ("admin:anna", "appointment.cancel", appointment_target(busy_day["early"]))


def test_one_agents_entries_since_a_day(clinic: Desk, busy_day: dict[str, str]) -> None:
    assert [a for _, a, _ in actions(clinic, agent="anna", since="today")] == ["appointment.book", "appointment.cancel"]
    assert len(actions(clinic, agent="anna", since="-1d")) == 3
    assert actions(clinic, agent="bob") == [("admin:bob", "doctor.set_phone", "doctor:dr-osei")]
    assert actions(clinic, agent="nobody") == []


def test_entries_about_one_thing_by_its_id_or_its_target(clinic: Desk, busy_day: dict[str, str]) -> None:
    later = busy_day["later"]
    assert actions(clinic, target=later) == [("admin:anna", "appointment.cancel", appointment_target(later))]
    assert actions(clinic, target=later.upper()) == actions(clinic, target=later)
    assert actions(clinic, target="dr-osei") == actions(clinic, target="doctor:dr-osei") != []


def test_a_day_that_is_not_one_is_refused_naming_the_forms(clinic: Desk) -> None:
    with pytest.raises(ValidationFailed, match=r"not a date: use YYYY-MM-DD, today.*-14d"):
        clinic.activity.list_activity(ActivityFilter(since="last tuesday"))


def test_audit_list_on_the_command_line(clinic: Desk, busy_day: dict[str, str], cli_env: dict[str, str]) -> None:
    listed = run_cli("audit", "list", "--agent", "anna", "--since", "-1d", env=cli_env)
    assert listed.code == 0, listed.err
    lines = listed.out.splitlines()
    assert lines[0].split() == ["AT", "ACTOR", "ACTION", "TARGET", "DETAILS"] and len(lines) == 4
    assert "appointment.book" in lines[1] and "reason: patient called" in lines[3]
    as_json = run_cli("audit", "list", "--target", busy_day["booked"], "--json", env=cli_env).json()
    assert [set(e) for e in as_json] == [{"at", "actor", "action", "target", "details"}]
    assert as_json[0]["actor"] == "admin:anna" and as_json[0]["at"] == "2026-11-23T08:10:00Z"
    # `--agent` before the command is who runs it; after `audit list`, whose entries.
    mine = run_cli("--agent", "bob", "audit", "list", "--agent", "bob", "--json", env=cli_env).json()
    assert [e["action"] for e in mine] == ["doctor.set_phone"]
    bad = run_cli("audit", "list", "--since", "someday", env=cli_env)
    assert bad.code == 1 and bad.err.count("\n") == 1 and "-14d" in bad.err
    short = run_cli("audit", "list", "--limit", "2", env=cli_env)
    assert short.code == 0 and len(short.out.splitlines()) == 3 and "showing the newest 2" in short.err


def test_newest_first_is_by_the_entrys_time_even_when_written_after_a_later_one(
        clinic: Desk, clock: FixedClock, now: datetime, cli_env: dict[str, str]) -> None:
    """An entry written after a later one (a clock set back, a history written at once) sorts
    by its time; entries of one second by the order they were written."""
    appt = make_appointment(clinic, start=now + timedelta(days=2), patient_id="pat-002")
    clinic.doctors.set_phone("dr-osei", "+12025550123", "bob")
    clock.set(now - timedelta(hours=3))
    clinic.appointments.cancel_appointment(appt.uid, "patient called", "anna")
    clock.set(now)
    clinic.doctors.set_phone("dr-sato", "+12025550124", "carl")
    found = clinic.activity.list_activity(ActivityFilter(since="today")).items
    agents = [(r.entry.actor, r.entry.at) for r in found if r.entry.actor != "admin:setup"]
    assert agents == [("admin:carl", now), ("admin:bob", now), ("admin:anna", now - timedelta(hours=3))]
    assert found[-1].entry.actor == "admin:anna"  # the clinic was set up at `now`, after the cancel's time
    listed = run_cli("audit", "list", "--since", "today", "--json", env=cli_env)
    assert [(e["actor"], e["action"]) for e in listed.json()] == [(r.entry.actor, r.entry.action) for r in found]
    paged = clinic.activity.list_activity(ActivityFilter(since="today"), offset=1, limit=2).items
    assert [r.key for r in paged] == [r.key for r in found[1:3]]


def test_the_demos_history_is_listed_by_time_and_none_of_it_after_now(desk: Desk, now: datetime) -> None:
    desk.demo.build(600, agent="tester", seed=2)
    entries = [r.entry for r in desk.activity.list_activity(ActivityFilter()).items]
    assert len(entries) > 20 and entries[0].action == "demo.build"
    assert all(e.at <= now for e in entries)
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    this_week = [r.entry.at for r in desk.activity.list_activity(ActivityFilter(since="-7d")).items]
    assert this_week and this_week == sorted(this_week, reverse=True)
