"""Tables: `DeskTable` (row cursor, j/k) for the short lists, and the appointment table
every appointment list shares, a `VirtualTable` that draws only what is on screen.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from textual.binding import Binding
from textual.widgets import DataTable

from rxdesk.domain.models import Appointment
from rxdesk.domain.times import format_local
from rxdesk.services.appointments import AppointmentFilter, AppointmentRow, AppointmentService
from rxdesk.tui.navigation import (
    OpenAppointment,
    OpenDoctor,
    OpenPatient,
    OpenRebook,
    StartAttendance,
    StartCancel,
    StartCancelSelection,
)
from rxdesk.tui.text import plain
from rxdesk.tui.widgets.virtual_table import Column, ListSource, VirtualTable, Window


class DeskTable(DataTable[object]):
    """A row-cursor table with `j`/`k` beside the arrows and `g`/`G` (`home`/`end`) to the first
    and last row, as in the appointment table; cells are data, never markup."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("home,g", "scroll_top", "First row", show=False),
        Binding("end,G", "scroll_bottom", "Last row", show=False),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)

    def add_row(self, *cells: object, height: int | None = 1, key: str | None = None,  # type: ignore[override]
                label: object = None) -> object:
        return super().add_row(*map(plain, cells), height=height, key=key, label=plain(label))  # type: ignore[arg-type]

    def update_cell(self, row_key: object, column_key: object, value: object, *,
                    update_width: bool = False) -> None:
        super().update_cell(row_key, column_key, plain(value), update_width=update_width)  # type: ignore[arg-type]

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


class AppointmentTable(VirtualTable[AppointmentRow]):
    """Appointments with the same keys everywhere: enter, c, n, r, p, d, and space to select.
    The keys share their binding ids (`appointment.cancel` …) with the appointment's page, so
    one keymap entry moves a key in both places.

    Columns in order of importance: start, patient, doctor, status, type, uid; at 80 columns
    the uid gives way first, then the type and the names shrink (cut with `…`)."""

    BINDINGS = [
        Binding("c", "cancel_appointment", "Cancel", id="appointment.cancel"),
        Binding("n", "attendance", "Attendance", id="appointment.attendance"),
        Binding("r", "rebook", "Rebook", id="appointment.rebook"),
        Binding("p", "patient", "Patient", id="appointment.patient"),
        Binding("d", "doctor", "Doctor", id="appointment.doctor"),
    ]

    COMPONENT_CLASSES = {f"status--{status}" for status in STATUSES}

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        self.zone_name = "UTC"
        super().__init__(self._columns(), placeholder="loading…", id=id, classes=classes)

    def _columns(self) -> list[Column[AppointmentRow]]:
        def status(row: AppointmentRow) -> str:
            return row.status.value

        return [
            Column("start", "Start", lambda row: format_local(row.starts_at, self.zone_name), width=20, priority=0),
            Column("patient", "Patient", lambda row: row.patient_name, width=18, min_width=12, max_width=30,
                   priority=1),
            Column("doctor", "Doctor", lambda row: row.doctor_name, width=20, min_width=12, max_width=30,
                   priority=2),
            Column("status", "Status", status, width=9, priority=3, style=lambda row: f"status--{status(row)}"),
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

    def show_rows(self, rows: Sequence[AppointmentRow], zone_name: str, *, keep: str | None = None) -> None:
        """A short list already in memory (a patient's appointments)."""
        self.zone_name = zone_name
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

    # The keys every appointment list shares; the app does the work.
    def action_choose(self) -> None:
        if (row := self.selected) is not None:
            self.post_message(OpenAppointment(row.uid))

    def action_cancel_appointment(self) -> None:
        """`c`: every selected appointment in one write when rows are selected, else the one
        under the cursor."""
        if self.selection:
            self.post_message(StartCancelSelection(sorted(self.selection), on_saved=self.mark_cancelled))
        elif (row := self.selected) is not None:
            self.post_message(StartCancel(row.uid, on_saved=self.mark))

    def mark_cancelled(self, appointments: list[Appointment]) -> None:
        """The selection was cancelled: show each at once and clear the selection."""
        for appointment in appointments:
            self.mark(appointment)
        self.clear_selection()

    def action_attendance(self) -> None:
        if (row := self.selected) is not None:
            self.post_message(StartAttendance(row.uid, on_saved=self.mark))

    def action_rebook(self) -> None:
        if (row := self.selected) is not None:
            self.post_message(OpenRebook(row.uid))

    def action_patient(self) -> None:
        if (row := self.selected) is not None:
            self.post_message(OpenPatient(row.patient_id))

    def action_doctor(self) -> None:
        if (row := self.selected) is not None:
            self.post_message(OpenDoctor(row.doctor_id))
