"""The free slots to choose from, for a rebook or a new booking: a filter field over a table of
slots, each row saying whose and which day it is, the doctor's own time beside the
organisation's. The screen gives the slots and hears which one was picked."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from rxdesk.domain.times import format_local, zone
from rxdesk.services.rebooking import OpenSlot, match_slots
from rxdesk.tui.widgets.columns import Column
from rxdesk.tui.widgets.rows import ListSource, Window
from rxdesk.tui.widgets.virtual_table import VirtualTable

FILTER_HINT = "/ filter: doctor, day (tue, 24), 9:30, morning, afternoon, evening"


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

        def day_of(slot: OpenSlot) -> str:
            return format_local(slot.starts_at, self.zone_name)[:14]

        def time_of(slot: OpenSlot) -> str:
            return format_local(slot.starts_at, self.zone_name)[15:]

        day = Column("day", "Day", day_of, width=14, priority=0)
        time = Column("time", "Time", time_of, width=5, priority=1)
        doctor: Column[OpenSlot] = Column("doctor", "Doctor", lambda slot: slot.doctor_name, width=20,
                                          min_width=12, max_width=30, priority=2)
        own: Column[OpenSlot] = Column("doctor_time", "Doctor's time", doctors_time, width=13, priority=3)
        # Slots are offered by time: the day leads.
        super().__init__([day, time, doctor, own], id=id)


class SlotPicker(Vertical):
    """The filter field, the slots it picks out, and a line when none does. `down` from the
    field goes to the table, `enter` on a row posts `Picked`."""

    BINDINGS = [Binding("down", "to_table", "To the slots", show=False, id="slots.to_table")]

    DEFAULT_CSS = """
    SlotPicker { height: 1fr; }
    SlotPicker > #slot-none { height: auto; padding: 1 2; color: $text-muted; }
    """

    class Picked(Message):
        def __init__(self, slot: OpenSlot) -> None:
            super().__init__()
            self.slot = slot

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.slots: list[OpenSlot] = []
        self.zone_name = "UTC"
        self.empty_text = "no open slots"
        self.shown: list[OpenSlot] = []

    def compose(self) -> ComposeResult:
        yield Input(placeholder=FILTER_HINT, id="slot-filter")
        yield SlotTable(id="slot-table")
        yield Static("", id="slot-none", markup=False)

    @property
    def table(self) -> SlotTable:
        return self.query_one(SlotTable)

    @property
    def field(self) -> Input:
        return self.query_one("#slot-filter", Input)

    def show_slots(self, slots: Sequence[OpenSlot], zone_name: str, *, empty: str) -> None:
        """Offer `slots` (times in `zone_name`); `empty` is what to say when there are none."""
        self.slots, self.zone_name, self.empty_text = list(slots), zone_name, empty
        table = self.table
        table.zone_name = zone_name
        doctors = {s.doctor_name for s in slots}
        table.set_widths({"doctor": max((cell_len(name) for name in doctors), default=20)})
        self._filter_rows(keep=table.current_key)  # the same list again (more days, a reload)

    def _filter_rows(self, *, keep: str | None = None) -> None:
        """The slots the filter's words pick out (all of them when it is empty); the cursor on
        the slot keyed `keep` while it is listed, else on the first."""
        table = self.table
        text = self.field.value
        picked = match_slots(self.slots, text, self.zone_name)
        self.shown = picked
        source = ListSource(picked, key=slot_key)
        table.show(source, Window(0, source.rows, len(source.rows)), keep=keep, around=0)
        none = self.query_one("#slot-none", Static)
        if picked:
            none.update("")
        elif self.slots:
            none.update(f"no slot matches {text.strip()[:40]!r}: change or clear the filter (ctrl+u)")
        else:
            none.update(self.empty_text)
        none.display = not picked
        table.display = bool(picked)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._filter_rows()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_to_table()

    def action_to_table(self) -> None:
        if self.shown:
            self.table.focus()

    def on_virtual_table_chosen(self, event: VirtualTable.Chosen) -> None:
        event.stop()
        slot = next((s for s in self.shown if slot_key(s) == event.key), None)
        if slot is not None:
            self.post_message(self.Picked(slot))
