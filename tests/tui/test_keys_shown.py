"""Footers and help show the keys that act on what is in front of the agent: a dialog its own,
a webhooks tab its own, help without a widget's internals."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from rxdesk.services import Desk
from rxdesk.tui.modals.cancel import CancelModal
from rxdesk.tui.screens.help import HelpScreen
from rxdesk.tui.screens.webhooks import WebhooksScreen
from rxdesk.tui.widgets.footer import DeskFooter
from tests.tui.conftest import front, make_app, overview_ready, settle, wait_until


def footer_keys(screen: Screen[Any]) -> set[str]:
    assert screen.query(DeskFooter), f"{type(screen).__name__} has no footer of its own"
    return {b.description for (_n, b, enabled, _t) in screen.active_bindings.values() if b.show and enabled}


async def test_the_cancel_dialog_shows_its_own_keys_not_the_tables(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(130, 34)) as pilot:
        await overview_ready(pilot)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, CancelModal))
        keys = footer_keys(app.screen)
        assert "Keep the appointment" in keys
        assert not keys & {"Rebook", "Attendance", "Filter", "Clear filters"}


async def test_each_webhooks_tab_shows_its_own_keys(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(130, 34)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await wait_until(pilot, lambda: isinstance(app.screen, WebhooksScreen) and app.screen.loads > 0)
        screen = app.screen
        assert {"Add subscription", "Remove", "Test event"} <= footer_keys(screen)
        assert "Replay" not in footer_keys(screen)
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: "Replay" in footer_keys(screen))
        assert not footer_keys(screen) & {"Add subscription", "Remove", "Test event"}
        await pilot.press("a")  # a key of another tab does nothing here
        await settle(pilot)
        assert app.screen is screen
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: "Replay" not in footer_keys(screen))
        assert not footer_keys(screen) & {"Add subscription", "Remove", "Test event"}


async def test_help_lists_what_works_here_not_a_tables_internals(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(130, 34)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        listed = {what for _key, what in front(app, HelpScreen).screen_keys}
        assert {"Search", "Clear search", "Reload", "First row", "Last row"} <= listed
        assert not listed & {"Cursor left", "Cursor right", "Page up", "Page down", "Top", "Bottom", "Home", "End"}
        assert "Close" in footer_keys(app.screen)
