"""Section 6 through the keys: a signed test event, removing a subscription, a refused replay,
and the outbox of emails and SMS."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from standardwebhooks import Webhook

from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from rxdesk.tui.app import RxdeskApp
from rxdesk.tui.modals.confirm import ConfirmModal
from rxdesk.tui.screens.webhooks import WebhooksScreen
from rxdesk.tui.widgets.tables import DeskTable
from tests.helpers import fingerprint, make_appointment, view_of
from tests.receiver import Receiver
from tests.tui.conftest import AnyPilot, front, make_app, settle
from tests.unit.test_worker import only_rule


async def open_webhooks(app: RxdeskApp, pilot: AnyPilot) -> WebhooksScreen:
    await settle(pilot)
    await pilot.press("6")
    await settle(pilot)
    return front(app, WebhooksScreen)


async def test_a_test_event_is_signed_and_a_subscription_is_removed(clinic: Desk, receiver: Receiver) -> None:
    made = clinic.webhooks.add_subscription(receiver.url + "/hook", ["APPOINTMENT_CANCELLED"],
                                            {"X-Shop": "riverside"}, "tester",
                                            allow_private_network=True)
    app = make_app(clinic)
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_webhooks(app, pilot)
        subs = screen.query_one("#subscriptions", DeskTable)
        assert subs.row_count == 1 and subs.selected_key == made.subscription.id
        await pilot.press("t")
        await settle(pilot)
        (got,) = receiver.received
        assert Webhook(made.secret).verify(got.body, got.headers)["type"] == "rxdesk.test"
        assert got.headers["x-shop"] == "riverside"
        assert any("Test event delivered (200)" in n.message for n in app.notices)

        receiver.default = (500, {})
        await pilot.press("t")
        await settle(pilot)
        assert any("Test event failed: answered 500" in n.message for n in app.notices)

        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert clinic.webhooks.list_subscriptions() == [] and subs.row_count == 0
    actions = [e.action for e in view_of(clinic).audit.for_target(f"subscription:{made.subscription.id}")]
    assert actions == ["subscription.add", "subscription.test", "subscription.test", "subscription.remove"]


async def test_replaying_a_pending_delivery_is_refused_and_changes_nothing(clinic: Desk, now: datetime, data_dir: Path, receiver: Receiver) -> None:
    receiver.default = (500, {})
    clinic.webhooks.add_subscription(receiver.url, ["APPOINTMENT_CANCELLED"], {}, "tester",
                                     allow_private_network=True)
    appt = make_appointment(clinic, start=now + timedelta(days=1))
    clinic.appointments.cancel_appointment(appt.uid, "x", "tester")
    MaintenanceService(clinic).tick()  # one failed attempt: pending, retried by itself
    app = make_app(clinic)
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_webhooks(app, pilot)
        await pilot.press("]")  # the tabs by keyboard: the deliveries' table takes the focus
        await settle(pilot)
        table = screen.query_one("#deliveries", DeskTable)
        assert app.focused is table and table.row_count == 1
        before = fingerprint(data_dir)
        await pilot.press("y")
        await settle(pilot)
        assert any("still pending" in n.message for n in app.notices)
        assert fingerprint(data_dir) == before


def one_email_in_the_outbox(clinic: Desk, now: datetime) -> None:
    only_rule(clinic, "gp-consult", "patient", 60, email=True)
    make_appointment(clinic, start=now + timedelta(minutes=30))
    assert MaintenanceService(clinic).tick().messages_outbox == 1


async def test_the_outbox_shows_unsent_emails(clinic: Desk, now: datetime) -> None:
    one_email_in_the_outbox(clinic, now)
    app = make_app(clinic)
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_webhooks(app, pilot)
        await pilot.press("[")  # backwards from the first tab: the last one
        await settle(pilot)
        table = screen.query_one("#messages", DeskTable)
        assert app.focused is table and table.row_count == 1
        row = [str(cell) for cell in table.get_row_at(0)]
        assert "lena.fischer@mail.example" in row and "outbox" in row


async def test_enter_on_an_outbox_row_opens_the_message_and_an_empty_subscriptions_tab_says_what_to_do(clinic: Desk, now: datetime) -> None:
    from rxdesk.tui.screens.webhooks import MessageModal
    from tests.tui.conftest import text_of, wait_until

    one_email_in_the_outbox(clinic, now)
    app = make_app(clinic)
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_webhooks(app, pilot)
        hint = screen.query_one("#subscriptions-empty")
        assert hint.display and "a adds one" in text_of(hint)
        await pilot.press("left_square_bracket")  # the outbox tab
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "messages")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageModal))
        assert "lena.fischer@mail.example" in text_of(app.screen.query_one("#message-fields"))
        assert text_of(app.screen.query_one("#message-body")).strip()
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)


async def test_an_outbox_message_whose_appointment_was_cancelled_says_so(clinic: Desk, now: datetime) -> None:
    from rxdesk.tui.screens.webhooks import MessageModal
    from tests.tui.conftest import text_of, wait_until

    only_rule(clinic, "gp-consult", "patient", 60, email=True, sms=True)
    with clinic.store.write() as view:  # Lena's mobile, kept as E.164
        lena = view.patients.require("pat-001")
        view.patients.put(lena.model_copy(update={"phone": "+4915123456789"}))
    appt = make_appointment(clinic, start=now + timedelta(minutes=30))
    make_appointment(clinic, start=now + timedelta(minutes=40), patient_id="pat-002", doctor_id="dr-sato")
    assert MaintenanceService(clinic).tick().messages_outbox >= 3
    clinic.appointments.cancel_appointment(appt.uid, "Patient asked to cancel", "tester")
    app = make_app(clinic)
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_webhooks(app, pilot)
        await pilot.press("[")
        await settle(pilot)
        table = screen.query_one("#messages", DeskTable)
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        lena_rows = [r for r in rows if r[2] in ("lena.fischer@mail.example", "+49 1512 3456789")]
        others = [r for r in rows if r not in lena_rows]
        assert sorted(r[2] for r in lena_rows) == ["+49 1512 3456789", "lena.fischer@mail.example"]
        assert {r[3] for r in lena_rows} == {"outbox · appointment cancelled"}
        assert others and {r[3] for r in others} == {"outbox"}
        table.move_cursor(row=rows.index(lena_rows[0]))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageModal))
        assert "outbox · appointment cancelled" in text_of(app.screen.query_one("#message-fields"))
