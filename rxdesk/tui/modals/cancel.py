"""Cancelling an appointment from the keyboard: a summary, a reason, enter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, OptionList, Static

from rxdesk.domain.models import Appointment
from rxdesk.tui.modals.reason import ReasonModal
from rxdesk.tui.text import shown
from rxdesk.tui.widgets.fields import SuggestingInput
from rxdesk.tui.widgets.footer import DeskFooter

COMMON_REASONS = (
    "Patient asked to cancel",
    "Doctor unavailable",
    "Duplicate booking",
    "Booked in error",
    "Patient unreachable",
)


class CancelModal(ReasonModal):
    """Dismisses with the cancelled appointment, or None when the agent backs out.

    The app keeps one dialog and `prepare`s it for each appointment: built once, it opens
    without composing and laying out a new screen over the table every time."""

    BINDINGS = [Binding("escape", "keep", "Keep the appointment", id="cancel.keep")]

    def __init__(self, uid: str = "", summary: str = "", *,
                 on_saved: Callable[[Appointment], Any] | None = None) -> None:
        super().__init__(uid, summary, on_saved=on_saved)
        self.note = ""

    def prepare(self, uid: str, summary: str, *, note: str | None = None,
                on_saved: Callable[[Appointment], Any] | None = None) -> CancelModal:
        """Ready the dialog for another appointment: its summary, a note (the patient's
        notice period has passed), an empty reason."""
        self.uid, self.summary, self.on_saved, self.busy = uid, summary, on_saved, False
        self.note = note or ""
        self.showing = True
        if self.is_mounted:
            self.query_one("#cancel-summary", Static).update(shown(summary))
            notice = self.query_one("#cancel-note", Static)
            notice.update(shown(self.note))
            notice.display = bool(self.note)
            self.query_one("#reason-error", Static).update("")
            field = self.query_one("#reason", Input)
            field.value = ""
            field.remove_class("-invalid")
            field.focus()
        return self

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="cancel-dialog"):
            yield Label("Cancel appointment", classes="dialog-title")
            yield Static(shown(self.summary), id="cancel-summary", classes="dialog-body", markup=False)
            yield Static(shown(self.note), id="cancel-note", classes="dialog-note", markup=False)
            yield Label("Reason")
            yield SuggestingInput(
                placeholder="why it is cancelled (required)",
                id="reason",
                max_length=500,
                suggester=SuggestFromList(COMMON_REASONS, case_sensitive=False),
            )
            yield Static("", id="reason-error", classes="field-error", markup=False)
            yield Label("Common reasons (tab, then enter to pick)", classes="dialog-hint")
            yield OptionList(*COMMON_REASONS, id="common-reasons")
            yield Static("enter cancel the appointment · escape keep it", classes="dialog-hint")
        yield DeskFooter()  # the keys of this dialog, not of the screen behind it

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#cancel-note", Static).display = bool(self.note)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.busy:
            return
        reason = event.value.strip()
        if not reason:
            self._refuse("A reason is required: type one or pick a common reason.")
            return
        desk = self.desk
        self.save(lambda: desk.appointments.cancel_appointment(self.uid, reason, desk.agent), group="cancel")
