"""Doctors: the list and the detail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from rxdesk.domain.models import AppointmentType, Doctor
from rxdesk.domain.phones import normalize_mobile, region_for_zone
from rxdesk.domain.queries import AppointmentQuery
from rxdesk.domain.slots import local_to_utc
from rxdesk.domain.times import zone
from rxdesk.services.base import Service, admin_actor, record

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class WeekRow:
    """One availability window: in the doctor's zone, and in the org's zone this week."""

    weekday: str
    local: str  # "09:00–12:00"
    org: str  # "Tue 03:00–06:00" (the day may differ), or "" when the zones agree


def week_rows(doctor: Doctor, org_zone: str, today: date) -> list[WeekRow]:
    """The weekly windows as the agent reads them, converted with this week's offsets (DST)."""
    monday = today - timedelta(days=today.weekday())
    rows = []
    for w in sorted(doctor.availability, key=lambda w: (w.weekday, w.start)):
        day = monday + timedelta(days=w.weekday)
        org = ""
        if doctor.timezone != org_zone:
            starts = local_to_utc(day, int(w.start[:2]) * 60 + int(w.start[3:]), doctor.timezone)
            ends = local_to_utc(day, int(w.end[:2]) * 60 + int(w.end[3:]), doctor.timezone)
            if starts and ends:
                a = starts.astimezone(zone(org_zone))
                b = ends.astimezone(zone(org_zone))
                org = f"{WEEKDAYS[a.weekday()]} {a:%H:%M}–{b:%H:%M}"
        rows.append(WeekRow(WEEKDAYS[w.weekday], f"{w.start}–{w.end}", org))
    return rows


@dataclass
class DoctorDetail:
    doctor: Doctor
    types: list[AppointmentType]
    upcoming_count: int
    week: list[WeekRow] = field(default_factory=list)
    org_zone: str = "UTC"

    def to_json(self) -> dict[str, Any]:
        data = self.doctor.to_json()
        data["types"] = [t.to_json(exclude={"reminders"}) for t in self.types]
        data["upcoming_count"] = self.upcoming_count
        return data


class DoctorService(Service):
    def list_doctors(self) -> list[Doctor]:
        with self.store.read() as view:
            return sorted(view.doctors.all(), key=lambda d: (d.name.casefold(), d.id))

    def get(self, doctor_id: str) -> Doctor:
        with self.store.read() as view:
            return view.doctors.require(doctor_id)

    def show(self, doctor_id: str) -> DoctorDetail:
        now = self.now()
        with self.store.read() as view:
            doctor = view.doctors.require(doctor_id)
            types = [t for key in doctor.appointment_types if (t := view.types.get(key)) is not None]
            upcoming = view.appointments.count(
                AppointmentQuery(
                    doctor_id=doctor.id,
                    statuses=frozenset({"held", "confirmed"}),
                    starts_from=now,
                    starts_before=now + timedelta(days=366),
                )
            )
            org_zone = self.org(view).timezone
        today = now.astimezone(zone(doctor.timezone)).date()
        return DoctorDetail(doctor, types, upcoming, week_rows(doctor, org_zone, today), org_zone)

    def set_phone(self, doctor_id: str, number: str, agent: str) -> Doctor:
        """The doctor's mobile number for SMS reminders, stored as E.164 (an empty number
        clears it: SMS reminders are then skipped). A number typed without its country code is
        read in the country of the doctor's time zone. The prescription phone is not touched."""
        actor = admin_actor(agent)
        with self.store.write() as view:
            doctor = view.doctors.require(str(doctor_id).strip())
            mobile = normalize_mobile(number, region_for_zone(doctor.timezone), allow_empty=True)
            if doctor.mobile_phone == mobile:
                return doctor
            changed = doctor.model_copy(update={"mobile_phone": mobile})
            view.doctors.put(changed)
            record(view, at=self.now(), actor=actor, action="doctor.set_phone", target=f"doctor:{doctor.id}",
                   details={"before": doctor.mobile_phone, "after": mobile})
        return changed
