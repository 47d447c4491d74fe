"""Models to rows and back: one column a field, named as the field (DESIGN's names)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any

from rxdesk.domain.models import Appointment, AppointmentStatus, Entity

_STATUS = {s.value: s for s in AppointmentStatus}
_FIELDS = tuple(Appointment.model_fields)
# The appointment's instants (the columns of type timestamptz).
APPOINTMENT_INSTANTS = ("starts_at", "ends_at", "created_at", "hold_expires_at", "confirmed_at", "cancelled_at",
                        "attendance_at")


def fields(model: type[Entity]) -> list[str]:
    return list(model.model_fields)


def params(item: Entity, columns: list[str]) -> list[Any]:
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
    data = {name: row[name] for name in _FIELDS if name in row}
    for name in APPOINTMENT_INSTANTS:
        if name in data:
            data[name] = _utc(data[name])
    data["status"] = _STATUS[data["status"]]
    return Appointment.model_construct(**data)


def pick(model: type[Entity], row: dict[str, Any]) -> dict[str, Any]:
    """The row's values of the model's fields (a row may have columns of its own)."""
    return {name: row[name] for name in model.model_fields if name in row}
