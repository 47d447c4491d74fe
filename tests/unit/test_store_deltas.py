"""A few documents changed in a big segment are written as a delta file beside it: readers lay
it over the segment's file, a grown delta is folded into a new file, and every guarantee of a
whole file holds for it (checked, undone with the previous manifest, kept by the sweep)."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rxdesk.domain.errors import StoreError
from rxdesk.domain.ids import uid_partition
from rxdesk.domain.models import Appointment, Doctor, Patient
from rxdesk.services import Desk
from rxdesk.store import TinyStore
from rxdesk.store.files import sweep
from rxdesk.store.manifest import Manifest
from rxdesk.store.segment_db import open_segment
from rxdesk.store.weeks import stored_counts
from tests.helpers import fingerprint, make_appointment


def manifest(data_dir: Path) -> dict[str, Any]:
    return dict(json.loads((data_dir / "rxdesk.json").read_text()))


def a_full_week(clinic: Desk, now: datetime, count: int = 80) -> tuple[str, list[Appointment]]:
    """`count` appointments in next week (written whole), in a store that from then on lays
    deltas over any file."""
    assert isinstance(clinic.store, TinyStore)
    clinic.store.engine.delta_from = 1 << 40  # the week written whole, however big it grows
    monday = now - timedelta(days=now.weekday()) + timedelta(days=7)
    made = [make_appointment(clinic, start=monday + timedelta(hours=8 + h % 9, days=h // 9 % 5, minutes=h % 3 * 20),
                             doctor_id=("dr-weber", "dr-osei", "dr-sato")[h % 3]) for h in range(count)]
    week = f"appt-{uid_partition(made[0].uid)}"
    assert "delta" not in manifest(clinic.store.engine.data_dir)["segments"][week]
    clinic.store.engine.delta_from = 0
    return week, made


def status_of(data_dir: Path, uid: str) -> str:
    """The stored status of `uid`, as a new process reads it."""
    with TinyStore(data_dir).read() as view:
        found = view.appointments.get(uid)
    assert found is not None
    return str(found.status)


def test_a_cancel_in_a_big_week_writes_its_one_document_beside_the_week(clinic: Desk, now: datetime,
                                                                         data_dir: Path) -> None:
    week, made = a_full_week(clinic, now)
    before = manifest(data_dir)["segments"][week]
    clinic.appointments.cancel_appointment(made[5].uid, "patient asked", "tester")

    after = manifest(data_dir)
    ref = after["segments"][week]
    assert ref["file"] == before["file"]  # the week's file is not written again
    # A version without deltas refuses it, never misreads it (/4: the week's documents leave
    # their null fields out, which that version would not read either; /4 names deltas too).
    assert after["format"] == "rxdesk-store/4"
    segments = data_dir / "segments"
    delta = open_segment(segments / ref["delta"]["file"])
    assert list(delta.table("appointments").documents()) == [made[5].uid]
    laid = open_segment(segments / ref["file"], segments / ref["delta"]["file"])
    assert laid.table("appointments").document(made[5].uid)["status"] == "cancelled"  # type: ignore[index]
    assert status_of(data_dir, made[5].uid) == "cancelled" and status_of(data_dir, made[6].uid) == "confirmed"
    # The week's counts are still known without reading it.
    fresh = TinyStore(data_dir)
    counts = stored_counts(fresh.engine.snapshot(), week[len("appt-"):])
    assert counts is not None and counts["cancelled"] == 1 and counts["confirmed"] == len(made) - 1


def test_changes_gather_in_one_delta_and_fold_into_a_new_file_as_it_grows(clinic: Desk, now: datetime,
                                                                           data_dir: Path) -> None:
    week, made = a_full_week(clinic, now)
    first = manifest(data_dir)["segments"][week]["file"]
    cancelled: list[str] = []
    for appt in made:
        clinic.appointments.cancel_appointment(appt.uid, "clinic closed", "tester")
        cancelled.append(appt.uid)
        ref = manifest(data_dir)["segments"][week]
        if ref["file"] != first:
            break
        # Every change since the file was written, not only the last one.
        assert set(open_segment(data_dir / "segments" / ref["delta"]["file"]).table("appointments").documents()) \
            == set(cancelled)
    ref = manifest(data_dir)["segments"][week]
    assert ref["file"] != first and "delta" not in ref, "the delta never folded into a new file"
    assert 1 < len(cancelled) < len(made)
    assert all(status_of(data_dir, uid) == "cancelled" for uid in cancelled)
    assert status_of(data_dir, made[-1].uid) == "confirmed"


def test_another_process_reads_each_new_delta_and_builds_on_it(clinic: Desk, now: datetime, data_dir: Path) -> None:
    week, made = a_full_week(clinic, now)
    other = Desk(TinyStore(data_dir, fsync=False, delta_from=0), clinic.clock, clinic.settings)
    assert other.appointments.get(made[0].uid) is not None  # it has the week's file parsed
    clinic.appointments.cancel_appointment(made[0].uid, "patient asked", "tester")
    assert str(other.appointments.get(made[0].uid).status) == "cancelled"
    other.appointments.cancel_appointment(made[1].uid, "patient asked", "tester")
    clinic.appointments.cancel_appointment(made[2].uid, "patient asked", "tester")
    assert [status_of(data_dir, appt.uid) for appt in made[:4]] == ["cancelled"] * 3 + ["confirmed"]
    ref = manifest(data_dir)["segments"][week]
    assert set(open_segment(data_dir / "segments" / ref["delta"]["file"]).table("appointments").documents()) \
        == {appt.uid for appt in made[:3]}


def test_a_damaged_delta_is_named_and_nothing_is_written(clinic: Desk, now: datetime, data_dir: Path) -> None:
    week, made = a_full_week(clinic, now)
    clinic.appointments.cancel_appointment(made[0].uid, "patient asked", "tester")
    delta = data_dir / "segments" / manifest(data_dir)["segments"][week]["delta"]["file"]
    delta.write_bytes(b"x" * delta.stat().st_size)  # the size it was committed with: found when read
    before = fingerprint(data_dir)
    fresh = Desk(TinyStore(data_dir, fsync=False, delta_from=0), clinic.clock, clinic.settings)
    with pytest.raises(StoreError, match=delta.name):
        fresh.appointments.cancel_appointment(made[1].uid, "patient asked", "tester")
    delta.unlink()
    with pytest.raises(StoreError, match=f"{delta.name} is missing"):
        status_of(data_dir, made[1].uid)
    delta.write_bytes(b"x")
    assert fingerprint(data_dir) != before  # (the damage itself)
    with pytest.raises(StoreError, match=f"{delta.name} is corrupt"):
        status_of(data_dir, made[1].uid)


def test_the_previous_manifest_undoes_a_write_that_only_wrote_a_delta(clinic: Desk, now: datetime,
                                                                       data_dir: Path) -> None:
    week, made = a_full_week(clinic, now)
    clinic.appointments.cancel_appointment(made[0].uid, "patient asked", "tester")
    clinic.appointments.cancel_appointment(made[1].uid, "patient asked", "tester")
    shutil.copy(data_dir / "rxdesk.previous.json", data_dir / "rxdesk.json")
    assert status_of(data_dir, made[0].uid) == "cancelled" and status_of(data_dir, made[1].uid) == "confirmed"


def test_the_sweep_keeps_the_deltas_of_both_manifests(clinic: Desk, now: datetime, data_dir: Path) -> None:
    week, made = a_full_week(clinic, now)
    clinic.appointments.cancel_appointment(made[0].uid, "patient asked", "tester")
    clinic.appointments.cancel_appointment(made[1].uid, "patient asked", "tester")
    long_ago = datetime.now().timestamp() - 3600
    for path in (data_dir / "segments").iterdir():
        os.utime(path, (long_ago, long_ago))
    current = Manifest.from_bytes((data_dir / "rxdesk.json").read_bytes(), data_dir / "rxdesk.json")
    sweep(data_dir, current)
    assert [status_of(data_dir, appt.uid) for appt in made[:3]] == ["cancelled", "cancelled", "confirmed"]
    shutil.copy(data_dir / "rxdesk.previous.json", data_dir / "rxdesk.json")
    assert status_of(data_dir, made[1].uid) == "confirmed"


def test_a_data_dir_with_no_delta_and_no_names_as_lines_keeps_the_first_format(data_dir: Path) -> None:
    store = TinyStore(data_dir, fsync=False)
    with store.write() as view:  # small segments are written whole: older versions still read it
        view.doctors.put(Doctor(id="dr-a", name="Dr A"))
    assert manifest(data_dir)["format"] == "rxdesk-store/1"
    with store.write() as view:
        view.patients.put(Patient(id="pat-a", name="Pat A"))
    found = manifest(data_dir)
    assert found["format"] == "rxdesk-store/3"  # the names as lines: a version reading two lists refuses it
    assert not any("delta" in ref for ref in found["segments"].values())


def test_a_file_changed_under_a_running_process_is_replaced_from_what_it_read_never_built_on(
        clinic: Desk, now: datetime, data_dir: Path) -> None:
    week, made = a_full_week(clinic, now)
    clinic.appointments.cancel_appointment(made[0].uid, "patient asked", "tester")
    assert clinic.appointments.get(made[1].uid) is not None  # this process has the week read
    base = data_dir / "segments" / manifest(data_dir)["segments"][week]["file"]
    damaged = base.read_bytes().replace(b'"confirmed"', b'"Confirmed"', 1)
    assert len(damaged) == base.stat().st_size
    spare = base.with_suffix(".x")
    spare.write_bytes(damaged)
    spare.replace(base)  # the same size: only its checksum tells
    with pytest.raises(StoreError, match="checksum"):
        status_of(data_dir, made[1].uid)
    clinic.appointments.cancel_appointment(made[1].uid, "patient asked", "tester")
    ref = manifest(data_dir)["segments"][week]
    assert ref["file"] != base.name and "delta" not in ref  # written whole from what it read
    assert [status_of(data_dir, appt.uid) for appt in made[:3]] == ["cancelled", "cancelled", "confirmed"]


def test_a_process_that_writes_again_and_again_names_each_segments_files_as_they_are(
        clinic: Desk, now: datetime, data_dir: Path) -> None:
    # From its second write on, a process reuses the encoded manifest entries of segments its
    # last write left as they were; each manifest it writes must still name every file as it is.
    week, made = a_full_week(clinic, now, count=30)
    assert isinstance(clinic.store, TinyStore)
    engine = clinic.store.engine
    other = Desk(TinyStore(data_dir, fsync=False, delta_from=0), clinic.clock, clinic.settings)

    def written_as_known() -> None:
        known = engine.manifest()
        assert manifest(data_dir)["segments"] == {name: ref.as_json() for name, ref in known.segments.items()}

    for appt in made[:3]:  # the week's file, then deltas over it
        clinic.appointments.cancel_appointment(appt.uid, "patient asked", "tester")
        written_as_known()
    assert engine._encoded.names == sorted(engine.manifest().segments)  # kept since the second write
    other.appointments.cancel_appointment(made[3].uid, "patient asked", "tester")  # parsed again: equal entries
    clinic.appointments.cancel_appointment(made[4].uid, "patient asked", "tester")
    written_as_known()
    with clinic.store.write() as view:  # a segment dropped, another made
        view.snap.drop(week)  # type: ignore[attr-defined]
    written_as_known()
    assert week not in manifest(data_dir)["segments"] and week not in engine._encoded.names
    make_appointment(clinic, start=made[0].starts_at + timedelta(minutes=5))  # the week made again
    written_as_known()
    assert week in manifest(data_dir)["segments"]


def test_a_manifest_the_file_system_refused_is_not_built_on_by_the_next_write(
        clinic: Desk, now: datetime, data_dir: Path) -> None:
    # The process encoded its manifest and the file system refused the file (a size limit, as a
    # quota or a full disk): its next write builds on the manifest on disk, not on the refused one.
    week, made = a_full_week(clinic, now, count=30)
    for appt in made[:2]:  # from the second write on, the entries encoded are kept
        clinic.appointments.cancel_appointment(appt.uid, "patient asked", "tester")
    kept = manifest(data_dir)["segments"]
    patients = next(name for name in sorted(kept) if name.startswith("patients-"))  # no cancel writes it
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    too_big = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails (EFBIG), the process lives
    try:
        # A drop writes no segment file: the manifest is the one file this commit writes.
        resource.setrlimit(resource.RLIMIT_FSIZE, ((data_dir / "rxdesk.json").stat().st_size // 2, limit[1]))
        with pytest.raises(StoreError, match="cannot write"), clinic.store.write() as view:
            view.snap.drop(patients)  # type: ignore[attr-defined]
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, too_big)
    assert manifest(data_dir)["segments"] == kept
    clinic.appointments.cancel_appointment(made[2].uid, "patient asked", "tester")
    raw = (data_dir / "rxdesk.json").read_bytes()
    assert manifest(data_dir)["segments"][patients] == kept[patients]  # the drop never happened
    whole = Manifest.from_bytes(raw, data_dir / "rxdesk.json").to_bytes()
    assert {**json.loads(raw), "committed_at": ""} == {**json.loads(whole), "committed_at": ""}
    assert [status_of(data_dir, appt.uid) for appt in made[:4]] == ["cancelled"] * 3 + ["confirmed"]
