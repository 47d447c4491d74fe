"""Section 8: what agents did across the desk, and who did this. The audit trail newest first,
by default the agent's own actions today; `enter` opens what an entry is about."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Static

from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.queries import Page
from rxdesk.domain.times import format_local
from rxdesk.resources import stylesheet
from rxdesk.services.activity import ActivityFilter, ActivityRow
from rxdesk.tui.navigation import OpenAppointment, OpenDoctor, OpenPatient, OpenSection, OpenWebhooks
from rxdesk.tui.screens.base import DeskScreen
from rxdesk.tui.text import shown
from rxdesk.tui.widgets.tables import DeskTable
from rxdesk.tui.work import call_service

# Entries one listing shows; narrower filters find older ones.
SHOWN = 500
# What an entry is about, in a word before its id (the audit log's own names are longer).
KINDS = {"appointment_type": "type", "booking_secret": "secret"}


def about(row: ActivityRow) -> str:
    """`appointment 1bvy…`, `type gp-consult`, `org`: what the entry is about, short."""
    if not row.kind:
        return row.entry.target
    return f"{KINDS.get(row.kind, row.kind)} {row.ref}"


class ActivityScreen(DeskScreen):
    CSS_PATH = stylesheet("activity")

    SECTION = "activity"

    BINDINGS = [
        Binding("slash", "focus_filters", "Filter", id="activity.focus_filters", priority=True),
        Binding("escape", "focus_table", "Table", show=False, id="activity.focus_table"),
        Binding("ctrl+l", "mine_today", "Mine today", id="activity.mine_today"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, ActivityRow] = {}
        self.zone = "UTC"
        self.loads = 0
        self.asked: ActivityFilter | None = None  # the filters of the last load asked for

    def compose_body(self) -> ComposeResult:
        agent = self.desk_app.agent
        with Horizontal(id="activity-filters"):
            yield Input(agent, placeholder="agent: everyone", id="activity-agent", classes="activity-filter")
            yield Input("today", placeholder="since: any time", id="activity-since", classes="activity-filter")
            yield Input(placeholder="about: anything (a uid, a doctor's id, …)", id="activity-target",
                        classes="activity-filter")
        yield Static("", id="activity-count", markup=False)
        yield DeskTable(id="activity")
        yield Static("", id="activity-detail", markup=False)

    @property
    def table(self) -> DeskTable:
        return self.query_one("#activity", DeskTable)

    def on_mount(self) -> None:
        table = self.table
        # (key, label, priority, narrowest): when and what stay; the details give way first, whole
        # (a few letters of them tell nothing): the line under the table has the row in full.
        for key, label, priority, least in (("at", "At", 0, None), ("agent", "Agent", 2, 10),
                                            ("action", "Action", 1, 12), ("about", "About", 3, 12),
                                            ("details", "Details", 4, 24)):
            table.add_column(label, key=key, priority=priority, min_width=least)
        table.focus()
        self.reload()

    def typed(self) -> ActivityFilter:
        return ActivityFilter(agent=self.query_one("#activity-agent", Input).value,
                              since=self.query_one("#activity-since", Input).value,
                              target=self.query_one("#activity-target", Input).value)

    def reload(self) -> None:
        desk, typed = self.desk, self.typed()
        self.asked = typed
        keep = self.table.selected_key
        call_service(self, lambda: (desk.activity.list_named(typed, limit=SHOWN), desk.org().timezone),
                     done=lambda found: self._show(*found, typed, keep), failed=self._refused, group="activity")

    def _refused(self, exc: RxdeskError) -> None:
        self.query_one("#activity-since", Input).add_class("-invalid")
        self.query_one("#activity-count", Static).update(shown(str(exc)))
        self.query_one("#activity-count", Static).add_class("-error")

    def _show(self, page: Page[ActivityRow], zone: str, typed: ActivityFilter, keep: str | None) -> None:
        self.loads += 1
        self.zone = zone
        self.query_one("#activity-since", Input).remove_class("-invalid")
        count = self.query_one("#activity-count", Static)
        count.remove_class("-error")
        table = self.table
        table.clear()
        self.rows = {}
        for row in page.items:
            key = row.key
            while key in self.rows:  # two entries alike to the second (a selection cancelled at once)
                key += "+"
            self.rows[key] = row
            e = row.entry
            table.add_row(format_local(e.at, zone), e.actor.removeprefix("admin:"), e.action,
                          row.about_name or about(row), row.named_summary(), key=key)
        table.select_key(keep)
        self._describe(table.selected_key)
        who = typed.agent.strip() or "everyone"
        since = f" since {typed.since.strip()}" if typed.since.strip() else ""
        subject = f" about {typed.target.strip()}" if typed.target.strip() else ""
        n = len(page.items)
        more = f" (the newest {SHOWN}: narrow the filters for older ones)" if n >= SHOWN else ""
        what = f"{n:,} entr{'y' if n == 1 else 'ies'}" if n else "nothing"
        count.update(f"{what} by {who}{since}{subject}, newest first{more} · enter opens what one is about")

    def on_data_table_row_highlighted(self, event: DeskTable.RowHighlighted) -> None:
        self._describe(event.row_key.value)

    def _describe(self, key: str | None) -> None:
        """The highlighted entry in full under the table: what it is about, by id and name, and
        every detail (the table cuts them, and leaves them out at 80 columns)."""
        row = self.rows.get(key or "")
        text = ""
        if row is not None:
            name = f" ({row.about_name})" if row.about_name else ""
            text = f"{row.entry.action} · {about(row)}{name}\n{row.named_summary() or 'no details'}"
        self.query_one("#activity-detail", Static).update(shown(text))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        # The fields' first values arrive as changes too, after on_mount loaded them.
        if self.typed() != self.asked:
            self.reload()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()

    def on_data_table_row_selected(self, event: DeskTable.RowSelected) -> None:
        row = self.rows.get(str(event.row_key.value))
        if row is None:
            return
        kind, ref = row.kind, row.ref
        if kind == "appointment":
            self.post_message(OpenAppointment(ref))
        elif kind == "doctor":
            self.post_message(OpenDoctor(ref))
        elif kind == "patient":
            self.post_message(OpenPatient(ref))
        elif kind == "subscription":
            self.post_message(OpenWebhooks("tab-subscriptions"))
        elif kind == "delivery":
            self.post_message(OpenWebhooks("tab-deliveries"))
        elif kind == "booking_secret":
            self.post_message(OpenSection("secrets"))
        elif kind == "appointment_type":
            self.post_message(OpenSection("types"))
        else:
            self.app.notify(f"{row.entry.target} has no page of its own", title="Nothing to open")

    def action_focus_filters(self) -> None:
        self.into_field(self.query_one("#activity-agent", Input))

    def action_focus_table(self) -> None:
        self.table.focus()

    def action_mine_today(self) -> None:
        """Back to the default: my actions today."""
        with self.prevent(Input.Changed):
            self.query_one("#activity-agent", Input).value = self.desk_app.agent
            self.query_one("#activity-since", Input).value = "today"
            self.query_one("#activity-target", Input).value = ""
        self.table.focus()
        self.reload()
