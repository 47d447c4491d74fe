"""What every section and detail screen shares: the header, the footer, live refresh."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input

from rxdesk.tui.context import OnDesk
from rxdesk.tui.widgets.footer import DeskFooter
from rxdesk.tui.widgets.header import DeskHeader

# After the instant a row changes: the service clock counts whole seconds.
TIME_MARGIN = 0.05


def size_classes(screen: Screen[Any]) -> dict[str, bool]:
    """The breakpoint classes (`App.HORIZONTAL_BREAKPOINTS`, `VERTICAL_BREAKPOINTS`) that Textual
    gives a screen of the app's size when it is resized: each class on or off."""
    app = screen.app
    classes: dict[str, bool] = {}
    for extent, own, shared in ((app.size.width, screen.HORIZONTAL_BREAKPOINTS, app.HORIZONTAL_BREAKPOINTS),
                                (app.size.height, screen.VERTICAL_BREAKPOINTS, app.VERTICAL_BREAKPOINTS)):
        points = (shared if own is None else own) or []
        classes.update((name, False) for _, name in points)
        reached = [(start, name) for start, name in points if extent >= start]
        if reached:
            classes[max(reached)[1]] = True
    return classes


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
        self._time_timer: Timer | None = None
        self.awaiting: datetime | None = None  # the instant a shown row changes by itself next
        self.looked_again = 0  # loads asked for because time moved (tests wait on it)

    def compose(self) -> ComposeResult:
        # Styled for the terminal's size from the first: the screen's widgets are styled once
        # more when it is shown, and were again at its first resize had the classes changed then.
        self.update_classes(size_classes(self), animate=False)
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

    def into_field(self, field: Widget) -> None:
        """`/`: into a text field. A priority binding, so the keys typed right after it are
        handed to the field, not to what had the focus; in a text field, `/` is typed."""
        if isinstance(self.focused, Input):
            raise SkipAction()
        self.set_focus(field)  # at once: `field.focus()` waits for the keys already queued

    def follow_time(self, instants: Iterable[datetime | None], since: datetime) -> None:
        """Look again at the first of `instants` after `since` (the instant what is shown was
        read as of), by the service clock: the moment a row shown here changes by itself (a
        call starts or ends, a hold lapses), which no write announces. One timer per screen,
        replaced at every load; none when nothing shown will change."""
        if self._time_timer is not None:
            self._time_timer.stop()
            self._time_timer = None
        coming = min((instant for instant in instants if instant is not None and instant > since), default=None)
        self.awaiting = coming
        if coming is not None:
            # Armed from the app's own task: a stopped timer leaves its sleep in the event loop
            # until it would have ended, with the context it was made in, and the context of a
            # load's answer names its worker, and so this screen, which would stay in memory.
            self.app.call_later(self._arm, coming)

    def _arm(self, coming: datetime) -> None:
        if not self.is_attached or self.awaiting != coming or self._time_timer is not None:
            return
        now = self.desk.clock.now()
        delay = max(0.0, (coming - now).total_seconds()) + TIME_MARGIN
        self._time_timer = self.set_timer(delay, lambda: self._time_came(now, coming), name="time moves")

    def on_unmount(self) -> None:
        if self._time_timer is not None:  # a closed page waits for nothing (and is let go)
            self._time_timer.stop()
            self._time_timer = None

    def _time_came(self, scheduled: datetime, coming: datetime) -> None:
        self._time_timer = None
        self.awaiting = None
        now = self.desk.clock.now()
        if now >= coming:
            self.looked_again += 1
            self.data_changed()
        elif now > scheduled:  # the clock moves but is not there yet: wait the rest
            self.follow_time([coming], now)
        # else the clock stands still (RXDESK_NOW): nothing shown changes by itself


class DetailScreen(DeskScreen):
    """A screen opened from a section; `escape` goes back to where the agent was."""

    BINDINGS = [Binding("escape", "back", "Back", id="back")]

    def action_back(self) -> None:
        """escape: out of a text field first (as help says), then back."""
        if isinstance(self.focused, Input):
            self.leave_field()
        else:
            self.dismiss()

    def leave_field(self) -> None:
        """Where escape from a text field goes: the first thing on the page that is not one
        (a list to pick from), or nowhere in particular; the page's keys work again."""
        self.set_focus(next((widget for widget in self.focus_chain if not isinstance(widget, Input)), None))
