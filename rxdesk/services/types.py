"""Appointment types: the list and one type (their reminder rules: `reminders`)."""

from __future__ import annotations

from rxdesk.domain.models import AppointmentType
from rxdesk.services.base import Service


class TypeService(Service):
    def list_types(self) -> list[AppointmentType]:
        with self.store.read() as view:
            return view.types.all()

    def get(self, key: str) -> AppointmentType:
        with self.store.read() as view:
            return view.types.require(key)
