"""Booking an appointment for a patient, from the patient's page (`b`): the type, then a free
slot of any doctor offering it (the rebook's picker, by time across doctors, filterable), then
yes. The service holds every rule; this screen shows what it offers and says what it did."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from rxdesk.domain.errors import Conflict, RxdeskError
from rxdesk.domain.models import Appointment, AppointmentType
from rxdesk.domain.times import format_local
from rxdesk.resources import stylesheet
from rxdesk.services.agent_booking import BookingChoice
from rxdesk.services.rebooking import MAX_DAYS, OpenSlot
from rxdesk.tui.modals.confirm import ConfirmModal
from rxdesk.tui.navigation import OpenAppointment
from rxdesk.tui.screens.base import DetailScreen
from rxdesk.tui.text import shown
from rxdesk.tui.widgets.slots import SlotPicker
from rxdesk.tui.work import call_service


class BookScreen(DetailScreen):
    CSS_PATH = stylesheet("book")

    SECTION = "patients"
    TITLE_TEXT = "Book"

    BINDINGS = [
        Binding("t", "pick_type", "Another type", id="book.pick_type"),
        Binding("m", "more_days", "14 more days", id="book.more_days"),
        Binding("slash", "focus_filter", "Filter slots", id="book.filter", priority=True),
    ]

    def __init__(self, patient_id: str, patient_name: str = "") -> None:
        super().__init__()
        self.patient_id = patient_id
        self.patient_name = patient_name or patient_id
        self.days = 14
        self.types: list[AppointmentType] = []
        self.type_key: str | None = None
        self.choice: BookingChoice | None = None
        self.loads = 0  # slot lists shown (tests wait on it)

    def compose_body(self) -> ComposeResult:
        yield Static(f"Book for {self.patient_name}: which appointment type?", id="book-summary", classes="panel",
                     markup=False)
        yield OptionList(id="book-types")
        yield SlotPicker(id="book-slots")
        yield Static("enter picks · / filters the slots · t another type · m 14 more days · escape goes back",
                     id="book-hint", classes="dialog-hint")

    @property
    def picker(self) -> SlotPicker:
        return self.query_one(SlotPicker)

    @property
    def type_list(self) -> OptionList:
        return self.query_one("#book-types", OptionList)

    def on_mount(self) -> None:
        self.picker.display = False
        self.type_list.focus()
        call_service(self, self.desk.agent_booking.bookable_types, done=self._types, group="book-types")

    def _types(self, types: list[AppointmentType]) -> None:
        self.types = types
        options = self.type_list
        options.clear_options()
        options.add_options([Option(Text(shown(f"{t.name} · {t.duration_minutes} min · {t.key}")), id=t.key)
                             for t in types])
        options.highlighted = 0 if types else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("more_days", "focus_filter", "pick_type"):
            return self.type_key is not None  # once a type is picked
        return True

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.type_key = event.option.id
            self.days = 14
            self.reload()

    def reload(self) -> None:
        if self.type_key is None:
            return
        desk, days, type_key = self.desk, self.days, self.type_key
        call_service(self, lambda: desk.agent_booking.slots(self.patient_id, type_key, days=days),
                     done=self._show, group="book-slots")

    def _show(self, choice: BookingChoice) -> None:
        self.loads += 1
        self.choice = choice
        kind, tz = choice.appointment_type, choice.zone
        self.patient_name = choice.patient.name
        self.query_one("#book-summary", Static).update(shown(
            f"Book {choice.patient.name} ({choice.patient.id}) · {kind.name}, {kind.duration_minutes} min\n"
            f"{len(choice.slots)} free slots in {choice.days} days, by time · times in {tz}"
        ))
        self.type_list.display = False
        picker = self.picker
        picker.display = True
        more = " (m shows 14 more days)" if self.days < MAX_DAYS else ""
        picker.show_slots(choice.slots, tz, empty=f"no free {kind.name} slots in the next {self.days} days{more}")
        picker.action_to_table()
        self.refresh_bindings()

    def action_pick_type(self) -> None:
        self.type_key, self.choice = None, None
        self.picker.display = False
        self.type_list.display = True
        self.type_list.focus()
        self.query_one("#book-summary", Static).update(shown(f"Book for {self.patient_name}: which appointment type?"))
        self.refresh_bindings()

    def action_focus_filter(self) -> None:
        self.into_field(self.picker.field)

    def action_more_days(self) -> None:
        if self.days < MAX_DAYS:
            self.days = min(MAX_DAYS, self.days + 14)
            self.reload()

    def on_slot_picker_picked(self, event: SlotPicker.Picked) -> None:
        choice, slot = self.choice, event.slot
        if choice is None:
            return
        message = (f"Book {choice.patient.name} for a {choice.appointment_type.name} on "
                   f"{format_local(slot.starts_at, choice.zone)} ({choice.zone}) with {slot.doctor_name}?\n"
                   "It is confirmed at once, booked by you.")

        def answered(yes: bool | None) -> None:
            if yes:
                self._book(slot)

        self.app.push_screen(ConfirmModal("Book", message, confirm_label="Book"), answered)

    def _book(self, slot: OpenSlot) -> None:
        desk, choice = self.desk, self.choice
        assert choice is not None

        def done(appt: Appointment) -> None:
            self.desk_app.note_own_write(shown=True)  # this screen closes; the one under it loads again
            self.app.notify(f"Booked {choice.patient.name}: {choice.appointment_type.name}, "
                            f"{format_local(appt.starts_at, choice.zone)} with {slot.doctor_name} ({appt.uid})",
                            title="Booked")
            self.dismiss()
            self.app.post_message(OpenAppointment(appt.uid))  # to the app: this screen is closing

        def refused(exc: RxdeskError) -> None:
            if isinstance(exc, Conflict):
                self.app.notify(f"{exc}. The list is refreshed.", severity="warning", title="Slot taken")
                self.reload()
            else:
                self.app.notify(str(exc), severity="error", title="Not booked")

        call_service(self, lambda: desk.agent_booking.book(choice.patient.id, choice.appointment_type.key,
                                                           slot.starts_at, doctor_id=slot.doctor_id,
                                                           agent=desk.agent),
                     done=done, failed=refused, group="book-do")
