"""Doctors: the list and the detail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from rxdesk.domain.models import AppointmentType, Doctor
from rxdesk.domain.queries import AppointmentQuery
from rxdesk.domain.phones import normalize_mobile
from rxdesk.services.base import Service, admin_actor, record


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


    def set_phone(self, doctor_id: str, number: str, agent: str) -> Doctor:
        """The doctor's mobile number for SMS reminders, stored as E.164 (an empty number
        clears it: SMS reminders are then skipped). The prescription phone is not touched."""
        actor = admin_actor(agent)
        mobile = normalize_mobile(number, allow_empty=True)
        with self.store.write() as view:
            doctor = view.doctors.require(str(doctor_id).strip())
            if doctor.mobile_phone == mobile:
                return doctor
            changed = doctor.model_copy(update={"mobile_phone": mobile})
            view.doctors.put(changed)
            record(view, at=self.now(), actor=actor, action="doctor.set_phone", target=f"doctor:{doctor.id}",
                   details={"before": doctor.mobile_phone, "after": mobile})
        return changed


class TypeService(Service):
    def list_types(self) -> list[AppointmentType]:
        return self.store.read().types.all()

    def get(self, key: str) -> AppointmentType:
        return self.store.read().types.require(key)
