"""Forms that take what agents type the way the tables show it."""

from __future__ import annotations

from textual.widgets import Input

from rxdesk.services import Desk
from rxdesk.tui.modals.rule import RuleModal
from rxdesk.tui.screens.types import TypesScreen
from tests.tui.conftest import make_app, settle, wait_until


async def test_the_minutes_field_takes_2h_1d_and_1d_2h_as_the_table_shows_them(clinic: Desk) -> None:  # type: ignore[no-untyped-def]
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await wait_until(pilot, lambda: isinstance(app.screen, TypesScreen) and app.screen.type_table.row_count)
        screen = app.screen
        screen.type_table.select_key("prescription")
        await settle(pilot)
        for typed, minutes in (("2h", 120), ("1d 2h", 1560), ("90", 90), ("1d", 1440)):
            await pilot.press("a")
            await wait_until(pilot, lambda: isinstance(app.screen, RuleModal))
            app.screen.query_one("#rule-minutes", Input).value = typed
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.screen is screen)
            assert minutes in [r.minutes_before for r in clinic.types.get("prescription").reminders], typed
        shown = {str(screen.rule_table.get_row_at(i)[2]) for i in range(screen.rule_table.row_count)}
        assert {"2 h", "1 d 2 h", "1 h 30 min", "1 d"} <= shown
