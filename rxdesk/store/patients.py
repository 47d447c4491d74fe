"""The patients of the segment store: their records in shards by id, and the id -> name index
every listing reads.

A clinic of 120,000 patients is 17 MB of JSON. Kept in one segment, reading one patient (an
appointment's page, a reminder's recipient, what needs attention) parsed all of it: ~70 MB
held and several times that while parsing. The records are split into `PATIENT_SHARDS`
segments by a checksum of the id (`layout.patient_segment`), so one patient reads one shard;
what needs every patient (a search by name, the external ids) reads them all, once per state
of the shards. An older data dir keeps its one `patients` segment and is read as it is.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from rxdesk.domain.errors import found
from rxdesk.domain.queries import Page, person_matches, search_terms
from rxdesk.store.engine import Snapshot, writable
from rxdesk.store.layout import PATIENT_NAMES, PATIENT_SHARD_PREFIX, PATIENTS, patient_segment
from rxdesk.store.manifest import NAMES_AS_LINES
from rxdesk.store.name_lines import Changing, as_mapping, pick

if TYPE_CHECKING:  # names are read from the index; a patient is made when one is read
    from rxdesk.domain.models import Patient

TABLE = "patients"
# The names index (layout): one document, the text of every id and name as sorted lines
# (`name_lines`); in an older data dir, two lists, ids and their names in step, or a table.
COMPACT_NAMES = "compact"
LINES = "lines"
BY_ID = "by_id"
# A listing asking for more names than one per this many bytes of the index's text (one in ~40
# of its lines) has them from the whole mapping: bisecting for each would cost more.
BISECTED_PER_BYTES = 1024
BISECTED_ALWAYS = 256  # names of a page or two, whatever the index's size


def _lines(compact: Mapping[str, Any]) -> str | None:
    """The index's text of lines, when it is kept as one."""
    doc = compact.get(LINES)
    text = doc.get("text") if isinstance(doc, dict) else None
    return text if isinstance(text, str) else None


def _patient(doc: Mapping[str, Any]) -> Patient:
    """A patient as stored (`Entity.from_stored`)."""
    from rxdesk.domain.models import Patient

    return Patient.from_stored(doc)


class NameView(Mapping[str, str]):
    """id -> name over a table of `{"name": ...}` records, read in place (read-only)."""

    __slots__ = ("_table",)

    def __init__(self, table: Mapping[str, Mapping[str, Any]]) -> None:
        self._table = table

    def __getitem__(self, key: str) -> str:
        name: str = self._table[key]["name"]
        return name

    def get(self, key: str, default: Any = None) -> Any:
        # One lookup, not Mapping.get's call of __getitem__: a listing asks once per row.
        found = self._table.get(key)
        return default if found is None else found["name"]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


class PatientRepo:
    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap

    def _whole(self) -> bool:
        """An older data dir: every record in the one `patients` segment."""
        return self._snap.has(PATIENTS)

    def _home(self, key: str) -> str:
        return PATIENTS if self._whole() else patient_segment(key)

    def _homes(self) -> list[str]:
        return [PATIENTS] if self._whole() else self._snap.names(PATIENT_SHARD_PREFIX)

    def _every(self, what: str, build: Callable[[list[Mapping[str, Any]]], Any]) -> Any:
        """`build(tables)` over every record table, once per state of them."""
        homes = self._homes()
        return self._snap.derived(what, homes, lambda: build(
            [self._snap.table(home, TABLE).documents() for home in homes]))

    def get(self, key: str) -> Patient | None:
        if not isinstance(key, str):
            return None
        doc = self._snap.table(self._home(key), TABLE).document(key)
        return _patient(doc) if doc is not None else None

    def require(self, key: str) -> Patient:
        return found(self.get(key), "patient", key)

    def all(self) -> list[Patient]:
        docs = sorted((doc for home in self._homes() for doc in self._snap.table(home, TABLE).all()),
                      key=lambda doc: str(doc.doc_id))
        return [_patient(doc) for doc in docs]

    def count(self) -> int:
        return sum(len(self._snap.table(home, TABLE)) for home in self._homes())

    def put(self, item: Patient) -> None:
        writable(self._snap).change(self._home(item.id), TABLE).put(item.id, item.to_json())
        self.index_names({item.id: item.name})

    def put_many(self, patients: Sequence[Patient]) -> None:
        """`put` of many patients: one change of each shard and of the names."""
        homes: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for patient in patients:
            homes.setdefault(self._home(patient.id), []).append((patient.id, patient.to_json()))
        tx = writable(self._snap)
        for home, docs in homes.items():
            tx.change(home, TABLE).put_many(docs)
        self.index_names({p.id: p.name for p in patients})

    def delete(self, key: str) -> None:
        writable(self._snap).change(self._home(key), TABLE).delete(key)
        self._write_names({key: None})

    # -- names ---------------------------------------------------------------------------

    def names(self) -> Mapping[str, str]:
        index = self._snap.segment(PATIENT_NAMES)
        if index is None:
            return MappingProxyType({})

        def build() -> Mapping[str, str]:
            compact = index.table(COMPACT_NAMES).documents()
            text = _lines(compact)
            if text is not None:
                return MappingProxyType(as_mapping(text))
            lists = compact.get(BY_ID)
            if lists is not None:
                return MappingProxyType(dict(zip(lists["ids"], lists["names"], strict=True)))
            # An older data dir's index, read through (a copy of 120,000 names cost ~60 ms).
            return NameView(index.table("names").documents())

        return index.memo("names", build)

    def names_of(self, ids: Collection[str]) -> Mapping[str, str]:
        """The names of these patients, in a mapping that may hold others': the whole index once
        it is built, else these alone, looked up in its stored form (a listing's first rows
        need not wait for a mapping of 120,000 names)."""
        index = self._snap.segment(PATIENT_NAMES)
        if index is None:
            return MappingProxyType({})
        built: Mapping[str, str] | None = index.memoized("names")
        if built is not None:
            return built
        compact = index.table(COMPACT_NAMES).documents()
        text = _lines(compact)
        if text is not None:
            if len(ids) > max(BISECTED_ALWAYS, len(text) // BISECTED_PER_BYTES):
                return self.names()  # the whole mapping (~0.2 µs a name) for more than a bisect (~5 µs) would do
            # What listings looked up in this state of the index is kept: the app lists the
            # same patients again at each reload (misses too, so unknown ids are not bisected again).
            picked: dict[str, str] = index.memo("picked", dict)
            absent: set[str] = index.memo("absent", set)
            missing = [key for key in ids if key not in picked and key not in absent]
            if missing:
                found = pick(text, missing)
                picked.update(found)
                absent.update(key for key in missing if key not in found)
            return MappingProxyType(picked)
        lists = compact.get(BY_ID)
        if lists is None or len(lists["ids"]) != len(lists["names"]):
            return self.names()  # (refused there, as every read of the index)
        every, names = lists["ids"], lists["names"]
        wanted = set(ids)
        return dict(itertools.compress(zip(every, names, strict=True), map(wanted.__contains__, every)))

    def warm(self) -> None:
        """Make a listing's names quick to find: an index in an older form is read into the whole
        mapping (a text of lines is bisected as it is; its mapping costs ~25 ms at 120,000)."""
        index = self._snap.segment(PATIENT_NAMES)
        if index is not None and _lines(index.table(COMPACT_NAMES).documents()) is None:
            self.names()

    def index_names(self, names: Mapping[str, str]) -> None:
        """Keep the id -> name index in step with the patient records."""
        self._write_names(names)

    def _write_names(self, names: Mapping[str, str | None]) -> None:
        """Set these names (None: remove the id) in the index this unit of work keeps and, when
        that changed it, write it whole: as lines, else (a name that cannot be a line) as two
        lists. An older index's other forms are emptied."""
        tx = writable(self._snap)

        def changing() -> Changing:
            index = self._snap.segment(PATIENT_NAMES)
            return Changing(_lines(index.table(COMPACT_NAMES).documents()) if index is not None else None,
                            self.names)

        kept = tx.kept(PATIENT_NAMES, changing)
        if not kept.change(names):
            return
        text = kept.lines()
        compact = tx.change(PATIENT_NAMES, COMPACT_NAMES)
        if text is not None:
            compact.put(LINES, {"text": text})
            compact.delete(BY_ID)
        else:
            known = kept.mapping()
            compact.put(BY_ID, {"ids": list(known), "names": list(known.values())})
            compact.delete(LINES)
        tx.set_counter(NAMES_AS_LINES, int(text is not None))
        old = tx.table(PATIENT_NAMES, "names")
        if len(old):
            tx.change(PATIENT_NAMES, "names").truncate()

    # -- what reads every patient ----------------------------------------------------------

    def search(self, text: str, *, offset: int = 0, limit: int | None = None) -> Page[Patient]:
        """Patients whose name, email, phone, external id or id contains `text` (any case;
        phone matched on its digits too), ordered by name."""
        needle, digits = search_terms(text)

        def build(tables: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
            rows = [row for table in tables for row in table.values()]
            rows.sort(key=lambda r: (r["name"].casefold(), r["id"]))
            return rows

        rows: list[Mapping[str, Any]] = self._every("sorted", build)
        if needle:
            rows = [r for r in rows if person_matches(needle, digits, r["name"], r["email"], r["external_id"],
                                                       r["id"], r["phone"])]
        end = None if limit is None else offset + limit
        items = [_patient(r) for r in rows[offset:end]]
        return Page(items, len(rows), offset, limit)

    def external_ids(self) -> Mapping[str, str]:
        ids: Mapping[str, str] = self._every("external_ids", lambda tables: MappingProxyType(
            {k: r.get("external_id", "") for table in tables for k, r in table.items()}))
        return ids

    def by_external_id(self, external_id: str) -> Patient | None:
        if not external_id:
            return None
        index: Mapping[str, str] = self._every("by_external_id", lambda tables: {
            r["external_id"]: k for table in tables for k, r in table.items() if r["external_id"]})
        key = index.get(external_id)
        return self.get(key) if key is not None else None
