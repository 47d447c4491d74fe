"""The overview, driven by keys as an agent would: default view, filters, scrolling, detail."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from textual import events
from textual.widgets import ContentSwitcher, Input

from rxdesk.services import Desk
from rxdesk.tui.app import RxdeskApp
from rxdesk.tui.screens.appointment import AppointmentScreen
from rxdesk.tui.screens.doctors import DoctorDetailScreen
from rxdesk.tui.screens.overview import OverviewScreen
from rxdesk.tui.screens.patients import PatientDetailScreen
from rxdesk.tui.widgets.header import DeskHeader
from rxdesk.tui.widgets.tables import AppointmentTable
from tests.helpers import make_appointment
from tests.tui.conftest import AnyPilot, make_app, settle, text_of


def uids_shown(app: RxdeskApp) -> list[str]:
    table = app.screen.query_one(AppointmentTable)
    return [row.uid for row in table.loaded_rows()]


def count_text(app: RxdeskApp) -> str:
    return str(app.screen.query_one("#filter-count").render())


async def type_into(pilot: AnyPilot, selector: str, text: str) -> None:
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    field.value = ""
    await pilot.press(*text) if text else None
    await settle(pilot)


async def test_opens_on_future_active_appointments_with_the_first_row_selected(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        assert uids_shown(app) == [booked["weber_first"], booked["sato_held"], booked["osei_therapy"]]
        table = app.screen.query_one(AppointmentTable)
        assert table.has_focus and table.cursor == 0
        assert count_text(app) == "held, confirmed · not ended · 3 matches"
        # Start in the org zone (Berlin) with the weekday.
        assert table.cell_text(0, "start") == "Tue 2026-11-24 09:00"
        header = str(app.screen.query_one(DeskHeader).render())
        for part in ("Riverside Telehealth", "agent tester", "Europe/Berlin", "FIXED TIME 2026-11-23T08:00:00Z"):
            assert part in header


async def test_filters_by_doctor_patient_status_and_dates(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        assert app.focused is app.screen.query_one("#filter-doctor")
        await pilot.press(*"sato")
        await settle(pilot)
        assert uids_shown(app) == [booked["sato_held"]]
        assert count_text(app) == "held, confirmed · not ended · 1 match"

        await type_into(pilot, "#filter-doctor", "")
        await type_into(pilot, "#filter-patient", "omar")
        assert uids_shown(app) == [booked["sato_held"]]  # the cancelled one is not active

        await type_into(pilot, "#filter-statuses", "cancelled")
        assert uids_shown(app) == [booked["weber_cancelled"]]

        await type_into(pilot, "#filter-patient", "")
        await type_into(pilot, "#filter-statuses", "completed")
        await type_into(pilot, "#filter-date_from", "-7d")
        assert uids_shown(app) == [booked["weber_past"]]

        # `all` is every status within the window in effect; `from: any` reaches back.
        await type_into(pilot, "#filter-statuses", "all")
        await type_into(pilot, "#filter-date_from", "")
        assert len(uids_shown(app)) == 4
        assert count_text(app) == "any status · not ended · 4 matches"
        await type_into(pilot, "#filter-date_from", "any")
        assert len(uids_shown(app)) == 5
        assert count_text(app) == "any status · any time · 5 matches"

        await pilot.press("escape")
        assert app.focused is app.screen.query_one(AppointmentTable)


async def test_bad_filter_input_marks_the_field_and_never_raises(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        for selector, junk in (("#filter-date_from", "soon"), ("#filter-statuses", "maybe"),
                               ("#filter-doctor", "nobody"), ("#filter-date_to", "+99999999d")):
            await type_into(pilot, selector, junk)
            field = app.screen.query_one(selector, Input)
            assert field.has_class("-invalid"), selector
            assert "\n" not in str(app.screen.query_one("#filter-notes").render())
            await type_into(pilot, selector, "")
            assert not field.has_class("-invalid")
        assert len(uids_shown(app)) == 3


async def test_a_person_filter_that_matches_nobody_lists_nothing_and_says_why(
        clinic: Desk, booked: dict[str, str]) -> None:
    """A typo in the patient's name on a live call: nobody's appointment under the cursor, not
    everyone's; the count line says why; `c` then has nothing to cancel."""
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for selector, typed, why in (("#filter-patient", "Lena Fishcer", "no patient matches 'Lena Fishcer'"),
                                     ("#filter-doctor", "Lena", "no doctor matches 'Lena'")):
            await type_into(pilot, selector, typed)
            assert uids_shown(app) == []
            assert count_text(app) == f"held, confirmed · not ended · 0 matches: {why}"
            assert app.screen.query_one(selector, Input).has_class("-invalid")
            await pilot.press("escape")
            await pilot.press("c")
            await settle(pilot)
            assert isinstance(app.screen, OverviewScreen)  # no dialog for an appointment not asked for
            await type_into(pilot, selector, "")
            assert len(uids_shown(app)) == 3


async def test_clearing_the_filters_puts_the_cursor_on_the_first_row(clinic: Desk, booked: dict[str, str]) -> None:
    """Another list, not the same one again: the next call is at the top, under the cursor."""
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AppointmentTable)
        await pilot.press("j", "j")
        assert table.current_key == booked["osei_therapy"]
        await type_into(pilot, "#filter-doctor", "osei")
        assert uids_shown(app) == [booked["osei_therapy"]]
        await pilot.press("escape", "ctrl+l")
        await settle(pilot)
        assert len(uids_shown(app)) == 3
        assert table.cursor == 0 and table.current_key == booked["weber_first"]


async def test_keys_typed_right_after_tab_land_in_the_field_tab_went_to(clinic: Desk, booked: dict[str, str]) -> None:
    """Typed as fast as a terminal delivers a paste: every key is handed to the app before the
    app has handled the first (as the terminal driver does), not one by one as `pilot.press`
    waits between them."""
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#filter-statuses", Input).focus()
        # shift+tab back selects the day typed there: what follows replaces it.
        for key in ["tab", *"2026-11-24", "tab", *"2026-11-26", "shift+tab", *"2026-11-25"]:
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        await settle(pilot)
        assert app.screen.query_one("#filter-date_from", Input).value == "2026-11-25"
        assert app.screen.query_one("#filter-date_to", Input).value == "2026-11-26"


async def test_keys_typed_right_after_slash_land_in_the_filters(clinic: Desk, booked: dict[str, str]) -> None:
    """`/`, tab and a name as fast as a paste: the name in the patient field, in that order;
    in a field, `/` is typed."""
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for key in ["slash", "tab", *"Omar", "tab", "tab", *"24/11"]:
            app.post_message(events.Key(key, "/" if key == "slash" else key if len(key) == 1 else None))
        await settle(pilot)
        values = {name: app.screen.query_one(f"#filter-{name}", Input).value for name in ("doctor", "patient", "date_from")}
        assert values == {"doctor": "", "patient": "Omar", "date_from": "24/11"}


async def test_detail_shows_the_appointment_and_jumps_to_patient_and_doctor(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AppointmentScreen)
        body = text_of(app.screen.query_one("#appointment-main"))
        assert booked["weber_first"] in body and "Lena Fischer" in body and "meet.jit.si" in body
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, PatientDetailScreen)
        assert app.screen.patient_id == "pat-001"
        # The patient's appointments, upcoming and past, in the same table.
        assert set(uids_shown(app)) == {booked["weber_first"], booked["weber_past"]}
        await pilot.press("escape")
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, DoctorDetailScreen) and app.screen.doctor_id == "dr-weber"
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, OverviewScreen)


async def test_one_list_without_pages_j_k_g_and_G(clinic: Desk, now: datetime) -> None:
    start = now + timedelta(days=1)
    for i in range(305):
        make_appointment(clinic, start=start + timedelta(minutes=15 * i), patient_id=f"pat-00{1 + i % 3}")
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AppointmentTable)
        assert table.total == 305 and count_text(app) == "held, confirmed · not ended · 305 matches"
        await pilot.press("j", "j", "k")
        assert table.cursor == 1
        await pilot.press("G")
        await settle(pilot)
        assert table.cursor == 304 and table.current_row is not None
        assert table.current_row.starts_at == start + timedelta(minutes=15 * 304)
        await pilot.press("k", "g")
        assert table.cursor == 0
        await pilot.press("end")
        await pilot.press("home")
        assert table.cursor == 0


@pytest.mark.backends
@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_an_empty_data_dir_explains_how_to_get_data(desk: Desk, size: tuple[int, int]) -> None:
    app = make_app(desk)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        switcher = app.screen.query_one("#overview-switcher", ContentSwitcher)
        assert switcher.current == "empty-state"
        panel = app.screen.query_one("#empty-state")
        text = str(panel.render())
        assert "rxdesk demo" in text and "rxdesk provision" in text
        if desk.settings.database_url:  # an empty database can also take a data dir in
            assert "no data in this database" in text and "rxdesk store import DATA_DIR" in text
        else:
            assert "no data in this data dir" in text and "store import" not in text
        # All of it in sight, no line wrapped: the commands are read off the screen.
        assert max(map(len, text.splitlines())) <= panel.content_region.width
        assert len(text.splitlines()) <= panel.content_region.height
