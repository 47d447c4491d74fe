"""Patients: the searchable list and the detail with that patient's appointments."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rxdesk.domain.lifecycle import ACTIVE
from rxdesk.domain.models import Patient
from rxdesk.domain.queries import AppointmentQuery, Page
from rxdesk.services.appointments import AppointmentRow, rows
from rxdesk.services.base import Service
from rxdesk.services.matching import SHOWN, Matches, match_patients

# What the patient's page counts, in the order it says them.
TALLY = ("upcoming", "completed", "no_show", "cancelled", "expired")


@dataclass
class PatientDetail:
    patient: Patient
    upcoming: Page[AppointmentRow]
    history: Page[AppointmentRow]
    # Over every appointment of the patient, as of now: "upcoming" is held or confirmed (not
    # ended), the rest by status.
    counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = self.patient.to_json()
        data["upcoming"] = [r.to_json() for r in self.upcoming.items]
        data["history"] = [r.to_json() for r in self.history.items]
        data["counts"] = {key: self.counts.get(key, 0) for key in TALLY}
        return data


def tally(counts: dict[str, int]) -> str:
    """`2 upcoming · 5 completed · 1 no-show · 1 cancelled` (expired holds only when any)."""
    parts = [f"{counts.get('upcoming', 0)} upcoming", f"{counts.get('completed', 0)} completed",
             f"{counts.get('no_show', 0)} no-show{'s' if counts.get('no_show', 0) != 1 else ''}",
             f"{counts.get('cancelled', 0)} cancelled"]
    if counts.get("expired"):
        parts.append(f"{counts['expired']} expired hold{'s' if counts['expired'] != 1 else ''}")
    return " · ".join(parts)


class PatientService(Service):
    def list_patients(self, search: str = "", *, offset: int = 0, limit: int | None = None) -> Page[Patient]:
        """Patients whose name, email, phone or external id contains `search`, by name."""
        with self.store.read() as view:
            return view.patients.search(search, offset=offset, limit=limit)

    def match(self, text: str, *, limit: int = SHOWN) -> Matches:
        """The patients `text` names: an exact id or external id, an exact name, else every
        patient whose name, id, email, phone or external id contains it (the first `limit`
        by name, and how many in all). `Matches.one` is the patient when exactly one does."""
        with self.store.read() as view:
            return match_patients(view, text, limit=limit)

    def get(self, patient_id: str) -> Patient:
        with self.store.read() as view:
            return view.patients.require(patient_id)

    def show(self, patient_id: str, *, history_limit: int = 50) -> PatientDetail:
        """The patient, every appointment from now on, the most recent past ones, and how many
        are upcoming, completed, missed (no_show), cancelled and expired, all as of now."""
        now = self.now()
        with self.store.read() as view:
            patient = view.patients.require(patient_id)
            page = view.appointments.search(AppointmentQuery(patient_id=patient.id, count=False))
            every = rows(view, page.items, now)
        counts = Counter("upcoming" if r.status in ACTIVE else r.status.value for r in every)
        upcoming = [r for r in every if r.starts_at >= now]
        history = [r for r in reversed(every) if r.starts_at < now][:history_limit]
        return PatientDetail(
            patient,
            Page(upcoming, len(upcoming)),
            Page(history, None, 0, history_limit),
            dict(counts),
        )
