"""Section 1: upcoming appointments across the organisation, filtered, one page at a time."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import ContentSwitcher, Static

from rxdesk.domain.queries import Page
from rxdesk.services.appointments import AppointmentRow
from rxdesk.services.filters import FilterText, ParsedFilter
from rxdesk.tui.screens.base import DeskScreen
from rxdesk.tui.widgets.filter_bar import FilterBar
from rxdesk.tui.widgets.tables import AppointmentTable
from rxdesk.tui.work import call_service

PAGE_SIZE = 100

EMPTY_TEXT = """\
There is no data in this data dir yet.

To try rxdesk on a realistic clinic, quit (q) and run:
    rxdesk demo

To set up your organisation, doctors and patients from a file, run:
    rxdesk provision clinic.toml
(an example is in examples/clinic.toml; the README explains every field)

This screen fills in by itself as soon as data arrives."""


@dataclass
class Loaded:
    parsed: ParsedFilter | None
    page: Page[AppointmentRow] | None
    zone: str
    empty: bool
    doctor_names: list[str]


class OverviewScreen(DeskScreen):
    SECTION = "overview"

    BINDINGS = [
        Binding("slash", "focus_filters", "Filter"),
        Binding("escape", "focus_table", "Table", show=False),
        Binding("right_square_bracket", "page(1)", "Next page", show=False),
        Binding("left_square_bracket", "page(-1)", "Prev page", show=False),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.page_offset = 0
        self.filter_text = FilterText()
        self.doctor_names_set = False
        self.loads = 0  # completed loads: tests and the benchmark wait on it

    def compose_body(self) -> ComposeResult:
        with ContentSwitcher(initial="overview-main", id="overview-switcher"):
            with Vertical(id="overview-main"):
                yield FilterBar(id="filters")
                yield AppointmentTable(id="appointments")
            yield Static(EMPTY_TEXT, id="empty-state")

    @property
    def table(self) -> AppointmentTable:
        return self.query_one("#appointments", AppointmentTable)

    @property
    def filters(self) -> FilterBar:
        return self.query_one("#filters", FilterBar)

    def on_mount(self) -> None:
        self.table.focus()
        self.reload()

    def reload(self, *, keep: str | None = None, fallback_row: int | None = None) -> None:
        desk = self.app.desk
        text = self.filter_text
        offset = self.page_offset
        want_names = not self.doctor_names_set
        if keep is None:
            keep = self.table.selected_key
        row = self.table.cursor_row if fallback_row is None else fallback_row

        def load() -> Loaded:
            if desk.is_empty():
                return Loaded(None, None, "UTC", True, [])
            parsed = desk.appointments.parse_filter(text)
            page = desk.appointments.list_appointments(parsed.filter, offset=offset, limit=PAGE_SIZE)
            names = [d.name for d in desk.doctors.list_doctors()] if want_names else []
            return Loaded(parsed, page, desk.org().timezone, False, names)

        call_service(self, load, done=lambda loaded: self._show(loaded, keep, row), group="overview")

    def _show(self, loaded: Loaded, keep: str | None, fallback_row: int) -> None:
        self.loads += 1
        if self.loads == 1 and not loaded.empty:
            desk = self.app.desk
            call_service(self, desk.warm_up, done=lambda _none: None, group="warm-up")
        switcher = self.query_one("#overview-switcher", ContentSwitcher)
        if loaded.empty:
            switcher.current = "empty-state"
            return
        switcher.current = "overview-main"
        if loaded.doctor_names:
            self.filters.set_doctor_names(loaded.doctor_names)
            self.doctor_names_set = True
        page, parsed = loaded.page, loaded.parsed
        if page is None or parsed is None:
            return
        if page.total is not None and page.offset >= page.total > 0:
            # The page we were on emptied (rows cancelled elsewhere): step back to the last one.
            self.page_offset = max(0, (page.total - 1) // PAGE_SIZE * PAGE_SIZE)
            self.reload(keep=keep)
            return
        table = self.table
        table.has_next_page = page.has_more
        table.has_previous_page = self.page_offset > 0
        table.show_rows(page.items, loaded.zone, keep=keep, fallback_row=fallback_row)
        self.filters.show_result(parsed.errors, parsed.resolved)
        self.filters.show_count(self._count_text(page))

    def _count_text(self, page: Page[AppointmentRow]) -> str:
        total = page.total or 0
        if total == 0:
            return "no matches"
        first, last = self.page_offset + 1, self.page_offset + len(page.items)
        noun = "match" if total == 1 else "matches"
        if total <= PAGE_SIZE:
            return f"{total:,} {noun}"
        return f"{total:,} {noun} · showing {first:,}–{last:,}"

    def on_filter_bar_changed(self, event: FilterBar.Changed) -> None:
        self.filter_text = event.text
        self.page_offset = 0
        self.reload(keep=None, fallback_row=0)

    def on_appointment_table_page_request(self, event: AppointmentTable.PageRequest) -> None:
        self._turn(event.step)

    def action_page(self, step: int) -> None:
        table = self.table
        if (step > 0 and table.has_next_page) or (step < 0 and table.has_previous_page):
            self._turn(step)

    def _turn(self, step: int) -> None:
        self.page_offset = max(0, self.page_offset + step * PAGE_SIZE)
        # Forward lands on the first row of the next page, back on the last of the previous.
        self.reload(keep="", fallback_row=0 if step > 0 else PAGE_SIZE - 1)

    def action_focus_filters(self) -> None:
        self.query_one("#filter-doctor").focus()

    def action_focus_table(self) -> None:
        self.table.focus()

    def action_reload(self) -> None:
        self.reload()
