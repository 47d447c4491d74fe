"""The demo clinic is realistic and self-consistent, for several seeds."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rxdesk.domain.ids import uid_partition
from rxdesk.domain.models import Appointment, Doctor
from rxdesk.domain.times import week_key, zone
from rxdesk.services import Desk
from rxdesk.services.demo import DemoData, generate
from tests.conftest import NOW
from tests.helpers import Cli, view_of

pytestmark = pytest.mark.backends


def _inside_windows(appt: Appointment, doctor: Doctor) -> bool:
    tz = zone(doctor.timezone)
    start, end = appt.starts_at.astimezone(tz), appt.ends_at.astimezone(tz)
    if start.date() != (end - timedelta(seconds=1)).date():
        return False
    s, e = start.strftime("%H:%M"), end.strftime("%H:%M")
    e = "24:00" if e == "00:00" else e
    return any(w.weekday == start.weekday() and w.start <= s and e <= w.end for w in doctor.availability)


@pytest.fixture(scope="module", params=[1, 2, 3])
def demo(request: pytest.FixtureRequest) -> DemoData:
    return generate(3000, now=NOW, seed=request.param)


def test_shape(demo: DemoData) -> None:
    assert len(demo.appointments) == 3000
    assert len(demo.doctors) == 12
    assert len({d.timezone for d in demo.doctors}) >= 3
    assert len(demo.admins) >= 2
    assert len(demo.types) >= 3 and all(t.reminders for t in demo.types)
    assert len({p.id for p in demo.patients}) == len(demo.patients) >= 50
    assert all(p.email and p.phone for p in demo.patients)
    upcoming = [a for a in demo.appointments if a["starts_at"] >= "2026-11-23T08:00:00Z"]
    assert 100 <= len(upcoming) <= 200  # about N / 20 over the next 8 weeks
    assert max(a["starts_at"] for a in upcoming) < "2027-01-19"


def test_every_row_is_a_valid_appointment_inside_its_windows(demo: DemoData) -> None:
    doctors = {d.id: d for d in demo.doctors}
    patients = {p.id for p in demo.patients}
    types = {t.key for t in demo.types}
    uids = set()
    for row in demo.appointments:
        appt = Appointment.model_validate(row)
        assert appt.uid not in uids
        uids.add(appt.uid)
        assert uid_partition(appt.uid) == week_key(row["starts_at"])
        assert appt.patient_id in patients and appt.type_key in types
        doctor = doctors[appt.doctor_id]
        assert appt.type_key in doctor.appointment_types
        assert appt.room_url == doctor.room_url
        assert _inside_windows(appt, doctor), (appt.uid, appt.starts_at, doctor.timezone)


def test_no_two_active_appointments_of_a_doctor_overlap(demo: DemoData) -> None:
    by_doctor = defaultdict(list)
    for row in demo.appointments:
        if row["status"] in ("held", "confirmed"):
            by_doctor[row["doctor_id"]].append((row["starts_at"], row["ends_at"]))
    for intervals in by_doctor.values():
        intervals.sort()
        for (s1, e1), (s2, _) in zip(intervals, intervals[1:]):
            assert e1 <= s2


def test_statuses_fit_their_times(demo: DemoData) -> None:
    now = NOW
    for row in demo.appointments:
        a = Appointment.model_validate(row)
        assert a.created_at <= now and a.created_at < a.starts_at
        if a.status.value in ("completed",):
            assert a.ends_at <= now
        if a.status.value == "confirmed":
            assert now < a.starts_at  # nothing confirmed has ended (nor started)
        if a.status.value == "no_show":
            assert a.ends_at <= now
            assert a.attendance_note and a.attendance_by and a.attendance_by.startswith("admin:")
            assert a.attendance_at is not None and a.ends_at < a.attendance_at <= now
        if a.status.value == "held":
            assert now < a.starts_at <= now + timedelta(days=3)
            assert a.hold_expires_at is not None and a.hold_expires_at > now
        if a.status.value == "expired":
            assert a.hold_expires_at is not None and a.hold_expires_at <= now and a.confirmed_at is None
        if a.status.value == "cancelled":
            assert a.cancel_reason and a.cancelled_by and a.cancelled_at
            assert a.created_at <= a.cancelled_at <= now
        if a.status.value in ("confirmed", "completed", "no_show"):
            assert a.confirmed_at is not None


def test_the_history_is_spread_over_time_not_bunched_at_now(demo: DemoData) -> None:
    """Bookings, confirmations and cancellations happened before now, one after the other,
    spread over the weeks before: no crowd of them in the last minute."""
    from collections import Counter

    now = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    for row in demo.appointments:
        confirmed, cancelled = row["confirmed_at"], row["cancelled_at"]
        assert confirmed is None or row["created_at"] <= confirmed <= now
        if confirmed and cancelled and not str(row["cancel_reason"]).startswith("Rebooked to"):
            assert confirmed < cancelled <= now
    assert all(e["at"] <= now for e in demo.audit)
    for times in ([r["created_at"] for r in demo.appointments], [e["at"] for e in demo.audit]):
        assert max(Counter(times).values()) <= 3
        assert max(Counter(t[:16] for t in times if t <= now).values()) <= 4  # per minute too


def test_the_rules_of_the_lifecycle_hold_at_now(demo: DemoData) -> None:
    from collections import Counter

    from rxdesk.domain.lifecycle import effective_status

    statuses = Counter(r["status"] for r in demo.appointments)
    # What is stored is what the clinic is at now: nothing for a tick to catch up with.
    assert all(effective_status(Appointment.model_validate(r), NOW).value == r["status"] for r in demo.appointments)
    assert statuses["held"] >= 3  # a clinic of 3,000 has some open holds
    assert statuses["no_show"] >= 30 and statuses["completed"] > statuses["no_show"]
    marks = [e for e in demo.audit if e["action"] == "appointment.mark"]
    assert len(marks) == statuses["no_show"]
    # History spread over months, not packed into the last two weeks.
    oldest = min(r["starts_at"] for r in demo.appointments)
    assert oldest < (NOW - timedelta(weeks=24)).strftime("%Y-%m-%d")


def test_rebook_chains_link_both_ways(demo: DemoData) -> None:
    rows = {r["uid"]: r for r in demo.appointments}
    forward = dict(demo.links)
    chained = [r for r in demo.appointments if r["previous_meeting_uid"]]
    assert chained, "the demo has rebook chains"
    for row in chained:
        prev = rows[row["previous_meeting_uid"]]
        assert prev["status"] == "cancelled"
        assert prev["cancel_reason"] == f"Rebooked to {row['uid']}"
        assert forward[prev["uid"]] == row["uid"]
        assert prev["patient_id"] == row["patient_id"]


def test_same_seed_same_data() -> None:
    a = generate(500, now=NOW, seed=11)
    b = generate(500, now=NOW, seed=11)
    c = generate(500, now=NOW, seed=12)
    assert a.appointments == b.appointments and a.patients == b.patients
    assert a.appointments != c.appointments


def test_explicit_doctors_and_upcoming() -> None:
    data = generate(2000, now=NOW, seed=1, doctors=3, upcoming=50)
    assert len(data.doctors) == 3
    future = [a for a in data.appointments if a["starts_at"] > "2026-11-23T08:00:00Z"]
    assert 50 <= len(future) <= 60  # some rebook originals sit in the future too


def test_demo_command_writes_and_refuses_to_overwrite(cli: Cli, data_dir: Path) -> None:
    first = cli("demo", "--appointments", "800", "--seed", "3", "--json")
    assert first.code == 0, first.err
    assert first.json()["appointments"] == 800
    again = cli("demo", "--appointments", "800")
    assert again.code == 1 and "--replace" in again.err
    assert cli("demo", "--appointments", "300", "--replace").code == 0
    rows = cli("appointments", "list", "--all", "--json").json()
    assert len(rows) == 300
    assert cli("demo", "--appointments", "0").code == 2


def test_demo_upcoming_too_many_is_refused(cli: Cli) -> None:
    result = cli("demo", "--appointments", "100000", "--doctors", "1", "--upcoming", "90000")
    assert result.code == 1 and "do not fit" in result.err


def test_now_is_a_datetime() -> None:
    assert isinstance(NOW, datetime)


def test_a_tick_right_after_the_demo_has_no_lifecycle_to_catch_up(desk: Desk) -> None:
    from rxdesk.services.lifecycle import has_catching_up

    desk.demo.build(3000, agent="tester", seed=2)
    assert not has_catching_up(view_of(desk), desk.clock.now())
