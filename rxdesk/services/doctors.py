"""Doctors: the list and the detail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from rxdesk.domain.models import AppointmentType, Doctor
from rxdesk.domain.queries import AppointmentQuery
from rxdesk.services.base import Service


@dataclass
class DoctorDetail:
    doctor: Doctor
    types: list[AppointmentType]
    upcoming_count: int

    def to_json(self) -> dict:
        data = self.doctor.to_json()
        data["types"] = [t.to_json(exclude={"reminders"}) for t in self.types]
        data["upcoming_count"] = self.upcoming_count
        return data


class DoctorService(Service):
    def list_doctors(self) -> list[Doctor]:
        return sorted(self.store.read().doctors.all(), key=lambda d: (d.name.casefold(), d.id))

    def get(self, doctor_id: str) -> Doctor:
        return self.store.read().doctors.require(doctor_id)

    def show(self, doctor_id: str) -> DoctorDetail:
        view = self.store.read()
        doctor = view.doctors.require(doctor_id)
        types = [t for key in doctor.appointment_types if (t := view.types.get(key)) is not None]
        upcoming = view.appointments.search(
            AppointmentQuery(
                doctor_id=doctor.id,
                statuses=frozenset({"held", "confirmed"}),
                starts_from=self.now(),
                starts_before=self.now() + timedelta(days=366),
                limit=0,
            )
        )
        return DoctorDetail(doctor, types, upcoming.total or 0)


class TypeService(Service):
    def list_types(self) -> list[AppointmentType]:
        return self.store.read().types.all()

    def get(self, key: str) -> AppointmentType:
        return self.store.read().types.require(key)
