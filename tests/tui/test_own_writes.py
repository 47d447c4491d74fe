"""A change made in this app shows on every screen when the agent comes back to it, the
screens that did not make it included: the same as a change from another process."""

from __future__ import annotations

from typing import Any

import pytest
from textual.screen import Screen

from rxdesk.services import Desk
from rxdesk.tui.modals.cancel import CancelModal
from rxdesk.tui.modals.confirm import ConfirmModal
from rxdesk.tui.screens.appointment import AppointmentScreen
from rxdesk.tui.screens.overview import OverviewScreen
from rxdesk.tui.screens.patients import PatientDetailScreen
from rxdesk.tui.screens.rebook import RebookScreen
from rxdesk.tui.widgets.tables import AppointmentTable
from tests.tui.conftest import front, make_app, settle, wait_until


def uids(screen: Screen[Any]) -> list[str]:
    tables = screen.query(AppointmentTable)
    return [row.uid for row in tables.first().loaded_rows()] if tables else []


@pytest.mark.backends
async def test_rebook_then_escape_shows_the_new_appointment_in_the_overview(clinic: Desk, booked: dict[str, str], backend: str) -> None:
    app = make_app(clinic, tick_seconds=3600)  # nothing but the change itself reloads a screen
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        overview = front(app, OverviewScreen)
        overview.table.select_key(booked["weber_first"])
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RebookScreen) and app.screen.loads > 0)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, AppointmentScreen) and app.screen.detail is not None)
        new_uid = front(app, AppointmentScreen).uid
        assert new_uid != booked["weber_first"]
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is overview and new_uid in uids(overview))
        assert booked["weber_first"] not in uids(overview)
        # The row under the cursor is a live one: `r` on it opens its slots, no refusal.
        overview.table.select_key(new_uid)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RebookScreen) and app.screen.loads > 0)
        assert front(app, RebookScreen).uid == new_uid


@pytest.mark.backends
async def test_a_cancel_on_a_patient_page_shows_in_the_overview_of_section_1(clinic: Desk, booked: dict[str, str], backend: str) -> None:
    app = make_app(clinic, tick_seconds=3600)  # nothing but the change itself reloads a screen
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        overview = app.screen
        assert isinstance(overview, OverviewScreen) and booked["weber_first"] in uids(overview)
        await pilot.press("2")
        await settle(pilot)
        app.open_patient("pat-001")
        await wait_until(pilot, lambda: isinstance(app.screen, PatientDetailScreen)
                         and booked["weber_first"] in uids(app.screen))
        app.screen.query_one(AppointmentTable).select_key(booked["weber_first"])
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, CancelModal))
        await pilot.press(*"called in", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, PatientDetailScreen)
                         and clinic.appointments.get(booked["weber_first"]).status.value == "cancelled")
        await pilot.press("1")
        await wait_until(pilot, lambda: app.screen is overview and booked["weber_first"] not in uids(overview))
        assert uids(overview) == [booked["sato_held"], booked["osei_therapy"]]
