"""Doctors: the list and detail, the week in two zones, the troubleshooter, and the mobile
number typed the way an agent types it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from rxdesk.domain.clock import FixedClock
from rxdesk.domain.errors import NotFound, ValidationFailed
from rxdesk.domain.models import AvailabilityWindow
from rxdesk.domain.phones import region_for_zone
from rxdesk.services import Desk
from rxdesk.services.doctors import week_rows
from tests.helpers import Cli, fingerprint, make_appointment, view_of

pytestmark = pytest.mark.backends


def test_list_and_show(clinic: Desk) -> None:
    assert [d.id for d in clinic.doctors.list_doctors()] == ["dr-weber", "dr-sato", "dr-osei"]  # by name
    make_appointment(clinic, start=datetime(2026, 11, 25, 9, tzinfo=UTC))
    make_appointment(clinic, start=datetime(2026, 11, 20, 9, tzinfo=UTC))  # past: not upcoming
    detail = clinic.doctors.show("dr-weber")
    assert detail.upcoming_count == 1 and [t.key for t in detail.types] == ["gp-consult", "prescription"]
    assert detail.week == [] or all(row.org == "" for row in detail.week)  # Berlin doctor, Berlin org
    with pytest.raises(NotFound):
        clinic.doctors.show("dr-nobody")


@pytest.mark.parametrize(("today", "tuesday_in_berlin"), [
    (date(2026, 1, 13), "Tue 14:00–22:00"),   # both on standard time: 6 hours apart
    (date(2026, 3, 17), "Tue 13:00–21:00"),   # New York already on summer time, Berlin not yet
    (date(2026, 4, 14), "Tue 14:00–22:00"),   # both on summer time
    (date(2026, 10, 27), "Tue 13:00–21:00"),  # Berlin back on standard time, New York not yet
])
def test_the_week_shows_the_org_times_of_that_week(clinic: Desk, today: date, tuesday_in_berlin: str) -> None:
    osei = clinic.doctors.get("dr-osei")
    rows = week_rows(osei, "Europe/Berlin", today)
    assert [(r.weekday, r.local) for r in rows] == [("Tue", "08:00–16:00"), ("Thu", "08:00–16:00")]
    assert rows[0].org == tuesday_in_berlin


def test_a_window_can_cross_midnight_in_the_org_zone(clinic: Desk) -> None:
    osei = clinic.doctors.get("dr-osei")
    late = osei.model_copy(update={"availability": [AvailabilityWindow(weekday=4, start="19:00", end="22:00")]})
    assert week_rows(late, "Europe/Berlin", date(2026, 11, 23))[0].org == "Sat 01:00–04:00"


def test_the_troubleshooter_from_the_command_line(clinic: Desk, cli: Cli) -> None:
    shown = cli("doctors", "slots", "dr-weber", "--type", "gp-consult")
    assert shown.code == 0, shown.err
    assert "inside the booking notice  2" in shown.out and "free slots" in shown.out
    answer = cli("doctors", "slots", "dr-weber", "--type", "therapy", "--json").json()
    assert answer["offers_type"] is False and answer["reason"] == "the doctor does not offer this appointment type"
    # No slot of a type not offered exists: nothing counted in windows, booked or inside the notice.
    assert (answer["in_windows"], answer["inside_notice"], answer["booked"], answer["free"]) == (0, 0, 0, 0)
    for bad, code in ((["dr-nobody", "--type", "gp-consult"], 1), (["dr-weber", "--type", "nope"], 1),
                      (["dr-weber", "--type", "gp-consult", "--days", "0"], 2)):
        refused = cli("doctors", "slots", *bad)
        assert refused.code == code and len(refused.err.strip().splitlines()) == 1


def test_every_slot_inside_the_notice(clinic: Desk) -> None:
    # Friday 11:20 Berlin: Dr Weber's last prescription slots of the week (11:30, 11:45) start
    # within the 30 minutes' notice.
    friday = Desk(clinic.store, FixedClock(datetime(2026, 11, 27, 10, 20, tzinfo=UTC)), clinic.settings)
    answer = friday.rebooking.diagnose("dr-weber", "prescription", days=1)
    assert (answer.in_windows, answer.inside_notice, answer.booked, answer.free) == (2, 2, 0, 0)
    assert answer.reason == "every slot is inside the booking notice"


def test_zones_name_their_country() -> None:
    assert [region_for_zone(z) for z in ("Europe/Berlin", "America/New_York", "Europe/London", "Asia/Tokyo")] == [
        "DE", "US", "GB", "JP"]
    assert region_for_zone("UTC") is None


@pytest.mark.parametrize(("doctor_id", "typed", "stored"), [
    ("dr-weber", "0160 98765432", "+4916098765432"),     # Berlin: a German number
    ("dr-sato", "07911 123457", "+447911123457"),        # London: a British one
    ("dr-osei", "(212) 555-0199", "+12125550199"),       # New York: an American one
    ("dr-weber", "+44 7911 123457", "+447911123457"),    # with its country code, any country
    ("dr-weber", "0044 7911 123457", "+447911123457"),
])
def test_a_number_without_country_code_is_read_in_the_doctors_country(
        clinic: Desk, doctor_id: str, typed: str, stored: str) -> None:
    assert clinic.doctors.set_phone(doctor_id, typed, "tester").mobile_phone == stored


def test_a_bad_number_is_one_line_and_changes_nothing(clinic: Desk, data_dir: Path) -> None:
    before = fingerprint(data_dir)
    for typed in ("030 901820", "0151", "0800 1234567", "phone", "+49 151 23456789 ext"):
        with pytest.raises(ValidationFailed) as caught:
            clinic.doctors.set_phone("dr-weber", typed, "tester")
        assert "\n" not in str(caught.value)
    with pytest.raises(ValidationFailed, match="in DE"):
        clinic.doctors.set_phone("dr-weber", "0151", "tester")
    assert fingerprint(data_dir) == before


def test_setting_the_same_number_again_writes_nothing(clinic: Desk, data_dir: Path) -> None:
    clinic.doctors.set_phone("dr-weber", "+49 151 11223344", "tester")  # already stored
    before = fingerprint(data_dir)
    assert clinic.doctors.set_phone("dr-weber", "0151 11223344", "tester").mobile_phone == "+4915111223344"
    assert fingerprint(data_dir) == before
    assert view_of(clinic).audit.for_target("doctor:dr-weber") == []


def test_set_phone_from_the_command_line(clinic: Desk, cli: Cli) -> None:
    done = cli("doctors", "set-phone", "dr-sato", "07911 123457")
    assert done.code == 0 and "+44 7911 123457" in done.out
    assert cli("doctors", "set-phone", "dr-sato", "07911 123457", "--json").json()["mobile_phone"] == "+447911123457"
    cleared = cli("doctors", "set-phone", "dr-sato", "")
    assert cleared.code == 0 and "SMS reminders to this doctor are skipped" in cleared.out
    assert clinic.doctors.get("dr-sato").mobile_phone == ""
    assert cli("doctors", "set-phone", "dr-sato").code == 2  # the number is required, even if empty
