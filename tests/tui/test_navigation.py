"""Getting around by keys: a section key lands on that section's list and the tab bar shows
the section the agent is in; one key clears every filter; first and last row."""

from __future__ import annotations

from textual.widgets import Input

from rxdesk.services import Desk
from rxdesk.tui.app import RxdeskApp
from rxdesk.tui.screens.appointment import AppointmentScreen
from rxdesk.tui.screens.doctors import DoctorDetailScreen, DoctorsScreen
from rxdesk.tui.screens.overview import OverviewScreen
from rxdesk.tui.screens.rebook import RebookScreen
from rxdesk.tui.widgets.header import DeskHeader
from rxdesk.tui.widgets.tables import DeskTable
from tests.tui.conftest import front, make_app, settle, wait_until


def section_shown(app: RxdeskApp) -> str:
    return str(app.screen.query_one(DeskHeader).section)


async def test_a_section_key_lands_on_that_sections_list_and_the_tab_bar_follows(clinic: Desk, booked: dict[str, str]) -> None:
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
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorsScreen) and app.screen.query_one("#doctors", DeskTable).row_count)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorDetailScreen))
        assert section_shown(app) == "doctors"
        await pilot.press("3")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorsScreen))
        assert len(app.screen_stack) == 1


async def test_a_section_key_in_a_text_field_is_typed_not_followed(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", "3")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        assert app.screen.query_one("#filter-doctor", Input).value == "3"


async def test_one_key_clears_every_filter_from_the_table_or_a_field_and_is_in_footer_and_palette(clinic: Desk, booked: dict[str, str]) -> None:
    from tests.tui.test_overview import count_text, type_into, uids_shown

    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        default = uids_shown(app)
        keys = {what: key for key, what, _node, _action in app.screen_keys(app.screen)}
        assert keys["Clear filters"] == "^l" and keys["Reload"] == "^r"
        footer_keys = {b.description for (_n, b, _e, _t) in app.screen.active_bindings.values() if b.show}
        assert {"Clear filters", "Reload"} <= footer_keys
        await type_into(pilot, "#filter-doctor", "weber")
        await type_into(pilot, "#filter-statuses", "cancelled")
        await type_into(pilot, "#filter-date_from", "any")
        assert uids_shown(app) == [booked["weber_cancelled"]]
        await pilot.press("ctrl+l")  # from inside a field
        await wait_until(pilot, lambda: uids_shown(app) == default)
        assert all(not field.value for field in app.screen.query(Input))
        assert count_text(app).startswith("held, confirmed · not ended")
        assert app.focused is front(app, OverviewScreen).table
        await type_into(pilot, "#filter-patient", "omar")
        await pilot.press("escape", "ctrl+l")  # from the table
        await wait_until(pilot, lambda: uids_shown(app) == default)


async def test_first_and_last_row_with_home_end_g_and_G_in_every_list(clinic: Desk, booked: dict[str, str]) -> None:
    from rxdesk.tui.widgets.tables import AppointmentTable, DeskTable

    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AppointmentTable)
        for last, first in (("G", "g"), ("end", "home")):
            await pilot.press(last)
            assert table.cursor == 2
            await pilot.press(first)
            assert table.cursor == 0
        await pilot.press("2")
        await wait_until(pilot, lambda: app.screen.query(DeskTable) and app.screen.query_one(DeskTable).row_count > 1)
        patients = app.screen.query_one(DeskTable)
        for last, first in (("G", "g"), ("end", "home")):
            await pilot.press(last)
            assert patients.cursor_row == patients.row_count - 1
            await pilot.press(first)
            assert patients.cursor_row == 0


async def test_escape_in_a_pages_text_field_leaves_the_field_and_a_second_goes_back(clinic: Desk, booked: dict[str, str]) -> None:
    """As help says (`escape  back / leave a field`): a rebook filter that leaves no slot, and a
    doctor's mobile just refused, are left first; the page stays."""
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RebookScreen) and app.screen.loads > 0)
        screen = front(app, RebookScreen)
        await pilot.press("slash", *"nobody-of-that-name")
        await wait_until(pilot, lambda: not screen.picker.shown)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen and not isinstance(app.focused, Input)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), what="back on the overview")

        app.open_doctor("dr-weber")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorDetailScreen) and app.screen.view_data is not None)
        page = front(app, DoctorDetailScreen)
        await pilot.press("m", *"030 901820", "enter")
        field = page.query_one("#doctor-phone", Input)
        await wait_until(pilot, lambda: field.has_class("-invalid"), what="the landline refused")
        await pilot.press("escape")
        await settle(pilot)
        assert front(app, DoctorDetailScreen) is page and not field.has_focus
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, DoctorDetailScreen), what="back from the doctor's page")
