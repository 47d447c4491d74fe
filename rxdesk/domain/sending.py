"""A queued reminder email or SMS: whether it may still go out, the key that makes it one
message however often it is tried, and the state an agent is shown.

A message is queued when its reminder fires; it may wait for a retry (the SMTP server was
down) while the appointment is cancelled, rebooked away or starts. Sent then, a patient and a
doctor would get "Join the video call" for an appointment that is not happening, or after it
began. So the appointment is read again right before each send.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from email.utils import parseaddr
from typing import TYPE_CHECKING

from rxdesk.domain.enums import AppointmentStatus, MessageStatus
from rxdesk.domain.reminders import format_lateness
from rxdesk.domain.times import format_utc

if TYPE_CHECKING:
    from rxdesk.domain.models import Appointment, OutboxMessage, ReminderSent

SKIPPED = "skipped: "
# An attempt's result when the message was handed over and no complete answer came.
UNKNOWN = "unknown: "
# Names every message key: uuid5 over what never changes in a stored message.
_KEYS = uuid.UUID("6f1d2c1e-3b7a-5c8e-9a4d-2e5f7b9c0d13")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def skip_reason(appointment: Appointment | None, now: datetime) -> str | None:
    """`skipped: appointment cancelled` (or its status), `skipped: appointment started`, or
    None when the message may go out."""
    if appointment is None:
        return f"{SKIPPED}appointment not found"
    if appointment.status is not AppointmentStatus.confirmed:
        return f"{SKIPPED}appointment {appointment.status.value}"
    if now >= appointment.starts_at:
        return f"{SKIPPED}appointment started"
    return None


def message_key(message: OutboxMessage) -> str:
    """The same for every attempt of one message and different for every other: the SMS
    gateway's `Idempotency-Key` and the local part of the email's `Message-ID`, so a receiver
    that saw an attempt recognises the retry."""
    stable = f"{message.id}|{format_utc(message.created_at)}|{message.channel.value}|{message.to}"
    return str(uuid.uuid5(_KEYS, stable))


def message_id_header(message: OutboxMessage, mail_from: str) -> str:
    """`<key@domain>`: the domain of the From address (RFC 5322 asks for one the sender owns)."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2]
    if not _DOMAIN.fullmatch(domain):
        domain = "rxdesk.invalid"
    return f"<{message_key(message)}@{domain}>"


def message_state(message: OutboxMessage) -> str:
    """What became of a message, in one word (a skip with its reason): `queued`, `sending` (a
    worker holds it: it is being sent, or its worker stopped and the next claim will say),
    `retrying`, `sent`, `failed`, `unknown` (it may have gone out: not sent again by itself),
    `outbox` (no transport configured) or `skipped: …`. The reminder rows, the outbox and
    the attention queue all show this, read from the message itself."""
    if message.status is MessageStatus.pending:
        if message.lease_id:
            return "sending"
        return "retrying" if message.attempts else "queued"
    if message.status is MessageStatus.skipped:
        return message.last_error if message.last_error.startswith(SKIPPED) else "skipped"
    return message.status.value


def message_detail(message: OutboxMessage) -> str:
    """`message_state` with the reason an agent needs: the last error of a retry or failure,
    what `unknown` means."""
    state = message_state(message)
    if message.status is MessageStatus.unknown:
        why = message.last_error or "sending began but was not recorded; not sent again"
        return f"unknown: {why} (ask the recipient)"
    if state in ("retrying", "failed") and message.last_error:
        return f"{state}: {message.last_error}"
    return state


def with_message_states(rows: Sequence[ReminderSent],
                        message: Callable[[str], OutboxMessage | None]) -> list[ReminderSent]:
    """The reminder rows with `email_status` / `sms_status` read from their messages (the
    one source of truth; `message(id)` reads one); a row without a message keeps what it
    recorded (a skip, or the status of a row stored before rows named their messages)."""
    shown = []
    for row in rows:
        update = {}
        for field, message_id in (("email_status", row.email_message_id), ("sms_status", row.sms_message_id)):
            found = message(message_id) if message_id else None
            if found is not None:
                update[field] = message_state(found)
        shown.append(row.model_copy(update=update) if update else row)
    return shown


def reminder_outcome(row: ReminderSent) -> str:
    """How a fired reminder is shown beside its rule and recipient (the app's appointment page
    and `appointments show`): ` · 29 h late · email sent · SMS skipped: no mobile number`."""
    parts = [format_lateness(row.late_by_seconds)]
    parts += [f"{name} {state}" for name, state in (("email", row.email_status), ("SMS", row.sms_status)) if state]
    return "".join(f" · {part}" for part in parts if part)
