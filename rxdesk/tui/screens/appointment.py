"""One appointment: every field, the room, the rebook chain both ways, reminders, audit."""

from __future__ import annotations

from datetime import datetime

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from rxdesk.domain.models import Appointment
from rxdesk.domain.sending import reminder_outcome
from rxdesk.domain.times import format_local, zone
from rxdesk.resources import stylesheet
from rxdesk.services.appointments import AppointmentDetail
from rxdesk.tui.navigation import OpenBooking, OpenDoctor, OpenPatient, OpenRebook, StartAttendance, StartCancel
from rxdesk.tui.screens.base import DetailScreen
from rxdesk.tui.text import fields_grid
from rxdesk.tui.widgets.tables import APPOINTMENT_KEYS, AppointmentTable
from rxdesk.tui.work import call_service


class AppointmentScreen(DetailScreen):
    CSS_PATH = stylesheet("appointment")

    SECTION = "overview"
    TITLE_TEXT = "Appointment"

    BINDINGS = [*APPOINTMENT_KEYS]

    COMPONENT_CLASSES = AppointmentTable.COMPONENT_CLASSES

    def __init__(self, uid: str) -> None:
        super().__init__()
        self.uid = uid
        self.detail: AppointmentDetail | None = None

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="appointment-body"):
            yield Static(f"Loading {self.uid}…", id="appointment-main", classes="panel", markup=False)
            yield Static("", id="appointment-chain", classes="panel", markup=False)
            yield Static("", id="appointment-reminders", classes="panel", markup=False)
            yield Static("", id="appointment-audit", classes="panel", markup=False)

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        desk = self.desk
        call_service(
            self,
            lambda: (desk.appointments.show(self.uid), desk.org().timezone),
            done=lambda result: self._show(*result),
            group="appointment",
        )

    def _show(self, detail: AppointmentDetail, tz: str) -> None:
        self.detail = detail
        appt = detail.appointment

        def local(value: datetime | None) -> str:
            return format_local(value, tz) if value else "—"

        if detail.in_progress:  # the status as the lists show it, and until when
            until = appt.ends_at.astimezone(zone(tz))
            status = Text(f"{appt.status.value} · in progress until {until:%H:%M}",
                          self.get_component_rich_style("status--in_progress", partial=True))
        else:
            status = Text(appt.status.value,
                          self.get_component_rich_style(f"status--{appt.status.value}", partial=True))
        rows: list[tuple[str, str | Text]] = [
            ("UID", appt.uid),
            ("Status", status),
            ("Starts", f"{local(appt.starts_at)}  ({tz})"),
            ("Ends", local(appt.ends_at)),
            ("Patient", f"{detail.patient.name} ({appt.patient_id})" if detail.patient else appt.patient_id),
            ("Doctor", f"{detail.doctor.name} ({appt.doctor_id})" if detail.doctor else appt.doctor_id),
            ("Type", f"{detail.type.name} ({appt.type_key})" if detail.type else appt.type_key),
            ("Room", appt.room_url or "—"),
            ("Created", local(appt.created_at) + (f" by {appt.created_by}" if appt.created_by else "")),
        ]
        if appt.confirmed_at:
            rows.append(("Confirmed", local(appt.confirmed_at)))
        if appt.hold_expires_at:
            rows.append(("Hold expires", local(appt.hold_expires_at)))
        if appt.cancelled_at:
            rows.append(("Cancelled", f"{local(appt.cancelled_at)} by {appt.cancelled_by or '—'}"))
        if appt.cancel_reason:
            rows.append(("Reason", appt.cancel_reason))
        if appt.attendance_at:
            rows.append(("Attendance", f"{appt.status.value}, marked {local(appt.attendance_at)} by "
                                       f"{appt.attendance_by or '—'}"))
            rows.append(("Note", appt.attendance_note or "—"))
        if detail.cancel_refusal:
            rows.append(("Cannot cancel", detail.cancel_refusal))
        self.query_one("#appointment-main", Static).update(fields_grid(rows))
        self.query_one("#appointment-chain", Static).update(self._chain(detail, tz))
        self.query_one("#appointment-reminders", Static).update(self._reminders(detail, tz))
        self.query_one("#appointment-audit", Static).update(self._audit(detail, tz))
        if detail.as_of is not None:
            self.follow_time([detail.next_change], detail.as_of)

    def _chain(self, detail: AppointmentDetail, tz: str) -> Table | str:
        if not detail.previous_chain and not detail.next_chain:
            return "Rebook chain: none (this appointment was not rebooked from or to another)"
        rows: list[tuple[str, str | Text]] = []

        def line(appt: Appointment) -> str:
            return f"{appt.uid}  {format_local(appt.starts_at, tz)}  {appt.status.value}"

        for appt in reversed(detail.previous_chain):
            rows.append(("rebooked from", line(appt)))
        rows.append(("this", line(detail.appointment)))
        for appt in detail.next_chain:
            rows.append(("rebooked to", line(appt)))
        return fields_grid(rows, "Rebook chain (oldest first)")

    def _reminders(self, detail: AppointmentDetail, tz: str) -> Table | str:
        parts: list[tuple[str, str | Text]] = []
        for sent in detail.reminders_sent:
            who = f"{sent.recipient_group.value} {sent.recipient_id} · rule {sent.rule_id}"
            parts.append((format_local(sent.sent_at, tz), who + reminder_outcome(sent)))
        for d in detail.deliveries:
            when = format_local(d.last_attempt_at, tz) if d.last_attempt_at else "not sent yet"
            error = f" · {d.last_error}" if d.last_error else ""
            parts.append((when, f"webhook {d.event_type.value} → {d.url} · {d.status.value}, "
                                f"{d.attempts} attempt{'s' if d.attempts != 1 else ''}{error}"))
        if not parts:
            return "Reminders and webhooks: none sent yet"
        return fields_grid(parts, "Reminders and webhook deliveries")

    def _audit(self, detail: AppointmentDetail, tz: str) -> Table | str:
        if not detail.audit:
            return "Audit: no changes recorded"
        rows: list[tuple[str, str | Text]] = []
        for entry in detail.audit:
            details = ", ".join(f"{k}: {v}" for k, v in entry.details.items())
            rows.append((format_local(entry.at, tz), f"{entry.actor}  {entry.action}  {details}"))
        return fields_grid(rows, "Audit")

    def action_cancel_appointment(self) -> None:
        self.post_message(StartCancel(self.uid))  # the app reloads the screen in front once it is saved

    def action_attendance(self) -> None:
        self.post_message(StartAttendance(self.uid))

    def action_rebook(self) -> None:
        self.post_message(OpenRebook(self.uid))

    def action_patient(self) -> None:
        if self.detail:
            self.post_message(OpenPatient(self.detail.appointment.patient_id))

    def action_doctor(self) -> None:
        if self.detail:
            self.post_message(OpenDoctor(self.detail.appointment.doctor_id))

    def action_book_for_patient(self) -> None:
        if self.detail:
            patient = self.detail.patient
            self.post_message(OpenBooking(self.detail.appointment.patient_id, patient.name if patient else ""))

