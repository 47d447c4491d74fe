"""Section 7: what needs attention now, most urgent first; `enter` goes where the fix is.

The list follows every change (the app's poll) and time itself (a hold about to lapse, a worker
gone quiet): it looks again every `app.attention_every` seconds while it is on screen.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from rxdesk.domain.times import format_local
from rxdesk.resources import stylesheet
from rxdesk.services.attention import AttentionItem, AttentionKind
from rxdesk.tui.navigation import OpenAppointment, OpenDoctor, OpenPatient, OpenWebhooks
from rxdesk.tui.screens.base import DeskScreen
from rxdesk.tui.text import fields_grid
from rxdesk.tui.widgets.tables import DeskTable
from rxdesk.tui.work import call_service


class AttentionScreen(DeskScreen):
    CSS_PATH = stylesheet("attention")

    SECTION = "attention"

    BINDINGS = [
        Binding("ctrl+r", "reload", "Reload", show=False, id="screen.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, AttentionItem] = {}
        self.zone = "UTC"
        self.loads = 0

    def compose_body(self) -> ComposeResult:
        yield Static("Looking…", id="attention-count", markup=False)
        yield DeskTable(id="attention")
        yield Static("", id="attention-detail", classes="panel")

    def on_mount(self) -> None:
        table = self.query_one(DeskTable)
        # What needs attention is cut (in full in the panel below), never left out.
        table.add_column("Since", key="since")
        table.add_column("Needs attention", key="what", min_width=20)
        table.focus()
        self.set_interval(self.desk_app.attention_every, self._look_again, name="attention")
        self.reload()

    def _look_again(self) -> None:
        if self.is_current:
            self.reload()

    def reload(self) -> None:
        desk = self.desk
        call_service(self, lambda: (desk.attention.items(), desk.org().timezone), done=lambda r: self._show(*r),
                     group="attention")

    def action_reload(self) -> None:
        self.reload()

    def _show(self, items: list[AttentionItem], zone: str) -> None:
        self.loads += 1
        self.zone = zone
        self.desk_app.attention_count = len(items)
        table = self.query_one(DeskTable)
        keep = table.selected_key
        table.clear()
        self.items = {}
        for item in items:
            key = f"{item.kind.value}|{item.target}"
            self.items[key] = item
            when = "" if item.since is None else format_local(item.since, zone)
            if item.kind is AttentionKind.hold_lapsing:
                when = f"lapses {when[-5:]}"
            table.add_row(when, item.title, key=key)
        table.select_key(keep)
        self.query_one("#attention-count", Static).update(
            "Nothing needs attention." if not items else
            f"{len(items)} item{'' if len(items) == 1 else 's'} need{'s' if len(items) == 1 else ''} attention, most "
            "urgent first · enter goes to the fix")
        self._describe(table.selected_key)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._describe(event.row_key.value if event.row_key else None)

    def _describe(self, key: str | None) -> None:
        item = self.items.get(key or "")
        panel = self.query_one("#attention-detail", Static)
        if item is None:
            panel.update("")
            return
        panel.update(fields_grid([("What", item.detail or item.title), ("In the app", item.action),
                                  ("Command", item.command)]))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        item = self.items.get(event.row_key.value or "")
        if item is not None:
            self.go_to_fix(item)

    def go_to_fix(self, item: AttentionItem) -> None:
        """Open the screen where this item is fixed."""
        kind, _, ident = item.target.partition(":")
        app = self.desk_app
        if kind == "doctor":
            self.post_message(OpenDoctor(ident))
        elif kind == "patient":
            self.post_message(OpenPatient(ident))
        elif kind == "appointment":
            self.post_message(OpenAppointment(ident))
        elif kind == "holds":
            app.action_section("overview")
        elif kind == "subscription":
            self.post_message(OpenWebhooks("tab-deliveries"))
        elif kind == "outbox":
            self.post_message(OpenWebhooks("tab-outbox"))
        else:
            app.notify(f"{item.title}: {item.action}", title="Needs attention", timeout=10)
