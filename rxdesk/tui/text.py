"""Data is shown as typed, never read as markup, never as terminal control.

Textual and Rich read a plain `str` as markup in table cells, Rich tables and (by default)
Statics and notifications: a patient called 'Anna [/x]' would break the screen and '[b]' in
a reason would vanish. Every name, reason, label, URL and error message goes through `plain`
(or `shown`, for a widget made with `markup=False`), which also escapes control characters
and bidi overrides (`rxdesk.domain.terminal`): an escape sequence in a stored email address
or a receiver's answer must not reach the agent's terminal.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from rxdesk.domain.terminal import terminal_safe


def shown(value: str) -> str:
    """Text for a widget made with `markup=False`: control characters escaped, lines kept."""
    return terminal_safe(value, lines=True)


def plain(value: RenderableType) -> RenderableType:
    """A `str` as literal, escaped text; anything else (already a renderable) as it is."""
    return Text(terminal_safe(value), no_wrap=True, end="") if isinstance(value, str) else value


def literal(value: RenderableType) -> RenderableType:
    """Like `plain`, wrapping allowed: for the value column of detail grids."""
    return Text(terminal_safe(value, lines=True), end="") if isinstance(value, str) else value


def fields_grid(rows: Iterable[tuple[str, RenderableType]], title: str | None = None) -> Table:
    """Label / value pairs for a detail panel: bold labels, values shown as typed; a title at
    the left edge, where every panel's heading starts."""
    grid = Table.grid(padding=(0, 2))
    grid.title, grid.title_justify, grid.title_style = title, "left", "bold"
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, value in rows:
        grid.add_row(label, literal(value))
    return grid
