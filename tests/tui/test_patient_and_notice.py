"""What the patient page counts and lists, the cancel dialog's note once the patient's own
notice period has passed, and the header without a worker."""

from __future__ import annotations

from datetime import datetime, timedelta

from rxdesk.services import Desk
from rxdesk.tui.modals.cancel import CancelModal
from rxdesk.tui.screens.overview import OverviewScreen
from rxdesk.tui.screens.patients import PatientDetailScreen
from rxdesk.tui.widgets.header import DeskHeader
from tests.helpers import make_appointment
from tests.tui.conftest import front, make_app, overview_ready, settle, text_of, wait_until


async def test_the_patient_page_says_its_list_has_every_status_beside_the_upcoming_count(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.open_patient("pat-002")  # one held appointment ahead, one cancelled
        await wait_until(pilot, lambda: isinstance(app.screen, PatientDetailScreen)
                         and "upcoming" in "".join(text_of(w) for w in app.screen.query("#patient-appointments-title")))
        title = text_of(app.screen.query_one("#patient-appointments-title"))
        assert "1 upcoming" in title and "1 cancelled" in title
        assert "listed: 2 from now on (any status)" in title


async def test_the_cancel_dialog_notes_a_passed_notice_period_and_still_cancels(clinic: Desk, booked: dict[str, str], now: datetime) -> None:
    # GP consultations: patients may cancel until 2 h before; this one starts in 1 h.
    soon = make_appointment(clinic, start=now + timedelta(hours=1), patient_id="pat-003", doctor_id="dr-sato")
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await overview_ready(pilot)
        table = front(app, OverviewScreen).table
        table.select_key(soon.uid)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, CancelModal))
        note = app.screen.query_one("#cancel-note")
        assert note.display and "notice period (2 h before the start) has passed" in text_of(note)
        assert "as an admin you still may" in text_of(note)
        await pilot.press(*"patient called", "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, CancelModal))
        assert clinic.appointments.get(soon.uid).status.value == "cancelled"
        # The same dialog for one a day ahead: no note.
        table.select_key(booked["weber_first"])
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, CancelModal) and app.screen.uid == booked["weber_first"])
        assert not app.screen.query_one("#cancel-note").display


async def test_the_header_says_worker_off_without_a_worker(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic, worker=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert "worker off" in str(app.screen.query_one(DeskHeader).render())
