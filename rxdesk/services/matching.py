"""Who an agent means by what they typed: a doctor or a patient named by id, name, email or
phone, the way the app's filters and the command line's `--doctor` / `--patient` take them.

In order: an exact id (for patients also an exact external id), then an exact name, then every
doctor or patient whose name, id, email or phone contains the text (a phone also by its
digits, so `0151 1122` finds `+4915111223344`). Exactly one is a match; none or several is not,
and the answer lists the candidates so that the agent (or the app's pick list) can choose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rxdesk.domain.queries import person_matches, search_terms
from rxdesk.store.protocols import StoreView

if TYPE_CHECKING:
    from rxdesk.domain.models import Doctor, Patient

# How many candidates a refusal names before it says how many more there are.
SHOWN = 10


@dataclass(frozen=True)
class Candidate:
    """A doctor or patient as a pick list shows them."""

    id: str
    name: str
    email: str
    phone: str = ""  # a patient's, for telling two of one name apart (shown masked)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email}

    def text(self) -> str:
        return f"{self.name} ({self.id}, {self.email or 'no email'})"


@dataclass(frozen=True)
class Matches:
    """What some typed text names: `candidates` (the first ones by name) of `total`."""

    what: str  # "doctor" or "patient"
    text: str  # as typed, trimmed
    candidates: tuple[Candidate, ...]
    total: int

    @property
    def one(self) -> Candidate | None:
        """The doctor or patient meant, when exactly one matches."""
        return self.candidates[0] if self.total == 1 else None

    def _quoted(self) -> str:
        return repr(self.text[:40])

    def refusal(self) -> str | None:
        """None when exactly one matches; else one line saying so, naming the candidates
        (name, id, email) so the agent can pick one by id."""
        if self.total == 1:
            return None
        if self.total == 0:
            return f"no {self.what} matches {self._quoted()}"
        shown = ", ".join(c.text() for c in self.candidates[:SHOWN])
        more = f", and {self.total - SHOWN:,} more" if self.total > SHOWN else ""
        return (f"{self.total:,} {self.what}s match {self._quoted()}: {shown}{more}; "
                f"name one by its id")

    def summary(self) -> str | None:
        """`refusal` made short for a filter field: a few names, then what to do."""
        if self.total == 1:
            return None
        if self.total == 0:
            return f"no {self.what} matches {self._quoted()}"
        names = ", ".join(c.name for c in self.candidates[:3])
        more = "…" if self.total > 3 else ""
        return f"{self.total:,} {self.what}s match {self._quoted()} ({names}{more}): type more"


def _folded(text: str) -> str:
    return search_terms(text)[0]


def _doctor(d: Doctor) -> Candidate:
    return Candidate(d.id, d.name, d.email)


def _patient(p: Patient) -> Candidate:
    return Candidate(p.id, p.name, p.email, p.phone)


def _found(what: str, text: str, found: Sequence[Candidate], total: int | None = None) -> Matches:
    return Matches(what, text, tuple(found), len(found) if total is None else total)


def match_doctors(view: StoreView, text: str, *, limit: int = SHOWN) -> Matches:
    """The doctors `text` names (see the module's docstring), by name."""
    typed = text.strip()
    if not typed:
        return _found("doctor", typed, [])
    doctors = sorted(view.doctors.all(), key=lambda d: (d.name.casefold(), d.id))
    needle, digits = search_terms(typed)
    exact = [d for d in doctors if d.id.casefold() == needle] or [d for d in doctors if _folded(d.name) == needle]
    if exact:
        return _found("doctor", typed, [_doctor(d) for d in exact[:limit]], len(exact))
    hits = [d for d in doctors if person_matches(needle, digits, d.name, d.email, "", d.id, d.mobile_phone)]
    return _found("doctor", typed, [_doctor(d) for d in hits[:limit]], len(hits))


def match_patients(view: StoreView, text: str, *, limit: int = SHOWN) -> Matches:
    """The patients `text` names (see the module's docstring), by name."""
    typed = text.strip()
    if not typed:
        return _found("patient", typed, [])
    patient = view.patients.get(typed) or view.patients.by_external_id(typed)
    if patient is not None:
        return _found("patient", typed, [_patient(patient)])
    needle = _folded(typed)
    same_name = sorted(pid for pid, name in view.patients.names().items() if _folded(name) == needle)
    if same_name:
        found = [p for pid in same_name[:limit] if (p := view.patients.get(pid)) is not None]
        return _found("patient", typed, [_patient(p) for p in found], len(same_name))
    page = view.patients.search(typed, limit=limit)
    total = page.total if page.total is not None else len(page.items)
    return _found("patient", typed, [_patient(p) for p in page.items], total)


def masked_phone(phone: str) -> str:
    """A phone number as a pick list shows it: its last four digits only (`••• 0101`)."""
    digits = "".join(ch for ch in phone if ch in "0123456789")
    return f"••• {digits[-4:]}" if len(digits) >= 4 else ""


def every_patient(view: StoreView, text: str, *, limit: int) -> list[str] | None:
    """The ids of every patient `text` names, by the rules of `match_patients` (an exact id or
    external id, else an exact name, else every patient whose name, id, email or phone contains
    it); None when more than `limit` do."""
    typed = text.strip()
    if not typed:
        return []
    patient = view.patients.get(typed) or view.patients.by_external_id(typed)
    if patient is not None:
        return [patient.id]
    needle = _folded(typed)
    ids = sorted(pid for pid, name in view.patients.names().items() if _folded(name) == needle)
    if not ids:
        ids = [p.id for p in view.patients.search(typed, limit=limit + 1).items]
    return ids if len(ids) <= limit else None
