"""Cancelling the selected appointments at once: what will be cancelled, one reason, enter.

One write for all of them (the service's all-or-none cancel): a refusal names the appointment
that could not be cancelled, stays in the dialog, and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, OptionList, Static

from rxdesk.domain.models import Appointment
from rxdesk.domain.times import format_local
from rxdesk.services.appointments import AppointmentSummary
from rxdesk.tui.modals.cancel import COMMON_REASONS
from rxdesk.tui.modals.reason import ReasonDialog
from rxdesk.tui.text import shown
from rxdesk.tui.widgets.fields import SuggestingInput
from rxdesk.tui.widgets.footer import DeskFooter


def selection_lines(summaries: list[AppointmentSummary]) -> str:
    """One line per appointment, short enough for 80 columns: when, the patient, the doctor
    (and `held` for a hold)."""
    return shown("\n".join(
        f"{format_local(s.appointment.starts_at, s.zone)}  {s.patient_name} · {s.doctor_name}"
        + (" · held" if s.appointment.status.value == "held" else "")
        for s in summaries
    ))


class CancelSelectionModal(ReasonDialog[list[Appointment]]):
    """Dismisses with the cancelled appointments, or None when the agent backs out."""

    BINDINGS = [Binding("escape", "keep", "Keep them", id="cancel_selection.keep")]
    REFUSED = "Nothing was cancelled: "

    def __init__(self, summaries: list[AppointmentSummary], *,
                 on_saved: Callable[[list[Appointment]], Any] | None = None) -> None:
        super().__init__(on_saved=on_saved)
        self.summaries = summaries

    def compose(self) -> ComposeResult:
        count = len(self.summaries)
        with Vertical(classes="dialog", id="cancel-selection-dialog"):
            yield Label(f"Cancel {count} selected appointment{'' if count == 1 else 's'}", classes="dialog-title")
            with VerticalScroll(id="cancel-selection-list"):
                yield Static(selection_lines(self.summaries), id="cancel-selection", markup=False)
            yield Label("Reason (the same for each)")
            yield SuggestingInput(placeholder="why they are cancelled (required)", id="reason", max_length=500,
                        suggester=SuggestFromList(COMMON_REASONS, case_sensitive=False))
            yield Static("", id="reason-error", classes="field-error", markup=False)
            yield Label("Common reasons (tab, then enter to pick)", classes="dialog-hint")
            yield OptionList(*COMMON_REASONS, id="common-reasons")
            yield Static(f"enter cancel all {count} in one go · escape keep them", classes="dialog-hint")
        yield DeskFooter()  # the keys of this dialog (escape keeps them), not of the list behind it

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        reason = event.value.strip()
        if not reason:
            self._refuse("A reason is required: type one or pick a common reason.")
            return
        desk = self.desk
        uids = [s.appointment.uid for s in self.summaries]
        self.save(lambda: desk.appointments.cancel_appointments(uids, reason, desk.agent), group="cancel-selection")
