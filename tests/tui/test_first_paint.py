"""What the app does before its first rows are on screen: nothing it can do after them. Work
started earlier runs in a thread that shares the interpreter with the first frame."""

from __future__ import annotations

from typing import Any

from textual.message import Message
from textual.worker import Worker, WorkerState

from rxdesk.services import Desk
from rxdesk.tui.screens.overview import OverviewScreen
from rxdesk.tui.widgets.virtual_table import VirtualTable
from tests.tui.conftest import make_app, settle


async def test_the_headers_count_and_the_names_wait_for_the_first_rows(clinic: Desk, booked: dict[str, str]) -> None:
    seen: list[str] = []

    def hook(message: Message) -> None:
        if isinstance(message, Worker.StateChanged) and message.state is WorkerState.RUNNING:
            seen.append(f"start {message.worker.group}")
        elif isinstance(message, VirtualTable.Loaded):
            seen.append(f"rows{'' if message.counted else ' uncounted'}")

    app: Any = make_app(clinic)
    async with app.run_test(size=(140, 40), message_hook=hook) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, OverviewScreen) and screen.names_learned
        assert app.attention_count is not None  # counted all the same
    first_rows = seen.index("rows uncounted")
    assert seen.index("start attention-count") > first_rows, seen
    assert seen.index("start warm-up") > seen.index("rows"), seen
