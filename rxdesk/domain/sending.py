"""Whether a queued reminder email or SMS may still go out, decided at the moment it is sent.

A message is queued when its reminder fires; it may wait for a retry (the SMTP server was
down) while the appointment is cancelled, rebooked away or starts. Sent then, a patient and a
doctor would get "Join the video call" for an appointment that is not happening, or after it
began. So the appointment is read again right before each send.
"""

from __future__ import annotations

from datetime import datetime

from rxdesk.domain.models import Appointment, AppointmentStatus

SKIPPED = "skipped: "


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
