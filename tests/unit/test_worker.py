"""The maintenance tick with a fixed clock: holds, reminders once per recipient, webhooks with
retries against a real HTTP server, email over a real SMTP server, SMS over a real gateway."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.domain.models import DeliveryStatus, Event, MessageStatus
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from rxdesk.services.messages import NO_MOBILE
from rxdesk.services.webhooks import NewSubscription
from tests.helpers import commits, fingerprint, make_appointment, view_of
from tests.mailserver import Inbox, serving
from tests.receiver import Receiver

pytestmark = pytest.mark.backends


def events_of(desk: Desk, kind: str) -> list[Event]:
    return [e for _, e in view_of(desk).events.after(0) if e.type.value == kind]


def only_rule(desk: Desk, type_key: str, recipient: str, minutes: int, **flags: bool) -> None:
    """Replace a type's rules with one, in place for weeks already (a rule reminds only from
    its creation on), so a test sees exactly what it sets up."""
    with desk.store.write() as view:
        t = view.types.require(type_key)
        view.types.put(t.model_copy(update={"reminders": []}))
    row = desk.reminders.add_rule(type_key, recipient, minutes, agent="tester", **flags)
    with desk.store.write() as view:
        t = view.types.require(type_key)
        weeks_ago = row.rule.model_copy(update={"created_at": desk.clock.now() - timedelta(weeks=8)})
        view.types.put(t.model_copy(update={"reminders": [weeks_ago]}))


def test_a_reminder_fires_once_at_its_minute_and_never_after_the_start(clinic: Desk, clock: FixedClock, now: datetime) -> None:
    only_rule(clinic, "gp-consult", "patient", 60)
    appt = make_appointment(clinic, start=now + timedelta(hours=2))
    worker = MaintenanceService(clinic)
    clock.set(now + timedelta(minutes=59))  # 61 minutes before: not yet
    assert worker.tick().reminders == 0
    clock.set(now + timedelta(minutes=60))  # exactly 60 before
    report = worker.tick()
    assert report.reminders == 1
    assert worker.tick().reminders == 0  # the ReminderSent key holds
    clock.set(now + timedelta(hours=2, minutes=1))
    assert worker.tick().reminders == 0
    (event,) = events_of(clinic, "APPOINTMENT_REMINDER_DUE")
    assert event.data["recipient"] == {"group": "patient", "id": "pat-001", "name": "Lena Fischer",
                                       "email": "lena.fischer@mail.example", "phone": "+49 170 5550101"}
    assert event.data["appointment"]["uid"] == appt.uid and event.data["late_by_seconds"] == 0
    assert event.data["due_at"] == "2026-11-23T09:00:00Z" and event.data["rule"]["minutes_before"] == 60
    (sent,) = clinic.appointments.show(appt.uid).reminders_sent
    assert sent.event_id == event.id


def test_a_worker_that_was_down_catches_up_until_the_start_only(clinic: Desk, clock: FixedClock, now: datetime) -> None:
    only_rule(clinic, "gp-consult", "patient", 60)
    late = make_appointment(clinic, start=now + timedelta(hours=1))
    missed = make_appointment(clinic, start=now - timedelta(minutes=5), patient_id="pat-002")
    clock.set(now + timedelta(minutes=50))
    assert MaintenanceService(clinic).tick().reminders == 1
    (event,) = events_of(clinic, "APPOINTMENT_REMINDER_DUE")
    assert event.data["appointment"]["uid"] == late.uid and event.data["late_by_seconds"] == 50 * 60
    assert clinic.appointments.show(missed.uid).reminders_sent == []


def test_admin_rules_reach_every_admin_and_toggles_off_still_publish(clinic: Desk, clock: FixedClock, now: datetime) -> None:
    only_rule(clinic, "gp-consult", "admin", 30)
    make_appointment(clinic, start=now + timedelta(minutes=20))
    report = MaintenanceService(clinic).tick()
    assert report.reminders == 2 and report.messages_outbox == 0
    assert sorted(e.data["recipient"]["id"] for e in events_of(clinic, "APPOINTMENT_REMINDER_DUE")) == ["adm-desk", "adm-mara"]


def test_only_confirmed_appointments_get_reminders(clinic: Desk, now: datetime) -> None:
    only_rule(clinic, "gp-consult", "patient", 60)
    for status in ("cancelled", "held", "expired", "completed"):
        make_appointment(clinic, start=now + timedelta(minutes=30), status=status, hold_minutes=60 * 24 * 3)
    assert MaintenanceService(clinic).tick().reminders == 0


def test_a_rule_added_inside_the_window_reminds_no_one_unless_asked(clinic: Desk, clock: FixedClock, now: datetime) -> None:
    only_rule(clinic, "gp-consult", "doctor", 5)
    inside = make_appointment(clinic, start=now + timedelta(minutes=40))
    later = make_appointment(clinic, start=now + timedelta(hours=5), patient_id="pat-002")
    worker = MaintenanceService(clinic)
    assert worker.tick().reminders == 0
    row = clinic.reminders.add_rule("gp-consult", "patient", 120, agent="tester")
    assert row.inside_window == 1 and row.reminded_now == 0
    assert worker.tick().reminders == 0  # its moment came before the rule existed
    clock.set(now + timedelta(hours=3))  # the later appointment's moment comes after the rule's creation
    assert worker.tick().reminders == 1
    assert [r.recipient_id for r in clinic.appointments.show(later.uid).reminders_sent] == ["pat-002"]
    assert clinic.appointments.show(inside.uid).reminders_sent == []


def test_also_now_reminds_the_appointments_inside_the_window_in_the_same_write(clinic: Desk, now: datetime) -> None:
    only_rule(clinic, "gp-consult", "doctor", 5)
    inside = make_appointment(clinic, start=now + timedelta(minutes=40))
    row = clinic.reminders.add_rule("gp-consult", "patient", 120, agent="tester", also_now=True)
    assert row.inside_window == 1 and row.reminded_now == 1
    (sent,) = clinic.appointments.show(inside.uid).reminders_sent
    assert sent.rule_id == row.rule.id and sent.late_by_seconds == 80 * 60
    assert MaintenanceService(clinic).tick().reminders == 0  # not a second time


def test_a_booking_confirmed_two_hours_before_gets_no_day_before_reminder(clinic: Desk, clock: FixedClock, now: datetime) -> None:
    only_rule(clinic, "gp-consult", "patient", 24 * 60)
    late_booking = make_appointment(clinic, start=now + timedelta(hours=2), created_at=now - timedelta(minutes=1))
    early_booking = make_appointment(clinic, start=now + timedelta(hours=3), patient_id="pat-002",
                                     created_at=now - timedelta(days=3))
    report = MaintenanceService(clinic).tick()
    assert report.reminders == 1  # the early booking's reminder, caught up late
    assert clinic.appointments.show(late_booking.uid).reminders_sent == []
    assert len(clinic.appointments.show(early_booking.uid).reminders_sent) == 1


def test_holds_expire_once_and_confirmed_ones_never(clinic: Desk, clock: FixedClock, now: datetime) -> None:
    held = make_appointment(clinic, start=now + timedelta(days=1), status="held", hold_minutes=10)
    confirmed = make_appointment(clinic, start=now + timedelta(days=1, hours=1))
    clock.set(now - timedelta(days=1) + timedelta(minutes=9))  # the hold was made a day before the start
    worker = MaintenanceService(clinic)
    clock.set(now)
    assert worker.tick().expired == 1
    assert worker.tick().expired == 0
    assert clinic.appointments.get(held.uid).status.value == "expired"
    assert clinic.appointments.get(confirmed.uid).status.value == "confirmed"
    (event,) = events_of(clinic, "APPOINTMENT_HOLD_EXPIRED")
    assert event.data["appointment"]["uid"] == held.uid


def test_a_tick_with_nothing_due_writes_nothing_but_its_note(clinic: Desk, data_dir: Path, now: datetime, backend: str) -> None:
    make_appointment(clinic, start=now + timedelta(days=5))
    before = fingerprint(data_dir)
    generation = clinic.store.generation()
    report = MaintenanceService(clinic, owner="night").tick()
    assert report.writes == 0 and report.summary().endswith("nothing due")
    after = fingerprint(data_dir)
    # The note that it ran, outside any commit: a file beside the manifest, or a counter row.
    note = "last-tick.json" if backend == "tiny" else "table:counters"
    assert after.pop(note) != before.pop(note, None) and after == before
    assert clinic.store.generation() == generation  # open apps have nothing to reload for it
    tick = clinic.store.last_tick()
    assert tick is not None and (tick.owner, tick.at) == ("night", now)


def subscribe(desk: Desk, receiver: Receiver, *events: str, headers: dict[str, str] | None = None) -> NewSubscription:
    return desk.webhooks.add_subscription(receiver.url + "/hook", list(events), headers or {}, "tester",
                                          allow_private_network=True)


def test_webhooks_are_signed_per_standard_webhooks_with_custom_headers(clinic: Desk, receiver: Receiver, now: datetime) -> None:
    made = subscribe(clinic, receiver, "APPOINTMENT_CANCELLED", headers={"X-Shop": "riverside"})
    appt = make_appointment(clinic, start=now + timedelta(days=1))
    clinic.appointments.cancel_appointment(appt.uid, "patient asked", "tester")
    report = MaintenanceService(clinic).tick()
    assert report.delivered == 1 and report.writes == 2
    (got,) = receiver.received
    assert got.headers["x-shop"] == "riverside"
    verified = Webhook(made.secret).verify(got.body, got.headers)  # raises when the signature is wrong
    assert verified["type"] == "APPOINTMENT_CANCELLED"
    assert verified["data"]["appointment"]["uid"] == appt.uid and verified["data"]["reason"] == "patient asked"
    assert got.headers["webhook-id"] == events_of(clinic, "APPOINTMENT_CANCELLED")[0].id
    (delivery,) = clinic.webhooks.list_deliveries().items
    assert delivery.status is DeliveryStatus.delivered and delivery.attempts == 1


def test_custom_headers_cannot_replace_the_signature_headers_or_smuggle_lines(clinic: Desk, receiver: Receiver, data_dir: Path) -> None:
    before = fingerprint(data_dir)
    for headers in ({"webhook-signature": "v1,forged"}, {"Webhook-Id": "x"}, {"X-A": "b\r\nX-Evil: 1"},
                    {"Bad Name": "x"}, {"X-A": "x" * 1001}):
        with pytest.raises(Exception) as caught:
            subscribe(clinic, receiver, "APPOINTMENT_CANCELLED", headers=headers)
        assert type(caught.value).__name__ == "ValidationFailed"
    for url in ("ftp://example.com/x", "javascript:alert(1)", "http://", "file:///etc/passwd", "http://exa mple.com"):
        with pytest.raises(Exception) as caught:
            clinic.webhooks.add_subscription(url, ["APPOINTMENT_CANCELLED"], {}, "tester")
        assert type(caught.value).__name__ == "ValidationFailed"
    assert fingerprint(data_dir) == before


def test_a_receiver_failing_twice_gets_the_same_id_on_each_retry(clinic: Desk, receiver: Receiver, clock: FixedClock, now: datetime) -> None:
    subscribe(clinic, receiver, "APPOINTMENT_CANCELLED")
    receiver.answers = [(500, {}), (503, {})]
    appt = make_appointment(clinic, start=now + timedelta(days=1))
    clinic.appointments.cancel_appointment(appt.uid, "x", "tester")
    worker = MaintenanceService(clinic)
    assert worker.tick().retrying == 1
    clock.set(now + timedelta(seconds=4))
    assert worker.tick().writes == 0  # not due before 5 s
    clock.set(now + timedelta(seconds=5))
    assert worker.tick().retrying == 1
    clock.set(now + timedelta(seconds=5, minutes=5))
    assert worker.tick().delivered == 1
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 3 and len(set(ids)) == 1
    assert len({r.headers["webhook-signature"] for r in receiver.received}) >= 1
    (delivery,) = clinic.webhooks.list_deliveries().items
    assert delivery.attempts == 3 and delivery.status is DeliveryStatus.delivered


def test_always_failing_ends_dead_after_the_schedule_and_replays(clinic: Desk, receiver: Receiver, clock: FixedClock, now: datetime) -> None:
    subscribe(clinic, receiver, "APPOINTMENT_CANCELLED")
    receiver.default = (500, {})
    appt = make_appointment(clinic, start=now + timedelta(days=3))
    clinic.appointments.cancel_appointment(appt.uid, "x", "tester")
    worker = MaintenanceService(clinic)
    waits = [timedelta(0), timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
             timedelta(hours=5), timedelta(hours=10), timedelta(hours=10)]
    at = now
    for wait in waits:
        at += wait
        clock.set(at)
        worker.tick()
    (delivery,) = clinic.webhooks.list_deliveries().items
    assert delivery.status is DeliveryStatus.dead and delivery.attempts == 8
    assert len(receiver.received) == 8
    clock.set(at + timedelta(days=1))
    assert worker.tick().writes == 0  # dead stays dead
    receiver.default = (204, {})
    assert clinic.webhooks.replay(delivery.id, "tester").status is DeliveryStatus.pending
    assert worker.tick().delivered == 1
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1


def test_retry_after_is_honoured_and_410_deactivates(clinic: Desk, receiver: Receiver, clock: FixedClock, now: datetime) -> None:
    subscribe(clinic, receiver, "APPOINTMENT_CANCELLED")
    receiver.answers = [(429, {"Retry-After": "120"}), (410, {})]
    for i in range(1):
        appt = make_appointment(clinic, start=now + timedelta(days=1, minutes=i))
        clinic.appointments.cancel_appointment(appt.uid, "x", "tester")
    worker = MaintenanceService(clinic)
    worker.tick()
    (delivery,) = clinic.webhooks.list_deliveries().items
    assert delivery.next_attempt_at == now + timedelta(seconds=120)
    clock.set(now + timedelta(seconds=120))
    assert worker.tick().dead == 1
    (sub,) = clinic.webhooks.list_subscriptions()
    assert sub.active is False


def test_email_goes_over_smtp_and_sms_over_the_gateway(clinic: Desk, receiver: Receiver, now: datetime, settings: Settings) -> None:
    inbox = Inbox()
    with serving(inbox) as port:
        desk = Desk(clinic.store, clinic.clock, settings.with_overrides(
            smtp_url=f"smtp://127.0.0.1:{port}", mail_from="desk@riverside.example",
            sms_url=receiver.url + "/sms", sms_token="gateway-token"))
        only_rule(desk, "gp-consult", "patient", 60, email=True, sms=True)
        make_appointment(desk, start=now + timedelta(minutes=30))
        report = MaintenanceService(desk).tick()
    assert report.messages_sent == 2
    envelope = inbox.envelopes[0]
    (mail_from, rcpt, content) = (envelope.mail_from, envelope.rcpt_tos, envelope.content)
    assert mail_from == "desk@riverside.example" and rcpt == ["lena.fischer@mail.example"]
    assert isinstance(content, bytes)
    parsed = message_from_bytes(content, policy=email_policy.default)
    assert parsed["Subject"].strip() == ("Reminder: your GP video consultation with Dr Anna Weber on "
                                         "Mon 2026-11-23 09:30 (Europe/Berlin)")
    plain = parsed.get_body(("plain",))
    assert plain is not None and "meet.jit.si" in plain.get_content()
    (sms,) = [r for r in receiver.received if r.path == "/sms"]
    assert sms.headers["authorization"] == "Bearer gateway-token"
    assert sms.json()["to"] == "+491705550101" and "GP video consultation" in sms.json()["body"]
    assert all(m.status is MessageStatus.sent for m in desk.webhooks.list_messages().items)


def test_unconfigured_messages_go_to_the_outbox_and_a_doctor_without_mobile_is_skipped(clinic: Desk, now: datetime, data_dir: Path) -> None:
    only_rule(clinic, "gp-consult", "doctor", 30, email=True, sms=True)
    osei = make_appointment(clinic, start=now + timedelta(minutes=20), doctor_id="dr-osei")
    report = MaintenanceService(clinic).tick()
    assert report.reminders == 1 and report.messages_outbox == 1
    (sent,) = clinic.appointments.show(osei.uid).reminders_sent
    assert sent.sms_status == NO_MOBILE and sent.email_status == "outbox"
    (message,) = clinic.webhooks.list_messages().items
    assert message.status is MessageStatus.outbox and message.channel.value == "email"


def test_firing_many_reminders_is_a_constant_number_of_writes(clinic: Desk, receiver: Receiver, now: datetime) -> None:
    only_rule(clinic, "gp-consult", "patient", 60)
    subscribe(clinic, receiver, "APPOINTMENT_REMINDER_DUE")
    for i in range(120):
        make_appointment(clinic, start=now + timedelta(minutes=10 + (i % 40)), patient_id=f"pat-00{1 + i % 3}",
                         doctor_id=("dr-weber", "dr-osei", "dr-sato")[i % 3], minutes=1)
    before = commits(clinic.store)
    report = MaintenanceService(clinic).tick()
    assert report.reminders == 120 and report.delivered == 120
    assert report.writes == 2 and commits(clinic.store) - before == 2
    assert Counter(r.headers["webhook-id"] for r in receiver.received).most_common(1)[0][1] == 1


def test_an_appointments_detail_lists_its_webhook_deliveries(clinic: Desk, receiver: Receiver, now: datetime) -> None:
    subscribe(clinic, receiver, "APPOINTMENT_CANCELLED")
    appt = make_appointment(clinic, start=now + timedelta(days=1))
    other = make_appointment(clinic, start=now + timedelta(days=2))
    for a in (appt, other):
        clinic.appointments.cancel_appointment(a.uid, "x", "tester")
    MaintenanceService(clinic).tick()
    (delivery,) = clinic.appointments.show(appt.uid).deliveries
    assert delivery.status is DeliveryStatus.delivered and delivery.event_type.value == "APPOINTMENT_CANCELLED"
    assert clinic.appointments.show(appt.uid).to_json()["deliveries"][0]["id"] == delivery.id
