"""A doctor away: the plan (moves by the rebook rules, cancellations), one write, dry run = run.

The clinic (examples/clinic.toml), now Monday 2026-11-23 08:00 UTC: Dr Weber (Berlin) works
Monday 09-12 and 13-17, Wednesday 09-17 and Friday 08-12; Dr Sato (London, = UTC in November)
Monday, Tuesday and Thursday 10-18; Dr Osei (New York) Tuesday and Thursday 08-16. GP
consultations (30 min, 60 min booking notice) and prescriptions move to any doctor; therapy
(50 min, Osei and Sato) stays with its doctor.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rxdesk.domain.clock import FixedClock
from rxdesk.domain.errors import NotFound, ValidationFailed
from rxdesk.domain.models import AppointmentStatus, Event
from rxdesk.domain.queries import AppointmentQuery, AppointmentRecord
from rxdesk.services import Desk
from rxdesk.services.away import HORIZON_DAYS, AwayItem, AwayResult, PlanChanged
from rxdesk.store.protocols import UnitOfWork
from tests.helpers import Cli, another_store, commits, fingerprint, make_appointment, view_of, wait_until

pytestmark = pytest.mark.backends

MON = datetime(2026, 11, 23, tzinfo=UTC)
TUE = MON + timedelta(days=1)
THU = MON + timedelta(days=3)


def moved_to(item: AwayItem) -> str:
    """The uid of the appointment a moved item was rebooked to."""
    assert item.new_uid is not None, item
    return item.new_uid


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute)


def events(desk: Desk) -> list[Event]:
    return [e for _, e in view_of(desk).events.after(0)]


def active_of(desk: Desk, doctor_id: str) -> list[AppointmentRecord]:
    page = view_of(desk).appointments.search(AppointmentQuery(
        doctor_id=doctor_id, statuses=frozenset({"held", "confirmed"}), as_of=desk.clock.now()))
    return page.items


def no_overlaps(desk: Desk) -> None:
    for doctor in ("dr-weber", "dr-sato", "dr-osei"):
        mine = sorted(active_of(desk, doctor), key=lambda a: a.starts_at)
        for a, b in zip(mine, mine[1:]):
            assert a.ends_at <= b.starts_at, f"{doctor}: {a.uid} overlaps {b.uid}"


def test_without_rebook_every_active_appointment_in_the_range_is_cancelled(clinic: Desk, now: datetime) -> None:
    inside = [make_appointment(clinic, start=at(MON, h), patient_id=p) for h, p in ((10, "pat-001"), (13, "pat-002"))]
    held = make_appointment(clinic, start=at(MON, 14), patient_id="pat-003", status="held",
                            created_at=now, hold_minutes=120)
    later = make_appointment(clinic, start=at(MON + timedelta(days=2), 10))  # Wednesday: outside
    other = make_appointment(clinic, start=at(MON, 11), doctor_id="dr-sato", patient_id="pat-003")
    gone = make_appointment(clinic, start=at(MON, 15), status="cancelled")
    before = commits(clinic.store)
    result = clinic.away.run("dr-weber", MON, TUE, "Dr Weber called in sick", rebook=False, agent="alice")
    assert commits(clinic.store) == before + 1
    assert [i.uid for i in result.plan.items] == [inside[0].uid, inside[1].uid, held.uid]
    assert result.plan.cancelled == 3 and result.plan.moved == 0
    for appt in (*inside, held):
        stored = clinic.appointments.get(appt.uid)
        assert stored.status.value == "cancelled" and stored.cancel_reason == "Dr Weber called in sick"
        assert stored.cancelled_by == "admin:alice"
    for appt in (later, other):
        assert clinic.appointments.get(appt.uid).status.value == "confirmed"
    assert clinic.appointments.get(gone.uid).cancel_reason == "test setup"
    assert [e.type.value for e in events(clinic)] == ["APPOINTMENT_CANCELLED"] * 3
    audit = view_of(clinic).audit.for_target("doctor:dr-weber")
    assert [(e.action, e.details["cancelled"], e.details["plan_id"]) for e in audit] == [
        ("doctor.away", 3, result.plan.plan_id)]


def test_any_doctor_keeps_the_patients_time_with_another_doctor(clinic: Desk) -> None:
    appt = make_appointment(clinic, start=at(MON, 10))  # 11:00 Berlin; Dr Sato works from 10:00 London
    result = clinic.away.run("dr-weber", MON, TUE, "sick", rebook=True, agent="alice")
    (item,) = result.plan.items
    assert (item.action, item.doctor_id, item.starts_at, item.why) == ("move", "dr-sato", at(MON, 10),
                                                                       "same time")
    new = clinic.appointments.get(moved_to(item))
    assert new.previous_meeting_uid == appt.uid and new.doctor_id == "dr-sato" and new.status.value == "confirmed"
    assert new.room_url == clinic.doctors.get("dr-sato").room_url
    old = clinic.appointments.get(appt.uid)
    assert old.status.value == "cancelled" and old.cancel_reason is not None
    assert old.cancel_reason.startswith(f"rebooked to {new.uid}: ") and "sick" in old.cancel_reason
    (event,) = events(clinic)
    assert event.type.value == "APPOINTMENT_REBOOKED" and event.data["previous"]["uid"] == appt.uid
    assert [a.uid for a in clinic.appointments.show(appt.uid).next_chain] == [new.uid]


def test_a_slot_inside_the_booking_notice_is_not_taken(clinic: Desk, now: datetime, clock: FixedClock) -> None:
    clock.set(at(MON, 9, 30))  # Dr Sato's 10:00 is 30 minutes away: GP needs 60
    appt = make_appointment(clinic, start=at(MON, 10))
    (item,) = clinic.away.plan("dr-weber", MON, TUE, "sick", rebook=True).items
    assert item.action == "move" and item.why == "nearest free slot"
    assert item.starts_at is not None and item.starts_at >= at(MON, 10, 30) and item.starts_at != appt.starts_at
    result = clinic.away.run("dr-weber", MON, TUE, "sick", rebook=True, agent="alice")
    assert clinic.appointments.get(moved_to(result.plan.items[0])).starts_at >= at(MON, 10, 30)


def test_two_moves_never_take_the_same_slot(clinic: Desk) -> None:
    # Dr Sato is taken at 10:00 and 10:30; both of Dr Weber's patients would go nearest, to 11:00.
    first = make_appointment(clinic, start=at(MON, 10), patient_id="pat-001")
    second = make_appointment(clinic, start=at(MON, 10, 30), patient_id="pat-002")
    for start in (at(MON, 10), at(MON, 10, 30)):
        make_appointment(clinic, start=start, doctor_id="dr-sato", patient_id="pat-003")
    result = clinic.away.run("dr-weber", MON, TUE, "sick", rebook=True, agent="alice")
    targets = [(i.doctor_id, i.starts_at) for i in result.plan.items]
    assert [i.uid for i in result.plan.items] == [first.uid, second.uid]
    assert targets == [("dr-sato", at(MON, 11)), ("dr-sato", at(MON, 11, 30))]
    no_overlaps(clinic)


def test_same_doctor_goes_to_the_first_free_slots_after_the_range(clinic: Desk) -> None:
    # Therapy stays with Dr Osei (New York, UTC-5): Tuesday's two sessions go to Thursday from 08:00.
    morning = make_appointment(clinic, start=at(TUE, 14), doctor_id="dr-osei", type_key="therapy")
    noon = make_appointment(clinic, start=at(TUE, 17), doctor_id="dr-osei", type_key="therapy", patient_id="pat-002")
    result = clinic.away.run("dr-osei", TUE, TUE + timedelta(days=1), "conference", rebook=True, agent="alice")
    assert [(i.uid, i.doctor_id, i.starts_at, i.why) for i in result.plan.items] == [
        (morning.uid, "dr-osei", at(THU, 13), "first free slot after the range"),
        (noon.uid, "dr-osei", at(THU, 13, 50), "first free slot after the range"),
    ]
    no_overlaps(clinic)


def test_a_day_off_abroad_is_off_all_day_in_the_doctors_own_zone(clinic: Desk) -> None:
    # Dr Osei works from Sydney (UTC+11) on Tuesdays and Thursdays, 08:00-16:00 there. Away on
    # Wednesday in the clinic's zone (Berlin) is until Thursday 10:00 in Sydney: his Thursday is
    # his day off too, so the session moves to his Tuesday, not to 10:00 on Thursday.
    with clinic.store.write() as view:
        osei = view.doctors.require("dr-osei")
        view.doctors.put(osei.model_copy(update={"timezone": "Australia/Sydney"}))
    wed = MON + timedelta(days=2)
    session = make_appointment(clinic, start=at(wed, 21), doctor_id="dr-osei", type_key="therapy")
    start, end = clinic.away.range("2026-11-25", "2026-11-25")
    plan = clinic.away.plan("dr-osei", start, end, "conference", rebook=True)
    (item,) = plan.items
    assert (item.uid, item.doctor_id, item.why) == (session.uid, "dr-osei", "first free slot after the range")
    assert item.starts_at == datetime(2026, 11, 30, 21, 0, tzinfo=UTC)  # Tue 1 Dec, 08:00 in Sydney
    assert item.doctors_time(plan.zone) == "Tue 2026-12-01 08:00 Australia/Sydney"
    assert plan.range_text() == "Wed 2026-11-25 00:00 – Thu 2026-11-26 00:00 (Europe/Berlin)"
    assert plan.doctors_range_text() == "Wed 2026-11-25 10:00 – Thu 2026-11-26 10:00 (Australia/Sydney)"
    # A range ending at a time of day is the doctor's back from then, wherever they are.
    start, end = clinic.away.range("2026-11-25 00:00", "2026-11-25 23:00")
    (item,) = clinic.away.plan("dr-osei", start, end, "conference", rebook=True).items
    assert item.starts_at == at(wed, 22, 40)  # Thu 09:40 in Sydney, its first slot after 09:00 there


def test_what_cannot_move_is_cancelled_with_the_reason(clinic: Desk) -> None:
    with clinic.store.write() as view:
        osei = view.doctors.require("dr-osei")
        view.doctors.put(osei.model_copy(update={"availability": []}))  # no windows left
    therapy = make_appointment(clinic, start=at(TUE, 14), doctor_id="dr-osei", type_key="therapy")
    result = clinic.away.run("dr-osei", TUE, TUE + timedelta(days=7), "long leave", rebook=True, agent="alice")
    (item,) = result.plan.items
    assert item.action == "cancel" and f"no free slot within {HORIZON_DAYS} days" in item.why
    stored = clinic.appointments.get(therapy.uid)
    assert stored.status.value == "cancelled" and stored.cancel_reason == "long leave"


def test_a_hold_moves_as_a_fresh_hold_and_a_lapsed_one_is_left_alone(clinic: Desk, now: datetime) -> None:
    held = make_appointment(clinic, start=at(MON, 10), status="held", created_at=now, hold_minutes=60)
    lapsed = make_appointment(clinic, start=at(MON, 11), status="held", patient_id="pat-002")  # made yesterday
    result = clinic.away.run("dr-weber", MON, TUE, "sick", rebook=True, agent="alice")
    assert [i.uid for i in result.plan.items] == [held.uid]
    new = clinic.appointments.get(moved_to(result.plan.items[0]))
    assert new.status.value == "held" and new.hold_expires_at == now + timedelta(minutes=15)
    assert clinic.appointments.get(lapsed.uid).status.value == "held"  # as stored: it IS expired


def test_the_dry_run_writes_nothing_and_the_run_does_what_it_said(clinic: Desk, data_dir: Path) -> None:
    for hour, patient in ((10, "pat-001"), (10.5, "pat-002"), (14, "pat-003"), (15, "pat-001")):
        make_appointment(clinic, start=at(MON, int(hour), int(hour % 1 * 60)), patient_id=patient)
    make_appointment(clinic, start=at(MON, 11), type_key="prescription", patient_id="pat-002")
    before = fingerprint(data_dir)
    plan = clinic.away.plan("dr-weber", MON, MON + timedelta(days=3), "sick", rebook=True)
    assert fingerprint(data_dir) == before
    assert len(plan.items) == 5 and plan.plan_id == clinic.away.plan(
        "dr-weber", MON, MON + timedelta(days=3), "sick", rebook=True).plan_id
    result = clinic.away.run("dr-weber", MON, MON + timedelta(days=3), "sick", rebook=True, agent="alice",
                             expected=plan)
    assert [i.key for i in result.plan.items] == [i.key for i in plan.items]
    assert result.plan.plan_id == plan.plan_id and result.to_json()["changed"] is None
    for item in result.plan.items:
        new = clinic.appointments.get(moved_to(item))
        assert (new.doctor_id, new.starts_at, new.previous_meeting_uid) == (item.doctor_id, item.starts_at, item.uid)
    assert [e.type.value for e in events(clinic)] == ["APPOINTMENT_REBOOKED"] * 5
    no_overlaps(clinic)


def test_a_run_carries_out_the_plan_shown_or_nothing_and_names_who_would_go_elsewhere(clinic: Desk, now: datetime, data_dir: Path) -> None:
    appt = make_appointment(clinic, start=at(MON, 10))
    plan = clinic.away.plan("dr-weber", MON, TUE, "sick", rebook=True)
    assert (plan.items[0].doctor_id, plan.items[0].starts_at) == ("dr-sato", at(MON, 10))
    # Another process books Dr Sato at 10:00 meanwhile.
    other = Desk(another_store(clinic), FixedClock(now), clinic.settings)
    make_appointment(other, start=at(MON, 10), doctor_id="dr-sato", patient_id="pat-003")
    before = fingerprint(data_dir)
    with pytest.raises(PlanChanged) as caught:
        clinic.away.run("dr-weber", MON, TUE, "sick", rebook=True, agent="alice", expected=plan)
    assert fingerprint(data_dir) == before
    changed = caught.value
    assert changed.expected == plan.plan_id != changed.plan.plan_id and "\n" not in str(changed)
    assert str(changed).endswith(f"nothing was changed: the plan now is {changed.plan.plan_id}")
    (line,) = changed.changes
    assert line.startswith(f"{appt.uid}: Dr Emi Sato, Mon 2026-11-23 11:00 → ")
    (item,) = changed.plan.items
    assert item.action == "move" and item.starts_at != at(MON, 10) and not changed.plan.done
    assert changed.to_json()["changed"] == {"expected": plan.plan_id, "differences": [line]}
    # The plan now, seen and expected, is carried out.
    done = clinic.away.run("dr-weber", MON, TUE, "sick", rebook=True, agent="alice", expected=changed.plan)
    assert [i.key for i in done.plan.items] == [i.key for i in changed.plan.items]
    no_overlaps(clinic)
    # Knowing only the id (the command line), a changed plan is refused all the same.
    again = make_appointment(clinic, start=at(MON, 14), patient_id="pat-002")
    seen = clinic.away.plan("dr-weber", MON, TUE, "sick", rebook=False)
    joined = make_appointment(other, start=at(MON, 15), patient_id="pat-003")
    with pytest.raises(PlanChanged) as caught:
        clinic.away.run("dr-weber", MON, TUE, "sick", rebook=False, agent="alice", expected=seen.plan_id)
    assert caught.value.changes == [f"{joined.uid}: not in the plan → cancelled"]
    assert len(caught.value.plan.items) == 2
    assert again.uid in {i.uid for i in caught.value.plan.items}
    assert clinic.appointments.get(again.uid).status.value == "confirmed"


def test_a_plan_id_says_what_the_plan_does_not_when_it_was_asked(clinic: Desk) -> None:
    appt = make_appointment(clinic, start=at(MON, 10))
    asked = [clinic.away.plan("dr-weber", start, TUE + extra, "sick", rebook=True)
             for start, extra in ((at(MON, 8), timedelta(0)), (at(MON, 8, 0) + timedelta(seconds=37), timedelta(0)),
                                  (at(MON, 9), timedelta(hours=5)))]
    assert len({plan.plan_id for plan in asked}) == 1  # the same moves, whatever the range's ends
    assert clinic.away.plan("dr-weber", MON, TUE, "another reason", rebook=True).plan_id == asked[0].plan_id
    assert clinic.away.plan("dr-weber", MON, TUE, "sick", rebook=False).plan_id != asked[0].plan_id
    clinic.appointments.cancel_appointment(appt.uid, "patient called", "bob")
    assert clinic.away.plan("dr-weber", MON, TUE, "sick", rebook=True).plan_id != asked[0].plan_id


@pytest.mark.parametrize("case", ["unknown doctor", "backwards", "too long", "no reason", "reason with a newline"])
def test_bad_requests_change_nothing(clinic: Desk, data_dir: Path, case: str) -> None:
    make_appointment(clinic, start=at(MON, 10))
    doctor, start, end, reason, error = {
        "unknown doctor": ("dr-nobody", MON, TUE, "sick", NotFound),
        "backwards": ("dr-weber", TUE, MON, "sick", ValidationFailed),
        "too long": ("dr-weber", MON, MON + timedelta(days=200), "sick", ValidationFailed),
        "no reason": ("dr-weber", MON, TUE, "   ", ValidationFailed),
        "reason with a newline": ("dr-weber", MON, TUE, "a\nb", ValidationFailed),
    }[case]
    before = fingerprint(data_dir)
    for call in (lambda: clinic.away.plan(doctor, start, end, reason, rebook=True),
                 lambda: clinic.away.run(doctor, start, end, reason, rebook=True, agent="alice")):
        with pytest.raises(error) as caught:
            call()
        assert "\n" not in str(caught.value)
    assert fingerprint(data_dir) == before


def test_ranges_as_agents_type_them(clinic: Desk, now: datetime) -> None:
    # The clinic's zone is Berlin (UTC+1); now is 09:00 there.
    assert clinic.away.range("now", "today") == (now, datetime(2026, 11, 23, 23, 0, tzinfo=UTC))
    assert clinic.away.range("2026-11-24", "+2d") == (datetime(2026, 11, 23, 23, 0, tzinfo=UTC),
                                                     datetime(2026, 11, 25, 23, 0, tzinfo=UTC))
    assert clinic.away.range("13:00", "2026-11-23 17:30") == (at(MON, 12), at(MON, 16, 30))
    assert clinic.away.range("2026-11-23T10:00:00Z", "2026-11-23T12:00:00+01:00") == (at(MON, 10), at(MON, 11))
    with pytest.raises(ValidationFailed):
        clinic.away.range("yesterday at noon", "today")


def test_the_cli_prints_the_plan_and_carries_it_out(clinic: Desk, cli: Cli, data_dir: Path, now: datetime) -> None:
    first = make_appointment(clinic, start=at(MON, 10))
    second = make_appointment(clinic, start=at(MON, 14), patient_id="pat-002", type_key="prescription")
    before = fingerprint(data_dir)
    args = ("doctors", "away", "dr-weber", "--from", "now", "--to", "today", "--reason", "called in sick", "--rebook")
    dry = cli(*args, "--dry-run")
    assert dry.code == 0, dry.err
    assert fingerprint(data_dir) == before
    assert "Lena Fischer" in dry.out and "Dr Emi Sato, Mon 2026-11-23 11:00" in dry.out  # times in Berlin
    plan_id = dry.out.split("plan ")[1].split(":")[0]
    assert "--expect " + plan_id in dry.out
    as_json = cli(*args, "--dry-run", "--json").json()
    assert as_json["plan_id"] == plan_id and as_json["dry_run"] is True
    assert [(i["uid"], i["action"], i["to_doctor_id"]) for i in as_json["items"]] == [
        (first.uid, "move", "dr-sato"), (second.uid, "move", "dr-sato")]
    assert as_json["items"][0]["to_starts_at"] == "2026-11-23T10:00:00Z" and as_json["items"][0]["new_uid"] is None
    assert fingerprint(data_dir) == before
    done = cli(*args, "--expect", plan_id, "--json")
    assert done.code == 0 and done.err == ""
    data = done.json()
    assert data["plan_id"] == plan_id and data["dry_run"] is False and data["changed"] is None
    assert all(i["new_uid"] for i in data["items"])
    assert clinic.appointments.get(first.uid).status.value == "cancelled"


def test_the_cli_refuses_a_plan_that_changed_since_the_dry_run_and_prints_the_plan_now(clinic: Desk, cli: Cli, data_dir: Path) -> None:
    make_appointment(clinic, start=at(MON, 10))
    args = ("doctors", "away", "dr-weber", "--from", "2026-11-23", "--to", "2026-11-23", "--reason", "sick")
    plan_id = cli(*args, "--dry-run", "--json").json()["plan_id"]
    late = make_appointment(clinic, start=at(MON, 13), patient_id="pat-002")
    before = fingerprint(data_dir)
    refused = cli(*args, "--expect", plan_id)
    assert refused.code == 1 and fingerprint(data_dir) == before
    (line,) = refused.err.splitlines()
    assert line.startswith(f"rxdesk: the plan changed since plan {plan_id} was shown")
    now_id = line.rsplit(" ", 1)[1]
    assert f"plan {now_id}: 0 to move, 2 to cancel" in refused.out and late.uid in refused.out
    assert f"--expect {now_id}" in refused.out and "NEW UID" not in refused.out
    as_json = cli(*args, "--expect", plan_id, "--json")
    assert as_json.code == 1 and as_json.json()["plan_id"] == now_id and as_json.json()["dry_run"] is True
    assert as_json.json()["changed"] == {"expected": plan_id,
                                         "differences": [f"{late.uid}: not in the plan → cancelled"]}
    assert cli(*args, "--expect", "0000000000").code == 1 and fingerprint(data_dir) == before
    done = cli(*args, "--expect", now_id)
    assert done.code == 0 and done.err == "" and "2 cancelled" in done.out and "NEW UID" in done.out


def test_the_cli_plan_asked_for_from_now_keeps_its_id_as_the_clock_moves(clinic: Desk, cli: Cli) -> None:
    make_appointment(clinic, start=at(MON, 10))
    args = ("doctors", "away", "dr-weber", "--from", "now", "--to", "today", "--reason", "sick", "--rebook")
    dry = cli(*args, "--dry-run", "--json", env={"RXDESK_NOW": "2026-11-23T08:00:00Z"}).json()
    done = cli(*args, "--expect", dry["plan_id"], "--json", env={"RXDESK_NOW": "2026-11-23T08:00:41Z"})
    assert done.code == 0 and done.err == "" and done.json()["plan_id"] == dry["plan_id"]


def test_the_cli_refuses_a_bad_range_in_one_line(clinic: Desk, cli: Cli, data_dir: Path) -> None:
    make_appointment(clinic, start=at(MON, 10))
    before = fingerprint(data_dir)
    for bad in (("--from", "today", "--to", "yesterday"), ("--from", "soon", "--to", "today"),
                ("--from", "2026-11-23T25:00", "--to", "today")):
        refused = cli("doctors", "away", "dr-weber", *bad, "--reason", "sick")
        assert refused.code == 1 and len(refused.err.strip().splitlines()) == 1, refused.err
    assert cli("doctors", "away", "dr-weber", "--from", "now", "--reason", "sick").code == 2
    assert fingerprint(data_dir) == before


def wait_until_a_writer_waits_for_a_row(database_url: str | None, gave_up: threading.Event) -> None:
    """On PostgreSQL, until a statement of this database waits for a row lock (the run reached the
    appointment another transaction is cancelling). The data dir's writers queue on its write
    lock before they read anything, so there the run simply waits its turn."""
    if database_url is None:
        return
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:

        def a_statement_waits_for_a_lock() -> bool:
            waiting = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND wait_event_type = 'Lock'").fetchone()
            return bool(waiting and waiting[0])

        wait_until(lambda: gave_up.is_set() or a_statement_waits_for_a_lock(),
                   what="the run to wait for the appointment being cancelled", limit=30)
        assert not gave_up.is_set(), "the run never waited for the appointment being cancelled"


def run_while_another_agent_writes(clinic: Desk, database_url: str | None,
                                   write: Callable[[UnitOfWork], None]) -> AwayResult:
    """Dr Weber's away run (Monday, rebooking), started while another agent's transaction that
    made `write` is still open; that transaction commits once the run waits for it."""
    other = another_store(clinic)
    writing, release, finished = threading.Event(), threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def other_agent() -> None:
        with other.write() as view:  # holds what it wrote (the data dir: the write lock) until released
            write(view)
            writing.set()
            release.wait(30)

    def away_run() -> None:
        try:
            outcome["result"] = clinic.away.run("dr-weber", MON, TUE, "sick", rebook=True, agent="alice")
        except Exception as exc:  # noqa: BLE001 - the test reports it
            outcome["error"] = exc
        finally:
            finished.set()

    agent = threading.Thread(target=other_agent)
    agent.start()
    assert writing.wait(30)
    run = threading.Thread(target=away_run)
    run.start()
    try:
        wait_until_a_writer_waits_for_a_row(database_url, finished)
    finally:
        release.set()
        agent.join(30)
        run.join(60)
    assert "error" not in outcome, outcome.get("error")
    result: AwayResult = outcome["result"]
    return result


def test_an_appointment_cancelled_while_the_run_plans_is_left_out_and_everyone_else_is_handled(clinic: Desk, now: datetime, database_url: str | None) -> None:
    """Another agent cancels one of the doctor's appointments in a transaction that commits while
    the away run is already planning: the run plans again without it and moves everyone else."""
    from rxdesk.services.appointments import cancel

    booked = [make_appointment(clinic, start=at(MON, h), patient_id=p)
              for h, p in ((10, "pat-001"), (11, "pat-002"), (14, "pat-003"))]
    going = booked[1]

    def the_patient_called(view: UnitOfWork) -> None:
        cancel(view, view.appointments.require(going.uid), "the patient called", "admin:bob", now)

    result = run_while_another_agent_writes(clinic, database_url, the_patient_called)
    assert [i.uid for i in result.plan.items] == [booked[0].uid, booked[2].uid]
    stored = clinic.appointments.get(going.uid)
    assert (stored.status.value, stored.cancel_reason, stored.cancelled_by) == ("cancelled", "the patient called",
                                                                                "admin:bob")
    for appt in (booked[0], booked[2]):
        assert (clinic.appointments.get(appt.uid).cancel_reason or "").startswith("rebooked to ")
    assert [e.type.value for e in events(clinic)] == ["APPOINTMENT_CANCELLED", *["APPOINTMENT_REBOOKED"] * 2]
    no_overlaps(clinic)


def test_a_slot_booked_while_the_run_writes_sends_the_patient_elsewhere_instead_of_failing_the_run(clinic: Desk, now: datetime, database_url: str | None) -> None:
    """Another agent books the slot the plan moves a patient to, in a transaction that commits
    while the run writes: the run is refused that slot by the database, plans again and moves
    the patient to the next one (the data dir's runs wait for the other write instead)."""
    appt = make_appointment(clinic, start=at(MON, 10))
    taken = make_appointment(clinic, start=at(MON, 10), doctor_id="dr-sato", patient_id="pat-003",
                             status="cancelled")  # the uid the other agent's booking will use

    def another_booking(view: UnitOfWork) -> None:
        view.appointments.put(taken.model_copy(update={"status": AppointmentStatus.confirmed, "cancelled_at": None,
                                                      "cancel_reason": None, "cancelled_by": None}))

    result = run_while_another_agent_writes(clinic, database_url, another_booking)
    (item,) = result.plan.items
    assert item.uid == appt.uid and item.action == "move" and (item.doctor_id, item.starts_at) != ("dr-sato", at(MON, 10))
    assert clinic.appointments.get(taken.uid).status.value == "confirmed"
    no_overlaps(clinic)
