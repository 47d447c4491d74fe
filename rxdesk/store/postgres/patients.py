"""Patients on PostgreSQL: records, names, and the one search rule as SQL."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from psycopg import sql

from rxdesk.domain.errors import found
from rxdesk.domain.models import (
    Patient,
)
from rxdesk.domain.queries import PHONE_DIGITS_MIN, Page, search_terms
from rxdesk.store.postgres import rows as conv
from rxdesk.store.postgres.repos import can_name_a_row, for_share, upsert
from rxdesk.store.postgres.session import Session

PATIENT_COLUMNS = conv.fields(Patient)
_SEP = "\x1f"


def patient_search_text(p: Patient) -> str:
    """What `search` looks in: the casefolded name, email, external id and id, and the phone."""
    return _SEP.join([p.name.casefold(), p.email.casefold(), p.external_id.casefold(), p.id.casefold(), p.phone])


def patient_row(p: Patient) -> list[Any]:
    return [*conv.params(p, PATIENT_COLUMNS), p.name.casefold(), patient_search_text(p),]


class PatientRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    _select = sql.SQL("SELECT {} FROM patients").format(sql.SQL(", ").join(map(sql.Identifier, PATIENT_COLUMNS)))

    def _patient(self, row: dict[str, Any]) -> Patient:
        return Patient.from_stored(conv.pick(Patient, row))

    def get(self, key: str) -> Patient | None:
        if not can_name_a_row(key):
            return None
        return self._s.locked_row("patients", key, self._fetch)

    def _fetch(self, key: str) -> Patient | None:
        found = self._s.dicts(self._select + sql.SQL(" WHERE id = %s") + for_share(self._s), (key,))
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
        return MappingProxyType(dict(self._s.rows("SELECT id, name FROM patients")))

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
        found = self._s.dicts(self._select + sql.SQL(" WHERE external_id = %s"), (external_id,))
        return self._patient(found[0]) if found else None
