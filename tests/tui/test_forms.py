"""Forms that take what agents type the way the tables show it."""

from __future__ import annotations

from textual.widgets import Input

from rxdesk.services import Desk
from rxdesk.tui.modals.rule import RuleModal
from rxdesk.tui.screens.types import TypesScreen
from tests.tui.conftest import AnyPilot, front, make_app, settle, wait_until


async def open_types(pilot: AnyPilot) -> TypesScreen:
    await settle(pilot)
    await pilot.press("5")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, TypesScreen) and pilot.app.screen.type_table.row_count)
    screen = front(pilot.app, TypesScreen)
    return screen


async def test_the_minutes_field_takes_2h_1d_and_1d_2h_as_the_table_shows_them(clinic: Desk) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_types(pilot)
        screen.type_table.select_key("prescription")
        await settle(pilot)
        for typed, minutes in (("2h", 120), ("1d 2h", 1560), ("90", 90), ("1d", 1440)):
            await pilot.press("a")
            await wait_until(pilot, lambda: isinstance(app.screen, RuleModal))
            app.screen.query_one("#rule-minutes", Input).value = typed
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.screen is screen)
            assert minutes in [r.minutes_before for r in clinic.types.get("prescription").reminders], typed
        shown = {str(screen.rule_table.get_row_at(i)[1]) for i in range(screen.rule_table.row_count)}
        assert {"2 h", "1 d 2 h", "1 h 30 min", "1 d"} <= shown


async def test_ctrl_c_says_how_to_quit_in_words_not_markup(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: app.notices)
        messages = [n.message for n in app.notices]
        assert any("ctrl+q" in m for m in messages) and not any("[b]" in m for m in messages)


async def test_a_checkbox_reads_off_and_on_without_colour(clinic: Desk) -> None:
    from textual.widgets import Checkbox

    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_types(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, RuleModal))
        box = app.screen.query_one("#rule-email", Checkbox)
        assert not box.value and str(box.render()).startswith("[ ]")
        box.value = True
        await pilot.pause()
        assert str(box.render()).startswith("[✓]")


async def test_the_appointment_page_headings_start_at_the_panel_edge(clinic: Desk, booked: dict[str, str]) -> None:
    from rxdesk.tui.screens.appointment import AppointmentScreen
    from tests.tui.conftest import text_of

    booked_uid = booked["weber_first"]
    clinic.appointments.cancel_appointment(booked_uid, "called in", "tester")  # an audit entry
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.open_appointment(booked_uid)
        await wait_until(pilot, lambda: isinstance(app.screen, AppointmentScreen) and app.screen.detail is not None)
        audit = text_of(app.screen.query_one("#appointment-audit"))
        assert audit.splitlines()[0].rstrip() == "Audit"
