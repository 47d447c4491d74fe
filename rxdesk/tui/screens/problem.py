"""When the data cannot be read: the one-line reason, and what to do, instead of a crash."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from rxdesk.tui.text import shown

ADVICE = (
    "What you were doing changed nothing, and nothing will be written until this is fixed.\n\n"
    "If a data file is damaged, the README (Damaged files, backups and restoring) explains how to "
    "return to the last good state kept in rxdesk.previous.json. With a database (RXDESK_DATABASE_URL), "
    "check the server and the URL, then start rxdesk again. Press q to quit."
)


class ProblemScreen(Screen[None]):
    BINDINGS = [Binding("q", "app.quit", "Quit", id="problem.quit")]

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="problem"):
            yield Static("rxdesk cannot read its data", classes="dialog-title")
            yield Static(shown(self.message), id="problem-message", markup=False)
            yield Static(ADVICE, classes="dialog-hint")
        yield Footer()
