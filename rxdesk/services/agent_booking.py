"""An agent books an appointment for a patient (DESIGN: `appointments book`): the patient on the
phone whose rebook was cancelled, a patient without a partner's booking page.

The slot rules are a token booking's (the doctor offers the type; the start is on the grid of
the doctor's windows and free of the doctor's held and confirmed appointments), except the
booking notice, which is the patient's: an agent may book a slot that starts in ten minutes,
never one that has started. The appointment is confirmed (or held, as a partner's page holds
one), `created_by` = `admin:<agent>`, with its event (APPOINTMENT_CONFIRMED or
APPOINTMENT_HELD) and an audit entry, in one write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rxdesk.domain import lifecycle
from rxdesk.domain.errors import Conflict, Refused, RxdeskError
from rxdesk.domain.ids import new_appointment_uid
from rxdesk.domain.limits import SLOT_DAYS, whole_within
from rxdesk.domain.models import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Doctor,
    EventType,
    Patient,
    appointment_target,
)
from rxdesk.domain.times import format_local, format_utc, to_utc
from rxdesk.services.availability import check_offered, open_slots
from rxdesk.services.base import Service, admin_actor, record
from rxdesk.services.booking import hold_slot
from rxdesk.services.events import appointment_data, publish
from rxdesk.services.lifecycle import expire_lapsed_holds
from rxdesk.services.rebooking import OpenSlot, by_time
from rxdesk.store.protocols import StoreView

# An agent books for a patient without the patient's booking notice.
AGENT_NOTICE_MINUTES = 0


@dataclass(frozen=True)
class BookingChoice:
    """What the booking picker shows: the patient, the type, and the open slots of every doctor
    offering it, by start."""

    patient: Patient
    appointment_type: AppointmentType
    slots: list[OpenSlot]
    zone: str
    days: int


def _offering(view: StoreView, appt_type: AppointmentType, doctor_id: str | None) -> list[Doctor]:
    """The doctors who may take the type: `doctor_id` alone when given (refused when that doctor
    does not offer it), else every doctor offering it, by name."""
    if doctor_id:
        doctor = view.doctors.require(str(doctor_id).strip())
        if appt_type.key not in doctor.appointment_types:
            raise Refused(f"{doctor.name} does not offer {appt_type.name} ({appt_type.key})")
        return [doctor]
    doctors = sorted((d for d in view.doctors.all() if appt_type.key in d.appointment_types),
                     key=lambda d: (d.name.casefold(), d.id))
    if not doctors:
        raise Refused(f"no doctor offers {appt_type.name} ({appt_type.key})")
    return doctors


class AgentBookingService(Service):
    def bookable_types(self) -> list[AppointmentType]:
        """The appointment types some doctor offers (what an agent can book), by name."""
        with self.store.read() as view:
            offered = {key for d in view.doctors.all() for key in d.appointment_types}
            return sorted((t for t in view.types.all() if t.key in offered), key=lambda t: (t.name.casefold(), t.key))

    def slots(self, patient_id: str, type_key: str, *, days: object = 14,
              doctor_id: str | None = None) -> BookingChoice:
        """The open slots an agent can book the patient into over the next `days`, across every
        doctor offering the type (or `doctor_id`), by start: in the doctors' windows, free, and
        not started (no booking notice for an agent)."""
        span = whole_within(days, SLOT_DAYS, what="days")
        with self.store.read() as view:
            now = self.now()
            patient = view.patients.require(str(patient_id).strip())
            appt_type = view.types.require(str(type_key).strip())
            end = now + timedelta(days=span)
            found = by_time([OpenSlot(doctor.id, doctor.name, slot.starts_at, slot.ends_at, doctor.timezone)
                             for doctor in _offering(view, appt_type, doctor_id)
                             for slot in open_slots(view, doctor, appt_type, now=now, start=now, end=end,
                                                    notice_minutes=AGENT_NOTICE_MINUTES)
                             if slot.starts_at > now])  # one starting now has started
            return BookingChoice(patient, appt_type, found, self.org(view).timezone, span)

    def book(self, patient_id: str, type_key: str, starts_at: datetime, *, doctor_id: str | None = None,
             hold: bool = False, agent: str) -> Appointment:
        """Book the patient into the slot at `starts_at` (with `doctor_id`, or the first doctor
        by name offering the type who is free then): confirmed, or held for the type's hold
        time with `hold`. The slot rules of a token booking apply but for the booking notice
        (an agent may book any slot that has not started). Writes the appointment with
        `created_by` = `admin:<agent>`, APPOINTMENT_CONFIRMED or APPOINTMENT_HELD, and an audit
        entry, in one write; a refusal changes nothing."""
        start = to_utc(starts_at)
        actor = admin_actor(agent)
        with self.store.write() as view:
            now = self.now()
            zone_name = self.org(view).timezone
            patient = view.patients.require(str(patient_id).strip())
            appt_type = view.types.require(str(type_key).strip())
            if start <= now:
                raise Refused(f"{format_local(start, zone_name)} ({zone_name}) has started: pick a later slot")
            doctor = self._free_doctor(view, _offering(view, appt_type, doctor_id), appt_type, start, now, zone_name)
            details = {"patient_id": patient.id, "doctor_id": doctor.id, "type_key": appt_type.key,
                       "starts_at": format_utc(start), "status": "held" if hold else "confirmed"}
            if hold:  # a hold is made where every hold is, with its APPOINTMENT_HELD
                return hold_slot(view, patient_id=patient.id, doctor=doctor, appt_type=appt_type, start=start,
                                 now=now, actor=actor, zone=zone_name, action="appointment.book", details=details,
                                 notice_minutes=AGENT_NOTICE_MINUTES, created_by=actor)
            appt = lifecycle.new_appointment(
                uid=new_appointment_uid(start), patient_id=patient.id, doctor=doctor, appt_type=appt_type,
                starts_at=start, now=now, status=AppointmentStatus.confirmed,
            ).model_copy(update={"created_by": actor})
            expire_lapsed_holds(view, doctor.id, appt.starts_at, appt.ends_at, now, actor)
            view.appointments.put(appt)
            publish(view, EventType.APPOINTMENT_CONFIRMED, appointment_data(appt), now)
            record(view, at=now, actor=actor, action="appointment.book", target=appointment_target(appt.uid),
                   details=details)
        return appt

    @staticmethod
    def _free_doctor(view: StoreView, doctors: list[Doctor], appt_type: AppointmentType, start: datetime,
                     now: datetime, zone_name: str) -> Doctor:
        """The first of `doctors` who offers the slot at `start`; else the refusal of the one
        doctor asked, or one line for them all."""
        refusals: list[RxdeskError] = []
        for doctor in doctors:
            try:
                check_offered(view, doctor, appt_type, start, now, zone=zone_name,
                              notice_minutes=AGENT_NOTICE_MINUTES)
            except RxdeskError as exc:
                refusals.append(exc)
                continue
            return doctor
        if len(refusals) == 1:
            raise refusals[0]
        when = f"{format_local(start, zone_name)} ({zone_name})"
        if all(isinstance(exc, Conflict) for exc in refusals):
            raise Conflict(f"{when} is taken: every doctor offering {appt_type.name} has another appointment then")
        raise Refused(f"no doctor offering {appt_type.name} has a free slot at {when}")
