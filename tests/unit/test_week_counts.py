"""Each week's counts, kept in the manifest beside the week: exact after every kind of write,
and what lets a count of weeks the screen does not show read none of them."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rxdesk.domain.clock import FixedClock
from rxdesk.domain.queries import AppointmentQuery
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from rxdesk.store import TinyStore, planner
from rxdesk.store.engine import writable
from rxdesk.store.segment_db import SegmentTable
from rxdesk.store.weeks import stored_counts
from tests.helpers import assert_week_counts_exact, make_appointment

ACTIVE = frozenset({"held", "confirmed"})


def counted_both_ways(data_dir: Path, query: AppointmentQuery) -> tuple[int, int]:
    """The count the store gives, and the rows the same query lists, walked one by one."""
    appointments = TinyStore(data_dir).read().appointments
    return appointments.count(query), sum(1 for _ in appointments.iter_raw(query))


def queries(now: datetime) -> list[AppointmentQuery]:
    week = timedelta(days=7)
    return [
        AppointmentQuery(statuses=ACTIVE, ends_after=now, as_of=now),  # the default view
        AppointmentQuery(statuses=frozenset({"held"}), ends_after=now, as_of=now),
        AppointmentQuery(statuses=frozenset({"expired"}), as_of=now),
        AppointmentQuery(statuses=frozenset({"held", "expired"}), as_of=now),
        AppointmentQuery(statuses=frozenset({"cancelled", "completed", "no_show"}), as_of=now),
        AppointmentQuery(statuses=frozenset({"confirmed"})),  # as stored
        AppointmentQuery(),
        AppointmentQuery(statuses=ACTIVE, starts_from=now + week, as_of=now),
        AppointmentQuery(statuses=ACTIVE, starts_from=now - 2 * week, starts_before=now + 3 * week, as_of=now),
        *(AppointmentQuery(statuses=statuses, doctor_id=doctor, ends_after=now, as_of=now)
          for doctor in ("dr-weber", "dr-sato", "dr-nobody") for statuses in (ACTIVE, frozenset({"held"}), None)),
        AppointmentQuery(statuses=frozenset({"cancelled"}), doctor_id="dr-osei"),
    ]


def assert_counts_hold(desk: Desk, data_dir: Path, *, at: datetime | None = None) -> None:
    assert_week_counts_exact(data_dir)
    for query in queries(at or desk.clock.now()):
        count, walked = counted_both_ways(data_dir, query)
        assert count == walked, query


def test_every_write_keeps_the_counts_of_its_week(clinic: Desk, clock: FixedClock, now: datetime,
                                                  data_dir: Path) -> None:
    rng = random.Random(5)
    made = [make_appointment(clinic, start=now + timedelta(days=rng.randint(-20, 40), hours=rng.randint(0, 9)),
                             doctor_id=rng.choice(["dr-weber", "dr-sato", "dr-osei"]),
                             status=rng.choice(["confirmed", "confirmed", "held", "cancelled"]),
                             hold_minutes=rng.choice([30, 60 * 24 * 30]))
            for _ in range(40)]
    assert_counts_hold(clinic, data_dir)  # put one by one (and several statuses at once)

    upcoming = [a for a in made if a.starts_at > now + timedelta(days=2) and a.status.value == "confirmed"]
    clinic.appointments.cancel_appointment(upcoming[0].uid, "patient asked", "alice")
    assert_counts_hold(clinic, data_dir)
    clinic.appointments.cancel_appointments([a.uid for a in upcoming[1:3]], "clinic closed", "alice")
    assert_counts_hold(clinic, data_dir)

    slot = clinic.agent_booking.slots("pat-001", "gp-consult", doctor_id="dr-weber").slots[0]
    booked = clinic.agent_booking.book("pat-001", "gp-consult", slot.starts_at, doctor_id="dr-weber", agent="alice")
    assert_counts_hold(clinic, data_dir)

    moved_to = clinic.rebooking.slots(booked.uid, days=30).slots[-1]  # another week, most likely
    clinic.rebooking.rebook(booked.uid, moved_to.starts_at, doctor_id=moved_to.doctor_id, agent="alice")
    assert_counts_hold(clinic, data_dir)

    clinic.away.run("dr-sato", now, now + timedelta(days=14), "away", rebook=True, agent="alice")
    assert_counts_hold(clinic, data_dir)

    started = make_appointment(clinic, start=now - timedelta(minutes=10))
    clinic.appointments.mark_attendance(started.uid, "no_show", "never joined", "alice")
    assert_counts_hold(clinic, data_dir)

    clock.set(now + timedelta(days=3))  # holds lapse and appointments end: expire and complete
    assert_counts_hold(clinic, data_dir, at=clock.now())
    MaintenanceService(clinic).tick()
    assert_counts_hold(clinic, data_dir, at=clock.now())


def test_the_demo_and_a_replaced_demo_count_every_week(desk: Desk, data_dir: Path) -> None:
    desk.demo.build(1500, agent="tester", seed=3)
    assert_counts_hold(desk, data_dir)
    desk.demo.build(900, agent="tester", seed=4, replace=True)  # every segment dropped and written anew
    assert_counts_hold(desk, data_dir)


def test_a_week_an_older_version_wrote_last_is_read_then_counted_again(clinic: Desk, now: datetime,
                                                                       data_dir: Path) -> None:
    first = make_appointment(clinic, start=now + timedelta(days=9))
    make_appointment(clinic, start=now + timedelta(days=9, hours=1))
    week = "2026-11-30"
    store = TinyStore(data_dir, fsync=False)
    tag = f"counted.appt-{week}"
    counted = store.engine.manifest().counters[tag]
    with store.write() as view:  # as an older version cancels: the week changes, its counters do not
        doc = dict(view.appointments._raw(first.uid) or {})
        writable(view.snap).change(f"appt-{week}", "appointments").put(first.uid, {**doc, "status": "cancelled"})
    manifest = store.engine.manifest()
    (data_dir / "rxdesk.json").write_bytes(dataclasses.replace(
        manifest, counters={**manifest.counters, tag: counted}).to_bytes())
    assert stored_counts(TinyStore(data_dir).engine.snapshot(), week) is None  # not the week's: not used
    assert counted_both_ways(data_dir, queries(now)[0]) == (1, 1)
    make_appointment(clinic, start=now + timedelta(days=10))
    counts = stored_counts(TinyStore(data_dir).engine.snapshot(), week)
    assert counts is not None and (counts["confirmed"], counts["cancelled"]) == (2, 1)
    assert_counts_hold(clinic, data_dir)


def test_the_count_of_the_upcoming_weeks_reads_only_the_week_in_progress(clinic: Desk, now: datetime,
                                                                         data_dir: Path) -> None:
    for days in range(0, 70, 3):
        make_appointment(clinic, start=now + timedelta(days=days, hours=2))
    make_appointment(clinic, start=now + timedelta(days=20), status="held", hold_minutes=30)  # lapsed by now
    fresh = TinyStore(data_dir)
    page = fresh.read().appointments.window_raw(AppointmentQuery(statuses=ACTIVE, ends_after=now, as_of=now,
                                                                 limit=2, count=True))
    assert page.total == 24 and len(page.items) == 2
    read = sorted(seg.name for seg, _ in fresh.engine._cache.values() if seg.name.startswith("appt-"))
    assert read == ["appt-2026-11-23"], read
    assert fresh.read().appointments.count(AppointmentQuery(statuses=frozenset({"expired"}), as_of=now)) == 1
    of_one = TinyStore(data_dir)
    assert of_one.read().appointments.count(AppointmentQuery(statuses=frozenset({"confirmed"}), doctor_id="dr-weber",
                                                             ends_after=now, as_of=now)) == 24
    assert sorted(seg.name for seg, _ in of_one.engine._cache.values() if seg.name.startswith("appt-")) == [
        "appt-2026-11-23"]


def test_the_count_of_the_week_in_progress_walks_only_what_started_before_now(
        clinic: Desk, now: datetime, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started = [make_appointment(clinic, start=now - timedelta(hours=1), length=timedelta(hours=2)),  # running
               make_appointment(clinic, start=now - timedelta(hours=3), patient_id="pat-002"),  # ended
               make_appointment(clinic, start=now - timedelta(hours=2), status="held", patient_id="pat-003")]
    for days in range(6):
        make_appointment(clinic, start=now + timedelta(days=days, hours=2))
    make_appointment(clinic, start=now + timedelta(days=2), status="held")  # its hold lapsed
    make_appointment(clinic, start=now + timedelta(days=3), status="held", created_at=now - timedelta(minutes=5),
                     hold_minutes=30, patient_id="pat-002")  # its hold runs on
    make_appointment(clinic, start=now + timedelta(days=4), status="cancelled")
    looked_at: list[str] = []
    status_as_of = planner._status_as_of

    def looking(row: dict[str, Any], as_of: str | None) -> str:
        looked_at.append(row["uid"])
        return status_as_of(row, as_of)

    monkeypatch.setattr(planner, "_status_as_of", looking)
    for statuses in (ACTIVE, frozenset({"held"}), frozenset({"expired"}), frozenset({"held", "expired"}),
                     frozenset({"confirmed", "cancelled"})):
        query = AppointmentQuery(statuses=statuses, ends_after=now, as_of=now)
        count, walked = counted_both_ways(data_dir, query)
        assert count == walked, statuses
        looked_at.clear()
        assert TinyStore(data_dir).read().appointments.count(query) == count
        # The rest of the week is counted from its stored counts and the holds index.
        assert set(looked_at) <= {a.uid for a in started}, statuses


def test_a_page_of_a_week_just_written_reads_only_its_own_documents(
        clinic: Desk, now: datetime, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The app lists the first page again after each cancel; the week in progress it reads has
    # just changed, and has thousands of appointments in a large clinic.
    made = [make_appointment(clinic, start=now + timedelta(hours=2 * k)) for k in range(1, 41)]
    assert len({a.starts_at.isocalendar()[:2] for a in made}) == 1  # all in the week in progress
    clinic.appointments.list_appointments(limit=5)  # what the app had read before the cancel
    clinic.appointments.cancel_appointment(made[0].uid, "patient asked", "alice")
    looked_up: list[str] = []
    documents = SegmentTable.documents

    class Counted(Mapping[str, Any]):
        def __init__(self, docs: Mapping[str, Any]) -> None:
            self.docs = docs

        def __getitem__(self, key: str) -> Any:
            looked_up.append(key)
            return self.docs[key]

        def __iter__(self) -> Iterator[str]:
            return iter(self.docs)

        def __len__(self) -> int:
            return len(self.docs)

    monkeypatch.setattr(SegmentTable, "documents",
                        lambda table: Counted(documents(table)) if table.name == "appointments" else documents(table))
    page = clinic.appointments.list_appointments(limit=5)
    assert [row.uid for row in page.items] == [a.uid for a in made[1:6]] and page.total == 39
    assert len(looked_up) <= 6, len(looked_up)  # the page's rows (and the one after it), not the week's 40
