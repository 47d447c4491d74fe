"""One maintenance tick: expire holds, fire reminders, fan events out to webhooks, send.

A tick costs a constant number of store writes however much it does:

1. (one write, only when there is work) expire overdue holds and complete ended appointments
   (`services.lifecycle.catch_up`); fire every due reminder as one
   `APPOINTMENT_REMINDER_DUE` event per recipient with its ReminderSent row; queue the emails
   and SMS the rules ask for; fan new events out into webhook deliveries; claim the due
   deliveries and messages with a lease (owner + expiry) so no other runner sends them.
2. (no lock) send them: webhooks concurrently over one HTTP client, then email and SMS.
3. (one write) record every result: delivered, retry later (the schedule in DESIGN, or the
   receiver's Retry-After), dead after the last attempt, 410 Gone deactivates the subscription.

Two runners on one data dir never fire a reminder twice (the ReminderSent key is checked inside
the write lock) nor send one attempt twice (the lease). Each runner holds leases under its own
id, even when two share a name, and starts no attempt it could not finish before its lease runs
out; what it had no time for goes back to the queue unsent. A runner killed after step 1 leaves
its claims to expire; the next tick sends them again with the same webhook-id.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from rxdesk.domain import lifecycle
from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.ids import random_token
from rxdesk.domain.models import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    MessageChannel,
    MessageStatus,
    OutboxMessage,
    RecipientGroup,
    ReminderRule,
    ReminderSent,
)
from rxdesk.domain.phones import normalize_mobile
from rxdesk.domain.sending import SKIPPED, skip_reason
from rxdesk.domain.times import format_local
from rxdesk.services import Desk
from rxdesk.services.base import record
from rxdesk.services.events import publish
from rxdesk.services.lifecycle import catch_up, has_catching_up
from rxdesk.services.notify import Notifier, SendFailed
from rxdesk.services.webhooks import (
    FANOUT_CURSOR,
    RETRY_AFTER,
    TIMEOUT_SECONDS,
    AttemptResult,
    http_client,
    payload,
    post_signed,
    subscription_target,
)
from rxdesk.store.tinystore import TinyView

LEASE = timedelta(minutes=5)
# No attempt starts later than this after the claim, so the slowest one (a 15 s timeout) still
# ends inside the lease and no other runner can have taken it over meanwhile.
SEND_WINDOW = (LEASE - timedelta(seconds=TIMEOUT_SECONDS + 30)).total_seconds()
SIGNING_PROBLEM_WAIT = timedelta(minutes=5)
CLAIM_BATCH = 2000  # deliveries (and messages) sent per tick at most; the rest wait a minute
FANOUT_BATCH = 20000  # events fanned out per tick at most
MAIL_CONNECTIONS = 4  # SMTP connections a tick sends its emails over, each reused for many
MESSAGE_RETRY = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
NO_MOBILE = "skipped: no mobile number"
NO_EMAIL = "skipped: no email address"


@dataclass
class TickReport:
    at: datetime
    expired: int = 0
    completed: int = 0
    reminders: int = 0
    deliveries_created: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    messages_sent: int = 0
    messages_outbox: int = 0
    messages_failed: int = 0
    messages_skipped: int = 0  # queued, then not sent: the appointment was cancelled or had started
    deferred: int = 0  # claimed but not attempted within the send window: back in the queue
    writes: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            (self.expired, "hold expired", "holds expired"),
            (self.completed, "appointment completed", "appointments completed"),
            (self.reminders, "reminder", "reminders"),
            (self.delivered, "webhook delivered", "webhooks delivered"),
            (self.retrying, "webhook to retry", "webhooks to retry"),
            (self.dead, "webhook dead", "webhooks dead"),
            (self.messages_sent, "message sent", "messages sent"),
            (self.messages_outbox, "message to the outbox", "messages to the outbox"),
            (self.messages_failed, "message failed", "messages failed"),
            (self.messages_skipped, "message skipped", "messages skipped"),
            (self.deferred, "send left for the next tick", "sends left for the next tick"),
        ]
        said = [f"{n} {one if n == 1 else many}" for n, one, many in parts if n]
        return f"{self.at:%H:%M} · " + (" · ".join(said) if said else "nothing due")

    def to_json(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class DueReminder:
    appointment: Appointment
    appointment_type: AppointmentType
    rule: ReminderRule
    due_at: datetime


@dataclass(frozen=True)
class Claimed:
    delivery: Delivery
    url: str
    headers: dict[str, str]
    secret: str
    body: bytes
    allow_private: bool = False  # the subscription's --allow-private-network


NOT_SENT = None  # an attempt the send window closed on before it started


class Maintenance:
    """The maintenance manager for one desk. `owner` names this runner in logs and audit; its
    leases carry `lease_id`, which is unique to this instance (two app sessions of one agent, or
    two workers on one host, share an owner name but never a lease)."""

    def __init__(
        self,
        desk: Desk,
        owner: str = "worker",
        *,
        client: Callable[[bool], httpx.Client] = http_client,
        senders: int = 16,
        send_window: float = SEND_WINDOW,
        timer: Callable[[], float] = time.monotonic,
        attempt_seconds: float = TIMEOUT_SECONDS,
    ) -> None:
        self.desk = desk
        self.owner = owner
        self.actor = owner if ":" in owner else f"worker:{owner}"
        self.lease_id = f"{owner}#{os.getpid()}-{random_token(6)}"
        self.client = client
        self.senders = senders
        self.send_window = send_window
        self.timer = timer
        self.attempt_seconds = attempt_seconds  # each send's deadline: connect, send, whole answer

    # -- the tick ---------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> TickReport:
        now = now or self.desk.clock.now()
        report = TickReport(now)
        store = self.desk.store
        if not self._has_work(store.read(), now):
            store.record_tick(self.owner, now)
            return report
        notifier = Notifier(self.desk.settings, attempt_seconds=self.attempt_seconds)
        with store.write() as view:
            deliveries, messages = self._phase_one(view, now, notifier, report)
        report.writes += 1
        if not deliveries and not messages:
            store.record_tick(self.owner, now)
            return report
        deadline = self.timer() + self.send_window
        with ThreadPoolExecutor(max_workers=1) as side:  # emails and SMS go out beside the webhooks
            messages_sent = side.submit(self._send_messages, messages, notifier, deadline)
            results = self._send_webhooks(deliveries, deadline)
            sent = messages_sent.result()
        done = max(now, self.desk.clock.now())
        with store.write() as view:
            self._record(view, done, results, sent, report)
        report.writes += 1
        store.record_tick(self.owner, now)
        return report

    def _has_work(self, view: TinyView, now: datetime) -> bool:
        """Cheap reads that decide whether the tick needs the write lock at all."""
        if view.deliveries.due(now, 1) or view.messages.due(now, 1):
            return True
        if view.events.last_seq() > view.snap.counter(FANOUT_CURSOR) and any(
            s.active for s in view.subscriptions.all()
        ):
            return True
        if has_catching_up(view, now):
            return True
        return bool(self._due_reminders(view, now, first_only=True))

    # -- phase one: everything decided under the lock, in one write ------------------

    def _phase_one(self, view: TinyView, now: datetime, notifier: Notifier, report: TickReport) -> tuple[list[Claimed], list[OutboxMessage]]:
        caught = catch_up(view, now, self.actor)
        report.expired += len(caught.expired)
        report.completed += len(caught.completed)
        for due in self._due_reminders(view, now):
            report.reminders += self._fire(view, due, now, notifier, report)
        report.deliveries_created += self._fan_out(view, now)
        return self._claim_deliveries(view, now, report), self._claim_messages(view, now)

    def _due_reminders(self, view: TinyView, now: datetime, *, first_only: bool = False) -> list[DueReminder]:
        """(appointment, rule) pairs whose moment has come, before the start, not yet fired
        for every recipient. Only confirmed appointments: cancelled, rebooked-away and expired
        ones never get reminders."""
        types = {t.key: t for t in view.types.all() if t.reminders}
        if not types:
            return []
        horizon = max(r.minutes_before for t in types.values() for r in t.reminders)
        admins = None
        found: list[DueReminder] = []
        for appt in view.appointments.confirmed_starting(now, now + timedelta(minutes=horizon)):
            appt_type = types.get(appt.type_key)
            if appt_type is None or lifecycle.effective_status(appt, now) is not AppointmentStatus.confirmed:
                continue
            for rule in appt_type.reminders:
                due_at = appt.starts_at - timedelta(minutes=rule.minutes_before)
                if not (due_at <= now < appt.starts_at):
                    continue
                if rule.recipient is RecipientGroup.admin:
                    if admins is None:
                        admins = [a.id for a in view.admins.all()]
                    ids = admins
                else:
                    ids = [appt.patient_id if rule.recipient is RecipientGroup.patient else appt.doctor_id]
                if any(not view.reminders_sent.exists(appt.uid, rule.id, rule.recipient.value, i) for i in ids):
                    found.append(DueReminder(appt, appt_type, rule, due_at))
                    if first_only:
                        return found
        return found

    def _recipients(self, view: TinyView, due: DueReminder) -> list[dict[str, str]]:
        appt, group = due.appointment, due.rule.recipient
        if group is RecipientGroup.patient:
            p = view.patients.get(appt.patient_id)
            return [{"group": group.value, "id": appt.patient_id, "name": p.name if p else appt.patient_id,
                     "email": p.email if p else "", "phone": p.phone if p else ""}]
        if group is RecipientGroup.doctor:
            d = view.doctors.get(appt.doctor_id)
            return [{"group": group.value, "id": appt.doctor_id, "name": d.name if d else appt.doctor_id,
                     "email": d.email if d else "", "phone": d.mobile_phone if d else ""}]
        return [{"group": group.value, "id": a.id, "name": a.name, "email": a.email, "phone": a.phone}
                for a in view.admins.all()]

    def _fire(self, view: TinyView, due: DueReminder, now: datetime, notifier: Notifier, report: TickReport) -> int:
        appt, rule = due.appointment, due.rule
        late = max(0, int((now - due.due_at).total_seconds()))
        fired = 0
        for recipient in self._recipients(view, due):
            if view.reminders_sent.exists(appt.uid, rule.id, rule.recipient.value, recipient["id"]):
                continue
            event = publish(view, EventType.APPOINTMENT_REMINDER_DUE, {
                "appointment": appt.to_json(),
                "recipient": recipient,
                "rule": rule.to_json(),
                "due_at": due.due_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "late_by_seconds": late,
            }, now)
            email_status = sms_status = ""
            if rule.send_email:
                email_status = self._queue(view, MessageChannel.email, recipient["email"], due, recipient,
                                           event, now, notifier, report)
            if rule.send_sms:
                sms_status = self._queue(view, MessageChannel.sms, recipient["phone"], due, recipient,
                                         event, now, notifier, report)
            view.reminders_sent.add(ReminderSent(
                appointment_uid=appt.uid, rule_id=rule.id, recipient_group=rule.recipient,
                recipient_id=recipient["id"], sent_at=now, due_at=due.due_at, late_by_seconds=late,
                event_id=event.id, email_status=email_status, sms_status=sms_status,
            ))
            fired += 1
        return fired

    def _queue(self, view: TinyView, channel: MessageChannel, address: str, due: DueReminder,
               recipient: dict[str, str], event: Event, now: datetime, notifier: Notifier, report: TickReport) -> str:
        """Queue one email or SMS; returns the status recorded on the ReminderSent row."""
        if channel is MessageChannel.sms:
            try:
                address = normalize_mobile(address or "", allow_empty=True)
            except RxdeskError:
                address = ""
            if not address:
                return NO_MOBILE
            configured = notifier.sms_configured
        else:
            if not address:
                return NO_EMAIL
            configured = notifier.email_configured
        subject, body = self._text(view, due, recipient, short=channel is MessageChannel.sms)
        message = OutboxMessage(
            id=view.messages.new_id(), channel=channel, to=address, subject=subject, body=body,
            status=MessageStatus.pending if configured else MessageStatus.outbox, created_at=now,
            appointment_uid=due.appointment.uid, event_id=event.id,
            next_attempt_at=now if configured else None,
        )
        view.messages.put(message)
        if not configured:
            report.messages_outbox += 1
        return "queued" if configured else "outbox"

    def _text(self, view: TinyView, due: DueReminder, recipient: dict[str, str], *, short: bool) -> tuple[str, str]:
        org = view.org.get()
        tz = org.timezone if org else "UTC"
        appt = due.appointment
        when = format_local(appt.starts_at, tz)
        doctor = view.doctors.get(appt.doctor_id)
        doctor_name = doctor.name if doctor else appt.doctor_id
        subject = f"Reminder: {due.appointment_type.name} on {when} ({tz})"
        if short:
            return subject, f"Reminder: {due.appointment_type.name} with {doctor_name} on {when} ({tz}). {appt.room_url}".strip()
        body = (f"Hello {recipient['name']},\n\nthis is a reminder of the {due.appointment_type.name} "
                f"with {doctor_name} on {when} ({tz}).\n\nJoin the video call: {appt.room_url or '(link to follow)'}\n"
                f"Appointment: {appt.uid}\n")
        return subject, body

    def _fan_out(self, view: TinyView, now: datetime) -> int:
        """Every event after the cursor becomes one delivery per active subscription that wants
        its type and existed when it was created."""
        cursor = view.snap.counter(FANOUT_CURSOR)
        last = view.events.last_seq()
        if last <= cursor:
            return 0
        subs = [s for s in view.subscriptions.all() if s.active]
        if not subs:
            return 0
        made = 0
        by_appointment: dict[str, list[str]] = {}
        for seq, event in view.events.after(cursor, limit=FANOUT_BATCH):
            # A rebooking is about both appointments: each detail lists its delivery.
            uids = {(event.data.get(k) or {}).get("uid") for k in ("appointment", "previous")} - {None}
            for sub in subs:
                if event.type in sub.events and (sub.created_at is None or event.created_at >= sub.created_at):
                    delivery = Delivery(
                        id=view.deliveries.new_id(), event_id=event.id, event_type=event.type,
                        subscription_id=sub.id, url=sub.url, created_at=now, next_attempt_at=now,
                    )
                    view.deliveries.put(delivery)
                    for uid in uids:
                        by_appointment.setdefault(str(uid), []).append(delivery.id)
                    made += 1
            cursor = seq
        for uid, delivery_ids in by_appointment.items():
            view.deliveries.link_appointment(uid, delivery_ids)
        view.snap.set_counter(FANOUT_CURSOR, cursor)  # type: ignore[attr-defined]
        return made

    def _claim_deliveries(self, view: TinyView, now: datetime, report: TickReport) -> list[Claimed]:
        claimed: list[Claimed] = []
        secrets: dict[str, str] = {}
        lease_until = now + LEASE
        for delivery_id in view.deliveries.due(now, CLAIM_BATCH):
            delivery = view.deliveries.get(delivery_id)
            if delivery is None:
                continue
            sub = view.subscriptions.get(delivery.subscription_id)
            event = view.events.get(delivery.event_id)
            if sub is None or not sub.active or event is None:
                why = "the subscription was removed" if sub is None else (
                    "the subscription is inactive" if not sub.active else "the event is gone")
                view.deliveries.put(delivery.model_copy(update={
                    "status": DeliveryStatus.dead, "last_error": why, "next_attempt_at": None,
                    "lease_owner": "", "lease_until": None}))
                report.dead += 1
                continue
            if sub.id not in secrets:
                try:
                    secrets[sub.id] = self.desk.webhooks.secret_of(view, sub)
                except RxdeskError as exc:
                    # One subscription that cannot be signed for must not stop holds and reminders.
                    secrets[sub.id] = ""
                    report.problems.append(f"subscription {sub.id}: cannot sign deliveries: {exc}")
            if not secrets[sub.id]:
                view.deliveries.put(delivery.model_copy(update={
                    "next_attempt_at": now + SIGNING_PROBLEM_WAIT,
                    "last_error": "not sent: the signing secret does not decrypt with this master key"}))
                report.deferred += 1
                continue
            view.deliveries.put(delivery.model_copy(update={"lease_owner": self.lease_id, "lease_until": lease_until}))
            claimed.append(Claimed(delivery, sub.url, dict(sub.headers), secrets[sub.id], payload(event),
                                   sub.allow_private_network))
        return claimed

    def _claim_messages(self, view: TinyView, now: datetime) -> list[OutboxMessage]:
        claimed = []
        for message_id in view.messages.due(now, CLAIM_BATCH):
            message = view.messages.get(message_id)
            if message is None:
                continue
            leased = message.model_copy(update={"lease_owner": self.lease_id, "lease_until": now + LEASE})
            view.messages.put(leased)
            claimed.append(leased)
        return claimed

    # -- phase two: sending, outside the lock -------------------------------------------

    def _send_webhooks(self, claimed: list[Claimed], deadline: float) -> list[tuple[Claimed, AttemptResult | None]]:
        if not claimed:
            return []
        # One client per destination policy: a connection to a private address is never
        # reused for a subscription that may not reach it.
        with self.client(False) as public, self.client(True) as private:
            def attempt(item: Claimed) -> tuple[Claimed, AttemptResult | None]:
                if self.timer() > deadline:
                    return item, NOT_SENT
                client = private if item.allow_private else public
                try:
                    return item, post_signed(client, item.url, item.headers, item.secret, item.delivery.event_id,
                                             item.body, seconds=self.attempt_seconds)
                except Exception as exc:  # noqa: BLE001 - one bad delivery must not stop the others
                    return item, AttemptResult(False, None, f"could not send ({type(exc).__name__})")

            with ThreadPoolExecutor(max_workers=min(self.senders, len(claimed))) as pool:
                return list(pool.map(attempt, claimed))

    def _send_messages(self, claimed: list[OutboxMessage], notifier: Notifier,
                       deadline: float) -> list[tuple[OutboxMessage, str | None]]:
        """Emails over a few shared SMTP connections, SMS over one HTTP client, concurrently."""
        if not claimed:
            return []
        emails = [m for m in claimed if m.channel is MessageChannel.email]
        texts = [m for m in claimed if m.channel is MessageChannel.sms]
        lanes = [lane for lane in (emails[i::MAIL_CONNECTIONS] for i in range(MAIL_CONNECTIONS)) if lane]

        def outcome(message: OutboxMessage, send: Callable[[], None]) -> tuple[OutboxMessage, str | None]:
            if self.timer() > deadline:
                return message, NOT_SENT
            # Read again right before sending: a message that waited for a retry must not
            # reach anyone once its appointment is cancelled or has started.
            skipped = skip_reason(self.desk.store.read().appointments.get(message.appointment_uid),
                                  self.desk.clock.now()) if message.appointment_uid else None
            if skipped:
                return message, skipped
            try:
                send()
            except SendFailed as exc:
                return message, str(exc)
            except Exception as exc:  # noqa: BLE001 - one bad message must not stop the others
                return message, f"could not send ({type(exc).__name__})"
            return message, ""

        def email_lane(lane: list[OutboxMessage]) -> list[tuple[OutboxMessage, str | None]]:
            with notifier.mail_session() as session:
                return [outcome(m, lambda m=m: session.send(m.to, m.subject, m.body)) for m in lane]

        with notifier.sms_client() as client, ThreadPoolExecutor(max_workers=self.senders) as pool:
            mail = [pool.submit(email_lane, lane) for lane in lanes]
            sms = [pool.submit(outcome, m, lambda m=m: notifier.send_sms(m.to, m.body, client)) for m in texts]
            return [r for f in mail for r in f.result()] + [f.result() for f in sms]

    # -- phase three: the results, in one write ------------------------------------------

    def _record(self, view: TinyView, now: datetime, results: list[tuple[Claimed, AttemptResult | None]],
                sent: list[tuple[OutboxMessage, str | None]], report: TickReport) -> None:
        for item, result in results:
            current = view.deliveries.get(item.delivery.id)
            if current is None or current.status is not DeliveryStatus.pending or current.lease_owner != self.lease_id:
                continue  # our lease ran out and another runner took it over
            if result is NOT_SENT:
                view.deliveries.put(current.model_copy(update={"lease_owner": "", "lease_until": None}))
                report.deferred += 1
                continue
            attempts = current.attempts + 1
            update: dict[str, Any] = {
                "attempts": attempts, "last_attempt_at": now, "last_status_code": result.status_code,
                "last_error": result.error, "response_excerpt": result.excerpt, "lease_owner": "", "lease_until": None,
            }
            if result.ok:
                update.update(status=DeliveryStatus.delivered, delivered_at=now, next_attempt_at=None)
                report.delivered += 1
            elif result.gone:
                update.update(status=DeliveryStatus.dead, next_attempt_at=None,
                              last_error=f"{result.error}: the receiver asked to stop; subscription deactivated")
                self._deactivate(view, current.subscription_id, now)
                report.dead += 1
            elif attempts > len(RETRY_AFTER):
                update.update(status=DeliveryStatus.dead, next_attempt_at=None)
                report.dead += 1
            else:
                wait = result.retry_after if result.retry_after is not None else RETRY_AFTER[attempts - 1]
                update.update(next_attempt_at=now + wait)
                report.retrying += 1
            view.deliveries.put(current.model_copy(update=update))
        for message, error in sent:
            current = view.messages.get(message.id)
            if current is None or current.status is not MessageStatus.pending or current.lease_owner != self.lease_id:
                continue
            if error is NOT_SENT:
                view.messages.put(current.model_copy(update={"lease_owner": "", "lease_until": None}))
                report.deferred += 1
                continue
            if error.startswith(SKIPPED):
                view.messages.put(current.model_copy(update={
                    "status": MessageStatus.skipped, "last_error": error, "next_attempt_at": None,
                    "lease_owner": "", "lease_until": None}))
                self._note_on_reminder(view, current, error)
                report.messages_skipped += 1
                continue
            attempts = current.attempts + 1
            update = {"attempts": attempts, "lease_owner": "", "lease_until": None, "last_error": error}
            if not error:
                update.update(status=MessageStatus.sent, sent_at=now, next_attempt_at=None)
                report.messages_sent += 1
            elif attempts > len(MESSAGE_RETRY):
                update.update(status=MessageStatus.failed, next_attempt_at=None)
                report.messages_failed += 1
                report.problems.append(f"{current.channel.value} to {current.to}: {error}")
            else:
                update.update(next_attempt_at=now + MESSAGE_RETRY[attempts - 1])
            view.messages.put(current.model_copy(update=update))

    @staticmethod
    def _note_on_reminder(view: TinyView, message: OutboxMessage, status: str) -> None:
        """The reminder's ReminderSent row says what became of its email or SMS."""
        event = view.events.get(message.event_id) if message.event_id else None
        if event is None:
            return
        rule, recipient = event.data.get("rule") or {}, event.data.get("recipient") or {}
        rows = [r for r in view.reminders_sent.for_appointment(message.appointment_uid)
                if r.rule_id == rule.get("id") and r.recipient_id == recipient.get("id")
                and r.recipient_group.value == recipient.get("group")]
        field = "email_status" if message.channel is MessageChannel.email else "sms_status"
        for row in rows:
            view.reminders_sent.update(row.model_copy(update={field: status}))

    def _deactivate(self, view: TinyView, sub_id: str, now: datetime) -> None:
        sub = view.subscriptions.get(sub_id)
        if sub is None or not sub.active:
            return
        view.subscriptions.put(sub.model_copy(update={"active": False}))
        record(view, at=now, actor=self.actor, action="subscription.deactivate", target=subscription_target(sub_id),
               details={"reason": "the receiver answered 410 Gone"})
