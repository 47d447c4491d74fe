"""Rebooking a patient into a free slot: the slots the type's mode allows, by time across
doctors (as booking's), every row saying whose and which day it is. An appointment that cannot move shows why, and
nothing to pick."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from rxdesk.domain.errors import Conflict, RxdeskError
from rxdesk.domain.models import Appointment, AppointmentStatus
from rxdesk.domain.times import format_local
from rxdesk.resources import stylesheet
from rxdesk.services.rebooking import MAX_DAYS, OpenSlot, SlotChoice, by_time
from rxdesk.tui.modals.confirm import ConfirmModal
from rxdesk.tui.navigation import OpenAppointment
from rxdesk.tui.screens.base import DetailScreen
from rxdesk.tui.text import shown
from rxdesk.tui.widgets.slots import SlotPicker, SlotTable, slot_key
from rxdesk.tui.work import call_service

__all__ = ["RebookScreen", "SlotTable"]


class RebookScreen(DetailScreen):
    CSS_PATH = stylesheet("rebook")

    SECTION = "overview"
    TITLE_TEXT = "Rebook"

    BINDINGS = [
        Binding("m", "more_days", "14 more days", id="rebook.more_days"),
        Binding("slash", "focus_filter", "Filter slots", id="rebook.filter", priority=True),
    ]

    def __init__(self, uid: str) -> None:
        super().__init__()
        self.uid = uid
        self.days = 14
        self.choice: SlotChoice | None = None
        self.refusal: str | None = None  # why it cannot be rebooked: no slots, no keys
        self.slots: dict[str, OpenSlot] = {}
        self.loads = 0

    def compose_body(self) -> ComposeResult:
        yield Static(f"Loading the open slots for {self.uid}…", id="rebook-summary", classes="panel", markup=False)
        yield SlotPicker(id="rebook-slots")
        yield Static("enter rebooks into the selected slot · / filters · m shows 14 more days · escape goes back",
                     id="rebook-hint", classes="dialog-hint")

    @property
    def picker(self) -> SlotPicker:
        return self.query_one(SlotPicker)

    def on_mount(self) -> None:
        self.picker.table.focus()
        self.reload()

    def reload(self) -> None:
        desk, days = self.desk, self.days
        call_service(self, lambda: desk.rebooking.slots(self.uid, days=days), done=self._show,
                     failed=self._cannot, group="rebook")

    def _cannot(self, exc: RxdeskError) -> None:
        """A refused rebook shows the refusal only: no table, no keys that would act on it."""
        self.refusal = str(exc)
        self.query_one("#rebook-summary", Static).update(shown(f"Cannot rebook {self.uid}: {exc}"))
        self.picker.display = False
        self.query_one("#rebook-hint", Static).update("escape goes back")
        self.refresh_bindings()
        self.app.notify(str(exc), severity="warning", title="Not rebookable")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("more_days", "focus_filter"):
            return self.refusal is None
        return True

    def _show(self, choice: SlotChoice) -> None:
        self.loads += 1
        self.choice = choice
        appt, kind, tz = choice.appointment, choice.appointment_type, choice.zone
        mode = "same doctor only" if kind.rebooking_mode.value == "same_doctor" else "any doctor offering it"
        self.query_one("#rebook-summary", Static).update(shown(
            f"{choice.patient_name} · {kind.name} · {format_local(appt.starts_at, tz)} with "
            f"{choice.doctor_name} · {appt.status.value}\n"
            f"{appt.uid} · {len(choice.slots)} open slots in {self.days} days · {mode} · by time · times in {tz}"
        ))
        self.slots = {slot_key(slot): slot for slot in choice.slots}
        more = " (m shows 14 more days)" if self.days < MAX_DAYS else ""
        self.picker.show_slots(by_time(choice.slots), tz, empty=f"no open slots in the next {self.days} days{more}")

    def action_focus_filter(self) -> None:
        self.into_field(self.picker.field)

    def on_slot_picker_picked(self, event: SlotPicker.Picked) -> None:
        slot = event.slot
        if self.choice is None:
            return
        when = format_local(slot.starts_at, self.choice.zone)
        appt = self.choice.appointment
        message = (f"Move {self.choice.patient_name}'s {self.choice.appointment_type.name} of "
                   f"{format_local(appt.starts_at, self.choice.zone)} to {when} ({self.choice.zone}) "
                   f"with {slot.doctor_name}?\n"
                   + (f"{appt.uid} stays no_show and is linked to the new, confirmed appointment."
                      if appt.status is AppointmentStatus.no_show
                      else f"{appt.uid} is cancelled and linked to the new appointment."))

        def answered(yes: bool | None) -> None:
            if yes:
                self._rebook(slot)

        self.app.push_screen(ConfirmModal("Rebook", message, confirm_label="Rebook"), answered)

    def _rebook(self, slot: OpenSlot) -> None:
        desk = self.desk

        def done(new: Appointment) -> None:
            self.desk_app.note_own_write(shown=True)  # this screen closes; the one under it loads again
            when = format_local(new.starts_at, self.choice.zone if self.choice else "UTC")
            self.app.notify(f"Rebooked to {new.uid} ({when})", title="Rebooked")
            self.dismiss()
            self.app.post_message(OpenAppointment(new.uid))  # to the app: this screen is closing

        def refused(exc: RxdeskError) -> None:
            if isinstance(exc, Conflict):
                self.app.notify(f"{exc}. The list is refreshed.", severity="warning", title="Slot taken")
                self.reload()
            else:
                self.app.notify(str(exc), severity="error", title="Not rebooked")

        call_service(self, lambda: desk.rebooking.rebook(self.uid, slot.starts_at, doctor_id=slot.doctor_id,
                                                          agent=desk.agent),
                     done=done, failed=refused, group="rebook-do")

    def action_more_days(self) -> None:
        if self.days < MAX_DAYS:
            self.days = min(MAX_DAYS, self.days + 14)
            self.reload()
