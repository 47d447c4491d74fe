"""Open slots read from the store: the same local windows across DST in Europe and America,
the busy index against the plain overlap scan, and the `appointments slots` command."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxdesk.domain.clock import FixedClock
from rxdesk.domain.errors import Refused, ValidationFailed
from rxdesk.domain.slots import BusyIndex, overlaps
from rxdesk.domain.times import zone
from rxdesk.services import Desk
from rxdesk.services.rebooking import OpenSlot
from tests.helpers import Cli, fingerprint, make_appointment

pytestmark = pytest.mark.backends


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def at(clinic: Desk, now: datetime) -> Desk:
    """The clinic's data seen at another moment."""
    return Desk(clinic.store, FixedClock(now), clinic.settings)


def first_of_day(slots: Iterable[OpenSlot], day: str) -> datetime:
    return min(s.starts_at for s in slots if s.starts_at.date().isoformat() == day)


def local_times(slots: Iterable[OpenSlot], tz: str) -> set[str]:
    return {s.starts_at.astimezone(zone(tz)).strftime("%a %H:%M") for s in slots}


@pytest.mark.parametrize(("doctor", "tz", "now", "before_day", "before_first", "after_day", "after_first"), [
    # Berlin springs forward on Sun 29 March: Dr Weber's Monday 09:00 goes from 08:00Z to 07:00Z.
    ("dr-weber", "Europe/Berlin", utc(2026, 3, 23, 6), "2026-03-23", utc(2026, 3, 23, 8),
     "2026-03-30", utc(2026, 3, 30, 7)),
    # ... and falls back on Sun 25 October: Friday 08:00 at 06:00Z, Monday 09:00 at 08:00Z.
    ("dr-weber", "Europe/Berlin", utc(2026, 10, 22, 12), "2026-10-23", utc(2026, 10, 23, 6),
     "2026-10-26", utc(2026, 10, 26, 8)),
    # New York springs forward on Sun 8 March: Dr Osei's Tuesday 08:00 from 13:00Z to 12:00Z.
    ("dr-osei", "America/New_York", utc(2026, 3, 2, 12), "2026-03-03", utc(2026, 3, 3, 13),
     "2026-03-10", utc(2026, 3, 10, 12)),
    # ... and falls back on Sun 1 November: from 12:00Z to 13:00Z.
    ("dr-osei", "America/New_York", utc(2026, 10, 26, 12), "2026-10-27", utc(2026, 10, 27, 12),
     "2026-11-03", utc(2026, 11, 3, 13)),
])
def test_the_same_local_windows_across_a_dst_change(clinic: Desk, doctor: str, tz: str, now: datetime,
                                                    before_day: str, before_first: datetime,
                                                    after_day: str, after_first: datetime) -> None:
    preview = at(clinic, now).rebooking.preview(doctor, days=14)["gp-consult"]
    assert first_of_day(preview, before_day) == before_first
    assert first_of_day(preview, after_day) == after_first
    # In the doctor's own zone nothing moved: the same weekday times on both sides of the change.
    week_one = [s for s in preview if s.starts_at < now + timedelta(days=7)]
    week_two = [s for s in preview if s.starts_at >= now + timedelta(days=7)]
    assert week_one and local_times(week_one, tz) <= local_times(week_two, tz)
    assert {t[4:] for t in local_times(preview, tz)} <= {f"{h:02d}:{m:02d}" for h in range(8, 17) for m in (0, 30)}


def test_a_rebook_across_the_spring_change_follows_the_doctors_clock(clinic: Desk, data_dir: Path) -> None:
    desk = at(clinic, utc(2026, 3, 20, 12))
    original = make_appointment(desk, start=utc(2026, 3, 23, 8))  # Monday 09:00 Berlin (CET)
    # 16:30 Berlin, the last slot of Monday's afternoon window, is 15:30Z before the change ...
    assert utc(2026, 3, 23, 15, 30) in {s.starts_at for s in desk.rebooking.slots(original.uid, days=14).slots}
    # ... and 14:30Z after it; 15:30Z on 30 March would be 17:30 Berlin, outside the window.
    before = fingerprint(data_dir)
    with pytest.raises(Refused, match="not a GP video consultation slot"):
        desk.rebooking.rebook(original.uid, utc(2026, 3, 30, 15, 30), agent="tester")
    assert fingerprint(data_dir) == before
    moved = desk.rebooking.rebook(original.uid, utc(2026, 3, 30, 14, 30), agent="tester")
    assert moved.starts_at.astimezone(zone("Europe/Berlin")).strftime("%H:%M") == "16:30"


def test_slots_are_offered_only_where_the_doctor_is_free(clinic: Desk, now: datetime) -> None:
    original = make_appointment(clinic, start=utc(2026, 11, 25, 9))
    make_appointment(clinic, start=utc(2026, 11, 25, 10), patient_id="pat-002")  # 11:00-11:30 Berlin
    make_appointment(clinic, start=utc(2026, 11, 25, 11, 15), patient_id="pat-003", minutes=20)  # off the grid
    starts = {s.starts_at for s in clinic.rebooking.slots(original.uid, days=3, doctor_id="dr-weber").slots}
    assert utc(2026, 11, 25, 9, 30) in starts and utc(2026, 11, 25, 12) in starts
    assert not starts & {utc(2026, 11, 25, 10), utc(2026, 11, 25, 11), utc(2026, 11, 25, 11, 30)}
    assert utc(2026, 11, 25, 9) not in starts  # where it already is


@pytest.mark.parametrize("days", ["0", "91", "-3", "two", "1.5"])
def test_the_days_must_be_a_sensible_whole_number(clinic: Desk, days: str) -> None:
    original = make_appointment(clinic, start=utc(2026, 11, 25, 9))
    with pytest.raises(ValidationFailed):
        clinic.rebooking.slots(original.uid, days=days)


interval = st.tuples(st.integers(0, 600), st.integers(1, 120)).map(
    lambda p: (utc(2026, 1, 1) + timedelta(minutes=p[0]), utc(2026, 1, 1) + timedelta(minutes=p[0] + p[1])))


@settings(max_examples=200, deadline=None)
@given(busy=st.lists(interval, max_size=12), probe=interval)
def test_the_busy_index_agrees_with_the_plain_overlap_scan(busy: list[tuple[datetime, datetime]],
                                                           probe: tuple[datetime, datetime]) -> None:
    expected = any(overlaps(probe[0], probe[1], b0, b1) for b0, b1 in busy)
    assert BusyIndex(busy).overlaps(*probe) is expected


def test_the_cli_lists_slots_by_doctor_and_day_in_the_org_zone(clinic: Desk, cli: Cli) -> None:
    original = make_appointment(clinic, start=utc(2026, 11, 25, 9))
    shown = cli("appointments", "slots", original.uid, "--days", "3")
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert "times in Europe/Berlin" in lines[0] and "any doctor" in lines[0]
    doctors = [line for line in lines if line.startswith("Dr ")]
    assert doctors[0] == "Dr Anna Weber (dr-weber)" and len(doctors) == 3
    weber_wednesday = next(line for line in lines if "Wed" in line and "09:30" in line)
    assert "10:00" not in weber_wednesday.split()  # 10:00 Berlin is the appointment itself
    listed = cli("appointments", "slots", original.uid, "--days", "3", "--doctor", "dr-sato", "--json").json()
    assert listed and {s["doctor_id"] for s in listed} == {"dr-sato"}
    assert set(listed[0]) == {"doctor_id", "starts_at", "ends_at"}
    for bad, code in ((["--days", "0"], 2), (["--doctor", "dr-nobody"], 1), (["--days", "x"], 2)):
        refused = cli("appointments", "slots", original.uid, *bad)
        assert refused.code == code and len(refused.err.strip().splitlines()) == 1
    assert cli("appointments", "slots", "nonsense").code == 1


def test_when_nothing_is_open_the_cli_says_so(clinic: Desk, cli: Cli) -> None:
    original = make_appointment(clinic, start=utc(2026, 11, 26, 14), doctor_id="dr-osei", type_key="therapy")
    with clinic.store.write() as view:
        osei = view.doctors.require("dr-osei")
        view.doctors.put(osei.model_copy(update={"availability": []}))
    empty = cli("appointments", "slots", original.uid, "--json")
    assert empty.code == 0 and empty.json() == []
    told = cli("appointments", "slots", original.uid, "--days", "5")
    assert told.code == 0 and "no open slots" in told.err
