"""Section 6: webhook subscriptions, deliveries, and the outbox of emails and SMS."""

from __future__ import annotations

import json
from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static, TabbedContent, TabPane

from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.models import Delivery, EventType, MessageChannel, OutboxMessage, Subscription
from rxdesk.domain.phones import display_phone
from rxdesk.domain.queries import Page
from rxdesk.domain.sending import message_detail, message_state
from rxdesk.domain.times import format_local
from rxdesk.resources import stylesheet
from rxdesk.services import Desk
from rxdesk.services.webhooks import AttemptResult, DeliveryDetail, NewSubscription, parse_header_args
from rxdesk.tui.context import OnDesk
from rxdesk.tui.modals.confirm import ConfirmModal
from rxdesk.tui.screens.base import DeskScreen
from rxdesk.tui.text import fields_grid, shown
from rxdesk.tui.textual_gaps import forget_clipboard
from rxdesk.tui.widgets.checkbox import DeskCheckbox
from rxdesk.tui.widgets.footer import DeskFooter
from rxdesk.tui.widgets.tables import DeskTable
from rxdesk.tui.work import call_service

LIMIT = 200


class SubscriptionModal(OnDesk, ModalScreen[NewSubscription | None]):
    """URL, event types and custom headers; refused input keeps the dialog open with the reason.
    Every field fits 80×24: the private-network box (a security choice) sits under the URL it is
    about, always on screen, and the event types are the same checkboxes, two columns of them."""

    CSS_PATH = stylesheet("webhooks")

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close, save nothing", id="webhooks.close"),
        Binding("ctrl+s", "save", "Save", id="webhooks.save"),
    ]

    DEFAULT_EVENTS = (EventType.APPOINTMENT_CANCELLED, EventType.APPOINTMENT_REBOOKED)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="subscription-dialog"):
            yield Label("New webhook subscription", classes="dialog-title")
            yield Label("URL (http:// or https://)")
            yield Input(placeholder="https://shop.example/hooks/rxdesk", id="sub-url")
            yield DeskCheckbox("Allow private addresses: loopback, 10/8, 192.168/16 … (audited)", id="sub-private",
                               compact=True)
            yield Label("Event types (tab to one, space ticks it)", id="sub-events-label")
            with Grid(id="sub-events"):
                for event in EventType:
                    yield DeskCheckbox(event.value, event in self.DEFAULT_EVENTS, id=f"event-{event.value}",
                                       classes="sub-event", compact=True)
            yield Label("Custom headers (NAME=VALUE, separated by ;), optional")
            yield Input(placeholder="X-Shop=riverside; Authorization=Bearer …", id="sub-headers")
            yield Static("", id="sub-error", classes="field-error", markup=False)
            yield Static("enter (in a field) or ctrl+s saves · escape cancels", classes="dialog-hint")
        yield DeskFooter()  # the keys of this dialog, not of the screen behind it

    def on_mount(self) -> None:
        self.query_one("#sub-url", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        desk: Desk = self.desk
        url = self.query_one("#sub-url", Input).value
        events = [str(box.id).removeprefix("event-") for box in self.query(".sub-event").results(DeskCheckbox)
                  if box.value]
        raw_headers = [h for h in self.query_one("#sub-headers", Input).value.split(";") if h.strip()]
        private = self.query_one("#sub-private", DeskCheckbox).value

        def save() -> NewSubscription:
            return desk.webhooks.add_subscription(url, events, parse_header_args(raw_headers), desk.agent,
                                                  allow_private_network=private)

        def refused(exc: RxdeskError) -> None:
            self.query_one("#sub-error", Static).update(shown(str(exc)))

        call_service(self, save, done=self.dismiss, failed=refused, group="subscription-add")


class ShownOnceModal(ModalScreen[None]):
    """A secret shown once, with copy to the clipboard; closing it drops the app's own copy."""

    CSS_PATH = stylesheet("webhooks")

    BINDINGS = [
        Binding("escape,enter", "dismiss(None)", "Done", id="webhooks.close"),
        Binding("c", "copy", "Copy", id="webhooks.copy"),
    ]

    def __init__(self, title: str, value: str, note: str) -> None:
        super().__init__()
        self.title_text, self.value, self.note = title, value, note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield Static(self.value, id="secret-value", markup=False)
            yield Static(self.note, classes="dialog-body")
            yield Static("c copies to the clipboard · enter or escape closes", classes="dialog-hint")
        yield DeskFooter()  # the keys of this dialog, not of the screen behind it

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.value)
        self.app.notify("Copied to the clipboard")

    def on_unmount(self) -> None:
        forget_clipboard(self.app, self.value)
        self.value = ""


class DeliveryModal(ModalScreen[None]):
    CSS_PATH = stylesheet("webhooks")

    BINDINGS = [Binding("escape,enter", "dismiss(None)", "Close", id="webhooks.close")]

    def __init__(self, detail: DeliveryDetail, tz: str) -> None:
        super().__init__()
        self.detail, self.tz = detail, tz

    def compose(self) -> ComposeResult:
        d = self.detail.delivery
        grid = fields_grid((("Delivery", d.id), ("Event", f"{d.event_type.value} ({d.event_id})"),
                            ("Subscription", f"{d.subscription_id} → {d.url}"), ("Status", d.status.value),
                            ("Attempts", str(d.attempts)),
                            ("Last attempt", format_local(d.last_attempt_at, self.tz) if d.last_attempt_at else "—"),
                            ("Next attempt", format_local(d.next_attempt_at, self.tz) if d.next_attempt_at else "—"),
                            ("Last answer", str(d.last_status_code or "—")), ("Last error", d.last_error or "—")))
        body = json.dumps(json.loads(self.detail.body), indent=2) if self.detail.body else "(event not found)"
        with VerticalScroll(classes="dialog", id="delivery-dialog"):
            yield Label("Webhook delivery", classes="dialog-title")
            yield Static(grid)
            yield Label("Payload")
            yield Static(shown(body), id="delivery-payload", markup=False)
            yield Label("Response (first 2,000 characters)")
            yield Static(shown(d.response_excerpt or "—"), id="delivery-response", markup=False)
        yield DeskFooter()  # the keys of this dialog, not of the screen behind it


def with_gone(state: str, gone: str | None) -> str:
    """A message's state, and that it will not go out when its appointment no longer takes place."""
    return f"{state} · {gone}" if gone else state


def addressee(message: OutboxMessage) -> str:
    """An SMS's number as phone numbers are shown everywhere in the app (international format)."""
    return display_phone(message.to) if message.channel is MessageChannel.sms else message.to


class MessageModal(ModalScreen[None]):
    """One email or SMS of the outbox: to whom, its state, and the whole text."""

    CSS_PATH = stylesheet("webhooks")

    BINDINGS = [Binding("escape,enter", "dismiss(None)", "Close", id="webhooks.close")]

    def __init__(self, message: OutboxMessage, tz: str, gone: str | None = None) -> None:
        super().__init__()
        self.message, self.tz, self.gone = message, tz, gone

    def compose(self) -> ComposeResult:
        m = self.message

        def local(value: datetime | None) -> str:
            return format_local(value, self.tz) if value else "—"

        grid = fields_grid((("Message", m.id), ("Channel", m.channel.value), ("To", addressee(m)),
                            ("Status", with_gone(message_detail(m), self.gone)), ("Created", local(m.created_at)),
                            ("Sent", local(m.sent_at)), ("Attempts", str(m.attempts)),
                            ("Next attempt", local(m.next_attempt_at)), ("Last error", m.last_error or "—"),
                            ("Appointment", m.appointment_uid or "—")))
        with VerticalScroll(classes="dialog", id="message-dialog"):
            yield Label("Outbox message", classes="dialog-title")
            yield Static(grid, id="message-fields")
            if m.subject:
                yield Label("Subject")
                yield Static(shown(m.subject), id="message-subject", markup=False)
            yield Label("Text")
            yield Static(shown(m.body), id="message-body", markup=False)
        yield DeskFooter()  # the keys of this dialog, not of the screen behind it


class WebhooksScreen(DeskScreen):
    CSS_PATH = stylesheet("webhooks")

    SECTION = "webhooks"

    BINDINGS = [
        Binding("a", "add", "Add subscription", id="webhooks.add"),
        Binding("x", "remove", "Remove", id="webhooks.remove"),
        Binding("t", "test", "Test event", id="webhooks.test"),
        Binding("y", "replay", "Replay", id="webhooks.replay"),
        Binding("]", "next_tab", "Next tab", id="webhooks.next_tab"),
        Binding("[", "next_tab(-1)", "Previous tab", show=False, id="webhooks.previous_tab"),
    ]

    TABS = (("tab-subscriptions", "subscriptions"), ("tab-deliveries", "deliveries"), ("tab-outbox", "messages"))

    def __init__(self) -> None:
        super().__init__()
        self.tz = "UTC"
        self.loads = 0
        self.front_tab: str | None = None  # a tab the agent was sent to, kept in front until they act
        self.messages: dict[str, OutboxMessage] = {}
        self.gone: dict[str, str] = {}  # message id -> why it will not go out (its appointment cancelled)

    # The keys each tab acts on; the footer and help show a tab's own only.
    TAB_ACTIONS = {"add": "tab-subscriptions", "remove": "tab-subscriptions", "test": "tab-subscriptions",
                   "replay": "tab-deliveries"}

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        tab = self.TAB_ACTIONS.get(action)
        if tab is None:
            return True
        tabs = self.query(TabbedContent)
        return bool(tabs) and tabs.first().active == tab

    def action_next_tab(self, step: int = 1) -> None:
        """Tabs by keyboard: `]` and `[` go round them; the tab's table takes the focus."""
        self.front_tab = None
        tabs = self.query_one("#webhook-tabs", TabbedContent)
        ids = [tab for tab, _ in self.TABS]
        current = ids.index(tabs.active) if tabs.active in ids else 0
        tabs.active = ids[(current + step) % len(ids)]

    def show_tab(self, tab: str) -> None:
        """Bring a tab forward, its table focused, and keep it there until the agent acts: a
        section just opened still has its first table's focus on the way, and the tabs
        follow the focus."""
        table_id = dict(self.TABS).get(tab)
        if table_id:
            self.front_tab = tab
            self.query_one("#webhook-tabs", TabbedContent).active = tab
            self.query_one(f"#{table_id}", DeskTable).focus()

    def on_key(self) -> None:
        self.front_tab = None

    def on_mouse_down(self) -> None:
        self.front_tab = None

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if self.front_tab is not None and event.pane.id != self.front_tab:
            self.show_tab(self.front_tab)
            return
        table_id = dict(self.TABS).get(event.pane.id or "")
        if table_id:
            self.query_one(f"#{table_id}", DeskTable).focus()
        self.refresh_bindings()

    def compose_body(self) -> ComposeResult:
        with TabbedContent(id="webhook-tabs"):
            with TabPane("Subscriptions", id="tab-subscriptions"):
                yield Static("No webhook subscriptions yet. a adds one: the receiver's URL, the event types it "
                             "wants, optional headers; its signing secret is shown once.", id="subscriptions-empty",
                             classes="empty-hint")
                yield DeskTable(id="subscriptions")
            with TabPane("Deliveries", id="tab-deliveries"):
                yield DeskTable(id="deliveries")
            with TabPane("Outbox (email, SMS)", id="tab-outbox"):
                yield DeskTable(id="messages")

    def on_mount(self) -> None:
        # (key, label, priority, narrowest): at 80 columns the id, the status and what it is
        # about stay; free text (URLs, errors, subjects) is cut first.
        columns = {
            "subscriptions": (("id", "Id", 0, None), ("url", "URL", 1, 16), ("events", "Events", 3, 10),
                              ("headers", "Headers", 5, 8), ("active", "Active", 2, None),
                              ("private", "Private net", 4, None)),
            "deliveries": (("id", "Delivery", 0, None), ("event", "Event", 2, 9), ("sub", "Subscription", 5, 10),
                           ("status", "Status", 1, None), ("attempts", "Attempts", 3, None),
                           ("next", "Next attempt", 4, None), ("error", "Last error", 6, 10)),
            "messages": (("id", "Message", 0, None), ("channel", "Channel", 3, None), ("to", "To", 2, 12),
                         ("status", "Status", 1, None), ("created", "Created", 4, None),
                         ("subject", "Subject", 5, 10)),
        }
        for table_id, cols in columns.items():
            table = self.query_one(f"#{table_id}", DeskTable)
            for key, label, priority, least in cols:
                table.add_column(label, key=key, priority=priority, min_width=least)
        self.query_one("#subscriptions", DeskTable).focus()
        self.reload()

    def reload(self) -> None:
        desk = self.desk

        def load() -> tuple[list[Subscription], Page[Delivery], Page[OutboxMessage], dict[str, str], str]:
            messages = desk.webhooks.list_messages(limit=LIMIT)
            return (desk.webhooks.list_subscriptions(), desk.webhooks.list_deliveries(limit=LIMIT), messages,
                    desk.webhooks.appointment_gone(messages.items), desk.org().timezone)

        call_service(self, load, done=lambda r: self._show(*r), failed=self._refused, group="webhooks")

    def _removed(self, _sub: Subscription) -> None:
        self.desk_app.note_own_write()

    def _refused(self, exc: RxdeskError) -> None:
        self.app.notify(str(exc), severity="error", title="Refused")

    def _fill(self, table_id: str, rows: list[tuple[str, list[str]]]) -> None:
        table = self.query_one(f"#{table_id}", DeskTable)
        keep = table.selected_key
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        table.select_key(keep)

    def _show(self, subs: list[Subscription], deliveries: Page[Delivery], messages: Page[OutboxMessage],
              gone: dict[str, str], tz: str) -> None:
        self.loads += 1
        self.tz = tz
        self.messages = {m.id: m for m in messages.items}
        self.gone = gone
        self.query_one("#subscriptions-empty", Static).display = not subs

        def local(value: datetime | None) -> str:
            return format_local(value, tz) if value else ""

        def short(event: EventType) -> str:  # every type starts with APPOINTMENT_: the rest tells them apart
            return event.value.removeprefix("APPOINTMENT_")

        self._fill("subscriptions", [(s.id, [s.id, s.url, ", ".join(short(e) for e in s.events),
                                             ", ".join(s.header_names), "yes" if s.active else "no",
                                             "yes" if s.allow_private_network else "no"]) for s in subs])
        self._fill("deliveries", [(d.id, [d.id, short(d.event_type), d.subscription_id, d.status.value,
                                          str(d.attempts), local(d.next_attempt_at), d.last_error])
                                  for d in deliveries.items])
        self._fill("messages", [(m.id, [m.id, m.channel.value, addressee(m),
                                        with_gone(message_state(m), gone.get(m.id)), local(m.created_at),
                                        m.subject or m.body[:60]]) for m in messages.items])

    def _focused_table(self) -> str:
        focused = self.app.focused
        return focused.id if isinstance(focused, DeskTable) and focused.id else ""

    def _selected(self, table_id: str, what: str) -> str | None:
        """The selected row of `table_id` when that table has the focus, else a hint."""
        key = self.query_one(f"#{table_id}", DeskTable).selected_key
        if self._focused_table() != table_id or not key:
            self.app.notify(f"Select {what} first", severity="warning")
            return None
        return key

    def action_add(self) -> None:
        def added(made: NewSubscription | None) -> None:
            if made is None:
                return
            self.desk_app.note_own_write()
            self.app.push_screen(ShownOnceModal(
                f"Signing secret of {made.subscription.id}", made.secret,
                "Store it now in the receiver's configuration: it is not shown again. Receivers verify "
                "each request's webhook-signature with it (Standard Webhooks)."))

        self.app.push_screen(SubscriptionModal(), added)

    def action_remove(self) -> None:
        sub_id = self._selected("subscriptions", "a subscription")
        if sub_id is None:
            return
        desk = self.desk

        def answered(yes: bool | None) -> None:
            if yes:
                call_service(self, lambda: desk.webhooks.remove_subscription(sub_id, desk.agent),
                             done=self._removed, failed=self._refused,
                             group="subscription-remove")

        self.app.push_screen(ConfirmModal("Remove subscription", f"Remove {sub_id}? Its pending deliveries end.",
                                          confirm_label="Remove"), answered)

    def action_test(self) -> None:
        sub_id = self._selected("subscriptions", "a subscription")
        if sub_id is None:
            return
        desk = self.desk

        def done(result: AttemptResult) -> None:
            if result.ok:
                self.app.notify(f"Test event delivered ({result.status_code})", title=sub_id)
            else:
                self.app.notify(f"Test event failed: {result.error}", severity="error", title=sub_id)

        self.app.notify(f"Sending a test event to {sub_id}…")
        call_service(self, lambda: desk.webhooks.send_test(sub_id, desk.agent), done=done, failed=self._refused,
                     group="subscription-test")

    def action_replay(self) -> None:
        delivery_id = self._selected("deliveries", "a dead delivery (Deliveries tab)")
        if delivery_id is None:
            return
        desk = self.desk

        def done(delivery: Delivery) -> None:
            self.desk_app.note_own_write()
            self.app.notify(f"{delivery.id} will be sent again at the next tick", title="Replay")

        call_service(self, lambda: desk.webhooks.replay(delivery_id, desk.agent), done=done, failed=self._refused,
                     group="replay")

    def on_data_table_row_selected(self, event: DeskTable.RowSelected) -> None:
        if event.data_table.id == "messages" and event.row_key.value in self.messages:
            uid = event.row_key.value
            self.app.push_screen(MessageModal(self.messages[uid], self.tz, self.gone.get(uid)))
            return
        if event.data_table.id != "deliveries" or not event.row_key.value:
            return
        desk = self.desk
        delivery_id = event.row_key.value
        call_service(self, lambda: desk.webhooks.show_delivery(delivery_id),
                     done=lambda detail: self.app.push_screen(DeliveryModal(detail, self.tz)), failed=self._refused,
                     group="delivery-show")



