"""An agent books for a patient (`appointments book`, `b` on a patient's page): confirmed or
held, created_by admin:<agent>, its event and audit entry in one write; a token booking's slot
rules but the patient's booking notice; refusals change nothing.

The clinic's `now` is Monday 2026-11-23 08:00 UTC (09:00 Berlin). Dr Weber (Berlin) works
Mondays 09:00-12:00 and 13:00-17:00 local; gp-consult is 30 minutes with 60 minutes' booking
notice and a 15-minute hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rxdesk.domain.errors import Conflict, NotFound, Refused, ValidationFailed
from rxdesk.domain.models import AppointmentStatus, Event, EventType, appointment_target
from rxdesk.services import Desk
from tests.helpers import fingerprint, make_appointment, refused_unchanged, run_cli, view_of

pytestmark = pytest.mark.backends

SLOT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 11:00 Berlin
SOON = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)  # 09:30 Berlin: inside the 60 minutes' notice


def newest_event(desk: Desk) -> Event:
    return view_of(desk).events.newest(limit=1).items[0]




def test_a_booking_is_confirmed_created_by_the_agent_with_its_event_and_audit_entry(clinic: Desk, now: datetime) -> None:
    appt = clinic.agent_booking.book("pat-001", "gp-consult", SLOT, doctor_id="dr-weber", agent="anna")
    assert appt.status is AppointmentStatus.confirmed and appt.confirmed_at == now
    assert appt.created_by == "admin:anna" and appt.hold_expires_at is None
    stored = clinic.appointments.get(appt.uid)
    assert stored == appt and stored.room_url == clinic.doctors.get("dr-weber").room_url
    event = newest_event(clinic)
    assert event.type is EventType.APPOINTMENT_CONFIRMED and event.data["appointment"]["uid"] == appt.uid
    assert event.data["appointment"]["created_by"] == "admin:anna"
    (entry,) = view_of(clinic).audit.for_target(appointment_target(appt.uid))
    assert (entry.actor, entry.action) == ("admin:anna", "appointment.book")
    assert entry.details["patient_id"] == "pat-001" and entry.details["status"] == "confirmed"
    assert clinic.appointments.show(appt.uid).to_json()["created_by"] == "admin:anna"


def test_a_hold_lasts_the_types_hold_time_and_is_announced_as_held(clinic: Desk, now: datetime) -> None:
    appt = clinic.agent_booking.book("pat-001", "gp-consult", SLOT, doctor_id="dr-weber", hold=True, agent="anna")
    assert appt.status is AppointmentStatus.held and appt.hold_expires_at == now + timedelta(minutes=15)
    assert newest_event(clinic).type is EventType.APPOINTMENT_HELD


def test_the_booking_notice_is_the_patients_not_the_agents(clinic: Desk, now: datetime) -> None:
    appt = clinic.agent_booking.book("pat-002", "gp-consult", SOON, doctor_id="dr-weber", agent="anna")
    assert appt.starts_at == SOON
    # ... but a slot that has started is not booked.
    for started in (now - timedelta(minutes=30), now):  # 08:30 and 09:00 Berlin: both have started at 09:00
        refused = refused_unchanged(clinic, lambda: clinic.agent_booking.book(
            "pat-002", "gp-consult", started, doctor_id="dr-weber", agent="anna"), Refused)
        assert "has started" in str(refused)


def test_without_a_doctor_the_first_free_one_offering_the_type_takes_it(clinic: Desk, now: datetime) -> None:
    make_appointment(clinic, start=SLOT, doctor_id="dr-weber", patient_id="pat-003")  # Weber is taken at 11:00
    appt = clinic.agent_booking.book("pat-001", "gp-consult", SLOT, agent="anna")
    assert appt.doctor_id == "dr-sato"  # Sato (London, 10:00 local) is free; Osei (New York) is asleep


def test_refusals_say_why_in_one_line_and_change_nothing(clinic: Desk, now: datetime) -> None:
    make_appointment(clinic, start=SLOT, doctor_id="dr-weber", patient_id="pat-003")
    book = clinic.agent_booking.book
    taken = refused_unchanged(clinic, lambda: book("pat-001", "gp-consult", SLOT, doctor_id="dr-weber", agent="a"), Conflict)
    assert "is taken" in str(taken)
    off_grid = refused_unchanged(clinic, lambda: book("pat-001", "gp-consult", SLOT + timedelta(minutes=7),
                                              doctor_id="dr-weber", agent="a"), Refused)
    assert "grid" in str(off_grid)
    not_offered = refused_unchanged(clinic, lambda: book("pat-001", "therapy", SLOT, doctor_id="dr-weber", agent="a"), Refused)
    assert "does not offer" in str(not_offered)
    refused_unchanged(clinic, lambda: book("pat-404", "gp-consult", SLOT, doctor_id="dr-weber", agent="a"), NotFound)
    refused_unchanged(clinic, lambda: book("pat-001", "nope", SLOT, doctor_id="dr-weber", agent="a"), NotFound)
    for refused in (taken, off_grid, not_offered):
        assert "\n" not in str(refused)


def test_the_slots_to_book_are_every_offering_doctors_by_time(clinic: Desk, now: datetime) -> None:
    choice = clinic.agent_booking.slots("pat-001", "gp-consult", days=2)
    starts = [s.starts_at for s in choice.slots]
    assert starts == sorted(starts) and starts[0] > now and now not in starts
    assert {s.doctor_id for s in choice.slots} == {"dr-weber", "dr-sato", "dr-osei"}
    assert SOON in starts  # inside the patient's notice: an agent may book it
    make_appointment(clinic, start=SOON, doctor_id="dr-weber", patient_id="pat-003")
    again = clinic.agent_booking.slots("pat-001", "gp-consult", days=2)
    assert ("dr-weber", SOON) not in {(s.doctor_id, s.starts_at) for s in again.slots}
    assert [s.doctor_id for s in clinic.agent_booking.slots("pat-001", "gp-consult", doctor_id="dr-sato").slots
            ] == ["dr-sato"] * len(clinic.agent_booking.slots("pat-001", "gp-consult", doctor_id="dr-sato").slots)
    with pytest.raises(ValidationFailed):
        clinic.agent_booking.slots("pat-001", "gp-consult", days=0)


def test_book_on_the_command_line_by_names_in_the_organisations_zone(clinic: Desk, cli_env: dict[str, str], now: datetime) -> None:
    before = fingerprint(clinic.settings.data_dir)
    listed = run_cli("appointments", "book", "--patient", "Lena", "--type", "gp-consult", "--days", "1",
                     env=cli_env)
    assert listed.code == 0 and "Mon 2026-11-23 11:00  Dr Anna Weber" in listed.out
    assert fingerprint(clinic.settings.data_dir) == before  # without --start: the slots, nothing booked
    booked = run_cli("appointments", "book", "--patient", "Lena", "--type", "gp-consult",
                     "--start", "2026-11-23T11:00", "--doctor", "Weber", "--json", env=cli_env)
    assert booked.code == 0, booked.err
    data = booked.json()
    assert data["starts_at"] == "2026-11-23T10:00:00Z"  # 11:00 in Berlin, the organisation's zone
    assert (data["patient_id"], data["doctor_id"], data["status"], data["created_by"]) == (
        "pat-001", "dr-weber", "confirmed", "admin:tester")
    held = run_cli("appointments", "book", "--patient", "omar", "--type", "gp-consult",
                   "--start", "2026-11-23T11:30", "--hold", env=cli_env)
    assert held.code == 0 and held.out.startswith("held ") and "(Europe/Berlin)" in held.out
    again = run_cli("appointments", "book", "--patient", "omar", "--type", "gp-consult",
                    "--start", "2026-11-23T11:30", "--doctor", "dr-weber", env=cli_env)
    assert again.code == 1 and again.err.count("\n") == 1 and "is taken" in again.err
    several = run_cli("appointments", "book", "--patient", "a", "--type", "gp-consult", "--start", "2026-11-23T12:00",
                      env=cli_env)
    assert several.code == 1 and "patients match 'a'" in several.err and "name one by its id" in several.err


def test_appointments_stored_before_created_by_existed_read_with_it_empty(clinic: Desk, now: datetime) -> None:
    from rxdesk.domain.ids import new_appointment_uid
    from rxdesk.domain.models import Appointment
    from rxdesk.domain.times import format_utc
    from rxdesk.services.appointments import AppointmentFilter

    start = now + timedelta(days=2)
    appt = Appointment(uid=new_appointment_uid(start), patient_id="pat-001", doctor_id="dr-weber",
                       type_key="gp-consult", status=AppointmentStatus.confirmed, starts_at=start,
                       ends_at=start + timedelta(minutes=30), created_at=now, confirmed_at=now)
    old = {k: v for k, v in appt.to_json().items() if k != "created_by"}
    with clinic.store.write() as view:
        view.bulk.add_appointments([old])
    (row,) = clinic.appointments.list_appointments(AppointmentFilter(all=True)).items
    assert row.to_json() == appt.to_json() and row.to_json()["created_by"] is None
    assert clinic.appointments.show(appt.uid).to_json()["created_by"] is None
    # The same keys in the same order as a new appointment's, whichever version stored it, and
    # also when the listing reads it with another status than stored (ended: completed).
    assert list(row.to_json()) == list(appt.to_json())
    ended = clinic.appointments.list_appointments(
        AppointmentFilter(all=True)).items[0].record.as_of(format_utc(start + timedelta(hours=2)))
    assert ended.status is AppointmentStatus.completed and list(ended.to_json()) == list(appt.to_json())
