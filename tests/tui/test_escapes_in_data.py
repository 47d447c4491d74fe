"""Escape sequences in stored data or a receiver's answer never reach the agent's terminal
from the app: tables, detail panels, the delivery dialog and notifications show them escaped."""

from __future__ import annotations

from datetime import datetime

from textual.widgets import DataTable

from rxdesk.services import Desk
from rxdesk.tui.screens.doctors import DoctorDetailScreen, DoctorsScreen
from rxdesk.tui.screens.patients import PatientDetailScreen, PatientsScreen
from rxdesk.tui.screens.webhooks import DeliveryModal, WebhooksScreen
from rxdesk.tui.widgets.tables import DeskTable
from tests.reliability.test_terminal_safety import raw_bytes_in, store_hostile_data
from tests.tui.conftest import make_app, settle
from tests.tui.test_markup_in_data import shown


async def test_escape_sequences_in_data_are_shown_escaped(clinic: Desk, now: datetime) -> None:
    ids = store_hostile_data(clinic, now)
    app = make_app(clinic)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.screen, PatientsScreen)
        assert raw_bytes_in(shown(app)) == [] and "\\x1b]52;c;" in shown(app)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PatientDetailScreen)
        assert raw_bytes_in(shown(app)) == [] and "\\x1b]52;c;" in shown(app)

        await pilot.press("escape", "3")
        await settle(pilot)
        assert isinstance(app.screen, DoctorsScreen)
        assert raw_bytes_in(shown(app)) == [] and "\\u202e" in shown(app)
        app.screen.query_one(DataTable).focus()
        app.screen.query_one(DeskTable).select_key("dr-weber")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DoctorDetailScreen)
        assert raw_bytes_in(shown(app)) == [] and "\\x1b[2J" in shown(app)

        await pilot.press("escape", "6")
        await settle(pilot)
        assert isinstance(app.screen, WebhooksScreen)
        await pilot.press("]")
        await settle(pilot)
        assert raw_bytes_in(shown(app)) == []
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DeliveryModal)
        assert raw_bytes_in(shown(app)) == [] and "oops \\x1b]52;c;" in shown(app)

        app.notify(f"delivery {ids['delivery']}: {clinic.webhooks.show_delivery(ids['delivery']).delivery.response_excerpt}")
        assert all(raw_bytes_in(n.message) == [] for n in app.notices)
