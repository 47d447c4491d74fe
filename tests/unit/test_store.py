"""The store: atomic commits through the manifest, locking across processes, corrupt files."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import pytest

from rxdesk.domain.errors import StoreError
from rxdesk.domain.models import Patient
from rxdesk.services import Desk
from rxdesk.store import TinyStore
from rxdesk.store import engine as engine_module
from rxdesk.store.layout import patient_segment
from rxdesk.store.manifest import Manifest
from rxdesk.store.segment_db import open_segment
from tests.helpers import CLINIC_TOML, fingerprint, run_cli, tiny_view_of

REPO = Path(__file__).resolve().parents[2]


def patient(pid: str) -> Patient:
    return Patient(id=pid, name=f"Patient {pid}")


def test_commit_is_one_manifest_generation_and_immutable_files(store: TinyStore, data_dir: Path) -> None:
    assert store.generation() == 0
    with store.write() as view:
        view.patients.put(patient("a"))
    first = json.loads((data_dir / "rxdesk.json").read_text())
    assert first["generation"] == 1
    file_a = first["segments"]["patient-names"]["file"]
    with store.write() as view:
        view.patients.put(patient("b"))
    second = json.loads((data_dir / "rxdesk.json").read_text())
    assert second["segments"]["patient-names"]["file"] != file_a
    # The replaced file stays (grace period) and the previous manifest points at it.
    assert (data_dir / "segments" / file_a).exists()
    assert json.loads((data_dir / "rxdesk.previous.json").read_text())["generation"] == 1
    assert [p.id for p in TinyStore(data_dir).read().patients.all()] == ["a", "b"]


def test_the_manifest_a_write_replaces_is_kept_as_it_was_read(store: TinyStore, data_dir: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with store.write() as view:
        view.patients.put(patient("a"))
    first = (data_dir / "rxdesk.json").read_bytes()
    read_as = os.stat(data_dir / "rxdesk.json").st_ino
    with store.write() as view:
        view.patients.put(patient("b"))
    # The file itself is kept (linked), not a copy of its bytes written and flushed again.
    assert os.stat(data_dir / "rxdesk.previous.json").st_ino == read_as
    assert (data_dir / "rxdesk.previous.json").read_bytes() == first
    assert os.stat(data_dir / "rxdesk.json").st_ino != read_as
    assert os.stat(data_dir / "rxdesk.previous.json").st_nlink == 1
    # Replaced under the process by the same bytes, or on a file system without hard links,
    # the bytes it read are written there.
    second = (data_dir / "rxdesk.json").read_bytes()
    (data_dir / "rxdesk.json").unlink()
    (data_dir / "rxdesk.json").write_bytes(second)
    with store.write() as view:
        view.patients.put(patient("c"))
    assert (data_dir / "rxdesk.previous.json").read_bytes() == second

    def no_links(source: object, target: object) -> None:
        raise OSError(1, "Operation not permitted")

    # A write that stopped after linking, before its commit, left both names on one file: the
    # next write keeps it as the previous manifest, and leaves no temporary name behind.
    os.unlink(data_dir / "rxdesk.previous.json")
    os.link(data_dir / "rxdesk.json", data_dir / "rxdesk.previous.json")
    linked = (data_dir / "rxdesk.json").read_bytes()
    with store.write() as view:
        view.patients.put(patient("c2"))
    assert (data_dir / "rxdesk.previous.json").read_bytes() == linked
    assert not [p for p in data_dir.iterdir() if p.name.endswith(".tmp")]

    monkeypatch.setattr(os, "link", no_links)
    third = (data_dir / "rxdesk.json").read_bytes()
    with store.write() as view:
        view.patients.put(patient("d"))
    assert (data_dir / "rxdesk.previous.json").read_bytes() == third
    assert not [p for p in data_dir.iterdir() if p.name.endswith(".tmp")]
    assert [p.id for p in TinyStore(data_dir).read().patients.all()] == ["a", "b", "c", "c2", "d"]


def test_exception_discards_every_change(store: TinyStore, data_dir: Path) -> None:
    with store.write() as view:
        view.patients.put(patient("a"))
    before = fingerprint(data_dir)
    with pytest.raises(RuntimeError), store.write() as view:
        view.patients.put(patient("b"))
        raise RuntimeError("refused halfway")
    assert fingerprint(data_dir) == before
    assert [p.id for p in store.read().patients.all()] == ["a"]


def test_reads_inside_a_write_see_other_processes_changes(store: TinyStore, data_dir: Path) -> None:
    other = TinyStore(data_dir)
    with store.write() as view:
        view.patients.put(patient("a"))
    store.read().patients.all()  # warm this process's cache
    with other.write() as view:
        view.patients.put(patient("b"))
    with store.write() as view:
        assert [p.id for p in view.patients.all()] == ["a", "b"]


def test_a_write_never_builds_on_a_manifest_it_only_thinks_is_current(store: TinyStore, data_dir: Path) -> None:
    """Two commits within one tick of the file system's clock can leave a manifest with the
    same inode (reused), size and time as the one this process cached: a write must read the
    manifest under the lock, or it drops the other process's commit."""
    import os

    other = TinyStore(data_dir)
    with store.write() as view:
        view.patients.put(patient("a"))
    store.read().patients.all()  # this process caches the manifest it just read
    with other.write() as view:
        view.patients.put(patient("b"))
    # What a collision looks like from here: the new file's stat is the one cached.
    st = os.stat(store.engine.manifest_path)
    store.engine._manifest_stat = (st.st_ino, st.st_size, st.st_mtime_ns)
    with store.write() as view:
        view.patients.put(patient("c"))
    assert [p.id for p in TinyStore(data_dir).read().patients.all()] == ["a", "b", "c"]


def test_permissions_are_private(store: TinyStore, data_dir: Path) -> None:
    with store.write() as view:
        view.patients.put(patient("a"))
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "segments").stat().st_mode) == 0o700
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_segments_are_tinydb_documents(clinic: Desk, data_dir: Path) -> None:
    manifest = json.loads((data_dir / "rxdesk.json").read_text())
    db = open_segment(data_dir / "segments" / manifest["segments"]["core"]["file"])
    doctors = db.table("doctors").all()
    assert {d.doc_id for d in doctors} == {"dr-weber", "dr-osei", "dr-sato"}


def test_replaced_files_are_deleted_after_the_grace_period(store: TinyStore, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "GRACE_SECONDS", -1.0)
    for name in "abcd":
        with store.write() as view:
            view.patients.put(patient(name))
    files = sorted(p.name for p in (data_dir / "segments").iterdir())
    manifest = json.loads((data_dir / "rxdesk.json").read_text())
    previous = json.loads((data_dir / "rxdesk.previous.json").read_text())
    live = {ref["file"] for m in (manifest, previous) for ref in m["segments"].values()}
    assert set(files) <= live | {f for f, _ in manifest["graveyard"]}
    assert len(files) <= 2 * len(manifest["segments"])  # the current and the previous of each


WRITER = textwrap.dedent(
    """
    import sys
    from rxdesk.domain.models import Patient
    from rxdesk.store import TinyStore
    store = TinyStore(sys.argv[1])
    tag = sys.argv[2]
    for i in range(int(sys.argv[3])):
        with store.write() as view:
            view.patients.put(Patient(id=f"{tag}-{i}", name=tag))
            # A read-modify-write on one shared document: lost updates would show here.
            counter = view.patients.get("counter")
            count = int(counter.external_id) if counter else 0
            view.patients.put(Patient(id="counter", name="counter", external_id=str(count + 1)))
    """
)


def test_two_processes_writing_at_once_lose_nothing(data_dir: Path) -> None:
    n = 60
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(data_dir), tag, str(n)], cwd=REPO)
        for tag in ("left", "right")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    view = TinyStore(data_dir).read()
    ids = {p.id for p in view.patients.all()}
    assert {f"left-{i}" for i in range(n)} <= ids
    assert {f"right-{i}" for i in range(n)} <= ids
    assert view.patients.require("counter").external_id == str(2 * n)
    assert view.generation == 2 * n


def _cut_in_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    os.chmod(path, 0o600)


@pytest.mark.parametrize("damage", ["half", "empty", "garbage", "same-size"])
def test_corrupt_segment_is_reported_and_left_alone(clinic: Desk, data_dir: Path, damage: str) -> None:
    manifest = json.loads((data_dir / "rxdesk.json").read_text())
    path = data_dir / "segments" / manifest["segments"][patient_segment("pat-001")]["file"]  # Lena's record
    original = path.read_bytes()
    if damage == "half":
        _cut_in_half(path)
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        path.write_bytes(b"not json at all")
    else:  # the same length, different bytes: only the checksum can tell
        path.write_bytes(original.replace(b"Lena", b"Lina"))
    damaged = path.read_bytes()
    before = fingerprint(data_dir)
    env = {"RXDESK_DATA_DIR": str(data_dir), "RXDESK_NOW": "2026-11-23T08:00:00Z"}
    for args in (["patients", "list"], ["provision", str(CLINIC_TOML)]):
        result = run_cli(*args, env=env)
        assert result.code == 1
        assert str(path) in result.err and "left as it is" in result.err
        assert len(result.err.strip().splitlines()) == 1
    assert path.read_bytes() == damaged
    assert fingerprint(data_dir) == before
    with pytest.raises(StoreError, match="corrupt"), TinyStore(data_dir).write() as view:
        view.patients.all()


def test_corrupt_manifest_is_reported_by_name(clinic: Desk, data_dir: Path) -> None:
    manifest = data_dir / "rxdesk.json"
    manifest.write_bytes(manifest.read_bytes()[:40])
    before = fingerprint(data_dir)
    result = run_cli("doctors", "list", env={"RXDESK_DATA_DIR": str(data_dir)})
    assert result.code == 1 and str(manifest) in result.err
    assert fingerprint(data_dir) == before


def test_missing_segment_file_is_reported(clinic: Desk, data_dir: Path) -> None:
    manifest = json.loads((data_dir / "rxdesk.json").read_text())
    (data_dir / "segments" / manifest["segments"]["core"]["file"]).unlink()
    result = run_cli("doctors", "list", env={"RXDESK_DATA_DIR": str(data_dir)})
    assert result.code == 1 and "is missing" in result.err


@pytest.mark.permissions
def test_unwritable_data_dir_is_one_line(clinic: Desk, data_dir: Path) -> None:
    before = fingerprint(data_dir)
    os.chmod(data_dir, 0o500)  # its owner made it read-only
    try:
        result = run_cli("doctors", "set-phone", "dr-weber", "+4915111223399", env={"RXDESK_DATA_DIR": str(data_dir)})
        assert result.code == 1 and "not writable" in result.err and result.err.count("\n") == 1, result.err
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o500  # still read-only
    finally:
        os.chmod(data_dir, 0o700)
    assert fingerprint(data_dir) == before


def test_leftovers_of_a_crashed_writer_are_ignored(clinic: Desk, data_dir: Path) -> None:
    segments = data_dir / "segments"
    (segments / ".patients.00000099.json.123.tmp").write_bytes(b"{half")
    (segments / "patients.00000099.json").write_bytes(b'{"patients": {}}')
    assert [p.id for p in TinyStore(data_dir).read().patients.all()] == ["pat-001", "pat-002", "pat-003"]
    with TinyStore(data_dir).write() as view:
        view.patients.put(patient("pat-004"))
    assert len(TinyStore(data_dir).read().patients.all()) == 4


def test_the_patient_name_index_follows_every_patient_write(store: TinyStore, data_dir: Path) -> None:
    with store.write() as view:
        view.patients.put(patient("a"))
        view.patients.put(patient("b"))
    with store.write() as view:
        view.patients.put(patient("a").model_copy(update={"name": "Renamed"}))
        view.patients.delete("b")
    manifest = json.loads((data_dir / "rxdesk.json").read_text())
    db = open_segment(data_dir / "segments" / manifest["segments"]["patient-names"]["file"])
    assert db.table("compact").document("lines") == {"text": "a\tRenamed\n"}
    assert dict(store.read().patients.names()) == {"a": "Renamed"}


def test_the_holds_index_follows_holds_and_feeds_expiry(clinic: Desk, now: datetime) -> None:
    from datetime import timedelta

    from tests.helpers import make_appointment

    held = make_appointment(clinic, start=now + timedelta(days=2), status="held", hold_minutes=60 * 48)
    soon = make_appointment(clinic, start=now + timedelta(days=3), status="held", hold_minutes=10,
                            created_at=now - timedelta(minutes=5))
    make_appointment(clinic, start=now + timedelta(days=4))
    view = tiny_view_of(clinic)
    assert {d.doc_id for d in view.snap.table("holds", "held").all()} == {held.uid, soon.uid}
    created = soon.created_at
    assert [a.uid for a in view.appointments.lapsed_holds(created + timedelta(minutes=10))] == [soon.uid]
    clinic.appointments.cancel_appointment(soon.uid, "x", "tester")
    view = tiny_view_of(clinic)
    assert {d.doc_id for d in view.snap.table("holds", "held").all()} == {held.uid}
    assert view.appointments.lapsed_holds(created + timedelta(minutes=10)) == []


def test_counts_agree_with_walking_the_rows(clinic: Desk, now: datetime) -> None:
    """count_raw takes shortcuts (whole weeks by their groupings, at the query's as_of too);
    it must match the walk, and the walk must match the domain's effective status."""
    import random
    from datetime import timedelta

    from hypothesis import HealthCheck, example, given, settings
    from hypothesis import strategies as st

    from rxdesk.domain.lifecycle import effective_status
    from rxdesk.domain.queries import AppointmentQuery
    from rxdesk.domain.queries import appointment_from_json as appointment_from_store
    from tests.helpers import make_appointment

    rng = random.Random(5)
    for i in range(160):
        start = now + timedelta(hours=rng.randint(-24 * 30, 24 * 30))
        make_appointment(clinic, start=start,
                         doctor_id=rng.choice(["dr-weber", "dr-osei", "dr-sato"]),
                         patient_id=rng.choice(["pat-001", "pat-002", "pat-003"]),
                         status=rng.choice(["held", "confirmed", "confirmed", "cancelled", "completed", "no_show"]),
                         # holds lapsing anywhere from before the start to long after it
                         created_at=start - timedelta(hours=rng.randint(1, 24 * 10)),
                         hold_minutes=rng.randint(1, 60 * 24 * 20))
    view = tiny_view_of(clinic)
    rows = list(view.appointments.iter_raw(AppointmentQuery()))
    # Instants exactly on a boundary: an end, a hold's expiry.
    an_end = next(appointment_from_store(r).ends_at for r in rows if r["status"] == "confirmed")
    a_lapse = next(appointment_from_store(r).hold_expires_at for r in rows if r["status"] == "held")
    offsets = st.one_of(st.none(), st.integers(-24 * 40, 24 * 40).map(lambda h: now + timedelta(hours=h)))
    instants = st.one_of(st.none(), st.integers(-60 * 24 * 40, 60 * 24 * 40).map(lambda m: now + timedelta(minutes=m)))
    every = ["held", "confirmed", "cancelled", "completed", "expired", "no_show"]

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(statuses=st.one_of(st.none(), st.frozensets(st.sampled_from(every))),
           doctor=st.sampled_from([None, "dr-weber", "dr-osei"]), patient=st.sampled_from([None, "pat-002"]),
           start=offsets, before=offsets, as_of=instants)
    @example(statuses=None, doctor=None, patient=None,  # a range that ends before it starts: nothing
             start=now + timedelta(hours=20), before=now, as_of=None)
    @example(statuses=frozenset({"completed"}), doctor=None, patient=None, start=None, before=None, as_of=an_end)
    @example(statuses=frozenset({"confirmed"}), doctor=None, patient=None, start=None, before=None, as_of=an_end)
    @example(statuses=frozenset({"expired"}), doctor=None, patient=None, start=None, before=None, as_of=a_lapse)
    @example(statuses=frozenset({"held"}), doctor=None, patient=None, start=None, before=None, as_of=a_lapse)
    def check(statuses: frozenset[str] | None, doctor: str | None, patient: str | None, start: datetime | None,
              before: datetime | None, as_of: datetime | None) -> None:
        query = AppointmentQuery(statuses=statuses or None, doctor_id=doctor, patient_id=patient,
                                 starts_from=start, starts_before=before, as_of=as_of)
        walked = list(view.appointments.iter_raw(query))
        assert view.appointments.count_raw(query) == len(walked)
        if statuses and as_of is not None:
            everything = dataclasses.replace(query, statuses=None)
            expected = [r["uid"] for r in view.appointments.iter_raw(everything)
                        if effective_status(appointment_from_store(r), as_of).value in statuses]
            assert [r["uid"] for r in walked] == expected

    check()



def test_a_write_over_a_missing_segment_file_is_refused_and_changes_nothing(clinic: Desk, data_dir: Path) -> None:
    """A write reads each segment it replaces: a missing one is damage, reported by name."""
    manifest = json.loads((data_dir / "rxdesk.json").read_text())
    path = data_dir / "segments" / manifest["segments"]["patient-names"]["file"]
    path.unlink()
    before = fingerprint(data_dir)
    result = run_cli("provision", str(CLINIC_TOML), env={"RXDESK_DATA_DIR": str(data_dir)})
    assert result.code == 1 and f"data file {path} is missing" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert fingerprint(data_dir) == before


def test_a_new_process_refuses_a_file_damaged_after_another_process_checked_it(clinic: Desk, data_dir: Path) -> None:
    """Every process checks every file of its first manifest: damage done under a running
    process stops the next command, before it writes anything."""
    TinyStore(data_dir).read().patients.all()  # a running process has checked every file
    manifest = json.loads((data_dir / "rxdesk.json").read_text())
    _cut_in_half(data_dir / "segments" / manifest["segments"]["core"]["file"])
    before = fingerprint(data_dir)
    with pytest.raises(StoreError, match="corrupt"), TinyStore(data_dir).write() as view:
        view.patients.put(Patient(id="pat-009", name="Ada Lovelace"))
    assert fingerprint(data_dir) == before


def _checks_of_files(store: TinyStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The segment files `store`'s manifest checks look at from now on (by name)."""
    checked: list[str] = []
    real_stat = os.stat
    folder = f"{store.engine.segments_dir}{os.sep}"

    def counting_stat(path: object, *args: object, **kwargs: object) -> os.stat_result:
        if isinstance(path, str) and path.startswith(folder):
            checked.append(path[len(folder):])
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", counting_stat)
    return checked


def test_a_write_checks_only_the_files_it_builds_on(clinic: Desk, data_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Files never change once written: a running process's write looks again only at the files
    of the segments it reads or replaces, not at every file it has seen, so a write costs the
    same in a store with years of history (thousands of segments)."""
    store = TinyStore(data_dir)
    store.read().patients.all()
    checked = _checks_of_files(store, monkeypatch)
    real_monotonic = time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: real_monotonic() + 3600.0)  # an hour later
    for n in range(3):
        before = json.loads((data_dir / "rxdesk.json").read_text())["segments"]
        checked.clear()
        with store.write() as view:
            view.patients.put(Patient(id=f"pat-09{n}", name="Ada Lovelace"))
        after = json.loads((data_dir / "rxdesk.json").read_text())["segments"]
        replaced = {ref["file"] for name, ref in before.items() if after[name]["file"] != ref["file"]}
        assert replaced and replaced <= set(checked) <= {ref["file"] for ref in before.values()}
        assert len(set(checked)) <= len(replaced) + 2 < len(before)
    assert TinyStore(data_dir).read().patients.require("pat-092").name == "Ada Lovelace"


def test_a_running_process_writes_nothing_over_a_file_damaged_since_it_read_it(
        clinic: Desk, data_dir: Path) -> None:
    """A segment parsed before its file was damaged, then changed: the write is refused with the
    file named, nothing written (the process's copy is sound, but the store on disk is not)."""
    store = TinyStore(data_dir)
    store.read().patients.all()  # the shards parsed and kept
    manifest = json.loads((data_dir / "rxdesk.json").read_text())
    shard = data_dir / "segments" / manifest["segments"][patient_segment("pat-001")]["file"]
    shard.write_bytes(os.urandom(500))
    before = fingerprint(data_dir)
    with pytest.raises(StoreError, match=f"{shard.name} is corrupt"), store.write() as view:
        view.patients.put(Patient(id="pat-001", name="Ada Lovelace"))
    assert fingerprint(data_dir) == before


def test_a_manifest_another_process_wrote_is_checked_for_its_new_files(clinic: Desk, data_dir: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process's commit: the files it added are checked (a damaged one stops the write,
    nothing written), those this process checked before are not looked at again."""
    store = TinyStore(data_dir)
    store.read().patients.all()
    with TinyStore(data_dir).write() as other:
        other.patients.put(Patient(id="pat-009", name="Ada Lovelace"))
    manifest = json.loads((data_dir / "rxdesk.json").read_text())
    new_files = {ref["file"] for ref in manifest["segments"].values() if ".%08d." % manifest["generation"] in ref["file"]}
    assert new_files
    checked = _checks_of_files(store, monkeypatch)
    with store.write() as view:
        view.patients.put(Patient(id="pat-010", name="Grace Hopper"))
    assert set(checked) == new_files
    with TinyStore(data_dir).write() as other:
        other.patients.put(Patient(id="pat-011", name="Alan Turing"))
    manifest = json.loads((data_dir / "rxdesk.json").read_text())
    _cut_in_half(data_dir / "segments" / manifest["segments"][patient_segment("pat-011")]["file"])
    before = fingerprint(data_dir)
    with pytest.raises(StoreError, match="corrupt"), store.write() as view:
        view.patients.put(Patient(id="pat-012", name="Edsger Dijkstra"))
    assert fingerprint(data_dir) == before


def test_a_write_parses_no_manifest_it_knows(clinic: Desk, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The manifest read again under the write lock, unchanged, is the one already parsed (it
    names every segment of the history)."""
    store = TinyStore(data_dir)
    store.read().patients.all()
    parsed: list[Path] = []
    real_parse = Manifest.from_bytes

    def parse(raw: bytes, path: Path) -> Manifest:
        parsed.append(path)
        return real_parse(raw, path)

    monkeypatch.setattr(Manifest, "from_bytes", staticmethod(parse))
    with store.write() as view:
        view.patients.put(Patient(id="pat-009", name="Ada Lovelace"))
    assert parsed == []
    assert TinyStore(data_dir).read().patients.require("pat-009").name == "Ada Lovelace"
