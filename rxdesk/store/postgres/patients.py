"""Patients on PostgreSQL: records, names, and the one search rule as SQL."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from psycopg import sql

from rxdesk.domain.errors import found
from rxdesk.domain.queries import PHONE_DIGITS_MIN, Page, search_terms
from rxdesk.store.postgres import rows as conv
from rxdesk.store.postgres.repos import can_name_a_row, for_share, text, upsert
from rxdesk.store.postgres.rows import PATIENT_COLUMNS
from rxdesk.store.postgres.session import Session

if TYPE_CHECKING:  # the model is imported where a row is made one: a listing reads only names
    from rxdesk.domain.models import Patient

# Beyond this many, a listing's patients are read with every other: the server looks each id up
# at several times the cost of reading a name in a scan of the table.
FEW_NAMES = 1000
_SELECT = text(sql.SQL("SELECT {} FROM patients").format(sql.SQL(", ").join(map(sql.Identifier, PATIENT_COLUMNS))))
_SEP = "\x1f"


def patient_search_text(p: Patient) -> str:
    """What `search` looks in: the casefolded name, email, external id and id, and the phone."""
    return _SEP.join([p.name.casefold(), p.email.casefold(), p.external_id.casefold(), p.id.casefold(), p.phone])


def patient_row(p: Patient) -> list[Any]:
    return [*conv.params(p, PATIENT_COLUMNS), p.name.casefold(), patient_search_text(p),]


# Names asked for one at a time (a dialog's appointment, a few attention items) before every
# name is read at once instead.
FEW_LOOKUPS = 16
# The names of a set of patients as one JSON object: parsed by the driver's JSON loader in one
# call, instead of a row each.
_NAMES = "SELECT coalesce(json_object_agg(id, name), '{}') FROM patients"


class _Names(Mapping[str, str]):
    """Patients' names: those of `wanted` (a listing's page) read at once; without one, each
    name read as it is asked for, and every one once several were, or beyond `wanted`."""

    def __init__(self, session: Session, wanted: set[str] | None) -> None:
        self._s = session
        self._asked: set[str] = set()  # read, whether or not a patient had that id
        self._lookups = 0
        self._every = False
        self._known: dict[str, str] = {}
        asked = {k for k in wanted or () if can_name_a_row(k)}
        if len(asked) > FEW_NAMES:
            self._read_every()
        elif asked:
            self._read(asked)

    def _read(self, keys: set[str]) -> None:
        self._known.update(self._s.value(_NAMES + " WHERE id = ANY(%s)", (sorted(keys),)))
        self._asked |= keys

    def _read_every(self) -> None:
        if not self._every:
            self._known = dict(self._s.value(_NAMES))
            self._every = True

    def __getitem__(self, key: str) -> str:
        if key not in self._known and key not in self._asked and not self._every and can_name_a_row(key):
            if self._lookups < FEW_LOOKUPS:
                self._lookups += 1
                self._read({key})
            else:
                self._read_every()
        return self._known[key]

    def __iter__(self) -> Iterator[str]:
        self._read_every()
        return iter(self._known)

    def __len__(self) -> int:
        self._read_every()
        return len(self._known)


class PatientRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    _select = sql.SQL(_SELECT)

    def _patient(self, row: dict[str, Any]) -> Patient:
        from rxdesk.domain.models import Patient

        return Patient.from_stored(conv.pick(PATIENT_COLUMNS, row))

    def get(self, key: str) -> Patient | None:
        if not can_name_a_row(key):
            return None
        s = self._s
        if s.writable and key in s.likely_patients and not s.holds("patients", key):
            self._lock_likely()
        return s.locked_row("patients", key, self._fetch)

    def _lock_likely(self) -> None:
        """The patients this unit of work is about to read (`Session.likely_patients`),
        read and locked in one statement."""
        s = self._s
        wanted = sorted(k for k in s.likely_patients if can_name_a_row(k) and not s.holds("patients", k))
        s.likely_patients.clear()
        found = {r["id"]: self._patient(r) for r in s.dicts(_SELECT + " WHERE id = ANY(%s) FOR SHARE", (wanted,))}
        for key in wanted:
            s.remember("patients", key, found.get(key))

    def _fetch(self, key: str) -> Patient | None:
        found = self._s.dicts(_SELECT + " WHERE id = %s" + for_share(self._s), (key,))
        return self._patient(found[0]) if found else None

    def require(self, key: str) -> Patient:
        return found(self.get(key), "patient", key)

    def all(self) -> list[Patient]:
        return [self._patient(r) for r in self._s.dicts(self._select + sql.SQL(' ORDER BY id COLLATE "C"'))]

    def count(self) -> int:
        return int(self._s.value("SELECT count(*) FROM patients"))

    def put(self, item: Patient) -> None:
        self.put_many([item])

    def put_many(self, items: list[Patient]) -> None:
        self._s.require_writable()
        query = upsert("patients", [*PATIENT_COLUMNS, "name_key", "search_text"], "id")
        self._s.many(query, [patient_row(p) for p in items])
        for patient in items:
            self._s.remember("patients", patient.id, patient)

    def delete(self, key: str) -> None:
        self._s.require_writable()
        self._s.execute("DELETE FROM patients WHERE id = %s", (key,))
        self._s.remember("patients", key, None)

    def names(self) -> Mapping[str, str]:
        """id -> name of every patient. After a listing of a page in this view, the names of
        its patients are read at once and the rest only if asked for: a page of a clinic of
        120,000 patients does not read them all."""
        return _Names(self._s, self._s.listed_patients)

    def names_of(self, ids: Collection[str]) -> Mapping[str, str]:
        return _Names(self._s, set(ids))

    def search(self, text: str, *, offset: int = 0, limit: int | None = None) -> Page[Patient]:
        """Patients whose name, email, phone, external id or id contains `text` (any case;
        phone matched on its digits too), ordered by name."""
        needle, digits = search_terms(text)  # the rule is `queries.patient_matches`, stated here in SQL
        where: sql.Composable = sql.SQL("")
        args: list[Any] = []
        if needle:
            if _SEP in needle or not can_name_a_row(needle):
                return Page([], 0, offset, limit)
            where = sql.SQL(" WHERE strpos(search_text, %s) > 0")
            args.append(needle)
            if len(digits) >= PHONE_DIGITS_MIN:
                where += sql.SQL(" OR strpos(regexp_replace(phone, '[^0-9]', '', 'g'), %s) > 0")
                args.append(digits)
        total = int(self._s.value(sql.SQL("SELECT count(*) FROM patients") + where, args))
        query = self._select + where + sql.SQL(' ORDER BY name_key COLLATE "C", id COLLATE "C" OFFSET %s')
        page_args = [*args, max(0, offset)]
        if limit is not None:
            query += sql.SQL(" LIMIT %s")
            page_args.append(max(0, limit))
        items = [self._patient(r) for r in self._s.dicts(query, page_args)]
        return Page(items, total, offset, limit)

    def external_ids(self) -> Mapping[str, str]:
        """id -> external_id of every patient ("" for none)."""
        return MappingProxyType(dict(self._s.rows("SELECT id, external_id FROM patients")))

    def by_external_id(self, external_id: str) -> Patient | None:
        if not external_id or not can_name_a_row(external_id):
            return None
        found = self._s.dicts(_SELECT + " WHERE external_id = %s", (external_id,))
        return self._patient(found[0]) if found else None
