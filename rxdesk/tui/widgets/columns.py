"""The columns of a table and how they share its width: what each shows, how much room its data
needs, and which gives way first when the terminal is narrow.

`lay_out` is pure arithmetic over `Column` specs, never a measurement of the cells, so a
resize re-lays the columns without touching the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from rich.cells import cell_len, set_cell_size
from rich.text import Text

from rxdesk.tui.text import plain

R = TypeVar("R")
Align = Literal["left", "right"]

MARGIN = 1  # blank cells before the first column
GAP = 2  # blank cells between columns

def visible(value: object) -> str:
    """A cell's text as typed, through `plain` (rxdesk.tui.text): control characters and bidi
    overrides shown as escapes, so data never moves the terminal's cursor or colours."""
    text = value if isinstance(value, str) else "" if value is None else str(value)
    shown = plain(text)
    return shown.plain if isinstance(shown, Text) else text


def fit(text: str, width: int, align: Align = "left") -> str:
    """`text` in exactly `width` cells: padded, or cut with `…` where it is too long."""
    if width <= 0:
        return ""
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…"
    pad = " " * (width - length)
    return pad + text if align == "right" else text + pad


@dataclass(frozen=True)
class Column(Generic[R]):
    """One column: what it shows and how much room it takes.

    `width` is the width the column's data has by its shape (a start time is always 20
    cells, a uid 14); names and labels have no fixed shape, so they give `min_width` (what
    they can shrink to, cut with `…`) and `max_width` (what they may grow to when there is
    room). `priority` orders columns by importance (0 first): when the table is narrow, the
    least important column shrinks first and is the first to go. `compact` is a shorter form
    that says the same (a start without its year), in `compact_width` cells: a narrow table
    takes it before any column gives way.
    """

    key: str
    label: str
    value: Callable[[R], object]
    width: int
    priority: int = 0
    min_width: int | None = None
    max_width: int | None = None
    align: Align = "left"
    style: Callable[[R], str | None] | None = None  # a component class for the cell
    compact: Callable[[R], object] | None = None
    compact_width: int | None = None

    @property
    def least(self) -> int:
        least = min(self.width, self.min_width if self.min_width is not None else self.width)
        if self.compact_width is not None:
            least = min(least, self.compact_width)
        return max(1, least)

    @property
    def most(self) -> int:
        return max(self.width, self.max_width or self.width)


@dataclass(frozen=True)
class Placed:
    column: Column[Any]
    x: int
    width: int
    compact: bool = False

    def value(self, row: Any) -> object:
        """What the cell shows: the compact form where the column took it."""
        column = self.column
        return column.compact(row) if self.compact and column.compact is not None else column.value(row)


def lay_out(columns: Sequence[Column[Any]], width: int) -> list[Placed]:
    """The columns that fit in `width` cells, in their own order, each with its width.

    Columns start at their data's width. Too wide: columns with a compact form take it
    first (it loses nothing), then the least important column gives way, down to its
    minimum, then the next. Columns that cannot be cut (no minimum below their width) and
    are less important than every column that can are left out before anything is cut;
    when even every minimum does not fit, the least important columns are left out. Room to spare goes to
    columns that may grow, the most important first."""
    order = sorted(range(len(columns)), key=lambda i: columns[i].priority)
    least = {i: columns[i].least for i in order}

    def needed(shown: list[int], widths: dict[int, int]) -> int:
        return MARGIN + sum(widths[i] for i in shown) + GAP * max(0, len(shown) - 1)

    def rigid(i: int) -> bool:
        column = columns[i]
        return column.min_width is None or column.min_width >= column.width

    # The tail: columns that cannot be cut and are less important than every one that can.
    cuttable = [columns[i].priority for i in order if not rigid(i)]
    tail = {i for i in order if rigid(i) and all(columns[i].priority > p for p in cuttable)}
    shown = list(order)
    while len(shown) > 1 and needed(shown, least) > width:
        shown.pop()
    def give_way(shown: list[int]) -> tuple[dict[int, int], set[int], bool]:
        widths, compact = _give_way(columns, shown, least, width - needed(shown, {i: columns[i].width for i in shown}))
        return widths, compact, any(widths[i] < columns[i].width and i not in compact for i in shown)

    left_out: list[int] = []
    while True:
        widths, compact, cut = give_way(shown)
        leaving = [i for i in shown if i in tail]
        if not cut or not leaving:
            break
        shown.remove(leaving[-1])
        left_out.append(leaving[-1])
    for i in reversed(left_out):  # one left out early may fit whole in the room the others left
        trial = sorted([*shown, i], key=lambda j: columns[j].priority)
        tried = give_way(trial)
        if not tried[2] and needed(trial, tried[0]) <= width:
            shown = trial
            widths, compact, cut = tried
    if needed(shown, widths) > width and shown:  # a single column wider than the table: cut it
        widths[shown[0]] = max(1, widths[shown[0]] - (needed(shown, widths) - width))
    spare = width - needed(shown, widths)
    for i in shown:
        if spare <= 0:
            break
        if i in compact:  # the full form again, when the room freed is not needed after all
            full = columns[i].width
            if full - widths[i] <= spare:
                spare -= full - widths[i]
                widths[i] = full
                compact.discard(i)
            continue
        grow = min(spare, columns[i].most - widths[i])
        widths[i] += grow
        spare -= grow
    placed = []
    x = MARGIN
    for i in sorted(shown):
        placed.append(Placed(columns[i], x, widths[i], compact=i in compact and widths[i] < columns[i].width))
        x += widths[i] + GAP
    return placed


def _give_way(columns: Sequence[Column[Any]], shown: list[int], least: dict[int, int],
              room: int) -> tuple[dict[int, int], set[int]]:
    """Widths for the `shown` columns (by importance) when their data's widths leave `room`
    cells (negative: too wide): compact forms first, then the least important down to its
    minimum, then the next. Also which columns took their compact form."""
    widths = {i: columns[i].width for i in shown}
    excess = -room
    compact: set[int] = set()
    for i in shown:
        short = columns[i].compact_width
        if excess > 0 and short is not None and short < widths[i]:
            excess -= widths[i] - short
            widths[i] = short
            compact.add(i)
    for i in reversed(shown):
        if excess <= 0:
            break
        give = min(excess, widths[i] - least[i])
        widths[i] -= give
        excess -= give
    return widths, compact
