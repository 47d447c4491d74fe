"""Sections 5 and 6 through the keys: reminder rules, subscriptions, deliveries, replay."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from textual.widgets import Checkbox, Input, Select, TabbedContent

from rxdesk.domain.clock import FixedClock
from rxdesk.domain.models import DeliveryStatus
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from rxdesk.tui.modals.confirm import ConfirmModal
from rxdesk.tui.modals.rule import RuleModal
from rxdesk.tui.screens.types import TypesScreen
from rxdesk.tui.screens.webhooks import DeliveryModal, ShownOnceModal, SubscriptionModal, WebhooksScreen
from rxdesk.tui.widgets.tables import DeskTable
from tests.helpers import fingerprint, make_appointment, view_of
from tests.receiver import Receiver
from tests.tui.conftest import front, make_app, settle, text_of


async def test_reminder_rules_are_added_edited_and_removed(clinic: Desk, data_dir: Path) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        screen = front(app, TypesScreen)
        screen.type_table.select_key("prescription")
        await settle(pilot)
        assert screen.rule_table.row_count == 0
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, RuleModal)
        before = fingerprint(data_dir)
        await pilot.press(*"0", "enter")  # 0 minutes: refused inline
        await settle(pilot)
        assert isinstance(app.screen, RuleModal)
        assert "between 1 and 43200" in text_of(app.screen.query_one("#rule-error"))
        assert fingerprint(data_dir) == before
        app.screen.query_one("#rule-recipient", Select).value = "doctor"
        app.screen.query_one("#rule-sms", Checkbox).value = True
        app.screen.query_one("#rule-minutes", Input).value = "45"
        await pilot.press("enter")
        await settle(pilot)
        assert front(app, TypesScreen) is screen and screen.rule_table.row_count == 1
        (rule,) = clinic.types.get("prescription").reminders
        assert (rule.recipient.value, rule.minutes_before, rule.send_sms, rule.send_email) == ("doctor", 45, True, False)

        screen.rule_table.focus()
        await pilot.press("e")
        await settle(pilot)
        app.screen.query_one("#rule-minutes", Input).value = "90"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert clinic.types.get("prescription").reminders[0].minutes_before == 90

        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert clinic.types.get("prescription").reminders == []
    actions = [e.action for e in view_of(clinic).audit.for_target("appointment_type:prescription")]
    assert actions == ["reminder.add", "reminder.edit", "reminder.remove"]


async def test_subscriptions_deliveries_and_replay(clinic: Desk, now: datetime, data_dir: Path, receiver: Receiver, clock: FixedClock) -> None:
    receiver.default = (500, {})
    app = make_app(clinic)
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        screen = front(app, WebhooksScreen)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, SubscriptionModal)
        before = fingerprint(data_dir)
        for url, headers in (("ftp://nope", ""), (receiver.url, "webhook-signature=forged"),
                             (receiver.url, "X-Bad=line\nbreak")):
            app.screen.query_one("#sub-url", Input).value = url
            app.screen.query_one("#sub-headers", Input).value = headers
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, SubscriptionModal), url
            assert text_of(app.screen.query_one("#sub-error"))
        assert fingerprint(data_dir) == before
        app.screen.query_one("#sub-url", Input).value = receiver.url
        ticked = {str(box.id).removeprefix("event-") for box in app.screen.query(".sub-event").results(Checkbox)
                  if box.value}  # the known types, two ticked
        assert ticked == {"APPOINTMENT_CANCELLED", "APPOINTMENT_REBOOKED"}
        app.screen.query_one("#event-APPOINTMENT_REBOOKED", Checkbox).value = False
        app.screen.query_one("#sub-headers", Input).value = "X-Shop=riverside"
        app.screen.query_one("#sub-private", Checkbox).value = True  # the receiver is on 127.0.0.1
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ShownOnceModal)
        signing = text_of(app.screen.query_one("#secret-value")).strip()
        assert signing.startswith("whsec_")
        await pilot.press("c")
        await settle(pilot)
        assert app.clipboard == signing
        await pilot.press("escape")
        await settle(pilot)
        assert app.clipboard != signing  # the app forgets its copy with the dialog
        (sub,) = clinic.webhooks.list_subscriptions()
        assert sub.header_names == ["X-Shop"]
        assert clinic.webhooks.headers_of(view_of(clinic), sub) == {"X-Shop": "riverside"}
        assert [str(event) for event in sub.events] == ["APPOINTMENT_CANCELLED"]

        # A cancellation, ticked to death by a failing receiver, then replayed from the app.
        appt = make_appointment(clinic, start=now + timedelta(days=1))
        clinic.appointments.cancel_appointment(appt.uid, "x", "tester")
        worker = MaintenanceService(clinic)
        for step in (0, 5, 300, 1800, 7200, 18000, 36000, 36000):
            clock.advance(timedelta(seconds=step))
            worker.tick()
        (delivery,) = clinic.webhooks.list_deliveries().items
        assert delivery.status is DeliveryStatus.dead
        screen.reload()
        await settle(pilot)
        screen.query_one("#webhook-tabs", TabbedContent).active = "tab-deliveries"
        table = screen.query_one("#deliveries", DeskTable)
        table.focus()
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DeliveryModal)
        assert appt.uid in text_of(app.screen.query_one("#delivery-payload"))
        await pilot.press("escape")
        await pilot.press("y")
        await settle(pilot)
        assert clinic.webhooks.list_deliveries().items[0].status is DeliveryStatus.pending
