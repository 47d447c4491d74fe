"""Tables: `DeskTable` (row cursor, j/k) for the short lists, and the appointment table
every appointment list shares, a `VirtualTable` that draws only what is on screen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Self

from rich.cells import cell_len
from rich.console import RenderableType
from rich.text import Text, TextType
from textual import events
from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from rxdesk.domain.times import format_local, zone
from rxdesk.services.appointments import AppointmentFilter, AppointmentRow, AppointmentService
from rxdesk.tui.navigation import (
    OpenAppointment,
    OpenBooking,
    OpenDoctor,
    OpenPatient,
    OpenRebook,
    StartAttendance,
    StartCancel,
    StartCancelSelection,
)
from rxdesk.tui.text import plain
from rxdesk.tui.widgets.columns import Column, Placed, lay_out
from rxdesk.tui.widgets.rows import ListSource, Window
from rxdesk.tui.widgets.virtual_table import VirtualTable

if TYPE_CHECKING:
    from rxdesk.domain.models import Appointment


def cell_width(cell: RenderableType) -> int:
    """The cells a table cell's text takes on one line."""
    return cell.cell_len if isinstance(cell, Text) else cell_len(str(cell))


def ellipsised(cell: RenderableType) -> RenderableType:
    """A cell's text to be cut with `…` where its column is narrower (never wrapped)."""
    if isinstance(cell, Text):
        cell.no_wrap, cell.overflow = True, "ellipsis"
    return cell


def cut(cell: object, width: int) -> Text:
    """A cell in at most `width` cells, cut with `…` (its styles kept)."""
    if not isinstance(cell, Text):
        cell = Text(str(cell))
    if cell.cell_len <= width:
        return cell
    short = cell.copy()
    short.truncate(width, overflow="ellipsis")
    return short


def without_year(start: str, this_year: int = 0) -> str:
    """`Tue 2026-11-24 09:30` as `Tue 11-24 09:30` in `this_year` (the weekday and the day say
    which one); another year's as `2027-01-05 09:30` (its year said, the weekday left out), so a
    list across New Year never shows two days alike."""
    if len(start) != 20:
        return start
    return start[:4] + start[9:] if start[4:8] == f"{this_year:04d}" else start[4:]


class DeskTable(DataTable[object]):
    """A row-cursor table with `j`/`k` beside the arrows and `g`/`G` (`home`/`end`) to the first
    and last row, as in the appointment table; cells are data, never markup.

    Its columns are laid out as the appointment table's are (`lay_out`): each takes its data's
    width; when the table is narrower, the least important column gives way first (cut with
    `…`, down to its `min_width`) and columns that still do not fit are left out. The rows are
    kept as given, so a resize lays them out again."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="list.cursor_down"),
        Binding("k", "cursor_up", "Up", show=False, id="list.cursor_up"),
        Binding("home,g", "scroll_top", "First row", show=False, id="list.scroll_top"),
        Binding("end,G", "scroll_bottom", "Last row", show=False, id="list.scroll_bottom"),
    ]

    DEFAULT_CSS = """
    DeskTable {
        overflow-x: hidden;
        overflow-y: scroll;  /* the columns are laid out for the width left beside it */
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.specs: list[Column[Sequence[RenderableType]]] = []
        self.cells: dict[str, tuple[RenderableType, ...]] = {}  # row key -> every cell, uncut
        self._natural: dict[str, int] = {}  # column key -> its widest cell (or label)
        self._placed: list[Placed] = []
        self._relayout_due = False

    def add_column(self, label: TextType, *, width: int | None = None, key: str | None = None,
                   default: object = None, priority: int | None = None, min_width: int | None = None,
                   max_width: int | None = None) -> ColumnKey:
        """A column; `priority` (the order added, by default) says which gives way first, and
        `min_width` how far it may be cut before it is left out."""
        key = key or f"column-{len(self.specs)}"
        text = label.plain if isinstance(label, Text) else str(label)
        index = len(self.specs)
        self.specs.append(Column(key, text, itemgetter(index), width=width or cell_len(text),
                                 priority=index if priority is None else priority,
                                 min_width=min_width, max_width=max_width))
        self._natural[key] = width or cell_len(text)
        self._lay_out(force=True)
        return ColumnKey(key)

    @property
    def shown_columns(self) -> list[str]:
        """Keys of the columns that fit at the current width."""
        return [p.column.key for p in self._placed]

    def add_row(self, *cells: object, height: int | None = 1, key: str | None = None,
                label: object = None) -> RowKey:
        row = tuple(ellipsised(plain(cell)) for cell in cells)  # type: ignore[arg-type]
        row += (Text(""),) * (len(self.specs) - len(row))
        key = key if key is not None else f"row-{len(self.cells)}"
        self.cells[key] = row
        for spec, cell in zip(self.specs, row, strict=False):
            wide = cell_width(cell)
            if wide > self._natural.get(spec.key, 0):
                self._natural[spec.key] = wide
                self._want_layout()
        return super().add_row(*self._fitted(row), height=height, key=key, label=plain(label))  # type: ignore[arg-type]

    def remove_row(self, row_key: RowKey | str) -> None:
        self.cells.pop(row_key.value if isinstance(row_key, RowKey) else row_key, None)  # type: ignore[arg-type]
        super().remove_row(row_key)

    def clear(self, columns: bool = False) -> Self:
        self.cells.clear()
        if columns:
            self.specs.clear()
            self._placed = []
        self._natural = {spec.key: cell_len(spec.label) for spec in self.specs}
        self._want_layout()  # the rows that come next may be narrower
        return super().clear(columns=columns)

    def update_cell(self, row_key: object, column_key: object, value: object, *,
                    update_width: bool = False) -> None:
        key = str(getattr(row_key, "value", row_key))
        column = str(getattr(column_key, "value", column_key))
        index = next(i for i, spec in enumerate(self.specs) if spec.key == column)
        row = list(self.cells[key])
        row[index] = ellipsised(plain(value))  # type: ignore[arg-type]
        self.cells[key] = tuple(row)
        if cell_width(row[index]) > self._natural.get(column, 0):
            self._natural[column] = cell_width(row[index])
            self._want_layout()
        place = next((p for p in self._placed if p.column.key == column), None)
        if place is not None:
            super().update_cell(row_key, column_key, row[index])  # type: ignore[arg-type]

    # -- laying the columns out ------------------------------------------------------------

    def _fitted(self, row: tuple[RenderableType, ...]) -> list[object]:
        """The row's cells in the columns shown: whole (`get_row` reads them as they are); each
        column's fixed width cuts them with `…` as they are drawn."""
        return [place.value(row) for place in self._placed]

    def _want_layout(self) -> None:
        if not self._relayout_due and self.is_attached:
            self._relayout_due = True
            self.call_later(self._lay_out)

    def on_resize(self, event: events.Resize) -> None:
        self._lay_out()

    def _room(self) -> int:
        """Cells for the columns: DataTable pads each cell by one on both sides; `lay_out`
        counts one margin before the first and two between each."""
        width = self.scrollable_content_region.width if self.is_attached else 0
        return width - 1 if width > 0 else 0

    def _lay_out(self, force: bool = False) -> None:
        self._relayout_due = False
        specs = [dataclasses.replace(spec, width=self._natural.get(spec.key, spec.width)) for spec in self.specs]
        room = self._room()
        placed = lay_out(specs, room) if room > 0 else [Placed(spec, 0, spec.width) for spec in specs]
        shape = [(p.column.key, p.width) for p in placed]
        if not force and shape == [(p.column.key, p.width) for p in self._placed]:
            return
        self._placed = placed
        self._rebuild()

    def _rebuild(self) -> None:
        """The columns as laid out, and every row again, cut to them; the cursor stays on its row."""
        key, row_index = self.selected_key, self.cursor_row
        super().clear(columns=True)
        for place in self._placed:
            super().add_column(cut(Text(place.column.label), place.width), width=place.width, key=place.column.key)
        for row_key, row in self.cells.items():
            super().add_row(*self._fitted(row), key=row_key)
        self.select_key(key, fallback_row=row_index)

    # -- the cursor ------------------------------------------------------------------------

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """`end` or `pgdn` in a table emptied under the cursor highlights row -1, which has no
        key: there is no row to describe, so the screen is not told."""
        if event.row_key is None or event.row_key.value is None:
            event.stop()

    @property
    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - an empty or shrinking table has no selection
            return None

    def select_key(self, key: str | None, fallback_row: int = 0) -> None:
        """Put the cursor on the row with `key`, or on `fallback_row` when it is gone."""
        if self.row_count == 0:
            return
        row = fallback_row
        if key is not None:
            try:
                row = self.get_row_index(key)
            except Exception:  # noqa: BLE001 - the row left the listing
                row = fallback_row
        self.move_cursor(row=max(0, min(row, self.row_count - 1)), animate=False, scroll=True)


class AppointmentSource:
    """The appointments a filter matches, ordered by start: the rows of an appointment table,
    read a window at a time from the service."""

    def __init__(self, appointments: AppointmentService, filter: AppointmentFilter) -> None:
        self.appointments = appointments
        self.filter = filter

    def fetch(self, offset: int, limit: int, *, count: bool) -> Window[AppointmentRow]:
        page = self.appointments.list_appointments(self.filter, offset=offset, limit=limit, count=count)
        return Window(offset, page.items, page.total)

    def key(self, row: AppointmentRow) -> str:
        return row.uid


STATUSES = ("held", "confirmed", "cancelled", "expired", "completed", "no_show")
IN_PROGRESS = "in progress"  # the status column of an appointment running now (the service says which)



# The keys of one appointment, the same (and with the same ids, so one keymap entry moves
# both) in a list of appointments and on an appointment's page.
APPOINTMENT_KEYS: list[Binding | tuple[str, str] | tuple[str, str, str]] = [
    Binding("c", "cancel_appointment", "Cancel", id="appointment.cancel"),
    Binding("n", "attendance", "Attendance", id="appointment.attendance"),
    Binding("r", "rebook", "Rebook", id="appointment.rebook"),
    Binding("p", "patient", "Patient", id="appointment.patient"),
    Binding("d", "doctor", "Doctor", id="appointment.doctor"),
    Binding("b", "book_for_patient", "Book", id="appointment.book"),
]

class AppointmentTable(VirtualTable[AppointmentRow]):
    """Appointments with the same keys everywhere: enter, c, n, r, p, d, and space to select.
    The keys share their binding ids (`appointment.cancel` …) with the appointment's page, so
    one keymap entry moves a key in both places.

    Columns in order of importance: start, patient, doctor, status, type, uid; at 80 columns
    the start drops its year and the uid gives way, then the type and the names shrink (cut
    with `…`)."""

    BINDINGS = [*APPOINTMENT_KEYS]

    COMPONENT_CLASSES = {f"status--{status}" for status in STATUSES} | {"status--in_progress"}

    def __init__(self, *, id: str | None = None, classes: str | None = None, without: Sequence[str] = ()) -> None:
        """`without`: columns every row would repeat (the patient, on a patient's page)."""
        self.zone_name = "UTC"
        self.this_year = 0  # the year the short start leaves out (`without_year`); set with the zone
        self.without = tuple(without)
        # A key for the row under the cursor pressed while that row was still on its way (right
        # after moving fast through a long list): (list shown, cursor, what the key does).
        self._waiting: tuple[int, int, Callable[[AppointmentRow], object]] | None = None
        columns = [column for column in self._columns() if column.key not in without]
        super().__init__(columns, placeholder="loading…", id=id, classes=classes)

    def _columns(self) -> list[Column[AppointmentRow]]:
        def status(row: AppointmentRow) -> str:
            return IN_PROGRESS if row.in_progress else row.status.value

        return [
            Column("start", "Start", lambda row: format_local(row.starts_at, self.zone_name), width=20, priority=0,
                   compact=lambda row: without_year(format_local(row.starts_at, self.zone_name), self.this_year),
                   compact_width=16),
            Column("patient", "Patient", lambda row: row.patient_name, width=18, min_width=12, max_width=30,
                   priority=1),
            Column("doctor", "Doctor", lambda row: row.doctor_name, width=20, min_width=12, max_width=30,
                   priority=2),
            Column("status", "Status", status, width=11, priority=3,
                   style=lambda row: f"status--{status(row).replace(' ', '_')}"),
            Column("type", "Type", lambda row: row.type_name, width=21, min_width=10, max_width=30, priority=4),
            Column("uid", "UID", lambda row: row.uid, width=14, priority=5),
        ]

    def learn_names(self, doctor_names: Sequence[str], type_names: Sequence[str]) -> None:
        """Size the doctor and type columns for the longest names there are (a short list each),
        instead of measuring every row."""
        widths = {}
        if doctor_names:
            widths["doctor"] = max(map(cell_len, doctor_names))
        if type_names:
            widths["type"] = max(map(cell_len, type_names))
        self.set_widths(widths)

    def set_zone(self, zone_name: str, now: datetime) -> None:
        """Times in `zone_name`; a short start leaves out the year of `now` there."""
        self.zone_name = zone_name
        self.this_year = now.astimezone(zone(zone_name)).year

    def show_rows(self, rows: Sequence[AppointmentRow], zone_name: str, *, now: datetime | None = None,
                  keep: str | None = None) -> None:
        """A short list already in memory (a patient's appointments); `now` says which year a
        short start leaves out."""
        self.zone_name = zone_name
        if now is not None:
            self.set_zone(zone_name, now)
        source = ListSource(rows, key=lambda row: row.uid)
        self.show(source, Window(0, source.rows, len(source.rows)), keep=keep if keep is not None else self.current_key)

    def mark(self, appointment: Appointment) -> None:
        """Show a changed appointment at once (its line only), before the next reload."""
        index = self.index_of(appointment.uid)
        row = self.row_at(index) if index is not None else None
        if row is None:
            return
        self.update_row(appointment.uid, row.showing(appointment))

    @property
    def selected(self) -> AppointmentRow | None:
        """The appointment under the cursor."""
        return self.current_row

    @property
    def selected_key(self) -> str | None:
        return self.current_key

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("patient", "book_for_patient") and "patient" in self.without:
            return False  # a patient's own list: `p` would open the page it is on, its page books
        return super().check_action(action, parameters)

    def _with_row(self, act: Callable[[AppointmentRow], object]) -> None:
        """`act` on the row under the cursor; when that row is still being fetched, once it is
        here and the cursor is still on it (a key is not dropped for being quick)."""
        if (row := self.selected) is not None:
            act(row)
        else:
            self._waiting = (self._generation, self.cursor, act)

    def rows_arrived(self) -> None:
        waiting = self._waiting
        if waiting is None or waiting[:2] != (self._generation, self.cursor):
            self._waiting = None  # another list, or the cursor moved on: the key was for that row
        elif (row := self.selected) is not None:
            self._waiting = None
            waiting[2](row)

    # The keys every appointment list shares; the app does the work.
    def action_choose(self) -> None:
        self._with_row(lambda row: self.post_message(OpenAppointment(row.uid)))

    def action_cancel_appointment(self) -> None:
        """`c`: every selected appointment in one write when rows are selected, else the one
        under the cursor."""
        if self.selection:
            self.post_message(StartCancelSelection(sorted(self.selection), on_saved=self.mark_cancelled))
        else:
            self._with_row(lambda row: self.post_message(StartCancel(row.uid, on_saved=self.mark)))

    def mark_cancelled(self, appointments: list[Appointment]) -> None:
        """The selection was cancelled: show each at once and clear the selection."""
        for appointment in appointments:
            self.mark(appointment)
        self.clear_selection()

    def action_attendance(self) -> None:
        self._with_row(lambda row: self.post_message(StartAttendance(row.uid, on_saved=self.mark)))

    def action_rebook(self) -> None:
        self._with_row(lambda row: self.post_message(OpenRebook(row.uid)))

    def action_patient(self) -> None:
        self._with_row(lambda row: self.post_message(OpenPatient(row.patient_id)))

    def action_doctor(self) -> None:
        self._with_row(lambda row: self.post_message(OpenDoctor(row.doctor_id)))

    def action_book_for_patient(self) -> None:
        """`b`: a new appointment for the patient of the row under the cursor."""
        self._with_row(lambda row: self.post_message(OpenBooking(row.patient_id, row.patient_name)))
