"""A queued email or SMS is checked again right before it is sent: one that waited for a
retry is never sent for an appointment that was cancelled meanwhile or has started.

(A message queued while SMTP was down, retried after the cancel, told patient and doctor to
"Join the video call" for a cancelled appointment; a failed email went out after the start.)"""

from __future__ import annotations

import datetime as dt
from datetime import datetime

import pytest

from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.domain.models import MessageStatus, ReminderSent
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from tests.helpers import free_port, make_appointment
from tests.receiver import Receiver
from tests.unit.test_notify import Relay, start
from tests.unit.test_worker import only_rule

pytestmark = pytest.mark.backends


def smtp_desk(clinic: Desk, settings: Settings, port: int) -> Desk:
    return Desk(clinic.store, clinic.clock, settings.with_overrides(smtp_url=f"smtp://127.0.0.1:{port}"))


def reminder_row(desk: Desk, uid: str) -> ReminderSent:
    """The reminder as the appointment's page shows it: its statuses read from its messages."""
    (row,) = desk.appointments.show(uid).reminders_sent
    return row


def test_an_email_that_waited_for_smtp_is_not_sent_after_the_cancel(clinic: Desk, settings: Settings, now: datetime, clock: FixedClock) -> None:
    port = free_port("127.0.0.1")  # nothing listens there yet: the SMTP server is down
    desk = smtp_desk(clinic, settings, port)
    only_rule(desk, "gp-consult", "patient", 120, email=True)
    appt = make_appointment(desk, start=now + dt.timedelta(minutes=90))
    first = MaintenanceService(desk).tick()
    assert first.reminders == 1 and first.messages_sent == 0
    (message,) = desk.webhooks.list_messages().items
    assert message.status is MessageStatus.pending and "cannot reach" in message.last_error

    desk.appointments.cancel_appointment(appt.uid, "patient called", "ops")
    relay = Relay()
    server, _ = start(relay, "127.0.0.1", port=port)  # the server is back
    try:
        clock.set(now + dt.timedelta(minutes=1))
        retry = MaintenanceService(desk).tick()
    finally:
        server.stop()
    assert relay.messages == [] and retry.messages_sent == 0 and retry.messages_skipped == 1
    (message,) = desk.webhooks.list_messages().items
    assert message.status is MessageStatus.skipped and message.last_error == "skipped: appointment cancelled"
    assert reminder_row(desk, appt.uid).email_status == "skipped: appointment cancelled"
    clock.set(now + dt.timedelta(minutes=10))
    assert MaintenanceService(desk).tick().messages_skipped == 0  # recorded once, never retried


def test_an_email_that_failed_before_the_start_is_not_sent_after_it(clinic: Desk, settings: Settings, now: datetime, clock: FixedClock) -> None:
    port = free_port("127.0.0.1")
    desk = smtp_desk(clinic, settings, port)
    only_rule(desk, "gp-consult", "patient", 10, email=True)
    appt = make_appointment(desk, start=now + dt.timedelta(minutes=5))
    assert MaintenanceService(desk).tick().reminders == 1  # its email fails: the server is down
    relay = Relay()
    server, _ = start(relay, "127.0.0.1", port=port)
    try:
        clock.set(now + dt.timedelta(minutes=6))  # the retry comes after the start
        late = MaintenanceService(desk).tick()
    finally:
        server.stop()
    assert relay.messages == [] and late.messages_skipped == 1
    (message,) = desk.webhooks.list_messages().items
    assert message.status is MessageStatus.skipped and message.last_error == "skipped: appointment started"
    assert reminder_row(desk, appt.uid).email_status == "skipped: appointment started"


def test_an_sms_queued_before_a_cancel_is_not_sent(clinic: Desk, settings: Settings, now: datetime, clock: FixedClock, receiver: Receiver) -> None:
    gateway = receiver
    gateway.default = (503, {})  # the gateway is down at first
    desk = Desk(clinic.store, clinic.clock, settings.with_overrides(sms_url=gateway.url + "/sms"))
    only_rule(desk, "gp-consult", "doctor", 60, sms=True)
    appt = make_appointment(desk, start=now + dt.timedelta(minutes=45))
    MaintenanceService(desk).tick()
    assert len(gateway.received) == 1
    desk.appointments.cancel_appointment(appt.uid, "doctor ill", "ops")
    gateway.default = (200, {})
    clock.set(now + dt.timedelta(minutes=1))
    MaintenanceService(desk).tick()
    assert len(gateway.received) == 1  # the retry never went out
    assert reminder_row(desk, appt.uid).sms_status == "skipped: appointment cancelled"
