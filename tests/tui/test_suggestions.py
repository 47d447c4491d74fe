"""A suggestion shown in grey after what was typed is what `enter` confirms: the agent confirms
what is on screen, never a prefix of it."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.widgets import Input

from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk
from rxdesk.tui.modals.cancel import CancelModal
from rxdesk.tui.modals.confirm import ConfirmModal
from rxdesk.tui.screens.away import AwayScreen
from tests.helpers import make_appointment
from tests.tui.conftest import AnyPilot, front, make_app, settle, text_of, wait_until

MON = datetime(2026, 11, 23, tzinfo=UTC)


async def suggested(pilot: AnyPilot, field: Input, text: str) -> None:
    """Wait until the field shows `text` in full (typed and suggested)."""
    await wait_until(pilot, lambda: field.render_line(0).text.strip().startswith(text),
                     what=f"the field to show {text!r}")


async def test_enter_in_the_away_reason_takes_the_reason_shown(clinic: Desk, clock: FixedClock) -> None:
    clock.set(MON.replace(hour=6, minute=40))
    make_appointment(clinic, start=MON.replace(hour=9))
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_doctor("dr-weber")
        await settle(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AwayScreen) and app.screen.plans > 0)
        field = front(app, AwayScreen).query_one("#away-reason", Input)
        assert field.has_focus
        await pilot.press(*"Doc")
        await suggested(pilot, field, "Doctor called in sick")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), what="the confirmation")
        assert field.value == "Doctor called in sick"
        assert "Reason: Doctor called in sick" in text_of(app.screen.query_one(".dialog-body"))


async def test_enter_without_a_suggestion_confirms_what_was_typed(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, CancelModal), what="the cancel dialog")
        field = app.screen.query_one("#reason", Input)
        await pilot.press(*"Pat")
        await suggested(pilot, field, "Patient asked to cancel")
        await pilot.press("left", "enter")  # the cursor left the end: no suggestion shown
        await settle(pilot)
    assert clinic.appointments.get(booked["weber_first"]).cancel_reason == "Pat"
