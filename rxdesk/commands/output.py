"""What a command prints: JSON with `--json` (field names as in the data model), else aligned
plain text. Every text that came from data or from outside goes through `terminal_safe` here,
so no command writes a control character or a bidi override to the terminal.

A listing is `ctx.listing(items, columns, empty=...)`; a single answer (a detail, the result of
an action) is `ctx.result(value, text)`: both print `value`'s JSON form with `--json` and the
text otherwise, so no command repeats the choice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO, TypeVar

from rxdesk.domain.terminal import all_safe, json_safe, terminal_safe

T = TypeVar("T")
# A column of a listing: its header and how a row's cell is read from an item.
Column = tuple[str, Callable[[T], str]]


def json_form(value: Any) -> Any:
    """`value` as JSON data: its `to_json()`, a list of those, or itself."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, list | tuple):
        return [json_form(item) for item in value]
    return value


def json_text(data: Any, *, one_line: bool = False) -> str:
    """The JSON every `--json` prints: orjson's, with `terminal.json_safe` applied."""
    import orjson

    option = orjson.OPT_NON_STR_KEYS | (0 if one_line else orjson.OPT_INDENT_2)
    return json_safe(orjson.dumps(data, option=option).decode())


class Output:
    def __init__(self, out: TextIO, err: TextIO, *, as_json: bool = False) -> None:
        self.out = out
        self.err = err
        self.as_json = as_json

    def print(self, text: str = "") -> None:
        """A line (or block) of output; whatever came from data is shown escaped."""
        self.out.write(terminal_safe(text, lines=True) + "\n")

    def note(self, text: str) -> None:
        """A line for the agent beside the output (stderr): a hint, a count, a warning."""
        self.err.write(terminal_safe(text) + "\n")

    def json(self, data: Any, *, one_line: bool = False) -> None:
        """`data` as JSON (indented, or on `one_line`), every control character and bidi
        override in it escaped (`json_safe`)."""
        self.out.write(json_text(data, one_line=one_line) + "\n")

    def result(self, value: Any, text: str | Callable[[], object] | None = None) -> int:
        """One answer: `value` as JSON with `--json`; else `text`, a line or a function that
        prints. Returns the exit code, 0."""
        if self.as_json:
            self.json(json_form(value))
        elif callable(text):
            text()
        elif text is not None:
            self.print(text)
        return 0

    def listing(self, items: Iterable[T], columns: Sequence[Column[T]], *, empty: str,
                to_json: Callable[[T], Any] | None = None) -> int:
        """Rows: a JSON list with `--json` (each item's `to_json()`, or `to_json(item)`), else
        a table of `columns`, or `empty` on stderr when there are none. Returns 0."""
        if self.as_json:
            self.json([to_json(item) if to_json else json_form(item) for item in items])
            return 0
        cells = [cell for _, cell in columns]
        self.table([header for header, _ in columns], [[cell(item) for cell in cells] for item in items], empty=empty)
        return 0

    def table(self, headers: list[str], rows: list[list[str]], *, empty: str = "nothing to show") -> None:
        """An aligned plain-text table (fast on thousands of rows, pipes cleanly)."""
        if not rows:
            self.note(empty)
            return
        self.out.write(safe_table(headers, [tuple(row) for row in rows]))

    def fields(self, pairs: list[tuple[str, str]]) -> None:
        """`name  value` lines, the names aligned (a detail view)."""
        width = max((len(k) for k, _ in pairs), default=0)
        self.out.write("".join(f"{k.ljust(width)}  {terminal_safe(v)}\n" for k, v in pairs))


def safe_table(headers: Sequence[str], rows: Sequence[tuple[str, ...]]) -> str:
    """`rows` (at least one) as an aligned table, every cell shown safe, at a cost that grows
    with a column's distinct values rather than its cells: a column is checked for anything to
    escape in one pass, measured once per distinct value, and escaped cell by cell only when it
    holds something to escape (data that came in through a form never does)."""
    widths = []
    escapes: list[dict[str, str] | None] = []
    for header, column in zip(headers, zip(*rows, strict=True), strict=True):
        distinct = set(column)
        if all_safe(distinct):
            escapes.append(None)
            widths.append(max(len(header), *map(len, distinct)))
        else:
            safe = {value: terminal_safe(value) for value in distinct}
            escapes.append(safe)
            widths.append(max(len(header), *map(len, safe.values())))
    if any(escape is not None for escape in escapes):
        rows = [tuple(cell if escape is None else escape[cell] for cell, escape in zip(row, escapes, strict=True))
                for row in rows]
    return table_text(headers, rows, widths)


def table_text(headers: Sequence[str], rows: Iterable[tuple[str, ...]], widths: Sequence[int]) -> str:
    """Rows of cells already made safe, padded to `widths` (the last column is not padded)."""
    # One format for the whole table: the fast path for tens of thousands of rows.
    pattern = "  ".join(f"%-{w}s" for w in widths[:-1]) + "  %s"
    lines = [(pattern % tuple(headers)).rstrip()]
    lines.extend((pattern % row).rstrip() for row in rows)
    return "\n".join(lines) + "\n"
