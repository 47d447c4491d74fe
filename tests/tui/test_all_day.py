"""An app open all day: pages opened and closed are let go, the palette and help say each thing
once and name every section, and the app's own times follow the service clock."""

from __future__ import annotations

import gc
import weakref

from rxdesk.services import Desk
from rxdesk.tui.screens.doctors import DoctorDetailScreen
from rxdesk.tui.screens.help import HelpScreen
from rxdesk.tui.screens.overview import OverviewScreen
from rxdesk.tui.screens.patients import PatientDetailScreen
from rxdesk.tui.widgets.header import SECTIONS
from tests.tui.conftest import front, make_app, overview_ready, settle, text_of, wait_until

PAGES = 50


async def test_fifty_pages_opened_and_closed_are_collected(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    closed: list[weakref.ref[object]] = []
    async with app.run_test(size=(100, 30)) as pilot:
        await overview_ready(pilot)
        overview = front(app, OverviewScreen)
        for round_ in range(PAGES):
            page_type = PatientDetailScreen if round_ % 2 else DoctorDetailScreen
            loads = overview.loads
            await pilot.press("p" if round_ % 2 else "d")
            await wait_until(pilot, lambda: isinstance(app.screen, page_type), what="the page")
            closed.append(weakref.ref(app.screen))
            overview.data_changed()  # another agent wrote meanwhile: the overview loads again on return
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is overview and overview.loads > loads,
                             what="the overview again")
        await settle(pilot)

        def alive() -> list[int]:
            gc.collect()
            # The page closed last may still be named by its finished worker; every other one is gone.
            return [i for i, ref in enumerate(closed[:-1]) if ref() is not None]

        # A worker a loaded machine has not finished yet may still name its page for a moment: a
        # page kept for good is still there when the wait gives up.
        await wait_until(pilot, lambda: not alive(), what=f"every closed page but the last of {PAGES} collected")
    gc.unfreeze()  # leave the test process as it was


async def test_the_palette_lists_each_command_once(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(100, 30)) as pilot:
        await overview_ready(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Quit" in titles
        assert sorted(t for t in set(titles) if titles.count(t) > 1) == []


async def test_help_names_every_section(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(100, 30)) as pilot:
        await overview_ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        shown = " ".join(text_of(static) for static in app.screen.query("Static"))
        assert f"1 … {len(SECTIONS)}" in shown
        for *_, what in SECTIONS:
            assert what in shown
