"""Cancelling an appointment from the keyboard: a summary, a reason, enter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, OptionList, Static

from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.models import Appointment
from rxdesk.tui.text import shown
from rxdesk.tui.work import call_service

COMMON_REASONS = (
    "Patient asked to cancel",
    "Doctor unavailable",
    "Duplicate booking",
    "Booked in error",
    "Patient unreachable",
)


class CancelModal(ModalScreen[Appointment | None]):
    """Dismisses with the cancelled appointment, or None when the agent backs out.

    `on_saved` runs as soon as the cancellation is on disk, before the dialog closes, so the
    row behind it already shows the new status in the one repaint that closing causes."""

    BINDINGS = [Binding("escape", "keep", "Keep the appointment")]

    def __init__(self, uid: str, summary: str, *, on_saved: Callable[[Appointment], Any] | None = None) -> None:
        super().__init__()
        self.uid = uid
        self.summary = summary
        self.on_saved = on_saved
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="cancel-dialog"):
            yield Label("Cancel appointment", classes="dialog-title")
            yield Static(shown(self.summary), id="cancel-summary", classes="dialog-body", markup=False)
            yield Label("Reason")
            yield Input(
                placeholder="why it is cancelled (required)",
                id="reason",
                max_length=500,
                suggester=SuggestFromList(COMMON_REASONS, case_sensitive=False),
            )
            yield Static("", id="reason-error", classes="field-error", markup=False)
            yield Label("Common reasons (tab, then enter to pick)", classes="dialog-hint")
            yield OptionList(*COMMON_REASONS, id="common-reasons")
            yield Static("enter cancel the appointment · escape keep it", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        field = self.query_one("#reason", Input)
        field.value = str(event.option.prompt)
        field.cursor_position = len(field.value)
        field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.busy:
            return
        reason = event.value.strip()
        if not reason:
            self._refuse("A reason is required: type one or pick a common reason.")
            return
        self.busy = True
        desk = self.app.desk
        call_service(
            self,
            lambda: desk.appointments.cancel_appointment(self.uid, reason, desk.agent),
            done=self._saved,
            failed=self._failed,
            group="cancel",
        )

    def _saved(self, appointment: Appointment) -> None:
        if self.on_saved is not None:
            self.on_saved(appointment)
        self.dismiss(appointment)

    def _failed(self, exc: RxdeskError) -> None:
        self.busy = False
        self._refuse(str(exc))

    def _refuse(self, message: str) -> None:
        self.query_one("#reason-error", Static).update(shown(message))
        field = self.query_one("#reason", Input)
        field.add_class("-invalid")
        field.focus()

    def action_keep(self) -> None:
        self.dismiss(None)
