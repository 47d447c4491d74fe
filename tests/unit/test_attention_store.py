"""The store questions behind the attention queue: exact definitions, answered from indexes."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rxdesk.domain.models import (
    Appointment,
    Delivery,
    DeliveryStatus,
    EventType,
    MessageChannel,
    MessageStatus,
    OutboxMessage,
    RecipientGroup,
    ReminderSent,
)
from rxdesk.services import Desk
from rxdesk.store.problems import PROBLEMS
from rxdesk.store.protocols import UnitOfWork
from tests.helpers import make_appointment, tiny_view_of, view_of

pytestmark = pytest.mark.backends


def delivery(view: UnitOfWork, now: datetime, sub: str, **fields: Any) -> Delivery:
    row = Delivery(id=view.deliveries.new_id(), event_id="evt_000000000001abcdef", event_type=EventType.APPOINTMENT_CANCELLED,
                   subscription_id=sub, url="https://shop.example/hook", created_at=now, next_attempt_at=now)
    row = row.model_copy(update=fields)
    view.deliveries.put(row)
    return row


def test_holds_lapsing_is_after_exclusive_until_inclusive(clinic: Desk, now: datetime) -> None:
    made = {minutes: make_appointment(clinic, start=now + timedelta(days=1, minutes=minutes * 30), status="held",
                                      created_at=now - timedelta(minutes=15 - minutes), patient_id="pat-002")
            for minutes in (0, 1, 5, 6)}  # holds of 15 minutes: they lapse at now + 0, 1, 5, 6 minutes
    make_appointment(clinic, start=now + timedelta(days=2))
    found = view_of(clinic).appointments.holds_lapsing(now, now + timedelta(minutes=5))
    assert [a.uid for a in found] == [made[1].uid, made[5].uid]


def test_delivery_trouble_per_subscription(clinic: Desk, now: datetime) -> None:
    hour_ago = now - timedelta(hours=1)
    with clinic.store.write() as view:
        fresh = delivery(view, now, "sub_a", attempts=1)  # failing, but created now
        old = delivery(view, hour_ago, "sub_a", attempts=2)  # failing for an hour
        delivery(view, hour_ago, "sub_a")  # created an hour ago, never attempted
        dead = delivery(view, now - timedelta(days=3), "sub_b", status=DeliveryStatus.dead, next_attempt_at=None,
                        attempts=8, last_attempt_at=now - timedelta(hours=2))
        delivery(view, now - timedelta(days=5), "sub_b", status=DeliveryStatus.dead, next_attempt_at=None,
                 attempts=8, last_attempt_at=now - timedelta(days=2))  # died two days ago
        delivery(view, now, "sub_c", status=DeliveryStatus.delivered, next_attempt_at=None, attempts=1)
    trouble = view_of(clinic).deliveries.trouble(failing_before=hour_ago, dead_since=now - timedelta(days=1))
    assert [(t.subscription_id, t.dead, t.failing, t.since, t.latest_id) for t in trouble] == [
        ("sub_a", 0, 1, hour_ago, old.id),
        ("sub_b", 1, 0, now - timedelta(hours=2), dead.id),
    ]
    assert fresh.id not in {t.latest_id for t in trouble}
    with clinic.store.write() as view:  # replayed: pending again, no longer dead
        view.deliveries.put(dead.model_copy(update={"status": DeliveryStatus.pending, "attempts": 0,
                                                    "next_attempt_at": now}))
    trouble = view_of(clinic).deliveries.trouble(failing_before=hour_ago, dead_since=now - timedelta(days=1))
    assert [t.subscription_id for t in trouble] == ["sub_a"]


def test_reminder_problems_leave_the_index_once_their_appointment_started(clinic: Desk, now: datetime, backend: str) -> None:
    soon = make_appointment(clinic, start=now + timedelta(minutes=10), doctor_id="dr-osei")
    later = make_appointment(clinic, start=now + timedelta(days=1), doctor_id="dr-osei", patient_id="pat-002")

    def skipped(appt: Appointment, at: datetime) -> ReminderSent:
        return ReminderSent(appointment_uid=appt.uid, rule_id="doctor-heads-up", recipient_group=RecipientGroup.doctor,
                            recipient_id="dr-osei", sent_at=at, due_at=at, sms_status="skipped: no mobile number")

    with clinic.store.write() as view:
        view.reminders_sent.add(skipped(soon, now))
        view.reminders_sent.add(skipped(later, now))
        view.reminders_sent.add(ReminderSent(appointment_uid=later.uid, rule_id="day-before",
                                             recipient_group=RecipientGroup.patient, recipient_id="pat-002",
                                             sent_at=now, due_at=now, email_status="outbox"))  # nothing wrong
    read = view_of(clinic)
    assert [r.appointment_uid for r in read.reminders_sent.skipped(now)] == [soon.uid, later.uid]
    assert [r.appointment_uid for r in read.reminders_sent.skipped(soon.starts_at)] == [later.uid]
    # A message failing after the first appointment started drops its entry from the index.
    with clinic.store.write() as view:
        message = OutboxMessage(id=view.messages.new_id(), channel=MessageChannel.email, to="x@mail.example",
                                body="Reminder", status=MessageStatus.failed, created_at=now + timedelta(minutes=20),
                                appointment_uid=later.uid, last_error="550 refused")
        view.messages.put(message)
        view.reminders_sent.add(skipped(later, now + timedelta(minutes=20)).model_copy(update={"rule_id": "again"}))
    read = view_of(clinic)
    if backend == "tiny":  # the index dropped the entry whose appointment started
        assert tiny_view_of(clinic).snap.table(PROBLEMS, "skipped").documents().keys() == {f"{later.uid}|doctor-heads-up|doctor|dr-osei",
                                                                 f"{later.uid}|again|doctor|dr-osei"}
    assert [(r.appointment_uid, r.rule_id) for r in read.reminders_sent.skipped(now + timedelta(minutes=20))] == [
        (later.uid, "again"), (later.uid, "doctor-heads-up")]
    assert [m.id for m in read.messages.failed(now)] == [message.id]
    with clinic.store.write() as view:  # sent again (a resend): no longer a problem
        view.messages.put(message.model_copy(update={"status": MessageStatus.pending, "next_attempt_at": now}))
    assert view_of(clinic).messages.failed(now) == []


def test_the_last_tick_is_the_newest_of_any_worker_and_moves_no_generation(clinic: Desk, now: datetime) -> None:
    assert clinic.store.last_tick() is None
    generation = clinic.store.generation()
    clinic.store.record_tick("night", now - timedelta(minutes=1))
    clinic.store.record_tick("day", now)
    tick = clinic.store.last_tick()
    assert tick is not None and (tick.owner, tick.at) == ("day", now)
    clinic.store.record_tick("night", now + timedelta(seconds=61))
    tick = clinic.store.last_tick()
    assert tick is not None and (tick.owner, tick.at) == ("night", now + timedelta(seconds=61))
    assert clinic.store.generation() == generation


@pytest.mark.data_dir_only
def test_the_last_tick_is_none_when_its_note_is_unreadable(clinic: Desk, data_dir: Path, now: datetime) -> None:
    clinic.store.record_tick("night", now)
    tick = clinic.store.last_tick()
    assert tick is not None and tick.owner == "night"
    (data_dir / "last-tick.json").write_bytes(b"{not json")
    assert clinic.store.last_tick() is None
