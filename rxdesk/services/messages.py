"""Emails and SMS of reminders: queued with the reminder, sent outside the lock, retried,
never sent twice.

A message is `pending` when its transport is configured (the tick sends it, retrying after
MESSAGE_RETRY_SCHEDULE; after the last it has `failed`), or `outbox` when not: it stays in the
local outbox that the app and `rxdesk outbox list` show. A recipient without an address gets
a recorded skip on the reminder, never a message.

Sent once: the claim that leases a message to a runner is written before the send. If the
runner never writes down what became of it (killed, or its results write failed for good),
the next claim finds the lease run out and marks the message `unknown` instead of sending it
again. The SMS gateway gets an `Idempotency-Key` and SMTP a `Message-ID`, both the same on
every retry of one message (`domain.sending.message_key`).

The message is the one place its state is kept: a reminder's row names its messages, and what
it shows is read from them (`domain.sending.with_message_states`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.models import MessageChannel, MessageStatus, OutboxMessage
from rxdesk.domain.phones import normalize_mobile
from rxdesk.domain.reminder_text import MessageText, html_alternative
from rxdesk.domain.rules import email_refusal
from rxdesk.domain.sending import SKIPPED, UNKNOWN, message_id_header, message_key
from rxdesk.services import leases, retries
from rxdesk.services.notify import Notifier, SendFailed, SendUnknown
from rxdesk.store.protocols import UnitOfWork

MESSAGE_RETRY_SCHEDULE = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
MAIL_CONNECTIONS = 4  # SMTP connections a tick sends its emails over, each reused for many
NO_MOBILE = "skipped: no mobile number"
NO_EMAIL = "skipped: no email address"
# A stored address an older version took, which names no single recipient (`rules.email_refusal`).
BAD_EMAIL = "skipped: not a valid email address"
QUEUED = "queued"
IN_OUTBOX = "outbox"
NOT_RECORDED = "sending began and its result was never written down; not sent again"


class Outcome(StrEnum):
    sent = "sent"
    retrying = "retrying"
    failed = "failed"
    skipped = "skipped"  # the appointment was no longer confirmed, or had started, when it was due
    not_sent = "not_sent"  # the send window closed before the attempt started: back in the queue
    unknown = "unknown"  # handed over without a complete answer: never sent again by itself
    taken_over = "taken_over"  # our lease ran out and another runner has it


@dataclass(frozen=True)
class Queued:
    """What a reminder records of one channel: a skip reason (nothing queued), or the message."""

    skipped: str = ""
    message_id: str = ""
    to_outbox: bool = False


def queue(view: UnitOfWork, channel: MessageChannel, address: str, text: MessageText, *,
          appointment_uid: str, event_id: str, now: datetime, notifier: Notifier) -> Queued:
    """Queue one email or SMS (`pending` when its transport is configured, else `outbox`), or
    say why nothing was queued (NO_MOBILE, NO_EMAIL)."""
    if channel is MessageChannel.sms:
        try:
            address = normalize_mobile(address or "", allow_empty=True)
        except RxdeskError:
            address = ""
        if not address:
            return Queued(skipped=NO_MOBILE)
        configured = notifier.sms_configured
    else:
        if not address:
            return Queued(skipped=NO_EMAIL)
        if email_refusal(address):
            return Queued(skipped=BAD_EMAIL)
        configured = notifier.email_configured
    message = OutboxMessage(
        id=view.messages.new_id(), channel=channel, to=address, subject=text.subject, body=text.body,
        status=MessageStatus.pending if configured else MessageStatus.outbox, created_at=now,
        appointment_uid=appointment_uid, event_id=event_id, next_attempt_at=now if configured else None,
    )
    view.messages.put(message)
    return Queued(message_id=message.id, to_outbox=not configured)


@dataclass
class Claimed:
    messages: list[OutboxMessage]
    unknown: int = 0  # leased before, never recorded: marked unknown, not sent again


def claim(view: UnitOfWork, now: datetime, *, lease_id: str, limit: int) -> Claimed:
    """Lease the due messages to `lease_id`. One whose earlier lease ran out without a
    recorded result may have gone out: it becomes `unknown` (keeping that lease id, so its
    runner may still record what it knows), never sent again by itself."""
    claimed = Claimed([])
    for message in view.messages.due(now, limit):
        if message.lease_id:
            view.messages.put(message.model_copy(update={
                "status": MessageStatus.unknown, "next_attempt_at": None, "lease_until": None,
                "last_error": NOT_RECORDED}))
            claimed.unknown += 1
            continue
        leased = leases.claimed(message, lease_id, now)
        view.messages.put(leased)
        claimed.messages.append(leased)
    return claimed


def send(claimed: list[OutboxMessage], notifier: Notifier, *, senders: int, started_in_time: Callable[[], bool],
         recheck: Callable[[OutboxMessage], str | None]) -> list[tuple[OutboxMessage, str | None]]:
    """Emails over a few shared SMTP connections, SMS over one HTTP client, concurrently.
    Right before each send `recheck(message)` may say why it must not go out any more
    (`domain.sending`). Each result: "" sent, a one-line error or skip, `unknown: …` when it
    was handed over without a complete answer, or None when the send window had closed."""
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
        if message.channel is MessageChannel.email and email_refusal(message.to):
            return message, BAD_EMAIL  # queued by an older version that took it
        try:
            deliver()
        except SendUnknown as exc:
            return message, f"{UNKNOWN}{exc}"
        except SendFailed as exc:
            return message, str(exc)
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the others
            return message, f"could not send ({type(exc).__name__})"
        return message, ""

    def email_lane(lane: list[OutboxMessage]) -> list[tuple[OutboxMessage, str | None]]:
        with notifier.mail_session() as session:
            return [attempt(m, functools.partial(
                session.send, m.to, m.subject, m.body, html=html_alternative(m.body),
                message_id=message_id_header(m, notifier.mail_from))) for m in lane]

    with notifier.sms_client() as client, ThreadPoolExecutor(max_workers=senders) as pool:
        mail = [pool.submit(email_lane, lane) for lane in lanes]
        sms = [pool.submit(attempt, m, functools.partial(notifier.send_sms, m.to, m.body, client,
                                                         idempotency_key=message_key(m))) for m in texts]
        return [r for f in mail for r in f.result()] + [f.result() for f in sms]


def outcome(current: OutboxMessage | None, error: str | None, now: datetime,
            lease_id: str) -> tuple[OutboxMessage | None, Outcome]:
    """The message after one attempt, by the retry policy (`retries.settle`), and what
    happened to it. `error`: "" sent, a skip (`skipped: …`, final and no attempt), handed over
    without an answer (`unknown: …`, final), a failure, or None when the attempt never started."""
    skipped = bool(error) and str(error).startswith(SKIPPED)
    unknown = bool(error) and str(error).startswith(UNKNOWN)
    tried = None if error is None else retries.Tried(not error, final=skipped or unknown, counts=not skipped)
    settled, step = retries.settle(current, tried, now, lease_id, MESSAGE_RETRY_SCHEDULE)
    if settled is None:
        return None, Outcome.taken_over
    if error is None:  # never attempted: certainly not sent, so back in the queue even if marked unknown
        return settled.model_copy(update={"status": MessageStatus.pending,
                                          "next_attempt_at": settled.next_attempt_at or now}), Outcome.not_sent
    if skipped:
        return settled.model_copy(update={"status": MessageStatus.skipped, "last_error": error}), Outcome.skipped
    if unknown:
        return settled.model_copy(update={"status": MessageStatus.unknown,
                                          "last_error": str(error).removeprefix(UNKNOWN)}), Outcome.unknown
    if step is retries.Step.succeeded:
        return settled.model_copy(update={"status": MessageStatus.sent, "sent_at": now, "last_error": ""}), \
            Outcome.sent
    if step is retries.Step.gave_up:
        return settled.model_copy(update={"status": MessageStatus.failed, "last_error": error}), Outcome.failed
    return settled.model_copy(update={"status": MessageStatus.pending, "last_error": error}), Outcome.retrying
