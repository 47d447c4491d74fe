"""The patients' names index as one text of sorted lines: every lookup, change and read of it
agrees with a plain mapping, a listing's names are found without the whole mapping, and a name
that cannot be a line keeps the index in its older form."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from rxdesk.domain.models import Patient
from rxdesk.store import TinyStore
from rxdesk.store.name_lines import SPLICED_AT_MOST, Changing, as_mapping, lines_of, pick, spliced
from rxdesk.store.segment_db import open_segment


def some_id(rng: random.Random) -> str:
    return "".join(rng.choice("ab09-:.") for _ in range(rng.randint(1, 4)))


def test_lookups_and_changes_of_the_text_agree_with_a_mapping() -> None:
    rng = random.Random(11)
    for _ in range(400):
        known = {some_id(rng): f"Name {rng.randint(0, 99)}" for _ in range(rng.randint(0, 30))}
        text = lines_of(known.items())
        assert text is not None and as_mapping(text) == known
        asked = {some_id(rng) for _ in range(6)} | set(rng.sample(sorted(known), min(3, len(known))))
        assert pick(text, asked) == {key: known[key] for key in asked if key in known}
        changes = {some_id(rng): None if rng.random() < 0.3 else f"New {rng.randint(0, 9)}" for _ in range(5)}
        expected = {**known, **{key: name for key, name in changes.items() if name is not None}}
        for key in [key for key, name in changes.items() if name is None]:
            expected.pop(key, None)
        assert spliced(text, changes) == lines_of(expected.items())


@pytest.mark.parametrize("name", ["Tab\there", "New\nline"])
def test_a_name_that_cannot_be_a_line_is_refused_by_the_text(name: str) -> None:
    assert lines_of([("pat-1", name)]) is None
    assert lines_of([(name, "An id")]) is None
    assert spliced("pat-0\tZero\n", {"pat-1": name}) is None


def test_a_unit_of_work_splices_its_own_lines_and_takes_the_whole_mapping_for_many() -> None:
    text = lines_of((f"pat-{i:04d}", f"Name {i}") for i in range(1000))
    assert text is not None
    changing = Changing(text, lambda: pytest.fail("the whole mapping is not read for a few names"))
    assert changing.change({"pat-0001": "Renamed", "pat-5000": "New"})
    assert not changing.change({"pat-0001": "Renamed", "pat-0002": "Name 2"})  # as it is already
    assert changing.change({"pat-0003": None})
    expected = {**as_mapping(text), "pat-0001": "Renamed", "pat-5000": "New"}
    del expected["pat-0003"]
    assert as_mapping(changing.lines() or "") == expected
    assert changing.change({f"bulk-{i}": "Bulk" for i in range(SPLICED_AT_MOST)})  # past the splice
    expected.update({f"bulk-{i}": "Bulk" for i in range(SPLICED_AT_MOST)})
    assert changing.mapping() == expected and as_mapping(changing.lines() or "") == expected


def names_file(data_dir: Path) -> dict[str, object]:
    manifest = json.loads((data_dir / "rxdesk.json").read_bytes())
    db = open_segment(data_dir / "segments" / manifest["segments"]["patient-names"]["file"])
    return {"format": manifest["format"], **db.table("compact").documents()}


def test_a_listings_names_are_found_in_the_text_without_the_whole_mapping(data_dir: Path) -> None:
    store = TinyStore(data_dir, fsync=False)
    with store.write() as view:
        view.bulk.add_patients([Patient(id=f"pat-{i:05d}", name=f"Patient {i}") for i in range(3000)])
    fresh = TinyStore(data_dir).read()
    assert fresh.patients.names_of(["pat-00042", "pat-02999", "pat-nobody"]) == {
        "pat-00042": "Patient 42", "pat-02999": "Patient 2999"}
    index = fresh.snap.segment("patient-names")
    assert index is not None and index.memoized("names") is None  # not built for three names
    every = [f"pat-{i:05d}" for i in range(0, 3000, 3)]  # a listing of every row: no bisect for each
    found = fresh.patients.names_of(every)
    assert index.memoized("names") is found and all(found[key] == f"Patient {int(key[4:])}" for key in every)


def test_a_stored_name_that_cannot_be_a_line_keeps_the_index_as_two_lists(data_dir: Path) -> None:
    store = TinyStore(data_dir, fsync=False)
    with store.write() as view:
        view.patients.put(Patient(id="pat-a", name="Ann"))
    assert names_file(data_dir)["format"] == "rxdesk-store/3"
    with store.write() as view:  # a name an older version accepted, as it is stored
        view.patients.index_names({"pat-b": "Bo\tTab"})
    found = names_file(data_dir)
    assert found["by_id"] == {"ids": ["pat-a", "pat-b"], "names": ["Ann", "Bo\tTab"]} and "lines" not in found
    assert found["format"] == "rxdesk-store/1"  # no delta, no lines: older versions read it
    assert dict(TinyStore(data_dir).read().patients.names()) == {"pat-a": "Ann", "pat-b": "Bo\tTab"}
    assert TinyStore(data_dir).read().patients.names_of(["pat-b"])["pat-b"] == "Bo\tTab"
    with store.write() as view:  # renamed: lines again
        view.patients.index_names({"pat-b": "Bo Tab"})
    found = names_file(data_dir)
    assert found["lines"] == {"text": "pat-a\tAnn\npat-b\tBo Tab\n"} and "by_id" not in found
    assert found["format"] == "rxdesk-store/3"


def names_found(store: TinyStore, ids: list[str]) -> dict[str, str | None]:
    """What a listing of these patients shows (`names_of` may hold others' names too)."""
    found = store.read().patients.names_of(ids)
    return {key: found.get(key) for key in ids}


def test_a_long_running_process_sees_each_rename_another_process_commits(data_dir: Path) -> None:
    # A listing's names are kept per state of the index: the app lists again after another
    # process's write and must show the new name, and then its own, never the one it picked before.
    app = TinyStore(data_dir, fsync=False)
    with app.write() as view:
        view.bulk.add_patients([Patient(id=f"pat-{i}", name=f"Patient {i}") for i in (1, 10, 2)])
    with app.write() as view:
        view.patients.put(Patient(id="pat-1a", name="pat-10"))  # spliced between pat-1 and pat-10
    assert names_found(app, ["pat-1", "pat-10", "pat-1a", "pat-3"]) == {
        "pat-1": "Patient 1", "pat-10": "Patient 10", "pat-1a": "pat-10", "pat-3": None}
    other = TinyStore(data_dir, fsync=False)
    with other.write() as view:
        view.patients.put(Patient(id="pat-10", name="Zoë O'Brien"))
        view.patients.put(Patient(id="pat-3", name="Late Comer"))
    assert names_found(app, ["pat-10", "pat-3"]) == {"pat-10": "Zoë O'Brien", "pat-3": "Late Comer"}
    with app.write() as view:
        view.patients.put(Patient(id="pat-1", name="Renamed Here"))
    assert names_found(app, ["pat-1", "pat-10", "pat-1a", "pat-3"]) == {
        "pat-1": "Renamed Here", "pat-10": "Zoë O'Brien", "pat-1a": "pat-10", "pat-3": "Late Comer"}
    assert names_file(data_dir)["lines"] == {"text": "pat-1\tRenamed Here\npat-10\tZoë O'Brien\npat-1a\tpat-10\n"
                                                     "pat-2\tPatient 2\npat-3\tLate Comer\n"}
