"""Every key the agent can press here, in one place (`?` or F1)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from rxdesk.tui.widgets.footer import DeskFooter
from rxdesk.tui.widgets.header import SECTIONS

GENERAL = (
    (f"{SECTIONS[0][0]} … {SECTIONS[-1][0]}", "sections: " + ", ".join(what for *_, what in SECTIONS)),
    ("enter", "open the selected row"),
    ("escape", "back / leave a field"),
    ("/", "filters or search"),
    ("c", "cancel the selected appointment (type a reason, enter confirms, escape aborts)"),
    ("n", "attendance: mark the selected appointment no_show or completed (with a reason)"),
    ("r", "rebook the selected appointment"),
    ("p / d", "the appointment's patient / doctor"),
    ("b", "book a new appointment for the selected appointment's patient"),
    ("j / k, ↓ / ↑", "move (appointments: the whole list in one scroll)"),
    ("g / G, home / end", "the first / last row"),
    ("space", "select the appointment (escape clears the selection)"),
    ("[ / ]", "previous / next page of patients (in webhooks: the tabs)"),
    ("ctrl+r", "reload this screen"),
    ("ctrl+l", "clear every filter (overview) or the search (patients)"),
    ("ctrl+p", "command palette: every action of this screen"),
    ("? / F1", "this help"),
    ("q / ctrl+q", "quit (q only outside a text field)"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close", id="help.dismiss")]

    def __init__(self, screen_keys: list[tuple[str, str]], screen_name: str) -> None:
        super().__init__()
        self.screen_keys = screen_keys
        self.screen_name = screen_name

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help"):
            yield Static("Keys", classes="dialog-title")
            yield Static(self._table(GENERAL, "Everywhere"))
            if self.screen_keys:
                yield Static(self._table(self.screen_keys, f"On this screen ({self.screen_name})"))
            yield Static("escape closes this help", classes="dialog-hint")
        yield DeskFooter()  # the keys of this dialog, not of the screen behind it

    @staticmethod
    def _table(rows: Iterable[tuple[str, str]], title: str) -> Table:
        table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, what in rows:
            table.add_row(key, what)
        return table
