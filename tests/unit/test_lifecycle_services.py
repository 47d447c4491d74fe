"""The lifecycle at the service level: attendance, what an ended appointment can no longer do,
rebooking a missed one, lapsed holds that never block a slot, the tick writing down what time
decided, and meeting rooms changed on request.

The clinic's now is Monday 2026-11-23 08:00 UTC (09:00 Berlin). Dr Weber (Berlin) works Mondays
09:00-12:00 and 13:00-17:00 and Wednesdays 09:00-17:00; gp-consult lasts 30 minutes with a
15-minute hold and 60 minutes' booking notice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rxdesk.domain.clock import FixedClock
from rxdesk.domain.errors import NotFound, Refused, RxdeskError, ValidationFailed
from rxdesk.domain.models import Appointment, Event, EventType, appointment_target
from rxdesk.domain.models import AppointmentStatus as S
from rxdesk.services import Desk
from rxdesk.services.appointments import AppointmentFilter
from rxdesk.services.maintenance import MaintenanceService
from tests.helpers import commits, fingerprint, make_appointment, refused_unchanged, view_of
from tests.unit.test_tokens_minting import TokenFor, claims_at, mint

pytestmark = pytest.mark.backends

WED_10_BERLIN = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
MON_11_BERLIN = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def events(desk: Desk, kind: EventType | None = None) -> list[Event]:
    found = [e for _, e in view_of(desk).events.after(0)]
    return [e for e in found if kind is None or e.type is kind]


def actions(desk: Desk, uid: str) -> list[tuple[str, str]]:
    return [(e.actor, e.action) for e in view_of(desk).audit.for_target(appointment_target(uid))]




# -- attendance -------------------------------------------------------------------------


def test_mark_no_show_once_started_writes_the_note_the_event_and_the_audit(clinic: Desk, clock: FixedClock, now: datetime) -> None:
    appt = make_appointment(clinic, start=now - timedelta(minutes=10))  # under way
    marked = clinic.appointments.mark_attendance(appt.uid, "no_show", "  Patient never joined  ", "alice")
    assert marked.status is S.no_show
    assert (marked.attendance_note, marked.attendance_by, marked.attendance_at) == (
        "Patient never joined", "admin:alice", now)
    assert clinic.appointments.get(appt.uid) == marked
    (event,) = events(clinic)
    assert event.type is EventType.APPOINTMENT_NO_SHOW and event.created_at == now
    assert event.data["appointment"] == marked.to_json()
    assert (event.data["reason"], event.data["marked_by"]) == ("Patient never joined", "admin:alice")
    (entry,) = view_of(clinic).audit.for_target(appointment_target(appt.uid))
    assert (entry.actor, entry.action) == ("admin:alice", "appointment.mark")
    assert entry.details == {"from_status": "confirmed", "to_status": "no_show", "reason": "Patient never joined"}


def test_correcting_back_to_completed_within_seven_days(clinic: Desk, clock: FixedClock, now: datetime) -> None:
    appt = make_appointment(clinic, start=now - timedelta(days=3))  # ended: it IS completed
    clinic.appointments.mark_attendance(appt.uid, "no_show", "no answer", "alice")
    back = clinic.appointments.mark_attendance(appt.uid, "completed", "the doctor saw them after all", "bob")
    assert back.status is S.completed and back.attendance_by == "admin:bob"
    assert [e.type for e in events(clinic)] == [EventType.APPOINTMENT_NO_SHOW, EventType.APPOINTMENT_COMPLETED]
    clock.set(appt.ends_at + timedelta(days=7, seconds=1))
    assert "more than 7 days" in str(refused_unchanged(
        clinic, lambda: clinic.appointments.mark_attendance(appt.uid, "no_show", "late", "alice"), Refused))


def test_nothing_is_marked_before_its_start_or_when_not_confirmed(clinic: Desk, now: datetime) -> None:
    future = make_appointment(clinic, start=now + timedelta(hours=2))
    cancelled = make_appointment(clinic, start=now - timedelta(hours=2), status="cancelled")
    held = make_appointment(clinic, start=now - timedelta(minutes=5), status="held", hold_minutes=60 * 48)
    assert "has not started" in str(refused_unchanged(
        clinic, lambda: clinic.appointments.mark_attendance(future.uid, "no_show", "why", "alice"), Refused))
    for appt in (cancelled, held):
        assert "cannot be marked" in str(refused_unchanged(
            clinic, lambda: clinic.appointments.mark_attendance(appt.uid, "no_show", "why", "alice"), Refused))
    refused_unchanged(clinic, lambda: clinic.appointments.mark_attendance(future.uid, "maybe", "why", "alice"),
                      ValidationFailed)
    refused_unchanged(clinic, lambda: clinic.appointments.mark_attendance(future.uid, "no_show", " ", "alice"),
                      ValidationFailed)
    refused_unchanged(clinic, lambda: clinic.appointments.mark_attendance("1bv0000000000000", "no_show", "w", "a"),
                      NotFound)


# -- what an ended appointment can no longer do -------------------------------------------


def test_cancel_after_the_end_is_refused_with_the_way_out(clinic: Desk, now: datetime) -> None:
    ended = make_appointment(clinic, start=now - timedelta(hours=2))  # stored confirmed
    message = str(refused_unchanged(clinic, lambda: clinic.appointments.cancel_appointment(ended.uid, "late", "alice"), Refused))
    assert message == f"appointment {ended.uid} has ended; mark it no_show instead"
    # Under way is not ended: an agent may still cancel (a doctor who could not join).
    running = make_appointment(clinic, start=now - timedelta(minutes=10), doctor_id="dr-sato")
    assert clinic.appointments.cancel_appointment(running.uid, "doctor could not join", "alice").status is S.cancelled
    assert clinic.appointments.summary(ended.uid).cancel_refusal == message


def test_rebook_of_a_no_show_makes_a_new_confirmed_one_and_keeps_the_original(clinic: Desk, now: datetime) -> None:
    missed = make_appointment(clinic, start=now - timedelta(days=2))
    missed = clinic.appointments.mark_attendance(missed.uid, "no_show", "did not join", "alice")
    choice = clinic.rebooking.slots(missed.uid, days=3, doctor_id="dr-weber")
    assert WED_10_BERLIN in [s.starts_at for s in choice.slots]
    new = clinic.rebooking.rebook(missed.uid, WED_10_BERLIN, agent="alice")
    assert new.status is S.confirmed and new.previous_meeting_uid == missed.uid and new.confirmed_at == now
    assert clinic.appointments.get(missed.uid) == missed  # still no_show, untouched
    assert view_of(clinic).appointments.successor_of(missed.uid) == new.uid
    (event,) = events(clinic, EventType.APPOINTMENT_REBOOKED)
    assert event.data["previous"] == missed.to_json() and event.data["appointment"] == new.to_json()
    assert actions(clinic, missed.uid)[-1] == ("admin:alice", "appointment.rebook")
    assert actions(clinic, new.uid) == [("admin:alice", "appointment.rebooked_from")]
    detail = clinic.appointments.show(missed.uid)
    assert [a.uid for a in detail.next_chain] == [new.uid]
    # Moved once: a second rebook of the same missed appointment is refused.
    assert f"already rebooked to {new.uid}" in str(refused_unchanged(
        clinic, lambda: clinic.rebooking.rebook(missed.uid, WED_10_BERLIN + timedelta(hours=1), agent="alice"), Refused))


def test_a_rebooked_no_show_is_not_corrected_to_completed_while_its_replacement_stands(clinic: Desk, now: datetime, clock: FixedClock) -> None:
    missed = make_appointment(clinic, start=now - timedelta(days=2))
    missed = clinic.appointments.mark_attendance(missed.uid, "no_show", "did not join", "alice")
    new = clinic.rebooking.rebook(missed.uid, WED_10_BERLIN, agent="alice")
    def correct() -> Appointment:
        return clinic.appointments.mark_attendance(missed.uid, "completed", "she joined late", "bob")

    message = str(refused_unchanged(clinic, correct, Refused))
    assert message == f"appointment {missed.uid} was rebooked to {new.uid}; cancel that one first"
    summary = clinic.appointments.summary(missed.uid)  # what the app's attendance dialog offers
    assert dict(summary.attendance)[S.completed] == message and summary.markable == []
    # Once the replacement has taken place it cannot be cancelled: the correction stays refused.
    clock.set(new.ends_at + timedelta(minutes=1))
    assert f"rebooked to {new.uid}, which is completed" in str(refused_unchanged(clinic, correct, Refused))
    clock.set(now)
    clinic.appointments.cancel_appointment(new.uid, "she joined the first one after all", "bob")
    corrected = correct()
    assert (corrected.status, corrected.attendance_by) == (S.completed, "admin:bob")
    assert clinic.appointments.get(missed.uid).status is S.completed


def test_rebook_of_a_completed_one_is_refused(clinic: Desk, now: datetime) -> None:
    for status in ("completed", "confirmed"):  # stored confirmed but ended: it IS completed
        done = make_appointment(clinic, start=now - timedelta(days=1), status=status)
        assert "completed" in str(refused_unchanged(
            clinic, lambda: clinic.rebooking.rebook(done.uid, WED_10_BERLIN, agent="alice"), Refused))
        refused_unchanged(clinic, lambda: clinic.rebooking.slots(done.uid), Refused)


# -- lapsed holds -----------------------------------------------------------------------


@pytest.fixture
def token(clinic: Desk, clock: FixedClock) -> TokenFor:
    made = clinic.secrets.create_secret("shop", "ops")

    def fresh(sub: str = "shop-10001") -> str:
        return mint(made.value, claims_at(clock.now(), sub), kid=made.secret.key_id)

    return fresh


def test_a_lapsed_hold_never_blocks_a_new_hold_on_its_slot(clinic: Desk, token: TokenFor, clock: FixedClock, now: datetime) -> None:
    first = clinic.booking.hold(token("shop-10001"), "dr-weber", "gp-consult", MON_11_BERLIN)
    clock.advance(minutes=15)  # the hold lapses; no worker runs
    assert clinic.appointments.get(first.uid).status is S.held  # as stored
    assert clinic.appointments.show(first.uid).appointment.status is S.expired  # as it is
    assert MON_11_BERLIN in [s.starts_at for s in clinic.rebooking.preview("dr-weber", days=1)["gp-consult"]]
    second = clinic.booking.hold(token("shop-10002"), "dr-weber", "gp-consult", MON_11_BERLIN)
    assert second.status is S.held and second.patient_id == "pat-002"
    # The same write expired the lapsed hold: never two active-looking appointments on one slot.
    assert clinic.appointments.get(first.uid).status is S.expired
    active = view_of(clinic).appointments.active_for_doctor("dr-weber", MON_11_BERLIN,
                                                                 MON_11_BERLIN + timedelta(minutes=30))
    assert [a.uid for a in active] == [second.uid]
    (event,) = events(clinic, EventType.APPOINTMENT_HOLD_EXPIRED)
    assert event.data["appointment"]["uid"] == first.uid
    assert actions(clinic, first.uid)[-1] == ("patient:pat-002", "appointment.expire")
    # And the tick finds nothing left to expire.
    assert MaintenanceService(clinic).tick().expired == 0


def test_a_lapsed_hold_reads_as_expired_everywhere(clinic: Desk, token: TokenFor, clock: FixedClock) -> None:
    held = clinic.booking.hold(token(), "dr-weber", "gp-consult", MON_11_BERLIN)
    clock.advance(minutes=15)
    listing = clinic.appointments.list_appointments()
    assert held.uid not in [r.uid for r in listing.items]  # the default view: active ones
    only_held = clinic.appointments.list_appointments(AppointmentFilter(statuses=frozenset({"held"}), all=True))
    assert only_held.items == [] and only_held.total == 0
    expired = clinic.appointments.list_appointments(AppointmentFilter(statuses=frozenset({"expired"}), all=True))
    assert [r.uid for r in expired.items] == [held.uid] and expired.items[0].to_json()["status"] == "expired"
    refused_unchanged(clinic, lambda: clinic.booking.confirm(token(), held.uid), Refused)
    refused_unchanged(clinic, lambda: clinic.appointments.cancel_appointment(held.uid, "x", "alice"), Refused)
    refused_unchanged(clinic, lambda: clinic.rebooking.rebook(held.uid, WED_10_BERLIN, agent="alice"), Refused)


# -- the tick writes down what time decided ----------------------------------------------


def test_one_tick_expires_and_completes_in_its_one_write_with_events_and_audit(clinic: Desk, clock: FixedClock, now: datetime) -> None:
    ended = make_appointment(clinic, start=now - timedelta(hours=1))
    lapsed = make_appointment(clinic, start=now + timedelta(days=2), status="held")  # its hold lapsed a day ago
    running = make_appointment(clinic, start=now - timedelta(minutes=10), doctor_id="dr-sato")
    missed = make_appointment(clinic, start=now - timedelta(days=1), doctor_id="dr-osei", status="no_show")
    worker = MaintenanceService(clinic, owner="test")
    before = commits(clinic.store)
    report = worker.tick()
    assert (report.expired, report.completed, report.writes) == (1, 1, 1)
    assert commits(clinic.store) - before == 1
    assert "1 appointment completed" in report.summary() and "1 hold expired" in report.summary()
    stored = {a: clinic.appointments.get(a.uid).status for a in (ended, lapsed, running, missed)}
    assert stored == {ended: S.completed, lapsed: S.expired, running: S.confirmed, missed: S.no_show}
    (done,) = events(clinic, EventType.APPOINTMENT_COMPLETED)
    assert done.data["appointment"] == clinic.appointments.get(ended.uid).to_json()
    assert actions(clinic, ended.uid) == [("worker:test", "appointment.complete")]
    assert actions(clinic, lapsed.uid) == [("worker:test", "appointment.expire")]
    # Nothing left: the next tick reads and writes nothing; later, the running one completes.
    files = fingerprint(clinic.settings.data_dir)
    assert worker.tick().writes == 0 and fingerprint(clinic.settings.data_dir) == files
    clock.advance(minutes=20)
    assert worker.tick().completed == 1
    assert clinic.appointments.get(running.uid).status is S.completed


def test_a_week_without_a_worker_completes_in_one_tick(clinic: Desk, clock: FixedClock, now: datetime) -> None:
    worker = MaintenanceService(clinic, owner="test")
    week = [make_appointment(clinic, start=now + timedelta(days=d, hours=h), doctor_id=doctor)
            for d in range(7) for h in (1, 3) for doctor in ("dr-weber", "dr-sato")]
    later = make_appointment(clinic, start=now + timedelta(days=8))
    worker.tick()
    clock.advance(days=7, hours=5)
    report = worker.tick()
    assert report.completed == len(week) and report.writes == 1
    assert {clinic.appointments.get(a.uid).status for a in week} == {S.completed}
    assert clinic.appointments.get(later.uid).status is S.confirmed
    assert len(events(clinic, EventType.APPOINTMENT_COMPLETED)) == len(week)


def test_a_store_without_completions_written_catches_up_in_bounded_steps(clinic: Desk, clock: FixedClock, now: datetime) -> None:
    from rxdesk.services.lifecycle import CATCH_UP_WEEKS

    weeks = CATCH_UP_WEEKS * 2 + 3
    old = [make_appointment(clinic, start=now - timedelta(weeks=w, hours=1)) for w in range(1, weeks + 1)]
    worker = MaintenanceService(clinic, owner="test")
    done = [worker.tick().completed for _ in range(4)]
    assert sum(done) == len(old) and all(n <= CATCH_UP_WEEKS for n in done)
    assert done[0] == CATCH_UP_WEEKS  # the oldest weeks first, a bounded number each tick
    assert {clinic.appointments.get(a.uid).status for a in old} == {S.completed}
    assert worker.tick().writes == 0


# -- meeting rooms ----------------------------------------------------------------------


def test_set_room_moves_only_future_active_appointments_of_that_doctor(clinic: Desk, now: datetime) -> None:
    old_room = clinic.doctors.get("dr-weber").room_url
    future = make_appointment(clinic, start=now + timedelta(days=2))
    held = make_appointment(clinic, start=now + timedelta(days=2, hours=1), status="held", hold_minutes=60 * 72)
    keep = {
        "past": make_appointment(clinic, start=now - timedelta(days=2), status="completed"),
        "ended, stored confirmed": make_appointment(clinic, start=now - timedelta(hours=2)),
        "under way": make_appointment(clinic, start=now - timedelta(minutes=10)),
        "cancelled": make_appointment(clinic, start=now + timedelta(days=3), status="cancelled"),
        "lapsed hold": make_appointment(clinic, start=now + timedelta(days=3, hours=1), status="held"),
        "other doctor": make_appointment(clinic, start=now + timedelta(days=2), doctor_id="dr-sato"),
    }
    change = clinic.doctors.set_room("dr-weber", url="https://video.example/weber-2", agent="alice")
    assert change.doctor.room_url == "https://video.example/weber-2" and change.previous_room == old_room
    assert sorted(a.uid for a in change.moved) == sorted([future.uid, held.uid])
    assert clinic.doctors.get("dr-weber").room_url == "https://video.example/weber-2"
    for appt in (future, held):
        assert clinic.appointments.get(appt.uid).room_url == "https://video.example/weber-2"
    for name, appt in keep.items():
        assert clinic.appointments.get(appt.uid) == appt, name
    moved_events = events(clinic, EventType.APPOINTMENT_ROOM_CHANGED)
    assert sorted(e.data["appointment"]["uid"] for e in moved_events) == sorted([future.uid, held.uid])
    assert {(e.data["old_room_url"], e.data["new_room_url"]) for e in moved_events} == {
        (old_room, "https://video.example/weber-2")}
    (entry,) = [e for e in view_of(clinic).audit.newest().items if e.target == "doctor:dr-weber"]
    assert (entry.actor, entry.action) == ("admin:alice", "doctor.set_room")
    assert entry.details == {"before": old_room, "after": "https://video.example/weber-2", "appointments_moved": 2}
    assert actions(clinic, future.uid) == [("admin:alice", "appointment.room_change")]
    # New bookings take the new room.
    moved_on = clinic.rebooking.rebook(future.uid, WED_10_BERLIN + timedelta(hours=3), agent="alice")
    assert moved_on.room_url == "https://video.example/weber-2"


def test_set_room_new_makes_a_fresh_room_under_the_jitsi_base(clinic: Desk, now: datetime) -> None:
    before = clinic.doctors.get("dr-sato").room_url
    change = clinic.doctors.set_room("dr-sato", new=True, agent="alice")
    assert change.doctor.room_url.startswith("https://meet.jit.si/dr-emi-sato-")
    assert change.doctor.room_url != before and change.moved == []


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"url": "ftp://files.example/room"}, ValidationFailed),
    ({"url": "https://video.example/a b"}, ValidationFailed),
    ({"url": "  "}, ValidationFailed),
    ({"url": "https://video.example/\x1b[31mred"}, ValidationFailed),
    ({"url": "https://video.example/\x7f"}, ValidationFailed),
    ({"url": "https://x.example/" + "a" * 2000}, ValidationFailed),
    ({"url": "https://video.example/r", "new": True}, ValidationFailed),
    ({}, ValidationFailed),
])
def test_set_room_refuses_bad_input_and_changes_nothing(clinic: Desk, now: datetime, kwargs: dict[str, Any],
                                                        error: type[RxdeskError]) -> None:
    make_appointment(clinic, start=now + timedelta(days=2))
    refused_unchanged(clinic, lambda: clinic.doctors.set_room("dr-weber", agent="alice", **kwargs), error)
    refused_unchanged(clinic, lambda: clinic.doctors.set_room("dr-who", new=True, agent="alice"), NotFound)


def test_provisioning_a_new_jitsi_base_says_which_command_moves_the_rooms(clinic: Desk, tmp_path: Path) -> None:
    from tests.helpers import CLINIC_TOML

    rooms = {d.id: d.room_url for d in clinic.doctors.list_doctors()}
    moved = CLINIC_TOML.read_text().replace('jitsi_base_url = "https://meet.jit.si"',
                                            'jitsi_base_url = "https://video.example/rooms"')
    path = tmp_path / "moved.toml"
    path.write_text(moved)
    result = clinic.provisioning.provision_file(path, "setup")
    assert {d.id: d.room_url for d in clinic.doctors.list_doctors()} == rooms
    for doctor_id, room in rooms.items():
        assert (f"doctor {doctor_id}: kept the existing meeting room {room}; `rxdesk doctors set-room {doctor_id} "
                "--new` gives a room under https://video.example/rooms") in " | ".join(result.notes)


# -- what readers see ---------------------------------------------------------------------


def test_the_patients_page_counts_as_of_now(clinic: Desk, now: datetime) -> None:
    make_appointment(clinic, start=now + timedelta(days=1), status="cancelled")
    make_appointment(clinic, start=now + timedelta(days=2))
    make_appointment(clinic, start=now - timedelta(days=3))  # ended: completed
    make_appointment(clinic, start=now - timedelta(days=4), status="completed")
    make_appointment(clinic, start=now - timedelta(days=5), status="no_show")
    make_appointment(clinic, start=now + timedelta(days=3), status="held")  # lapsed
    make_appointment(clinic, start=now + timedelta(days=1), patient_id="pat-002")
    detail = clinic.patients.show("pat-001")
    assert detail.counts == {"upcoming": 1, "completed": 2, "no_show": 1, "cancelled": 1, "expired": 1}
    assert detail.to_json()["counts"] == {"upcoming": 1, "completed": 2, "no_show": 1, "cancelled": 1, "expired": 1}
    assert [r.status.value for r in detail.history.items] == ["completed", "completed", "no_show"]
    assert [r.status.value for r in detail.upcoming.items] == ["cancelled", "confirmed", "expired"]


@pytest.mark.data_dir_only
def test_documents_stored_before_attendance_existed_still_load(clinic: Desk, now: datetime) -> None:
    appt = make_appointment(clinic, start=now - timedelta(days=2), status="completed")
    old = {k: v for k, v in appt.to_json().items() if not k.startswith("attendance_")}
    with clinic.store.write() as view:
        view.bulk.add_appointments([old])
    assert clinic.appointments.get(appt.uid) == appt
    row = clinic.appointments.list_appointments(AppointmentFilter(all=True)).items[0]
    assert row.to_json() == appt.to_json()
    assert clinic.appointments.show(appt.uid).to_json()["attendance_note"] is None
    assert clinic.appointments.mark_attendance(appt.uid, "no_show", "missed", "alice").status is S.no_show


def test_new_event_types_can_be_subscribed_to(clinic: Desk) -> None:
    made = clinic.webhooks.add_subscription(
        "https://partner.example/hooks",
        ["APPOINTMENT_COMPLETED", "APPOINTMENT_NO_SHOW", "APPOINTMENT_ROOM_CHANGED"], {}, "alice")
    assert [e.value for e in made.subscription.events] == [
        "APPOINTMENT_COMPLETED", "APPOINTMENT_NO_SHOW", "APPOINTMENT_ROOM_CHANGED"]
