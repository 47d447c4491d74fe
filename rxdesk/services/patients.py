"""Patients: the searchable list and the detail with that patient's appointments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rxdesk.domain.models import Patient
from rxdesk.domain.queries import AppointmentQuery, Page
from rxdesk.services.appointments import AppointmentRow, rows
from rxdesk.services.base import Service


@dataclass
class PatientDetail:
    patient: Patient
    upcoming: Page[AppointmentRow]
    history: Page[AppointmentRow]

    def to_json(self) -> dict[str, Any]:
        data = self.patient.to_json()
        data["upcoming"] = [r.to_json() for r in self.upcoming.items]
        data["history"] = [r.to_json() for r in self.history.items]
        return data


class PatientService(Service):
    def list_patients(self, search: str = "", *, offset: int = 0, limit: int | None = None) -> Page[Patient]:
        """Patients whose name, email, phone or external id contains `search`, by name."""
        with self.store.read() as view:
            return view.patients.search(search, offset=offset, limit=limit)

    def get(self, patient_id: str) -> Patient:
        with self.store.read() as view:
            return view.patients.require(patient_id)

    def show(self, patient_id: str, *, history_limit: int = 50) -> PatientDetail:
        """The patient, every appointment from now on, and the most recent past ones."""
        now = self.now()
        with self.store.read() as view:
            patient = view.patients.require(patient_id)
            upcoming = view.appointments.search(AppointmentQuery(patient_id=patient.id, starts_from=now))
            history = view.appointments.search(
                AppointmentQuery(
                    patient_id=patient.id, starts_before=now, descending=True, limit=history_limit, count=False
                )
            )
            return PatientDetail(
                patient,
                Page(rows(view, upcoming.items), upcoming.total),
                Page(rows(view, history.items), None, 0, history_limit),
            )
