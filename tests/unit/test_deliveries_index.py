"""An appointment's detail lists the deliveries of its events however old they are."""

from __future__ import annotations

from datetime import datetime, timedelta

from rxdesk.domain.models import DeliveryStatus, EventType
from rxdesk.services import Desk
from rxdesk.services.events import publish
from rxdesk.services.maintenance import MaintenanceService
from tests.helpers import make_appointment
from tests.receiver import Receiver


def test_an_old_delivery_is_still_in_the_appointments_detail(clinic: Desk, now: datetime, receiver: Receiver) -> None:
    clinic.webhooks.add_subscription(receiver.url, ["APPOINTMENT_CANCELLED", "APPOINTMENT_REBOOKED"], {}, "tester",
                                     allow_private_network=True)
    appt = make_appointment(clinic, start=now + timedelta(days=1))
    clinic.appointments.cancel_appointment(appt.uid, "moved away", "tester")
    worker = MaintenanceService(clinic)
    assert worker.tick().delivered == 1
    with clinic.store.write() as view:  # a busy clinic: thousands of events since
        for _ in range(4500):
            publish(view, EventType.APPOINTMENT_CONFIRMED, {"appointment": {"uid": "elsewhere"}}, now)
    worker.tick()
    (delivery,) = clinic.appointments.show(appt.uid).deliveries
    assert delivery.status is DeliveryStatus.delivered and delivery.event_type is EventType.APPOINTMENT_CANCELLED


def test_a_rebooking_delivery_is_listed_on_both_appointments(clinic: Desk, now: datetime, receiver: Receiver) -> None:
    clinic.webhooks.add_subscription(receiver.url, ["APPOINTMENT_REBOOKED"], {}, "tester", allow_private_network=True)
    appt = make_appointment(clinic, start=now + timedelta(days=2, hours=1))
    slot = clinic.rebooking.slots(appt.uid, days=7).slots[0]
    new = clinic.rebooking.rebook(appt.uid, slot.starts_at, agent="tester")
    MaintenanceService(clinic).tick()
    (old_side,) = clinic.appointments.show(appt.uid).deliveries
    (new_side,) = clinic.appointments.show(new.uid).deliveries
    assert old_side.id == new_side.id and old_side.event_type is EventType.APPOINTMENT_REBOOKED
