"""Leases under pressure: runners that share a name, a send window that closes, and a
subscription whose signing secret will not decrypt."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet

from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.domain.models import DeliveryStatus, MessageStatus
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from tests.helpers import make_appointment
from tests.receiver import Receiver
from tests.unit.test_worker import events_of, only_rule

pytestmark = pytest.mark.backends


def cancelled_event(desk: Desk, receiver: Receiver, now: datetime) -> str:
    desk.webhooks.add_subscription(receiver.url + "/hook", ["APPOINTMENT_CANCELLED"], {}, "tester",
                                   allow_private_network=True)
    appt = make_appointment(desk, start=now + timedelta(days=1))
    desk.appointments.cancel_appointment(appt.uid, "moved away", "tester")
    (event,) = events_of(desk, "APPOINTMENT_CANCELLED")
    return str(event.id)


def pause_while_sending(runner: MaintenanceService, sent: threading.Event, go_on: threading.Event,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Let `runner` send, then hold it between sending and recording its results."""
    send = runner._send_webhooks

    def send_then_wait(claimed: Any, in_time: Any) -> Any:
        results = send(claimed, in_time)
        sent.set()
        assert go_on.wait(30)
        return results

    monkeypatch.setattr(runner, "_send_webhooks", send_then_wait)


def test_a_runner_whose_lease_was_taken_over_does_not_record_over_the_new_holder(clinic: Desk, receiver: Receiver, clock: FixedClock, now: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two workers on one host carry the same name; their leases must still be told apart.
    first, second = MaintenanceService(clinic, owner="worker:host"), MaintenanceService(clinic, owner="worker:host")
    event_id = cancelled_event(clinic, receiver, now)
    receiver.answers = [(500, {}), (204, {})]  # the stale runner's attempt fails, the new holder's succeeds
    first_sent, first_records, second_sent, second_records = (threading.Event() for _ in range(4))
    pause_while_sending(first, first_sent, first_records, monkeypatch)
    pause_while_sending(second, second_sent, second_records, monkeypatch)

    stale = threading.Thread(target=first.tick)
    stale.start()
    assert first_sent.wait(30)
    clock.set(now + timedelta(minutes=6))  # the first lease has run out
    taker = threading.Thread(target=second.tick)
    taker.start()
    assert second_sent.wait(30)
    first_records.set()
    stale.join(30)
    second_records.set()
    taker.join(30)

    (delivery,) = clinic.webhooks.list_deliveries().items
    assert delivery.status is DeliveryStatus.delivered and delivery.attempts == 1
    assert delivery.lease_id == "" and delivery.last_status_code == 204
    assert [r.headers["webhook-id"] for r in receiver.received] == [event_id, event_id]


def test_what_the_send_window_leaves_goes_back_to_the_queue_unsent(clinic: Desk, receiver: Receiver, now: datetime) -> None:
    cancelled_event(clinic, receiver, now)
    only_rule(clinic, "gp-consult", "patient", 60, email=True)
    make_appointment(clinic, start=now + timedelta(minutes=30), patient_id="pat-002")
    # The window is already closed when sending starts: nothing may go out on a stale lease.
    closed = MaintenanceService(clinic, send_window=-1.0)
    report = closed.tick()
    assert report.reminders == 1 and report.deferred == 1 and report.delivered == 0
    assert receiver.received == []
    (delivery,) = [d for d in clinic.webhooks.list_deliveries().items if d.event_type.value == "APPOINTMENT_CANCELLED"]
    assert delivery.status is DeliveryStatus.pending and delivery.attempts == 0 and delivery.lease_id == ""
    # Free again at once: the next runner sends it without waiting for a lease to expire.
    assert MaintenanceService(clinic).tick().delivered == 1
    assert len(receiver.received) == 1


def test_messages_left_by_the_send_window_are_released_too(clinic: Desk, settings: Settings, now: datetime) -> None:
    desk = Desk(clinic.store, clinic.clock, settings.with_overrides(smtp_url="smtp://127.0.0.1:9"))
    only_rule(desk, "gp-consult", "patient", 60, email=True)
    make_appointment(desk, start=now + timedelta(minutes=30))
    ticks = iter([0.0] + [100.0] * 10)  # the window closes before the first send starts
    report = MaintenanceService(desk, send_window=50.0, timer=lambda: next(ticks)).tick()
    assert report.reminders == 1 and report.deferred == 1 and report.messages_failed == 0
    (message,) = desk.webhooks.list_messages().items
    assert message.status is MessageStatus.pending and message.attempts == 0 and message.lease_id == ""


def test_a_subscription_that_cannot_be_signed_for_does_not_stop_holds_or_reminders(clinic: Desk, receiver: Receiver, settings: Settings, clock: FixedClock, now: datetime) -> None:
    cancelled_event(clinic, receiver, now)
    only_rule(clinic, "gp-consult", "patient", 60)
    make_appointment(clinic, start=now + timedelta(minutes=30), patient_id="pat-002")
    held = make_appointment(clinic, start=now + timedelta(days=2), status="held", hold_minutes=-1)
    wrong_key = Desk(clinic.store, clinic.clock, settings.with_overrides(master_key=Fernet.generate_key().decode()))

    report = MaintenanceService(wrong_key).tick()
    assert report.expired == 1 and report.reminders == 1 and report.deferred == 1
    assert len(report.problems) == 1 and "master key" in report.problems[0]
    assert clinic.appointments.get(held.uid).status.value == "expired"
    (delivery,) = clinic.webhooks.list_deliveries().items
    assert delivery.status is DeliveryStatus.pending and delivery.attempts == 0
    assert "signing secret" in delivery.last_error and receiver.received == []

    clock.set(now + timedelta(minutes=5))  # the right key is back
    assert MaintenanceService(clinic).tick().delivered == 1
