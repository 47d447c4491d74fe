"""The maintenance worker inside the app: its last tick in the header; a failing tick is a
warning, never a crash."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from rxdesk.services import Desk
from rxdesk.tui.widgets.header import DeskHeader
from tests.helpers import make_appointment, view_of
from tests.tui.conftest import make_app, settle, wait_until
from tests.unit.test_worker import only_rule


async def test_the_app_ticks_and_shows_the_last_tick(clinic: Desk, now: datetime) -> None:
    only_rule(clinic, "gp-consult", "patient", 60)
    make_appointment(clinic, start=now + timedelta(minutes=30))
    app = make_app(clinic, worker=True, tick_seconds=30)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.run_tick()  # what the minute timer calls
        await wait_until(pilot, lambda: app.maintenance, what="the tick's line in the header")
        assert "1 reminder" in app.maintenance and not app.maintenance_failed
        assert "1 reminder" in str(app.screen.query_one(DeskHeader).render())
    events = [e for _, e in view_of(clinic).events.after(0)]
    assert [e.type.value for e in events] == ["APPOINTMENT_REMINDER_DUE"]


async def test_a_failing_tick_is_a_warning_and_the_app_keeps_running(clinic: Desk, now: datetime, data_dir: Path) -> None:
    make_appointment(clinic, start=now + timedelta(days=1), status="held", hold_minutes=1)
    app = make_app(clinic, worker=True, tick_seconds=30)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        (data_dir / "rxdesk.json").write_bytes(b"{")  # damaged under the running app
        app.run_tick()
        await wait_until(pilot, lambda: app.maintenance, what="the tick's line in the header")
        assert app.maintenance_failed and "failed" in app.maintenance
        # When, by the service clock (RXDESK_NOW), not the machine's.
        assert app.maintenance.startswith(f"worker {now:%H:%M} failed")
        assert any(n.severity == "warning" for n in app.notices)
        assert app.is_running
