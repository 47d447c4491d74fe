"""Section 1: upcoming appointments across the organisation, filtered: the whole result in
one scrolling table, read from the service a window at a time."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import ContentSwitcher, Static

from rxdesk.services.appointments import AppointmentRow
from rxdesk.services.filters import FilterText, ParsedFilter
from rxdesk.tui.screens.base import DeskScreen
from rxdesk.tui.widgets.filter_bar import FilterBar
from rxdesk.tui.widgets.rows import Window
from rxdesk.tui.widgets.tables import AppointmentSource, AppointmentTable
from rxdesk.tui.widgets.virtual_table import VirtualTable
from rxdesk.tui.work import call_service

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
    source: AppointmentSource | None
    window: Window[AppointmentRow] | None
    zone: str
    empty: bool


class OverviewScreen(DeskScreen):
    SECTION = "overview"

    BINDINGS = [
        Binding("slash", "focus_filters", "Filter", id="overview.focus_filters"),
        Binding("escape", "focus_table", "Table", show=False, id="overview.focus_table"),
        Binding("ctrl+l", "clear_filters", "Clear filters", id="overview.clear_filters"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = FilterText()
        self.window_text = ""  # the statuses and time window in effect, in words
        self.doctor_names_set = False
        self.names_learned = False  # the column widths follow the names: tests wait on it
        self.total = 0
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

    def reload(self, *, keep: str | None = None, around: int | None = None) -> None:
        """Fetch the filtered list again: its count and the window around the cursor, in one
        call off the UI thread. The cursor stays on the row keyed `keep` (the current row by
        default) or, when that row left the list, at its place."""
        desk = self.desk
        text = self.filter_text
        table = self.table
        keep = table.current_key if keep is None else keep
        around = table.cursor if around is None else around
        offset, limit = table.span_around(around)
        first = self.loads == 0

        def load() -> Loaded:
            if desk.is_empty():
                return Loaded(None, None, None, "UTC", True)
            parsed = desk.appointments.parse_filter(text, overview=True)
            source = AppointmentSource(desk.appointments, parsed.filter)
            # The very first screen reads only the weeks its rows are in; the table counts
            # the rest (every upcoming week) in the background once the rows are painted.
            window = source.fetch(offset, limit, count=not first)
            return Loaded(parsed, source, window, desk.org().timezone, False)

        call_service(self, load, done=lambda loaded: self._show(loaded, keep, around), group="overview")

    def _show(self, loaded: Loaded, keep: str | None, around: int) -> None:
        self.loads += 1
        switcher = self.query_one("#overview-switcher", ContentSwitcher)
        if loaded.empty:
            switcher.current = "empty-state"
            self.desk_app.first_rows_shown()
            return
        switcher.current = "overview-main"
        source, window, parsed = loaded.source, loaded.window, loaded.parsed
        if source is None or window is None or parsed is None:
            return
        table = self.table
        table.set_zone(loaded.zone, self.desk.clock.now())
        table.show(source, window, keep=keep, around=around)
        self.window_text = parsed.window
        self.filters.show_result(parsed.errors, parsed.resolved)
        self.filters.show_picks(parsed.picks())
        self.call_after_refresh(self._after_paint)

    def _after_paint(self) -> None:
        """Once the rows are on screen: the first time, the header's count of what needs
        attention; once the list is counted too (`on_virtual_table_loaded`), what else can wait;
        after that, every time, the data just loaded out of the garbage collector's way."""
        if self.names_learned:
            self.desk_app.keep_loaded()
        else:
            self.desk_app.first_rows_shown()

    def _warm_up(self) -> None:
        """Doctor and type names for the suggestions and the column widths, the models'
        validators: after the first rows and their count, so none of it delays them."""
        self.doctor_names_set = True
        desk = self.desk

        def names() -> tuple[list[str], list[str]]:
            found = ([d.name for d in desk.doctors.list_doctors()], [t.name for t in desk.types.list_types()])
            desk.warm_up()
            return found

        call_service(self, names, done=lambda found: self._learn_names(*found), group="warm-up")

    def _learn_names(self, doctors: list[str], types: list[str]) -> None:
        self.filters.set_doctor_names(doctors)
        self.table.learn_names(doctors, types)
        self.names_learned = True
        self.desk_app.keep_loaded()

    def on_virtual_table_loaded(self, event: VirtualTable.Loaded) -> None:
        self._show_count()
        if event.counted and not self.doctor_names_set:
            self._warm_up()

    def _show_count(self) -> None:
        table = self.table
        total = self.total = table.total
        if not table.counted:
            text = f"{total:,}+ matches, counting…"
        elif total == 0:
            text = "no matches"
        else:
            text = f"{total:,} {'match' if total == 1 else 'matches'}"
        if self.window_text:
            text = f"{self.window_text} · {text}"
        chosen = len(self.table.selection)
        if chosen:
            text += f" · {chosen:,} selected"
        self.filters.show_count(text)

    def on_virtual_table_selection_changed(self, event: VirtualTable.SelectionChanged) -> None:
        self._show_count()

    def on_filter_bar_changed(self, event: FilterBar.Changed) -> None:
        self.filter_text = event.text
        self.reload(around=0)

    def action_focus_filters(self) -> None:
        self.query_one("#filter-doctor").focus()

    def action_focus_table(self) -> None:
        self.table.focus()

    def action_clear_filters(self) -> None:
        """Every filter back to its default (upcoming held and confirmed), in one key."""
        self.filters.clear()
        self.table.focus()
