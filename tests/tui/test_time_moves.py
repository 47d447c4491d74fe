"""With no worker running, the open app still shows what time has decided."""

from __future__ import annotations

from datetime import datetime, timedelta

from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk
from rxdesk.tui.widgets.tables import AppointmentTable
from tests.helpers import make_appointment
from tests.tui.conftest import make_app, settle, wait_until


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
