"""Patient booking calls behind a verified booking token: hold a slot, confirm, cancel.

Each call is one store write: the token is verified again inside it (a secret revoked a
moment ago is refused), the change, its event and its audit entry are written together, and
the secret's `last_used_at` moves with them. A refused call changes nothing, `last_used_at`
included. The actor is `patient:<id>` (the token's `sub`); the audit entry names the `kid`, so
the partner that made the call is on record too.

`hold_slot` makes a hold inside a caller's write, with its APPOINTMENT_HELD event: every path
that books (a token here, an agent's booking) goes through it. A patient holds at most
HOLDS_PER_PATIENT slots at once, whatever the path: a partner, or a token that leaked, cannot
hold every free slot (a token can be used again until it expires).
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import Any

from rxdesk.domain import lifecycle
from rxdesk.domain.errors import NotFound, Refused
from rxdesk.domain.ids import new_appointment_uid, normalize_uid
from rxdesk.domain.models import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Doctor,
    EventType,
    appointment_target,
)
from rxdesk.domain.queries import AppointmentQuery
from rxdesk.domain.times import format_utc, to_utc
from rxdesk.services.availability import check_offered
from rxdesk.services.base import Service, record
from rxdesk.services.events import appointment_data, publish
from rxdesk.services.lifecycle import expire_lapsed_holds
from rxdesk.services.tokens import TokenService, VerifiedToken
from rxdesk.store.protocols import StoreView, UnitOfWork

# Holds (not lapsed) one patient may have at once: enough to compare two doctors and book a
# second type, far from every free slot.
HOLDS_PER_PATIENT = 3


class BookingService(Service):
    @cached_property
    def tokens(self) -> TokenService:
        return TokenService(self.store, self.clock, self.settings)

    def _own(self, view: StoreView, uid: str, verified: VerifiedToken) -> Appointment:
        """The token's patient's appointment; another patient's reads as not there at all."""
        appt = view.appointments.get(normalize_uid(uid)) if isinstance(uid, str) else None
        if appt is None or appt.patient_id != verified.patient.id:
            raise NotFound(f"no appointment {uid!r} of patient {verified.patient.id}")
        return appt

    def hold(self, token: str, doctor_id: str, type_key: str, starts_at: datetime) -> Appointment:
        """Hold a slot for the token's patient (`hold_slot`): the start must be one the slot
        generator offers for that doctor and type; the hold lasts the type's hold TTL and is
        announced as APPOINTMENT_HELD."""
        start = to_utc(starts_at)
        self.tokens.precheck(token)
        with self.store.write() as view:
            now = self.now()
            verified = self.tokens.check(view, token)
            doctor = view.doctors.require(doctor_id)
            appt_type = view.types.require(type_key)
            appt = hold_slot(view, patient_id=verified.patient.id, doctor=doctor, appt_type=appt_type, start=start,
                             now=now, actor=verified.actor, zone=self.org(view).timezone, action="booking.hold",
                             details={"kid": verified.kid})
            self.tokens.mark_used(view, verified)
        return appt

    def confirm(self, token: str, uid: str) -> Appointment:
        """Confirm the patient's own hold before it expires; writes APPOINTMENT_CONFIRMED."""
        self.tokens.precheck(token)
        with self.store.write() as view:
            now = self.now()
            verified = self.tokens.check(view, token)
            appt = self._own(view, uid, verified)
            confirmed = lifecycle.confirm(appt, now)
            view.appointments.put(confirmed)
            publish(view, EventType.APPOINTMENT_CONFIRMED, appointment_data(confirmed), now)
            self.tokens.mark_used(view, verified)
            record(view, at=now, actor=verified.actor, action="booking.confirm",
                   target=appointment_target(appt.uid), details={"kid": verified.kid})
        return confirmed

    def cancel(self, token: str, uid: str) -> Appointment:
        """Cancel the patient's own held or confirmed appointment, at least the type's
        cancellation notice before the start; writes APPOINTMENT_CANCELLED."""
        self.tokens.precheck(token)
        with self.store.write() as view:
            now = self.now()
            verified = self.tokens.check(view, token)
            appt = self._own(view, uid, verified)
            appt_type = view.types.require(appt.type_key)
            cancelled = lifecycle.patient_cancel(appt, appt_type, verified.actor, now)
            view.appointments.put(cancelled)
            publish(
                view,
                EventType.APPOINTMENT_CANCELLED,
                appointment_data(cancelled, reason=cancelled.cancel_reason, cancelled_by=cancelled.cancelled_by),
                now,
            )
            self.tokens.mark_used(view, verified)
            record(view, at=now, actor=verified.actor, action="booking.cancel",
                   target=appointment_target(appt.uid),
                   details={"kid": verified.kid, "from_status": appt.status.value})
        return cancelled


def hold_slot(view: UnitOfWork, *, patient_id: str, doctor: Doctor, appt_type: AppointmentType, start: datetime,
              now: datetime, actor: str, zone: str, action: str, details: dict[str, Any] | None = None,
              notice_minutes: int | None = None, created_by: str | None = None) -> Appointment:
    """A new hold for a patient, inside the caller's write: every path that books (a partner's
    token, an agent) makes its holds here. The doctor must offer the type and `start` must be a
    slot the generator offers now (inside the windows, free, past the booking notice: the type's,
    or `notice_minutes` for an agent); lapsed holds lying in the slot are written down as expired;
    the hold lasts the type's hold TTL and is written (with `created_by` when an agent booked it)
    with its APPOINTMENT_HELD event and an audit entry (`action`, `details` plus the hold's
    expiry). Refused when the patient would hold more than HOLDS_PER_PATIENT slots at once."""
    if appt_type.key not in doctor.appointment_types:
        raise Refused(f"{doctor.name} does not offer {appt_type.name} ({appt_type.key})")
    check_offered(view, doctor, appt_type, start, now, zone=zone, notice_minutes=notice_minutes)
    appt = lifecycle.new_appointment(uid=new_appointment_uid(start), patient_id=patient_id, doctor=doctor,
                                     appt_type=appt_type, starts_at=start, now=now)
    if created_by is not None:
        appt = appt.model_copy(update={"created_by": created_by})
    expire_lapsed_holds(view, doctor.id, appt.starts_at, appt.ends_at, now, actor)
    view.appointments.put(appt)
    publish(view, EventType.APPOINTMENT_HELD, appointment_data(appt), now)
    # Counted after the event: writers of events take turns until they commit (PostgreSQL) or
    # write under one lock (the data dir), so holds made at once are counted one after another.
    _refuse_too_many_holds(view, patient_id, appt.uid, now)
    expiry = format_utc(appt.hold_expires_at) if appt.hold_expires_at else None
    record(view, at=now, actor=actor, action=action, target=appointment_target(appt.uid),
           details={**(details or {}), "hold_expires_at": expiry})
    return appt


def _refuse_too_many_holds(view: UnitOfWork, patient_id: str, new_uid: str, now: datetime) -> None:
    held = view.appointments.search(AppointmentQuery(
        patient_id=patient_id, statuses=frozenset({AppointmentStatus.held.value}), as_of=now, ends_after=now,
        limit=HOLDS_PER_PATIENT + 1, count=False)).items
    if len(held) > HOLDS_PER_PATIENT:
        others = ", ".join(r.uid for r in held if r.uid != new_uid)
        raise Refused(f"patient {patient_id} already holds {HOLDS_PER_PATIENT} slots ({others}), the most one "
                      "patient may hold at once: confirm or cancel one of them, or wait until one lapses")
