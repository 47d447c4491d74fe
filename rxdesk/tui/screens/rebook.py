"""Rebooking a patient into a free slot: the slots the type's mode allows, by doctor and day,
every row saying whose and which day it is."""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from rxdesk.domain.errors import Conflict, RxdeskError
from rxdesk.domain.models import Appointment, AppointmentStatus
from rxdesk.domain.times import format_local, zone
from rxdesk.services.rebooking import MAX_DAYS, OpenSlot, SlotChoice, match_slots
from rxdesk.tui.modals.confirm import ConfirmModal
from rxdesk.tui.navigation import OpenAppointment
from rxdesk.tui.screens.base import DetailScreen
from rxdesk.tui.text import shown
from rxdesk.tui.widgets.columns import Column
from rxdesk.tui.widgets.rows import ListSource, Window
from rxdesk.tui.widgets.virtual_table import VirtualTable
from rxdesk.tui.work import call_service


def slot_key(slot: OpenSlot) -> str:
    return f"{slot.doctor_id}|{slot.starts_at.isoformat()}"


def doctors_time(slot: OpenSlot) -> str:
    """The start in the doctor's own zone, with the zone's abbreviation: `08:00 GMT`."""
    return f"{slot.starts_at.astimezone(zone(slot.doctor_zone)):%H:%M %Z}"


class SlotTable(VirtualTable[OpenSlot]):
    """Open slots, each row with its doctor, day and time (in the organisation's zone) and the
    doctor's own time beside it."""

    def __init__(self, *, id: str | None = None) -> None:
        self.zone_name = "UTC"
        super().__init__([
            Column("doctor", "Doctor", lambda slot: slot.doctor_name, width=20, min_width=12, max_width=30, priority=2),
            Column("day", "Day", lambda slot: format_local(slot.starts_at, self.zone_name)[:14], width=14, priority=0),
            Column("time", "Time", lambda slot: format_local(slot.starts_at, self.zone_name)[15:], width=5, priority=1),
            Column("doctor_time", "Doctor's time", doctors_time, width=13, priority=3),
        ], id=id)


class RebookScreen(DetailScreen):
    SECTION = "overview"
    TITLE_TEXT = "Rebook"

    BINDINGS = [
        Binding("m", "more_days", "14 more days", id="rebook.more_days"),
        Binding("slash", "focus_filter", "Filter slots", id="rebook.filter"),
    ]

    def __init__(self, uid: str) -> None:
        super().__init__()
        self.uid = uid
        self.days = 14
        self.choice: SlotChoice | None = None
        self.slots: dict[str, OpenSlot] = {}
        self.loads = 0

    def compose_body(self) -> ComposeResult:
        yield Static(f"Loading the open slots for {self.uid}…", id="rebook-summary", classes="panel", markup=False)
        yield Input(placeholder="/ filter: doctor, day (tue, 24, 2026-11-24), time (9:30), morning, afternoon, evening",
                    id="slot-filter")
        yield SlotTable(id="rebook-slots")
        yield Static("enter rebooks into the selected slot · / filters · m shows 14 more days · escape goes back",
                     classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(SlotTable).focus()
        self.reload()

    def reload(self) -> None:
        desk, days = self.desk, self.days
        call_service(self, lambda: desk.rebooking.slots(self.uid, days=days), done=self._show,
                     failed=self._cannot, group="rebook")

    def _cannot(self, exc: RxdeskError) -> None:
        self.query_one("#rebook-summary", Static).update(shown(f"Cannot rebook {self.uid}: {exc}"))
        self.app.notify(str(exc), severity="warning", title="Not rebookable")

    def _show(self, choice: SlotChoice) -> None:
        self.loads += 1
        self.choice = choice
        appt, kind, tz = choice.appointment, choice.appointment_type, choice.zone
        mode = "same doctor only" if kind.rebooking_mode.value == "same_doctor" else "any doctor offering it"
        self.query_one("#rebook-summary", Static).update(shown(
            f"{choice.patient_name} · {kind.name} · {format_local(appt.starts_at, tz)} with "
            f"{choice.doctor_name} · {appt.status.value}\n"
            f"{appt.uid} · {len(choice.slots)} open slots in {self.days} days · {mode} · times in {tz}"
        ))
        table = self.query_one(SlotTable)
        table.zone_name = tz
        doctors = {s.doctor_name for s in choice.slots}
        table.set_widths({"doctor": max((cell_len(name) for name in doctors), default=20)})
        self.slots = {slot_key(slot): slot for slot in choice.slots}
        self._filter_rows()

    def _filter_rows(self) -> None:
        """The slots the filter's words pick out (all of them when it is empty)."""
        if self.choice is None:
            return
        table = self.query_one(SlotTable)
        text = self.query_one("#slot-filter", Input).value
        picked = match_slots(self.choice.slots, text, self.choice.zone)
        source = ListSource(picked, key=slot_key)
        table.show(source, Window(0, source.rows, len(source.rows)), keep=table.current_key)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._filter_rows()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one(SlotTable).focus()

    def action_focus_filter(self) -> None:
        self.query_one("#slot-filter", Input).focus()

    def action_back(self) -> None:
        """escape leaves the filter field first, then the screen."""
        if isinstance(self.focused, Input):
            self.query_one(SlotTable).focus()
        else:
            self.dismiss()

    def on_virtual_table_chosen(self, event: VirtualTable.Chosen) -> None:
        slot = self.slots.get(event.key)
        if slot is None or self.choice is None:
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
            self.desk_app.note_own_write()
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
