"""Section 1: upcoming appointments across the organisation, filtered: the whole result in
one scrolling table, read from the service a window at a time."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import ContentSwitcher, Static

from rxdesk.services.appointments import AppointmentRow
from rxdesk.services.filters import FilterText, ParsedFilter
from rxdesk.tui.screens.base import DeskScreen
from rxdesk.tui.widgets.filter_bar import FilterBar
from rxdesk.tui.widgets.rows import BLOCK, Window
from rxdesk.tui.widgets.tables import AppointmentSource, AppointmentTable
from rxdesk.tui.widgets.virtual_table import VirtualTable
from rxdesk.tui.work import call_service

if TYPE_CHECKING:
    from rxdesk.services import Desk

# Every line fits an 80-column terminal's panel, and the whole text its 24 rows.
EMPTY_TEXT = """\
There is no data in this {place} yet.
{more}
To try rxdesk on a realistic clinic, quit (q) and run:
    rxdesk demo

To set up your organisation, doctors and patients from a file:
    rxdesk provision clinic.toml
(an example: examples/clinic.toml; the README explains each field)

This screen fills in by itself as soon as data arrives."""
IMPORT_TEXT = """
To copy in a data dir that holds your clinic, quit (q) and run:
    rxdesk store import DATA_DIR
"""


def empty_text(database: bool) -> str:
    """What the overview says when there is no data yet, in the data dir or the database."""
    return EMPTY_TEXT.format(place="database" if database else "data dir", more=IMPORT_TEXT if database else "")


@dataclass
class Loaded:
    parsed: ParsedFilter | None
    source: AppointmentSource | None
    window: Window[AppointmentRow] | None
    zone: str
    empty: bool
    as_of: datetime | None = None  # the rows are as of this instant or just after


def read_rows(desk: Desk, text: FilterText, offset: int, limit: int, *, count: bool) -> Loaded:
    """The overview's list for what the filters say: the window `offset`/`limit` of it, and
    whether the data dir is empty."""
    as_of = desk.clock.now()
    if desk.is_empty():
        return Loaded(None, None, None, "UTC", True)
    parsed = desk.appointments.parse_filter(text, overview=True)
    source = AppointmentSource(desk.appointments, parsed.filter)
    window = source.fetch(offset, limit, count=count)
    return Loaded(parsed, source, window, desk.org_basics().timezone, False, as_of)


class FirstRead:
    """The overview's first rows (the default filters, uncounted), read in a thread started
    with the app: the read runs while Textual starts up, so the first frame can show them."""

    OFFSET, LIMIT = 0, BLOCK  # the window the first screen asks for at any usual height

    def __init__(self, desk: Desk) -> None:
        self.result: Future[Loaded] = Future()
        threading.Thread(target=self._read, args=(desk,), name="rxdesk-first-rows", daemon=True).start()

    def _read(self, desk: Desk) -> None:
        try:
            self.result.set_result(read_rows(desk, FilterText(), self.OFFSET, self.LIMIT, count=False))
        except BaseException as exc:  # noqa: BLE001 - handed to the screen's load, which reports it
            self.result.set_exception(exc)

    def serves(self, text: FilterText, offset: int, limit: int) -> bool:
        return text == FilterText() and (offset, limit) == (self.OFFSET, self.LIMIT)


class OverviewScreen(DeskScreen):
    SECTION = "overview"

    BINDINGS = [
        Binding("slash", "focus_filters", "Filter", id="overview.focus_filters", priority=True),
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
        self.unmatched: dict[str, str] = {}  # doctor/patient fields naming no one -> why: nothing listed
        self.loads = 0  # completed loads: tests and the benchmark wait on it

    def compose_body(self) -> ComposeResult:
        with ContentSwitcher(initial="overview-main", id="overview-switcher"):
            with Vertical(id="overview-main"):
                yield FilterBar(id="filters")
                yield AppointmentTable(id="appointments")
            yield Static(empty_text(bool(self.desk.settings.database_url)), id="empty-state")

    @property
    def table(self) -> AppointmentTable:
        return self.query_one("#appointments", AppointmentTable)

    @property
    def filters(self) -> FilterBar:
        return self.query_one("#filters", FilterBar)

    def on_mount(self) -> None:
        self.table.focus()
        self.reload()

    def reload(self, *, keep: str | None = None, around: int | None = None, from_top: bool = False) -> None:
        """Fetch the filtered list again: its count and the window around the cursor, in one
        call off the UI thread. The cursor stays on the row keyed `keep` (the current row by
        default) or, when that row left the list, at its place; `from_top`: on the first row
        (another list, not the same one again)."""
        desk = self.desk
        text = self.filter_text
        table = self.table
        if from_top:
            keep, around = None, 0
        else:
            keep = table.current_key if keep is None else keep
            around = table.cursor if around is None else around
        offset, limit = table.span_around(around)
        # The very first screen reads only the weeks its rows are in; the table counts the
        # rest (every upcoming week) in the background once the rows are painted.
        first = self.loads == 0
        early, self.desk_app.first_read = self.desk_app.first_read, None
        read: Future[Loaded] | None = early.result if first and early and early.serves(text, offset, limit) else None
        if read is not None and read.done() and read.exception() is None:
            self._show(read.result(), keep, around)  # before the first frame: it shows the rows
            return

        def load() -> Loaded:
            if read is not None:  # still reading (or failed: reported here as any load's failure)
                return read.result()
            return read_rows(desk, text, offset, limit, count=not first)

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
        if loaded.as_of is not None:
            self.follow_time((row.next_change(loaded.as_of) for row in window.rows), loaded.as_of)
        self.window_text = parsed.window
        self.unmatched = parsed.unmatched
        self.filters.show_result(parsed.errors, parsed.resolved, on_count=set(self.unmatched))
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
        call_service(self, self.desk.read_ahead, done=lambda _none: None, group="read-ahead")

    def on_virtual_table_loaded(self, event: VirtualTable.Loaded) -> None:
        self._show_count()
        if event.counted and not self.doctor_names_set:
            self._warm_up()

    def _show_count(self) -> None:
        table = self.table
        total = self.total = table.total
        if self.unmatched:  # the list is empty because of what was typed: say so where the count is
            text = f"0 matches: {' · '.join(self.unmatched.values())}"
        elif not table.counted:
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
        self.reload(from_top=True)  # another list: its first row, not a row kept from the last one

    def action_focus_filters(self) -> None:
        self.into_field(self.query_one("#filter-doctor"))

    def action_focus_table(self) -> None:
        self.table.focus()

    def action_clear_filters(self) -> None:
        """Every filter back to its default (upcoming held and confirmed), in one key."""
        self.filters.clear()
        self.table.focus()
