"""What every section and detail screen shares: the header, the footer, live refresh."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen

from rxdesk.tui.context import OnDesk
from rxdesk.tui.widgets.footer import DeskFooter
from rxdesk.tui.widgets.header import DeskHeader


class DeskScreen(OnDesk, Screen[None]):
    """A screen of the desk. Subclasses yield their body from `compose_body` and reload their
    data in `reload()`; the app calls `data_changed()` when another process wrote. The services
    are `self.desk`, the app `self.desk_app`."""

    SECTION = "overview"
    TITLE_TEXT = ""

    BINDINGS = [Binding("ctrl+r", "reload", "Reload", id="screen.reload")]

    def __init__(self) -> None:
        super().__init__()
        self.stale = False

    def compose(self) -> ComposeResult:
        # The tab bar shows the section the agent is in: a patient page opened from the
        # overview belongs to the overview (escape leads back there), not to section 2.
        yield DeskHeader(getattr(self.app, "current_mode", self.SECTION) or self.SECTION, self.TITLE_TEXT)
        yield from self.compose_body()
        yield DeskFooter()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def reload(self) -> None:
        """Fetch this screen's data again (in a worker) and keep the selection."""

    def action_reload(self) -> None:
        self.reload()

    def data_changed(self) -> None:
        if self.is_current:
            self.reload()
        else:
            self.stale = True

    def on_screen_resume(self) -> None:
        if self.stale:
            self.stale = False
            self.reload()


class DetailScreen(DeskScreen):
    """A screen opened from a section; `escape` goes back to where the agent was."""

    BINDINGS = [Binding("escape", "back", "Back", id="back")]

    def action_back(self) -> None:
        self.dismiss()
