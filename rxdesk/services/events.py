"""The event log. Every event is appended in the same store write as its cause.

Webhook deliveries are not made here: the maintenance tick reads the log after its cursor and
fans each event out to the subscriptions that want it, so an event written by any process
(the app, the CLI, a partner's booking call) reaches the subscribers the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from rxdesk.domain.enums import EventType
from rxdesk.store.protocols import UnitOfWork

if TYPE_CHECKING:
    from rxdesk.domain.models import Appointment, Event


def publish(view: UnitOfWork, type: EventType, data: dict[str, Any], at: datetime) -> Event:
    return view.events.append(type, data, at)


def appointment_data(appt: Appointment, **extra: Any) -> dict[str, Any]:
    return {"appointment": appt.to_json(), **extra}
