"""One line of a virtual table, drawn: a row's cells in the places `lay_out` gave them, the
header, and the placeholder of a row not loaded yet. Pure drawing over laid-out columns: no
widget, no cache (the table caches the strips it gets here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from rxdesk.tui.widgets.columns import MARGIN, Placed, fit, visible

# Drawn in the margin before a selected row's first cell: a selection seen without colour.
SELECTED = "●"


def row_strip(row: Any, placed: list[Placed], width: int, base: Style,
              cell_style: Callable[[str], Style] | None, *, selected: bool = False) -> Strip:
    """`row`'s cells in `width` cells, in the row's `base` style; a column with a style of its
    own (a status colour) takes `cell_style(component)`, unless `cell_style` is None (the
    cursor's row, drawn in one style). A selected row carries SELECTED in its margin."""
    # One segment per run of cells in the same style (usually three a row, not a dozen):
    # fewer objects to cache and fewer pieces for the compositor to cut.
    segments: list[Segment] = []
    run: list[str] = [(SELECTED if selected else "").ljust(MARGIN)]
    run_style = base
    x = MARGIN
    for place in placed:
        column = place.column
        style = base
        if column.style is not None and cell_style is not None:
            component = column.style(row)
            if component:
                style = cell_style(component)
        if place.x > x:  # the gap before a cell, in the row's style
            if run_style is not base:
                segments.append(Segment("".join(run), run_style))
                run, run_style = [], base
            run.append(" " * (place.x - x))
        if style is not run_style:
            segments.append(Segment("".join(run), run_style))
            run, run_style = [], style
        run.append(fit(visible(place.value(row)), place.width, column.align))
        x = place.x + place.width
    if run_style is not base:
        segments.append(Segment("".join(run), run_style))
        run, run_style = [], base
    if width > x:
        run.append(" " * (width - x))
    if run:
        segments.append(Segment("".join(run), run_style))
    return Strip(segments, max(width, x)).crop(0, width) if x > width else Strip(segments, width)


def header_strip(placed: list[Placed], width: int, style: Style) -> Strip:
    """The column labels, each where its column is."""
    text = " " * MARGIN
    for place in placed:
        text = text.ljust(place.x) + fit(place.column.label, place.width, place.column.align)
    return Strip([Segment(fit(text, width) if cell_len(text) > width else text.ljust(width), style)], width)


def placeholder_strip(placeholder: str, width: int, style: Style) -> Strip:
    """A row not loaded yet: `placeholder` where its cells will be."""
    text = fit(placeholder, width - MARGIN) if width > MARGIN else ""
    return Strip([Segment(" " * min(MARGIN, width) + text, style)], width)
