"""Small things that misled an agent during a day: keys that would go where the agent is
already, and the same checkbox everywhere, telling on from off."""

from __future__ import annotations

from textual.widgets import Checkbox

from rxdesk.services import Desk
from rxdesk.tui.screens.away import AwayScreen
from rxdesk.tui.screens.patients import PatientDetailScreen
from rxdesk.tui.widgets.checkbox import DeskCheckbox
from rxdesk.tui.widgets.tables import AppointmentTable
from tests.tui.conftest import make_app, settle, wait_until


async def test_p_on_a_patients_page_is_not_offered_and_opens_nothing(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_patient("pat-001")
        await wait_until(pilot, lambda: isinstance(app.screen, PatientDetailScreen)
                         and any(table.total for table in app.screen.query(AppointmentTable)))
        page = app.screen
        depth = len(app.screen_stack)
        keys = {b.description for (_n, b, enabled, _t) in page.active_bindings.values() if enabled}
        assert "Patient" not in keys and {"Doctor", "Book"} <= keys
        await pilot.press("p")
        await settle(pilot)
        assert app.screen is page and len(app.screen_stack) == depth


async def test_every_checkbox_is_the_desks_and_reads_on_and_off_apart(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_away("dr-weber", "Dr Anna Weber")
        await wait_until(pilot, lambda: isinstance(app.screen, AwayScreen) and app.screen.plans > 0)
        boxes = list(app.screen.query(Checkbox))
        assert boxes and all(isinstance(box, DeskCheckbox) for box in boxes)
        box = boxes[0]
        on = str(box.render())
        box.value = not box.value
        await pilot.pause()
        off = str(box.render())
        assert "[✓]" in on and "[ ]" in off
