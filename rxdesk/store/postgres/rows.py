"""Models to rows and back: one column a field, named as the field (DESIGN's names)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from rxdesk.domain.enums import AppointmentStatus
from rxdesk.domain.queries import APPOINTMENT_FIELDS, APPOINTMENT_INSTANTS, entity

if TYPE_CHECKING:  # the models are imported where a row is first made one: a listing needs none
    from rxdesk.domain.models import Appointment, Entity

_STATUS = {s.value: s for s in AppointmentStatus}
# Each table's columns, one a field, named and ordered as the model's fields (a test holds them
# to `model_fields`): spelled out so that loading the store loads neither pydantic nor the models.
APPOINTMENT_COLUMNS = APPOINTMENT_FIELDS
REMINDER_COLUMNS = ("appointment_uid", "rule_id", "recipient_group", "recipient_id", "sent_at", "due_at",
                    "late_by_seconds", "event_id", "email_status", "sms_status", "email_message_id", "sms_message_id")
PATIENT_COLUMNS = ("id", "name", "email", "phone", "external_id")
DELIVERY_COLUMNS = ("id", "event_id", "event_type", "subscription_id", "url", "status", "attempts", "created_at",
                    "next_attempt_at", "last_attempt_at", "delivered_at", "last_status_code", "last_error",
                    "response_excerpt", "lease_id", "lease_until")
MESSAGE_COLUMNS = ("id", "channel", "to", "subject", "body", "status", "created_at", "appointment_uid", "event_id",
                   "attempts", "next_attempt_at", "sent_at", "last_error", "lease_id", "lease_until")


# The model of every appointment row (a listing makes thousands), imported with the first.
_appointment_model: Callable[[], type[Appointment]] = entity("Appointment")


def params(item: Entity, columns: Sequence[str]) -> list[Any]:
    """The values of `columns`, as the driver takes them (enums as their value)."""
    out = []
    for name in columns:
        value = getattr(item, name)
        out.append(value.value if isinstance(value, Enum) else value)
    return out


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)


def appointment(row: dict[str, Any]) -> Appointment:
    """An Appointment from its row without re-validating it: every row was validated on its
    way in, and the constraints hold the rest (a listing builds thousands)."""
    data = {name: row[name] for name in APPOINTMENT_COLUMNS if name in row}
    for name in APPOINTMENT_INSTANTS:
        if name in data:
            data[name] = _utc(data[name])
    data["status"] = _STATUS[data["status"]]
    return _appointment_model().model_construct(**data)


def pick(columns: Sequence[str], row: dict[str, Any]) -> dict[str, Any]:
    """The row's values of a model's fields, `columns` (a row may have columns of its own)."""
    return {name: row[name] for name in columns if name in row}
