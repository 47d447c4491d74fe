"""Getting around by keys: a section key lands on that section's list and the tab bar shows
the section the agent is in; one key clears every filter; first and last row."""

from __future__ import annotations

from textual.widgets import Input

from rxdesk.services import Desk
from rxdesk.tui.screens.appointment import AppointmentScreen
from rxdesk.tui.screens.doctors import DoctorDetailScreen, DoctorsScreen
from rxdesk.tui.screens.overview import OverviewScreen
from rxdesk.tui.widgets.header import DeskHeader
from tests.tui.conftest import make_app, settle, wait_until


def section_shown(app) -> str:  # type: ignore[no-untyped-def]
    return app.screen.query_one(DeskHeader).section


async def test_a_section_key_lands_on_that_sections_list_and_the_tab_bar_follows(clinic: Desk, booked) -> None:  # type: ignore[no-untyped-def]
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AppointmentScreen) and app.screen.detail is not None)
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorDetailScreen))
        # Opened from the overview, the doctor page is part of it: escape leads back there.
        assert section_shown(app) == "overview"
        await pilot.press("3")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorsScreen))
        assert section_shown(app) == "doctors"
        await pilot.press("1")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen))
        assert section_shown(app) == "overview" and len(app.screen_stack) == 1
        # A page opened inside a section is closed by that section's key too.
        await pilot.press("3")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorsScreen) and app.screen.query_one("#doctors").row_count)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorDetailScreen))
        assert section_shown(app) == "doctors"
        await pilot.press("3")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorsScreen))
        assert len(app.screen_stack) == 1


async def test_a_section_key_in_a_text_field_is_typed_not_followed(clinic: Desk, booked) -> None:  # type: ignore[no-untyped-def]
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", "3")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        assert app.screen.query_one("#filter-doctor", Input).value == "3"
