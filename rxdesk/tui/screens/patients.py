"""Section 2: find a patient by name, email, phone or external id; see their appointments."""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Static

from rxdesk.domain.models import Patient
from rxdesk.domain.queries import Page
from rxdesk.resources import stylesheet
from rxdesk.services.patients import PatientDetail, tally
from rxdesk.tui.navigation import OpenBooking, OpenPatient
from rxdesk.tui.screens.base import DeskScreen, DetailScreen
from rxdesk.tui.text import fields_grid
from rxdesk.tui.widgets.tables import AppointmentTable, DeskTable
from rxdesk.tui.work import call_service

PAGE_SIZE = 100


class PatientsScreen(DeskScreen):
    CSS_PATH = stylesheet("patients")

    SECTION = "patients"

    BINDINGS = [
        Binding("slash", "focus_search", "Search", id="patients.focus_search", priority=True),
        Binding("escape", "focus_table", "Table", show=False, id="patients.focus_table"),
        Binding("ctrl+l", "clear_search", "Clear search", id="patients.clear_search"),
        Binding("right_square_bracket", "page(1)", "Next page", show=False, id="patients.next_page"),
        Binding("left_square_bracket", "page(-1)", "Prev page", show=False, id="patients.previous_page"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.search_text = ""
        self.page_offset = 0
        self.total = 0
        self.loads = 0

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="patient-search-bar"):
            yield Input(placeholder="search: name, email, phone or external id", id="patient-search")
            yield Static("", id="patient-count", markup=False)
        yield DeskTable(id="patients")

    @property
    def table(self) -> DeskTable:
        return self.query_one("#patients", DeskTable)

    def on_mount(self) -> None:
        table = self.table
        for key, label, priority, least in (("name", "Name", 0, 12), ("email", "Email", 3, 14),
                                            ("phone", "Phone", 1, None), ("external_id", "External id", 2, None),
                                            ("id", "Id", 4, None)):
            table.add_column(label, key=key, priority=priority, min_width=least)
        table.focus()
        self.reload()

    def reload(self, keep: str | None = None) -> None:
        desk = self.desk
        search, offset = self.search_text, self.page_offset
        keep = self.table.selected_key if keep is None else keep
        call_service(
            self,
            lambda: desk.patients.list_patients(search, offset=offset, limit=PAGE_SIZE),
            done=lambda page: self._show(page, keep),
            group="patients",
        )

    def _show(self, page: Page[Patient], keep: str | None) -> None:
        self.loads += 1
        table = self.table
        table.clear()
        for p in page.items:
            table.add_row(p.name, p.email or "", p.phone or "", p.external_id or "", p.id, key=p.id)
        table.select_key(keep)
        self.total = page.total or 0
        first, last = self.page_offset + 1, self.page_offset + len(page.items)
        shown = f" · showing {first:,}–{last:,}" if self.total > PAGE_SIZE else ""
        self.query_one("#patient-count", Static).update(
            f"{self.total:,} patient{'s' if self.total != 1 else ''}{shown}" if self.total else "no patients match"
        )

    def on_input_changed(self, event: Input.Changed) -> None:
        self.search_text = event.value
        self.page_offset = 0
        self.reload(keep="")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def on_data_table_row_selected(self, event: DeskTable.RowSelected) -> None:
        if event.row_key.value:
            self.post_message(OpenPatient(event.row_key.value))

    def action_page(self, step: int) -> None:
        offset = self.page_offset + step * PAGE_SIZE
        if 0 <= offset < self.total:
            self.page_offset = offset
            self.reload(keep="")

    def action_focus_search(self) -> None:
        self.into_field(self.query_one("#patient-search", Input))

    def action_focus_table(self) -> None:
        self.table.focus()

    def action_clear_search(self) -> None:
        self.query_one("#patient-search", Input).value = ""
        self.table.focus()


class PatientDetailScreen(DetailScreen):
    CSS_PATH = stylesheet("patients")

    SECTION = "patients"
    TITLE_TEXT = "Patient"

    BINDINGS = [Binding("b", "book", "Book", id="patient.book")]
    FOOTER_FIRST = ("book",)  # what the page is for, on screen at 80 columns

    def __init__(self, patient_id: str) -> None:
        super().__init__()
        self.patient_id = patient_id
        self.patient_name = ""

    def compose_body(self) -> ComposeResult:
        yield Static(f"Loading {self.patient_id}…", id="patient-contact", classes="panel", markup=False)
        yield Static("", id="patient-appointments-title", markup=False)
        yield AppointmentTable(id="patient-appointments", without=("patient",))

    def on_mount(self) -> None:
        self.query_one(AppointmentTable).focus()
        self.reload()

    def reload(self) -> None:
        desk = self.desk
        def load() -> tuple[PatientDetail, str, datetime]:
            as_of = desk.clock.now()
            return desk.patients.show(self.patient_id), desk.org().timezone, as_of

        call_service(self, load, done=lambda result: self._show(*result), group="patient")

    def action_book(self) -> None:
        """`b`: book an appointment for this patient."""
        self.post_message(OpenBooking(self.patient_id, self.patient_name))

    def _show(self, detail: PatientDetail, tz: str, as_of: datetime) -> None:
        p = detail.patient
        self.patient_name = p.name
        grid = fields_grid((("Name", p.name), ("Id", p.id), ("Email", p.email or "—"),
                            ("Phone", p.phone or "—"), ("External id", p.external_id or "—")))
        self.query_one("#patient-contact", Static).update(grid)
        upcoming = detail.upcoming.items
        history = detail.history.items
        # "upcoming" counts held and confirmed ones; the list from now on has every status.
        self.query_one("#patient-appointments-title", Static).update(
            f"{tally(detail.counts)} — listed: {len(upcoming)} from now on (any status), then the "
            f"{len(history)} most recent past (times in {tz})"
        )
        self.query_one(AppointmentTable).show_rows([*upcoming, *history], tz, now=self.desk.clock.now())
        self.follow_time((row.next_change(as_of) for row in [*upcoming, *history]), as_of)


