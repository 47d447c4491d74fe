"""Section 7: what needs attention, with a live count in the header; enter goes to the fix."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from textual.widgets import TabbedContent

from rxdesk.services import Desk
from rxdesk.tui.app import RxdeskApp
from rxdesk.tui.screens.appointment import AppointmentScreen
from rxdesk.tui.screens.attention import AttentionScreen
from rxdesk.tui.screens.doctors import DoctorDetailScreen
from rxdesk.tui.screens.webhooks import WebhooksScreen
from rxdesk.tui.widgets.header import DeskHeader
from rxdesk.tui.widgets.tables import DeskTable
from tests.helpers import make_appointment
from tests.tui.conftest import front, make_app, settle, text_of, wait_until


def header_tabs(app: RxdeskApp) -> str:
    return str(app.screen.query_one(DeskHeader).render().plain.splitlines()[1])


def titles(screen: AttentionScreen) -> list[str]:
    table = screen.query_one(DeskTable)
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


async def test_7_lists_what_needs_attention_and_follows_the_fixes(clinic: Desk, now: datetime) -> None:
    hold = make_appointment(clinic, start=now + timedelta(days=1), status="held", created_at=now - timedelta(minutes=12))
    make_appointment(clinic, start=now + timedelta(days=2), doctor_id="dr-osei")
    app = make_app(clinic, poll_seconds=0.05)  # it notices another agent's write by polling, as on a data dir
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.attention_count == 3, what="the header's count")
        assert "7 Att 3" in header_tabs(app)  # the count on the tab (the worker's state follows it)
        await pilot.press("7")
        await wait_until(pilot, lambda: isinstance(app.screen, AttentionScreen) and app.screen.loads > 0, what="section 7")
        screen = front(app, AttentionScreen)
        assert "7 Attention 3" in header_tabs(app)
        assert titles(screen) == ["The maintenance worker has never run on this data",
                                  "Hold of Lena Fischer lapses in 3 minutes",
                                  "Dr Kwame Osei has no mobile number: 1 appointment in 7 days text the doctor"]
        assert "rxdesk worker" in text_of(screen.query_one("#attention-detail"))
        # Another agent gives Dr Osei a mobile number: the list and the count follow.
        clinic.doctors.set_phone("dr-osei", "+1 212 555 0199", "bob")
        loads = screen.loads
        await wait_until(pilot, lambda: screen.loads > loads, what="the reload after the app's next poll")
        assert len(titles(screen)) == 2 and app.attention_count == 2
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AppointmentScreen), what="the appointment")
        assert front(app, AppointmentScreen).uid == hold.uid
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen


async def test_enter_goes_where_each_fix_is(clinic: Desk, now: datetime) -> None:
    make_appointment(clinic, start=now + timedelta(days=2), doctor_id="dr-osei")
    app = make_app(clinic)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("7")
        await wait_until(pilot, lambda: isinstance(app.screen, AttentionScreen) and app.screen.loads > 0, what="section 7")
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorDetailScreen), what="the doctor's page")
        assert front(app, DoctorDetailScreen).doctor_id == "dr-osei"
        await pilot.press("escape")
        await settle(pilot)
        attention = front(app, AttentionScreen)
        worker = next(i for i in attention.items.values() if i.kind.value == "worker")
        attention.go_to_fix(replace(worker, target="outbox"))  # where failed emails and SMS are
        await wait_until(pilot, lambda: isinstance(app.screen, WebhooksScreen), what="the webhooks section")
        await settle(pilot)
        assert app.screen.query_one("#webhook-tabs", TabbedContent).active == "tab-outbox"
