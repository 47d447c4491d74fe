"""Meeting rooms, persistent per provider: one room per doctor, made at provisioning and kept;
every appointment carries its doctor's room, and a rebook to another doctor takes theirs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk
from tests.helpers import CLINIC_TOML, make_appointment
from tests.unit.test_tokens_minting import claims_at, mint

pytestmark = pytest.mark.backends

WED_10_BERLIN = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
MON_11_LONDON = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
TUE_10_NEW_YORK = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def rooms(desk: Desk) -> dict[str, str]:
    return {d.id: d.room_url for d in desk.doctors.list_doctors()}


def test_each_doctor_gets_an_own_room_under_the_jitsi_base(clinic: Desk) -> None:
    made = rooms(clinic)
    assert len(set(made.values())) == 3
    for doctor_id, url in made.items():
        assert url.startswith("https://meet.jit.si/dr-"), doctor_id
    assert made["dr-weber"].startswith("https://meet.jit.si/dr-anna-weber-")


def test_later_provisioning_never_changes_a_room(clinic: Desk, tmp_path: Path) -> None:
    made = rooms(clinic)
    moved = CLINIC_TOML.read_text().replace('jitsi_base_url = "https://meet.jit.si"',
                                            'jitsi_base_url = "https://video.example/rooms"')
    moved = moved.replace('id = "dr-sato"', 'id = "dr-sato"\nroom_url = "https://elsewhere.example/sato"')
    path = tmp_path / "moved.toml"
    path.write_text(moved)
    result = clinic.provisioning.provision_file(path, "setup")
    assert rooms(clinic) == made
    assert any("dr-sato" in note and "kept the existing meeting room" in note for note in result.notes)


def test_a_held_booking_carries_the_doctors_room(clinic: Desk, clock: FixedClock) -> None:
    made = clinic.secrets.create_secret("shop", "ops")
    token = mint(made.value, claims_at(clock.now(), "shop-10001"), kid=made.secret.key_id)
    held = clinic.booking.hold(token, "dr-sato", "gp-consult", MON_11_LONDON)
    assert held.room_url == rooms(clinic)["dr-sato"]


def test_the_room_moves_with_the_doctor_along_a_chain(clinic: Desk) -> None:
    made = rooms(clinic)
    first = make_appointment(clinic, start=WED_10_BERLIN)
    second = clinic.rebooking.rebook(first.uid, MON_11_LONDON, doctor_id="dr-sato", agent="tester")
    third = clinic.rebooking.rebook(second.uid, TUE_10_NEW_YORK, doctor_id="dr-osei", agent="tester")
    fourth = clinic.rebooking.rebook(third.uid, WED_10_BERLIN, doctor_id="dr-weber", agent="tester")
    assert [a.room_url for a in (first, second, third, fourth)] == [
        made["dr-weber"], made["dr-sato"], made["dr-osei"], made["dr-weber"]]
    # The cancelled originals keep the room they had: the record says where they would have met.
    assert clinic.appointments.get(second.uid).room_url == made["dr-sato"]
    assert clinic.appointments.get(fourth.uid).doctor_id == "dr-weber"
