"""The virtual appointment table: the whole list in one scroll, one line repainted per change,
a selection that outlives reloads, and columns laid out by importance at any width."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from textual.widgets import Input

from rxdesk.domain.clock import FixedClock
from rxdesk.domain.ids import new_appointment_uid
from rxdesk.domain.models import Appointment, AppointmentStatus
from rxdesk.services import Desk
from rxdesk.store import TinyStore
from rxdesk.tui.modals.cancel import CancelModal
from rxdesk.tui.screens.overview import OverviewScreen
from rxdesk.tui.widgets.columns import Column, fit, lay_out, visible
from rxdesk.tui.widgets.rows import Window
from rxdesk.tui.widgets.tables import AppointmentTable
from tests.tui.conftest import front, make_app, settle, wait_until

ROWS = 10_000


@pytest.fixture
def crowded(clinic: Desk, now: datetime) -> list[str]:
    """10,000 upcoming appointments written in one bulk write; their uids by start."""
    rng = random.Random(3)
    doctors = ["dr-weber", "dr-osei", "dr-sato"]
    patients = ["pat-001", "pat-002", "pat-003"]
    docs = []
    first = now + timedelta(hours=1)
    for i in range(ROWS):
        start = first + timedelta(minutes=5 * i)
        docs.append(Appointment(
            uid=new_appointment_uid(start, rng), patient_id=patients[i % 3], doctor_id=doctors[i % 3],
            type_key="gp-consult", status=AppointmentStatus.confirmed, starts_at=start,
            ends_at=start + timedelta(minutes=20), created_at=now - timedelta(days=1),
            confirmed_at=now - timedelta(days=1), room_url="https://meet.example/room",
        ).to_json())
    with clinic.store.write() as view:
        view.bulk.add_appointments(docs)
    return [d["uid"] for d in docs]


def line_text(table: AppointmentTable, y: int) -> str:
    return "".join(segment.text for segment in table.render_line(y))


async def test_end_reaches_the_last_of_ten_thousand_rows_at_once(clinic: Desk, crowded: list[str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AppointmentTable)
        assert table.total == ROWS  # one list, no pages
        assert table.virtual_size.height == ROWS + 1  # the scrollbar is true to the whole list
        await pilot.press("end")
        await settle(pilot)
        assert table.cursor == ROWS - 1 and table.current_key == crowded[-1]
        assert table.scroll_offset.y == table.max_scroll_y
        assert crowded[-1] in line_text(table, table.body_height)  # drawn on the last line
        await pilot.press("k", "k", "G")
        assert table.cursor == ROWS - 1
        await pilot.press("g")
        await settle(pilot)
        assert table.cursor == 0 and table.scroll_offset.y == 0 and table.current_key == crowded[0]
        await pilot.press("pagedown", "pagedown")
        await settle(pilot)
        assert table.cursor == 2 * table.body_height and table.current_key == crowded[table.cursor]


async def test_holding_j_walks_through_rows_not_loaded_yet(clinic: Desk, crowded: list[str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AppointmentTable)
        await pilot.press(*["j"] * 400)
        await settle(pilot)
        assert table.cursor == 400 and table.current_key == crowded[400]
        for y in range(1, table.body_height + 1):  # every line on screen has its row now
            assert "loading" not in line_text(table, y)


async def test_a_key_for_a_row_still_on_its_way_acts_once_it_is_here_unless_the_cursor_moved_on(
        clinic: Desk, crowded: list[str]) -> None:
    """`c` pressed right after a jump into rows not fetched yet opens the dialog for that row
    when it arrives (it was dropped); pressed, then the cursor moved on, it opens nothing."""
    app = make_app(clinic)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AppointmentTable)
        table.move_cursor(3000)
        assert table.current_row is None  # on its way
        table.action_cancel_appointment()
        table.move_cursor(6000)  # the agent went on before it came
        await settle(pilot)
        assert table.current_key == crowded[6000] and not isinstance(app.screen, CancelModal)
        table.move_cursor(8000)
        assert table.current_row is None
        table.action_cancel_appointment()
        await wait_until(pilot, lambda: isinstance(app.screen, CancelModal), what="the cancel dialog")
        assert isinstance(app.screen, CancelModal) and app.screen.uid == crowded[8000]


async def test_a_cancel_takes_the_row_out_with_one_screen_of_repaints_and_few_layouts(clinic: Desk, crowded: list[str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        table = screen.query_one(AppointmentTable)
        layouts: list[object] = []
        screen.screen_layout_refresh_signal.subscribe(screen, layouts.append)
        await pilot.press("j", "j")
        await settle(pilot)
        uid = table.current_key
        assert uid is not None
        table.rendered_lines = 0
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CancelModal)
        await pilot.press(*"Patient asked", "enter")
        await settle(pilot)
        assert app.screen is screen
        # Held and confirmed only: the row leaves, the cursor stays where it was, on the next one.
        assert table.index_of(uid) is None and table.total == ROWS - 1 and table.cursor == 2
        assert table.current_key == crowded[3]
        assert table.rendered_lines <= 1 + table.body_height  # the row marked, then one screen again
        assert len(layouts) <= 2  # the dialog's arrival, and the list one row shorter
        # The second cancel reuses the dialog: the list one row shorter is all that is laid out.
        layouts.clear()
        table.rendered_lines = 0
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CancelModal) and app.screen.uid == crowded[3]
        assert app.screen.query_one("#reason", Input).value == ""
        await pilot.press(*"Doctor unavailable", "enter")
        await settle(pilot)
        assert len(layouts) <= 1 and table.rendered_lines <= 1 + table.body_height
        assert table.total == ROWS - 2
    assert clinic.appointments.get(uid).status.value == "cancelled"


async def test_a_selection_survives_an_outside_change_and_escape_clears_it(clinic: Desk, crowded: list[str], data_dir: Path, now: datetime) -> None:
    app = make_app(clinic, poll_seconds=0.05)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        screen = front(app, OverviewScreen)
        table = screen.table
        await pilot.press("j", "space", "j", "j", "space")
        assert table.selection == {crowded[1], crowded[3]}
        assert "2 selected" in str(screen.query_one("#filter-count").render())
        loads = table.loads
        # Another process cancels the first row: the list reloads without it.
        other = Desk(TinyStore(data_dir), FixedClock(now), clinic.settings)
        other.appointments.cancel_appointment(crowded[0], "called in", "someone-else")
        await wait_until(pilot, lambda: table.loads > loads and table.total == ROWS - 1,
                         what="the reload after another process's cancel")
        assert table.current_key == crowded[3] and table.cursor == 2  # the same row, one up
        assert table.selection == {crowded[1], crowded[3]}
        # Drawn as selected (a marker before it, bold) after the reload; an unselected row is not.
        assert all(seg.style and seg.style.bold for seg in table.render_line(1) if seg.text.strip())
        assert not any(seg.style and seg.style.bold for seg in table.render_line(2) if seg.text.strip())
        assert line_text(table, 1).startswith("●") and not line_text(table, 2).startswith("●")
        await pilot.press("escape")
        assert table.selection == set()
        assert "selected" not in str(screen.query_one("#filter-count").render())
        await pilot.press("escape")  # nothing selected: escape is the screen's again
        assert app.focused is table


async def test_when_another_process_takes_the_cursors_row_and_rows_above_it_the_cursor_goes_to_the_next(
        clinic: Desk, crowded: list[str], data_dir: Path, now: datetime) -> None:
    """The row under the cursor and the two above it cancelled elsewhere: the cursor lands on the
    row that followed it, not at its old index (which, three rows up, is two rows further on)."""
    app = make_app(clinic, poll_seconds=0.05)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        screen = front(app, OverviewScreen)
        table = screen.table
        await pilot.press("j", "j", "j", "j", "j")
        assert table.current_key == crowded[5]
        loads = table.loads
        other = Desk(TinyStore(data_dir), FixedClock(now), clinic.settings)
        other.appointments.cancel_appointments(crowded[3:6], "clinic closed", "someone-else")
        await wait_until(pilot, lambda: table.loads > loads and table.total == ROWS - 3,
                         what="the reload after another process's cancel")
        assert table.current_key == crowded[6] and table.cursor == 3


async def test_a_resize_lays_the_columns_out_again_without_asking_the_store(clinic: Desk, crowded: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AppointmentTable)
        assert table.shown_columns == ["start", "patient", "doctor", "status", "type", "uid"]
        fetches: list[object] = []
        original = clinic.appointments.list_appointments
        def counted(*args: Any, **kwargs: Any) -> Any:
            fetches.append(args)
            return original(*args, **kwargs)

        monkeypatch.setattr(clinic.appointments, "list_appointments", counted)
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert table.shown_columns == ["start", "patient", "doctor", "status", "type"]
        first = line_text(table, 1)
        assert cell_len(first) == table.scrollable_content_region.width
        assert "confirmed" in first and "Lena Fischer" in first
        await pilot.resize_terminal(60, 24)
        await settle(pilot)
        assert table.shown_columns[:3] == ["start", "patient", "doctor"]
        assert fetches == []


def test_columns_give_way_by_importance() -> None:
    def column(key: str, width: int, priority: int, least: int | None = None, most: int | None = None) -> Column[str]:
        return Column(key, key.title(), str, width=width, priority=priority, min_width=least, max_width=most)

    columns = [column("start", 20, 0), column("name", 20, 1, 10, 30), column("status", 9, 2),
               column("kind", 20, 3, 8, 30), column("uid", 14, 4)]

    def widths(width: int) -> dict[str, int]:
        return {p.column.key: p.width for p in lay_out(columns, width)}

    # Room for everything at its data's width, and more: names grow, the rest keep their shape.
    assert widths(200) == {"start": 20, "name": 30, "status": 9, "kind": 30, "uid": 14}
    # Narrower: a column that cannot be cut (the uid) goes before a more important one is cut...
    assert widths(1 + 20 + 20 + 9 + 14 + 14 + 2 * 4) == {"start": 20, "name": 30, "status": 9, "kind": 20}
    # ...then the least important column that can shrink gives way first...
    assert widths(1 + 20 + 20 + 9 + 14 + 2 * 3) == {"start": 20, "name": 20, "status": 9, "kind": 14}
    # ...but never a more important column that cannot be cut (the status) for a less important one...
    assert widths(1 + 20 + 10 + 9 + 8 + 2 * 3) == {"start": 20, "name": 10, "status": 9, "kind": 8}
    # ...and once every minimum no longer fits, the least important column goes.
    assert widths(69) == {"start": 20, "name": 20, "status": 9, "kind": 13}
    assert widths(1 + 20 + 10 + 9 + 8 + 2 * 3 - 1) == {"start": 20, "name": 19, "status": 9}
    assert list(widths(40)) == ["start", "name"]
    placed = lay_out(columns, 80)
    assert placed[-1].x + placed[-1].width <= 80
    assert [p.column.key for p in lay_out(columns, 5)] == ["start"]  # a sliver still shows the start


def test_a_column_left_out_early_comes_back_when_the_room_left_holds_it() -> None:
    def column(key: str, width: int, priority: int, least: int | None = None) -> Column[str]:
        return Column(key, key, str, width=width, priority=priority, min_width=least)

    # A secrets table beside its help panel: the label would be cut, so Created and By (which
    # cannot be cut) go; the By column then fits whole in what is left, and comes back.
    columns = [column("key_id", 15, 0), column("label", 47, 3, 16), column("status", 24, 1, 8),
               column("used", 9, 2), column("created", 16, 4), column("by", 10, 5)]
    placed = {p.column.key: p.width for p in lay_out(columns, 116)}
    assert placed == {"key_id": 15, "label": 47, "status": 24, "used": 9, "by": 10}
    assert list({p.column.key: p.width for p in lay_out(columns, 99)}) == ["key_id", "label", "status", "used"]


def test_a_start_drops_its_year_before_any_column_gives_way() -> None:
    full: Column[str] = Column("start", "Start", lambda row: "Tue 2026-11-24 09:30", width=20, priority=0,
                  compact=lambda row: "Tue 11-24 09:30", compact_width=15)
    name = Column("name", "Name", str, width=20, priority=1, min_width=10)
    placed = {p.column.key: p for p in lay_out([full, name], 1 + 20 + 2 + 17)}
    assert placed["start"].compact and placed["start"].width == 15 and placed["name"].width == 20
    assert placed["start"].value("row") == "Tue 11-24 09:30"
    roomy = {p.column.key: p for p in lay_out([full, name], 1 + 20 + 2 + 20)}
    assert not roomy["start"].compact and roomy["start"].value("row") == "Tue 2026-11-24 09:30"


def test_cells_are_cut_with_an_ellipsis_and_never_carry_control_characters() -> None:
    assert fit("Dr Anna Weber", 8) == "Dr Anna…"
    assert fit("Weber", 8) == "Weber   " and fit("42", 5, "right") == "   42"
    assert cell_len(fit("山田太郎さん", 7)) == 7  # wide characters are cut by cell, not by letter
    shown = visible("Lena\x1b[31mRed\x07\nx\u202e")
    assert shown.startswith("Lena\\x1b[31mRed") and not any(ord(ch) < 32 or ch == "\u202e" for ch in shown)
    assert visible("[b]bold[/b]") == "[b]bold[/b]"


class Numbers:
    """A row source of plain numbers whose count waits until the test lets it finish."""

    def __init__(self, size: int) -> None:
        import threading

        self.size = size
        self.first = 0  # rows before this one have left the list (another agent's change)
        self.counting = threading.Event()
        self.fetched: list[tuple[int, int]] = []

    def fetch(self, offset: int, limit: int, *, count: bool) -> Window[int]:
        if count:
            self.counting.wait(30)
        self.fetched.append((offset, limit))
        rows = list(range(self.first + offset, min(self.first + offset + limit, self.size)))
        return Window(offset, rows, self.size - self.first if count else None)

    def key(self, row: int) -> str:
        return str(row)


async def test_a_first_window_shows_at_once_and_the_count_follows() -> None:
    """The table knows nothing of appointments: numbers will do. A window fetched without a
    count is shown as far as it goes; the count, made in the background, extends the list."""
    from textual.app import App, ComposeResult

    from rxdesk.tui.widgets.virtual_table import VirtualTable

    class Numbered(App[None]):
        def compose(self) -> ComposeResult:
            yield VirtualTable([Column("n", "Number", str, width=8, align="right")], id="numbers")

    app = Numbered()
    source = Numbers(50_000)
    async with app.run_test(size=(40, 20)) as pilot:
        table = app.query_one(VirtualTable)
        table.focus()
        table.show(source, source.fetch(0, 256, count=False))
        assert table.total == 256 and not table.counted
        source.counting.set()
        await settle(pilot)
        assert table.counted and table.total == 50_000 and table.virtual_size.height == 50_001
        await pilot.press("end")
        await settle(pilot)
        assert table.current_row == 49_999
        assert line_text(table, table.body_height).rstrip().endswith("49999")
        # Only the windows around what was shown were read: never the 50,000 rows.
        assert sum(limit for _offset, limit in source.fetched) < 2_000
        # A window that starts and ends between blocks: the rows around it are fetched again,
        # and no line stays "loading" for good.
        table.show(source, Window(100, list(range(100, 190)), 50_000), around=0)
        await pilot.press("home")
        await settle(pilot)
        for y in range(1, table.body_height + 1):
            assert line_text(table, y).strip() == str(y - 1)
        await pilot.press("pagedown", "pagedown", "pagedown", "pagedown", "pagedown", "pagedown", "pagedown")
        await settle(pilot)
        assert "…" not in "".join(line_text(table, y) for y in range(1, table.body_height + 1))


async def test_a_count_made_after_the_list_changed_shows_the_list_as_it_is_now() -> None:
    """The first window is read without a count; by the time the count is made, 100 rows have
    left the list. The table must show the list as it is then, not the old rows under the new
    count (a row looked up by key would be where it no longer is)."""
    from textual.app import App, ComposeResult

    from rxdesk.tui.widgets.virtual_table import VirtualTable

    class Numbered(App[None]):
        def compose(self) -> ComposeResult:
            yield VirtualTable([Column("n", "Number", str, width=8)], id="numbers")

    app = Numbered()
    source = Numbers(1000)
    async with app.run_test(size=(40, 20)) as pilot:
        table = app.query_one(VirtualTable)
        table.show(source, source.fetch(0, 256, count=False))
        assert table.row_at(0) == 0
        source.first = 100
        source.counting.set()
        await settle(pilot)
        assert table.counted and table.total == 900
        assert table.row_at(0) == 100 and table.index_of("200") == 100
        assert table.select_key("200") and table.current_row == 200
