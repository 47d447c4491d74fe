"""With no worker running, the open app still shows what time has decided."""

from __future__ import annotations

from datetime import datetime, timedelta

from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk
from rxdesk.tui.screens.appointment import AppointmentScreen
from rxdesk.tui.screens.overview import OverviewScreen
from rxdesk.tui.widgets.tables import AppointmentTable
from tests.helpers import make_appointment
from tests.tui.conftest import front, make_app, settle, text_of, wait_until


async def test_a_hold_that_lapses_leaves_the_open_overview_without_a_worker(clinic: Desk, clock: FixedClock, now: datetime) -> None:
    held = make_appointment(clinic, start=now + timedelta(days=1), status="held", hold_minutes=10,
                            created_at=now - timedelta(minutes=5))
    confirmed = make_appointment(clinic, start=now + timedelta(days=1, hours=2))
    app = make_app(clinic, worker=False, tick_seconds=0.1)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AppointmentTable)
        assert [row.uid for row in table.loaded_rows()] == [held.uid, confirmed.uid]
        clock.advance(minutes=6)  # the hold lapses; nothing writes
        await wait_until(pilot, lambda: held.uid not in [row.uid for row in table.loaded_rows()],
                         what="the overview's next look after the hold lapsed")
        assert [row.uid for row in table.loaded_rows()] == [confirmed.uid]
    assert clinic.appointments.get(held.uid).status.value == "held"  # as stored: nothing was written


async def test_a_call_reads_in_progress_when_it_starts_and_leaves_the_overview_when_it_ends(
        clinic: Desk, clock: FixedClock, now: datetime) -> None:
    """No write announces a start: the overview looks again at the instant the first shown row
    changes by itself (no worker, no periodic look: tick_seconds is an hour)."""
    call = make_appointment(clinic, start=now + timedelta(seconds=1), length=timedelta(seconds=2))
    later = make_appointment(clinic, start=now + timedelta(days=1))
    app = make_app(clinic, worker=False, tick_seconds=3600)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AppointmentTable)
        assert [row.uid for row in table.loaded_rows()] == [call.uid, later.uid]
        assert table.cell_text(0, "status") == "confirmed"
        clock.advance(seconds=1)  # the call starts
        await wait_until(pilot, lambda: table.cell_text(0, "status") == "in progress",
                         what="the started call to read in progress", limit=15)
        clock.advance(seconds=2)  # and ends
        await wait_until(pilot, lambda: [row.uid for row in table.loaded_rows()] == [later.uid],
                         what="the ended call to leave the list", limit=15)


async def test_the_appointment_page_says_in_progress_and_until_when_once_the_call_starts(
        clinic: Desk, clock: FixedClock, now: datetime) -> None:
    make_appointment(clinic, start=now + timedelta(seconds=1), minutes=30)
    app = make_app(clinic, worker=False, tick_seconds=3600)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        page = front(app, AppointmentScreen)

        def status() -> str:
            line = next(line for line in text_of(page.query_one("#appointment-main")).splitlines()
                        if line.startswith("Status"))
            return " ".join(line.split()[1:])

        assert status() == "confirmed"
        clock.advance(seconds=1)
        # 08:00:01 UTC is 09:00 in Berlin; thirty minutes on, the call ends at 09:30.
        await wait_until(pilot, lambda: status() == "confirmed · in progress until 09:30",
                         what="the page to say the call is in progress", limit=15)


async def test_a_clock_that_stands_still_is_not_asked_again_and_again(clinic: Desk, now: datetime) -> None:
    """RXDESK_NOW: the instant never comes, so the screen looks once and waits for nothing more."""
    make_appointment(clinic, start=now + timedelta(seconds=1))
    app = make_app(clinic, worker=False, tick_seconds=3600)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        screen = front(app, OverviewScreen)
        assert screen.awaiting == now + timedelta(seconds=1)
        loads = screen.loads
        await wait_until(pilot, lambda: screen.awaiting is None, what="the timer of the first start", limit=15)
        await settle(pilot)
        assert screen.loads == loads and screen.looked_again == 0


async def test_the_patient_page_marks_the_call_in_progress_when_it_starts(
        clinic: Desk, clock: FixedClock, now: datetime) -> None:
    make_appointment(clinic, start=now + timedelta(seconds=1), minutes=30)
    app = make_app(clinic, worker=False, tick_seconds=3600)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.open_patient("pat-001")
        await settle(pilot)
        table = app.screen.query_one("#patient-appointments", AppointmentTable)
        assert table.cell_text(0, "status") == "confirmed"
        clock.advance(seconds=1)
        await wait_until(pilot, lambda: table.cell_text(0, "status") == "in progress",
                         what="the patient's call to read in progress", limit=15)
