"""A stored record the app cannot read is named in a notification; the rest of the app works."""

from __future__ import annotations

from rxdesk.services import Desk
from rxdesk.tui.screens.overview import OverviewScreen
from rxdesk.tui.screens.patients import PatientsScreen
from rxdesk.tui.screens.problem import ProblemScreen
from tests.reliability.test_stored_records import damage_a_doctor
from tests.tui.conftest import make_app, settle, wait_until


async def test_an_unreadable_doctor_is_named_and_the_app_goes_on(clinic: Desk) -> None:
    damage_a_doctor(clinic)
    app = make_app(clinic)
    async with app.run_test(size=(120, 40)) as pilot:
        # The overview's doctor filter lists every doctor: it says which one it cannot read.
        await wait_until(pilot, lambda: any("stored doctor 'dr-weber' cannot be read" in n.message for n in app.notices),
                         what="the notification naming the record")
        assert isinstance(app.screen, OverviewScreen) and app.screen.loads > 0
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.screen, PatientsScreen)
        assert not any(isinstance(screen, ProblemScreen) for screen in app.screen_stack)
