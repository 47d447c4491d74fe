"""The desk header: organisation, section, agent, zone, fixed-time marker, maintenance status."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from rxdesk.tui.context import OnDesk

SECTIONS = (
    ("1", "overview", "Overview"),
    ("2", "patients", "Patients"),
    ("3", "doctors", "Doctors"),
    ("4", "secrets", "Secrets"),
    ("5", "types", "Types"),
    ("6", "webhooks", "Webhooks"),
    ("7", "attention", "Attention"),
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
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f" {app.org_label} ", style("header--org"))
        if self.title_text:
            line.append(f" {self.title_text}", style("header--meta"))
        line.append(f"   agent {app.agent} · {app.org_zone}", style("header--meta"))
        if app.fixed_time_label:
            line.append("  ")
            line.append(f" FIXED TIME {app.fixed_time_label} ", style("header--fixed-time"))
        tabs = Text(no_wrap=True, overflow="ellipsis")
        count = getattr(app, "attention_count", None)
        # Too narrow for every name (80 columns): the other sections keep their first letters.
        room = self.size.width - (len(self.maintenance) + 2 if self.maintenance else 0)
        short = sum(len(label) + 5 for _, _, label in SECTIONS) + 4 > room
        for key, name, label in SECTIONS:
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
        if self.maintenance:
            warn = self.maintenance_failed
            tabs.append("  ")
            tabs.append(self.maintenance, style("header--warning" if warn else "header--meta"))
        both = Text("\n").join([line, tabs])
        both.no_wrap, both.overflow = True, "ellipsis"
        return both
