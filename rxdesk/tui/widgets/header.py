"""The desk header: organisation, section, agent, zone, fixed-time marker, maintenance status;
at 80 columns the worker's status and the fixed-time marker stay, the agent and zone give way."""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from rxdesk.tui.context import OnDesk
from rxdesk.tui.widgets.columns import fit

# (key, the app's mode, the tab's label, what help calls it)
SECTIONS = (
    ("1", "overview", "Overview", "overview"),
    ("2", "patients", "Patients", "patients"),
    ("3", "doctors", "Doctors", "doctors"),
    ("4", "secrets", "Secrets", "booking secrets"),
    ("5", "types", "Types", "types & reminders"),
    ("6", "webhooks", "Webhooks", "webhooks & outbox"),
    ("7", "attention", "Attention", "needs attention"),
    ("8", "activity", "Activity", "activity (what agents did)"),
)


class DeskHeader(OnDesk, Widget):
    """Two lines: who and where on the first, the sections with the current one marked below."""

    COMPONENT_CLASSES = {
        "header--org",
        "header--meta",
        "header--fixed-time",
        "header--warning",
        "header--section",
        "header--section-current",
    }

    maintenance: reactive[str] = reactive("")
    maintenance_failed: reactive[bool] = reactive(False)

    def __init__(self, section: str, title: str = "") -> None:
        super().__init__()
        self.section = section
        self.title_text = title

    def on_mount(self) -> None:
        app = self.desk_app
        self.watch(app, "maintenance", self._follow, init=True)
        self.watch(app, "maintenance_failed", self._follow_failed, init=True)
        self.watch(app, "org_label", self._repaint, init=False)
        self.watch(app, "attention_count", self._repaint, init=False)

    def _repaint(self, _value: object) -> None:
        self.refresh()

    def _follow(self, value: str) -> None:
        self.maintenance = value

    def _follow_failed(self, value: bool) -> None:
        self.maintenance_failed = value

    def render(self) -> Text:
        app = self.desk_app
        style = self.get_component_rich_style
        width = self.size.width or 200
        # Line one: who and where on the left, the worker's last tick on the right. What gives
        # way when the terminal is narrow, in order: the agent's name goes, the org's name,
        # the fixed-time marker and the worker's status are cut (not below 12, 12 and 24
        # cells), and the zone goes last.
        left = [Piece(f" {app.org_label} ", style("header--org"), 4, 12)]
        if self.title_text:
            left.append(Piece(f" {self.title_text}", style("header--meta"), 0))
        left.append(Piece(f"  {app.org_zone}", style("header--meta"), 1))
        left.append(Piece(f" · agent {app.agent}", style("header--meta"), 5))
        if app.fixed_time_label:
            left.append(Piece("  ", Style(), 0))
            left.append(Piece(f" FIXED TIME {app.fixed_time_label} ", style("header--fixed-time"), 3, 12))
        right = None
        if self.maintenance:
            right = Piece(self.maintenance, style("header--warning" if self.maintenance_failed else "header--meta"),
                          2, 24)
        line = one_line(left, right, width)
        tabs = Text(no_wrap=True, overflow="ellipsis")
        count = getattr(app, "attention_count", None)
        # Too narrow for every name (80 columns): the other sections keep their first letters.
        room = (self.size.width or 200) - (len(str(count)) + 1 if count else 0)
        short = sum(len(label) + 5 for _, _, label, _ in SECTIONS) + 4 > room
        for key, name, label, _ in SECTIONS:
            current = name == self.section
            shown = label if current or not short else label[:3]
            tabs.append(
                f" {key} {shown} ",
                style("header--section-current" if current else "header--section"),
            )
            if name == "attention" and count:
                tabs.append(f"{count}", style("header--warning"))
                tabs.append(" ")
            tabs.append(" ")
        both = Text("\n").join([line, tabs])
        both.no_wrap, both.overflow = True, "ellipsis"
        return both


@dataclass(frozen=True)
class Piece:
    """A part of a header line: its text, its style, when it gives way (the highest first; 0
    never) and how: cut with `…` down to `least` cells, or left out when `least` is None."""

    text: str
    style: Style
    priority: int
    least: int | None = None


def one_line(left: list[Piece], right: Piece | None, width: int) -> Text:
    """`left` from the left edge and `right` against the right edge (one cell in), in `width`
    cells. Too wide: pieces give way by priority, each cut down to its least or left out."""
    gap = 2
    pieces = [*left, *([right] if right else [])]
    texts = {id(p): p.text for p in pieces}
    shown = {id(p) for p in pieces}

    def used() -> int:
        return sum(cell_len(texts[id(p)]) for p in pieces if id(p) in shown) + (gap + 1 if right else 0)

    for piece in sorted((p for p in pieces if p.priority > 0), key=lambda p: -p.priority):
        excess = used() - width
        if excess <= 0:
            break
        if piece.least is None:
            shown.discard(id(piece))
        else:
            text = texts[id(piece)]
            texts[id(piece)] = fit(text, max(min(piece.least, cell_len(text)), cell_len(text) - excess))
    line = Text(no_wrap=True, overflow="ellipsis", end="")
    for piece in left:
        if id(piece) in shown:
            line.append(texts[id(piece)], piece.style)
    if right is not None and id(right) in shown:
        right_text = texts[id(right)]
        line.append(" " * max(gap, width - line.cell_len - cell_len(right_text) - 1))
        line.append(right_text, right.style)
    return line
