"""Rebooking on behalf of a patient: one write that links both ways, or nothing at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rxdesk.domain.clock import FixedClock
from rxdesk.domain.errors import Conflict, NotFound, Refused, ValidationFailed
from rxdesk.services import Desk
from tests.helpers import Cli, another_store, fingerprint, make_appointment, view_of

pytestmark = pytest.mark.backends

WED_10_BERLIN = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Dr Weber works Wednesdays 09-17 Berlin
WED_14_BERLIN = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)


def test_a_rebook_makes_a_linked_appointment_and_cancels_the_original(clinic: Desk, now: datetime) -> None:
    original = make_appointment(clinic, start=WED_10_BERLIN)
    new = clinic.rebooking.rebook(original.uid, WED_14_BERLIN, agent="tester")
    assert new.uid != original.uid and new.previous_meeting_uid == original.uid
    assert new.status.value == "confirmed" and new.starts_at == WED_14_BERLIN
    assert new.ends_at == WED_14_BERLIN + timedelta(minutes=30) and new.room_url == original.room_url
    old = clinic.appointments.get(original.uid)
    assert old.status.value == "cancelled" and old.cancel_reason == f"rebooked to {new.uid}"
    assert old.cancelled_by == "admin:tester"
    detail = clinic.appointments.show(original.uid)
    assert [a.uid for a in detail.next_chain] == [new.uid]
    assert [a.uid for a in clinic.appointments.show(new.uid).previous_chain] == [original.uid]
    events = [e for _, e in view_of(clinic).events.after(0)]
    assert [e.type.value for e in events] == ["APPOINTMENT_REBOOKED"]
    assert events[0].data["appointment"]["uid"] == new.uid and events[0].data["previous"]["uid"] == original.uid
    assert [e.action for e in detail.audit] == ["appointment.rebook"]


def test_another_doctor_takes_the_appointment_with_their_room(clinic: Desk) -> None:
    original = make_appointment(clinic, start=WED_10_BERLIN)
    monday_sato = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # 10:00 London
    new = clinic.rebooking.rebook(original.uid, monday_sato, doctor_id="dr-sato", agent="tester")
    sato = clinic.doctors.get("dr-sato")
    assert new.doctor_id == "dr-sato" and new.room_url == sato.room_url != original.room_url


def test_a_held_appointment_moves_as_a_fresh_hold(clinic: Desk, now: datetime) -> None:
    original = make_appointment(clinic, start=WED_10_BERLIN, status="held", hold_minutes=60, created_at=now)
    new = clinic.rebooking.rebook(original.uid, WED_14_BERLIN, agent="tester")
    gp = clinic.types.get("gp-consult")
    assert new.status.value == "held" and new.hold_expires_at == now + timedelta(minutes=gp.hold_ttl_minutes)
    assert new.confirmed_at is None


def test_a_chain_of_three(clinic: Desk) -> None:
    first = make_appointment(clinic, start=WED_10_BERLIN)
    second = clinic.rebooking.rebook(first.uid, WED_14_BERLIN, agent="tester")
    third = clinic.rebooking.rebook(second.uid, WED_14_BERLIN + timedelta(hours=1), agent="tester")
    middle = clinic.appointments.show(second.uid)
    assert [a.uid for a in middle.previous_chain] == [first.uid]
    assert [a.uid for a in middle.next_chain] == [third.uid]
    assert [a.uid for a in clinic.appointments.show(first.uid).next_chain] == [second.uid, third.uid]
    assert [a.uid for a in clinic.appointments.show(third.uid).previous_chain] == [second.uid, first.uid]


@pytest.mark.parametrize("case", ["outside windows", "weekend", "inside notice", "taken", "same slot",
                                  "other doctor, same_doctor type", "cancelled original", "completed original",
                                  "doctor without the type", "unknown appointment", "expired original",
                                  "ended, stored confirmed", "lapsed hold", "unknown doctor", "off the grid"])
def test_every_refusal_leaves_the_data_unchanged(clinic: Desk, now: datetime, data_dir: Path, case: str) -> None:
    original = make_appointment(clinic, start=WED_10_BERLIN)
    therapy = make_appointment(clinic, start=datetime(2026, 11, 26, 14, 0, tzinfo=UTC), doctor_id="dr-osei",
                               type_key="therapy")
    make_appointment(clinic, start=WED_14_BERLIN, patient_id="pat-002")
    done = make_appointment(clinic, start=now - timedelta(days=2), status="completed")
    gone = make_appointment(clinic, start=WED_10_BERLIN + timedelta(hours=1), status="cancelled")
    expired = make_appointment(clinic, start=WED_10_BERLIN + timedelta(hours=2), status="expired")
    ended = make_appointment(clinic, start=now - timedelta(days=1))  # stored confirmed: it IS completed
    lapsed = make_appointment(clinic, start=WED_10_BERLIN + timedelta(hours=3), status="held")  # made yesterday
    uid, start, doctor, error = {
        "outside windows": (original.uid, datetime(2026, 11, 25, 5, 0, tzinfo=UTC), None, Refused),
        "weekend": (original.uid, datetime(2026, 11, 28, 10, 0, tzinfo=UTC), None, Refused),
        "inside notice": (original.uid, now + timedelta(minutes=30), None, Refused),
        "taken": (original.uid, WED_14_BERLIN, None, Conflict),
        "same slot": (original.uid, WED_10_BERLIN, None, Refused),
        "other doctor, same_doctor type": (therapy.uid, datetime(2026, 11, 24, 11, 0, tzinfo=UTC), "dr-sato", Refused),
        "cancelled original": (gone.uid, WED_14_BERLIN + timedelta(hours=1), None, Refused),
        "completed original": (done.uid, WED_14_BERLIN + timedelta(hours=1), None, Refused),
        "doctor without the type": (therapy.uid, datetime(2026, 11, 25, 10, 0, tzinfo=UTC), "dr-weber", Refused),
        "unknown appointment": ("1bv0000000000000", WED_14_BERLIN, None, NotFound),
        "expired original": (expired.uid, WED_14_BERLIN + timedelta(hours=1), None, Refused),
        "ended, stored confirmed": (ended.uid, WED_14_BERLIN + timedelta(hours=1), None, Refused),
        "lapsed hold": (lapsed.uid, WED_14_BERLIN + timedelta(hours=1), None, Refused),
        "unknown doctor": (original.uid, WED_14_BERLIN + timedelta(hours=1), "dr-nobody", NotFound),
        "off the grid": (original.uid, WED_14_BERLIN + timedelta(minutes=45), None, Refused),
    }[case]
    before = fingerprint(data_dir)
    with pytest.raises(error) as caught:
        clinic.rebooking.rebook(uid, start, doctor_id=doctor, agent="tester")
    assert "\n" not in str(caught.value)
    assert fingerprint(data_dir) == before


def test_a_slot_taken_meanwhile_is_refused_and_nothing_changes(clinic: Desk, now: datetime, data_dir: Path) -> None:
    original = make_appointment(clinic, start=WED_10_BERLIN)
    choice = clinic.rebooking.slots(original.uid, days=3, doctor_id="dr-weber")
    target = next(s for s in choice.slots if s.starts_at == WED_14_BERLIN)
    other = Desk(another_store(clinic), FixedClock(now), clinic.settings)
    make_appointment(other, start=target.starts_at, patient_id="pat-003")
    before = fingerprint(data_dir)
    with pytest.raises(Conflict, match="is taken"):
        clinic.rebooking.rebook(original.uid, target.starts_at, doctor_id="dr-weber", agent="tester")
    assert fingerprint(data_dir) == before
    again = clinic.rebooking.slots(original.uid, days=3, doctor_id="dr-weber")
    assert WED_14_BERLIN not in {s.starts_at for s in again.slots}


def test_slots_follow_the_rebooking_mode_and_the_notice(clinic: Desk, now: datetime) -> None:
    gp = make_appointment(clinic, start=WED_10_BERLIN)
    choice = clinic.rebooking.slots(gp.uid, days=7)
    doctors = [s.doctor_id for s in choice.slots]
    assert doctors[0] == "dr-weber" and {"dr-weber", "dr-osei", "dr-sato"} == set(doctors)
    notice = now + timedelta(minutes=clinic.types.get("gp-consult").booking_notice_minutes)
    assert min(s.starts_at for s in choice.slots) >= notice
    assert WED_10_BERLIN not in {s.starts_at for s in choice.slots if s.doctor_id == "dr-weber"}
    therapy = make_appointment(clinic, start=datetime(2026, 11, 26, 14, 0, tzinfo=UTC), doctor_id="dr-osei",
                               type_key="therapy")
    assert {s.doctor_id for s in clinic.rebooking.slots(therapy.uid, days=7).slots} == {"dr-osei"}
    with pytest.raises(Refused, match="same doctor"):
        clinic.rebooking.slots(therapy.uid, doctor_id="dr-sato")
    with pytest.raises(ValidationFailed):
        clinic.rebooking.slots(gp.uid, days=0)


def test_the_troubleshooter_says_why_there_are_no_slots(clinic: Desk, now: datetime) -> None:
    assert clinic.rebooking.diagnose("dr-weber", "therapy").reason == "the doctor does not offer this appointment type"
    assert clinic.rebooking.diagnose("dr-weber", "gp-consult", days=14).free > 0
    # Fill every Weber slot of the next day, and ask about that day only.
    tomorrow = clinic.rebooking.diagnose("dr-weber", "prescription", days=1)
    assert tomorrow.reason.endswith("free slots")
    with clinic.store.write() as view:
        weber = view.doctors.require("dr-weber")
        view.doctors.put(weber.model_copy(update={"availability": []}))
    assert clinic.rebooking.diagnose("dr-weber", "gp-consult").reason == "the doctor has no availability windows"


def test_the_troubleshooter_counts_booked_and_notice(clinic: Desk, now: datetime) -> None:
    # Monday 09:00 Berlin now; Dr Weber works until 12:00 and from 13:00 to 17:00 today.
    day = clinic.rebooking.diagnose("dr-weber", "gp-consult", days=1)
    assert day.inside_notice == 2  # 09:00 and 09:30 start within the hour of notice
    for slot in clinic.rebooking.preview("dr-weber", days=1)["gp-consult"]:
        make_appointment(clinic, start=slot.starts_at, patient_id="pat-003")
    full = clinic.rebooking.diagnose("dr-weber", "gp-consult", days=1)
    assert full.free == 0 and full.booked == day.free
    assert full.reason == "every slot is booked or inside the booking notice"


def test_the_cli_lists_slots_and_rebooks(clinic: Desk, cli: Cli) -> None:
    original = make_appointment(clinic, start=WED_10_BERLIN)
    listed = cli("appointments", "slots", original.uid, "--days", "3", "--doctor", "dr-weber", "--json")
    assert listed.code == 0, listed.err
    assert {"doctor_id": "dr-weber", "starts_at": "2026-11-25T13:00:00Z", "ends_at": "2026-11-25T13:30:00Z"} in listed.json()
    done = cli("appointments", "rebook", original.uid, "--start", "2026-11-25T13:00:00Z", "--json")
    assert done.code == 0, done.err
    assert done.json()["previous_meeting_uid"] == original.uid
    refused = cli("appointments", "rebook", done.json()["uid"], "--start", "tomorrow at ten")
    assert refused.code == 1 and len(refused.err.strip().splitlines()) == 1


def test_a_move_may_overlap_the_appointment_it_replaces(clinic: Desk) -> None:
    # Booked at 10:15 Berlin when the windows were different; 10:30 overlaps it, and is fine:
    # the original is cancelled in the same write.
    original = make_appointment(clinic, start=WED_10_BERLIN + timedelta(minutes=15))
    assert WED_10_BERLIN + timedelta(minutes=30) in {
        s.starts_at for s in clinic.rebooking.slots(original.uid, days=3, doctor_id="dr-weber").slots}
    new = clinic.rebooking.rebook(original.uid, WED_10_BERLIN + timedelta(minutes=30), agent="tester")
    assert new.starts_at == WED_10_BERLIN + timedelta(minutes=30)


def test_the_same_doctor_may_be_named_in_same_doctor_mode(clinic: Desk) -> None:
    therapy = make_appointment(clinic, start=datetime(2026, 11, 26, 14, 0, tzinfo=UTC), doctor_id="dr-osei",
                               type_key="therapy")
    new = clinic.rebooking.rebook(therapy.uid, datetime(2026, 12, 1, 13, 50, tzinfo=UTC), doctor_id="dr-osei",
                                  agent="tester")
    assert new.doctor_id == "dr-osei" and new.ends_at - new.starts_at == timedelta(minutes=50)


def test_both_sides_are_audited_with_the_agent(clinic: Desk) -> None:
    original = make_appointment(clinic, start=WED_10_BERLIN)
    new = clinic.rebooking.rebook(original.uid, WED_14_BERLIN, agent="mara")
    view = view_of(clinic)
    old_side = view.audit.for_target(f"appointment:{original.uid}")
    new_side = view.audit.for_target(f"appointment:{new.uid}")
    assert [(e.action, e.actor) for e in old_side] == [("appointment.rebook", "admin:mara")]
    assert [(e.action, e.actor) for e in new_side] == [("appointment.rebooked_from", "admin:mara")]
    assert old_side[0].details == {"from": original.uid, "to": new.uid, "doctor_id": "dr-weber",
                                   "starts_at": "2026-11-25T13:00:00Z"}


def test_two_agents_moving_one_appointment_the_second_is_refused(clinic: Desk, now: datetime, data_dir: Path) -> None:
    original = make_appointment(clinic, start=WED_10_BERLIN)
    other = Desk(another_store(clinic), FixedClock(now), clinic.settings)
    first = other.rebooking.rebook(original.uid, WED_14_BERLIN, agent="other")
    before = fingerprint(data_dir)
    with pytest.raises(Refused, match="cancelled"):
        clinic.rebooking.rebook(original.uid, WED_14_BERLIN + timedelta(hours=1), agent="tester")
    assert fingerprint(data_dir) == before
    assert clinic.appointments.get(first.uid).status.value == "confirmed"


def test_cli_refusals_change_nothing(clinic: Desk, cli: Cli, data_dir: Path) -> None:
    original = make_appointment(clinic, start=WED_10_BERLIN)
    make_appointment(clinic, start=WED_14_BERLIN, patient_id="pat-002")
    before = fingerprint(data_dir)
    for args in (["--start", "2026-11-25T13:00:00Z"],               # taken
                 ["--start", "2026-11-28T10:00:00Z"],               # Saturday
                 ["--start", "2026-11-23T08:30:00Z"],               # inside the notice
                 ["--start", "2026-11-25T14:00:00Z", "--doctor", "dr-nobody"],
                 ["--start", "not a time"]):
        refused = cli("appointments", "rebook", original.uid, *args)
        assert refused.code == 1, args
        assert len(refused.err.strip().splitlines()) == 1 and "Traceback" not in refused.err
    assert cli("appointments", "rebook", original.uid).code == 2  # --start is required
    assert fingerprint(data_dir) == before
    moved = cli("appointments", "rebook", original.uid, "--start", "2026-11-30T11:00:00Z", "--doctor", "dr-sato")
    assert moved.code == 0 and "dr-sato" in moved.out and original.uid in moved.out


def test_two_agents_racing_for_one_slot_one_wins(clinic: Desk, now: datetime, data_dir: Path) -> None:
    import threading

    first = make_appointment(clinic, start=WED_10_BERLIN)
    second = make_appointment(clinic, start=WED_10_BERLIN + timedelta(hours=1), patient_id="pat-002")
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def move(uid: str) -> None:
        desk = Desk(another_store(clinic), FixedClock(now), clinic.settings)
        barrier.wait()
        try:
            outcomes[uid] = desk.rebooking.rebook(uid, WED_14_BERLIN, agent="racer")
        except Conflict as exc:
            outcomes[uid] = exc

    threads = [threading.Thread(target=move, args=(uid,)) for uid in (first.uid, second.uid)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(type(v).__name__ for v in outcomes.values()) == ["Appointment", "Conflict"]
    loser = next(uid for uid, v in outcomes.items() if isinstance(v, Conflict))
    assert clinic.appointments.get(loser).status.value == "confirmed"  # the loser was not cancelled
    at_two = [a for a in view_of(clinic).appointments.active_for_doctor("dr-weber", WED_14_BERLIN,
                                                                              WED_14_BERLIN + timedelta(minutes=30))]
    assert len(at_two) == 1
