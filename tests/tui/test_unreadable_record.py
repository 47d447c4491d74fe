"""A stored record the app cannot read is named in a notification; the rest of the app works."""

from __future__ import annotations

from typing import Any

from rxdesk.services import Desk
from rxdesk.tui.app import RxdeskApp
from rxdesk.tui.screens.overview import OverviewScreen
from rxdesk.tui.screens.patients import PatientsScreen
from rxdesk.tui.screens.problem import ProblemScreen
from tests.reliability.test_stored_records import damage_a_doctor
from tests.tui.conftest import settle, wait_until


class Recording(RxdeskApp):
    """The app, with what it told the agent kept in order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.said: list[str] = []

    def notify(self, message: str, **kwargs: Any) -> None:  # type: ignore[override]
        self.said.append(message)
        super().notify(message, **kwargs)


async def test_an_unreadable_doctor_is_named_and_the_app_goes_on(clinic: Desk) -> None:
    damage_a_doctor(clinic)
    app = Recording(clinic, worker=False, poll_seconds=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        # The overview's doctor filter lists every doctor: it says which one it cannot read.
        await wait_until(pilot, lambda: any("stored doctor 'dr-weber' cannot be read" in said for said in app.said),
                         what="the notification naming the record")
        assert isinstance(app.screen, OverviewScreen) and app.screen.loads > 0
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.screen, PatientsScreen)
        assert not any(isinstance(screen, ProblemScreen) for screen in app.screen_stack)
