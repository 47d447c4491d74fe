"""Section 7: what needs attention, with a live count in the header; enter goes to the fix."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from rxdesk.services import Desk
from rxdesk.tui.screens.appointment import AppointmentScreen
from rxdesk.tui.screens.attention import AttentionScreen
from rxdesk.tui.screens.doctors import DoctorDetailScreen
from rxdesk.tui.screens.webhooks import WebhooksScreen
from rxdesk.tui.widgets.header import DeskHeader
from rxdesk.tui.widgets.tables import DeskTable
from tests.helpers import make_appointment
from tests.tui.conftest import make_app, settle, text_of, wait_until


def header_tabs(app) -> str:  # type: ignore[no-untyped-def]
    return app.screen.query_one(DeskHeader).render().plain.splitlines()[1]


def titles(screen: AttentionScreen) -> list[str]:
    table = screen.query_one(DeskTable)
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


async def test_7_lists_what_needs_attention_and_follows_the_fixes(clinic: Desk, now) -> None:  # type: ignore[no-untyped-def]
    hold = make_appointment(clinic, start=now + timedelta(days=1), status="held", created_at=now - timedelta(minutes=12))
    make_appointment(clinic, start=now + timedelta(days=2), doctor_id="dr-osei")
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.attention_count == 3, what="the header's count")
        assert "7 Att 3" in header_tabs(app)  # the count on the tab (the worker's state follows it)
        await pilot.press("7")
        await wait_until(pilot, lambda: isinstance(app.screen, AttentionScreen) and app.screen.loads > 0, what="section 7")
        screen = app.screen
        assert "7 Attention 3" in header_tabs(app)
        assert titles(screen) == ["The maintenance worker has never run on this data",
                                  "Hold of Lena Fischer lapses in 3 minutes",
                                  "Dr Kwame Osei has no mobile number: 1 appointment in 7 days text the doctor"]
        assert "rxdesk worker" in text_of(screen.query_one("#attention-detail"))
        # Another agent gives Dr Osei a mobile number: the list and the count follow.
        clinic.doctors.set_phone("dr-osei", "+1 212 555 0199", "bob")
        loads = screen.loads
        app._poll()
        await wait_until(pilot, lambda: screen.loads > loads, what="the reload")
        assert len(titles(screen)) == 2 and app.attention_count == 2
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AppointmentScreen), what="the appointment")
        assert app.screen.uid == hold.uid
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen


async def test_enter_goes_where_each_fix_is(clinic: Desk, now) -> None:  # type: ignore[no-untyped-def]
    make_appointment(clinic, start=now + timedelta(days=2), doctor_id="dr-osei")
    app = make_app(clinic)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("7")
        await wait_until(pilot, lambda: isinstance(app.screen, AttentionScreen) and app.screen.loads > 0, what="section 7")
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorDetailScreen), what="the doctor's page")
        assert app.screen.doctor_id == "dr-osei"
        await pilot.press("escape")
        await settle(pilot)
        worker = next(i for i in app.screen.items.values() if i.kind.value == "worker")
        app.screen.go_to_fix(replace(worker, target="outbox"))  # where failed emails and SMS are
        await wait_until(pilot, lambda: isinstance(app.screen, WebhooksScreen), what="the webhooks section")
        await settle(pilot)
        assert app.screen.query_one("#webhook-tabs").active == "tab-outbox"
