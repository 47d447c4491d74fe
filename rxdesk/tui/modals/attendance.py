"""Marking attendance from the keyboard: no_show or completed, a reason, enter."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, RadioButton, RadioSet, Static

from rxdesk.domain.models import Appointment, AppointmentStatus
from rxdesk.tui.modals.reason import ReasonModal
from rxdesk.tui.text import shown
from rxdesk.tui.widgets.fields import SuggestingInput
from rxdesk.tui.widgets.footer import DeskFooter

CHOICE_TEXT = {
    AppointmentStatus.no_show: "no_show: the patient did not attend",
    AppointmentStatus.completed: "completed: the patient attended",
}

COMMON_NOTES = (
    "Patient did not join the video call",
    "No answer on the phone",
    "Patient joined too late to be seen",
    "Patient attended; marked by mistake",
    "Doctor confirmed the patient attended",
)


class AttendanceModal(ReasonModal):
    """Dismisses with the marked appointment, or None when the agent backs out.

    `choices` are (status, why not) pairs: the ones with a reason against them are shown but
    cannot be picked; the first allowed one is pre-selected."""

    BINDINGS = [Binding("escape", "keep", "Keep as it is", id="attendance.keep")]

    def __init__(self, uid: str, summary: str, choices: Sequence[tuple[AppointmentStatus, str | None]], *,
                 on_saved: Callable[[Appointment], Any] | None = None) -> None:
        super().__init__(uid, summary, on_saved=on_saved)
        self.choices = list(choices)

    def compose(self) -> ComposeResult:
        first = next((status for status, why in self.choices if why is None), None)
        with Vertical(classes="dialog", id="attendance-dialog"):
            yield Label("Attendance", classes="dialog-title")
            yield Static(shown(self.summary), id="attendance-summary", classes="dialog-body", markup=False)
            yield Label("Mark as (tab to change)")
            with RadioSet(id="attendance-choice", compact=True):
                for status, why in self.choices:
                    yield RadioButton(CHOICE_TEXT[status], value=status is first, disabled=why is not None,
                                      id=f"mark-{status.value}")
            yield Label("Reason")
            yield SuggestingInput(placeholder="what happened (required)", id="reason", max_length=500,
                        suggester=SuggestFromList(COMMON_NOTES, case_sensitive=False))
            yield Static("", id="reason-error", classes="field-error", markup=False)
            yield Static("enter save · escape keep it as it is", classes="dialog-hint")
        yield DeskFooter()  # the keys of this dialog, not of the screen behind it

    @property
    def chosen(self) -> AppointmentStatus | None:
        button = self.query_one("#attendance-choice", RadioSet).pressed_button
        return AppointmentStatus(button.id.removeprefix("mark-")) if button is not None and button.id else None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.busy:
            return
        reason = event.value.strip()
        status = self.chosen
        if status is None:
            self._refuse("Pick no_show or completed first (tab, arrows, enter).")
            return
        if not reason:
            self._refuse("A reason is required: say what happened.")
            return
        desk = self.desk
        self.save(lambda: desk.appointments.mark_attendance(self.uid, status.value, reason, desk.agent),
                  group="attendance")
