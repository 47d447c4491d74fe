"""A table that draws only the lines on screen, for lists of any length.

Built on Textual's Line API, the way Textual's log viewer Toolong draws files too big for a
table: a `ScrollView` whose `render_line` draws one line at a time. The table knows how many
rows its `RowSource` has and asks it, in a thread, for the windows of rows it is about to
show; a row not loaded yet is drawn as a placeholder until its window arrives. Each row's
rendered line is kept in a small cache, so moving the cursor repaints two lines and a changed
row one. Column widths follow each column's spec (the data's known shapes and priorities),
never a measurement of the cells, so a resize re-lays the columns without touching the rows.

The table knows nothing of appointments: a list of `Column`s and a `RowSource` describe it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar

from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from rxdesk.tui.widgets.columns import Column, Placed, lay_out, visible
from rxdesk.tui.widgets.lines import header_strip, placeholder_strip, row_strip
from rxdesk.tui.widgets.rows import BLOCK, LoadedRows, RowSource, Window, blocks_of, runs
from rxdesk.tui.work import call_service

R = TypeVar("R")
Align = Literal["left", "right"]

# Rendered lines kept: a few screens' worth.
KEPT_LINES = 512


class TableMessage(Message):
    """What a table tells its screen; `control` is the table (for `@on(..., "#id")`)."""

    def __init__(self, table: VirtualTable[Any]) -> None:
        super().__init__()
        self.table = table

    @property
    def control(self) -> VirtualTable[Any]:
        return self.table


class VirtualTable(ScrollView, Generic[R], can_focus=True, inherit_bindings=False):
    """Rows of a `RowSource` under `Column`s, one cursor row, and a selection of rows.

    `show(source, window)` or `load(source)` puts a list in; the cursor follows a row's key
    across reloads (or keeps its place when that row left the list). `space` adds the cursor's
    row to the selection (kept by key, so it survives reloads), `escape` clears it."""

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False, id="list.cursor_up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="list.cursor_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="list.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="list.page_down"),
        Binding("home,g", "first_row", "First row", show=False, id="list.first_row"),
        Binding("end,G", "last_row", "Last row", show=False, id="list.last_row"),
        Binding("enter", "choose", "Open", show=False, id="list.choose"),
        Binding("space", "toggle_selection", "Select", show=False, id="list.toggle_selection"),
        Binding("escape", "clear_selection", "Clear selection", id="list.clear_selection"),
    ]

    COMPONENT_CLASSES = {
        "virtual-table--header",
        "virtual-table--cursor",
        "virtual-table--selected",
        "virtual-table--even-row",
        "virtual-table--placeholder",
    }

    DEFAULT_CSS = """
    VirtualTable {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: scroll;  /* always there: a list growing past the screen lays nothing out */
        scrollbar-size-vertical: 1;
        background: $surface;
        color: $foreground;
        & > .virtual-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .virtual-table--even-row { background: $surface-lighten-1 50%; }
        & > .virtual-table--placeholder { color: $text-muted; }
        & > .virtual-table--selected { background: $secondary-muted; text-style: bold; }
        & > .virtual-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .virtual-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """

    class Loaded(TableMessage):
        """A list came in (`total` rows), or its count did. `counted` is False while the
        total is only what has been seen so far and the count is still being made."""

        def __init__(self, table: VirtualTable[Any], total: int, counted: bool = True) -> None:
            super().__init__(table)
            self.total = total
            self.counted = counted

    class SelectionChanged(TableMessage):
        def __init__(self, table: VirtualTable[Any], count: int) -> None:
            super().__init__(table)
            self.count = count

    class Chosen(TableMessage):
        """`enter` on a row."""

        def __init__(self, table: VirtualTable[Any], key: str, row: Any) -> None:
            super().__init__(table)
            self.key = key
            self.row = row

    def __init__(
        self,
        columns: Sequence[Column[R]],
        *,
        placeholder: str = "…",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.columns = list(columns)
        self.placeholder = placeholder
        self.source: RowSource[R] | None = None
        self._rows: LoadedRows[R] = LoadedRows(lambda _row: "")
        self.counted = True
        self.cursor = 0
        self.selection: set[str] = set()
        self.loads = 0  # lists shown so far: tests and the benchmark wait on it
        self.rendered_lines = 0  # row lines drawn (a cache miss or not): tests count repaints
        self._generation = 0
        self._strips: LRUCache[tuple[Any, ...], Strip] = LRUCache(KEPT_LINES)
        self._placed: list[Placed] = []
        self._placed_width = -1
        self._styles: dict[tuple[Any, ...], Style] = {}
        self._wanted = False
        self._count_when_drawn = False

    # -- the list ----------------------------------------------------------------------

    def span_around(self, index: int | None = None) -> tuple[int, int]:
        """The window (offset, limit) to fetch so that the rows around `index` (the cursor by
        default) and a screen either side are there at once."""
        index = self.cursor if index is None else index
        body = max(self.body_height, 1)
        first = max(0, index - body) // BLOCK
        last = (index + 2 * body) // BLOCK
        return first * BLOCK, (last - first + 1) * BLOCK

    def load(self, source: RowSource[R], *, keep: str | None = None, around: int | None = None) -> None:
        """Fetch a window of `source` (in a thread) and show it; see `show`."""
        around = self.cursor if around is None else around
        offset, limit = self.span_around(around)
        generation = self._generation
        call_service(
            self,
            lambda: source.fetch(offset, limit, count=True),
            done=lambda window: self._loaded(generation, source, window, keep, around),
            group="rows-load",
        )

    def _loaded(self, generation: int, source: RowSource[R], window: Window[R], keep: str | None, around: int) -> None:
        if generation == self._generation:
            self.show(source, window, keep=keep, around=around)

    def reload(self, *, keep: str | None = None) -> None:
        """The same source again (its data changed): the cursor stays on its row."""
        if self.source is not None:
            self.load(self.source, keep=keep if keep is not None else self.current_key)

    def show(self, source: RowSource[R], window: Window[R], *, keep: str | None = None,
             around: int | None = None) -> None:
        """Replace the list with `source`, of which `window` was just fetched.

        The cursor goes to the row keyed `keep` when the window holds it, else to the first row
        that followed it and is still listed, else stays at `around`. A window fetched without
        counting (total None: the quickest first screen) is shown at once and the list is
        counted in the background; until then it ends where the window ends."""
        around = self.cursor if around is None else around
        self._generation += 1
        self.workers.cancel_group(self, "rows")
        self.source, before = source, self._rows
        self._strips.clear()
        counted = window.total is not None
        total = window.total if window.total is not None else window.offset + len(window.rows)
        self._rows = LoadedRows(source.key, max(0, total))
        self.counted = counted
        self._rows.store(window.offset, window.rows)
        cursor = self._rows.index_of(keep) if keep is not None else None
        if cursor is None and keep is not None:
            cursor = before.where_followers_went(keep, self._rows)
        if cursor is None:
            cursor = around
        self.cursor = max(0, min(cursor, self.total - 1))
        self.loads += 1
        self._set_height()
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.Loaded(self, self.total, counted))
        # Counted once the rows have been drawn (see render_line): counting may read much more
        # than the window did and would hold the interpreter while the first screen is drawn.
        self._count_when_drawn = not counted
        self._ensure_loaded()

    def _set_height(self) -> None:
        height = self.total + 1  # the header is line 0
        if self.virtual_size.height != height:
            self.virtual_size = Size(self.virtual_size.width, height)

    def _count(self) -> None:
        """The list fetched again, counted this time, around the cursor: the count and the
        rows from one read of the source. (A count made on its own could see a list that
        changed since the window was read, and leave rows where they no longer are.)"""
        if self.source is not None:
            self.load(self.source, keep=self.current_key)

    @property
    def total(self) -> int:
        """Rows in the list (as counted, or seen so far while `counted` is False)."""
        return self._rows.total

    def row_at(self, index: int) -> R | None:
        """The row at `index` when it is loaded."""
        return self._rows.row_at(index)

    def index_of(self, key: str) -> int | None:
        """Where the row keyed `key` is, when it is loaded."""
        return self._rows.index_of(key)

    def cell_text(self, index: int, column_key: str) -> str | None:
        """What the cell shows (uncut), when its row is loaded."""
        row = self.row_at(index)
        if row is None:
            return None
        column = next(c for c in self.columns if c.key == column_key)
        return visible(column.value(row))

    def loaded_rows(self) -> list[R]:
        """The rows loaded, in order (every row of a short list)."""
        return self._rows.loaded()

    @property
    def current_row(self) -> R | None:
        return self.row_at(self.cursor)

    @property
    def current_key(self) -> str | None:
        row = self.current_row
        return self.source.key(row) if row is not None and self.source is not None else None

    def update_row(self, key: str, row: R) -> bool:
        """Show a changed row in place (its line only). False when it is not loaded."""
        index = self._rows.replace(key, row)
        if index is None:
            return False
        self._refresh_index(index)
        return True

    # -- fetching what is about to be shown ----------------------------------------------

    def _ensure_loaded(self) -> None:
        """Ask for the blocks around the screen and the cursor that are not here yet."""
        self._wanted = False
        if self.source is None or self.total == 0:
            return
        top = int(self.scroll_offset.y)
        body = max(self.body_height, 1)
        needed: set[int] = set()
        for lo, hi in ((top - body, top + 2 * body), (self.cursor - body, self.cursor + body)):
            lo, hi = max(0, lo), min(self.total - 1, hi)
            if lo <= hi:
                needed.update(blocks_of(lo, hi))
        missing = self._rows.missing(needed)
        if not missing:
            return
        # Near the screen first; one fetch per run of neighbouring blocks.
        for run in runs(missing):
            self._fetch(run[0], len(run))

    def _fetch(self, first_block: int, blocks: int) -> None:
        source, generation, loaded = self.source, self._generation, self._rows
        assert source is not None
        numbers = set(range(first_block, first_block + blocks))
        loaded.pending |= numbers
        offset, limit = first_block * BLOCK, blocks * BLOCK

        def arrived(window: Window[R]) -> None:
            loaded.pending -= numbers
            if generation != self._generation:
                return
            if len(window.rows) < limit and window.offset + len(window.rows) < loaded.total and self.counted:
                # The list got shorter since it was counted: stop at what is there; the
                # owner's next reload counts again.
                loaded.total = window.offset + len(window.rows)
                self._set_height()
                self.cursor = min(self.cursor, max(0, loaded.total - 1))
            loaded.store(window.offset, window.rows)
            self._refresh_blocks(numbers)
            self.rows_arrived()

        def refused(_exc: Exception) -> None:
            loaded.pending -= numbers  # asked again when next on screen

        call_service(self, lambda: source.fetch(offset, limit, count=False), done=arrived, failed=refused,
                     group="rows", exclusive=False)

    def rows_arrived(self) -> None:
        """Rows fetched since the list was shown have just been stored (a subclass's hook)."""

    def _refresh_blocks(self, numbers: set[int]) -> None:
        top = int(self.scroll_offset.y)
        for index in range(top, min(self.total, top + self.body_height)):
            if index // BLOCK in numbers:
                self._refresh_index(index)

    def _want(self) -> None:
        if not self._wanted:
            self._wanted = True
            self.call_later(self._ensure_loaded)

    # -- moving ----------------------------------------------------------------------------

    @property
    def body_height(self) -> int:
        """Lines for rows (the header takes one)."""
        return max(0, self.scrollable_content_region.height - 1)

    def move_cursor(self, index: int) -> None:
        if self.total == 0:
            return
        index = max(0, min(index, self.total - 1))
        old = self.cursor
        if index == old:
            return
        self.cursor = index
        self._refresh_index(old)
        self._refresh_index(index)
        self._scroll_to_cursor()
        self._ensure_loaded()

    def select_key(self, key: str | None) -> bool:
        """Put the cursor on the row keyed `key`, when it is loaded."""
        index = self.index_of(key) if key is not None else None
        if index is None:
            return False
        self.move_cursor(index)
        return True

    def _scroll_to_cursor(self) -> None:
        top, body = int(self.scroll_offset.y), max(self.body_height, 1)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + body:
            self.scroll_to(y=self.cursor - body + 1, animate=False)

    def _refresh_index(self, index: int) -> None:
        top = int(self.scroll_offset.y)
        if top <= index < top + self.body_height:
            self.refresh_line(index + 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor - 1)

    def action_page_down(self) -> None:
        body = max(self.body_height, 1)
        top = int(self.scroll_offset.y)
        self.scroll_to(y=top + body, animate=False)
        self.move_cursor(self.cursor + body)

    def action_page_up(self) -> None:
        body = max(self.body_height, 1)
        top = int(self.scroll_offset.y)
        self.scroll_to(y=max(0, top - body), animate=False)
        self.move_cursor(self.cursor - body)

    def action_first_row(self) -> None:
        self.move_cursor(0)

    def action_last_row(self) -> None:
        self.move_cursor(self.total - 1)

    def action_choose(self) -> None:
        row, key = self.current_row, self.current_key
        if row is not None and key is not None:
            self.post_message(self.Chosen(self, key, row))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and offset.y >= 1:
            index = int(self.scroll_offset.y) + offset.y - 1
            if index == self.cursor and event.chain > 1:
                self.action_choose()
            else:
                self.move_cursor(index)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if round(old) != round(new):
            self._ensure_loaded()

    # -- selection -------------------------------------------------------------------------

    def action_toggle_selection(self) -> None:
        key = self.current_key
        if key is None:
            return
        if key in self.selection:
            self.selection.discard(key)
        else:
            self.selection.add(key)
        self._refresh_index(self.cursor)
        self.post_message(self.SelectionChanged(self, len(self.selection)))
        self.refresh_bindings()

    def action_clear_selection(self) -> None:
        self.clear_selection()

    def clear_selection(self) -> None:
        if not self.selection:
            return
        for key in self.selection:
            index = self.index_of(key)
            if index is not None:
                self._refresh_index(index)
        self.selection.clear()
        self.post_message(self.SelectionChanged(self, 0))
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_selection":
            return bool(self.selection)  # else escape means what it means around the table
        return True

    # -- drawing ---------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._strips.clear()

    def on_resize(self, event: events.Resize) -> None:
        self._ensure_loaded()

    def _layout(self, width: int) -> list[Placed]:
        if width != self._placed_width:
            self._placed = lay_out(self.columns, width)
            self._placed_width = width
            self._strips.clear()
            width_used = self._placed[-1].x + self._placed[-1].width if self._placed else 0
            if self.virtual_size.width != width_used:
                self.virtual_size = Size(width_used, self.virtual_size.height)
        return self._placed

    def set_widths(self, widths: Mapping[str, int]) -> None:
        """Give columns the width their data has (e.g. the longest doctor's name, known from
        the list of doctors), within each column's minimum and maximum."""
        changed = False
        for i, column in enumerate(self.columns):
            if column.key in widths:
                width = max(column.least, min(column.most, widths[column.key]))
                if width != column.width:
                    self.columns[i] = dataclasses.replace(column, width=width)
                    changed = True
        if changed:
            self._placed_width = -1
            self.refresh()

    @property
    def shown_columns(self) -> list[str]:
        """Keys of the columns that fit at the current width."""
        return [p.column.key for p in self._layout(self.scrollable_content_region.width)]

    def _style(self, *names: str) -> Style:
        style = self._styles.get(names)
        if style is None:
            style = self.rich_style
            for name in names:
                style += self.get_component_rich_style(name, partial=True)
            self._styles[names] = style
        return style

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        placed = self._layout(width)
        if y == 0:
            return self._header(width, placed)
        index = int(self.scroll_offset.y) + y - 1
        if index >= self.total or self.source is None:
            return Strip.blank(width, self.rich_style)
        if self._count_when_drawn:
            self._count_when_drawn = False
            # Once this frame is out: a count started now would share the interpreter with it.
            self.call_after_refresh(self._count)
        self.rendered_lines += 1
        row = self.row_at(index)
        if row is None:
            self._want()
            return self._placeholder(width, placed, index)
        key = self.source.key(row)
        state = (index == self.cursor, key in self.selection, index % 2 == 0)
        cache_key = (key, self._rows.version(key), state, width)
        strip = self._strips.get(cache_key)
        if strip is None:
            strip = self._row_strip(row, width, placed, *state)
            self._strips.set(cache_key, strip)
        return strip

    def _row_names(self, cursor: bool, selected: bool, even: bool) -> tuple[str, ...]:
        names = []
        if even:
            names.append("virtual-table--even-row")
        if selected:
            names.append("virtual-table--selected")
        if cursor:
            names.append("virtual-table--cursor")
        return tuple(names)

    def _row_strip(self, row: R, width: int, placed: list[Placed], cursor: bool, selected: bool, even: bool) -> Strip:
        names = self._row_names(cursor, selected, even)
        return row_strip(row, placed, width, self._style(*names),
                         None if cursor else lambda component: self._style(*names, component), selected=selected)

    def _placeholder(self, width: int, placed: list[Placed], index: int) -> Strip:
        names = self._row_names(index == self.cursor, False, index % 2 == 0)
        return placeholder_strip(self.placeholder, width, self._style(*names, "virtual-table--placeholder"))

    def _header(self, width: int, placed: list[Placed]) -> Strip:
        cache_key = ("header", width)
        strip = self._strips.get(cache_key)
        if strip is None:
            strip = header_strip(placed, width, self._style("virtual-table--header"))
            self._strips.set(cache_key, strip)
        return strip
