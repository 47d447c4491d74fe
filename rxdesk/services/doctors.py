"""Doctors: the list, the detail, the mobile number and the meeting room."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from rxdesk.domain.errors import ValidationFailed
from rxdesk.domain.lifecycle import ACTIVE
from rxdesk.domain.models import Appointment, AppointmentType, Doctor, EventType, appointment_target
from rxdesk.domain.phones import normalize_mobile, region_for_zone
from rxdesk.domain.queries import AppointmentQuery
from rxdesk.domain.slots import local_to_utc
from rxdesk.domain.times import zone
from rxdesk.domain.urls import check_room_url as check_room_url_rule
from rxdesk.services.base import Service, admin_actor, record
from rxdesk.services.events import appointment_data, publish
from rxdesk.services.matching import SHOWN, Matches, match_doctors
from rxdesk.store.protocols import StoreView

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

    def match(self, text: str, *, limit: int = SHOWN) -> Matches:
        """The doctors `text` names: an exact id, an exact name, else every doctor whose name,
        id, email or mobile number contains it (the first `limit` by name, and how many in
        all). `Matches.one` is the doctor when exactly one does."""
        with self.store.read() as view:
            return match_doctors(view, text, limit=limit)

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
                    statuses=ACTIVE,
                    starts_from=now,
                    starts_before=now + timedelta(days=366),
                    as_of=now,
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


    def set_room(self, doctor_id: str, *, url: str | None = None, new: bool = False, agent: str) -> RoomChange:
        """Give the doctor a new meeting room (DESIGN: Meeting rooms): `url` (an http(s) URL,
        checked as provisioning checks it) or, with `new`, a fresh `<jitsi_base>/<slug>-<random>`.
        Every appointment of the doctor that is held or confirmed and has not started moves to
        it in the same write, each with APPOINTMENT_ROOM_CHANGED; started and past ones keep
        the room they had. Audited with the count moved."""
        if (url is None) == (not new):
            raise ValidationFailed("give the new room as a URL, or ask for a new one (--url URL or --new)")
        actor = admin_actor(agent)
        with self.store.write() as view:
            now = self.now()
            doctor = view.doctors.require(str(doctor_id).strip())
            if new:
                from rxdesk.services.provisioning import new_room_url

                room = new_room_url(self.org(view).jitsi_base_url, doctor.name)
            else:
                room = check_room_url(str(url))
            changed = doctor.model_copy(update={"room_url": room})
            moves = [(a, a.model_copy(update={"room_url": room}))
                     for a in self._room_bound(view, doctor.id, now) if a.room_url != room]
            moved = [after for _before, after in moves]
            if changed == doctor and not moved:
                return RoomChange(doctor, doctor.room_url, [])
            view.doctors.put(changed)
            for before, after in moves:
                view.appointments.put(after)
                publish(view, EventType.APPOINTMENT_ROOM_CHANGED,
                        appointment_data(after, old_room_url=before.room_url, new_room_url=room), now)
                record(view, at=now, actor=actor, action="appointment.room_change",
                       target=appointment_target(after.uid), details={"before": before.room_url, "after": room})
            record(view, at=now, actor=actor, action="doctor.set_room", target=f"doctor:{doctor.id}",
                   details={"before": doctor.room_url, "after": room, "appointments_moved": len(moved)})
        return RoomChange(changed, doctor.room_url, moved)

    @staticmethod
    def _room_bound(view: StoreView, doctor_id: str, now: datetime) -> list[Appointment]:
        """The doctor's appointments held or confirmed now that have not started."""
        page = view.appointments.search(AppointmentQuery(
            doctor_id=doctor_id, statuses=ACTIVE, starts_from=now, as_of=now, count=False))
        return [r.appointment for r in page.items if r.starts_at > now]

    def room_preview(self, doctor_id: str) -> int:
        """How many appointments a room change would move now."""
        with self.store.read() as view:
            doctor = view.doctors.require(str(doctor_id).strip())
            return len(self._room_bound(view, doctor.id, self.now()))


@dataclass(frozen=True)
class RoomChange:
    doctor: Doctor  # with its room now
    previous_room: str
    moved: list[Appointment]  # the appointments that moved, as stored now

    def to_json(self) -> dict[str, Any]:
        return {"doctor_id": self.doctor.id, "room_url": self.doctor.room_url, "previous_room_url": self.previous_room,
                "moved": [a.uid for a in self.moved]}


def check_room_url(text: str) -> str:
    """A meeting room URL by the rule of links patients open (`domain.urls.check_room_url`), as
    provisioning checks a doctor's `room_url`: a public host, in ASCII form."""
    if not text.strip():
        raise ValidationFailed("the room URL is empty; give an http:// or https:// URL, or use --new")
    try:
        return check_room_url_rule(text)
    except ValidationFailed as exc:
        raise ValidationFailed(f"room URL refused: {exc}") from None
