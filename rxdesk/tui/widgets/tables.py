"""Tables: `DeskTable` (row cursor, j/k) and the appointment table every screen shares.

The appointment table holds one page of rows at a time (the overview never hands it
thousands), so measuring cells never freezes the app. Moving past the last row or before the
first asks the owner for the next or previous page.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from rxdesk.domain.models import Appointment
from rxdesk.domain.times import format_local
from rxdesk.services.appointments import AppointmentRow
from rxdesk.tui.text import plain


class DeskTable(DataTable[object]):
    """A row-cursor table with `j`/`k` beside the arrows; cells are data, never markup."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
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


class AppointmentTable(DeskTable):
    """Appointments with the same keys everywhere: enter, c, n, r, p, d."""

    BINDINGS = [
        Binding("c", "cancel_appointment", "Cancel"),
        Binding("n", "attendance", "Attendance"),
        Binding("r", "rebook", "Rebook"),
        Binding("p", "patient", "Patient"),
        Binding("d", "doctor", "Doctor"),
    ]

    COMPONENT_CLASSES = {
        "status--held",
        "status--confirmed",
        "status--cancelled",
        "status--expired",
        "status--completed",
        "status--no_show",
    }

    COLUMNS = (("start", "Start"), ("doctor", "Doctor"), ("patient", "Patient"),
               ("type", "Type"), ("status", "Status"), ("uid", "UID"))

    class PageRequest(Message):
        """The cursor ran off one end of the page: `step` is +1 or -1."""

        def __init__(self, table: AppointmentTable, step: int) -> None:
            super().__init__()
            self.table = table
            self.step = step

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows_by_uid: dict[str, AppointmentRow] = {}
        self.zone_name = "UTC"
        self.has_next_page = False
        self.has_previous_page = False

    def on_mount(self) -> None:
        for key, label in self.COLUMNS:
            self.add_column(label, key=key)

    def show_rows(
        self,
        rows: Iterable[AppointmentRow],
        zone_name: str,
        *,
        keep: str | None = None,
        fallback_row: int = 0,
    ) -> None:
        self.zone_name = zone_name
        previous = keep if keep is not None else self.selected_key
        self.clear()
        self.rows_by_uid = {}
        for row in rows:
            self.rows_by_uid[row.uid] = row
            self.add_row(
                format_local(row.starts_at, zone_name),
                row.doctor_name,
                row.patient_name,
                row.type_name,
                self._status(row.status.value),
                row.uid,
                key=row.uid,
            )
        self.select_key(previous, fallback_row)

    def _status(self, status: str) -> Text:
        return Text(status, style=self.get_component_rich_style(f"status--{status}", partial=True))

    def mark(self, appointment: Appointment) -> None:
        """Show a changed appointment at once, before the next reload."""
        uid = appointment.uid
        if uid not in self.rows_by_uid:
            return
        self.rows_by_uid[uid] = self.rows_by_uid[uid].showing(appointment)
        self.update_cell(uid, "status", self._status(appointment.status.value))

    @property
    def selected(self) -> AppointmentRow | None:
        key = self.selected_key
        return self.rows_by_uid.get(key) if key else None

    # Paging at the edges of the page.
    def action_cursor_down(self) -> None:
        if self.row_count and self.cursor_row >= self.row_count - 1 and self.has_next_page:
            self.post_message(self.PageRequest(self, +1))
            return
        super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.cursor_row <= 0 and self.has_previous_page:
            self.post_message(self.PageRequest(self, -1))
            return
        super().action_cursor_up()

    # The keys every appointment list shares; the app does the work.
    def action_select_cursor(self) -> None:
        if (row := self.selected) is not None:
            self.app.open_appointment(row.uid)

    def action_cancel_appointment(self) -> None:
        if (row := self.selected) is not None:
            self.app.start_cancel(row.uid, on_done=self.mark)

    def action_attendance(self) -> None:
        if (row := self.selected) is not None:
            self.app.start_attendance(row.uid, on_done=self.mark)

    def action_rebook(self) -> None:
        if (row := self.selected) is not None:
            self.app.open_rebook(row.uid)

    def action_patient(self) -> None:
        if (row := self.selected) is not None:
            self.app.open_patient(row.patient_id)

    def action_doctor(self) -> None:
        if (row := self.selected) is not None:
            self.app.open_doctor(row.doctor_id)
