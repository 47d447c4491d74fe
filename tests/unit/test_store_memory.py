"""What the data dir holds in memory at a million appointments: the patient names every
listing shows beside its rows in a compact index, and each segment parsed once however many of
the app's threads ask for it at the same moment."""

from __future__ import annotations

import json
import threading
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rxdesk.domain.ids import new_appointment_uid
from rxdesk.domain.models import Patient
from rxdesk.domain.queries import AppointmentQuery
from rxdesk.domain.times import format_utc
from rxdesk.services import Desk
from rxdesk.store import TinyStore
from rxdesk.store.engine import PARSED_PER_FILE_BYTE, writable
from rxdesk.store.segment_db import Segment, SegmentStorage, open_segment
from rxdesk.store.tinystore import TinyView
from tests.helpers import make_appointment

PATIENTS = 20_000


def patients(count: int) -> list[Patient]:
    return [Patient(id=f"pat-{i:06d}", name=f"Patient Number {i}", email=f"p{i}@example.org") for i in range(count)]


def names_segment(data_dir: Path) -> Path:
    manifest = TinyStore(data_dir).engine.manifest()
    return data_dir / "segments" / manifest.segments["patient-names"].file


def test_the_names_index_is_one_text_of_lines_however_many_patients(data_dir: Path) -> None:
    store = TinyStore(data_dir, fsync=False)
    with store.write() as view:
        view.bulk.add_patients(patients(PATIENTS))
    db = open_segment(names_segment(data_dir))
    assert db.table("names").all() == []
    assert set(db.table("compact").documents()) == {"lines"}
    fresh = TinyStore(data_dir)
    tracemalloc.start()
    try:
        names = fresh.read().patients.names()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert names["pat-012345"] == "Patient Number 12345" and len(names) == PATIENTS
    # A document per patient held ~340 bytes each (a dict, its key and its value) and peaked at
    # ~920 while parsing; one text of lines and a flat mapping hold ~180 and peak at ~470.
    assert held / PATIENTS < 230 and peak / PATIENTS < 750, (held / PATIENTS, peak / PATIENTS)


@pytest.mark.parametrize("older", ["a document per patient", "two lists"])
def test_an_older_names_index_is_read_and_replaced_at_the_next_patient_write(data_dir: Path, older: str) -> None:
    store = TinyStore(data_dir, fsync=False)
    with store.write() as view:
        view.bulk.add_patients(patients(3))
    with store.write() as view:  # the index as an older version wrote it
        tx = writable(view.snap)
        tx.change("patient-names", "compact").truncate()
        tx.set_counter("names.lines", 0)
        if older == "two lists":
            tx.change("patient-names", "compact").put("by_id", {"ids": [p.id for p in patients(3)],
                                                                "names": [p.name for p in patients(3)]})
        else:
            tx.change("patient-names", "names").put_many((p.id, {"name": p.name}) for p in patients(3))
    assert json.loads((data_dir / "rxdesk.json").read_bytes())["format"] == "rxdesk-store/1"
    assert dict(TinyStore(data_dir).read().patients.names()) == {p.id: p.name for p in patients(3)}
    picked = TinyStore(data_dir).read().patients.names_of(["pat-000002", "pat-9"])  # (may hold others')
    assert picked["pat-000002"] == "Patient Number 2" and "pat-9" not in picked
    with store.write() as view:
        view.patients.put(Patient(id="pat-000001", name="Renamed"))
        view.patients.delete("pat-000002")
        assert dict(view.patients.names()) == {"pat-000000": "Patient Number 0", "pat-000001": "Renamed"}
    assert dict(TinyStore(data_dir).read().patients.names()) == {"pat-000000": "Patient Number 0",
                                                                 "pat-000001": "Renamed"}
    assert open_segment(names_segment(data_dir)).table("names").all() == []
    assert set(open_segment(names_segment(data_dir)).table("compact").documents()) == {"lines"}
    assert json.loads((data_dir / "rxdesk.json").read_bytes())["format"] == "rxdesk-store/3"


def test_the_cache_counts_each_segment_at_the_memory_its_parse_holds(clinic: Desk, now: datetime,
                                                                      data_dir: Path) -> None:
    """The cache's budget is of memory held: the names index (two lists of short strings, about
    five times its file), a patients shard (many small documents) and a week are each counted
    within a fifth of what parsing their file really holds, not at one ratio for every file."""
    _template, _docs = weeks_of_one_doctor(clinic, now, data_dir, 1)
    with TinyStore(data_dir, fsync=False).write() as view:
        view.bulk.add_patients(patients(PATIENTS))
    store = TinyStore(data_dir)
    view = store.read()
    assert view.patients.names()["pat-000007"] == "Patient Number 7"
    assert view.patients.get("pat-000007") is not None
    assert view.appointments.window_raw(AppointmentQuery(starts_from=now, limit=5)).items
    counted = {file: (seg.name, size) for file, (seg, size) in store.engine._cache.items()}
    kinds = {name.split("-")[0] for name, _size in counted.values()}
    assert {"patient", "patients", "appt"} <= kinds, kinds
    for file, (name, size) in counted.items():
        tracemalloc.start()
        try:
            parsed = open_segment(data_dir / "segments" / file)
            held, _peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        del parsed
        if held > 64 * 1024:  # the small ones are a rounding error of the budget
            assert 0.8 < size / held < 1.25, (name, size, held)


def test_a_segment_asked_for_by_many_threads_at_once_is_parsed_once(data_dir: Path) -> None:
    store = TinyStore(data_dir, fsync=False)
    with store.write() as view:
        view.bulk.add_patients(patients(PATIENTS))
    for _attempt in range(3):
        fresh = TinyStore(data_dir)
        start = threading.Barrier(4)
        seen: list[Segment | None] = []

        def read(view: TinyView = fresh.read()) -> None:
            start.wait()
            seen.append(view.snap.segment("patient-names"))

        threads = [threading.Thread(target=read) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(seen) == 4 and seen[0] is not None and len({id(seg) for seg in seen}) == 1


def test_what_is_in_progress_on_a_monday_morning_reads_no_week_that_ended(clinic: Desk, now: datetime,
                                                                        data_dir: Path) -> None:
    """`now` is a Monday, 08:00: an appointment of last week may still run (up to 12 hours
    long), so last week is read unless the store knows it all ended."""
    for hours in (30, 20, 10):  # Saturday and Sunday: all over by now
        make_appointment(clinic, start=now - timedelta(hours=hours))
    upcoming = make_appointment(clinic, start=now + timedelta(days=1))
    fresh = TinyStore(data_dir)
    listed = fresh.read().appointments.window_raw(_not_ended(now))
    assert [row["uid"] for row in listed.items] == [upcoming.uid] and listed.total == 1
    read = {seg.name for seg, _ in fresh.engine._cache.values()}
    assert "appt-2026-11-16" not in read and "appt-2026-11-23" in read, read

    running = make_appointment(clinic, start=now - timedelta(hours=9), length=timedelta(hours=10))
    listed = TinyStore(data_dir).read().appointments.window_raw(_not_ended(now))
    assert [row["uid"] for row in listed.items] == [running.uid, upcoming.uid] and listed.total == 2


def _not_ended(now: datetime) -> AppointmentQuery:
    return AppointmentQuery(statuses=frozenset({"held", "confirmed"}), ends_after=now, as_of=now, count=True)


def test_one_patient_reads_one_shard_of_the_patients(data_dir: Path) -> None:
    store = TinyStore(data_dir, fsync=False)
    with store.write() as view:
        view.bulk.add_patients(patients(PATIENTS))
    fresh = TinyStore(data_dir)
    view = fresh.read()
    assert view.patients.get("pat-012345") == patients(PATIENTS)[12345]
    read = [seg.name for seg, _size in fresh.engine._cache.values()]
    assert len(read) == 1 and read[0].startswith("patients-"), read
    assert view.patients.count() == PATIENTS and view.patients.all()[-1].id == "pat-019999"
    assert [p.id for p in view.patients.search("number 1234").items] == ["pat-001234", *(
        f"pat-{i:06d}" for i in range(12340, 12350))]


def test_an_older_data_dir_keeps_its_patients_in_one_segment(data_dir: Path) -> None:
    store = TinyStore(data_dir, fsync=False)
    with store.write() as view:  # as an older version wrote them
        writable(view.snap).change("patients", "patients").put_many((p.id, p.to_json()) for p in patients(3))
        view.patients.index_names({p.id: p.name for p in patients(3)})
    with store.write() as view:
        view.patients.put(Patient(id="pat-000003", name="Added Later"))
    view = TinyStore(data_dir).read()
    assert [p.id for p in view.patients.all()] == ["pat-000000", "pat-000001", "pat-000002", "pat-000003"]
    assert not view.snap.names("patients-") and view.patients.require("pat-000003").name == "Added Later"


def test_a_view_of_every_patient_leaves_memory_with_the_shards_it_was_made_of(data_dir: Path) -> None:
    with TinyStore(data_dir, fsync=False).write() as view:
        view.bulk.add_patients(patients(500))
    small = TinyStore(data_dir, cache_bytes=8 * 1024)  # room for a few shards, not all of them
    assert small.read().patients.search("patient number 42").total == 11
    assert small.read().patients.search("patient number 42").total == 11
    kept = [seg.name for seg, _size in small.engine._cache.values()]
    assert len(kept) < 64 and small.engine._views == {}, kept
    roomy = TinyStore(data_dir)
    roomy.read().patients.search("number")
    assert len(roomy.engine._views) == 1


def test_a_segment_written_again_is_held_once_not_once_per_generation(data_dir: Path) -> None:
    store = TinyStore(data_dir, fsync=False)
    with store.write() as view:
        view.bulk.add_patients(patients(50))
    for attempt in range(3):
        assert store.read().patients.names()["pat-000001"] == ("Patient Number 1" if attempt == 0
                                                               else f"Renamed {attempt - 1}")
        with store.write() as view:
            view.patients.put(Patient(id="pat-000001", name=f"Renamed {attempt}"))
    other = TinyStore(data_dir, fsync=False)  # another process writes: this one reads its files
    with other.write() as view:
        view.patients.put(Patient(id="pat-000001", name="Renamed elsewhere"))
    assert store.read().patients.names()["pat-000001"] == "Renamed elsewhere"
    held = [seg.name for seg, _size in store.engine._cache.values()]
    assert "patient-names" in held and len(held) == len(set(held)), held


def weeks_of_one_doctor(clinic: Desk, now: datetime, data_dir: Path,
                        weeks: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """150 appointments (of the doctor and patient of one booked first) in each of `weeks` weeks
    from now, written in one go: the template they were made from, and them."""
    template = make_appointment(clinic, start=now + timedelta(days=1), minutes=10).to_json()
    docs = []
    for week in range(weeks):
        for i in range(150):
            start = now + timedelta(weeks=week, days=2 + i % 5, minutes=10 * (i // 5))
            docs.append({**template, "uid": new_appointment_uid(start), "starts_at": format_utc(start),
                         "ends_at": format_utc(start + timedelta(minutes=10))})
    with TinyStore(data_dir, fsync=False).write() as view:
        view.bulk.add_appointments(docs)
    return template, docs


def test_reading_every_week_keeps_no_more_parsed_than_the_cache_allows(clinic: Desk, now: datetime,
                                                                       data_dir: Path) -> None:
    """A scan of every week (one patient's appointments) lets the weeks it read go as it goes:
    the cache's budget is of memory held, and a week parsed holds about three times its file."""
    _template, docs = weeks_of_one_doctor(clinic, now, data_dir, 16)
    budget = 2 * 1024 * 1024
    store = TinyStore(data_dir, cache_bytes=budget)
    tracemalloc.start()
    try:
        assert store.read().appointments.count(AppointmentQuery(patient_id="pat-001")) == len(docs) + 1
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 1.25 * budget, held


def test_a_scan_lets_weeks_go_before_it_parses_the_next_not_after(clinic: Desk, now: datetime, data_dir: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """At its budget, the cache makes room for a week before parsing it: a scan of many weeks
    never holds a full cache and the week being parsed at once (at a million appointments that
    was 11 MB more at each step of the app that parsed a week)."""
    _template, docs = weeks_of_one_doctor(clinic, now, data_dir, 12)
    manifest = TinyStore(data_dir).engine.manifest()
    largest = max(ref.size for name, ref in manifest.segments.items() if name.startswith("appt-"))
    store = TinyStore(data_dir, cache_bytes=3 * PARSED_PER_FILE_BYTE * largest)  # room for three weeks parsed
    starts: list[tuple[str, int]] = []
    real = SegmentStorage._parse

    def parse(path: Path, size: int | None, crc: int | None) -> Any:
        if path.name.startswith("appt-"):
            starts.append((path.name, store.engine._cached_bytes + 3 * (size or 0)))
        return real(path, size, crc)

    monkeypatch.setattr(SegmentStorage, "_parse", staticmethod(parse))
    assert store.read().appointments.count(AppointmentQuery(patient_id="pat-001")) == len(docs) + 1
    assert len(starts) >= 12
    over = [(name, held) for name, held in starts if held > store.engine.cache_bytes]
    assert not over, (store.engine.cache_bytes, over)


def test_a_unit_of_work_parses_each_segment_once_whatever_the_cache_keeps(clinic: Desk, now: datetime,
                                                                          data_dir: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A tick reads more weeks than the cache keeps, some of them twice: each is parsed once."""
    first = make_appointment(clinic, start=now + timedelta(days=1))
    later = make_appointment(clinic, start=now + timedelta(days=8))
    parsed: list[str] = []
    real = SegmentStorage._parse

    def parse(path: Path, size: int | None, crc: int | None) -> Any:
        parsed.append(path.name.split(".")[0])
        return real(path, size, crc)

    monkeypatch.setattr(SegmentStorage, "_parse", staticmethod(parse))
    store = TinyStore(data_dir, cache_bytes=1)  # keeps one segment at a time
    with store.write() as view:
        for uid in (first.uid, later.uid, first.uid, later.uid):
            assert view.appointments.require(uid).uid == uid
    assert sorted(parsed) == ["appt-2026-11-23", "appt-2026-11-30"], parsed


def six_weeks_of_one_doctor(clinic: Desk, now: datetime, data_dir: Path) -> tuple[dict[str, Any], list[str], int]:
    """150 appointments of one doctor in each of six weeks from now: the template they were made
    from, the weeks' segment names in order, and the largest week's size on disk."""
    template, _docs = weeks_of_one_doctor(clinic, now, data_dir, 6)
    manifest = TinyStore(data_dir).engine.manifest()
    weeks = sorted(name for name in manifest.segments if name.startswith("appt-"))
    largest = max(manifest.segments[name].size for name in weeks)
    return template, weeks, largest


def test_weeks_a_filter_passes_through_once_go_before_the_week_every_listing_reads(
        clinic: Desk, now: datetime, data_dir: Path) -> None:
    """The cache lets go first of what one snapshot alone asked for (a doctor's filter walking
    the weeks ahead): the week the default view reads again and again stays parsed."""
    template, weeks, largest = six_weeks_of_one_doctor(clinic, now, data_dir)
    store = TinyStore(data_dir, cache_bytes=3 * PARSED_PER_FILE_BYTE * largest)  # room for three weeks parsed
    this_week = AppointmentQuery(starts_before=now + timedelta(weeks=1), limit=20)
    for _listing in range(2):
        assert len(store.read().appointments.window_raw(this_week).items) == 20
    ahead = AppointmentQuery(doctor_id=template["doctor_id"], starts_from=now + timedelta(weeks=1), count=True)
    assert store.read().appointments.window_raw(ahead).total == 5 * 150
    held = [seg.name for seg, _size in store.engine._cache.values()]
    assert weeks[0] in held and sum(size for _seg, size in store.engine._cache.values()) <= 3 * PARSED_PER_FILE_BYTE * largest, held


def test_reading_ahead_parses_the_weeks_from_now_on_as_far_as_the_cache_has_room(
        clinic: Desk, now: datetime, data_dir: Path) -> None:
    """After the first rows, the app has the store read the weeks ahead: a doctor's filter then
    parses none of those it finds there, and the reading stops where the budget would let go of
    anything it holds."""
    template, weeks, largest = six_weeks_of_one_doctor(clinic, now, data_dir)
    roomy = TinyStore(data_dir)
    clinic.store = roomy
    clinic.read_ahead()
    held = sorted(seg.name for seg, _size in roomy.engine._cache.values() if seg.name.startswith("appt-"))
    assert held == weeks, held
    (data_dir / "segments").rename(data_dir / "elsewhere")  # what is not parsed yet cannot be read now
    try:
        ahead = AppointmentQuery(doctor_id=template["doctor_id"], starts_from=now, limit=400, count=True)
        assert len(roomy.read().appointments.window_raw(ahead).items) == 400
    finally:
        (data_dir / "elsewhere").rename(data_dir / "segments")

    small = TinyStore(data_dir, cache_bytes=3 * PARSED_PER_FILE_BYTE * largest)  # room for three weeks parsed
    small.read_ahead(now + timedelta(weeks=2))
    held = sorted(seg.name for seg, _size in small.engine._cache.values() if seg.name.startswith("appt-"))
    assert held == weeks[2:5] or held == weeks[2:4], held
    assert sum(size for _seg, size in small.engine._cache.values()) <= small.engine.cache_bytes


def test_a_running_worker_keeps_a_cache_of_what_every_tick_reads(clinic: Desk, data_dir: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`rxdesk worker` ticks until stopped and reads this week and the last at every tick (at a
    million appointments more than an app's cache holds, which made each tick parse them
    again); `worker --once` is a command like any other."""
    from rxdesk import cli
    from rxdesk.store.engine import CACHE_BYTES, WORKER_CACHE_BYTES
    from rxdesk.worker import headless

    opened: dict[bool, int] = {}

    def run(desk_of: Any, *, once: bool, **_options: Any) -> int:
        opened[once] = desk_of().store.engine.cache_bytes
        return 0

    monkeypatch.setattr(headless, "run", run)
    monkeypatch.delenv("RXDESK_DATABASE_URL", raising=False)
    assert cli.main(["--data-dir", str(data_dir), "worker"]) == 0
    assert cli.main(["--data-dir", str(data_dir), "worker", "--once"]) == 0
    assert opened == {False: WORKER_CACHE_BYTES, True: CACHE_BYTES} and WORKER_CACHE_BYTES > 2 * CACHE_BYTES


def test_a_short_lived_command_keeps_what_it_parses_out_of_the_collectors_passes(clinic: Desk, data_dir: Path) -> None:
    import gc

    from rxdesk.config import Settings
    from rxdesk.store import open_store

    settings = Settings.from_env(data_dir=data_dir)
    try:
        frozen = gc.get_freeze_count()
        with open_store(settings).read() as view:  # the app's and the tests' store: nothing frozen
            assert view.org.get() is not None
        assert gc.get_freeze_count() == frozen
        worker = open_store(settings, long_running=True, short_lived=True)  # a running worker never freezes
        with worker.read() as view:
            assert view.org.get() is not None
        assert gc.get_freeze_count() == frozen
        command = open_store(settings, short_lived=True)
        with command.read() as view:
            assert view.org.get() is not None
        assert gc.get_freeze_count() > frozen  # the core segment it parsed, and what was there before
    finally:
        gc.unfreeze()


def test_a_week_with_a_delta_is_counted_once_not_again_for_what_it_lays_over(clinic: Desk, now: datetime,
                                                                             data_dir: Path) -> None:
    """A segment with a delta shares its file's documents: the cache counts the file's parse
    at what it holds and the laid segment at its delta and the tables it copied."""
    from tests.unit.test_store_deltas import a_full_week

    week, made = a_full_week(clinic, now, 200)
    clinic.appointments.cancel_appointment(made[5].uid, "patient asked", "tester")
    store = TinyStore(data_dir)
    ref = store.engine.manifest().segments[week]
    assert ref.delta is not None
    found = store.read().appointments.get(made[5].uid)
    assert found is not None and str(found.status) == "cancelled"
    counted = {file: size for file, (seg, size) in store.engine._cache.items() if seg.name == week}
    assert set(counted) == {ref.file, ref.delta.file}, counted
    assert counted[ref.delta.file] < counted[ref.file] / 4, counted
