"""Emails and SMS of reminders: queued with the reminder, sent outside the lock, retried.

A message is `pending` when its transport is configured (the tick sends it, retrying after
MESSAGE_RETRY_SCHEDULE; after the last it has `failed`), or `outbox` when not: it stays in the
local outbox that the app and `rxdesk outbox list` show. A recipient without an address gets
a recorded skip on the reminder, never a message.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.models import MessageChannel, MessageStatus, OutboxMessage
from rxdesk.domain.phones import normalize_mobile
from rxdesk.domain.sending import SKIPPED
from rxdesk.services import leases
from rxdesk.services.notify import Notifier, SendFailed
from rxdesk.store.protocols import UnitOfWork

MESSAGE_RETRY_SCHEDULE = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
MAIL_CONNECTIONS = 4  # SMTP connections a tick sends its emails over, each reused for many
NO_MOBILE = "skipped: no mobile number"
NO_EMAIL = "skipped: no email address"
QUEUED = "queued"
IN_OUTBOX = "outbox"


class Outcome(StrEnum):
    sent = "sent"
    retrying = "retrying"
    failed = "failed"
    skipped = "skipped"  # the appointment was no longer confirmed, or had started, when it was due
    not_sent = "not_sent"  # the send window closed before the attempt started: back in the queue
    taken_over = "taken_over"  # our lease ran out and another runner has it


def queue(view: UnitOfWork, channel: MessageChannel, address: str, subject: str, body: str, *,
          appointment_uid: str, event_id: str, now: datetime, notifier: Notifier) -> str:
    """Queue one email or SMS; returns what the reminder records: QUEUED, IN_OUTBOX (no
    transport configured) or why nothing was queued (NO_MOBILE, NO_EMAIL)."""
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
    view.messages.put(OutboxMessage(
        id=view.messages.new_id(), channel=channel, to=address, subject=subject, body=body,
        status=MessageStatus.pending if configured else MessageStatus.outbox, created_at=now,
        appointment_uid=appointment_uid, event_id=event_id, next_attempt_at=now if configured else None,
    ))
    return QUEUED if configured else IN_OUTBOX


def claim(view: UnitOfWork, now: datetime, *, lease_id: str, limit: int) -> list[OutboxMessage]:
    """Lease the due messages to `lease_id`."""
    claimed = [leases.claimed(message, lease_id, now) for message in view.messages.due(now, limit)]
    for message in claimed:
        view.messages.put(message)
    return claimed


def send(claimed: list[OutboxMessage], notifier: Notifier, *, senders: int, started_in_time: Callable[[], bool],
         recheck: Callable[[OutboxMessage], str | None]) -> list[tuple[OutboxMessage, str | None]]:
    """Emails over a few shared SMTP connections, SMS over one HTTP client, concurrently.
    Right before each send `recheck(message)` may say why it must not go out any more
    (`domain.sending`). Each result: "" sent, a one-line error or skip, or None when the send
    window had closed."""
    if not claimed:
        return []
    emails = [m for m in claimed if m.channel is MessageChannel.email]
    texts = [m for m in claimed if m.channel is MessageChannel.sms]
    lanes = [lane for lane in (emails[i::MAIL_CONNECTIONS] for i in range(MAIL_CONNECTIONS)) if lane]

    def attempt(message: OutboxMessage, deliver: Callable[[], None]) -> tuple[OutboxMessage, str | None]:
        if not started_in_time():
            return message, None
        skipped = recheck(message)
        if skipped:
            return message, skipped
        try:
            deliver()
        except SendFailed as exc:
            return message, str(exc)
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the others
            return message, f"could not send ({type(exc).__name__})"
        return message, ""

    def email_lane(lane: list[OutboxMessage]) -> list[tuple[OutboxMessage, str | None]]:
        with notifier.mail_session() as session:
            return [attempt(m, functools.partial(session.send, m.to, m.subject, m.body)) for m in lane]

    with notifier.sms_client() as client, ThreadPoolExecutor(max_workers=senders) as pool:
        mail = [pool.submit(email_lane, lane) for lane in lanes]
        sms = [pool.submit(attempt, m, functools.partial(notifier.send_sms, m.to, m.body, client)) for m in texts]
        return [r for f in mail for r in f.result()] + [f.result() for f in sms]


def outcome(current: OutboxMessage | None, error: str | None, now: datetime,
            lease_id: str) -> tuple[OutboxMessage | None, Outcome]:
    """The message after one attempt, by the retry policy, and what happened to it."""
    current = leases.held_by(current, lease_id)
    if current is None:
        return None, Outcome.taken_over
    if error is None:
        return leases.released(current), Outcome.not_sent
    if error.startswith(SKIPPED):
        return leases.released(current).model_copy(update={
            "status": MessageStatus.skipped, "last_error": error, "next_attempt_at": None}), Outcome.skipped
    attempts = current.attempts + 1
    update: dict[str, Any] = {"attempts": attempts, "lease_id": "", "lease_until": None, "last_error": error}
    if not error:
        update.update(status=MessageStatus.sent, sent_at=now, next_attempt_at=None)
        happened = Outcome.sent
    elif attempts > len(MESSAGE_RETRY_SCHEDULE):
        update.update(status=MessageStatus.failed, next_attempt_at=None)
        happened = Outcome.failed
    else:
        update.update(next_attempt_at=now + MESSAGE_RETRY_SCHEDULE[attempts - 1])
        happened = Outcome.retrying
    return current.model_copy(update=update), happened


def note_on_reminder(view: UnitOfWork, message: OutboxMessage, status: str) -> None:
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
