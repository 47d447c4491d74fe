"""A running worker's tick looks again only at the moments that came since its last look,
while nothing was written: every way a reminder becomes due other than time passing (a write
from another process, a clock behind, an edited rule, a new admin, a clock gone back) is
still reminded, once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk, reminders
from rxdesk.services.maintenance import MaintenanceService
from rxdesk.services.reminders import due_reminders
from rxdesk.store.protocols import Store
from tests.helpers import make_appointment, view_of
from tests.unit.test_worker import events_of, only_rule

pytestmark = pytest.mark.backends

OtherDesk = Callable[[datetime], Desk]


@pytest.fixture
def other_desk(open_store: Callable[[], Store], settings: Settings) -> OtherDesk:
    """A desk of another process on the same data, its clock at the instant given (a writer
    whose clock is behind the worker's, or whose write took long to commit)."""
    return lambda at: Desk(open_store(), FixedClock(at), settings)


def looked(clinic: Desk, clock: FixedClock, at: datetime) -> MaintenanceService:
    """A running worker that has looked at `at` and found nothing due (its store listening
    already, as a running worker's is from its first tick on)."""
    clinic.store.generation()
    worker = MaintenanceService(clinic)
    clock.set(at)
    assert worker.tick().reminders == 0
    assert worker.tick().writes == 0  # nothing due: the next tick only looks at what time brings
    return worker


def reminded(desk: Desk, uid: str) -> list[str]:
    return [r.recipient_id for r in desk.appointments.show(uid).reminders_sent]


def test_a_booking_written_after_a_look_is_reminded_though_its_moment_had_passed(
        clinic: Desk, clock: FixedClock, now: datetime, other_desk: OtherDesk) -> None:
    only_rule(clinic, "gp-consult", "patient", 60)
    worker = looked(clinic, clock, now + timedelta(hours=2))
    # Confirmed a day ago, its moment (half an hour ago) before the worker's look, written after it.
    appt = make_appointment(other_desk(now), start=now + timedelta(hours=2, minutes=30))
    assert worker.tick().reminders == 1  # at the same instant: no time passed since the look
    clock.set(now + timedelta(hours=2, minutes=1))
    assert worker.tick().reminders == 0
    assert reminded(clinic, appt.uid) == ["pat-001"]


def test_a_rebooking_written_after_a_look_is_reminded(
        clinic: Desk, clock: FixedClock, now: datetime, other_desk: OtherDesk) -> None:
    only_rule(clinic, "gp-consult", "patient", 60)
    appt = make_appointment(clinic, start=now + timedelta(hours=6))
    look = now + timedelta(hours=2)
    worker = looked(clinic, clock, look)
    mover = other_desk(now)  # moved at `now`, its new moment between then and the look
    slot = next(s for s in mover.rebooking.slots(appt.uid, days=1).slots
                if s.doctor_id == appt.doctor_id and look < s.starts_at <= look + timedelta(minutes=60))
    moved = mover.rebooking.rebook(appt.uid, slot.starts_at, agent="tester")
    clock.set(look + timedelta(minutes=1))
    assert worker.tick().reminders == 1
    assert reminded(clinic, moved.uid) == ["pat-001"] and reminded(clinic, appt.uid) == []


def test_a_rule_added_by_a_desk_whose_clock_is_behind_reminds_what_came_due_since_it(
        clinic: Desk, clock: FixedClock, now: datetime, other_desk: OtherDesk) -> None:
    only_rule(clinic, "gp-consult", "doctor", 5)
    look = now + timedelta(hours=2)
    appt = make_appointment(clinic, start=look + timedelta(minutes=30))
    worker = looked(clinic, clock, look)
    other_desk(look - timedelta(hours=1)).reminders.add_rule("gp-consult", "patient", 60, agent="tester")
    clock.set(look + timedelta(minutes=1))
    assert worker.tick().reminders == 1  # its moment (30 min before the look) came after its creation
    assert reminded(clinic, appt.uid) == ["pat-001"]


def test_a_rule_edited_to_a_shorter_span_after_a_look_reminds_once_at_once(
        clinic: Desk, clock: FixedClock, now: datetime) -> None:
    only_rule(clinic, "gp-consult", "doctor", 5)
    look = now + timedelta(hours=2)
    appt = make_appointment(clinic, start=look + timedelta(minutes=30))
    clock.set(look - timedelta(hours=1))
    rule = clinic.reminders.add_rule("gp-consult", "patient", 120, agent="tester").rule
    worker = looked(clinic, clock, look)  # its moment came before the rule: not due
    clinic.reminders.edit_rule("gp-consult", rule.id, minutes_before=60, agent="tester")  # the moment moves after it
    assert worker.tick().reminders == 1
    assert worker.tick().reminders == 0
    assert reminded(clinic, appt.uid) == ["pat-001"]


def test_also_now_after_a_look_reminds_in_its_own_write_and_the_tick_not_again(
        clinic: Desk, clock: FixedClock, now: datetime) -> None:
    only_rule(clinic, "gp-consult", "doctor", 5)
    look = now + timedelta(hours=2)
    appt = make_appointment(clinic, start=look + timedelta(minutes=30))
    worker = looked(clinic, clock, look)
    row = clinic.reminders.add_rule("gp-consult", "patient", 60, agent="tester", also_now=True)
    assert row.reminded_now == 1
    clock.set(look + timedelta(minutes=1))
    assert worker.tick().reminders == 0
    assert reminded(clinic, appt.uid) == ["pat-001"]


def test_an_admin_added_after_a_look_gets_the_reminders_still_due(clinic: Desk, clock: FixedClock, now: datetime) -> None:
    only_rule(clinic, "gp-consult", "admin", 30)
    appt = make_appointment(clinic, start=now + timedelta(minutes=20))
    worker = MaintenanceService(clinic)
    assert worker.tick().reminders == 2
    assert worker.tick().reminders == 0
    clinic.provisioning.provision({"admins": [{"id": "adm-night", "name": "Night Desk",
                                               "email": "night@riverside.example"}]}, "setup")
    clock.set(now + timedelta(minutes=1))
    assert worker.tick().reminders == 1
    assert sorted(reminded(clinic, appt.uid)) == ["adm-desk", "adm-mara", "adm-night"]


def test_two_workers_see_each_others_writes_and_remind_once(
        clinic: Desk, clock: FixedClock, now: datetime, other_desk: OtherDesk) -> None:
    only_rule(clinic, "gp-consult", "patient", 60)
    look = now + timedelta(hours=2)
    due_next = make_appointment(clinic, start=look + timedelta(minutes=61))
    first = looked(clinic, clock, look)
    second_desk = other_desk(look)
    second = MaintenanceService(second_desk)
    assert second.tick().reminders == 0
    assert isinstance(second_desk.clock, FixedClock)
    second_desk.clock.set(look + timedelta(minutes=1))
    clock.set(look + timedelta(minutes=1))
    assert second.tick().reminders == 1
    assert first.tick().reminders == 0  # the other worker's write is seen: not sent twice
    late = make_appointment(second_desk, start=look + timedelta(minutes=30), patient_id="pat-002")
    assert first.tick().reminders == 1  # nor missed
    assert second.tick().reminders == 0
    assert reminded(clinic, due_next.uid) == ["pat-001"] and reminded(clinic, late.uid) == ["pat-002"]


def test_a_restarted_worker_looks_at_everything(
        clinic: Desk, clock: FixedClock, now: datetime, other_desk: OtherDesk) -> None:
    only_rule(clinic, "gp-consult", "patient", 60)
    look = now + timedelta(hours=2)
    looked(clinic, clock, look)
    appt = make_appointment(clinic, start=look + timedelta(minutes=30))
    assert MaintenanceService(other_desk(look)).tick().reminders == 1  # what the first knew died with it
    assert reminded(clinic, appt.uid) == ["pat-001"]


def test_a_clock_gone_back_looks_at_everything_again(clinic: Desk, clock: FixedClock, now: datetime) -> None:
    only_rule(clinic, "gp-consult", "patient", 60)
    appt = make_appointment(clinic, start=now + timedelta(minutes=30))
    worker = looked(clinic, clock, now + timedelta(minutes=31))  # it has started: nothing due
    clock.set(now)  # back: the appointment has not started, its moment has passed
    assert worker.tick().reminders == 1
    (event,) = events_of(clinic, "APPOINTMENT_REMINDER_DUE")
    assert event.data["appointment"]["uid"] == appt.uid and event.data["late_by_seconds"] == 30 * 60


def test_a_look_since_an_instant_finds_only_the_moments_after_it(clinic: Desk, now: datetime) -> None:
    only_rule(clinic, "gp-consult", "patient", 60)
    before = make_appointment(clinic, start=now + timedelta(minutes=50))  # its moment 10 minutes ago
    after = make_appointment(clinic, start=now + timedelta(minutes=58), patient_id="pat-002", doctor_id="dr-osei")  # 2 minutes ago
    view = view_of(clinic)
    assert {d.appointment.uid for d in due_reminders(view, now)} == {before.uid, after.uid}
    since = now - timedelta(minutes=5)
    assert [d.appointment.uid for d in due_reminders(view, now, since=since)] == [after.uid]
    assert due_reminders(view, now, since=now) == []


def test_the_settled_generation_counts_another_process_write_at_once(
        clinic: Desk, now: datetime, other_desk: OtherDesk) -> None:
    clinic.store.generation()  # listening (a store starts to on its first ask)
    before = clinic.store.settled_generation()
    assert before is not None and clinic.store.settled_generation() == before  # asking changes nothing
    other = other_desk(now)
    for day in range(2, 22):  # each write counted by the next ask, however soon it comes
        make_appointment(other, start=now + timedelta(days=day))
        after = clinic.store.settled_generation()
        assert after is not None and after != before
        before = after


def test_confirmed_starting_holds_each_type_to_its_own_reach(clinic: Desk, now: datetime) -> None:
    near = make_appointment(clinic, start=now + timedelta(hours=1))
    far = make_appointment(clinic, start=now + timedelta(hours=3), patient_id="pat-002")
    other = make_appointment(clinic, start=now + timedelta(minutes=30), type_key="prescription", patient_id="pat-003")
    view = view_of(clinic)
    every = view.appointments.confirmed_starting(now, now + timedelta(hours=5))
    assert [a.uid for a in every] == [other.uid, near.uid, far.uid]
    reached = view.appointments.confirmed_starting(now, now + timedelta(hours=5),
                                                   reach={"gp-consult": now + timedelta(hours=2)})
    assert [a.uid for a in reached] == [near.uid]  # the other type not named, the far one beyond its reach
    assert view.appointments.confirmed_starting(now, now + timedelta(hours=5), reach={}) == []


def test_a_running_worker_looks_only_at_new_moments_from_its_second_tick(
        clinic: Desk, clock: FixedClock, now: datetime, open_store: Callable[[], Store], settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker on a store of its own (not listening yet on PostgreSQL): its first tick looks at
    everything, its second only at the minute since, and what falls due in it is reminded."""
    only_rule(clinic, "gp-consult", "patient", 60)
    first = now + timedelta(hours=1)
    appt = make_appointment(clinic, start=first + timedelta(minutes=60, seconds=30))
    looks: list[datetime | None] = []
    look = reminders.due_reminders

    def watched(view: Any, at: datetime, **kwargs: Any) -> Any:
        looks.append(kwargs.get("since"))
        return look(view, at, **kwargs)

    monkeypatch.setattr(reminders, "due_reminders", watched)
    desk = Desk(open_store(), clock, settings)
    try:
        worker = MaintenanceService(desk)
        clock.set(first)
        assert worker.tick().reminders == 0 and looks == [None]
        clock.set(first + timedelta(minutes=1))
        assert worker.tick().reminders == 1
    finally:
        desk.close()
    assert looks[1] == first
    assert reminded(clinic, appt.uid) == ["pat-001"]
