"""The overview says which statuses and which time window are in effect, defaults included,
and its empty fields describe the default instead of showing a value that is not applied."""

from __future__ import annotations

from datetime import datetime

from textual.widgets import Input

from rxdesk.services import Desk
from tests.tui.conftest import make_app, settle
from tests.tui.test_overview import count_text, type_into, uids_shown


async def test_the_count_says_the_window_in_effect_and_placeholders_say_the_default(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert count_text(app) == "held, confirmed · not ended · 3 matches"
        placeholders = {field.id: field.placeholder for field in app.screen.query(Input)}
        assert placeholders["filter-date_from"] == "from: now"
        assert placeholders["filter-date_to"] == "to: any"
        assert placeholders["filter-statuses"] == "status: active"

        # `all` keeps the window: the completed appointment three days ago stays out.
        await type_into(pilot, "#filter-statuses", "all")
        assert booked["weber_past"] not in uids_shown(app)
        assert booked["weber_cancelled"] in uids_shown(app)
        assert count_text(app).startswith("any status · not ended · ")

        # An end alone keeps the start the empty field promises (today), never all history.
        await type_into(pilot, "#filter-date_to", "+7d")
        assert booked["weber_past"] not in uids_shown(app)
        assert count_text(app).startswith("any status · from 2026-11-23 · to 2026-11-30 · ")

        await type_into(pilot, "#filter-date_from", "any")
        assert booked["weber_past"] in uids_shown(app)
        assert count_text(app).startswith("any status · any start · to 2026-11-30 · ")

        await type_into(pilot, "#filter-statuses", "cancelled, held")
        assert count_text(app).startswith("held, cancelled · any start · to 2026-11-30 · ")


async def test_an_appointment_in_progress_leads_the_overview_marked_and_past_statuses_list_newest_first(clinic: Desk, booked: dict[str, str], now: datetime) -> None:
    from datetime import timedelta

    from rxdesk.tui.widgets.tables import AppointmentTable
    from tests.helpers import make_appointment

    running = make_appointment(clinic, start=now - timedelta(minutes=10), doctor_id="dr-osei", patient_id="pat-003")
    older = make_appointment(clinic, start=now - timedelta(days=5), status="completed")
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AppointmentTable)
        assert uids_shown(app)[0] == running.uid
        assert table.cell_text(0, "status") == "in progress" and table.cell_text(1, "status") == "confirmed"
        assert count_text(app) == "held, confirmed · not ended · 4 matches"
        await type_into(pilot, "#filter-statuses", "completed")
        assert uids_shown(app) == [booked["weber_past"], older.uid]
        assert count_text(app) == "completed · any time · newest first · 2 matches"
