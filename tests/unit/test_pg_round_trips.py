"""What the PostgreSQL store asks of the server: a one-shot command makes one connection, and a
unit of work waits for the server once per read, not once per row it writes or per reminder it
fires (the statements are counted on the real server's driver, nothing is simulated)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from rxdesk.domain.errors import Conflict
from rxdesk.domain.models import AppointmentStatus as S
from rxdesk.domain.models import AuditEntry, EventType, RecipientGroup, ReminderSent
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from tests.helpers import another_store, make_appointment, view_of
from tests.receiver import Receiver
from tests.unit.test_worker import only_rule, subscribe

pytestmark = pytest.mark.database_only


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every connection made to the server from now on (the driver's own connect, counted)."""
    made: list[str] = []
    connect = vars(psycopg.Connection)["connect"].__func__  # the classmethod's function

    def counted(cls: Any, *args: Any, **kwargs: Any) -> Any:
        made.append(str(args[0] if args else kwargs.get("conninfo", "")))
        return connect(cls, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "connect", classmethod(counted))  # the pool's way
    monkeypatch.setattr(psycopg, "connect", psycopg.Connection.connect)  # psycopg.connect's
    return made


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text of every statement sent to the server from now on (a pipelined one too)."""
    found: list[str] = []
    execute = psycopg.Cursor.execute

    def counted(cur: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        found.append(query.as_string(cur) if hasattr(query, "as_string") else str(query))
        return execute(cur, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    return found


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text of every SELECT sent to the server from now on."""
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def counted(cur: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        text = query.as_string(cur) if hasattr(query, "as_string") else str(query)
        if text.lstrip().upper().startswith("SELECT"):
            sent.append(text)
        return execute(cur, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    return sent


def test_a_one_shot_command_makes_one_connection(clinic: Desk, now: datetime, connections: list[str]) -> None:
    appt = make_appointment(clinic, start=now + timedelta(days=1))
    # What `rxdesk appointments cancel` does, on a store of its own: refuse an empty store, read
    # the organisation, cancel.
    desk = Desk(another_store(clinic), clinic.clock, clinic.settings)
    try:
        assert not desk.is_empty()
        desk.org()
        desk.appointments.cancel_appointment(appt.uid, "patient asked", "tester")
        assert desk.appointments.list_appointments().total == 0
    finally:
        desk.close()
    assert len(connections) == 1  # the schema checked on it too; no pool
    assert clinic.appointments.get(appt.uid).status is S.cancelled


def test_a_tick_reads_a_few_statements_whatever_the_reminders_it_fires(
        clinic: Desk, now: datetime, receiver: Receiver, reads: list[str]) -> None:
    only_rule(clinic, "gp-consult", "patient", 120)
    subscribe(clinic, receiver, "APPOINTMENT_REMINDER_DUE")
    due = 30
    for i in range(due):
        make_appointment(clinic, start=now + timedelta(minutes=10 + 3 * i), minutes=2,
                         patient_id=("pat-001", "pat-002", "pat-003")[i % 3])
    reads.clear()
    report = MaintenanceService(clinic).tick()
    assert report.reminders == due and report.delivered == due
    # Each delivery's result is recorded on its row read again under lock (one read each);
    # the reminders already sent, the patients, the events: one read for all of them (a
    # statement each, once or twice a tick, for the rest).
    assert len(reads) <= due + 40, "\n".join(f"{reads.count(r)} {r}" for r in sorted(set(reads)))


def test_a_statement_refused_in_the_pipeline_commits_nothing_and_says_why(clinic: Desk, now: datetime) -> None:
    appt = make_appointment(clinic, start=now + timedelta(hours=1))
    row = ReminderSent(appointment_uid=appt.uid, rule_id="r1", recipient_group=RecipientGroup.patient,
                       recipient_id=appt.patient_id, sent_at=now, due_at=now)
    with clinic.store.write() as view:
        view.reminders_sent.add(row)

    def cancel_and_record_again() -> None:
        with clinic.store.write() as view:
            view.appointments.put(appt.model_copy(update={"status": S.cancelled, "cancelled_at": now,
                                                          "cancel_reason": "x", "cancelled_by": "admin:t"}))
            view.reminders_sent.add(row)  # refused by the server; nothing read after it
            view.events.append(EventType.APPOINTMENT_CANCELLED, {"appointment": appt.to_json()}, now)

    with pytest.raises(Conflict, match="nothing was changed"):
        cancel_and_record_again()
    assert clinic.appointments.get(appt.uid).status is S.confirmed
    assert not [e for _, e in view_of(clinic).events.after(0)]


def test_a_doctor_away_locks_the_appointments_it_takes_in_one_statement(
        clinic: Desk, now: datetime, reads: list[str]) -> None:
    day = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    taken = [make_appointment(clinic, start=day + timedelta(hours=8, minutes=30 * i),
                              patient_id=("pat-001", "pat-002", "pat-003")[i % 3]) for i in range(12)]
    reads.clear()
    result = clinic.away.run("dr-weber", day, day + timedelta(days=1), "called in sick", rebook=False, agent="alice")
    assert result.plan.cancelled == len(taken)
    assert {clinic.appointments.get(a.uid).status for a in taken} == {S.cancelled}
    # The plan reads them, then locks every one it takes: one statement for all, not one each.
    locks = [r for r in reads if "FROM appointments" in r and "FOR UPDATE" in r]
    assert len(locks) == 1, "\n".join(locks)


def test_a_doctor_away_writes_its_events_audit_entries_and_links_a_statement_each_kind(
        clinic: Desk, now: datetime, sent: list[str]) -> None:
    day = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    taken = [make_appointment(clinic, start=day + timedelta(hours=8, minutes=30 * i),
                              patient_id=("pat-001", "pat-002", "pat-003")[i % 3]) for i in range(12)]
    sent.clear()
    result = clinic.away.run("dr-weber", day, day + timedelta(days=1), "called in sick", rebook=True, agent="alice")
    moved = [item for item in result.plan.items if item.action == "move"]
    assert len(moved) == len(taken)
    # Each move is a rebook: the old appointment names its successor, an event and two audit
    # entries say so; they go out a few statements per kind (a read in between sends what
    # waits), not one per move.
    for kind in ("INSERT INTO events", "INSERT INTO audit", "UPDATE appointments SET successor_uid"):
        statements = [s for s in sent if s.startswith(kind)]
        assert len(statements) <= 2, f"{len(statements)} statements {kind}"
    for item in moved:
        following = clinic.appointments.show(item.uid).next_chain
        assert [a.starts_at for a in following] == [item.starts_at]
    events = [e for _, e in view_of(clinic).events.after(0) if e.type is EventType.APPOINTMENT_REBOOKED]
    assert len(events) == len(taken)


def test_a_rebook_writes_the_originals_link_to_its_successor_with_the_original(
        clinic: Desk, now: datetime, sent: list[str]) -> None:
    """A doctor's away week rebooks each appointment: the original names its successor in the
    statement that writes it, not in an UPDATE of every original after."""
    day = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    taken = [make_appointment(clinic, start=day + timedelta(hours=8, minutes=30 * i)) for i in range(6)]
    sent.clear()
    result = clinic.away.run("dr-weber", day, day + timedelta(days=1), "called in sick", rebook=True, agent="alice")
    assert [item.action for item in result.plan.items] == ["move"] * len(taken)
    assert not [s for s in sent if "successor_uid = linked" in s]
    now_stored = view_of(clinic)
    for item in result.plan.items:
        assert now_stored.appointments.successor_of(item.uid) == item.new_uid
        assert now_stored.appointments.require(item.uid).status is S.cancelled


def test_a_link_named_before_a_write_keeps_every_other_rows_successor(clinic: Desk, now: datetime) -> None:
    """Written beside a row that already names its successor, or named for a row this unit of
    work does not write, every link is what was last named."""
    from rxdesk.domain import lifecycle

    first, second, third = (make_appointment(clinic, start=now + timedelta(days=2, hours=h)) for h in (1, 2, 3))
    with clinic.store.write() as view:
        view.appointments.link_successor(second.uid, "1earlier0000000")
    with clinic.store.write() as view:
        view.appointments.link_successor(first.uid, "1named000000000")
        view.appointments.link_successor(third.uid, "1unwritten00000")  # a row this write leaves as it is
        again = view.appointments.require(second.uid)
        view.appointments.put_each([lifecycle.admin_cancel(view.appointments.require(first.uid), "moved", "admin:alice",
                                                           now), again])
        assert view.appointments.successor_of(first.uid) == "1named000000000"
    now_stored = view_of(clinic)
    assert [now_stored.appointments.successor_of(a.uid) for a in (first, second, third)] == [
        "1named000000000", "1earlier0000000", "1unwritten00000"]
    assert now_stored.appointments.require(first.uid).status is S.cancelled


def test_rows_written_in_bulk_are_there_for_what_the_unit_of_work_does_next(clinic: Desk, now: datetime) -> None:
    """A fired reminder waits to go out with others; an update of it in the same unit of work,
    and a read, still find it (what waits is sent before them)."""
    appt = make_appointment(clinic, start=now + timedelta(hours=2))
    row = ReminderSent(appointment_uid=appt.uid, rule_id="r1", recipient_group=RecipientGroup.patient,
                       recipient_id=appt.patient_id, sent_at=now, due_at=now)
    with clinic.store.write() as view:
        view.reminders_sent.add(row)
        view.reminders_sent.update(row.model_copy(update={"email_status": "sent"}))
        assert [r.email_status for r in view.reminders_sent.for_appointment(appt.uid)] == ["sent"]
        view.audit.append(AuditEntry(at=now, actor="admin:alice", action="appointment.note",
                                     target=f"appointment:{appt.uid}", details={"n": 1}))
    assert [r.email_status for r in view_of(clinic).reminders_sent.for_appointment(appt.uid)] == ["sent"]
    assert [e.details for e in view_of(clinic).audit.for_target(f"appointment:{appt.uid}")] == [{"n": 1}]


def test_a_doctor_away_for_a_week_reads_the_other_doctors_days_a_few_at_a_time(
        clinic: Desk, now: datetime, reads: list[str]) -> None:
    """The plan looks for free slots a day at a time among every doctor: each read of every
    doctor's active appointments covers the days after it too, so a week's plan reads them a
    few times, not once per day and length of appointment."""
    monday = (now + timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0)
    taken = [make_appointment(clinic, start=monday + timedelta(days=day, hours=hour), type_key=kind,
                              patient_id=("pat-001", "pat-002", "pat-003")[(day + hour) % 3])
             for day in (0, 2, 4) for hour, kind in ((9, "gp-consult"), (10, "prescription"), (14, "gp-consult"))]
    plan = clinic.away.plan("dr-weber", monday, monday + timedelta(days=7), "leave", rebook=True)
    reads.clear()
    result = clinic.away.run("dr-weber", monday, monday + timedelta(days=7), "leave", rebook=True, agent="alice")
    assert result.plan.plan_id == plan.plan_id and len(result.plan.items) == len(taken)
    assert {clinic.appointments.get(a.uid).status for a in taken} == {S.cancelled}
    every_doctor = [r for r in reads if "FROM appointments" in r and "doctor_id = " not in r and "ends_at >" in r]
    assert 0 < len(every_doctor) <= 4, "\n".join(every_doctor)


def test_a_unit_of_work_that_makes_hundreds_of_events_takes_their_numbers_in_a_few_reads(
        clinic: Desk, now: datetime, reads: list[str]) -> None:
    """Each read of the sequence waits for what the pipeline sent before it: the blocks of
    numbers grow, so 300 events take three reads (64, 128, 256), in the order they were made."""
    with clinic.store.write() as view:
        made = [view.events.append(EventType.APPOINTMENT_CANCELLED, {"n": i}, now) for i in range(300)]
    taken = [r for r in reads if "nextval(" in r]
    assert len(taken) == 3, taken
    stored = [e for _, e in view_of(clinic).events.after(0)]
    assert [e.id for e in stored][-300:] == [e.id for e in made]
    assert [e.data["n"] for e in stored][-300:] == list(range(300))


def test_statements_of_many_rows_go_with_the_servers_own_placeholders(
        clinic: Desk, now: datetime, sent: list[str]) -> None:
    """A statement of hundreds of rows is written with numbered placeholders (`$1`), which the
    driver sends as they are: thousands of `%s` it would parse again at every execution (it
    caches only short statements), milliseconds of a doctor's away week or a busy tick. The
    values arrive as written, `%` and `$` in them too."""
    odd = "50% off, $1 and %s"
    appointments = [make_appointment(clinic, start=now + timedelta(days=1, minutes=30 * i)) for i in range(40)]
    sent.clear()
    with clinic.store.write() as view:
        for i in range(300):
            view.events.append(EventType.APPOINTMENT_CANCELLED, {"n": i, "why": odd}, now)
            view.audit.append(AuditEntry(at=now, actor="admin:alice", action="appointment.note",
                                         target=f"appointment:{appointments[0].uid}", details={"n": i, "why": odd}))
        view.appointments.put_each([a.model_copy(update={"room_url": f"https://meet.example/{odd}/{a.uid}"})
                                    for a in appointments])
    bulk = [s for s in sent if s.startswith(("INSERT INTO events", "INSERT INTO audit", 'INSERT INTO "appointments"'))]
    assert {s.split(" (")[0] for s in bulk} == {"INSERT INTO events", "INSERT INTO audit", 'INSERT INTO "appointments"'}
    for statement in bulk:
        assert "%s" not in statement and "($1, $2, " in statement, statement[:200]
    stored = [e.data for _, e in view_of(clinic).events.after(0)][-300:]
    assert stored == [{"n": i, "why": odd} for i in range(300)]
    notes = view_of(clinic).audit.for_target(f"appointment:{appointments[0].uid}")
    assert sorted(e.details["n"] for e in notes if e.action == "appointment.note") == list(range(300))
    assert {clinic.appointments.get(a.uid).room_url for a in appointments} == {
        f"https://meet.example/{odd}/{a.uid}" for a in appointments}


def test_each_move_of_a_doctor_away_writes_both_its_appointments_in_one_statement(
        clinic: Desk, now: datetime, sent: list[str]) -> None:
    """The original cancelled and its successor booked go out together, sent at once (the new
    slot is held from that statement on), in that order."""
    day = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    taken = [make_appointment(clinic, start=day + timedelta(hours=8, minutes=30 * i),
                              patient_id=("pat-001", "pat-002", "pat-003")[i % 3]) for i in range(12)]
    sent.clear()
    result = clinic.away.run("dr-weber", day, day + timedelta(days=1), "called in sick", rebook=True, agent="alice")
    assert [item.action for item in result.plan.items] == ["move"] * len(taken)
    writes = [s for s in sent if s.startswith('INSERT INTO "appointments"')]
    assert len(writes) == len(taken), "\n".join(writes)
    for item in result.plan.items:
        assert clinic.appointments.get(item.uid).status is S.cancelled
        assert clinic.appointments.get(moved_uid(clinic, item.uid)).status is S.confirmed


def moved_uid(clinic: Desk, uid: str) -> str:
    following = clinic.appointments.show(uid).next_chain
    assert len(following) == 1
    return following[0].uid
