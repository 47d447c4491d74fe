"""Junk typed into every field of the app: never a crash, a refusal is shown on the field,
and a refused value changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from rxdesk.services import Desk
from rxdesk.tui.modals.cancel import CancelModal
from rxdesk.tui.modals.rule import RuleModal
from rxdesk.tui.screens.overview import OverviewScreen
from rxdesk.tui.screens.webhooks import SubscriptionModal
from tests.helpers import fingerprint
from tests.tui.conftest import make_app, settle

JUNK = ["\x00", "\x1b[31mred", "x" * 5000, "🙂" * 300, "'; DROP TABLE x; --", "\r\nX-Evil: 1",
        "-99999999999999999999", "9999-12-31", "../../etc/passwd", "  "]


@pytest.mark.parametrize("junk", JUNK, ids=range(len(JUNK)))
async def test_junk_in_every_field(clinic: Desk, booked: dict[str, str], data_dir: Path, junk: str) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        before = fingerprint(data_dir)
        for field in ("doctor", "patient", "statuses", "date_from", "date_to"):
            app.screen.query_one(f"#filter-{field}", Input).value = junk
            await settle(pilot)
            app.screen.query_one(f"#filter-{field}", Input).value = ""
        assert isinstance(app.screen, OverviewScreen)

        await pilot.press("escape", "c")
        await settle(pilot)
        assert isinstance(app.screen, CancelModal)
        app.screen.query_one("#reason", Input).value = junk
        await pilot.press("enter")
        await settle(pilot)
        if isinstance(app.screen, CancelModal):  # refused inline: nothing changed
            assert fingerprint(data_dir) == before
            await pilot.press("escape")
            await settle(pilot)
        before = fingerprint(data_dir)

        app.open_doctor("dr-weber")
        await settle(pilot)
        phone = app.screen.query_one("#doctor-phone", Input)
        phone.focus()
        phone.value = junk
        await pilot.press("enter")
        await settle(pilot)
        if phone.has_class("-invalid"):
            assert fingerprint(data_dir) == before
        await pilot.press("escape")
        before = fingerprint(data_dir)

        await pilot.press("6")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, SubscriptionModal)
        for url, headers in ((junk, ""), ("https://shop.example/hook", junk)):
            app.screen.query_one("#sub-url", Input).value = url
            app.screen.query_one("#sub-headers", Input).value = headers
            await pilot.press("enter")
            await settle(pilot)
            if not isinstance(app.screen, SubscriptionModal):
                break
        if isinstance(app.screen, SubscriptionModal):
            assert fingerprint(data_dir) == before
        await pilot.press("escape")
        await settle(pilot)
        before = fingerprint(data_dir)

        await pilot.press("5")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, RuleModal)
        app.screen.query_one("#rule-minutes", Input).value = junk
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RuleModal)  # no junk above is a number of minutes in range
        assert fingerprint(data_dir) == before
        await pilot.press("escape")
        await settle(pilot)
        assert app.is_running
