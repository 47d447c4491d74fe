"""What the agent sees, pinned: the overview, the cancel dialog, help, the patients list.

Fixed clock, fixed data, fixed uids and a fixed terminal size, so a change in any of these
pictures is a change someone made on purpose (`pytest --snapshot-update` after checking it).
"""

from __future__ import annotations

from rxdesk.services import Desk
from rxdesk.tui.modals.cancel import CancelModal
from tests.tui.conftest import make_app, overview_ready, settle, wait_for_workers, wait_until

SIZE = (130, 34)


def test_overview(snap_compare, clinic: Desk, booked) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(clinic), terminal_size=SIZE, run_before=settle)


def test_overview_at_80x24(snap_compare, clinic: Desk, booked) -> None:  # type: ignore[no-untyped-def]
    """The smallest terminal an agent may have: start, patient, doctor, status and type all
    there, names cut with an ellipsis, the uid left out."""
    assert snap_compare(make_app(clinic), terminal_size=(80, 24), run_before=settle)


def test_overview_at_160x48(snap_compare, clinic: Desk, booked) -> None:  # type: ignore[no-untyped-def]
    async def select_and_move(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("space", "j")  # a selected row above the cursor row
        await settle(pilot)

    assert snap_compare(make_app(clinic), terminal_size=(160, 48), run_before=select_and_move)


def test_cancel_dialog(snap_compare, clinic: Desk, booked) -> None:  # type: ignore[no-untyped-def]
    async def open_dialog(pilot) -> None:  # type: ignore[no-untyped-def]
        # Conditions, not rounds of waiting: on a loaded machine the count or the column
        # widths could still be on their way when the picture is taken.
        await overview_ready(pilot)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, CancelModal)
                         and pilot.app.focused is pilot.app.screen.query_one("#reason"), what="the cancel dialog")
        # A blinking cursor is on or off depending on how long the steps above took.
        pilot.app.screen.query_one("#reason").cursor_blink = False
        await wait_for_workers(pilot.app)
        await pilot.pause()

    assert snap_compare(make_app(clinic), terminal_size=SIZE, run_before=open_dialog)


def test_help(snap_compare, clinic: Desk, booked) -> None:  # type: ignore[no-untyped-def]
    async def open_help(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(make_app(clinic), terminal_size=SIZE, run_before=open_help)


def test_patients(snap_compare, clinic: Desk, booked) -> None:  # type: ignore[no-untyped-def]
    async def open_patients(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)

    assert snap_compare(make_app(clinic), terminal_size=SIZE, run_before=open_patients)


def test_empty_data_dir(snap_compare, desk: Desk) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(desk), terminal_size=SIZE, run_before=settle)
