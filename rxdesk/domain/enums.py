"""The entities' enumerations and the keys made from their fields, without pydantic.

`domain.models` builds the entities on them and names them too; reads that never make an
entity (the overview's listing, the store's counts) import them from here, so the app draws
its first rows without loading pydantic.
"""

from __future__ import annotations

from enum import StrEnum


class AppointmentStatus(StrEnum):
    held = "held"
    confirmed = "confirmed"
    cancelled = "cancelled"
    expired = "expired"
    completed = "completed"
    no_show = "no_show"


class RebookingMode(StrEnum):
    same_doctor = "same_doctor"
    any_doctor = "any_doctor"


class RecipientGroup(StrEnum):
    patient = "patient"
    doctor = "doctor"
    admin = "admin"


class EventType(StrEnum):
    APPOINTMENT_REMINDER_DUE = "APPOINTMENT_REMINDER_DUE"
    APPOINTMENT_CANCELLED = "APPOINTMENT_CANCELLED"
    APPOINTMENT_REBOOKED = "APPOINTMENT_REBOOKED"
    APPOINTMENT_HOLD_EXPIRED = "APPOINTMENT_HOLD_EXPIRED"
    APPOINTMENT_CONFIRMED = "APPOINTMENT_CONFIRMED"
    APPOINTMENT_COMPLETED = "APPOINTMENT_COMPLETED"
    APPOINTMENT_NO_SHOW = "APPOINTMENT_NO_SHOW"
    APPOINTMENT_ROOM_CHANGED = "APPOINTMENT_ROOM_CHANGED"
    APPOINTMENT_HELD = "APPOINTMENT_HELD"


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    dead = "dead"


class MessageChannel(StrEnum):
    email = "email"
    sms = "sms"


class MessageStatus(StrEnum):
    pending = "pending"  # to be sent by the worker (SMTP or the SMS gateway is configured)
    sent = "sent"
    failed = "failed"  # gave up after the last retry
    outbox = "outbox"  # nothing configured: kept in the local outbox for the app to show
    skipped = "skipped"  # not sent: the appointment was no longer confirmed, or had started
    # Its sending began and was never written down (the runner stopped): never sent again by itself.
    unknown = "unknown"


def reminder_key(uid: str, rule_id: str, group: str, recipient_id: str) -> str:
    return f"{uid}|{rule_id}|{group}|{recipient_id}"


def appointment_target(uid: str) -> str:
    return f"appointment:{uid}"
